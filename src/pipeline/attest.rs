//! The provenance and signing stages of the tail: the in-toto provenance statement written
//! beside the archive (`NAME.provenance.json`) for every image, signed into
//! `NAME.intoto.jsonl` with `--sign KEY`; after a push, the image signed
//! and the statement attested with `--sign KEY` (cosign's `.sig` / `.att` tags), else the
//! statement attached unsigned as an OCI referrer (or the `sha256-<hex>.provenance` tag).

use std::path::Path;

use serde_json::json;

use super::destination::Checked;
use super::job::{Job, Programs};
use crate::error::{Error, Result};
use crate::image::Written;
use crate::registry::push::Remote;
use crate::report::{Reporter, short_digest};
use crate::sbom::Sbom;
use crate::sign::key::PrivateKey;

/// Refuses a `--sign` key that does not read, before anything is built.
pub(super) fn check(job: &Job) -> Result<()> {
    let Some(key) = &job.delivery.sign else { return Ok(()) };
    PrivateKey::read(key).map(|_| ())
}

/// Writes the provenance statement of `written` beside it; returns the statement.
pub(super) fn write(job: &Job, sbom: Option<&Sbom>, written: &Written, rep: &Reporter) -> Result<Vec<u8>> {
    let sources: &[std::path::PathBuf] = match &job.programs {
        Programs::Build { inputs, .. } | Programs::Made { inputs, .. } => inputs,
        _ => &[],
    };
    let build = crate::provenance::Build {
        command: &job.created_by,
        name: &job.name,
        sources,
        parameters: parameters(job),
        sbom,
    };
    let statement = crate::provenance::statement(&build, &written.reference, &written.manifest_digest)?;
    let path = crate::provenance::write_beside(&statement, &written.path)?;
    rep.step("provenance", format!("{} (SLSA v1, {})", path.display(), short_digest(&written.manifest_digest)));
    if let Some(dir) = &written.oci_dir {
        use crate::image::referrer::{PROVENANCE_ANNOTATION, attach};
        let d =
            attach(dir, &written.manifest_digest, crate::provenance::MEDIA_TYPE, &statement, PROVENANCE_ANNOTATION)?;
        rep.step("provenance", format!("carried in {} as the referrer {}", dir.display(), short_digest(&d)));
    }
    if let Some(key) = &job.delivery.sign {
        let signed = crate::sign::local::sign_archive(
            &written.path,
            &written.manifest_digest,
            &statement,
            &PrivateKey::read(key)?,
        )?;
        rep.step("sign", format!("{} (the provenance signed; staticize verify ARCHIVE --key PUB)", signed.display()));
    }
    Ok(statement)
}

/// The job's settings that change the image's bytes.
fn parameters(job: &Job) -> serde_json::Value {
    let d = &job.delivery;
    let mut p = json!({
        "compression": d.compression.name(),
        "platforms": d.platforms.iter().map(|a| a.platform()).collect::<Vec<_>>(),
        "sourceDateEpoch": crate::epoch::source_date_epoch().unwrap_or(0),
        "strip": d.strip,
        // staticize is one command per process: its own arguments are this job's invocation.
        "invocation": crate::provenance::invocation::recorded(std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned())),
    });
    if let Programs::Build { profile, extra_args, .. } = &job.programs {
        p["profile"] = json!(profile.name());
        p["extraArgs"] = json!(extra_args);
    }
    p
}

/// After the push: signs and attests with `--sign`, else attaches the statement unsigned.
pub(super) fn attach(job: &Job, statement: &[u8], written: &Written, dest: &Checked, rep: &Reporter) -> Result<()> {
    let Some((target, _)) = &dest.push else { return Ok(()) };
    attach_to(&written.path, statement, job.delivery.sign.as_deref(), target, rep)
}

/// Signs (with `key`) or attaches the provenance `statement` of the archive at `archive`,
/// pushed to `target`.
pub(super) fn attach_to(
    archive: &Path,
    statement: &[u8],
    key: Option<&Path>,
    target: &Remote,
    rep: &Reporter,
) -> Result<()> {
    match key {
        Some(key) => {
            let digest = crate::provenance::subject_digest(statement).unwrap_or_default();
            let signed = crate::sign::sign(target, &digest, &PrivateKey::read(key)?, Some(statement))?;
            rep.step("sign", format!("{target}@{} signed ({})", short_digest(&digest), signed.signature));
            if let Some(att) = &signed.attestation {
                rep.step("provenance", format!("attested as {att} (DSSE, signed)"));
            }
        }
        None => {
            let opened = crate::image::read::Archive::open(archive)?;
            let media = crate::provenance::MEDIA_TYPE;
            let a = crate::registry::push::attach(&opened, target, media, statement, "provenance")?;
            let how = a.tag.map_or("as an OCI referrer".to_string(), |t| format!("as the tag {t}"));
            rep.step("provenance", format!("attached {} to {target} {how} (unsigned)", short_digest(&a.digest)));
        }
    }
    Ok(())
}

/// After `staticize push`: the provenance beside the archive, if there is one, is attached
/// (signed with `key`); with a key and no provenance, the image alone is signed.
pub(super) fn push_beside(
    archive: &Path,
    digest: &str,
    key: Option<&Path>,
    target: &Remote,
    rep: &Reporter,
) -> Result<()> {
    let path = crate::provenance::path_beside(archive);
    let statement = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read the provenance", &path, e)),
    };
    match (statement, key) {
        (Some(s), _) if crate::provenance::subject_digest(&s).as_deref() != Some(digest) => Err(Error::input(
            &path,
            format!("is not the provenance of the image pushed ({digest}): it names another subject"),
            Some("rebuild the image, or remove the stale provenance file".into()),
        )),
        (Some(s), key) => attach_to(archive, &s, key, target, rep),
        (None, Some(key)) => {
            let signed = crate::sign::sign(target, digest, &PrivateKey::read(key)?, None)?;
            rep.step(
                "sign",
                format!(
                    "{target}@{} signed ({}; no provenance beside the archive)",
                    short_digest(digest),
                    signed.signature
                ),
            );
            Ok(())
        }
        (None, None) => Ok(()),
    }
}
