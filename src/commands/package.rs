//! The shared last steps of every command that makes an image: a static program plus the
//! image options become an ImagePlan, which is written and reported.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use crate::cli::ImageOptions;
use crate::elf::Linkage;
use crate::error::{Error, Result};
use crate::image::options::{ImageSettings, User};
use crate::image::rootfs::{Entry, MODE_EXEC};
use crate::image::spec::{EmptyObject, Platform, RunConfig};
use crate::image::{
    Compression, ImagePlan, ImageRef, PlatformImage, Rootfs, Source, Written, add, archive, extras, load,
};
use crate::output;
use crate::report::{Reporter, human_size, short_digest};

/// The image name: `-t` when given, else derived from the program's name.
pub fn reference(opts: &ImageOptions, program: &str) -> Result<ImageRef> {
    // A bad --push REF is refused here, before anything is compiled or written.
    if let Some(r) = &opts.push {
        crate::image::push::Target::parse(r)?;
    }
    match &opts.tag {
        Some(t) => ImageRef::parse(t),
        None => Ok(ImageRef::for_program(program)),
    }
}

/// The program's path inside the image: `--path` or `/NAME`.
pub fn program_path(opts: &ImageOptions, program: &str) -> Result<String> {
    let p = opts.path.clone().unwrap_or_else(|| format!("/{program}"));
    Ok(format!("/{}", crate::image::rootfs::normalize(&p)?))
}

/// A one-platform plan that runs `binary` as the entrypoint.
pub fn plan_for_binary(
    binary: &Path,
    program: &str,
    linkage: &Linkage,
    opts: &ImageOptions,
    created_by: String,
) -> Result<ImagePlan> {
    let binaries = [(Platform::linux(&linkage.machine), binary.to_path_buf())];
    plan_for_binaries(&binaries, program, opts, created_by).map(|(plan, _)| plan)
}

/// A plan with one image per (platform, static binary), every image option applied; also
/// returns one line per extra and --add for the report.
pub fn plan_for_binaries(
    binaries: &[(Platform, PathBuf)],
    program: &str,
    opts: &ImageOptions,
    created_by: String,
) -> Result<(ImagePlan, Vec<String>)> {
    let settings = ImageSettings::from_options(opts)?;
    let path = program_path(opts, program)?;
    let mut images = Vec::new();
    let mut notes = Vec::new();
    for (platform, binary) in binaries {
        let (rootfs, config, lines) = platform_image(binary, platform, &path, &settings)?;
        if notes.is_empty() {
            notes = lines;
        }
        images.push(PlatformImage { platform: platform.clone(), rootfs, config, created_by: created_by.clone() });
    }
    // The same images in any flag order give the same index.
    images.sort_by(|a, b| a.platform.cmp(&b.platform));
    let plan = ImagePlan {
        reference: reference(opts, program)?,
        images,
        compression: opts.compress,
        epoch: archive::source_date_epoch()?,
    };
    Ok((plan, notes))
}

/// The files and run configuration of one platform's image.
fn platform_image(
    binary: &Path,
    platform: &Platform,
    path: &str,
    s: &ImageSettings,
) -> Result<(Rootfs, RunConfig, Vec<String>)> {
    let mut rootfs = Rootfs::new();
    let (mut env, mut notes) = extras::add_extras(&mut rootfs, &s.extras, platform)?;
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
    let config = RunConfig {
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
    };
    Ok((rootfs, config, notes))
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

/// Build commands compile for the host: --platform may name it, and nothing else yet.
pub fn check_host_platform(opts: &ImageOptions) -> Result<()> {
    let wanted = crate::image::options::parse_platforms(&opts.platform)?;
    let host = Platform::host();
    match wanted.iter().find(|p| **p != host) {
        None => Ok(()),
        Some(other) => Err(Error::usage(
            format!("--platform {other}: this command builds for the host ({host}) only"),
            format!(
                "build the {other} executable separately (e.g. python3 -m ziglang cc -target aarch64-linux-musl -static …), then combine them: staticize image --binary {host}=./app --binary {other}=./app-{}",
                other.architecture
            ),
        )),
    }
}

/// Where an image goes besides its archive, checked before any work is done.
#[derive(Debug, Clone)]
pub struct Destinations {
    /// The single-file archive (always written).
    pub tar: PathBuf,
    /// An OCI layout directory.
    pub oci_dir: Option<PathBuf>,
    /// The engine to load into.
    pub load: Option<load::Engine>,
}

/// Validates the image options and destinations for an archive at `tar`: every refusal happens
/// here, before a compiler runs or a file is written.
pub fn destinations(opts: &ImageOptions, tar: &Path) -> Result<Destinations> {
    ImageSettings::from_options(opts)?;
    output::ensure_writable(tar)?;
    if let Some(dir) = &opts.oci_dir {
        archive::check_oci_dest(dir)?;
        // The layout is built beside DIR and renamed: its parent must take a new directory.
        let parent = output::parent_dir(dir);
        output::temp_dir_in(parent, "staticize-oci").map(drop)?;
    }
    let load = match &opts.load {
        Some(requested) => {
            let engine = load::choose(requested)?;
            load::check_compatible(&engine, opts.compress)?;
            Some(engine)
        }
        None => None,
    };
    Ok(Destinations { tar: tar.to_path_buf(), oci_dir: opts.oci_dir.clone(), load })
}

/// Writes the archive, then the OCI directory and the load, reporting each.
pub fn deliver(plan: &ImagePlan, dest: &Destinations, rep: &Reporter) -> Result<Written> {
    // Compressing ~100 MB (a Node executable) takes a while: a spinner on a terminal.
    let spinner = crate::progress::Progress::start(rep, format!("compressing the image ({})", plan.compression.name()));
    let assembled = archive::assemble_beside(plan, &dest.tar)?;
    let mut written = archive::write_tar(&assembled, &dest.tar)?;
    drop(spinner);
    report_written(plan, &written, rep);
    if plan.compression == Compression::Zstd && dest.load.is_none() {
        rep.step(
            "note",
            "zstd layers: podman and docker 23.0+ load this archive; docker 20.10 cannot (use --compress gzip for it)",
        );
    }
    if let Some(dir) = &dest.oci_dir {
        archive::write_oci_dir(&assembled, dir)?;
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
    Ok(written)
}

/// Writes the plan and prints the image line.
pub fn write_image(plan: &ImagePlan, dest: &Path, rep: &Reporter) -> Result<Written> {
    let written = archive::write(plan, dest)?;
    report_written(plan, &written, rep);
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
    rep.step(
        "image",
        format!(
            "{} ({}; layer {} {}, {} tar) {} {}{platforms}",
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

/// `--push REF`: sends the written archive to a registry (after every local output is done,
/// so a registry problem never costs the local build).
pub fn push_if_asked(written: &Written, opts: &ImageOptions, rep: &Reporter) -> Result<()> {
    let Some(r) = &opts.push else { return Ok(()) };
    let target = crate::image::push::Target::parse(r)?;
    let archive = crate::image::read::Archive::open(&written.path)?;
    crate::commands::push::refuse_problems(&archive)?;
    crate::image::push::push(&archive, &target, rep).map_err(|e| match e {
        crate::error::Error::Registry { registry, message, help } => crate::error::Error::Registry {
            registry,
            message: format!("{message} (the image is written: {})", written.path.display()),
            help: help.map(|h| format!("{h}; then: staticize push {} {r}", shell_path(&written.path))),
        },
        other => other,
    })?;
    attach_sbom(written, opts, &archive, &target, rep)
}

/// Writes the SBOM of a written image beside it (unless --no-sbom); returns its path.
pub fn write_sbom(
    opts: &ImageOptions,
    written: &Written,
    name: &str,
    programs: &[crate::sbom::collect::Subject],
    rep: &Reporter,
) -> Result<Option<PathBuf>> {
    let Some(format) = opts.sbom() else { return Ok(None) };
    let sbom = crate::sbom::collect::sbom(name, &written.manifest_digest, programs)?;
    let path = crate::sbom::write_beside(&sbom, format, &written.path)?;
    rep.step("sbom", format!("{} ({} packages)", path.display(), sbom.packages.len()));
    Ok(Some(path))
}

/// After a push: the SBOM written beside the image goes to the registry with it.
fn attach_sbom(
    written: &Written,
    opts: &ImageOptions,
    archive: &crate::image::read::Archive,
    target: &crate::image::push::Target,
    rep: &Reporter,
) -> Result<()> {
    let Some(format) = opts.sbom() else { return Ok(()) };
    let path = crate::sbom::path_beside(&written.path, format);
    let Ok(bytes) = std::fs::read(&path) else { return Ok(()) };
    let a = crate::image::push::attach(archive, target, format.media_type(), &bytes, "sbom")?;
    let how = match &a.tag {
        Some(tag) => format!("as the tag {tag} (the registry has no referrers API)"),
        None => "as an OCI referrer".to_string(),
    };
    rep.step("sbom", format!("attached {} to {target} {how}", short_digest(&a.digest)));
    Ok(())
}

/// Prints how to load and run a written image.
pub fn report_run_hint(written: &Written, rep: &Reporter) {
    let file = shell_path(&written.path);
    rep.step("run", format!("docker load -i {file} && docker run --rm {}", written.reference));
    rep.step("", format!("podman load -i {file} && podman run --rm {}", written.reference));
}

fn shell_path(p: &Path) -> String {
    crate::process::shell_quote(&p.display().to_string())
}

/// `<binary>.tar` beside the binary.
pub fn default_image_path(binary_out: &Path) -> PathBuf {
    let mut s = binary_out.as_os_str().to_owned();
    s.push(".tar");
    PathBuf::from(s)
}
