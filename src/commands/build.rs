//! `staticize c` / `staticize cxx`, and the JSON every build command prints: the arguments
//! become a `pipeline::Job`; `pipeline::run` plans it, then compiles, checks, writes the image
//! and the binary (or, with `--plan`, prints the plan).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::CArgs;
use crate::commands::settings;
use crate::driver::Artifact;
use crate::driver::c::CDriver;
use crate::elf::Linkage;
use crate::error::Result;
use crate::image::Written;
use crate::naming::{NamePart, program_name};
use crate::pipeline::{self, Binaries, Dynamic, Job, Outcome, Programs};
use crate::platform::Arch;
use crate::report::Reporter;
use crate::toolchain::cc::Lang;

/// The JSON result of a build command.
#[derive(Debug, Serialize)]
pub struct BuildResult {
    /// The executable written.
    pub binary: PathBuf,
    /// What built it.
    pub artifact: Artifact,
    /// Its verdict.
    pub linkage: Linkage,
    /// The image, when one was written.
    pub image: Option<Written>,
    /// The proof run of the output (how it ended, what it lacked); absent with --no-probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<crate::prove::Proof>,
}

/// The JSON result of a multi-platform build.
#[derive(Debug, Serialize)]
pub struct MultiResult {
    /// One result per platform (their `image` is empty; see below).
    pub builds: Vec<BuildResult>,
    /// The one image holding every platform.
    pub image: Option<Written>,
    /// The proof run of the output (how it ended, what it lacked); absent with --no-probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<crate::prove::Proof>,
}

/// `staticize c` / `staticize cxx`.
pub fn c(args: CArgs, lang: Lang, rep: &Reporter) -> Result<()> {
    let first = &args.sources[0];
    let name = program_name(first, NamePart::Stem, "-o")?;
    let mut extra: Vec<String> = Vec::new();
    extra.extend(args.include.iter().map(|d| format!("-I{d}")));
    extra.extend(args.define.iter().map(|d| format!("-D{d}")));
    extra.extend(args.libdir.iter().map(|d| format!("-L{d}")));
    extra.extend(args.lib.iter().map(|l| format!("-l{l}")));
    extra.extend(args.extra.iter().cloned());
    let deps = crate::deps::requested(&args.deps, Path::new("."))?;
    let lang_word = lang.key();
    let settings = settings::build_settings(&args.image)?;
    let delivery = settings::delivery(&args.image.options)?;
    let cache = delivery.cache.clone();
    // One driver per platform: the host's compiler order for the host, zig for the others.
    let drivers: Vec<CDriver> = delivery
        .build_platforms()
        .into_iter()
        .map(|arch| CDriver {
            lang,
            preference: args.toolchain.preference(),
            deps: deps.clone(),
            auto_deps: args.auto_deps,
            arch,
            cache: cache.clone(),
        })
        .collect();
    for d in &drivers {
        // A compiler that cannot reach a platform is the command line's error, before any build.
        if d.arch != Arch::host() {
            d.compiler()?;
        }
    }
    let binary = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    let job = Job {
        created_by: format!("staticize {lang_word} {}", file_name(first)),
        name,
        programs: Programs::Build {
            builds: drivers.iter().map(|d| (d.arch, d as &dyn crate::driver::Driver)).collect(),
            inputs: args.sources.clone(),
            profile: args.toolchain.profile.into(),
            extra_args: extra,
        },
        settings,
        delivery,
        probe: settings::probe(&args.image.options.image_output)?,
        destinations: settings::build_destinations(&args.image, &binary)?,
        binaries: Binaries::PerPlatform(binary),
        dynamic: Dynamic::Refuse,
        plan_only: args.image.options.image_output.plan,
    };
    run_builds(job, rep)
}

/// Runs a build job and prints its JSON (one per executable for a build system's); exit 1
/// when a verdict failed.
pub(crate) fn run_builds(job: pipeline::Job<'_>, rep: &Reporter) -> Result<()> {
    let Some(outcome) = pipeline::run(job, rep)? else { return Ok(()) };
    if outcome.each.is_empty() {
        print_builds(&outcome, rep);
        return outcome.finish();
    }
    for one in outcome.each {
        print_builds(&one, rep);
        one.finish()?;
    }
    Ok(())
}

/// Prints a build's JSON: one result for one platform, the list and the image for several.
pub fn print_builds(outcome: &Outcome, rep: &Reporter) {
    let mut builds: Vec<BuildResult> = outcome
        .programs
        .iter()
        .map(|p| BuildResult {
            binary: p.binary.clone().unwrap_or_default(),
            artifact: p.artifact.clone().expect("a build has an artifact"),
            linkage: p.linkage.clone(),
            image: None,
            proof: None,
        })
        .collect();
    if builds.len() == 1 {
        let mut one = builds.remove(0);
        one.image = outcome.image.clone();
        one.proof = outcome.proof.clone();
        rep.json(&one);
    } else {
        rep.json(&MultiResult { builds, image: outcome.image.clone(), proof: outcome.proof.clone() });
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}
