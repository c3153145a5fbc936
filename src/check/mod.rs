//! What `check` judges: one ELF file against the rules (linkage, size), every ELF file of a
//! tree ([`tree`]), and every executable inside an image or root file system ([`image`]).
//! `commands::check` picks which from its arguments and prints the results.

pub(crate) mod image;
pub(crate) mod tree;

use std::path::Path;

use serde::Serialize;

use crate::elf::{FileVerdict, LinkKind};
use crate::report::human_size;

/// What a file must be to pass.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rules {
    /// Dynamic executables pass too (`--allow-dynamic`).
    pub allow_dynamic: bool,
    /// Largest size in bytes (`--max-size`).
    pub max_size: Option<u64>,
}

/// One file's result with its pass/fail.
#[derive(Debug, Serialize)]
pub struct CheckedFile {
    /// The verdict.
    #[serde(flatten)]
    pub verdict: FileVerdict,
    /// Whether it passes the requested check.
    pub ok: bool,
    /// The size limit it was held to (`--max-size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Why it failed the size limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_budget: Option<String>,
    /// What a packed executable (`staticize pack`) carries, or why its payload is unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed: Option<PackVerdict>,
    /// Why the file runs only inside the image it was built with (a node executable whose
    /// launcher runs the package tree that image carries); such a file fails: alone it exits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_image: Option<String>,
    /// The package tree a node single executable carries inside itself (unpacked into a
    /// memory file system where it runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_tree: Option<crate::driver::node::embed::Manifest>,
    /// Libraries the carried tree's native files need that neither the tree nor the pack holds:
    /// where the file runs alone they fail to load. Any fails the check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_native_unmet: Vec<crate::pack::names::Unmet>,
}

/// A packed executable's contents, or its damage (which fails the check: it would not run).
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackVerdict {
    /// The header read cleanly: what it carries.
    Carries(crate::pack::Packed),
    /// It reads, but a packed object needs a library no packed object answers to: glibc's
    /// loader would look for it on the machine it runs on (and not find it in scratch).
    Incomplete {
        /// What it carries.
        packed: crate::pack::Packed,
        /// Each needed name no packed object answers to, and who asks.
        unmet: Vec<crate::pack::names::Unmet>,
    },
    /// The trailer is there but the rest does not add up.
    Damaged(String),
}

/// Reads a static file's pack trailer, when it has one, and proves that every library a
/// packed object needs is in the pack.
fn pack_verdict(v: &FileVerdict) -> Option<PackVerdict> {
    let l = v.linkage.as_ref()?;
    if !l.kind.is_self_contained() {
        return None;
    }
    let packed = match crate::pack::read_file(&v.path) {
        Ok(Some(Ok(p))) => p,
        Ok(Some(Err(d))) => return Some(PackVerdict::Damaged(d.message().to_string())),
        Ok(None) => return None,
        Err(e) => return Some(PackVerdict::Damaged(crate::elf::plain_reason(&e))),
    };
    let bytes = match std::fs::read(&v.path) {
        Ok(b) => b,
        Err(e) => return Some(PackVerdict::Damaged(e.to_string())),
    };
    match crate::pack::unmet_needed(&bytes) {
        Ok(unmet) if unmet.is_empty() => Some(PackVerdict::Carries(packed)),
        Ok(unmet) => Some(PackVerdict::Incomplete { packed, unmet }),
        Err(d) => Some(PackVerdict::Damaged(d.message().to_string())),
    }
}

/// Whether a verdict passes: static programs always, dynamic ones only when allowed.
pub(crate) fn passes(v: &FileVerdict, allow_dynamic: bool) -> bool {
    match &v.linkage {
        Some(l) => l.kind.is_self_contained() || (allow_dynamic && l.kind == LinkKind::Dynamic),
        None => false,
    }
}

/// Judges one ELF file against the rules.
pub(crate) fn check_file(p: &Path, rules: Rules) -> CheckedFile {
    judge(FileVerdict::of(p), rules)
}

/// Judges one verdict against the rules: linkage, then the size limit.
pub(crate) fn judge(verdict: FileVerdict, rules: Rules) -> CheckedFile {
    let over_budget = over_budget(&verdict, rules.max_size);
    let packed = pack_verdict(&verdict);
    let damaged = matches!(packed, Some(PackVerdict::Damaged(_) | PackVerdict::Incomplete { .. }));
    let sea = sea_program(&verdict, packed.as_ref());
    let needs_image = sea.as_deref().and_then(needs_image);
    let node_tree = sea.as_deref().and_then(crate::driver::node::embed::manifest_in);
    let node_native_unmet = match (&sea, &packed, &node_tree) {
        (Some(program), Some(PackVerdict::Carries(_) | PackVerdict::Incomplete { .. }), Some(_)) => {
            native_unmet(&verdict.path, program)
        }
        _ => Vec::new(),
    };
    let ok = passes(&verdict, rules.allow_dynamic)
        && over_budget.is_none()
        && !damaged
        && needs_image.is_none()
        && node_native_unmet.is_empty();
    CheckedFile {
        verdict,
        ok,
        max_size: rules.max_size,
        over_budget,
        packed,
        needs_image,
        node_tree,
        node_native_unmet,
    }
}

/// The bytes of a node single executable with a blob: the file, or the program a packed file
/// carries (decompressed from its payload).
fn sea_program(v: &FileVerdict, packed: Option<&PackVerdict>) -> Option<Vec<u8>> {
    let l = v.linkage.as_ref()?;
    let bytes = match packed {
        Some(PackVerdict::Carries(_) | PackVerdict::Incomplete { .. }) => {
            crate::pack::program_of(&std::fs::read(&v.path).ok()?)?
        }
        Some(PackVerdict::Damaged(_)) => return None,
        None if l.kind == LinkKind::Dynamic => std::fs::read(&v.path).ok()?,
        None => return None,
    };
    crate::sea::verify(&bytes).ok().filter(|c| c.blob_bytes.is_some())?;
    Some(bytes)
}

/// The needs of the native files a packed node executable's tree carries that nothing inside
/// the file meets: the tree's own libraries and the pack's objects answer by SONAME, as glibc's
/// loader matches a library it has already loaded.
fn native_unmet(path: &Path, program: &[u8]) -> Vec<crate::pack::names::Unmet> {
    let Some(files) =
        crate::driver::node::embed::archive_in(program).and_then(crate::driver::node::embed::read_archive)
    else {
        return Vec::new();
    };
    let elves: Vec<(String, &[u8])> = files.into_iter().filter(|(_, b)| b.starts_with(b"\x7fELF")).collect();
    if elves.is_empty() {
        return Vec::new();
    }
    let Ok(file) = std::fs::read(path) else { return Vec::new() };
    let tree: Vec<&str> = elves.iter().map(|(n, _)| n.as_str()).collect();
    crate::pack::unmet_needed_with(&file, &elves)
        .map(|u| u.into_iter().filter(|u| tree.contains(&u.object.as_str())).collect())
        .unwrap_or_default()
}

/// "runs only inside its image: …" for a node single executable whose blob is the launcher of
/// the tree layout of staticize before the tree travelled inside the file.
fn needs_image(bytes: &[u8]) -> Option<String> {
    let at = memchr::memmem::find(bytes, crate::sea::NEEDS_TREE.as_bytes())?;
    let root: String = bytes[at + crate::sea::NEEDS_TREE.len()..]
        .iter()
        .take_while(|b| b.is_ascii_graphic() && **b != b'\\')
        .map(|&b| b as char)
        .collect();
    Some(format!(
        "runs only inside its image: its node blob runs the package tree the image carries under {root}, so copied alone it exits 127 — run the image, or rebuild with staticize node --layout bundle"
    ))
}

/// "over the 8,192 B limit by 1,024 B" when the file is larger than `max`.
fn over_budget(v: &FileVerdict, max: Option<u64>) -> Option<String> {
    let max = max?;
    let size = match &v.linkage {
        Some(l) => l.size,
        None => std::fs::metadata(&v.path).ok()?.len(),
    };
    (size > max).then(|| format!("over the {} limit by {}", human_size(max), human_size(size - max)))
}
