//! `staticize build [DIR]`: a project's own build system run static, then each chosen
//! executable goes down the one road (`pipeline::run`): checked, imaged, delivered, written.

use std::path::PathBuf;

use crate::cli::BuildArgs;
use crate::commands::build::{check_host_platform, run_builds};
use crate::commands::settings;
use crate::driver::buildsys::{self, Built, Executable, Options, select};
use crate::error::{Error, Result};
use crate::pipeline::{Binaries, Dynamic, Job, Programs};
use crate::platform::Arch;
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
    check_host_platform(&settings::build_settings(&args.image)?)?;
    let opts = Options {
        command: args.command.clone(),
        configure_args: args.configure_args.clone(),
        targets: args.targets.clone(),
        preference: args.toolchain.preference(),
        deps: crate::deps::requested(&args.deps, &args.dir)?,
        auto_deps: args.auto_deps,
    };
    let built = buildsys::build(&args.dir, &opts, rep)?;
    let rebuilt = built.executables.iter().filter(|e| e.rebuilt).count();
    rep.step(
        "found",
        format!(
            "{} executable{} ({rebuilt} built by this run): {}",
            built.executables.len(),
            if built.executables.len() == 1 { "" } else { "s" },
            built.executables.iter().map(|e| e.rel.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    );
    let chosen = select::choose(&built, &args.bins)?;
    for e in &chosen {
        select::refuse_dynamic(e, &built)?;
    }
    for e in chosen {
        package(&args, &built, e, rep)?;
    }
    Ok(())
}

/// One chosen executable through the pipeline, as a build whose driver hands over the file.
fn package(args: &BuildArgs, built: &Built, e: &Executable, rep: &Reporter) -> Result<()> {
    let name = select::file_name(e);
    let label = select::label(built, e);
    if let Some(w) = &label.warning {
        rep.warn(w);
    }
    let driver = select::Prebuilt {
        path: e.path.clone(),
        toolchain: label.toolchain,
        libc: label.libc,
        archives: label.archives,
    };
    let binary = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    let job = Job {
        created_by: format!("staticize build --bin {name}"),
        name,
        programs: Programs::Build {
            builds: vec![(Arch::host(), &driver)],
            inputs: vec![e.rel.clone()],
            profile: args.toolchain.profile.into(),
            extra_args: Vec::new(),
        },
        settings: settings::build_settings(&args.image)?,
        destinations: settings::build_destinations(&args.image, &binary)?,
        binaries: Binaries::PerPlatform(binary),
        dynamic: Dynamic::Refuse,
    };
    run_builds(job, rep)
}
