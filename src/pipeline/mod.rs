//! The one road from a program (or an existing image) to its outputs. Every image-writing
//! command turns its arguments into a [`Job`] and calls [`run`], which
//!
//! 1. turns the job into a [`Plan`] ([`plan::plan`], the only place that decides what is built
//!    by which tool, where each binary goes, the program's path inside the image, the layers
//!    and where their files come from, the SBOM, the destinations and the checks); with
//!    `--plan` it prints that plan and stops: nothing built, nothing written;
//! 2. carries the plan out ([`execute`]) in named stages:
//!    - `refuse`: binary outputs writable, every [`Destination`] reachable, before any
//!      compiler runs;
//!    - `make`: per program, by its [`plan::Making`]: a driver's build, a project's build system
//!      (`staticize build`, then one sub-run per chosen executable), a given file, or an
//!      existing image read and remade (`squash`, `slim`);
//!    - `judge`: the ELF verdict (`elf::inspect`), the plan's first check;
//!    - `image`: by the plan's [`Dynamic`] variant — a static program alone, a dynamic one with
//!      its library closure ([`carry`]), or packed into one static file first (`pack`);
//!      a failed verdict writes the binary, no image, and the outcome carries the error (exit 1);
//!    - `deliver`: archive, OCI directory, load ([`destination`]);
//!    - `write`: the executables (packed for `node` unless `--no-pack`);
//!    - `sbom`, `provenance`, `prove`, `run hint`, `push`, `attach`, `sign`: the tail every
//!      command shares ([`attest`] writes the provenance and signs); `prove`
//!      runs the output in its own root ([`crate::prove`]) — a failed proof leaves it written,
//!      is not pushed, and is the outcome's failed verdict (exit 1).
//! 3. returns the [`Outcome`] for the command to print as JSON.
//!
//! A new step (a proof run, a blob cache, signing) is a new stage here and, when it can be
//! known beforehand, a new member of the plan (a [`plan::Check`], a destination).

mod attest;
mod carry;
mod destination;
mod execute;
mod image;
mod job;
mod layers;
pub(crate) mod load;
mod plan;
mod remake;
mod sbom;
mod stages;
mod tail;

#[cfg(test)]
mod tests;

use crate::error::Result;
use crate::report::Reporter;

pub(crate) use destination::{Destination, default_image_path};
pub(crate) use execute::execute;
pub(crate) use job::{
    Binaries, BuildSystem, CarryOptions, Delivery, Dynamic, FromImage, Job, Outcome, PackOptions, Programs, Remade,
};

/// Plans the job and, unless it only asks for its plan (`--plan`: printed, then None),
/// carries the plan out.
pub(crate) fn run(job: Job, rep: &Reporter) -> Result<Option<Outcome>> {
    let plan = plan::plan(&job)?;
    if job.plan_only {
        plan::print(&plan, rep);
        return Ok(None);
    }
    execute(job, &plan, rep).map(Some)
}

/// Pushes an archive already written (`staticize push`) through the same push step as a run,
/// and attaches the SBOM beside it when there is one.
pub(crate) fn push_archive(
    archive: &std::path::Path,
    target: &crate::registry::push::Remote,
    sbom: Option<crate::sbom::Format>,
    sign: Option<&std::path::Path>,
    rep: &Reporter,
) -> Result<crate::registry::push::Pushed> {
    if let Some(key) = sign {
        crate::sign::key::PrivateKey::read(key)?;
    }
    let opened = crate::image::read::Archive::open(archive)?;
    destination::refuse_problems(&opened)?;
    let pushed = crate::registry::push::push(&opened, target, rep)?;
    if let Some(format) = sbom {
        sbom::attach_beside(archive, format, target, rep)?;
    }
    attest::push_beside(archive, &pushed.digest, sign, target, rep)?;
    Ok(pushed)
}
