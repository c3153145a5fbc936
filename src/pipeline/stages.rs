//! The stages of [`super::execute`] that make and judge programs and plan their image, each
//! small enough to read alone.

use std::path::{Path, PathBuf};

use super::carry::{self, ToCarry, WithClosure};
use super::destination::{self, Checked};
use super::image::{Frame, add_image, static_image};
use super::job::{CarryOptions, Dynamic, Job, Judged, PackOptions, PackedProgram};
use super::plan::{Plan, binary_paths};
use crate::driver::{Artifact, BuildRequest, Driver};
use crate::elf::{self, Linkage};
use crate::error::{Error, Result};
use crate::image::ImagePlan;
use crate::image::rootfs::{MODE_DATA, MODE_EXEC};
use crate::image::spec::Platform;
use crate::output;
use crate::platform::Arch;
use crate::progress::Steps;
use crate::report::{Reporter, human_size};

/// What the refusals established: where each binary goes, and the checked destinations.
pub(super) struct Outputs {
    /// One per program made, in order (None: not written).
    pub binaries: Vec<Option<PathBuf>>,
    /// None: no image.
    pub destinations: Option<Checked>,
}

/// Everything that can be refused is refused before a compiler runs or a file is written.
pub(super) fn refuse(job: &Job) -> Result<Outputs> {
    let binaries = binary_paths(job);
    for b in binaries.iter().flatten() {
        output::ensure_writable(b)?;
    }
    let destinations = destination::check(&job.destinations, job.delivery.compression)?;
    super::attest::check(job)?;
    Ok(Outputs { binaries, destinations })
}

/// The planned path of program `i` in the image.
fn planned_path(plan: &Plan, i: usize) -> String {
    plan.programs.get(i).and_then(|p| p.path_in_image.clone()).unwrap_or_default()
}

/// The make and judge stages of a build: each platform through its driver, then its verdict.
pub(super) fn build_all(
    builds: &[(Arch, &dyn Driver)],
    req: &BuildRequest,
    plan: &Plan,
    outputs: &Outputs,
    rep: &Reporter,
) -> Result<Vec<Judged>> {
    let several = builds.len() > 1;
    let mut judged = Vec::new();
    for (i, (arch, driver)) in builds.iter().enumerate() {
        let dir = if several { req.staging.join(arch.name()) } else { req.staging.clone() };
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let req = BuildRequest { staging: dir, arch: *arch, program_path: planned_path(plan, i), ..req.clone() };
        // Off a terminal a long compile prints a start line and a heartbeat (progress.rs).
        let progress = (!driver.reports_steps())
            .then(|| crate::progress::Progress::start(rep, format!("compiling {}", display_inputs(&req.inputs))));
        let artifact = driver.build(&req, &Steps::new(rep));
        drop(progress);
        let artifact = artifact?;
        let what = if several { arch.platform() } else { display_inputs(&req.inputs) };
        let linkage = judge_artifact(&artifact, !driver.reports_steps(), &what, several.then_some(*arch), rep)?;
        judged.push(Judged {
            arch: Some(*arch),
            elf: artifact.path.clone(),
            artifact: Some(artifact),
            linkage,
            binary: outputs.binaries[i].clone(),
            closure: None,
            program_path: req.program_path,
            runtime_path: plan.programs.get(i).and_then(|p| p.runtime.clone()),
        });
    }
    Ok(judged)
}

/// The judge stage of executables an earlier stage made (a build system's).
pub(super) fn judge_made(
    made: &[(Arch, Artifact)],
    inputs: &[PathBuf],
    plan: &Plan,
    outputs: &Outputs,
    rep: &Reporter,
) -> Result<Vec<Judged>> {
    let several = made.len() > 1;
    let mut judged = Vec::new();
    for (i, (arch, artifact)) in made.iter().enumerate() {
        let what = if several { arch.platform() } else { display_inputs(inputs) };
        // Another machine's program is checked for it even alone.
        let cross = (several || *arch != Arch::host()).then_some(*arch);
        let linkage = judge_artifact(artifact, true, &what, cross, rep)?;
        judged.push(Judged {
            arch: Some(*arch),
            elf: artifact.path.clone(),
            artifact: Some(artifact.clone()),
            linkage,
            binary: outputs.binaries[i].clone(),
            closure: None,
            program_path: planned_path(plan, i),
            runtime_path: None,
        });
    }
    Ok(judged)
}

/// The compile and check lines of one build, and its verdict; `cross`: the platform asked
/// for, which the ELF must be for.
fn judge_artifact(
    artifact: &Artifact,
    announce: bool,
    what: &str,
    cross: Option<Arch>,
    rep: &Reporter,
) -> Result<Linkage> {
    if announce {
        let size = human_size(crate::report::size_of(&artifact.path));
        rep.step("compile", format!("{what} with {} → {size}", artifact.toolchain_used));
    }
    for w in &artifact.warnings {
        rep.warn(w);
    }
    let linkage = elf::inspect(&artifact.path)?;
    match cross.filter(|_| announce) {
        Some(arch) => {
            rep.step("check", format!("{}: {linkage}", arch.platform()));
            if linkage.machine != arch.name() {
                return Err(Error::Build {
                    step: format!("compile for {}", arch.platform()),
                    message: format!("the compiler produced a {} executable", linkage.machine),
                    help: Some("check the extra arguments after -- and the toolchain's target settings".into()),
                });
            }
        }
        None => rep.step("check", linkage.to_string()),
    }
    Ok(linkage)
}

/// The judge stage of executables made elsewhere: each must be what it says, one per
/// platform, and the platforms `--platform` asks for when the job refuses dynamic programs.
pub(super) fn judge_given(
    job: &Job,
    files: &[(Option<Arch>, PathBuf)],
    plan: &Plan,
    rep: &Reporter,
) -> Result<Vec<Judged>> {
    let mut judged = Vec::new();
    let mut seen: Vec<Platform> = Vec::new();
    for (i, (declared, path)) in files.iter().enumerate() {
        let linkage = elf::inspect(path)?;
        rep.step("check", format!("{}: {linkage}", path.display()));
        let program = Judged {
            arch: *declared,
            elf: path.clone(),
            artifact: None,
            linkage,
            binary: None,
            closure: None,
            program_path: planned_path(plan, i),
            runtime_path: None,
        };
        if job.dynamic.refuses() {
            check_static(&program, *declared, &mut seen)?;
        }
        judged.push(program);
    }
    if job.dynamic.refuses() {
        check_requested_platforms(job, &judged)?;
    }
    Ok(judged)
}

/// The pack stage (`staticize pack`): the given program, its loader and its closure become
/// one static file at the binary's path, which is then judged like any given file.
pub(super) fn pack_given(
    job: &Job,
    program: &Path,
    opts: &PackOptions,
    plan: &Plan,
    outputs: &Outputs,
    rep: &Reporter,
) -> Result<(Vec<Judged>, PackedProgram)> {
    let out = outputs.binaries.first().cloned().flatten().ok_or_else(|| {
        Error::usage("staticize pack writes the packed file", "give the packed file's name with -o OUT")
    })?;
    let (linkage, closure, packed) = crate::pack::make::pack_file(program, &job.name, &opts.request, &out, rep)?;
    let packed_linkage = elf::inspect(&out)?;
    let judged = Judged {
        arch: None,
        elf: out.clone(),
        artifact: None,
        linkage: packed_linkage,
        // Written by packing already.
        binary: None,
        closure: Some(closure.clone()),
        program_path: planned_path(plan, 0),
        runtime_path: None,
    };
    check_static(&judged, None, &mut Vec::new())?;
    Ok((vec![judged], PackedProgram { program: program.to_path_buf(), linkage, closure, packed }))
}

fn check_static(p: &Judged, declared: Option<Arch>, seen: &mut Vec<Platform>) -> Result<()> {
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
fn check_requested_platforms(job: &Job, have: &[Judged]) -> Result<()> {
    let wanted: Vec<Platform> = job.delivery.platforms.iter().map(|a| Platform::of(*a)).collect();
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
pub(super) fn verdict(job: &Job, programs: &[Judged], rep: &Reporter) -> Result<Option<Error>> {
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

/// The image stage for self-contained programs (a packed file among them): stripped copies
/// when asked, the extras reported, a packed file's package records and init added.
pub(super) fn image_static(
    job: &Job,
    frame: &Frame,
    programs: &[Judged],
    packed: Option<(&PackedProgram, &PackOptions)>,
    scratch: &Path,
    rep: &Reporter,
) -> Result<ImagePlan> {
    let files: Vec<(Platform, PathBuf, String)> = programs
        .iter()
        .map(|p| (Platform::linux(&p.linkage.machine), p.elf.clone(), p.linkage.machine.clone()))
        .collect();
    // Stripped copies live in `scratch` until the image is written; given files never change.
    let files = crate::strip::for_image(&files, job.delivery.strip, scratch, rep)?;
    let path = programs.first().map(|p| p.program_path.clone()).unwrap_or_default();
    let (mut plan, notes) = static_image(&files, &path, &job.settings, frame)?;
    for n in &notes {
        rep.step("with", n);
    }
    report_gaps(&plan, programs, packed.map(|(p, _)| p), rep);
    if let Some((inside, opts)) = packed {
        for image in &mut plan.images {
            carry::add_package_records(&mut image.rootfs, &inside.closure, Some(&inside.program), &path)?;
            if let Some(lib) = crate::pack::beside::stdlib_of(&inside.program) {
                // A packed interpreter reads its standard library beside the packed file.
                for line in crate::pack::beside::carry(&mut image.rootfs, &lib, &path, opts.request.allow_missing)? {
                    rep.step("stdlib", line);
                }
            }
            if opts.init {
                crate::pack::with_init(image)?;
            }
        }
    } else if job.delivery.init {
        init_packed_node(&mut plan, programs, rep)?;
    }
    Ok(plan)
}

/// Puts staticize's init first in each image whose program is a given packed node single
/// executable: node as PID 1 ignores SIGTERM, so `docker stop` would wait for its timeout.
fn init_packed_node(plan: &mut ImagePlan, programs: &[Judged], rep: &Reporter) -> Result<()> {
    for (image, p) in plan.images.iter_mut().zip(programs) {
        let bytes = std::fs::read(&p.elf).map_err(|e| Error::io("read", &p.elf, e))?;
        let program = crate::pack::program_of(&bytes);
        if program.is_some_and(|p| crate::sea::verify(&p).ok().and_then(|c| c.blob_bytes).is_some()) {
            crate::pack::with_init(image)?;
            rep.step(
                "init",
                format!(
                    "{} runs first as PID 1 in the image: forwards signals to node, reaps zombies, exits with its status (--no-init)",
                    crate::pack::INIT_PATH
                ),
            );
        }
    }
    Ok(())
}

/// The scratch-gap hints of static programs, as a carried program gets them: a Go or rustls
/// client naming the trust store is told to add --with certs. A packed file is judged by the
/// program and closure it carries, whose strings the compressed payload hides.
fn report_gaps(plan: &ImagePlan, programs: &[Judged], packed: Option<&PackedProgram>, rep: &Reporter) {
    let mut said = std::collections::BTreeSet::new();
    for (image, p) in plan.images.iter().zip(programs) {
        let gaps = match packed {
            Some(inside) => crate::bundle::hints::scratch_gaps(&image.rootfs, &inside.program, Some(&inside.closure)),
            None => crate::bundle::hints::scratch_gaps(&image.rootfs, &p.elf, None),
        };
        for g in gaps.into_iter().filter(|g| said.insert(g.clone())) {
            rep.step("hint", g);
        }
    }
}

/// The closure stage: each dynamic program into the image with its libraries (from this
/// machine, or from the root its driver names for a cross build) and its companion files.
pub(super) fn image_carried(
    job: &Job,
    frame: &Frame,
    opts: &CarryOptions,
    programs: &mut [Judged],
    drivers: &[&dyn Driver],
    rep: &Reporter,
) -> Result<ImagePlan> {
    let mut plan = frame.empty()?;
    for (i, program) in programs.iter_mut().enumerate() {
        let root = match (drivers.get(i), &program.artifact) {
            (Some(d), Some(a)) => d.library_root(a, &Steps::new(rep))?,
            _ => None,
        };
        let what = match &program.artifact {
            Some(a) => format!("{} for {}", a.lang, program.arch.map(Arch::platform).unwrap_or_default()),
            None => String::new(),
        };
        let mut carried = match program.on_runtime() {
            Some((runtime_path, on)) => on_runtime(job, opts, program, runtime_path, on, what, root)?,
            None => {
                let p = ToCarry {
                    elf: &program.elf,
                    linkage: &program.linkage,
                    program_path: &program.program_path,
                    what,
                    created_by: &job.created_by,
                    runtime: None,
                };
                carry::carry(&p, &job.settings, opts, root)?
            }
        };
        carry::report(&carried, rep);
        if let Some(a) = &program.artifact {
            add_companions(&mut carried, a)?;
        }
        add_image(&mut plan, carried.image);
        program.closure = Some(carried.closure);
    }
    Ok(plan)
}

/// The image of a program as its own files on a shared runtime: the runtime carried with its
/// closure at the plan's path (a layer of its own under the libraries'), the program's script
/// at the program's path on top, and the entrypoint running the one on the other.
fn on_runtime(
    job: &Job,
    opts: &CarryOptions,
    program: &Judged,
    runtime_path: &str,
    on: &crate::driver::OnRuntime,
    what: String,
    root: Option<crate::driver::LibraryRoot>,
) -> Result<WithClosure> {
    let linkage = elf::inspect(&on.runtime)?;
    let p = ToCarry {
        elf: &on.runtime,
        linkage: &linkage,
        program_path: runtime_path,
        what,
        created_by: &job.created_by,
        runtime: Some(&on.what),
    };
    let mut settings = job.settings.clone();
    settings.entrypoint = Some(vec![runtime_path.to_string(), program.program_path.clone()]);
    let mut carried = carry::carry(&p, &settings, opts, root)?;
    if carried.image.rootfs.get(&program.program_path).is_some() {
        return Err(Error::usage(
            format!("the program's script goes to {}, but the image already has a file there", program.program_path),
            "choose another place for it with --path",
        ));
    }
    let main = crate::image::Source::Host(on.main.clone());
    carried.image.rootfs.add_file(&program.program_path, main, MODE_DATA)?;
    Ok(carried)
}

/// The files a built program runs from beside it (node's package tree).
fn add_companions(carried: &mut WithClosure, artifact: &Artifact) -> Result<()> {
    if let Some(c) = &artifact.companions {
        for (rel, host, exec) in &c.files {
            let mode = if *exec { MODE_EXEC } else { MODE_DATA };
            carried.image.rootfs.add_file(
                &format!("{}/{rel}", c.root),
                crate::image::Source::Host(host.clone()),
                mode,
            )?;
        }
    }
    Ok(())
}

/// The write stage: each executable from its staged file, after the image (a failure there
/// leaves the old binary and the old image in place).
pub(super) fn write_binaries(job: &Job, programs: &[Judged], rep: &Reporter) -> Result<()> {
    for p in programs {
        let Some(binary) = &p.binary else { continue };
        output::copy_atomic(&p.elf, binary, 0o755)?;
        let size = human_size(p.linkage.size);
        let line = match (&job.dynamic, &p.artifact) {
            (Dynamic::Carry(_), Some(a)) => {
                let beside = a
                    .companions
                    .as_ref()
                    .map(|c| format!(" — it carries its package tree, which the image also holds under {}", c.root));
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

/// The pack-binary stage (node): each written executable replaced by the packed static file
/// carrying its loader and libraries; a cross build's libraries come from the same root its
/// image's closure came from.
pub(super) fn pack_binaries(programs: &[Judged], drivers: &[&dyn Driver], rep: &Reporter) -> Result<()> {
    for (i, p) in programs.iter().enumerate() {
        let Some(binary) = &p.binary else { continue };
        let root = match (drivers.get(i), &p.artifact) {
            (Some(d), Some(a)) if p.arch.is_some_and(|a| a != Arch::host()) => {
                d.library_root(a, &Steps::new(rep))?.map(|r| r.root)
            }
            _ => None,
        };
        let name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let req = crate::pack::make::PackRequest { root, ..Default::default() };
        let (_, _, packed) = crate::pack::make::pack_file(binary, &name, &req, binary, rep)?;
        let runtime = p.artifact.as_ref().map(|a| a.lang.as_str()).unwrap_or("the program");
        rep.step(
            "",
            format!(
                "{} is static: {runtime} and its {} libraries run from memory (--no-pack for the dynamic file)",
                binary.display(),
                packed.entries.len().saturating_sub(2)
            ),
        );
    }
    Ok(())
}

fn display_inputs(inputs: &[PathBuf]) -> String {
    inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
}
