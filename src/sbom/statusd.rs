//! Package records inside an image, distroless's convention: one file per Debian package under
//! `/var/lib/dpkg/status.d/`, holding the package's dpkg status paragraph, so scanners (syft,
//! trivy, grype) see the packages a scratch image carries. Also their reader, for
//! `inspect --sbom` (image contents are untrusted: every read is capped).

use std::collections::BTreeMap;
use std::io::Read;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::image::read::{Archive, EntryKind};
use crate::image::rootfs::MODE_DATA;
use crate::image::{Rootfs, Source};

/// The directory the records go to.
pub const DIR: &str = "/var/lib/dpkg/status.d";
/// Largest record read from an image.
const MAX_RECORD: u64 = 1 << 20;
/// Most records read from one image.
const MAX_RECORDS: usize = 100_000;

/// Adds one record per package (name → paragraph) to the image; the user's own files at those
/// paths win.
pub fn add(rootfs: &mut Rootfs, paragraphs: &BTreeMap<String, String>) -> Result<()> {
    for (name, paragraph) in paragraphs {
        let path = format!("{DIR}/{name}");
        if rootfs.get(&path).is_none() {
            rootfs.add_file(&path, Source::Bytes(paragraph.as_bytes().to_vec()), MODE_DATA)?;
        }
    }
    Ok(())
}

/// A package an image declares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Declared {
    /// `Package:`.
    pub name: String,
    /// `Version:`.
    pub version: String,
    /// `Architecture:`.
    pub architecture: String,
    /// Where the record was found.
    pub record: String,
}

/// Parses one record: every paragraph with a `Package:` field (status.d files hold one, but
/// a paragraph per package is also accepted).
pub fn parse(text: &str, record: &str) -> Vec<Declared> {
    text.split("\n\n")
        .filter_map(|par| {
            let field = |key: &str| {
                par.lines()
                    .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
                    .map(|v| v.trim().to_string())
            };
            Some(Declared {
                name: field("Package").filter(|n| !n.is_empty())?,
                version: field("Version").unwrap_or_default(),
                architecture: field("Architecture").unwrap_or_default(),
                record: record.to_string(),
            })
        })
        .collect()
}

/// The packages an image's layers declare under `status.d/` (later layers replace a record
/// of the same path), sorted by name.
pub fn read_declared(archive: &Archive, image: usize) -> Result<Vec<Declared>> {
    let prefix = DIR.trim_start_matches('/');
    let mut records: BTreeMap<String, Vec<Declared>> = BTreeMap::new();
    for layer in &archive.images[image].layers {
        let mut r = archive.layer(layer)?;
        while let Some(e) = r.next_entry()? {
            let path = e.path.trim_start_matches("./").trim_start_matches('/').to_string();
            let Some(name) = path.strip_prefix(prefix).and_then(|p| p.strip_prefix('/')) else { continue };
            if e.kind != EntryKind::File || name.contains('/') || name.ends_with(".md5sums") || name.is_empty() {
                continue;
            }
            let mut bytes = Vec::new();
            r.data()
                .take(MAX_RECORD)
                .read_to_end(&mut bytes)
                .map_err(|err| Error::io("read a package record in", &archive.path, err))?;
            records.insert(path.clone(), parse(&String::from_utf8_lossy(&bytes), &format!("/{path}")));
            if records.len() > MAX_RECORDS {
                break;
            }
        }
    }
    let mut all: Vec<Declared> = records.into_values().flatten().collect();
    all.sort();
    all.dedup();
    Ok(all)
}
