//! `staticize rust`: a Cargo bin target → static executable(s) → scratch image. The project
//! is a local package, or NAME@VERSION: a crate from crates.io, built like `cargo install`.

use std::path::PathBuf;

use crate::cli::{Libc, RustArgs};
use crate::commands::build::run_builds;
use crate::commands::settings;
use crate::driver::Driver;
use crate::driver::rust::{RustBuild, RustLibc, cargo, drivers, resolve};
use crate::driver::rust_remote::{self, Published};
use crate::error::Result;
use crate::pipeline::{Binaries, Dynamic, Job, Programs};
use crate::progress::Progress;
use crate::report::Reporter;

/// Runs `staticize rust`.
pub fn run(args: RustArgs, rep: &Reporter) -> Result<()> {
    let settings = settings::build_settings(&args.image)?;
    let delivery = settings::delivery(&args.image.options)?;
    let cargo = cargo()?;
    let published = match rust_remote::split(&args.project) {
        Some((name, version)) => Some(fetch_published(name, version, rep)?),
        None => None,
    };
    let project = published.as_ref().map_or_else(|| args.project.clone(), |p| p.dir.clone());
    let target = resolve(&cargo, &project, args.bin.as_deref())?;
    let wanted = RustBuild {
        libc: args.libc.map(|l| match l {
            Libc::Musl => RustLibc::Musl,
            Libc::Glibc => RustLibc::Glibc,
        }),
        features: args.features.clone(),
        all_features: args.all_features,
        no_default_features: args.no_default_features,
        locked: published.as_ref().is_some_and(|p| p.locked),
    };
    let drivers = drivers(&cargo, &target, &delivery.build_platforms(), &wanted, rep)?;
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
        delivery,
        probe: settings::probe(&args.image.options.image_output)?,
        destinations: settings::build_destinations(&args.image, &binary)?,
        binaries: Binaries::PerPlatform(binary),
        dynamic: Dynamic::Refuse,
        created_by: match &published {
            Some(p) => format!("staticize rust {}@{} --bin {}", p.name, p.version, target.bin),
            None => format!("staticize rust --bin {}", target.bin),
        },
        plan_only: args.image.options.image_output.plan,
    };
    run_builds(job, rep)
}

/// Fetches a published crate into the cache (or finds it there) and says which and how.
fn fetch_published(name: &str, version: &str, rep: &Reporter) -> Result<Published> {
    let spinner = Progress::start(rep, format!("fetching {name}@{version} from crates.io"));
    let p = rust_remote::fetch(name, version)?;
    drop(spinner);
    let lock = if p.locked {
        "its own Cargo.lock, --locked".to_string()
    } else {
        "it ships no Cargo.lock: dependencies resolved afresh, as cargo install does".to_string()
    };
    let from = if p.cached { "cached" } else { "downloaded" };
    rep.step("crate", format!("{} {} {from} in {} ({lock})", p.name, p.version, p.dir.display()));
    Ok(p)
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
