//! How far reading an archive may go, what it reports when something is wrong, and the error
//! for a file that is no image archive: shared by the archive, its store and its documents.

use std::path::Path;

use serde::Serialize;

use crate::error::Error;

/// How far reading may go before the archive is judged hostile.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Largest JSON document (index, manifest, config) read.
    pub max_json: u64,
    /// Total JSON bytes read from one archive.
    pub max_json_total: u64,
    /// Most entries in the archive's own tar.
    pub max_entries: usize,
    /// Total bytes of entry names kept in the archive's index.
    pub max_name_bytes: usize,
    /// Most images (manifests) in one archive.
    pub max_images: usize,
    /// Largest decompressed layer.
    pub max_layer_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_json: 4 << 20,
            max_json_total: 64 << 20,
            max_entries: 200_000,
            max_name_bytes: 32 << 20,
            max_images: 1_000,
            max_layer_bytes: 256 << 30,
        }
    }
}

/// Something wrong or unsafe found while reading; reported, never acted upon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where: an archive entry, a document, a layer.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

/// The error for something that is not an image archive, with what to pass instead.
pub(super) fn not_an_image(path: &Path, why: &str) -> Error {
    Error::input(
        path,
        format!("not an image archive: it {why}"),
        Some(
            "pass a tar written by staticize, docker save or podman save (uncompressed), or an OCI layout directory"
                .into(),
        ),
    )
}
