//! The executor: carries a [`Plan`] out in named stages — refuse, make, judge, verdict,
//! image, deliver, write, and the tail every command shares (SBOM, run hint, push, attach).
//! What only the work can tell (the verdict, the closure, a packed file's contents) is added
//! by these stages; everything else was decided by the plan.

use std::path::PathBuf;

use super::destination::{self, default_image_path};
use super::image::Frame;
use super::job::{Binaries, BuildSystem, Dynamic, Job, Judged, Outcome, PackOptions, PackedProgram, Programs};
use super::plan::Plan;
use super::sbom::SbomOf;
use super::stages::{self, Outputs};
use super::tail::{prove_binary, tail};
use crate::driver::buildsys::{self, select};
use crate::driver::{BuildRequest, Driver};
use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::report::Reporter;

/// Carries out `plan`, the plan of `job` ([`super::plan::plan`]).
pub(crate) fn execute(mut job: Job, plan: &Plan, rep: &Reporter) -> Result<Outcome> {
    job.name = plan.name.clone();
    match &job.programs {
        Programs::BuildSystem(b) => build_system(&job, b, rep),
        Programs::Image(from) => super::remake::remake(&job, from, rep),
        Programs::Build { builds, inputs, profile, extra_args } => {
            let road = Road::start(&job)?;
            let req = BuildRequest {
                inputs: inputs.clone(),
                name: job.name.clone(),
                staging: road.staging.path().to_path_buf(),
                profile: *profile,
                extra_args: extra_args.clone(),
                arch: Arch::host(),
                program_path: String::new(),
            };
            let judged = stages::build_all(builds, &req, plan, &road.outputs, rep)?;
            road.finish(&job, judged, None, rep)
        }
        Programs::Made { made, inputs } => {
            let road = Road::start(&job)?;
            let judged = stages::judge_made(made, inputs, plan, &road.outputs, rep)?;
            road.finish(&job, judged, None, rep)
        }
        Programs::Given(files) => {
            let road = Road::start(&job)?;
            match (&job.dynamic, files.as_slice()) {
                (Dynamic::Pack(opts), [(_, program)]) => {
                    let (judged, packed) = stages::pack_given(&job, program, opts, plan, &road.outputs, rep)?;
                    road.finish(&job, judged, Some((packed, opts)), rep)
                }
                (Dynamic::Pack(_), _) => {
                    Err(Error::usage("staticize pack packs one program", "pack each program with its own run"))
                }
                _ => {
                    let judged = stages::judge_given(&job, files, plan, rep)?;
                    road.finish(&job, judged, None, rep)
                }
            }
        }
    }
}

/// A run of programs once its refusals passed: the checked outputs and the staging directory.
struct Road {
    outputs: Outputs,
    staging: tempfile::TempDir,
}

impl Road {
    /// The refuse stage, then a private directory for builds and stripped copies.
    fn start(job: &Job) -> Result<Road> {
        let outputs = stages::refuse(job)?;
        let staging = tempfile::Builder::new()
            .prefix("staticize-build-")
            .tempdir()
            .map_err(|e| Error::io("create a build directory in", std::env::temp_dir(), e))?;
        Ok(Road { outputs, staging })
    }

    /// The verdict, image, deliver, write and tail stages.
    fn finish(
        self,
        job: &Job,
        mut programs: Vec<Judged>,
        packed: Option<(PackedProgram, &PackOptions)>,
        rep: &Reporter,
    ) -> Result<Outcome> {
        if let Some(failed) = stages::verdict(job, &programs, rep)? {
            return Ok(Outcome { failed: Some(failed), ..Outcome::of(programs) });
        }
        let drivers: Vec<&dyn Driver> = match &job.programs {
            Programs::Build { builds, .. } => builds.iter().map(|(_, d)| *d).collect(),
            _ => Vec::new(),
        };
        let image = match &self.outputs.destinations {
            None => None,
            Some(dests) => {
                let frame = Frame {
                    reference: job.settings.reference(&job.name),
                    created_by: &job.created_by,
                    delivery: &job.delivery,
                };
                let image = match &job.dynamic {
                    Dynamic::Carry(opts) => stages::image_carried(job, &frame, opts, &mut programs, &drivers, rep)?,
                    Dynamic::Refuse | Dynamic::Pack(_) => {
                        let inside = packed.as_ref().map(|(p, o)| (p, *o));
                        stages::image_static(job, &frame, &programs, inside, self.staging.path(), rep)?
                    }
                };
                Some(destination::deliver(&image, dests, &job.delivery.cache, rep)?)
            }
        };
        stages::write_binaries(job, &programs, rep)?;
        if let Dynamic::Carry(opts) = &job.dynamic {
            if opts.pack_binary {
                // Packed before the proof: the file proven is the file written.
                stages::pack_binaries(&programs, &drivers, rep)?;
            }
        }
        let proof = match (&image, &self.outputs.destinations) {
            (Some(w), Some(dests)) => {
                let of = SbomOf::Programs { programs: &programs, packed: packed.as_ref().map(|(p, _)| p) };
                tail(job, w, &of, dests, rep)?
            }
            _ => prove_binary(job, &programs, rep)?,
        };
        if let Some(failed) = proof.as_ref().and_then(crate::prove::stage::failure) {
            // Written and reported, but not pushed: a registry never gets an output that failed.
            let packed = packed.map(|(p, _)| p);
            return Ok(Outcome { image, proof, packed, failed: Some(failed), ..Outcome::of(programs) });
        }
        if let Dynamic::Carry(opts) = &job.dynamic {
            if opts.init && image.is_some() {
                let runtime = programs.first().and_then(|p| p.artifact.as_ref()).map_or("the program", |a| &a.lang);
                rep.step(
                    "init",
                    format!(
                        "{} runs first as PID 1 in the image: forwards signals to {runtime}, reaps zombies, exits with its status (--no-init)",
                        crate::pack::INIT_PATH
                    ),
                );
            }
        }
        Ok(Outcome { image, proof, packed: packed.map(|(p, _)| p), ..Outcome::of(programs) })
    }
}

impl Outcome {
    /// The outcome of these programs, nothing else done yet.
    fn of(programs: Vec<Judged>) -> Outcome {
        Outcome { programs, image: None, proof: None, failed: None, packed: None, remade: None, each: Vec::new() }
    }
}

/// The build-system stage (`staticize build`): the project's own build, run static for each
/// platform; then each chosen executable takes the rest of the road as its own run (its own
/// plan, image and binary), as if a driver had built it for every platform — several give
/// one multi-platform image, as for `staticize c`.
fn build_system(job: &Job, b: &BuildSystem, rep: &Reporter) -> Result<Outcome> {
    let platforms = job.delivery.build_platforms();
    let mut builds = Vec::new();
    for arch in &platforms {
        let built = buildsys::build(&b.dir, &b.options, *arch, rep)?;
        report_found(&built, platforms.len() > 1, rep);
        builds.push(built);
    }
    // The same --bin on every platform's build: the n-th chosen of each is one program.
    let mut chosen = Vec::new();
    for built in &builds {
        let these = select::choose(built, &b.bins)?;
        for e in &these {
            select::refuse_dynamic(e, built)?;
        }
        chosen.push(these);
    }
    let mut each = Vec::new();
    for i in 0..chosen[0].len() {
        let first = chosen[0][i];
        let name = select::file_name(first);
        let mut made = Vec::new();
        for (built, these) in builds.iter().zip(&chosen) {
            let label = select::label(built, these[i]);
            if let Some(w) = &label.warning {
                rep.warn(w);
            }
            made.push((built.arch, select::artifact(these[i], &label, built.arch)));
        }
        let one = executable_job(job, b, name, made, first.rel.clone());
        let plan = super::plan::plan(&one)?;
        each.push(execute(one, &plan, rep)?);
    }
    Ok(Outcome { each, ..Outcome::of(Vec::new()) })
}

/// The `found` line of one platform's build.
fn report_found(built: &buildsys::Built, several: bool, rep: &Reporter) {
    let rebuilt = built.executables.iter().filter(|e| e.rebuilt).count();
    let platform = if several { format!("{}: ", built.arch.platform()) } else { String::new() };
    rep.step(
        "found",
        format!(
            "{platform}{} executable{} ({rebuilt} built by this run): {}",
            built.executables.len(),
            if built.executables.len() == 1 { "" } else { "s" },
            built.executables.iter().map(|e| e.rel.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    );
}

/// The run of one executable a build system made (for each platform): its binary, its archive
/// and the destinations every executable shares.
fn executable_job<'a>(
    job: &Job,
    b: &BuildSystem,
    name: String,
    made: Vec<(Arch, crate::driver::Artifact)>,
    rel: PathBuf,
) -> Job<'a> {
    let binary = b.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    let destinations = match &b.image {
        None => Vec::new(),
        Some(tar) => {
            let tar = tar.clone().unwrap_or_else(|| default_image_path(&binary));
            std::iter::once(super::destination::Destination::Archive(tar))
                .chain(b.more_destinations.iter().cloned())
                .collect()
        }
    };
    Job {
        created_by: format!("staticize build --bin {name}"),
        name,
        programs: Programs::Made { made, inputs: vec![rel] },
        settings: job.settings.clone(),
        delivery: job.delivery.clone(),
        binaries: Binaries::PerPlatform(binary),
        destinations,
        dynamic: Dynamic::Refuse,
        plan_only: false,
        probe: job.probe.clone(),
    }
}
