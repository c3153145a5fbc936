//! SBOMs an OCI layout holds as referrers: artifact manifests listed in its `index.json`
//! (`artifactType` `application/spdx+json` or `application/vnd.cyclonedx+json`) whose
//! `subject` is an image of the layout — what `oras attach` and `oras copy --recursive` leave
//! in a layout. staticize's own `--oci-dir` writes none there: a second manifest in
//! `index.json` makes `skopeo inspect oci:DIR` and `podman pull oci:DIR` refuse the layout
//! ("more than one image"). The layout is untrusted: every read is capped and digests are
//! checked for shape before they become paths.

use std::io::Read;

use serde::Serialize;
use serde_json::Value;

use super::Format;
use crate::image::read::Archive;

/// Largest index.json or manifest read.
const MAX_JSON: u64 = 16 << 20;
/// Largest SBOM read.
const MAX_SBOM: u64 = 64 << 20;
/// Most referrers read.
const MAX_REFERRERS: usize = 64;

/// One SBOM found in the layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attached {
    /// The digest of the manifest (or index) it describes.
    pub subject: String,
    /// Its media type.
    pub artifact_type: String,
    /// The digest of the artifact manifest.
    pub digest: String,
    /// (name, version) of every package it lists, in its order.
    pub packages: Vec<(String, String)>,
}

/// Every SBOM referrer of the layout; none for archives without such manifests. Unreadable
/// ones are skipped: they are someone else's artifacts, not the image.
pub fn find(archive: &Archive) -> Vec<Attached> {
    let Some(index) = read_json(archive, "index.json") else { return Vec::new() };
    let Some(manifests) = index["manifests"].as_array() else { return Vec::new() };
    manifests
        .iter()
        .filter(|d| sbom_type(d["artifactType"].as_str()).is_some())
        .take(MAX_REFERRERS)
        .filter_map(|d| read_referrer(archive, d["digest"].as_str()?))
        .collect()
}

fn sbom_type(t: Option<&str>) -> Option<Format> {
    [Format::Spdx, Format::CycloneDx].into_iter().find(|f| Some(f.media_type()) == t)
}

fn read_referrer(archive: &Archive, digest: &str) -> Option<Attached> {
    let manifest = read_json(archive, &blob_path(digest)?)?;
    let format = sbom_type(manifest["artifactType"].as_str())?;
    let subject = manifest["subject"]["digest"].as_str()?.to_string();
    let doc = read_json(archive, &blob_path(manifest["layers"][0]["digest"].as_str()?)?)?;
    let (list, name, version) = match format {
        Format::Spdx => ("packages", "name", "versionInfo"),
        Format::CycloneDx => ("components", "name", "version"),
    };
    let packages = doc[list]
        .as_array()
        .map(|a| {
            let field = |p: &Value, k: &str| p[k].as_str().unwrap_or("").to_string();
            a.iter().map(|p| (field(p, name), field(p, version))).filter(|(n, _)| !n.is_empty()).collect()
        })
        .unwrap_or_default();
    Some(Attached { subject, artifact_type: format.media_type().into(), digest: digest.into(), packages })
}

/// `blobs/sha256/HEX` for a well-formed sha256 digest, else None.
fn blob_path(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("blobs/sha256/{hex}"))
}

fn read_json(archive: &Archive, name: &str) -> Option<Value> {
    let cap = if name == "index.json" { MAX_JSON } else { MAX_SBOM };
    let (r, _) = archive.open_file(name).ok()?;
    let mut bytes = Vec::new();
    r.take(cap).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_digest;

    /// An OCI layout of one tiny image with an SPDX referrer, as `oras attach` writes it.
    fn layout(dir: &std::path::Path) -> String {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |b: &[u8]| {
            let d = sha256_digest(b);
            std::fs::write(blobs.join(d.trim_start_matches("sha256:")), b).unwrap();
            d
        };
        let layer = {
            let mut t = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            t.append_data(&mut h, "x", &b"x"[..]).unwrap();
            t.into_inner().unwrap()
        };
        let (ld, diff) = (put(&layer), sha256_digest(&layer));
        let config = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff]}});
        let config = serde_json::to_vec(&config).unwrap();
        let cd = put(&config);
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]});
        let m = serde_json::to_vec(&m).unwrap();
        let md = put(&m);
        let sbom = br#"{"packages": [{"name": "app", "versionInfo": "NOASSERTION"}, {"name": "libc6", "versionInfo": "2.36-9"}]}"#;
        let (ed, sd) = (put(b"{}"), put(sbom));
        let art = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/spdx+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": ed, "size": 2},
            "layers": [{"mediaType": "application/spdx+json", "digest": sd, "size": sbom.len()}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.len()}});
        let art = serde_json::to_vec(&art).unwrap();
        let ad = put(&art);
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.len()},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ad, "size": art.len(),
             "artifactType": "application/spdx+json"},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:../../etc/passwd",
             "size": 1, "artifactType": "application/spdx+json"}]});
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
        md
    }

    #[test]
    fn an_sbom_referrer_in_a_layout_is_read() {
        let t = tempfile::tempdir().unwrap();
        let image = layout(t.path());
        let archive = Archive::open(t.path()).unwrap();
        assert_eq!(archive.images.len(), 1, "the artifact is not an image");
        let found = find(&archive);
        assert_eq!(found.len(), 1, "the malformed digest is skipped: {found:?}");
        assert_eq!(found[0].subject, image);
        assert_eq!(found[0].packages[1], ("libc6".to_string(), "2.36-9".to_string()));
    }
}
