//! The runtime shared by staticize's tiny static programs (the pack launcher and the init):
//! raw Linux system calls, the process entry point, an allocator on mmap, and the memory
//! functions the compiler calls. Written by hand because these programs must be static, tens
//! of KiB, and built by a plain `cargo build` with no C library or C compiler for the target.
#![no_std]

pub mod format;
pub mod sys;
pub mod thread;
pub mod unzstd;

extern crate alloc;

mod mem;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Writes the message parts to standard error and exits with `code`.
pub fn die(code: i32, parts: &[&[u8]]) -> ! {
    for p in parts {
        sys::write_all(2, p);
    }
    sys::write_all(2, b"\n");
    sys::exit(code)
}

/// Length of a NUL-terminated string.
///
/// # Safety
/// `p` points at a NUL-terminated string.
pub unsafe fn cstr_len(p: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller promises a terminator.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
}

/// Formats `v` in decimal into `buf`, returning the digits.
pub fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Requests of 64 KiB and more get their own mapping (freed and grown by the kernel); smaller
/// ones come from a bump arena that never frees (the programs are short-lived: they exec).
const BIG: usize = 64 * 1024;
const ARENA: usize = 1024 * 1024;

/// The allocator: bump for small blocks, one mmap per big block. A spin lock guards the bump
/// state: the launcher decodes on several threads (their work allocates rarely, so the lock is
/// almost never contended).
pub struct Alloc {
    lock: AtomicBool,
    state: UnsafeCell<(usize, usize)>,
}

// SAFETY: the bump state is only touched with the lock held.
unsafe impl Sync for Alloc {}

impl Alloc {
    /// An empty allocator.
    pub const fn new() -> Self {
        Alloc { lock: AtomicBool::new(false), state: UnsafeCell::new((0, 0)) }
    }

    /// A small block from the arena (a new arena when the current one is full), or null.
    fn bump(&self, l: Layout) -> *mut u8 {
        while self.lock.swap(true, Ordering::Acquire) {
            core::hint::spin_loop();
        }
        // SAFETY: the lock is held.
        let st = unsafe { &mut *self.state.get() };
        let mut start = (st.0 + l.align() - 1) & !(l.align() - 1);
        if st.0 == 0 || start + l.size() > st.1 {
            let base = sys::mmap_anon(ARENA) as usize;
            if base == 0 {
                self.lock.store(false, Ordering::Release);
                return core::ptr::null_mut();
            }
            *st = (base, base + ARENA);
            start = (base + l.align() - 1) & !(l.align() - 1);
        }
        st.0 = start + l.size();
        self.lock.store(false, Ordering::Release);
        start as *mut u8
    }
}

impl Default for Alloc {
    fn default() -> Self {
        Self::new()
    }
}

unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() >= BIG || l.align() > 4096 {
            return sys::mmap_anon(l.size().max(1));
        }
        self.bump(l)
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if l.size() >= BIG || l.align() > 4096 {
            sys::munmap(p, l.size().max(1));
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if l.size() >= BIG && new >= BIG && l.align() <= 4096 {
            return sys::mremap(p, l.size(), new);
        }
        // SAFETY: the layout is valid for the new size (same alignment).
        let q = unsafe { self.alloc(Layout::from_size_align_unchecked(new, l.align())) };
        if !q.is_null() {
            // SAFETY: both blocks hold at least min(old, new) bytes and do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(p, q, l.size().min(new)) };
            unsafe { self.dealloc(p, l) };
        }
        q
    }
}

/// Defines `_start` for the architecture, calling `$main(sp)` with the initial stack pointer
/// (argc, argv…, NULL, envp…, NULL, auxv), and a panic handler exiting with `$panic_code`.
#[macro_export]
macro_rules! entry {
    ($main:path, $panic_code:expr) => {
        #[cfg(target_arch = "x86_64")]
        core::arch::global_asm!(
            ".globl _start",
            "_start:",
            "xor ebp, ebp",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {m}",
            "ud2",
            m = sym __staticize_start,
        );
        #[cfg(target_arch = "aarch64")]
        core::arch::global_asm!(
            ".globl _start",
            "_start:",
            "mov x29, #0",
            "mov x30, #0",
            "mov x0, sp",
            "and x1, x0, #-16",
            "mov sp, x1",
            "bl {m}",
            "brk #0",
            m = sym __staticize_start,
        );

        #[unsafe(no_mangle)]
        unsafe extern "C" fn __staticize_start(sp: *const usize) -> ! {
            $main(sp)
        }

        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            $crate::die($panic_code, &[b"staticize: internal error (panic)"])
        }
    };
}
