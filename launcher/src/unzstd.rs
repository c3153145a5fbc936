//! The payload's decoder: one zstd frame decoded piece by piece straight into the caller's
//! buffers (the memory files' mappings), its XXH64 checksum verified at its end. Two
//! implementations behind one type, chosen by build.rs through a cargo feature: zstd's own C
//! decoder (`c-zstd`, ~2.3x faster: decoding is most of a packed program's start-up) and the
//! pure-Rust ruzstd (`rust-zstd`, for an architecture with no C compiler at hand).

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is not zstd, is cut short, fails its checksum or holds more than was asked.
    Damaged,
    /// The decoder could not allocate its window.
    NoMemory,
}

#[cfg(feature = "c-zstd")]
mod imp {
    use super::DecodeError;
    use zstd_sys::{
        ZSTD_DStream, ZSTD_createDStream, ZSTD_decompressStream, ZSTD_inBuffer, ZSTD_isError, ZSTD_outBuffer,
    };

    /// A zstd frame being decoded.
    pub struct Frame<'a> {
        ds: *mut ZSTD_DStream,
        input: ZSTD_inBuffer,
        /// zstd's last answer: 0 once the frame is decoded and its checksum verified.
        last: usize,
        _payload: core::marker::PhantomData<&'a [u8]>,
    }

    impl<'a> Frame<'a> {
        /// Starts decoding `payload`.
        pub fn new(payload: &'a [u8]) -> Result<Self, DecodeError> {
            // SAFETY: plain constructor; null means out of memory.
            let ds = unsafe { ZSTD_createDStream() };
            if ds.is_null() {
                return Err(DecodeError::NoMemory);
            }
            let input = ZSTD_inBuffer { src: payload.as_ptr().cast(), size: payload.len(), pos: 0 };
            Ok(Frame { ds, input, last: 1, _payload: core::marker::PhantomData })
        }

        /// Fills `out` entirely with the next decoded bytes.
        pub fn fill(&mut self, out: &mut [u8]) -> Result<(), DecodeError> {
            let mut o = ZSTD_outBuffer { dst: out.as_mut_ptr().cast(), size: out.len(), pos: 0 };
            while o.pos < o.size {
                let before = (self.input.pos, o.pos);
                // SAFETY: both buffers describe live memory of their stated sizes.
                let r = unsafe { ZSTD_decompressStream(self.ds, &mut o, &mut self.input) };
                // SAFETY: ZSTD_isError only inspects the value.
                if unsafe { ZSTD_isError(r) } != 0 {
                    return Err(DecodeError::Damaged);
                }
                // The frame ended early, or the input ran out (no progress).
                if (r == 0 && o.pos < o.size) || before == (self.input.pos, o.pos) {
                    return Err(DecodeError::Damaged);
                }
                self.last = r;
            }
            Ok(())
        }

        /// Checks that the frame ends here, whole, with a matching checksum, and is the
        /// payload's last byte.
        pub fn finish(mut self) -> Result<(), DecodeError> {
            if self.last != 0 {
                // The checksum may not have been read yet: one more call, with room for one byte
                // that must stay unwritten.
                let mut extra = [0u8; 1];
                let mut o = ZSTD_outBuffer { dst: extra.as_mut_ptr().cast(), size: 1, pos: 0 };
                // SAFETY: as in fill.
                let r = unsafe { ZSTD_decompressStream(self.ds, &mut o, &mut self.input) };
                if r != 0 || o.pos != 0 {
                    return Err(DecodeError::Damaged);
                }
            }
            if self.input.pos != self.input.size {
                return Err(DecodeError::Damaged);
            }
            Ok(())
        }
    }

    // zstd's C code allocates with malloc/calloc/free; there is no C library, so they are
    // served by the program's allocator, with the block's size kept in front of it.
    const HEAD: usize = 16;

    fn layout(n: usize) -> core::alloc::Layout {
        // SAFETY: 16 is a power of two; sizes near usize::MAX fail in the allocator.
        unsafe { core::alloc::Layout::from_size_align_unchecked(n, HEAD) }
    }

    /// malloc(3) for zstd's C code.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn malloc(n: usize) -> *mut u8 {
        let Some(total) = n.checked_add(HEAD) else { return core::ptr::null_mut() };
        // SAFETY: a non-zero size.
        let p = unsafe { alloc::alloc::alloc(layout(total)) };
        if p.is_null() {
            return p;
        }
        // SAFETY: the block is at least HEAD bytes, 16-aligned.
        unsafe {
            *(p as *mut usize) = total;
            p.add(HEAD)
        }
    }

    /// calloc(3) for zstd's C code.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut u8 {
        let Some(n) = count.checked_mul(size) else { return core::ptr::null_mut() };
        // SAFETY: malloc above.
        let p = unsafe { malloc(n) };
        if !p.is_null() {
            // SAFETY: p holds n bytes.
            unsafe { core::ptr::write_bytes(p, 0, n) };
        }
        p
    }

    /// free(3) for zstd's C code.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn free(p: *mut u8) {
        if p.is_null() {
            return;
        }
        // SAFETY: p came from malloc above, which stored the block's size before it.
        unsafe {
            let block = p.sub(HEAD);
            alloc::alloc::dealloc(block, layout(*(block as *const usize)));
        }
    }
}

#[cfg(all(feature = "rust-zstd", not(feature = "c-zstd")))]
mod imp {
    use super::DecodeError;
    use ruzstd::decoding::StreamingDecoder;
    use ruzstd::decoding::errors::FrameDecoderError;
    use ruzstd::io::Read;

    /// A zstd frame being decoded.
    pub struct Frame<'a> {
        dec: StreamingDecoder<&'a [u8], ruzstd::decoding::FrameDecoder>,
    }

    impl<'a> Frame<'a> {
        /// Starts decoding `payload`.
        pub fn new(payload: &'a [u8]) -> Result<Self, DecodeError> {
            match StreamingDecoder::new(payload) {
                Ok(dec) => Ok(Frame { dec }),
                Err(FrameDecoderError::WindowSizeTooBig { .. }) => Err(DecodeError::NoMemory),
                Err(_) => Err(DecodeError::Damaged),
            }
        }

        /// Fills `out` entirely with the next decoded bytes.
        pub fn fill(&mut self, mut out: &mut [u8]) -> Result<(), DecodeError> {
            while !out.is_empty() {
                match self.dec.read(out) {
                    Ok(0) | Err(_) => return Err(DecodeError::Damaged),
                    Ok(n) => out = &mut out[n..],
                }
            }
            Ok(())
        }

        /// Checks that the frame ends here, whole, with a matching checksum.
        pub fn finish(mut self) -> Result<(), DecodeError> {
            match self.dec.read(&mut [0u8; 1]) {
                Ok(0) => Ok(()),
                _ => Err(DecodeError::Damaged),
            }
        }
    }
}

#[cfg(any(feature = "c-zstd", feature = "rust-zstd"))]
pub use imp::Frame;
