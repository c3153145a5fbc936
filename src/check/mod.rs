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
}

/// A packed executable's contents, or its damage (which fails the check: it would not run).
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackVerdict {
    /// The header read cleanly: what it carries.
    Carries(crate::pack::Packed),
    /// The trailer is there but the rest does not add up.
    Damaged(String),
}

/// Reads a static file's pack trailer, when it has one.
fn pack_verdict(v: &FileVerdict) -> Option<PackVerdict> {
    let l = v.linkage.as_ref()?;
    if !l.kind.is_self_contained() {
        return None;
    }
    match crate::pack::read_file(&v.path) {
        Ok(Some(Ok(p))) => Some(PackVerdict::Carries(p)),
        Ok(Some(Err(d))) => Some(PackVerdict::Damaged(d.message().to_string())),
        Ok(None) => None,
        Err(e) => Some(PackVerdict::Damaged(crate::elf::plain_reason(&e))),
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
    let damaged = matches!(packed, Some(PackVerdict::Damaged(_)));
    let needs_image = needs_image(&verdict, packed.as_ref());
    let ok = passes(&verdict, rules.allow_dynamic) && over_budget.is_none() && !damaged && needs_image.is_none();
    CheckedFile { verdict, ok, max_size: rules.max_size, over_budget, packed, needs_image }
}

/// Largest program read back out of a pack to look at its node blob.
const MAX_PROGRAM: u64 = 1 << 30;

/// "runs only inside its image: …" for a node single executable (plain, or packed: then the
/// program is decompressed from the payload) whose blob is the tree layout's launcher.
fn needs_image(v: &FileVerdict, packed: Option<&PackVerdict>) -> Option<String> {
    let l = v.linkage.as_ref()?;
    let bytes = match packed {
        Some(PackVerdict::Carries(_)) => packed_program(&std::fs::read(&v.path).ok()?)?,
        Some(PackVerdict::Damaged(_)) => return None,
        None if l.kind == LinkKind::Dynamic => std::fs::read(&v.path).ok()?,
        None => return None,
    };
    crate::sea::verify(&bytes).ok().filter(|c| c.blob_bytes.is_some())?;
    let at = memchr::memmem::find(&bytes, crate::sea::NEEDS_TREE.as_bytes())?;
    let root: String = bytes[at + crate::sea::NEEDS_TREE.len()..]
        .iter()
        .take_while(|b| b.is_ascii_graphic() && **b != b'\\')
        .map(|&b| b as char)
        .collect();
    Some(format!(
        "runs only inside its image: its node blob runs the package tree the image carries under {root}, so copied alone it exits 127 — run the image, or rebuild with staticize node --layout bundle"
    ))
}

/// The program a packed file carries, decompressed from the frames that hold it.
fn packed_program(file: &[u8]) -> Option<Vec<u8>> {
    let p = crate::pack::format::parse(file).ok()?;
    let e = p.entries().find(|e| e.role == crate::pack::format::ROLE_PROGRAM)?;
    if e.size > MAX_PROGRAM {
        return None;
    }
    let (start, end) = (e.offset, e.offset + e.size);
    let mut out = Vec::with_capacity(e.size as usize);
    for f in p.frames().filter(|f| f.raw_offset < end && f.raw_offset + f.raw_len > start) {
        let raw = zstd::bulk::decompress(f.data, f.raw_len as usize).ok()?;
        let from = start.saturating_sub(f.raw_offset) as usize;
        let to = (end - f.raw_offset).min(f.raw_len) as usize;
        out.extend_from_slice(raw.get(from..to)?);
    }
    (out.len() as u64 == e.size).then_some(out)
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
