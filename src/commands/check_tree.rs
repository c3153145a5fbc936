//! `staticize check -r DIR…`: a verdict for every ELF file below the given directories.
//! Files that are not ELF are skipped silently; files named on the command line are judged
//! as plain `check` judges them.

use std::path::{Path, PathBuf};

use crate::cli::CheckArgs;
use crate::commands::check::{CheckedFile, finish, judge};
use crate::elf::FileVerdict;
use crate::error::{Error, Result};
use crate::report::Reporter;

/// Runs `check -r`.
pub fn run(args: CheckArgs, rep: &Reporter) -> Result<()> {
    let mut results: Vec<CheckedFile> = Vec::new();
    for root in &args.files {
        let meta = std::fs::metadata(root).map_err(|e| Error::io("walk", root, e))?;
        if !meta.is_dir() {
            results.push(judge(FileVerdict::of(root), &args));
            continue;
        }
        let mut files = Vec::new();
        walk(root, &mut files)?;
        files.sort();
        for f in files {
            let bytes = match std::fs::read(&f) {
                Ok(b) => b,
                Err(e) => {
                    let verdict = FileVerdict { path: f, linkage: None, error: Some(e.to_string()) };
                    results.push(judge(verdict, &args));
                    continue;
                }
            };
            if !bytes.starts_with(b"\x7fELF") {
                continue;
            }
            let verdict = match crate::elf::inspect_bytes(&bytes) {
                Ok(l) => FileVerdict { path: f, linkage: Some(l), error: None },
                Err(e) => FileVerdict { path: f, linkage: None, error: Some(e) },
            };
            results.push(judge(verdict, &args));
        }
    }
    finish(results, &args, rep)
}

/// Collects the regular files below `dir`, not following symbolic links.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("walk", dir, e))? {
        let entry = entry.map_err(|e| Error::io("walk", dir, e))?;
        let ty = entry.file_type().map_err(|e| Error::io("walk", entry.path(), e))?;
        if ty.is_dir() {
            walk(&entry.path(), out)?;
        } else if ty.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}
