//! `staticize slim IMAGE`: arguments → a job whose programs are an existing image →
//! `pipeline::run` (slim, then the same delivery, SBOM and push as every run) → JSON.

use crate::cli::SlimArgs;
use crate::commands::settings;
use crate::commands::squash::default_output;
use crate::error::Result;
use crate::pipeline::{self, Binaries, Dynamic, FromImage, Job, Programs, Remade};
use crate::report::Reporter;

/// Runs `slim`.
pub fn run(args: SlimArgs, rep: &Reporter) -> Result<()> {
    let dest = args.output.clone().unwrap_or_else(|| default_output(&args.image, "slim"));
    let job = Job {
        name: String::new(),
        programs: Programs::Image(FromImage::Slim {
            image: args.image.clone(),
            programs: args.program.clone(),
            keep: args.keep.clone(),
            extra_libs: args.lib.clone(),
            allow_missing: args.allow_missing,
        }),
        settings: settings::image_settings(&args.options)?,
        delivery: settings::delivery(&args.options)?,
        probe: settings::probe(&args.options.image_output)?,
        binaries: Binaries::None,
        destinations: settings::destinations(&args.options.image_output, dest)?,
        dynamic: Dynamic::Refuse,
        created_by: format!("staticize slim {}", args.image.display()),
        plan_only: args.options.image_output.plan,
    };
    let Some(outcome) = pipeline::run(job, rep)? else { return Ok(()) };
    if let (Some(Remade::Slim { carried, hints, original_bytes }), Some(image)) = (&outcome.remade, &outcome.image) {
        rep.json(&serde_json::json!({
            "programs": carried,
            "hints": hints,
            "original_bytes": original_bytes,
            "image": image,
            "proof": outcome.proof,
        }));
    }
    outcome.finish()
}
