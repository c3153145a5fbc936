//! The staticize binary: parse, run, map errors to exit codes — nothing else.

use std::process::ExitCode;

use clap::Parser;
use staticize::{cli::Cli, commands, report::paint};

fn main() -> ExitCode {
    staticize::output::fail_writes_past_size_limit();
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{} {e}", paint("error:", "1;31"));
            if let Some(help) = e.help() {
                eprintln!("{} {help}", paint("help:", "1;36"));
            }
            ExitCode::from(e.exit_code())
        }
    }
}
