//! `staticize node`: an entry script → a Node single executable (src/driver/node) → an image
//! holding it with its library closure (src/closure) and, for the tree layout, its packages.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{ImageOptions, NodeArgs};
use crate::closure::{self, Closure, ResolveOptions};
use crate::commands::build::describe;
use crate::commands::bundle::{self, BundleOptions};
use crate::commands::package;
use crate::driver::node::{self, NodeBuild, NodeRequest, TREE_ROOT, source};
use crate::elf;
use crate::error::{Error, Result};
use crate::image::rootfs::{MODE_DATA, MODE_EXEC};
use crate::image::spec::Platform;
use crate::image::{ImagePlan, Source, Written};
use crate::output;
use crate::report::{Reporter, human_size};

/// The JSON result of `staticize node`.
#[derive(Debug, Serialize)]
pub struct NodeResult {
    /// The executable written.
    pub binary: PathBuf,
    /// How it was built.
    pub build: NodeBuild,
    /// Its verdict (dynamic).
    pub linkage: elf::Linkage,
    /// The libraries that went into the image with it.
    pub closure: Option<Closure>,
    /// The image, when one was written.
    pub image: Option<Written>,
}

/// Runs `staticize node`.
pub fn run(mut args: NodeArgs, rep: &Reporter) -> Result<()> {
    let name = program_name(&args.entry)?;
    // A program named after the tree's directory (app.js → /app) would collide with it by
    // default alone: put it beside other programs instead of refusing a common entry name.
    if args.image.options.path.is_none() && format!("/{name}") == TREE_ROOT {
        args.image.options.path = Some(format!("/usr/local/bin/{name}"));
    }
    let bin_out = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    // Everything that can be refused is refused before node runs.
    let targets = target_platforms(&args.image.options.platform)?;
    package::reference(&args.image.options, &name)?;
    let program_path = package::program_path(&args.image.options, &name)?;
    if program_path == TREE_ROOT || program_path.starts_with(&format!("{TREE_ROOT}/")) {
        return Err(Error::usage(
            format!("--path {program_path} is inside {TREE_ROOT}, where the package tree goes"),
            "put the executable elsewhere, e.g. --path /usr/local/bin/NAME",
        ));
    }
    // Each platform's image is planned for its own machine below; the option has been read.
    let mut options = args.image.options.clone();
    options.platform.clear();
    output::ensure_writable(&bin_out)?;
    let dests = match args.image.no_image {
        true => None,
        false => {
            let tar = args.image.image.clone().unwrap_or_else(|| package::default_image_path(&bin_out));
            Some(package::destinations(&options, &tar)?)
        }
    };
    let staging = tempfile::Builder::new()
        .prefix("staticize-node-")
        .tempdir()
        .map_err(|e| Error::io("create a build directory in", std::env::temp_dir(), e))?;
    let entry = args.entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();

    let mut results = Vec::new();
    let mut plan: Option<ImagePlan> = None;
    for target in &targets {
        let dir = staging.path().join(target.as_deref().unwrap_or("host"));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let req = NodeRequest {
            entry: args.entry.clone(),
            name: name.clone(),
            staging: dir,
            node: args.node.clone(),
            assets: args.asset.clone(),
            layout: args.layout,
            injector: args.injector,
            program_path: program_path.clone(),
            code_cache: args.code_cache,
            platform: target.clone(),
        };
        let build = node::build(&req, rep)?;
        let linkage = elf::inspect(&build.executable)?;
        rep.step("check", describe(&linkage));
        let mut closure = None;
        if dests.is_some() {
            // The executable is dynamic: the bundle path carries its loader, libraries and NSS.
            let created_by = format!("staticize node {entry}");
            let b = match target {
                None => bundle::bundle_plan(&build.executable, &name, &options, &BundleOptions::default(), created_by)?,
                Some(arch) => cross_plan(&build, arch, &name, &options, created_by, rep)?,
            };
            bundle::report_closure(&b, rep);
            if b.program_path != program_path {
                return Err(Error::Build {
                    step: "plan the image".into(),
                    message: format!("the executable went to {} instead of {program_path}", b.program_path),
                    help: Some("pass --path explicitly".into()),
                });
            }
            let mut p = b.plan;
            if let Some(tree) = &build.tree {
                let rootfs = &mut p.images[0].rootfs;
                for f in &tree.files {
                    let mode = if f.executable { MODE_EXEC } else { MODE_DATA };
                    rootfs.add_file(&format!("{TREE_ROOT}/{}", f.rel), Source::Host(f.host.clone()), mode)?;
                }
            }
            match &mut plan {
                None => plan = Some(p),
                Some(all) => all.images.extend(p.images),
            }
            closure = Some(b.closure);
        }
        results.push(NodeResult { binary: bin_out.clone(), build, linkage, closure, image: None });
    }

    let mut written = None;
    if let (Some(dests), Some(mut plan)) = (&dests, plan) {
        plan.images.sort_by(|a, b| a.platform.cmp(&b.platform));
        written = Some(package::deliver(&plan, dests, rep)?);
    }
    // The executable written beside the image: this machine's when it was built, else the first.
    let local = results.iter().find(|r| r.build.platform.is_none()).unwrap_or(&results[0]);
    output::copy_atomic(&local.build.executable, &bin_out, 0o755)?;
    let tree_note = if local.build.tree.is_some() {
        format!(" — it runs the package tree, which is in the image under {TREE_ROOT}")
    } else {
        String::new()
    };
    rep.step(
        "write",
        format!(
            "{} ({}, {}, dynamic: runs where node's libraries are){tree_note}",
            bin_out.display(),
            human_size(local.linkage.size),
            local.linkage.machine
        ),
    );
    if let Some(w) = &written {
        let subjects: Vec<crate::sbom::collect::Subject> = results
            .iter()
            .map(|r| crate::sbom::collect::Subject {
                name: &name,
                elf: &r.build.executable,
                program_path: &program_path,
                artifact: None,
                inputs: &[],
                npm_dirs: &r.build.npm_packages,
                closure: r.closure.as_ref(),
                host_program: None,
            })
            .collect();
        package::write_sbom(&args.image.options, w, &name, &subjects, rep)?;
        package::report_run_hint(w, rep);
        package::push_if_asked(w, &args.image.options, rep)?;
    }
    for r in &mut results {
        r.image = written.clone();
    }
    if results.len() == 1 {
        rep.json(&results[0]);
    } else {
        rep.json(&results);
    }
    Ok(())
}

/// The program's name: the entry's file name, or its package's name when the file name says
/// nothing ("index.js", "cli.js", "server.js").
pub fn program_name(entry: &Path) -> Result<String> {
    let stem = package_name_or_stem(entry);
    stem.filter(|s| !s.is_empty() && s != "." && s != "..")
        .ok_or_else(|| Error::input(entry, "cannot name the program after this path", Some("pass -o NAME".into())))
}

fn package_name_or_stem(entry: &Path) -> Option<String> {
    let stem = entry.file_stem()?.to_string_lossy().into_owned();
    const GENERIC: &[&str] = &["index", "main", "cli", "server", "app", "bin", "start"];
    if !GENERIC.contains(&stem.as_str()) {
        return Some(stem);
    }
    let real = entry.canonicalize().ok()?;
    let pkg = real.parent().and_then(source::package_root).and_then(|d| source::package_json(&d));
    let name = pkg.as_ref().and_then(|p| p["name"].as_str()).map(|n| n.rsplit('/').next().unwrap_or(n).to_string());
    Some(name.filter(|n| !n.is_empty()).unwrap_or(stem))
}

/// The platforms to build for from `--platform`: None for this machine, Some(arch) for another.
fn target_platforms(values: &[String]) -> Result<Vec<Option<String>>> {
    let wanted = crate::image::options::parse_platforms(values)?;
    if wanted.is_empty() {
        return Ok(vec![None]);
    }
    let host = Platform::host().architecture;
    let mut out = Vec::new();
    for p in wanted {
        if p.os != "linux" || !matches!(p.architecture.as_str(), "amd64" | "arm64") {
            return Err(Error::usage(
                format!("--platform {p}: no node build for it"),
                "use linux/amd64 or linux/arm64",
            ));
        }
        let t = (p.architecture != host).then(|| p.architecture.clone());
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The image plan for another platform: the closure is resolved inside a root holding that
/// platform's Debian libraries, then carried the way `bundle` carries a host closure.
fn cross_plan(
    build: &NodeBuild,
    arch: &str,
    name: &str,
    options: &ImageOptions,
    created_by: String,
    rep: &Reporter,
) -> Result<bundle::Bundled> {
    let tc = crate::driver::node::tools::toolchain();
    let spec = crate::driver::node::cross::spec(&tc, arch)?;
    let root = crate::driver::node::cross::debian_root(spec, rep)?;
    let opts = ResolveOptions { root, ..Default::default() };
    let closure = closure::resolve(&build.executable, &opts)?;
    if !closure.unresolved.is_empty() {
        let names: Vec<String> = closure.unresolved.iter().map(ToString::to_string).collect();
        return Err(Error::Verdict {
            message: format!(
                "node for linux/{arch} needs libraries Debian's packages did not supply: {}",
                names.join(", ")
            ),
            help: Some("add the packages that hold them to [cross] in toolchains/node.toml".into()),
        });
    }
    let linkage = elf::inspect(&build.executable)?;
    let program_path = package::program_path(options, name)?;
    let mut plan = package::plan_for_binary(&build.executable, name, &linkage, options, created_by)?;
    let image = &mut plan.images[0];
    if arch == "arm64" {
        image.platform.variant = Some("v8".into());
    }
    bundle::add_closure(&mut image.rootfs, &closure)?;
    let (_, paragraphs) = crate::sbom::collect::closure_owners(&closure, None, &program_path)?;
    crate::sbom::statusd::add(&mut image.rootfs, &paragraphs)?;
    let nss = bundle::is_glibc(&closure).then(|| "NSS files and dns are built into Debian 12's glibc".to_string());
    if nss.is_some() && image.rootfs.get("/etc/nsswitch.conf").is_none() {
        let conf = Source::Bytes(bundle::NSSWITCH_CONF.as_bytes().to_vec());
        image.rootfs.add_file("/etc/nsswitch.conf", conf, MODE_DATA)?;
    }
    Ok(bundle::Bundled { plan, closure, linkage, program_path, nss })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_entry_names_take_the_package_name() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("package.json"), r#"{"name":"@acme/hello-node"}"#).unwrap();
        std::fs::write(d.path().join("server.js"), "").unwrap();
        std::fs::write(d.path().join("tool.js"), "").unwrap();
        assert_eq!(program_name(&d.path().join("server.js")).unwrap(), "hello-node");
        assert_eq!(program_name(&d.path().join("tool.js")).unwrap(), "tool");
    }

    #[test]
    fn platforms() {
        assert_eq!(target_platforms(&[]).unwrap(), vec![None]);
        let host = Platform::host().architecture;
        let other = if host == "amd64" { "arm64" } else { "amd64" };
        let both = target_platforms(&[format!("linux/{host}"), format!("linux/{other}")]).unwrap();
        assert_eq!(both, vec![None, Some(other.to_string())]);
        let e = target_platforms(&["linux/s390x".to_string()]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
    }
}
