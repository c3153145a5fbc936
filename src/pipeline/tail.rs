//! The tail every image-writing run shares once its image is delivered — the SBOM, the proof
//! run, how to run the image, the push and the SBOM's attachment — and the proof of a lone
//! executable when no image is written. Both roads (programs made or given, and images remade)
//! end here.

use super::destination::{self, Checked};
use super::job::{Dynamic, Job, Judged};
use super::sbom::{self, SbomOf};
use crate::elf::LinkKind;
use crate::error::Result;
use crate::image::Written;
use crate::platform::Arch;
use crate::prove::Proof;
use crate::report::Reporter;

/// The tail every image-writing run shares, after delivery: the SBOM beside the archive, the
/// proof run of the archive, then — unless the proof failed — how to run the image, the push,
/// the SBOM attached to the pushed image. Returns the proof (None: `--no-probe`).
pub(super) fn tail(
    job: &Job,
    written: &Written,
    of: &SbomOf,
    dests: &Checked,
    rep: &Reporter,
) -> Result<Option<Proof>> {
    sbom::write(job, of, written, rep)?;
    let proof = crate::prove::stage::prove_image(&written.path, job.probe.as_ref(), rep)?;
    if proof.as_ref().is_some_and(|p| !p.ok) {
        // A registry never gets an output that failed its proof.
        return Ok(proof);
    }
    destination::report_run_hint(written, rep);
    destination::push(written, dests, rep)?;
    sbom::attach(job.delivery.sbom, written, dests, rep)?;
    Ok(proof)
}

/// The proof stage when no image is written: the executable written for this machine (else
/// the first) runs alone in an empty root, as scratch would hold it.
pub(super) fn prove_binary(job: &Job, programs: &[Judged], rep: &Reporter) -> Result<Option<Proof>> {
    if let Dynamic::Carry(opts) = &job.dynamic {
        if !opts.pack_binary && job.probe.is_some() && programs.iter().any(|p| p.linkage.kind == LinkKind::Dynamic) {
            // A dynamic executable kept dynamic (--no-pack) runs where its libraries are: alone in
            // an empty root it could only fail, which would prove nothing about it.
            let proof = crate::prove::not_run(&[], "the executable written is dynamic (--no-pack): it runs where its libraries are; an image of it carries them and is proven".into());
            crate::prove::stage::report(&proof, rep);
            return Ok(Some(proof));
        }
    }
    let host = programs.iter().find(|p| p.arch.is_none_or(|a| a == Arch::host())).or(programs.first());
    match host.and_then(|p| Some((p.binary.as_deref()?, p.arch.unwrap_or_else(Arch::host)))) {
        Some((binary, arch)) => crate::prove::stage::prove_binary(binary, arch, &job.name, job.probe.as_ref(), rep),
        None => Ok(None),
    }
}
