//! Proofs kept between runs, `$STATICIZE_CACHE/proofs`: the passing verdicts of an image
//! archive, by the digest of its bytes, the run asked for and the staticize executable that
//! ran it, so a rebuild that wrote the very same image (a warm rebuild with no change) does not
//! run it again. An archive is written the same way from the same inputs, so the same bytes are
//! the same program; only passing verdicts are kept (a failing run runs again, to show its
//! output). `STATICIZE_PROOF_CACHE=0` runs every proof.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Proof, ProofRequest};

/// The environment variable that turns the cache off (`0`).
pub(crate) const ENV: &str = "STATICIZE_PROOF_CACHE";

/// The proof cache directory.
pub(crate) fn dir() -> PathBuf {
    crate::output::cache_dir().join("proofs")
}

/// The key of `archive`'s proofs under `req`; None when the cache is off.
pub(crate) fn key(archive: &Path, req: &ProofRequest) -> Option<String> {
    if std::env::var(ENV).is_ok_and(|v| v.trim() == "0") {
        return None;
    }
    let digest = crate::digest::sha256_file(archive).ok()?;
    // Another build of staticize may judge the same image otherwise.
    let exe = std::env::current_exe().ok().and_then(|e| e.metadata().ok())?;
    let built = exe.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    let mut h = Sha256::new();
    h.update(format!("{}|{}|{}|{digest}", env!("CARGO_PKG_VERSION"), exe.len(), built.as_nanos()));
    h.update(format!("|{:?}|{:?}|{:?}", req.args, req.timeout, req.port));
    Some(hex::encode(h.finalize()))
}

/// The proofs kept under `key`, when every one passed.
pub(crate) fn get(key: &str) -> Option<Vec<(String, Proof)>> {
    let bytes = std::fs::read(dir().join(format!("{key}.json"))).ok()?;
    let proofs: Vec<(String, Proof)> = serde_json::from_slice(&bytes).ok()?;
    (!proofs.is_empty() && proofs.iter().all(|(_, p)| p.ok)).then_some(proofs)
}

/// Keeps `proofs` under `key` when every one passed. The cache only saves time: a run that
/// cannot write it still succeeds.
pub(crate) fn put(key: &str, proofs: &[(String, Proof)]) {
    if proofs.is_empty() || !proofs.iter().all(|(_, p)| p.ok) {
        return;
    }
    let dir = dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let bytes = serde_json::to_vec(proofs).expect("a proof serialises");
        let _ = crate::output::write_atomic(&dir.join(format!("{key}.json")), &bytes, 0o644);
    }
}
