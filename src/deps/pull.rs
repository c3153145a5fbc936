//! A deps entry from the cache registry: pulled into a temporary directory beside the cache,
//! its text files (.pc files, *-config scripts, CMake files) moved from the directory it was
//! built in to this machine's, its manifest checked against the key, then renamed into place.

use std::path::Path;

use crate::deps::cache;
use crate::error::{Error, Result};
use crate::remote_cache::{Key, Session};

/// Largest file whose paths are rewritten (text files are small; libraries are not text).
const MAX_TEXT: u64 = 16 << 20;

/// Pulls the entry `key` into `prefix` (which does not exist); false: the registry has no
/// usable entry (said by the session when it is refused).
pub(crate) fn pull(key: &Key, prefix: &Path, session: &mut Session) -> Result<bool> {
    let tmp = crate::output::temp_dir_in(&cache::root(), "pull")?;
    let content = tmp.path().join("entry");
    std::fs::create_dir(&content).map_err(|e| Error::io("create", &content, e))?;
    let Some(origin) = session.fetch(key, &content) else { return Ok(false) };
    match cache::read_manifest(&content) {
        Some(m) if m.key == key.text => {}
        _ => {
            session.refuse(key, "holds no manifest.json for this key");
            return Ok(false);
        }
    }
    relocate(&content, &origin, &prefix.display().to_string())?;
    let parent = crate::output::parent_dir(prefix);
    std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    // The one step that makes the entry exist, as after a build.
    std::fs::rename(&content, prefix).map_err(|e| Error::io("move the pulled library into", prefix, e))?;
    Ok(true)
}

/// Replaces `from` by `to` in every text file under `dir` (a file with a NUL byte is not text).
fn relocate(dir: &Path, from: &str, to: &str) -> Result<()> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::io("read", dir, e))?;
    for e in read.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() {
            relocate(&path, from, to)?;
            continue;
        }
        if !meta.is_file() || meta.len() > MAX_TEXT || from == to {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let Ok(text) = String::from_utf8(bytes) else { continue };
        if text.contains('\0') || !text.contains(from) {
            continue;
        }
        std::fs::write(&path, text.replace(from, to)).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_files_move_to_the_new_prefix_and_binaries_stay() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("lib/pkgconfig")).unwrap();
        std::fs::write(d.path().join("lib/pkgconfig/z.pc"), "prefix=/a/deps/z/1\nlibdir=${prefix}/lib\n").unwrap();
        std::fs::write(d.path().join("lib/libz.a"), b"!<arch>\n\0/a/deps/z/1").unwrap();
        relocate(d.path(), "/a/deps/z/1", "/b/deps/z/1").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("lib/pkgconfig/z.pc")).unwrap(),
            "prefix=/b/deps/z/1\nlibdir=${prefix}/lib\n"
        );
        assert_eq!(std::fs::read(d.path().join("lib/libz.a")).unwrap(), b"!<arch>\n\0/a/deps/z/1");
    }
}
