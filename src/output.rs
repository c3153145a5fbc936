//! Writing outputs without ever leaving a half-written file: write beside the destination,
//! then rename over it. An existing output survives any failure before the rename.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

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
    let dir = parent_dir(dest);
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a file in", dir, e))
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
    fn copy_sets_mode_regardless_of_umask() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"x").unwrap();
        let dest = dir.path().join("dest");
        copy_atomic(&src, &dest, 0o755).unwrap();
        assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o755);
    }
}
