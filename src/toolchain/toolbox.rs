//! The toolbox a build system runs with: a private bin directory holding the staticize-cc and
//! staticize-c++ links, and the environment (CC, CXX, MAKEFLAGS, CFLAGS, pkg-config, the chosen
//! compilers) that makes every step of `staticize build`, and of a `--dep` library build, use them.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::process::Command;
use crate::toolchain::Profile;
use crate::toolchain::cc::{Chosen, Lang};

/// When set, every link of an executable is logged to this file (one JSON line each), so a
/// dynamic result can be traced to the step that made it.
pub(crate) const ENV_LINK_LOG: &str = "STATICIZE_LINK_LOG";

/// The private bin directory and the environment every build step runs with.
#[derive(Debug)]
pub(crate) struct Toolbox {
    /// The directory holding the staticize-cc and staticize-c++ links.
    pub bin: PathBuf,
    vars: Vec<(String, String)>,
}

impl Toolbox {
    /// Creates the links in `state`/bin and the environment for `cc` and `cxx`.
    pub(crate) fn create(state: &Path, cc: &Chosen, cxx: Option<&Chosen>, profile: Profile) -> Result<Toolbox> {
        let bin = state.join("bin");
        std::fs::create_dir_all(&bin).map_err(|e| Error::io("create", &bin, e))?;
        let exe =
            std::env::current_exe().map_err(|e| Error::io("find the staticize executable", "/proc/self/exe", e))?;
        for name in ["staticize-cc", "staticize-c++"] {
            let link = bin.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&exe, &link).map_err(|e| Error::io("create the compiler link", &link, e))?;
        }
        let cc_path = bin.join("staticize-cc").display().to_string();
        let cxx_path = bin.join("staticize-c++").display().to_string();
        let path = std::env::var("PATH").unwrap_or_default();
        let mut vars = vec![
            ("CC".to_string(), cc_path.clone()),
            ("PATH".into(), format!("{}:{path}", bin.display())),
            (Lang::C.chosen_env().into(), serde_json::to_string(cc).unwrap_or_default()),
            (ENV_LINK_LOG.into(), state.join("links.log").display().to_string()),
        ];
        // make: variables on its command line (MAKEFLAGS) beat CC= written in a Makefile.
        let mut makeflags = format!("CC={cc_path}");
        if let Some(cxx) = cxx {
            vars.push(("CXX".into(), cxx_path.clone()));
            vars.push((Lang::Cxx.chosen_env().into(), serde_json::to_string(cxx).unwrap_or_default()));
            makeflags.push_str(&format!(" CXX={cxx_path}"));
        }
        let inherited = std::env::var("MAKEFLAGS").unwrap_or_default();
        vars.push(("MAKEFLAGS".into(), format!("{inherited} {makeflags}").trim().to_string()));
        let opt = profile.opt_flag();
        for (k, v) in [("AR", "ar"), ("RANLIB", "ranlib"), ("STRIP", "strip"), ("CFLAGS", opt), ("CXXFLAGS", opt)] {
            if std::env::var_os(k).is_none() {
                vars.push((k.into(), v.into()));
            }
        }
        vars.extend(pkg_config_env(state, cc));
        Ok(Toolbox { bin, vars })
    }

    /// The file the staticize-cc links of this toolbox log executable links to.
    pub(crate) fn link_log(&self) -> PathBuf {
        self.value(ENV_LINK_LOG).map(PathBuf::from).unwrap_or_default()
    }

    /// The value the environment gives `key`, if any (the last setting, which wins when applied).
    pub(crate) fn value(&self, key: &str) -> Option<&str> {
        self.vars.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Adds variables to the environment (later settings of a name win when applied).
    pub(crate) fn extend(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        self.vars.extend(vars);
    }

    /// `cmd` with the toolbox's environment.
    pub(crate) fn apply(&self, mut cmd: Command) -> Command {
        for (k, v) in &self.vars {
            cmd = cmd.env(k, v);
        }
        cmd
    }
}

/// pkg-config for a static build: `--static` always; with musl, no search path at all, since
/// the distribution's .pc files describe glibc builds musl cannot link.
fn pkg_config_env(state: &Path, cc: &Chosen) -> Vec<(String, String)> {
    let mut v = vec![("PKG_CONFIG".to_string(), "pkg-config --static".to_string())];
    if cc.libc == "musl" {
        let empty = state.join("pkgconfig");
        let _ = std::fs::create_dir_all(&empty);
        v.push(("PKG_CONFIG_LIBDIR".into(), empty.display().to_string()));
        v.push(("PKG_CONFIG_PATH".into(), String::new()));
    }
    v
}
