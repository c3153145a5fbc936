//! `staticize go`: a Go main package → static executable(s) → scratch image.

use std::path::PathBuf;

use crate::cli::GoArgs;
use crate::commands::build::run_builds;
use crate::commands::settings;
use crate::driver::Driver;
use crate::driver::go::GoDriver;
use crate::error::Result;
use crate::pipeline::{Binaries, Dynamic, Job, Programs};
use crate::platform::Arch;
use crate::report::Reporter;
use crate::toolchain::Profile;

/// Runs `staticize go`.
pub fn run(args: GoArgs, rep: &Reporter) -> Result<()> {
    let settings = settings::build_settings(&args.image)?;
    let delivery = settings::delivery(&args.image.options)?;
    let plan_only = args.image.options.image_output.plan;
    let mut drivers: Vec<(Arch, GoDriver)> = Vec::new();
    for arch in delivery.build_platforms() {
        // With --plan nothing is built, not even speculatively.
        let driver = GoDriver::new(&args.package, arch, &args.tags, args.tzdata, &args.extra, !plan_only)?;
        if let Some(note) = driver.cgo_note() {
            rep.step("cgo", format!("{}: {note}", arch.platform()));
        }
        drivers.push((arch, driver));
    }
    let name = drivers.last().map(|(_, d)| d.package.name.clone()).unwrap_or_default();
    let binary = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    let job = Job {
        // The package's name, not the path as typed: an absolute path would put the build
        // directory into the image's history and make its bytes depend on where it was built.
        created_by: format!("staticize go {name}"),
        name,
        programs: Programs::Build {
            builds: drivers.iter().map(|(a, d)| (*a, d as &dyn Driver)).collect(),
            inputs: vec![PathBuf::from(&args.package)],
            profile: Profile::Size,
            extra_args: args.extra.clone(),
        },
        settings,
        delivery,
        probe: settings::probe(&args.image.options.image_output)?,
        destinations: settings::build_destinations(&args.image, &binary)?,
        binaries: Binaries::PerPlatform(binary),
        dynamic: Dynamic::Refuse,
        plan_only,
    };
    run_builds(job, rep)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::cli::{Cli, Command};

    #[test]
    fn go_command_line_parses() {
        // Catches argument-name clashes with flattened image options (clap's debug asserts).
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "staticize",
            "go",
            "./cmd/app",
            "--platform",
            "linux/amd64,linux/arm64",
            "--tags",
            "a,b",
            "--tzdata",
            "-t",
            "app:1",
            "--",
            "-v",
        ])
        .unwrap();
        let Command::Go(args) = cli.command else { panic!("not go") };
        assert_eq!(args.package, "./cmd/app");
        assert_eq!(args.image.options.platform, ["linux/amd64", "linux/arm64"]);
        assert_eq!(args.tags, ["a", "b"]);
        assert!(args.tzdata);
        assert_eq!(args.extra, ["-v"]);
    }
}
