//! Reads the strace logs of a proof run (`-ff`: one file per process) into what the program
//! did: which processes were its own (not bubblewrap's), how its first process ended, and
//! every path its processes looked for. bubblewrap's own processes — the one outside the
//! namespaces and the namespace's init — set up the root from host paths, so their calls are
//! left out: the program's process is the init's child, and its calls count from its first
//! successful execve; every process it cloned counts whole.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::bundle::trace::{Call, call, split_call};
use crate::error::{Error, Result};

/// How the program's first process ended, as strace saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// `+++ exited with N +++`.
    Exited(i32),
    /// `+++ killed by SIGSEGV (core dumped) +++`: the signal's name.
    Killed(String),
    /// No end line: still running when the run was stopped.
    Running,
}

/// What the logs show of the program.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    /// The host pid of the program's first process (for entering its namespaces).
    pub pid: Option<i32>,
    /// True when its execve succeeded (the program started).
    pub started: bool,
    /// The execve that failed, when it did not start: its errno.
    pub exec_errno: Option<String>,
    /// How its first process ended.
    pub end: End,
    /// Every call its processes made that names a path, in log order per process.
    pub calls: Vec<Call>,
}

/// One process's log, parsed.
#[derive(Debug, Default)]
struct ProcessLog {
    lines: Vec<String>,
    children: Vec<i32>,
}

/// Reads every `log.PID` file of `dir`.
pub(crate) fn read(dir: &Path) -> Result<Watched> {
    let mut logs = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read the proof run's logs", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("log.").and_then(|p| p.parse::<i32>().ok()) else { continue };
        let text = std::fs::read(entry.path()).map_err(|e| Error::io("read a proof run log", entry.path(), e))?;
        logs.insert(pid, parse_process(&String::from_utf8_lossy(&text)));
    }
    Ok(from_logs(&logs))
}

fn parse_process(text: &str) -> ProcessLog {
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let children = lines.iter().filter_map(|l| cloned_pid(l)).collect();
    ProcessLog { lines, children }
}

/// The child a clone/fork line made, in strace's pid namespace (`--pidns-translation` writes
/// "= 3 /* 23853 in strace's PID NS */" for a child inside the run's namespace).
fn cloned_pid(line: &str) -> Option<i32> {
    let (name, rest) = line.split_once('(')?;
    if !["clone", "clone3", "fork", "vfork"].contains(&name) {
        return None;
    }
    let (_, result) = split_call(rest)?;
    let result = result.trim();
    match result.split_once("/*") {
        Some((_, note)) => note.split_whitespace().next()?.parse().ok(),
        None => result.split_whitespace().next()?.parse().ok(),
    }
}

fn from_logs(logs: &BTreeMap<i32, ProcessLog>) -> Watched {
    let children: BTreeSet<i32> = logs.values().flat_map(|l| l.children.iter().copied()).collect();
    // The root is bubblewrap outside the namespaces; its child is the namespace's init, whose
    // child runs the program.
    let program = logs
        .keys()
        .find(|p| !children.contains(p))
        .and_then(|root| logs[root].children.first())
        .and_then(|init| logs.get(init))
        .and_then(|init| init.children.first().copied());
    let mut w = Watched { pid: program, started: false, exec_errno: None, end: End::Running, calls: Vec::new() };
    let Some(first) = program.and_then(|p| logs.get(&p)) else { return w };
    let mut lines = first.lines.iter().map(String::as_str);
    // bubblewrap's last calls before it runs the program belong to it, not the program.
    for line in lines.by_ref() {
        if let Some(c) = call(line).filter(|c| c.name.starts_with("exec")) {
            if c.errno.is_none() {
                w.started = true;
                w.calls.push(c);
                break;
            }
            w.exec_errno = c.errno;
        }
    }
    if !w.started {
        return w;
    }
    w.calls.extend(lines.clone().filter_map(call));
    w.end = lines.filter_map(end_line).next_back().unwrap_or(End::Running);
    let mut todo = first.children.clone();
    let mut seen = BTreeSet::new();
    while let Some(pid) = todo.pop() {
        let Some(log) = logs.get(&pid).filter(|_| seen.insert(pid)) else { continue };
        w.calls.extend(log.lines.iter().filter_map(|l| call(l)));
        todo.extend(&log.children);
    }
    w
}

/// `+++ exited with 3 +++` or `+++ killed by SIGSEGV (core dumped) +++`.
fn end_line(line: &str) -> Option<End> {
    let inner = line.strip_prefix("+++ ")?.strip_suffix(" +++")?;
    if let Some(code) = inner.strip_prefix("exited with ") {
        return code.trim().parse().ok().map(End::Exited);
    }
    let sig = inner.strip_prefix("killed by ")?.split_whitespace().next()?;
    Some(End::Killed(sig.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(parts: &[(i32, &str)]) -> BTreeMap<i32, ProcessLog> {
        parts.iter().map(|(p, t)| (*p, parse_process(t))).collect()
    }

    /// The shape bubblewrap 0.8 under strace 6.1 (-ff -q -y --pidns-translation) writes.
    #[test]
    fn the_programs_processes_are_told_from_bubblewraps() {
        let l = logs(&[
            (
                10,
                "execve(\"/usr/bin/bwrap\", [\"bwrap\"], 0x1 /* 3 vars */) = 0\nopenat(AT_FDCWD</h>, \"/etc/ld.so.cache\", O_RDONLY) = 3</etc/ld.so.cache>\nclone(child_stack=NULL, flags=CLONE_NEWPID|SIGCHLD) = 11\n+++ exited with 0 +++",
            ),
            (
                11,
                "newfstatat(AT_FDCWD</>, \"/newroot/bin\", 0x7f, 0) = -1 ENOENT (No such file or directory)\nclone(child_stack=NULL, flags=SIGCHLD, child_tidptr=0x7f) = 2 /* 12 in strace's PID NS */\n+++ exited with 0 +++",
            ),
            (
                12,
                "openat(AT_FDCWD</>, \"/oldroot/x\", O_RDONLY) = -1 ENOENT (No such file or directory)\nexecve(\"/bin/f\", [\"/bin/f\"], 0x1 /* 2 vars */) = 0\naccess(\"/etc/ld.so.preload\", R_OK) = -1 ENOENT (No such file or directory)\nclone(child_stack=NULL, flags=SIGCHLD, child_tidptr=0x7f) = 3 /* 13 in strace's PID NS */\n+++ killed by SIGSEGV (core dumped) +++",
            ),
            (13, "access(\"/child-looks\", F_OK) = -1 ENOENT (No such file or directory)\n+++ exited with 0 +++"),
        ]);
        let w = from_logs(&l);
        assert_eq!(w.pid, Some(12));
        assert!(w.started);
        assert_eq!(w.end, End::Killed("SIGSEGV".into()));
        let paths: Vec<&str> = w.calls.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/bin/f", "/etc/ld.so.preload", "/child-looks"]);
        assert_eq!(w.calls[1].errno.as_deref(), Some("ENOENT"));
    }

    #[test]
    fn a_failed_execve_is_a_program_that_never_started() {
        let l = logs(&[
            (10, "clone(child_stack=NULL, flags=CLONE_NEWPID|SIGCHLD) = 11"),
            (11, "clone(child_stack=NULL, flags=SIGCHLD) = 2 /* 12 in strace's PID NS */"),
            (
                12,
                "execve(\"/bin/h\", [\"/bin/h\"], 0x1 /* 2 vars */) = -1 ENOENT (No such file or directory)\n+++ exited with 1 +++",
            ),
        ]);
        let w = from_logs(&l);
        assert!(!w.started);
        assert_eq!(w.exec_errno.as_deref(), Some("ENOENT"));
    }
}
