//! The object cache of the C and C++ driver: each source is compiled to an object file of its
//! own, kept under a key made of everything that decides its bytes, and an unchanged source is
//! not compiled again. The key hashes the compiler (command and version), the flags, the path as
//! given (it ends up in the object) and the source *preprocessed* (`cc -E`), so a changed header
//! recompiles every file that includes it. The program is then linked from the objects, so a
//! build from the cache and a clean build give the same bytes.
//!
//! Objects live in $STATICIZE_CACHE/objects (else ~/.cache/staticize/objects), written to a
//! temporary file and renamed: two builds at once never see half an object.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::process::Command;
use crate::toolchain::Compiler;

/// Bumped when the key's recipe changes, so old entries are never mistaken for new ones.
const KEY_VERSION: &str = "staticize-objects-2";

/// Which sources were compiled and which came from the cache.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Objects {
    /// Sources compiled in this build.
    pub compiled: Vec<String>,
    /// Sources whose object came from the cache.
    pub cached: Vec<String>,
    /// The cache directory.
    pub dir: PathBuf,
}

impl Objects {
    /// "1 compiled (half.c), 1 from the cache (main.c)".
    pub(crate) fn summary(&self) -> String {
        let list = |v: &[String]| if v.is_empty() { String::new() } else { format!(" ({})", v.join(" ")) };
        format!(
            "{} compiled{}, {} from the cache{} in {}",
            self.compiled.len(),
            list(&self.compiled),
            self.cached.len(),
            list(&self.cached),
            self.dir.display()
        )
    }
}

/// The cache directory for objects.
pub(crate) fn dir() -> PathBuf {
    crate::output::cache_dir().join("objects")
}

/// Source files the cache compiles one by one; anything else keeps the one-command build.
const SOURCE_EXTENSIONS: &[&str] = &["c", "cc", "cpp", "cxx", "c++", "C", "s", "S"];

/// Splits extra arguments into those for compiling and those only for linking, or None when
/// they hold something the per-file build cannot place with certainty (a file, `-x`, `-c`, an
/// option taking a separate word other than -I/-D/-U): such builds run as one command.
pub(crate) fn split_args(extra: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let (mut compile, mut link) = (Vec::new(), Vec::new());
    let mut it = extra.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-I" | "-D" | "-U" => {
                compile.push(a.clone());
                compile.push(it.next()?.clone());
            }
            "-c" | "-E" | "-S" | "-x" | "-o" => return None,
            s if link_only(s) => link.push(a.clone()),
            s if s.starts_with('-') && !s.starts_with("-M") && !takes_value(s) => compile.push(a.clone()),
            _ => return None,
        }
    }
    Some((compile, link))
}

/// Flags that only mean something to the linker.
fn link_only(flag: &str) -> bool {
    flag.starts_with("-l")
        || flag.starts_with("-L")
        || flag.starts_with("-Wl,")
        || matches!(flag, "-static" | "-static-pie" | "-shared" | "-s" | "-pie" | "-no-pie" | "-rdynamic")
}

/// Options whose value is the next word (the per-file build would need to know which).
fn takes_value(opt: &str) -> bool {
    matches!(
        opt,
        "-include" | "-imacros" | "-isystem" | "-iquote" | "-idirafter" | "-Xlinker" | "-Xassembler" | "-target"
    )
}

/// Whether every input is a source file the cache compiles one by one.
pub(crate) fn all_sources(inputs: &[PathBuf]) -> bool {
    inputs.iter().all(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| SOURCE_EXTENSIONS.contains(&e)))
}

/// Compiles (or takes from the cache) one object per source into `staging`, in input order.
pub(crate) fn objects(
    compiler: &Compiler,
    sources: &[PathBuf],
    compile_args: &[String],
    staging: &Path,
) -> Result<(Vec<PathBuf>, Objects)> {
    let cache = dir();
    std::fs::create_dir_all(&cache).map_err(|e| Error::io("create the object cache", &cache, e))?;
    // Two cores or twenty: each file compiles on its own, so they go side by side.
    let results: Vec<Result<(PathBuf, bool)>> = sources
        .par_iter()
        .enumerate()
        .map(|(i, src)| one(compiler, src, compile_args, &staging.join(format!("{i}.o")), &cache))
        .collect();
    let mut report = Objects { dir: cache, ..Default::default() };
    let mut objs = Vec::new();
    for (src, r) in sources.iter().zip(results) {
        let (obj, hit) = r?;
        let name = src.display().to_string();
        if hit {
            report.cached.push(name)
        } else {
            report.compiled.push(name)
        }
        objs.push(obj);
    }
    Ok((objs, report))
}

/// One source: its object from the cache when the key is there, else compiled and stored.
fn one(compiler: &Compiler, src: &Path, args: &[String], obj: &Path, cache: &Path) -> Result<(PathBuf, bool)> {
    let step = format!("compile {} with {}", src.display(), compiler.name);
    // Link-only flags stay out of the compile: zig cc takes `-s` with `-c` as "strip the
    // object", which leaves the link without `main`.
    let toolchain_flags: Vec<&String> =
        compiler.flags.iter().chain(&compiler.profile_flags).filter(|f| !link_only(f)).collect();
    let base = || Command::from_argv(&compiler.argv).args(toolchain_flags.iter().copied()).args(args);
    let pre = base().arg("-E").arg(src).run(&step)?;
    let mut h = Sha256::new();
    for part in [KEY_VERSION, &compiler.argv.join(" "), &compiler.version, &args.join("\u{1f}")] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for f in compiler.flags.iter().chain(&compiler.profile_flags) {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    h.update(src.as_os_str().as_encoded_bytes());
    h.update([0]);
    // The raw bytes too: the preprocessed text was read as UTF-8, lossily.
    h.update(std::fs::read(src).map_err(|e| Error::io("read source", src, e))?);
    h.update([0]);
    h.update(pre.stdout.as_bytes());
    let key = hex::encode(h.finalize());
    let cached = cache.join(&key[..2]).join(format!("{}.o", &key[2..]));
    if cached.is_file() && std::fs::copy(&cached, obj).is_ok() {
        return Ok((obj.to_path_buf(), true));
    }
    base().arg("-c").arg(src).arg("-o").arg(obj).run(&step)?;
    store(obj, &cached);
    Ok((obj.to_path_buf(), false))
}

/// Puts a copy of `obj` at `dest` atomically; a cache that cannot be written only costs speed.
fn store(obj: &Path, dest: &Path) {
    let Some(parent) = dest.parent() else { return };
    if std::fs::create_dir_all(parent).is_err() {
        return;
    }
    let Ok(tmp) = tempfile::Builder::new().prefix(".tmp-").tempfile_in(parent) else { return };
    if std::fs::copy(obj, tmp.path()).is_ok() {
        let _ = tmp.persist(dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn extra_arguments_are_placed_or_refused() {
        let (c, l) = split_args(&words("-Iinc -DWHO=x -O3 -lm -L/opt/lib -Wl,-z,now -static -I dir")).unwrap();
        assert_eq!(c, words("-Iinc -DWHO=x -O3 -I dir"));
        assert_eq!(l, words("-lm -L/opt/lib -Wl,-z,now -static"));
        assert!(split_args(&words("extra.o")).is_none());
        assert!(split_args(&words("-c")).is_none());
        assert!(split_args(&words("-include config.h")).is_none());
        assert!(split_args(&words("-MD")).is_none());
    }

    #[test]
    fn only_source_files_go_one_by_one() {
        assert!(all_sources(&[PathBuf::from("a.c"), PathBuf::from("b.cpp")]));
        assert!(!all_sources(&[PathBuf::from("a.c"), PathBuf::from("lib.a")]));
    }
}
