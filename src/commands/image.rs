//! `staticize image`: static executables built elsewhere → a scratch image, one platform or
//! several (`--binary linux/arm64=./app-arm64`).

use std::path::PathBuf;

use crate::cli::ImageCmdArgs;
use crate::commands::settings;
use crate::error::{Error, Result};
use crate::naming::{NamePart, program_name};
use crate::pipeline::{self, Binaries, Dynamic, Job, Programs};
use crate::platform::Arch;
use crate::report::Reporter;

/// Runs `image`.
pub fn run(args: ImageCmdArgs, rep: &Reporter) -> Result<()> {
    let binaries = binaries(&args)?;
    let name = image_name(&args, &binaries)?;
    let dest = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.tar")));
    let settings = settings::image_settings(&args.options)?;
    let delivery =
        pipeline::Delivery { strip: !args.no_strip, init: !args.no_init, ..settings::delivery(&args.options)? };
    let created_by = format!(
        "staticize image {}",
        binaries
            .iter()
            .map(|(_, p)| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let job = Job {
        name,
        programs: Programs::Given(binaries),
        settings,
        delivery,
        binaries: Binaries::None,
        destinations: settings::destinations(&args.options.image_output, dest)?,
        probe: settings::probe(&args.options.image_output)?,
        dynamic: Dynamic::Refuse,
        created_by,
        plan_only: args.options.image_output.plan,
    };
    let Some(outcome) = pipeline::run(job, rep)? else { return Ok(()) };
    if let Some(w) = &outcome.image {
        rep.json(&ImageResult { image: w, proof: outcome.proof.as_ref() });
    }
    outcome.finish()
}

/// The JSON result of `staticize image`: the image's fields, and the proof run's verdict.
#[derive(serde::Serialize)]
struct ImageResult<'a> {
    #[serde(flatten)]
    image: &'a crate::image::Written,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof: Option<&'a crate::prove::Proof>,
}

/// The positional binary (platform from its header) and every `--binary OS/ARCH=PATH`.
fn binaries(args: &ImageCmdArgs) -> Result<Vec<(Option<Arch>, PathBuf)>> {
    let mut out = Vec::new();
    if let Some(b) = &args.binary {
        out.push((None, b.clone()));
    }
    for spec in &args.binaries {
        let (platform, path) =
            spec.split_once('=').filter(|(p, f)| !p.is_empty() && !f.is_empty()).ok_or_else(|| {
                Error::usage(
                    format!("--binary '{spec}' is not OS/ARCH=PATH"),
                    "write it as --binary linux/arm64=./app-arm64 (one per platform)",
                )
            })?;
        out.push((Some(Arch::parse("--binary", platform)?), PathBuf::from(path)));
    }
    Ok(out)
}

/// The program's name: from the positional binary, else the first --binary without a
/// trailing architecture ("app-arm64" → "app").
fn image_name(args: &ImageCmdArgs, binaries: &[(Option<Arch>, PathBuf)]) -> Result<String> {
    let first = &binaries[0].1;
    let name = program_name(first, NamePart::Stem, "-o")?;
    if args.binary.is_some() {
        return Ok(name);
    }
    Ok(strip_arch_suffix(&name).to_string())
}

fn strip_arch_suffix(name: &str) -> &str {
    for suffix in ["amd64", "x86_64", "x86-64", "arm64", "aarch64"] {
        for sep in ['-', '_', '.'] {
            if let Some(stem) = name.strip_suffix(suffix).and_then(|s| s.strip_suffix(sep)) {
                if !stem.is_empty() {
                    return stem;
                }
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_suffixes_are_dropped_from_names() {
        assert_eq!(strip_arch_suffix("app-arm64"), "app");
        assert_eq!(strip_arch_suffix("app_x86_64"), "app");
        assert_eq!(strip_arch_suffix("arm64"), "arm64");
        assert_eq!(strip_arch_suffix("server"), "server");
    }
}
