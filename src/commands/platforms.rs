//! Builds for one or several platforms. One platform goes through `build::build_and_package`
//! unchanged; several are each compiled and checked the same way, then written as one
//! multi-platform image (an OCI index) and one binary per platform (OUT-ARCH).

use std::path::PathBuf;

use serde::Serialize;

use crate::cli::ImageArgs;
use crate::commands::build::{BuildResult, build_and_package, describe};
use crate::commands::package;
use crate::driver::target::Arch;
use crate::driver::{BuildRequest, Driver};
use crate::elf;
use crate::error::{Error, Result};
use crate::image::Written;
use crate::image::spec::Platform;
use crate::output;
use crate::report::{Reporter, human_size};
use crate::toolchain::Profile;

/// One build of a multi-platform run: the platform and the driver that builds for it.
pub type PlatformBuild = (Arch, Box<dyn Driver>);

/// The JSON result of a multi-platform build.
#[derive(Debug, Serialize)]
pub struct MultiResult {
    /// One result per platform (their `image` is empty; see below).
    pub builds: Vec<BuildResult>,
    /// The one image holding every platform.
    pub image: Option<Written>,
}

/// What every platform's build shares.
#[derive(Debug, Clone)]
pub struct Job {
    /// The inputs, for the report.
    pub inputs: Vec<PathBuf>,
    /// The program's name.
    pub name: String,
    /// `-o`.
    pub output: Option<PathBuf>,
    /// The profile.
    pub profile: Profile,
    /// Arguments after `--`.
    pub extra_args: Vec<String>,
    /// For the image history.
    pub created_by: String,
}

/// Builds every platform and packages them: the same steps as a one-platform build.
pub fn build_all(builds: Vec<PlatformBuild>, job: Job, image: &ImageArgs, rep: &Reporter) -> Result<()> {
    if builds.len() == 1 {
        let (_, driver) = &builds[0];
        // The driver already builds for the platform asked for; the shared pipeline's
        // host-only platform check is for drivers that cannot cross-compile.
        let mut image = image.clone();
        image.options.platform.clear();
        return build_and_package(
            driver.as_ref(),
            job.inputs,
            job.name,
            job.output,
            &image,
            job.profile,
            job.extra_args,
            job.created_by,
            rep,
        );
    }
    let base = job.output.clone().unwrap_or_else(|| PathBuf::from(&job.name));
    let bin_out = |arch: Arch| {
        let mut s = base.as_os_str().to_owned();
        s.push(format!("-{}", arch.name()));
        PathBuf::from(s)
    };
    let image_out =
        (!image.no_image).then(|| image.image.clone().unwrap_or_else(|| package::default_image_path(&base)));
    // Refuse what can be refused before any compiler runs.
    let reference = package::reference(&image.options, &job.name)?;
    package::program_path(&image.options, &job.name)?;
    for (arch, _) in &builds {
        output::ensure_writable(&bin_out(*arch))?;
    }
    let dests = match &image_out {
        Some(p) => Some(package::destinations(&image.options, p)?),
        None => None,
    };
    let staging = tempfile::Builder::new()
        .prefix("staticize-build-")
        .tempdir()
        .map_err(|e| Error::io("create a build directory in", std::env::temp_dir(), e))?;

    let mut results = Vec::new();
    for (arch, driver) in &builds {
        let dir = staging.path().join(arch.name());
        std::fs::create_dir(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let req = BuildRequest {
            inputs: job.inputs.clone(),
            name: job.name.clone(),
            staging: dir,
            profile: job.profile,
            extra_args: job.extra_args.clone(),
        };
        let artifact = driver.build(&req)?;
        let size = std::fs::metadata(&artifact.path).map(|m| m.len()).unwrap_or(0);
        rep.step("compile", format!("{} with {} → {}", arch.platform(), artifact.toolchain_used, human_size(size)));
        for w in &artifact.warnings {
            rep.warn(w);
        }
        let linkage = elf::inspect(&artifact.path)?;
        rep.step("check", format!("{}: {}", arch.platform(), describe(&linkage)));
        if linkage.machine != arch.name() {
            return Err(Error::Build {
                step: format!("compile for {}", arch.platform()),
                message: format!("the compiler produced a {} executable", linkage.machine),
                help: Some("check the extra arguments after -- and the toolchain's target settings".into()),
            });
        }
        results.push(BuildResult { binary: bin_out(*arch), artifact, linkage, image: None });
    }

    if let Some(bad) = results.iter().find(|r| !r.linkage.kind.is_self_contained()) {
        output::copy_atomic(&bad.artifact.path, &bad.binary, 0o755)?;
        rep.step("write", format!("{} ({})", bad.binary.display(), human_size(bad.linkage.size)));
        let message = format!(
            "{} is not self-contained ({}): no image written (it would not run in scratch)",
            bad.binary.display(),
            describe(&bad.linkage)
        );
        let help = format!("carry its libraries with: staticize bundle {}", bad.binary.display());
        rep.json(&MultiResult { builds: results, image: None });
        return Err(Error::Verdict { message, help: Some(help) });
    }

    // The image first, from the staged files: a failure leaves old binaries and image alone.
    let written = match dests {
        Some(dests) => {
            let binaries: Vec<(Platform, PathBuf)> =
                results.iter().map(|r| (Platform::linux(&r.linkage.machine), r.artifact.path.clone())).collect();
            let (mut plan, notes) =
                package::plan_for_binaries(&binaries, &job.name, &image.options, job.created_by.clone())?;
            plan.reference = reference;
            for n in &notes {
                rep.step("with", n);
            }
            Some(package::deliver(&plan, &dests, rep)?)
        }
        None => None,
    };
    for r in &results {
        output::copy_atomic(&r.artifact.path, &r.binary, 0o755)?;
        rep.step("write", format!("{} ({})", r.binary.display(), human_size(r.linkage.size)));
    }
    if let Some(w) = &written {
        let path = package::program_path(&image.options, &job.name)?;
        let subjects: Vec<crate::sbom::collect::Subject> = results
            .iter()
            .map(|r| crate::sbom::collect::Subject {
                name: &job.name,
                elf: &r.artifact.path,
                program_path: &path,
                artifact: Some(&r.artifact),
                inputs: &job.inputs,
                npm_dirs: &[],
                closure: None,
                host_program: None,
            })
            .collect();
        package::write_sbom(&image.options, w, &job.name, &subjects, rep)?;
        package::report_run_hint(w, rep);
        package::push_if_asked(w, &image.options, rep)?;
    }
    rep.json(&MultiResult { builds: results, image: written });
    Ok(())
}
