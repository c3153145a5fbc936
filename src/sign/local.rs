//! Signing and verifying an image archive with no registry: the provenance statement beside
//! `NAME.tar` is signed into `NAME.intoto.jsonl` (a DSSE envelope on one line, what SLSA's
//! verifier reads), and verifying checks that the key verifies it and that its subject is the
//! digest this archive pushes as — so an archive changed after signing fails.

use std::path::{Path, PathBuf};

use super::key::{PrivateKey, PublicKey};
use super::verify::{Verified, failed, verified_statement};
use crate::error::{Error, Result};
use crate::image::read::Archive;

/// Signs the statement of the archive at `archive` (whose image is `digest`) with `key` into
/// `NAME.intoto.jsonl`; returns its path. The statement must name this image.
pub(crate) fn sign_archive(archive: &Path, digest: &str, statement: &[u8], key: &PrivateKey) -> Result<PathBuf> {
    let subject = crate::provenance::subject_digest(statement);
    if subject.as_deref() != Some(digest) {
        return Err(Error::input(
            crate::provenance::path_beside(archive),
            format!(
                "is not the provenance of {} ({digest}): its subject is {}",
                archive.display(),
                subject.as_deref().unwrap_or("missing (not a SLSA v1 statement)")
            ),
            Some("rebuild the image, or remove the stale provenance file".into()),
        ));
    }
    let mut line = super::envelope(statement, key);
    line.push(b'\n');
    let dest = crate::provenance::envelope_beside(archive);
    crate::output::write_atomic(&dest, &line, 0o644)?;
    Ok(dest)
}

/// Signs the archive at `archive` with the key at `key`, from the provenance at
/// `provenance` (default: the one beside it).
pub(crate) fn sign_archive_beside(archive: &Path, key: &Path, provenance: Option<&Path>) -> Result<PathBuf> {
    let key = PrivateKey::read(key)?;
    let path = provenance.map_or_else(|| crate::provenance::path_beside(archive), Path::to_path_buf);
    let statement = std::fs::read(&path).map_err(|e| Error::io("read the provenance", &path, e))?;
    sign_archive(archive, &digest_of(archive)?, &statement, &key)
}

/// Verifies the archive at `archive` with `key`: the envelope beside it verifies and its
/// statement's subject is this archive's image.
pub(crate) fn verify_archive(archive: &Path, key: &PublicKey) -> Result<Verified> {
    let digest = digest_of(archive)?;
    let path = crate::provenance::envelope_beside(archive);
    let resign = "sign it: staticize sign ARCHIVE --key KEY (or build it with --sign KEY)";
    let envelope = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(failed(format!("{} is not signed: there is no {}", archive.display(), path.display()), resign));
        }
        Err(e) => return Err(Error::io("read the signed provenance", &path, e)),
    };
    let Some(statement) = verified_statement(envelope.trim_ascii_end(), key) else {
        let why = format!("{}: no signature verifies with that key (key {})", path.display(), key.path.display());
        return Err(failed(why, resign));
    };
    let subject = crate::provenance::subject_digest(&statement).unwrap_or_default();
    if subject != digest {
        let why = format!(
            "{} is {digest}, but its signed provenance names {subject}: the archive was changed after signing",
            archive.display()
        );
        return Err(failed(why, "use the archive the key's holder signed, or rebuild it from its sources"));
    }
    Ok(Verified::new(archive.display().to_string(), digest, 1, statement))
}

/// The digest the archive's image is pushed as (its manifest, or its index).
fn digest_of(archive: &Path) -> Result<String> {
    crate::registry::push::top_digest(&Archive::open(archive)?)
}
