//! `staticize verify REF --key PUB`: the image's signature and signed provenance, checked.

use crate::cli::VerifyArgs;
use crate::error::Result;
use crate::registry::push::Remote;
use crate::report::Reporter;
use crate::sign::key::PublicKey;

/// Runs `verify`.
pub fn run(args: VerifyArgs, rep: &Reporter) -> Result<()> {
    let target = Remote::parse(&args.reference)?;
    let key = PublicKey::read(&args.key)?;
    let v = crate::sign::verify::verify(&target, &key)?;
    let n = v.signatures;
    rep.step(
        "signature",
        format!("{}@{}: {n} signature{} verified", v.reference, v.digest, if n == 1 { "" } else { "s" }),
    );
    rep.step("provenance", format!("SLSA v1 provenance signed, its subject is {} (built by: {})", v.digest, v.command));
    rep.line(format!("verified {}@{}", v.reference, v.digest));
    rep.json(&v);
    Ok(())
}
