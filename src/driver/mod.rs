//! Drivers turn source into one ELF file on disk. A driver knows compilers, never images.

pub mod c;
pub mod go;
pub mod go_remote;
pub mod libs;
pub mod node;
pub mod objcache;
pub mod rust;
pub mod target;

use std::path::{Path, PathBuf};

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
    /// For C and C++: which sources were compiled and which objects came from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<objcache::Objects>,
}

/// A language driver: builds a request into an artifact.
pub trait Driver {
    /// Builds the program; errors carry the compiler's own message.
    fn build(&self, req: &BuildRequest) -> crate::error::Result<Artifact>;
}

/// The program's name: the file name of `-o` when given (it names the program inside the image
/// and the default tag), else `default` (from the first source or the package).
pub fn program_name(output: Option<&Path>, default: &str) -> String {
    output
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_the_program() {
        assert_eq!(program_name(Some(Path::new("out/sqlite3")), "shell"), "sqlite3");
        assert_eq!(program_name(None, "shell"), "shell");
        assert_eq!(program_name(Some(Path::new("/")), "shell"), "shell");
    }
}
