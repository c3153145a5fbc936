//! Package records inside an image, distroless's convention: one file per Debian package under
//! `/var/lib/dpkg/status.d/`, holding the package's dpkg status paragraph, so scanners (syft,
//! trivy, grype) see the packages a scratch image carries. Their reader is
//! [`super::image`] (`inspect --sbom`, squash's SBOM).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::image::rootfs::MODE_DATA;
use crate::image::{Rootfs, Source};

/// The directory the records go to.
pub const DIR: &str = "/var/lib/dpkg/status.d";

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
