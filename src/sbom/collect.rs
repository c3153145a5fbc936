//! What one program contains, from what staticize knows about it: its own bytes (Go build
//! info, the Rust crate list), its sources and compiler (C/C++), its npm packages, and the
//! Debian packages of the files carried with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::debian::{self, ClosureFile};
use super::{Ecosystem, FileRef, Package, gobuildinfo, purl_escape};
use crate::closure::Closure;
use crate::digest::sha256_file;
use crate::driver::Artifact;
use crate::error::{Error, Result};

/// Largest program read whole to look for Go build info and the crate list.
const MAX_PROGRAM: u64 = 1 << 30;

/// One program, as the pipeline knows it.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The program's name.
    pub name: &'a str,
    /// The ELF file.
    pub elf: &'a Path,
    /// Where it is inside the image.
    pub program_path: &'a str,
    /// What built it, when it was built here.
    pub artifact: Option<&'a Artifact>,
    /// The inputs as given (C/C++ source files are listed with their sha256).
    pub inputs: &'a [PathBuf],
    /// npm package directories shipped (each has a package.json).
    pub npm_dirs: &'a [PathBuf],
    /// The library closure carried with it.
    pub closure: Option<&'a Closure>,
    /// For a program taken from this machine (`bundle`): its path, to find its own package.
    pub host_program: Option<&'a Path>,
    /// The shared runtime the program's file runs on in the image (node): (its file here,
    /// its path in the image), one of the program's files.
    pub runtime: Option<(&'a Path, &'a str)>,
}

/// What was found: the program's package, the packages in it, and the dpkg paragraphs of the
/// Debian packages (for `status.d` records).
#[derive(Debug, Clone)]
pub struct Collected {
    /// The program itself.
    pub program: Package,
    /// Everything in or beside it.
    pub packages: Vec<Package>,
    /// Debian packages carried: name → status paragraph.
    pub paragraphs: BTreeMap<String, String>,
}

/// Collects everything known about `s`.
pub fn collect(s: &Subject) -> Result<Collected> {
    let sha = sha256_file(s.elf)?;
    let mut program = Package::new(s.name, "", Ecosystem::Program);
    program.sha256 = Some(sha.clone());
    program.files.push(FileRef { path: s.program_path.to_string(), sha256: sha });
    if let Some((host, path)) = s.runtime {
        program.files.push(FileRef { path: path.to_string(), sha256: sha256_file(host)? });
    }
    let file = std::fs::File::open(s.elf).map_err(|e| Error::io("read", s.elf, e))?;
    // SAFETY: the staged or given file is only read; a concurrent truncation is a fault the
    // user caused, as for every mmap reader in staticize.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io("read", s.elf, e))?;
    let bytes = &map[..map.len().min(MAX_PROGRAM as usize)];
    let mut packages = Vec::new();
    if let Some(info) = gobuildinfo::read(bytes) {
        if let Some(main) = &info.main {
            program.version = main.version.clone();
            program.purl = Some(gobuildinfo::purl(main));
        }
        packages.extend(gobuildinfo::packages(&info));
        packages.push(Package::new("go", info.go_version.trim_start_matches("go"), Ecosystem::Tool));
    }
    if let Some(info) = crate::driver::rust::crates::read_embedded(bytes) {
        if let Some(root) = info.packages.iter().find(|c| c.root) {
            program.version = root.version.clone();
        }
        packages.extend(cargo_packages(&info));
    }
    drop(map);
    if let Some(a) = s.artifact.filter(|a| a.lang == "c" || a.lang == "c++" || a.lang == "cxx") {
        program.files.extend(sources(s.inputs)?);
        packages.extend(c_tools(a));
        packages.extend(super::staticlibs::packages(&a.archives)?);
    }
    packages.extend(npm_packages(s.npm_dirs));
    let mut paragraphs = BTreeMap::new();
    if let Some(c) = s.closure {
        let (debs, pars) = closure_owners(c, s.host_program, s.program_path)?;
        packages.extend(debs);
        paragraphs = pars;
    }
    Ok(Collected { program, packages, paragraphs })
}

/// The Debian packages (and unowned files) a dynamic program's closure carries; with
/// `host_program`, a program taken from this machine (`bundle`), its own package too.
pub fn closure_owners(
    c: &Closure,
    host_program: Option<&Path>,
    program_path: &str,
) -> Result<(Vec<Package>, BTreeMap<String, String>)> {
    if !c.is_dynamic() {
        return Ok((Vec::new(), BTreeMap::new()));
    }
    let root = debian::closure_root(c);
    let mut files = debian::closure_files(c);
    if let Some(host) = host_program.filter(|_| root == Path::new("/")) {
        let inside = std::fs::canonicalize(host).map_err(|e| Error::io("read", host, e))?;
        let inside = inside.to_string_lossy().into_owned();
        files.push(ClosureFile { inside, image_path: program_path.to_string(), host_path: host.to_path_buf() });
    }
    let (mut packages, paragraphs) = debian::owners(&root, &files)?;
    // The program itself is the document's subject: listed as unowned it would be listed twice.
    for p in packages.iter_mut().filter(|p| p.ecosystem == Ecosystem::Unowned) {
        p.files.retain(|f| f.path != program_path);
    }
    packages.retain(|p| p.ecosystem != Ecosystem::Unowned || !p.files.is_empty());
    Ok((packages, paragraphs))
}

/// The source files among the inputs, relative to the current directory when below it.
fn sources(inputs: &[PathBuf]) -> Result<Vec<FileRef>> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut out = Vec::new();
    for i in inputs.iter().filter(|i| i.is_file()) {
        let abs = std::fs::canonicalize(i).unwrap_or_else(|_| i.clone());
        let rel = abs.strip_prefix(&cwd).map(Path::to_path_buf).unwrap_or_else(|_| i.clone());
        out.push(FileRef { path: rel.to_string_lossy().into_owned(), sha256: sha256_file(i)? });
    }
    Ok(out)
}

/// The compiler and C library that made a C/C++ program, with their Debian package when the
/// compiler is one.
fn c_tools(a: &Artifact) -> Vec<Package> {
    let mut words = a.toolchain_used.split_whitespace();
    let compiler = words.next().unwrap_or("cc").to_string();
    let version = words.find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit())).unwrap_or("");
    // "gcc (Debian 12.2.0-14+deb12u1) 12.2.0": the word keeps the parenthesis.
    let version = version.trim_end_matches(')').to_string();
    let mut tool = Package::new(&compiler, version, Ecosystem::Tool);
    if let (Ok(path), Ok(Some(db))) = (which::which(&compiler), crate::pkgdb::PackageDb::open(Path::new("/"))) {
        let real = std::fs::canonicalize(&path).unwrap_or(path);
        if let Some(owner) = db.owner(&real.to_string_lossy()) {
            tool.supplier = Some(format!("Debian ({} {})", owner.name, owner.version));
        }
    }
    let libc = if a.target.contains("musl") { "musl" } else { "glibc" };
    vec![tool, Package::new(libc, "", Ecosystem::Tool)]
}

/// npm packages from their package.json files (`pkg:npm/%40scope/name@version`).
pub fn npm_packages(dirs: &[PathBuf]) -> Vec<Package> {
    dirs.iter()
        .filter_map(|d| crate::driver::node::source::package_json(d))
        .filter_map(|j| {
            let name = j["name"].as_str()?.to_string();
            let version = j["version"].as_str().unwrap_or("").to_string();
            let mut p = Package::new(&name, &version, Ecosystem::Npm);
            let encoded = match name.split_once('/') {
                Some((scope, n)) if scope.starts_with('@') => format!("{}/{}", purl_escape(scope), purl_escape(n)),
                _ => purl_escape(&name),
            };
            p.purl = Some(format!("pkg:npm/{encoded}@{}", purl_escape(&version)));
            if let Some(l) = j["license"].as_str() {
                p.licenses.push(l.to_string());
            }
            p.supplier = Some("npm".into());
            Some(p)
        })
        .collect()
}

/// The SBOM of an output: `subject` is the image's manifest digest (or the program's
/// sha256), the programs those of every platform (packages merged, the first one's name).
pub fn sbom(name: &str, subject: &str, programs: &[Subject]) -> Result<super::Sbom> {
    let mut packages = Vec::new();
    let mut program: Option<Package> = None;
    for s in programs {
        let c = collect(s)?;
        packages.extend(c.packages);
        match &mut program {
            None => program = Some(c.program),
            Some(p) => p.files.extend(c.program.files),
        }
    }
    let mut program = program.unwrap_or_else(|| Package::new(name, "", Ecosystem::Program));
    program.name = name.to_string();
    let created = crate::epoch::source_date_epoch()?;
    let mut s = super::Sbom { name: name.to_string(), subject: subject.to_string(), created, program, packages };
    s.normalize();
    Ok(s)
}
/// The crates as SBOM packages (`pkg:cargo/NAME@VERSION`); the root package is the program
/// itself and left out.
fn cargo_packages(info: &crate::driver::rust::crates::VersionInfo) -> Vec<Package> {
    info.packages
        .iter()
        .filter(|c| !c.root)
        .map(|c| {
            let mut p = Package::new(&c.name, &c.version, Ecosystem::Cargo);
            p.purl = Some(format!("pkg:cargo/{}@{}", purl_escape(&c.name), purl_escape(&c.version)));
            if c.source == "crates.io" {
                p.supplier = Some("crates.io".into());
            }
            p
        })
        .collect()
}
