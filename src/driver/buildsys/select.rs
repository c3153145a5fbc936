//! Choosing which of the executables a build produced to keep, and handing each on to the
//! image pipeline as an already-built artifact.

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
            format!("staticize build {} --bin {}", built.src.display(), file_name(&found[0])),
        ));
    }
    bins.iter().map(|b| by_name(built, b)).collect()
}

fn by_name<'a>(built: &'a Built, bin: &str) -> Result<&'a Executable> {
    let found = &built.executables;
    let hits: Vec<&Executable> = found.iter().filter(|e| e.rel.as_os_str() == bin || file_name(e) == bin).collect();
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
    let (message, help) = explain::explain(&e.path, &e.rel, &e.linkage, &built.links);
    Err(Error::Verdict { message: format!("{message}; no image written"), help: Some(help) })
}

/// The artifact of an executable the build made, as if a driver had built it: what the
/// pipeline judges, images and writes.
pub(crate) fn artifact(e: &Executable, built: &Built) -> Artifact {
    Artifact {
        path: e.path.clone(),
        lang: "c".into(),
        target: format!("{}-linux-{}", std::env::consts::ARCH, built.cc.libc),
        toolchain_used: format!("{} ({}) via {}", built.cc.name, built.cc.version, built.system.label()),
        command: format!("built by the project's build system: {}", e.path.display()),
        warnings: Vec::new(),
        companions: None,
        package_dirs: Vec::new(),
        archives: Vec::new(),
    }
}
