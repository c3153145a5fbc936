//! Threads without a C library: clone(2) with the flags pthread_create uses, a stack from mmap,
//! and a join through the kernel clearing the thread's id word (CLONE_CHILD_CLEARTID) and waking
//! its futex. Written by hand because the launcher has no libc and no std; the launcher only
//! needs "run this function on another core and wait for it", so nothing more is here (no
//! thread-local storage: the functions run must not use any, and the launcher's code uses none).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys;

/// CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
/// CLONE_CHILD_CLEARTID: a thread of this process, whose exit clears and wakes its id word.
const FLAGS: usize = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x200000;

/// Bytes of each thread's stack (touched pages only are allocated).
const STACK: usize = 1 << 20;

unsafe extern "C" {
    /// clone(2) running `func(arg)` on `stack_top` in the child, which then exits (the thread
    /// only); returns the child's id, or a negative errno, in the parent.
    fn staticize_clone(
        flags: usize,
        stack_top: *mut u8,
        ctid: *const AtomicU32,
        func: extern "C" fn(*mut u8),
        arg: *mut u8,
    ) -> isize;
}

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl staticize_clone",
    "staticize_clone:",
    // rdi flags, rsi stack top, rdx ctid, rcx func, r8 arg. func and arg go on the new stack.
    "and rsi, -16",
    "sub rsi, 16",
    "mov [rsi], rcx",
    "mov [rsi + 8], r8",
    // clone(flags, newsp, parent_tid, child_tid, tls)
    "mov r10, rdx",
    "xor edx, edx",
    "xor r8d, r8d",
    "mov eax, 56",
    "syscall",
    "test rax, rax",
    "jnz 1f",
    "xor ebp, ebp",
    "pop rax",
    "pop rdi",
    "call rax",
    "xor edi, edi",
    "mov eax, 60",
    "syscall",
    "ud2",
    "1:",
    "ret",
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl staticize_clone",
    "staticize_clone:",
    // x0 flags, x1 stack top, x2 ctid, x3 func, x4 arg. func and arg go on the new stack.
    "and x1, x1, #-16",
    "stp x3, x4, [x1, #-16]!",
    // clone(flags, newsp, parent_tid, tls, child_tid)
    "mov x4, x2",
    "mov x2, #0",
    "mov x3, #0",
    "mov x8, #220",
    "svc #0",
    "cbnz x0, 1f",
    "ldp x3, x0, [sp], #16",
    "mov x29, #0",
    "mov x30, #0",
    "blr x3",
    "mov x0, #0",
    "mov x8, #93",
    "svc #0",
    "brk #0",
    "1:",
    "ret",
);

/// A running thread.
pub struct Thread {
    /// Non-zero while the thread runs; the kernel writes 0 at its exit and wakes the futex.
    alive: &'static AtomicU32,
    /// Its thread id.
    pub tid: isize,
}

/// Starts `func(arg)` on a new thread; None when the kernel refuses (the caller does the work
/// itself then).
///
/// # Safety
/// `arg` must stay valid, and what `func` touches must be safe to share, until [`Thread::join`].
pub unsafe fn spawn(func: extern "C" fn(*mut u8), arg: *mut u8) -> Option<Thread> {
    let stack = sys::mmap_anon(STACK);
    if stack.is_null() {
        return None;
    }
    // The id word lives at the bottom of the thread's own stack mapping, far below what the
    // stack uses, and like the stack it is never unmapped (the launcher execs soon after).
    // SAFETY: the mapping is STACK bytes, page-aligned, so its first 4 bytes hold an AtomicU32.
    let alive: &'static AtomicU32 = unsafe { &*(stack as *const AtomicU32) };
    alive.store(1, Ordering::SeqCst);
    // SAFETY: the stack top is inside the fresh mapping; the caller vouches for func and arg.
    let r = unsafe { staticize_clone(FLAGS, stack.add(STACK), alive, func, arg) };
    if r < 0 { None } else { Some(Thread { alive, tid: r }) }
}

impl Thread {
    /// Waits until the thread has exited.
    pub fn join(self) {
        loop {
            let v = self.alive.load(Ordering::SeqCst);
            if v == 0 {
                return;
            }
            sys::futex_wait(self.alive, v);
        }
    }
}
