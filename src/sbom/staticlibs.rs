//! The packages behind the static libraries a C/C++ link used. The driver learns the archives
//! from the linker itself (its one real link runs with `-Wl,--trace`, see `driver::linktrace`)
//! and hands them over in the artifact; their owners come from this machine's dpkg database:
//! the SBOM lists `zlib1g-dev 1:1.2.13.dfsg-1` for `-lz`; an archive `--dep` built is described
//! by its cache entry's manifest (Debian source `zlib`).

use std::path::{Path, PathBuf};

use super::{Ecosystem, Package, debian};
use crate::error::Result;

/// The packages whose static libraries a link used (`archives`, as the linker listed them):
/// this machine's Debian packages and `--dep` cache entries, marked as statically linked;
/// archives no package ships are left out (they are the project's own, or the toolchain's).
pub fn packages(archives: &[PathBuf]) -> Result<Vec<Package>> {
    // Each archive's manifest is read once: a --dep entry's, or none for a system archive.
    let mut deps: Vec<Package> = Vec::new();
    let mut system: Vec<PathBuf> = Vec::new();
    for a in archives {
        match dep_manifest(a) {
            Some(m) => deps.push(dep_package(m)),
            None => system.push(a.clone()),
        }
    }
    deps.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    let files: Vec<debian::ClosureFile> = system
        .into_iter()
        .map(|p| debian::ClosureFile {
            inside: p.to_string_lossy().into_owned(),
            image_path: String::new(),
            host_path: p,
        })
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
