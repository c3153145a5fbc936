//! `staticize push IMAGE REF`: an archive already on disk → a registry.

use crate::cli::PushArgs;
use crate::error::{Error, Result};
use crate::image::push::{self, Target};
use crate::image::read::Archive;
use crate::report::Reporter;

/// Runs `push`.
pub fn run(args: PushArgs, rep: &Reporter) -> Result<()> {
    let target = Target::parse(&args.reference)?;
    let archive = Archive::open(&args.image)?;
    refuse_problems(&archive)?;
    let pushed = push::push(&archive, &target, rep)?;
    rep.line(format!("{}@{}", pushed.reference, pushed.digest));
    rep.json(&pushed);
    Ok(())
}

/// An archive with unsafe names or mismatched digests is not sent anywhere.
pub fn refuse_problems(archive: &Archive) -> Result<()> {
    match archive.problems.first() {
        None => Ok(()),
        Some(p) => Err(Error::input(
            &archive.path,
            format!(
                "{} problem(s) in the archive (first: {}: {}); not pushed",
                archive.problems.len(),
                p.place,
                p.message
            ),
            Some(format!("see them all with: staticize inspect {}", archive.path.display())),
        )),
    }
}
