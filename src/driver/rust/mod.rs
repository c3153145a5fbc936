//! The Rust driver: cargo_metadata finds the package and its bin target, `cargo build` runs for
//! a musl target (or static glibc on the host), and the executable's path is read from cargo's
//! JSON messages — never guessed. Settings come from toolchains/rust.toml.
//!
//! Builds go to `<target-dir>/staticize` (the project's own target directory, so .gitignore
//! already covers it): the user's `target/release` binaries are never overwritten and the
//! cache survives between runs. The user's Cargo.toml is never edited; profiles are applied
//! with CARGO_PROFILE_RELEASE_* variables.

pub mod crates;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cargo_metadata::{Message, Metadata, Package, Target, TargetKind};
use serde::Deserialize;

use crate::driver::{Artifact, BuildRequest, Driver};
use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::process::Command;
use crate::toolchain::{Compiler, Preference, Profile, spec};

/// The Rust-specific parts of toolchains/rust.toml.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RustSettings {
    /// The `[rust]` table.
    pub rust: RustTable,
    /// Profiles' environment, read from `[[compiler]]`.
    compiler: Vec<CompilerProfiles>,
}

#[derive(Debug, Clone, Deserialize)]
struct CompilerProfiles {
    #[serde(default)]
    profile: BTreeMap<String, ProfileEnv>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ProfileEnv {
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// `[rust]` of rust.toml.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RustTable {
    /// `cargo` arguments before staticize's own.
    pub build_args: Vec<String>,
    /// musl target triples by architecture name.
    pub musl: BTreeMap<String, String>,
    /// glibc target triples by architecture name.
    pub gnu: BTreeMap<String, String>,
    /// Rust flags that link glibc statically.
    pub gnu_rustflags: Vec<String>,
    /// The linker for a musl target of another architecture.
    pub cross_linker: String,
    /// The directory under the project's target directory that staticize builds into.
    pub target_subdir: String,
    /// How to install Rust.
    pub install: String,
}

impl RustSettings {
    /// The CARGO_PROFILE_RELEASE_* variables of a profile.
    pub(crate) fn profile_env(&self, profile: Profile) -> BTreeMap<String, String> {
        self.compiler.first().and_then(|c| c.profile.get(profile.name())).map(|p| p.env.clone()).unwrap_or_default()
    }

    /// The musl triple for an architecture.
    pub(crate) fn musl_triple(&self, arch: Arch) -> &str {
        &self.rust.musl[arch.name()]
    }

    /// The glibc triple for an architecture.
    pub(crate) fn gnu_triple(&self, arch: Arch) -> &str {
        &self.rust.gnu[arch.name()]
    }
}

/// Loads the Rust-specific tables of the embedded rust.toml.
pub(crate) fn settings() -> RustSettings {
    crate::toolchain::load("rust")
}

/// Finds cargo (or STATICIZE_CARGO), with the rustup install line when it is missing.
pub(crate) fn cargo() -> Result<Compiler> {
    spec("rust").select(&Preference::default()).map_err(|e| match e {
        Error::ToolMissing { tool, .. } => {
            Error::ToolMissing { tool, hint: format!("{}, or set STATICIZE_CARGO", settings().rust.install) }
        }
        other => other,
    })
}

/// Rust targets installed with rustup; None when rustup is not here (then cargo decides).
pub(crate) fn installed_targets() -> Option<Vec<String>> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).probe()?;
    Some(out.stdout.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
}

/// The C library a Rust build links statically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RustLibc {
    /// A `*-linux-musl` target.
    Musl,
    /// `*-linux-gnu` with `+crt-static`.
    Glibc,
}

/// What `staticize rust` asks of each platform's build besides the platform.
#[derive(Debug, Clone, Default)]
pub(crate) struct RustBuild {
    /// The libc asked for (`--libc`); None: musl when its target is installed.
    pub libc: Option<RustLibc>,
    /// `--features` values.
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// `--locked`: the package's Cargo.lock as it is (a published crate's).
    pub locked: bool,
}

/// One driver per platform, each with its target chosen ([`choose_target`]); a fallback to
/// static glibc is reported with how to get musl instead.
pub(crate) fn drivers(
    cargo: &Compiler,
    target: &BinTarget,
    arches: &[Arch],
    b: &RustBuild,
    rep: &crate::report::Reporter,
) -> Result<Vec<(Arch, RustDriver)>> {
    let installed = installed_targets();
    let mut out = Vec::new();
    for &arch in arches {
        let (triple, libc) = choose_target(arch, b.libc, installed.as_deref())?;
        if libc == RustLibc::Glibc && b.libc.is_none() {
            rep.step(
                "target",
                format!(
                    "{triple} with +crt-static (static glibc); for musl: rustup target add {}",
                    settings().musl_triple(arch)
                ),
            );
        }
        out.push((
            arch,
            RustDriver {
                cargo: cargo.clone(),
                target: target.clone(),
                arch,
                triple,
                libc,
                features: b.features.clone(),
                all_features: b.all_features,
                no_default_features: b.no_default_features,
                locked: b.locked,
            },
        ));
    }
    Ok(out)
}

/// Chooses the target triple: musl when its target is installed (or asked for), else static
/// glibc on the host; another architecture needs its musl target.
pub(crate) fn choose_target(
    arch: Arch,
    want: Option<RustLibc>,
    installed: Option<&[String]>,
) -> Result<(String, RustLibc)> {
    let s = settings();
    let musl = s.musl_triple(arch).to_string();
    let have_musl = installed.is_none_or(|t| t.contains(&musl));
    let add = format!("rustup target add {musl}");
    match want {
        Some(RustLibc::Musl) | None if have_musl => Ok((musl, RustLibc::Musl)),
        Some(RustLibc::Musl) => {
            Err(Error::ToolMissing { tool: format!("the Rust target {musl}"), hint: format!("install it: {add}") })
        }
        _ if arch != Arch::host() => Err(Error::ToolMissing {
            tool: format!("the Rust target {musl}"),
            hint: format!("building for linux/{} needs it: {add}", arch.name()),
        }),
        _ => Ok((s.gnu_triple(arch).to_string(), RustLibc::Glibc)),
    }
}

/// The bin target chosen from a Cargo project.
#[derive(Debug, Clone)]
pub(crate) struct BinTarget {
    /// The manifest of the package that has it.
    pub manifest: PathBuf,
    /// The package's name.
    pub package: String,
    /// The package's id, to match cargo's messages.
    pub package_id: String,
    /// The bin's name (the executable's name).
    pub bin: String,
    /// Where staticize's builds of this workspace go.
    pub target_dir: PathBuf,
}

/// Reads the project at `path` (a directory or a Cargo.toml) with `cargo metadata` and picks
/// the bin target: `--bin` when given, else the package's only bin (or its `default-run`).
pub(crate) fn resolve(cargo: &Compiler, path: &Path, bin: Option<&str>) -> Result<BinTarget> {
    let manifest = if path.is_dir() { path.join("Cargo.toml") } else { path.to_path_buf() };
    if !manifest.is_file() {
        return Err(Error::input(
            path,
            if path.exists() { "not a Rust package: no Cargo.toml here" } else { "no such file or directory" },
            Some(
                "pass the directory of a Cargo package (cargo new NAME creates one), or NAME@VERSION for a \
                 crate from crates.io (staticize rust ripgrep@14.1.1, or @latest)"
                    .into(),
            ),
        ));
    }
    let dir = manifest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Run where the project is, so its rust-toolchain file and .cargo/config apply.
    let out = Command::from_argv(&cargo.argv)
        .dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(manifest.file_name().unwrap_or_default())
        .run(&format!("read {}", manifest.display()))?;
    let meta: Metadata = serde_json::from_str(&out.stdout).map_err(|e| Error::Build {
        step: format!("read {}", manifest.display()),
        message: format!("could not parse `cargo metadata` output: {e}"),
        help: None,
    })?;
    pick_bin(&meta, &manifest, bin)
}

fn is_bin(t: &Target) -> bool {
    t.kind.contains(&TargetKind::Bin)
}

/// The bin target from metadata: the manifest's own package, or every member of a virtual
/// workspace.
fn pick_bin(meta: &Metadata, manifest: &Path, bin: Option<&str>) -> Result<BinTarget> {
    // `--no-deps` leaves no resolve graph, so the manifest's own package is found by path.
    let own = std::fs::canonicalize(manifest).ok();
    let candidates: Vec<&Package> =
        match meta.packages.iter().find(|p| own.as_deref() == Some(p.manifest_path.as_std_path())) {
            Some(p) => vec![p],
            None => meta.workspace_packages(),
        };
    let bins: Vec<(&Package, &Target)> =
        candidates.iter().flat_map(|p| p.targets.iter().filter(|t| is_bin(t)).map(move |t| (*p, t))).collect();
    let names = || bins.iter().map(|(_, t)| t.name.as_str()).collect::<Vec<_>>().join(", ");
    let chosen = match bin {
        Some(name) => match bins.iter().filter(|(_, t)| t.name == name).collect::<Vec<_>>().as_slice() {
            [one] => **one,
            [] => {
                return Err(Error::usage(
                    format!("{} has no bin target named '{name}'", manifest.display()),
                    if bins.is_empty() {
                        "it has no bin targets at all".into()
                    } else {
                        format!("choose one of: {}", names())
                    },
                ));
            }
            _ => {
                return Err(Error::usage(
                    format!("several packages in {} have a bin named '{name}'", manifest.display()),
                    "point at the package's own directory instead of the workspace",
                ));
            }
        },
        None => {
            let default_run: Vec<&(&Package, &Target)> = bins
                .iter()
                .filter(|(p, t)| candidates.len() == 1 && p.default_run.as_deref() == Some(t.name.as_str()))
                .collect();
            match (bins.as_slice(), default_run.as_slice()) {
                ([], _) => {
                    return Err(Error::input(
                        manifest,
                        "has no bin target: it is a library, there is no program to build",
                        Some("add src/main.rs (or a [[bin]] section), or point at a package that has one".into()),
                    ));
                }
                ([one], _) => *one,
                (_, [d]) => **d,
                (many, _) => {
                    return Err(Error::usage(
                        format!("{} has {} bin targets: {}", manifest.display(), many.len(), names()),
                        format!("choose one with --bin NAME, e.g. --bin {}", many[0].1.name),
                    ));
                }
            }
        }
    };
    let (pkg, target) = chosen;
    Ok(BinTarget {
        manifest: pkg.manifest_path.clone().into_std_path_buf(),
        package: pkg.name.to_string(),
        package_id: pkg.id.repr.clone(),
        bin: target.name.clone(),
        target_dir: meta.target_directory.clone().into_std_path_buf().join(settings().rust.target_subdir),
    })
}

/// Builds one bin target for one architecture.
#[derive(Debug, Clone)]
pub(crate) struct RustDriver {
    /// cargo, found.
    pub cargo: Compiler,
    /// What to build.
    pub target: BinTarget,
    /// The architecture.
    pub arch: Arch,
    /// The target triple.
    pub triple: String,
    /// musl or static glibc.
    pub libc: RustLibc,
    /// `--features` values.
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// `--locked`: the build must use the package's Cargo.lock as it is (a published crate's).
    pub locked: bool,
}

impl RustDriver {
    /// Embeds the crates the bin links (cargo's resolution for this target and these
    /// features) in a `.dep-v0` section.
    fn embed_crates(&self, binary: &Path) -> Result<()> {
        let mut features = Vec::new();
        if !self.features.is_empty() {
            features.extend(["--features".to_string(), self.features.join(",")]);
        }
        if self.all_features {
            features.push("--all-features".into());
        }
        if self.no_default_features {
            features.push("--no-default-features".into());
        }
        let meta = crates::metadata(&self.cargo.argv, &self.target.manifest, &self.triple, &features)?;
        let info = crates::from_metadata(&meta, &self.target.package_id);
        crates::embed(binary, &info)
    }

    fn command(&self, profile: Profile) -> Command {
        let s = settings();
        let mut cmd = Command::from_argv(&self.cargo.argv)
            .dir(self.target.manifest.parent().unwrap_or(Path::new(".")))
            .env("CARGO_TARGET_DIR", &self.target.target_dir);
        for (k, v) in s.profile_env(profile) {
            cmd = cmd.env(k, v);
        }
        let triple_var = self.triple.to_ascii_uppercase().replace('-', "_");
        if self.libc == RustLibc::Glibc {
            cmd = with_rustflags(cmd, &triple_var, &s.rust.gnu_rustflags);
        }
        let linker_var = format!("CARGO_TARGET_{triple_var}_LINKER");
        if self.arch != Arch::host() && std::env::var_os(&linker_var).is_none() {
            cmd = cmd.env(linker_var, &s.rust.cross_linker);
        }
        cmd = cmd.args(&s.rust.build_args).arg("--manifest-path").arg(&self.target.manifest).args([
            "-p",
            &self.target.package,
            "--bin",
            &self.target.bin,
            "--target",
            &self.triple,
        ]);
        if !self.features.is_empty() {
            cmd = cmd.arg("--features").arg(self.features.join(","));
        }
        if self.all_features {
            cmd = cmd.arg("--all-features");
        }
        if self.no_default_features {
            cmd = cmd.arg("--no-default-features");
        }
        if self.locked {
            cmd = cmd.arg("--locked");
        }
        cmd
    }
}

/// Adds rust flags for the target only: appended to RUSTFLAGS when the user set it (it
/// would override anything else), else through CARGO_TARGET_<TRIPLE>_RUSTFLAGS.
fn with_rustflags(cmd: Command, triple_var: &str, flags: &[String]) -> Command {
    if let Ok(encoded) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        let mut all: Vec<String> = encoded.split('\x1f').filter(|f| !f.is_empty()).map(String::from).collect();
        all.extend(flags.iter().cloned());
        return cmd.env("CARGO_ENCODED_RUSTFLAGS", all.join("\x1f"));
    }
    if let Ok(user) = std::env::var("RUSTFLAGS") {
        return cmd.env("RUSTFLAGS", format!("{user} {}", flags.join(" ")).trim().to_string());
    }
    let var = format!("CARGO_TARGET_{triple_var}_RUSTFLAGS");
    let existing = std::env::var(&var).unwrap_or_default();
    cmd.env(&var, format!("{existing} {}", flags.join(" ")).trim().to_string())
}

impl Driver for RustDriver {
    fn tool(&self) -> crate::driver::Tool {
        crate::driver::Tool {
            driver: "rust".into(),
            compiler: Some(format!(
                "{} for {} ({})",
                self.cargo.version,
                self.triple,
                match self.libc {
                    RustLibc::Musl => "musl",
                    RustLibc::Glibc => "static glibc",
                }
            )),
        }
    }

    fn build(&self, req: &BuildRequest, _steps: &crate::progress::Steps) -> Result<Artifact> {
        let cmd = self.command(req.profile).args(&req.extra_args);
        let step = format!("compile {} (bin {}) with cargo", self.target.package, self.target.bin);
        let output = cmd.run(&step)?;
        let built = Message::parse_stream(output.stdout.as_bytes())
            .filter_map(|m| match m {
                Ok(Message::CompilerArtifact(a))
                    if a.package_id.repr == self.target.package_id
                        && a.target.name == self.target.bin
                        && is_bin(&a.target) =>
                {
                    a.executable.map(|p| p.into_std_path_buf())
                }
                _ => None,
            })
            .last()
            .ok_or_else(|| Error::Build {
                step: step.clone(),
                message: format!("cargo finished but reported no executable for bin {}", self.target.bin),
                help: Some("check the extra arguments after -- (they must not stop cargo before linking)".into()),
            })?;
        // A private copy: the target directory may be rebuilt by another run meanwhile.
        let out = req.staging.join(&req.name);
        std::fs::copy(&built, &out).map_err(|e| Error::io("copy the built executable", &built, e))?;
        let mut warnings = Vec::new();
        // The crate list goes into the binary as cargo-auditable writes it, so scanners that
        // read binaries see the crates (and staticize's SBOM reads it back).
        if let Err(e) = self.embed_crates(&out) {
            warnings.push(format!("the crate list was not embedded (scanners will not see the crates): {e}"));
        }
        if self.libc == RustLibc::Glibc {
            warnings.extend(crate::driver::c::glibc_static_warning(&output.stderr));
        }
        let version = self.cargo.version.split_whitespace().nth(1).unwrap_or(&self.cargo.version);
        Ok(Artifact {
            path: out,
            lang: "rust".into(),
            target: self.triple.clone(),
            toolchain_used: format!("cargo {version} ({})", self.triple),
            command: cmd.summary(),
            warnings,
            companions: None,
            on_runtime: None,
            package_dirs: Vec::new(),
            archives: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        let s = settings();
        assert_eq!(s.musl_triple(Arch::Amd64), "x86_64-unknown-linux-musl");
        assert_eq!(s.gnu_triple(Arch::Arm64), "aarch64-unknown-linux-gnu");
        let env = s.profile_env(Profile::Size);
        assert_eq!(env.get("CARGO_PROFILE_RELEASE_OPT_LEVEL").map(String::as_str), Some("z"));
        assert_eq!(env.get("CARGO_PROFILE_RELEASE_PANIC").map(String::as_str), Some("abort"));
        assert!(s.profile_env(Profile::Speed).contains_key("CARGO_PROFILE_RELEASE_STRIP"));
    }

    #[test]
    fn target_choice() {
        let musl = vec!["x86_64-unknown-linux-musl".to_string()];
        let none: Vec<String> = Vec::new();
        let host = Arch::host();
        let (t, l) = choose_target(Arch::Amd64, None, Some(&musl)).unwrap();
        assert_eq!((t.as_str(), l), ("x86_64-unknown-linux-musl", RustLibc::Musl));
        if host == Arch::Amd64 {
            let (t, l) = choose_target(Arch::Amd64, None, Some(&none)).unwrap();
            assert_eq!((t.as_str(), l), ("x86_64-unknown-linux-gnu", RustLibc::Glibc));
            let e = choose_target(Arch::Arm64, None, Some(&none)).unwrap_err();
            assert!(e.to_string().contains("rustup target add aarch64-unknown-linux-musl"), "{e}");
        }
        let e = choose_target(Arch::Amd64, Some(RustLibc::Musl), Some(&none)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_TOOLCHAIN);
        let (_, l) = choose_target(Arch::Amd64, Some(RustLibc::Glibc), Some(&musl)).unwrap();
        assert_eq!(l, RustLibc::Glibc);
    }
}
