//! A streaming tar reader with bounded memory, for archives nobody vouches for.
//!
//! The `tar` crate reads GNU long names and PAX headers into memory whatever their declared
//! size, so a hostile (or gzip-bombed) archive could make it allocate gigabytes. This reader
//! parses headers with `tar::Header` but drives the loop itself: extension headers are capped,
//! sizes are checked with overflow-safe arithmetic, and entry data is never buffered — the
//! caller reads it through [`TarStream::data`] or it is skipped.

use std::fs::File;
use std::io::{self, BufReader, Read};

/// Longest GNU long name / long link accepted (Linux PATH_MAX is 4096).
pub const MAX_LONG_NAME: u64 = 64 * 1024;
/// Largest PAX extended header accepted.
pub const MAX_PAX: u64 = 1024 * 1024;
/// Most extension headers (L, K, x, g) allowed before one real entry.
const MAX_EXTENSIONS: usize = 16;
const BLOCK: u64 = 512;

/// Something a tar can be read from: reading, and skipping entry data cheaply.
pub trait Input: Read {
    /// Skips `n` bytes; fails when the input ends first (or, for files, leaves the next read to).
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

/// A tar file on disk: skipping seeks instead of reading.
impl Input for BufReader<File> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let n = i64::try_from(n).map_err(|_| invalid("entry size does not fit a file offset"))?;
        self.seek_relative(n)
    }
}

/// A tar arriving as a stream (a decompressed layer): skipping reads and discards.
pub struct Stream<R>(pub R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Input for Stream<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if copied < n { Err(truncated()) } else { Ok(()) }
    }
}

/// What a tar header says about one entry, extension headers already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarHeader {
    /// The entry's name as stored (raw bytes: tar names need not be UTF-8).
    pub path: Vec<u8>,
    /// The link target of a symlink or hard link.
    pub link: Option<Vec<u8>>,
    /// The type flag byte ('0' file, '5' dir, '2' symlink, '1' hard link, …).
    pub kind: u8,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Size of the entry's data in the archive.
    pub size: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Offset of the entry's data from the start of the tar.
    pub data_offset: u64,
}

impl TarHeader {
    /// True for a regular file (type '0', NUL, or '7' contiguous).
    pub fn is_file(&self) -> bool {
        matches!(self.kind, b'0' | 0 | b'7')
    }
}

/// Reads tar entries one after another from `R`.
pub struct TarStream<R> {
    inner: R,
    /// Bytes consumed from the start of the tar.
    pos: u64,
    /// Unread data of the current entry.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    done: bool,
    /// What the last header said besides [`TarHeader`] (for tools that rewrite layers).
    extra: TarExtra,
}

/// The parts of the last header most readers ignore: kept for tools that rewrite entries
/// (`squash`), so a layer can be written again without losing them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TarExtra {
    /// Modification time, seconds since the epoch (PAX `mtime` wins over the header's).
    pub mtime: u64,
    /// Extended attributes from PAX `SCHILY.xattr.NAME` records, in the order stored.
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Device numbers of a character or block device.
    pub device: (u32, u32),
    /// The type flag byte ('3' character device, '4' block device, …).
    pub kind: u8,
}

impl<R: Input> TarStream<R> {
    /// Starts reading a tar from `inner`.
    pub fn new(inner: R) -> Self {
        TarStream { inner, pos: 0, remaining: 0, padding: 0, done: false, extra: TarExtra::default() }
    }

    /// The next entry's header, or None at the end of the archive. Skips whatever the caller
    /// left unread of the previous entry.
    pub fn next_header(&mut self) -> io::Result<Option<TarHeader>> {
        if self.done {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Vec<u8>> = None;
        for _ in 0..=MAX_EXTENSIONS {
            let mut block = [0u8; BLOCK as usize];
            let header_at = self.pos;
            if !self.read_block(&mut block)? {
                self.done = true;
                return Ok(None);
            }
            if block.iter().all(|b| *b == 0) {
                // End-of-archive marker; what follows (a second zero block, padding) is ignored.
                self.done = true;
                return Ok(None);
            }
            let h = tar::Header::from_byte_slice(&block);
            check_sum(h, header_at)?;
            let kind = h.entry_type().as_byte();
            let mut size = h.entry_size().map_err(|e| at(header_at, format!("bad size field: {e}")))?;
            let is_ext = matches!(kind, b'L' | b'K' | b'x' | b'g');
            if let (false, Some(p)) = (is_ext, &pax) {
                if let Some(s) = pax_value(p, "size") {
                    size = std::str::from_utf8(s)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| at(header_at, "bad PAX size".into()))?;
                }
            }
            self.begin_data(size, header_at)?;
            match kind {
                b'L' => long_name = Some(trim_nul(self.read_small(MAX_LONG_NAME, "GNU long name", header_at)?)),
                b'K' => long_link = Some(trim_nul(self.read_small(MAX_LONG_NAME, "GNU long link", header_at)?)),
                b'x' => pax = Some(self.read_small(MAX_PAX, "PAX header", header_at)?),
                // Global PAX headers only set defaults nobody relies on in images: skipped.
                b'g' => self.skip_rest()?,
                _ => {
                    let pax_path = pax.as_deref().and_then(|p| pax_value(p, "path")).map(<[u8]>::to_vec);
                    let pax_link = pax.as_deref().and_then(|p| pax_value(p, "linkpath")).map(<[u8]>::to_vec);
                    let pax_num = |key: &str| {
                        pax.as_deref()
                            .and_then(|p| pax_value(p, key))
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .and_then(|v| v.split('.').next()?.parse::<u64>().ok())
                    };
                    let path = long_name.or(pax_path).unwrap_or_else(|| h.path_bytes().into_owned());
                    let link = long_link.or(pax_link).or_else(|| h.link_name_bytes().map(|l| l.into_owned()));
                    self.extra = TarExtra {
                        mtime: pax_num("mtime").or_else(|| h.mtime().ok()).unwrap_or(0),
                        xattrs: pax.as_deref().map(xattrs).unwrap_or_default(),
                        device: (
                            h.device_major().ok().flatten().unwrap_or(0),
                            h.device_minor().ok().flatten().unwrap_or(0),
                        ),
                        kind,
                    };
                    return Ok(Some(TarHeader {
                        path,
                        link: link.filter(|l| !l.is_empty()),
                        kind,
                        mode: h.mode().map_err(|e| at(header_at, format!("bad mode field: {e}")))?,
                        size,
                        uid: pax_num("uid").or_else(|| h.uid().ok()).unwrap_or(0),
                        gid: pax_num("gid").or_else(|| h.gid().ok()).unwrap_or(0),
                        data_offset: self.pos,
                    }));
                }
            }
        }
        Err(at(self.pos, format!("more than {MAX_EXTENSIONS} extension headers in a row")))
    }

    /// The current entry's data; reading stops at its end.
    pub fn data(&mut self) -> Data<'_, R> {
        Data { stream: self }
    }

    /// Mtime, xattrs and device numbers of the entry [`TarStream::next_header`] last returned.
    pub fn extra(&self) -> &TarExtra {
        &self.extra
    }

    /// Total bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Gives back the input, positioned after whatever was consumed.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn begin_data(&mut self, size: u64, header_at: u64) -> io::Result<()> {
        let padding = (BLOCK - size % BLOCK) % BLOCK;
        if size.checked_add(padding).and_then(|n| n.checked_add(self.pos)).is_none() {
            return Err(at(header_at, format!("entry size {size} overflows")));
        }
        self.remaining = size;
        self.padding = padding;
        Ok(())
    }

    fn skip_rest(&mut self) -> io::Result<()> {
        let n = self.remaining + self.padding;
        if n > 0 {
            self.inner.skip(n)?;
            self.pos += n;
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    /// Reads an extension header's data, refusing more than `cap` bytes.
    fn read_small(&mut self, cap: u64, what: &str, header_at: u64) -> io::Result<Vec<u8>> {
        if self.remaining > cap {
            return Err(at(header_at, format!("{what} of {} bytes (the limit is {cap})", self.remaining)));
        }
        let mut v = vec![0u8; self.remaining as usize];
        self.inner.read_exact(&mut v).map_err(eof_is_truncation)?;
        self.pos += self.remaining;
        self.remaining = 0;
        self.skip_rest()?;
        Ok(v)
    }

    /// Reads one block; false on a clean end of input before it.
    fn read_block(&mut self, block: &mut [u8; BLOCK as usize]) -> io::Result<bool> {
        let mut got = 0;
        while got < block.len() {
            match self.inner.read(&mut block[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += got as u64;
        match got {
            0 => Ok(false),
            512 => Ok(true),
            _ => Err(truncated()),
        }
    }
}

/// Reader over the current entry's data.
pub struct Data<'a, R> {
    stream: &'a mut TarStream<R>,
}

impl<R: Input> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = &mut *self.stream;
        if s.remaining == 0 {
            return Ok(0);
        }
        let max = buf.len().min(usize::try_from(s.remaining).unwrap_or(usize::MAX));
        let n = s.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(truncated());
        }
        s.remaining -= n as u64;
        s.pos += n as u64;
        Ok(n)
    }
}

fn check_sum(h: &tar::Header, header_at: u64) -> io::Result<()> {
    let bytes = h.as_bytes();
    let sum: u32 = bytes[..148].iter().chain(&bytes[156..]).map(|b| u32::from(*b)).sum::<u32>() + 8 * 32;
    match h.cksum() {
        Ok(c) if c == sum => Ok(()),
        _ => Err(at(header_at, "not a tar header (checksum mismatch)".into())),
    }
}

fn pax_value<'a>(pax: &'a [u8], key: &str) -> Option<&'a [u8]> {
    // The last record for a key wins, as in every tar implementation.
    tar::PaxExtensions::new(pax)
        .filter_map(Result::ok)
        .filter(|e| e.key_bytes() == key.as_bytes())
        .last()
        .map(|e| e.value_bytes())
}

/// The `SCHILY.xattr.NAME` records of a PAX header (the last record for a name wins).
fn xattrs(pax: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for e in tar::PaxExtensions::new(pax).filter_map(Result::ok) {
        let Some(name) = e.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) else { continue };
        out.retain(|(n, _)| n != name);
        out.push((name.to_string(), e.value_bytes().to_vec()));
    }
    out
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

fn at(offset: u64, msg: String) -> io::Error {
    invalid(&format!("tar header at byte {offset}: {msg}"))
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the tar ends in the middle of an entry (truncated?)")
}

fn eof_is_truncation(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof { truncated() } else { e }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        f(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn all(bytes: &[u8]) -> io::Result<Vec<(String, u64, Vec<u8>)>> {
        let mut s = TarStream::new(Stream(bytes));
        let mut out = Vec::new();
        while let Some(h) = s.next_header()? {
            let mut d = Vec::new();
            s.data().read_to_end(&mut d)?;
            out.push((String::from_utf8_lossy(&h.path).into_owned(), h.size, d));
        }
        Ok(out)
    }

    #[test]
    fn reads_names_long_names_and_data() {
        let long = format!("{}/file", "d".repeat(300));
        let t = build(|b| {
            file(b, "a.txt", b"hello");
            file(b, &long, b"x");
        });
        let got = all(&t).unwrap();
        assert_eq!(got[0], ("a.txt".into(), 5, b"hello".to_vec()));
        assert_eq!(got[1].0, long);
    }

    #[test]
    fn unread_data_is_skipped_and_offsets_are_right() {
        let t = build(|b| {
            file(b, "a", &[1u8; 700]);
            file(b, "b", b"bb");
        });
        let mut s = TarStream::new(Stream(t.as_slice()));
        let a = s.next_header().unwrap().unwrap();
        assert_eq!(a.data_offset, 512);
        let b = s.next_header().unwrap().unwrap();
        assert_eq!(b.data_offset, 512 + 1024 + 512);
        assert_eq!(&t[b.data_offset as usize..][..2], b"bb");
        assert!(s.next_header().unwrap().is_none());
    }

    #[test]
    fn huge_long_name_is_refused_without_allocating() {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(1 << 40);
        h.set_cksum();
        let t = h.as_bytes().to_vec();
        let err = all(&t).unwrap_err();
        assert!(err.to_string().contains("GNU long name"), "{err}");
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let t = build(|b| file(b, "a", &[7u8; 2000]));
        assert!(all(&t[..1000]).is_err());
        assert!(all(&[0x55u8; 512]).is_err());
        assert!(all(&t[..100]).is_err());
        assert!(all(&[]).unwrap().is_empty());
    }

    #[test]
    fn pax_path_and_size_override() {
        let mut pax = Vec::new();
        for (k, v) in [("path", "pax/name"), ("size", "3")] {
            let rec = format!(" {k}={v}\n");
            let len = rec.len() + 2;
            pax.extend(format!("{len}{rec}").into_bytes());
        }
        let t = build(|b| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::XHeader);
            h.set_mode(0o644);
            h.set_size(pax.len() as u64);
            b.append_data(&mut h, "PaxHeader", pax.as_slice()).unwrap();
            // The ustar header says 10 bytes; PAX says 3 and wins.
            let mut h = tar::Header::new_ustar();
            h.set_size(10);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, "short", &b"abc"[..]).unwrap();
        });
        let got = all(&t).unwrap();
        assert_eq!(got, [("pax/name".into(), 3, b"abc".to_vec())]);
    }
}
