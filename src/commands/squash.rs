//! `staticize squash IMAGE`: arguments → [`crate::squash`] → the pipeline's destinations.

use std::path::{Path, PathBuf};

use crate::cli::SquashArgs;
use crate::commands::settings;
use crate::error::{Error, Result};
use crate::pipeline::destination;
use crate::pipeline::sbom as sbom_stage;
use crate::reference::ImageRef;
use crate::report::{Reporter, human_size};
use crate::squash::{self, SquashOptions, SquashReport};

/// Runs `squash`.
pub fn run(args: SquashArgs, rep: &Reporter) -> Result<()> {
    let dest = args.output.clone().unwrap_or_else(|| default_output(&args.image, "squashed"));
    let reference = args.tag.as_deref().map(ImageRef::parse).transpose()?;
    let compression = args.image_output.compress.into();
    let dests = settings::destinations(&args.image_output, dest.clone())?;
    let checked = destination::check(&dests, compression)?
        .ok_or_else(|| Error::usage("squash writes an image archive", "give -o OUT.tar"))?;
    let scratch = crate::output::temp_dir_in(crate::output::parent_dir(&dest), "staticize-squash")?;
    let sopts = SquashOptions {
        from_layer: args.from_layer,
        compression,
        reference,
        epoch: crate::epoch::source_date_epoch()?,
        limits: crate::image::read::ReadLimits::default(),
        platform: args.platform.clone(),
    };
    let spinner = crate::progress::Progress::start(rep, format!("squashing {}", args.image.display()));
    let squashed = squash::squash(&args.image, &sopts, scratch.path())?;
    drop(spinner);
    for r in std::iter::once(&squashed.report).chain(&squashed.more) {
        report_squash(r, rep);
    }
    let written = destination::deliver_assembled(&squashed.assembled, &checked, rep)?;
    let format = args.image_output.sbom();
    if let Some(format) = format {
        let archive = crate::image::read::Archive::open(&written.path)?;
        let sbom = crate::sbom::image::sbom_of(&archive, &written.reference, &written.manifest_digest)?;
        sbom_stage::write_for(&sbom, format, &written, rep)?;
    }
    destination::report_run_hint(&written, rep);
    destination::push(&written, &checked, rep)?;
    if let (Some(format), Some((target, _))) = (format, &checked.push) {
        sbom_stage::attach_beside(&written.path, format, target, rep)?;
    }
    rep.json(&serde_json::json!({ "squash": squashed.report, "other_platforms": squashed.more, "image": written }));
    Ok(())
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

fn report_squash(r: &SquashReport, rep: &Reporter) {
    let names = if r.names.is_empty() { String::new() } else { format!(" {}", r.names.join(", ")) };
    rep.step(
        "read",
        format!("{}{names} ({}, {} layer{})", r.source.display(), r.platform, r.layers_in, plural(r.layers_in)),
    );
    let which = if r.layers_kept == 0 {
        "every layer".to_string()
    } else {
        format!("layers {}-{} (layers 1-{} kept as they are)", r.layers_kept + 1, r.layers_in, r.layers_kept)
    };
    rep.step(
        "squash",
        format!(
            "{which}: {} entries -> {}, {} of files -> {}; removed {} of overwritten or deleted files (inspect counted {} wasted)",
            r.entries_in,
            r.entries_out,
            human_size(r.bytes_in),
            human_size(r.bytes_out),
            human_size(r.removed_bytes),
            human_size(r.wasted_bytes)
        ),
    );
    if r.whiteouts > 0 {
        rep.step("", format!("{} whiteouts delete what the kept layers hold", r.whiteouts));
    }
    if r.links_materialized > 0 {
        rep.step("", format!("{} hard links written as files (their target was overwritten)", r.links_materialized));
    }
    if r.wasted_kept_bytes > 0 {
        rep.step(
            "note",
            format!(
                "{} wasted in the kept layers stays (squash from a lower --from-layer to remove it)",
                human_size(r.wasted_kept_bytes)
            ),
        );
    }
    for n in &r.notes {
        rep.warn(n);
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
