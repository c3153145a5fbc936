//! Rust crates compiled into a binary: taken from cargo's resolved dependency graph and
//! embedded in the binary the way cargo-auditable does (a `.dep-v0` ELF section holding
//! zlib-compressed JSON), so scanners that read binaries (syft, trivy) see the crates; read
//! back from that section for the SBOM (`sbom::collect` turns them into packages). cargo-auditable itself is a cargo wrapper to install;
//! its format is small and documented, so it is written here.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use cargo_metadata::{DependencyKind, Metadata, PackageId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process::Command;

/// The section cargo-auditable writes.
pub const SECTION: &str = ".dep-v0";
/// Largest decompressed dependency list read back (untrusted binaries).
const MAX_JSON: u64 = 16 << 20;

/// One crate in cargo-auditable's format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Crate {
    /// The crate's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// "crates.io", "local", "git" or "registry".
    pub source: String,
    /// Indices of the crates it depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<usize>,
    /// True for the binary's own package.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
}

/// The embedded document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Every crate compiled in, sorted by (name, version, source).
    pub packages: Vec<Crate>,
}

/// The crates `root` links at run time (normal dependencies, transitively), from `cargo
/// metadata` output resolved for the target platform and features.
pub(crate) fn from_metadata(meta: &Metadata, root: &str) -> VersionInfo {
    let Some(resolve) = &meta.resolve else { return VersionInfo { packages: Vec::new() } };
    let nodes: BTreeMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut seen: BTreeSet<&PackageId> = BTreeSet::new();
    let mut todo: Vec<&PackageId> = nodes.keys().filter(|id| id.repr == root).copied().collect();
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for d in nodes.get(id).map(|n| n.deps.as_slice()).unwrap_or_default() {
            if d.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal) {
                todo.push(&d.pkg);
            }
        }
    }
    let pkgs: BTreeMap<&PackageId, &cargo_metadata::Package> = meta.packages.iter().map(|p| (&p.id, p)).collect();
    let mut list: Vec<(&PackageId, Crate)> = seen
        .iter()
        .filter_map(|id| pkgs.get(id).map(|p| (*id, p)))
        .map(|(id, p)| {
            let source = match &p.source {
                None => "local".to_string(),
                Some(s) if s.repr.contains("crates.io-index") => "crates.io".to_string(),
                Some(s) if s.repr.starts_with("git+") => "git".to_string(),
                Some(_) => "registry".to_string(),
            };
            let c = Crate {
                name: p.name.to_string(),
                version: p.version.to_string(),
                source,
                dependencies: vec![],
                root: id.repr == root,
            };
            (id, c)
        })
        .collect();
    list.sort_by(|a, b| a.1.cmp(&b.1));
    let index: BTreeMap<&PackageId, usize> = list.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
    let mut packages = Vec::new();
    for (id, mut c) in list.clone() {
        let deps = nodes.get(id).map(|n| n.deps.as_slice()).unwrap_or_default();
        c.dependencies = deps
            .iter()
            .filter(|d| d.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal))
            .filter_map(|d| index.get(&d.pkg).copied())
            .collect();
        c.dependencies.sort();
        packages.push(c);
    }
    VersionInfo { packages }
}

/// Runs `cargo metadata` for a package resolved for `triple` with the given feature flags.
pub(crate) fn metadata(
    cargo_argv: &[String],
    manifest: &Path,
    triple: &str,
    feature_args: &[String],
) -> Result<Metadata> {
    let out = Command::from_argv(cargo_argv)
        .dir(manifest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")))
        .args(["metadata", "--format-version", "1", "--filter-platform", triple, "--manifest-path"])
        .arg(manifest)
        .args(feature_args)
        .run("read the crates compiled in (cargo metadata)")?;
    serde_json::from_str(&out.stdout).map_err(|e| Error::Build {
        step: "read cargo metadata".into(),
        message: format!("cargo metadata printed something unreadable: {e}"),
        help: None,
    })
}

/// Adds the `.dep-v0` section to `binary` with objcopy (the section is not loaded at run time).
pub(crate) fn embed(binary: &Path, info: &VersionInfo) -> Result<()> {
    let json = serde_json::to_vec(info).expect("a dependency list serialises");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&json).expect("writing to memory");
    let compressed = z.finish().expect("writing to memory");
    let dir = binary.parent().unwrap_or(Path::new("."));
    let data = tempfile::Builder::new()
        .prefix("dep-v0.")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a file in", dir, e))?;
    std::fs::write(data.path(), &compressed).map_err(|e| Error::io("write", data.path(), e))?;
    Command::new("objcopy")
        .arg("--add-section")
        .arg(format!("{SECTION}={}", data.path().display()))
        .args(["--set-section-flags", &format!("{SECTION}=readonly,noload")])
        .arg(binary)
        .run("embed the crate list (objcopy --add-section .dep-v0)")?;
    Ok(())
}

/// The crates embedded in an ELF file's `.dep-v0` section; None when it has none or it is
/// unreadable.
pub fn read_embedded(bytes: &[u8]) -> Option<VersionInfo> {
    let elf = goblin::elf::Elf::parse(bytes).ok()?;
    let sh = elf.section_headers.iter().find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(SECTION))?;
    let start = usize::try_from(sh.sh_offset).ok()?;
    let data = bytes.get(start..start.checked_add(usize::try_from(sh.sh_size).ok()?)?)?;
    parse_section(data)
}

/// Decompresses and parses a `.dep-v0` section's bytes, capped.
pub fn parse_section(data: &[u8]) -> Option<VersionInfo> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(data).take(MAX_JSON).read_to_end(&mut json).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_round_trips() {
        let info = VersionInfo {
            packages: vec![
                Crate {
                    name: "app".into(),
                    version: "0.1.0".into(),
                    source: "local".into(),
                    dependencies: vec![1],
                    root: true,
                },
                Crate {
                    name: "hex".into(),
                    version: "0.4.3".into(),
                    source: "crates.io".into(),
                    dependencies: vec![],
                    root: false,
                },
            ],
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(
            json,
            r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[1],"root":true},{"name":"hex","version":"0.4.3","source":"crates.io"}]}"#
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json.as_bytes()).unwrap();
        assert_eq!(parse_section(&z.finish().unwrap()), Some(info.clone()));
        assert!(parse_section(b"not zlib").is_none());
    }
}
