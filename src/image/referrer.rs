//! An artifact about an image carried inside its OCI layout directory (`--oci-dir`): the
//! artifact's bytes and a manifest whose `subject` is the image go into the blob store, as a
//! registry would hold a referrer, and the image's entry in index.json names that manifest by an
//! annotation. It is not listed in index.json as a manifest of its own: skopeo and podman then
//! refuse `oci:DIR` ("more than one image in oci, choose an image").

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::image::spec;

/// The annotation on the image's index.json entry naming the provenance referrer's manifest.
pub const PROVENANCE_ANNOTATION: &str = "dev.staticize.provenance.manifest";

/// Carries `bytes` (of `artifact_type`) in the layout at `dir` as a referrer of the image
/// `subject` ("sha256:…", an entry of its index.json), named by `annotation`; returns the
/// referrer manifest's digest.
pub fn attach(dir: &Path, subject: &str, artifact_type: &str, bytes: &[u8], annotation: &str) -> Result<String> {
    let index_path = dir.join("index.json");
    let text = std::fs::read(&index_path).map_err(|e| Error::io("read the OCI layout", &index_path, e))?;
    let mut index: Value = serde_json::from_slice(&text).map_err(|e| {
        Error::input(&index_path, format!("is not JSON: {e}"), Some("write the layout again (--oci-dir)".into()))
    })?;
    let Some(entry) = index["manifests"].as_array_mut().and_then(|m| m.iter_mut().find(|d| d["digest"] == subject))
    else {
        return Err(Error::input(
            &index_path,
            format!("lists no image {subject}"),
            Some("write the layout again (--oci-dir)".into()),
        ));
    };
    let empty = put_blob(dir, b"{}")?;
    let content = put_blob(dir, bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": spec::MEDIA_MANIFEST,
        "artifactType": artifact_type,
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": artifact_type, "digest": content, "size": bytes.len() }],
        "subject": { "mediaType": entry["mediaType"], "digest": subject, "size": entry["size"] },
    });
    let digest = put_blob(dir, &serde_json::to_vec(&manifest).expect("a manifest serialises"))?;
    entry["annotations"][annotation] = json!(digest);
    crate::output::write_atomic(&index_path, &serde_json::to_vec(&index).expect("an index serialises"), 0o644)?;
    Ok(digest)
}

/// Writes `bytes` into the layout's blob store (temp file and rename); returns its digest.
fn put_blob(dir: &Path, bytes: &[u8]) -> Result<String> {
    let digest = crate::digest::sha256_digest(bytes);
    crate::output::write_atomic(&dir.join(spec::blob_path(&digest)), bytes, 0o644)?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_referrer_is_in_the_blobs_and_named_from_its_image() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("blobs/sha256")).unwrap();
        let image = format!("sha256:{}", "ab".repeat(32));
        let index = json!({ "schemaVersion": 2, "manifests": [{ "mediaType": spec::MEDIA_MANIFEST, "digest": image, "size": 9 }] });
        std::fs::write(t.path().join("index.json"), index.to_string()).unwrap();
        let d = attach(t.path(), &image, "application/vnd.in-toto+json", b"{\"a\":1}", PROVENANCE_ANNOTATION).unwrap();
        let index: Value = serde_json::from_slice(&std::fs::read(t.path().join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "still one manifest listed");
        assert_eq!(index["manifests"][0]["annotations"][PROVENANCE_ANNOTATION], d);
        let m: Value = serde_json::from_slice(&std::fs::read(t.path().join(spec::blob_path(&d))).unwrap()).unwrap();
        assert_eq!(m["subject"]["digest"], image);
        assert!(attach(t.path(), "sha256:00", "x", b"", PROVENANCE_ANNOTATION).is_err());
    }
}
