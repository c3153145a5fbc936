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
pub(crate) fn explain(
    path: &Path,
    rel: &Path,
    linkage: &Linkage,
    links: &[LinkRecord],
    work: &Path,
) -> (String, String) {
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
        None => match named_compiler(work) {
            Some((cc, file)) => (
                format!("{what}: it was not linked by staticize cc — {file} calls {cc} directly"),
                format!(
                    "change that rule to use ${} (make's CC=staticize-cc and CXX=staticize-c++ then reach it), or give the command after --, e.g. staticize build DIR -- make CC=staticize-cc",
                    if cc.contains("++") { "CXX" } else { "CC" }
                ),
            ),
            None => (
                format!(
                    "{what}: it was not linked by staticize cc — the build called a compiler of its own (e.g. CC=gcc written into a Makefile, or a CMake toolchain file)"
                ),
                "make the build use $CC: give the command after --, e.g. staticize build DIR -- make CC=staticize-cc"
                    .into(),
            ),
        },
    }
}

/// The runtime a static executable carries, read from its bytes: static glibc leaves its
/// `GLIBC_TUNABLES` name, libstdc++ its `__gnu_cxx` / `St9exception` type names, libc++ its
/// `St3__1` namespace. `None` where no marker is found.
pub(crate) fn runtime(exe: &Path) -> (Option<&'static str>, Option<&'static str>) {
    let bytes = std::fs::read(exe).unwrap_or_default();
    let has = |m: &[u8]| bytes.windows(m.len()).any(|w| w == m);
    let libc = has(b"GLIBC_TUNABLES").then_some("glibc");
    let cxx = if has(b"St3__1") {
        Some("libc++")
    } else if has(b"__gnu_cxx") || has(b"St9exception") {
        Some("libstdc++")
    } else {
        None
    };
    (libc, cxx)
}

/// The compiler a Makefile in `work` (the top one or one level down) calls by name in a rule
/// (`\tg++ -static -o app …`), when one does: such a link bypasses $CC and $CXX.
pub(crate) fn named_compiler(work: &Path) -> Option<(String, String)> {
    const NAMES: &[&str] = &["g++", "c++", "clang++", "gcc", "cc", "clang"];
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in std::iter::once(work.to_path_buf())
        .chain(std::fs::read_dir(work).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()))
    {
        for name in ["GNUmakefile", "makefile", "Makefile"] {
            files.push(dir.join(name));
        }
    }
    files.sort();
    for f in files.iter().filter(|f| f.is_file()) {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with('\t')) {
            let first = line.trim_start().trim_start_matches(['@', '-', '+']).split_whitespace().next().unwrap_or("");
            if let Some(n) = NAMES.iter().find(|n| first == **n || first.ends_with(&format!("/{n}"))) {
                let rel = f.strip_prefix(work).unwrap_or(f).display().to_string();
                return Some((n.to_string(), rel));
            }
        }
    }
    None
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
        let nowhere = Path::new("/nonexistent");
        let (why, fix) = explain(Path::new("/nonexistent/.libs/jq"), Path::new(".libs/jq"), &dynamic(), &[], nowhere);
        assert!(why.contains("libtool") && why.contains("needs libonig.so.5"), "{why}");
        assert!(fix.contains("--disable-shared"));
        let (why, fix) = explain(Path::new("/nonexistent/jq"), Path::new("jq"), &dynamic(), &[], nowhere);
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
    fn runtimes_and_compilers_named_in_makefiles_are_found() {
        let d = tempfile::tempdir().unwrap();
        let exe = d.path().join("app");
        std::fs::write(&exe, b"\x7fELF..GLIBC_TUNABLES..N9__gnu_cxx17__normal_iteratorE").unwrap();
        assert_eq!(runtime(&exe), (Some("glibc"), Some("libstdc++")));
        std::fs::write(&exe, b"\x7fELF plain").unwrap();
        assert_eq!(runtime(&exe), (None, None));
        assert_eq!(named_compiler(d.path()), None);
        std::fs::create_dir(d.path().join("src")).unwrap();
        std::fs::write(d.path().join("src/Makefile"), "CXX=g++\napp: app.o\n\t@g++ -static -o app app.o\n").unwrap();
        assert_eq!(named_compiler(d.path()), Some(("g++".into(), "src/Makefile".into())));
    }

    #[test]
    fn a_logged_link_is_quoted_with_the_flag_that_undid_static() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("app"), b"x").unwrap();
        let rec = LinkRecord {
            dir: d.path().to_path_buf(),
            output: "app".into(),
            command: "musl-gcc -static -o app app.o -static-pie".into(),
            archives: Vec::new(),
        };
        let (why, _) = explain(&d.path().join("app"), Path::new("app"), &dynamic(), &[rec], d.path());
        assert!(why.contains("-static-pie undo -static"), "{why}");
    }
}
