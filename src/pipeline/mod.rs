//! The one road from a program to its outputs. Every image-writing command turns its
//! arguments into a [`Job`] and calls [`run`]:
//!
//! 1. refuse early: settings were validated into the job; binary outputs must be writable and
//!    every [`Destination`] reachable — before any compiler runs;
//! 2. build each platform through its [`Driver`] (or take the given files: [`Programs::Prebuilt`]);
//! 3. judge each ELF (`elf::inspect`);
//! 4. plan the image: a static program alone ([`plan`]), a dynamic one with its library closure
//!    ([`carry`], when the job carries dynamic programs) — a failed verdict writes the binary,
//!    no image, and the outcome carries the error (exit 1);
//! 5. deliver to the destinations (archive, OCI directory, load), write the binaries, print how
//!    to run the image, push;
//! 6. return the [`Outcome`] for the command to print as JSON.
//!
//! Where new features plug in:
//! - a build system (`staticize build DIR`, issue 14): a `Driver` whose `build` runs the project's
//!   build and returns the chosen executable; the command makes a `Job` with `Programs::Build`;
//! - `staticize pack` (issue 17): a stage after judging that turns a dynamic artifact and its
//!   closure (the [`carry`] stage's resolution) into one static file, written through
//!   [`Binaries`]; a new `Dynamic` policy selects it;
//! - the SBOM (issue 19) is the `sbom` stage after delivery: written beside the archive, and
//!   attached after the push; `carry` adds the closure's `status.d` package records;
//! - squash/slim of existing images (issue 18): a new [`Programs`] input that is not a build
//!   (an image read with `image::read`) planned into an `ImagePlan`, then the same destinations.

pub(crate) mod carry;
pub(crate) mod destination;
pub(crate) mod load;
pub(crate) mod plan;
pub(crate) mod sbom;
mod stages;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::closure::Closure;
use crate::driver::{Artifact, Driver};
use crate::elf::Linkage;
use crate::error::{Error, Result};
use crate::image::Written;
use crate::image::options::ImageSettings;
use crate::platform::Arch;
use crate::report::Reporter;
use crate::toolchain::Profile;

pub(crate) use carry::CarryOptions;
pub(crate) use destination::{Destination, default_image_path};

/// Everything one run needs, validated: what to build (or take), for which platforms, with
/// which image settings, to which destinations.
pub(crate) struct Job<'a> {
    /// The program's name (binary and default image name).
    pub name: String,
    /// Where the programs come from.
    pub programs: Programs<'a>,
    /// The validated image settings.
    pub settings: ImageSettings,
    /// Where the executables are written.
    pub binaries: Binaries,
    /// Where the image goes; empty: no image.
    pub destinations: Vec<Destination>,
    /// What a dynamic program means.
    pub dynamic: Dynamic,
    /// For the image history ("staticize c hello.c").
    pub created_by: String,
}

/// Where a job's programs come from.
pub(crate) enum Programs<'a> {
    /// Built here: one driver per platform, all given the same request.
    Build {
        /// (platform asked for, the driver that builds for it), in the order asked.
        builds: Vec<(Arch, &'a dyn Driver)>,
        /// The inputs, as the user gave them.
        inputs: Vec<PathBuf>,
        /// What to optimise for.
        profile: Profile,
        /// Arguments after `--`.
        extra_args: Vec<String>,
    },
    /// Executables made elsewhere: (platform declared, file).
    Prebuilt(Vec<(Option<Arch>, PathBuf)>),
}

/// Where a job writes its executables.
#[derive(Debug, Clone)]
pub(crate) enum Binaries {
    /// None (the image is the output: `image`, `bundle`).
    None,
    /// One per platform: PATH for one platform, PATH-ARCH for several.
    PerPlatform(PathBuf),
    /// One file: this machine's build, else the first.
    One(PathBuf),
}

/// What a program that is not self-contained means for the job.
#[derive(Debug, Clone)]
pub(crate) enum Dynamic {
    /// A failed verdict: no image (it would not run in scratch).
    Refuse,
    /// Carried into the image with its library closure (`bundle`, `node`).
    Carry(CarryOptions),
    /// A packed file (`staticize pack`): refused like any other program if it is not static,
    /// but it carries a dynamic program and its closure inside, which the SBOM and the image's
    /// status.d records list as if they were carried beside it.
    Packed(Box<Inside>),
}

/// What a packed file carries: the program it was made from and that program's closure.
#[derive(Debug, Clone)]
pub(crate) struct Inside {
    /// The program on this machine that was packed.
    pub program: PathBuf,
    /// Its closure, as packed.
    pub closure: Closure,
}

impl Dynamic {
    /// True when a program that is not self-contained is a failed verdict.
    pub(crate) fn refuses(&self) -> bool {
        !matches!(self, Dynamic::Carry(_))
    }
}

/// One program of a run.
#[derive(Debug, Clone)]
pub struct Program {
    /// The platform asked for (a build) or declared (`--binary OS/ARCH=…`).
    pub arch: Option<Arch>,
    /// The ELF file judged: the staged build or the given file.
    pub elf: PathBuf,
    /// What built it, when it was built here.
    pub artifact: Option<Artifact>,
    /// Its verdict.
    pub linkage: Linkage,
    /// Where the executable is written, if it is.
    pub binary: Option<PathBuf>,
    /// The closure carried with it.
    pub closure: Option<Closure>,
    /// Where it is inside the image.
    pub program_path: String,
}

/// What a run did, for the command to print.
#[derive(Debug)]
pub struct Outcome {
    /// Every program, in the order built or given.
    pub programs: Vec<Program>,
    /// The image written.
    pub image: Option<Written>,
    /// A failed verdict: the binary is written, no image (exit 1 once the result is printed).
    pub failed: Option<Error>,
}

impl Outcome {
    /// Ok, or the verdict that failed.
    pub fn finish(self) -> Result<()> {
        match self.failed {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// Runs a job: refuse early, build, judge, plan, deliver, write, report.
pub(crate) fn run(mut job: Job, rep: &Reporter) -> Result<Outcome> {
    // `-o NAME` names the program: inside the image (/NAME) and in the default tag.
    if let Binaries::PerPlatform(out) | Binaries::One(out) = &job.binaries {
        job.name = crate::naming::output_or(Some(out), &job.name);
    }
    let outputs = stages::refuse(&job)?;
    let staging = tempfile::Builder::new()
        .prefix("staticize-build-")
        .tempdir()
        .map_err(|e| Error::io("create a build directory in", std::env::temp_dir(), e))?;
    let mut made = match &job.programs {
        Programs::Build { .. } => stages::build_all(&job, &outputs, staging.path(), rep)?,
        Programs::Prebuilt(files) => stages::judge_prebuilt(&job, files, rep)?,
    };
    if let Some(failed) = stages::verdict(&job, &made.programs, rep)? {
        return Ok(Outcome { programs: made.programs, image: None, failed: Some(failed) });
    }
    let image = match (&outputs.destinations, made.plan.take()) {
        (Some(dests), Some(plan)) => Some(destination::deliver(&plan, dests, rep)?),
        (Some(dests), None) => Some(stages::deliver_static(&job, &made.programs, dests, rep)?),
        (None, _) => None,
    };
    stages::write_binaries(&job, &made.programs, rep)?;
    if let (Some(w), Some(dests)) = (&image, &outputs.destinations) {
        sbom::write(&job, &made.programs, w, rep)?;
        destination::report_run_hint(w, rep);
        destination::push(w, dests, rep)?;
        sbom::attach(&job, w, dests, rep)?;
    }
    Ok(Outcome { programs: made.programs, image, failed: None })
}
