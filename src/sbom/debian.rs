//! The Debian packages a closure's files come from, found in dpkg's database (never by running
//! dpkg): one SBOM package per owner, with the files the image carries, and the rest as
//! "unowned".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Ecosystem, FileRef, Package, purl_escape};
use crate::closure::Closure;
use crate::error::Result;
use crate::pkgdb::PackageDb;

/// A file an image carries: where it is inside the root, where it goes in the image.
#[derive(Debug, Clone)]
pub struct ClosureFile {
    /// Its path inside the root the database describes ("/usr/bin/redis-server").
    pub inside: String,
    /// Its path in the image.
    pub image_path: String,
    /// The bytes on this machine.
    pub host_path: PathBuf,
}

/// The files of a closure (libraries and interpreter, not links), inside the closure's root.
pub fn closure_files(closure: &Closure) -> Vec<ClosureFile> {
    closure
        .files()
        .map(|e| ClosureFile {
            inside: e.image_path.clone(),
            image_path: e.image_path.clone(),
            host_path: e.host_path.clone(),
        })
        .collect()
}

/// The root directory a closure was resolved in: its host paths are ROOT + image path.
pub fn closure_root(closure: &Closure) -> PathBuf {
    closure
        .files()
        .find_map(|e| {
            let host = e.host_path.to_string_lossy();
            host.strip_suffix(e.image_path.as_str()).map(|r| PathBuf::from(if r.is_empty() { "/" } else { r }))
        })
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The Debian packages owning `files` inside `root`, each with its carried files, plus one
/// "unowned" package for files no package ships. Also returns the owners' dpkg paragraphs,
/// by name, for `status.d` records. A root without dpkg makes every file unowned.
pub fn owners(root: &Path, files: &[ClosureFile]) -> Result<(Vec<Package>, BTreeMap<String, String>)> {
    let db = PackageDb::open(root)?;
    let distro = distro(root);
    let mut by_name: BTreeMap<String, Package> = BTreeMap::new();
    let mut paragraphs = BTreeMap::new();
    let mut unowned = Package::new("unowned", "", Ecosystem::Unowned);
    for f in files {
        // A link (`slim` carries the ones on a program's path) makes its owner listed, with
        // no file: its bytes are its target's.
        let link = f.host_path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
        let file = match link {
            true => None,
            false => Some(FileRef { path: f.image_path.clone(), sha256: crate::digest::sha256_file(&f.host_path)? }),
        };
        let Some(owner) = db.as_ref().and_then(|db| owner_of(db, &f.inside)) else {
            unowned.files.extend(file);
            continue;
        };
        let db = db.as_ref().expect("an owner came from the database");
        let entry = by_name.entry(owner.name.clone()).or_insert_with(|| {
            paragraphs.insert(owner.name.clone(), owner.paragraph.clone());
            let mut p = Package::new(&owner.name, &owner.version, Ecosystem::Debian);
            p.purl = Some(purl(&owner.name, &owner.version, &owner.architecture, &owner.source, &distro));
            p.licenses = db.licenses(&owner.name);
            p.supplier = Some("Debian".into());
            p
        });
        entry.files.extend(file);
    }
    let mut out: Vec<Package> = by_name.into_values().collect();
    if !unowned.files.is_empty() {
        out.push(unowned);
    }
    Ok((out, paragraphs))
}

/// The dpkg paragraphs, by name, of the packages of this machine that own a file `rootfs`
/// takes from it — whichever step added the file (closure, standard library, package files,
/// traced files, plugin directories, `--with`). Empty without a dpkg database.
pub fn rootfs_paragraphs(rootfs: &crate::image::Rootfs) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(db) = PackageDb::open(Path::new("/"))? else { return Ok(out) };
    for (_, entry) in rootfs.entries() {
        let crate::image::rootfs::Entry::File { source: crate::image::Source::Host(host), .. } = entry else {
            continue;
        };
        if let Some(owner) = host.to_str().filter(|h| h.starts_with('/')).and_then(|h| owner_of(&db, h)) {
            out.entry(owner.name.clone()).or_insert_with(|| owner.paragraph.clone());
        }
    }
    Ok(out)
}

/// Files no package lists but a package's scripts make from its own files: (path, package).
/// Debian's CA bundle is written by `update-ca-certificates` from the certificates
/// ca-certificates ships.
const MADE_BY: &[(&str, &str)] = &[("/etc/ssl/certs/ca-certificates.crt", "ca-certificates")];

/// The package that ships `inside`, or whose scripts make it ([`MADE_BY`]).
pub(crate) fn owner_of<'a>(db: &'a PackageDb, inside: &str) -> Option<&'a crate::pkgdb::Package> {
    db.owner(inside).or_else(|| MADE_BY.iter().find(|(p, _)| *p == inside).and_then(|(_, name)| db.package(name)))
}

/// `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12` (plus `upstream=` when the
/// source package has another name), as syft and trivy write them.
pub fn purl(name: &str, version: &str, arch: &str, source: &str, distro: &str) -> String {
    let mut q = vec![format!("arch={}", purl_escape(arch))];
    if !distro.is_empty() {
        q.push(format!("distro={}", purl_escape(distro)));
    }
    if !source.is_empty() && source != name {
        q.push(format!("upstream={}", purl_escape(source)));
    }
    format!("pkg:deb/debian/{}@{}?{}", purl_escape(name), purl_escape(version), q.join("&"))
}

/// "debian-12" from the root's /etc/os-release (ID and VERSION_ID), else "".
fn distro(root: &Path) -> String {
    let Ok(text) = crate::input::read_text(&root.join("etc/os-release"), 64 << 10) else { return String::new() };
    distro_of(&text)
}

/// "debian-12" from an os-release file's text (ID and VERSION_ID), else "".
pub fn distro_of(text: &str) -> String {
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(|v| v.trim_matches('"').to_string())
    };
    match (field("ID"), field("VERSION_ID")) {
        (Some(id), Some(v)) => format!("{id}-{v}"),
        (Some(id), None) => id,
        _ => String::new(),
    }
}
