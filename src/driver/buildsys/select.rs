//! Choosing which of the executables a build produced to keep, and handing each on to the
//! image pipeline as an already-built artifact.

use std::path::PathBuf;

use crate::driver::Artifact;
use crate::driver::buildsys::{Built, Executable, explain};
use crate::error::{Error, Result};
use crate::report::human_size;

/// The executables named by `bins` (file name or path in the tree), or the only one; several
/// and none named is a usage error listing them.
pub(crate) fn choose<'a>(built: &'a Built, bins: &[String]) -> Result<Vec<&'a Executable>> {
    let found = &built.executables;
    if found.is_empty() {
        return Err(Error::Build {
            step: "find executables".into(),
            message: format!("the build produced no new or changed executable under {}", built.src.display()),
            help: Some("name what to build with --target, or check that the build links a program".into()),
        });
    }
    if bins.is_empty() {
        if found.len() == 1 {
            return Ok(vec![&found[0]]);
        }
        return Err(Error::usage(
            format!("the build produced {} executables; choose with --bin:\n{}", found.len(), listing(found)),
            format!("staticize build {} --bin {}", built.src.display(), file_name(suggested(built))),
        ));
    }
    bins.iter().map(|b| by_name(built, b)).collect()
}

/// The executable to suggest among several: the one named like the project (its directory
/// without the version: `dav1d-1.0.0` → dav1d, not checkasm), else like one of its Debian
/// binary packages (debian/control), else the first.
pub(crate) fn suggested(built: &Built) -> &Executable {
    let dir = built.src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let project = project_name(&dir);
    let control = std::fs::read_to_string(built.src.join("debian/control")).unwrap_or_default();
    let packages: Vec<&str> = control.lines().filter_map(|l| l.strip_prefix("Package:")).map(str::trim).collect();
    let found = &built.executables;
    found
        .iter()
        .find(|e| file_name(e) == project)
        .or_else(|| found.iter().find(|e| packages.contains(&file_name(e).as_str())))
        .unwrap_or(&found[0])
}

/// A source directory's name without its version: `lz4-1.9.4` → `lz4`, `nginx-1.22.1` → `nginx`.
fn project_name(dir: &str) -> &str {
    let cut = dir
        .char_indices()
        .find(|&(i, c)| (c == '-' || c == '_') && dir[i + 1..].starts_with(|d: char| d.is_ascii_digit()));
    cut.map_or(dir, |(i, _)| &dir[..i])
}

fn by_name<'a>(built: &'a Built, bin: &str) -> Result<&'a Executable> {
    let found = &built.executables;
    let named = |rel: &std::path::Path| rel.as_os_str() == bin || rel.file_name().is_some_and(|n| n == bin);
    let hits: Vec<&Executable> = found.iter().filter(|e| named(&e.rel) || e.copies.iter().any(|c| named(c))).collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::usage(
            format!("the build produced no executable named {bin}; it produced:\n{}", listing(found)),
            "pass one of those names (or its path) to --bin",
        )),
        many => Err(Error::usage(
            format!(
                "several executables are named {bin}:\n{}",
                listing(&many.iter().map(|e| (*e).clone()).collect::<Vec<_>>())
            ),
            "pass the path in the tree to --bin",
        )),
    }
}

/// One line per executable: name, path, verdict, size, rebuilt or not.
pub(crate) fn listing(found: &[Executable]) -> String {
    found
        .iter()
        .map(|e| {
            format!(
                "  {:<16} {}  ({}, {}{})",
                file_name(e),
                e.rel.display(),
                e.linkage.kind.label(),
                human_size(e.linkage.size),
                if e.rebuilt { "" } else { ", up to date" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The executable's file name.
pub(crate) fn file_name(e: &Executable) -> String {
    e.rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A dynamic executable is a failed verdict, with the step that made it and what to change.
pub(crate) fn refuse_dynamic(e: &Executable, built: &Built) -> Result<()> {
    if e.linkage.kind.is_self_contained() {
        return Ok(());
    }
    let links: Vec<_> = built.earlier_links.iter().chain(&built.links).cloned().collect();
    let (message, help) = explain::explain(&e.path, &e.rel, &e.linkage, &links, &built.work);
    Err(Error::Verdict { message: format!("{message}; no image written"), help: Some(help) })
}

/// What the report says built an executable: the compiler, C library and C++ runtime the
/// link log and the file itself show, and a warning when the link bypassed staticize cc.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    /// The compiler line ("musl-gcc (12.2.0) via make").
    pub toolchain: String,
    /// The C library.
    pub libc: String,
    /// Why the link is not the one staticize chose, and what to change.
    pub warning: Option<String>,
    /// The static archives the link read (its trace), for the SBOM.
    pub archives: Vec<PathBuf>,
}

/// The label of `e`: from the staticize cc link that wrote it (this run's or an earlier
/// one's), else from the executable's own bytes and the Makefile that names its compiler.
pub(crate) fn label(built: &Built, e: &Executable) -> Label {
    let (libc, cxx_runtime) = explain::runtime(&e.path);
    let runtime = cxx_runtime.map(|r| format!(", {r}")).unwrap_or_default();
    let rec = built.links.iter().chain(&built.earlier_links).rev().find(|r| same_file(&r.dir.join(&r.output), &e.path));
    if let Some(rec) = rec {
        let chosen = [Some(&built.cc), built.cxx.as_ref()]
            .into_iter()
            .flatten()
            .find(|c| rec.command.starts_with(&c.argv.join(" ")))
            .unwrap_or(&built.cc);
        return Label {
            toolchain: format!("{} ({}{runtime}) via {}", chosen.name, chosen.version, built.system.label()),
            libc: chosen.libc.clone(),
            warning: None,
            archives: rec.archives.clone(),
        };
    }
    let libc = libc.unwrap_or("unknown C library").to_string();
    let (who, fix) = match explain::named_compiler(&built.work) {
        Some((cc, file)) => {
            let var = if cc.contains("++") { "CXX" } else { "CC" };
            (
                format!("{file} calls {cc} directly"),
                format!(
                    "change the rule to use ${var} (then make's {var}=staticize-… reaches it), or pass --compiler {cc} so staticize's choice is the one used"
                ),
            )
        }
        None => ("the build called a compiler of its own".to_string(), "make the build use $CC and $CXX".to_string()),
    };
    Label {
        toolchain: format!("the project's own link ({who}; {libc}{runtime}) via {}", built.system.label()),
        libc: libc.clone(),
        warning: Some(format!(
            "{} was not linked by staticize cc: {who}, and it carries static {libc}{runtime}{}: {fix}",
            e.rel.display(),
            if libc == built.cc.libc { String::new() } else { format!(" (not {}'s {})", built.cc.name, built.cc.libc) }
        )),
        archives: Vec::new(),
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// The artifact of an executable the build made for `arch`, as if a driver had built it: what
/// the pipeline judges, images and writes, labelled by what its link showed.
pub(crate) fn artifact(e: &Executable, label: &Label, arch: crate::platform::Arch) -> Artifact {
    Artifact {
        path: e.path.clone(),
        lang: "c".into(),
        target: format!("{}-linux-{}", arch.uname(), label.libc),
        toolchain_used: label.toolchain.clone(),
        command: format!("built by the project's build system: {}", e.path.display()),
        warnings: Vec::new(),
        companions: None,
        on_runtime: None,
        package_dirs: Vec::new(),
        archives: label.archives.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_name_drops_its_version() {
        assert_eq!(project_name("lz4-1.9.4"), "lz4");
        assert_eq!(project_name("dav1d-1.0.0"), "dav1d");
        assert_eq!(project_name("lua-5.4.4"), "lua");
        assert_eq!(project_name("libxcrypt_4.4.33"), "libxcrypt");
        assert_eq!(project_name("x264"), "x264");
        assert_eq!(project_name("b2-tools"), "b2-tools");
    }
}
