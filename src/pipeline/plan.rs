//! The plan: what a run will do, decided once from the job before any work — per platform and
//! per program what is made and by which tool, where the binary goes, the program's path in
//! the image, the image's layer and where its files come from, its configuration, the SBOM,
//! the destinations and the checks. `--plan` prints it (steps, or JSON with `--json`); the
//! executor ([`super::execute`]) carries it out and adds what only building can tell (the
//! verdict, the closure) in its named stages.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::destination::Destination;
use super::job::{Binaries, Dynamic, FromImage, Job, Programs};
use crate::driver::Tool;
use crate::error::Result;
use crate::image::extras::{CERTS_PATH, ZONEINFO};
use crate::image::layering::Layering;
use crate::image::options::{ImageSettings, program_path};
use crate::platform::Arch;
use crate::report::Reporter;

/// What a run will do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    /// The command, as the image's history records it.
    pub command: String,
    /// The program's name (`-o NAME` names it).
    pub name: String,
    /// What is made, in order.
    pub programs: Vec<ProgramPlan>,
    /// What a program that is not self-contained means.
    pub dynamic: DynamicPlan,
    /// The image; None: none is written (`--no-image`).
    pub image: Option<ImageView>,
    /// The checks, in the order they run; the first is the ELF verdict.
    pub checks: Vec<Check>,
}

/// One program to make.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProgramPlan {
    /// "linux/amd64"; None: read from the file's ELF header.
    pub platform: Option<String>,
    /// How it is made.
    pub make: Making,
    /// Where the executable is written; None: not written.
    pub binary: Option<PathBuf>,
    /// Where it goes (or would go) inside the image; None: known only after making it.
    pub path_in_image: Option<String>,
    /// Where the runtime that runs it goes in the image, when the image holds the program as
    /// its own files on a runtime every program using it shares (node with `--layers auto`):
    /// the runtime gets a layer of its own and the entrypoint runs it on the program's file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

/// Where a shared runtime goes in an image ("/usr/local/bin/node", as Docker's own node
/// images have it): the same path for every program, so its layer has the same bytes.
const RUNTIME_DIR: &str = "/usr/local/bin";

/// The runtime's path in the image for a build by `driver`, when the image runs the program
/// on it: layers cut by how often they change and no `--entrypoint` naming another program.
fn runtime_path(job: &Job, driver: &dyn crate::driver::Driver) -> Option<String> {
    let layered = job.delivery.layering == Layering::Auto && job.settings.entrypoint.is_none();
    let carried = matches!(job.dynamic, Dynamic::Carry(_));
    driver.runtime().filter(|_| layered && carried).map(|name| format!("{RUNTIME_DIR}/{name}"))
}

/// How a program is made.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Making {
    /// A driver builds it from sources.
    Build {
        /// The driver and, when known before building, the compiler.
        tool: Tool,
        /// The sources or package.
        inputs: Vec<PathBuf>,
        /// "size" or "speed".
        profile: String,
        /// Arguments after `--`.
        extra_args: Vec<String>,
    },
    /// The project's build system builds it (`staticize build`).
    BuildSystem {
        /// The project directory.
        dir: PathBuf,
        /// The build system recognised there ("make", "CMake"…), or the command given.
        system: String,
        /// `--bin`: the executables chosen; empty: the only one the build makes.
        bins: Vec<String>,
    },
    /// A build system already made it.
    Made {
        /// The compiler that linked it.
        toolchain: String,
        /// The file.
        file: PathBuf,
    },
    /// Given: a file made elsewhere.
    Given {
        /// The file.
        file: PathBuf,
    },
    /// Packed from a dynamic program: it, its loader and its libraries in one static file.
    Pack {
        /// The program packed.
        program: PathBuf,
    },
    /// An existing image's layers merged.
    Squash {
        /// The image read.
        image: PathBuf,
        /// The first layer merged, 1-based.
        from_layer: usize,
        /// Of several platforms, only this one.
        platform: Option<String>,
    },
    /// An existing image reduced to the programs it runs and their closures.
    Slim {
        /// The image read.
        image: PathBuf,
        /// `--program`: more programs.
        programs: Vec<String>,
        /// `--keep`: kept as they are.
        keep: Vec<String>,
    },
}

/// The plan's dynamic/static variant.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum DynamicPlan {
    /// A program that is not self-contained is a failed verdict: no image.
    Refuse,
    /// A dynamic program goes into the image with its library closure.
    Carry {
        /// `--lib`.
        extra_libs: Vec<String>,
        /// `--allow-missing`.
        allow_missing: bool,
        /// Staticize's init is PID 1.
        init: bool,
        /// The executable written is packed into one static file (node).
        pack_binary: bool,
    },
    /// The program is packed into one static file first.
    Pack {
        /// `--lib`.
        extra_libs: Vec<String>,
        /// `--allow-missing`.
        allow_missing: bool,
        /// `--init`.
        init: bool,
    },
    /// The programs come from an existing image.
    FromImage,
}

/// The image to write.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImageView {
    /// The name it is tagged with.
    pub reference: String,
    /// "gzip", "zstd" or "none".
    pub compression: &'static str,
    /// Seconds for every timestamp (SOURCE_DATE_EPOCH or 0).
    pub epoch: u64,
    /// Platforms asked for; empty: the programs' own.
    pub platforms: Vec<String>,
    /// The layers, bottom first, and where their files come from.
    pub layers: Vec<LayerPlan>,
    /// The run configuration as the settings make it (an existing image's own, for squash
    /// and slim, with these on top).
    pub config: ConfigPlan,
    /// The SBOM beside the archive (and attached on push).
    pub sbom: Option<SbomPlan>,
    /// The provenance statement beside the archive (attached on push).
    pub provenance: PathBuf,
    /// `--sign`: the pushed image is signed and its provenance attested with the key.
    pub signed: bool,
    /// Where the image goes, in the order delivered.
    pub destinations: Vec<DestinationPlan>,
}

/// One layer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LayerPlan {
    /// What it holds.
    pub what: String,
    /// Its files: (path in the image, where it comes from).
    pub files: Vec<FilePlan>,
}

/// Files of a layer from one source.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FilePlan {
    /// Where in the image.
    pub path: String,
    /// Where from.
    pub from: String,
}

/// The image's run configuration, from the settings.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ConfigPlan {
    /// Exec form; None: none (or the image's own, squash/slim).
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    pub cmd: Option<Vec<String>>,
    /// KEY=VALUE from `--env` (the extras add theirs).
    pub env: Vec<String>,
    /// The working directory.
    pub workdir: Option<String>,
    /// The user.
    pub user: Option<String>,
    /// Exposed ports.
    pub exposed: Vec<String>,
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The stop signal.
    pub stop_signal: Option<String>,
}

/// The SBOM.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SbomPlan {
    /// "spdx" or "cyclonedx".
    pub format: &'static str,
    /// Where it is written.
    pub path: PathBuf,
    /// Attached to the pushed image as a referrer.
    pub attached: bool,
}

/// One destination.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DestinationPlan {
    /// "archive", "oci-dir", "load", "push" or another destination's name.
    pub kind: String,
    /// The path, engine or reference.
    pub to: String,
}

impl DestinationPlan {
    /// What the plan says of a destination.
    fn of(d: &Destination) -> DestinationPlan {
        let (kind, to) = match d {
            Destination::Archive(p) => ("archive", p.display().to_string()),
            Destination::OciDir(p) => ("oci-dir", p.display().to_string()),
            Destination::Load(engine) => ("load", engine.clone()),
            Destination::Push(_, text) => ("push", text.clone()),
            #[cfg(test)]
            Destination::Fake(f) => ("fake", f.name.clone()),
        };
        DestinationPlan { kind: kind.to_string(), to }
    }
}

/// A check the run makes. The ELF verdict is always first; later checks (a proof run of the
/// delivered image) follow it in the order they run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub(crate) enum Check {
    /// Every program's ELF verdict from its headers, after making it.
    ElfVerdict {
        /// What passes.
        rule: String,
    },
    /// The output run in its own root once written ([`crate::prove`]): the image archive, or
    /// the executable alone when no image is written.
    Proof {
        /// The arguments replacing the image's command; None: its own command.
        args: Option<Vec<String>>,
        /// The time limit, in seconds.
        timeout_secs: f64,
        /// The TCP port it must answer on, if any.
        port: Option<u16>,
        /// Where the run was named when staticize.toml did ("staticize.toml [probe.hello]").
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
}

/// The plan of `job`: the one place where what is made, where it goes and what is checked is
/// decided. Reads the given files' ELF headers (a dynamic program's place in the image
/// depends on them); builds, writes and creates nothing.
pub(crate) fn plan(job: &Job) -> Result<Plan> {
    let name = planned_name(job);
    let mut programs = Vec::new();
    let binaries = binary_paths(job);
    match &job.programs {
        Programs::Build { builds, inputs, profile, extra_args } => {
            let path = Some(job.settings.program_path(&name)?);
            for (i, (arch, driver)) in builds.iter().enumerate() {
                programs.push(ProgramPlan {
                    platform: Some(arch.platform()),
                    make: Making::Build {
                        tool: driver.tool(),
                        inputs: inputs.clone(),
                        profile: profile.name().to_string(),
                        extra_args: extra_args.clone(),
                    },
                    binary: binaries[i].clone(),
                    path_in_image: path.clone(),
                    runtime: runtime_path(job, *driver),
                });
            }
        }
        Programs::BuildSystem(b) => {
            // One build of the project per platform (each in its own out-of-tree directory).
            for arch in job.delivery.build_platforms() {
                programs.push(ProgramPlan {
                    platform: Some(arch.platform()),
                    make: Making::BuildSystem {
                        dir: b.dir.clone(),
                        system: build_system_label(b),
                        bins: b.bins.clone(),
                    },
                    binary: b.output.clone(),
                    path_in_image: None,
                    runtime: None,
                });
            }
        }
        Programs::Made { made, .. } => {
            let path = Some(job.settings.program_path(&name)?);
            for (i, (arch, a)) in made.iter().enumerate() {
                programs.push(ProgramPlan {
                    platform: Some(arch.platform()),
                    make: Making::Made { toolchain: a.toolchain_used.clone(), file: a.path.clone() },
                    binary: binaries[i].clone(),
                    path_in_image: path.clone(),
                    runtime: None,
                });
            }
        }
        Programs::Given(files) => {
            for (declared, file) in files {
                let make = match &job.dynamic {
                    Dynamic::Pack(_) => Making::Pack { program: file.clone() },
                    _ => Making::Given { file: file.clone() },
                };
                let path = Some(given_program_path(job, &name, file)?);
                let binary = binaries.first().cloned().flatten();
                programs.push(ProgramPlan {
                    platform: declared.map(Arch::platform),
                    make,
                    binary,
                    path_in_image: path,
                    runtime: None,
                });
            }
        }
        Programs::Image(from) => {
            if !from.image().exists() {
                return Err(crate::error::Error::input(
                    from.image(),
                    "no such file or directory",
                    Some(
                        "give an image archive (docker save, podman save, staticize) or an OCI layout directory".into(),
                    ),
                ));
            }
            programs.push(image_program(from))
        }
    }
    let image = image_view(job, &name, &programs)?;
    let checks = checks(job, &name);
    Ok(Plan { command: job.created_by.clone(), name, programs, dynamic: dynamic_plan(job), image, checks })
}

/// `-o NAME` names the program: inside the image (/NAME) and in the default tag.
fn planned_name(job: &Job) -> String {
    if let Dynamic::Pack(_) = job.dynamic {
        // A packed file's image is named after the program packed.
        return job.name.clone();
    }
    match &job.binaries {
        Binaries::PerPlatform(out) | Binaries::One(out) => crate::naming::output_or(Some(out), &job.name),
        Binaries::None => job.name.clone(),
    }
}

/// The archive among the destinations: there is an image exactly when there is one.
pub(super) fn archive_of(dests: &[Destination]) -> Option<&Path> {
    dests.iter().find_map(|d| match d {
        Destination::Archive(p) => Some(p.as_path()),
        _ => None,
    })
}

/// Where each made program's executable is written (None: not written), in order.
pub(super) fn binary_paths(job: &Job) -> Vec<Option<PathBuf>> {
    let arches: Vec<Arch> = match &job.programs {
        Programs::Build { builds, .. } => builds.iter().map(|(a, _)| *a).collect(),
        Programs::Made { made, .. } => made.iter().map(|(a, _)| *a).collect(),
        Programs::Given(_) if matches!(job.dynamic, Dynamic::Pack(_)) => {
            // The packed file is the binary.
            return match &job.binaries {
                Binaries::PerPlatform(p) | Binaries::One(p) => vec![Some(p.clone())],
                Binaries::None => vec![None],
            };
        }
        _ => return Vec::new(),
    };
    match &job.binaries {
        Binaries::None => vec![None; arches.len()],
        Binaries::PerPlatform(base) if arches.len() == 1 => vec![Some(base.clone())],
        Binaries::PerPlatform(base) => arches
            .iter()
            .map(|arch| {
                let mut s = base.as_os_str().to_owned();
                s.push(format!("-{}", arch.name()));
                Some(PathBuf::from(s))
            })
            .collect(),
        Binaries::One(path) => {
            let chosen = arches.iter().position(|a| *a == Arch::host()).unwrap_or(0);
            (0..arches.len()).map(|i| (i == chosen).then(|| path.clone())).collect()
        }
    }
}

/// The program's path in the image when it is a given file: `--path`, else for a carried
/// dynamic program its host path when something there depends on it (an interpreter finds
/// its standard library from its own prefix, a server its package's files beside it, an
/// RPATH with $ORIGIN its directory), else /NAME.
fn given_program_path(job: &Job, name: &str, file: &Path) -> Result<String> {
    let Dynamic::Carry(opts) = &job.dynamic else { return job.settings.program_path(name) };
    if job.settings.path.is_some() {
        return job.settings.program_path(name);
    }
    if let Some(lib) = crate::bundle::complete::stdlib_for(file, &opts.extras) {
        return program_path(&lib.program.to_string_lossy());
    }
    let real = || std::fs::canonicalize(file).map_err(|e| crate::error::Error::io("read", file, e));
    if opts.extras.package_files || uses_origin(&crate::elf::inspect(file)?) {
        return program_path(&real()?.to_string_lossy());
    }
    job.settings.program_path(name)
}

/// True when the program's own RPATH, RUNPATH or DT_NEEDED says $ORIGIN (glibc expands it
/// from the program's directory).
pub(super) fn uses_origin(l: &crate::elf::Linkage) -> bool {
    l.rpath.iter().chain(&l.runpath).chain(&l.needed).any(|p| p.contains("$ORIGIN") || p.contains("${ORIGIN}"))
}

fn build_system_label(b: &super::job::BuildSystem) -> String {
    if !b.options.command.is_empty() {
        return format!("the command {}", b.options.command.join(" "));
    }
    match crate::driver::buildsys::detect::detect(&b.dir) {
        Some(s) => s.label().to_string(),
        None => "none recognised (the build will say what it looked for)".to_string(),
    }
}

/// The one "program" of a remade image: the image itself.
fn image_program(from: &FromImage) -> ProgramPlan {
    ProgramPlan { platform: None, make: image_making(from), binary: None, path_in_image: None, runtime: None }
}

fn image_making(from: &FromImage) -> Making {
    match from {
        FromImage::Squash { image, from_layer, platform, .. } => {
            Making::Squash { image: image.clone(), from_layer: *from_layer, platform: platform.clone() }
        }
        FromImage::Slim { image, programs, keep, .. } => {
            Making::Slim { image: image.clone(), programs: programs.clone(), keep: keep.clone() }
        }
    }
}

fn dynamic_plan(job: &Job) -> DynamicPlan {
    if matches!(job.programs, Programs::Image(_)) {
        return DynamicPlan::FromImage;
    }
    match &job.dynamic {
        Dynamic::Refuse => DynamicPlan::Refuse,
        Dynamic::Carry(o) => DynamicPlan::Carry {
            extra_libs: o.extra_libs.clone(),
            allow_missing: o.allow_missing,
            init: o.init,
            pack_binary: o.pack_binary,
        },
        Dynamic::Pack(p) => DynamicPlan::Pack {
            extra_libs: p.request.libs.clone(),
            allow_missing: p.request.allow_missing,
            init: p.init,
        },
    }
}

fn checks(job: &Job, name: &str) -> Vec<Check> {
    let rule = match (&job.programs, &job.dynamic) {
        (Programs::Image(FromImage::Squash { .. }), _) => return proof_check(job, name).into_iter().collect(),
        (Programs::Image(FromImage::Slim { .. }), _) => {
            "each program the image runs: static, or dynamic with its closure inside the image"
        }
        (_, Dynamic::Refuse) => "self-contained (static or static-pie), else no image",
        (_, Dynamic::Carry(_)) => "an executable; a dynamic one is carried with its closure",
        (_, Dynamic::Pack(_)) => "an executable to pack; the packed file must be static",
    };
    let mut checks = vec![Check::ElfVerdict { rule: rule.to_string() }];
    checks.extend(proof_check(job, name));
    checks
}

/// The proof run of the output named `name`: the flags over its `[probe.NAME]` table.
fn proof_check(job: &Job, name: &str) -> Option<Check> {
    let p = job.probe.request(name)?;
    Some(Check::Proof {
        args: p.args,
        timeout_secs: p.timeout.as_secs_f64(),
        port: p.port,
        from: job.probe.table_for(name),
    })
}

fn image_view(job: &Job, name: &str, programs: &[ProgramPlan]) -> Result<Option<ImageView>> {
    let mut destinations: Vec<DestinationPlan> = job.destinations.iter().map(DestinationPlan::of).collect();
    let archive = match (&job.programs, archive_of(&job.destinations)) {
        (_, Some(archive)) => archive.to_path_buf(),
        (Programs::BuildSystem(b), None) => match &b.image {
            None => return Ok(None),
            Some(tar) => {
                // One archive per chosen executable, named when the build has run.
                let tar = tar.clone().unwrap_or_else(|| PathBuf::from("NAME.tar"));
                destinations = std::iter::once(Destination::Archive(tar.clone()))
                    .chain(b.more_destinations.iter().cloned())
                    .map(|d| DestinationPlan::of(&d))
                    .collect();
                tar
            }
        },
        (_, None) => return Ok(None),
    };
    let archive = archive.as_path();
    let s = &job.settings;
    let reference = match &job.programs {
        Programs::Image(FromImage::Squash { reference: None, .. }) => "the image's own name, tag squashed".to_string(),
        Programs::Image(FromImage::Slim { .. }) if s.tag.is_none() => "the image's own name, tag slim".to_string(),
        Programs::Image(FromImage::Squash { reference: Some(r), .. }) => r.to_string(),
        Programs::BuildSystem(_) if s.tag.is_none() => "each executable's name".to_string(),
        _ => s.reference(name).to_string(),
    };
    let sbom = job.delivery.sbom.map(|f| SbomPlan {
        format: f.name(),
        path: crate::sbom::path_beside(archive, f),
        attached: job.destinations.iter().any(|d| matches!(d, Destination::Push(..))),
    });
    Ok(Some(ImageView {
        reference,
        compression: job.delivery.compression.name(),
        epoch: crate::epoch::source_date_epoch()?,
        platforms: job.delivery.platforms.iter().map(|a| a.platform()).collect(),
        layers: layers(job, programs),
        config: config_plan(s, programs, &job.dynamic, &job.programs),
        sbom,
        provenance: crate::provenance::path_beside(archive),
        signed: job.delivery.sign.is_some(),
        destinations,
    }))
}

/// The layers and where their files come from.
fn layers(job: &Job, programs: &[ProgramPlan]) -> Vec<LayerPlan> {
    if let Programs::Image(from) = &job.programs {
        return from_image_layers(from);
    }
    let mut files = Vec::new();
    for p in programs {
        let Some(path) = &p.path_in_image else { continue };
        let from = match &p.make {
            Making::Build { tool, .. } if p.runtime.is_some() => {
                format!("the script {} runs: the bundle, the entry, or a launcher of its package tree", tool.driver)
            }
            Making::Build { tool, .. } => {
                format!(
                    "the executable {} builds{}",
                    tool.driver,
                    p.platform.as_deref().map(|x| format!(" for {x}")).unwrap_or_default()
                )
            }
            Making::Given { file } | Making::Made { file, .. } => file.display().to_string(),
            Making::Pack { program } => format!("the packed file made from {}", program.display()),
            _ => continue,
        };
        if !files.iter().any(|f: &FilePlan| f.path == *path && f.from == from) {
            files.push(FilePlan { path: path.clone(), from });
        }
    }
    if let Programs::BuildSystem(_) = &job.programs {
        files.push(FilePlan { path: "/NAME".into(), from: "each chosen executable, in its own image".into() });
    }
    // The --workdir directory is made with the program's files, not the extras.
    let (workdir, extras): (Vec<FilePlan>, Vec<FilePlan>) =
        extras_files(&job.settings).into_iter().partition(|f| f.from == WORKDIR_FROM);
    let mut adds = Vec::new();
    for a in &job.settings.adds {
        adds.push(FilePlan { path: a.dest.clone(), from: format!("{} (--add)", a.src.display()) });
    }
    let dynamic = dynamic_files(&job.dynamic);
    if job.delivery.layering == Layering::Single {
        files.extend(extras);
        files.extend(workdir);
        files.extend(adds);
        files.extend(dynamic);
        return vec![LayerPlan { what: "the program and everything it needs (one layer)".into(), files }];
    }
    // --layers auto: what changes least lowest (see super::layers).
    let mut out = runtime_layers(programs);
    let (libraries, own): (Vec<FilePlan>, Vec<FilePlan>) =
        dynamic.into_iter().partition(|f| !f.path.starts_with('/') || f.path.starts_with("/var/lib/dpkg"));
    if !libraries.is_empty() {
        let what = "the libraries: one layer per Debian package that owns some (the largest first), the rest in one";
        out.push(LayerPlan { what: what.into(), files: libraries });
    }
    if !extras.is_empty() {
        out.push(LayerPlan { what: "the extras (--with)".into(), files: extras });
    }
    files.extend(workdir);
    files.extend(adds);
    files.extend(own);
    out.push(LayerPlan { what: "the program and its own files (on top)".into(), files });
    out
}

/// The shared runtimes' layers: one per runtime path, whichever platforms use it.
fn runtime_layers(programs: &[ProgramPlan]) -> Vec<LayerPlan> {
    let mut out: Vec<LayerPlan> = Vec::new();
    for (path, p) in programs.iter().filter_map(|p| p.runtime.as_ref().map(|r| (r, p))) {
        let Making::Build { tool, .. } = &p.make else { continue };
        let platform = p.platform.as_deref().map(|x| format!(" for {x}")).unwrap_or_default();
        let from = format!("{} as {} finds it{platform}, stripped, nothing injected", tool.driver, tool.driver);
        let file = FilePlan { path: path.clone(), from };
        match out.iter_mut().find(|l| l.files.iter().any(|f| f.path == *path)) {
            Some(layer) => layer.files.push(file),
            None => out.push(LayerPlan {
                what: format!("the runtime: {}, the same layer for every program that uses it", tool.driver),
                files: vec![file],
            }),
        }
    }
    out
}

/// Where the `--workdir` directory comes from, as the plan says it.
const WORKDIR_FROM: &str = "an empty directory (--workdir)";

fn extras_files(s: &ImageSettings) -> Vec<FilePlan> {
    let x = &s.extras;
    let mut out = Vec::new();
    if let Some(certs) = &x.certs {
        let from = match certs {
            Some(p) => p.display().to_string(),
            None => "this machine's CA bundle (--with certs)".to_string(),
        };
        out.push(FilePlan { path: CERTS_PATH.into(), from });
    }
    if let Some(zones) = &x.tzdata {
        let which = match zones {
            crate::image::options::Zones::All => "every zone".to_string(),
            crate::image::options::Zones::Only(z) => z.join(", "),
        };
        out.push(FilePlan { path: ZONEINFO.into(), from: format!("this machine's zoneinfo: {which} (--with tzdata)") });
    }
    if x.passwd {
        out.push(FilePlan { path: "/etc/passwd, /etc/group".into(), from: "root and nonroot (--with passwd)".into() });
    }
    if x.tmp {
        out.push(FilePlan { path: "/tmp".into(), from: "an empty directory, mode 1777 (--with tmp)".into() });
    }
    if x.busybox {
        out.push(FilePlan {
            path: "/bin/busybox, /bin/*".into(),
            from: "a static busybox and its applets (--with busybox)".into(),
        });
    }
    if let Some(w) = s.workdir.as_deref().filter(|w| *w != "/") {
        out.push(FilePlan { path: w.to_string(), from: WORKDIR_FROM.into() });
    }
    out
}

/// What the dynamic variant adds, known only after making the program.
fn dynamic_files(d: &Dynamic) -> Vec<FilePlan> {
    let after = |path: &str, from: &str| FilePlan { path: path.into(), from: from.into() };
    match d {
        Dynamic::Refuse => Vec::new(),
        Dynamic::Carry(o) => {
            let mut v = vec![
                after("PT_INTERP, library paths", "the program's library closure, resolved after making it"),
                after("/etc/nsswitch.conf", "files dns, when the program uses glibc"),
                after("/var/lib/dpkg/status.d/*", "one record per Debian package whose files are carried"),
            ];
            if o.init {
                v.push(after(crate::pack::INIT_PATH, "staticize's minimal init (PID 1)"));
            }
            v
        }
        Dynamic::Pack(p) => {
            let mut v =
                vec![after("/var/lib/dpkg/status.d/*", "one record per Debian package the packed file carries")];
            if p.init {
                v.push(after(crate::pack::INIT_PATH, "staticize's minimal init (PID 1)"));
            }
            v
        }
    }
}

fn from_image_layers(from: &FromImage) -> Vec<LayerPlan> {
    let image = from.image().display().to_string();
    match from {
        FromImage::Squash { from_layer, .. } => {
            let mut out = Vec::new();
            if *from_layer > 1 {
                out.push(LayerPlan {
                    what: format!("layers 1-{} of {image}, kept byte for byte", from_layer - 1),
                    files: Vec::new(),
                });
            }
            out.push(LayerPlan {
                what: format!(
                    "layers {from_layer}- of {image} merged into one (overwritten and deleted files dropped)"
                ),
                files: Vec::new(),
            });
            out
        }
        FromImage::Slim { keep, programs, .. } => {
            let mut files = vec![FilePlan {
                path: "the programs the config runs".into(),
                from: format!("{image}, with their closures resolved inside it"),
            }];
            for p in programs {
                files.push(FilePlan { path: p.clone(), from: format!("{image} (--program), with its closure") });
            }
            for k in keep {
                files.push(FilePlan { path: k.clone(), from: format!("{image} (--keep)") });
            }
            vec![LayerPlan { what: "scratch with what the programs need (one layer)".into(), files }]
        }
    }
}

fn config_plan(s: &ImageSettings, programs: &[ProgramPlan], d: &Dynamic, source: &Programs) -> ConfigPlan {
    let path = programs.iter().find_map(|p| p.path_in_image.clone());
    let runtime = programs.iter().find_map(|p| p.runtime.clone());
    let mut entrypoint = match (&s.entrypoint, &path) {
        (None, Some(p)) => Some(runtime.into_iter().chain([p.clone()]).collect()),
        (Some(e), _) if e.is_empty() => None,
        (e, _) => e.clone(),
    };
    let init = matches!(d, Dynamic::Carry(o) if o.init) || matches!(d, Dynamic::Pack(p) if p.init);
    if init && !matches!(source, Programs::Image(_)) {
        let mut with = vec![crate::pack::INIT_PATH.to_string()];
        with.extend(entrypoint.unwrap_or_default());
        entrypoint = Some(with);
    }
    ConfigPlan {
        entrypoint,
        cmd: s.cmd.clone(),
        env: s.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        workdir: s.workdir.clone(),
        user: s.user.as_ref().map(|u| u.as_str().to_string()),
        exposed: s.exposed.clone(),
        labels: s.labels.clone(),
        stop_signal: s.stop_signal.clone(),
    }
}

/// Prints the plan: one line a step, or the plan as JSON with `--json`.
pub(crate) fn print(plan: &Plan, rep: &Reporter) {
    rep.step("plan", format!("{} (--plan: nothing is built or written)", plan.command));
    for p in &plan.programs {
        rep.step(making_verb(&p.make), program_line(p));
    }
    for c in &plan.checks {
        match c {
            Check::ElfVerdict { rule } => rep.step("check", format!("ELF verdict: {rule}")),
            Check::Proof { args, timeout_secs, port, from } => {
                let command = args.as_ref().map_or("its own command".to_string(), |a| a.join(" "));
                let port = port.map(|p| format!(", answering on port {p}")).unwrap_or_default();
                let from = from.as_ref().map(|f| format!(", from {f}")).unwrap_or_default();
                rep.step(
                    "check",
                    format!("proof run in its own root: {command}, {timeout_secs}s{port}{from} (--no-probe)"),
                );
            }
        }
    }
    match &plan.dynamic {
        DynamicPlan::Carry { pack_binary: true, .. } => {
            rep.step("dynamic", "carried with its closure; the executable written is packed (--no-pack)")
        }
        DynamicPlan::Carry { .. } => rep.step("dynamic", "carried with its closure"),
        _ => {}
    }
    match &plan.image {
        None => rep.step("image", "none (--no-image)"),
        Some(i) => print_image(i, rep),
    }
    rep.json(plan);
}

fn making_verb(m: &Making) -> &'static str {
    match m {
        Making::Build { .. } | Making::BuildSystem { .. } => "build",
        Making::Made { .. } | Making::Given { .. } => "take",
        Making::Pack { .. } => "pack",
        Making::Squash { .. } => "squash",
        Making::Slim { .. } => "slim",
    }
}

fn program_line(p: &ProgramPlan) -> String {
    let what = match &p.make {
        Making::Build { tool, inputs, profile, .. } => {
            let inputs: Vec<String> = inputs.iter().map(|i| i.display().to_string()).collect();
            let compiler = tool.compiler.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
            format!("{} with {}{compiler}, profile {profile}", inputs.join(" "), tool.driver)
        }
        Making::BuildSystem { dir, system, bins } => {
            let bins = if bins.is_empty() { "the executable it makes".to_string() } else { bins.join(", ") };
            format!("{} with {system}, then {bins}", dir.display())
        }
        Making::Made { file, toolchain } => format!("{} (linked by {toolchain})", file.display()),
        Making::Given { file } => file.display().to_string(),
        Making::Pack { program } => format!("{}, its loader and its libraries into one static file", program.display()),
        Making::Squash { image, from_layer, .. } => format!("{} from layer {from_layer}", image.display()),
        Making::Slim { image, .. } => format!("{} to the programs its config runs", image.display()),
    };
    let platform = p.platform.as_deref().map(|x| format!(" for {x}")).unwrap_or_default();
    let binary = p.binary.as_ref().map(|b| format!(" → {}", b.display())).unwrap_or_default();
    format!("{what}{platform}{binary}")
}

fn print_image(i: &ImageView, rep: &Reporter) {
    let platforms = if i.platforms.is_empty() { String::new() } else { format!(", {}", i.platforms.join(", ")) };
    rep.step(
        "image",
        format!("{}: {} layer(s), {}{platforms}, epoch {}", i.reference, i.layers.len(), i.compression, i.epoch),
    );
    for l in &i.layers {
        rep.step("layer", &l.what);
        for f in &l.files {
            rep.step("", format!("{} ← {}", f.path, f.from));
        }
    }
    if let Some(e) = &i.config.entrypoint {
        rep.step("config", format!("entrypoint {}", serde_json::to_string(e).unwrap_or_default()));
    }
    if let Some(c) = &i.config.cmd {
        rep.step("config", format!("cmd {}", serde_json::to_string(c).unwrap_or_default()));
    }
    for d in &i.destinations {
        rep.step("deliver", format!("{}: {}", d.kind, d.to));
    }
    if let Some(s) = &i.sbom {
        let attached = if s.attached { ", attached on push" } else { "" };
        rep.step("sbom", format!("{} ({}{attached})", s.path.display(), s.format));
    }
    let pushed = i.destinations.iter().any(|d| d.kind == "push");
    let provenance = match (pushed, i.signed) {
        (true, true) => {
            ", signed into NAME.intoto.jsonl, and signed and attested on push as sha256-DIGEST.sig and .att"
        }
        (true, false) => ", attached on push",
        (false, true) => ", signed into NAME.intoto.jsonl",
        (false, false) => "",
    };
    rep.step("provenance", format!("{} (SLSA v1{provenance})", i.provenance.display()));
}
