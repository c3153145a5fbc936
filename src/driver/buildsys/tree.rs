//! Which executables a build produced: a snapshot of the tree's executable files before the
//! build, compared with the tree after it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Executable files by path relative to the root, with (mtime in ns, size, inode).
pub(crate) type Snapshot = BTreeMap<PathBuf, (i64, i64, u64, u64)>;

/// Directories never searched: version control, and the probes CMake, Meson and autoconf
/// compile while configuring (they are not the project's programs).
const SKIP_DIRS: &[&str] = &[".git", "CMakeFiles", "meson-private", "meson-logs", "autom4te.cache"];

/// File endings of objects and libraries, which are not programs even when marked executable.
const SKIP_ENDINGS: &[&str] = &[".o", ".so", ".a", ".lo", ".la", ".obj", ".dylib"];

/// Every executable regular file under `root` but not under `skip` (symlinks are not
/// followed: `zstdcat → zstd` is the same program).
pub(crate) fn snapshot(root: &Path, skip: &[PathBuf]) -> Snapshot {
    let mut out = Snapshot::new();
    walk(root, root, skip, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, skip: &[PathBuf], out: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let Ok(meta) = e.path().symlink_metadata() else { continue };
        let name = e.file_name();
        if meta.is_dir() {
            if !SKIP_DIRS.iter().any(|s| name == *s) && !skip.contains(&e.path()) {
                walk(root, &e.path(), skip, out);
            }
        } else if meta.is_file() && meta.mode() & 0o111 != 0 {
            let text = name.to_string_lossy();
            if SKIP_ENDINGS.iter().any(|s| text.ends_with(s)) || text.contains(".so.") {
                continue;
            }
            let rel = e.path().strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| e.path());
            out.insert(rel, (meta.mtime(), meta.mtime_nsec(), meta.size(), meta.ino()));
        }
    }
}

/// The ELF files among `after` that are new or changed since `before`, plus those in
/// `remembered` (found by earlier runs) that are still there; each with whether it was rebuilt.
pub(crate) fn produced(
    root: &Path,
    before: &Snapshot,
    after: &Snapshot,
    remembered: &BTreeSet<PathBuf>,
) -> Vec<(PathBuf, bool)> {
    after
        .iter()
        .filter_map(|(rel, stamp)| {
            let rebuilt = before.get(rel) != Some(stamp);
            (rebuilt || remembered.contains(rel)).then(|| (rel.clone(), rebuilt))
        })
        .filter(|(rel, _)| is_elf(&root.join(rel)))
        .collect()
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn exe(p: &Path, bytes: &[u8]) {
        std::fs::write(p, bytes).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn new_and_changed_elves_are_found_scripts_and_objects_are_not() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("CMakeFiles")).unwrap();
        exe(&root.join("old"), b"\x7fELF old");
        exe(&root.join("kept"), b"\x7fELF kept");
        let before = snapshot(root, &[]);
        exe(&root.join("old"), b"\x7fELF old, relinked");
        exe(&root.join("new"), b"\x7fELF new");
        exe(&root.join("script"), b"#!/bin/sh\n");
        exe(&root.join("x.o"), b"\x7fELF object");
        exe(&root.join("libx.so.1"), b"\x7fELF lib");
        exe(&root.join("CMakeFiles/a.out"), b"\x7fELF probe");
        let after = snapshot(root, &[]);
        let found = produced(root, &before, &after, &BTreeSet::new());
        assert_eq!(found, [(PathBuf::from("new"), true), (PathBuf::from("old"), true)]);
        let remembered: BTreeSet<PathBuf> = [PathBuf::from("kept")].into();
        let again = produced(root, &after, &snapshot(root, &[]), &remembered);
        assert_eq!(again, [(PathBuf::from("kept"), false)]);
    }
}
