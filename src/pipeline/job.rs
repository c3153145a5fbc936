//! The job and what a run gives back: the data every stage of the road reads (what to make,
//! the settings, the delivery, the destinations, the dynamic policy, the proof asked for) and the
//! outcome it fills in. Plain data with no behaviour beyond small accessors, so that the plan, the
//! executor and every stage depend on it and it depends on none of them.

use std::path::PathBuf;

use crate::bundle::complete::Extras;
use crate::closure::Closure;
use crate::driver::buildsys;
use crate::driver::{Artifact, Driver};
use crate::elf::Linkage;
use crate::error::{Error, Result};
use crate::image::Compression;
use crate::image::Written;
use crate::image::options::ImageSettings;
use crate::pack::Packed;
use crate::pack::make::PackRequest;
use crate::platform::Arch;
use crate::prove::Proof;
use crate::reference::ImageRef;
use crate::squash::SquashReport;
use crate::toolchain::Profile;

use super::destination::Destination;

/// Everything one run needs, validated: what to make (or take), with which image settings,
/// delivered how, to which destinations.
pub(crate) struct Job<'a> {
    /// The program's name (binary and default image name).
    pub name: String,
    /// Where the programs come from.
    pub programs: Programs<'a>,
    /// The validated image settings (what goes into the image and its config).
    pub settings: ImageSettings,
    /// How the image is delivered: compression, platforms, SBOM, strip.
    pub delivery: Delivery,
    /// Where the executables are written.
    pub binaries: Binaries,
    /// Where the image goes; empty: no image.
    pub destinations: Vec<Destination>,
    /// What a dynamic program means.
    pub dynamic: Dynamic,
    /// For the image history ("staticize c hello.c").
    pub created_by: String,
    /// `--plan`: print the plan and do nothing else.
    pub plan_only: bool,
    /// The proof run asked for (flags over `[probe.NAME]` of staticize.toml), resolved for
    /// the output by its planned name.
    pub probe: crate::prove::ask::Probe,
}

/// How an image is delivered, beside what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Layer compression.
    pub compression: Compression,
    /// How the image is cut into layers (`--layers`).
    pub layering: crate::image::layering::Layering,
    /// Requested platforms (empty: the program's own, or this machine's for a build).
    pub platforms: Vec<Arch>,
    /// The SBOM written beside the image and attached on push; None: none (`--no-sbom`).
    pub sbom: Option<crate::sbom::Format>,
    /// Strip a copy of each given executable for the image (`staticize image`; `--no-strip`).
    pub strip: bool,
    /// The private key (PEM) that signs the pushed image and its provenance (`--sign`).
    pub sign: Option<std::path::PathBuf>,
    /// Start a given packed node single executable under staticize's init (`staticize image`;
    /// `--no-init`), as `staticize node`'s own image does.
    pub init: bool,
    /// The cache registry compressed layers (and --dep libraries) are shared through.
    pub cache: crate::remote_cache::Settings,
}

impl Delivery {
    /// The platforms to build for: those asked for, else this machine's.
    pub fn build_platforms(&self) -> Vec<Arch> {
        if self.platforms.is_empty() { vec![Arch::host()] } else { self.platforms.clone() }
    }
}

/// Where a job's programs come from.
pub(crate) enum Programs<'a> {
    /// Built here: one driver per platform, all given the same request.
    Build {
        /// (platform asked for, the driver that builds for it), in the order asked.
        builds: Vec<(Arch, &'a dyn Driver)>,
        /// The inputs, as the user gave them.
        inputs: Vec<PathBuf>,
        /// What to optimise for.
        profile: Profile,
        /// Arguments after `--`.
        extra_args: Vec<String>,
    },
    /// A project's own build system, run static (`staticize build`); each chosen executable
    /// then takes the rest of the road as its own run.
    BuildSystem(Box<BuildSystem>),
    /// Executables made by an earlier stage (a build system's).
    Made {
        /// (platform, what built it).
        made: Vec<(Arch, Artifact)>,
        /// The inputs, as the build names them.
        inputs: Vec<PathBuf>,
    },
    /// Executables made elsewhere: (platform declared, file).
    Given(Vec<(Option<Arch>, PathBuf)>),
    /// An existing image, read and remade (`squash`, `slim`).
    Image(FromImage),
}

/// `staticize build`'s inputs.
#[derive(Debug, Clone)]
pub(crate) struct BuildSystem {
    /// The project directory.
    pub dir: PathBuf,
    /// How to run its build.
    pub options: buildsys::Options,
    /// `--bin`: the executables chosen (empty: the one the build made).
    pub bins: Vec<String>,
    /// `-o`: the one executable's output (else ./NAME each).
    pub output: Option<PathBuf>,
    /// The image archive (`--image`; else NAME.tar beside each binary), None: `--no-image`.
    pub image: Option<Option<PathBuf>>,
    /// `--oci-dir`, `--load`, `--push`: added to each executable's archive.
    pub more_destinations: Vec<Destination>,
}

/// An existing image to remake.
#[derive(Debug, Clone)]
pub(crate) enum FromImage {
    /// Its layers (all, or from one on) merged into one.
    Squash {
        /// The image archive or OCI layout.
        image: PathBuf,
        /// The first layer squashed, 1-based.
        from_layer: usize,
        /// Of a multi-platform image, only this platform.
        platform: Option<String>,
        /// `-t`: the result's name (default: the image's name, tag `squashed`).
        reference: Option<ImageRef>,
    },
    /// Reduced to scratch and the closures of the programs it runs.
    Slim {
        /// The image archive or OCI layout.
        image: PathBuf,
        /// `--program`: more programs.
        programs: Vec<String>,
        /// `--keep`: files or trees kept as they are.
        keep: Vec<String>,
        /// `--lib`: libraries dlopen()ed that no note names.
        extra_libs: Vec<String>,
        /// Write the image even when libraries are missing.
        allow_missing: bool,
    },
}

impl FromImage {
    /// The image read.
    pub(crate) fn image(&self) -> &std::path::Path {
        match self {
            FromImage::Squash { image, .. } | FromImage::Slim { image, .. } => image,
        }
    }
}

/// Where a job writes its executables.
#[derive(Debug, Clone)]
pub(crate) enum Binaries {
    /// None (the image is the output: `image`, `bundle`).
    None,
    /// One per platform: PATH for one platform, PATH-ARCH for several.
    PerPlatform(PathBuf),
    /// One file: this machine's build, else the first.
    One(PathBuf),
}

/// What a program that is not self-contained means for the job: the plan's variant that
/// decides the image stage.
#[derive(Debug, Clone)]
pub(crate) enum Dynamic {
    /// A failed verdict: no image (it would not run in scratch).
    Refuse,
    /// Carried into the image with its library closure (`bundle`, `node`).
    Carry(CarryOptions),
    /// Packed first (`staticize pack`): the given program, its loader and its closure become
    /// one static file, which is the binary written and the image's only program; the SBOM
    /// and the image's status.d records list what it carries.
    Pack(PackOptions),
}

/// What packing needs besides the program.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackOptions {
    /// Libraries, missing ones, another root.
    pub request: PackRequest,
    /// Start the program under staticize's minimal init in the image (`--init`).
    pub init: bool,
}

impl Dynamic {
    /// True when a program that is not self-contained is a failed verdict.
    pub(crate) fn refuses(&self) -> bool {
        !matches!(self, Dynamic::Carry(_))
    }
}

/// One program of a run, as built (or given) and judged.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The platform asked for (a build) or declared (`--binary OS/ARCH=…`).
    pub arch: Option<Arch>,
    /// The ELF file judged: the staged build or the given file.
    pub elf: PathBuf,
    /// What built it, when it was built here.
    pub artifact: Option<Artifact>,
    /// Its verdict.
    pub linkage: Linkage,
    /// Where the executable is written, if it is.
    pub binary: Option<PathBuf>,
    /// The closure carried with it (or packed inside it).
    pub closure: Option<Closure>,
    /// Where it is inside the image.
    pub program_path: String,
    /// Where the plan puts the runtime that runs it, when the image holds it as its own files
    /// on a shared runtime (see [`Judged::on_runtime`]).
    pub runtime_path: Option<String>,
}

impl Judged {
    /// The runtime's path in the image and the program as files it runs, when the plan asked
    /// for that form and the driver made it; None: the executable itself goes in.
    pub(crate) fn on_runtime(&self) -> Option<(&str, &crate::driver::OnRuntime)> {
        self.runtime_path.as_deref().zip(self.artifact.as_ref().and_then(|a| a.on_runtime.as_ref()))
    }
}

/// What packing made (`staticize pack`).
#[derive(Debug, Clone)]
pub struct PackedProgram {
    /// The program on this machine that was packed.
    pub program: PathBuf,
    /// Its verdict.
    pub linkage: Linkage,
    /// Its closure, as packed.
    pub closure: Closure,
    /// What the packed file carries.
    pub packed: Packed,
}

/// What remaking an existing image did, for the command's JSON.
#[derive(Debug)]
pub enum Remade {
    /// `squash`: what was done to the first platform, and to the others.
    Squash {
        /// The first platform's report.
        report: SquashReport,
        /// The other platforms'.
        more: Vec<SquashReport>,
    },
    /// `slim`: the programs carried, the hints, the original size.
    Slim {
        /// The programs and scripts carried.
        carried: serde_json::Value,
        /// Paths a program may read that were not kept.
        hints: Vec<String>,
        /// Bytes the original image's layers hold.
        original_bytes: u64,
    },
}

/// What a run did, for the command to print.
#[derive(Debug)]
pub struct Outcome {
    /// Every program, in the order built or given.
    pub programs: Vec<Judged>,
    /// The image written.
    pub image: Option<Written>,
    /// The proof run of the output (None: not run, `--no-probe`).
    pub proof: Option<Proof>,
    /// A failed verdict: the binary is written, no image (exit 1 once the result is printed).
    pub failed: Option<Error>,
    /// `pack`: what was packed.
    pub packed: Option<PackedProgram>,
    /// `squash`, `slim`: what was done to the image.
    pub remade: Option<Remade>,
    /// `staticize build`: one outcome per chosen executable.
    pub each: Vec<Outcome>,
}

impl Outcome {
    /// Ok, or the verdict that failed.
    pub fn finish(self) -> Result<()> {
        match self.failed {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// What carrying a dynamic program adds besides the image settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct CarryOptions {
    /// Libraries the program dlopen()s that no note names: sonames or paths (`--lib`).
    pub extra_libs: Vec<String>,
    /// Write the image even when libraries are missing.
    pub allow_missing: bool,
    /// What else goes in: an interpreter's standard library, package files, the closure of
    /// every ELF object put in, and the scratch-gap hints ([`crate::bundle::complete`]).
    pub extras: Extras,
    /// Start the program under staticize's minimal init (`--init`, node's default).
    pub init: bool,
    /// The executable written is packed into one static file carrying its loader and
    /// libraries (node's default; `--no-pack` keeps it dynamic).
    pub pack_binary: bool,
}
