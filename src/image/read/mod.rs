//! Opens a container image archive nobody vouches for and gives back its images: names,
//! platforms, manifests, configs and streaming layer readers.
//!
//! Accepted shapes: staticize's single-file tar (OCI layout + docker `manifest.json`), an OCI
//! layout directory, `docker save` output (docker 20.10's `<id>/layer.tar` + `manifest.json`,
//! and docker 25+'s OCI layout, whose legacy paths may be links into `blobs/`), and
//! `podman save` output (docker-archive, the default, and `--format oci-archive`).
//!
//! Safety on hostile input:
//! - nothing is ever written; an archive is only read;
//! - memory stays bounded: tar entries are streamed ([`super::tarstream`]), the archive index
//!   and JSON documents are capped ([`ReadLimits`]), layers are decompressed as a stream with the
//!   decompressed bytes counted and capped;
//! - declared sizes and digests are never trusted: sizes come from what is actually stored,
//!   digests are recomputed while reading and mismatches are reported;
//! - `..` names, absolute names of the archive's own tar, and links (in the archive or in an
//!   OCI directory) that point outside it, are reported as [`Problem`]s and never followed; a
//!   layer entry's leading "/" names the same path under the root, as engines read it.
//!
//! Split by job: [`store`] indexes the archive's own tar (or an OCI directory) and resolves
//! names and links inside it; [`documents`] reads the JSON documents (index, manifests,
//! configs, docker's manifest.json) into [`Image`]s; [`layer`] streams and checks layers;
//! [`model`] holds what is found. Name cleaning and link-escape checks live in
//! [`crate::image::paths`].
//!
//! ```no_run
//! # fn main() -> staticize::error::Result<()> {
//! use staticize::image::read::Archive;
//! let archive = Archive::open(std::path::Path::new("hello.tar"))?;
//! for image in &archive.images {
//!     println!("{:?} {}", image.names, image.platform);
//!     for layer in &image.layers {
//!         let mut r = archive.layer(layer)?;
//!         while let Some(entry) = r.next_entry()? {
//!             println!("{} {}", entry.path, entry.size);
//!         }
//!         let digests = r.finish()?;
//!         println!("{} {}", digests.digest, digests.uncompressed_size);
//!     }
//! }
//! # Ok(()) }
//! ```

mod documents;
mod layer;
mod limits;
mod model;
mod store;
#[cfg(test)]
mod tests;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
pub use crate::image::layer::Compression;
pub use layer::{EntryKind, HashCount, LayerDigests, LayerEntry, LayerReader, compression_of};
use limits::not_an_image;
pub use limits::{Problem, ReadLimits};
pub use model::{ConfigRootfs, Doc, Image, ImageConfig, LayerRef, MultiPlatform};
use store::{Store, index_tar};

/// Media type of a docker schema 2 manifest.
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of a docker manifest list.
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Media type of a docker image config.
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Media type of a docker gzip layer.
pub const MEDIA_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Which kind of archive was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A directory holding an OCI image layout.
    OciDir,
    /// A tar holding an OCI image layout only (`podman save --format oci-archive`, skopeo).
    OciArchive,
    /// A tar with docker's `manifest.json` only (docker 20.10 `save`, `podman save`).
    DockerArchive,
    /// A tar with both (staticize's own archives, docker 25+ `save`).
    OciAndDocker,
}

impl Format {
    /// A short description for people.
    pub fn describe(self) -> &'static str {
        match self {
            Format::OciDir => "OCI layout directory",
            Format::OciArchive => "OCI archive (index.json)",
            Format::DockerArchive => "docker archive (manifest.json)",
            Format::OciAndDocker => "OCI archive with docker manifest.json",
        }
    }
}

/// An opened image archive.
#[derive(Debug)]
pub struct Archive {
    /// What was opened.
    pub path: PathBuf,
    /// Which shape it has.
    pub format: Format,
    /// Every image found, in archive order.
    pub images: Vec<Image>,
    /// Multi-platform indexes found.
    pub indexes: Vec<MultiPlatform>,
    /// Unsafe or inconsistent things seen, none acted upon.
    pub problems: Vec<Problem>,
    /// Things skipped on purpose (attestations, platforms absent from the archive).
    pub notes: Vec<String>,
    /// The limits in force.
    pub limits: ReadLimits,
    store: Store,
    json_read: u64,
}

impl Archive {
    /// Opens `path` (a tar file or an OCI layout directory) with the default limits.
    pub fn open(path: &Path) -> Result<Archive> {
        Archive::open_with(path, ReadLimits::default())
    }

    /// Opens `path` with explicit limits.
    pub fn open_with(path: &Path, limits: ReadLimits) -> Result<Archive> {
        let meta = fs::metadata(path).map_err(|e| Error::io("read image", path, e))?;
        let mut problems = Vec::new();
        let store = if meta.is_dir() {
            Store::Dir { root: path.to_path_buf() }
        } else if meta.is_file() {
            let items = index_tar(path, &limits, &mut problems)?;
            Store::Tar { file: path.to_path_buf(), items }
        } else {
            return Err(not_an_image(path, "is neither a file nor a directory"));
        };
        let mut a = Archive {
            path: path.to_path_buf(),
            format: Format::DockerArchive,
            images: Vec::new(),
            indexes: Vec::new(),
            problems,
            notes: Vec::new(),
            limits,
            store,
            json_read: 0,
        };
        a.load()?;
        Ok(a)
    }

    /// Opens a blob (any file of the archive) by its path inside the archive, links resolved
    /// within the archive. Returns the reader and the number of bytes stored.
    pub fn open_file(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        let location = self.resolve(name).map_err(|why| self.bad(format!("{name}: {why}")))?;
        self.open_resolved(&location)
    }

    /// Starts reading a layer: compression is detected from the bytes, not the media type.
    pub fn layer(&self, layer: &LayerRef) -> Result<LayerReader> {
        let (raw, _) = self.open_resolved(&layer.location)?;
        LayerReader::new(raw, self.limits.max_layer_bytes, layer.location.clone())
    }

    /// The digest and size of a stored blob, computed by reading it (for archives whose
    /// documents carry no digests).
    pub fn hash_file(&self, location: &str) -> Result<(String, u64)> {
        let (mut r, _) = self.open_resolved(location)?;
        let mut h = HashCount::new(&mut r);
        io::copy(&mut h, &mut io::sink()).map_err(|e| self.io_err(location, e))?;
        Ok(h.finish())
    }

    /// True when `name` resolves to a regular file of the archive.
    fn exists(&self, name: &str) -> bool {
        self.store.exists(name)
    }

    /// Resolves `name` inside the archive, following links that stay inside it.
    fn resolve(&self, name: &str) -> Result<String, String> {
        self.store.resolve(name)
    }

    /// The stored size of the regular file at `location`.
    fn stored_size(&self, location: &str) -> Result<u64, String> {
        self.store.stored_size(location)
    }

    /// Opens the regular file at a resolved `location`, with its stored size.
    fn open_resolved(&self, location: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        self.store.open_resolved(location)
    }

    fn problem(&mut self, place: impl Into<String>, message: String) {
        self.problems.push(Problem { place: place.into(), message });
    }

    fn bad(&self, message: String) -> Error {
        Error::input(&self.path, message, None)
    }

    fn io_err(&self, location: &str, e: io::Error) -> Error {
        Error::input(&self.path, format!("reading {location}: {e}"), None)
    }
}
