//! `staticize build [DIR]`: a job whose programs come from the project's own build system;
//! `pipeline::run` runs it static, then takes each chosen executable down the rest of the road:
//! checked, imaged, delivered, written.

use crate::cli::BuildArgs;
use crate::commands::build::run_builds;
use crate::commands::settings;
use crate::driver::buildsys::Options;
use crate::error::{Error, Result};
use crate::pipeline::{Binaries, BuildSystem, Dynamic, Job, Programs};
use crate::report::Reporter;

/// Runs `staticize build`.
pub fn run(args: BuildArgs, rep: &Reporter) -> Result<()> {
    if args.output.is_some() && args.bins.len() > 1 {
        return Err(Error::usage(
            "-o names one executable, but several --bin were given",
            "drop -o: each is written as ./NAME",
        ));
    }
    // Image settings are refused before the (long) build runs.
    let mut delivery = settings::delivery(&args.image.options)?;
    // The project's staticize.toml, not the current directory's, names its cache registry.
    delivery.cache = settings::cache_registry(&args.image.options.image_output.cache, &args.dir)?;
    let image = (!args.image.no_image).then(|| args.image.image.clone());
    // The archive of each executable is named after it; the other destinations are shared.
    let more_destinations = match image {
        Some(_) => settings::destinations(&args.image.options.image_output, Default::default())?.split_off(1),
        None => Vec::new(),
    };
    let system = BuildSystem {
        dir: args.dir.clone(),
        options: Options {
            command: args.command.clone(),
            configure_args: args.configure_args.clone(),
            targets: args.targets.clone(),
            preference: args.toolchain.preference(),
            deps: crate::deps::requested(&args.deps, &args.dir)?,
            auto_deps: args.auto_deps,
            cache: delivery.cache.clone(),
        },
        bins: args.bins.clone(),
        output: args.output.clone(),
        image,
        more_destinations,
    };
    let job = Job {
        name: String::new(),
        created_by: format!("staticize build {}", args.dir.display()),
        programs: Programs::BuildSystem(Box::new(system)),
        settings: settings::build_settings(&args.image)?,
        delivery,
        binaries: Binaries::None,
        destinations: Vec::new(),
        probe: settings::probe_in(&args.image.options.image_output, &args.dir)?,
        dynamic: Dynamic::Refuse,
        plan_only: args.image.options.image_output.plan,
    };
    run_builds(job, rep)
}
