//! `staticize doctor`: which toolchains are here, their versions, and how to get the rest.

use crate::error::Result;
use crate::platform::Arch;
use crate::report::{Reporter, paint};
use crate::toolchain::{COMPILER_LANGUAGES, ToolStatus, spec};

/// Checks every compiler of every embedded toolchain file.
pub fn survey() -> Vec<ToolStatus> {
    let mut out = Vec::new();
    for lang in COMPILER_LANGUAGES {
        let s = spec(lang);
        for c in &s.compiler {
            out.push(match c.locate() {
                Some((argv, version)) => ToolStatus {
                    language: lang.to_string(),
                    name: c.name.clone(),
                    found: true,
                    command: Some(argv.join(" ")),
                    // go and rust reach every platform by their own targets (listed below for rust).
                    version: Some(match *lang {
                        "c" | "cxx" => format!("{version}; builds for {}", reach(c)),
                        _ => version,
                    }),
                    install: None,
                },
                None => ToolStatus {
                    language: lang.to_string(),
                    name: c.name.clone(),
                    found: false,
                    command: None,
                    version: None,
                    install: Some(c.install_hint()),
                },
            });
        }
    }
    out.extend(rust_targets());
    // Node single executables: node, npx and strip (toolchains/node.toml).
    out.extend(crate::driver::node::tools::survey());
    out.extend(pack_launchers());
    // strace: `bundle --trace` and the proof run; bubblewrap: the proof run's sandbox.
    out.push(crate::bundle::trace::status());
    out.push(crate::prove::sandbox::status());
    out
}

/// The platforms a compiler builds for: every one for zig, the host's for the others.
fn reach(c: &crate::toolchain::CompilerSpec) -> String {
    let arches: Vec<String> =
        Arch::ALL.into_iter().filter(|a| *a == Arch::host() || c.crosses()).map(Arch::platform).collect();
    arches.join(", ")
}

/// Which architectures this staticize can pack for (launchers built into it by build.rs).
fn pack_launchers() -> Vec<ToolStatus> {
    ["amd64", "arm64"]
        .into_iter()
        .map(|arch| {
            let size = crate::pack::launcher(arch).map(|b| b.len());
            ToolStatus {
                language: "pack".into(),
                name: format!("launcher-{arch}"),
                found: size.is_some(),
                command: None,
                version: size.map(|n| format!("built in ({n} B)")),
                install: size.is_none().then(|| crate::pack::missing_hint(arch)),
            }
        })
        .collect()
}

/// Whether the musl Rust targets `staticize rust` prefers are installed, and how to add them.
fn rust_targets() -> Vec<ToolStatus> {
    let settings = crate::driver::rust::settings();
    let installed = crate::driver::rust::installed_targets();
    [Arch::Amd64, Arch::Arm64]
        .into_iter()
        .map(|arch| {
            let triple = settings.musl_triple(arch).to_string();
            let found = installed.as_ref().is_some_and(|t| t.contains(&triple));
            let install = match &installed {
                None => format!("rustup not found: {}; then rustup target add {triple}", settings.rust.install),
                Some(_) if arch == Arch::host() => {
                    format!("rustup target add {triple} (without it: static glibc via +crt-static)")
                }
                Some(_) => format!("rustup target add {triple} (needed for --platform {})", arch.platform()),
            };
            ToolStatus {
                language: "rust".into(),
                name: triple,
                found,
                command: None,
                version: found.then(|| "target installed".to_string()),
                install: (!found).then_some(install),
            }
        })
        .collect()
}

/// Runs `doctor`.
pub fn run(rep: &Reporter) -> Result<()> {
    let tools = survey();
    for t in &tools {
        if t.found {
            rep.line(format!(
                "{} {:<4} {:<9} {}{}",
                paint("found  ", "32"),
                t.language,
                t.name,
                t.version.as_deref().unwrap_or(""),
                t.command.as_deref().map(|c| format!("  ({c})")).unwrap_or_default()
            ));
        } else {
            rep.line(format!(
                "{} {:<4} {:<9} install: {}",
                paint("missing", "33"),
                t.language,
                t.name,
                t.install.as_deref().unwrap_or("")
            ));
        }
    }
    rep.json(&tools);
    Ok(())
}
