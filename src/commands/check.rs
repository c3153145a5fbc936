//! `staticize check`: a verdict per file from its ELF headers; exit 1 when any fails.

use serde::Serialize;

use crate::cli::CheckArgs;
use crate::commands::build::describe;
use crate::elf::{FileVerdict, LinkKind};
use crate::error::{Error, Result};
use crate::report::{Reporter, human_size, paint_out};

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
pub fn passes(v: &FileVerdict, allow_dynamic: bool) -> bool {
    match &v.linkage {
        Some(l) => l.kind.is_self_contained() || (allow_dynamic && l.kind == LinkKind::Dynamic),
        None => false,
    }
}

/// Runs `check`.
pub fn run(args: CheckArgs, rep: &Reporter) -> Result<()> {
    // Images and root directories: is every executable's closure inside? (issue 5)
    if args.files.iter().any(|p| crate::commands::check_image::is_image_target(p)) {
        return crate::commands::check_image::run(&args, rep);
    }
    let results: Vec<CheckedFile> = args.files.iter().map(|p| check_file(p, &args)).collect();
    finish(results, &args, rep)
}

/// Prints the verdicts (or their JSON) and fails with exit 1 when any file failed.
pub fn finish(results: Vec<CheckedFile>, args: &CheckArgs, rep: &Reporter) -> Result<()> {
    // One write for all lines: check -r prints thousands.
    if !results.is_empty() {
        rep.line(results.iter().map(file_line).collect::<Vec<_>>().join("\n"));
    }
    rep.json(&results);
    let failed = results.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        return Err(Error::Verdict {
            message: format!("{failed} of {} file(s) failed the check", results.len()),
            help: Some(if results.iter().any(|r| r.over_budget.is_some()) {
                "shrink the file (staticize builds with -Os, stripped) or raise --max-size".into()
            } else if args.allow_dynamic {
                "only ELF executables pass".into()
            } else {
                "rebuild statically (staticize c/go/rust…), bundle dynamic programs with staticize bundle, or pass --allow-dynamic".into()
            }),
        });
    }
    Ok(())
}

/// Judges one ELF file against the flags.
pub fn check_file(p: &std::path::Path, args: &CheckArgs) -> CheckedFile {
    judge(FileVerdict::of(p), args)
}

/// Judges one verdict against the flags: linkage, then the size limit.
pub fn judge(verdict: FileVerdict, args: &CheckArgs) -> CheckedFile {
    let max_size = args.max_size.map(|m| m.0);
    let over_budget = over_budget(&verdict, max_size);
    let packed = pack_verdict(&verdict);
    let damaged = matches!(packed, Some(PackVerdict::Damaged(_)));
    let ok = passes(&verdict, args.allow_dynamic) && over_budget.is_none() && !damaged;
    CheckedFile { verdict, ok, max_size, over_budget, packed }
}

/// The human line for one file: "ok   PATH: static, x86_64, 8.1 KiB".
pub fn file_line(r: &CheckedFile) -> String {
    let mark = if r.ok { paint_out("ok  ", "32") } else { paint_out("FAIL", "31") };
    let mut what = match (&r.verdict.linkage, &r.verdict.error) {
        (Some(l), _) => format!("{}, {}", describe(l), human_size(l.size)),
        (None, Some(e)) => e.clone(),
        (None, None) => String::new(),
    };
    match &r.packed {
        Some(PackVerdict::Carries(p)) => what.push_str(&format!("; {}", p.summary())),
        Some(PackVerdict::Damaged(d)) => what.push_str(&format!("; packed, but {d}: it will not run")),
        None => {}
    }
    if let Some(over) = &r.over_budget {
        what.push_str(&format!(" — {over}"));
    }
    format!("{mark} {}: {what}", r.verdict.path.display())
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
