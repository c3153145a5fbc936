//! Drivers turn source into one ELF file on disk. A driver knows compilers, never images.

pub mod buildsys;
pub mod c;
pub mod cc;
pub mod go;
pub mod node;
pub mod rust;
pub mod target;

use std::path::PathBuf;

use serde::Serialize;

use crate::toolchain::Profile;

/// What a build is asked to produce.
#[derive(Debug, Clone)]
pub struct BuildRequest {
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
}

/// A language driver: builds a request into an artifact.
pub trait Driver {
    /// Builds the program; errors carry the compiler's own message.
    fn build(&self, req: &BuildRequest) -> crate::error::Result<Artifact>;
}
