//! `staticize image`: a static executable built elsewhere → a scratch image.

use std::path::PathBuf;

use crate::cli::ImageCmdArgs;
use crate::commands::build::{describe, program_name};
use crate::commands::package;
use crate::elf;
use crate::error::{Error, Result};
use crate::output;
use crate::report::Reporter;

/// Runs `image`.
pub fn run(args: ImageCmdArgs, rep: &Reporter) -> Result<()> {
    let name = program_name(&args.binary)?;
    let dest = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.tar")));
    let linkage = elf::inspect(&args.binary)?;
    rep.step("check", format!("{}: {}", args.binary.display(), describe(&linkage)));
    if !linkage.kind.is_self_contained() {
        return Err(Error::Verdict {
            message: format!(
                "{} is not self-contained ({}), so it cannot run in a scratch image",
                args.binary.display(),
                describe(&linkage)
            ),
            help: Some(format!(
                "rebuild it statically (staticize c|cxx|go|rust), or carry its libraries into the image with: staticize bundle {}",
                args.binary.display()
            )),
        });
    }
    output::ensure_writable(&dest)?;
    let created_by = format!(
        "staticize image {}",
        args.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    );
    let plan = package::plan_for_binary(&args.binary, &name, &linkage, &args.options, created_by)?;
    let written = package::write_image(&plan, &dest, rep)?;
    package::report_run_hint(&written, rep);
    rep.json(&written);
    Ok(())
}
