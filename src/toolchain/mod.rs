//! Toolchains as data: the embedded `toolchains/*.toml` files say which compilers to try in
//! which order, with which flags per profile and how to install each; this module finds them.
//! Below it, what every C/C++ build shares (`staticize c`, `staticize build`, `--dep` library
//! builds): the compiler chosen for a language ([`cc`]) and the environment a build system
//! runs in ([`toolbox`]). Nothing here knows drivers or deps: both build on it.

pub(crate) mod cc;
pub(crate) mod cross;
pub(crate) mod toolbox;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::process::Command;

/// The embedded toolchain files, by language name.
pub(crate) const EMBEDDED: &[(&str, &str)] = &[
    ("c", include_str!("../../toolchains/c.toml")),
    ("cxx", include_str!("../../toolchains/cxx.toml")),
    ("go", include_str!("../../toolchains/go.toml")),
    ("rust", include_str!("../../toolchains/rust.toml")),
    ("node", include_str!("../../toolchains/node.toml")),
    ("trace", include_str!("../../toolchains/trace.toml")),
    ("prove", include_str!("../../toolchains/prove.toml")),
];

/// The languages whose toolchain file lists compilers (`[[compiler]]`); node's lists tools.
pub(crate) const COMPILER_LANGUAGES: &[&str] = &["c", "cxx", "go", "rust"];

/// Parses the embedded toolchain file of `language` into `T`: the one loader for every
/// `toolchains/*.toml` (each reader picks the tables it needs).
pub(crate) fn load<T: DeserializeOwned>(language: &str) -> T {
    let text = EMBEDDED
        .iter()
        .find(|(l, _)| *l == language)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("no embedded toolchain for {language}"));
    toml::from_str(text).unwrap_or_else(|e| panic!("embedded toolchains/{language}.toml is invalid: {e}"))
}

/// A command-line tool found on PATH or named by an environment variable (node, npx, strip…).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tool {
    /// The command name looked up on PATH.
    pub command: String,
    /// The variable that overrides it with a path.
    pub env: String,
    /// Arguments that print the version.
    #[serde(default)]
    pub version: Vec<String>,
    /// The oldest version that works, when it matters.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Arguments always passed.
    #[serde(default)]
    pub args: Vec<String>,
    /// Install hints per package manager.
    #[serde(default)]
    pub install: BTreeMap<String, String>,
}

impl Tool {
    /// The path to run: `explicit`, else `$ENV`, else the command on PATH.
    pub(crate) fn locate(&self, explicit: Option<&Path>) -> Result<PathBuf> {
        if let Some(p) = explicit {
            return if p.is_file() {
                Ok(p.to_path_buf())
            } else {
                Err(Error::input(p, format!("is not a {} executable", self.command), Some(self.install_hint())))
            };
        }
        if let Some(v) = std::env::var_os(&self.env).filter(|v| !v.is_empty()) {
            return which::which(&v).map_err(|_| Error::ToolMissing {
                tool: format!("{} ({}={})", self.command, self.env, v.to_string_lossy()),
                hint: format!("point {} at an existing {} or unset it", self.env, self.command),
            });
        }
        which::which(&self.command).map_err(|_| Error::ToolMissing {
            tool: self.command.clone(),
            hint: format!("install it: {} (or set {})", self.install_hint(), self.env),
        })
    }

    /// "apt-get install binutils, or dnf install binutils".
    pub(crate) fn install_hint(&self) -> String {
        install_hint(&self.install)
    }

    /// What `doctor` shows for this tool.
    pub(crate) fn status(&self, language: &str) -> ToolStatus {
        let found = self.locate(None).ok();
        let args = if self.version.is_empty() { vec!["--version".to_string()] } else { self.version.clone() };
        let version = found.as_ref().and_then(|p| {
            let out = Command::new(p).args(args).probe()?;
            Some(out.stdout.lines().next().unwrap_or("").trim().to_string())
        });
        ToolStatus {
            language: language.into(),
            name: self.command.clone(),
            found: found.is_some(),
            install: found.is_none().then(|| self.install_hint()),
            command: found.map(|p| p.display().to_string()),
            version,
        }
    }
}

/// One tool's status, as `doctor` shows it.
#[derive(Debug, Serialize)]
pub struct ToolStatus {
    /// The language or purpose ("c", "cxx", "image").
    pub language: String,
    /// The tool's name.
    pub name: String,
    /// Whether it was found.
    pub found: bool,
    /// The command used to run it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its version line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How to install it, when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
}

/// A one-line install hint from a toolchain file's `install` table: "apt-get install
/// musl-tools, or pip install ziglang"; entries in parentheses are notes, not packages.
pub(crate) fn install_hint(install: &BTreeMap<String, String>) -> String {
    let mut hints = Vec::new();
    for (pm, pkg) in install {
        if pkg.starts_with('(') {
            continue;
        }
        hints.push(match pm.as_str() {
            "apt" => format!("apt-get install {pkg}"),
            "pip" => format!("pip install {pkg}"),
            "dnf" => format!("dnf install {pkg}"),
            "apk" => format!("apk add {pkg}"),
            "pacman" => format!("pacman -S {pkg}"),
            "brew" => format!("brew install {pkg}"),
            other => format!("{other} install {pkg}"),
        });
    }
    // apt first: these machines are Debian.
    hints.sort_by_key(|h| !h.starts_with("apt-get"));
    hints.join(", or ")
}

/// A build profile: what the compiler optimises for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Profile {
    /// Smallest output (default).
    #[default]
    Size,
    /// Fastest code.
    Speed,
}

impl Profile {
    /// The profile's name as written in toolchain files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Profile::Size => "size",
            Profile::Speed => "speed",
        }
    }

    /// The optimisation flag of a profile, given to build systems as CFLAGS and CXXFLAGS (those
    /// that honour them: autoconf, CMake, Meson, Makefiles with `CFLAGS ?=`) unless the user
    /// set them.
    pub(crate) fn opt_flag(self) -> &'static str {
        match self {
            Profile::Size => "-Os",
            Profile::Speed => "-O2",
        }
    }
}

/// One toolchain file: a language and its compilers in order of preference.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ToolchainSpec {
    /// The language this file is for ("c", "cxx").
    pub language: String,
    /// The environment variable that overrides the compiler command.
    pub env: String,
    /// Candidate compilers, best first.
    pub compiler: Vec<CompilerSpec>,
}

/// One candidate compiler.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CompilerSpec {
    /// The name users pass to `--compiler`.
    pub name: String,
    /// The C library it links against ("musl" or "glibc").
    pub libc: String,
    /// Ways to invoke it, best first.
    pub via: Vec<Via>,
    /// Flags always passed.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Extra flags per profile name.
    #[serde(default)]
    pub profile: BTreeMap<String, ProfileFlags>,
    /// Whether to translate glibc's static NSS/dlopen linker warnings.
    #[serde(default)]
    pub warn_glibc_static: bool,
    /// Install hints per package manager.
    #[serde(default)]
    pub install: BTreeMap<String, String>,
}

/// One way to run a compiler.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Via {
    /// The command before any flags; `{zig_target}` is substituted.
    pub argv: Vec<String>,
    /// The command that prints the version.
    pub version: Vec<String>,
}

/// Flags for one profile.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ProfileFlags {
    /// Compiler and linker flags.
    #[serde(default)]
    pub flags: Vec<String>,
}

/// A compiler that was found on this machine, ready to run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Compiler {
    /// Its name ("musl-gcc", "zig", "gcc", or "custom").
    pub name: String,
    /// The C library it links.
    pub libc: String,
    /// The command before any flags.
    pub argv: Vec<String>,
    /// First line of its version output.
    pub version: String,
    /// Flags always passed.
    pub flags: Vec<String>,
    /// Flags for the chosen profile.
    pub profile_flags: Vec<String>,
    /// Whether glibc static-link warnings apply.
    pub warn_glibc_static: bool,
    /// Better candidates that were not found, with how to install each.
    pub skipped: Vec<(String, String)>,
}

/// Loads the embedded toolchain file for `language`.
pub(crate) fn spec(language: &str) -> ToolchainSpec {
    load(language)
}

/// What the user asked for when choosing a compiler.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preference {
    /// A compiler by name (`--compiler`).
    pub compiler: Option<String>,
    /// A C library (`--libc`).
    pub libc: Option<String>,
    /// The profile.
    pub profile: Profile,
}

impl CompilerSpec {
    /// The first way of running this compiler that works here, with its version line.
    pub(crate) fn locate(&self) -> Option<(Vec<String>, String)> {
        self.locate_for(Arch::host())
    }

    /// Whether it builds for other architectures than the host's: only a command with a zig
    /// target does (zig carries musl for each); musl-gcc and gcc build for the host.
    pub(crate) fn crosses(&self) -> bool {
        self.via.iter().all(|v| v.argv.iter().any(|a| a.contains("{zig_target}")))
    }

    /// The first way of running this compiler for `arch` that works here, with its version line.
    pub(crate) fn locate_for(&self, arch: Arch) -> Option<(Vec<String>, String)> {
        if arch != Arch::host() && !self.crosses() {
            return None;
        }
        self.via.iter().find_map(|via| {
            which::which(&via.version[0]).ok()?;
            let out = Command::from_argv(&via.version).probe()?;
            let text = if out.stdout.trim().is_empty() { out.stderr } else { out.stdout };
            let version = text.lines().next().unwrap_or("").trim().to_string();
            let argv = via.argv.iter().map(|a| a.replace("{zig_target}", &arch.zig_target())).collect();
            Some((argv, version))
        })
    }

    /// A one-line install hint: "apt-get install musl-tools, or pip install ziglang".
    pub(crate) fn install_hint(&self) -> String {
        install_hint(&self.install)
    }

    fn resolve(&self, argv: Vec<String>, version: String, profile: Profile) -> Compiler {
        Compiler {
            name: self.name.clone(),
            libc: self.libc.clone(),
            argv,
            version,
            flags: self.flags.clone(),
            profile_flags: self.profile.get(profile.name()).map(|p| p.flags.clone()).unwrap_or_default(),
            warn_glibc_static: self.warn_glibc_static,
            skipped: Vec::new(),
        }
    }
}

impl ToolchainSpec {
    /// Picks the compiler to use for the host: see [`ToolchainSpec::select_for`].
    pub(crate) fn select(&self, pref: &Preference) -> Result<Compiler> {
        self.select_for(pref, Arch::host())
    }

    /// Picks the compiler to use for `arch`: the env override, else the first candidate that
    /// matches the preference, reaches `arch` and is installed. A missing compiler is an error
    /// with install hints; one named that cannot reach `arch` is a usage error naming the fix.
    pub(crate) fn select_for(&self, pref: &Preference, arch: Arch) -> Result<Compiler> {
        if let Some(custom) = std::env::var(&self.env).ok().filter(|v| !v.trim().is_empty()) {
            return Ok(self.custom(&custom, pref));
        }
        if let Some(name) = &pref.compiler {
            if !self.compiler.iter().any(|c| &c.name == name) {
                let names: Vec<&str> = self.compiler.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::usage(
                    format!("unknown compiler '{name}' for {}", self.language),
                    format!("choose one of: {}", names.join(", ")),
                ));
            }
        }
        let wanted: Vec<&CompilerSpec> = self
            .compiler
            .iter()
            .filter(|c| pref.compiler.as_ref().is_none_or(|n| n == &c.name))
            .filter(|c| pref.libc.as_ref().is_none_or(|l| l == &c.libc))
            .collect();
        if arch != Arch::host() {
            self.check_reach(pref, &wanted, arch)?;
        }
        let wanted: Vec<&CompilerSpec> = wanted.into_iter().filter(|c| arch == Arch::host() || c.crosses()).collect();
        if wanted.is_empty() {
            return Err(Error::usage(
                format!("no {} compiler links {}", self.language, pref.libc.as_deref().unwrap_or("?")),
                "drop --libc or --compiler, or pick a matching pair (musl: musl-gcc or zig; glibc: gcc)",
            ));
        }
        let mut skipped = Vec::new();
        for c in &wanted {
            if let Some((argv, version)) = c.locate_for(arch) {
                let mut found = c.resolve(argv, version, pref.profile);
                found.skipped = skipped;
                return Ok(found);
            }
            skipped.push((c.name.clone(), c.install_hint()));
        }
        let tool = wanted.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(" / ");
        let hints = wanted.iter().map(|c| format!("{}: {}", c.name, c.install_hint())).collect::<Vec<_>>();
        Err(Error::ToolMissing {
            tool,
            hint: format!("install one ({}), or set {} to a compiler command", hints.join("; "), self.env),
        })
    }

    /// For a foreign `arch`: a usage error when none of the `wanted` compilers reaches it
    /// (`--compiler gcc`, `--libc glibc`), naming the flag that does.
    fn check_reach(&self, pref: &Preference, wanted: &[&CompilerSpec], arch: Arch) -> Result<()> {
        if wanted.iter().any(|c| c.crosses()) {
            return Ok(());
        }
        let crossing: Vec<&str> = self.compiler.iter().filter(|c| c.crosses()).map(|c| c.name.as_str()).collect();
        let asked = match (&pref.compiler, &pref.libc) {
            (Some(c), _) => format!("--compiler {c}"),
            (None, Some(l)) => format!("--libc {l}"),
            (None, None) => "this choice".into(),
        };
        Err(Error::usage(
            format!(
                "--platform {}: {asked} builds {} for the host ({}) only",
                arch.platform(),
                self.language,
                Arch::host().platform()
            ),
            format!(
                "cross-compile with --compiler {} (musl; pip install ziglang), or drop --platform {}",
                crossing.join(" or --compiler "),
                arch.platform()
            ),
        ))
    }

    fn custom(&self, command: &str, pref: &Preference) -> Compiler {
        let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        // The flags of the candidate the custom command most resembles.
        let libc = if command.contains("musl") || command.contains("zig") { "musl" } else { "glibc" };
        // By name first (`zig cc`, `python3 -m ziglang cc`, `x86_64-linux-musl-gcc`): zig is
        // musl too, but its lld refuses musl-gcc's -z noseparate-code.
        let named = |c: &&CompilerSpec| command.contains(c.name.as_str());
        let like = self
            .compiler
            .iter()
            .find(named)
            .or_else(|| self.compiler.iter().find(|c| c.libc == libc))
            .unwrap_or(&self.compiler[0]);
        let version = Command::from_argv(&argv)
            .arg("--version")
            .probe()
            .map(|o| o.stdout.lines().next().unwrap_or("").to_string())
            .unwrap_or_default();
        let mut c = like.resolve(argv, version, pref.profile);
        c.name = format!("custom ({})", self.env);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_toolchains_parse() {
        for lang in COMPILER_LANGUAGES {
            let s = spec(lang);
            assert!(!s.compiler.is_empty());
            for c in &s.compiler {
                assert!(!c.via.is_empty(), "{} has no via", c.name);
                assert!(c.profile.contains_key("size") && c.profile.contains_key("speed"));
                assert!(!c.install_hint().is_empty());
            }
        }
    }

    #[test]
    fn c_order_is_musl_gcc_zig_gcc() {
        let names: Vec<String> = spec("c").compiler.into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["musl-gcc", "zig", "gcc"]);
    }

    #[test]
    fn unknown_compiler_is_usage_error() {
        let pref = Preference { compiler: Some("tcc".into()), ..Default::default() };
        let err = spec("c").select(&pref).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }

    #[test]
    fn a_custom_zig_gets_zigs_flags_not_musl_gccs() {
        let s = spec("c");
        for command in ["python3 -m ziglang cc -target x86_64-linux-musl", "/opt/zig/zig cc"] {
            let c = s.custom(command, &Preference::default());
            assert!(!c.profile_flags.iter().any(|f| f.contains("noseparate")), "{command}: {:?}", c.profile_flags);
            assert_eq!(c.libc, "musl");
        }
        assert!(
            s.custom("x86_64-linux-musl-gcc", &Preference::default())
                .profile_flags
                .iter()
                .any(|f| f.contains("noseparate"))
        );
    }

    #[test]
    fn only_zig_reaches_another_platform() {
        let s = spec("c");
        let reach: Vec<(&str, bool)> = s.compiler.iter().map(|c| (c.name.as_str(), c.crosses())).collect();
        assert_eq!(reach, [("musl-gcc", false), ("zig", true), ("gcc", false)]);
        let foreign = if Arch::host() == Arch::Amd64 { Arch::Arm64 } else { Arch::Amd64 };
        for pref in [
            Preference { compiler: Some("gcc".into()), ..Default::default() },
            Preference { libc: Some("glibc".into()), ..Default::default() },
        ] {
            let err = s.select_for(&pref, foreign).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
            assert!(err.to_string().contains("for the host"), "{err}");
        }
        assert!(!spec("cxx").compiler.iter().find(|c| c.name == "g++").unwrap().crosses());
    }

    #[test]
    fn install_hint_puts_apt_first() {
        let c = &spec("c").compiler[0];
        assert!(c.install_hint().starts_with("apt-get install musl-tools"), "{}", c.install_hint());
    }
}
