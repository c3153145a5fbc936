//! The static libraries a C/C++ link used, as the linker itself reports them: the real link
//! runs with `-Wl,--trace`, the linker lists every input it read on stdout, and the archives
//! among them go with the artifact to the SBOM: `-lz`, and the C library and libgcc the
//! compiler driver adds, whichever directories they were found in (a musl-gcc specs file, `-L`,
//! the compiler's own path). Reading the linker's answer rather than guessing from `-l` flags
//! is what makes it right for every driver, and tracing the one real link means the program
//! is never linked twice.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::process::{Command, Output};

/// The compiler drivers whose links are traced: they link with GNU ld or a linker that takes
/// its --trace (zig's does not: `unsupported linker arg: --trace`).
const DRIVERS: [&str; 7] = ["gcc", "g++", "cc", "c++", "musl-gcc", "clang", "clang++"];

/// The flag that makes the linker list its inputs on stdout.
pub(crate) const TRACE: &str = "-Wl,--trace";

/// Whether the compiler run as `argv` takes `-Wl,--trace`: its command is one of [`DRIVERS`]
/// (a path, or a cross prefix such as `x86_64-linux-gnu-gcc`, allowed).
pub(crate) fn traceable(argv: &[String]) -> bool {
    let Some(first) = argv.first() else { return false };
    let name = first.rsplit('/').next().unwrap_or(first);
    DRIVERS.iter().any(|d| name == *d || name.ends_with(&format!("-{d}")))
}

/// Runs the link `cmd` for `step`, traced when `traced`: its output, with the trace taken out
/// of stdout, and the archives the linker read (none when not traced). A failed link's error is
/// the one the untraced command gives: the trace only adds lines on stdout, which no error shows.
pub(crate) fn run(cmd: &Command, traced: bool, step: &str) -> Result<(Output, Vec<PathBuf>)> {
    if !traced {
        return Ok((cmd.run(step)?, Vec::new()));
    }
    let mut output = cmd.clone().arg(TRACE).run(step).map_err(|e| match e {
        // The trace only lists inputs on stdout: the error names the link as the artifact's
        // command does, without it, so what a user runs again prints no trace.
        Error::CommandFailed { step, status, stderr, .. } => {
            Error::CommandFailed { step, command: cmd.summary(), status, stderr }
        }
        other => other,
    })?;
    let (archives, rest) = parse_trace(&output.stdout);
    output.stdout = rest;
    Ok((output, archives))
}

/// Splits `ld --trace` output: the archives it names (each once, in the linker's order, only
/// those that exist), and every line that is not a trace line, as written. One input per line,
/// an archive member as `ARCHIVE(MEMBER)` in some binutils versions.
pub(crate) fn parse_trace(text: &str) -> (Vec<PathBuf>, String) {
    let mut archives: Vec<PathBuf> = Vec::new();
    let mut rest = String::new();
    for line in text.lines() {
        let Some(input) = trace_input(line) else {
            rest.push_str(line);
            rest.push('\n');
            continue;
        };
        if !input.starts_with('/') || !input.ends_with(".a") {
            continue;
        }
        let p = std::fs::canonicalize(&input).unwrap_or_else(|_| PathBuf::from(&input));
        if p.is_file() && !archives.contains(&p) {
            archives.push(p);
        }
    }
    (archives, rest)
}

/// The input a trace line names: an object, an archive (or one of its members) or a shared
/// library; `None` for any other line the link printed.
fn trace_input(line: &str) -> Option<String> {
    let l = line.trim();
    if let Some((archive, _)) = l.split_once(".a(").filter(|_| l.ends_with(')')) {
        return Some(format!("{archive}.a"));
    }
    let input = [".o", ".a", ".so"].iter().any(|s| l.ends_with(s)) || l.contains(".so.");
    (input && !l.contains(char::is_whitespace)).then(|| l.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_names_each_archive_once_and_other_lines_stay() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("libmine.a");
        std::fs::write(&a, b"!<arch>\n").unwrap();
        let a = std::fs::canonicalize(&a).unwrap();
        let trace =
            format!("/x/crt1.o\nmain.o\n{0}\nhello from a plugin\n{0}(member.o)\n/nowhere/libgone.a\n", a.display());
        assert_eq!(parse_trace(&trace), (vec![a], "hello from a plugin\n".to_string()));
    }

    #[test]
    fn only_drivers_that_take_the_flag_are_traced() {
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(traceable(&argv(&["musl-gcc"])));
        assert!(traceable(&argv(&["/usr/bin/x86_64-linux-gnu-gcc"])));
        assert!(traceable(&argv(&["g++"])));
        assert!(!traceable(&argv(&["zig", "cc", "-target", "x86_64-linux-musl"])));
        assert!(!traceable(&argv(&["python3", "-m", "ziglang", "cc"])));
        assert!(!traceable(&argv(&["make", "-j2", "all"])), "a build system's command is not traced");
    }
}
