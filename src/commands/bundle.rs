//! `staticize bundle`: a dynamic program into a scratch image together with its library
//! closure and its interpreter at its PT_INTERP path — the pipeline's closure stage
//! (`pipeline::carry`) on a program built elsewhere. The program stays dynamic; the output
//! says so.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::complete::Extras;
use crate::bundle::trace::TraceRequest;
use crate::cli::BundleArgs;
use crate::closure::Closure;
use crate::commands::settings;
use crate::elf::Linkage;
use crate::error::{Error, Result};
use crate::image::Written;
use crate::image::options::ImageSettings;
use crate::naming::{NamePart, program_name};
use crate::pipeline::{self, Binaries, CarryOptions, Dynamic, Job, Programs};
use crate::report::Reporter;

/// The JSON result of `staticize bundle`.
#[derive(Debug, Serialize)]
pub struct BundleResult<'a> {
    /// The program bundled.
    pub program: &'a Path,
    /// Always "dynamic" unless the program was static after all.
    pub linkage: &'a Linkage,
    /// Where the program is in the image.
    pub program_path: &'a str,
    /// The closure carried.
    pub closure: &'a Closure,
    /// The image written.
    pub image: &'a Written,
}

/// Runs `bundle`.
pub fn run(args: BundleArgs, rep: &Reporter) -> Result<()> {
    let name = program_name(&args.binary, NamePart::File, "-t")?;
    let dest = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.tar")));
    let mut settings = settings::image_settings(&args.options)?;
    let trace = trace_request(&args, &mut settings)?;
    let job = Job {
        created_by: format!("staticize bundle {name}"),
        name,
        programs: Programs::Prebuilt(vec![(None, args.binary.clone())]),
        settings,
        binaries: Binaries::None,
        destinations: settings::destinations(&args.options.image_output, dest)?,
        dynamic: Dynamic::Carry(CarryOptions {
            extra_libs: args.lib.clone(),
            allow_missing: args.allow_missing,
            extras: Extras {
                no_stdlib: args.no_stdlib,
                no_plugins: args.no_plugins,
                package_files: args.package_files,
                packages: args.packages.clone(),
                allow_missing: args.allow_missing,
                trace,
            },
            init: false,
        }),
    };
    let outcome = pipeline::run(job, rep)?;
    if let (Some(p), Some(image)) = (outcome.programs.first(), &outcome.image) {
        rep.json(&BundleResult {
            program: &args.binary,
            linkage: &p.linkage,
            program_path: &p.program_path,
            closure: p.closure.as_ref().expect("a carried program has its closure"),
            image,
        });
    }
    outcome.finish()
}

/// `--trace -- ARGS…`: the run to trace, with the image's environment; its arguments become
/// the image's default command unless `--cmd` set one. Arguments without `--trace` are refused.
fn trace_request(args: &BundleArgs, settings: &mut ImageSettings) -> Result<Option<TraceRequest>> {
    if !args.trace {
        if args.trace_args.is_empty() {
            return Ok(None);
        }
        return Err(Error::usage(
            format!("arguments after -- ({}) are only used by --trace", args.trace_args.join(" ")),
            "add --trace to run the program with them, or --cmd to make them the image's default arguments",
        ));
    }
    if settings.cmd.is_none() && !args.trace_args.is_empty() {
        settings.cmd = Some(args.trace_args.clone());
    }
    Ok(Some(TraceRequest { args: args.trace_args.clone(), env: settings.env.clone() }))
}
