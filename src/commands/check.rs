//! `staticize check`: a verdict per file from its ELF headers (`-r`: every ELF file below a
//! directory; an image or root directory: every executable inside); exit 1 when any fails.
//! The one place that picks which from the arguments; the judging is [`crate::check`]'s.

use crate::check::image::{ImageCheck, check_target, help_lines, is_image_target};
use crate::check::{CheckedFile, PackVerdict, Rules, check_file, judge, tree};
use crate::cli::CheckArgs;
use crate::elf::describe;
use crate::elf::{FileVerdict, LinkKind};
use crate::error::{Error, Result};
use crate::image::unpack::UnpackLimits;
use crate::prove::{Ending, Proof, ProofRequest};
use crate::report::{Reporter, human_size, paint_out};
use std::path::Path;

/// Runs `check`: `-r` walks trees; images and root directories are looked inside (is every
/// executable's closure inside?); anything else is one ELF file.
pub fn run(args: CheckArgs, rep: &Reporter) -> Result<()> {
    if let Some(missing) = args.files.iter().find(|p| args.run && std::fs::symlink_metadata(p).is_err()) {
        // A path that is not there is named as such, not taken for the wrong kind of input.
        return Err(Error::input(
            missing,
            "does not exist".to_string(),
            Some("give an image archive or a root directory".into()),
        ));
    }
    if args.run && (args.recursive || !args.files.iter().all(|p| is_image_target(p))) {
        return Err(Error::usage(
            "--run proves images and root directories, not single files or trees (-r)",
            "put the program in an image first (staticize image / bundle), then check IMAGE.tar --run",
        ));
    }
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
    let mut images = Vec::new();
    let mut files_failed = 0;
    let limits = UnpackLimits {
        max_bytes: args.max_unpacked.map_or(UnpackLimits::default().max_bytes, |s| s.0),
        ..Default::default()
    };
    let mut proofs = Vec::new();
    for p in &args.files {
        if is_image_target(p) {
            let c = check_target(p, &limits)?;
            print_image(&c, rep);
            let mut value = serde_json::to_value(&c).expect("checks serialise");
            if args.run {
                let proof = run_proof(p, args)?;
                print_proof(p, &proof, rep);
                value["proof"] = serde_json::to_value(&proof).expect("proofs serialise");
                proofs.push(proof);
            }
            json.push(value);
            images.push(c);
        } else {
            let r = check_file(p, rules(args));
            rep.line(file_line(&r));
            files_failed += usize::from(!r.ok);
            json.push(serde_json::to_value(r).expect("checks serialise"));
        }
    }
    rep.json(&json);
    let failed = files_failed + images.iter().filter(|c| !c.ok).count();
    let failed_runs: Vec<&Proof> = proofs.iter().filter(|p| !p.ok).collect();
    if failed > 0 || !failed_runs.is_empty() {
        // One help line per kind of failure met.
        let mut help = help_lines(&images, files_failed > 0);
        help.extend(failed_runs.iter().map(|p| crate::prove::stage::help(p)));
        help.dedup();
        let message = match (failed, failed_runs.len()) {
            (0, runs) => format!("{runs} of {} failed the proof run", args.files.len()),
            (f, 0) => format!("{f} of {} failed the check", args.files.len()),
            (f, runs) => format!("{f} of {} failed the check, {runs} the proof run", args.files.len()),
        };
        return Err(Error::Verdict { message, help: Some(help.join("\nhelp: ")) });
    }
    Ok(())
}

/// `--run`: the image (or root directory) run in its own files.
fn run_proof(target: &Path, args: &CheckArgs) -> Result<Proof> {
    let timeout = match args.timeout {
        None => crate::prove::CHECK_TIMEOUT,
        Some(s) => crate::commands::settings::seconds("--timeout", s)?,
    };
    let req = ProofRequest { args: (!args.args.is_empty()).then(|| args.args.clone()), timeout, port: args.port };
    if target.is_dir() && !crate::image::unpack::is_oci_layout(target) {
        // A root directory has no config: the arguments are the whole command.
        return crate::prove::prove_root(
            target,
            crate::platform::Arch::host(),
            &Default::default(),
            &req,
            crate::prove::sandbox::RootMode::ReadOnly,
        );
    }
    crate::prove::prove_archive(target, &req)
}

fn print_proof(target: &Path, proof: &Proof, rep: &Reporter) {
    let mark = match (&proof.ending, proof.ok) {
        (Ending::NotRun { .. }, _) => paint_out("skip", "33"),
        (_, true) => paint_out("ok  ", "32"),
        (_, false) => paint_out("FAIL", "31"),
    };
    let mut lines = crate::prove::stage::lines(proof).into_iter();
    rep.line(format!("{mark} {}: {}", target.display(), lines.next().unwrap_or_default()));
    for l in lines {
        rep.line(format!("     {l}"));
    }
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
            help: Some(file_help(&results, args.allow_dynamic)),
        });
    }
    Ok(())
}

/// One help line per kind of failed file: over the size budget, a damaged pack, not static.
fn file_help(results: &[CheckedFile], allow_dynamic: bool) -> String {
    let failed = || results.iter().filter(|r| !r.ok);
    let damaged = |r: &CheckedFile| matches!(r.packed, Some(PackVerdict::Damaged(_) | PackVerdict::Incomplete { .. }));
    let incomplete = |r: &CheckedFile| matches!(r.packed, Some(PackVerdict::Incomplete { .. }));
    let mut lines = Vec::new();
    if failed().any(|r| r.over_budget.is_some()) {
        lines.push("shrink the file (staticize builds with -Os, stripped) or raise --max-size");
    }
    if failed().any(incomplete) {
        lines.push("a packed object needs a library the pack does not answer for: pack it again with this staticize (it makes each packed object ask by SONAME), or add the library with --lib PATH");
    }
    if failed().any(|r| damaged(r) && !incomplete(r)) {
        lines.push("a damaged or truncated packed file cannot run: pack the program again (staticize pack PROGRAM)");
    }
    if failed().any(|r| !r.node_native_unmet.is_empty()) {
        lines.push("a native module of the carried node tree needs a library nothing in the file holds: install it on the build machine and build again (staticize node carries what the closure finds)");
    }
    if failed().any(|r| r.needs_image.is_some()) {
        lines.push("a node executable of the package-tree layout runs the tree its image carries: ship the image, or rebuild with --layout bundle");
    }
    if failed()
        .any(|r| r.over_budget.is_none() && !damaged(r) && r.needs_image.is_none() && r.node_native_unmet.is_empty())
    {
        lines.push(if allow_dynamic {
            "only ELF executables pass"
        } else {
            "rebuild statically (staticize c/go/rust…), bundle dynamic programs with staticize bundle, or pass --allow-dynamic"
        });
    }
    lines.join("\nhelp: ")
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
        Some(PackVerdict::Incomplete { packed, unmet }) => {
            let names: Vec<String> = unmet.iter().map(|u| format!("{} (needed by {})", u.needed, u.object)).collect();
            what.push_str(&format!(
                "; {}, but no packed object answers to {}: outside this machine it will not run",
                packed.summary(),
                names.join(", ")
            ));
        }
        None => {}
    }
    if let Some(over) = &r.over_budget {
        what.push_str(&format!(" — {over}"));
    }
    if let Some(n) = &r.needs_image {
        what.push_str(&format!("; {n}"));
    }
    if let Some(t) = &r.node_tree {
        what.push_str(&format!("; {}", crate::driver::node::embed::describe(t)));
    }
    if !r.node_native_unmet.is_empty() {
        let names: Vec<String> =
            r.node_native_unmet.iter().map(|u| format!("{} needs {}", u.object, u.needed)).collect();
        what.push_str(&format!(
            "; but no library in the tree or the pack answers: {} — alone it will fail to load them",
            names.join(", ")
        ));
    }
    format!("{mark} {}: {what}", r.verdict.path.display())
}

fn print_image(c: &ImageCheck, rep: &Reporter) {
    let name = c.path.display();
    let fail = paint_out("FAIL", "31");
    if c.executables.is_empty() {
        let what = if c.kind == "rootfs" { "is a directory with" } else { "is an image with" };
        rep.line(format!("{fail} {name}: {what} no ELF executable inside"));
    }
    for e in &c.executables {
        let mark = if e.ok { paint_out("ok  ", "32") } else { fail.clone() };
        let what = match (e.linkage, e.ok) {
            (LinkKind::Dynamic, true) => {
                format!("dynamic, its closure is inside the {} ({} files)", c.kind, e.files_found)
            }
            (LinkKind::Dynamic, false) => format!("dynamic, missing {}", e.missing.join(", ")),
            (k, _) => k.label().to_string(),
        };
        rep.line(format!("{mark} {name}:{}: {what}", e.path));
    }
    // Libraries: one line for those that load, one per library that does not.
    let loaded = c.libraries.iter().filter(|l| l.ok).count();
    if loaded > 0 {
        let ok = paint_out("ok  ", "32");
        rep.line(format!("{ok} {name}: {loaded} shared objects, each with its libraries inside the {}", c.kind));
    }
    for l in c.libraries.iter().filter(|l| !l.ok) {
        rep.line(format!("{fail} {name}:{}: shared object, missing {}", l.path, l.missing.join(", ")));
    }
    for e in c.executables.iter().chain(&c.libraries) {
        for o in &e.optional_missing {
            rep.warn(format!("{name}:{}: optional dlopen() library missing: {o}", e.path));
        }
    }
    for w in c.warnings.iter().chain(&c.gaps) {
        rep.warn(format!("{name}: {w}"));
    }
    if let Some(m) = &c.entrypoint_missing {
        rep.line(format!("{fail} {name}: {m}"));
    }
}
