//! `staticize rust`: a Cargo bin target → static executable(s) → scratch image.

use std::path::PathBuf;

use crate::cli::{Libc, RustArgs};
use crate::commands::build::run_builds;
use crate::commands::settings;
use crate::driver::Driver;
use crate::driver::rust::{RustDriver, RustLibc, cargo, choose_target, installed_targets, resolve};
use crate::error::Result;
use crate::pipeline::{Binaries, Dynamic, Job, Programs};
use crate::platform::Arch;
use crate::report::Reporter;

/// Runs `staticize rust`.
pub fn run(args: RustArgs, rep: &Reporter) -> Result<()> {
    let settings = settings::build_settings(&args.image)?;
    let cargo = cargo()?;
    let target = resolve(&cargo, &args.project, args.bin.as_deref())?;
    let want = args.libc.map(|l| match l {
        Libc::Musl => RustLibc::Musl,
        Libc::Glibc => RustLibc::Glibc,
    });
    let installed = installed_targets();
    let mut drivers: Vec<(Arch, RustDriver)> = Vec::new();
    for arch in settings.build_platforms() {
        let (triple, libc) = choose_target(arch, want, installed.as_deref())?;
        if libc == RustLibc::Glibc && want.is_none() {
            rep.step(
                "target",
                format!(
                    "{triple} with +crt-static (static glibc); for musl: rustup target add {}",
                    crate::driver::rust::settings().musl_triple(arch)
                ),
            );
        }
        drivers.push((
            arch,
            RustDriver {
                cargo: cargo.clone(),
                target: target.clone(),
                arch,
                triple,
                libc,
                features: args.features.clone(),
                all_features: args.all_features,
                no_default_features: args.no_default_features,
            },
        ));
    }
    let binary = args.output.clone().unwrap_or_else(|| PathBuf::from(&target.bin));
    let job = Job {
        name: target.bin.clone(),
        programs: Programs::Build {
            builds: drivers.iter().map(|(a, d)| (*a, d as &dyn Driver)).collect(),
            inputs: vec![args.project.clone()],
            profile: args.profile.into(),
            extra_args: args.extra.clone(),
        },
        settings,
        probe: settings::probe(&args.image.options.image_output)?,
        destinations: settings::build_destinations(&args.image, &binary)?,
        binaries: Binaries::PerPlatform(binary),
        dynamic: Dynamic::Refuse,
        created_by: format!("staticize rust --bin {}", target.bin),
    };
    run_builds(job, rep)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn rust_command_line_parses() {
        let cli = Cli::try_parse_from([
            "staticize",
            "rust",
            "ws",
            "--bin",
            "beta",
            "--features",
            "x,y",
            "--libc",
            "glibc",
            "--profile",
            "speed",
            "--no-image",
        ])
        .unwrap();
        let Command::Rust(args) = cli.command else { panic!("not rust") };
        assert_eq!(args.project, std::path::PathBuf::from("ws"));
        assert_eq!(args.bin.as_deref(), Some("beta"));
        assert_eq!(args.features, ["x", "y"]);
        assert!(args.image.no_image);
        assert!(args.image.options.platform.is_empty());
    }
}
