//! Raw Linux system calls for x86_64 and aarch64 (the numbers differ; the calls do not).

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const LSEEK: usize = 8;
    pub const MMAP: usize = 9;
    pub const FTRUNCATE: usize = 77;
    pub const MUNMAP: usize = 11;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const MREMAP: usize = 25;
    pub const GETPID: usize = 39;
    pub const CLONE: usize = 56;
    pub const EXECVE: usize = 59;
    pub const WAIT4: usize = 61;
    pub const KILL: usize = 62;
    pub const FCNTL: usize = 72;
    pub const RT_SIGTIMEDWAIT: usize = 128;
    pub const PRCTL: usize = 157;
    pub const EXIT_GROUP: usize = 231;
    pub const OPENAT: usize = 257;
    pub const MEMFD_CREATE: usize = 319;
    pub const EXECVEAT: usize = 322;
    pub const MADVISE: usize = 28;
    pub const SCHED_GETAFFINITY: usize = 204;
    pub const SCHED_SETAFFINITY: usize = 203;
    pub const GETCPU: usize = 309;
    pub const FUTEX: usize = 202;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const CLOSE: usize = 57;
    pub const LSEEK: usize = 62;
    pub const MMAP: usize = 222;
    pub const FTRUNCATE: usize = 46;
    pub const MUNMAP: usize = 215;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const MREMAP: usize = 216;
    pub const GETPID: usize = 172;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
    pub const WAIT4: usize = 260;
    pub const KILL: usize = 129;
    pub const FCNTL: usize = 25;
    pub const RT_SIGTIMEDWAIT: usize = 137;
    pub const PRCTL: usize = 167;
    pub const EXIT_GROUP: usize = 94;
    pub const OPENAT: usize = 56;
    pub const MEMFD_CREATE: usize = 279;
    pub const EXECVEAT: usize = 281;
    pub const MADVISE: usize = 233;
    pub const SCHED_GETAFFINITY: usize = 123;
    pub const SCHED_SETAFFINITY: usize = 122;
    pub const GETCPU: usize = 168;
    pub const FUTEX: usize = 98;
}

/// A raw system call with up to six arguments; returns the kernel's value (negative errno).
///
/// # Safety
/// The arguments must be valid for the call.
#[cfg(target_arch = "x86_64")]
pub unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments; the kernel clobbers rcx and r11 only.
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a[0], in("rsi") a[1],
            in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// A raw system call with up to six arguments; returns the kernel's value (negative errno).
///
/// # Safety
/// The arguments must be valid for the call.
#[cfg(target_arch = "aarch64")]
pub unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments.
    unsafe {
        core::arch::asm!("svc 0", in("x8") n, inlateout("x0") a[0] as isize => ret, in("x1") a[1],
            in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5], options(nostack));
    }
    ret
}

fn call(n: usize, a: [usize; 6]) -> isize {
    // SAFETY: every wrapper below passes pointers it owns for the lengths it names.
    unsafe { syscall(n, a) }
}

/// errno values these programs tell apart.
pub const ENOENT: isize = 2;
/// Interrupted system call.
pub const EINTR: isize = 4;
/// No child processes.
pub const ECHILD: isize = 10;
/// Permission denied.
pub const EACCES: isize = 13;
/// Invalid argument.
pub const EINVAL: isize = 22;
/// Function not implemented.
pub const ENOSYS: isize = 38;
/// Operation not permitted.
pub const EPERM: isize = 1;

/// write(2), retried until all is written or an error.
pub fn write_all(fd: i32, mut b: &[u8]) -> isize {
    while !b.is_empty() {
        let r = call(nr::WRITE, [fd as usize, b.as_ptr() as usize, b.len(), 0, 0, 0]);
        if r == -EINTR {
            continue;
        }
        if r <= 0 {
            return if r == 0 { -EINVAL } else { r };
        }
        b = &b[r as usize..];
    }
    0
}

/// read(2).
pub fn read(fd: i32, b: &mut [u8]) -> isize {
    call(nr::READ, [fd as usize, b.as_mut_ptr() as usize, b.len(), 0, 0, 0])
}

/// openat(AT_FDCWD, path, flags) with a NUL-terminated path.
pub fn open(path: &[u8], flags: usize) -> isize {
    call(nr::OPENAT, [-100isize as usize, path.as_ptr() as usize, flags, 0, 0, 0])
}

/// close(2).
pub fn close(fd: i32) -> isize {
    call(nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0])
}

/// lseek(fd, 0, SEEK_END): the file's length.
pub fn file_len(fd: i32) -> isize {
    call(nr::LSEEK, [fd as usize, 0, 2, 0, 0, 0])
}

/// A private read-only mapping of a whole file, or null.
pub fn mmap_file(fd: i32, len: usize) -> *const u8 {
    let r = call(nr::MMAP, [0, len, 1, 2, fd as usize, 0]);
    if r < 0 { core::ptr::null() } else { r as *const u8 }
}

/// An anonymous read-write mapping, or null.
pub fn mmap_anon(len: usize) -> *mut u8 {
    let r = call(nr::MMAP, [0, len, 3, 0x22, usize::MAX, 0]);
    if r < 0 { core::ptr::null_mut() } else { r as *mut u8 }
}

/// ftruncate(2).
pub fn ftruncate(fd: i32, len: u64) -> isize {
    call(nr::FTRUNCATE, [fd as usize, len as usize, 0, 0, 0, 0])
}

/// A shared read-write mapping of a file placed at `addr` (MAP_FIXED, over a reservation the
/// caller owns): the address, or a negative errno.
pub fn mmap_fixed_shared(addr: *mut u8, len: usize, fd: i32) -> isize {
    call(nr::MMAP, [addr as usize, len, 3, 0x11, fd as usize, 0])
}

/// madvise(MADV_POPULATE_WRITE): allocates and maps the range's pages in one call instead of one
/// fault per page. Linux 5.14 and later; older kernels say EINVAL and the pages fault in as used.
pub fn populate_write(addr: *mut u8, len: usize) -> isize {
    call(nr::MADVISE, [addr as usize, len, 23, 0, 0, 0])
}

/// A set of CPUs, as sched_getaffinity(2) gives it (up to 1024).
pub type CpuSet = [u64; 16];

/// The CPUs this process may run on (empty when the kernel does not say).
pub fn affinity() -> CpuSet {
    let mut mask: CpuSet = [0; 16];
    let r = call(nr::SCHED_GETAFFINITY, [0, core::mem::size_of_val(&mask), mask.as_mut_ptr() as usize, 0, 0, 0]);
    if r <= 0 {
        return [0; 16];
    }
    mask
}

/// The number of CPUs in `set` (at least 1).
pub fn count(set: &CpuSet) -> usize {
    set.iter().map(|w| w.count_ones() as usize).sum::<usize>().max(1)
}

/// sched_setaffinity(2) for one thread.
pub fn set_affinity(tid: isize, set: &CpuSet) -> isize {
    call(nr::SCHED_SETAFFINITY, [tid as usize, core::mem::size_of_val(set), set.as_ptr() as usize, 0, 0, 0])
}

/// The CPU this thread runs on now, or None.
pub fn current_cpu() -> Option<usize> {
    let mut cpu: u32 = 0;
    let r = call(nr::GETCPU, [&mut cpu as *mut u32 as usize, 0, 0, 0, 0, 0]);
    (r == 0).then_some(cpu as usize)
}

/// futex(FUTEX_WAIT) on `word` while it holds `val` (returns at once when it does not).
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, val: u32) -> isize {
    call(nr::FUTEX, [word.as_ptr() as usize, 0, val as usize, 0, 0, 0])
}

/// munmap(2).
pub fn munmap(p: *mut u8, len: usize) {
    call(nr::MUNMAP, [p as usize, len, 0, 0, 0, 0]);
}

/// mremap(2) with MREMAP_MAYMOVE, or null.
pub fn mremap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
    let r = call(nr::MREMAP, [p as usize, old, new, 1, 0, 0]);
    if r < 0 { core::ptr::null_mut() } else { r as *mut u8 }
}

/// memfd_create(name, flags) with a NUL-terminated name.
pub fn memfd_create(name: &[u8], flags: usize) -> isize {
    call(nr::MEMFD_CREATE, [name.as_ptr() as usize, flags, 0, 0, 0, 0])
}

/// fcntl(2) with one integer argument.
pub fn fcntl(fd: i32, cmd: usize, arg: usize) -> isize {
    call(nr::FCNTL, [fd as usize, cmd, arg, 0, 0, 0])
}

/// execveat(fd, "", argv, envp, AT_EMPTY_PATH); returns only on failure.
pub fn execveat(fd: i32, argv: *const *const u8, envp: *const *const u8) -> isize {
    call(nr::EXECVEAT, [fd as usize, c"".as_ptr() as usize, argv as usize, envp as usize, 0x1000, 0])
}

/// execve(2); returns only on failure.
pub fn execve(path: *const u8, argv: *const *const u8, envp: *const *const u8) -> isize {
    call(nr::EXECVE, [path as usize, argv as usize, envp as usize, 0, 0, 0])
}

/// exit_group(2).
pub fn exit(code: i32) -> ! {
    call(nr::EXIT_GROUP, [code as usize, 0, 0, 0, 0, 0]);
    // exit_group does not return; the loop only tells the compiler so.
    #[allow(clippy::empty_loop)]
    loop {}
}

/// rt_sigprocmask(how, set, NULL) for the 64 signals.
pub fn sigprocmask(how: usize, set: &u64) -> isize {
    call(nr::RT_SIGPROCMASK, [how, set as *const u64 as usize, 0, 8, 0, 0])
}

/// rt_sigtimedwait(set, info, NULL): the next signal of `set`, waiting for it.
pub fn sigwait(set: &u64, info: &mut [u8; 128]) -> isize {
    call(nr::RT_SIGTIMEDWAIT, [set as *const u64 as usize, info.as_mut_ptr() as usize, 0, 8, 0, 0])
}

/// fork(), as clone(SIGCHLD).
pub fn fork() -> isize {
    call(nr::CLONE, [17, 0, 0, 0, 0, 0])
}

/// wait4(pid, &status, options, NULL).
pub fn wait4(pid: isize, status: &mut i32, options: usize) -> isize {
    call(nr::WAIT4, [pid as usize, status as *mut i32 as usize, options, 0, 0, 0])
}

/// kill(2).
pub fn kill(pid: isize, sig: usize) -> isize {
    call(nr::KILL, [pid as usize, sig, 0, 0, 0, 0])
}

/// getpid(2).
pub fn getpid() -> isize {
    call(nr::GETPID, [0; 6])
}

/// prctl(option, arg2).
pub fn prctl(option: usize, arg: usize) -> isize {
    call(nr::PRCTL, [option, arg, 0, 0, 0, 0])
}
