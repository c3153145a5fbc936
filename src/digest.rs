//! sha256, the one content hash: of bytes (hex, or an OCI "sha256:<hex>" digest) and of a file
//! streamed. At the bottom so images, SBOMs, deps and packs hash the same way.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// "sha256:<hex>" of `bytes`: an OCI content digest.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// Hex sha256 of a file's bytes, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    sha256_reader(&mut f).map(|(hex, _)| hex).map_err(|e| Error::io("read", path, e))
}

/// Hex sha256 of everything `r` yields, streamed, and how many bytes that was.
pub(crate) fn sha256_reader(r: &mut impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf)? {
            0 => break,
            n => {
                h.update(&buf[..n]);
                total += n as u64;
            }
        }
    }
    Ok((hex::encode(h.finalize()), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_bytes_and_files_agree() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(sha256_hex(b""), empty);
        assert_eq!(sha256_digest(b""), format!("sha256:{empty}"));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, vec![7u8; 200_000]).unwrap();
        assert_eq!(sha256_file(&p).unwrap(), sha256_hex(&vec![7u8; 200_000]));
    }
}
