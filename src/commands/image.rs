//! `staticize image`: static executables built elsewhere → a scratch image, one platform or
//! several (`--binary linux/arm64=./app-arm64`).

use std::path::{Path, PathBuf};

use crate::cli::ImageCmdArgs;
use crate::commands::build::{describe, program_name};
use crate::commands::package;
use crate::elf;
use crate::error::{Error, Result};
use crate::image::options::parse_platform;
use crate::image::spec::Platform;
use crate::report::Reporter;

/// Runs `image`.
pub fn run(args: ImageCmdArgs, rep: &Reporter) -> Result<()> {
    let binaries = binaries(&args)?;
    let name = image_name(&args, &binaries)?;
    let dest = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.tar")));
    let dests = package::destinations(&args.options, &dest)?;
    let mut checked = Vec::new();
    for (declared, path) in &binaries {
        let linkage = elf::inspect(path)?;
        rep.step("check", format!("{}: {}", path.display(), describe(&linkage)));
        if !linkage.kind.is_self_contained() {
            return Err(Error::Verdict {
                message: format!(
                    "{} is not self-contained ({}), so it cannot run in a scratch image",
                    path.display(),
                    describe(&linkage)
                ),
                help: Some(format!(
                    "rebuild it statically (staticize c|cxx|go|rust), or carry its libraries into the image with: staticize bundle {}",
                    path.display()
                )),
            });
        }
        let actual = Platform::linux(&linkage.machine);
        if let Some(p) = declared.as_ref().filter(|p| **p != actual) {
            return Err(Error::input(
                path,
                format!("is a {actual} executable, but --binary says {p}"),
                Some(format!("pass it as --binary {actual}={}", path.display())),
            ));
        }
        if checked.iter().any(|(p, _, _)| *p == actual) {
            return Err(Error::usage(
                format!("two executables for {actual}"),
                "give one executable per platform (--binary linux/amd64=… --binary linux/arm64=…)",
            ));
        }
        checked.push((actual, path.clone(), linkage.machine.clone()));
    }
    let plain: Vec<(Platform, PathBuf)> = checked.iter().map(|(p, f, _)| (p.clone(), f.clone())).collect();
    check_requested_platforms(&args, &plain)?;
    let created_by = format!(
        "staticize image {}",
        checked
            .iter()
            .map(|(_, p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let scratch = tempfile::Builder::new()
        .prefix("staticize-strip-")
        .tempdir()
        .map_err(|e| Error::io("create a scratch directory in", std::env::temp_dir(), e))?;
    let checked = crate::strip::for_image(&checked, !args.no_strip, scratch.path(), rep)?;
    let (plan, notes) = package::plan_for_binaries(&checked, &name, &args.options, created_by)?;
    for n in &notes {
        rep.step("with", n);
    }
    let written = package::deliver(&plan, &dests, rep)?;
    package::report_run_hint(&written, rep);
    package::push_if_asked(&written, &args.options, rep)?;
    rep.json(&written);
    Ok(())
}

/// The positional binary (platform from its header) and every `--binary OS/ARCH=PATH`.
fn binaries(args: &ImageCmdArgs) -> Result<Vec<(Option<Platform>, PathBuf)>> {
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
        out.push((Some(parse_platform("--binary", platform)?), PathBuf::from(path)));
    }
    Ok(out)
}

/// The program's name: from the positional binary, else the first --binary without a
/// trailing architecture ("app-arm64" → "app").
fn image_name(args: &ImageCmdArgs, binaries: &[(Option<Platform>, PathBuf)]) -> Result<String> {
    let first = &binaries[0].1;
    let name = program_name(first)?;
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

/// With --platform, exactly those platforms must have an executable.
fn check_requested_platforms(args: &ImageCmdArgs, have: &[(Platform, PathBuf)]) -> Result<()> {
    let wanted = crate::image::options::parse_platforms(&args.options.platform)?;
    if wanted.is_empty() {
        return Ok(());
    }
    if let Some(missing) = wanted.iter().find(|w| !have.iter().any(|(p, _)| p == *w)) {
        return Err(Error::usage(
            format!("--platform asks for {missing}, but no executable for it was given"),
            format!("add --binary {missing}=PATH (staticize image takes one executable per platform)"),
        ));
    }
    if let Some((extra, path)) = have.iter().find(|(p, _)| !wanted.contains(p)) {
        return Err(Error::usage(
            format!("{} is for {extra}, which --platform does not list", show(path)),
            format!("add {extra} to --platform, or leave that executable out"),
        ));
    }
    Ok(())
}

fn show(p: &Path) -> String {
    p.display().to_string()
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
