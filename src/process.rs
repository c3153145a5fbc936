//! The one way staticize runs external commands: through duct, with stdout and stderr
//! captured, a readable summary of the command line, and a clear error when it fails.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// How many trailing lines of a failed command's stderr an error shows.
const STDERR_TAIL_LINES: usize = 40;

/// An external command to run, built up before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    dir: Option<PathBuf>,
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Command {
    /// A command running `program` with no arguments yet.
    pub(crate) fn new(program: impl Into<OsString>) -> Self {
        Command { program: program.into(), args: Vec::new(), env: Vec::new(), env_remove: Vec::new(), dir: None }
    }

    /// A command from a non-empty argv vector (program first).
    pub(crate) fn from_argv<S: Into<OsString> + Clone>(argv: &[S]) -> Self {
        let mut it = argv.iter().cloned().map(Into::into);
        let program = it.next().expect("argv must not be empty");
        let mut c = Command::new(program);
        c.args.extend(it);
        c
    }

    /// Appends one argument.
    pub(crate) fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Appends several arguments.
    pub(crate) fn args<I, S>(mut self, a: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the command; setting it again replaces the value
    /// (duct would otherwise let the first setting win).
    pub(crate) fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Self {
        let k = k.into();
        self.env.retain(|(old, _)| *old != k);
        self.env.push((k, v.into()));
        self
    }

    /// Removes an environment variable for the command.
    pub(crate) fn env_remove(mut self, k: impl Into<OsString>) -> Self {
        self.env_remove.push(k.into());
        self
    }

    /// Runs the command in `dir`.
    pub(crate) fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The directory the command runs in, when one was set.
    pub(crate) fn directory(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The command line as a user would type it, for messages.
    pub(crate) fn summary(&self) -> String {
        std::iter::once(&self.program)
            .chain(self.args.iter())
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expression(&self) -> duct::Expression {
        let mut e = duct::cmd(&self.program, &self.args);
        for k in &self.env_remove {
            e = e.env_remove(k);
        }
        for (k, v) in &self.env {
            e = e.env(k, v);
        }
        if let Some(d) = &self.dir {
            e = e.dir(d);
        }
        e
    }

    /// Runs the command to completion, capturing its output; a non-zero exit is an error
    /// naming `step`, the command, its status and the tail of its stderr.
    pub(crate) fn run(&self, step: &str) -> Result<Output> {
        let out = self
            .expression()
            .stdout_capture()
            .stderr_capture()
            .stdin_null()
            .unchecked()
            .run()
            .map_err(|e| self.start_error(step, e))?;
        self.finished(step, &out)
    }

    /// Runs the command with the caller's stdin and stderr, capturing only stdout: for a
    /// drop-in wrapper that must filter what the tool prints there. Returns the exit code (a
    /// signal is 128 + its number, as a shell reports it) and stdout.
    pub(crate) fn run_capturing_stdout(&self, step: &str) -> Result<(i32, Vec<u8>)> {
        use std::os::unix::process::ExitStatusExt;
        let out = self.expression().stdout_capture().unchecked().run().map_err(|e| self.start_error(step, e))?;
        let code = out.status.code().or_else(|| out.status.signal().map(|s| 128 + s)).unwrap_or(1);
        Ok((code, out.stdout))
    }

    /// Starts the command in the background, in a process group of its own, so that
    /// [`Running::abandon`] can stop it together with every process it started. The group is
    /// outside the terminal's foreground group, so Ctrl-C would not reach it: staticize stops it
    /// when it is interrupted itself (see [`groups`]).
    pub(crate) fn start(&self, step: &str) -> Result<Running> {
        self.start_expression(step, self.expression().stdout_capture().stderr_capture())
    }

    /// Starts the command like [`Command::start`], its stdout and stderr written to files
    /// instead of memory: a program run to prove an image may print without bound.
    pub(crate) fn start_logged(&self, step: &str, stdout: &Path, stderr: &Path) -> Result<Running> {
        self.start_expression(step, self.expression().stdout_path(stdout).stderr_path(stderr))
    }

    fn start_expression(&self, step: &str, expression: duct::Expression) -> Result<Running> {
        use std::os::unix::process::CommandExt;
        let handle = expression
            .stdin_null()
            .unchecked()
            .before_spawn(|c| {
                c.process_group(0);
                Ok(())
            })
            .start()
            .map_err(|e| self.start_error(step, e))?;
        let group = handle.pids().first().map_or(0, |&pid| pid as libc::pid_t);
        groups::register(group);
        Ok(Running { command: self.clone(), handle: Some(handle), group })
    }

    /// The result of a finished run: its output, or the error for a non-zero exit.
    fn finished(&self, step: &str, out: &std::process::Output) -> Result<Output> {
        let output = Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if out.status.success() {
            Ok(output)
        } else {
            Err(Error::CommandFailed {
                step: step.to_string(),
                command: self.summary(),
                status: describe_status(&out.status),
                stderr: tail(&output.stderr, STDERR_TAIL_LINES),
            })
        }
    }

    /// Runs the command with stderr merged into stdout, for builds whose tools report errors on
    /// either stream (ninja and make print failing commands on stdout): on failure the error
    /// shows the tail of both, in the order they were written.
    pub(crate) fn run_merged(&self, step: &str) -> Result<Output> {
        let out = self
            .expression()
            .stderr_to_stdout()
            .stdout_capture()
            .stdin_null()
            .unchecked()
            .run()
            .map_err(|e| self.start_error(step, e))?;
        let merged = std::process::Output { status: out.status, stdout: Vec::new(), stderr: out.stdout };
        self.finished(step, &merged)
    }

    /// Replaces this process with the command, for drop-in wrappers whose caller must see the
    /// tool's own output and exit status unchanged. Returns only when it could not start.
    pub(crate) fn exec(&self, step: &str) -> Error {
        use std::os::unix::process::CommandExt;
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.args);
        for k in &self.env_remove {
            c.env_remove(k);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(d) = &self.dir {
            c.current_dir(d);
        }
        let e = c.exec();
        self.start_error(step, e)
    }

    /// Runs the command and returns whether it succeeded, for probes; never errors.
    pub(crate) fn probe(&self) -> Option<Output> {
        let out = self.expression().stdout_capture().stderr_capture().stdin_null().unchecked().run().ok()?;
        self.finished("probe", &out).ok()
    }

    fn start_error(&self, step: &str, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::ToolMissing {
                tool: self.program.to_string_lossy().into_owned(),
                hint: format!("it is needed to {step}; install it or put it on PATH"),
            }
        } else {
            Error::CommandFailed {
                step: step.to_string(),
                command: self.summary(),
                status: format!("could not start: {e}"),
                stderr: String::new(),
            }
        }
    }
}

/// A command started with [`Command::start`]. Dropping it without [`Running::wait`] abandons it.
#[derive(Debug)]
pub(crate) struct Running {
    command: Command,
    handle: Option<duct::Handle>,
    /// Its process group: the child's pid, made a group leader at spawn.
    group: libc::pid_t,
}

impl Running {
    /// Waits for the command to end: its output, or the same error [`Command::run`] gives.
    pub(crate) fn wait(mut self, step: &str) -> Result<Output> {
        let handle = self.handle.take().expect("a running command has a handle until it is waited for");
        let out = handle.into_output();
        groups::unregister(self.group);
        self.command.finished(step, &out.map_err(|e| self.command.start_error(step, e))?)
    }

    /// Waits at most `limit` for the command to end: its exit status, or None while it still
    /// runs (then it keeps running until [`Running::abandon`] or drop).
    pub(crate) fn wait_up_to(&self, limit: std::time::Duration) -> Result<Option<std::process::ExitStatus>> {
        let start = std::time::Instant::now();
        let handle = self.handle.as_ref().expect("a running command has a handle until it is waited for");
        loop {
            let step = "wait for a started command";
            match handle.try_wait().map_err(|e| self.command.start_error(step, e))? {
                Some(out) => return Ok(Some(out.status)),
                None if start.elapsed() >= limit => return Ok(None),
                // Polling: duct has no timed wait, and a proof run's limit is seconds.
                None => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    }

    /// Stops the command and everything it started (its process group) and reaps it.
    pub(crate) fn abandon(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // SAFETY: kill(2) has no memory effects; a group that already exited gives ESRCH.
            unsafe { libc::kill(-self.group, libc::SIGKILL) };
            let _ = handle.wait();
            groups::unregister(self.group);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Process groups of background commands, killed when staticize gets SIGINT, SIGTERM or SIGHUP
/// and then ended by that signal as it would have been: a user's Ctrl-C stops the whole run.
mod groups {
    use std::sync::Once;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// More background commands than one per platform of a build never run at once.
    const SLOTS: usize = 16;
    static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
    static HANDLERS: Once = Once::new();

    /// Remembers `group` (0: none) and installs the signal handlers on first use.
    pub(super) fn register(group: libc::pid_t) {
        HANDLERS.call_once(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                // SAFETY: the handler only makes async-signal-safe calls (kill, signal, raise)
                // and atomic loads. A signal that was ignored when staticize started (nohup,
                // background jobs) stays ignored.
                unsafe {
                    if libc::signal(sig, on_signal as *const () as libc::sighandler_t) == libc::SIG_IGN {
                        libc::signal(sig, libc::SIG_IGN);
                    }
                }
            }
        });
        if group > 0 {
            // A full table only means the group is not stopped by a signal; Drop still stops it.
            let _ = GROUPS.iter().find(|g| g.compare_exchange(0, group, Ordering::SeqCst, Ordering::SeqCst).is_ok());
        }
    }

    /// Forgets `group`: it has been waited for, and its id may be reused.
    pub(super) fn unregister(group: libc::pid_t) {
        for g in &GROUPS {
            let _ = g.compare_exchange(group, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    extern "C" fn on_signal(sig: libc::c_int) {
        for g in &GROUPS {
            let group = g.load(Ordering::SeqCst);
            if group > 0 {
                // SAFETY: async-signal-safe.
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
        }
        // SAFETY: async-signal-safe; staticize then ends by `sig`, as without a handler.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

fn describe_status(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".to_string(),
    }
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// Quotes a word for display in a POSIX shell command line.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_set_twice_has_the_later_value() {
        let out = Command::new("sh").args(["-c", "echo $X"]).env("X", "first").env("X", "second").run("echo").unwrap();
        assert_eq!(out.stdout.trim(), "second");
    }

    #[test]
    fn failed_command_reports_status_and_stderr() {
        let err = Command::new("sh").args(["-c", "echo boom >&2; exit 3"]).run("test step").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("test step failed"), "{msg}");
        assert!(msg.contains("exited with status 3"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn started_commands_report_like_run_and_abandoning_stops_the_whole_group() {
        let ok = Command::new("sh").args(["-c", "echo hi"]).start("bg").unwrap().wait("bg").unwrap();
        assert_eq!(ok.stdout, "hi\n");
        let err = Command::new("sh").args(["-c", "echo bad >&2; exit 4"]).start("bg").unwrap().wait("bg").unwrap_err();
        assert!(err.to_string().contains("exited with status 4") && err.to_string().contains("bad"), "{err}");
        // A grandchild that would outlive its parent: abandoning kills it too.
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("late");
        let script = format!("(sleep 1; touch {}) & wait", mark.display());
        let started = std::time::Instant::now();
        Command::new("sh").args(["-c", &script]).start("bg").unwrap().abandon();
        assert!(started.elapsed() < std::time::Duration::from_millis(900), "abandon waited for the command");
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(!mark.exists(), "the grandchild survived abandon");
    }

    #[test]
    fn missing_program_is_tool_missing() {
        let err = Command::new("definitely-not-a-tool-xyz").run("probe").unwrap_err();
        assert!(matches!(err, Error::ToolMissing { .. }), "{err:?}");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("-Wl,--gc-sections"), "-Wl,--gc-sections");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
