//! The bad-input matrix: every command fed missing, empty, wrong, truncated, huge and special
//! files, awkward names, the wrong architecture, broken toolchains and configs, and outputs that
//! cannot be written. Each row states the exit code and what the message must name; every row
//! also checks that nothing panicked, the run ended in time, and — when it failed — that its
//! directory is byte-for-byte what it was before (no partial output, no temporary files, the
//! existing output intact).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::programs::*;
use crate::support::*;

/// A check on the row's directory after a successful run.
type Then = Box<dyn Fn(&Path)>;

/// What to run for one row, and what must come out.
struct Run {
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    /// Run as uid/gid 65534 (root ignores file permissions).
    as_nobody: bool,
    /// Run under `prlimit --fsize=N`.
    fsize: Option<u64>,
    code: i32,
    /// Substrings of stdout+stderr: the message must name the thing.
    says: Vec<String>,
    /// More directories that must be unchanged by a failed run (e.g. a tmpfs mount).
    watch: Vec<PathBuf>,
    /// Checks on the case directory after a successful run.
    then: Option<Then>,
    /// Kept alive until the row is done (a mount to undo).
    _guard: Option<Mount>,
}

fn run<I: AsRef<OsStr>>(args: impl IntoIterator<Item = I>) -> Run {
    Run {
        args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
        env: Vec::new(),
        as_nobody: false,
        fsize: None,
        code: 0,
        says: Vec::new(),
        watch: Vec::new(),
        then: None,
        _guard: None,
    }
}

impl Run {
    fn code(mut self, c: i32) -> Self {
        self.code = c;
        self
    }
    fn says(mut self, s: impl Into<String>) -> Self {
        self.says.push(s.into());
        self
    }
    fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.env.push((k.into(), v.as_ref().to_owned()));
        self
    }
    fn nobody(mut self) -> Self {
        self.as_nobody = true;
        self
    }
    fn then(mut self, f: impl Fn(&Path) + 'static) -> Self {
        self.then = Some(Box::new(f));
        self
    }
}

/// A tmpfs mounted for one row, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` (e.g. "64k") with extra `opts` at `dir`; None when mounting is
    /// not allowed here (not root, no CAP_SYS_ADMIN).
    fn tmpfs(dir: &Path, size: &str, opts: &str) -> Option<Mount> {
        fs::create_dir_all(dir).unwrap();
        let o = format!("size={size},mode=0755{opts}");
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", &o, "tmpfs"]).arg(dir).status();
        ok.is_ok_and(|s| s.success()).then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

struct Case {
    name: &'static str,
    /// Prepares files in the row's directory (the run's working directory).
    setup: fn(&Path) -> Run,
}

fn write(dir: &Path, name: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn exec(dir: &Path, name: impl AsRef<Path>, from: &Path) -> PathBuf {
    let p = dir.join(name);
    fs::copy(from, &p).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// An existing image a failed run must leave alone.
fn old_image(dir: &Path, name: &str) {
    write(dir, name, b"the previous image");
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

fn sparse(p: &Path, len: u64) {
    fs::OpenOptions::new().create(true).write(true).truncate(false).open(p).unwrap().set_len(len).unwrap();
}

const BROKEN_C: &str = "int main(void) { return missing_function(; }\n";

fn cases() -> Vec<Case> {
    vec![
        // ---- staticize image: what the input file is ----
        Case {
            name: "image: missing file",
            setup: |_| run(["image", "nope"]).code(4).says("nope").says("No such file"),
        },
        Case {
            name: "image: missing file with spaces in its name",
            setup: |_| run(["image", "no such program"]).code(4).says("no such program"),
        },
        Case {
            name: "image: empty file",
            setup: |d| {
                write(d, "empty", b"");
                old_image(d, "empty.tar");
                run(["image", "empty"]).code(4).says("empty: is empty")
            },
        },
        Case {
            name: "image: text file",
            setup: |d| {
                write(d, "notes", b"just some words\n");
                run(["image", "notes"]).code(4).says("notes: is not an ELF file")
            },
        },
        Case {
            name: "image: shell script",
            setup: |d| {
                write(d, "run.sh", b"#!/bin/sh\necho hi\n");
                run(["image", "run.sh"]).code(4).says("run.sh: is a script (#!/bin/sh)")
            },
        },
        Case {
            name: "image: truncated ELF",
            setup: |d| {
                let bytes = fs::read(&programs().static_hello).unwrap();
                write(d, "cut", &bytes[..200]);
                old_image(d, "cut.tar");
                run(["image", "cut"]).code(4).says("cut: truncated or invalid ELF")
            },
        },
        Case {
            name: "image: huge sparse file (16 GiB, not ELF) is judged from its first bytes",
            setup: |d| {
                sparse(&d.join("huge"), 16 << 30);
                run(["image", "huge"]).code(4).says("huge: is not an ELF file")
            },
        },
        Case {
            name: "check: huge sparse ELF (16 GiB) is mapped, not read",
            setup: |d| {
                let p = exec(d, "huge-elf", &programs().static_hello);
                sparse(&p, 16 << 30);
                run(["check", "huge-elf"]).says("huge-elf: static")
            },
        },
        Case {
            name: "image: a directory",
            setup: |d| {
                fs::create_dir(d.join("adir")).unwrap();
                run(["image", "adir"]).code(4).says("adir: is a directory")
            },
        },
        Case {
            name: "image: a FIFO does not hang",
            setup: |d| {
                mkfifo(&d.join("pipe"));
                run(["image", "pipe"]).code(4).says("pipe: is a FIFO")
            },
        },
        Case {
            name: "check: a FIFO does not hang",
            setup: |d| {
                mkfifo(&d.join("pipe"));
                run(["check", "pipe"]).code(1).says("pipe: is a FIFO")
            },
        },
        Case { name: "image: a device", setup: |_| run(["image", "/dev/zero"]).code(4).says("/dev/zero: is a device") },
        Case {
            name: "image: /proc/self/mem fails on read",
            setup: |_| run(["image", "/proc/self/mem"]).code(4).says("/proc/self/mem"),
        },
        Case {
            name: "image: unreadable file (as nobody)",
            setup: |d| {
                let p = exec(d, "secret", &programs().static_hello);
                fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
                run(["image", "secret", "-o", "/tmp/staticize-never-written.tar"])
                    .nobody()
                    .code(4)
                    .says("secret")
                    .says("Permission denied")
            },
        },
        Case {
            name: "image: symlink loop",
            setup: |d| {
                symlink("loop", d.join("loop")).unwrap();
                run(["image", "loop"]).code(4).says("loop").says("symbolic links")
            },
        },
        Case {
            name: "image: dangling symlink",
            setup: |d| {
                symlink("gone", d.join("dangling")).unwrap();
                run(["image", "dangling"]).code(4).says("dangling").says("No such file")
            },
        },
        Case {
            name: "image: dynamic program is refused, old image kept",
            setup: |d| {
                exec(d, "dyn", &programs().dynamic_hello);
                old_image(d, "dyn.tar");
                run(["image", "dyn"]).code(1).says("dyn is not self-contained").says("staticize bundle")
            },
        },
        Case {
            name: "image: shared library is refused",
            setup: |d| {
                exec(d, "libadd.so", &programs().shared_lib);
                run(["image", "libadd.so"]).code(1).says("libadd.so is not self-contained (shared library")
            },
        },
        Case {
            name: "image: object file is refused",
            setup: |d| {
                exec(d, "hello.o", &programs().object);
                run(["image", "hello.o"]).code(1).says("not an executable")
            },
        },
        // ---- awkward names that must work ----
        Case {
            name: "image: name with spaces",
            setup: |d| {
                exec(d, "my prog", &programs().static_hello);
                run(["image", "my prog"]).says("my-prog:latest").then(|d| valid_image(&d.join("my prog.tar")))
            },
        },
        Case {
            name: "image: name with a newline",
            setup: |d| {
                exec(d, "new\nline", &programs().static_hello);
                run(["image", "new\nline"]).says("new-line:latest").then(|d| valid_image(&d.join("new\nline.tar")))
            },
        },
        Case {
            name: "image: non-ASCII name and output directory",
            setup: |d| {
                exec(d, "héllo wörld", &programs().static_hello);
                fs::create_dir(d.join("ausgabe ü")).unwrap();
                run(["image", "héllo wörld", "-o", "ausgabe ü/bild.tar"])
                    .then(|d| valid_image(&d.join("ausgabe ü/bild.tar")))
            },
        },
        Case {
            name: "image: name that is not UTF-8",
            setup: |d| {
                exec(d, OsStr::from_bytes(b"caf\xe9"), &programs().static_hello);
                run([OsStr::new("image"), OsStr::from_bytes(b"caf\xe9"), OsStr::new("-o"), OsStr::new("out.tar")])
                    .then(|d| valid_image(&d.join("out.tar")))
            },
        },
        // ---- the wrong architecture ----
        Case {
            name: "image: an aarch64 program gives an arm64 image",
            setup: |d| match &programs().arm64_hello {
                Some(arm) => {
                    exec(d, "arm-hello", arm);
                    run(["image", "arm-hello"]).says("arm64").then(|d| {
                        valid_image(&d.join("arm-hello.tar"));
                        let config = skopeo_config(&d.join("arm-hello.tar"));
                        assert_eq!(config["architecture"], "arm64", "{config}");
                    })
                }
                None => run(["image", "--help"]),
            },
        },
        // ---- outputs that cannot be written ----
        Case {
            name: "image: output is a directory",
            setup: |d| {
                exec(d, "hello", &programs().static_hello);
                fs::create_dir(d.join("out")).unwrap();
                run(["image", "hello", "-o", "out"]).code(4).says("out: is a directory")
            },
        },
        Case {
            name: "image: output directory missing",
            setup: |d| {
                exec(d, "hello", &programs().static_hello);
                run(["image", "hello", "-o", "no/such/dir/hello.tar"]).code(4).says("no/such/dir")
            },
        },
        Case {
            name: "image: output directory not writable (as nobody)",
            setup: |d| {
                exec(d, "hello", &programs().static_hello);
                old_image(d, "hello.tar");
                run(["image", "hello"]).nobody().code(4).says("Permission denied").says("writable")
            },
        },
        Case {
            name: "image: read-only file system",
            setup: |d| {
                exec(d, "hello", &programs().static_hello);
                let ro = d.join("ro");
                let mut r = run(["image", "hello", "-o", "ro/hello.tar"]).code(4).says("ro/").says("Read-only");
                r._guard = Some(Mount::tmpfs(&ro, "64k", ",ro").expect("mount a read-only tmpfs (run as root)"));
                r
            },
        },
        Case {
            name: "image: disk full (64 KiB tmpfs), old image kept, no temporary left",
            setup: |d| {
                padded_static(&d.join("big"), 512 << 10);
                let small = d.join("small");
                let guard = Mount::tmpfs(&small, "64k", "").expect("mount a small tmpfs (run as root)");
                old_image(&small, "big.tar");
                let mut r = run(["image", "big", "-o", "small/big.tar"]).code(4).says("small/").says("No space left");
                r.watch.push(small);
                r._guard = Some(guard);
                r
            },
        },
        Case {
            name: "image: file-size limit (prlimit --fsize), old image kept",
            setup: |d| {
                padded_static(&d.join("big"), 512 << 10);
                old_image(d, "big.tar");
                let mut r = run(["image", "big"]).code(4).says("big.tar").says("File too large");
                r.fsize = Some(64 << 10);
                r
            },
        },
        // ---- bad options ----
        Case {
            name: "image: invalid tag",
            setup: |d| {
                exec(d, "hello", &programs().static_hello);
                run(["image", "hello", "-t", "Not A Name"]).code(2).says("invalid image name 'Not A Name'")
            },
        },
        Case {
            name: "image: invalid SOURCE_DATE_EPOCH",
            setup: |d| {
                exec(d, "hello", &programs().static_hello);
                run(["image", "hello"])
                    .env("SOURCE_DATE_EPOCH", "yesterday")
                    .code(2)
                    .says("SOURCE_DATE_EPOCH='yesterday'")
            },
        },
        Case { name: "unknown flag", setup: |_| run(["image", "--frobnicate", "x"]).code(2).says("--frobnicate") },
        Case { name: "unknown command", setup: |_| run(["frobnicate"]).code(2).says("frobnicate") },
        Case { name: "completions: unknown shell", setup: |_| run(["completions", "tcsh"]).code(2).says("tcsh") },
        Case {
            name: "check: bad --max-size",
            setup: |d| {
                exec(d, "hello", &programs().static_hello);
                run(["check", "--max-size", "12 parsecs", "hello"]).code(2).says("12 parsecs")
            },
        },
        // ---- check ----
        Case {
            name: "check: missing file",
            setup: |_| run(["check", "nope"]).code(1).says("nope").says("No such file"),
        },
        Case {
            name: "check: one bad file among good ones fails and names it",
            setup: |d| {
                exec(d, "good", &programs().static_hello);
                write(d, "bad", b"nope");
                run(["check", "good", "bad"]).code(1).says("good: static").says("bad: is not an ELF")
            },
        },
        // ---- compiling ----
        Case { name: "c: missing source", setup: |_| run(["c", "nope.c"]).code(4).says("nope.c") },
        Case {
            name: "c: compile error keeps the old outputs",
            setup: |d| {
                write(d, "broken.c", BROKEN_C);
                write(d, "broken", b"old binary");
                old_image(d, "broken.tar");
                run(["c", "broken.c"]).code(3).says("broken.c").says("error")
            },
        },
        Case {
            name: "c: empty source (no main) fails to link",
            setup: |d| {
                write(d, "empty.c", b"");
                run(["c", "empty.c"]).code(3).says("main")
            },
        },
        Case {
            name: "c: source is a directory",
            setup: |d| {
                fs::create_dir(d.join("dir.c")).unwrap();
                run(["c", "dir.c"]).code(4).says("dir.c")
            },
        },
        Case {
            name: "c: no compiler on PATH",
            setup: |d| {
                fs::copy(&programs().hello_c, d.join("hello.c")).unwrap();
                run(["c", "hello.c"]).env("PATH", "/nonexistent").code(3).says("not found").says("musl-tools")
            },
        },
        Case {
            name: "cxx: no compiler on PATH",
            setup: |d| {
                write(d, "hello.cpp", b"int main() { return 0; }\n");
                run(["cxx", "hello.cpp"]).env("PATH", "/nonexistent").code(3).says("not found")
            },
        },
        Case {
            name: "c: unknown compiler name",
            setup: |d| {
                fs::copy(&programs().hello_c, d.join("hello.c")).unwrap();
                run(["c", "--compiler", "tcc9000", "hello.c"]).code(2).says("tcc9000")
            },
        },
        Case {
            name: "c: output is a directory, refused before compiling",
            setup: |d| {
                write(d, "broken.c", BROKEN_C);
                fs::create_dir(d.join("out")).unwrap();
                // A compile error would be exit 3: exit 4 shows the output was checked first.
                run(["c", "broken.c", "-o", "out"]).code(4).says("out: is a directory")
            },
        },
        Case {
            name: "c: image on a read-only file system, refused before compiling",
            setup: |d| {
                write(d, "broken.c", BROKEN_C);
                let ro = d.join("ro");
                let mut r = run(["c", "broken.c", "--image", "ro/x.tar"]).code(4).says("ro").says("Read-only");
                r._guard = Some(Mount::tmpfs(&ro, "64k", ",ro").expect("mount a read-only tmpfs (run as root)"));
                r
            },
        },
        // ---- gate ----
        Case {
            name: "gate: missing config",
            setup: |_| run(["gate", "--config", "nope.toml"]).code(4).says("nope.toml"),
        },
        Case {
            name: "gate: config is not TOML",
            setup: |d| {
                write(d, "staticize.toml", b"[[budget]\nname = \"x\"\n");
                run(["gate"]).code(4).says("staticize.toml")
            },
        },
        Case {
            name: "gate: unknown key in a budget",
            setup: |d| {
                write(d, "staticize.toml", b"[[budget]]\nname = \"x\"\nbinary = \"x\"\nmax = \"1 KiB\"\nmaxx = 3\n");
                run(["gate"]).code(4).says("staticize.toml").says("maxx")
            },
        },
        Case {
            name: "gate: bad size",
            setup: |d| {
                write(d, "staticize.toml", b"[[budget]]\nname = \"x\"\nbinary = \"x\"\nmax = \"lots\"\n");
                run(["gate"]).code(4).says("staticize.toml").says("lots")
            },
        },
        Case {
            name: "gate: budget's binary is missing",
            setup: |d| {
                write(d, "staticize.toml", b"[[budget]]\nname = \"x\"\nbinary = \"gone\"\nmax = \"1 KiB\"\n");
                run(["gate"]).code(4).says("gone")
            },
        },
        Case {
            name: "gate: config is a FIFO does not hang",
            setup: |d| {
                mkfifo(&d.join("staticize.toml"));
                run(["gate"]).code(4).says("staticize.toml").says("FIFO")
            },
        },
        Case {
            name: "gate: the build command fails to compile",
            setup: |d| {
                write(d, "broken.c", BROKEN_C);
                write(
                    d,
                    "staticize.toml",
                    b"[[budget]]\nname = \"b\"\nbuild = \"c broken.c\"\nbinary = \"broken\"\nmax = \"1 MiB\"\n",
                );
                run(["gate"]).code(3).says("broken.c")
            },
        },
        // ---- man ----
        Case {
            name: "man: --dir is a file",
            setup: |d| {
                write(d, "afile", b"x");
                run(["man", "--dir", "afile"]).code(4).says("afile")
            },
        },
    ]
}

/// skopeo reads the archive as OCI and as docker (when skopeo is here).
fn valid_image(tar: &Path) {
    if have("skopeo") {
        skopeo_reads(tar).unwrap();
    } else {
        assert!(tar.is_file(), "{} was not written", tar.display());
    }
}

/// Runs one row; returns what went wrong, if anything.
fn check_case(case: &Case, root: &Path, n: usize) -> Result<(), String> {
    let dir = root.join(format!("case-{n:02}"));
    fs::create_dir(&dir).unwrap();
    // Readable by the unprivileged user of `.nobody()` rows, not writable by it.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let r = (case.setup)(&dir);
    let mut watched: Vec<PathBuf> = vec![dir.clone()];
    watched.extend(r.watch.iter().cloned());
    let before: Vec<_> = watched.iter().map(|w| snapshot(w)).collect();

    let mut cmd = if r.as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(bin());
        c
    } else if let Some(limit) = r.fsize {
        let mut c = Command::new("prlimit");
        c.arg(format!("--fsize={limit}")).arg("--").arg(bin());
        c
    } else {
        Command::new(bin())
    };
    cmd.current_dir(&dir).env_remove("SOURCE_DATE_EPOCH").env("NO_COLOR", "1").args(&r.args);
    for (k, v) in &r.env {
        cmd.env(k, v);
    }
    let Some(o) = run_with_deadline(&mut cmd, Duration::from_secs(120)) else {
        return Err("did not finish within 120 s (hung?)".into());
    };
    let all = text(&o);
    let mut problems = Vec::new();
    if o.status.code() != Some(r.code) {
        problems.push(format!("exit {:?}, expected {}", o.status.code(), r.code));
    }
    if all.contains("panicked") || all.contains("RUST_BACKTRACE") {
        problems.push("panicked".into());
    }
    for s in &r.says {
        if !all.contains(s.as_str()) {
            problems.push(format!("does not say {s:?}"));
        }
    }
    if r.code != 0 {
        for (w, b) in watched.iter().zip(&before) {
            let after = snapshot(w);
            if &after != b {
                problems.push(format!("{} changed: before {b:?}, after {after:?}", w.display()));
            }
        }
    } else {
        let temps = temporaries(&dir);
        if !temps.is_empty() {
            problems.push(format!("temporary files left: {temps:?}"));
        }
        if let Some(then) = &r.then {
            if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| then(&dir))) {
                problems.push(format!("post-check failed: {:?}", e.downcast_ref::<String>()));
            }
        }
    }
    drop(r);
    if problems.is_empty() { Ok(()) } else { Err(format!("{}\n--- output:\n{all}", problems.join("; "))) }
}

#[test]
fn bad_input_matrix() {
    let cases = cases();
    assert!(cases.len() >= 30, "the matrix has {} rows", cases.len());
    let root = tempdir();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        match check_case(case, root.path(), n) {
            Ok(()) => eprintln!("ok   {:2} {}", n, case.name),
            Err(e) => {
                eprintln!("FAIL {:2} {}: {e}", n, case.name);
                failures.push(format!("[{n}] {}: {e}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
