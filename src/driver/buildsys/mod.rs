//! `staticize build`'s domain: recognise a project's build system, run it with staticize cc as
//! the compiler, find the executables it produced, judge each, and explain dynamic ones.
//!
//! Everything staticize keeps for a project lives in `DIR/.staticize-build/`: `bin/` (the
//! staticize-cc and staticize-c++ links), `build/` (out-of-tree builds), `links.log` (the
//! executable links of the last run), `setup` (what the build directory was configured with)
//! and `executables` (what earlier runs found, so an up-to-date build still finds them). A
//! build for another platform keeps the same in `.staticize-build/linux-arm64/`, beside the
//! host's, so each platform rebuilds incrementally.

pub(crate) mod copy;
pub(crate) mod detect;
pub(crate) mod explain;
pub(crate) mod select;
pub(crate) mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::driver::cc::{self, LinkRecord};
use crate::driver::libs;
use crate::elf::{self, LinkKind, Linkage};
use crate::error::{Error, Result};
use crate::output;
use crate::platform::Arch;
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
    /// Add the recipe that provides what a failed step lacked, and run again (`--auto-deps`).
    pub auto_deps: bool,
    /// The registry the deps are shared through.
    pub cache: crate::remote_cache::Settings,
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
    /// Other paths (relative to the project) holding the same bytes, which `--bin` also names.
    pub copies: Vec<PathBuf>,
}

/// The result of running a project's build.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    /// The build system that ran.
    pub system: System,
    /// The project directory (absolute).
    pub src: PathBuf,
    /// Where the build ran: the project directory, or its private copy.
    pub work: PathBuf,
    /// The executables found, sorted by path (relative to `work`).
    pub executables: Vec<Executable>,
    /// The executable links staticize cc did in this run.
    pub links: Vec<LinkRecord>,
    /// The links of earlier runs whose outputs are still there.
    pub earlier_links: Vec<LinkRecord>,
    /// The C compiler under staticize cc.
    pub cc: Chosen,
    /// The C++ compiler under staticize c++, when one is installed.
    pub cxx: Option<Chosen>,
    /// The platform it was built for.
    pub arch: Arch,
}

/// The state directory of the build for `arch` in the project `src`: the host's is
/// `.staticize-build` itself, another platform's a directory in it (`linux-arm64`).
pub(crate) fn state_dir(src: &Path, arch: Arch) -> PathBuf {
    let top = src.join(STATE_DIR);
    if arch == Arch::host() { top } else { top.join(arch.platform().replace('/', "-")) }
}

/// The private copy of the source tree (in the state directory) for builds that need their tree.
const COPY_DIR: &str = "tree";
/// The out-of-tree build directory (in the state directory).
const BUILD_DIR: &str = "build";
/// Present when a run found, from a failure, that the project builds only in its source tree.
const COPY_MARK: &str = "in-tree";

/// Runs the build of the project in `dir` statically for `arch` and finds what it produced. A
/// build that must run in its source tree runs in a private copy of it; with `--auto-deps`, a
/// step that lacked what a recipe provides runs again with that recipe as a `--dep`.
pub(crate) fn build(dir: &Path, opts: &Options, arch: Arch, rep: &Reporter) -> Result<Built> {
    let src = std::fs::canonicalize(dir).map_err(|e| Error::io("open the project directory", dir, e))?;
    if !src.is_dir() {
        return Err(Error::input(&src, "is not a directory", Some("pass the project directory".into())));
    }
    let system = if opts.command.is_empty() {
        detect::detect(&src).ok_or_else(|| no_build_system(&src))?
    } else {
        System::Command
    };
    let state = state_dir(&src, arch);
    let (cc, cxx) = compilers(&opts.preference, arch)?;
    let own_tree = system != System::Command && detect::needs_source_tree(system, &src);
    let mut run =
        Run { src, state, system, cc, cxx, arch, in_copy: false, deps: opts.deps.clone(), cache: opts.cache.clone() };
    run.in_copy = own_tree || run.state.join(COPY_MARK).is_file();
    rep.step("detect", run.detected(own_tree));
    loop {
        let e = match run.attempt(opts, rep) {
            Ok(built) => return Ok(built),
            Err(e) => e,
        };
        let output = failure_output(&e);
        let outside = detect::failed_outside_its_tree(output, &run.src)
            || detect::configured_without_makefile(&run.state.join(BUILD_DIR));
        if !run.in_copy && system != System::Command && outside {
            rep.step(
                "in-tree",
                format!(
                    "{} works only inside its source tree: building again in a private copy, {} (kept for the next run)",
                    system.label(),
                    run.state.join(COPY_DIR).display()
                ),
            );
            output::write_atomic(
                &run.state.join(COPY_MARK),
                b"the out-of-tree build failed; builds run in tree/\n",
                0o644,
            )?;
            run.in_copy = true;
            continue;
        }
        let missing = libs::all_missing(output);
        let wanted = missing.iter().find_map(|m| m.recipe().filter(|r| !run.deps.contains(&r.name)).map(|r| (m, r)));
        match wanted {
            Some((m, r)) if opts.auto_deps && run.cc.libc == "musl" => {
                rep.step(
                    "auto-deps",
                    format!(
                        "adding --dep {} (it provides the {} the build lacked) and building again",
                        r.name,
                        m.describe()
                    ),
                );
                run.deps.push(r.name);
            }
            Some((m, r)) if run.cc.libc == "musl" => return Err(needs_dep(e, m, &r.name, &run.deps)),
            _ => return Err(explain::missing_library(e, &run.cc.name, &run.cc.libc)),
        }
    }
}

/// One project's build as it is being tried: where, with which compilers and deps.
struct Run {
    /// The project directory (absolute).
    src: PathBuf,
    /// Its state directory.
    state: PathBuf,
    /// The build system.
    system: System,
    /// The C compiler under staticize cc.
    cc: Chosen,
    /// The C++ compiler under staticize c++, when one is installed.
    cxx: Option<Chosen>,
    /// The platform built for.
    arch: Arch,
    /// Whether the build runs in the private copy of the tree.
    in_copy: bool,
    /// The recipes made visible to the build.
    deps: Vec<String>,
    /// The registry the deps are shared through.
    cache: crate::remote_cache::Settings,
}

impl Run {
    fn detected(&self, own_tree: bool) -> String {
        let mut line =
            format!("{} in {}; CC: {} ({})", self.system.label(), self.src.display(), self.cc.name, self.cc.version);
        if self.cross() {
            line.push_str(&format!(
                "; for {}, built out of tree in {} (helpers the build runs: this machine's compiler)",
                self.arch.platform(),
                self.state.display()
            ));
        }
        if self.in_copy {
            let why =
                if own_tree { "it builds inside its source tree" } else { "an earlier run found it needs its tree" };
            line.push_str(&format!("; {why}: built in a private copy, {}", self.state.join(COPY_DIR).display()));
        }
        line
    }

    /// Whether the build is for another architecture than this machine's.
    fn cross(&self) -> bool {
        self.arch != Arch::host()
    }

    /// The toolbox with the deps' flags, `*-config` scripts (PATH) and .pc files (pkg-config),
    /// and the deps' prefixes; a cross build's archiver and build-machine compilers.
    fn toolbox(&self, profile: crate::toolchain::Profile, rep: &Reporter) -> Result<(Toolbox, Vec<PathBuf>)> {
        let mut env = Toolbox::create(&self.state, &self.cc, self.cxx.as_ref(), profile)?;
        if self.cross() {
            let (ar, ranlib) = crate::toolchain::cross::archivers(&self.cc, &env.bin)?;
            env.extend([("AR".to_string(), ar), ("RANLIB".to_string(), ranlib)]);
            env.extend(crate::toolchain::cross::build_machine_env(self.arch));
        }
        if self.deps.is_empty() {
            return Ok((env, Vec::new()));
        }
        let target = crate::deps::Toolset { arch: self.arch, cc: self.cc.clone(), cxx: self.cxx.clone(), profile };
        let entries = crate::deps::ensure(&self.deps, &target, &self.cache, rep)?;
        env.extend(crate::deps::build_env(&entries));
        let bins: Vec<String> = entries
            .iter()
            .map(|e| e.prefix.join("bin"))
            .filter(|b| b.is_dir())
            .map(|b| b.display().to_string())
            .collect();
        if !bins.is_empty() {
            let path = format!("{}:{}", bins.join(":"), env.value("PATH").unwrap_or_default());
            env.extend([("PATH".to_string(), path)]);
        }
        Ok((env, entries.into_iter().map(|e| e.prefix).collect()))
    }

    /// A cross build's files for CMake and Meson, written into the state directory.
    fn cross_plan(&self, env: &Toolbox, roots: Vec<PathBuf>) -> Result<Option<detect::CrossPlan>> {
        use crate::toolchain::cross;
        if !self.cross() {
            return Ok(None);
        }
        let tools = cross::CrossTools {
            arch: self.arch,
            cc: env.bin.join("staticize-cc"),
            cxx: self.cxx.as_ref().map(|_| env.bin.join("staticize-c++")),
            ar: env.value("AR").unwrap_or("ar").to_string(),
            ranlib: env.value("RANLIB").unwrap_or("ranlib").to_string(),
            roots,
        };
        let plan = detect::CrossPlan {
            configure_args: cross::configure_args(self.arch, &self.cc.libc),
            cmake_toolchain: self.state.join("toolchain.cmake"),
            meson_cross: self.state.join("meson-cross.ini"),
        };
        let empty = self.state.join("no-root");
        std::fs::create_dir_all(&empty).map_err(|e| Error::io("create", &empty, e))?;
        cross::write(&plan.cmake_toolchain, &cross::cmake_toolchain(&tools, &empty))?;
        let pkg = env.value("PKG_CONFIG_LIBDIR").unwrap_or_default();
        cross::write(&plan.meson_cross, &cross::meson_cross_file(&tools, pkg))?;
        Ok(Some(plan))
    }

    /// What the tree snapshot leaves out: the private copy, and the other platforms' builds.
    fn skipped(&self) -> Vec<PathBuf> {
        let mut skip = vec![self.state.join(COPY_DIR)];
        for a in Arch::ALL.into_iter().filter(|a| *a != self.arch) {
            let other = state_dir(&self.src, a);
            if a == Arch::host() {
                skip.extend([other.join("build"), other.join(COPY_DIR)]);
            } else {
                skip.push(other);
            }
        }
        skip
    }

    /// Runs the steps once (in the copy, brought up to date first, when `in_copy`) and finds
    /// the executables.
    fn attempt(&self, opts: &Options, rep: &Reporter) -> Result<Built> {
        let (env, roots) = self.toolbox(opts.preference.profile, rep)?;
        let work = if self.in_copy {
            let copy = self.state.join(COPY_DIR);
            let synced = copy::sync(&self.src, &copy, &[STATE_DIR])?;
            rep.step(
                "copy",
                format!("{} files copied to {}, {} up to date", synced.copied, copy.display(), synced.kept),
            );
            copy
        } else {
            self.src.clone()
        };
        let layout = Layout {
            src: work.clone(),
            build: self.state.join(BUILD_DIR),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            profile: opts.preference.profile,
            configure_args: opts.configure_args.clone(),
            targets: opts.targets.clone(),
            cc: env.bin.join("staticize-cc"),
            cxx: self.cxx.as_ref().map(|_| env.bin.join("staticize-c++")),
            autoconf: self.system != System::Configure || crate::toolchain::cross::autoconf_script(&work),
            cross: self.cross_plan(&env, roots)?,
        };
        let steps = steps_for(self.system, &layout, opts, self.in_copy)?;
        let skip = self.skipped();
        let before = tree::snapshot(&work, &skip);
        let earlier = cc::read_link_log(&env.link_log());
        run_steps(&steps, &env, &self.state, &self.cc, rep)?;
        let after = tree::snapshot(&work, &skip);
        let mut links = cc::read_link_log(&env.link_log());
        let this_run = links.split_off(earlier.len().min(links.len()));
        let executables = found(&work, &self.state, self.arch, (&before, &after), &links, &this_run)?;
        keep_link_log(&env.link_log(), &links, &this_run)?;
        Ok(Built {
            system: self.system,
            src: self.src.clone(),
            work,
            executables,
            links: this_run,
            earlier_links: links,
            cc: self.cc.clone(),
            cxx: self.cxx.clone(),
            arch: self.arch,
        })
    }
}

/// The output a failed step printed (the tail make and configure left), for diagnosis.
fn failure_output(e: &Error) -> &str {
    match e {
        Error::CommandFailed { stderr, .. } => stderr,
        _ => "",
    }
}

/// A musl build that lacked what a recipe provides: the error names it and the `--dep` to add.
fn needs_dep(e: Error, missing: &libs::Missing, recipe: &str, deps: &[String]) -> Error {
    let Error::CommandFailed { step, command, status, stderr } = e else { return e };
    let all: Vec<&str> = deps.iter().map(String::as_str).chain([recipe]).collect();
    Error::Build {
        step,
        message: format!("`{command}` {status}: the build found no {}\n{stderr}", missing.describe()),
        help: Some(format!(
            "add --dep {}: staticize builds {recipe} for musl from its source once, caches it, and makes it visible to the build (-I, -L, pkg-config, its *-config script) — or pass --auto-deps",
            all.join(",")
        )),
    }
}

/// The executables of this run for `arch`: new or changed files, those earlier runs found, and
/// those any logged link (this run's or an earlier, failed one's) wrote; identical files are
/// one. Another machine's executables are the build's own helpers (a cross build's
/// generators), not its programs.
fn found(
    work: &Path,
    state: &Path,
    arch: Arch,
    (before, after): (&tree::Snapshot, &tree::Snapshot),
    earlier: &[LinkRecord],
    this_run: &[LinkRecord],
) -> Result<Vec<Executable>> {
    let linked = |recs: &[LinkRecord]| -> BTreeSet<PathBuf> {
        recs.iter().filter_map(|r| r.dir.join(&r.output).strip_prefix(work).ok().map(Path::to_path_buf)).collect()
    };
    let mut known = read_remembered(state);
    known.extend(linked(earlier));
    let now = linked(this_run);
    let mut executables = Vec::new();
    for (rel, changed) in tree::produced(work, before, after, &known.union(&now).cloned().collect()) {
        let path = work.join(&rel);
        let linkage = elf::inspect(&path)?;
        let programs = matches!(linkage.kind, LinkKind::Static | LinkKind::StaticPie | LinkKind::Dynamic);
        if programs && linkage.machine == arch.name() {
            let rebuilt = changed || now.contains(&rel);
            executables.push(Executable { path, rel, linkage, rebuilt, copies: Vec::new() });
        }
    }
    let executables = one_per_content(executables, |e| now.contains(&e.rel) || known.contains(&e.rel));
    remember(state, &executables)?;
    Ok(executables)
}

/// Identical files are one executable (lz4's Makefile copies programs/lz4 to ./lz4): of each
/// set of same bytes the one a link wrote is kept (`linked`), else the shortest path.
fn one_per_content(all: Vec<Executable>, linked: impl Fn(&Executable) -> bool) -> Vec<Executable> {
    use sha2::{Digest, Sha256};
    let digest = |e: &Executable| std::fs::read(&e.path).map(|b| hex::encode(Sha256::digest(b))).unwrap_or_default();
    let mut by_content: std::collections::BTreeMap<(u64, String), Vec<Executable>> = Default::default();
    for e in all {
        by_content.entry((e.linkage.size, digest(&e))).or_default().push(e);
    }
    let mut kept: Vec<Executable> = by_content
        .into_values()
        .filter_map(|mut same| {
            same.sort_by_key(|e| (!linked(e), e.rel.components().count(), e.rel.clone()));
            let rebuilt = same.iter().any(|e| e.rebuilt);
            let mut rest = same.into_iter();
            let mut first = rest.next()?;
            first.rebuilt = rebuilt;
            // zstd's Makefile links programs/obj/conf_…/zstd and copies it to programs/zstd:
            // `--bin programs/zstd` must still find it.
            first.copies = rest.map(|e| e.rel).collect();
            Some(first)
        })
        .collect();
    kept.sort_by(|a, b| a.rel.cmp(&b.rel));
    kept
}

/// Keeps the links of this run and those of earlier runs whose output is still there, so the
/// next run still knows what a failed run linked.
fn keep_link_log(log: &Path, earlier: &[LinkRecord], this_run: &[LinkRecord]) -> Result<()> {
    let mut kept: Vec<&LinkRecord> = Vec::new();
    for r in earlier.iter().chain(this_run).rev() {
        let out = r.dir.join(&r.output);
        if out.is_file() && !kept.iter().any(|k| k.dir.join(&k.output) == out) {
            kept.push(r);
        }
    }
    kept.reverse();
    let text: String = kept.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|l| l + "\n").collect();
    output::write_atomic(log, text.as_bytes(), 0o644)
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

fn steps_for(system: System, layout: &Layout, opts: &Options, in_copy: bool) -> Result<Vec<Step>> {
    if system == System::Command {
        let command = Command::from_argv(&opts.command).dir(&layout.src);
        return Ok(vec![Step { verb: "build", command, setup: false }]);
    }
    // A tree configured in place refuses a second, out-of-tree configure; the private copy
    // is the tree the build runs in.
    let in_tree =
        in_copy || (layout.src.join("config.status").is_file() && !layout.build.join("config.status").is_file());
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
        // The raw failure goes up: the caller reads its output for what the build lacked.
        cmd.run_merged(step.verb)?;
        if step.setup {
            output::write_atomic(&setup_file, fingerprint.as_bytes(), 0o644)?;
        }
    }
    Ok(())
}

fn read_remembered(state: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_to_string(state.join("executables")).unwrap_or_default().lines().map(PathBuf::from).collect()
}

fn remember(state: &Path, found: &[Executable]) -> Result<()> {
    let text: String = found.iter().map(|e| format!("{}\n", e.rel.display())).collect();
    output::write_atomic(&state.join("executables"), text.as_bytes(), 0o644)
}
