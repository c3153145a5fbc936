//! What a packed interpreter needs beside its one file: its standard library. The pack holds
//! ELF objects only; python, perl, ruby and lua read their library trees from the file system
//! at the prefix compiled into them (`No module named 'encodings'` without it). So the image
//! `pack` writes carries those trees at their host paths, with the libraries their extension
//! modules load (libssl for `_ssl`), exactly as `bundle` does; the packed file alone runs only
//! where the trees are — the step line and `check` say so.

use std::collections::BTreeSet;
use std::path::Path;

use crate::bundle::stdlib::{self, Stdlib};
use crate::closure::ResolveOptions;
use crate::error::{Error, Result};
use crate::image::options::AddSpec;
use crate::image::rootfs::Rootfs;
use crate::report::human_size;

/// The standard library the packed `program` needs beside it, when it is a known interpreter.
pub(crate) fn stdlib_of(program: &Path) -> Option<Stdlib> {
    stdlib::find(program)
}

/// The runtime a packed program's name says it is ("python3.11" → "python"), when it is one
/// whose standard library lives outside the pack.
pub fn runtime_named(name: &str) -> Option<&'static str> {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    ["python", "perl", "ruby", "lua"].into_iter().find(|r| *r == base)
}

/// The sentence that the packed file of `runtime` does not run alone.
pub(crate) fn alone_note(runtime: &str, dirs: &[String]) -> String {
    format!(
        "{runtime} reads its standard library from the file system, which the packed file does not hold: it runs where {} is, as in the image pack writes (copy the tree beside it elsewhere)",
        dirs.join(" and ")
    )
}

/// Puts `s`'s trees into `rootfs` at their host paths, then the closure of every ELF object in
/// them; returns one report line per tree and one for the libraries. A library the modules
/// need that is not on this machine fails the pack (exit 1), unless `allow_missing`.
/// A virtual environment's tree comes too, the packed file standing at its python's path
/// (`program_path`, where `pack` put it).
pub(crate) fn carry(rootfs: &mut Rootfs, s: &Stdlib, program_path: &str, allow_missing: bool) -> Result<Vec<String>> {
    let before: BTreeSet<String> = rootfs.entries().map(|(p, _)| p.clone()).collect();
    let mut lines = Vec::new();
    if let Some(v) = &s.venv {
        let packed = rootfs.get(program_path).cloned();
        lines.push(crate::bundle::complete::carry_venv(rootfs, v)?);
        // The venv's python (a link to the interpreter) is the packed file itself here.
        if let Some(crate::image::rootfs::Entry::File { source, mode }) = packed {
            rootfs.add_file(program_path, source, mode)?;
        }
    }
    for dir in &s.dirs {
        let spec = AddSpec { src: dir.clone(), dest: dir.to_string_lossy().into_owned(), mode: None };
        let n = crate::image::add::add(rootfs, &spec)?;
        lines.push(format!(
            "carried the {} standard library {} ({} files, {}) beside the packed file",
            s.runtime,
            dir.display(),
            n.files,
            human_size(n.bytes)
        ));
    }
    let carried = crate::bundle::carry_closures(rootfs, &before, &ResolveOptions::default())?;
    if !carried.unresolved.is_empty() && !allow_missing {
        let names: Vec<String> = carried.unresolved.iter().map(ToString::to_string).collect();
        return Err(Error::Verdict {
            message: format!(
                "the {} standard library's modules need libraries not found: {}",
                s.runtime,
                names.join(", ")
            ),
            help: Some(
                "install the packages that provide them, or pass --allow-missing to write the image anyway".into(),
            ),
        });
    }
    if !carried.files.is_empty() {
        lines.push(format!(
            "{} extension modules: carried {} libraries they load ({})",
            carried.objects,
            carried.files.len(),
            human_size(carried.bytes)
        ));
    }
    Ok(lines)
}
