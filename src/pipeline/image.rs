//! The image of programs: each at its planned path, the `--with` extras and `--add` files, the
//! run configuration. The one place an [`ImagePlan`] is built from programs: a static program
//! needs nothing else; a dynamic one gets its closure on top (see [`super::carry`]); `squash`
//! and `slim` bring their own from the image they read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::job::Delivery;
use crate::error::{Error, Result};
use crate::image::layering::Part;
use crate::image::options::{ImageSettings, User};
use crate::image::rootfs::{Entry, MODE_EXEC};
use crate::image::spec::{EmptyObject, Platform, RunConfig};
use crate::image::{ImagePlan, PlatformImage, Rootfs, Source, add, extras};
use crate::reference::ImageRef;
use crate::report::human_size;

/// What every image of a run shares: its name, what made it, how it is delivered.
pub(crate) struct Frame<'a> {
    /// The name it is tagged with.
    pub reference: ImageRef,
    /// For the image history.
    pub created_by: &'a str,
    /// Compression.
    pub delivery: &'a Delivery,
}

impl Frame<'_> {
    /// An empty plan of this run's image; platforms are added with [`add_image`].
    pub(crate) fn empty(&self) -> Result<ImagePlan> {
        Ok(ImagePlan {
            reference: self.reference.clone(),
            images: Vec::new(),
            compression: self.delivery.compression,
            epoch: crate::epoch::source_date_epoch()?,
            layering: self.delivery.layering,
        })
    }
}

/// Adds one platform's image, keeping platforms sorted (the same images in any flag order
/// give the same index).
pub(crate) fn add_image(plan: &mut ImagePlan, image: PlatformImage) {
    plan.images.push(image);
    plan.images.sort_by(|a, b| a.platform.cmp(&b.platform));
}

/// One platform's image of one program at `path`, every image setting applied; also returns
/// one line per extra and --add for the report.
pub(crate) fn program_image(
    binary: &Path,
    platform: &Platform,
    path: &str,
    s: &ImageSettings,
    created_by: &str,
) -> Result<(PlatformImage, Vec<String>)> {
    let (rootfs, config, lines, extras) = platform_image(binary, platform, path, s)?;
    let parts = extras.into_iter().collect();
    Ok((PlatformImage { platform: platform.clone(), rootfs, config, created_by: created_by.to_string(), parts }, lines))
}

/// The image of static programs, one per platform, each at `path`; the extras' lines of the
/// first.
pub(crate) fn static_image(
    programs: &[(Platform, PathBuf)],
    path: &str,
    s: &ImageSettings,
    frame: &Frame,
) -> Result<(ImagePlan, Vec<String>)> {
    let mut plan = frame.empty()?;
    let mut notes = Vec::new();
    for (platform, binary) in programs {
        let (image, lines) = program_image(binary, platform, path, s, frame.created_by)?;
        if notes.is_empty() {
            notes = lines;
        }
        add_image(&mut plan, image);
    }
    Ok((plan, notes))
}

/// The files and run configuration of one platform's image, and the layer of its extras.
fn platform_image(
    binary: &Path,
    platform: &Platform,
    path: &str,
    s: &ImageSettings,
) -> Result<(Rootfs, RunConfig, Vec<String>, Option<Part>)> {
    let mut rootfs = Rootfs::new();
    let (mut env, mut notes) = extras::add_extras(&mut rootfs, &s.extras, platform)?;
    let extras = rootfs.clone();
    for a in &s.adds {
        let n = add::add(&mut rootfs, a)?;
        notes.push(format!(
            "add: {} → {} ({} files, {} links, {} directories, {})",
            a.src.display(),
            a.dest,
            n.files,
            n.links,
            n.dirs,
            human_size(n.bytes)
        ));
    }
    if let Some(w) = s.workdir.as_deref().filter(|w| *w != "/") {
        rootfs.add_dir(w, MODE_EXEC)?;
    }
    if rootfs.get(path).is_some() {
        return Err(Error::usage(
            format!("the program goes to {path}, but --add or --with already put something there"),
            "choose another place for the program with --path, or another DEST for --add",
        ));
    }
    rootfs.add_file(path, Source::Host(binary.to_path_buf()), MODE_EXEC)?;
    if let Some(User::Name(name)) = &s.user {
        check_user_name(name, &rootfs, s.extras.passwd)?;
    }
    for (k, v) in &s.env {
        match env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    let extras = super::layers::extras_part(&extras, &rootfs);
    Ok((rootfs, run_config(path, env, s), notes, extras))
}

fn run_config(path: &str, env: Vec<(String, String)>, s: &ImageSettings) -> RunConfig {
    RunConfig {
        entrypoint: match &s.entrypoint {
            None => Some(vec![path.to_string()]),
            Some(e) if e.is_empty() => None,
            Some(e) => Some(e.clone()),
        },
        cmd: s.cmd.clone(),
        env: (!env.is_empty()).then(|| env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: s.workdir.clone(),
        user: s.user.as_ref().map(|u| u.as_str().to_string()),
        exposed_ports: (!s.exposed.is_empty())
            .then(|| s.exposed.iter().map(|p| (p.clone(), EmptyObject {})).collect::<BTreeMap<_, _>>()),
        labels: (!s.labels.is_empty()).then(|| s.labels.clone()),
        stop_signal: s.stop_signal.clone(),
    }
}

/// A user name only resolves with /etc/passwd in the image; `--with passwd` knows two names.
fn check_user_name(user: &str, rootfs: &Rootfs, ours: bool) -> Result<()> {
    let name = user.split(':').next().unwrap_or(user);
    let numeric = name.bytes().all(|b| b.is_ascii_digit());
    if rootfs.get("/etc/passwd").is_none() {
        return Err(Error::usage(
            format!("--user {user} names a user, but the image has no /etc/passwd to look it up in"),
            "add --with passwd (it provides root and nonroot), or give numbers: --user 65532:65532",
        ));
    }
    let passwd_is_ours =
        ours && matches!(rootfs.get("/etc/passwd"), Some(Entry::File { source: Source::Bytes(_), .. }));
    if passwd_is_ours && !numeric && name != "root" && name != "nonroot" {
        return Err(Error::usage(
            format!("--user {user}: --with passwd only knows root and nonroot"),
            "use --user nonroot, a numeric --user UID[:GID], or --add your own passwd file: --add ./passwd:/etc/passwd",
        ));
    }
    Ok(())
}
