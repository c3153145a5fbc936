//! Layer compressors that use every core and still give the same bytes whatever the core
//! count: gzip as a series of gzip members, one per fixed-size block, each deflated by
//! libdeflate (gzp's Mgzip; readers treat concatenated members as one stream, as they do for
//! eStargz layers), and zstd with worker threads (zstd's output does not depend on the number
//! of workers once there is one).
//!
//! Why libdeflate with independent 1 MiB members rather than zlib-style blocks primed with the
//! previous block's window (pigz): on a 99 MB Node executable libdeflate level 6 is 1 % smaller
//! than `gzip -6` and takes half its CPU time, while the pure-Rust zlib ports can only be
//! primed through gzp's C-zlib features and are larger at level 6 (benches/history.md).

use std::io::{self, Write};

use gzp::ZWriter;
use gzp::deflate::Mgzip;
use gzp::par::compress::{ParCompress, ParCompressBuilder};

/// gzip level: zlib's default, the usual balance of size and speed.
pub const GZIP_LEVEL: u32 = 6;
/// zstd level: smaller than gzip -6 and still fast with several workers.
pub const ZSTD_LEVEL: i32 = 9;
/// Size of the independently compressed gzip members; fixed, so the output is too. 1 MiB loses
/// about 0.2 % to one long stream and still gives every core work on a few-MB layer.
pub const GZIP_BLOCK: usize = 1024 * 1024;

/// Worker threads: STATICIZE_THREADS when set (tests use it to prove the bytes do not change),
/// else every core.
pub fn threads() -> usize {
    std::env::var("STATICIZE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// A writer that keeps the first error of `inner` and reports success to its caller, so a
/// compressor thread never panics on a full disk; `into_result` hands the error back.
pub struct Latch<W> {
    inner: W,
    error: Option<io::Error>,
}

impl<W: Write> Latch<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Latch { inner, error: None }
    }

    /// The inner writer, or the first error it returned.
    pub fn into_result(self) -> io::Result<W> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.inner),
        }
    }
}

impl<W: Write> Write for Latch<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_none() {
            self.error = self.inner.write_all(buf).err();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.error.is_none() {
            self.error = self.inner.flush().err();
        }
        Ok(())
    }
}

/// Parallel gzip. `flush` is ignored on purpose: a flush would end a block early and make the
/// bytes depend on when it was called.
pub struct ParGzip<W: Write + Send + 'static> {
    inner: ParCompress<'static, Mgzip, Latch<W>>,
}

impl<W: Write + Send + 'static> ParGzip<W> {
    /// A gzip stream into `out` using `threads` compressor threads.
    pub fn new(out: W, threads: usize) -> io::Result<Self> {
        let inner = ParCompressBuilder::<Mgzip>::new()
            .num_threads(threads.max(1))
            .and_then(|b| b.buffer_size(GZIP_BLOCK))
            .map_err(io::Error::other)?
            .compression_level(gzp::Compression::new(GZIP_LEVEL))
            .from_writer(Latch::new(out));
        Ok(ParGzip { inner })
    }

    /// Ends the stream and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.finish().map_err(io::Error::other)?.into_result()
    }
}

impl<W: Write + Send + 'static> Write for ParGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Multi-threaded zstd.
pub struct Zstd<W: Write> {
    inner: zstd::stream::write::Encoder<'static, W>,
}

impl<W: Write> Zstd<W> {
    /// A zstd frame into `out` with `threads` workers (at least one, so the output is the same
    /// for every count).
    pub fn new(out: W, threads: usize) -> io::Result<Self> {
        let mut inner = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
        inner.multithread(threads.max(1) as u32)?;
        inner.include_checksum(true)?;
        Ok(Zstd { inner })
    }

    /// Ends the frame and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        self.inner.finish()
    }
}

impl<W: Write> Write for Zstd<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        // zstd's flush ends a block early, like gzip's: keep the bytes independent of it.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Data that compresses a little, a few blocks long.
    fn sample() -> Vec<u8> {
        let mut x: u32 = 1;
        (0..(GZIP_BLOCK * 5 + 777))
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if i % 3 == 0 { (x >> 24) as u8 } else { (i % 251) as u8 }
            })
            .collect()
    }

    #[test]
    fn gzip_bytes_do_not_depend_on_threads_or_write_sizes() {
        let data = sample();
        let mut outs = Vec::new();
        for (threads, chunk) in [(1, 1000), (2, 65536), (7, 4096)] {
            let mut gz = ParGzip::new(Vec::new(), threads).unwrap();
            for c in data.chunks(chunk) {
                gz.write_all(c).unwrap();
                gz.flush().unwrap();
            }
            outs.push(gz.finish().unwrap());
        }
        assert_eq!(outs[0], outs[1]);
        assert_eq!(outs[0], outs[2]);
        // One gzip member per block: FEXTRA set (the member's size), no mtime.
        assert_eq!(&outs[0][..4], &[0x1f, 0x8b, 8, 4]);
        assert_eq!(&outs[0][4..8], &[0, 0, 0, 0], "no mtime in the gzip header");
        let members = memchr::memmem::find_iter(&outs[0], &[0x1f, 0x8b, 8, 4, 0, 0, 0, 0]).count();
        assert_eq!(members, data.len().div_ceil(GZIP_BLOCK));
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(outs[0].as_slice()).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn zstd_bytes_do_not_depend_on_threads() {
        // Large enough for zstd to cut several jobs.
        let data: Vec<u8> = sample().repeat(12);
        let mut outs = Vec::new();
        for threads in [1, 2, 5] {
            let mut z = Zstd::new(Vec::new(), threads).unwrap();
            for c in data.chunks(10_000) {
                z.write_all(c).unwrap();
                z.flush().unwrap();
            }
            outs.push(z.finish().unwrap());
        }
        assert_eq!(outs[0], outs[1]);
        assert_eq!(outs[0], outs[2]);
        assert_eq!(zstd::decode_all(outs[0].as_slice()).unwrap(), data);
    }
}
