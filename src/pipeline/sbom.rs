//! The SBOM stage of the tail every run shares: after the image is delivered, what it
//! contains — every program's build info, crates, sources, npm packages and the Debian
//! packages of its closure and of every other file in the image that a package owns; for `squash` the image's own packages, for `slim` those of the
//! files it kept — is written beside the archive as SPDX or CycloneDX JSON, and attached to
//! the image when it is pushed.

use std::path::Path;

use super::destination::Checked;
use super::job::{Job, Judged, PackedProgram, Programs};
use crate::error::Result;
use crate::image::Written;
use crate::registry::push::Remote;
use crate::report::{Reporter, short_digest};
use crate::sbom::collect::{self, Subject};
use crate::sbom::{Format, Sbom};
use crate::slim::sbom::SlimSbom;

/// What the SBOM describes.
pub(super) enum SbomOf<'a> {
    /// The programs of the run (and, for a packed file, what it carries).
    Programs {
        /// Every program.
        programs: &'a [Judged],
        /// What packing made.
        packed: Option<&'a PackedProgram>,
    },
    /// The written image's own package records (`squash`).
    Image,
    /// What `slim` found of the image's packages; None: nothing collected.
    Slim(Option<&'a SlimSbom>),
}

/// Writes `NAME.spdx.json` (or `.cdx.json`) beside the archive, unless the job asks for none;
/// returns what was collected (the provenance lists it even when no SBOM is written).
pub(super) fn write(job: &Job, of: &SbomOf, written: &Written, rep: &Reporter) -> Result<Option<Sbom>> {
    let sbom = match (collect(job, of, written), job.delivery.sbom) {
        (Ok(sbom), _) => sbom,
        (Err(e), Some(_)) => return Err(e),
        // With --no-sbom the collection only feeds the provenance: a failure is said, not fatal.
        (Err(e), None) => {
            rep.warn(format!("the provenance lists no packages: collecting them failed: {e}"));
            return Ok(None);
        }
    };
    let Some(sbom) = sbom else { return Ok(None) };
    if let Some(format) = job.delivery.sbom {
        let path = crate::sbom::write_beside(&sbom, format, &written.path)?;
        rep.step("sbom", format!("{} ({} packages)", path.display(), sbom.packages.len()));
    }
    Ok(Some(sbom))
}

/// What the output contains; None: nothing was collected (`slim` found nothing).
fn collect(job: &Job, of: &SbomOf, written: &Written) -> Result<Option<Sbom>> {
    let sbom = match of {
        SbomOf::Programs { programs, packed } => of_programs(job, programs, *packed, written)?,
        SbomOf::Image => {
            let archive = crate::image::read::Archive::open(&written.path)?;
            crate::sbom::image::sbom_of(&archive, &written.reference, &written.manifest_digest)?
        }
        SbomOf::Slim(None) => return Ok(None),
        SbomOf::Slim(Some(found)) => found.sbom(&written.reference, &written.manifest_digest)?,
    };
    Ok(Some(sbom))
}

fn of_programs(job: &Job, programs: &[Judged], packed: Option<&PackedProgram>, written: &Written) -> Result<Sbom> {
    let inputs: &[std::path::PathBuf] = match &job.programs {
        Programs::Build { inputs, .. } | Programs::Made { inputs, .. } => inputs,
        _ => &[],
    };
    let given = matches!(job.programs, Programs::Given(_));
    let subjects: Vec<Subject> = programs
        .iter()
        .map(|p| Subject {
            name: &job.name,
            // On a shared runtime the image holds the program's script, not the executable.
            elf: p.on_runtime().map_or(p.elf.as_path(), |(_, on)| on.main.as_path()),
            program_path: &p.program_path,
            artifact: p.artifact.as_ref(),
            inputs,
            npm_dirs: p.artifact.as_ref().map(|a| a.package_dirs.as_slice()).unwrap_or_default(),
            closure: p.closure.as_ref(),
            // A program taken from this machine may itself come from a Debian package (for a
            // packed file: the program packed).
            host_program: match packed {
                Some(inside) => Some(inside.program.as_path()),
                None => given.then_some(p.elf.as_path()),
            },
            runtime: p.on_runtime().map(|(path, on)| (on.runtime.as_path(), path)),
        })
        .collect();
    let mut sbom = collect::sbom(&job.name, &written.manifest_digest, &subjects)?;
    // Every other step that put a package's file in the image (the standard library, package
    // files, traced files, plugin directories, --with) is seen in the image itself.
    let root = programs
        .iter()
        .find_map(|p| p.closure.as_ref().filter(|c| c.is_dynamic()))
        .map_or_else(|| std::path::PathBuf::from("/"), crate::sbom::debian::closure_root);
    crate::sbom::contents::declare(&mut sbom, &written.path, &root)?;
    Ok(sbom)
}

/// After a push: the SBOM goes to the registry as an artifact whose subject is the image.
pub(super) fn attach(format: Option<Format>, written: &Written, dest: &Checked, rep: &Reporter) -> Result<()> {
    let (Some(format), Some((target, _))) = (format, &dest.push) else { return Ok(()) };
    attach_beside(&written.path, format, target, rep)
}

/// Attaches the SBOM written beside the archive at `archive_path` (in `format`) to the image
/// that archive's push put at `target`: an OCI referrer, else the `sha256-<digest>.sbom` tag.
pub(super) fn attach_beside(archive_path: &Path, format: Format, target: &Remote, rep: &Reporter) -> Result<()> {
    let path = crate::sbom::path_beside(archive_path, format);
    let bytes = std::fs::read(&path).map_err(|e| crate::error::Error::io("read the SBOM", &path, e))?;
    let archive = crate::image::read::Archive::open(archive_path)?;
    let a = crate::registry::push::attach(&archive, target, format.media_type(), &bytes, "sbom")?;
    let how = match &a.tag {
        Some(tag) => format!("as the tag {tag} (the registry has no referrers API)"),
        None => "as an OCI referrer".to_string(),
    };
    rep.step("sbom", format!("attached {} ({}) to {target} {how}", short_digest(&a.digest), path.display()));
    Ok(())
}
