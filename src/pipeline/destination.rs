//! Where an image goes: the archive, an OCI layout directory, a container engine, a registry.
//! One list, checked before anything is built ([`check`]) and run after ([`deliver`], then
//! [`push`] once every local output is written, so a registry problem never costs the build).

use std::path::{Path, PathBuf};

use super::load;
use crate::error::{Error, Result};
use crate::image::archive::Assembled;
use crate::image::{Compression, ImagePlan, Written, archive};
use crate::output;
use crate::registry::push::Remote;
use crate::remote_cache::Settings as CacheSettings;
use crate::report::{Reporter, human_size, short_digest};

/// One place an image is delivered to.
#[derive(Debug, Clone)]
pub enum Destination {
    /// The single-file archive (docker and podman load it); always first when an image is made.
    Archive(PathBuf),
    /// An OCI layout directory (`--oci-dir`).
    OciDir(PathBuf),
    /// A container engine to load into (`--load`: "auto", "docker", "podman").
    Load(String),
    /// A registry (`--push REF`), with the reference as typed for messages.
    Push(Remote, String),
    /// The tests' stand-in for an engine or a registry: it records what it was given.
    #[cfg(test)]
    Fake(std::sync::Arc<super::tests::FakeDestination>),
}

/// The destinations after their checks: engines chosen, paths known.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// The archive.
    pub tar: PathBuf,
    /// An OCI layout directory.
    pub oci_dir: Option<PathBuf>,
    /// The engine to load into.
    pub load: Option<load::Engine>,
    /// The registry to push to, and the reference as typed.
    pub push: Option<(Remote, String)>,
    /// The tests' stand-ins, delivered to after the load.
    #[cfg(test)]
    pub fakes: Vec<std::sync::Arc<super::tests::FakeDestination>>,
}

/// Refuses destinations that cannot be reached, before a compiler runs or a file is written.
/// None when there is no archive (no image).
pub(crate) fn check(dests: &[Destination], compression: Compression) -> Result<Option<Checked>> {
    let Some(tar) = dests.iter().find_map(|d| match d {
        Destination::Archive(p) => Some(p.clone()),
        _ => None,
    }) else {
        return Ok(None);
    };
    output::ensure_writable(&tar)?;
    let mut checked = Checked {
        tar,
        oci_dir: None,
        load: None,
        push: None,
        #[cfg(test)]
        fakes: Vec::new(),
    };
    for d in dests {
        match d {
            Destination::Archive(_) => {}
            Destination::OciDir(dir) => {
                archive::check_oci_dest(dir)?;
                // The layout is built beside DIR and renamed: its parent must take a new directory.
                let parent = output::parent_dir(dir);
                output::temp_dir_in(parent, "staticize-oci").map(drop)?;
                checked.oci_dir = Some(dir.clone());
            }
            Destination::Load(requested) => {
                let engine = load::choose(requested)?;
                load::check_compatible(&engine, compression)?;
                checked.load = Some(engine);
            }
            Destination::Push(t, text) => checked.push = Some((t.clone(), text.clone())),
            #[cfg(test)]
            Destination::Fake(f) => {
                f.check()?;
                checked.fakes.push(f.clone());
            }
        }
    }
    Ok(Some(checked))
}

/// Writes the archive (its layers through the blob cache and the cache registry of `cache`),
/// then the OCI directory and the load, reporting each.
pub(crate) fn deliver(plan: &ImagePlan, dest: &Checked, cache: &CacheSettings, rep: &Reporter) -> Result<Written> {
    // Compressing ~100 MB (a Node executable) takes a while: a spinner on a terminal.
    let spinner = crate::progress::Progress::start(rep, format!("compressing the image ({})", plan.compression.name()));
    let tier = crate::remote_cache::blobs::Tier::new(cache, rep);
    let remote = tier.as_ref().map(|t| t as &dyn crate::image::blobcache::Remote);
    let assembled = archive::assemble_beside(plan, &dest.tar, remote)?;
    let written = archive::write_tar(&assembled, &dest.tar)?;
    drop(spinner);
    report_written(plan, &written, rep);
    if plan.compression == Compression::Zstd && dest.load.is_none() {
        rep.step(
            "note",
            "zstd layers: podman and docker 23.0+ load this archive; docker 20.10 cannot (use --compress gzip for it)",
        );
    }
    deliver_rest(&assembled, written, dest, rep)
}

/// Delivers an image assembled from an existing image's layers (`squash`) to the same
/// destinations, reporting each.
pub(crate) fn deliver_assembled(a: &Assembled, dest: &Checked, rep: &Reporter) -> Result<Written> {
    let written = archive::write_tar(a, &dest.tar)?;
    let layers: u64 = written.layers.iter().map(|l| l.size).sum();
    let n = written.layers.len();
    rep.step(
        "image",
        format!(
            "{} ({}; {n} layer{}, {} compressed) {} {}",
            written.path.display(),
            human_size(written.bytes),
            if n == 1 { "" } else { "s" },
            human_size(layers),
            written.reference,
            short_digest(&written.manifest_digest)
        ),
    );
    deliver_rest(a, written, dest, rep)
}

/// The OCI directory and the load, after the archive.
fn deliver_rest(a: &Assembled, mut written: Written, dest: &Checked, rep: &Reporter) -> Result<Written> {
    if let Some(dir) = &dest.oci_dir {
        archive::write_oci_dir(a, dir)?;
        rep.step("oci-dir", format!("{} (OCI layout: skopeo inspect oci:{})", dir.display(), dir.display()));
        written.oci_dir = Some(dir.clone());
    }
    if let Some(engine) = &dest.load {
        let spinner = crate::progress::Progress::start(rep, format!("loading into {}", engine.name()));
        let said = load::load(engine, &dest.tar)?;
        drop(spinner);
        rep.step("load", format!("{} {}: {said}", engine.name(), engine.version()));
        written.loaded_into = Some(engine.name().to_string());
    }
    #[cfg(test)]
    for f in &dest.fakes {
        f.deliver(&written);
    }
    Ok(written)
}

fn report_written(plan: &ImagePlan, written: &Written, rep: &Reporter) {
    let layer: u64 = written.layers.iter().map(|l| l.size).sum();
    let raw: u64 = written.layers.iter().map(|l| l.uncompressed_size).sum();
    let platforms = if plan.images.len() > 1 {
        format!(" [{}]", plan.images.iter().map(|i| i.platform.to_string()).collect::<Vec<_>>().join(", "))
    } else {
        String::new()
    };
    // One platform's layer count: "layer" as always for one, "3 layers" for more.
    let per_image = written.layers.len() / plan.images.len().max(1);
    let layers = if per_image > 1 { format!("{per_image} layers") } else { "layer".to_string() };
    rep.step(
        "image",
        format!(
            "{} ({}; {layers} {} {}, {} tar) {} {}{platforms}",
            written.path.display(),
            human_size(written.bytes),
            human_size(layer),
            plan.compression.name(),
            human_size(raw),
            written.reference,
            short_digest(&written.manifest_digest)
        ),
    );
}

/// Sends the written archive to the registry, when one was asked for.
pub(crate) fn push(written: &Written, dest: &Checked, rep: &Reporter) -> Result<()> {
    let Some((target, text)) = &dest.push else { return Ok(()) };
    let archive = crate::image::read::Archive::open(&written.path)?;
    refuse_problems(&archive)?;
    crate::registry::push::push(&archive, target, rep).map_err(|e| match e {
        Error::Registry { registry, message, help } => Error::Registry {
            registry,
            message: format!("{message} (the image is written: {})", written.path.display()),
            help: help.map(|h| format!("{h}; then: staticize push {} {}", shell_path(&written.path), text)),
        },
        other => other,
    })?;
    Ok(())
}

/// An archive with unsafe names or mismatched digests is not sent anywhere.
pub(crate) fn refuse_problems(archive: &crate::image::read::Archive) -> Result<()> {
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

/// Prints how to load and run a written image.
pub(crate) fn report_run_hint(written: &Written, rep: &Reporter) {
    let file = shell_path(&written.path);
    rep.step("run", format!("docker load -i {file} && docker run --rm {}", written.reference));
    rep.step("", format!("podman load -i {file} && podman run --rm {}", written.reference));
}

fn shell_path(p: &Path) -> String {
    crate::process::shell_quote(&p.display().to_string())
}

/// `<binary>.tar` beside the binary.
pub(crate) fn default_image_path(binary_out: &Path) -> PathBuf {
    let mut s = binary_out.as_os_str().to_owned();
    s.push(".tar");
    PathBuf::from(s)
}
