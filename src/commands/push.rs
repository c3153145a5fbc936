//! `staticize push IMAGE REF`: an archive already on disk → a registry.

use crate::cli::PushArgs;
use crate::error::Result;
use crate::image::push::{self, Target};
use crate::image::read::Archive;
use crate::pipeline::destination::refuse_problems;
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
