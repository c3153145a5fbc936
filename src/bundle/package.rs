//! Package awareness for `bundle`, without running anything: the dpkg package that owns the
//! program ([`crate::pkgdb`]), what else it ships that the program likely needs (its
//! `/usr/lib/<name>`, `/usr/share/<name>`, `/etc/<name>`, helper executables), and carrying
//! those files (`--package-files`, `--package NAME`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::image::options::AddSpec;
use crate::image::rootfs::Rootfs;
use crate::pkgdb::PackageDb;

/// Directories of a package that are documentation, never needed at run time.
const DOCS: &[&str] =
    &["/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/lintian/", "/usr/share/bug/"];

/// One area of a package's files (a directory three levels deep, e.g. /usr/lib/git-core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Area {
    /// The directory.
    pub dir: String,
    /// Files (and links) below it.
    pub files: usize,
    /// Of those, executables (helpers the program may exec).
    pub executables: usize,
}

/// The package owning a program and what else it ships.
#[derive(Debug, Clone)]
pub(crate) struct Owned {
    /// The package name.
    pub package: String,
    /// Its version.
    pub version: String,
    /// Its run-time files besides the program (no docs, no directories).
    pub files: Vec<String>,
    /// Its directories outside the docs (/var/lib/nginx, /var/log/nginx: programs expect them).
    pub dirs: Vec<String>,
}

impl Owned {
    /// The package's files grouped by area, largest first.
    pub(crate) fn areas(&self) -> Vec<Area> {
        let mut by: BTreeMap<String, Area> = BTreeMap::new();
        for f in &self.files {
            let dir: String = f.split('/').take(4).collect::<Vec<_>>().join("/");
            let dir = if dir == *f { crate::closure::root::parent(f) } else { dir };
            let a = by.entry(dir.clone()).or_insert(Area { dir, files: 0, executables: 0 });
            a.files += 1;
            a.executables += usize::from(is_executable(Path::new(f)));
        }
        let mut areas: Vec<Area> = by.into_values().collect();
        areas.sort_by(|a, b| b.files.cmp(&a.files).then(a.dir.cmp(&b.dir)));
        areas
    }
}

/// The package that owns `program` on the host, with its other run-time files; None when the
/// host has no dpkg database or no package owns it.
pub(crate) fn owner(program: &Path) -> Result<Option<Owned>> {
    let Some(db) = PackageDb::open(Path::new("/"))? else { return Ok(None) };
    let Some(pkg) = db.owner(&program.to_string_lossy()) else { return Ok(None) };
    let (package, version) = (pkg.name.clone(), pkg.version.clone());
    let (files, dirs) = run_time_files(&db, &package, program)?;
    Ok(Some(Owned { files, dirs, package, version }))
}

/// The run-time files of the installed package `name` (for `--package NAME`).
pub(crate) fn named(name: &str) -> Result<Owned> {
    let db = PackageDb::open(Path::new("/"))?.ok_or_else(|| {
        Error::input("/var/lib/dpkg/status", "no dpkg database on this host", Some("--package needs dpkg".into()))
    })?;
    let pkg = db.package(name).ok_or_else(|| {
        Error::usage(format!("--package {name}: no installed package of that name"), "dpkg -S PATH names the owner")
    })?;
    let version = pkg.version.clone();
    let (files, dirs) = run_time_files(&db, name, Path::new(""))?;
    Ok(Owned { files, dirs, package: name.to_string(), version })
}

/// (files and links, directories) of a package on the host, docs and the program left out.
/// Paths are taken with their directory's links resolved (dpkg lists `/lib/systemd/…`, which on
/// a merged-/usr host is `/usr/lib/systemd/…`), and a link to a directory (`/lib`) is left to
/// the closure, which carries the links it walks through.
fn run_time_files(db: &PackageDb, name: &str, program: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for f in db.files(name)? {
        if DOCS.iter().any(|d| f.starts_with(d) || f == d.trim_end_matches('/')) || Path::new(&f) == program {
            continue;
        }
        let (parent, base) = (crate::closure::root::parent(&f), f.rsplit('/').next().unwrap_or_default());
        let Ok(real_parent) = std::fs::canonicalize(&parent) else { continue };
        let real = crate::closure::root::join(&real_parent.to_string_lossy(), base);
        match std::fs::symlink_metadata(&real) {
            Ok(m) if m.is_dir() => dirs.push(real),
            Ok(m) if m.file_type().is_symlink() && Path::new(&real).is_dir() => {}
            Ok(_) if Path::new(&real) != program => files.push(real),
            _ => {}
        }
    }
    dirs.sort();
    dirs.dedup();
    files.sort();
    files.dedup();
    Ok((files, dirs))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Puts the package's files into `rootfs` at their own paths (links as links); what is
/// already there is kept. Returns (files, bytes).
pub(crate) fn carry(rootfs: &mut Rootfs, owned: &Owned) -> Result<(usize, u64)> {
    let (mut n, mut bytes) = (0, 0);
    for d in &owned.dirs {
        if rootfs.get(d).is_none() {
            rootfs.add_dir(d, crate::image::rootfs::MODE_EXEC)?;
        }
    }
    for f in &owned.files {
        if rootfs.get(f).is_some() {
            continue;
        }
        let meta = std::fs::symlink_metadata(f).map_err(|e| Error::io("read a package file", f, e))?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(f).map_err(|e| Error::io("read a package link", f, e))?;
            rootfs.add_symlink(f, &target.to_string_lossy())?;
        } else {
            let a = crate::image::add::add(rootfs, &AddSpec { src: f.into(), dest: f.clone(), mode: None })?;
            bytes += a.bytes;
        }
        n += 1;
    }
    Ok((n, bytes))
}
