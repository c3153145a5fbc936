//! `staticize rust`: a Cargo bin target → static executable(s) → scratch image.

use crate::cli::{Libc, RustArgs};
use crate::commands::platforms::{self, Job, PlatformBuild};
use crate::driver::rust::{RustDriver, RustLibc, cargo, choose_target, installed_targets, resolve};
use crate::driver::target::parse_platforms;
use crate::error::Result;
use crate::report::Reporter;

/// Runs `staticize rust`.
pub fn run(args: RustArgs, rep: &Reporter) -> Result<()> {
    let arches = parse_platforms(&args.image.options.platform)?;
    let cargo = cargo()?;
    let target = resolve(&cargo, &args.project, args.bin.as_deref())?;
    let want = args.libc.map(|l| match l {
        Libc::Musl => RustLibc::Musl,
        Libc::Glibc => RustLibc::Glibc,
    });
    let installed = installed_targets();
    let mut builds: Vec<PlatformBuild> = Vec::new();
    for arch in arches {
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
        builds.push((
            arch,
            Box::new(RustDriver {
                cargo: cargo.clone(),
                target: target.clone(),
                arch,
                triple,
                libc,
                features: args.features.clone(),
                all_features: args.all_features,
                no_default_features: args.no_default_features,
            }),
        ));
    }
    let job = Job {
        inputs: vec![args.project.clone()],
        name: target.bin.clone(),
        output: args.output.clone(),
        profile: args.profile,
        extra_args: args.extra.clone(),
        created_by: format!("staticize rust --bin {}", target.bin),
    };
    platforms::build_all(builds, job, &args.image, rep)
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
