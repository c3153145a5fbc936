//! `staticize build`'s domain: recognise a project's build system, run it with staticize cc as
//! the compiler, find the executables it produced, judge each, and explain dynamic ones.
//!
//! Everything staticize keeps for a project lives in `DIR/.staticize-build/`: `bin/` (the
//! staticize-cc and staticize-c++ links), `build/` (out-of-tree builds), `links.log` (the
//! executable links of the last run), `setup` (what the build directory was configured with)
//! and `executables` (what earlier runs found, so an up-to-date build still finds them).

pub(crate) mod detect;
pub(crate) mod explain;
pub(crate) mod select;
pub(crate) mod tree;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::driver::cc::{self, LinkRecord};
use crate::elf::{self, LinkKind, Linkage};
use crate::error::{Error, Result};
use crate::output;
use crate::process::Command;
use crate::report::Reporter;
use crate::toolchain::Preference;
use crate::toolchain::cc::{Chosen, compilers};
use crate::toolchain::toolbox::Toolbox;
use detect::{Layout, Step, System};

/// The directory in a project where staticize keeps its build state.
pub(crate) const STATE_DIR: &str = ".staticize-build";

/// What the user asked of the build (plain data; the command line maps onto it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// The build command to run instead of the recognised build system.
    pub command: Vec<String>,
    /// Extra arguments for the configure step.
    pub configure_args: Vec<String>,
    /// Targets to build instead of the default.
    pub targets: Vec<String>,
    /// The compiler, libc and profile.
    pub preference: Preference,
    /// Library recipes built for the compiler first and made visible to the build (`--dep`).
    pub deps: Vec<String>,
}

/// One executable the build produced.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Executable {
    /// Where it is.
    pub path: PathBuf,
    /// Its path relative to the project directory.
    pub rel: PathBuf,
    /// Its verdict.
    pub linkage: Linkage,
    /// Whether this run built it (false: an earlier run did and it is up to date).
    pub rebuilt: bool,
}

/// The result of running a project's build.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    /// The build system that ran.
    pub system: System,
    /// The project directory (absolute).
    pub src: PathBuf,
    /// The executables found, sorted by path.
    pub executables: Vec<Executable>,
    /// The executable links staticize cc did in this run.
    pub links: Vec<LinkRecord>,
    /// The C compiler under staticize cc.
    pub cc: Chosen,
}

/// Runs the build of the project in `dir` statically and finds what it produced.
pub(crate) fn build(dir: &Path, opts: &Options, rep: &Reporter) -> Result<Built> {
    let src = std::fs::canonicalize(dir).map_err(|e| Error::io("open the project directory", dir, e))?;
    if !src.is_dir() {
        return Err(Error::input(&src, "is not a directory", Some("pass the project directory".into())));
    }
    let system = if opts.command.is_empty() {
        detect::detect(&src).ok_or_else(|| no_build_system(&src))?
    } else {
        System::Command
    };
    let state = src.join(STATE_DIR);
    let (cc, cxx) = compilers(&opts.preference)?;
    let mut env = Toolbox::create(&state, &cc, cxx.as_ref(), opts.preference.profile)?;
    if !opts.deps.is_empty() {
        let target = crate::deps::Toolset {
            arch: crate::platform::Arch::host(),
            cc: cc.clone(),
            cxx: cxx.clone(),
            profile: opts.preference.profile,
        };
        let entries = crate::deps::ensure(&opts.deps, &target, rep)?;
        env.extend(crate::deps::build_env(&entries));
    }
    rep.step("detect", format!("{} in {}; CC: {} ({})", system.label(), src.display(), cc.name, cc.version));
    let layout = Layout {
        src: src.clone(),
        build: state.join("build"),
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        profile: opts.preference.profile,
        configure_args: opts.configure_args.clone(),
        targets: opts.targets.clone(),
        cc: env.bin.join("staticize-cc"),
        cxx: cxx.as_ref().map(|_| env.bin.join("staticize-c++")),
    };
    let steps = steps_for(system, &layout, opts)?;
    let before = tree::snapshot(&src);
    let _ = std::fs::remove_file(env.link_log());
    run_steps(&steps, &env, &state, &cc, rep)?;
    let after = tree::snapshot(&src);
    let remembered = read_remembered(&state);
    let mut executables = Vec::new();
    for (rel, rebuilt) in tree::produced(&src, &before, &after, &remembered) {
        let path = src.join(&rel);
        let linkage = elf::inspect(&path)?;
        if matches!(linkage.kind, LinkKind::Static | LinkKind::StaticPie | LinkKind::Dynamic) {
            executables.push(Executable { path, rel, linkage, rebuilt });
        }
    }
    remember(&state, &executables)?;
    let links = cc::read_link_log(&env.link_log());
    Ok(Built { system, src, executables, links, cc })
}

fn no_build_system(src: &Path) -> Error {
    Error::usage(
        format!(
            "no build system found in {} (no CMakeLists.txt, meson.build, configure, configure.ac or Makefile)",
            src.display()
        ),
        format!("give the build command after --, e.g. staticize build {} -- make prog", src.display()),
    )
}

fn steps_for(system: System, layout: &Layout, opts: &Options) -> Result<Vec<Step>> {
    if system == System::Command {
        let command = Command::from_argv(&opts.command).dir(&layout.src);
        return Ok(vec![Step { verb: "build", command, setup: false }]);
    }
    // A tree configured in place refuses a second, out-of-tree configure.
    let in_tree = layout.src.join("config.status").is_file() && !layout.build.join("config.status").is_file();
    std::fs::create_dir_all(&layout.build).map_err(|e| Error::io("create the build directory", &layout.build, e))?;
    Ok(detect::plan(system, layout, in_tree))
}

/// Runs the steps; set-up steps only when the build directory was not set up the same way.
fn run_steps(steps: &[Step], env: &Toolbox, state: &Path, cc: &Chosen, rep: &Reporter) -> Result<()> {
    let setup_file = state.join("setup");
    let fingerprint = {
        let mut f: Vec<String> = steps
            .iter()
            .filter(|s| s.setup && s.command.summary() != "autoreconf -fi")
            .map(|s| s.command.summary())
            .collect();
        f.push(serde_json::to_string(cc).unwrap_or_default());
        // Other deps (or none) configure differently: the set-up runs again.
        f.extend(env.value(crate::deps::ENV_RESOLVED).map(str::to_string));
        f.join("\n")
    };
    let set_up = std::fs::read_to_string(&setup_file).is_ok_and(|s| s == fingerprint);
    for step in steps {
        if step.setup && set_up {
            rep.step(step.verb, format!("already set up in {} (skipped)", state.display()));
            continue;
        }
        rep.step(step.verb, step.command.summary());
        let cmd = env.apply(step.command.clone());
        cmd.run_merged(step.verb).map_err(|e| explain::missing_library(e, &cc.name, &cc.libc))?;
        if step.setup {
            write_atomic(&setup_file, fingerprint.as_bytes())?;
        }
    }
    Ok(())
}

fn read_remembered(state: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_to_string(state.join("executables")).unwrap_or_default().lines().map(PathBuf::from).collect()
}

fn remember(state: &Path, found: &[Executable]) -> Result<()> {
    let text: String = found.iter().map(|e| format!("{}\n", e.rel.display())).collect();
    write_atomic(&state.join("executables"), text.as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = output::temp_beside(path)?;
    tmp.write_all(bytes).map_err(|e| Error::io("write", path, e))?;
    output::persist(tmp, path, 0o644)
}
