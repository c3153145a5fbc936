//! The payload's decoder: one zstd frame decoded in one pass straight into the caller's buffer
//! (the memory files' mappings), its XXH64 checksum verified. Two implementations behind one
//! type, chosen by build.rs through a cargo feature: zstd's own C decoder (`c-zstd`, ~2.3x
//! faster: decoding is most of a packed program's start-up) and the pure-Rust ruzstd
//! (`rust-zstd`, for an architecture with no C compiler at hand).

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is not zstd, is cut short, fails its checksum or holds more or less than asked.
    Damaged,
    /// The decoder could not allocate its state.
    NoMemory,
}

#[cfg(feature = "c-zstd")]
mod imp {
    use super::DecodeError;
    use zstd_sys::{ZSTD_DCtx, ZSTD_createDCtx, ZSTD_decompressDCtx, ZSTD_isError};

    /// A decoder's state, reused from frame to frame by one thread.
    pub struct Decoder {
        dctx: *mut ZSTD_DCtx,
    }

    impl Decoder {
        /// A decoder; its memory is allocated here, so decoding allocates nothing (threads
        /// decode without touching the allocator).
        pub fn new() -> Result<Self, DecodeError> {
            // SAFETY: plain constructor; null means out of memory.
            let dctx = unsafe { ZSTD_createDCtx() };
            if dctx.is_null() { Err(DecodeError::NoMemory) } else { Ok(Decoder { dctx }) }
        }

        /// Decodes `frame` into `out`, which it must fill exactly. Without a window buffer: the
        /// whole output is one buffer, so matches are copied from it directly.
        pub fn decode(&mut self, frame: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
            // SAFETY: both buffers describe live memory of their stated sizes.
            let r = unsafe {
                ZSTD_decompressDCtx(self.dctx, out.as_mut_ptr().cast(), out.len(), frame.as_ptr().cast(), frame.len())
            };
            // SAFETY: ZSTD_isError only inspects the value.
            if unsafe { ZSTD_isError(r) } != 0 || r != out.len() {
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
    use ruzstd::decoding::FrameDecoder;
    use ruzstd::decoding::errors::FrameDecoderError;

    /// A decoder's state, reused from frame to frame by one thread.
    pub struct Decoder {
        dec: FrameDecoder,
    }

    impl Decoder {
        /// A decoder (ruzstd allocates its window as it decodes).
        pub fn new() -> Result<Self, DecodeError> {
            Ok(Decoder { dec: FrameDecoder::new() })
        }

        /// Decodes `frame` into `out`, which it must fill exactly, and checks its checksum.
        pub fn decode(&mut self, frame: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
            match self.dec.decode_all(frame, out) {
                Ok(n) if n == out.len() => {}
                Err(FrameDecoderError::WindowSizeTooBig { .. }) => return Err(DecodeError::NoMemory),
                _ => return Err(DecodeError::Damaged),
            }
            // decode_all does not compare the frame's checksum with the decoded bytes' own.
            match (self.dec.get_checksum_from_data(), self.dec.get_calculated_checksum()) {
                (Some(a), Some(b)) if a == b => Ok(()),
                _ => Err(DecodeError::Damaged),
            }
        }
    }
}

#[cfg(any(feature = "c-zstd", feature = "rust-zstd"))]
pub use imp::Decoder;
