//! `staticize cc` / `staticize c++`: a drop-in compiler for build systems. Each invocation is
//! classified from its arguments: probes, preprocessing, compile-only runs and shared-library
//! links pass through untouched (so configure and CMake checks see the real compiler); links of
//! executables get the chosen profile's static and size flags.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::driver::c::Lang;
use crate::error::{Error, Result};
use crate::process::Command;
use crate::toolchain::{Preference, Profile, spec};

/// The environment variable naming the compiler (`--compiler`): musl-gcc, zig, gcc, g++.
pub(crate) const ENV_COMPILER: &str = "STATICIZE_COMPILER";
/// The environment variable naming the C library: musl or glibc.
pub(crate) const ENV_LIBC: &str = "STATICIZE_LIBC";
/// The environment variable naming the profile: size or speed.
pub(crate) const ENV_PROFILE: &str = "STATICIZE_PROFILE";
/// When set, every link of an executable is logged to this file (one JSON line each), so a
/// dynamic result can be traced to the step that made it.
pub(crate) const ENV_LINK_LOG: &str = "STATICIZE_LINK_LOG";

/// What one compiler invocation does, judged from its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Version, probe, preprocess, dependency-only or shared/relocatable link: untouched.
    PassThrough,
    /// Compile to objects (`-c`, `-S`): code-generation flags that make --gc-sections work.
    Compile,
    /// A link of an executable: static and size flags added.
    Link,
}

/// Classifies a compiler command line (the arguments after the compiler's name).
pub(crate) fn classify<S: AsRef<OsStr>>(args: &[S]) -> Mode {
    let mut compile = false;
    let mut inputs = false;
    for a in args {
        let a = a.as_ref().to_string_lossy();
        match a.as_ref() {
            "-E" | "-M" | "-MM" | "--version" | "-###" | "-dumpversion" | "-dumpfullversion" | "-dumpmachine"
            | "-dumpspecs" | "-shared" | "-r" | "--help" | "-qversion" => {
                return Mode::PassThrough;
            }
            "-c" | "-S" => compile = true,
            s if s.starts_with("-print-") || s.starts_with("--print-") || s.starts_with("--help=") => {
                return Mode::PassThrough;
            }
            s if !s.starts_with('-') => inputs = true,
            _ => {}
        }
    }
    if compile {
        Mode::Compile
    } else if inputs {
        Mode::Link
    } else {
        // No input and no stop flag (e.g. `cc -Wl,--version`): nothing to make static.
        Mode::PassThrough
    }
}

/// A compiler chosen once, carried to every invocation of a build through the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Chosen {
    /// Its name ("musl-gcc", "zig", "gcc", "g++", or "custom").
    pub name: String,
    /// The C library it links.
    pub libc: String,
    /// The command before any flags.
    pub argv: Vec<String>,
    /// Flags every executable link gets (e.g. -static).
    pub link_flags: Vec<String>,
    /// The profile's flags (optimisation, strip, section garbage collection).
    pub profile_flags: Vec<String>,
    /// Its version line.
    pub version: String,
}

impl Lang {
    /// The variable carrying a compiler chosen by `staticize build` to each `staticize cc`.
    pub fn chosen_env(self) -> &'static str {
        match self {
            Lang::C => "STATICIZE_CC_CHOSEN",
            Lang::Cxx => "STATICIZE_CXX_CHOSEN",
        }
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
    let names = spec(lang_key(lang)).compiler;
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
    choose_with(lang, &env_preference(lang)?)
}

/// The compiler for `lang` under an explicit preference.
pub(crate) fn choose_with(lang: Lang, pref: &Preference) -> Result<Chosen> {
    let c = spec(lang_key(lang)).select(pref)?;
    Ok(Chosen {
        name: c.name,
        libc: c.libc,
        argv: c.argv,
        link_flags: c.flags,
        profile_flags: c.profile_flags,
        version: c.version,
    })
}

/// The toolchain file of a language (driver/c.rs keeps its own mapping private).
fn lang_key(lang: Lang) -> &'static str {
    match lang {
        Lang::C => "c",
        Lang::Cxx => "cxx",
    }
}

/// Flags that only change code generation (one section per function and object), so the
/// final static link can drop what is unused; safe for any compile.
const COMPILE_FLAGS: &[&str] = &["-ffunction-sections", "-fdata-sections"];

impl Chosen {
    /// The command that runs this compiler for `args`, with flags for its mode. Ours come
    /// before the project's so the project's own -O and -f choices win.
    pub(crate) fn command(&self, args: &[OsString]) -> (Mode, Command) {
        let mode = classify(args);
        let cmd = Command::from_argv(&self.argv);
        let cmd = match mode {
            Mode::PassThrough => cmd,
            Mode::Compile => cmd.args(COMPILE_FLAGS),
            Mode::Link => cmd.args(&self.link_flags).args(self.link_profile_flags()),
        };
        (mode, cmd.args(args))
    }

    /// The profile's flags that matter at link time: -O levels do not, and would override the
    /// project's if it compiles and links in one step, so they are left out.
    fn link_profile_flags(&self) -> Vec<&String> {
        self.profile_flags.iter().filter(|f| !f.starts_with("-O")).collect()
    }
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
}

/// Appends `cmd`'s record to the link log when STATICIZE_LINK_LOG is set; best effort (a
/// compiler never fails because its log could not be written).
pub(crate) fn log_link(args: &[OsString], cmd: &Command) {
    let Some(path) = std::env::var_os(ENV_LINK_LOG) else { return };
    let output = args
        .iter()
        .position(|a| a == "-o")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .or_else(|| args.iter().find_map(|a| a.to_str()?.strip_prefix("-o").map(PathBuf::from)))
        .unwrap_or_else(|| PathBuf::from("a.out"));
    let rec = LinkRecord { dir: std::env::current_dir().unwrap_or_default(), output, command: cmd.summary() };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(args: &[&str]) -> Mode {
        classify(args)
    }

    #[test]
    fn probes_and_partial_steps_pass_through() {
        for args in [
            &["--version"][..],
            &["-v"],
            &["-V"],
            &["-dumpversion"],
            &["-print-prog-name=ld"],
            &["-E", "x.c"],
            &["-M", "x.c"],
            &["-shared", "-fPIC", "a.o", "-o", "libx.so"],
            &["-r", "a.o", "b.o", "-o", "ab.o"],
            &["-Wl,--version"],
        ] {
            assert_eq!(mode(args), Mode::PassThrough, "{args:?}");
        }
    }

    #[test]
    fn compiles_and_links_are_told_apart() {
        assert_eq!(mode(&["-O2", "-c", "x.c", "-o", "x.o"]), Mode::Compile);
        assert_eq!(mode(&["-MD", "-MF", "x.d", "-c", "x.c"]), Mode::Compile);
        assert_eq!(mode(&["-S", "x.c"]), Mode::Compile);
        assert_eq!(mode(&["-o", "lua", "lua.o", "liblua.a", "-lm"]), Mode::Link);
        assert_eq!(mode(&["conftest.c"]), Mode::Link);
    }

    fn chosen() -> Chosen {
        Chosen {
            name: "musl-gcc".into(),
            libc: "musl".into(),
            argv: vec!["musl-gcc".into()],
            link_flags: vec!["-static".into()],
            profile_flags: vec!["-Os".into(), "-s".into(), "-Wl,--gc-sections".into()],
            version: "x".into(),
        }
    }

    #[test]
    fn links_get_static_and_size_flags_before_the_projects() {
        let args: Vec<OsString> = ["-O2", "-o", "lua", "lua.o"].iter().map(OsString::from).collect();
        let (m, cmd) = chosen().command(&args);
        assert_eq!(m, Mode::Link);
        assert_eq!(cmd.summary(), "musl-gcc -static -s -Wl,--gc-sections -O2 -o lua lua.o");
        let args: Vec<OsString> = ["-shared", "-o", "x.so", "x.o"].iter().map(OsString::from).collect();
        assert_eq!(chosen().command(&args).1.summary(), "musl-gcc -shared -o x.so x.o");
    }
}
