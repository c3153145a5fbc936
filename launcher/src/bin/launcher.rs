//! The launcher of a packed executable: reads the payload appended to its own file, puts the
//! program, its interpreter and its libraries into anonymous memory files, and executes the
//! interpreter on them. It writes nothing to any file system and does not stay as a parent.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use staticize_launcher::format::{
    self, EXIT_DAMAGED, EXIT_EXEC_REFUSED, EXIT_NO_MEMFD, EXIT_NO_PROC, EXIT_SYSTEM, Entry, LOADER_GLIBC, LOADER_MUSL,
    LOADER_NONE, ROLE_INTERP, ROLE_PROGRAM,
};
use staticize_launcher::unzstd::{DecodeError, Decoder};
use staticize_launcher::{Alloc, decimal, die, entry, sys, thread};

#[global_allocator]
static ALLOC: Alloc = Alloc::new();

entry!(main, EXIT_SYSTEM);

const O_CLOEXEC: usize = 0o2000000;
const MFD_CLOEXEC: usize = 1;
const MFD_EXEC: usize = 0x10;

fn errno_text(e: isize) -> &'static [u8] {
    match -e {
        1 => b"EPERM",
        2 => b"ENOENT",
        12 => b"ENOMEM",
        13 => b"EACCES",
        22 => b"EINVAL",
        24 => b"EMFILE",
        28 => b"ENOSPC",
        38 => b"ENOSYS",
        _ => b"an error",
    }
}

fn main(sp: *const usize) -> ! {
    // SAFETY: the kernel lays out argc, argv, NULL, envp, NULL at the initial stack pointer.
    let (argc, argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        (argc, argv, argv.add(argc + 1))
    };
    let file = map_self();
    let pack = match format::parse(file) {
        Ok(p) if p.version == format::VERSION => p,
        Ok(_) => damaged_payload(),
        Err(d) => die(EXIT_DAMAGED, &[b"staticize launcher: ", d.message().as_bytes(), b"; pack the program again"]),
    };
    // SAFETY: the auxiliary vector follows envp's NULL.
    let page = unsafe { page_size(envp) };
    let fds = unpack(&pack, page);
    let prog_fd = fds[0];
    let interp = pack.entries().zip(fds.iter()).find(|(e, _)| e.role == ROLE_INTERP).map(|(_, fd)| *fd);
    let mut bufs = Bufs::default();
    let prog_path = bufs.fd_path(prog_fd);
    // argv[0] as the caller gave it, else the program's name.
    let name0: *const u8 = if argc > 0 {
        unsafe { *argv }
    } else {
        bufs.push(pack.entries().next().map(|e| e.name).unwrap_or(b"program"))
    };
    let mut args: Vec<*const u8> = Vec::new();
    match (pack.loader, interp) {
        (LOADER_GLIBC, Some(_)) | (LOADER_MUSL, Some(_)) => {
            args.push(bufs.push(interp_name(&pack)));
            let preload = preload_list(&pack, &fds);
            if pack.loader == LOADER_GLIBC && !preload.is_empty() {
                args.push(c"--preload".to_bytes_with_nul().as_ptr());
                args.push(bufs.push(&preload));
            }
            args.push(c"--argv0".to_bytes_with_nul().as_ptr());
            args.push(name0);
            args.push(prog_path);
        }
        _ => args.push(name0),
    }
    for i in 1..argc {
        // SAFETY: i < argc.
        args.push(unsafe { *argv.add(i) });
    }
    args.push(core::ptr::null());
    let exec_fd = match (pack.loader, interp) {
        (LOADER_NONE, _) | (_, None) => prog_fd,
        (_, Some(fd)) => fd,
    };
    let mut r = sys::execveat(exec_fd, args.as_ptr(), envp);
    if r == -sys::ENOSYS {
        // No execveat (Linux < 3.19, or qemu-user, which does not emulate it): the same file
        // by its /proc path.
        r = sys::execve(bufs.fd_path(exec_fd), args.as_ptr(), envp);
    }
    exec_failed(r)
}

/// The file's own bytes, through /proc/self/exe.
fn map_self() -> &'static [u8] {
    let fd = sys::open(b"/proc/self/exe\0", O_CLOEXEC);
    if fd < 0 {
        die(
            EXIT_NO_PROC,
            &[
                b"staticize launcher: cannot open /proc/self/exe (",
                errno_text(fd),
                b"): /proc is not mounted. A packed program runs from memory through /proc; mount it (mount -t proc proc /proc) or run the program unpacked",
            ],
        );
    }
    let len = sys::file_len(fd as i32);
    let map = if len > 0 { sys::mmap_file(fd as i32, len as usize) } else { core::ptr::null() };
    if map.is_null() {
        die(EXIT_SYSTEM, &[b"staticize launcher: cannot map its own file (", errno_text(len.min(-1)), b")"]);
    }
    sys::close(fd as i32);
    // SAFETY: the mapping is len bytes long and lives until exec.
    unsafe { core::slice::from_raw_parts(map, len as usize) }
}

/// The page size, from the auxiliary vector (AT_PAGESZ), else 4 KiB.
///
/// # Safety
/// `envp` is the initial environment array, followed by the auxiliary vector.
unsafe fn page_size(envp: *const *const u8) -> usize {
    // SAFETY: the kernel ends envp with NULL and auxv with AT_NULL.
    unsafe {
        let mut p = envp;
        while !(*p).is_null() {
            p = p.add(1);
        }
        let mut a = p.add(1) as *const usize;
        while *a != 0 {
            if *a == 6 {
                return *a.add(1);
            }
            a = a.add(2);
        }
    }
    4096
}

/// One memory file per entry, all mapped at their offsets in one region the size of the image,
/// so each frame decodes in one pass straight into the files (no window buffer, no copy), the
/// frames on as many cores as there are; their descriptors, in entry order.
fn unpack(pack: &format::Pack<'_>, page: usize) -> Vec<i32> {
    if !(pack.align as usize).is_multiple_of(page) {
        die(EXIT_SYSTEM, &[b"staticize launcher: this kernel's pages are larger than the pack's alignment; pack the program again for this machine"]);
    }
    let fds: Vec<i32> = pack.entries().map(|e| memfd(&e)).collect();
    let len = pack.image_len as usize;
    let base = sys::mmap_anon(len);
    if base.is_null() {
        die(EXIT_SYSTEM, &[b"staticize launcher: cannot map memory for the program: too little memory?"]);
    }
    for (e, &fd) in pack.entries().zip(fds.iter()) {
        if e.size == 0 {
            continue;
        }
        let span = (e.size as usize + page - 1) & !(page - 1);
        // SAFETY: offset + span lies inside the region (the header was validated).
        let at = unsafe { base.add(e.offset as usize) };
        // The pages are allocated as they are populated or written; memory short then is the
        // OOM killer's, as for any program.
        let mut r = sys::ftruncate(fd, e.size);
        if r >= 0 {
            r = sys::mmap_fixed_shared(at, span, fd);
        }
        if r < 0 {
            die(
                EXIT_SYSTEM,
                &[b"staticize launcher: cannot size or map a memory file (", errno_text(r), b"): too little memory?"],
            );
        }
    }
    // Each frame's part of the region is unmapped by the thread that decoded it.
    decode_all(pack, base);
    fds
}

/// What the decoding threads share.
struct Work<'a> {
    pack: &'a format::Pack<'a>,
    base: *mut u8,
    /// The next frame to take.
    next: AtomicUsize,
    /// 0, or 1 + the first DecodeError seen.
    failed: AtomicU8,
}

/// One worker: its decoder, and the work.
struct Worker<'a> {
    work: &'a Work<'a>,
    decoder: Decoder,
}

/// Decodes every frame, on up to one thread per CPU; dies on damage.
fn decode_all(pack: &format::Pack<'_>, base: *mut u8) {
    let work = Work { pack, base, next: AtomicUsize::new(0), failed: AtomicU8::new(0) };
    let cpus = sys::affinity();
    let n = pack.frame_count().min(sys::count(&cpus)).max(1);
    let mut workers: Vec<Worker<'_>> = Vec::with_capacity(n);
    for _ in 0..n {
        let decoder = Decoder::new().unwrap_or_else(|e| decode_failed(e));
        workers.push(Worker { work: &work, decoder });
    }
    let (first, rest) = workers.split_first_mut().unwrap_or_else(|| decode_failed(DecodeError::NoMemory));
    let mut threads = Vec::with_capacity(rest.len());
    let others = others_than_this_one(&cpus);
    for w in rest.iter_mut() {
        // SAFETY: the worker lives in `workers` until every thread is joined below.
        if let Some(t) = unsafe { thread::spawn(run_worker, (w as *mut Worker<'_>).cast()) } {
            // The scheduler starts a new thread on its parent's CPU and may leave both there,
            // taking turns, for tens of milliseconds (measured: half of redis' decoding ran so)
            // before it balances them: the workers are kept off this thread's CPU. Best effort.
            if let Some(set) = &others {
                sys::set_affinity(t.tid, set);
            }
            threads.push(t);
        }
    }
    // The launcher's own thread works too (and alone when no thread could be started).
    first.run();
    for t in threads {
        t.join();
    }
    match work.failed.load(Ordering::SeqCst) {
        0 => {}
        2 => decode_failed(DecodeError::NoMemory),
        _ => decode_failed(DecodeError::Damaged),
    }
}

/// The allowed CPUs but the one this thread runs on; None when that leaves none, or the kernel
/// does not say. (This thread keeps its own affinity, which the program inherits at exec.)
fn others_than_this_one(cpus: &sys::CpuSet) -> Option<sys::CpuSet> {
    let here = sys::current_cpu()?;
    let mut set = *cpus;
    *set.get_mut(here / 64)? &= !(1u64 << (here % 64));
    set.iter().any(|w| *w != 0).then_some(set)
}

extern "C" fn run_worker(arg: *mut u8) {
    // SAFETY: spawn's caller passed a Worker that outlives the thread.
    let w = unsafe { &mut *(arg as *mut Worker<'_>) };
    w.run();
}

impl Worker<'_> {
    /// Takes frames until none is left or one failed.
    fn run(&mut self) {
        let w = self.work;
        while w.failed.load(Ordering::Relaxed) == 0 {
            let i = w.next.fetch_add(1, Ordering::Relaxed);
            let Some(f) = w.pack.frames().nth(i) else { return };
            // SAFETY: the frames cover the region exactly (validated), and each frame's part is
            // written by the one worker that took it.
            let out = unsafe { core::slice::from_raw_parts_mut(w.base.add(f.raw_offset as usize), f.raw_len as usize) };
            // One call allocates and maps the frame's pages (fewer faults); best effort.
            sys::populate_write(out.as_mut_ptr(), out.len());
            if let Err(e) = self.decoder.decode(f.data, out) {
                let code = if e == DecodeError::NoMemory { 2 } else { 1 };
                let _ = w.failed.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
            }
            // The bytes are in the memory files; the mapping goes now, on this core, rather
            // than all at once on one core at exec.
            sys::munmap(out.as_mut_ptr(), out.len());
        }
    }
}

fn decode_failed(e: DecodeError) -> ! {
    match e {
        DecodeError::Damaged => damaged_payload(),
        DecodeError::NoMemory => die(EXIT_SYSTEM, &[b"staticize launcher: out of memory for the decoder"]),
    }
}

fn damaged_payload() -> ! {
    die(EXIT_DAMAGED, &[b"staticize launcher: the packed payload is damaged (it does not decompress to what its header lists); pack the program again"])
}

/// A memory file named after the entry; only the interpreter is closed on exec (the loader
/// opens the others through /proc/self/fd after it).
fn memfd(e: &Entry<'_>) -> i32 {
    let mut name = [0u8; format::NAME_MAX + 1];
    name[..e.name.len()].copy_from_slice(e.name);
    let base = if e.role == ROLE_INTERP { MFD_CLOEXEC } else { 0 };
    let exec = if e.role == ROLE_INTERP || e.role == ROLE_PROGRAM { MFD_EXEC } else { 0 };
    let mut fd = sys::memfd_create(&name, base | exec);
    // Kernels before 6.3 do not know MFD_EXEC (their memory files are always executable).
    if fd == -sys::EINVAL && exec != 0 {
        fd = sys::memfd_create(&name, base);
    }
    if fd == -sys::ENOSYS {
        die(EXIT_NO_MEMFD, &[b"staticize launcher: this kernel has no memfd_create (Linux 3.17 or later is needed, with CONFIG_MEMFD_CREATE); run the program unpacked"]);
    }
    if fd == -sys::EACCES || fd == -sys::EPERM {
        die(
            EXIT_EXEC_REFUSED,
            &[b"staticize launcher: executable memory files are refused (", errno_text(fd), b"): vm.memfd_noexec is 2 here, or a seccomp filter forbids memfd_create; set sysctl vm.memfd_noexec=0 or 1, or run the program unpacked"],
        );
    }
    if fd < 0 {
        die(EXIT_SYSTEM, &[b"staticize launcher: memfd_create failed (", errno_text(fd), b")"]);
    }
    fd as i32
}

fn interp_name<'a>(pack: &format::Pack<'a>) -> &'a [u8] {
    pack.entries().find(|e| e.role == ROLE_INTERP).map(|e| e.name).unwrap_or(b"ld.so")
}

/// "/proc/self/fd/A /proc/self/fd/B …" for every library, in closure order.
fn preload_list(pack: &format::Pack<'_>, fds: &[i32]) -> Vec<u8> {
    let mut out = Vec::new();
    for (e, &fd) in pack.entries().zip(fds.iter()) {
        if e.role == ROLE_PROGRAM || e.role == ROLE_INTERP {
            continue;
        }
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"/proc/self/fd/");
        out.extend_from_slice(decimal(fd as u64, &mut [0; 20]));
    }
    out
}

fn exec_failed(r: isize) -> ! {
    if r == -sys::ENOSYS {
        die(EXIT_NO_MEMFD, &[b"staticize launcher: this kernel has no execveat (Linux 3.19 or later is needed); run the program unpacked"]);
    }
    if r == -sys::EACCES || r == -sys::EPERM {
        die(
            EXIT_EXEC_REFUSED,
            &[b"staticize launcher: executing from memory was refused (", errno_text(r), b"): a seccomp filter or security module forbids execveat, or vm.memfd_noexec is set; allow it or run the program unpacked"],
        );
    }
    die(EXIT_SYSTEM, &[b"staticize launcher: execveat failed (", errno_text(r), b")"])
}

/// NUL-terminated strings that live until exec.
#[derive(Default)]
struct Bufs(Vec<Vec<u8>>);

impl Bufs {
    fn push(&mut self, s: &[u8]) -> *const u8 {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        let p = v.as_ptr();
        self.0.push(v);
        p
    }

    fn fd_path(&mut self, fd: i32) -> *const u8 {
        let mut v = b"/proc/self/fd/".to_vec();
        v.extend_from_slice(decimal(fd as u64, &mut [0; 20]));
        self.push(&v)
    }
}
