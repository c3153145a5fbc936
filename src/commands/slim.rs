//! `staticize slim IMAGE`: placeholder replaced below.
use crate::cli::SlimArgs;
use crate::error::Result;
use crate::report::Reporter;

/// Runs `slim`.
pub fn run(_args: SlimArgs, _rep: &Reporter) -> Result<()> {
    todo!()
}
