//! Where linked Go programs stay between runs, so that an unchanged one is not linked again.
//! `go build -o OUT` reads the build ID of an existing OUT and skips the link when it is the one
//! the build would produce; the build ID is derived from content (sources, flags, toolchain),
//! so keeping it costs no reproducibility. That only works when OUT survives the run, and when
//! one OUT is not shared by builds with other settings (they would overwrite each other and
//! relink every time): each `go build` command line — package directory, flags, tags,
//! environment, architecture — gets its own slot, `$STATICIZE_CACHE/go/KEY/NAME`.
//!
//! A slot is locked while it is used, so a second run with the same settings waits instead of
//! racing for the file. go's own work directory (GOTMPDIR) is inside the slot: go then renames
//! the linked program into place (same file system), so a killed build never leaves a partial
//! OUT whose build ID would pass for up to date. The least recently used slots beyond
//! [`SLOTS_KEPT`] are removed.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

use crate::error::{Error, Result};
use crate::process::Command;

/// Bumped when the key's recipe changes, so an old slot is never mistaken for a new one.
const KEY_VERSION: &str = "staticize-go-1";

/// How many slots (package × settings × platform) are kept; older ones are removed.
const SLOTS_KEPT: usize = 24;

/// The directory holding every slot.
pub(crate) fn dir() -> PathBuf {
    crate::output::cache_dir().join("go")
}

/// One locked slot: the directory `go build -o` writes into, held for one build.
#[derive(Debug)]
pub(crate) struct Slot {
    dir: PathBuf,
    /// The lock on `dir/lock`, released when the slot is dropped.
    _lock: File,
    /// go's work directory for this build, removed with the slot.
    tmp: tempfile::TempDir,
}

impl Slot {
    /// Opens and locks the slot of `cmd` (the `go build` command with its `-o` left out, so the
    /// key is the same whatever path the output later takes). Waits while another run holds it.
    pub(crate) fn open(cmd: &Command) -> Result<Slot> {
        let root = dir();
        let dir = root.join(key(cmd));
        fs::create_dir_all(&dir).map_err(|e| Error::io("create the Go build cache directory", &dir, e))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("open the Go build cache lock", &lock_path, e))?;
        rustix::fs::flock(&lock, FlockOperation::LockExclusive)
            .map_err(|e| Error::io("lock the Go build cache slot", &lock_path, e.into()))?;
        // The lock file's time says when the slot was last used (eviction reads it).
        let _ = lock.set_modified(std::time::SystemTime::now());
        let tmp = tempfile::Builder::new()
            .prefix("tmp-")
            .tempdir_in(&dir)
            .map_err(|e| Error::io("create go's work directory in", &dir, e))?;
        evict(&root, &dir);
        Ok(Slot { dir, _lock: lock, tmp })
    }

    /// Where `go build -o` writes the program (one name for all: the file's name is not part
    /// of its bytes, and a speculative build starts before go says what the name is).
    pub(crate) fn program(&self) -> PathBuf {
        self.dir.join("program")
    }

    /// go's work directory (GOTMPDIR), on the slot's file system.
    pub(crate) fn tmp(&self) -> &Path {
        self.tmp.path()
    }
}

/// Copies the program built in a slot to `to` (a copy, not a link: whatever later happens to
/// `to` must not change the file whose build ID go trusts).
pub(crate) fn deliver(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).map_err(|e| Error::io("copy the built program from the Go build cache to", to, e))?;
    Ok(())
}

/// The slot's name: a digest of the command line, its environment and its directory (made
/// absolute: "." means another package from another directory).
fn key(cmd: &Command) -> String {
    let here = cmd.directory().and_then(|d| fs::canonicalize(d).ok());
    let text = format!("{KEY_VERSION}\n{here:?}\n{cmd:?}");
    crate::digest::sha256_hex(text.as_bytes())[..32].to_string()
}

/// Removes the least recently used slots beyond [`SLOTS_KEPT`], never `keep` and never one
/// another run holds locked. Failures only leave a slot behind.
fn evict(root: &Path, keep: &Path) {
    let Ok(read) = fs::read_dir(root) else { return };
    let mut slots: Vec<(std::time::SystemTime, PathBuf)> = read
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != keep)
        .filter_map(|p| Some((fs::metadata(p.join("lock")).ok()?.modified().ok()?, p)))
        .collect();
    if slots.len() < SLOTS_KEPT {
        return;
    }
    slots.sort();
    let excess = slots.len() + 1 - SLOTS_KEPT;
    for (_, slot) in slots.into_iter().take(excess) {
        let Ok(lock) = File::options().write(true).open(slot.join("lock")) else { continue };
        if rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = fs::remove_dir_all(&slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_settings_and_directory() {
        let a = Command::new("go").arg("build").arg("-tags").arg("netgo").dir("/");
        let b = Command::new("go").arg("build").arg("-tags").arg("netgo,timetzdata").dir("/");
        let c = Command::new("go").arg("build").arg("-tags").arg("netgo").dir("/tmp");
        let d = Command::new("go").arg("build").arg("-tags").arg("netgo").dir("/").env("GOARCH", "arm64");
        assert_eq!(key(&a), key(&a.clone()));
        let keys = [key(&a), key(&b), key(&c), key(&d)];
        for (i, k) in keys.iter().enumerate() {
            assert!(keys[i + 1..].iter().all(|o| o != k), "{keys:?}");
        }
    }
}
