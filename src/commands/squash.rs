//! `staticize squash IMAGE`: arguments → [`crate::image::squash`] → every destination.

use std::path::{Path, PathBuf};

use crate::cli::{ImageOptions, SquashArgs};
use crate::commands::package::{self, Destinations};
use crate::error::Result;
use crate::image::archive::{self, Assembled, Written};
use crate::image::reference::ImageRef;
use crate::image::squash::{self, SquashOptions, SquashReport};
use crate::image::{Compression, load};
use crate::report::{Reporter, human_size, short_digest};

/// Runs `squash`.
pub fn run(args: SquashArgs, rep: &Reporter) -> Result<()> {
    let dest = args.output.clone().unwrap_or_else(|| default_output(&args.image, "squashed"));
    let opts = ImageOptions {
        tag: args.tag.clone(),
        compress: args.compress,
        oci_dir: args.oci_dir.clone(),
        load: args.load.clone(),
        push: args.push.clone(),
        ..Default::default()
    };
    let reference = args.tag.as_deref().map(ImageRef::parse).transpose()?;
    if let Some(r) = &args.push {
        crate::image::push::Target::parse(r)?;
    }
    let dests = package::destinations(&opts, &dest)?;
    let scratch = crate::output::temp_dir_in(crate::output::parent_dir(&dest), "staticize-squash")?;
    let sopts = SquashOptions {
        from_layer: args.from_layer,
        compression: args.compress,
        reference,
        epoch: archive::source_date_epoch()?,
        limits: crate::image::read::Limits::default(),
    };
    let spinner = crate::progress::Progress::start(rep, format!("squashing {}", args.image.display()));
    let squashed = squash::squash(&args.image, &sopts, scratch.path())?;
    drop(spinner);
    report_squash(&squashed.report, rep);
    let written = deliver(&squashed.assembled, &dests, args.compress, rep)?;
    package::report_run_hint(&written, rep);
    package::push_if_asked(&written, &opts, rep)?;
    rep.json(&serde_json::json!({ "squash": squashed.report, "image": written }));
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

/// Writes the archive, the OCI directory and the load, reporting each.
fn deliver(a: &Assembled, dest: &Destinations, compression: Compression, rep: &Reporter) -> Result<Written> {
    let mut written = archive::write_tar(a, &dest.tar)?;
    let layers: u64 = written.layers.iter().map(|l| l.size).sum();
    rep.step(
        "image",
        format!(
            "{} ({}; {} layer{}, {} compressed) {} {}",
            written.path.display(),
            human_size(written.bytes),
            written.layers.len(),
            plural(written.layers.len()),
            human_size(layers),
            written.reference,
            short_digest(&written.manifest_digest)
        ),
    );
    if let Some(dir) = &dest.oci_dir {
        archive::write_oci_dir(a, dir)?;
        rep.step("oci-dir", format!("{} (OCI layout: skopeo inspect oci:{})", dir.display(), dir.display()));
        written.oci_dir = Some(dir.clone());
    }
    if let Some(engine) = &dest.load {
        load::check_compatible(engine, compression)?;
        let said = load::load(engine, &dest.tar)?;
        rep.step("load", format!("{} {}: {said}", engine.name(), engine.version()));
        written.loaded_into = Some(engine.name().to_string());
    }
    Ok(written)
}
