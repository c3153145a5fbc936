//! The proof run: an output is run inside its own files, never the host's, and watched.
//!
//! `check` judges ELF headers and closures; real programs also need files no header names
//! (standard libraries, plugin directories, trust stores, data). A run sees them: the image
//! (an archive unpacked in full, or a root directory) is run with its entrypoint and command,
//! or given arguments, in a sandbox ([`sandbox`]: read-only root, new namespaces, no network,
//! empty stdin, a time limit) under strace ([`watch`]), and the verdict says how it ended and
//! what it looked for that the image lacks but this machine has ([`missing`]).
//!
//! The verdict fails when the program did not start (a missing interpreter, a missing
//! entrypoint), crashed (a signal), stopped with the loader's error, exited non-zero after
//! looking for a file the image lacks — or, with arguments given, exited non-zero at all; a
//! server passes by staying up until the limit (and, with a port, answering on it). The
//! default run of a build (no arguments) passes a program that merely exits non-zero (a CLI
//! printing its usage): "ran: exit 2, nothing missing".

pub mod ask;
pub(crate) mod memo;
pub(crate) mod missing;
mod port;
pub(crate) mod sandbox;
pub(crate) mod spec;
pub(crate) mod stage;
mod watch;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::unpack;
use crate::platform::Arch;
pub use missing::Missing;
use watch::End;

/// The default time limit of a build's own proof run: long enough for a program that exits at
/// once, short enough that a server staying up costs a build two seconds.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(2);
/// The default time limit of `check --run`.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How to run an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRequest {
    /// Arguments replacing the image's command (after its entrypoint); None: its own command.
    pub args: Option<Vec<String>>,
    /// How long the program may run; a program still running then is a server that stayed up.
    pub timeout: Duration,
    /// A TCP port the program must answer on (inside its namespace) by the limit.
    pub port: Option<u16>,
}

impl Default for ProofRequest {
    fn default() -> Self {
        ProofRequest { args: None, timeout: BUILD_TIMEOUT, port: None }
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// It exited with this status.
    Exited {
        /// The exit status.
        code: i32,
    },
    /// A signal killed it (a crash).
    Signal {
        /// "SIGSEGV".
        signal: String,
    },
    /// Still running at the time limit (then stopped).
    Running {
        /// The limit, in seconds.
        seconds: f64,
    },
    /// It never started.
    NotStarted {
        /// Why ("its interpreter /lib64/ld-linux-x86-64.so.2 is not in the image").
        reason: String,
    },
    /// Not run: the output cannot run on this machine.
    NotRun {
        /// Why ("arm64 does not run on this machine").
        reason: String,
    },
}

/// The verdict of one proof run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proof {
    /// The command run, as the image names it.
    pub command: Vec<String>,
    /// True when the arguments were given (not the image's own command).
    pub args_given: bool,
    /// How it ended.
    pub ending: Ending,
    /// The loader's own error line, when the loader stopped it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loader_error: Option<String>,
    /// The port it had to answer on, and whether it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortCheck>,
    /// Files it looked for that the image lacks and this machine has.
    pub missing: Vec<Missing>,
    /// The last lines the program wrote to stderr.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    /// True when the verdict passes.
    pub ok: bool,
    /// The verdict in words: "ran: /hello, exit 0".
    pub verdict: String,
}

/// A `--port` check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortCheck {
    /// The TCP port.
    pub port: u16,
    /// Whether a connect to it succeeded inside the run's namespace.
    pub answered: bool,
}

/// The proof of an image archive (or OCI layout): every platform it holds is proven (see
/// [`prove_platforms`]); the verdict is the first that failed, else the host's, else the first.
pub(crate) fn prove_archive(archive: &Path, req: &ProofRequest) -> Result<Proof> {
    Ok(verdict_of(prove_platforms(archive, req)?))
}

/// The one verdict of several platforms' proofs: the first that failed, else the host's, else
/// the first (a run that fails on any machine fails the output).
pub(crate) fn verdict_of(mut proofs: Vec<(String, Proof)>) -> Proof {
    let pick = proofs
        .iter()
        .position(|(_, p)| !p.ok)
        .or_else(|| proofs.iter().position(|(a, _)| a == Arch::host().name()))
        .unwrap_or(0);
    proofs.swap_remove(pick).1
}

/// The proof of each platform of an image archive, in its order: the host's runs natively,
/// another under its user-mode emulator where one is installed ("not proven" where none is).
/// With several platforms each verdict names its platform.
pub(crate) fn prove_platforms(archive: &Path, req: &ProofRequest) -> Result<Vec<(String, Proof)>> {
    let arches = unpack::architectures(archive)?;
    let several = arches.len() > 1;
    let mut out = Vec::new();
    for a in arches {
        let mut proof = prove_platform(archive, &a, req)?;
        if several {
            proof.verdict = format!("linux/{a}: {}", proof.verdict);
        }
        out.push((a, proof));
    }
    Ok(out)
}

/// The proof of the image of `architecture` in an archive: unpacked in full into a temporary
/// directory, then run as its config says.
fn prove_platform(archive: &Path, architecture: &str, req: &ProofRequest) -> Result<Proof> {
    let tmp = tempfile::Builder::new()
        .prefix("staticize-prove-")
        .tempdir()
        .map_err(|e| Error::io("create a temporary directory in", std::env::temp_dir(), e))?;
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).map_err(|e| Error::io("create", &root, e))?;
    let u = unpack::unpack_platform(archive, Some(architecture), &root, &unpack::UnpackLimits::every_file())?;
    let config =
        spec::Config { entrypoint: u.entrypoint, command: u.command, env: u.env, user: u.user, workdir: u.workdir };
    let Some(arch) = Arch::from_name(&u.architecture) else {
        return Ok(not_run(&config.command, format!("{} does not run on this machine", u.architecture)));
    };
    if config.command.is_empty() && req.args.is_none() {
        // An image that names nothing to run (a base or data image) has no run to prove.
        return Ok(not_run(&[], "the image names no entrypoint or command; name the run with --probe ARGS".into()));
    }
    prove_root(&root, arch, &config, req, sandbox::RootMode::PrivateCopy)
}

/// A verdict for an output that cannot be run here.
pub(crate) fn not_run(command: &[String], reason: String) -> Proof {
    Proof {
        command: command.to_vec(),
        args_given: false,
        verdict: format!("not proven: {reason}"),
        ending: Ending::NotRun { reason },
        loader_error: None,
        port: None,
        missing: Vec::new(),
        stderr: String::new(),
        ok: true,
    }
}

/// The proof of a root directory run as `config` says (a root directory alone has no config:
/// then `req.args` is the whole command).
/// A program for another machine than the host's runs under its user-mode emulator.
pub(crate) fn prove_root(
    root: &Path,
    arch: Arch,
    config: &spec::Config,
    req: &ProofRequest,
    mode: sandbox::RootMode,
) -> Result<Proof> {
    // bubblewrap binds absolute paths only.
    let root = &std::fs::canonicalize(root).map_err(|e| Error::io("find the root to prove", root, e))?;
    let mut spec = spec::run_spec(root, config, req.args.as_deref())?;
    if arch != Arch::host() {
        let Some(q) = sandbox::emulator(arch) else {
            let reason = format!(
                "no emulator for {} (qemu-{}-static): apt-get install qemu-user-static to prove it here",
                arch.platform(),
                arch.uname()
            );
            return Ok(not_run(&spec.argv, reason));
        };
        if let Some(inside) = spec::locate(root, &spec.argv[0], &spec.env) {
            spec.argv[0] = inside;
        }
        spec.emulator = Some(q);
    }
    let work = tempfile::Builder::new()
        .prefix("staticize-prove-run-")
        .tempdir()
        .map_err(|e| Error::io("create a temporary directory in", std::env::temp_dir(), e))?;
    let logs = work.path().join("logs");
    std::fs::create_dir(&logs).map_err(|e| Error::io("create", &logs, e))?;
    let (out, err) = (work.path().join("stdout"), work.path().join("stderr"));
    let cmd = sandbox::command(root, &spec, &logs, mode)?;
    let running = cmd.start_logged("run the output in its own root", &out, &err)?;
    let status = running.wait_up_to(req.timeout)?;
    let port = match (status, req.port) {
        (None, Some(p)) => Some(check_port(&logs, p)?),
        _ => None,
    };
    running.abandon();
    let mut watched = watch::read(&logs)?;
    if let (true, End::Running, Some(st)) = (watched.started, &watched.end, status) {
        // strace does not always see the program's own end inside the PID namespace (a
        // signal death reaped by the namespace's init); bubblewrap exits with its status,
        // 128+N for signal N as a shell reports it.
        watched.end = match st.code() {
            Some(c) if c > 128 && c < 128 + 65 => End::Killed(signal_name(c - 128)),
            Some(c) => End::Exited(c),
            None => End::Killed("a signal".into()),
        };
    }
    let stderr = tail_of(&err);
    let mut proof = judge(root, &spec, &watched, req, stderr);
    if let Some(q) = &spec.emulator {
        let name = q.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        proof.verdict = format!("{} (under {name})", proof.verdict);
    }
    if let Some(p) = port {
        proof.ok = p.answered;
        proof.verdict = if p.answered {
            format!(
                "ran: {}, still up after {} s, answered on port {}",
                shown(&proof),
                req.timeout.as_secs_f64(),
                p.port
            )
        } else {
            format!("failed: {} stayed up but did not answer on port {}", shown(&proof), p.port)
        };
        proof.port = Some(p);
    }
    Ok(proof)
}

/// Connects to `port` in the program's network namespace (its pid from the logs so far).
fn check_port(logs: &Path, port: u16) -> Result<PortCheck> {
    let pid = watch::read(logs)?.pid.ok_or_else(|| Error::Build {
        step: "answer on the proof run's port".into(),
        message: "the program's process was not found in the run's logs".into(),
        help: None,
    })?;
    let answered = port::answers(pid, port, Duration::from_secs(1)).map_err(|message| Error::Build {
        step: format!("connect to port {port} in the proof run"),
        message,
        help: None,
    })?;
    Ok(PortCheck { port, answered })
}

/// The last 20 lines of the program's stderr (at most 4 KiB read).
fn tail_of(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    crate::process::tail(&String::from_utf8_lossy(&buf), 20)
}

/// The command as the verdict shows it.
fn shown(p: &Proof) -> String {
    p.command.iter().map(|w| crate::process::shell_quote(w)).collect::<Vec<_>>().join(" ")
}

/// The verdict from what the logs show.
fn judge(root: &Path, spec: &sandbox::RunSpec, w: &watch::Watched, req: &ProofRequest, stderr: String) -> Proof {
    let mut missing = missing::judge(&w.calls);
    let loader_error = stderr.lines().find(|l| l.contains("error while loading shared libraries")).map(str::to_string);
    let ending = if w.started {
        match &w.end {
            End::Exited(code) => Ending::Exited { code: *code },
            End::Killed(signal) => Ending::Signal { signal: signal.clone() },
            End::Running => Ending::Running { seconds: req.timeout.as_secs_f64() },
        }
    } else {
        let (reason, lacks) = not_started(root, spec, w, &stderr);
        missing.extend(lacks);
        Ending::NotStarted { reason }
    };
    let mut p = Proof {
        command: spec.argv.clone(),
        args_given: req.args.is_some(),
        ending,
        loader_error,
        port: None,
        missing,
        stderr,
        ok: false,
        verdict: String::new(),
    };
    (p.ok, p.verdict) = verdict(&p);
    p
}

/// Pass or fail, in words.
fn verdict(p: &Proof) -> (bool, String) {
    let cmd = shown(p);
    // Optional configuration (a conffile) is reported, but its lack alone fails nothing.
    let needed = p.missing.iter().filter(|m| !m.optional).count();
    let lacks = if needed == 0 { String::new() } else { format!(" after looking for {needed} missing file(s)") };
    match &p.ending {
        Ending::NotStarted { reason } => (false, format!("failed: {cmd} did not start: {reason}")),
        Ending::Signal { signal } => (false, format!("failed: {cmd} crashed: killed by {signal}{lacks}")),
        Ending::Exited { code } if p.loader_error.is_some() => (
            false,
            format!(
                "failed: {cmd} was stopped by the loader (exit {code}): {}",
                p.loader_error.as_deref().unwrap_or("")
            ),
        ),
        Ending::Exited { code: 0 } => (true, format!("ran: {cmd}, exit 0")),
        Ending::Exited { code } if needed > 0 => (false, format!("failed: {cmd} exited {code}{lacks}")),
        Ending::Exited { code } if p.args_given => (false, format!("failed: {cmd} exited {code}")),
        Ending::Exited { code } => (true, format!("ran: {cmd}, exit {code}, nothing missing")),
        Ending::Running { seconds } => (true, format!("ran: {cmd}, still running after {seconds} s (stopped there)")),
        Ending::NotRun { reason } => (true, format!("not proven: {reason}")),
    }
}

/// Why a program that never started did not: its file, or its interpreter (ELF or `#!`), is
/// not in the image; else what bubblewrap said.
fn not_started(root: &Path, spec: &sandbox::RunSpec, w: &watch::Watched, stderr: &str) -> (String, Vec<Missing>) {
    let program = &spec.argv[0];
    let Some(inside) = spec::locate(root, program, &spec.env) else {
        return (format!("{program} is not in the image"), Vec::new());
    };
    let host = root.join(inside.trim_start_matches('/'));
    let interp = match crate::elf::inspect(&host) {
        Ok(l) => l.interp,
        Err(_) => crate::bundle::trace::shebang(&host),
    };
    if let Some(i) = interp.filter(|i| !root.join(i.trim_start_matches('/')).exists()) {
        let lacks = missing::judge(&[crate::bundle::trace::Call {
            name: "execve".into(),
            path: i.clone(),
            how: crate::bundle::trace::Use::Exec,
            errno: Some("ENOENT".into()),
        }]);
        // The loader comes with the closure, not with a flag of its own.
        let lacks = lacks.into_iter().map(|m| Missing { flag: "staticize bundle PROGRAM".into(), ..m }).collect();
        return (format!("its interpreter {i} is not in the image"), lacks);
    }
    let why = stderr.lines().last().unwrap_or("").trim();
    let errno = w.exec_errno.as_deref().unwrap_or("no error recorded");
    (format!("{inside}: {}", if why.is_empty() { errno } else { why }), Vec::new())
}

/// The name of signal `n` as strace writes it ("SIGSEGV").
fn signal_name(n: i32) -> String {
    let known =
        [(4, "SIGILL"), (6, "SIGABRT"), (7, "SIGBUS"), (8, "SIGFPE"), (9, "SIGKILL"), (11, "SIGSEGV"), (15, "SIGTERM")];
    known.iter().find(|(k, _)| *k == n).map_or_else(|| format!("signal {n}"), |(_, name)| name.to_string())
}
