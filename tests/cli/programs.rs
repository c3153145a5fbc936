//! Programs the reliability tests feed to staticize, built once per test run from source with
//! real compilers (musl-gcc, gcc, zig cc), plus helpers to run staticize with a deadline and to
//! snapshot a directory so a failed run can be shown to have changed nothing.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::*;

/// The built programs; paths live in a directory kept for the whole test run.
pub(crate) struct Programs {
    /// The directory holding them.
    pub dir: PathBuf,
    /// A static x86-64 hello (musl-gcc), a few KiB.
    pub static_hello: PathBuf,
    /// A dynamic glibc hello.
    pub dynamic_hello: PathBuf,
    /// A shared library.
    pub shared_lib: PathBuf,
    /// A relocatable object (hello.o).
    pub object: PathBuf,
    /// A static aarch64 hello (zig cc), when zig is installed.
    pub arm64_hello: Option<PathBuf>,
    /// The C source of hello.
    pub hello_c: PathBuf,
}

const HELLO: &str = "#include <stdio.h>\nint main(void) { puts(\"hello from scratch\"); return 0; }\n";

/// The programs, built on first use.
pub(crate) fn programs() -> &'static Programs {
    static P: OnceLock<Programs> = OnceLock::new();
    P.get_or_init(|| {
        // Kept (not a TempDir) because statics are never dropped; it is small.
        let dir = std::env::temp_dir().join(format!("staticize-programs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let hello_c = dir.join("hello.c");
        fs::write(&hello_c, HELLO).unwrap();
        fs::write(dir.join("lib.c"), "int add1(int x) { return x + 1; }\n").unwrap();
        let cc = |tool: &str, args: &[&str]| {
            ok(Command::new(tool).current_dir(&dir).args(args));
        };
        assert!(have("musl-gcc"), "musl-gcc is needed for the reliability fixtures");
        cc("musl-gcc", &["-Os", "-static", "-s", "hello.c", "-o", "static-hello"]);
        cc("gcc", &["-Os", "-s", "hello.c", "-o", "dynamic-hello"]);
        cc("gcc", &["-Os", "-s", "-shared", "-fPIC", "lib.c", "-o", "libadd.so"]);
        cc("gcc", &["-c", "hello.c", "-o", "hello.o"]);
        let arm64_hello = zig().then(|| {
            cc(
                "python3",
                &["-m", "ziglang", "cc", "-Os", "-s", "-target", "aarch64-linux-musl", "hello.c", "-o", "arm64-hello"],
            );
            dir.join("arm64-hello")
        });
        Programs {
            static_hello: dir.join("static-hello"),
            dynamic_hello: dir.join("dynamic-hello"),
            shared_lib: dir.join("libadd.so"),
            object: dir.join("hello.o"),
            arm64_hello,
            hello_c,
            dir,
        }
    })
}

/// Whether `python3 -m ziglang` works (required under STATICIZE_E2E=require).
pub(crate) fn zig() -> bool {
    let found = Command::new("python3").args(["-m", "ziglang", "version"]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(!e2e_required(), "zig (pip install ziglang) is required under STATICIZE_E2E=require");
        skipped("zig");
    }
    found
}

/// A static program of about `bytes` bytes: the static hello with incompressible data
/// appended (the ELF still parses and runs: the loader maps only its segments).
pub(crate) fn padded_static(dest: &Path, bytes: u64) {
    let mut data = fs::read(&programs().static_hello).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    while (data.len() as u64) < bytes {
        // xorshift: cheap bytes gzip cannot shrink, so the image is as large as the program.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    fs::write(dest, data).unwrap();
    fs::set_permissions(dest, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Runs `cmd`, killing it after `limit`; `None` when it had to be killed (it hung).
pub(crate) fn run_with_deadline(cmd: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(Output { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() });
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a directory holds: each entry's type, size and (for small files) a content hash —
/// never opening anything but regular files, so FIFOs and devices are safe to list.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut m = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(meta) = fs::symlink_metadata(&p) else { continue };
            let t = meta.file_type();
            let what = if t.is_dir() {
                todo.push(p.clone());
                "dir".to_string()
            } else if t.is_symlink() {
                format!("link -> {}", fs::read_link(&p).map(|l| l.display().to_string()).unwrap_or_default())
            } else if t.is_fifo() {
                "fifo".into()
            } else if t.is_file() && meta.blocks() * 512 < (4 << 20) {
                format!("file {} {}", meta.len(), sha256_file(&p))
            } else if t.is_file() {
                // Huge or sparse: size and change time say enough.
                format!("file {} ctime {}.{}", meta.len(), meta.ctime(), meta.ctime_nsec())
            } else {
                "other".into()
            };
            m.insert(p.strip_prefix(dir).unwrap().to_path_buf(), what);
        }
    }
    m
}

/// Files named like staticize's temporaries (`.NAME.XXXXXX.tmp`) anywhere under `dir`.
pub(crate) fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with('.') && n.ends_with(".tmp")
        })
        .collect()
}

/// The image config of an archive, read by skopeo (`skopeo inspect --config`).
pub(crate) fn skopeo_config(tar: &Path) -> serde_json::Value {
    let o = run(Command::new("skopeo").args(["inspect", "--config"]).arg(format!("oci-archive:{}", tar.display())));
    assert!(o.status.success(), "skopeo inspect --config {}: {}", tar.display(), text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// True when skopeo reads the archive both as OCI and as docker.
pub(crate) fn skopeo_reads(tar: &Path) -> Result<(), String> {
    for transport in ["oci-archive", "docker-archive"] {
        let o = run(Command::new("skopeo").arg("inspect").arg(format!("{transport}:{}", tar.display())));
        if !o.status.success() {
            return Err(format!("skopeo inspect {transport}:{}: {}", tar.display(), text(&o)));
        }
    }
    Ok(())
}

/// A registry stand-in on 127.0.0.1 that answers every request with `status` (e.g. 401 with a
/// Basic challenge, 500), for as long as the test process lives. Returns "127.0.0.1:PORT".
pub(crate) fn failing_registry(status: u16) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                // Read one request head (and ignore any body: the connection is closed after).
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" || line == "\n" {
                        break;
                    }
                    line.clear();
                }
                let reason = match status {
                    401 => "Unauthorized",
                    500 => "Internal Server Error",
                    _ => "Error",
                };
                let body =
                    format!("{{\"errors\":[{{\"code\":\"TEST\",\"message\":\"test registry says {status}\"}}]}}");
                let challenge = if status == 401 { "WWW-Authenticate: Basic realm=\"staticize-test\"\r\n" } else { "" };
                let _ = write!(
                    &stream,
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{challenge}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    addr
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub(crate) fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}
