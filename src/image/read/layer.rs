//! Streaming one layer: decompression detected from the bytes, sizes capped, digests computed
//! while reading, every entry's name cleaned and judged.

use std::io::{self, BufRead, BufReader, Read};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::image::layer::Compression;
use crate::image::paths::{clean_clamped, link_escapes};
use crate::image::tarstream::{Stream, TarHeader, TarStream};

/// The compression of a blob from its first bytes (None when too short to tell).
pub fn compression_of(magic: &[u8]) -> Option<Compression> {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if magic.is_empty() {
        None
    } else {
        Some(Compression::None)
    }
}

/// A reader that hashes and counts what passes through, with an optional cap.
pub struct HashCount<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    cap: u64,
}

impl<R: Read> HashCount<R> {
    /// Wraps `inner` with no cap.
    pub fn new(inner: R) -> Self {
        HashCount::capped(inner, u64::MAX)
    }

    /// Wraps `inner`; reading more than `cap` bytes is an error.
    pub fn capped(inner: R, cap: u64) -> Self {
        HashCount { inner, hasher: Sha256::new(), count: 0, cap }
    }

    /// "sha256:<hex>" and the byte count.
    pub fn finish(self) -> (String, u64) {
        (format!("sha256:{}", hex::encode(self.hasher.finalize())), self.count)
    }

    fn into_parts(self) -> (R, String, u64) {
        let d = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, d, self.count)
    }
}

impl<R: Read> Read for HashCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.count > self.cap {
            return Err(io::Error::other(format!("decompresses to more than {} bytes (a bomb?)", self.cap)));
        }
        Ok(n)
    }
}

type Raw = BufReader<HashCount<Box<dyn Read + Send>>>;

enum Decoder {
    Gzip(Box<flate2::bufread::MultiGzDecoder<Raw>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, Raw>>),
    Plain(Raw),
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Plain(d) => d.read(buf),
        }
    }
}

impl Decoder {
    fn into_raw(self) -> Raw {
        match self {
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
            Decoder::Plain(d) => d,
        }
    }
}

/// What one layer entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier entry.
    Hardlink,
    /// A character or block device.
    Device,
    /// A named pipe.
    Fifo,
    /// `.wh.NAME`: NAME from lower layers is deleted (`path` is the deleted path).
    Whiteout,
    /// `.wh..wh..opq`: everything lower layers put in this directory is hidden (`path` is it).
    Opaque,
    /// Anything else (sparse files, aufs metadata).
    Other,
}

/// One entry of a layer tar, with its name cleaned and checked.
#[derive(Debug, Clone, Serialize)]
pub struct LayerEntry {
    /// Path inside the image, without a leading "/" ("" for the root); for whiteouts, the
    /// path deleted; for opaque markers, the directory.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Bytes of content (regular files only).
    pub size: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Link target (symlinks as written; hard links cleaned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Why the entry is unsafe (a `..` name, an escaping hard link), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Digests and sizes of a layer, computed from the bytes read.
#[derive(Debug, Clone, Serialize)]
pub struct LayerDigests {
    /// "sha256:…" of the stored blob.
    pub digest: String,
    /// Bytes stored.
    pub size: u64,
    /// "sha256:…" of the uncompressed tar (the diff_id).
    pub diff_id: String,
    /// Bytes of the uncompressed tar.
    pub uncompressed_size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
}

/// Streams one layer: entries one by one, file contents on demand, digests at the end.
pub struct LayerReader {
    tar: TarStream<Stream<HashCount<Decoder>>>,
    compression: Compression,
    place: String,
}

impl LayerReader {
    /// Reads a layer from any stream (a blob elsewhere, fuzz input): `max_layer_bytes` caps
    /// the decompressed size, `place` names the layer in errors.
    pub fn from_reader(raw: Box<dyn Read + Send>, max_layer_bytes: u64, place: &str) -> Result<Self> {
        LayerReader::new(raw, max_layer_bytes, place.to_string())
    }

    pub(super) fn new(raw: Box<dyn Read + Send>, cap: u64, place: String) -> Result<Self> {
        let mut raw = BufReader::with_capacity(1 << 16, HashCount::new(raw));
        let err = |e: io::Error| Error::input(&place, format!("reading the layer: {e}"), None);
        let compression = compression_of(raw.fill_buf().map_err(err)?).unwrap_or(Compression::None);
        let decoder = match compression {
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(raw))),
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::with_buffer(raw).map_err(err)?;
                // 2^27 = 128 MiB: libzstd's default ceiling, stated so a frame cannot ask for more.
                d.window_log_max(27).map_err(err)?;
                Decoder::Zstd(Box::new(d))
            }
            Compression::None => Decoder::Plain(raw),
        };
        Ok(LayerReader { tar: TarStream::new(Stream(HashCount::capped(decoder, cap))), compression, place })
    }

    /// How the blob is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The next entry, or None at the end of the layer.
    pub fn next_entry(&mut self) -> Result<Option<LayerEntry>> {
        let h = match self.tar.next_header() {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        Ok(Some(layer_entry(&h)))
    }

    /// Mtime, xattrs and device numbers of the entry [`LayerReader::next_entry`] last returned.
    pub fn extra(&self) -> &crate::image::tarstream::TarExtra {
        self.tar.extra()
    }

    /// The current entry's content (regular files); stops at the entry's end.
    pub fn data(&mut self) -> impl Read + '_ {
        self.tar.data()
    }

    /// Reads what is left and returns the computed digests and sizes.
    pub fn finish(self) -> Result<LayerDigests> {
        let place = self.place;
        let err = |e: io::Error| Error::input(&place, format!("reading the layer: {e}"), None);
        let Stream(mut plain) = self.tar.into_inner();
        // Whatever follows the end-of-archive marker still belongs to the diff_id.
        io::copy(&mut plain, &mut io::sink()).map_err(err)?;
        let (decoder, diff_id, uncompressed_size) = plain.into_parts();
        let mut raw = decoder.into_raw();
        io::copy(&mut raw, &mut io::sink()).map_err(err)?;
        let (digest, size) = raw.into_inner().finish();
        Ok(LayerDigests { digest, size, diff_id, uncompressed_size, compression: self.compression })
    }

    fn err(&self, e: io::Error) -> Error {
        Error::input(&self.place, format!("reading the layer: {e}"), None)
    }
}

/// Turns a raw layer header into a checked entry: names cleaned like runtimes clean them,
/// whiteouts recognised, unsafe names flagged.
pub(super) fn layer_entry(h: &TarHeader) -> LayerEntry {
    let raw = String::from_utf8_lossy(&h.path).into_owned();
    let (mut path, mut problem) = clean_clamped(&raw);
    let mut kind = match h.kind {
        b'5' => EntryKind::Dir,
        b'2' => EntryKind::Symlink,
        b'1' => EntryKind::Hardlink,
        b'3' | b'4' => EntryKind::Device,
        b'6' => EntryKind::Fifo,
        _ if h.is_file() => EntryKind::File,
        _ => EntryKind::Other,
    };
    let (dir, base) = match path.rsplit_once('/') {
        Some((d, b)) => (d.to_string(), b.to_string()),
        None => (String::new(), path.clone()),
    };
    if base == ".wh..wh..opq" {
        kind = EntryKind::Opaque;
        path = dir;
    } else if let Some(name) = base.strip_prefix(".wh.") {
        if !name.starts_with(".wh.") && !name.is_empty() {
            kind = EntryKind::Whiteout;
            path = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
        } else {
            kind = EntryKind::Other;
        }
    }
    let mut link = h.link.as_ref().map(|l| String::from_utf8_lossy(l).into_owned());
    if kind == EntryKind::Hardlink {
        if let Some(l) = &link {
            let (clean, why) = clean_clamped(l);
            if let Some(why) = why {
                problem.get_or_insert(format!("hard link target {l:?}: {why}"));
            }
            link = Some(clean);
        }
    }
    // An absolute symlink target is normal in an image (it resolves inside the container);
    // a relative one that climbs above the root only "works" because runtimes clamp it, and
    // anything unpacking the layer onto a host would follow it outside.
    if kind == EntryKind::Symlink {
        if let Some(l) = link.as_deref().filter(|l| !l.starts_with('/')) {
            if link_escapes(&path, l, false).is_some() {
                problem.get_or_insert(format!("symlink target {l:?} climbs above the image root (outside)"));
            }
        }
    }
    let size = if kind == EntryKind::File { h.size } else { 0 };
    LayerEntry { path, kind, mode: h.mode & 0o7777, size, uid: h.uid, gid: h.gid, link, problem }
}
