//! The image settings as plain, validated data. `commands::options` parses each option into
//! them once (a refusal is a usage error naming the flag); everything after works on
//! [`ImageSettings`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::Result;
use crate::image::Compression;
use crate::image::rootfs::normalize;
use crate::platform::Arch;
use crate::reference::ImageRef;

/// The validated image options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSettings {
    /// None: the program; Some(empty): no entrypoint; Some(words): these.
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    pub cmd: Option<Vec<String>>,
    /// KEY, VALUE in the order given; a repeated key keeps its first place and its last value.
    pub env: Vec<(String, String)>,
    /// Absolute working directory.
    pub workdir: Option<String>,
    /// The user, as given.
    pub user: Option<User>,
    /// "80/tcp", sorted.
    pub exposed: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// "SIGTERM", "SIGRTMIN+3" or a number.
    pub stop_signal: Option<String>,
    /// Files and directories to add, in order.
    pub adds: Vec<AddSpec>,
    /// What scratch lacks.
    pub extras: Extras,
    /// Requested platforms (empty: the program's own).
    pub platforms: Vec<Arch>,
    /// The image name (`-t`); None: named after the program.
    pub tag: Option<ImageRef>,
    /// Where the program goes inside the image (`--path`, cleaned); None: /NAME.
    pub path: Option<String>,
    /// Layer compression.
    pub compression: Compression,
    /// Strip a copy of each given executable for the image (`staticize image`; `--no-strip`).
    pub strip: bool,
    /// The SBOM written beside the image and attached on push; None: none (`--no-sbom`).
    pub sbom: Option<crate::sbom::Format>,
}

/// A `--user` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// A user name, optionally with a group name or GID: needs /etc/passwd in the image.
    Name(String),
    /// UID[:GID].
    Id(String),
}

impl User {
    /// The config string.
    pub fn as_str(&self) -> &str {
        match self {
            User::Name(s) | User::Id(s) => s,
        }
    }
}

/// One `--add SRC:DEST[:MODE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddSpec {
    /// The host file or directory.
    pub src: PathBuf,
    /// Where it goes in the image, absolute; a trailing '/' means "into this directory".
    pub dest: String,
    /// Permission bits for regular files (default: 0755 if the host file is executable, else 0644).
    pub mode: Option<u32>,
}

/// Which zones `--with tzdata` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zones {
    /// The whole host zoneinfo tree.
    All,
    /// Only these zones ("Asia/Taipei", "UTC").
    Only(Vec<String>),
}

/// The `--with` extras.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// CA bundle: Some(None) for the host's, Some(Some(path)) for a given file.
    pub certs: Option<Option<PathBuf>>,
    /// Time zones.
    pub tzdata: Option<Zones>,
    /// /etc/passwd and /etc/group with root and nonroot (65532).
    pub passwd: bool,
    /// /tmp with mode 1777.
    pub tmp: bool,
    /// A static busybox with its applets linked in /bin.
    pub busybox: bool,
}

impl ImageSettings {
    /// The image name: `-t` when given, else derived from the program's name.
    pub fn reference(&self, program: &str) -> ImageRef {
        self.tag.clone().unwrap_or_else(|| ImageRef::for_program(program))
    }

    /// The platforms to build for: those asked for, else the host's.
    pub fn build_platforms(&self) -> Vec<Arch> {
        if self.platforms.is_empty() { vec![Arch::host()] } else { self.platforms.clone() }
    }

    /// The program's path inside the image: `--path` or `/NAME`.
    pub fn program_path(&self, program: &str) -> Result<String> {
        match &self.path {
            Some(p) => Ok(p.clone()),
            None => program_path(&format!("/{program}")),
        }
    }
}

/// A `--path` value cleaned into an absolute path inside the image.
pub fn program_path(p: &str) -> Result<String> {
    Ok(format!("/{}", normalize(p)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_platforms_default_to_the_host() {
        assert_eq!(ImageSettings::default().build_platforms(), vec![Arch::host()]);
        let two = ImageSettings { platforms: vec![Arch::Arm64, Arch::Amd64], ..Default::default() };
        assert_eq!(two.build_platforms(), vec![Arch::Arm64, Arch::Amd64]);
    }
}
