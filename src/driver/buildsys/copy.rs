//! A private copy of a project's source tree, for builds that must run inside their source
//! tree (a plain Makefile, a hand-written `./configure` that reads `auto/…` from the current
//! directory): the copy lives in `DIR/.staticize-build/tree`, so the user's tree stays as it
//! was, and it is brought up to date rather than made again, so the next run is incremental.
//!
//! Hand-written because the rule is specific: a file is copied when the copy lacks it or the
//! source's is newer, with the source's mtime kept, so make sees exactly the user's edits as
//! changes and what the build wrote in the copy (objects, a regenerated Makefile) stays.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Synced {
    /// Files (and links) copied because the copy lacked them or the source's were newer.
    pub copied: usize,
    /// Files already up to date in the copy.
    pub kept: usize,
}

/// Brings `dst` up to date with `src`, leaving out `src`'s entries named in `skip` (at the top
/// level only: the state directory holding `dst` itself).
pub(crate) fn sync(src: &Path, dst: &Path, skip: &[&str]) -> Result<Synced> {
    let mut done = Synced::default();
    sync_dir(src, dst, skip, &mut done)?;
    Ok(done)
}

fn sync_dir(src: &Path, dst: &Path, skip: &[&str], done: &mut Synced) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| Error::io("create the copy of the source tree at", dst, e))?;
    let entries = std::fs::read_dir(src).map_err(|e| Error::io("read the source directory", src, e))?;
    let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    for from in names {
        let Some(name) = from.file_name() else { continue };
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let to = dst.join(name);
        let meta = from.symlink_metadata().map_err(|e| Error::io("read", &from, e))?;
        if meta.is_dir() {
            sync_dir(&from, &to, &[], done)?;
        } else if meta.file_type().is_symlink() {
            sync_link(&from, &to, done)?;
        } else if meta.is_file() {
            sync_file(&from, &to, &meta, done)?;
        }
    }
    Ok(())
}

fn sync_file(from: &Path, to: &Path, meta: &std::fs::Metadata, done: &mut Synced) -> Result<()> {
    let newer = match to.symlink_metadata() {
        Ok(t) if t.is_file() => (meta.mtime(), meta.mtime_nsec()) > (t.mtime(), t.mtime_nsec()),
        Ok(_) => {
            remove(to)?;
            true
        }
        Err(_) => true,
    };
    if !newer {
        done.kept += 1;
        return Ok(());
    }
    // Copied beside and renamed: a build reading the copy never sees half a file.
    let tmp = to.with_file_name(format!(".{}.staticize-copy", to.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::copy(from, &tmp).map_err(|e| Error::io("copy into the private tree", from, e))?;
    let mtime = meta.modified().map_err(|e| Error::io("read the mtime of", from, e))?;
    let f = std::fs::File::options().write(true).open(&tmp).map_err(|e| Error::io("open", &tmp, e))?;
    f.set_modified(mtime).map_err(|e| Error::io("set the mtime of", &tmp, e))?;
    std::fs::rename(&tmp, to).map_err(|e| Error::io("rename into place", to, e))?;
    done.copied += 1;
    Ok(())
}

fn sync_link(from: &Path, to: &Path, done: &mut Synced) -> Result<()> {
    let target = std::fs::read_link(from).map_err(|e| Error::io("read the link", from, e))?;
    if std::fs::read_link(to).is_ok_and(|t| t == target) {
        done.kept += 1;
        return Ok(());
    }
    if to.symlink_metadata().is_ok() {
        remove(to)?;
    }
    std::os::unix::fs::symlink(&target, to).map_err(|e| Error::io("create the link", to, e))?;
    done.copied += 1;
    Ok(())
}

fn remove(p: &Path) -> Result<()> {
    let meta = p.symlink_metadata().map_err(|e| Error::io("read", p, e))?;
    let r = if meta.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
    r.map_err(|e| Error::io("replace", p, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_takes_new_and_edited_files_and_keeps_what_the_build_wrote() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("src/.state/tree"));
        std::fs::create_dir_all(src.join("auto")).unwrap();
        std::fs::write(src.join("auto/options"), "a").unwrap();
        std::fs::write(src.join("Makefile"), "all:\n").unwrap();
        std::os::unix::fs::symlink("Makefile", src.join("GNUmakefile")).unwrap();
        let first = sync(&src, &dst, &[".state"]).unwrap();
        assert_eq!(first, Synced { copied: 3, kept: 0 });
        assert!(!dst.join(".state").exists(), "the state directory was copied into itself");
        let src_time = std::fs::metadata(src.join("Makefile")).unwrap().modified().unwrap();
        assert_eq!(std::fs::metadata(dst.join("Makefile")).unwrap().modified().unwrap(), src_time);
        // The build writes in the copy; the user edits a source file.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dst.join("Makefile"), "generated\n").unwrap();
        std::fs::write(dst.join("prog.o"), "obj").unwrap();
        std::fs::write(src.join("auto/options"), "b").unwrap();
        let again = sync(&src, &dst, &[".state"]).unwrap();
        assert_eq!(again, Synced { copied: 1, kept: 2 });
        assert_eq!(std::fs::read_to_string(dst.join("auto/options")).unwrap(), "b");
        assert_eq!(std::fs::read_to_string(dst.join("Makefile")).unwrap(), "generated\n");
        assert!(dst.join("prog.o").is_file());
    }
}
