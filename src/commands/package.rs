//! The shared last steps of every command that makes an image: a static program plus the
//! image options become an ImagePlan, which is written and reported.

use std::path::{Path, PathBuf};

use crate::cli::ImageOptions;
use crate::elf::Linkage;
use crate::error::Result;
use crate::image::rootfs::MODE_EXEC;
use crate::image::spec::{Platform, RunConfig};
use crate::image::{Compression, ImagePlan, ImageRef, PlatformImage, Rootfs, Source, Written, archive};
use crate::report::{Reporter, human_size, short_digest};

/// The image name: `-t` when given, else derived from the program's name.
pub fn reference(opts: &ImageOptions, program: &str) -> Result<ImageRef> {
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
    let path = program_path(opts, program)?;
    let mut rootfs = Rootfs::new();
    rootfs.add_file(&path, Source::Host(binary.to_path_buf()), MODE_EXEC)?;
    let mut config = RunConfig { entrypoint: Some(vec![path]), ..Default::default() };
    // Minimal --add/--expose (bundle branch) until the images branch replaces this block.
    for spec in &opts.add {
        let (src, dest) =
            spec.split_once(':').filter(|(s, d)| !s.is_empty() && d.starts_with('/')).ok_or_else(|| {
                crate::error::Error::usage(
                    format!("--add {spec}: expected SRC:DEST"),
                    "e.g. --add ./redis.conf:/etc/redis.conf",
                )
            })?;
        if !Path::new(src).is_file() {
            return Err(crate::error::Error::input(src, "is not a file (--add takes files)", None));
        }
        rootfs.add_file(dest, Source::Host(PathBuf::from(src)), crate::image::rootfs::MODE_DATA)?;
    }
    if !opts.expose.is_empty() {
        let mut ports = std::collections::BTreeMap::new();
        for p in &opts.expose {
            let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp") {
                return Err(crate::error::Error::usage(
                    format!("--expose {p}: not a port"),
                    "e.g. --expose 6379 or --expose 53/udp",
                ));
            }
            ports.insert(format!("{num}/{proto}"), crate::image::spec::EmptyObject {});
        }
        config.exposed_ports = Some(ports);
    }
    Ok(ImagePlan {
        reference: reference(opts, program)?,
        images: vec![PlatformImage { platform: Platform::linux(&linkage.machine), rootfs, config, created_by }],
        compression: Compression::Gzip,
        epoch: archive::source_date_epoch()?,
    })
}

/// Writes the plan and prints the image line.
pub fn write_image(plan: &ImagePlan, dest: &Path, rep: &Reporter) -> Result<Written> {
    let written = archive::write(plan, dest)?;
    let layer: u64 = written.layers.iter().map(|l| l.size).sum();
    let raw: u64 = written.layers.iter().map(|l| l.uncompressed_size).sum();
    rep.step(
        "image",
        format!(
            "{} ({}; layer {} gzip, {} tar) {} {}",
            dest.display(),
            human_size(written.bytes),
            human_size(layer),
            human_size(raw),
            written.reference,
            short_digest(&written.manifest_digest)
        ),
    );
    Ok(written)
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
