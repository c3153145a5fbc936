//! A minimal init for containers (PID 1): starts the program given as its arguments, forwards
//! every signal it receives to it, reaps zombies, and exits with the program's status (128 +
//! the signal when the program was killed by one). Needed for programs such as node that
//! install no handler for SIGTERM: as PID 1 the kernel ignores signals without a handler, so
//! `docker stop` would wait for its timeout and kill.
#![no_std]
#![no_main]

use staticize_launcher::format::EXIT_SYSTEM;
use staticize_launcher::{Alloc, cstr_len, die, entry, sys};

// Never used by init itself: the runtime it shares with the launcher links `alloc`.
#[global_allocator]
static ALLOC: Alloc = Alloc::new();

entry!(main, EXIT_SYSTEM);

const SIG_BLOCK: usize = 0;
const SIG_SETMASK: usize = 2;
const SIGCHLD: usize = 17;
const WNOHANG: usize = 1;
const PR_SET_CHILD_SUBREAPER: usize = 36;
/// Signals never forwarded: SIGKILL and SIGSTOP cannot be caught, the others are synchronous
/// faults (SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV) that belong to init itself.
const KEEP: [usize; 8] = [9, 19, 4, 5, 6, 7, 8, 11];

fn main(sp: *const usize) -> ! {
    // SAFETY: the kernel lays out argc, argv, NULL, envp at the initial stack pointer.
    let (argc, argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        (argc, argv, argv.add(argc + 1))
    };
    if argc < 2 {
        die(2, &[b"usage: init PROGRAM [ARGS...] (staticize's minimal init: forwards signals, reaps zombies)"]);
    }
    let mut set: u64 = !0;
    for s in KEEP {
        set &= !(1u64 << (s - 1));
    }
    let mut old: u64 = 0;
    sys::sigprocmask(SIG_BLOCK, &set);
    // Not PID 1 (e.g. under docker --init): still adopt the program's orphans.
    if sys::getpid() != 1 {
        sys::prctl(PR_SET_CHILD_SUBREAPER, 1);
    }
    let child = sys::fork();
    if child < 0 {
        die(EXIT_SYSTEM, &[b"staticize init: fork failed"]);
    }
    if child == 0 {
        sys::sigprocmask(SIG_SETMASK, &old);
        // SAFETY: argv[1] is a NUL-terminated string; argv+1 is NULL-terminated.
        let r = unsafe { sys::execve(*argv.add(1), argv.add(1), envp) };
        let prog = unsafe { core::slice::from_raw_parts(*argv.add(1), cstr_len(*argv.add(1))) };
        let code = if r == -sys::ENOENT { 127 } else { 126 };
        die(code, &[b"staticize init: cannot execute ", prog]);
    }
    old = set;
    supervise(child, &old)
}

/// Waits for signals: SIGCHLD reaps, the others go to the program; exits when it has.
fn supervise(child: isize, set: &u64) -> ! {
    let mut info = [0u8; 128];
    loop {
        let sig = sys::sigwait(set, &mut info);
        if sig < 0 {
            continue;
        }
        if sig as usize != SIGCHLD {
            sys::kill(child, sig as usize);
            continue;
        }
        loop {
            let mut status = 0i32;
            let pid = sys::wait4(-1, &mut status, WNOHANG);
            if pid <= 0 {
                break;
            }
            if pid == child {
                let code = if status & 0x7f == 0 { (status >> 8) & 0xff } else { 128 + (status & 0x7f) };
                sys::exit(code);
            }
        }
    }
}
