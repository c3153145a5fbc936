//! `staticize man`: man pages rendered from the CLI definition (clap_mangen), so they never
//! drift from `--help`.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::commands::completions::write_stdout;
use crate::error::{Error, Result};
use crate::report::Reporter;

/// Prints staticize(1) on stdout, or writes every page into `--dir`.
pub fn run(args: ManArgs, rep: &Reporter) -> Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = args.dir else {
        return write_stdout(&render(&cmd)?.1);
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create man page directory", &dir, e))?;
    let mut pages = vec![render(&cmd)?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(render(sub)?);
    }
    for (name, roff) in &pages {
        let dest = dir.join(name);
        let mut tmp = crate::output::temp_beside(&dest)?;
        tmp.write_all(roff).map_err(|e| Error::io("write man page", &dest, e))?;
        crate::output::persist(tmp, &dest, 0o644)?;
        rep.step("write", dest.display().to_string());
    }
    rep.json(&pages.iter().map(|(n, _)| dir.join(n)).collect::<Vec<_>>());
    Ok(())
}

/// One page: its file name ("staticize-gate.1") and its roff text.
fn render(cmd: &clap::Command) -> Result<(String, Vec<u8>)> {
    let man = clap_mangen::Man::new(cmd.clone()).manual("staticize manual");
    let mut roff = Vec::new();
    man.render(&mut roff).map_err(|e| Error::io("render man page", man.get_filename(), e))?;
    Ok((man.get_filename(), roff))
}
