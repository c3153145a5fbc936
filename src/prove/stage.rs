//! The proof as a stage of every image-writing command: after the output is written, run it
//! (the image archive, or the executable alone when no image is written) unless `--no-probe`,
//! print the verdict, and turn a failed one into the run's failed verdict (exit 1; the output
//! stays written, as a dynamic verdict leaves the binary).

use std::path::Path;

use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::prove::{Ending, Proof, ProofRequest, prove_platforms, prove_root, spec};
use crate::report::Reporter;

/// The step line of a run that was skipped.
const SKIPPED: &str =
    "not run (--no-probe, or skip = true in its [probe.NAME] table): the verdict is the closure check's alone";

/// Proves the image archive at `archive`; None when the proof is off (`--no-probe`, `skip = true`).
pub(crate) fn prove_image(archive: &Path, req: Option<&ProofRequest>, rep: &Reporter) -> Result<Option<Proof>> {
    let Some(req) = req else {
        rep.step("proof", SKIPPED);
        return Ok(None);
    };
    let key = super::memo::key(archive, req);
    let kept = key.as_deref().and_then(super::memo::get);
    if kept.is_some() {
        rep.step(
            "proof",
            format!("this very image passed before: its verdict is kept ({}=0 runs it again)", super::memo::ENV),
        );
    }
    let proofs = match kept {
        Some(proofs) => proofs,
        None => without_tools_each(prove_platforms(archive, req), req)?,
    };
    if let Some(key) = &key {
        super::memo::put(key, &proofs);
    }
    for (_, p) in &proofs {
        report(p, rep);
    }
    Ok(Some(super::verdict_of(proofs)))
}

/// The default run (no arguments, no port asked for) of a machine without bubblewrap or
/// strace: "not proven", naming the tool, rather than a failed build; a run the user asked
/// for fails with the tool's install hint.
fn without_tools(result: Result<Proof>, req: &ProofRequest) -> Result<Proof> {
    match result {
        Err(Error::ToolMissing { tool, hint }) if req.args.is_none() && req.port.is_none() => {
            Ok(super::not_run(&[], format!("{tool} not found — {hint}; or skip the run with --no-probe")))
        }
        other => other,
    }
}

/// [`without_tools`] for the proofs of every platform of an archive.
fn without_tools_each(result: Result<Vec<(String, Proof)>>, req: &ProofRequest) -> Result<Vec<(String, Proof)>> {
    match result {
        Ok(v) => Ok(v),
        Err(e) => Ok(vec![(Arch::host().name().to_string(), without_tools(Err(e), req)?)]),
    }
}

/// Proves one executable on its own (a build without an image): copied alone into an empty
/// root at /NAME and run there, as the scratch image would hold it.
pub(crate) fn prove_binary(
    binary: &Path,
    arch: Arch,
    name: &str,
    req: Option<&ProofRequest>,
    rep: &Reporter,
) -> Result<Option<Proof>> {
    let Some(req) = req else {
        rep.step("proof", SKIPPED);
        return Ok(None);
    };
    let inside = format!("/{name}");
    let tmp = tempfile::Builder::new()
        .prefix("staticize-prove-")
        .tempdir()
        .map_err(|e| Error::io("create a temporary directory in", std::env::temp_dir(), e))?;
    let copy = tmp.path().join(name);
    std::fs::copy(binary, &copy).map_err(|e| Error::io("copy the executable to prove", binary, e))?;
    let config = spec::Config { entrypoint: vec![inside.clone()], command: vec![inside], ..Default::default() };
    let proof = without_tools(prove_root(tmp.path(), arch, &config, req, super::sandbox::RootMode::PrivateCopy), req)?;
    report(&proof, rep);
    Ok(Some(proof))
}

/// The failed verdict for a failed proof, with one help line per flag that carries what it lacked.
pub(crate) fn failure(proof: &Proof) -> Option<Error> {
    if proof.ok {
        return None;
    }
    Some(Error::Verdict { message: format!("the proof run {}", proof.verdict), help: Some(help(proof)) })
}

/// What fixes a failed proof: the flags that carry what it lacked, else where to look.
pub(crate) fn help(proof: &Proof) -> String {
    let mut flags: Vec<String> = Vec::new();
    for m in proof.missing.iter().filter(|m| !m.optional) {
        if !flags.contains(&m.flag) {
            flags.push(m.flag.clone());
        }
    }
    if !flags.is_empty() {
        return format!("carry what it looked for: {} (or skip the run with --no-probe)", flags.join(", "));
    }
    match &proof.ending {
        Ending::Signal { .. } => "the program crashed in its own root: run it there (docker run) to see why".into(),
        Ending::Running { .. } => {
            "it stayed up but did not answer: check --probe-port, or the port it listens on".into()
        }
        _ => "the output does not run in its own files: see the lines above (or skip the run with --no-probe)".into(),
    }
}

/// The verdict line, the files it looked for that the image lacks, and the tail of what it
/// wrote to stderr when it failed.
pub(crate) fn lines(proof: &Proof) -> Vec<String> {
    let mut out = vec![proof.verdict.clone()];
    for m in &proof.missing {
        let owner = m.package.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
        let what = if m.optional { ", its optional configuration," } else { "" };
        out.push(format!("  looked for {}{owner}{what} which the image lacks: carry it with {}", m.path, m.flag));
    }
    if !proof.ok && !proof.stderr.is_empty() {
        out.push("  its stderr ended with:".into());
        out.extend(proof.stderr.lines().map(|l| format!("    {l}")));
    }
    out
}

/// Prints the proof: its verdict line, then what it looked for and lacked.
pub(crate) fn report(proof: &Proof, rep: &Reporter) {
    let mut lines = lines(proof).into_iter();
    let verb = match (&proof.ending, proof.ok) {
        (Ending::NotRun { .. }, _) => "proof",
        (_, true) => "proved",
        (_, false) => "FAILED",
    };
    if let Some(first) = lines.next() {
        rep.step(verb, first);
    }
    for l in lines {
        if proof.ok {
            rep.warn(l.trim_start());
        } else {
            rep.step("", l);
        }
    }
}
