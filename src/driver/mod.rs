//! Drivers turn source into one ELF file on disk. A driver knows compilers, never images:
//! `pipeline::run` calls [`Driver::build`] once per platform, then judges, images and delivers
//! what it returns. A new language (or build system) is one more `Driver`.

pub(crate) mod buildsys;
pub(crate) mod c;
pub(crate) mod cc;
pub(crate) mod go;
pub(crate) mod go_cache;
pub(crate) mod go_remote;
pub(crate) mod libs;
pub(crate) mod linktrace;
pub(crate) mod node;
pub(crate) mod objcache;
pub(crate) mod rust;
pub(crate) mod rust_remote;

use std::path::PathBuf;

use serde::Serialize;

use crate::platform::Arch;
use crate::progress::Steps;
use crate::toolchain::Profile;

/// What a build is asked to produce.
#[derive(Debug, Clone)]
pub(crate) struct BuildRequest {
    /// The inputs as the user gave them (source files, a package, a directory).
    pub inputs: Vec<PathBuf>,
    /// The program's name (output file name and default image name).
    pub name: String,
    /// A private directory the driver writes its output into.
    pub staging: PathBuf,
    /// What to optimise for.
    pub profile: Profile,
    /// Extra arguments after `--`, passed to the compiler.
    pub extra_args: Vec<String>,
    /// The architecture to build for.
    pub arch: Arch,
    /// Where the program will be inside the image ("/hello"), for drivers whose output finds
    /// its files relative to itself.
    pub program_path: String,
}

/// The ELF a driver produced.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// Where the file is (inside the staging directory).
    pub path: PathBuf,
    /// The language it was built from.
    pub lang: String,
    /// The target it was built for (e.g. "x86_64-linux-musl").
    pub target: String,
    /// The toolchain that built it, with its version.
    pub toolchain_used: String,
    /// The command line that built it, for the report.
    pub command: String,
    /// Warnings worth telling the user, already translated into plain words.
    pub warnings: Vec<String>,
    /// Files the program needs beside it in the image (Node's package tree).
    #[serde(skip)]
    pub companions: Option<Companions>,
    /// The program as files a shared runtime runs, for an image cut into layers (node: the
    /// plain node and the app's script); None: only the executable runs it.
    #[serde(skip)]
    pub on_runtime: Option<OnRuntime>,
    /// Directories of the packages the program's code comes from that no metadata inside the
    /// binary records (Node: each npm package bundled or shipped), for the SBOM.
    #[serde(skip)]
    pub package_dirs: Vec<PathBuf>,
    /// The static archives the link read, as the linker listed them (C/C++ links with
    /// `-Wl,--trace`, see `linktrace`), for the SBOM; empty when no link was traced.
    #[serde(skip)]
    pub archives: Vec<PathBuf>,
}

/// Files that go into the image with the program, under one directory.
#[derive(Debug, Clone)]
pub struct Companions {
    /// The directory inside the image ("/app").
    pub root: String,
    /// (path under `root`, file on this machine, executable).
    pub files: Vec<(String, PathBuf, bool)>,
}

/// A program an image can run as its own files on a runtime that is the same for every
/// program using it, instead of one executable holding both (node: the plain node runs the
/// app's script), so that the runtime's layer keeps its digest from app to app.
#[derive(Debug, Clone)]
pub struct OnRuntime {
    /// The runtime's executable on this machine (node, stripped, nothing injected).
    pub runtime: PathBuf,
    /// What it is, for the layer's history ("node v20.20.2").
    pub what: String,
    /// The script it runs (the bundle, the entry, or a launcher of the package tree): the
    /// program's own file, at the program's path in the image.
    pub main: PathBuf,
}

/// Where a dynamic artifact built for another machine finds its libraries, and what to say
/// when some are missing.
#[derive(Debug, Clone)]
pub(crate) struct LibraryRoot {
    /// The directory standing for `/` when the closure is resolved.
    pub root: PathBuf,
    /// Who supplied it, for messages ("Debian's packages").
    pub supplier: String,
    /// How to add a missing library.
    pub help: String,
    /// The NSS line for a glibc closure.
    pub nss_note: String,
    /// The platform variant its image carries ("v8").
    pub variant: Option<String>,
}

/// A language driver: builds a request into an artifact.
pub(crate) trait Driver {
    /// The driver's name and, when it is known before building, the compiler it will use:
    /// what the plan shows (`--plan`). Finding it may probe installed tools; nothing is built.
    fn tool(&self) -> Tool;

    /// Builds the program; errors carry the compiler's own message. Long work shows through
    /// `steps` (the one progress mechanism every driver shares).
    fn build(&self, req: &BuildRequest, steps: &Steps) -> crate::error::Result<Artifact>;

    /// True when the driver reports its own steps (node: fetch, bundle, blob, inject…); else
    /// the pipeline announces the build with one "compile" line.
    fn reports_steps(&self) -> bool {
        false
    }

    /// The runtime an image can run this driver's programs on as their own files ("node"),
    /// when it can: the plan then gives the runtime a layer of its own, shared by every
    /// program that uses it, and the artifact carries [`OnRuntime`].
    fn runtime(&self) -> Option<String> {
        None
    }

    /// Where a dynamic artifact's libraries are when they are not this machine's (a cross
    /// build); asked only when an image is written, so nothing is fetched for `--no-image`.
    fn library_root(&self, _artifact: &Artifact, _steps: &Steps) -> crate::error::Result<Option<LibraryRoot>> {
        Ok(None)
    }
}

/// What builds a program, as far as it is known before building.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Tool {
    /// The driver: "c", "c++", "go", "rust", "node".
    pub driver: String,
    /// The compiler and its version; None: chosen while building.
    pub compiler: Option<String>,
}
