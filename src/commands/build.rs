//! Build commands: compile → check → write the binary → write the image, one line a step.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{CArgs, ImageArgs};
use crate::commands::package;
use crate::driver::c::{CDriver, Lang};
use crate::driver::{Artifact, BuildRequest, Driver};
use crate::elf::{self, Linkage};
use crate::error::{Error, Result};
use crate::image::Written;
use crate::output;
use crate::report::{Reporter, human_size, size_of};
use crate::toolchain::{Preference, Profile};

/// The JSON result of a build command.
#[derive(Debug, Serialize)]
pub struct BuildResult {
    /// The executable written.
    pub binary: PathBuf,
    /// What built it.
    pub artifact: Artifact,
    /// Its verdict.
    pub linkage: Linkage,
    /// The image, when one was written.
    pub image: Option<Written>,
}

/// `staticize c` / `staticize cxx`.
pub fn c(args: CArgs, lang: Lang, rep: &Reporter) -> Result<()> {
    let first = &args.sources[0];
    let name = program_name(first)?;
    let mut extra: Vec<String> = Vec::new();
    extra.extend(args.include.iter().map(|d| format!("-I{d}")));
    extra.extend(args.define.iter().map(|d| format!("-D{d}")));
    extra.extend(args.libdir.iter().map(|d| format!("-L{d}")));
    extra.extend(args.lib.iter().map(|l| format!("-l{l}")));
    extra.extend(args.extra.iter().cloned());
    let driver = CDriver {
        lang,
        preference: Preference {
            compiler: args.compiler.clone(),
            libc: args.libc.map(|l| l.name().to_string()),
            profile: args.profile,
        },
    };
    let lang_word = match lang {
        Lang::C => "c",
        Lang::Cxx => "cxx",
    };
    let created_by = format!("staticize {lang_word} {}", file_name(first));
    build_and_package(
        &driver,
        args.sources.clone(),
        name,
        args.output.clone(),
        &args.image,
        args.profile,
        extra,
        created_by,
        rep,
    )
}

/// The generic pipeline every driver shares.
#[allow(clippy::too_many_arguments)]
pub fn build_and_package(
    driver: &dyn Driver,
    inputs: Vec<PathBuf>,
    name: String,
    output: Option<PathBuf>,
    image: &ImageArgs,
    profile: Profile,
    extra_args: Vec<String>,
    created_by: String,
    rep: &Reporter,
) -> Result<()> {
    let bin_out = output.unwrap_or_else(|| PathBuf::from(&name));
    let image_out =
        (!image.no_image).then(|| image.image.clone().unwrap_or_else(|| package::default_image_path(&bin_out)));
    // Everything that can be refused is refused before the compiler runs.
    let reference = package::reference(&image.options, &name)?;
    package::program_path(&image.options, &name)?;
    output::ensure_writable(&bin_out)?;
    let dests = match &image_out {
        Some(p) => Some(package::destinations(&image.options, p)?),
        None => None,
    };
    package::check_host_platform(&image.options)?;
    let staging = tempfile::Builder::new()
        .prefix("staticize-build-")
        .tempdir()
        .map_err(|e| Error::io("create a build directory in", std::env::temp_dir(), e))?;
    let req = BuildRequest { inputs, name: name.clone(), staging: staging.path().to_path_buf(), profile, extra_args };
    let artifact = driver.build(&req)?;
    rep.step(
        "compile",
        format!(
            "{} with {} → {}",
            display_inputs(&req.inputs),
            artifact.toolchain_used,
            human_size(size_of(&artifact.path))
        ),
    );
    for w in &artifact.warnings {
        rep.warn(w);
    }
    let linkage = elf::inspect(&artifact.path)?;
    rep.step("check", describe(&linkage));
    let mut result =
        BuildResult { binary: bin_out.clone(), artifact: artifact.clone(), linkage: linkage.clone(), image: None };
    if !linkage.kind.is_self_contained() {
        output::copy_atomic(&artifact.path, &bin_out, 0o755)?;
        rep.step("write", format!("{} ({})", bin_out.display(), human_size(linkage.size)));
        rep.json(&result);
        return Err(Error::Verdict {
            message: format!(
                "{} is not self-contained ({}): no image written (it would not run in scratch)",
                bin_out.display(),
                describe(&linkage)
            ),
            help: Some(format!(
                "remove flags that make it dynamic (-shared, -static-pie with musl-gcc), or carry its libraries with: staticize bundle {}",
                bin_out.display()
            )),
        });
    }
    // The image is written first, from the staged file, so a failure there leaves both the
    // old binary and the old image in place.
    let written = match dests {
        Some(dests) => {
            let binaries = [(crate::image::spec::Platform::linux(&linkage.machine), artifact.path.clone())];
            let (mut plan, notes) = package::plan_for_binaries(&binaries, &name, &image.options, created_by)?;
            plan.reference = reference;
            for n in &notes {
                rep.step("with", n);
            }
            Some(package::deliver(&plan, &dests, rep)?)
        }
        None => None,
    };
    output::copy_atomic(&artifact.path, &bin_out, 0o755)?;
    rep.step("write", format!("{} ({})", bin_out.display(), human_size(linkage.size)));
    if let Some(w) = &written {
        let path = package::program_path(&image.options, &name)?;
        let subject = crate::sbom::collect::Subject {
            name: &name,
            elf: &artifact.path,
            program_path: &path,
            artifact: Some(&artifact),
            inputs: &req.inputs,
            npm_dirs: &[],
            closure: None,
            host_program: None,
        };
        package::write_sbom(&image.options, w, &name, &[subject], rep)?;
        package::report_run_hint(w, rep);
        package::push_if_asked(w, &image.options, rep)?;
    }
    result.image = written;
    rep.json(&result);
    Ok(())
}

/// One line describing a verdict: "static, amd64, stripped" or "dynamic (…) needs libc.so.6".
pub fn describe(l: &Linkage) -> String {
    let mut s = l.kind.label().to_string();
    if let Some(i) = &l.interp {
        s.push_str(&format!(" (interpreter {i})"));
    }
    if !l.needed.is_empty() {
        s.push_str(&format!(", needs {}", l.needed.join(" ")));
    }
    s.push_str(&format!(", {}, {}", l.machine, if l.stripped { "stripped" } else { "not stripped" }));
    s
}

/// The program name from its first source: "src/hello.c" → "hello".
pub fn program_name(first: &Path) -> Result<String> {
    first
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .ok_or_else(|| Error::input(first, "cannot name the output after this path", Some("pass -o NAME".into())))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

fn display_inputs(inputs: &[PathBuf]) -> String {
    inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
}
