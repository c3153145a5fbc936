//! Layer compressors that use every core and still give the same bytes whatever the core
//! count: gzip as a series of plain gzip members, one per fixed-size block, each deflated by
//! libdeflate on its own thread (readers take concatenated members as one stream, RFC 1952, as
//! they do for eStargz layers), and zstd with worker threads (zstd's output does not depend on
//! the number of workers once there is one).
//!
//! Why libdeflate with independent 1 MiB members rather than zlib-style blocks primed with the
//! previous block's window (pigz): on a 99 MB Node executable libdeflate level 6 is 1 % smaller
//! than `gzip -6` and takes half its CPU time, while the pure-Rust zlib port is 3 % larger at
//! level 6 even when primed (benches/history.md). libdeflate cannot continue a stream, so each
//! block is a member of its own. The members carry no extra header field (gzp's Mgzip adds
//! one, which Python's tarfile cannot stream), so a layer under 1 MiB is an ordinary gzip file.

use std::io::{self, Write};

use libdeflater::{CompressionLvl, Compressor, Crc};

/// gzip level: zlib's default, the usual balance of size and speed.
pub const GZIP_LEVEL: i32 = 6;
/// zstd level: smaller than gzip -6 and still fast with several workers.
pub const ZSTD_LEVEL: i32 = 9;
/// Size of the independently compressed gzip members; fixed, so the output is too. 1 MiB loses
/// about 0.2 % to one long stream and still gives every core work on a few-MB layer.
pub const GZIP_BLOCK: usize = 1024 * 1024;
/// Blocks each thread compresses per batch: enough to amortise starting the threads.
const BLOCKS_PER_THREAD: usize = 4;
/// A member's fixed header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const MEMBER_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Worker threads: STATICIZE_THREADS when set (tests use it to prove the bytes do not change),
/// else every core.
pub fn threads() -> usize {
    std::env::var("STATICIZE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// Parallel gzip: input is cut into [`GZIP_BLOCK`]-sized blocks, and batches of blocks are
/// compressed on `threads` threads and written in order. `flush` is ignored on purpose: a flush
/// would end a block early and make the bytes depend on when it was called.
pub struct ParGzip<W: Write> {
    out: W,
    /// One compressor per thread (libdeflate's state is large; it is reused block to block).
    compressors: Vec<Compressor>,
    /// Input not compressed yet; a full batch is compressed only when more input comes, so
    /// at the end it is empty only if the whole input was.
    pending: Vec<u8>,
}

impl<W: Write> ParGzip<W> {
    /// A gzip stream into `out` using `threads` compressor threads.
    pub fn new(out: W, threads: usize) -> io::Result<Self> {
        let level = CompressionLvl::new(GZIP_LEVEL).map_err(|e| io::Error::other(format!("{e:?}")))?;
        let compressors = (0..threads.max(1)).map(|_| Compressor::new(level)).collect::<Vec<_>>();
        let pending = Vec::with_capacity(compressors.len() * BLOCKS_PER_THREAD * GZIP_BLOCK);
        Ok(ParGzip { out, compressors, pending })
    }

    fn batch_bytes(&self) -> usize {
        self.compressors.len() * BLOCKS_PER_THREAD * GZIP_BLOCK
    }

    /// Compresses and writes every block of `pending` (the last may be short only at the end).
    fn compress_pending(&mut self) -> io::Result<()> {
        let blocks: Vec<&[u8]> = self.pending.chunks(GZIP_BLOCK).collect();
        let per_thread = blocks.len().div_ceil(self.compressors.len()).max(1);
        // Thread i takes a run of consecutive blocks, so joining the threads in order gives
        // the members in input order.
        let members: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .compressors
                .iter_mut()
                .zip(blocks.chunks(per_thread))
                .map(|(c, run)| scope.spawn(move || run.iter().map(|b| member(c, b)).collect::<Vec<_>>()))
                .collect();
            workers.into_iter().map(|w| w.join().expect("a gzip worker panicked")).collect()
        });
        for m in members.iter().flatten() {
            self.out.write_all(m)?;
        }
        self.pending.clear();
        Ok(())
    }

    /// Ends the stream and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.pending.is_empty() {
            // No input at all: one empty member, so the stream is still valid gzip.
            let m = member(&mut self.compressors[0], &[]);
            self.out.write_all(&m)?;
        } else {
            self.compress_pending()?;
        }
        Ok(self.out)
    }
}

impl<W: Write> Write for ParGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending.len() == self.batch_bytes() && !buf.is_empty() {
            self.compress_pending()?;
        }
        let take = (self.batch_bytes() - self.pending.len()).min(buf.len());
        self.pending.extend_from_slice(&buf[..take]);
        Ok(take)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One gzip member holding `block`.
fn member(c: &mut Compressor, block: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; MEMBER_HEADER.len() + c.deflate_compress_bound(block.len()) + 8];
    out[..MEMBER_HEADER.len()].copy_from_slice(&MEMBER_HEADER);
    let n = c
        .deflate_compress(block, &mut out[MEMBER_HEADER.len()..])
        .expect("deflate_compress_bound leaves room for any input");
    out.truncate(MEMBER_HEADER.len() + n);
    let mut crc = Crc::new();
    crc.update(block);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952); a block is far smaller anyway.
    out.extend_from_slice(&(block.len() as u32).to_le_bytes());
    out
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
        // One plain gzip member per block: no flags, no mtime.
        assert_eq!(&outs[0][..10], &MEMBER_HEADER);
        let members = memchr::memmem::find_iter(&outs[0], &MEMBER_HEADER).count();
        assert_eq!(members, data.len().div_ceil(GZIP_BLOCK));
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(outs[0].as_slice()).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn small_and_empty_inputs_are_ordinary_single_member_gzip() {
        for data in [Vec::new(), b"hello".to_vec(), sample()[..GZIP_BLOCK - 1].to_vec()] {
            let mut gz = ParGzip::new(Vec::new(), 3).unwrap();
            gz.write_all(&data).unwrap();
            let out = gz.finish().unwrap();
            assert_eq!(memchr::memmem::find_iter(&out, &MEMBER_HEADER).count(), 1);
            // A reader that knows nothing of members (flate2's GzDecoder stops after one).
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(out.as_slice()).read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
        }
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
