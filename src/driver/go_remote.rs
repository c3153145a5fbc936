//! `staticize go PKG@VERSION`: a program straight from the module proxy, built the way
//! `go install PKG@VERSION` builds it: outside any module of the user's, with the program's own
//! module as the main module, so its version is recorded in the executable and `--version`
//! prints it (a build inside a module of ours would record "(devel)").
//!
//! `go list` does not take PKG@VERSION, so the package is first added to a throwaway module to
//! be listed (its name, its cgo users and the version `@latest` means); the build is then
//! `go install PKG@THAT_VERSION` with GOPATH in a private directory, where go puts the program
//! (bin/NAME, or bin/linux_ARCH/NAME for another architecture: GOBIN cannot be used for those).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::process::Command;
use crate::toolchain::Compiler;

/// A PKG@VERSION request, with the throwaway module it was listed in.
#[derive(Debug)]
pub(crate) struct Remote {
    /// The package's import path.
    pub package: String,
    /// The throwaway module (go list runs there) and GOPATH of the build.
    pub dir: tempfile::TempDir,
    /// The user's module cache, kept when GOPATH moves.
    pub modcache: String,
}

/// Splits "example.com/cmd/x@v1.2.3" into path and version; None for paths and plain packages.
pub(crate) fn split(input: &str) -> Option<(&str, &str)> {
    if input.starts_with('.') || input.starts_with('/') || Path::new(input).exists() {
        return None;
    }
    let (path, version) = input.rsplit_once('@')?;
    (!path.is_empty() && !version.is_empty() && !path.contains('@')).then_some((path, version))
}

/// Adds `package@version` to a throwaway module, so that `go list` can be run on it there.
pub(crate) fn fetch(go: &Compiler, package: &str, version: &str) -> Result<Remote> {
    let dir = tempfile::Builder::new()
        .prefix("staticize-go-install-")
        .tempdir()
        .map_err(|e| Error::io("create a build directory in", std::env::temp_dir(), e))?;
    let module = dir.path().join("list");
    std::fs::create_dir(&module).map_err(|e| Error::io("create", &module, e))?;
    let go_cmd = || Command::from_argv(&go.argv).dir(&module).env("GOFLAGS", "-mod=mod");
    go_cmd().args(["mod", "init", "staticize.invalid/install"]).run("create a module to list the package in")?;
    let step = format!("fetch {package}@{version}");
    go_cmd().arg("get").arg(format!("{package}@{version}")).run(&step).map_err(|e| match e {
        Error::CommandFailed { stderr, .. } => Error::Build {
            step,
            message: stderr.trim().to_string(),
            help: Some("check the package path and the version (go list -m -versions MODULE lists them)".into()),
        },
        other => other,
    })?;
    let cache = Command::from_argv(&go.argv).args(["env", "GOMODCACHE"]).run("find go's module cache")?;
    Ok(Remote { package: package.to_string(), dir, modcache: cache.stdout.trim().to_string() })
}

impl Remote {
    /// Where `go list` runs.
    pub(crate) fn list_dir(&self) -> PathBuf {
        self.dir.path().join("list")
    }

    /// The version the throwaway module settled on for the package's module ("v3.10.0").
    pub(crate) fn resolved_version(&self, go: &Compiler) -> Result<String> {
        let out = Command::from_argv(&go.argv)
            .dir(self.list_dir())
            .args(["list", "-f", "{{.Module.Version}}"])
            .arg(&self.package)
            .run(&format!("find the version of {}", self.package))?;
        Ok(out.stdout.trim().to_string())
    }

    /// GOPATH of the build: go install writes the program under its bin/.
    pub(crate) fn gopath(&self) -> PathBuf {
        self.dir.path().join("gopath")
    }

    /// `go install` run outside any module (a PKG@VERSION argument ignores the current
    /// module anyway), GOPATH private, the module cache the user's own.
    pub(crate) fn install_env(&self, cmd: Command) -> Command {
        cmd.dir(self.dir.path()).env("GOPATH", self.gopath()).env("GOMODCACHE", &self.modcache).env_remove("GOBIN")
    }

    /// The program go install wrote: bin/NAME for the host, bin/GOOS_GOARCH/NAME otherwise.
    pub(crate) fn installed(&self, name: &str, goarch: &str) -> Option<PathBuf> {
        let bin = self.gopath().join("bin");
        [bin.join(name), bin.join(format!("linux_{goarch}")).join(name)].into_iter().find(|p| p.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_split_off_packages_only() {
        assert_eq!(split("mvdan.cc/sh/v3/cmd/shfmt@v3.10.0"), Some(("mvdan.cc/sh/v3/cmd/shfmt", "v3.10.0")));
        assert_eq!(split("example.com/x@latest"), Some(("example.com/x", "latest")));
        assert_eq!(split("./cmd/app"), None);
        assert_eq!(split("example.com/x"), None);
        assert_eq!(split("example.com/x@"), None);
    }
}
