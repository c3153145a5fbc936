//! One module per subcommand; `run` dispatches the parsed command line.

pub mod build;
pub mod check;
pub mod check_tree;
pub mod completions;
pub mod doctor;
pub mod gate;
pub mod image;
pub mod man;
pub mod package;

use crate::cli::{Cli, Command};
use crate::driver::c::Lang;
use crate::error::Result;
use crate::report::Reporter;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let rep = Reporter::new(cli.json);
    match cli.command {
        Command::C(args) => build::c(args, Lang::C, &rep),
        Command::Cxx(args) => build::c(args, Lang::Cxx, &rep),
        Command::Image(args) => image::run(args, &rep),
        Command::Check(args) if args.recursive => check_tree::run(args, &rep),
        Command::Check(args) => check::run(args, &rep),
        Command::Doctor(_) => doctor::run(&rep),
        Command::Gate(args) => gate::run(args, &rep),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args, &rep),
    }
}
