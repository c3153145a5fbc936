//! `staticize node`: an entry script → a Node single executable (the node `Driver`) → an
//! image holding it with its library closure (the pipeline's closure stage) and, for the tree
//! layout, its packages; the executable written is packed (the pipeline's pack-binary stage).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::NodeArgs;
use crate::closure::Closure;
use crate::commands::settings;
use crate::driver::Driver;
use crate::driver::node::{NodeBuild, NodeDriver, TREE_ROOT, source};
use crate::elf;
use crate::error::{Error, Result};
use crate::image::Written;
use crate::naming::{self, NamePart};
use crate::pipeline::{self, Binaries, CarryOptions, Dynamic, Job, Programs};
use crate::report::Reporter;

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
    /// The proof run of the output (how it ended, what it lacked); absent with --no-probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<crate::prove::Proof>,
}

/// Runs `staticize node`.
pub fn run(mut args: NodeArgs, rep: &Reporter) -> Result<()> {
    let name = naming::output_or(args.output.as_deref(), &entry_name(&args.entry)?);
    // A program named after the tree's directory (app.js → /app) would collide with it by
    // default alone: put it beside other programs instead of refusing a common entry name.
    if args.image.options.path.is_none() && format!("/{name}") == TREE_ROOT {
        args.image.options.path = Some(format!("/usr/local/bin/{name}"));
    }
    let settings = settings::build_settings(&args.image)?;
    let delivery = settings::delivery(&args.image.options)?;
    let program_path = settings.program_path(&name)?;
    if program_path == TREE_ROOT || program_path.starts_with(&format!("{TREE_ROOT}/")) {
        return Err(Error::usage(
            format!("--path {program_path} is inside {TREE_ROOT}, where the package tree goes"),
            "put the executable elsewhere, e.g. --path /usr/local/bin/NAME",
        ));
    }
    let arches = delivery.build_platforms();
    let binary = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    let entry = args.entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let driver = NodeDriver {
        node: args.node.clone(),
        assets: args.asset.clone(),
        layout: args.layout.into(),
        injector: args.injector.into(),
        code_cache: args.code_cache,
        cache: delivery.cache.clone(),
        ..Default::default()
    };
    let job = Job {
        name,
        programs: Programs::Build {
            builds: arches.iter().map(|a| (*a, &driver as &dyn Driver)).collect(),
            inputs: vec![args.entry.clone()],
            profile: Default::default(),
            extra_args: Vec::new(),
        },
        settings,
        delivery,
        probe: settings::probe(&args.image.options.image_output)?,
        destinations: settings::build_destinations(&args.image, &binary)?,
        binaries: Binaries::One(binary.clone()),
        dynamic: Dynamic::Carry(CarryOptions { init: !args.no_init, pack_binary: !args.no_pack, ..Default::default() }),
        created_by: format!("staticize node {entry}"),
        plan_only: args.image.options.image_output.plan,
    };
    let Some(outcome) = pipeline::run(job, rep)? else { return Ok(()) };
    let mut results: Vec<NodeResult> = outcome
        .programs
        .iter()
        .zip(driver.builds.take())
        .map(|(p, build)| NodeResult {
            binary: binary.clone(),
            build,
            linkage: p.linkage.clone(),
            closure: p.closure.clone(),
            image: outcome.image.clone(),
            proof: outcome.proof.clone(),
        })
        .collect();
    if results.len() == 1 {
        rep.json(&results.remove(0));
    } else {
        rep.json(&results);
    }
    outcome.finish()
}

/// The program's name: the entry's file name, or its package's name when the file name says
/// nothing ("index.js", "cli.js", "server.js").
pub fn entry_name(entry: &Path) -> Result<String> {
    let stem = naming::program_name(entry, NamePart::Stem, "-o")?;
    Ok(package_name_or(entry, stem))
}

fn package_name_or(entry: &Path, stem: String) -> String {
    const GENERIC: &[&str] = &["index", "main", "cli", "server", "app", "bin", "start"];
    if !GENERIC.contains(&stem.as_str()) {
        return stem;
    }
    let Ok(real) = entry.canonicalize() else { return stem };
    let pkg = real.parent().and_then(source::package_root).and_then(|d| source::package_json(&d));
    let name = pkg.as_ref().and_then(|p| p["name"].as_str()).map(|n| n.rsplit('/').next().unwrap_or(n).to_string());
    name.filter(|n| !n.is_empty()).unwrap_or(stem)
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
        assert_eq!(entry_name(&d.path().join("server.js")).unwrap(), "hello-node");
        assert_eq!(entry_name(&d.path().join("tool.js")).unwrap(), "tool");
    }
}
