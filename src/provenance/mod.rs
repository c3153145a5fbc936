//! Provenance: an in-toto Statement (v1) with a SLSA v1 provenance predicate for an image —
//! what it was built from (the source files' digests, and every package the SBOM collection
//! found: Debian packages of `--dep` and of the closure with their versions, Go modules, Rust
//! crates, npm packages, the compilers and C library), the command and the parameters that
//! change the output, and staticize's version. Written beside the archive as
//! `NAME.provenance.json`; deterministic: no clock, no host name, keys sorted, so the same
//! build gives the same bytes and a second builder can compare them.

pub(crate) mod invocation;
pub(crate) mod rebuild;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::Result;
use crate::sbom::{Ecosystem, Package, Sbom};

/// The in-toto Statement type.
pub(crate) const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA v1 provenance predicate type (cosign's `--type slsaprovenance1`).
pub(crate) const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The media type of a Statement (a DSSE payloadType, an OCI artifactType).
pub(crate) const MEDIA_TYPE: &str = "application/vnd.in-toto+json";
/// What a staticize build is, as the predicate's buildType.
pub(crate) const BUILD_TYPE: &str = "https://github.com/staticize/staticize/build/v1";

/// What the statement records of one build.
pub(crate) struct Build<'a> {
    /// The command as the image's history records it ("staticize c hello.c").
    pub command: &'a str,
    /// The program's name.
    pub name: &'a str,
    /// The source files and directories given; files are recorded with their digests.
    pub sources: &'a [PathBuf],
    /// The parameters that change the output (compression, platforms, epoch…).
    pub parameters: Value,
    /// What the output contains or was made with; None: nothing collected.
    pub sbom: Option<&'a Sbom>,
}

/// The statement about the image `name@digest` ("sha256:…"), as sorted, indented JSON.
pub(crate) fn statement(build: &Build, name: &str, digest: &str) -> Result<Vec<u8>> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let mut deps = Vec::new();
    for s in build.sources.iter().filter(|s| s.is_file()) {
        let sha = crate::digest::sha256_file(s)?;
        deps.push(json!({ "uri": format!("file:{}", s.display()), "digest": { "sha256": sha } }));
    }
    let packages = build.sbom.map(|s| s.packages.as_slice()).unwrap_or_default();
    deps.extend(packages.iter().filter(|p| p.ecosystem != Ecosystem::Unowned).map(dependency));
    let doc = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": name, "digest": { "sha256": hex } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": { "command": build.command, "name": build.name, "parameters": build.parameters },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {
                    "id": "https://github.com/staticize/staticize",
                    "version": { "staticize": env!("CARGO_PKG_VERSION") },
                },
            },
        },
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("a statement serialises");
    bytes.push(b'\n');
    Ok(bytes)
}

/// A package as a SLSA ResourceDescriptor: its purl as the URI, its version and, where the
/// SBOM knows it, the digest of its own artifact.
fn dependency(p: &Package) -> Value {
    let mut d = json!({ "name": p.name });
    if let Some(purl) = &p.purl {
        d["uri"] = json!(purl);
    }
    if let Some(sha) = &p.sha256 {
        d["digest"] = json!({ "sha256": sha });
    }
    let kind = serde_json::to_value(p.ecosystem).unwrap_or_default();
    d["annotations"] = json!({ "version": p.version, "ecosystem": kind, "linked": p.linked });
    d
}

/// `NAME.provenance.json` beside the archive `NAME.tar` (or the layout directory NAME).
pub(crate) fn path_beside(archive: &Path) -> PathBuf {
    beside(archive, "provenance.json")
}

/// `NAME.intoto.jsonl` beside the archive `NAME.tar`: the statement signed, as a DSSE
/// envelope on one line (the name SLSA's own verifier reads).
pub(crate) fn envelope_beside(archive: &Path) -> PathBuf {
    beside(archive, "intoto.jsonl")
}

fn beside(archive: &Path, suffix: &str) -> PathBuf {
    let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".tar").unwrap_or(&name);
    archive.with_file_name(format!("{stem}.{suffix}"))
}

/// Writes the statement beside the archive (temp file and rename); returns its path.
pub(crate) fn write_beside(statement: &[u8], archive: &Path) -> Result<PathBuf> {
    let dest = path_beside(archive);
    crate::output::write_atomic(&dest, statement, 0o644)?;
    Ok(dest)
}

/// The image digest ("sha256:…") a statement's subject names, if it is a SLSA provenance
/// statement with one subject of one sha256.
pub(crate) fn subject_digest(statement: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(statement).ok()?;
    if v["_type"] != STATEMENT_TYPE || v["predicateType"] != PREDICATE_TYPE {
        return None;
    }
    Some(format!("sha256:{}", v["subject"][0]["digest"]["sha256"].as_str()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_is_deterministic_and_names_its_subject() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("hello.c");
        std::fs::write(&src, "int main(void){return 0;}\n").unwrap();
        let mut gcc = Package::new("gcc", "14.2.0", Ecosystem::Tool);
        gcc.purl = Some("pkg:generic/gcc@14.2.0".into());
        let sbom = Sbom {
            name: "hello".into(),
            subject: "sha256:00".into(),
            created: 0,
            program: Package::new("hello", "", Ecosystem::Program),
            packages: vec![gcc],
        };
        let sources = [src.clone(), t.path().to_path_buf()];
        let b = Build {
            command: "staticize c hello.c",
            name: "hello",
            sources: &sources,
            parameters: json!({}),
            sbom: Some(&sbom),
        };
        let d = format!("sha256:{}", "ab".repeat(32));
        let one = statement(&b, "hello:latest", &d).unwrap();
        assert_eq!(one, statement(&b, "hello:latest", &d).unwrap());
        assert_eq!(subject_digest(&one).as_deref(), Some(d.as_str()));
        let v: Value = serde_json::from_slice(&one).unwrap();
        let deps = v["predicate"]["buildDefinition"]["resolvedDependencies"].as_array().unwrap();
        assert_eq!(deps.len(), 2, "the file and gcc, not the directory: {deps:?}");
        assert_eq!(deps[0]["digest"]["sha256"], crate::digest::sha256_file(&src).unwrap());
        assert_eq!(deps[1]["uri"], "pkg:generic/gcc@14.2.0");
        assert_eq!(path_beside(Path::new("d/hello.tar")), Path::new("d/hello.provenance.json"));
    }
}
