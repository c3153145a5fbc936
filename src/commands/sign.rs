//! `staticize sign REF --key KEY [--provenance FILE]`: signs an image already in a registry.

use crate::cli::SignArgs;
use crate::error::Result;
use crate::registry::push::Remote;
use crate::report::Reporter;

/// Runs `sign`.
pub fn run(args: SignArgs, rep: &Reporter) -> Result<()> {
    let target = Remote::parse(&args.reference)?;
    let signed = crate::sign::sign_reference(&target, &args.key, args.provenance.as_deref())?;
    rep.step("sign", format!("{target}@{} signed ({})", signed.digest, signed.signature));
    if let Some(att) = &signed.attestation {
        rep.step("provenance", format!("attested as {att}"));
    }
    rep.json(&signed);
    Ok(())
}
