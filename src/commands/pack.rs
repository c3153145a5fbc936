//! `staticize pack`: a dynamic program → one static executable carrying its interpreter and
//! library closure (src/pack), and a scratch image holding only that file: a job whose
//! dynamic variant is `Pack`, run by the pipeline.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::PackArgs;
use crate::closure::Closure;
use crate::commands::settings;
use crate::elf::Linkage;
use crate::error::{Error, Result};
use crate::naming::{NamePart, program_name};
use crate::pack::make::{self, PackRequest};
use crate::pack::{self, Packed};
use crate::pipeline::{self, Binaries, Dynamic, Job, PackOptions, Programs};
use crate::reference::ImageRef;
use crate::report::Reporter;

/// The JSON result of `staticize pack`.
#[derive(Debug, Serialize)]
pub struct PackResult {
    /// The packed executable written.
    pub output: PathBuf,
    /// The input program's verdict.
    pub program: Linkage,
    /// What the packed file carries.
    pub packed: Packed,
    /// The closure that was resolved.
    pub closure: Closure,
    /// The image, when one was written.
    pub image: Option<crate::image::Written>,
    /// The proof run of the output (how it ended, what it lacked); absent with --no-probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<crate::prove::Proof>,
}

/// Runs `staticize pack`: the program packed into one static file, then the one-file image
/// of that file, both by the pipeline (its pack stage, then the road of a static program).
pub fn run(args: PackArgs, rep: &Reporter) -> Result<()> {
    let name = program_name(&args.program, NamePart::File, "-t")?;
    make::refuse_script(&args.program, &name)?;
    let out = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    if same_file(&out, &args.program) {
        return Err(Error::usage(
            format!("the packed file would replace the program itself ({})", out.display()),
            "name another output with -o OUT",
        ));
    }
    let mut image_settings = settings::build_settings(&args.image)?;
    let venv = pack::beside::stdlib_of(&args.program).and_then(|s| s.venv);
    if let (Some(v), None) = (venv, &image_settings.path) {
        // The packed python stands where the venv's python was, so it finds pyvenv.cfg.
        image_settings.path = Some(crate::image::options::program_path(&v.entry.to_string_lossy())?);
    }
    // bundle names its image of the same program NAME:latest: loading one must not replace
    // the other.
    if image_settings.tag.is_none() {
        image_settings.tag = Some(ImageRef { tag: pack::DEFAULT_TAG.into(), ..ImageRef::for_program(&name) });
    }
    let job = Job {
        created_by: format!("staticize pack {name}"),
        name,
        programs: Programs::Given(vec![(None, args.program.clone())]),
        settings: image_settings,
        delivery: settings::delivery(&args.image.options)?,
        probe: settings::probe(&args.image.options.image_output)?,
        destinations: settings::build_destinations(&args.image, &out)?,
        binaries: Binaries::PerPlatform(out.clone()),
        dynamic: Dynamic::Pack(PackOptions {
            request: PackRequest { libs: args.lib.clone(), allow_missing: args.allow_missing, root: args.root.clone() },
            init: args.init,
        }),
        plan_only: args.image.options.image_output.plan,
    };
    let Some(outcome) = pipeline::run(job, rep)? else { return Ok(()) };
    if let Some(p) = &outcome.packed {
        rep.json(&PackResult {
            output: out,
            program: p.linkage.clone(),
            packed: p.packed.clone(),
            closure: p.closure.clone(),
            image: outcome.image.clone(),
            proof: outcome.proof.clone(),
        });
    }
    outcome.finish()
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}
