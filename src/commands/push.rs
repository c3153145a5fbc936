//! `staticize push IMAGE REF`: an archive already on disk → a registry, with the SBOM
//! written beside it (NAME.spdx.json or NAME.cdx.json) attached.

use crate::cli::PushArgs;
use crate::error::Result;
use crate::image::read::Archive;
use crate::pipeline::destination::refuse_problems;
use crate::registry::push::{self, Remote};
use crate::report::Reporter;
use crate::sbom::Format;

/// Runs `push`.
pub fn run(args: PushArgs, rep: &Reporter) -> Result<()> {
    let target = Remote::parse(&args.reference)?;
    let archive = Archive::open(&args.image)?;
    refuse_problems(&archive)?;
    let pushed = push::push(&archive, &target, rep)?;
    rep.line(format!("{}@{}", pushed.reference, pushed.digest));
    // The SBOM staticize wrote beside the archive goes with it, as `--push` sends it.
    let beside = [Format::Spdx, Format::CycloneDx]
        .into_iter()
        .find(|f| crate::sbom::path_beside(&args.image, *f).is_file())
        .filter(|_| !args.no_sbom);
    if let Some(format) = beside {
        crate::pipeline::sbom::attach_beside(&args.image, format, &target, rep)?;
    }
    rep.json(&pushed);
    Ok(())
}
