//! `bundle --trace -- ARGS…`: the one mode of `bundle` that runs the program. It runs once,
//! with those arguments, under strace in a throwaway working directory, and every file it
//! opened, looked at or executed that exists afterwards goes into the image — the way exodus
//! and slim find what a program reads that no ELF header names (a Python module on an extra
//! path, a locale, a helper it execs). What the run wrote is its output, never an input: a
//! path any of its processes created, opened for writing, renamed or linked onto, or a
//! directory it made (and everything under it), stays out whatever else touched it. strace rather than ptrace by hand: it already follows
//! forks, decodes every architecture's calls and names the directory of every *at() call (-y).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::closure::root::Root;
use crate::error::{Error, Result};
use crate::image::rootfs::{MODE_DATA, MODE_EXEC, Rootfs, Source};
use crate::process::Command;
use crate::toolchain::{Tool, ToolStatus};

/// The calls that name a file the program reads, looks at, runs or writes; `?` lets strace
/// skip the ones an architecture lacks (arm64 has no open, stat, creat or rename).
const CALLS: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "execve",
    "execveat",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "creat",
    "truncate",
    "mkdir",
    "mkdirat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
];

/// Open flags that make an open a write: the file is the run's output (or changed by it).
const WRITE_FLAGS: &[&str] = &["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"];

/// Where files never come from: the kernel's views, devices, run-time state, the loader's cache
/// (scratch has none on purpose: the closure carries libraries, see the README), password
/// hashes (never into an image), and the files container engines mount over the image's own.
const SKIPPED: &[&str] = &[
    "/proc/",
    "/sys/",
    "/dev/",
    "/run/",
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/shadow-",
    "/etc/gshadow-",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
];

/// The traced run to do: the program's arguments and the image's environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct TraceRequest {
    /// Arguments after `--`, as the image will pass them.
    pub args: Vec<String>,
    /// The image's `--env` settings, set for the run on top of staticize's own environment.
    pub env: Vec<(String, String)>,
}

/// How a traced call used a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Use {
    /// Opened for reading, looked at, or read as a link.
    Read,
    /// Executed.
    Exec,
    /// Created or written: opened with a write flag, made (creat, mkdir), truncated, or the
    /// new name of a rename or link. Never carried.
    Write,
}

/// One path a traced call used successfully: absolute, as the program named it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Access {
    /// The path (relative names joined to the directory strace named).
    pub path: String,
    /// What the call did with it.
    pub how: Use,
}

/// What the trace put into the image.
#[derive(Debug, Clone, Default)]
pub(crate) struct Traced {
    /// Distinct existing paths the run used.
    pub used: usize,
    /// Files (and links) newly put into the image, by image path.
    pub added: Vec<String>,
    /// Their bytes.
    pub bytes: u64,
}

#[derive(Deserialize)]
struct TraceToolchain {
    strace: Tool,
}

fn strace() -> Tool {
    crate::toolchain::load::<TraceToolchain>("trace").strace
}

/// strace for `doctor`: only `bundle --trace` needs it.
pub(crate) fn status() -> ToolStatus {
    strace().status("bundle")
}

/// Runs `program` once under strace with the request's arguments, in a fresh temporary working
/// directory, and returns every path its processes used successfully. Fails when strace is
/// missing or the program fails (a failed run may not have reached what it needs).
pub(crate) fn run(program: &Path, req: &TraceRequest) -> Result<(Vec<Access>, PathBuf)> {
    let tool = strace().locate(None)?;
    let work = tempfile::Builder::new()
        .prefix("staticize-trace-")
        .tempdir()
        .map_err(|e| Error::io("make the trace's working directory", std::env::temp_dir(), e))?;
    let logs = work.path().join(".strace");
    std::fs::create_dir(&logs).map_err(|e| Error::io("make the trace log directory", &logs, e))?;
    let calls: Vec<String> = CALLS.iter().map(|c| format!("?{c}")).collect();
    let mut cmd = Command::new(&tool)
        .args(["-f", "-ff", "-qq", "-y", "--seccomp-bpf", "-e", "signal=none"])
        .arg("-e")
        .arg(format!("trace={}", calls.join(",")))
        .arg("-o")
        .arg(logs.join("log"))
        .arg("--")
        .arg(program)
        .args(&req.args)
        .dir(work.path());
    for (k, v) in &req.env {
        cmd = cmd.env(k, v);
    }
    let step = format!("trace {}", program.display());
    cmd.run(&step).map_err(|e| match e {
        Error::CommandFailed { command, status, stderr, .. } => Error::Build {
            step,
            message: format!("the traced run failed: `{command}` {status}\n{stderr}"),
            help: Some(
                "--trace carries what one successful run uses: give arguments after -- that make it succeed".into(),
            ),
        },
        e => e,
    })?;
    let mut found = BTreeSet::new();
    let entries = std::fs::read_dir(&logs).map_err(|e| Error::io("read the trace logs", &logs, e))?;
    for entry in entries.flatten() {
        let text = std::fs::read(entry.path()).map_err(|e| Error::io("read a trace log", entry.path(), e))?;
        found.extend(parse(&String::from_utf8_lossy(&text)));
    }
    let work_dir = work.path().to_path_buf();
    Ok((found.into_iter().collect(), work_dir))
}

/// Every path one strace log (one process: `-ff`) shows a successful call using, with what
/// the call did; writes are kept (as [`Use::Write`]) so [`carry`] can leave them out even when
/// another call of the run only read them.
pub(crate) fn parse(log: &str) -> Vec<Access> {
    log.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Access> {
    let (name, rest) = line.split_once('(')?;
    if !CALLS.contains(&name) {
        return None;
    }
    let (args, result) = split_call(rest)?;
    // "0", "3</path>": success; "-1 ENOENT (…)": failure.
    if !result.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (dir, path_arg, how) = path_argument(name, &args)?;
    let path = unquote(path_arg)?;
    if path.is_empty() {
        return None; // fstatat(fd, "", AT_EMPTY_PATH) names the descriptor, not a path
    }
    let path = if path.starts_with('/') { path } else { crate::closure::root::join(&dir?, &path) };
    Some(Access { path, how })
}

/// Which argument of a call names the path it used (with the directory a relative one is
/// under, from -y's decoration of the *at() call's descriptor), and how it used it. For
/// rename, link and symlink that is the new name: the old one is read or gone.
fn path_argument<'a>(name: &str, args: &'a [String]) -> Option<(Option<String>, &'a String, Use)> {
    let at = |d: usize, p: usize| Some((decoration(args.get(d)?), args.get(p)?));
    let plain = |p: usize| Some((None, args.get(p)?));
    let (dir, path) = match name {
        "rename" | "link" | "symlink" => plain(1)?,
        "creat" => plain(0)?, // ends in "at" but takes no directory
        "renameat" | "renameat2" | "linkat" => at(2, 3)?,
        "symlinkat" => at(1, 2)?,
        n if n.ends_with("at") || n.ends_with("at2") || n == "statx" => at(0, 1)?,
        _ => plain(0)?,
    };
    let how = match name {
        "creat" | "truncate" | "mkdir" | "mkdirat" | "rename" | "renameat" | "renameat2" | "link" | "linkat"
        | "symlink" | "symlinkat" => Use::Write,
        n if n.starts_with("exec") => Use::Exec,
        n if n.starts_with("open") => {
            let flags = args.get(if n == "open" { 1 } else { 2 })?;
            if flags.contains("O_TMPFILE") {
                return None; // an unnamed file in that directory; a linkat() names it later
            }
            if WRITE_FLAGS.iter().any(|w| flags.contains(w)) { Use::Write } else { Use::Read }
        }
        _ => Use::Read,
    };
    Some((dir, path, how))
}

/// Splits "ARGS) = RESULT" into the top-level arguments and the result, honouring quoted
/// strings (with escapes), -y's `<path>` decorations and nested brackets.
fn split_call(rest: &str) -> Option<(Vec<String>, &str)> {
    let (mut args, mut cur, mut depth) = (Vec::new(), String::new(), 0usize);
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '<' => {
                let close = if c == '"' { '"' } else { '>' };
                cur.push(c);
                while let Some((_, d)) = chars.next() {
                    cur.push(d);
                    if d == '\\' {
                        cur.extend(chars.next().map(|(_, e)| e));
                    } else if d == close {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                cur.push(c);
            }
            ')' if depth == 0 => {
                args.push(std::mem::take(&mut cur).trim().to_string());
                let result = rest[i + 1..].trim_start().strip_prefix('=')?;
                return Some((args, result));
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' if depth == 0 => args.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    None // an unfinished call (the process died in it)
}

/// The path in a -y decoration: `AT_FDCWD</tmp/x>` or `3</usr/lib>`.
fn decoration(arg: &str) -> Option<String> {
    let start = arg.find('<')?;
    let inner = arg[start + 1..].strip_suffix('>')?;
    Some(unescape(inner))
}

/// The string in a quoted argument (`"/usr/lib/x"`, maybe followed by strace's `...`).
fn unquote(arg: &str) -> Option<String> {
    let inner = arg.strip_prefix('"')?;
    let end = inner.trim_end_matches("...").strip_suffix('"')?;
    Some(unescape(end))
}

/// Undoes strace's C-style escapes (`\"`, `\\`, `\n`, `\t`, `\ooo`, `\xhh`); bytes that are
/// not UTF-8 are replaced, as paths elsewhere in staticize are.
fn unescape(s: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let (byte, used) = match b[i + 1] {
            b'n' => (b'\n', 2),
            b't' => (b'\t', 2),
            b'r' => (b'\r', 2),
            b'v' => (0x0b, 2),
            b'f' => (0x0c, 2),
            b'x' => hex_escape(&b[i + 2..]),
            b'0'..=b'7' => octal_escape(&b[i + 1..]),
            other => (other, 2),
        };
        out.push(byte);
        i += used;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_escape(b: &[u8]) -> (u8, usize) {
    let digits = b.iter().take(2).take_while(|c| c.is_ascii_hexdigit()).count();
    let text = std::str::from_utf8(&b[..digits]).unwrap_or("0");
    (u8::from_str_radix(text, 16).unwrap_or(b'x'), 2 + digits)
}

fn octal_escape(b: &[u8]) -> (u8, usize) {
    let digits = b.iter().take(3).take_while(|c| (b'0'..=b'7').contains(c)).count();
    let text = std::str::from_utf8(&b[..digits]).unwrap_or("0");
    (u32::from_str_radix(text, 8).ok().and_then(|v| u8::try_from(v).ok()).unwrap_or(0), 1 + digits)
}

/// Puts what the trace used into `rootfs` at the same paths, with the links on the way:
/// files, links and (empty) directories that exist on the host now, outside `work` (the run's
/// own directory) and the kernel's views; what the image already has is kept. An executed
/// script brings its `#!` interpreter. The program's own file is left out: it is in the image
/// already, maybe at another path (/NAME).
pub(crate) fn carry(rootfs: &mut Rootfs, program: &Path, used: &[Access], work: &Path) -> Result<Traced> {
    let host = Root::new("/");
    let work = work.to_string_lossy().into_owned();
    let program = std::fs::canonicalize(program).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let written = Written::of(&host, used);
    let mut traced = Traced::default();
    let mut todo: Vec<Access> = used.iter().filter(|a| a.how != Use::Write).cloned().collect();
    let (mut seen, mut existing) = (BTreeSet::new(), BTreeSet::new());
    while let Some(Access { path, how }) = todo.pop() {
        if !seen.insert((path.clone(), how)) || skipped(&path, &work) || written.covers(&path) {
            continue;
        }
        let Some(walked) = host.walk_to_any(&path) else { continue };
        if skipped(&walked.real, &work) || walked.real == program || written.covers(&walked.real) {
            continue;
        }
        existing.insert(walked.real.clone());
        for link in &walked.links {
            if rootfs.get(&link.path).is_none() {
                rootfs.add_symlink(&link.path, &link.target)?;
                traced.added.push(link.path.clone());
            }
        }
        let real = host.host_path(&walked.real);
        if how == Use::Exec {
            todo.extend(shebang(&real).map(|path| Access { path, how: Use::Exec }));
        }
        if rootfs.get(&walked.real).is_some() || walked.real == "/" {
            continue;
        }
        let meta = std::fs::metadata(&real).map_err(|e| Error::io("read a traced file", &real, e))?;
        if meta.is_dir() {
            rootfs.add_dir(&walked.real, MODE_EXEC)?;
            continue;
        }
        if !meta.is_file() {
            continue; // sockets, fifos: nothing to carry
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = if meta.permissions().mode() & 0o111 != 0 { MODE_EXEC } else { MODE_DATA };
        rootfs.add_file(&walked.real, Source::Host(real.clone()), mode)?;
        traced.added.push(walked.real.clone());
        traced.bytes += meta.len();
    }
    traced.used = existing.len();
    traced.added.sort();
    Ok(traced)
}

/// The paths the run wrote, as it named them and as they resolve on the host now (a link
/// written through names its target).
struct Written(BTreeSet<String>);

impl Written {
    fn of(host: &Root, used: &[Access]) -> Written {
        let mut paths = BTreeSet::new();
        for a in used.iter().filter(|a| a.how == Use::Write) {
            paths.extend(host.walk_to_any(&a.path).map(|w| w.real));
            paths.insert(a.path.clone());
        }
        Written(paths)
    }

    /// True when `path` was written, or lies under a directory the run made or wrote into
    /// being (its files are output too, whoever opened them).
    fn covers(&self, path: &str) -> bool {
        let mut dirs = path.match_indices('/').map(|(i, _)| &path[..i]).filter(|d| !d.is_empty());
        self.0.contains(path) || dirs.any(|dir| self.0.contains(dir))
    }
}

fn skipped(path: &str, work: &str) -> bool {
    let hit =
        |s: &&str| if s.ends_with('/') { path.starts_with(s) || path == s.trim_end_matches('/') } else { path == *s };
    SKIPPED.iter().any(hit) || path == work || path.starts_with(&format!("{work}/"))
}

/// The interpreter a `#!` script names: the kernel opens it, so strace never shows it.
fn shebang(file: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(file).and_then(|mut f| f.read(&mut head)).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = String::from_utf8_lossy(line.split(|&c| c == b'\n').next()?).into_owned();
    line.split_whitespace().next().filter(|p| p.starts_with('/')).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as strace 6.1 writes them with -f -ff -qq -y.
    const LOG: &str = r#"execve("/usr/bin/python3", ["/usr/bin/python3", "-c", "import json; print(\"/etc"...], 0x7fff888439b0 /* 35 vars */) = 0
access("/etc/ld.so.preload", R_OK)      = -1 ENOENT (No such file or directory)
openat(AT_FDCWD</tmp/trt>, "/usr/lib/python3.11/encodings", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3</usr/lib/python3.11/encodings>
newfstatat(3</etc/ld.so.cache>, "", {st_mode=S_IFREG|0644, st_size=35747, ...}, AT_EMPTY_PATH) = 0
newfstatat(AT_FDCWD</tmp/a b\"c>, "lib/m\303\251.py", {st_mode=S_IFREG|0644, st_size=1, ...}, 0) = 0
openat(AT_FDCWD</tmp/trt>, "/tmp/trt/w x\"y", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 3</tmp/trt/w x\"y>
readlink("/usr/bin/python3", "python3.11", 4096) = 10
readlink("/usr/bin/python3.11", 0x7ffd6084c600, 4096) = -1 EINVAL (Invalid argument)
openat(AT_FDCWD</tmp/trt>, "/x\x01\011", O_RDONLY) = 3</x\1\t>
openat(AT_FDCWD</tmp/trt>, "/unfinished", O_RDONLY <unfinished ...>
--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---
"#;

    #[test]
    fn successful_calls_are_found_with_how_they_used_the_path_and_failures_are_not() {
        let got = parse(LOG);
        let want = [
            ("/usr/bin/python3", Use::Exec),
            ("/usr/lib/python3.11/encodings", Use::Read),
            ("/tmp/a b\"c/lib/mé.py", Use::Read),
            ("/tmp/trt/w x\"y", Use::Write),
            ("/usr/bin/python3", Use::Read),
            ("/x\u{1}\t", Use::Read),
        ];
        let want: Vec<Access> = want.iter().map(|(p, how)| Access { path: p.to_string(), how: *how }).collect();
        assert_eq!(got, want);
    }

    /// Every way a run makes or changes a file, as strace 6.1 writes them.
    const WRITES: &str = r#"openat(AT_FDCWD</w>, "a.gz", O_WRONLY|O_CREAT|O_EXCL, 0600) = 4</w/a.gz>
open("/out/rw", O_RDWR|O_CLOEXEC) = 3</out/rw>
openat(AT_FDCWD</w>, "/out/app", O_WRONLY|O_APPEND) = 3</out/app>
openat(AT_FDCWD</w>, "/out", O_RDWR|O_EXCL|O_TMPFILE, 0600) = 3</out/#1>
openat2(AT_FDCWD</w>, "/out/o2", {flags=O_WRONLY|O_CREAT|O_TRUNC, mode=0644, resolve=0}, 24) = 3</out/o2>
openat2(AT_FDCWD</w>, "/in/r2", {flags=O_RDONLY|O_CLOEXEC, resolve=0}, 24) = 3</in/r2>
creat("/out/c", 0644)                   = 3</out/c>
truncate("/out/t", 0)                   = 0
mkdir("/out/d", 0777)                   = 0
mkdirat(AT_FDCWD</w>, "sub", 0777)      = 0
rename("/out/tmp1", "/out/final")       = 0
renameat2(AT_FDCWD</w>, "t2", 5</out>, "final2", RENAME_NOREPLACE) = 0
linkat(AT_FDCWD</w>, "x", AT_FDCWD</out>, "hard", 0) = 0
symlink("/in/target", "/out/sym")       = 0
symlinkat("/in/t", 3</out>, "sym2")     = 0
statx(AT_FDCWD</w>, "/in/s", AT_STATX_SYNC_AS_STAT, STATX_ALL, {stx_mask=STATX_ALL, ...}) = 0
"#;

    #[test]
    fn every_way_of_writing_is_a_write() {
        let got: Vec<(String, Use)> = parse(WRITES).into_iter().map(|a| (a.path, a.how)).collect();
        let w = |p: &str| (p.to_string(), Use::Write);
        let r = |p: &str| (p.to_string(), Use::Read);
        let want = vec![
            w("/w/a.gz"),
            w("/out/rw"),
            w("/out/app"),
            w("/out/o2"),
            r("/in/r2"),
            w("/out/c"),
            w("/out/t"),
            w("/out/d"),
            w("/w/sub"),
            w("/out/final"),
            w("/out/final2"),
            w("/out/hard"),
            w("/out/sym"),
            w("/out/sym2"),
            r("/in/s"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn what_the_run_wrote_is_never_carried_even_when_it_also_read_it() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().canonicalize().unwrap();
        let s = |x: &str| d.join(x).to_string_lossy().into_owned();
        for f in ["in.txt", "out.gz", "made/inner"] {
            std::fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
            std::fs::write(d.join(f), "x").unwrap();
        }
        let a = |p: &str, how| Access { path: s(p), how };
        // out.gz written then stat()ed; made/ mkdir'd, its file read back later.
        let used = [
            a("in.txt", Use::Read),
            a("out.gz", Use::Write),
            a("out.gz", Use::Read),
            a("made", Use::Write),
            a("made/inner", Use::Read),
        ];
        let mut rootfs = Rootfs::new();
        let work = d.join("elsewhere");
        let traced = carry(&mut rootfs, Path::new("/bin/true"), &used, &work).unwrap();
        assert_eq!(traced.added, vec![s("in.txt")]);
        assert!(rootfs.get(&s("out.gz")).is_none() && rootfs.get(&s("made/inner")).is_none());
    }

    #[test]
    fn escapes_are_undone() {
        assert_eq!(unescape(r#"a\\b\"c\nd\x41\101\0"#), "a\\b\"c\nd".to_string() + "AA\0");
        assert_eq!(unescape("tail\\"), "tail\\");
    }

    #[test]
    fn carried_files_keep_their_links_and_skip_the_run_directory() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().canonicalize().unwrap();
        std::fs::write(d.join("real.py"), "x").unwrap();
        std::os::unix::fs::symlink("real.py", d.join("link.py")).unwrap();
        std::fs::write(d.join("run.sh"), "#!/bin/sh\n").unwrap();
        let work = d.join("work");
        std::fs::create_dir(&work).unwrap();
        std::fs::write(work.join("out"), "o").unwrap();
        let p = |s: &str| Access { path: d.join(s).to_string_lossy().into_owned(), how: Use::Read };
        // run.sh was executed; link.py read through its link.
        let run = Access { how: Use::Exec, ..p("run.sh") };
        let abs = |p: &str| Access { path: p.into(), how: Use::Read };
        let used = [p("link.py"), p("work/out"), run, abs("/proc/self/maps"), abs("/etc/shadow")];
        let mut rootfs = Rootfs::new();
        let traced = carry(&mut rootfs, Path::new("/bin/true"), &used, &work).unwrap();
        let s = |x: &str| d.join(x).to_string_lossy().into_owned();
        assert!(matches!(rootfs.get(&s("link.py")), Some(crate::image::rootfs::Entry::Symlink { .. })));
        assert!(rootfs.get(&s("real.py")).is_some() && rootfs.get(&s("work/out")).is_none());
        assert!(rootfs.get("/proc/self/maps").is_none() && rootfs.get("/etc/shadow").is_none());
        // run.sh's interpreter came with it (/bin/sh, through the host's links).
        assert!(traced.added.iter().any(|a| a.ends_with("/dash") || a.ends_with("/sh")), "{:?}", traced.added);
    }
}
