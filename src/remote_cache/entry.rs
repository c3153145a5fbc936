//! What one cache entry is in a registry: an OCI artifact manifest with its own
//! `artifactType`, the empty config, one tar+zstd layer holding the entry's files, the full key
//! as an annotation and a digest of the key as its tag. Writing one and reading one back (the
//! reader refuses anything that is not exactly such a manifest for the key asked for).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::image::spec::MEDIA_MANIFEST;

/// The media type of an entry's one layer: a tar of its files, zstd-compressed.
pub const MEDIA_LAYER: &str = "application/vnd.staticize.cache.tar+zstd";
/// The OCI empty config (`{}`), which artifacts without a config of their own point at.
pub const MEDIA_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The bytes of the empty config.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// The annotation holding the full key text.
pub const ANNOTATION_KEY: &str = "dev.staticize.cache.key";
/// The annotation holding the directory the entry's files were built for (text files name it;
/// a pull rewrites it to the local directory).
pub const ANNOTATION_ORIGIN: &str = "dev.staticize.cache.origin";
/// Largest layer a pull accepts.
pub const MAX_LAYER: u64 = 512 << 20;

/// What an entry is found by: its kind ("deps"), a readable name and the text of every input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The kind of cache ("deps"): the artifact type is `application/vnd.staticize.cache.KIND.v1`.
    pub kind: String,
    /// A readable name for the tag ("zlib").
    pub name: String,
    /// Every input, one `name=value` line each; the same on every machine (no local paths).
    pub text: String,
}

impl Key {
    /// The key's sha256, in hex.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.text.as_bytes()))
    }

    /// The tag the entry is kept under: `KIND-NAME-SHA256` within the tag charset
    /// (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    pub fn tag(&self) -> String {
        let clean = |s: &str, n: usize| -> String {
            s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).take(n).collect()
        };
        format!("{}-{}-{}", clean(&self.kind, 16), clean(&self.name, 40), self.digest())
    }

    /// The artifact type of entries of this kind.
    pub fn artifact_type(&self) -> String {
        format!("application/vnd.staticize.cache.{}.v1", self.kind)
    }
}

/// A descriptor in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Its media type.
    pub media_type: String,
    /// "sha256:…".
    pub digest: String,
    /// Its bytes.
    pub size: u64,
}

/// An entry's manifest as written and read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    media_type: String,
    artifact_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: BTreeMap<String, String>,
}

/// The manifest of the entry `key` whose layer is `layer` and whose files name `origin`.
pub fn manifest(key: &Key, layer: &Descriptor, origin: &str) -> Vec<u8> {
    document(key, layer, Some(origin))
}

/// The manifest of the entry `key` whose one layer is the blob `layer` itself (a compressed
/// image layer kept for the blob cache: no files, so no origin).
pub fn blob_manifest(key: &Key, layer: &Descriptor) -> Vec<u8> {
    document(key, layer, None)
}

fn document(key: &Key, layer: &Descriptor, origin: Option<&str>) -> Vec<u8> {
    let mut annotations: BTreeMap<String, String> = [(ANNOTATION_KEY.to_string(), key.text.clone())].into();
    if let Some(o) = origin {
        annotations.insert(ANNOTATION_ORIGIN.to_string(), o.into());
    }
    let m = Manifest {
        schema_version: 2,
        media_type: MEDIA_MANIFEST.into(),
        artifact_type: key.artifact_type(),
        config: Descriptor {
            media_type: MEDIA_EMPTY.into(),
            digest: crate::digest::sha256_digest(EMPTY_CONFIG),
            size: EMPTY_CONFIG.len() as u64,
        },
        layers: vec![layer.clone()],
        annotations,
    };
    serde_json::to_vec(&m).unwrap_or_default()
}

/// What a pull needs from a manifest that was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The one layer.
    pub layer: Descriptor,
    /// The directory the files were built for.
    pub origin: String,
}

/// Reads `bytes` as the manifest of the entry `key`: an OCI manifest of the key's artifact
/// type, annotated with exactly this key, with one tar+zstd layer of a sane digest and size.
/// Anything else is refused with the reason.
pub fn check(bytes: &[u8], key: &Key) -> std::result::Result<Checked, String> {
    let (m, layer) = read(bytes, key, MEDIA_LAYER)?;
    let origin = m.annotations.get(ANNOTATION_ORIGIN).cloned().unwrap_or_default();
    if !origin.starts_with('/') || origin.contains('\0') {
        return Err("names no absolute origin directory".into());
    }
    Ok(Checked { layer, origin })
}

/// Reads `bytes` as the manifest of the blob entry `key` whose one layer is a blob of
/// `media_type` (a compressed image layer); returns that layer. Anything else is refused.
pub fn check_blob(bytes: &[u8], key: &Key, media_type: &str) -> std::result::Result<Descriptor, String> {
    read(bytes, key, media_type).map(|(_, layer)| layer)
}

/// The checks every entry passes: the manifest, the artifact type, the key, one layer of
/// `media_type` with a sha256 digest and a size a pull accepts.
fn read(bytes: &[u8], key: &Key, media_type: &str) -> std::result::Result<(Manifest, Descriptor), String> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("is not an entry manifest: {e}"))?;
    if m.schema_version != 2 || m.media_type != MEDIA_MANIFEST {
        return Err(format!("is a {} (schema {}), not an OCI manifest", m.media_type, m.schema_version));
    }
    if m.artifact_type != key.artifact_type() {
        return Err(format!("is an artifact of type {}, not {}", m.artifact_type, key.artifact_type()));
    }
    if m.annotations.get(ANNOTATION_KEY) != Some(&key.text) {
        return Err(format!("is annotated with another key than {}", key.digest()));
    }
    let [layer] = m.layers.as_slice() else {
        return Err(format!("has {} layers, not one", m.layers.len()));
    };
    if layer.media_type != media_type {
        return Err(format!("has a layer of type {}, not {media_type}", layer.media_type));
    }
    if !is_sha256(&layer.digest) {
        return Err(format!("names its layer by '{}', not a sha256 digest", layer.digest));
    }
    if layer.size > MAX_LAYER {
        return Err(format!("has a layer of {} bytes, more than the {MAX_LAYER} a pull accepts", layer.size));
    }
    let layer = layer.clone();
    Ok((m, layer))
}

fn is_sha256(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Key {
        Key { kind: "deps".into(), name: "zlib".into(), text: text.into() }
    }

    #[test]
    fn a_written_manifest_reads_back_and_another_key_is_refused() {
        let layer =
            Descriptor { media_type: MEDIA_LAYER.into(), digest: format!("sha256:{}", "a".repeat(64)), size: 9 };
        let bytes = manifest(&key("recipe=1"), &layer, "/c/deps/zlib/x");
        let got = check(&bytes, &key("recipe=1")).unwrap();
        assert_eq!(got, Checked { layer, origin: "/c/deps/zlib/x".into() });
        assert!(check(&bytes, &key("recipe=2")).unwrap_err().contains("another key"));
        let other = Key { kind: "blobs".into(), ..key("recipe=1") };
        assert!(check(&bytes, &other).unwrap_err().contains("type"));
        assert!(check(b"{", &key("recipe=1")).is_err());
    }

    #[test]
    fn a_blob_entry_names_its_layer_type_and_no_origin() {
        let gz = "application/vnd.oci.image.layer.v1.tar+gzip";
        let k = Key { kind: "blobs".into(), name: "gzip".into(), text: "blob=v1-gzip6-ab\n".into() };
        let layer = Descriptor { media_type: gz.into(), digest: format!("sha256:{}", "b".repeat(64)), size: 3 };
        let bytes = blob_manifest(&k, &layer);
        assert_eq!(check_blob(&bytes, &k, gz).unwrap(), layer);
        let zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
        assert!(check_blob(&bytes, &k, zstd).unwrap_err().contains("layer of type"));
        assert!(check(&bytes, &Key { kind: "blobs".into(), ..k.clone() }).is_err(), "not a files entry");
    }

    #[test]
    fn the_fuzz_seeds_are_an_entry_and_a_layer() {
        let seed = include_bytes!("../../fuzz/corpus/cache_entry/manifest-fuzz-key.json");
        let got = check(seed, &key("recipe=zlib\n")).unwrap();
        assert_eq!(got.origin, "/c/deps/zlib/x");
        let d = tempfile::tempdir().unwrap();
        let layer = include_bytes!("../../fuzz/corpus/cache_entry/layer.tar.zst");
        crate::remote_cache::archive::unpack(layer, d.path(), "seed").unwrap();
        assert!(d.path().join("lib/pkgconfig/zlib.pc").is_file());
    }

    #[test]
    fn tags_stay_in_the_tag_charset_and_length() {
        let k = Key { kind: "deps".into(), name: "a/b c+d".repeat(20), text: "x".into() };
        let tag = k.tag();
        assert!(tag.len() <= 128, "{tag}");
        assert!(tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{tag}");
        assert!(tag.ends_with(&k.digest()));
    }
}
