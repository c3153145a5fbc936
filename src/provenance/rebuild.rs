//! `verify --rebuild`: the build a provenance statement records, run again from its sources
//! in a directory of its own, and the new image's digest compared with the statement's
//! subject — reproducibility as a check anyone holding the sources can run. The recorded
//! source files are checked by digest first, so a mismatch names its cause.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::invocation;
use crate::error::{Error, Result};

/// What a rebuild found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Rebuilt {
    /// The command run again (`staticize c hello.c -o …`).
    pub command: String,
    /// The digest the statement names.
    pub subject: String,
    /// The digest the rebuild gave.
    pub rebuilt: String,
    /// The source files checked by digest before the rebuild.
    pub sources_checked: usize,
    /// The staticize version that made the statement, when it is not this one.
    pub other_version: Option<String>,
}

impl Rebuilt {
    /// Whether the rebuild gave the very image the statement names.
    pub(crate) fn same(&self) -> bool {
        self.subject == self.rebuilt
    }
}

/// Rebuilds what `statement` records, its relative source paths read from `source`.
pub(crate) fn rebuild(statement: &[u8], source: &Path) -> Result<Rebuilt> {
    let subject = super::subject_digest(statement).ok_or_else(|| not_provenance("it is not a SLSA v1 statement"))?;
    let v: Value = serde_json::from_slice(statement).map_err(|e| not_provenance(&e.to_string()))?;
    let build = &v["predicate"]["buildDefinition"];
    let args: Vec<String> = serde_json::from_value(build["externalParameters"]["parameters"]["invocation"].clone())
        .map_err(|_| not_provenance("it records no invocation (an older staticize wrote it)"))?;
    let sources_checked = check_sources(build["resolvedDependencies"].as_array().map_or(&[][..], |a| a), source)?;
    let dir = tempfile::Builder::new()
        .prefix("staticize-rebuild-")
        .tempdir()
        .map_err(|e| Error::io("create the rebuild directory", std::env::temp_dir(), e))?;
    let name = build["externalParameters"]["name"].as_str().unwrap_or("image");
    let argv = rebuild_args(&args, name, dir.path())?;
    let epoch = build["externalParameters"]["parameters"]["sourceDateEpoch"].as_u64().unwrap_or(0);
    let rebuilt = run(&argv, source, epoch)?;
    let version = v["predicate"]["runDetails"]["builder"]["version"]["staticize"].as_str().unwrap_or("");
    Ok(Rebuilt {
        command: std::iter::once("staticize".to_string()).chain(argv).collect::<Vec<_>>().join(" "),
        subject,
        rebuilt,
        sources_checked,
        other_version: (version != env!("CARGO_PKG_VERSION")).then(|| version.to_string()),
    })
}

fn not_provenance(why: &str) -> Error {
    Error::input(
        "the provenance",
        format!("cannot be rebuilt: {why}"),
        Some("rebuild from a NAME.provenance.json staticize wrote".into()),
    )
}

/// Checks every `file:` dependency against the file of that path under `source`; returns
/// how many were checked.
fn check_sources(deps: &[Value], source: &Path) -> Result<usize> {
    let mut n = 0;
    for d in deps {
        let (Some(path), Some(want)) =
            (d["uri"].as_str().and_then(|u| u.strip_prefix("file:")), d["digest"]["sha256"].as_str())
        else {
            continue;
        };
        let file = source.join(path);
        let got = crate::digest::sha256_file(&file).map_err(|_| {
            Error::input(&file, "is a source the provenance records and is missing", Some(source_help()))
        })?;
        if got != want {
            return Err(Error::Verdict {
                message: format!(
                    "{}: the source differs from the one built (sha256 {got}, recorded {want})",
                    file.display()
                ),
                help: Some(source_help()),
            });
        }
        n += 1;
    }
    Ok(n)
}

fn source_help() -> String {
    "run it where the sources are (--source DIR), with the files as they were built".into()
}

/// The recorded arguments with the output placed in `dir`.
fn rebuild_args(args: &[String], name: &str, dir: &Path) -> Result<Vec<String>> {
    let command = args.first().map(String::as_str).unwrap_or("");
    let Some(archive) = invocation::output_is_archive(command) else {
        return Err(Error::usage(
            format!(
                "--rebuild does not rebuild `staticize {command}` yet (it rebuilds c, cxx, go, rust, node, pack, image, bundle, squash and slim)"
            ),
            "rebuild it by hand with the command the provenance records",
        ));
    };
    let out = dir.join(if archive { format!("{name}.tar") } else { name.to_string() });
    let mut argv = vec![command.to_string(), "-o".to_string(), out.display().to_string(), "--json".to_string()];
    argv.extend(args[1..].iter().cloned());
    Ok(argv)
}

/// Runs this staticize with `argv` in `dir`; returns the image digest its JSON reports.
fn run(argv: &[String], dir: &Path, epoch: u64) -> Result<String> {
    let exe = std::env::current_exe().map_err(|e| Error::io("find staticize itself", "/proc/self/exe", e))?;
    let mut cmd = crate::process::Command::new(exe).args(argv).dir(dir);
    cmd =
        if epoch == 0 { cmd.env_remove("SOURCE_DATE_EPOCH") } else { cmd.env("SOURCE_DATE_EPOCH", epoch.to_string()) };
    let out = cmd.run("rebuild from the provenance")?;
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    v["image"]["manifest_digest"].as_str().map(String::from).ok_or_else(|| Error::Build {
        step: "rebuild from the provenance".into(),
        message: "the rebuild wrote no image (its --json output has no image.manifest_digest)".into(),
        help: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_goes_to_the_rebuild_directory() {
        let a = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let got = rebuild_args(&a("c hello.c -- -DX"), "hello", Path::new("/r")).unwrap();
        assert_eq!(got, a("c -o /r/hello --json hello.c -- -DX"));
        let got = rebuild_args(&a("image ./bin"), "bin", Path::new("/r")).unwrap();
        assert_eq!(got, a("image -o /r/bin.tar --json ./bin"));
        assert!(rebuild_args(&a("build ."), "x", Path::new("/r")).is_err());
    }

    #[test]
    fn a_changed_source_is_named() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a.c"), "x").unwrap();
        let dep = serde_json::json!([{ "uri": "file:a.c", "digest": { "sha256": "00" } }]);
        let e = check_sources(dep.as_array().unwrap(), t.path()).unwrap_err();
        assert!(e.to_string().contains("differs"), "{e}");
        let sha = crate::digest::sha256_file(&t.path().join("a.c")).unwrap();
        let dep = serde_json::json!([{ "uri": "file:a.c", "digest": { "sha256": sha } }, { "uri": "pkg:x" }]);
        assert_eq!(check_sources(dep.as_array().unwrap(), t.path()).unwrap(), 1);
    }
}
