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

/// Dependencies that only install-time scripts use (debconf questions, users made by
/// maintainer scripts): never what the program needs at run time.
const INSTALL_TOOLS: &[&str] =
    &["debconf", "dpkg", "adduser", "ucf", "lsb-base", "init-system-helpers", "sysvinit-utils"];
/// Areas of a dependency that are not what the program reads: service set-up on a full system,
/// shell and editor integration, and other programs (a dependency's executables are not the
/// program's data).
const SERVICE_AREAS: &[&str] = &[
    "/usr/lib/systemd",
    "/lib/systemd",
    "/usr/lib/binfmt.d",
    "/usr/lib/tmpfiles.d",
    "/etc/init.d",
    "/etc/logrotate.d",
    "/etc/ufw",
    "/usr/share/bash-completion",
    "/usr/share/vim",
    "/usr/share/binfmts",
    "/usr/share/zsh",
    "/usr/share/fish",
    "/usr/bin",
    "/usr/sbin",
    "/bin",
    "/sbin",
];

/// A dependency of the program's package that ships files the program may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    /// The package.
    pub package: String,
    /// Its areas outside library directories and service files, largest first.
    pub areas: Vec<Area>,
    /// The flag that carries what the program needs of it.
    pub flag: String,
    /// The image path that flag puts in, when it is not one of the areas (the compiled
    /// C.UTF-8 locale for `locales`): there, the dependency is taken care of.
    pub carried_at: Option<&'static str>,
}

/// The installed dependencies of `package` (dpkg's Depends) that ship run-time files outside
/// library directories — nginx's configuration from nginx-common, postgres' time zones from
/// tzdata — with the flag that carries them. Library packages (`lib*`) are left out: the
/// closure brings what is loaded of them.
pub(crate) fn dependencies(package: &str) -> Result<Vec<Dependency>> {
    let Some(db) = PackageDb::open(Path::new("/"))? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for dep in db.depends(package) {
        if dep.starts_with("lib") || INSTALL_TOOLS.contains(&dep.as_str()) {
            continue;
        }
        let Ok((files, dirs)) = run_time_files(&db, &dep, Path::new("")) else { continue };
        let owned = Owned { package: dep.clone(), version: String::new(), files, dirs };
        let areas: Vec<Area> = owned
            .areas()
            .into_iter()
            .filter(|a| {
                !a.dir.contains("-linux-")
                    && !SERVICE_AREAS.iter().any(|s| a.dir == *s || a.dir.starts_with(&format!("{s}/")))
            })
            .collect();
        if !areas.is_empty() {
            let (flag, carried_at) = flag_for(&dep);
            out.push(Dependency { flag, carried_at, package: dep, areas });
        }
    }
    Ok(out)
}

/// How to carry what a program needs of a dependency: staticize's own extras for the ones it
/// knows, the compiled C.UTF-8 locale for `locales` (which ships only locale sources; the
/// compiled ones are libc-bin's C.utf8 and the generated locale-archive), else the package.
fn flag_for(dep: &str) -> (String, Option<&'static str>) {
    match dep {
        "tzdata" => ("--with tzdata".into(), Some(crate::image::extras::ZONEINFO)),
        "ca-certificates" => ("--with certs".into(), Some(crate::image::extras::CERTS_PATH)),
        "locales" | "locales-all" => {
            ("--add /usr/lib/locale/C.utf8:/usr/lib/locale/C.utf8".into(), Some("/usr/lib/locale"))
        }
        other => (format!("--package {other}"), None),
    }
}

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
