//! `staticize doctor`: which toolchains are here, their versions, and how to get the rest.

use serde::Serialize;

use crate::error::Result;
use crate::report::{Reporter, paint};
use crate::toolchain::{EMBEDDED, spec};

/// One tool's status.
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

/// Checks every compiler of every embedded toolchain file.
pub fn survey() -> Vec<ToolStatus> {
    let mut out = Vec::new();
    for (lang, _) in EMBEDDED {
        let s = spec(lang);
        for c in &s.compiler {
            out.push(match c.locate() {
                Some((argv, version)) => ToolStatus {
                    language: lang.to_string(),
                    name: c.name.clone(),
                    found: true,
                    command: Some(argv.join(" ")),
                    version: Some(version),
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
    // Node single executables: node, npx and strip (toolchains/node.toml).
    out.extend(crate::driver::node::tools::survey());
    out
}

/// Runs `doctor`.
pub fn run(rep: &Reporter) -> Result<()> {
    let tools = survey();
    for t in &tools {
        if t.found {
            rep.line(format!(
                "{} {:<4} {:<9} {}  ({})",
                paint("found  ", "32"),
                t.language,
                t.name,
                t.version.as_deref().unwrap_or(""),
                t.command.as_deref().unwrap_or("")
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
