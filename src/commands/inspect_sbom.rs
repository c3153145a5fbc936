//! `staticize inspect IMAGE --sbom`: the packages an image declares in its dpkg database
//! and its `/var/lib/dpkg/status.d/` records (what scanners read), per image.

use serde::Serialize;

use crate::cli::InspectArgs;
use crate::error::Result;
use crate::image::read::Archive;
use crate::report::Reporter;
use crate::sbom::attached::{self, Attached};
use crate::sbom::statusd::{self, Declared};

/// Where an image's packages were declared: the dpkg database, `status.d` records, or both.
fn sources(r: &DeclaredReport) -> String {
    let db = r.packages.iter().any(|p| !p.record.starts_with(statusd::DIR));
    let records = r.packages.iter().any(|p| p.record.starts_with(statusd::DIR));
    match (db, records) {
        (true, true) => format!("/var/lib/dpkg/status and {}", statusd::DIR),
        (true, false) => "/var/lib/dpkg/status".to_string(),
        _ => statusd::DIR.to_string(),
    }
}

/// One image's declared packages, as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct DeclaredReport {
    /// os/arch[/variant].
    pub platform: String,
    /// Names (tags).
    pub names: Vec<String>,
    /// The packages, sorted by name.
    pub packages: Vec<Declared>,
    /// SBOMs the layout holds as referrers of this image (or of its index).
    pub attached: Vec<Attached>,
}

/// Runs `inspect --sbom`.
pub fn run(args: &InspectArgs, rep: &Reporter) -> Result<()> {
    let archive = Archive::open(&args.image)?;
    let referrers = attached::find(&archive);
    let mut reports = Vec::new();
    for (i, img) in archive.images.iter().enumerate() {
        let packages = crate::sbom::image::declared(&archive, i)?;
        let index = img.index.map(|x| archive.indexes[x].doc.digest.as_str());
        let mine = |a: &&Attached| {
            Some(a.subject.as_str()) == img.manifest.as_ref().map(|m| m.digest.as_str())
                || Some(a.subject.as_str()) == index
        };
        let attached = referrers.iter().filter(mine).cloned().collect();
        reports.push(DeclaredReport {
            platform: img.platform.to_string(),
            names: img.names.clone(),
            packages,
            attached,
        });
    }
    if rep.json {
        rep.json(&reports);
        return Ok(());
    }
    for r in &reports {
        let name = r.names.first().map(String::as_str).unwrap_or("(unnamed)");
        // The result goes to stdout, header included, so `| grep` sees whole images.
        rep.line(format!("{name} {}: {} packages declared in {}", r.platform, r.packages.len(), sources(r)));
        for p in &r.packages {
            rep.line(format!("  {} {} {}", p.name, p.version, p.architecture));
        }
        for a in &r.attached {
            let n = a.packages.len();
            rep.line(format!("  SBOM attached ({}, {}): {n} packages", a.artifact_type, a.digest));
            for (name, version) in &a.packages {
                rep.line(format!("    {name} {version}"));
            }
        }
    }
    Ok(())
}
