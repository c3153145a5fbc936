//! `staticize squash IMAGE`: arguments → a job whose programs are an existing image →
//! `pipeline::run` (squash, then the same delivery, SBOM and push as every run) → JSON.

use std::path::{Path, PathBuf};

use crate::cli::SquashArgs;
use crate::commands::settings;
use crate::error::Result;
use crate::image::options::ImageSettings;
use crate::pipeline::{self, Binaries, Dynamic, FromImage, Job, Programs, Remade};
use crate::reference::ImageRef;
use crate::report::Reporter;

/// Runs `squash`.
pub fn run(args: SquashArgs, rep: &Reporter) -> Result<()> {
    let dest = args.output.clone().unwrap_or_else(|| default_output(&args.image, "squashed"));
    let job = Job {
        name: String::new(),
        programs: Programs::Image(FromImage::Squash {
            image: args.image.clone(),
            from_layer: args.from_layer,
            platform: args.platform.clone(),
            reference: args.tag.as_deref().map(ImageRef::parse).transpose()?,
        }),
        settings: ImageSettings::default(),
        delivery: settings::output_delivery(&args.image_output)?,
        probe: settings::probe(&args.image_output)?,
        binaries: Binaries::None,
        destinations: settings::destinations(&args.image_output, dest)?,
        dynamic: Dynamic::Refuse,
        created_by: format!("staticize squash {}", args.image.display()),
        plan_only: args.image_output.plan,
    };
    let Some(outcome) = pipeline::run(job, rep)? else { return Ok(()) };
    if let (Some(Remade::Squash { report, more }), Some(image)) = (&outcome.remade, &outcome.image) {
        rep.json(
            &serde_json::json!({ "squash": report, "other_platforms": more, "image": image, "proof": outcome.proof }),
        );
    }
    outcome.finish()
}

/// `./STEM-SUFFIX.tar` from the input's file name ("redis.tar" → "redis-squashed.tar").
pub fn default_output(image: &Path, suffix: &str) -> PathBuf {
    let stem = image
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar").to_string())
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .unwrap_or_else(|| "image".into());
    PathBuf::from(format!("{stem}-{suffix}.tar"))
}
