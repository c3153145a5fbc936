//! Writing outputs without ever leaving a half-written file: write beside the destination,
//! then rename over it. An existing output survives any failure before the rename. Also where
//! staticize keeps what outlives a run (its cache directory).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::error::{Error, Result};

/// staticize's cache: $STATICIZE_CACHE, else $XDG_CACHE_HOME/staticize, else ~/.cache/staticize.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("STATICIZE_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("staticize");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/staticize")
}

/// Sets `mode` on a finished temporary file and renames it to `dest`.
pub fn persist(tmp: tempfile::NamedTempFile, dest: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set permissions on", tmp.path(), e))?;
    if dest.is_dir() {
        return Err(Error::input(
            dest,
            "is a directory; the output needs a file name",
            Some("pass a file path with -o".into()),
        ));
    }
    tmp.persist(dest).map_err(|e| Error::io("rename into place", dest, e.error))?;
    Ok(())
}

/// Writes `bytes` to `dest` atomically (a temp file beside it, then a rename) with `mode`.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut tmp = temp_beside(dest)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::io("write", dest, e))?;
    persist(tmp, dest, mode)
}

/// Copies `src` to `dest` atomically with `mode`.
pub fn copy_atomic(src: &Path, dest: &Path, mode: u32) -> Result<u64> {
    let mut tmp = temp_beside(dest)?;
    let mut input = fs::File::open(src).map_err(|e| Error::io("read", src, e))?;
    let n = std::io::copy(&mut input, tmp.as_file_mut()).map_err(|e| Error::io("write", dest, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io("write", dest, e))?;
    persist(tmp, dest, mode)?;
    Ok(n)
}

/// A temporary file in the destination's directory (so the final rename is atomic).
pub fn temp_beside(dest: &Path) -> Result<tempfile::NamedTempFile> {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    temp_in(parent_dir(dest), &name)
}

/// A temporary file `.STEM.PID.XXXXXX.tmp` in `dir`. The process id in the name lets a later
/// run remove what a killed run left behind (see [`remove_stale`]), which it does first.
pub fn temp_in(dir: &Path, stem: &str) -> Result<tempfile::NamedTempFile> {
    let started = *PROCESS_START.get_or_init(SystemTime::now);
    remove_stale(dir, stem, started);
    tempfile::Builder::new()
        .prefix(&format!(".{stem}.{}.", std::process::id()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a file in", dir, e))
}

/// A temporary directory `.STEM.PID.XXXXXX.tmp` in `dir` (an OCI layout built before it is
/// renamed into place); stale ones from killed runs are removed first, as for files.
pub fn temp_dir_in(dir: &Path, stem: &str) -> Result<tempfile::TempDir> {
    let started = *PROCESS_START.get_or_init(SystemTime::now);
    remove_stale(dir, stem, started);
    tempfile::Builder::new()
        .prefix(&format!(".{stem}.{}.", std::process::id()))
        .suffix(".tmp")
        .tempdir_in(dir)
        .map_err(|e| Error::io("create a directory in", dir, e))
}

/// When this process first made a temporary file: stale ones are older than that.
static PROCESS_START: OnceLock<SystemTime> = OnceLock::new();

/// Removes `.STEM.PID.XXXXXX.tmp` files (and directories) in `dir` left by staticize runs that were killed: only
/// our own name pattern, only when process PID no longer exists, and only when the file is older
/// than `started` (a process in another PID namespace sharing the directory may reuse the number;
/// its live file is newer). Failures are ignored: this is tidying, never a reason to stop.
pub fn remove_stale(dir: &Path, stem: &str, started: SystemTime) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let own = format!(".{stem}.");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = stale_pid(name, &own) else { continue };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(entry.path()) else { continue };
        if !meta.modified().is_ok_and(|m| m < started) {
            continue;
        }
        // symlink_metadata: a link is never followed, only real files and directories go.
        if meta.is_file() {
            let _ = fs::remove_file(entry.path());
        } else if meta.is_dir() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The PID in `.STEM.PID.XXXXXX.tmp` when `name` has exactly that shape (`own` = ".STEM.").
fn stale_pid(name: &str, own: &str) -> Option<u32> {
    let rest = name.strip_prefix(own)?.strip_suffix(".tmp")?;
    let (pid, random) = rest.split_once('.')?;
    let random_ok = random.len() == 6 && random.chars().all(|c| c.is_ascii_alphanumeric());
    let pid_ok = !pid.is_empty() && pid.len() <= 10 && pid.chars().all(|c| c.is_ascii_digit());
    if random_ok && pid_ok { pid.parse().ok() } else { None }
}

/// Makes a file-size limit (`ulimit -f`) fail writes with EFBIG instead of killing staticize
/// with SIGXFSZ, so temporary files are removed and the error names the output.
pub fn fail_writes_past_size_limit() {
    // SAFETY: sets one signal's disposition to "ignore" at start-up, before any thread exists;
    // no handler runs, so nothing async-signal-unsafe can happen.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Fails early, before any work, when the directory of `dest` cannot take a new file.
pub fn ensure_writable(dest: &Path) -> Result<()> {
    if dest.is_dir() {
        return Err(Error::input(
            dest,
            "is a directory; the output needs a file name",
            Some("pass a file path with -o".into()),
        ));
    }
    temp_beside(dest).map(drop)
}

/// The directory a path lives in ("." for a bare file name).
pub fn parent_dir(p: &Path) -> &Path {
    p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn failed_write_leaves_existing_output() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        fs::write(&dest, b"old").unwrap();
        let err = copy_atomic(&dir.path().join("missing"), &dest, 0o755);
        assert!(err.is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A PID that cannot exist (above pid_max's ceiling of 2^22).
        let dead = 4_999_999;
        let me = std::process::id();
        let files = [
            (format!(".out.tar.{dead}.aB3xYz.tmp"), true),
            (format!(".out.tar.{me}.aB3xYz.tmp"), false), // our own, live
            (".out.tar.1.aB3xYz.tmp".to_string(), false), // pid 1 is alive
            (format!(".other.tar.{dead}.aB3xYz.tmp"), false), // another output's
            (format!(".out.tar.{dead}.aB3x.tmp"), false), // not our shape
            (format!(".out.tar.{dead}.aB3xYz"), false),
            (format!("out.tar.{dead}.aB3xYz.tmp"), false),
            ("out.tar".to_string(), false),
        ];
        for (f, _) in &files {
            fs::write(d.join(f), b"x").unwrap();
        }
        remove_stale(d, "out.tar", SystemTime::now() + Duration::from_secs(60));
        for (f, removed) in &files {
            assert_eq!(!d.join(f).exists(), *removed, "{f}");
        }
        // A stale directory goes with its contents; a stale-named symlink is left alone.
        fs::create_dir_all(d.join(format!(".out.tar.{dead}.dirdir.tmp/blobs"))).unwrap();
        std::os::unix::fs::symlink("/", d.join(format!(".out.tar.{dead}.linkln.tmp"))).unwrap();
        remove_stale(d, "out.tar", SystemTime::now() + Duration::from_secs(60));
        assert!(!d.join(format!(".out.tar.{dead}.dirdir.tmp")).exists());
        assert!(d.join(format!(".out.tar.{dead}.linkln.tmp")).symlink_metadata().is_ok());
        // Newer than the process: kept even though the pid is dead (another PID namespace).
        fs::write(d.join(format!(".out.tar.{dead}.zzzzzz.tmp")), b"x").unwrap();
        remove_stale(d, "out.tar", SystemTime::now() - Duration::from_secs(60));
        assert!(d.join(format!(".out.tar.{dead}.zzzzzz.tmp")).exists());
    }

    #[test]
    fn temporaries_carry_the_process_id() {
        let dir = tempfile::tempdir().unwrap();
        let t = temp_beside(&dir.path().join("img.tar")).unwrap();
        let name = t.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(stale_pid(&name, ".img.tar."), Some(std::process::id()), "{name}");
    }

    #[test]
    fn copy_sets_mode_regardless_of_umask() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"x").unwrap();
        let dest = dir.path().join("dest");
        copy_atomic(&src, &dest, 0o755).unwrap();
        assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o755);
    }
}
