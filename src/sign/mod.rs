//! Signing pushed images the way cosign reads them, with a key and no transparency log: the
//! signature of the simple-signing payload under the tag `sha256-<hex>.sig`, and the
//! provenance statement as a signed DSSE envelope under `sha256-<hex>.att` (what `cosign
//! attest --key` writes). Signatures already there (another key's) are kept; the same
//! signature again is not added twice.

pub(crate) mod cosign;
pub(crate) mod key;
pub(crate) mod local;
pub(crate) mod verify;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::registry::push::Remote;
use crate::registry::store::Repository;
use cosign::{Envelope, Layer, MEDIA_DSSE, MEDIA_SIMPLE_SIGNING, SIGNATURE_ANNOTATION};
use key::PrivateKey;

/// What signing put in the registry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Signed {
    /// The image signed ("sha256:…").
    pub digest: String,
    /// Where the signature is: its tag (`sha256-<hex>.sig`), or "the referrer sha256:…" on a
    /// registry with the OCI 1.1 referrers API.
    pub signature: String,
    /// The attestation's tag (`sha256-<hex>.att`); None: no statement was given.
    pub attestation: Option<String>,
}

/// The repository name a signature names: REGISTRY/REPOSITORY, as cosign writes it.
pub(crate) fn identity(target: &Remote) -> String {
    format!("{}/{}", target.registry, target.repository)
}

/// Signs the image `digest` in `target`'s repository with `key`, and attests `statement`
/// (an in-toto statement about that image) when given.
pub(crate) fn sign(target: &Remote, digest: &str, key: &PrivateKey, statement: Option<&[u8]>) -> Result<Signed> {
    let mut repo = Repository::open(target)?;
    let payload = cosign::payload(&identity(target), digest);
    let sig = STANDARD.encode(key.sign(&payload));
    let layer = Layer::of(MEDIA_SIMPLE_SIGNING, &payload, &[(SIGNATURE_ANNOTATION, sig)]);
    let signature = match repo.referrers(digest, cosign::ARTIFACT_SIGNATURE)? {
        Some(existing) => add_referrer(&mut repo, digest, &existing, &payload, layer)?,
        None => add_layer(&mut repo, &cosign::tag(digest, "sig"), &payload, layer)?,
    };
    let attestation = match statement {
        None => None,
        Some(statement) => {
            let envelope = envelope(statement, key);
            let annotations = [
                (SIGNATURE_ANNOTATION, String::new()),
                ("predicateType", crate::provenance::PREDICATE_TYPE.to_string()),
            ];
            let layer = Layer::of(MEDIA_DSSE, &envelope, &annotations);
            Some(add_layer(&mut repo, &cosign::tag(digest, "att"), &envelope, layer)?)
        }
    };
    Ok(Signed { digest: digest.into(), signature, attestation })
}

/// The in-toto `statement` in a DSSE envelope signed with `key` (what `cosign attest` writes).
pub(crate) fn envelope(statement: &[u8], key: &PrivateKey) -> Vec<u8> {
    let media = crate::provenance::MEDIA_TYPE;
    Envelope::new(media, statement, &key.sign(&cosign::pae(media, statement))).to_bytes()
}

/// Stores `layer` (of `bytes`) as an OCI 1.1 referrer of the image `digest`, one manifest per
/// signature as cosign does, unless one of the `existing` referrers holds it already.
fn add_referrer(
    repo: &mut Repository,
    digest: &str,
    existing: &[String],
    bytes: &[u8],
    layer: Layer,
) -> Result<String> {
    for d in existing {
        if let Some(m) = repo.manifest(d)?
            && Layer::all_of(&m.bytes).unwrap_or_default().contains(&layer)
        {
            return Ok(format!("the referrer {d}"));
        }
    }
    let Some(image) = repo.manifest(digest)? else {
        return Err(Error::input(digest, "is not in the registry", Some("push the image first".into())));
    };
    let media_type = serde_json::from_slice::<serde_json::Value>(&image.bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(String::from));
    let subject = cosign::Subject {
        media_type: media_type.unwrap_or_else(|| crate::image::spec::MEDIA_MANIFEST.into()),
        digest: digest.into(),
        size: image.bytes.len() as u64,
    };
    repo.put_blob(bytes)?;
    let (config, manifest) = cosign::referrer_manifest(&[layer], &subject);
    repo.put_blob(&config)?;
    Ok(format!("the referrer {}", repo.put_untagged(manifest)?))
}

/// Adds `layer` (of `bytes`) to the manifest under `tag`, keeping the layers already there.
fn add_layer(repo: &mut Repository, tag: &str, bytes: &[u8], layer: Layer) -> Result<String> {
    let mut layers = match repo.manifest(tag)? {
        Some(m) => Layer::all_of(&m.bytes).unwrap_or_default(),
        None => Vec::new(),
    };
    if !layers.contains(&layer) {
        layers.push(layer);
    }
    repo.put_blob(bytes)?;
    let (config, manifest) = cosign::manifest(&layers);
    repo.put_blob(&config)?;
    repo.put_manifest(tag, manifest)?;
    Ok(tag.to_string())
}

/// `staticize sign`: signs the image at `target` (its tag resolved to a digest) with the key
/// at `key`, attesting the statement at `provenance` when given (its subject must be it).
pub(crate) fn sign_reference(
    target: &Remote,
    key: &std::path::Path,
    provenance: Option<&std::path::Path>,
) -> Result<Signed> {
    let key = PrivateKey::read(key)?;
    let statement = match provenance {
        None => None,
        Some(p) => Some(std::fs::read(p).map_err(|e| Error::io("read the provenance", p, e))?),
    };
    let Some(image) = Repository::open(target)?.manifest(&target.tag)? else {
        return Err(Error::input(
            target.to_string(),
            "no such image in the registry",
            Some("push it first (staticize push IMAGE REF)".into()),
        ));
    };
    if let (Some(s), Some(p)) = (&statement, provenance) {
        let subject = crate::provenance::subject_digest(s);
        if subject.as_deref() != Some(image.digest.as_str()) {
            return Err(Error::input(
                p,
                format!(
                    "is not the provenance of {target}@{}: its subject is {}",
                    image.digest,
                    subject.as_deref().unwrap_or("missing (not a SLSA v1 provenance statement)")
                ),
                Some("give the NAME.provenance.json written with this very image".into()),
            ));
        }
    }
    sign(target, &image.digest, &key, statement.as_deref())
}
