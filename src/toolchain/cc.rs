//! The C and C++ compilers a build uses: the language, the compiler chosen for it once (and
//! carried to every `staticize cc` of a build), and how that compiler runs for each kind of
//! invocation: probes, preprocessing, compile-only runs and shared-library links pass through
//! untouched (so configure and CMake checks see the real compiler); links of executables get
//! the chosen profile's static and size flags.

use std::ffi::{OsStr, OsString};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::platform::Arch;
use crate::process::Command;
use crate::toolchain::{Compiler, Preference, spec};

/// Which of the two languages a compiler is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// C, from toolchains/c.toml.
    C,
    /// C++, from toolchains/cxx.toml.
    Cxx,
}

impl Lang {
    /// The name of the language's toolchain file (and of the language in artifacts).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Lang::C => "c",
            Lang::Cxx => "cxx",
        }
    }

    /// The variable carrying a compiler chosen by `staticize build` to each `staticize cc`.
    pub fn chosen_env(self) -> &'static str {
        match self {
            Lang::C => "STATICIZE_CC_CHOSEN",
            Lang::Cxx => "STATICIZE_CXX_CHOSEN",
        }
    }
}

/// What one compiler invocation does, judged from its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Version, probe, preprocess, dependency-only or shared/relocatable link: untouched.
    PassThrough,
    /// Compile to objects (`-c`, `-S`): code-generation flags that make --gc-sections work.
    Compile,
    /// A link of an executable: static and size flags added.
    Link,
}

/// Classifies a compiler command line (the arguments after the compiler's name).
pub(crate) fn classify<S: AsRef<OsStr>>(args: &[S]) -> Mode {
    let mut compile = false;
    let mut inputs = false;
    for a in args {
        let a = a.as_ref().to_string_lossy();
        match a.as_ref() {
            "-E" | "-M" | "-MM" | "--version" | "-###" | "-dumpversion" | "-dumpfullversion" | "-dumpmachine"
            | "-dumpspecs" | "-shared" | "-r" | "--help" | "-qversion" => {
                return Mode::PassThrough;
            }
            "-c" | "-S" => compile = true,
            s if s.starts_with("-print-") || s.starts_with("--print-") || s.starts_with("--help=") => {
                return Mode::PassThrough;
            }
            s if !s.starts_with('-') => inputs = true,
            _ => {}
        }
    }
    if compile {
        Mode::Compile
    } else if inputs {
        Mode::Link
    } else {
        // No input and no stop flag (e.g. `cc -Wl,--version`): nothing to make static.
        Mode::PassThrough
    }
}

/// A compiler chosen once, carried to every invocation of a build through the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Chosen {
    /// Its name ("musl-gcc", "zig", "gcc", "g++", or "custom").
    pub name: String,
    /// The C library it links.
    pub libc: String,
    /// The command before any flags.
    pub argv: Vec<String>,
    /// Flags every executable link gets (e.g. -static).
    pub link_flags: Vec<String>,
    /// The profile's flags (optimisation, strip, section garbage collection).
    pub profile_flags: Vec<String>,
    /// Its version line.
    pub version: String,
}

impl From<&Compiler> for Chosen {
    /// The compiler a toolchain file's selection found, as carried between processes.
    fn from(c: &Compiler) -> Chosen {
        Chosen {
            name: c.name.clone(),
            libc: c.libc.clone(),
            argv: c.argv.clone(),
            link_flags: c.flags.clone(),
            profile_flags: c.profile_flags.clone(),
            version: c.version.clone(),
        }
    }
}

/// The compiler for `lang` under an explicit preference, building for `arch`.
pub(crate) fn choose_for(lang: Lang, pref: &Preference, arch: Arch) -> Result<Chosen> {
    Ok(Chosen::from(&spec(lang.key()).select_for(pref, arch)?))
}

/// The C compiler (required) and the C++ compiler (when one is installed: a C project needs
/// none) for `arch`. A compiler named for one language only leaves the other to the libc and
/// the order.
pub(crate) fn compilers(pref: &Preference, arch: Arch) -> Result<(Chosen, Option<Chosen>)> {
    let for_lang = |lang: Lang| {
        let mut p = pref.clone();
        let names = spec(lang.key()).compiler;
        p.compiler = p.compiler.filter(|c| names.iter().any(|n| &n.name == c));
        p
    };
    let cc = choose_for(Lang::C, &for_lang(Lang::C), arch)?;
    let cxx = choose_for(Lang::Cxx, &for_lang(Lang::Cxx), arch).ok();
    Ok((cc, cxx))
}

/// Flags that only change code generation (one section per function and object), so the
/// final static link can drop what is unused; safe for any compile.
const COMPILE_FLAGS: &[&str] = &["-ffunction-sections", "-fdata-sections"];

impl Chosen {
    /// The command that runs this compiler for `args`, with flags for its mode. Ours come
    /// before the project's so the project's own -O and -f choices win.
    pub(crate) fn command(&self, args: &[OsString]) -> (Mode, Command) {
        let mode = classify(args);
        let cmd = Command::from_argv(&self.argv);
        let cmd = match mode {
            Mode::PassThrough => cmd,
            Mode::Compile => cmd.args(COMPILE_FLAGS),
            Mode::Link => cmd.args(&self.link_flags).args(self.link_profile_flags()),
        };
        (mode, cmd.args(args))
    }

    /// The profile's flags that matter at link time: -O levels do not, and would override the
    /// project's if it compiles and links in one step, so they are left out.
    fn link_profile_flags(&self) -> Vec<&String> {
        self.profile_flags.iter().filter(|f| !f.starts_with("-O")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(args: &[&str]) -> Mode {
        classify(args)
    }

    #[test]
    fn probes_and_partial_steps_pass_through() {
        for args in [
            &["--version"][..],
            &["-v"],
            &["-V"],
            &["-dumpversion"],
            &["-print-prog-name=ld"],
            &["-E", "x.c"],
            &["-M", "x.c"],
            &["-shared", "-fPIC", "a.o", "-o", "libx.so"],
            &["-r", "a.o", "b.o", "-o", "ab.o"],
            &["-Wl,--version"],
        ] {
            assert_eq!(mode(args), Mode::PassThrough, "{args:?}");
        }
    }

    #[test]
    fn compiles_and_links_are_told_apart() {
        assert_eq!(mode(&["-O2", "-c", "x.c", "-o", "x.o"]), Mode::Compile);
        assert_eq!(mode(&["-MD", "-MF", "x.d", "-c", "x.c"]), Mode::Compile);
        assert_eq!(mode(&["-S", "x.c"]), Mode::Compile);
        assert_eq!(mode(&["-o", "lua", "lua.o", "liblua.a", "-lm"]), Mode::Link);
        assert_eq!(mode(&["conftest.c"]), Mode::Link);
    }

    fn chosen() -> Chosen {
        Chosen {
            name: "musl-gcc".into(),
            libc: "musl".into(),
            argv: vec!["musl-gcc".into()],
            link_flags: vec!["-static".into()],
            profile_flags: vec!["-Os".into(), "-s".into(), "-Wl,--gc-sections".into()],
            version: "x".into(),
        }
    }

    #[test]
    fn links_get_static_and_size_flags_before_the_projects() {
        let args: Vec<OsString> = ["-O2", "-o", "lua", "lua.o"].iter().map(OsString::from).collect();
        let (m, cmd) = chosen().command(&args);
        assert_eq!(m, Mode::Link);
        assert_eq!(cmd.summary(), "musl-gcc -static -s -Wl,--gc-sections -O2 -o lua lua.o");
        let args: Vec<OsString> = ["-shared", "-o", "x.so", "x.o"].iter().map(OsString::from).collect();
        assert_eq!(chosen().command(&args).1.summary(), "musl-gcc -shared -o x.so x.o");
    }
}
