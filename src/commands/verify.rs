//! `staticize verify REF|ARCHIVE --key PUB [--rebuild]`: the image's signature and signed
//! provenance checked, and with `--rebuild` the build it records run again and compared.

use std::path::Path;

use crate::cli::VerifyArgs;
use crate::error::{Error, Result};
use crate::registry::push::Remote;
use crate::report::Reporter;
use crate::sign::key::PublicKey;

/// Runs `verify`.
pub fn run(args: VerifyArgs, rep: &Reporter) -> Result<()> {
    let key = PublicKey::read(&args.key)?;
    let archive = Path::new(&args.reference);
    let v = if super::options::is_archive(&args.reference)? {
        let v = crate::sign::local::verify_archive(archive, &key)?;
        rep.step("signature", format!("{}: the signed provenance verifies", v.reference));
        v
    } else {
        let v = crate::sign::verify::verify(&Remote::parse(&args.reference)?, &key)?;
        let n = v.signatures;
        rep.step(
            "signature",
            format!("{}@{}: {n} signature{} verified", v.reference, v.digest, if n == 1 { "" } else { "s" }),
        );
        v
    };
    rep.step("provenance", format!("SLSA v1 provenance signed, its subject is {} (built by: {})", v.digest, v.command));
    let rebuilt = if args.rebuild { Some(rebuild(&v.statement, &args.source, rep)?) } else { None };
    rep.line(format!(
        "verified {}@{}{}",
        v.reference,
        v.digest,
        if rebuilt.is_some() { ", rebuilt the same" } else { "" }
    ));
    rep.json(&serde_json::json!({ "verified": v, "rebuild": rebuilt }));
    Ok(())
}

/// Rebuilds from the verified statement; a different digest is a failed verdict.
fn rebuild(statement: &[u8], source: &Path, rep: &Reporter) -> Result<crate::provenance::rebuild::Rebuilt> {
    rep.step("rebuild", format!("from the provenance, sources in {}", source.display()));
    let r = crate::provenance::rebuild::rebuild(statement, source)?;
    if let Some(other) = &r.other_version {
        rep.warn(format!("the provenance was made by staticize {other}; this is {}", env!("CARGO_PKG_VERSION")));
    }
    rep.step("rebuild", format!("{} (source files checked by digest: {})", r.command, r.sources_checked));
    if !r.same() {
        return Err(Error::Verdict {
            message: format!("the rebuild gave {}, the provenance names {}: not reproduced", r.rebuilt, r.subject),
            help: Some(
                "rebuild with the same staticize, compilers and SOURCE_DATE_EPOCH as the provenance records".into(),
            ),
        });
    }
    rep.step("rebuild", format!("same digest: {}", r.rebuilt));
    Ok(r)
}
