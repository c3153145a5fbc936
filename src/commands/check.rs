//! `staticize check`: a verdict per file from its ELF headers (`-r`: every ELF file below a
//! directory; an image or root directory: every executable inside); exit 1 when any fails.
//! The one place that picks which from the arguments; the judging is [`crate::check`]'s.

use crate::check::image::{ImageCheck, check_target, is_image_target};
use crate::check::{CheckedFile, Rules, check_file, judge, tree};
use crate::cli::CheckArgs;
use crate::elf::describe;
use crate::elf::{FileVerdict, LinkKind};
use crate::error::{Error, Result};
use crate::report::{Reporter, human_size, paint_out};

/// Runs `check`: `-r` walks trees; images and root directories are looked inside (is every
/// executable's closure inside?); anything else is one ELF file.
pub fn run(args: CheckArgs, rep: &Reporter) -> Result<()> {
    if args.recursive {
        return run_tree(&args, rep);
    }
    if args.files.iter().any(|p| is_image_target(p)) {
        return run_images(&args, rep);
    }
    let results: Vec<CheckedFile> = args.files.iter().map(|p| check_file(p, rules(&args))).collect();
    finish(results, &args, rep)
}

/// The flags as rules.
fn rules(args: &CheckArgs) -> Rules {
    Rules { allow_dynamic: args.allow_dynamic, max_size: args.max_size.map(|m| m.0) }
}

/// `check -r`: every ELF file below the directories; files named are judged as plain `check`
/// judges them.
fn run_tree(args: &CheckArgs, rep: &Reporter) -> Result<()> {
    let mut results: Vec<CheckedFile> = Vec::new();
    for root in &args.files {
        let meta = std::fs::metadata(root).map_err(|e| Error::io("walk", root, e))?;
        if !meta.is_dir() {
            results.push(judge(FileVerdict::of(root), rules(args)));
            continue;
        }
        let mut verdicts = tree::walk(root)?;
        verdicts.sort_by(|a, b| a.path.cmp(&b.path));
        results.extend(verdicts.into_iter().map(|v| judge(v, rules(args))));
    }
    finish(results, args, rep)
}

/// `check` with at least one image or directory among its arguments; plain ELF files are
/// judged as `check` always does.
fn run_images(args: &CheckArgs, rep: &Reporter) -> Result<()> {
    let mut json = Vec::new();
    let mut failed = 0;
    let total = args.files.len();
    for p in &args.files {
        if is_image_target(p) {
            let c = check_target(p)?;
            print_image(&c, rep);
            failed += usize::from(!c.ok);
            json.push(serde_json::to_value(&c).expect("checks serialise"));
        } else {
            let r = check_file(p, rules(args));
            rep.line(file_line(&r));
            failed += usize::from(!r.ok);
            json.push(serde_json::to_value(r).expect("checks serialise"));
        }
    }
    rep.json(&json);
    if failed > 0 {
        return Err(Error::Verdict {
            message: format!("{failed} of {total} failed the check"),
            help: Some(
                "carry the missing libraries: staticize bundle PROGRAM (add --lib NAME for dlopen()ed ones)".into(),
            ),
        });
    }
    Ok(())
}

/// Prints the verdicts (or their JSON) and fails with exit 1 when any file failed.
fn finish(results: Vec<CheckedFile>, args: &CheckArgs, rep: &Reporter) -> Result<()> {
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

/// The human line for one file: "ok   PATH: static, x86_64, 8.1 KiB".
pub fn file_line(r: &CheckedFile) -> String {
    let mark = if r.ok { paint_out("ok  ", "32") } else { paint_out("FAIL", "31") };
    let mut what = match (&r.verdict.linkage, &r.verdict.error) {
        (Some(l), _) => format!("{}, {}", describe(l), human_size(l.size)),
        (None, Some(e)) => e.clone(),
        (None, None) => String::new(),
    };
    if let Some(over) = &r.over_budget {
        what.push_str(&format!(" — {over}"));
    }
    format!("{mark} {}: {what}", r.verdict.path.display())
}

fn print_image(c: &ImageCheck, rep: &Reporter) {
    let name = c.path.display();
    if c.executables.is_empty() {
        let what = if c.kind == "rootfs" { "is a directory with" } else { "is an image with" };
        rep.line(format!("{} {name}: {what} no ELF executable inside", paint_out("FAIL", "31")));
    }
    for e in &c.executables {
        let mark = if e.ok { paint_out("ok  ", "32") } else { paint_out("FAIL", "31") };
        let what = match (e.linkage, e.ok) {
            (LinkKind::Dynamic, true) => {
                format!("dynamic, its closure is inside the {} ({} files)", c.kind, e.files_found)
            }
            (LinkKind::Dynamic, false) => format!("dynamic, missing {}", e.missing.join(", ")),
            (k, _) => k.label().to_string(),
        };
        rep.line(format!("{mark} {name}:{}: {what}", e.path));
        for o in &e.optional_missing {
            rep.warn(format!("{name}:{}: optional dlopen() library missing: {o}", e.path));
        }
    }
    for w in &c.warnings {
        rep.warn(format!("{name}: {w}"));
    }
    if let Some(m) = &c.entrypoint_missing {
        rep.line(format!("{} {name}: {m}", paint_out("FAIL", "31")));
    }
}
