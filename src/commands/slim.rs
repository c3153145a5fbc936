//! `staticize slim IMAGE`: arguments → [`crate::slim`] → the shared image delivery.

use crate::cli::SlimArgs;
use crate::commands::bundle::nss_modules_needed;
use crate::commands::package;
use crate::commands::squash::default_output;
use crate::error::Result;
use crate::image::ImageRef;
use crate::image::archive::source_date_epoch;
use crate::image::options::ImageSettings;
use crate::report::{Reporter, human_size};
use crate::slim::{self, SlimRequest, Slimmed};

/// Runs `slim`.
pub fn run(args: SlimArgs, rep: &Reporter) -> Result<()> {
    let dest = args.output.clone().unwrap_or_else(|| default_output(&args.image, "slim"));
    let dests = package::destinations(&args.options, &dest)?;
    let settings = ImageSettings::from_options(&args.options)?;
    let scratch = crate::output::temp_dir_in(crate::output::parent_dir(&dest), "staticize-slim")?;
    let req = SlimRequest {
        image: &args.image,
        programs: &args.program,
        keep: &args.keep,
        extra_libs: &args.lib,
        allow_missing: args.allow_missing,
        settings: &settings,
        reference: args.options.tag.as_deref().map(ImageRef::parse).transpose()?,
        compression: args.options.compress,
        epoch: source_date_epoch()?,
        nss_modules: nss_modules_needed,
    };
    let spinner = crate::progress::Progress::start(rep, format!("reading {}", args.image.display()));
    let s = slim::slim(&req, scratch.path())?;
    drop(spinner);
    report(&s, rep);
    let written = package::deliver(&s.plan, &dests, rep)?;
    let ratio = if written.bytes > 0 { s.original_bytes as f64 / written.bytes as f64 } else { 0.0 };
    rep.step(
        "size",
        format!(
            "{} → {} ({ratio:.1}x smaller; the tutorials' redis on scratch: 7.73 MB)",
            human_size(s.original_bytes),
            human_size(written.bytes)
        ),
    );
    package::report_run_hint(&written, rep);
    package::push_if_asked(&written, &args.options, rep)?;
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
