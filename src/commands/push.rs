//! `staticize push IMAGE REF`: an archive already on disk → a registry, with the SBOM
//! written beside it (NAME.spdx.json or NAME.cdx.json) attached — the push step of every run.

use crate::cli::PushArgs;
use crate::error::Result;
use crate::registry::push::Remote;
use crate::report::Reporter;
use crate::sbom::Format;

/// Runs `push`.
pub fn run(args: PushArgs, rep: &Reporter) -> Result<()> {
    let target = Remote::parse(&args.reference)?;
    // The SBOM staticize wrote beside the archive goes with it, as `--push` sends it.
    let beside = [Format::Spdx, Format::CycloneDx]
        .into_iter()
        .find(|f| crate::sbom::path_beside(&args.image, *f).is_file())
        .filter(|_| !args.no_sbom);
    let pushed = crate::pipeline::push_archive(&args.image, &target, beside, args.sign.as_deref(), rep)?;
    rep.line(format!("{}@{}", pushed.reference, pushed.digest));
    rep.json(&pushed);
    Ok(())
}
