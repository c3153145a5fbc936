//! What an existing image declares about itself, read from its layers as a runtime stacks
//! them (whiteouts and opaque directories applied): the Debian packages of its dpkg database
//! (`/var/lib/dpkg/status`), its `status.d` records, and its distribution (`os-release`). Used
//! for the SBOM of `squash` (the image keeps every package it had). The layers are untrusted:
//! every file read is capped, and so is the number of records kept.

use std::collections::BTreeMap;
use std::io::Read;

use super::{Ecosystem, Package, debian, statusd};
use crate::error::{Error, Result};
use crate::image::read::{Archive, EntryKind};
use crate::pkgdb;

/// dpkg's database, inside the root.
const STATUS: &str = "var/lib/dpkg/status";
/// Largest `status` file read (as [`crate::pkgdb`] reads the host's).
const MAX_STATUS: u64 = 64 << 20;
/// Largest `os-release` or `status.d` record read.
const MAX_SMALL: u64 = 1 << 20;
/// Most bytes of `status.d` records held at once, in all.
const MAX_RECORDS_TOTAL: u64 = 256 << 20;

/// The files an image's packages are declared in, as the stacked layers leave them.
#[derive(Debug, Default)]
struct Tracked {
    /// Path (no leading "/") → contents.
    files: BTreeMap<String, Vec<u8>>,
}

impl Tracked {
    fn held(&self) -> u64 {
        self.files.values().map(|v| v.len() as u64).sum()
    }

    /// Removes `path` and everything below it (a whiteout, or a new entry of another kind).
    fn remove_tree(&mut self, path: &str) {
        let below = format!("{path}/");
        self.files.retain(|p, _| p != path && !p.starts_with(&below));
    }

    /// Removes everything below the directory `dir` (an opaque marker).
    fn clear_dir(&mut self, dir: &str) {
        let below = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        self.files.retain(|p, _| !p.starts_with(&below));
    }
}

/// The cap for a path the SBOM reads, None for paths it ignores.
fn wanted(path: &str) -> Option<u64> {
    if path == STATUS {
        return Some(MAX_STATUS);
    }
    if path == "etc/os-release" || path == "usr/lib/os-release" {
        return Some(MAX_SMALL);
    }
    let name = path.strip_prefix(statusd::DIR.trim_start_matches('/'))?.strip_prefix('/')?;
    (!name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")).then_some(MAX_SMALL)
}

/// The tracked files of image `image` of the archive after every layer is applied.
fn stack(archive: &Archive, image: usize) -> Result<Tracked> {
    let mut below = Tracked::default();
    for layer in &archive.images[image].layers {
        // What this layer adds is kept apart: its opaque markers hide only lower layers' files.
        let mut this = Tracked::default();
        let mut r = archive.layer(layer)?;
        while let Some(e) = r.next_entry()? {
            if e.problem.is_some() {
                continue;
            }
            match e.kind {
                EntryKind::Whiteout => below.remove_tree(&e.path),
                EntryKind::Opaque => below.clear_dir(&e.path),
                EntryKind::File => {
                    below.remove_tree(&e.path);
                    this.remove_tree(&e.path);
                    let Some(cap) = wanted(&e.path) else { continue };
                    if cap == MAX_SMALL && below.held() + this.held() > MAX_RECORDS_TOTAL {
                        continue;
                    }
                    let mut bytes = Vec::new();
                    r.data()
                        .take(cap)
                        .read_to_end(&mut bytes)
                        .map_err(|err| Error::io("read a package record in", &archive.path, err))?;
                    this.files.insert(e.path, bytes);
                }
                // A directory merges with the lower layers' one of that name, as an engine
                // applies it: only a file, link or node in its place replaces what was below.
                EntryKind::Dir => {}
                _ => {
                    below.remove_tree(&e.path);
                    this.remove_tree(&e.path);
                }
            }
        }
        below.files.append(&mut this.files);
    }
    Ok(below)
}

/// Package name → (its record, the file it was found in).
type Records = BTreeMap<String, (pkgdb::Package, String)>;

/// The package records image `image` of the archive declares (its dpkg database and its
/// `status.d` records; the database first when both name a package), each with the path of
/// the file it was found in, and the image's distribution ("debian-12", else "").
fn records(archive: &Archive, image: usize) -> Result<(Records, String)> {
    let tracked = stack(archive, image)?;
    let text = |p: &str| tracked.files.get(p).map(|b| String::from_utf8_lossy(b).into_owned());
    let os_release = text("etc/os-release").or_else(|| text("usr/lib/os-release")).unwrap_or_default();
    let mut found = BTreeMap::new();
    for (path, bytes) in &tracked.files {
        let records = match path.as_str() {
            STATUS => pkgdb::parse_status(&String::from_utf8_lossy(bytes)),
            p if p.contains("status.d/") => pkgdb::parse_records(&String::from_utf8_lossy(bytes)),
            _ => continue,
        };
        for p in records {
            found.entry(p.name.clone()).or_insert((p, format!("/{path}")));
        }
    }
    Ok((found, debian::distro_of(&os_release)))
}

/// The Debian packages image `image` of the archive declares, one per name, with purls
/// naming its distribution.
pub fn packages(archive: &Archive, image: usize) -> Result<Vec<Package>> {
    let (found, distro) = records(archive, image)?;
    Ok(found.values().map(|(p, _)| package(p, &distro)).collect())
}

/// What `inspect --sbom` prints for image `image`: every package declared, sorted by name.
pub fn declared(archive: &Archive, image: usize) -> Result<Vec<statusd::Declared>> {
    let (found, _) = records(archive, image)?;
    Ok(found
        .into_values()
        .map(|(p, record)| statusd::Declared { name: p.name, version: p.version, architecture: p.architecture, record })
        .collect())
}

/// The SBOM of an image archive from what its images declare (every platform's packages,
/// merged): `name` the image's reference, `subject` its manifest (or index) digest.
pub fn sbom_of(archive: &Archive, name: &str, subject: &str) -> Result<super::Sbom> {
    let mut packages = Vec::new();
    for i in 0..archive.images.len() {
        packages.extend(self::packages(archive, i)?);
    }
    let created = crate::epoch::source_date_epoch()?;
    let program = Package::new(name, "", Ecosystem::Program);
    let mut s = super::Sbom { name: name.to_string(), subject: subject.to_string(), created, program, packages };
    s.normalize();
    Ok(s)
}

/// The SBOM package of a dpkg record.
pub(crate) fn package(p: &pkgdb::Package, distro: &str) -> Package {
    let mut out = Package::new(&p.name, &p.version, Ecosystem::Debian);
    out.purl = Some(debian::purl(&p.name, &p.version, &p.architecture, &p.source, distro));
    out.supplier = Some("Debian".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::testkit::{Entry, docker_save, layer, rootfs};

    /// A docker-save style archive of `layers`.
    fn archive(dir: &std::path::Path, layers: &[Vec<u8>]) -> std::path::PathBuf {
        let config = serde_json::json!({ "architecture": "amd64", "os": "linux", "rootfs": rootfs(layers) });
        docker_save(dir, &config, &["t:1"], layers)
    }

    const INSTALLED: &str = "Status: install ok installed\nArchitecture: amd64\n";

    #[test]
    fn the_stacked_layers_decide_what_is_declared() {
        let dir = tempfile::tempdir().unwrap();
        let status = format!(
            "Package: libc6\n{INSTALLED}Version: 2.36-9\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n"
        );
        let l1 = layer(&[
            Entry::File("var/lib/dpkg/status", status.as_bytes()),
            Entry::File("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
            Entry::File("var/lib/dpkg/status.d/old", b"Package: old\nVersion: 1\n"),
        ]);
        let newer = format!(
            "Package: libc6\n{INSTALLED}Version: 2.36-9+deb12u9\n\nPackage: redis-server\n{INSTALLED}Source: redis (5:7.0.15-1)\nVersion: 5:7.0.15-1~deb12u1\n"
        );
        let l2 = layer(&[
            Entry::File("var/lib/dpkg/status", newer.as_bytes()),
            Entry::File("var/lib/dpkg/status.d/.wh.old", b""),
            Entry::File("var/lib/dpkg/status.d/zlib1g", b"Package: zlib1g\nVersion: 1:1.2.13\nArchitecture: amd64\n"),
        ]);
        let a = Archive::open(&archive(dir.path(), &[l1, l2])).unwrap();
        let got: Vec<(String, String, String)> =
            packages(&a, 0).unwrap().into_iter().map(|p| (p.name, p.version, p.purl.unwrap())).collect();
        let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(names, ["libc6", "redis-server", "zlib1g"], "the whited-out record and the removed package go");
        assert_eq!(got[0].1, "2.36-9+deb12u9", "the later layer's database wins");
        assert_eq!(
            got[1].2,
            "pkg:deb/debian/redis-server@5%3A7.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=redis"
        );
    }

    #[test]
    fn an_opaque_directory_hides_the_lower_records() {
        let dir = tempfile::tempdir().unwrap();
        let l1 = layer(&[Entry::File("var/lib/dpkg/status.d/a", b"Package: a\nVersion: 1\n")]);
        let l2 = layer(&[
            Entry::File("var/lib/dpkg/status.d/b", b"Package: b\nVersion: 2\n"),
            Entry::File("var/lib/dpkg/status.d/.wh..wh..opq", b""),
        ]);
        let a = Archive::open(&archive(dir.path(), &[l1, l2])).unwrap();
        let names: Vec<String> = packages(&a, 0).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn a_directory_in_an_upper_layer_merges_with_the_lower_records() {
        let dir = tempfile::tempdir().unwrap();
        let l1 = layer(&[
            Entry::Dir("var/lib/dpkg/status.d"),
            Entry::File("var/lib/dpkg/status.d/a", b"Package: a\nVersion: 1\n"),
        ]);
        let l2 = layer(&[
            Entry::Dir("var/lib/dpkg/status.d"),
            Entry::File("var/lib/dpkg/status.d/b", b"Package: b\nVersion: 2\n"),
        ]);
        let a = Archive::open(&archive(dir.path(), &[l1, l2])).unwrap();
        let names: Vec<String> = packages(&a, 0).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
