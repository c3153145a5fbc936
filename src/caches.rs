//! Every cache staticize keeps between runs, in one list: what each holds, where, and how big
//! it is — for `staticize cache info` and `staticize cache clean`. Each cache stays where its
//! own module puts it; this module only names them.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// The caches' names, in the order they are listed.
pub const NAMES: [&str; 7] = ["blobs", "proofs", "objects", "go", "deps", "crates", "downloads"];

/// One cache and what it holds now.
#[derive(Debug, Clone, Serialize)]
pub struct Cache {
    /// Its name ("blobs").
    pub name: &'static str,
    /// What it keeps.
    pub what: &'static str,
    /// Its directories (downloads: one per download).
    pub dirs: Vec<PathBuf>,
    /// Regular files in it.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Entries of this kind in the cache registry (`cache info --cache-registry`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_entries: Option<usize>,
}

/// Every cache, measured.
pub fn all() -> Vec<Cache> {
    NAMES.iter().map(|n| of(n)).collect()
}

/// The cache named `name` (one of [`NAMES`]), measured.
fn of(name: &'static str) -> Cache {
    let root = crate::output::cache_dir();
    let (what, dirs) = match name {
        "blobs" => ("compressed layers, by their tar's digest", vec![crate::image::blobcache::dir()]),
        "proofs" => ("passing proof runs, by the image archive's digest", vec![crate::prove::memo::dir()]),
        "objects" => ("compiled C and C++ objects", vec![crate::driver::objcache::dir()]),
        "go" => ("linked Go programs, per package and settings", vec![crate::driver::go_cache::dir()]),
        "deps" => ("libraries built static for musl (--dep)", vec![crate::deps::cache::root()]),
        "crates" => ("crates fetched for staticize rust NAME@VERSION", vec![root.join("crates")]),
        _ => ("node and Debian packages fetched for other platforms", downloads(&root)),
    };
    let (files, bytes) = dirs.iter().map(|d| measure(d)).fold((0, 0), |(f, b), (f2, b2)| (f + f2, b + b2));
    Cache { name, what, dirs, files, bytes, registry_entries: None }
}

/// The download directories: whatever else is in the cache directory.
fn downloads(root: &Path) -> Vec<PathBuf> {
    let Ok(read) = fs::read_dir(root) else { return Vec::new() };
    let mut out: Vec<PathBuf> = read
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            !["blobs", "proofs", "objects", "go", "deps", "crates"].contains(&e.file_name().to_string_lossy().as_ref())
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Files and bytes under `dir` (links not followed).
fn measure(dir: &Path) -> (u64, u64) {
    let Ok(read) = fs::read_dir(dir) else { return (0, 0) };
    let mut total = (0, 0);
    for e in read.flatten() {
        let Ok(m) = fs::symlink_metadata(e.path()) else { continue };
        if m.is_dir() {
            let (f, b) = measure(&e.path());
            total = (total.0 + f, total.1 + b);
        } else if m.is_file() {
            total = (total.0 + 1, total.1 + m.len());
        }
    }
    total
}

/// Empties the caches named (every one when `names` is empty); returns them as they were.
pub fn clean(names: &[String]) -> Result<Vec<Cache>> {
    let mut out = Vec::new();
    for name in NAMES.iter().filter(|n| names.is_empty() || names.iter().any(|m| m == *n)) {
        let cache = of(name);
        for d in cache.dirs.iter().filter(|d| d.exists()) {
            fs::remove_dir_all(d).map_err(|e| Error::io("remove", d, e))?;
        }
        out.push(cache);
    }
    Ok(out)
}
