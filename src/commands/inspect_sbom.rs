//! `staticize inspect IMAGE --sbom`: the packages an image declares in its
//! `/var/lib/dpkg/status.d/` records (what scanners read), per image.

use serde::Serialize;

use crate::cli::InspectArgs;
use crate::error::Result;
use crate::image::read::Archive;
use crate::report::Reporter;
use crate::sbom::statusd::{self, Declared};

/// One image's declared packages, as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct DeclaredReport {
    /// os/arch[/variant].
    pub platform: String,
    /// Names (tags).
    pub names: Vec<String>,
    /// The packages, sorted by name.
    pub packages: Vec<Declared>,
}

/// Runs `inspect --sbom`.
pub fn run(args: &InspectArgs, rep: &Reporter) -> Result<()> {
    let archive = Archive::open(&args.image)?;
    let mut reports = Vec::new();
    for (i, img) in archive.images.iter().enumerate() {
        let packages = statusd::read_declared(&archive, i)?;
        reports.push(DeclaredReport { platform: img.platform.to_string(), names: img.names.clone(), packages });
    }
    if rep.json {
        rep.json(&reports);
        return Ok(());
    }
    for r in &reports {
        let name = r.names.first().map(String::as_str).unwrap_or("(unnamed)");
        // The result goes to stdout, header included, so `| grep` sees whole images.
        rep.line(format!("{name} {}: {} packages declared in {}", r.platform, r.packages.len(), statusd::DIR));
        for p in &r.packages {
            rep.line(format!("  {} {} {}", p.name, p.version, p.architecture));
        }
    }
    Ok(())
}
