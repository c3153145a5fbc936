//! The SBOM stage: after the image is delivered, what it contains (every program's build info,
//! crates, sources, npm packages and the Debian packages of its closure) is written beside
//! the archive as SPDX or CycloneDX JSON, and attached to the image when it is pushed.

use std::path::{Path, PathBuf};

use super::destination::Checked;
use super::{Job, Program, Programs};
use crate::error::Result;
use crate::image::Written;
use crate::registry::push::Remote;
use crate::report::{Reporter, short_digest};
use crate::sbom::collect::{self, Subject};
use crate::sbom::{Format, Sbom};

/// Writes `NAME.spdx.json` (or `.cdx.json`) beside the archive, unless the job asks for none.
pub(super) fn write(job: &Job, programs: &[Program], written: &Written, rep: &Reporter) -> Result<Option<PathBuf>> {
    let Some(format) = job.settings.sbom else { return Ok(None) };
    let inputs: &[PathBuf] = match &job.programs {
        Programs::Build { inputs, .. } => inputs,
        Programs::Prebuilt(_) => &[],
    };
    let prebuilt = matches!(job.programs, Programs::Prebuilt(_));
    let subjects: Vec<Subject> = programs
        .iter()
        .map(|p| Subject {
            name: &job.name,
            elf: &p.elf,
            program_path: &p.program_path,
            artifact: p.artifact.as_ref(),
            inputs,
            npm_dirs: p.artifact.as_ref().map(|a| a.package_dirs.as_slice()).unwrap_or_default(),
            closure: p.closure.as_ref(),
            // A program taken from this machine may itself come from a Debian package (for a
            // packed file: the program packed).
            host_program: match &job.dynamic {
                super::Dynamic::Packed(inside) => Some(inside.program.as_path()),
                _ => prebuilt.then_some(p.elf.as_path()),
            },
        })
        .collect();
    let sbom = collect::sbom(&job.name, &written.manifest_digest, &subjects)?;
    write_for(&sbom, format, written, rep).map(Some)
}

/// After a push: the SBOM goes to the registry as an artifact whose subject is the image.
pub(super) fn attach(job: &Job, written: &Written, dest: &Checked, rep: &Reporter) -> Result<()> {
    let (Some(format), Some((target, _))) = (job.settings.sbom, &dest.push) else { return Ok(()) };
    attach_beside(&written.path, format, target, rep)
}

/// Attaches the SBOM written beside the archive at `archive_path` (in `format`) to the image
/// that archive's push put at `target`: an OCI referrer, else the `sha256-<digest>.sbom` tag.
pub(crate) fn attach_beside(archive_path: &Path, format: Format, target: &Remote, rep: &Reporter) -> Result<()> {
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

/// For a command that did not run the pipeline (`squash`, `slim`): writes `sbom` beside the
/// delivered archive, reports it, and returns its path.
pub(crate) fn write_for(sbom: &Sbom, format: Format, written: &Written, rep: &Reporter) -> Result<PathBuf> {
    let path = crate::sbom::write_beside(sbom, format, &written.path)?;
    rep.step("sbom", format!("{} ({} packages)", path.display(), sbom.packages.len()));
    Ok(path)
}
