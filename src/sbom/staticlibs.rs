//! The static libraries a C/C++ link used, as the linker itself reports them: the link
//! command is run again with `-Wl,--trace` into a temporary file (the objects are still in
//! the staging directory), and every archive the linker read is listed — `-lz`, and the C
//! library and libgcc the compiler driver adds, whichever directories they were found in (a
//! musl-gcc specs file, `-L`, the compiler's own path). Reading the linker's answer rather than
//! guessing from `-l` flags is what makes it right for every driver. Their owners come from
//! this machine's dpkg database: the SBOM lists `zlib1g-dev 1:1.2.13.dfsg-1` for `-lz`; an
//! archive `--dep` built is described by its cache entry's manifest (Debian source `zlib`).

use std::path::{Path, PathBuf};

use super::{Ecosystem, Package, debian};
use crate::error::Result;
use crate::process::Command;

/// The compiler drivers whose links are traced (a build system's command is not a link).
const DRIVERS: [&str; 7] = ["gcc", "g++", "cc", "c++", "musl-gcc", "clang", "clang++"];

/// The `.a` files the link `command` (as `process::Command::summary` writes it) used, each
/// once, in the linker's order; empty when the command is not a compiler driver's link or
/// cannot be run again.
pub fn archives(command: &str) -> Vec<PathBuf> {
    let Some(mut words) = shlex::split(command) else { return Vec::new() };
    let driver = words.first().map(|w| w.rsplit('/').next().unwrap_or(w).to_string()).unwrap_or_default();
    let Some(o) = words.iter().position(|w| w == "-o") else { return Vec::new() };
    if !DRIVERS.iter().any(|d| driver == *d || driver.ends_with(&format!("-{d}"))) || o + 1 >= words.len() {
        return Vec::new();
    }
    let Ok(scratch) = tempfile::Builder::new().prefix("staticize-trace-").tempdir() else { return Vec::new() };
    words[o + 1] = scratch.path().join("a.out").to_string_lossy().into_owned();
    words.push("-Wl,--trace".into());
    let Ok(out) = Command::from_argv(&words).run("trace the link for the SBOM") else { return Vec::new() };
    parse_trace(&out.stdout)
}

/// The archives in `ld --trace` output: one input per line, an archive member as
/// `ARCHIVE(MEMBER)` in some binutils versions.
fn parse_trace(text: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in text.lines() {
        let path = line.trim().split_once(".a(").map_or(line.trim().to_string(), |(a, _)| format!("{a}.a"));
        if !path.starts_with('/') || !path.ends_with(".a") {
            continue;
        }
        let p = std::fs::canonicalize(&path).unwrap_or_else(|_| PathBuf::from(&path));
        if p.is_file() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The Debian packages (of this machine) whose static libraries the link `command` used,
/// marked as statically linked; archives no package ships are left out (they are the
/// project's own, or the toolchain's).
pub fn packages(command: &str) -> Result<Vec<Package>> {
    // Each archive's manifest is read once: a --dep entry's, or none for a system archive.
    let mut deps: Vec<Package> = Vec::new();
    let mut system: Vec<PathBuf> = Vec::new();
    for a in archives(command) {
        match dep_manifest(&a) {
            Some(m) => deps.push(dep_package(m)),
            None => system.push(a),
        }
    }
    deps.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    let files: Vec<debian::Carried> = system
        .into_iter()
        .map(|p| debian::Carried { inside: p.to_string_lossy().into_owned(), image_path: String::new(), host_path: p })
        .collect();
    let (packages, _) = debian::owners(Path::new("/"), &files)?;
    Ok(packages
        .into_iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
        .map(|mut p| {
            // The archives are linked in, not carried: the package is what matters.
            p.files.clear();
            p.linked = true;
            p
        })
        .chain(deps)
        .collect())
}

/// The manifest of the `--dep` cache entry an archive was built into (`ENTRY/lib/libz.a` →
/// `ENTRY/manifest.json`): no package database owns those files, the entry says what they are.
fn dep_manifest(archive: &Path) -> Option<crate::deps::cache::Manifest> {
    let entry = archive.parent()?.parent()?;
    crate::deps::cache::read_manifest(entry)
}

/// A `--dep` library as an SBOM package: the recipe's source (Debian's source package and its
/// version when it came from Debian), its licence, statically linked.
fn dep_package(m: crate::deps::cache::Manifest) -> Package {
    let name = m.debian_source.clone().unwrap_or_else(|| m.name.clone());
    let mut p = Package::new(name, m.version, Ecosystem::Debian);
    p.purl = Some(m.purl);
    p.licenses = m.license.into_iter().collect();
    // Debian wrote the source; staticize built it (the cache entry's manifest names how).
    p.supplier = m.debian_source.is_some().then(|| "Debian".to_string());
    p.linked = true;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_names_each_archive_once() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("libmine.a");
        std::fs::write(&a, b"!<arch>\n").unwrap();
        let a = std::fs::canonicalize(&a).unwrap();
        let trace = format!("/x/crt1.o\nmain.o\n{0}\n{0}(member.o)\n/nowhere/libgone.a\n", a.display());
        assert_eq!(parse_trace(&trace), [a]);
        assert!(archives("make -j2 all").is_empty(), "a build system's command is not traced");
    }
}
