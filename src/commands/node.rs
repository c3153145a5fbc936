//! `staticize node`: an entry script → a Node single executable (src/driver/node) → an image
//! holding it with its library closure (src/closure) and, for the tree layout, its packages.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::NodeArgs;
use crate::closure::{self, Closure, EntryKind, ResolveOptions};
use crate::commands::build::describe;
use crate::commands::bundle::{self, BundleOptions};
use crate::commands::package;
use crate::driver::node::{self, NodeBuild, NodeRequest, TREE_ROOT, source};
use crate::elf;
use crate::error::{Error, Result};
use crate::image::rootfs::{MODE_DATA, MODE_EXEC};
use crate::image::spec::Platform;
use crate::image::{Source, Written, archive};
use crate::output;
use crate::progress::Progress;
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
pub fn run(args: NodeArgs, rep: &Reporter) -> Result<()> {
    let platform = target_platform(args.platform.as_deref())?;
    let name = program_name(&args.entry)?;
    let bin_out = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    let image_out = (!args.image.no_image)
        .then(|| args.image.image.clone().unwrap_or_else(|| package::default_image_path(&bin_out)));
    // Everything that can be refused is refused before node runs.
    package::reference(&args.image.options, &name)?;
    let program_path = package::program_path(&args.image.options, &name)?;
    if program_path == TREE_ROOT || program_path.starts_with(&format!("{TREE_ROOT}/")) {
        return Err(Error::usage(
            format!("--path {program_path} is inside {TREE_ROOT}, where the package tree goes"),
            "put the executable elsewhere, e.g. --path /usr/local/bin/NAME",
        ));
    }
    output::ensure_writable(&bin_out)?;
    if let Some(p) = &image_out {
        output::ensure_writable(p)?;
    }
    let staging = tempfile::Builder::new()
        .prefix("staticize-node-")
        .tempdir()
        .map_err(|e| Error::io("create a build directory in", std::env::temp_dir(), e))?;
    let req = NodeRequest {
        entry: args.entry.clone(),
        name: name.clone(),
        staging: staging.path().to_path_buf(),
        node: args.node.clone(),
        assets: args.asset.clone(),
        layout: args.layout,
        injector: args.injector,
        program_path: program_path.clone(),
        code_cache: args.code_cache,
        platform: platform.clone(),
    };
    let build = node::build(&req, rep)?;
    let linkage = elf::inspect(&build.executable)?;
    rep.step("check", describe(&linkage));

    let mut result = NodeResult {
        binary: bin_out.clone(),
        build: build.clone(),
        linkage: linkage.clone(),
        closure: None,
        image: None,
    };
    if let Some(dest) = &image_out {
        // The executable is dynamic: the bundle path carries its loader, libraries and NSS set-up.
        let entry = args.entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let created_by = format!("staticize node {entry}");
        let b = match &platform {
            None => bundle::bundle_plan(
                &build.executable,
                &name,
                &args.image.options,
                &BundleOptions::default(),
                created_by,
            )?,
            Some(arch) => cross_plan(&build, arch, &name, &args, created_by, rep)?,
        };
        bundle::report_closure(&b, rep);
        if b.program_path != program_path {
            return Err(Error::Build {
                step: "plan the image".into(),
                message: format!("the executable went to {} instead of {program_path}", b.program_path),
                help: Some("pass --path explicitly".into()),
            });
        }
        let mut plan = b.plan;
        if let Some(tree) = &build.tree {
            let rootfs = &mut plan.images[0].rootfs;
            for f in &tree.files {
                let mode = if f.executable { MODE_EXEC } else { MODE_DATA };
                rootfs.add_file(&format!("{TREE_ROOT}/{}", f.rel), Source::Host(f.host.clone()), mode)?;
            }
        }
        let raw = build.executable_bytes + b.closure.bytes() + build.tree.as_ref().map_or(0, |t| t.bytes);
        let written = {
            let _spinner = Progress::start(rep, format!("compressing {} into the image", human_size(raw)));
            archive::write(&plan, dest)?
        };
        report_image(&written, rep);
        result.closure = Some(b.closure);
        result.image = Some(written);
    }
    output::copy_atomic(&build.executable, &bin_out, 0o755)?;
    let tree_note = if build.tree.is_some() {
        format!(" — it runs the package tree, which is in the image under {TREE_ROOT}")
    } else {
        String::new()
    };
    rep.step(
        "write",
        format!(
            "{} ({}, dynamic: runs where node's libraries are){tree_note}",
            bin_out.display(),
            human_size(linkage.size)
        ),
    );
    if let Some(w) = &result.image {
        package::report_run_hint(w, rep);
    }
    rep.json(&result);
    Ok(())
}

fn report_image(written: &Written, rep: &Reporter) {
    let layer: u64 = written.layers.iter().map(|l| l.size).sum();
    let raw: u64 = written.layers.iter().map(|l| l.uncompressed_size).sum();
    rep.step(
        "image",
        format!(
            "{} ({}; layer {} gzip, {} tar) {} {}",
            written.path.display(),
            human_size(written.bytes),
            human_size(layer),
            human_size(raw),
            written.reference,
            crate::report::short_digest(&written.manifest_digest)
        ),
    );
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

/// The architecture to build for when `--platform` names another machine's; None for this one.
fn target_platform(platform: Option<&str>) -> Result<Option<String>> {
    let Some(p) = platform else { return Ok(None) };
    let arch = p.strip_prefix("linux/").unwrap_or(p);
    let arch = arch.strip_suffix("/v8").unwrap_or(arch);
    if !matches!(arch, "amd64" | "arm64") {
        return Err(Error::usage(format!("unknown platform '{p}'"), "use linux/amd64 or linux/arm64"));
    }
    Ok((arch != Platform::host().architecture).then(|| arch.to_string()))
}

/// The image plan for another platform: the closure is resolved inside a root holding that
/// platform's Debian libraries, then carried the way `bundle` carries a host closure.
fn cross_plan(
    build: &NodeBuild,
    arch: &str,
    name: &str,
    args: &NodeArgs,
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
    let program_path = package::program_path(&args.image.options, name)?;
    let mut plan = package::plan_for_binary(&build.executable, name, &linkage, &args.image.options, created_by)?;
    let image = &mut plan.images[0];
    if arch == "arm64" {
        image.platform.variant = Some("v8".into());
    }
    for e in &closure.entries {
        if image.rootfs.get(&e.image_path).is_some() {
            continue;
        }
        match e.kind {
            EntryKind::Symlink => {
                image.rootfs.add_symlink(&e.image_path, e.link_target.as_deref().unwrap_or_default())?;
            }
            EntryKind::Interp => {
                image.rootfs.add_file(&e.image_path, Source::Host(e.host_path.clone()), MODE_EXEC)?;
            }
            EntryKind::Needed | EntryKind::Dlopen => {
                image.rootfs.add_file(&e.image_path, Source::Host(e.host_path.clone()), MODE_DATA)?;
            }
        }
    }
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
        assert_eq!(target_platform(None).unwrap(), None);
        let host = Platform::host().architecture;
        assert_eq!(target_platform(Some(&format!("linux/{host}"))).unwrap(), None);
        let other = if host == "amd64" { "arm64" } else { "amd64" };
        assert_eq!(target_platform(Some(&format!("linux/{other}"))).unwrap().as_deref(), Some(other));
        let e = target_platform(Some("linux/s390x")).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
    }
}
