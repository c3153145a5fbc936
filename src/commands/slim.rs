//! `staticize slim IMAGE`: arguments → [`crate::slim`] → the pipeline's destinations.

use crate::cli::SlimArgs;
use crate::commands::settings;
use crate::commands::squash::default_output;
use crate::epoch::source_date_epoch;
use crate::error::{Error, Result};
use crate::pipeline::destination;
use crate::pipeline::sbom as sbom_stage;
use crate::report::{Reporter, human_size};
use crate::slim::{self, SlimRequest, Slimmed};

/// Runs `slim`.
pub fn run(args: SlimArgs, rep: &Reporter) -> Result<()> {
    let dest = args.output.clone().unwrap_or_else(|| default_output(&args.image, "slim"));
    let settings = settings::image_settings(&args.options)?;
    let dests = settings::destinations(&args.options.image_output, dest.clone())?;
    let checked = destination::check(&dests, settings.compression)?
        .ok_or_else(|| Error::usage("slim writes an image archive", "give -o OUT.tar"))?;
    let scratch = crate::output::temp_dir_in(crate::output::parent_dir(&dest), "staticize-slim")?;
    let req = SlimRequest {
        image: &args.image,
        programs: &args.program,
        keep: &args.keep,
        extra_libs: &args.lib,
        allow_missing: args.allow_missing,
        settings: &settings,
        epoch: source_date_epoch()?,
    };
    let spinner = crate::progress::Progress::start(rep, format!("reading {}", args.image.display()));
    let s = slim::slim(&req, scratch.path())?;
    drop(spinner);
    report(&s, rep);
    let written = destination::deliver(&s.plan, &checked, rep)?;
    let ratio = if written.bytes > 0 { s.original_bytes as f64 / written.bytes as f64 } else { 0.0 };
    rep.step(
        "size",
        format!(
            "{} → {} ({ratio:.1}x smaller; the tutorials' redis on scratch: 7.73 MB)",
            human_size(s.original_bytes),
            human_size(written.bytes)
        ),
    );
    if let (Some(format), Some(found)) = (settings.sbom, &s.sbom) {
        let sbom = found.sbom(&written.reference, &written.manifest_digest)?;
        sbom_stage::write_for(&sbom, format, &written, rep)?;
    }
    destination::report_run_hint(&written, rep);
    destination::push(&written, &checked, rep)?;
    if let (Some(format), Some((target, _))) = (settings.sbom, &checked.push) {
        sbom_stage::attach_beside(&written.path, format, target, rep)?;
    }
    rep.json(&serde_json::json!({
        "programs": s.carried,
        "hints": s.hints,
        "original_bytes": s.original_bytes,
        "image": written,
    }));
    Ok(())
}

fn report(s: &Slimmed, rep: &Reporter) {
    for c in &s.carried {
        let what = match c.linkage.as_str() {
            "script" => "script (kept as it is)".to_string(),
            "dynamic" => format!("dynamic; its closure from the image: {} files", c.closure_files),
            other => other.to_string(),
        };
        rep.step("program", format!("{} ({}): {what}", c.needed.path, c.needed.why));
        for m in &c.missing {
            rep.warn(format!("{}: {m} is not in the image (--allow-missing)", c.needed.path));
        }
    }
    for l in &s.lines {
        rep.step("with", l);
    }
    if !s.hints.is_empty() {
        rep.step(
            "hint",
            format!("not kept, but a program may read them: {} (add --keep PATH if it does)", s.hints.join(" ")),
        );
    }
    for n in &s.notes {
        rep.warn(n);
    }
}
