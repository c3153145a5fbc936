//! The SBOM as data: the formats, the packages with their files, the document; and the purl
//! escaping every writer shares. The SPDX and CycloneDX writers read it; nothing here writes.

use serde::Serialize;

/// The document formats an SBOM is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Format {
    /// SPDX 2.3 JSON (`NAME.spdx.json`).
    #[default]
    Spdx,
    /// CycloneDX 1.5 JSON (`NAME.cdx.json`).
    CycloneDx,
}

impl Format {
    /// The file name suffix: ".spdx.json" or ".cdx.json".
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Spdx => ".spdx.json",
            Format::CycloneDx => ".cdx.json",
        }
    }

    /// The media type of the document (an OCI artifact's artifactType).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Spdx => "application/spdx+json",
            Format::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }
}

/// Where a package comes from; decides its purl type and supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// The program itself (the document describes it).
    Program,
    /// A Debian package installed on the build machine.
    Debian,
    /// A Go module.
    Go,
    /// A Rust crate.
    Cargo,
    /// An npm package.
    Npm,
    /// A tool that made the output (compiler, C library).
    Tool,
    /// Files no package database owns.
    Unowned,
}

/// A file an SBOM lists: path (inside the image, or relative to the project) and sha256.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FileRef {
    /// The path.
    pub path: String,
    /// Hex sha256 of its bytes.
    pub sha256: String,
}

/// One package (or component) an output contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Its name ("libssl3", "golang.org/x/text", "serde").
    pub name: String,
    /// Its version, as its ecosystem spells it ("" when unknown).
    pub version: String,
    /// Where it comes from.
    pub ecosystem: Ecosystem,
    /// Its package URL (purl), when it has one.
    pub purl: Option<String>,
    /// Licences as declared (SPDX expressions for crates and npm, DEP-5 names for Debian).
    pub licenses: Vec<String>,
    /// Hex sha256 of the package's own artifact (a Go module's h1: hash is not one), if known.
    pub sha256: Option<String>,
    /// Who supplies it ("Debian", "crates.io"), if known.
    pub supplier: Option<String>,
    /// Files of it that the output carries.
    pub files: Vec<FileRef>,
    /// Its code is statically linked into the program (a distribution's `.a` files).
    pub linked: bool,
}

impl Package {
    /// A package with only a name, a version and an ecosystem.
    pub fn new(name: impl Into<String>, version: impl Into<String>, ecosystem: Ecosystem) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            ecosystem,
            purl: None,
            licenses: Vec::new(),
            sha256: None,
            supplier: None,
            files: Vec::new(),
            linked: false,
        }
    }

    fn sort_key(&self) -> (Ecosystem, &str, &str) {
        (self.ecosystem, &self.name, &self.version)
    }
}

/// Everything one SBOM document says.
#[derive(Debug, Clone, Serialize)]
pub struct Sbom {
    /// The output's name (program or image reference).
    pub name: String,
    /// What the document describes: the image's manifest digest, else the program's sha256
    /// ("sha256:…"); the document namespace is derived from it.
    pub subject: String,
    /// Seconds since the epoch for the creation time (SOURCE_DATE_EPOCH, else 0).
    pub created: u64,
    /// The program itself; first in the document and the root of its relationships.
    pub program: Package,
    /// What the program contains or was made with, in a stable order.
    pub packages: Vec<Package>,
}

impl Sbom {
    /// Sorts packages and their files and drops exact duplicates, so the same input always
    /// gives the same bytes.
    pub fn normalize(&mut self) {
        for p in self.packages.iter_mut().chain(std::iter::once(&mut self.program)) {
            p.files.sort();
            p.files.dedup();
            p.licenses.sort();
            p.licenses.dedup();
        }
        self.packages.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.packages.dedup_by(|a, b| a.sort_key() == b.sort_key());
    }
}

/// A purl-safe component: percent-encodes what the purl spec reserves.
pub fn purl_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
