//! `staticize build [DIR]`: a project's own build system run static, then the chosen
//! executables checked, written and imaged like every other build.

use crate::cli::BuildArgs;
use crate::commands::build::build_and_package;
use crate::driver::buildsys::{self, Options, select};
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::toolchain::Preference;

/// Runs `staticize build`.
pub fn run(args: BuildArgs, rep: &Reporter) -> Result<()> {
    if args.output.is_some() && args.bins.len() > 1 {
        return Err(Error::usage(
            "-o names one executable, but several --bin were given",
            "drop -o: each is written as ./NAME",
        ));
    }
    let opts = Options {
        command: args.command.clone(),
        configure_args: args.configure_args.clone(),
        targets: args.targets.clone(),
        preference: Preference {
            compiler: args.compiler.clone(),
            libc: args.libc.map(|l| l.name().to_string()),
            profile: args.profile,
        },
    };
    let built = buildsys::build(&args.dir, &opts, rep)?;
    let rebuilt = built.executables.iter().filter(|e| e.rebuilt).count();
    rep.step(
        "found",
        format!(
            "{} executable{} ({rebuilt} built by this run): {}",
            built.executables.len(),
            if built.executables.len() == 1 { "" } else { "s" },
            built.executables.iter().map(|e| e.rel.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    );
    let chosen = select::choose(&built, &args.bins)?;
    for e in &chosen {
        select::refuse_dynamic(e, &built)?;
    }
    for e in chosen {
        let name = select::file_name(e);
        let driver = select::Prebuilt {
            path: e.path.clone(),
            toolchain: format!("{} ({}) via {}", built.cc.name, built.cc.version, built.system.label()),
            libc: built.cc.libc.clone(),
        };
        build_and_package(
            &driver,
            vec![e.rel.clone()],
            name.clone(),
            args.output.clone(),
            &args.image,
            args.profile,
            Vec::new(),
            format!("staticize build --bin {name}"),
            rep,
        )?;
    }
    Ok(())
}
