//! The keys: an ECDSA P-256 private key in PEM (PKCS#8 `PRIVATE KEY`, as `openssl genpkey`
//! writes it, or SEC1 `EC PRIVATE KEY`, as `openssl ecparam -genkey` does) and its public key
//! in PEM (`PUBLIC KEY`, as `cosign public-key` and `openssl pkey -pubout` write it). Key
//! bytes never reach an error or a log: errors name the file and the kind of key only.

use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};

use crate::error::{Error, Result};

/// Largest key file read: a PEM key is a few hundred bytes.
const MAX_KEY: u64 = 64 << 10;

/// A private key that signs.
pub(crate) struct PrivateKey {
    key: SigningKey,
}

/// A public key that verifies.
pub(crate) struct PublicKey {
    key: VerifyingKey,
    /// The file it was read from (named in failures).
    pub path: PathBuf,
}

impl PrivateKey {
    /// Reads the private key at `path`.
    pub(crate) fn read(path: &Path) -> Result<PrivateKey> {
        let text = read_pem(path, "the signing key")?;
        let secret = if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            p256::SecretKey::from_sec1_pem(&text).ok()
        } else {
            p256::SecretKey::from_pkcs8_pem(&text).ok()
        };
        let Some(secret) = secret else {
            let why = if text.contains("ENCRYPTED") {
                "is encrypted (a cosign.key or an encrypted PKCS#8 key); staticize reads plain keys only"
            } else {
                "is not an ECDSA P-256 private key in PEM (PKCS#8 PRIVATE KEY or SEC1 EC PRIVATE KEY)"
            };
            return Err(Error::input(
                path,
                format!("the signing key {why}"),
                Some("make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem (then give --sign key.pem)".into()),
            ));
        };
        Ok(PrivateKey { key: SigningKey::from(secret) })
    }

    /// The DER-encoded ECDSA P-256 / SHA-256 signature of `message` (RFC 6979: the same
    /// message and key give the same signature).
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(message);
        sig.to_der().as_bytes().to_vec()
    }

    /// Its public key, for checking a signature just made.
    #[cfg(test)]
    pub(crate) fn public(&self) -> PublicKey {
        PublicKey { key: *self.key.verifying_key(), path: PathBuf::new() }
    }
}

impl PublicKey {
    /// Reads the public key at `path`.
    pub(crate) fn read(path: &Path) -> Result<PublicKey> {
        let text = read_pem(path, "the public key")?;
        let key = VerifyingKey::from_public_key_pem(&text).map_err(|_| {
            Error::input(
                path,
                "is not an ECDSA P-256 public key in PEM (-----BEGIN PUBLIC KEY-----)",
                Some("give the public key: openssl pkey -in key.pem -pubout -out key.pub (then --key key.pub)".into()),
            )
        })?;
        Ok(PublicKey { key, path: path.to_path_buf() })
    }

    /// True when `der` is this key's signature of `message` (DER, or the raw 64-byte form).
    pub(crate) fn verifies(&self, message: &[u8], der: &[u8]) -> bool {
        let sig = Signature::from_der(der).or_else(|_| Signature::from_slice(der));
        sig.is_ok_and(|s| self.key.verify(message, &s).is_ok())
    }
}

fn read_pem(path: &Path, what: &str) -> Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io(format!("read {what}"), path, e))?;
    let mut text = String::new();
    f.take(MAX_KEY).read_to_string(&mut text).map_err(|_| {
        Error::input(path, format!("{what} is not a PEM text file"), Some("give a PEM key file".into()))
    })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway P-256 key (PKCS#8), made for this test with openssl genpkey.
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyLCF1QzYTy+g6d7+
cVbG5E4/A+umngi5/H2lkNwJ93OhRANCAAQc61OJDRc5+ZRq/OrlTKflX6LJ3jUK
ZCRaraNb0PYsv63e4PwZ1VD7phjpt0gHPfOcWtWIgoYuGHN9Dok2jR2m
-----END PRIVATE KEY-----
";

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("k.pem");
        std::fs::write(&path, KEY).unwrap();
        let key = PrivateKey::read(&path).unwrap();
        let sig = key.sign(b"payload");
        assert_eq!(sig, key.sign(b"payload"), "deterministic");
        assert!(key.public().verifies(b"payload", &sig));
        assert!(!key.public().verifies(b"payload!", &sig));
        std::fs::write(&path, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
            .unwrap();
        let e = PrivateKey::read(&path).err().unwrap().to_string();
        assert!(!e.contains("AAAA"), "no key bytes in errors: {e}");
    }
}
