//! The proof run's command line: bubblewrap runs the program inside the image's own files
//! (each top-level entry of the root bound onto an empty root — read-only unless the root is a
//! private copy made for the run, see [`RootMode`] — fresh /proc and
//! /dev), in new user, mount, PID, network, IPC and UTS namespaces, with the image's
//! environment, user and working directory only, and no network but loopback; strace watches
//! it from outside (`--pidns-translation`, so the program's processes can be told apart).
//! bubblewrap rather than namespaces by hand: it is Debian's, small, and does the mount dance
//! (pivot_root, read-only remount) that a root without /proc to mount on needs.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::process::Command;
use crate::toolchain::{Tool, ToolStatus};

/// What to run and as whom.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec {
    /// The program and its arguments (the program as the image names it).
    pub argv: Vec<String>,
    /// KEY=VALUE, the image's environment.
    pub env: Vec<(String, String)>,
    /// UID and GID inside the namespace.
    pub ids: Option<(u32, u32)>,
    /// The working directory inside the image, when it exists there.
    pub workdir: Option<String>,
    /// The user-mode emulator (qemu-aarch64-static) that runs a program built for another
    /// machine; None for the host's programs.
    pub emulator: Option<PathBuf>,
}

/// Where the emulator is bound inside the root: a name no image uses.
const EMULATOR_INSIDE: &str = "/.staticize-emulator";

/// The static user-mode emulator that runs `arch`'s programs here (`qemu-aarch64-static` on
/// PATH), None when none is installed. Bound into the sandbox by path, so it works without
/// binfmt_misc registrations (which containers often lack).
pub(crate) fn emulator(arch: crate::platform::Arch) -> Option<PathBuf> {
    which::which(format!("qemu-{}-static", arch.uname())).ok()
}

#[derive(Deserialize)]
struct ProveToolchain {
    bwrap: Tool,
}

fn bwrap() -> Tool {
    crate::toolchain::load::<ProveToolchain>("prove").bwrap
}

/// bubblewrap for `doctor`: the proof run needs it.
pub(crate) fn status() -> ToolStatus {
    bwrap().status("prove")
}

/// The calls strace watches: every call that names a path, and the forks that tell the
/// program's processes from bubblewrap's.
fn watched_calls() -> String {
    let mut calls: Vec<String> = crate::bundle::trace::CALLS.iter().map(|c| format!("?{c}")).collect();
    calls.extend(["clone", "?clone3", "?fork", "?vfork"].map(String::from));
    calls.join(",")
}

/// How the root is mounted for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootMode {
    /// Read-only: a directory the user gave (`check ROOT --run`) is never changed.
    ReadOnly,
    /// Writable, as an engine's container layer is: the root is a private copy made for this
    /// run (an unpacked archive, a copied executable), thrown away after it — a server that
    /// makes its own directories at start (nginx's /var/lib/nginx/body) runs as it would in
    /// docker or podman.
    PrivateCopy,
}

/// The command that runs `spec` inside `root` under strace, logging into `logs`.
pub(crate) fn command(root: &Path, spec: &RunSpec, logs: &Path, mode: RootMode) -> Result<Command> {
    let strace = crate::bundle::trace::strace().locate(None)?;
    let bwrap = bwrap().locate(None)?;
    let mut cmd = Command::new(strace)
        .args(["-f", "-ff", "-q", "-y", "--pidns-translation", "-e", "signal=none", "-e"])
        .arg(format!("trace={}", watched_calls()))
        .arg("-o")
        .arg(logs.join("log"))
        .arg("--")
        .arg(bwrap)
        .arg("--tmpfs")
        .arg("/");
    for (name, bind) in top_level(root)? {
        cmd = match bind {
            Bind::Dir(host) if mode == RootMode::ReadOnly => cmd.arg("--ro-bind").arg(host).arg(format!("/{name}")),
            Bind::Dir(host) => cmd.arg("--bind").arg(host).arg(format!("/{name}")),
            Bind::Link(target) => cmd.arg("--symlink").arg(target).arg(format!("/{name}")),
        };
    }
    if let Some(q) = &spec.emulator {
        cmd = cmd.arg("--ro-bind").arg(q).arg(EMULATOR_INSIDE);
    }
    cmd = cmd.args(["--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent"]);
    if mode == RootMode::ReadOnly {
        cmd = cmd.args(["--remount-ro", "/"]);
    }
    cmd = cmd.arg("--clearenv");
    for (k, v) in &spec.env {
        cmd = cmd.arg("--setenv").arg(k).arg(v);
    }
    if let Some((uid, gid)) = spec.ids {
        cmd = cmd.arg("--uid").arg(uid.to_string()).arg("--gid").arg(gid.to_string());
    }
    if let Some(dir) = &spec.workdir {
        cmd = cmd.arg("--chdir").arg(dir);
    }
    cmd = cmd.arg("--");
    if spec.emulator.is_some() {
        // qemu runs the program by its path (it does not search PATH): the caller resolved it.
        cmd = cmd.arg(EMULATOR_INSIDE);
    }
    Ok(cmd.args(&spec.argv))
}

enum Bind {
    /// A directory or file, bound read-only.
    Dir(PathBuf),
    /// A link, made as the same link (a merged-/usr `/lib -> usr/lib`).
    Link(PathBuf),
}

/// The root's top-level entries, sorted; /proc and /dev are the namespace's own.
fn top_level(root: &Path) -> Result<Vec<(String, Bind)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(root).map_err(|e| Error::io("read the root to prove", root, e))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "proc" || name == "dev" {
            continue;
        }
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io("read", &path, e))?;
        let bind = if meta.file_type().is_symlink() {
            Bind::Link(std::fs::read_link(&path).map_err(|e| Error::io("read the link", &path, e))?)
        } else {
            Bind::Dir(path)
        };
        out.push((name, bind));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
