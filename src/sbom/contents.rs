//! The Debian packages whose files an image holds, read from the written image itself: so
//! whichever step put a package's file there (the closure, an interpreter's standard library,
//! `--package-files`, `--trace`, plugin directories, `build --dep`'s runtime files, `--with
//! certs|tzdata`) its package is declared, not only the closure's. A file counts for a package
//! when the package database of the root it came from lists it (or names the package whose
//! scripts make it, as the CA bundle) and the image's bytes are that root's file's bytes — a
//! file the user added at a path a package owns, with other bytes, is not that package's.

use std::collections::BTreeSet;
use std::path::Path;

use super::debian::{self, ClosureFile};
use super::{Ecosystem, Package, Sbom};
use crate::error::{Error, Result};
use crate::image::read::{Archive, EntryKind, HashCount};
use crate::pkgdb::PackageDb;

/// Adds to `sbom` the Debian packages owning the files of the image archive at `archive` that
/// it does not declare yet, with those files; `root` is the root the files came from ("/").
pub fn declare(sbom: &mut Sbom, archive: &Path, root: &Path) -> Result<()> {
    let Some(db) = PackageDb::open(root)? else { return Ok(()) };
    let declared: BTreeSet<String> = sbom
        .packages
        .iter()
        .chain(std::iter::once(&sbom.program))
        .flat_map(|p| &p.files)
        .map(|f| f.path.clone())
        .collect();
    let files = owned_files(&Archive::open(archive)?, root, &db, &declared)?;
    let (found, _) = debian::owners(root, &files)?;
    for p in found.into_iter().filter(|p| p.ecosystem == Ecosystem::Debian) {
        merge(&mut sbom.packages, p);
    }
    sbom.normalize();
    Ok(())
}

/// The image's regular files, not in `declared`, that a package of `db` owns and whose bytes
/// are the same as that file's in `root`.
fn owned_files(
    archive: &Archive,
    root: &Path,
    db: &PackageDb,
    declared: &BTreeSet<String>,
) -> Result<Vec<ClosureFile>> {
    let mut out: Vec<ClosureFile> = Vec::new();
    let mut seen = BTreeSet::new();
    for image in &archive.images {
        for layer in &image.layers {
            let mut r = archive.layer(layer)?;
            while let Some(e) = r.next_entry()? {
                let inside = format!("/{}", e.path);
                if e.kind != EntryKind::File || e.problem.is_some() || declared.contains(&inside) {
                    continue;
                }
                if seen.contains(&inside) || debian::owner_of(db, &inside).is_none() {
                    continue;
                }
                let host = root.join(&e.path);
                if !std::fs::metadata(&host).is_ok_and(|m| m.is_file() && m.len() == e.size) {
                    continue;
                }
                let mut h = HashCount::new(r.data());
                std::io::copy(&mut h, &mut std::io::sink())
                    .map_err(|err| Error::io("read the image", &archive.path, err))?;
                let (digest, _) = h.finish();
                if digest.strip_prefix("sha256:") == Some(crate::digest::sha256_file(&host)?.as_str()) {
                    seen.insert(inside.clone());
                    out.push(ClosureFile { image_path: inside.clone(), inside, host_path: host });
                }
            }
        }
    }
    Ok(out)
}

/// Adds `p` to `packages`: its files joined to the same package's when it is there already.
fn merge(packages: &mut Vec<Package>, p: Package) {
    match packages.iter_mut().find(|q| q.ecosystem == p.ecosystem && q.name == p.name && q.version == p.version) {
        Some(q) => q.files.extend(p.files),
        None => packages.push(p),
    }
}
