//! `staticize cc` / `staticize c++` (also `staticize-cc`, `staticize-c++` through a symlink):
//! the drop-in compilers build systems call. They bypass clap, because every argument belongs
//! to the compiler, and replace themselves with it so its output and exit status are the
//! build system's to see.

use std::ffi::OsString;
use std::path::Path;

use crate::driver::cc;
use crate::error::Result;
use crate::toolchain::cc::{Lang, Mode};

/// The names under which staticize acts as a compiler, as argv[0] or as the first argument.
const NAMES: &[(&str, Lang)] = &[("cc", Lang::C), ("c++", Lang::Cxx), ("cxx", Lang::Cxx)];

/// When the command line is a compiler call, runs it (and only returns on failure).
pub fn intercept(argv: &[OsString]) -> Option<Result<()>> {
    let (lang, rest) = compiler_call(argv)?;
    Some(run(lang, rest.to_vec()))
}

/// The language and compiler arguments when `argv` is a compiler call: argv[0] named
/// `staticize-cc`/`staticize-c++`, or `staticize cc …` / `staticize c++ …`.
pub fn compiler_call(argv: &[OsString]) -> Option<(Lang, &[OsString])> {
    let zero = Path::new(argv.first()?).file_name()?.to_str()?;
    if let Some(word) = zero.strip_prefix("staticize-") {
        return NAMES.iter().find(|(n, _)| *n == word).map(|(_, l)| (*l, &argv[1..]));
    }
    let first = argv.get(1)?.to_str()?;
    // `cxx` as a subcommand is `staticize cxx SRC` (the source driver), not the wrapper.
    NAMES.iter().filter(|(n, _)| *n != "cxx").find(|(n, _)| *n == first).map(|(_, l)| (*l, &argv[2..]))
}

/// Runs the chosen compiler with `args`, adding static flags to links of executables.
pub fn run(lang: Lang, args: Vec<OsString>) -> Result<()> {
    let chosen = cc::choose(lang)?;
    let args = cc::wrapper_args(&chosen, args)?;
    let (mode, cmd) = chosen.command(&args);
    if mode == Mode::Link {
        if let Some(code) = cc::traced_link(&args, &cmd, &chosen)? {
            // The compiler's own exit status, as if this process had been replaced by it.
            std::process::exit(code);
        }
    }
    Err(cmd.exec(&format!("run {}", chosen.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn compiler_calls_are_recognised() {
        let a = os(&["/x/bin/staticize-cc", "-c", "x.c"]);
        assert_eq!(compiler_call(&a).map(|(l, r)| (l, r.len())), Some((Lang::C, 2)));
        let a = os(&["staticize", "c++", "--version"]);
        assert_eq!(compiler_call(&a).map(|(l, r)| (l, r.len())), Some((Lang::Cxx, 1)));
        assert!(compiler_call(&os(&["staticize", "cxx", "main.cpp"])).is_none());
        assert!(compiler_call(&os(&["staticize", "c", "hello.c"])).is_none());
        assert!(compiler_call(&os(&["staticize-cxx-like"])).is_none());
    }
}
