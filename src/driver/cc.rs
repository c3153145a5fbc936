//! `staticize cc` / `staticize c++`: a drop-in compiler for build systems. Each invocation
//! learns its compiler (the one `staticize build` chose, else the environment's preference),
//! gets the flags of its deps, and logs links of executables so `staticize build` can explain
//! a dynamic result. How each kind of invocation runs is [`crate::toolchain::cc`]'s.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::deps::{self, Flags, Toolset, recipe};
use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::process::Command;
use crate::report::Reporter;
use crate::toolchain::cc::{Chosen, Lang, Mode, choose_for, classify};
use crate::toolchain::cross::ENV_PLATFORM;
use crate::toolchain::toolbox::ENV_LINK_LOG;
use crate::toolchain::{Preference, Profile, spec};

/// The environment variable naming the compiler (`--compiler`): musl-gcc, zig, gcc, g++.
pub(crate) const ENV_COMPILER: &str = "STATICIZE_COMPILER";
/// The environment variable naming the C library: musl or glibc.
pub(crate) const ENV_LIBC: &str = "STATICIZE_LIBC";
/// The environment variable naming the profile: size or speed.
pub(crate) const ENV_PROFILE: &str = "STATICIZE_PROFILE";

/// The architecture STATICIZE_PLATFORM names, else the host's.
pub(crate) fn env_arch() -> Result<Arch> {
    match std::env::var(ENV_PLATFORM).ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(Arch::host()),
        Some(v) => Arch::parse(ENV_PLATFORM, &v),
    }
}

/// The preference the environment states (STATICIZE_COMPILER, STATICIZE_LIBC, STATICIZE_PROFILE).
pub(crate) fn env_preference(lang: Lang) -> Result<Preference> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let profile = match var(ENV_PROFILE).as_deref() {
        None | Some("size") => Profile::Size,
        Some("speed") => Profile::Speed,
        Some(other) => {
            return Err(Error::usage(format!("{ENV_PROFILE}={other} is not a profile"), "use size or speed"));
        }
    };
    let libc = var(ENV_LIBC);
    if let Some(l) = libc.as_deref().filter(|l| *l != "musl" && *l != "glibc") {
        return Err(Error::usage(format!("{ENV_LIBC}={l} is not a C library"), "use musl or glibc"));
    }
    // A compiler named for the other language (musl-gcc for C++) leaves the choice to the libc.
    let names = spec(lang.key()).compiler;
    let compiler = var(ENV_COMPILER).filter(|c| names.iter().any(|n| &n.name == c));
    Ok(Preference { compiler, libc, profile })
}

/// The compiler for `lang`: the one `staticize build` chose, else the toolchain order with the
/// environment's preference.
pub(crate) fn choose(lang: Lang) -> Result<Chosen> {
    if let Ok(json) = std::env::var(lang.chosen_env()) {
        return serde_json::from_str(&json).map_err(|e| {
            Error::usage(
                format!("{} is not a compiler staticize chose: {e}", lang.chosen_env()),
                format!("unset {}", lang.chosen_env()),
            )
        });
    }
    choose_for(lang, &env_preference(lang)?, env_arch()?)
}

/// A staticize-cc's arguments with the flags of its deps: those `staticize build` resolved
/// (STATICIZE_DEPS_RESOLVED: -I and -L; configure and pkg-config add the -l, and a link that
/// names a dep's library gets what that library needs after it), else those
/// STATICIZE_DEPS names, built first when the cache lacks them (-I, -L and -l). Compiles and
/// preprocessing get -I, links get everything; probes nothing.
pub(crate) fn wrapper_args(chosen: &Chosen, args: Vec<OsString>) -> Result<Vec<OsString>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let resolved_json = var(deps::ENV_RESOLVED);
    let resolved = resolved_json.is_some();
    let flags: Flags = if let Some(json) = resolved_json {
        serde_json::from_str(&json).map_err(|e| {
            Error::usage(
                format!("{} is not what staticize build wrote: {e}", deps::ENV_RESOLVED),
                format!("unset {}", deps::ENV_RESOLVED),
            )
        })?
    } else if let Some(names) = var(deps::ENV_DEPS) {
        let names = recipe::split_names(&[names]);
        let profile = env_preference(Lang::C).map(|p| p.profile).unwrap_or_default();
        // Quiet: a compiler's stderr is read by configure scripts.
        let entries = deps::ensure(
            &names,
            &Toolset::for_chosen(chosen.clone(), env_arch()?, profile),
            &crate::remote_cache::Settings::from_env(),
            &Reporter::new(true),
        )?;
        Flags::of(&entries)
    } else {
        return Ok(args);
    };
    let preprocess = args.iter().any(|a| a == "-E");
    let extra: Vec<&String> = match classify(&args) {
        Mode::Link => flags.compile.iter().chain(&flags.libdirs).collect(),
        Mode::Compile => flags.compile.iter().collect(),
        Mode::PassThrough if preprocess => flags.compile.iter().collect(),
        Mode::PassThrough => Vec::new(),
    };
    let libs: Vec<&String> = match classify(&args) {
        Mode::Link if resolved => needed_after(&flags, &args),
        Mode::Link => flags.libs.iter().collect(),
        _ => Vec::new(),
    };
    // -I and -L before the project's arguments (its own directories win), -l after its objects.
    Ok(extra.into_iter().map(OsString::from).chain(args).chain(libs.into_iter().map(OsString::from)).collect())
}

/// The `-l` flags a `staticize build` link of `args` lacks: what the deps' libraries it names
/// need ([`Flags::needs`]) and it does not name after them (a configure's `-lcurl` alone).
fn needed_after<'f>(flags: &'f Flags, args: &[OsString]) -> Vec<&'f String> {
    let named: Vec<&str> = args.iter().filter_map(|a| a.to_str()).filter(|a| a.starts_with("-l")).collect();
    let mut out: Vec<&String> = Vec::new();
    for (i, lib) in named.iter().enumerate() {
        for need in flags.needs.get(*lib).into_iter().flatten() {
            if !named[i + 1..].contains(&need.as_str()) && !out.contains(&need) {
                out.push(need);
            }
        }
    }
    out
}

/// One executable link, as logged for `staticize build`'s explanations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LinkRecord {
    /// The directory the link ran in.
    pub dir: PathBuf,
    /// The output named with -o (relative to `dir`), or a.out.
    pub output: PathBuf,
    /// The command line as run.
    pub command: String,
    /// The static archives the linker read (empty when the link was not traced).
    #[serde(default)]
    pub archives: Vec<PathBuf>,
}

/// A link of an executable under `staticize build` (STATICIZE_LINK_LOG set) with a compiler
/// that takes `-Wl,--trace`: run traced, its stdout passed on without the trace, logged with
/// the archives it read (the SBOM lists their packages). Returns its exit code; `None` when the
/// link is not to be traced (the caller replaces itself with the compiler).
pub(crate) fn traced_link(args: &[OsString], cmd: &Command, chosen: &Chosen) -> Result<Option<i32>> {
    if std::env::var_os(ENV_LINK_LOG).is_none() || !crate::driver::linktrace::traceable(&chosen.argv) {
        log_link(args, cmd, Vec::new());
        return Ok(None);
    }
    let traced = cmd.clone().arg(crate::driver::linktrace::TRACE);
    let (code, stdout) = traced.run_capturing_stdout(&format!("run {}", chosen.name))?;
    let (archives, rest) = crate::driver::linktrace::parse_trace(&String::from_utf8_lossy(&stdout));
    let _ = std::io::stdout().lock().write_all(rest.as_bytes());
    if code == 0 {
        log_link(args, cmd, archives);
    }
    Ok(Some(code))
}

/// Appends `cmd`'s record to the link log when STATICIZE_LINK_LOG is set; best effort (a
/// compiler never fails because its log could not be written).
pub(crate) fn log_link(args: &[OsString], cmd: &Command, archives: Vec<PathBuf>) {
    let Some(path) = std::env::var_os(ENV_LINK_LOG) else { return };
    let output = args
        .iter()
        .position(|a| a == "-o")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .or_else(|| args.iter().find_map(|a| a.to_str()?.strip_prefix("-o").map(PathBuf::from)))
        .unwrap_or_else(|| PathBuf::from("a.out"));
    let rec = LinkRecord { dir: std::env::current_dir().unwrap_or_default(), output, command: cmd.summary(), archives };
    let Ok(mut line) = serde_json::to_vec(&rec) else { return };
    line.push(b'\n');
    // One write of one line with O_APPEND: parallel make jobs do not interleave lines.
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(&line);
    }
}

/// Reads the link log written during a build (missing or damaged lines are skipped).
pub(crate) fn read_link_log(path: &std::path::Path) -> Vec<LinkRecord> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}
