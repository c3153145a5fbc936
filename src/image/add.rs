//! `--add SRC:DEST[:MODE]`: host files and directory trees into a Rootfs. Symlinks inside a
//! tree are stored as links with their target text, never followed, so nothing outside SRC is
//! ever read. Modes come from fixed rules, never from the umask.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::image::options::AddSpec;
use crate::image::rootfs::{MODE_DATA, MODE_EXEC, Rootfs, Source, normalize};

/// What one `--add` put into the image, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    /// Regular files.
    pub files: usize,
    /// Directories.
    pub dirs: usize,
    /// Symbolic links.
    pub links: usize,
    /// Bytes of the regular files.
    pub bytes: u64,
}

/// Adds `spec` to `rootfs`. The top-level SRC is followed if it is a link (the user named it);
/// links below it are not.
pub fn add(rootfs: &mut Rootfs, spec: &AddSpec) -> Result<Added> {
    let meta = fs::metadata(&spec.src).map_err(|e| Error::io("read --add source", &spec.src, e))?;
    let mut added = Added::default();
    if meta.is_dir() {
        let dest = if spec.dest.trim_end_matches('/').is_empty() { None } else { Some(normalize(&spec.dest)?) };
        if let Some(d) = &dest {
            rootfs.add_dir(d, MODE_EXEC)?;
            added.dirs += 1;
        }
        walk(rootfs, &spec.src, dest.as_deref(), spec.mode, &mut added)?;
    } else if meta.is_file() {
        let dest = if spec.dest.ends_with('/') {
            let name = spec.src.file_name().ok_or_else(|| {
                Error::usage(
                    format!("--add {}: cannot tell the file name", spec.src.display()),
                    "give the full destination path",
                )
            })?;
            format!("{}/{}", spec.dest.trim_end_matches('/'), name.to_string_lossy())
        } else {
            spec.dest.clone()
        };
        rootfs.add_file(&dest, Source::Host(spec.src.clone()), spec.mode.unwrap_or_else(|| file_mode(&meta)))?;
        added.files += 1;
        added.bytes += meta.len();
    } else {
        return Err(not_regular(&spec.src));
    }
    Ok(added)
}

fn walk(rootfs: &mut Rootfs, dir: &Path, dest: Option<&str>, mode: Option<u32>, added: &mut Added) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| Error::io("read --add directory", dir, e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io("read --add directory", dir, e))?;
    // Sorted so the order (and any error) does not depend on the file system.
    names.sort();
    for name in names {
        let host = dir.join(&name);
        let name = name.to_str().ok_or_else(|| {
            Error::input(&host, "has a name that is not UTF-8", Some("rename it; image paths are UTF-8".into()))
        })?;
        let image = match dest {
            Some(d) => format!("{d}/{name}"),
            None => name.to_string(),
        };
        let meta = fs::symlink_metadata(&host).map_err(|e| Error::io("read --add entry", &host, e))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&host).map_err(|e| Error::io("read link", &host, e))?;
            let target = target.to_str().ok_or_else(|| {
                Error::input(&host, "is a link whose target is not UTF-8", Some("fix the link or leave it out".into()))
            })?;
            rootfs.add_symlink(&image, target)?;
            added.links += 1;
        } else if kind.is_dir() {
            rootfs.add_dir(&image, MODE_EXEC)?;
            added.dirs += 1;
            walk(rootfs, &host, Some(&image), mode, added)?;
        } else if kind.is_file() {
            rootfs.add_file(&image, Source::Host(host.clone()), mode.unwrap_or_else(|| file_mode(&meta)))?;
            added.files += 1;
            added.bytes += meta.len();
        } else {
            return Err(not_regular(&host));
        }
    }
    Ok(())
}

/// 0755 when any execute bit is set on the host, else 0644: the same on every machine.
fn file_mode(meta: &fs::Metadata) -> u32 {
    if meta.permissions().mode() & 0o111 != 0 { MODE_EXEC } else { MODE_DATA }
}

fn not_regular(p: &Path) -> Error {
    Error::input(
        p,
        "is not a regular file, directory or symbolic link (a socket, pipe or device cannot go into an image)",
        Some("leave it out of --add".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::rootfs::Entry;

    #[test]
    fn tree_keeps_links_and_fixes_modes() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("site");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("index.html"), "hi").unwrap();
        fs::write(src.join("sub/run.sh"), "#!/bin/sh").unwrap();
        fs::set_permissions(src.join("sub/run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(src.join("index.html"), fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("index.html", src.join("home.html")).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", src.join("escape")).unwrap();
        let mut r = Rootfs::new();
        let a = add(&mut r, &AddSpec { src: src.clone(), dest: "/srv/www".into(), mode: None }).unwrap();
        assert_eq!((a.files, a.links, a.dirs), (2, 2, 2));
        assert_eq!(r.get("/srv/www/escape"), Some(&Entry::Symlink { target: "/etc/shadow".into() }));
        assert_eq!(r.get("/srv/www/home.html"), Some(&Entry::Symlink { target: "index.html".into() }));
        assert!(matches!(r.get("/srv/www/index.html"), Some(Entry::File { mode: 0o644, .. })));
        assert!(matches!(r.get("/srv/www/sub/run.sh"), Some(Entry::File { mode: 0o755, .. })));
    }

    #[test]
    fn file_into_directory_and_missing_source() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("redis.conf");
        fs::write(&f, "port 6379").unwrap();
        let mut r = Rootfs::new();
        add(&mut r, &AddSpec { src: f, dest: "/etc/redis/".into(), mode: Some(0o600) }).unwrap();
        assert!(matches!(r.get("/etc/redis/redis.conf"), Some(Entry::File { mode: 0o600, .. })));
        let e = add(&mut r, &AddSpec { src: t.path().join("nope"), dest: "/x".into(), mode: None }).unwrap_err();
        assert_eq!(e.exit_code(), 4);
    }
}
