//! `staticize pack`: a dynamic program → one static executable carrying its interpreter and
//! library closure (src/pack), and a scratch image holding only that file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::PackArgs;
use crate::closure::Closure;
use crate::commands::settings;
use crate::elf::Linkage;
use crate::error::{Error, Result};
use crate::image::options::{AddSpec, ImageSettings};
use crate::naming::{NamePart, program_name};
use crate::pack::make::{PackRequest, pack_file};
use crate::pack::{self, Packed};
use crate::pipeline::{self, Binaries, Dynamic, Inside, Job, Programs};
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
}

/// Runs `staticize pack`: packs the program, then writes the one-file image through the
/// pipeline (the packed file is static, so the image is that file alone).
pub fn run(args: PackArgs, rep: &Reporter) -> Result<()> {
    let name = program_name(&args.program, NamePart::File, "-t")?;
    let out = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    if same_file(&out, &args.program) {
        return Err(Error::usage(
            format!("the packed file would replace the program itself ({})", out.display()),
            "name another output with -o OUT",
        ));
    }
    crate::output::ensure_writable(&out)?;
    let mut image_settings = settings::build_settings(&args.image)?;
    let destinations = settings::build_destinations(&args.image, &out)?;
    let req = PackRequest { libs: args.lib.clone(), allow_missing: args.allow_missing, root: args.root.clone() };
    let (linkage, closure, packed) = pack_file(&args.program, &name, &req, &out, rep)?;
    let mut image = None;
    if !destinations.is_empty() {
        let staging = tempfile::tempdir().map_err(|e| Error::io("create a directory in", std::env::temp_dir(), e))?;
        if args.init {
            add_init(&mut image_settings, &name, &linkage.machine, staging.path())?;
        }
        let job = Job {
            created_by: format!("staticize pack {name}"),
            name,
            programs: Programs::Prebuilt(vec![(None, out.clone())]),
            settings: image_settings,
            binaries: Binaries::None,
            destinations,
            dynamic: Dynamic::Packed(Box::new(Inside { program: args.program.clone(), closure: closure.clone() })),
        };
        let outcome = pipeline::run(job, rep)?;
        image = outcome.image.clone();
        outcome.finish()?;
    }
    rep.json(&PackResult { output: out, program: linkage, packed, closure, image });
    Ok(())
}

/// `--init`: the init goes into the image at [`pack::INIT_PATH`] and runs the program.
fn add_init(s: &mut ImageSettings, name: &str, arch: &str, staging: &Path) -> Result<()> {
    let init = pack::init(arch).ok_or_else(|| Error::usage(format!("no init for {arch}"), pack::missing_hint(arch)))?;
    let file = staging.join("init");
    std::fs::write(&file, init).map_err(|e| Error::io("write", &file, e))?;
    s.adds.push(AddSpec { src: file, dest: pack::INIT_PATH.into(), mode: Some(0o755) });
    let mut entry = vec![pack::INIT_PATH.to_string()];
    entry.extend(s.entrypoint.clone().unwrap_or_else(|| vec![String::new()]));
    if entry[1].is_empty() {
        entry[1] = s.program_path(name)?;
    }
    s.entrypoint = Some(entry);
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}
