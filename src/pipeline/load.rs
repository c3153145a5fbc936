//! `--load`: hands the written archive to docker or podman (`load -i`), after checking the
//! engine answers and can read the layer compression.

use std::path::Path;

use crate::error::{Error, Result};
use crate::image::Compression;
use crate::process::Command;

/// A container engine that can load an image archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Engine {
    /// docker, with the daemon's version.
    Docker(String),
    /// podman, with its version.
    Podman(String),
}

impl Engine {
    /// "docker" or "podman".
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Engine::Docker(_) => "docker",
            Engine::Podman(_) => "podman",
        }
    }

    /// The engine's (daemon's) version.
    pub(crate) fn version(&self) -> &str {
        match self {
            Engine::Docker(v) | Engine::Podman(v) => v,
        }
    }
}

fn docker() -> Option<Engine> {
    let out = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).probe()?;
    Some(Engine::Docker(out.stdout.trim().to_string()))
}

fn podman() -> Option<Engine> {
    let out = Command::new("podman").args(["version", "--format", "{{.Client.Version}}"]).probe()?;
    Some(Engine::Podman(out.stdout.trim().to_string()))
}

/// The engine `--load` asked for: "docker", "podman", or "auto" (docker if its daemon answers,
/// else podman).
pub(crate) fn choose(requested: &str) -> Result<Engine> {
    match requested {
        "docker" => docker().ok_or_else(|| Error::ToolMissing {
            tool: "docker (a daemon that answers)".into(),
            hint:
                "`docker version` failed: install docker and start dockerd (or set DOCKER_HOST), or use --load podman"
                    .into(),
        }),
        "podman" => podman().ok_or_else(|| Error::ToolMissing {
            tool: "podman".into(),
            hint: "install it (apt-get install podman), or use --load docker".into(),
        }),
        _ => docker().or_else(podman).ok_or_else(|| Error::ToolMissing {
            tool: "docker or podman".into(),
            hint: "--load needs a container engine: apt-get install podman (or docker.io and a running dockerd)".into(),
        }),
    }
}

/// docker reads zstd layers from 23.0 on (moby 23 added zstd to its decompressor); 20.10 fails
/// with "unexpected EOF" or an invalid tar header.
pub(crate) fn docker_reads_zstd(version: &str) -> bool {
    version.split(['.', '-', '+']).next().and_then(|m| m.parse::<u32>().ok()).is_some_and(|major| major >= 23)
}

/// Refuses combinations the engine cannot read, before anything is written.
pub(crate) fn check_compatible(engine: &Engine, compression: Compression) -> Result<()> {
    match (engine, compression) {
        (Engine::Docker(v), Compression::Zstd) if !docker_reads_zstd(v) => Err(Error::usage(
            format!("--load docker: docker {v} cannot read zstd layers (docker reads them from 23.0 on)"),
            "use --compress gzip (the default) for this docker, or --load podman",
        )),
        _ => Ok(()),
    }
}

/// Loads `archive` into `engine`; returns the engine's own report ("Loaded image: …").
pub(crate) fn load(engine: &Engine, archive: &Path) -> Result<String> {
    let out = Command::new(engine.name())
        .arg("load")
        .arg("-i")
        .arg(archive)
        .run(&format!("load the image into {}", engine.name()))?;
    let text = if out.stdout.trim().is_empty() { out.stderr } else { out.stdout };
    Ok(text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_support_by_docker_version() {
        assert!(!docker_reads_zstd("20.10.24+dfsg1"));
        assert!(docker_reads_zstd("23.0.1"));
        assert!(docker_reads_zstd("27.3.1"));
        assert!(!docker_reads_zstd(""));
        let old = Engine::Docker("20.10.24".into());
        assert_eq!(check_compatible(&old, Compression::Zstd).unwrap_err().exit_code(), 2);
        assert!(check_compatible(&old, Compression::Gzip).is_ok());
        assert!(check_compatible(&Engine::Podman("4.3.1".into()), Compression::Zstd).is_ok());
    }
}
