//! The library closure of a dynamic ELF program, resolved the way glibc's ld.so (or musl's)
//! would resolve it, from the ELF files alone — the program is never run.
//!
//! Search order for a DT_NEEDED name, as in glibc 2.36 `_dl_map_object`:
//! 1. a name containing '/' is a path, used as it is;
//! 2. a name already loaded (by the name asked for, by DT_SONAME, or the same file) is reused;
//! 3. when the asking object has no DT_RUNPATH: the DT_RPATH of the asking object, then of the
//!    object that loaded it, and up to the program (an object with DT_RUNPATH has no RPATH);
//! 4. `ResolveOptions::library_path` — LD_LIBRARY_PATH as the image would set it. The caller's
//!    own LD_LIBRARY_PATH is never read: it describes the caller's shell, not the image;
//! 5. the DT_RUNPATH of the asking object only (not inherited);
//! 6. unless the asking object has DF_1_NODEFLIB: the directories of /etc/ld.so.conf and its
//!    `include`s (what ld.so.cache holds), then the default directories
//!    (/lib/TRIPLET, /usr/lib/TRIPLET, /lib64, /usr/lib64, /lib, /usr/lib).
//!
//! `$ORIGIN`, `$LIB` and `$PLATFORM` are expanded in RPATH/RUNPATH and in DT_NEEDED names that
//! contain a '/' (as glibc's `expand_dynamic_string_token`; an unknown `$NAME` stays as written).
//! `$LIB` is `lib/TRIPLET` when the root has that directory, as on Debian, else lib64/lib;
//! `$PLATFORM` is the machine's base name, e.g. x86_64 — glibc may pick a CPU name such as
//! "haswell" at run time, which no file list can know.
//!
//! Each directory is searched through its hwcaps subdirectories first, in glibc 2.36's order
//! (see [`hwcaps_subdirs`]): `glibc-hwcaps/LEVEL/` for the levels in
//! `ResolveOptions::glibc_hwcaps` (none by default: the image's CPU is unknown, so the x86-64
//! baseline is assumed and no x86-64-v2+ directory is searched unless asked), then the legacy
//! `tls/PLATFORM/HWCAP` combinations, then the directory itself. A candidate is taken only when
//! its ELF class, byte order, machine and OS ABI match the program's.
//!
//! Libraries named in a `.note.dlopen` note (see [`note`]) and `ResolveOptions::extra_libs`
//! (`--lib`) are added after the DT_NEEDED closure, searched as a dlopen() from the object that
//! carries the note (or the program). Symlinks met on the way are kept as entries, so the image
//! has the same chain as the host (`libfoo.so.1` → `libfoo.so.1.2.3`, `/lib` → `usr/lib`).

pub mod ldconf;
pub(crate) mod named;
pub mod note;
pub mod nss;
pub mod root;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use goblin::elf::Elf;
use goblin::elf::dynamic::{DF_1_NODEFLIB, DT_FLAGS_1};
use goblin::elf::header::{EI_OSABI, ELFOSABI_GNU, ELFOSABI_NONE};
use serde::Serialize;

use crate::closure::note::{DlopenEntry, Priority};
use crate::closure::root::{Root, Walked, join, parent};
use crate::error::{Error, Result};

/// What to resolve against and what to add.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// The directory standing for `/`: "/" for the host, an unpacked image for `check`.
    pub root: PathBuf,
    /// Directories searched as LD_LIBRARY_PATH (inside the root); never read from the caller's
    /// environment.
    pub library_path: Vec<String>,
    /// Libraries the program dlopen()s that no note names (`--lib`): a soname searched as the
    /// program would, or a path (containing '/').
    pub extra_libs: Vec<String>,
    /// Follow `.note.dlopen` notes (on by default).
    pub dlopen_notes: bool,
    /// glibc-hwcaps levels the image's CPU supports, most capable first ("x86-64-v3",
    /// "x86-64-v2"); empty for the architecture's baseline.
    pub glibc_hwcaps: Vec<String>,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            root: PathBuf::from("/"),
            library_path: Vec::new(),
            extra_libs: Vec::new(),
            dlopen_notes: true,
            glibc_hwcaps: Vec::new(),
        }
    }
}

/// Why a file is in the closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// The program interpreter (PT_INTERP).
    Interp,
    /// A DT_NEEDED library, directly or through other libraries.
    Needed,
    /// A library loaded with dlopen() (from a `.note.dlopen` or `--lib`), or one it needs.
    Dlopen,
    /// A symbolic link on the way to one of the above.
    Symlink,
}

/// One file or link of the closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosureEntry {
    /// Where it is on the host (inside the root).
    pub host_path: PathBuf,
    /// Where it goes in the image: the same absolute path it has inside the root.
    pub image_path: String,
    /// Why it is here.
    pub kind: EntryKind,
    /// For a symlink, its target exactly as stored on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

/// A library that could not be found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unresolved {
    /// The name asked for (DT_NEEDED, a note's soname, `--lib`, or the interpreter path).
    pub name: String,
    /// Who asked: the path of the asking object inside the root, or "--lib".
    pub needed_by: String,
    /// Needed, Dlopen or Interp.
    pub kind: EntryKind,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (needed by {})", self.name, self.needed_by)
    }
}

/// Which dynamic loader's rules applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loader {
    /// glibc's ld-linux (or no interpreter at all).
    Glibc,
    /// musl's ld-musl, which is also its libc.
    Musl,
}

/// The resolved closure of one program.
#[derive(Debug, Clone, Serialize)]
pub struct Closure {
    /// The program, as given.
    pub program: PathBuf,
    /// Its PT_INTERP, when it has one.
    pub interp: Option<String>,
    /// Whose rules applied.
    pub loader: Loader,
    /// Files and links to carry, in the order found, each image path once.
    pub entries: Vec<ClosureEntry>,
    /// Libraries (and the interpreter) that were not found: the program will not start.
    pub unresolved: Vec<Unresolved>,
    /// `.note.dlopen` libraries of priority "recommended" or "suggested" that were not found:
    /// the program starts, the feature they serve does not work.
    pub optional_missing: Vec<Unresolved>,
    /// ld.so.conf directories (not default ones) that supplied a library: scratch has no
    /// ld.so.cache, so an image must name them in LD_LIBRARY_PATH.
    pub cache_dirs: Vec<String>,
    /// True when the program's own RPATH/RUNPATH or a DT_NEEDED path uses $ORIGIN, so it must
    /// keep its host directory in the image for those paths to mean the same.
    pub uses_origin: bool,
    /// Things worth telling the user (unreadable notes, candidates of another machine).
    pub warnings: Vec<String>,
}

impl Closure {
    /// The regular files of the closure (interpreter and libraries), without links.
    pub fn files(&self) -> impl Iterator<Item = &ClosureEntry> {
        self.entries.iter().filter(|e| e.kind != EntryKind::Symlink)
    }

    /// Total bytes of the regular files on the host.
    pub fn bytes(&self) -> u64 {
        self.files().filter_map(|e| std::fs::metadata(&e.host_path).ok()).map(|m| m.len()).sum()
    }

    /// True when the program is dynamic (it has an interpreter or needs libraries).
    pub fn is_dynamic(&self) -> bool {
        self.interp.is_some() || !self.entries.is_empty() || !self.unresolved.is_empty()
    }
}

/// Resolves the closure of `binary`, a file on the host, searching libraries inside
/// `opts.root`. With the default root ("/") that is the host's own closure.
pub fn resolve(binary: &Path, opts: &ResolveOptions) -> Result<Closure> {
    let root = Root::new(&opts.root);
    // $ORIGIN of the program is its real directory (glibc takes it from /proc/self/exe).
    let inside = if root.is_host() {
        let real = std::fs::canonicalize(binary).map_err(|e| Error::io("read", binary, e))?;
        real.to_string_lossy().into_owned()
    } else {
        match binary.strip_prefix(root.dir()) {
            Ok(rel) => format!("/{}", rel.to_string_lossy()),
            Err(_) => binary.to_string_lossy().into_owned(),
        }
    };
    let bytes = std::fs::read(binary).map_err(|e| Error::io("read", binary, e))?;
    let origin = root.walk(&inside).map(|w| parent(&w.real)).unwrap_or_else(|| parent(&inside));
    Resolver::new(root, opts).run(binary, &inside, &origin, &bytes)
}

/// Resolves the closure of a program at `inside`, a path inside `opts.root` (for `check` on an
/// unpacked image): the program is read from the root, never from the host.
pub fn resolve_inside(inside: &str, opts: &ResolveOptions) -> Result<Closure> {
    let root = Root::new(&opts.root);
    let walked = root
        .walk(inside)
        .ok_or_else(|| Error::input(root.host_path(inside), "is not a regular file inside the image", None))?;
    let host = root.host_path(&walked.real);
    let bytes = std::fs::read(&host).map_err(|e| Error::io("read", &host, e))?;
    let origin = parent(&walked.real);
    Resolver::new(root, opts).run(Path::new(inside), inside, &origin, &bytes)
}

/// The ELF facts a loader uses, read from one object.
#[derive(Debug, Clone)]
struct Object {
    /// The path it was found under (inside the root).
    name_path: String,
    /// The directory $ORIGIN expands to for it.
    origin: String,
    needed: Vec<String>,
    /// DT_RPATH, empty when DT_RUNPATH exists (glibc drops RPATH then).
    rpath: Vec<String>,
    runpath: Vec<String>,
    nodeflib: bool,
    soname: Option<String>,
    dlopen: Vec<DlopenEntry>,
    /// The object that caused this one to load.
    loader: Option<usize>,
    /// Whether it came in through DT_NEEDED or dlopen.
    kind: EntryKind,
    /// `.note.dlopen` notes that did not parse, as warnings.
    note_errors: Vec<String>,
}

/// The ELF identity every library must share with the program.
#[derive(Debug, Clone, Copy)]
struct Ident {
    is_64: bool,
    little_endian: bool,
    machine: u16,
    osabi: u8,
}

impl Ident {
    fn of(elf: &Elf) -> Self {
        Ident {
            is_64: elf.is_64,
            little_endian: elf.little_endian,
            machine: elf.header.e_machine,
            osabi: elf.header.e_ident[EI_OSABI],
        }
    }

    fn accepts(&self, other: &Ident) -> bool {
        let generic = |o: u8| o == ELFOSABI_NONE || o == ELFOSABI_GNU;
        self.is_64 == other.is_64
            && self.little_endian == other.little_endian
            && self.machine == other.machine
            && (self.osabi == other.osabi || (generic(self.osabi) && generic(other.osabi)))
    }
}

/// Parsed object plus the reason it could be refused.
enum Candidate {
    Fits(Box<Object>),
    WrongMachine,
    NotElf,
}

/// How a library was found, to know whether an image needs LD_LIBRARY_PATH for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    Direct,
    Path,
    Conf(String),
    Default,
}

struct Resolver<'a> {
    root: Root,
    opts: &'a ResolveOptions,
    ident: Option<Ident>,
    loader: Loader,
    lib_token: String,
    platform: String,
    /// Subdirectories tried in every search directory, most specific first, "" last.
    hwcaps: Vec<String>,
    conf_dirs: Vec<String>,
    default_dirs: Vec<String>,
    objects: Vec<Object>,
    /// Names (asked-for names, sonames, real paths) → object index.
    loaded: BTreeMap<String, usize>,
    entries: Vec<ClosureEntry>,
    seen: BTreeSet<String>,
    unresolved: Vec<Unresolved>,
    optional_missing: Vec<Unresolved>,
    cache_dirs: Vec<String>,
    warnings: Vec<String>,
}

impl<'a> Resolver<'a> {
    fn new(root: Root, opts: &'a ResolveOptions) -> Self {
        Resolver {
            root,
            opts,
            ident: None,
            loader: Loader::Glibc,
            lib_token: String::new(),
            platform: String::new(),
            hwcaps: vec![String::new()],
            conf_dirs: Vec::new(),
            default_dirs: Vec::new(),
            objects: Vec::new(),
            loaded: BTreeMap::new(),
            entries: Vec::new(),
            seen: BTreeSet::new(),
            unresolved: Vec::new(),
            optional_missing: Vec::new(),
            cache_dirs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn run(mut self, program: &Path, inside: &str, origin: &str, bytes: &[u8]) -> Result<Closure> {
        let elf = parse_elf(bytes).map_err(|m| Error::input(program, m, None))?;
        let ident = Ident::of(&elf);
        self.ident = Some(ident);
        let interp = elf.interpreter.map(str::to_string);
        self.setup_dirs(&ident, interp.as_deref());
        let main = self.object_from(&elf, bytes, inside.to_string(), origin.to_string());
        self.warnings.extend(main.note_errors.iter().cloned());
        // DT_NEEDED paths with $ORIGIN count too: glibc expands them from the same directory.
        let uses_origin = main
            .rpath
            .iter()
            .chain(&main.runpath)
            .chain(&main.needed)
            .any(|p| p.contains("$ORIGIN") || p.contains("${ORIGIN}"));
        self.objects.push(main);
        self.loaded.insert(inside.to_string(), 0);

        if let Some(interp) = &interp {
            self.load_interp(interp, inside);
        }
        let mut next_needed = 0;
        let mut next_notes = 0;
        let mut extras_done = false;
        // DT_NEEDED breadth-first (as _dl_map_object_deps), then what dlopen() would add,
        // then the DT_NEEDED of those, until nothing new appears.
        loop {
            if next_needed < self.objects.len() {
                let idx = next_needed;
                next_needed += 1;
                let kind =
                    if self.objects[idx].kind == EntryKind::Dlopen { EntryKind::Dlopen } else { EntryKind::Needed };
                for name in self.objects[idx].needed.clone() {
                    if self.load(&name, idx, kind).is_none() {
                        let needed_by = self.objects[idx].name_path.clone();
                        self.unresolved.push(Unresolved { name, needed_by, kind: EntryKind::Needed });
                    }
                }
            } else if !extras_done {
                extras_done = true;
                for name in self.opts.extra_libs.clone() {
                    if self.load(&name, 0, EntryKind::Dlopen).is_none() {
                        self.unresolved.push(Unresolved { name, needed_by: "--lib".into(), kind: EntryKind::Dlopen });
                    }
                }
            } else if self.opts.dlopen_notes && next_notes < self.objects.len() {
                let idx = next_notes;
                next_notes += 1;
                for entry in self.objects[idx].dlopen.clone() {
                    self.load_dlopen_entry(&entry, idx);
                }
            } else {
                break;
            }
        }
        Ok(Closure {
            program: program.to_path_buf(),
            interp,
            loader: self.loader,
            entries: self.entries,
            unresolved: self.unresolved,
            optional_missing: self.optional_missing,
            cache_dirs: self.cache_dirs,
            uses_origin,
            warnings: self.warnings,
        })
    }

    fn setup_dirs(&mut self, ident: &Ident, interp: Option<&str>) {
        let (platform, triplet) = crate::platform::loader_names(ident.machine, ident.is_64, ident.little_endian);
        self.platform = platform.to_string();
        let multiarch =
            triplet.filter(|t| self.root.is_dir(&format!("/lib/{t}")) || self.root.is_dir(&format!("/usr/lib/{t}")));
        self.lib_token = match multiarch {
            Some(t) => format!("lib/{t}"),
            None if ident.is_64 => "lib64".into(),
            None => "lib".into(),
        };
        let musl_arch = interp
            .and_then(|i| i.rsplit('/').next())
            .and_then(|b| b.strip_prefix("ld-musl-"))
            .map(|b| b.trim_end_matches(".so.1").to_string());
        if let Some(arch) = musl_arch {
            // musl: /etc/ld-musl-ARCH.path, else its built-in path; no ld.so.conf.
            self.loader = Loader::Musl;
            let file = self.root.host_path(&format!("/etc/ld-musl-{arch}.path"));
            self.default_dirs = match std::fs::read_to_string(file) {
                Ok(text) => {
                    text.split(['\n', ':']).map(str::trim).filter(|d| d.starts_with('/')).map(str::to_string).collect()
                }
                Err(_) => vec!["/lib".into(), "/usr/local/lib".into(), "/usr/lib".into()],
            };
            return;
        }
        self.conf_dirs = ldconf::dirs(&self.root);
        self.hwcaps = hwcaps_subdirs(ident.machine, &self.platform, &self.opts.glibc_hwcaps);
        let mut dirs = Vec::new();
        if let Some(t) = triplet {
            dirs.push(format!("/lib/{t}"));
            dirs.push(format!("/usr/lib/{t}"));
        }
        if ident.is_64 {
            dirs.push("/lib64".into());
            dirs.push("/usr/lib64".into());
        }
        dirs.push("/lib".into());
        dirs.push("/usr/lib".into());
        self.default_dirs = dirs;
    }

    fn load_interp(&mut self, interp: &str, program: &str) {
        let Some(walked) = self.root.walk(interp) else {
            self.unresolved.push(Unresolved {
                name: interp.into(),
                needed_by: program.into(),
                kind: EntryKind::Interp,
            });
            return;
        };
        self.record(&walked, EntryKind::Interp);
        let idx = self.objects.len();
        let obj = match self.candidate(interp, &walked) {
            Candidate::Fits(o) => *o,
            _ => {
                self.warnings.push(format!("interpreter {interp} is not an ELF library of the program's machine"));
                Object {
                    name_path: interp.into(),
                    origin: parent(interp),
                    needed: Vec::new(),
                    rpath: Vec::new(),
                    runpath: Vec::new(),
                    nodeflib: false,
                    soname: None,
                    dlopen: Vec::new(),
                    loader: None,
                    kind: EntryKind::Interp,
                    note_errors: Vec::new(),
                }
            }
        };
        // The loader's own DT_NEEDED are none; it is registered under its path, its real path,
        // its soname (libc.so.6 asks for "ld-linux-x86-64.so.2"), and for musl the libc names.
        let mut obj = obj;
        obj.needed.clear();
        obj.dlopen.clear();
        obj.kind = EntryKind::Interp;
        for name in [Some(interp.to_string()), Some(walked.real.clone()), obj.soname.clone()].into_iter().flatten() {
            self.loaded.insert(name, idx);
        }
        self.objects.push(obj);
    }

    /// Finds and loads `name` asked for by object `by`; returns its index.
    fn load(&mut self, name: &str, by: usize, kind: EntryKind) -> Option<usize> {
        if let Some(&idx) = self.loaded.get(name) {
            return Some(idx);
        }
        if self.loader == Loader::Musl && musl_builtin(name) {
            return self.objects.iter().position(|o| o.kind == EntryKind::Interp);
        }
        let (walked, mut obj, via) = self.search(name, by)?;
        // The same file under another name is the same object (glibc compares dev/inode).
        if let Some(&idx) = self.loaded.get(&walked.real) {
            self.record(&walked, kind);
            self.loaded.insert(name.to_string(), idx);
            return Some(idx);
        }
        if let Via::Conf(dir) = &via {
            if !self.default_dirs.contains(dir) && !self.cache_dirs.contains(dir) {
                self.cache_dirs.push(dir.clone());
            }
        }
        self.record(&walked, kind);
        obj.loader = Some(by);
        obj.kind = kind;
        let idx = self.objects.len();
        self.warnings.append(&mut obj.note_errors);
        self.loaded.insert(name.to_string(), idx);
        self.loaded.insert(walked.real.clone(), idx);
        if let Some(s) = &obj.soname {
            self.loaded.entry(s.clone()).or_insert(idx);
        }
        self.objects.push(obj);
        Some(idx)
    }

    fn load_dlopen_entry(&mut self, entry: &DlopenEntry, by: usize) {
        if entry.soname.iter().any(|s| self.load(s, by, EntryKind::Dlopen).is_some()) {
            return;
        }
        let missing = Unresolved {
            name: entry.soname.join(" | "),
            needed_by: self.objects[by].name_path.clone(),
            kind: EntryKind::Dlopen,
        };
        if entry.priority == Priority::Required {
            self.unresolved.push(missing);
        } else {
            self.optional_missing.push(missing);
        }
    }

    /// The search of `_dl_map_object` for `name` asked for by object `by`.
    fn search(&mut self, name: &str, by: usize) -> Option<(Walked, Object, Via)> {
        if name.contains('/') {
            // A path: its $ORIGIN/$LIB/$PLATFORM are the asking object's (glibc expands them in
            // names with a '/'); relative ones are taken from "/", a container's working directory.
            let origin = self.objects[by].origin.clone();
            let Some(name) = &expand_tokens(name, &origin, &self.lib_token, &self.platform) else { return None };
            let name = name.as_str();
            let inside = if name.starts_with('/') { name.to_string() } else { format!("/{name}") };
            let inside = if self.root.is_host() && !name.starts_with('/') {
                std::fs::canonicalize(name).map(|p| p.to_string_lossy().into_owned()).unwrap_or(inside)
            } else {
                inside
            };
            return self.try_file(&inside).map(|(w, o)| (w, o, Via::Direct));
        }
        let mut dirs: Vec<(String, Via)> = Vec::new();
        let asking = &self.objects[by];
        if self.loader == Loader::Musl {
            // musl walks the loader chain with RUNPATH-or-RPATH alike, after LD_LIBRARY_PATH.
            dirs.extend(self.opts.library_path.iter().map(|d| (d.clone(), Via::Path)));
            let mut cur = Some(by);
            while let Some(i) = cur {
                let o = &self.objects[i];
                let list = if o.runpath.is_empty() { &o.rpath } else { &o.runpath };
                dirs.extend(self.expand_list(list, &o.origin).into_iter().map(|d| (d, Via::Path)));
                cur = o.loader;
            }
            dirs.extend(self.default_dirs.iter().map(|d| (d.clone(), Via::Default)));
        } else {
            if asking.runpath.is_empty() {
                let mut cur = Some(by);
                let mut did_main = false;
                while let Some(i) = cur {
                    let o = &self.objects[i];
                    dirs.extend(self.expand_list(&o.rpath, &o.origin).into_iter().map(|d| (d, Via::Path)));
                    did_main |= i == 0;
                    cur = o.loader;
                }
                if !did_main {
                    let m = &self.objects[0];
                    dirs.extend(self.expand_list(&m.rpath, &m.origin).into_iter().map(|d| (d, Via::Path)));
                }
            }
            dirs.extend(self.opts.library_path.iter().map(|d| (d.clone(), Via::Path)));
            dirs.extend(self.expand_list(&asking.runpath, &asking.origin).into_iter().map(|d| (d, Via::Path)));
            if !asking.nodeflib {
                dirs.extend(self.conf_dirs.iter().map(|d| (d.clone(), Via::Conf(d.clone()))));
                dirs.extend(self.default_dirs.iter().map(|d| (d.clone(), Via::Default)));
            }
        }
        let mut tried = BTreeSet::new();
        for (dir, via) in dirs {
            if !tried.insert(dir.clone()) {
                continue;
            }
            for sub in self.hwcaps.clone() {
                let path = join(&join(&dir, &sub), name);
                if let Some((w, o)) = self.try_file(&path) {
                    return Some((w, Object { origin: parent(&path), ..o }, via));
                }
            }
        }
        None
    }

    /// A candidate path: it must be a regular file (after links) of the program's kind of ELF.
    fn try_file(&mut self, inside: &str) -> Option<(Walked, Object)> {
        let walked = self.root.walk(inside)?;
        match self.candidate(inside, &walked) {
            Candidate::Fits(o) => Some((walked, *o)),
            Candidate::WrongMachine => {
                self.warnings.push(format!("skipped {inside}: built for another machine or ELF class"));
                None
            }
            Candidate::NotElf => None,
        }
    }

    fn candidate(&self, inside: &str, walked: &Walked) -> Candidate {
        let Ok(bytes) = std::fs::read(self.root.host_path(&walked.real)) else { return Candidate::NotElf };
        let Ok(elf) = parse_elf(&bytes) else { return Candidate::NotElf };
        if let Some(id) = &self.ident {
            if !id.accepts(&Ident::of(&elf)) {
                return Candidate::WrongMachine;
            }
        }
        let obj = self.object_from(&elf, &bytes, inside.to_string(), parent(inside));
        Candidate::Fits(Box::new(obj))
    }

    fn object_from(&self, elf: &Elf, bytes: &[u8], name_path: String, origin: String) -> Object {
        let split = |v: &Vec<&str>| -> Vec<String> {
            v.iter().flat_map(|s| s.split(':')).map(str::to_string).collect::<Vec<_>>()
        };
        let runpath = split(&elf.runpaths);
        let rpath = if runpath.is_empty() { split(&elf.rpaths) } else { Vec::new() };
        let flags_1 = elf
            .dynamic
            .as_ref()
            .and_then(|d| d.dyns.iter().find(|d| d.d_tag == DT_FLAGS_1).map(|d| d.d_val))
            .unwrap_or(0);
        let mut dlopen = Vec::new();
        let mut note_errors = Vec::new();
        if self.opts.dlopen_notes {
            for parsed in note::dlopen_entries(elf, bytes) {
                match parsed {
                    Ok(entries) => dlopen.extend(entries),
                    Err(e) => note_errors.push(format!("{name_path}: {e}; the libraries it names are not carried")),
                }
            }
        }
        Object {
            name_path,
            origin,
            needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
            rpath,
            runpath,
            nodeflib: flags_1 & DF_1_NODEFLIB != 0,
            soname: elf.soname.map(str::to_string),
            dlopen,
            loader: None,
            kind: EntryKind::Needed,
            note_errors,
        }
    }

    /// Expands an RPATH/RUNPATH list; an element whose known token has no value is dropped, as
    /// glibc drops it, and an empty element means the working directory ("/" in a container).
    fn expand_list(&self, list: &[String], origin: &str) -> Vec<String> {
        list.iter()
            .filter_map(|p| {
                if p.is_empty() {
                    return Some("/".to_string());
                }
                expand_tokens(p, origin, &self.lib_token, &self.platform)
            })
            .map(|p| if p.starts_with('/') { p } else { format!("/{p}") })
            .collect()
    }

    fn record(&mut self, walked: &Walked, kind: EntryKind) {
        for link in &walked.links {
            if self.seen.insert(link.path.clone()) {
                self.entries.push(ClosureEntry {
                    host_path: self.root.host_path(&link.path),
                    image_path: link.path.clone(),
                    kind: EntryKind::Symlink,
                    link_target: Some(link.target.clone()),
                });
            }
        }
        if self.seen.insert(walked.real.clone()) {
            self.entries.push(ClosureEntry {
                host_path: self.root.host_path(&walked.real),
                image_path: walked.real.clone(),
                kind,
                link_target: None,
            });
        }
    }
}

fn parse_elf(bytes: &[u8]) -> std::result::Result<Elf<'_>, String> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err("is not an ELF file".into());
    }
    Elf::parse(bytes).map_err(|e| format!("truncated or invalid ELF ({e})"))
}

/// Replaces $ORIGIN, $LIB and $PLATFORM (bare or in braces) as glibc's `_dl_dst_substitute`:
/// any other `$` (an unknown name, an unclosed brace) stays as written. None when a known token
/// has no value (an empty origin), which makes glibc drop the path.
pub fn expand_tokens(path: &str, origin: &str, lib: &str, platform: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (token, len) = match after.strip_prefix('{') {
            Some(inner) => match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            },
            None => {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        let value = match token {
            "ORIGIN" => origin,
            "LIB" => lib,
            "PLATFORM" => platform,
            _ => {
                out.push('$');
                rest = after;
                continue;
            }
        };
        if value.is_empty() {
            return None;
        }
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    Some(out)
}

/// The subdirectories glibc 2.36 tries in each search directory, most specific first and ""
/// (the directory itself) last: `glibc-hwcaps/LEVEL` for each level asked, then the legacy
/// hwcaps — every combination of "tls", the platform (AT_PLATFORM) and, on x86-64, the
/// "x86_64" hwcap bit, longest first — as `LD_DEBUG=libs` shows on x86-64:
/// tls/x86_64/x86_64, tls/x86_64, tls, x86_64/x86_64, x86_64, "". (glibc 2.37 dropped the
/// legacy ones; searching them too only finds what 2.36 would.)
pub fn hwcaps_subdirs(machine: u16, platform: &str, levels: &[String]) -> Vec<String> {
    let mut out: Vec<String> = levels.iter().map(|l| format!("glibc-hwcaps/{l}")).collect();
    let mut parts: Vec<&str> = Vec::new();
    if platform != "unknown" {
        parts.push(platform);
    }
    if machine == goblin::elf::header::EM_X86_64 {
        parts.push("x86_64");
    }
    // Subsets of [platform, hwcap] in glibc's order: both, platform only, hwcap only, none.
    let mut combos: Vec<String> = Vec::new();
    for mask in (0..1u32 << parts.len()).rev() {
        let picked: Vec<&str> = parts
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << (parts.len() - 1 - i)) != 0)
            .map(|(_, p)| *p)
            .collect();
        combos.push(picked.join("/"));
    }
    for tls in ["tls", ""] {
        for c in &combos {
            let sub = [tls, c.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("/");
            if !out.contains(&sub) {
                out.push(sub);
            }
        }
    }
    out
}

/// musl's names that the loader itself provides.
fn musl_builtin(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("lib") else { return false };
    ["c", "pthread", "rt", "m", "dl", "util", "xnet"]
        .iter()
        .any(|r| rest.strip_prefix(r).is_some_and(|tail| tail.is_empty() || tail.starts_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expand_or_drop_the_element() {
        let e = |p| expand_tokens(p, "/opt/app/bin", "lib/x86_64-linux-gnu", "x86_64");
        assert_eq!(e("$ORIGIN/../lib").as_deref(), Some("/opt/app/bin/../lib"));
        assert_eq!(e("${ORIGIN}/x/$LIB/$PLATFORM").as_deref(), Some("/opt/app/bin/x/lib/x86_64-linux-gnu/x86_64"));
        assert_eq!(e("/usr/${LIB}").as_deref(), Some("/usr/lib/x86_64-linux-gnu"));
        assert_eq!(e("/plain").as_deref(), Some("/plain"));
        assert_eq!(e("$UNKNOWN/x").as_deref(), Some("$UNKNOWN/x"));
        assert_eq!(e("${ORIGIN").as_deref(), Some("${ORIGIN"));
        assert_eq!(expand_tokens("$ORIGIN/x", "", "lib", "x86_64"), None);
    }

    #[test]
    fn hwcaps_order_is_glibc_2_36s() {
        use goblin::elf::header::{EM_AARCH64, EM_X86_64};
        let x86 = hwcaps_subdirs(EM_X86_64, "x86_64", &[]);
        assert_eq!(x86, ["tls/x86_64/x86_64", "tls/x86_64", "tls", "x86_64/x86_64", "x86_64", ""]);
        let v2 = hwcaps_subdirs(EM_X86_64, "x86_64", &["x86-64-v2".into()]);
        assert_eq!(v2[0], "glibc-hwcaps/x86-64-v2");
        assert_eq!(hwcaps_subdirs(EM_AARCH64, "aarch64", &[]), ["tls/aarch64", "tls", "aarch64", ""]);
    }

    #[test]
    fn musl_reserved_names() {
        assert!(musl_builtin("libc.so"));
        assert!(musl_builtin("libpthread.so.0"));
        assert!(musl_builtin("libm.so"));
        assert!(!musl_builtin("libmagic.so.1"));
        assert!(!musl_builtin("libcrypto.so.3"));
    }

    /// The host's own closure of this test binary: every file exists, the interpreter comes
    /// first, and libc is there.
    #[test]
    fn closure_of_the_test_binary() {
        let me = std::env::current_exe().unwrap();
        let c = resolve(&me, &ResolveOptions::default()).unwrap();
        if c.interp.is_none() {
            return; // built static-pie: nothing to resolve
        }
        assert!(c.unresolved.is_empty(), "{:?}", c.unresolved);
        assert_eq!(c.files().next().unwrap().kind, EntryKind::Interp);
        assert!(c.files().any(|e| e.image_path.ends_with("/libc.so.6")));
        for e in &c.entries {
            let m = std::fs::symlink_metadata(&e.host_path).unwrap();
            assert_eq!(m.file_type().is_symlink(), e.kind == EntryKind::Symlink, "{e:?}");
        }
    }

    /// A root built from the host closure of this test binary: ld.so.conf directories come
    /// before the default ones, a candidate for another machine is skipped, and a library
    /// found only through ld.so.conf is reported as needing LD_LIBRARY_PATH in scratch.
    #[test]
    fn resolution_inside_a_root_follows_ld_so_conf_and_machine() {
        let me = std::env::current_exe().unwrap();
        let host = resolve(&me, &ResolveOptions::default()).unwrap();
        let Some(interp) = host.interp.clone() else { return };
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let put = |inside: &str, from: &Path| {
            let dest = r.join(inside.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(from, &dest).unwrap();
            dest
        };
        let libs: Vec<&ClosureEntry> = host.files().filter(|e| e.kind == EntryKind::Needed).collect();
        let interp_file = host.files().find(|e| e.kind == EntryKind::Interp).unwrap();
        put(&interp, &interp_file.host_path);
        put("/app/prog", &me);
        let soname = |e: &ClosureEntry| {
            let bytes = std::fs::read(&e.host_path).unwrap();
            Elf::parse(&bytes).unwrap().soname.map(str::to_string).unwrap()
        };
        // libc in the default directory; a copy claiming to be for another machine earlier,
        // in an ld.so.conf directory; every other library only in the ld.so.conf directory.
        std::fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
        std::fs::write(r.join("etc/ld.so.conf"), "include ld.so.conf.d/*.conf\n").unwrap();
        std::fs::write(r.join("etc/ld.so.conf.d/custom.conf"), "/opt/custom\n").unwrap();
        for e in &libs {
            let name = soname(e);
            if name == "libc.so.6" {
                put("/usr/lib/libc.so.6", &e.host_path);
                let wrong = put("/opt/custom/libc.so.6", &e.host_path);
                let mut bytes = std::fs::read(&wrong).unwrap();
                let other: u16 = if bytes[18] == 0xb7 { 0x3e } else { 0xb7 }; // e_machine: aarch64 <-> x86_64
                bytes[18..20].copy_from_slice(&other.to_le_bytes());
                std::fs::write(&wrong, bytes).unwrap();
            } else {
                put(&format!("/opt/custom/{name}"), &e.host_path);
            }
        }
        let opts = ResolveOptions { root: r.to_path_buf(), ..Default::default() };
        let c = resolve_inside("/app/prog", &opts).unwrap();
        assert!(c.unresolved.is_empty(), "{:?}", c.unresolved);
        let paths: Vec<&str> = c.files().map(|e| e.image_path.as_str()).collect();
        assert!(paths.contains(&"/usr/lib/libc.so.6"), "{paths:?}");
        assert!(!paths.contains(&"/opt/custom/libc.so.6"));
        assert!(c.warnings.iter().any(|w| w.contains("/opt/custom/libc.so.6")), "{:?}", c.warnings);
        if libs.len() > 1 {
            assert_eq!(c.cache_dirs, ["/opt/custom"]);
        }
        // Every file found is inside the root, never the host's.
        assert!(c.entries.iter().all(|e| e.host_path.starts_with(r)));
        // The same root given as LD_LIBRARY_PATH needs no ld.so.conf.
        std::fs::remove_file(r.join("etc/ld.so.conf")).unwrap();
        let lost = resolve_inside("/app/prog", &opts).unwrap();
        assert_eq!(lost.unresolved.is_empty(), libs.len() <= 1);
        let opts = ResolveOptions { library_path: vec!["/opt/custom".into()], ..opts };
        let found = resolve_inside("/app/prog", &opts).unwrap();
        assert!(found.unresolved.is_empty(), "{:?}", found.unresolved);
        assert!(found.cache_dirs.is_empty());
    }
}
