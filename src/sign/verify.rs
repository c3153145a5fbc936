//! Verifying a pushed image: its signature (a simple-signing payload under
//! `sha256-<hex>.sig` that the public key verifies and that names this very digest), and its
//! provenance (a DSSE envelope under `sha256-<hex>.att` the key verifies, whose statement's
//! subject is this digest). A wrong key, a manifest changed after signing and a stripped
//! signature are each a failed verdict that says which.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use super::cosign::{self, Envelope, Layer, MEDIA_DSSE, MEDIA_SIMPLE_SIGNING, SIGNATURE_ANNOTATION};
use super::key::PublicKey;
use crate::error::{Error, Result};
use crate::registry::push::Remote;
use crate::registry::store::Repository;

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verified {
    /// The image verified, registry/repository:tag.
    pub reference: String,
    /// Its manifest digest.
    pub digest: String,
    /// Signatures the key verifies for this digest.
    pub signatures: usize,
    /// The command the signed provenance says built the image.
    pub command: String,
    /// The signed provenance statement.
    #[serde(skip)]
    pub statement: Vec<u8>,
}

impl Verified {
    /// What verifying `reference` (of `digest`) found: `signatures` and the signed `statement`.
    pub(crate) fn new(reference: String, digest: String, signatures: usize, statement: Vec<u8>) -> Verified {
        let v: serde_json::Value = serde_json::from_slice(&statement).unwrap_or_default();
        let command = v["predicate"]["buildDefinition"]["externalParameters"]["command"].as_str().unwrap_or("");
        Verified { reference, digest, signatures, command: command.to_string(), statement }
    }
}

/// Verifies the image at `target` with `key`.
pub(crate) fn verify(target: &Remote, key: &PublicKey) -> Result<Verified> {
    let mut repo = Repository::open(target)?;
    let Some(image) = repo.manifest(&target.tag)? else {
        return Err(Error::input(
            target.to_string(),
            "no such image in the registry",
            Some("check the reference (REGISTRY/REPOSITORY:TAG)".into()),
        ));
    };
    let digest = image.digest;
    let signatures = signatures(&mut repo, target, &digest, key)?;
    let statement = attestation(&mut repo, target, &digest, key)?;
    Ok(Verified::new(target.to_string(), digest, signatures, statement))
}

/// A failed verdict with its help.
pub(super) fn failed(message: String, help: &str) -> Error {
    Error::Verdict { message, help: Some(help.into()) }
}

/// The signature layers for `digest`: those of its OCI 1.1 referrers, and under its `.sig` tag.
fn signature_layers(repo: &mut Repository, digest: &str) -> Result<Vec<Layer>> {
    let mut manifests = Vec::new();
    for d in repo.referrers(digest, cosign::ARTIFACT_SIGNATURE)?.unwrap_or_default() {
        manifests.extend(repo.manifest(&d)?);
    }
    manifests.extend(repo.manifest(&cosign::tag(digest, "sig"))?);
    Ok(manifests.iter().flat_map(|m| Layer::all_of(&m.bytes).unwrap_or_default()).collect())
}

/// How many signatures (referrers, or under the `.sig` tag) the key verifies for `digest`.
fn signatures(repo: &mut Repository, target: &Remote, digest: &str, key: &PublicKey) -> Result<usize> {
    let tag = cosign::tag(digest, "sig");
    let resign = "sign it again: staticize sign REF --key KEY (or --sign KEY with --push)";
    let layers = signature_layers(repo, digest)?;
    if layers.is_empty() {
        let why = format!("{target}@{digest} is not signed: the registry has no {tag} and no signature referrer");
        return Err(failed(why, resign));
    }
    let (mut good, mut other_image) = (0, false);
    for l in layers.iter().filter(|l| l.media_type == MEDIA_SIMPLE_SIGNING) {
        let Some(sig) = l.annotation(SIGNATURE_ANNOTATION).and_then(|s| STANDARD.decode(s).ok()) else { continue };
        let payload = repo.blob(&l.digest)?;
        if !key.verifies(&payload, &sig) {
            continue;
        }
        match cosign::payload_digest(&payload) {
            Some(d) if d == digest => good += 1,
            _ => other_image = true,
        }
    }
    if good > 0 {
        return Ok(good);
    }
    let why = if other_image {
        "its signature is of another manifest: the image was changed after signing"
    } else {
        "no signature verifies with that key (a wrong key, or the signature was altered)"
    };
    Err(failed(format!("{target}@{digest}: {why} (key {})", key.path.display()), resign))
}

/// The provenance statement under the `.att` tag that the key verifies for `digest`.
fn attestation(repo: &mut Repository, target: &Remote, digest: &str, key: &PublicKey) -> Result<Vec<u8>> {
    let tag = cosign::tag(digest, "att");
    let attest = "attest it: staticize sign REF --key KEY --provenance NAME.provenance.json";
    let Some(m) = repo.manifest(&tag)? else {
        return Err(failed(format!("{target}@{digest} has no signed provenance: the registry has no {tag}"), attest));
    };
    let mut other_subject = false;
    for l in Layer::all_of(&m.bytes).unwrap_or_default().iter().filter(|l| l.media_type == MEDIA_DSSE) {
        let bytes = repo.blob(&l.digest)?;
        let Some(statement) = verified_statement(&bytes, key) else { continue };
        match crate::provenance::subject_digest(&statement) {
            Some(d) if d == digest => return Ok(statement),
            _ => other_subject = true,
        }
    }
    let why = if other_subject {
        "its provenance names another image as its subject"
    } else {
        "no provenance attestation verifies with that key"
    };
    Err(failed(format!("{target}@{digest}: {why} (key {})", key.path.display()), attest))
}

/// The payload of a DSSE envelope of an in-toto statement when one of its signatures
/// verifies with `key`.
pub(crate) fn verified_statement(envelope: &[u8], key: &PublicKey) -> Option<Vec<u8>> {
    let e: Envelope = serde_json::from_slice(envelope).ok()?;
    if e.payload_type != crate::provenance::MEDIA_TYPE {
        return None;
    }
    let payload = STANDARD.decode(&e.payload).ok()?;
    let pae = cosign::pae(&e.payload_type, &payload);
    e.signatures
        .iter()
        .filter_map(|s| STANDARD.decode(&s.sig).ok())
        .any(|sig| key.verifies(&pae, &sig))
        .then_some(payload)
}
