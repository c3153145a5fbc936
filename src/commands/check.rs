//! `staticize check`: a verdict per file from its ELF headers; exit 1 when any fails.

use serde::Serialize;

use crate::cli::CheckArgs;
use crate::commands::build::describe;
use crate::elf::{FileVerdict, LinkKind};
use crate::error::{Error, Result};
use crate::report::{Reporter, human_size, paint};

/// One file's result with its pass/fail.
#[derive(Debug, Serialize)]
pub struct CheckedFile {
    /// The verdict.
    #[serde(flatten)]
    pub verdict: FileVerdict,
    /// Whether it passes the requested check.
    pub ok: bool,
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
    let results: Vec<CheckedFile> = args
        .files
        .iter()
        .map(|p| {
            let verdict = FileVerdict::of(p);
            let ok = passes(&verdict, args.allow_dynamic);
            CheckedFile { verdict, ok }
        })
        .collect();
    for r in &results {
        let mark = if r.ok { paint("ok  ", "32") } else { paint("FAIL", "31") };
        let what = match (&r.verdict.linkage, &r.verdict.error) {
            (Some(l), _) => format!("{}, {}", describe(l), human_size(l.size)),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        };
        rep.line(format!("{mark} {}: {what}", r.verdict.path.display()));
    }
    rep.json(&results);
    let failed = results.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        return Err(Error::Verdict {
            message: format!("{failed} of {} file(s) failed the check", results.len()),
            help: Some(if args.allow_dynamic {
                "only ELF executables pass".into()
            } else {
                "rebuild statically (staticize c/go/rust…), bundle dynamic programs with staticize bundle, or pass --allow-dynamic".into()
            }),
        });
    }
    Ok(())
}
