//! Building for another platform: that platform's node from npm (`npm pack
//! node-linux-ARCH@VERSION`), and a root holding its libraries from Debian's packages
//! (`apt-get download` into a private apt state, then `dpkg-deb -x`; nothing is installed and
//! the machine's apt configuration is not touched). Both are cached.

use std::path::{Path, PathBuf};

use crate::driver::node::tools::{CrossSpec, NodeToolchain};
use crate::error::{Error, Result};
use crate::process::Command;
use crate::progress::Steps;

/// The cross spec for an architecture, or a usage error listing the known ones.
pub(crate) fn spec<'a>(tc: &'a NodeToolchain, arch: &str) -> Result<&'a CrossSpec> {
    tc.cross.get(arch).ok_or_else(|| {
        let known: Vec<String> = tc.cross.keys().map(|k| format!("linux/{k}")).collect();
        Error::usage(format!("no node build for linux/{arch}"), format!("use one of: {}", known.join(", ")))
    })
}

/// That platform's node binary of `version`, from npm (cached).
pub(crate) fn fetch_node(tc: &NodeToolchain, spec: &CrossSpec, version: &str, steps: &Steps) -> Result<PathBuf> {
    let dir = crate::output::cache_dir().join(format!("{}-{version}", spec.npm_package));
    let node = dir.join("node");
    if node.is_file() {
        return Ok(node);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create cache directory", &dir, e))?;
    let npm = tc.npm.locate(None)?;
    let work =
        tempfile::Builder::new().prefix("npm-pack-").tempdir_in(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let package = format!("{}@{version}", spec.npm_package);
    let spinner = steps.spinner(format!("downloading {package} from npm"));
    Command::new(npm)
        .args(["pack", &package, "--silent", "--pack-destination"])
        .arg(work.path())
        .env("npm_config_update_notifier", "false")
        .dir(work.path())
        .run(&format!("download {package} from npm"))?;
    let tgz = std::fs::read_dir(work.path())
        .map_err(|e| Error::io("read", work.path(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| Error::Build {
            step: format!("download {package} from npm"),
            message: "npm pack wrote no .tgz".into(),
            help: None,
        })?;
    let tmp = crate::output::temp_beside(&node)?;
    let file = std::fs::File::open(&tgz).map_err(|e| Error::io("read", &tgz, e))?;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    let mut found = false;
    for entry in archive.entries().map_err(|e| Error::io("read", &tgz, e))? {
        let mut entry = entry.map_err(|e| Error::io("read", &tgz, e))?;
        if entry.path().ok().is_some_and(|p| p == Path::new("package/bin/node")) {
            std::io::copy(&mut entry, &mut tmp.as_file()).map_err(|e| Error::io("write", tmp.path(), e))?;
            found = true;
            break;
        }
    }
    if !found {
        return Err(Error::input(&tgz, "has no package/bin/node", Some(format!("check that {package} exists on npm"))));
    }
    crate::output::persist(tmp, &node, 0o755)?;
    drop(spinner);
    steps.step("fetch", format!("{package} from npm → {}", node.display()));
    Ok(node)
}

/// A directory holding that architecture's Debian libraries for node (cached).
pub(crate) fn debian_root(spec: &CrossSpec, steps: &Steps) -> Result<PathBuf> {
    let base = crate::output::cache_dir().join(format!("debian-{}", spec.debian_arch));
    let root = base.join("root");
    let done = base.join("packages.done");
    let wanted = spec.debian_packages.join(" ");
    if std::fs::read_to_string(&done).is_ok_and(|s| s.trim() == wanted) {
        return Ok(root);
    }
    let apt = base.join("apt");
    for d in [apt.join("lists/partial"), apt.join("cache/archives/partial"), base.join("debs")] {
        std::fs::create_dir_all(&d).map_err(|e| Error::io("create cache directory", &d, e))?;
    }
    let status = apt.join("status");
    std::fs::write(&status, "").map_err(|e| Error::io("write", &status, e))?;
    // A private apt state: the machine's sources, another architecture, nothing installed.
    let apt_get = |args: &[&str]| {
        Command::new("apt-get")
            .arg("-q")
            .arg("-o")
            .arg(format!("APT::Architecture={}", spec.debian_arch))
            .arg("-o")
            .arg(format!("APT::Architectures::={}", spec.debian_arch))
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", apt.join("lists").display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", apt.join("cache").display()))
            .arg("-o")
            .arg(format!("Dir::State::status={}", status.display()))
            .args(["-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"])
            .args(args)
    };
    let step = format!("download Debian {} libraries for node", spec.debian_arch);
    let spinner = steps.spinner(format!("downloading Debian {} libraries", spec.debian_arch));
    apt_get(&["update"]).run(&step)?;
    let debs = base.join("debs");
    let names: Vec<String> = spec.debian_packages.iter().map(|p| format!("{p}:{}", spec.debian_arch)).collect();
    apt_get(&["download"]).args(&names).dir(&debs).run(&step)?;
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| Error::io("remove", &root, e))?;
    }
    std::fs::create_dir_all(&root).map_err(|e| Error::io("create", &root, e))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&debs)
        .map_err(|e| Error::io("read", &debs, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    files.sort();
    for deb in &files {
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root).run(&format!("unpack {}", deb.display()))?;
    }
    std::fs::write(&done, &wanted).map_err(|e| Error::io("write", &done, e))?;
    drop(spinner);
    steps.step("fetch", format!("Debian {} packages {} → {}", spec.debian_arch, wanted, root.display()));
    Ok(root)
}

/// The first strip in `spec.strip` that is installed.
pub(crate) fn strip_tool(spec: &CrossSpec) -> Result<PathBuf> {
    spec.strip.iter().find_map(|s| which::which(s).ok()).ok_or_else(|| Error::ToolMissing {
        tool: spec.strip.join(" / "),
        hint: format!("it strips node for linux/{}: {}", spec.debian_arch, spec.strip_install),
    })
}
