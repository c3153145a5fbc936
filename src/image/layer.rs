//! A deterministic layer: a tar of a Rootfs with fixed owners, modes and times, compressed,
//! hashed twice on the way out (diff_id over the tar, digest over the compressed blob).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::image::compress::{self, ParGzip, Zstd};
use crate::image::rootfs::{Entry, Rootfs, Source};
use crate::image::spec;

/// How a layer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip (what every runtime reads), compressed in parallel.
    #[default]
    Gzip,
    /// zstd, multi-threaded: smaller and faster; podman and docker 23+ read it.
    Zstd,
    /// No compression.
    None,
}

impl Compression {
    /// The OCI media type of a layer compressed this way.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => spec::MEDIA_LAYER_GZIP,
            Compression::Zstd => spec::MEDIA_LAYER_ZSTD,
            Compression::None => spec::MEDIA_LAYER_TAR,
        }
    }

    /// The name users type (--compress NAME).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }
}

/// A written layer blob and its digests.
#[derive(Debug)]
pub struct Layer {
    /// The blob on disk (a temporary file, removed on drop).
    pub blob: tempfile::NamedTempFile,
    /// "sha256:…" of the compressed blob.
    pub digest: String,
    /// Size of the compressed blob.
    pub size: u64,
    /// "sha256:…" of the uncompressed tar.
    pub diff_id: String,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
    /// The media type.
    pub media_type: &'static str,
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), count: 0 }
    }

    /// Returns the inner writer, "sha256:<hex>" and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, format!("sha256:{}", hex::encode(self.hasher.finalize())), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A tar header with everything that could vary between machines fixed.
pub fn fixed_header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    // Empty user and group names: numeric ownership only.
    let _ = h.set_username("");
    let _ = h.set_groupname("");
    h
}

/// Writes `rootfs` as a layer into a temporary file in `dir`.
pub fn write_layer(rootfs: &Rootfs, compression: Compression, mtime: u64, dir: &Path) -> Result<Layer> {
    write_layer_with(compression, dir, &mut |out| write_tar(rootfs, out, mtime))
}

/// Writes a layer whose tar `fill` streams (squash writes its own entries), compressed and
/// hashed like every layer, into a temporary file in `dir`.
pub fn write_layer_with(
    compression: Compression,
    dir: &Path,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<Layer> {
    let tmp = crate::output::temp_in(dir, "staticize-layer")?;
    let file = tmp.reopen().map_err(|e| Error::io("open", tmp.path(), e))?;
    let io_err = |e: io::Error| Error::io("write layer", tmp.path(), e);
    let compressed = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let threads = compress::threads();
    let (compressed, diff_id, uncompressed_size) = match compression {
        Compression::Gzip => {
            let mut tar = HashingWriter::new(ParGzip::new(compressed, threads).map_err(io_err)?);
            fill(&mut tar).map_err(io_err)?;
            let (gz, diff_id, n) = tar.finish();
            (gz.finish().map_err(io_err)?, diff_id, n)
        }
        Compression::Zstd => {
            let mut tar = HashingWriter::new(Zstd::new(compressed, threads).map_err(io_err)?);
            fill(&mut tar).map_err(io_err)?;
            let (z, diff_id, n) = tar.finish();
            (z.finish().map_err(io_err)?, diff_id, n)
        }
        Compression::None => {
            let mut tar = HashingWriter::new(compressed);
            fill(&mut tar).map_err(io_err)?;
            tar.finish()
        }
    };
    let (mut buf, digest, size) = compressed.finish();
    buf.flush().map_err(io_err)?;
    buf.into_inner().map_err(|e| io_err(e.into_error()))?.sync_all().map_err(io_err)?;
    Ok(Layer { blob: tmp, digest, size, diff_id, uncompressed_size, media_type: compression.media_type() })
}

/// The uncompressed tar's "sha256:…" digest (the diff_id) and size of `rootfs`'s layer,
/// without compressing it: what the blob cache is keyed by.
pub fn diff_id(rootfs: &Rootfs, mtime: u64) -> io::Result<(String, u64)> {
    let mut tar = HashingWriter::new(io::sink());
    write_tar(rootfs, &mut tar, mtime)?;
    let (_, digest, n) = tar.finish();
    Ok((digest, n))
}

/// Streams the tar of `rootfs` into `out`.
fn write_tar(rootfs: &Rootfs, out: &mut dyn Write, mtime: u64) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, entry) in rootfs.entries() {
        match entry {
            Entry::Dir { mode } => {
                let mut h = fixed_header(tar::EntryType::Directory, *mode, 0, mtime);
                tar.append_data(&mut h, format!("{path}/"), io::empty())?;
            }
            Entry::File { source: Source::Bytes(b), mode } => {
                let mut h = fixed_header(tar::EntryType::Regular, *mode, b.len() as u64, mtime);
                tar.append_data(&mut h, path, b.as_slice())?;
            }
            Entry::File { source: Source::Host(host), mode } => {
                let f = File::open(host).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", host.display())))?;
                let len = f.metadata()?.len();
                let mut h = fixed_header(tar::EntryType::Regular, *mode, len, mtime);
                // take(len) keeps the header honest if the file grows while we read it.
                tar.append_data(&mut h, path, io::Read::take(f, len))?;
            }
            Entry::Symlink { target } => {
                let mut h = fixed_header(tar::EntryType::Symlink, 0o777, 0, mtime);
                tar.append_link(&mut h, path, target)?;
            }
        }
    }
    tar.into_inner()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::rootfs::MODE_EXEC;

    fn sample() -> Rootfs {
        let mut r = Rootfs::new();
        r.add_file("/bin/hello", Source::Bytes(b"\x7fELF...".to_vec()), MODE_EXEC).unwrap();
        r.add_symlink("/hello", "bin/hello").unwrap();
        r
    }

    #[test]
    fn same_rootfs_same_digests() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_layer(&sample(), Compression::Gzip, 0, dir.path()).unwrap();
        let b = write_layer(&sample(), Compression::Gzip, 0, dir.path()).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.diff_id, b.diff_id);
        let c = write_layer(&sample(), Compression::Gzip, 1, dir.path()).unwrap();
        assert_ne!(a.diff_id, c.diff_id, "mtime must reach the tar headers");
    }

    #[test]
    fn layer_tar_has_numeric_owners_and_fixed_modes() {
        let dir = tempfile::tempdir().unwrap();
        let l = write_layer(&sample(), Compression::None, 7, dir.path()).unwrap();
        assert_eq!(l.digest, l.diff_id);
        let mut ar = tar::Archive::new(File::open(l.blob.path()).unwrap());
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!((h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()), (0, 0, 7));
            assert_eq!(h.username().unwrap(), Some(""));
            seen.push((e.path().unwrap().display().to_string(), h.mode().unwrap()));
        }
        assert_eq!(seen, [("bin/".into(), 0o755), ("bin/hello".into(), 0o755), ("hello".into(), 0o777)]);
    }
}
