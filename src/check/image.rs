//! `check IMAGE.tar|ROOTFS_DIR`: for every ELF object inside an image (or an unpacked
//! root file system) — executables, shared libraries and loadable modules (`.so` anywhere:
//! python's lib-dynload/, nginx modules) — whether everything it needs to load is inside too:
//! its interpreter and its library closure, resolved against the image's own files, never the
//! host's; and whether the entrypoint exists. Exit 1 when anything is missing, with one help
//! line per kind of failure. Files the objects name in their strings and no header does — a
//! plugin directory a library loads modules from, the system trust store — are reported as
//! gaps naming the flag that carries them; they do not fail the check (many programs run
//! without them: curl's SASL mechanisms, plain-HTTP use of a TLS client).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::closure::{self, ResolveOptions, named, root::Root};
use crate::elf::LinkKind;
use crate::error::{Error, Result};
use crate::image::unpack;

/// One ELF object found in an image: an executable or a shared object.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExecutableCheck {
    /// Its path inside the image.
    pub path: String,
    /// static, static-pie, dynamic or shared-library.
    pub linkage: LinkKind,
    /// For a dynamic one, the libraries (and interpreter) found inside the image.
    pub files_found: usize,
    /// What is missing ("libssl.so.3 (needed by /usr/bin/redis-server)").
    pub missing: Vec<String>,
    /// dlopen() libraries a note calls optional that are missing.
    pub optional_missing: Vec<String>,
    /// True when it can start (an executable) or load (a shared object).
    pub ok: bool,
}

/// The verdict on one image or root file system.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImageCheck {
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
    /// Every shared library and loadable module found.
    pub libraries: Vec<ExecutableCheck>,
    /// Problems of the archive and entries not unpacked (they do not fail the check).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the objects name that the image lacks: plugin directories (found on this
    /// machine), CA certificates. Each says what carries it; they do not fail the check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
    /// True when every ELF object has its closure inside and the entrypoint exists.
    pub ok: bool,
}

impl ExecutableCheck {
    /// An object that needs nothing the image lacks: static, or a library a program's
    /// closure already loaded.
    fn loads_nothing_missing(path: &str, linkage: LinkKind) -> Self {
        ExecutableCheck {
            path: path.to_string(),
            linkage,
            files_found: 0,
            missing: Vec::new(),
            optional_missing: Vec::new(),
            ok: true,
        }
    }
}

impl ImageCheck {
    /// The objects with libraries missing.
    pub(crate) fn broken(&self) -> impl Iterator<Item = &ExecutableCheck> {
        self.executables.iter().chain(&self.libraries).filter(|e| !e.ok)
    }
}

/// True when `path` is something to look inside: a directory (a root file system or an OCI
/// layout) or a tar archive.
pub(crate) fn is_image_target(path: &Path) -> bool {
    path.is_dir() || (path.is_file() && unpack::looks_like_tar(path))
}

/// One help line per kind of failure met, so each says what fixes that failure.
pub(crate) fn help_lines(images: &[ImageCheck], files_failed: bool) -> Vec<String> {
    let mut help = Vec::new();
    if images.iter().any(|c| c.broken().next().is_some()) {
        help.push(
            "carry the missing libraries: staticize bundle PROGRAM resolves the closure of every ELF object it puts in (--lib NAME for dlopen()ed ones)"
                .to_string(),
        );
    }
    if images.iter().any(|c| c.executables.is_empty()) {
        help.push(
            "an image without an ELF executable has no program to start: check the image that carries the program (or its script's interpreter)"
                .into(),
        );
    }
    if images.iter().any(|c| c.entrypoint_missing.is_some()) {
        help.push("put the program at the entrypoint's path (bundle --path) or set --entrypoint to where it is".into());
    }
    if files_failed {
        help.push(
            "for a plain file: rebuild statically (staticize c/go/rust…) or bundle it with staticize bundle".into(),
        );
    }
    help
}

/// Checks one image (an archive or OCI layout, unpacked into a temporary directory within
/// `limits`) or root directory.
pub(crate) fn check_target(path: &Path, limits: &unpack::UnpackLimits) -> Result<ImageCheck> {
    if path.is_dir() && !unpack::is_oci_layout(path) {
        let mut c = check_rootfs(path, &[])?;
        c.path = path.to_path_buf();
        return Ok(c);
    }
    let tmp = tempfile::Builder::new()
        .prefix("staticize-check-")
        .tempdir()
        .map_err(|e| Error::io("create a temporary directory in", std::env::temp_dir(), e))?;
    let unpacked = unpack::unpack(path, tmp.path(), limits)?;
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

/// Checks every ELF object under `dir`, resolving against `dir` as `/`.
pub(crate) fn check_rootfs(dir: &Path, library_path: &[String]) -> Result<ImageCheck> {
    let mut found = Vec::new();
    collect(dir, dir, &mut found).map_err(|e| Error::io("read", dir, e))?;
    found.sort();
    let opts = ResolveOptions { root: dir.to_path_buf(), library_path: library_path.to_vec(), ..Default::default() };
    let mut objects = Vec::new();
    for inside in found {
        let host = dir.join(inside.trim_start_matches('/'));
        if let Ok(l) = crate::elf::inspect(&host) {
            objects.push((inside, l.kind));
        }
    }
    // Executables first: a library one of them loads is judged in that program's context (an
    // RPATH it inherits), and only the others — modules loaded with dlopen() — on their own.
    let mut loaded = std::collections::BTreeSet::new();
    let mut executables = Vec::new();
    for (inside, kind) in objects.iter().filter(|(_, k)| *k != LinkKind::SharedLibrary) {
        let check = match kind {
            LinkKind::Static | LinkKind::StaticPie => ExecutableCheck::loads_nothing_missing(inside, *kind),
            LinkKind::Dynamic => judge(inside.clone(), *kind, &opts, &mut loaded)?,
            // Relocatable objects, core dumps and separate debug info load nothing.
            _ => continue,
        };
        executables.push(check);
    }
    let mut libraries = Vec::new();
    for (inside, kind) in objects.iter().filter(|(_, k)| *k == LinkKind::SharedLibrary) {
        let check = if loaded.contains(inside) {
            ExecutableCheck::loads_nothing_missing(inside, *kind)
        } else {
            judge(inside.clone(), *kind, &opts, &mut std::collections::BTreeSet::new())?
        };
        libraries.push(check);
    }
    let ok = !executables.is_empty() && executables.iter().chain(&libraries).all(|e| e.ok);
    let gaps = gaps(dir, &objects);
    Ok(ImageCheck {
        path: dir.to_path_buf(),
        kind: "rootfs",
        command: Vec::new(),
        entrypoint_missing: None,
        executables,
        libraries,
        warnings: Vec::new(),
        gaps,
        ok,
    })
}

/// Where an image keeps CA certificates, by the conventions of Debian, Fedora and Alpine.
const CERT_BUNDLES: &[&str] =
    &[crate::image::extras::CERTS_PATH, "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// The plugin directories the image's libraries name that it lacks and this machine has as
/// module directories (gconv only when a program calls iconv_open), and the programs that
/// read the system trust store of an image without one.
fn gaps(dir: &Path, objects: &[(String, LinkKind)]) -> Vec<String> {
    let (image, host) = (Root::new(dir), Root::new("/"));
    let db = crate::pkgdb::PackageDb::open(Path::new("/")).ok().flatten();
    let mut imports = std::collections::BTreeSet::new();
    let mut plugins: Vec<(String, named::PluginDir)> = Vec::new();
    let mut tls: Option<String> = None;
    let mut libraries = Vec::new();
    for (inside, _) in objects {
        let Ok(bytes) = std::fs::read(image.host_path(inside)) else { continue };
        let name = inside.rsplit('/').next().unwrap_or(inside);
        if named::is_shared_library(&bytes) {
            libraries.push(name);
            let absent = named::library_paths(&bytes).into_iter().filter(|p| image.walk_to_any(p).is_none()).collect();
            for d in named::module_dirs(&host, name, absent) {
                if !plugins.iter().any(|(_, p)| p.dir == d.dir) {
                    plugins.push((inside.clone(), d));
                }
            }
        } else {
            imports.extend(named::imports(&bytes));
            tls = tls.or_else(|| named::trust_store(&bytes).map(|n| format!("{inside} names {n}")));
        }
    }
    let has_certs = CERT_BUNDLES.iter().any(|c| image.walk(c).is_some());
    let tls = tls
        .or_else(|| named::reads_trust_store(b"", libraries).map(|why| format!("the image {why}")))
        .filter(|_| !has_certs)
        .map(|t| t.replace("the image links", "the image carries"));
    let mut out = Vec::new();
    for (lib, d) in plugins.iter().filter(|(_, d)| d.loaded_by.is_none_or(|f| imports.contains(f))) {
        let owner = db.as_ref().and_then(|db| db.owner(&d.dir)).map(|p| format!(" (package {} here)", p.name));
        let when = d.loaded_by.map(|f| format!(" (read as a program calls {f}())")).unwrap_or_default();
        out.push(format!(
            "{lib} loads modules{when} from {}, which the image lacks{}: what needs them fails — staticize bundle carries them by default (--add {}:{} by hand)",
            d.dir,
            owner.unwrap_or_default(),
            d.dir,
            d.dir
        ));
    }
    if let Some(t) = tls {
        out.push(format!(
            "{t}: TLS needs CA certificates, which the image lacks — rebuild with --with certs (or --with certs=BUNDLE)"
        ));
    }
    out
}

/// The closure of one dynamic executable or shared object, inside the root; the files it
/// loads are added to `loaded`.
fn judge(
    inside: String,
    linkage: LinkKind,
    opts: &ResolveOptions,
    loaded: &mut std::collections::BTreeSet<String>,
) -> Result<ExecutableCheck> {
    let c = closure::resolve_inside(&inside, opts)?;
    loaded.extend(c.files().map(|e| e.image_path.clone()));
    Ok(ExecutableCheck {
        path: inside,
        linkage,
        files_found: c.files().count(),
        missing: c.unresolved.iter().map(|u| u.to_string()).collect(),
        optional_missing: c.optional_missing.iter().map(|u| u.to_string()).collect(),
        ok: c.unresolved.is_empty(),
    })
}

/// Regular files that start with the ELF magic, as paths inside the root; links are not
/// followed. The execute bit is not asked for: modules are loaded, not executed.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let meta = std::fs::symlink_metadata(e.path())?;
        if meta.is_dir() {
            collect(root, &e.path(), out)?;
        } else if meta.is_file() && meta.len() >= 4 && starts_like_elf(&e.path()) {
            if let Ok(rel) = e.path().strip_prefix(root) {
                out.push(format!("/{}", rel.to_string_lossy()));
            }
        }
    }
    Ok(())
}

fn starts_like_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF"
}
