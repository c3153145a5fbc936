//! Does a server in the proof run's network namespace answer on a TCP port? The run has no
//! network but its own loopback, so the connect is made from inside: a thread that joins the
//! program's network namespace (setns affects only the calling thread) connects to
//! 127.0.0.1:PORT. Done with two system calls rather than `nsenter` and a client program, which
//! the image need not have.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Whether something in `pid`'s network namespace accepts a TCP connection on `port`, trying
/// until `limit` has passed (a server may take a moment to listen). Err: why it could not try.
pub(crate) fn answers(pid: i32, port: u16, limit: Duration) -> Result<bool, String> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| format!("cannot open the program's network namespace: {e}"))?;
    let worker = std::thread::spawn(move || -> Result<bool, String> {
        // SAFETY: setns on an open namespace descriptor changes only this thread's network
        // namespace; the thread ends right after, so no other code runs in it.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("cannot enter the program's network namespace: {}", std::io::Error::last_os_error()));
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let start = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(true);
            }
            if start.elapsed() >= limit {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    worker.join().unwrap_or_else(|_| Err("the connect thread panicked".into()))
}
