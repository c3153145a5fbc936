//! Why an executable a build produced is dynamic, in terms of the step that made it and what
//! to change: from its ELF verdict and the log of links staticize cc did.

use std::path::Path;

use crate::driver::cc::LinkRecord;
use crate::elf::Linkage;
use crate::error::Error;

/// Flags that undo -static at link time.
const DYNAMIC_FLAGS: &[&str] = &["-static-pie", "-pie", "-Bdynamic", "-dynamic-linker"];

/// The explanation and the fix for a dynamic executable at `path` (absolute), built in a run
/// whose executable links are in `links`.
pub(crate) fn explain(path: &Path, rel: &Path, linkage: &Linkage, links: &[LinkRecord]) -> (String, String) {
    let needs = if linkage.needed.is_empty() { String::new() } else { format!(", needs {}", linkage.needed.join(" ")) };
    let interp = linkage.interp.as_deref().map(|i| format!(" (interpreter {i})")).unwrap_or_default();
    let what = format!("{} is dynamic{interp}{needs}", rel.display());
    let in_libs = rel.components().any(|c| c.as_os_str() == ".libs");
    if in_libs {
        return (
            format!(
                "{what}: libtool linked it against the project's shared libraries (the file of the same name outside .libs is a wrapper script)"
            ),
            "configure with --disable-shared --enable-static (staticize build does this when it runs configure itself; \
             with your own command, add them to ./configure)"
                .into(),
        );
    }
    match links.iter().rev().find(|r| same_file(&r.dir.join(&r.output), path)) {
        Some(rec) => {
            let undo: Vec<&str> = DYNAMIC_FLAGS
                .iter()
                .copied()
                .filter(|f| rec.command.split(' ').any(|w| w == *f || w.contains(&format!(",{f}"))))
                .collect();
            let why = if undo.is_empty() {
                "a linker script or flag of the project overrode -static".to_string()
            } else {
                format!("its flags {} undo -static", undo.join(" "))
            };
            (
                format!("{what}: the link step in {} (`{}`) made it; {why}", rec.dir.display(), rec.command),
                "remove those flags from the project's LDFLAGS (or its build files) and build again".into(),
            )
        }
        None => (
            format!(
                "{what}: it was not linked by staticize cc — the build called a compiler of its own (e.g. CC=gcc written into a Makefile, or a CMake toolchain file)"
            ),
            "make the build use $CC: give the command after --, e.g. staticize build DIR -- make CC=staticize-cc"
                .into(),
        ),
    }
}

/// A failed build step whose linker could not find `-lNAME` gets a help line: a static link
/// needs `libNAME.a` built for the chosen C library, which the distribution ships only for glibc.
pub(crate) fn missing_library(e: Error, compiler: &str, libc: &str) -> Error {
    let Error::CommandFailed { step, command, status, stderr } = e else { return e };
    let mut libs: Vec<&str> = stderr
        .split("cannot find -l")
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| c == ':' || c.is_whitespace()).next())
        .collect();
    libs.sort_unstable();
    libs.dedup();
    if libs.is_empty() {
        return Error::CommandFailed { step, command, status, stderr };
    }
    let names = libs.iter().map(|l| format!("lib{l}.a")).collect::<Vec<_>>().join(", ");
    let recipes: Vec<String> =
        libs.iter().filter_map(|l| crate::deps::recipe::providing_lib(l)).map(|r| r.name).collect();
    let help = if libc == "musl" && !recipes.is_empty() {
        format!(
            "add --dep {}: staticize builds it for musl from its source once, caches it, and makes it visible to the build (-I, -L, pkg-config)",
            recipes.join(",")
        )
    } else if libc == "musl" {
        format!(
            "{compiler} links musl, and Debian's {names} are built for glibc: build with --libc glibc \
             (apt-get install the -dev packages), or turn the feature off (--configure-arg)"
        )
    } else {
        format!("a static link needs {names}: apt-get install the -dev packages that ship them")
    };
    Error::Build {
        step,
        message: format!("`{command}` {status}: the linker cannot find {names}\n{stderr}"),
        help: Some(help),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic() -> Linkage {
        let mut l = crate::elf::inspect(Path::new("/bin/sh")).unwrap();
        l.needed = vec!["libonig.so.5".into()];
        l
    }

    #[test]
    fn libtool_wrappers_and_foreign_links_are_named() {
        let (why, fix) = explain(Path::new("/nonexistent/.libs/jq"), Path::new(".libs/jq"), &dynamic(), &[]);
        assert!(why.contains("libtool") && why.contains("needs libonig.so.5"), "{why}");
        assert!(fix.contains("--disable-shared"));
        let (why, fix) = explain(Path::new("/nonexistent/jq"), Path::new("jq"), &dynamic(), &[]);
        assert!(why.contains("not linked by staticize cc"), "{why}");
        assert!(fix.contains("CC=staticize-cc"));
    }

    #[test]
    fn missing_libraries_get_a_help_line() {
        let e = Error::CommandFailed {
            step: "build".into(),
            command: "make".into(),
            status: "exited with status 2".into(),
            stderr: "/usr/bin/ld: cannot find -lreadline: No such file or directory\n".into(),
        };
        let e = missing_library(e, "musl-gcc", "musl");
        assert_eq!(e.exit_code(), crate::error::EXIT_TOOLCHAIN);
        assert!(e.to_string().contains("libreadline.a"), "{e}");
        // readline has a recipe: the help names the --dep that builds it for musl.
        assert!(e.help().unwrap().contains("--dep readline"), "{:?}", e.help());
        let e = Error::CommandFailed {
            step: "build".into(),
            command: "make".into(),
            status: "exited with status 2".into(),
            stderr: "/usr/bin/ld: cannot find -lnosuchlib: No such file or directory\n".into(),
        };
        let e = missing_library(e, "musl-gcc", "musl");
        assert!(e.help().unwrap().contains("--libc glibc"), "{:?}", e.help());
    }

    #[test]
    fn a_logged_link_is_quoted_with_the_flag_that_undid_static() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("app"), b"x").unwrap();
        let rec = LinkRecord {
            dir: d.path().to_path_buf(),
            output: "app".into(),
            command: "musl-gcc -static -o app app.o -static-pie".into(),
        };
        let (why, _) = explain(&d.path().join("app"), Path::new("app"), &dynamic(), &[rec]);
        assert!(why.contains("-static-pie undo -static"), "{why}");
    }
}
