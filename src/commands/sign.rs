//! `staticize sign REF|ARCHIVE --key KEY [--provenance FILE]`: signs an image already in a
//! registry, or the provenance of an archive on disk.

use std::path::Path;

use crate::cli::SignArgs;
use crate::error::Result;
use crate::registry::push::Remote;
use crate::report::Reporter;

/// Runs `sign`.
pub fn run(args: SignArgs, rep: &Reporter) -> Result<()> {
    let archive = Path::new(&args.reference);
    if super::options::is_archive(&args.reference)? {
        let path = crate::sign::local::sign_archive_beside(archive, &args.key, args.provenance.as_deref())?;
        rep.step("sign", format!("{} (the provenance of {} signed)", path.display(), archive.display()));
        rep.json(&serde_json::json!({ "archive": archive, "signed": path }));
        return Ok(());
    }
    let target = Remote::parse(&args.reference)?;
    let signed = crate::sign::sign_reference(&target, &args.key, args.provenance.as_deref())?;
    rep.step("sign", format!("{target}@{} signed ({})", signed.digest, signed.signature));
    if let Some(att) = &signed.attestation {
        rep.step("provenance", format!("attested as {att}"));
    }
    rep.json(&signed);
    Ok(())
}
