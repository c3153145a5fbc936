//! `staticize go`: a Go main package → static executable(s) → scratch image.

use std::path::PathBuf;

use crate::cli::GoArgs;
use crate::commands::platforms::{self, Job, PlatformBuild};
use crate::driver::go::GoDriver;
use crate::driver::target::parse_platforms;
use crate::error::Result;
use crate::report::Reporter;
use crate::toolchain::Profile;

/// Runs `staticize go`.
pub fn run(args: GoArgs, rep: &Reporter) -> Result<()> {
    let arches = parse_platforms(&args.image.options.platform)?;
    let mut builds: Vec<PlatformBuild> = Vec::new();
    let mut name = String::new();
    for arch in arches {
        let driver = GoDriver::new(&args.package, arch, &args.tags, args.tzdata, &args.extra)?;
        if let Some(note) = driver.cgo_note() {
            rep.step("cgo", format!("{}: {note}", arch.platform()));
        }
        name = driver.package.name.clone();
        builds.push((arch, Box::new(driver)));
    }
    let job = Job {
        inputs: vec![PathBuf::from(&args.package)],
        name: name.clone(),
        output: args.output.clone(),
        profile: Profile::Size,
        extra_args: args.extra.clone(),
        // The package's name, not the path as typed: an absolute path would put the build
        // directory into the image's history and make its bytes depend on where it was built.
        created_by: format!("staticize go {name}"),
    };
    platforms::build_all(builds, job, &args.image, rep)
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
