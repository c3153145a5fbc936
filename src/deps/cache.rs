//! The shared cache of built libraries: `$STATICIZE_DEPS_CACHE`, else `$STATICIZE_CACHE/deps`,
//! else `~/.cache/staticize/deps`. One directory per (recipe, source version, compiler, libc,
//! architecture, profile), each with a `manifest.json`; an entry exists only once complete
//! (built beside it and renamed), and a per-entry lock makes concurrent runs wait for each other.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The environment variable naming the deps cache directory itself.
pub(crate) const ENV_CACHE: &str = "STATICIZE_DEPS_CACHE";

/// The deps cache directory.
pub(crate) fn root() -> PathBuf {
    match std::env::var_os(ENV_CACHE).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => crate::output::cache_dir().join("deps"),
    }
}

/// What a cache entry records about the library it holds (also read for the SBOM).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// The recipe's name.
    pub name: String,
    /// The source version.
    pub version: String,
    /// The Debian source package, when the source came from Debian.
    pub debian_source: Option<String>,
    /// The licence, when known.
    pub license: Option<String>,
    /// The package URL of the source.
    pub purl: String,
    /// `-l` names, in link order.
    pub libs: Vec<String>,
    /// pkg-config names.
    pub pkgconfig: Vec<String>,
    /// The recipes it was built against.
    pub needs: Vec<String>,
    /// The compiler's name and version line.
    pub compiler: String,
    /// The C library.
    pub libc: String,
    /// The architecture ("x86_64", "aarch64").
    pub arch: String,
    /// The profile ("size", "speed").
    pub profile: String,
    /// How long the build took, in seconds.
    pub seconds: u64,
    /// The entry's key: every input, one `name=value` line each (empty in entries written
    /// before keys were kept, which are then never used).
    #[serde(default)]
    pub key: String,
}

/// A held lock on a file; released when dropped (or when the process dies).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// Takes an exclusive lock on `path` (created if missing), waiting while another run holds it.
pub(crate) fn lock(path: &Path) -> Result<Lock> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open the lock", path, e))?;
    // flock, not a lock file's existence: the kernel drops it when a killed run's process ends.
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| Error::io("lock", path, std::io::Error::from(e)))?;
    Ok(Lock { _file: file })
}

/// One cached library.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    /// Its prefix directory.
    pub dir: PathBuf,
    /// What it records.
    pub manifest: Manifest,
    /// Bytes on disk.
    pub size: u64,
}

/// Reads the manifest of the entry at `dir`, when it is a complete entry.
pub(crate) fn read_manifest(dir: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every complete entry in the cache (of `name` only, when given), sorted by path.
pub(crate) fn entries(name: Option<&str>) -> Vec<Cached> {
    let root = root();
    let mut out = Vec::new();
    let Ok(names) = std::fs::read_dir(&root) else { return out };
    for n in names.flatten() {
        let file_name = n.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || file_name == "sources" || name.is_some_and(|w| w != file_name) {
            continue;
        }
        let Ok(versions) = std::fs::read_dir(n.path()) else { continue };
        for v in versions.flatten() {
            let dir = v.path();
            if let Some(manifest) = read_manifest(&dir) {
                out.push(Cached { size: du(&dir), dir, manifest });
            }
        }
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

/// Bytes under `dir` (files only; symbolic links not followed).
pub(crate) fn du(dir: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(dir) else { return 0 };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(dir).map(|d| d.flatten().map(|e| du(&e.path())).sum()).unwrap_or(0)
}

/// Removes the entries of `name` (every entry, downloads and leftovers when `None`); returns
/// the bytes freed. Each entry is renamed away under its lock first, so a run using it either
/// finished or sees it gone.
pub(crate) fn clean(name: Option<&str>) -> Result<u64> {
    let root = root();
    let victims: Vec<PathBuf> = match name {
        Some(n) => vec![root.join(n)],
        None => std::fs::read_dir(&root).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default(),
    };
    let mut freed = 0;
    for v in victims.iter().filter(|v| v.file_name().is_some_and(|n| n != ".locks")) {
        if !v.exists() {
            continue;
        }
        freed += du(v);
        let gone =
            root.join(format!(".gone.{}.{}", std::process::id(), v.file_name().unwrap_or_default().to_string_lossy()));
        std::fs::rename(v, &gone).map_err(|e| Error::io("move away", v, e))?;
        std::fs::remove_dir_all(&gone)
            .or_else(|_| std::fs::remove_file(&gone))
            .map_err(|e| Error::io("remove", &gone, e))?;
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let first = lock(&p).unwrap();
        let p2 = p.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _second = lock(&p2).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "the second lock did not wait");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }
}
