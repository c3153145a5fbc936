//! The remake stage: an existing image read and made again — its layers merged (`squash`,
//! [`crate::squash`]) or reduced to scratch and the closures of the programs it runs
//! (`slim`, [`crate::slim`]) — then delivered through the same destinations, SBOM and push as
//! every other run ([`super::tail::tail`]).

use super::destination;
use super::job::{FromImage, Job, Outcome, Remade};
use super::plan::archive_of;
use super::sbom::SbomOf;
use super::tail::tail;
use crate::epoch::source_date_epoch;
use crate::error::{Error, Result};
use crate::report::{Reporter, human_size};
use crate::slim::{self, SlimRequest, Slimmed};
use crate::squash::{self, SquashOptions, SquashReport};

/// Reads the image, remakes it, delivers it; the outcome carries what was done.
pub(super) fn remake(job: &Job, from: &FromImage, rep: &Reporter) -> Result<Outcome> {
    let what = match from {
        FromImage::Squash { .. } => "squash",
        FromImage::Slim { .. } => "slim",
    };
    let dests = destination::check(&job.destinations, job.delivery.compression)?
        .ok_or_else(|| Error::usage(format!("{what} writes an image archive"), "give -o OUT.tar"))?;
    super::attest::check(job)?;
    let out = archive_of(&job.destinations).unwrap_or(&dests.tar);
    // Layers are written beside the archive, so the final rename stays on one file system.
    let scratch = crate::output::temp_dir_in(crate::output::parent_dir(out), &format!("staticize-{what}"))?;
    let (written, remade, sbom) = match from {
        FromImage::Squash { image, from_layer, platform, reference } => {
            let opts = SquashOptions {
                from_layer: *from_layer,
                compression: job.delivery.compression,
                reference: reference.clone(),
                epoch: source_date_epoch()?,
                limits: crate::image::read::ReadLimits::default(),
                platform: platform.clone(),
            };
            let spinner = crate::progress::Progress::start(rep, format!("squashing {}", image.display()));
            let squashed = squash::squash(image, &opts, scratch.path())?;
            drop(spinner);
            for r in std::iter::once(&squashed.report).chain(&squashed.more) {
                report_squash(r, rep);
            }
            let written = destination::deliver_assembled(&squashed.assembled, &dests, rep)?;
            (written, Remade::Squash { report: squashed.report, more: squashed.more }, None)
        }
        FromImage::Slim { image, programs, keep, extra_libs, allow_missing } => {
            let req = SlimRequest {
                image,
                programs,
                keep,
                extra_libs,
                allow_missing: *allow_missing,
                settings: &job.settings,
                compression: job.delivery.compression,
                sbom: job.delivery.sbom.is_some(),
                epoch: source_date_epoch()?,
            };
            let spinner = crate::progress::Progress::start(rep, format!("reading {}", image.display()));
            let s = slim::slim(&req, scratch.path())?;
            drop(spinner);
            report_slim(&s, rep);
            let written = destination::deliver(&s.plan, &dests, &job.delivery.cache, rep)?;
            // An image slim calls good passes check; one that does not is written but a failed verdict.
            slim::verify(&written.path)?;
            report_ratio(s.original_bytes, written.bytes, rep);
            let remade = Remade::Slim {
                carried: serde_json::to_value(&s.carried).expect("the slim report serialises"),
                hints: s.hints.clone(),
                original_bytes: s.original_bytes,
            };
            (written, remade, s.sbom)
        }
    };
    let of = match (from, &sbom) {
        (FromImage::Squash { .. }, _) => SbomOf::Image,
        (FromImage::Slim { .. }, found) => SbomOf::Slim(found.as_ref()),
    };
    let proof = tail(job, &written, &of, &dests, rep)?;
    Ok(Outcome {
        programs: Vec::new(),
        image: Some(written),
        failed: proof.as_ref().and_then(crate::prove::stage::failure),
        proof,
        packed: None,
        remade: Some(remade),
        each: Vec::new(),
    })
}

fn report_ratio(original: u64, written: u64, rep: &Reporter) {
    let ratio = if written > 0 { original as f64 / written as f64 } else { 0.0 };
    rep.step(
        "size",
        format!(
            "{} → {} ({ratio:.1}x smaller; the tutorials' redis on scratch: 7.73 MB)",
            human_size(original),
            human_size(written)
        ),
    );
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

fn report_slim(s: &Slimmed, rep: &Reporter) {
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
