//! An entry's files as one blob and back: a deterministic tar (sorted, mtime 0, uid 0, modes
//! 0755/0644) compressed with zstd, and an unpacker that accepts only relative files,
//! directories and links that stay inside, with the uncompressed size capped.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use crate::error::{Error, Result};

/// Largest uncompressed entry an unpack writes.
const MAX_UNPACKED: u64 = 2 << 30;
/// The zstd level: entries are packed once and pulled many times.
const LEVEL: i32 = 12;

/// The files under `dir` as a tar+zstd blob.
pub fn pack(dir: &Path) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    add_tree(&mut tar, dir, Path::new(""))?;
    let bytes = tar.into_inner().map_err(|e| Error::io("pack", dir, e))?;
    zstd::encode_all(bytes.as_slice(), LEVEL).map_err(|e| Error::io("compress", dir, e))
}

fn add_tree(tar: &mut tar::Builder<Vec<u8>>, root: &Path, rel: &Path) -> Result<()> {
    let here = root.join(rel);
    let mut names: Vec<_> =
        std::fs::read_dir(&here).map_err(|e| Error::io("read", &here, e))?.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let rel = rel.join(&name);
        let path = root.join(&rel);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io("read", &path, e))?;
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        let io = |e| Error::io("pack", &path, e);
        if meta.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            tar.append_data(&mut h, &rel, std::io::empty()).map_err(io)?;
            add_tree(tar, root, &rel)?;
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::io("read the link", &path, e))?;
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            tar.append_link(&mut h, &rel, &target).map_err(io)?;
        } else if meta.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 });
            h.set_size(meta.len());
            let f = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            tar.append_data(&mut h, &rel, f).map_err(io)?;
        }
    }
    Ok(())
}

/// Unpacks the tar+zstd `blob` into the empty directory `dest`; `what` names it in errors.
pub fn unpack(blob: &[u8], dest: &Path, what: &str) -> Result<()> {
    let bad = |m: String| Error::input(Path::new(what), m, Some("the cache entry is refused; it is rebuilt".into()));
    let decoder = zstd::Decoder::new(blob).map_err(|e| bad(format!("is not zstd: {e}")))?;
    let mut archive = tar::Archive::new(decoder.take(MAX_UNPACKED));
    archive.set_preserve_permissions(false);
    archive.set_overwrite(false);
    let entries = archive.entries().map_err(|e| bad(format!("is not a tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("holds an unreadable entry: {e}")))?;
        let path = entry.path().map_err(|e| bad(format!("holds a bad name: {e}")))?.into_owned();
        if !relative_inside(&path) {
            return Err(bad(format!("holds the path {} outside the entry", path.display())));
        }
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Directory => {}
            tar::EntryType::Symlink => {
                let target = entry.link_name().ok().flatten().map(|t| t.into_owned()).unwrap_or_default();
                let joined = path.parent().unwrap_or(Path::new("")).join(&target);
                if target.as_os_str().is_empty() || !relative_inside(&joined) {
                    return Err(bad(format!(
                        "holds a link {} to {} outside the entry",
                        path.display(),
                        target.display()
                    )));
                }
            }
            other => return Err(bad(format!("holds {} of type {other:?}", path.display()))),
        }
        let done =
            entry.unpack_in(dest).map_err(|e| bad(format!("could not be unpacked at {}: {e}", path.display())))?;
        if !done {
            return Err(bad(format!("holds the path {} outside the entry", path.display())));
        }
        if kind == tar::EntryType::Regular {
            let mode = if entry.header().mode().unwrap_or(0) & 0o111 != 0 { 0o755 } else { 0o644 };
            let p = dest.join(&path);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io("chmod", &p, e))?;
        }
    }
    Ok(())
}

/// True when `p` is relative and never climbs above where it starts.
fn relative_inside(p: &Path) -> bool {
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_deterministic_and_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("lib/pkgconfig")).unwrap();
        std::fs::write(src.join("lib/libz.a"), b"!<arch>\n").unwrap();
        std::fs::write(src.join("lib/pkgconfig/zlib.pc"), b"prefix=/x\n").unwrap();
        std::os::unix::fs::symlink("libz.a", src.join("lib/libz2.a")).unwrap();
        let blob = pack(&src).unwrap();
        assert_eq!(blob, pack(&src).unwrap());
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        unpack(&blob, &out, "entry").unwrap();
        assert_eq!(std::fs::read(out.join("lib/pkgconfig/zlib.pc")).unwrap(), b"prefix=/x\n");
        assert_eq!(std::fs::read_link(out.join("lib/libz2.a")).unwrap(), Path::new("libz.a"));
    }

    #[test]
    fn links_and_paths_outside_are_refused() {
        assert!(relative_inside(Path::new("a/../b")));
        assert!(!relative_inside(Path::new("a/../../b")));
        assert!(!relative_inside(Path::new("/etc/passwd")));
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::os::unix::fs::symlink("../../etc", src.join("up")).unwrap();
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        assert!(unpack(&pack(&src).unwrap(), &out, "entry").is_err());
        assert!(unpack(b"not zstd", &out, "entry").is_err());
    }
}
