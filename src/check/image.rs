//! `check IMAGE.tar|ROOTFS_DIR`: for every executable inside an image (or an unpacked root
//! file system), whether everything it needs to start is inside too — its interpreter and its
//! library closure, resolved against the image's own files, never the host's — and whether
//! the entrypoint exists.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::closure::{self, ResolveOptions, root::Root};
use crate::elf::LinkKind;
use crate::error::{Error, Result};
use crate::image::unpack;

/// One executable found in an image.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutableCheck {
    /// Its path inside the image.
    pub path: String,
    /// static, static-pie or dynamic.
    pub linkage: LinkKind,
    /// For a dynamic one, the libraries (and interpreter) found inside the image.
    pub files_found: usize,
    /// What is missing ("libssl.so.3 (needed by /usr/bin/redis-server)").
    pub missing: Vec<String>,
    /// dlopen() libraries a note calls optional that are missing.
    pub optional_missing: Vec<String>,
    /// True when it can start.
    pub ok: bool,
}

/// The verdict on one image or root file system.
#[derive(Debug, Clone, Serialize)]
pub struct ImageCheck {
    /// The archive or directory.
    pub path: PathBuf,
    /// "image" or "rootfs".
    pub kind: &'static str,
    /// The entrypoint (and cmd) from the image config, when it is an image.
    pub command: Vec<String>,
    /// Problems with the entrypoint itself.
    pub entrypoint_missing: Option<String>,
    /// Every ELF executable found.
    pub executables: Vec<ExecutableCheck>,
    /// Problems of the archive and entries not unpacked (they do not fail the check).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// True when every executable has its closure inside.
    pub ok: bool,
}

/// True when `path` is something to look inside: a directory (a root file system or an OCI
/// layout) or a tar archive.
pub fn is_image_target(path: &Path) -> bool {
    path.is_dir() || (path.is_file() && unpack::looks_like_tar(path))
}

/// Checks one image (an archive or OCI layout, unpacked into a temporary directory) or root
/// directory.
pub fn check_target(path: &Path) -> Result<ImageCheck> {
    if path.is_dir() && !unpack::is_oci_layout(path) {
        let mut c = check_rootfs(path, &[])?;
        c.path = path.to_path_buf();
        return Ok(c);
    }
    let tmp = tempfile::Builder::new()
        .prefix("staticize-check-")
        .tempdir()
        .map_err(|e| Error::io("create a temporary directory in", std::env::temp_dir(), e))?;
    let unpacked = unpack::unpack(path, tmp.path())?;
    let mut c = check_rootfs(tmp.path(), &unpacked.library_path())?;
    c.path = path.to_path_buf();
    c.kind = "image";
    if let Some(first) = unpacked.command.first() {
        let root = Root::new(tmp.path());
        if first.starts_with('/') && root.walk(first).is_none() {
            c.entrypoint_missing = Some(format!("the entrypoint {first} is not a file in the image"));
            c.ok = false;
        }
    }
    c.command = unpacked.command;
    c.warnings = unpacked.notes;
    Ok(c)
}

/// Checks every ELF executable under `dir`, resolving against `dir` as `/`.
pub fn check_rootfs(dir: &Path, library_path: &[String]) -> Result<ImageCheck> {
    let mut found = Vec::new();
    collect(dir, dir, &mut found).map_err(|e| Error::io("read", dir, e))?;
    found.sort();
    let opts = ResolveOptions { root: dir.to_path_buf(), library_path: library_path.to_vec(), ..Default::default() };
    let mut executables = Vec::new();
    for inside in found {
        let host = dir.join(inside.trim_start_matches('/'));
        let Ok(l) = crate::elf::inspect(&host) else { continue };
        let check = match l.kind {
            LinkKind::Static | LinkKind::StaticPie => ExecutableCheck {
                path: inside,
                linkage: l.kind,
                files_found: 0,
                missing: Vec::new(),
                optional_missing: Vec::new(),
                ok: true,
            },
            LinkKind::Dynamic => {
                let c = closure::resolve_inside(&inside, &opts)?;
                ExecutableCheck {
                    path: inside,
                    linkage: l.kind,
                    files_found: c.files().count(),
                    missing: c.unresolved.iter().map(|u| u.to_string()).collect(),
                    optional_missing: c.optional_missing.iter().map(|u| u.to_string()).collect(),
                    ok: c.unresolved.is_empty(),
                }
            }
            LinkKind::SharedLibrary | LinkKind::OtherElf => continue,
        };
        executables.push(check);
    }
    let ok = !executables.is_empty() && executables.iter().all(|e| e.ok);
    Ok(ImageCheck {
        path: dir.to_path_buf(),
        kind: "rootfs",
        command: Vec::new(),
        entrypoint_missing: None,
        executables,
        warnings: Vec::new(),
        ok,
    })
}

/// Regular files with an execute bit, as paths inside the root; links are not followed.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let meta = std::fs::symlink_metadata(e.path())?;
        if meta.is_dir() {
            collect(root, &e.path(), out)?;
        } else if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            if let Ok(rel) = e.path().strip_prefix(root) {
                out.push(format!("/{}", rel.to_string_lossy()));
            }
        }
    }
    Ok(())
}
