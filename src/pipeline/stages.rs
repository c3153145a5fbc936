//! The steps of [`super::run`], each small enough to read alone.

use std::path::{Path, PathBuf};

use super::carry::{self, Carried};
use super::destination::{self, Checked};
use super::{Binaries, Dynamic, Job, Program, Programs};
use crate::driver::{Artifact, BuildRequest, Driver};
use crate::elf::{self, Linkage};
use crate::error::{Error, Result};
use crate::image::rootfs::{MODE_DATA, MODE_EXEC};
use crate::image::spec::Platform;
use crate::image::{ImagePlan, PlatformImage, Source, Written};
use crate::output;
use crate::platform::Arch;
use crate::progress::Steps;
use crate::report::{Reporter, human_size};

/// What the refusals established: where each binary goes, and the checked destinations.
pub(super) struct Outputs {
    /// One per build, in order (None: not written).
    pub binaries: Vec<Option<PathBuf>>,
    /// None: no image.
    pub destinations: Option<Checked>,
}

/// The programs made or judged, and the image planned on the way (dynamic programs).
pub(super) struct Made {
    pub programs: Vec<Program>,
    pub plan: Option<ImagePlan>,
}

/// Everything that can be refused is refused before a compiler runs or a file is written.
pub(super) fn refuse(job: &Job) -> Result<Outputs> {
    job.settings.program_path(&job.name)?;
    let binaries = binary_paths(job);
    for b in binaries.iter().flatten() {
        output::ensure_writable(b)?;
    }
    let destinations = destination::check(&job.destinations, job.settings.compression)?;
    Ok(Outputs { binaries, destinations })
}

fn binary_paths(job: &Job) -> Vec<Option<PathBuf>> {
    let Programs::Build { builds, .. } = &job.programs else { return Vec::new() };
    match &job.binaries {
        Binaries::None => vec![None; builds.len()],
        Binaries::PerPlatform(base) if builds.len() == 1 => vec![Some(base.clone())],
        Binaries::PerPlatform(base) => builds
            .iter()
            .map(|(arch, _)| {
                let mut s = base.as_os_str().to_owned();
                s.push(format!("-{}", arch.name()));
                Some(PathBuf::from(s))
            })
            .collect(),
        Binaries::One(path) => {
            let chosen = builds.iter().position(|(a, _)| *a == Arch::host()).unwrap_or(0);
            (0..builds.len()).map(|i| (i == chosen).then(|| path.clone())).collect()
        }
    }
}

/// Builds and judges every platform; dynamic programs of a carrying job get their closure.
pub(super) fn build_all(job: &Job, outputs: &Outputs, staging: &Path, rep: &Reporter) -> Result<Made> {
    let Programs::Build { builds, inputs, profile, extra_args } = &job.programs else {
        unreachable!("build_all is called for builds")
    };
    let several = builds.len() > 1;
    let program_path = job.settings.program_path(&job.name)?;
    let mut made = Made { programs: Vec::new(), plan: None };
    for (i, (arch, driver)) in builds.iter().enumerate() {
        let dir = if several { staging.join(arch.name()) } else { staging.to_path_buf() };
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let req = BuildRequest {
            inputs: inputs.clone(),
            name: job.name.clone(),
            staging: dir,
            profile: *profile,
            extra_args: extra_args.clone(),
            arch: *arch,
            program_path: program_path.clone(),
        };
        // Off a terminal a long compile prints a start line and a heartbeat (progress.rs).
        let progress = (!driver.reports_steps())
            .then(|| crate::progress::Progress::start(rep, format!("compiling {}", display_inputs(&req.inputs))));
        let artifact = driver.build(&req, &Steps::new(rep));
        drop(progress);
        let artifact = artifact?;
        let linkage = judge_build(*driver, *arch, several, &req, &artifact, rep)?;
        let mut program = Program {
            arch: Some(*arch),
            elf: artifact.path.clone(),
            artifact: Some(artifact),
            linkage,
            binary: outputs.binaries[i].clone(),
            closure: None,
            program_path: program_path.clone(),
        };
        if let (Dynamic::Carry(_), Some(_)) = (&job.dynamic, &outputs.destinations) {
            let carried = carry_built(job, *driver, &program, rep)?;
            add_image(&mut made.plan, job, carried.image)?;
            program.closure = Some(carried.closure);
        }
        made.programs.push(program);
    }
    Ok(made)
}

/// The compile and check lines of one build, and its verdict.
fn judge_build(
    driver: &dyn Driver,
    arch: Arch,
    several: bool,
    req: &BuildRequest,
    artifact: &Artifact,
    rep: &Reporter,
) -> Result<Linkage> {
    let announced = !driver.reports_steps();
    if announced {
        let what = if several { arch.platform() } else { display_inputs(&req.inputs) };
        let size = human_size(crate::report::size_of(&artifact.path));
        rep.step("compile", format!("{what} with {} → {size}", artifact.toolchain_used));
    }
    for w in &artifact.warnings {
        rep.warn(w);
    }
    let linkage = elf::inspect(&artifact.path)?;
    if several && announced {
        rep.step("check", format!("{}: {linkage}", arch.platform()));
        if linkage.machine != arch.name() {
            return Err(Error::Build {
                step: format!("compile for {}", arch.platform()),
                message: format!("the compiler produced a {} executable", linkage.machine),
                help: Some("check the extra arguments after -- and the toolchain's target settings".into()),
            });
        }
    } else {
        rep.step("check", linkage.to_string());
    }
    Ok(linkage)
}

/// The closure stage for a program a driver built: its libraries from this machine or from
/// the root the driver names, and the files it needs beside it.
fn carry_built(job: &Job, driver: &dyn Driver, program: &Program, rep: &Reporter) -> Result<Carried> {
    let Dynamic::Carry(opts) = &job.dynamic else { unreachable!("carry_built is called when carrying") };
    let artifact = program.artifact.as_ref().expect("a build has an artifact");
    let root = driver.library_root(artifact, &Steps::new(rep))?;
    let what = format!("{} for {}", artifact.lang, program.arch.map(Arch::platform).unwrap_or_default());
    let p = carry::Program {
        elf: &program.elf,
        linkage: &program.linkage,
        name: &job.name,
        what,
        created_by: &job.created_by,
    };
    let mut carried = carry::carry(&p, &job.settings, opts, root)?;
    carry::report(&carried, rep);
    // The driver was told where the program goes (a launcher finds its files from there).
    if carried.program_path != program.program_path {
        return Err(Error::Build {
            step: "plan the image".into(),
            message: format!("the executable went to {} instead of {}", carried.program_path, program.program_path),
            help: Some("pass --path explicitly".into()),
        });
    }
    if let Some(c) = &artifact.companions {
        for (rel, host, exec) in &c.files {
            let mode = if *exec { MODE_EXEC } else { MODE_DATA };
            carried.image.rootfs.add_file(&format!("{}/{rel}", c.root), Source::Host(host.clone()), mode)?;
        }
    }
    Ok(carried)
}

/// Adds one platform's image to the job's plan, keeping platforms sorted.
fn add_image(plan: &mut Option<ImagePlan>, job: &Job, image: PlatformImage) -> Result<()> {
    match plan {
        Some(p) => p.images.push(image),
        None => {
            *plan = Some(ImagePlan {
                reference: job.settings.reference(&job.name),
                images: vec![image],
                compression: job.settings.compression,
                epoch: crate::epoch::source_date_epoch()?,
            })
        }
    }
    if let Some(p) = plan {
        p.images.sort_by(|a, b| a.platform.cmp(&b.platform));
    }
    Ok(())
}

/// Judges executables made elsewhere: each must be what it says, one per platform, and the
/// platforms those `--platform` asks for.
pub(super) fn judge_prebuilt(job: &Job, files: &[(Option<Arch>, PathBuf)], rep: &Reporter) -> Result<Made> {
    let mut made = Made { programs: Vec::new(), plan: None };
    let mut seen: Vec<Platform> = Vec::new();
    for (declared, path) in files {
        let linkage = elf::inspect(path)?;
        rep.step("check", format!("{}: {linkage}", path.display()));
        let mut program = Program {
            arch: *declared,
            elf: path.clone(),
            artifact: None,
            linkage,
            binary: None,
            closure: None,
            program_path: job.settings.program_path(&job.name)?,
        };
        match &job.dynamic {
            Dynamic::Refuse => check_static(&program, *declared, &mut seen)?,
            Dynamic::Packed(inside) => {
                check_static(&program, *declared, &mut seen)?;
                program.closure = Some(inside.closure.clone());
            }
            Dynamic::Carry(opts) => {
                let p = carry::Program {
                    elf: path,
                    linkage: &program.linkage,
                    name: &job.name,
                    what: String::new(),
                    created_by: &job.created_by,
                };
                let carried = carry::carry(&p, &job.settings, opts, None)?;
                carry::report(&carried, rep);
                add_image(&mut made.plan, job, carried.image)?;
                program.program_path = carried.program_path;
                program.closure = Some(carried.closure);
            }
        }
        made.programs.push(program);
    }
    if job.dynamic.refuses() {
        check_requested_platforms(job, &made.programs)?;
    }
    Ok(made)
}

fn check_static(p: &Program, declared: Option<Arch>, seen: &mut Vec<Platform>) -> Result<()> {
    let path = &p.elf;
    if !p.linkage.kind.is_self_contained() {
        return Err(Error::Verdict {
            message: format!(
                "{} is not self-contained ({}), so it cannot run in a scratch image",
                path.display(),
                p.linkage
            ),
            help: Some(format!(
                "rebuild it statically (staticize c|cxx|go|rust), or carry its libraries into the image with: staticize bundle {}",
                path.display()
            )),
        });
    }
    let actual = Platform::linux(&p.linkage.machine);
    if let Some(d) = declared.map(Platform::of).filter(|d| *d != actual) {
        return Err(Error::input(
            path,
            format!("is a {actual} executable, but --binary says {d}"),
            Some(format!("pass it as --binary {actual}={}", path.display())),
        ));
    }
    if seen.contains(&actual) {
        return Err(Error::usage(
            format!("two executables for {actual}"),
            "give one executable per platform (--binary linux/amd64=… --binary linux/arm64=…)",
        ));
    }
    seen.push(actual);
    Ok(())
}

/// With --platform, exactly those platforms must have an executable.
fn check_requested_platforms(job: &Job, have: &[Program]) -> Result<()> {
    let wanted: Vec<Platform> = job.settings.platforms.iter().map(|a| Platform::of(*a)).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let have: Vec<(Platform, &Path)> =
        have.iter().map(|p| (Platform::linux(&p.linkage.machine), p.elf.as_path())).collect();
    if let Some(missing) = wanted.iter().find(|w| !have.iter().any(|(p, _)| p == *w)) {
        return Err(Error::usage(
            format!("--platform asks for {missing}, but no executable for it was given"),
            format!("add --binary {missing}=PATH (staticize image takes one executable per platform)"),
        ));
    }
    if let Some((extra, path)) = have.iter().find(|(p, _)| !wanted.contains(p)) {
        return Err(Error::usage(
            format!("{} is for {extra}, which --platform does not list", path.display()),
            format!("add {extra} to --platform, or leave that executable out"),
        ));
    }
    Ok(())
}

/// A build that refuses dynamic programs: the first one that is not self-contained is written
/// (so it can be looked at) and becomes the run's failed verdict.
pub(super) fn verdict(job: &Job, programs: &[Program], rep: &Reporter) -> Result<Option<Error>> {
    if !job.dynamic.refuses() {
        return Ok(None);
    }
    let Some(bad) = programs.iter().find(|p| !p.linkage.kind.is_self_contained()) else { return Ok(None) };
    let Some(binary) = &bad.binary else { return Ok(None) };
    output::copy_atomic(&bad.elf, binary, 0o755)?;
    rep.step("write", format!("{} ({})", binary.display(), human_size(bad.linkage.size)));
    let carry = format!("carry its libraries with: staticize bundle {}", binary.display());
    let help = if programs.len() == 1 {
        format!("remove flags that make it dynamic (-shared, -static-pie with musl-gcc), or {carry}")
    } else {
        carry
    };
    Ok(Some(Error::Verdict {
        message: format!(
            "{} is not self-contained ({}): no image written (it would not run in scratch)",
            binary.display(),
            bad.linkage
        ),
        help: Some(help),
    }))
}

/// Plans the image of static programs (printing what the extras added) and delivers it.
pub(super) fn deliver_static(job: &Job, programs: &[Program], dests: &Checked, rep: &Reporter) -> Result<Written> {
    let files: Vec<(Platform, PathBuf, String)> = programs
        .iter()
        .map(|p| (Platform::linux(&p.linkage.machine), p.elf.clone(), p.linkage.machine.clone()))
        .collect();
    // Stripped copies live here until the image is written; the given files are never changed.
    let scratch = tempfile::Builder::new()
        .prefix("staticize-strip-")
        .tempdir()
        .map_err(|e| Error::io("create a scratch directory in", std::env::temp_dir(), e))?;
    let files = crate::strip::for_image(&files, job.settings.strip, scratch.path(), rep)?;
    let (mut plan, notes) = super::plan::plan(&files, &job.name, &job.settings, &job.created_by)?;
    for n in &notes {
        rep.step("with", n);
    }
    if let (Dynamic::Packed(inside), Some(p)) = (&job.dynamic, programs.first()) {
        for image in &mut plan.images {
            carry::add_package_records(&mut image.rootfs, &inside.closure, Some(&inside.program), &p.program_path)?;
        }
    }
    report_gaps(job, programs, &plan, rep);
    destination::deliver(&plan, dests, rep)
}

/// The scratch-gap hints of static programs, as a carried program gets them: a Go or rustls
/// client naming the trust store is told to add --with certs. A packed file is judged by the
/// program and closure it carries, whose strings the compressed payload hides.
fn report_gaps(job: &Job, programs: &[Program], plan: &ImagePlan, rep: &Reporter) {
    let mut said = std::collections::BTreeSet::new();
    for (image, p) in plan.images.iter().zip(programs) {
        let gaps = match &job.dynamic {
            Dynamic::Packed(inside) => {
                crate::bundle::hints::scratch_gaps(&image.rootfs, &inside.program, Some(&inside.closure))
            }
            _ => crate::bundle::hints::scratch_gaps(&image.rootfs, &p.elf, None),
        };
        for g in gaps.into_iter().filter(|g| said.insert(g.clone())) {
            rep.step("hint", g);
        }
    }
}

/// Writes each executable from its staged file, after the image (a failure there leaves the
/// old binary and the old image in place).
pub(super) fn write_binaries(job: &Job, programs: &[Program], rep: &Reporter) -> Result<()> {
    for p in programs {
        let Some(binary) = &p.binary else { continue };
        output::copy_atomic(&p.elf, binary, 0o755)?;
        let size = human_size(p.linkage.size);
        let line = match (&job.dynamic, &p.artifact) {
            (Dynamic::Carry(_), Some(a)) => {
                let beside = a
                    .companions
                    .as_ref()
                    .map(|c| format!(" — it runs the package tree, which is in the image under {}", c.root));
                format!(
                    "{} ({size}, {}, dynamic: runs where {}'s libraries are){}",
                    binary.display(),
                    p.linkage.machine,
                    a.lang,
                    beside.unwrap_or_default()
                )
            }
            _ => format!("{} ({size})", binary.display()),
        };
        rep.step("write", line);
    }
    Ok(())
}

fn display_inputs(inputs: &[PathBuf]) -> String {
    inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
}
