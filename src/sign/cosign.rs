//! What cosign reads, as bytes: the simple-signing payload a signature signs, the DSSE
//! envelope an attestation is, and the OCI manifest that carries them under the tags
//! `sha256-<hex>.sig` and `sha256-<hex>.att` (one layer per signature, the signature itself
//! in the layer's `dev.cosignproject.cosign/signature` annotation, base64).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::image::spec;

/// The layer media type of a signature payload.
pub(crate) const MEDIA_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer media type of an attestation.
pub(crate) const MEDIA_DSSE: &str = "application/vnd.dsse.envelope.v1+json";
/// The annotation holding a layer's base64 signature.
pub(crate) const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// The tag cosign looks under for `suffix` ("sig", "att") of the image `digest`.
pub(crate) fn tag(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replace(':', "-"))
}

/// The simple-signing payload naming the image `repository@digest`.
pub(crate) fn payload(repository: &str, digest: &str) -> Vec<u8> {
    let v = json!({
        "critical": {
            "identity": { "docker-reference": repository },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&v).expect("a payload serialises")
}

/// The image digest a simple-signing payload names, if it is one.
pub(crate) fn payload_digest(payload: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    (v["critical"]["type"] == "cosign container image signature")
        .then(|| v["critical"]["image"]["docker-manifest-digest"].as_str().map(str::to_string))?
}

/// DSSE's pre-authentication encoding: what an envelope's signature signs.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope {
    /// What the payload is.
    pub payload_type: String,
    /// The payload, base64.
    pub payload: String,
    /// The signatures of its PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EnvelopeSignature {
    /// Which key ("" for a key given by hand, as cosign writes it).
    #[serde(default)]
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

impl Envelope {
    /// The envelope of `payload` (of `payload_type`) with the signature `sig` of its PAE.
    pub(crate) fn new(payload_type: &str, payload: &[u8], sig: &[u8]) -> Envelope {
        Envelope {
            payload_type: payload_type.into(),
            payload: STANDARD.encode(payload),
            signatures: vec![EnvelopeSignature { keyid: String::new(), sig: STANDARD.encode(sig) }],
        }
    }

    /// The envelope as JSON.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope serialises")
    }
}

/// One layer of a signature or attestation manifest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layer {
    /// Its media type.
    pub media_type: String,
    /// "sha256:…" of its bytes.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// Its annotations (the signature; an attestation's predicate type).
    pub annotations: serde_json::Map<String, Value>,
}

impl Layer {
    /// A layer of `bytes` with these annotations.
    pub(crate) fn of(media_type: &str, bytes: &[u8], annotations: &[(&str, String)]) -> Layer {
        Layer {
            media_type: media_type.into(),
            digest: crate::digest::sha256_digest(bytes),
            size: bytes.len() as u64,
            annotations: annotations.iter().map(|(k, v)| (k.to_string(), json!(v))).collect(),
        }
    }

    /// The layers of a manifest cosign (or staticize) wrote; None: not a manifest.
    pub(crate) fn all_of(manifest: &[u8]) -> Option<Vec<Layer>> {
        let v: Value = serde_json::from_slice(manifest).ok()?;
        v["layers"]
            .as_array()?
            .iter()
            .map(|l| {
                Some(Layer {
                    media_type: l["mediaType"].as_str()?.into(),
                    digest: l["digest"].as_str()?.into(),
                    size: l["size"].as_u64()?,
                    annotations: l["annotations"].as_object().cloned().unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The annotation `key`, if it is a string.
    pub(crate) fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).and_then(Value::as_str)
    }
}

/// The artifact type of a signature stored as an OCI 1.1 referrer (cosign's
/// `--registry-referrers-mode=oci-1-1`, read by `cosign verify --experimental-oci11`).
pub(crate) const ARTIFACT_SIGNATURE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// The manifest an OCI 1.1 referrer names as its subject.
pub(crate) struct Subject {
    /// Its media type.
    pub media_type: String,
    /// "sha256:…".
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The config blob and the manifest that carry `layers` (uncompressed: each diff_id is the
/// layer's own digest) as a referrer of `subject`: the artifact type as the config's media
/// type and the manifest's `artifactType`, as cosign writes a signature in OCI 1.1 form.
pub(crate) fn referrer_manifest(layers: &[Layer], subject: &Subject) -> (Vec<u8>, Vec<u8>) {
    let (config, m) = manifest(layers);
    let mut m: Value = serde_json::from_slice(&m).expect("a manifest reads back");
    m["config"]["mediaType"] = json!(ARTIFACT_SIGNATURE);
    m["artifactType"] = json!(ARTIFACT_SIGNATURE);
    m["subject"] = json!({ "mediaType": subject.media_type, "digest": subject.digest, "size": subject.size });
    (config, serde_json::to_vec(&m).expect("a manifest serialises"))
}

/// The config blob and the manifest that carry `layers` (uncompressed: each diff_id is the
/// layer's own digest).
pub(crate) fn manifest(layers: &[Layer]) -> (Vec<u8>, Vec<u8>) {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let config = json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = serde_json::to_vec(&config).expect("a config serialises");
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| json!({ "mediaType": l.media_type, "digest": l.digest, "size": l.size, "annotations": l.annotations }))
        .collect();
    let m = json!({
        "schemaVersion": 2,
        "mediaType": spec::MEDIA_MANIFEST,
        "config": { "mediaType": spec::MEDIA_CONFIG, "digest": crate::digest::sha256_digest(&config), "size": config.len() },
        "layers": layers,
    });
    (config, serde_json::to_vec(&m).expect("a manifest serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_and_manifests_read_back() {
        let d = format!("sha256:{}", "0f".repeat(32));
        assert_eq!(payload_digest(&payload("127.0.0.1:5000/app", &d)), Some(d.clone()));
        assert_eq!(tag(&d, "sig"), format!("sha256-{}.sig", "0f".repeat(32)));
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab");
        let l = Layer::of(MEDIA_SIMPLE_SIGNING, b"x", &[(SIGNATURE_ANNOTATION, "c2ln".into())]);
        let (_, m) = manifest(std::slice::from_ref(&l));
        assert_eq!(Layer::all_of(&m), Some(vec![l]));
    }
}
