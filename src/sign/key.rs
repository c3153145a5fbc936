//! The keys: an ECDSA P-256 private key in PEM (PKCS#8 `PRIVATE KEY`, as `openssl genpkey`
//! writes it, or SEC1 `EC PRIVATE KEY`, as `openssl ecparam -genkey` does) or an Ed25519 one
//! (PKCS#8, `openssl genpkey -algorithm ed25519`), and its public key in PEM (`PUBLIC KEY`, as
//! `cosign public-key` and `openssl pkey -pubout` write it). cosign verifies both kinds. Key
//! bytes never reach an error or a log: errors name the file and the kind of key only.

use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};

use crate::error::{Error, Result};

/// Largest key file read: a PEM key is a few hundred bytes.
const MAX_KEY: u64 = 64 << 10;

/// A private key that signs.
pub(crate) enum PrivateKey {
    /// ECDSA P-256 with SHA-256.
    P256(SigningKey),
    /// Ed25519 (pure: the message itself is signed).
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// The public half of a [`PrivateKey`].
#[derive(Debug, Clone, Copy)]
enum Verifying {
    P256(VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A public key that verifies.
pub(crate) struct PublicKey {
    key: Verifying,
    /// The file it was read from (named in failures).
    pub path: PathBuf,
}

impl PrivateKey {
    /// Reads the private key at `path`.
    pub(crate) fn read(path: &Path) -> Result<PrivateKey> {
        let text = read_pem(path, "the signing key")?;
        let key = if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            p256::SecretKey::from_sec1_pem(&text).ok().map(|s| PrivateKey::P256(SigningKey::from(s)))
        } else {
            p256::SecretKey::from_pkcs8_pem(&text).ok().map(|s| PrivateKey::P256(SigningKey::from(s))).or_else(|| {
                ed25519_dalek::SigningKey::from_pkcs8_pem(&text).ok().map(|k| PrivateKey::Ed25519(Box::new(k)))
            })
        };
        key.ok_or_else(|| {
            let why = if text.contains("ENCRYPTED") {
                "is encrypted (a cosign.key or an encrypted PKCS#8 key); staticize reads plain keys only"
            } else {
                "is not an ECDSA P-256 or Ed25519 private key in PEM (PKCS#8 PRIVATE KEY or SEC1 EC PRIVATE KEY)"
            };
            Error::input(
                path,
                format!("the signing key {why}"),
                Some("make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem (then give --sign key.pem)".into()),
            )
        })
    }

    /// The signature of `message`: DER-encoded ECDSA P-256 / SHA-256 (RFC 6979: the same
    /// message and key give the same signature), or the 64 bytes of Ed25519 (deterministic too).
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            PrivateKey::P256(key) => {
                let sig: Signature = key.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
        }
    }

    /// Its public key, for checking a signature just made.
    #[cfg(test)]
    pub(crate) fn public(&self) -> PublicKey {
        let key = match self {
            PrivateKey::P256(k) => Verifying::P256(*k.verifying_key()),
            PrivateKey::Ed25519(k) => Verifying::Ed25519(k.verifying_key()),
        };
        PublicKey { key, path: PathBuf::new() }
    }
}

impl PublicKey {
    /// Reads the public key at `path`.
    pub(crate) fn read(path: &Path) -> Result<PublicKey> {
        let text = read_pem(path, "the public key")?;
        let key = VerifyingKey::from_public_key_pem(&text)
            .map(Verifying::P256)
            .or_else(|_| ed25519_dalek::VerifyingKey::from_public_key_pem(&text).map(Verifying::Ed25519))
            .map_err(|_| {
                Error::input(
                    path,
                    "is not an ECDSA P-256 or Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)",
                    Some(
                        "give the public key: openssl pkey -in key.pem -pubout -out key.pub (then --key key.pub)"
                            .into(),
                    ),
                )
            })?;
        Ok(PublicKey { key, path: path.to_path_buf() })
    }

    /// True when `sig` is this key's signature of `message` (ECDSA: DER, or the raw 64-byte
    /// form; Ed25519: its 64 bytes).
    pub(crate) fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.key {
            Verifying::P256(key) => {
                let sig = Signature::from_der(sig).or_else(|_| Signature::from_slice(sig));
                sig.is_ok_and(|s| key.verify(message, &s).is_ok())
            }
            Verifying::Ed25519(key) => {
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| key.verify_strict(message, &s).is_ok())
            }
        }
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

    /// A throwaway Ed25519 key (PKCS#8), made for this test with openssl genpkey.
    const ED25519: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIOARhD4CwGMZ0CE5CVXXmNwofgfGUzUnbjlYyX7IhgVr
-----END PRIVATE KEY-----
";

    #[test]
    fn an_ed25519_key_signs_too() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("k.pem");
        std::fs::write(&path, ED25519).unwrap();
        let key = PrivateKey::read(&path).unwrap();
        assert!(matches!(key, PrivateKey::Ed25519(_)));
        let sig = key.sign(b"payload");
        assert_eq!(sig.len(), 64);
        assert!(key.public().verifies(b"payload", &sig));
        assert!(!key.public().verifies(b"payload!", &sig));
    }

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
