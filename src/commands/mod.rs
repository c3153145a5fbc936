//! One module per subcommand; `run` dispatches the parsed command line.

pub mod build;
pub mod build_project;
pub mod bundle;
pub mod cache;
pub mod cc;
pub mod check;
pub mod completions;
pub mod deps;
pub mod doctor;
pub mod gate;
pub mod go;
pub mod image;
pub mod inspect;
pub mod inspect_sbom;
pub mod man;
pub mod node;
pub mod options;
pub mod pack;
pub mod push;
pub mod rust;
pub mod settings;
pub mod sign;
pub mod slim;
pub mod squash;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::report::Reporter;
use crate::toolchain::cc::Lang;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let rep = Reporter::new(cli.json);
    match cli.command {
        Command::C(args) => build::c(args, Lang::C, &rep),
        Command::Cxx(args) => build::c(args, Lang::Cxx, &rep),
        Command::Image(args) => image::run(args, &rep),
        Command::Check(args) => check::run(args, &rep),
        Command::Doctor(_) => doctor::run(&rep),
        Command::Bundle(args) => bundle::run(args, &rep),
        Command::Inspect(args) => inspect::run(args, &rep),
        Command::Push(args) => push::run(args, &rep),
        Command::Sign(args) => sign::run(args, &rep),
        Command::Verify(args) => verify::run(args, &rep),
        Command::Gate(args) => gate::run(args, &rep),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args, &rep),
        Command::Go(args) => go::run(args, &rep),
        Command::Rust(args) => rust::run(args, &rep),
        Command::Node(args) => node::run(args, &rep),
        Command::Build(args) => build_project::run(args, &rep),
        Command::Cc(args) => cc::run(Lang::C, args.args),
        Command::CPlusPlus(args) => cc::run(Lang::Cxx, args.args),
        Command::Squash(args) => squash::run(args, &rep),
        Command::Slim(args) => slim::run(args, &rep),
        Command::Pack(args) => pack::run(args, &rep),
        Command::Deps(args) => deps::run(args, &rep),
        Command::Cache(args) => cache::run(args, &rep),
    }
}
