//! What an opened archive holds: its images, their documents and layers.

use serde::{Deserialize, Serialize};

use crate::image::spec::{History, Platform, RunConfig};

/// A JSON document of the archive with its digest (computed from the bytes read).
#[derive(Debug, Clone)]
pub struct Doc {
    /// "sha256:<hex>" of `bytes`.
    pub digest: String,
    /// The media type it was referenced with (if any).
    pub media_type: Option<String>,
    /// The document, at most `ReadLimits::max_json` bytes.
    pub bytes: Vec<u8>,
}

/// An image config, read leniently (every field optional) so odd archives still open.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// RFC 3339 creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Author, when set.
    #[serde(default)]
    pub author: Option<String>,
    /// CPU architecture.
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Operating system.
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// Architecture variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// How to run it.
    #[serde(default, deserialize_with = "nullable")]
    pub config: RunConfig,
    /// Layer digests of the uncompressed tars.
    #[serde(default, deserialize_with = "nullable")]
    pub rootfs: ConfigRootfs,
    /// What made each layer.
    #[serde(default, deserialize_with = "nullable")]
    pub history: Vec<History>,
}

/// The `rootfs` section of a config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigRootfs {
    /// sha256 of each uncompressed layer, bottom first.
    #[serde(default, deserialize_with = "nullable")]
    pub diff_ids: Vec<String>,
}

fn nullable<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One layer of an image: where its blob is and what the documents claim about it.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// The blob's path inside the archive, links resolved.
    pub location: String,
    /// Media type from the manifest (docker archives have none).
    pub media_type: Option<String>,
    /// Digest the manifest claims (unverified until the layer is read).
    pub digest: Option<String>,
    /// Bytes actually stored.
    pub size: u64,
    /// diff_id the config claims (unverified until the layer is read).
    pub diff_id: Option<String>,
}

/// One image (one platform) of an archive.
#[derive(Debug, Clone)]
pub struct Image {
    /// Names it is tagged with (RepoTags, index annotations); may be empty.
    pub names: Vec<String>,
    /// Platform from the config.
    pub platform: Platform,
    /// The manifest, when the archive has one (docker archives do not).
    pub manifest: Option<Doc>,
    /// The config document; its digest is the image ID docker and podman show.
    pub config: Doc,
    /// The config, parsed.
    pub parsed: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<LayerRef>,
    /// The multi-platform index it belongs to (position in `Archive::indexes`).
    pub index: Option<usize>,
}

/// A multi-platform image index (or docker manifest list) found in the archive.
#[derive(Debug, Clone)]
pub struct MultiPlatform {
    /// The index document.
    pub doc: Doc,
    /// Names the index is tagged with.
    pub names: Vec<String>,
    /// Positions in `Archive::images` of the platforms present in the archive.
    pub images: Vec<usize>,
}
