//! The staticize binary: parse, run, map errors to exit codes — nothing else.

use std::process::ExitCode;

use clap::Parser;
use staticize::{cli::Cli, commands, report::paint};

fn main() -> ExitCode {
    staticize::output::fail_writes_past_size_limit();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `staticize cc …` and `staticize-cc …` belong to the compiler, not to clap.
    let result = commands::cc::intercept(&argv).unwrap_or_else(|| commands::run(Cli::parse_from(argv)));
    match result {
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
