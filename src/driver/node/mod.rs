//! The Node driver: an entry script → a Node single-executable application (SEA): the script
//! (bundled with esbuild when it needs packages or is an ES module) becomes a preparation blob
//! made by the same node that is then copied, stripped and injected with it.
//!
//! Programs whose modules find files beside themselves (`__dirname`, `import.meta.url`) do not
//! survive bundling: every module would see the executable's directory. For those the blob is a
//! small launcher and the package tree (see [`tree`]) travels inside it as an asset, unpacked
//! with every module at its own path where it runs (see [`embed`]).

pub(crate) mod cross;
pub(crate) mod embed;
pub(crate) mod failure;
pub(crate) mod native;
pub(crate) mod source;
pub(crate) mod tools;
pub(crate) mod tree;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::driver::{Artifact, BuildRequest, Companions, Driver, LibraryRoot, OnRuntime};
use crate::platform::Arch;

use crate::error::{Error, Result};
use crate::process::Command;
use crate::progress::Steps;
use crate::report::{human_size, size_of};
use crate::sea::{self, Fuse, SeaCheck};
use tools::{NodeRuntime, NodeToolchain};
use tree::Tree;

/// Where the package tree goes in the image.
pub(crate) const TREE_ROOT: &str = "/app";

/// How the program is laid out, as asked on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LayoutChoice {
    /// Bundle; carry the package tree instead when a module locates files beside itself or
    /// esbuild cannot bundle the program.
    #[default]
    Auto,
    /// Always one bundled script inside the executable.
    Bundle,
    /// Always the package tree, carried inside the executable.
    Tree,
}

/// How the program was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// The entry script as it is (it needs only node's built-in modules).
    Script,
    /// One script bundled by esbuild.
    Bundle,
    /// A launcher and the package tree in the executable (and the tree under /app in the image).
    Tree,
}

/// Which injector writes the blob into node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Injector {
    /// staticize's own ELF injector (src/sea.rs).
    #[default]
    Staticize,
    /// postject from npm (LIEF), at the version pinned in toolchains/node.toml.
    Postject,
}

/// A file put into the blob, readable with `require('node:sea').getAsset(NAME)`.
#[derive(Debug, Clone, Serialize)]
pub struct Asset {
    /// The asset's key.
    pub name: String,
    /// The file on this machine.
    pub path: PathBuf,
}

impl std::str::FromStr for Asset {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once('=') {
            Some((name, path)) if !name.is_empty() && !path.is_empty() => {
                Ok(Asset { name: name.to_string(), path: PathBuf::from(path) })
            }
            _ => Err(format!("'{s}' is not NAME=PATH")),
        }
    }
}

/// What `staticize node` is asked to build.
#[derive(Debug, Clone)]
pub(crate) struct NodeRequest {
    /// The entry script.
    pub entry: PathBuf,
    /// The program's name (file name of the executable).
    pub name: String,
    /// A private directory for intermediate files and the executable.
    pub staging: PathBuf,
    /// The node to use (`--node`), else $STATICIZE_NODE or node on PATH.
    pub node: Option<PathBuf>,
    /// Files for the blob.
    pub assets: Vec<Asset>,
    /// Bundle, tree or decide.
    pub layout: LayoutChoice,
    /// Which injector.
    pub injector: Injector,
    /// The architecture to build for when it is not this machine's ("arm64").
    pub platform: Option<String>,
    /// Include V8's code cache (faster start; V8 writes a few random bytes into it, so the
    /// executable is no longer byte-for-byte reproducible).
    pub code_cache: bool,
    /// The cache registry another platform's node is shared through.
    pub cache: crate::remote_cache::Settings,
}

/// What was built.
#[derive(Debug, Clone, Serialize)]
pub struct NodeBuild {
    /// The single executable (in the staging directory).
    pub executable: PathBuf,
    /// The node that made the blob.
    pub node: NodeRuntime,
    /// The node binary that was copied and injected (the same one, or another platform's
    /// build of the same version from npm).
    pub injected_node: PathBuf,
    /// The architecture built for, when it is not this machine's.
    pub platform: Option<String>,
    /// How the program is laid out.
    pub layout: Layout,
    /// "esbuild@0.28.2" when the entry was bundled.
    pub bundler: Option<String>,
    /// Modules that locate files beside themselves ("node_modules/x/lib/y.js uses __dirname").
    pub self_locating: Vec<String>,
    /// The package tree, for the tree layout.
    pub tree: Option<Tree>,
    /// What the executable carries of the tree (the tree layout): unpacked where it runs.
    pub carries: Option<embed::Manifest>,
    /// Directories of the npm packages shipped (bundled modules' packages, or the tree's),
    /// for the SBOM.
    pub npm_packages: Vec<PathBuf>,
    /// Size of the node binary as found.
    pub node_bytes: u64,
    /// Size after stripping.
    pub stripped_bytes: u64,
    /// Size of the preparation blob.
    pub blob_bytes: u64,
    /// Size of the single executable.
    pub executable_bytes: u64,
    /// Which injector wrote it.
    pub injector: Injector,
    /// What verification found.
    pub sea: SeaCheck,
    /// The plain node and the script it runs, for an image whose node layer every app
    /// shares; None with `--asset` or `--code-cache`, which only a single executable has.
    #[serde(skip)]
    pub on_runtime: Option<OnRuntime>,
}

/// Builds the single executable, one reported step at a time.
pub(crate) fn build(req: &NodeRequest, steps: &Steps) -> Result<NodeBuild> {
    let tc = tools::toolchain();
    let text = read_entry(&req.entry)?;
    let (node, injected_node, cross) = runtimes(&tc, req, steps)?;
    let laid = lay_out(&tc, &node, req, &text, cross.is_some(), steps)?;

    // A plain script is not bundled, so nothing has parsed it yet: without this a syntax error
    // would surface only when the image runs. `node --check` parses without running.
    let step = format!("check the syntax of {}", laid.main.display());
    Command::new(&node.path).arg("--check").arg(&laid.main).run(&step)?;
    let tree_asset = laid.embedded.as_ref().map(|e| e.asset.clone());
    let blob = make_blob(&node, &laid.main, req, tree_asset.as_deref(), steps)?;
    let blob_bytes = size_of(&blob);
    let (plain, exe, node_bytes) = copy_and_strip(&tc, cross, &injected_node, req, steps)?;
    let stripped_bytes = size_of(&exe);
    inject(&tc, req.injector, &exe, &blob, steps)?;
    let (executable_bytes, check) = verify(&exe, req.injector, steps)?;
    let on_runtime = on_runtime(req, &node, plain, &laid)?;
    Ok(NodeBuild {
        executable: exe,
        node,
        injected_node,
        platform: req.platform.clone(),
        layout: laid.layout,
        bundler: laid.bundler,
        self_locating: laid.self_locating,
        npm_packages: laid.package_dirs,
        tree: laid.tree,
        carries: laid.embedded.map(|e| e.manifest),
        node_bytes,
        stripped_bytes,
        blob_bytes,
        executable_bytes,
        injector: req.injector,
        sea: check,
        on_runtime,
    })
}

/// The plain node and the script it runs in place of the single executable: the bundle or
/// the entry as it is, or for the package tree the same launcher the executable has — in the
/// image it finds the tree under /app by its hash, loads the libraries carried for its native
/// modules and runs the entry there. Assets and V8's code cache exist only inside a single
/// executable.
fn on_runtime(req: &NodeRequest, node: &NodeRuntime, plain: PathBuf, laid: &Laid) -> Result<Option<OnRuntime>> {
    if !req.assets.is_empty() || req.code_cache {
        return Ok(None);
    }
    let main = match &laid.embedded {
        Some(e) => e.launcher.clone(),
        None => laid.main.clone(),
    };
    Ok(Some(OnRuntime { runtime: plain, what: format!("node v{}", node.version), main }))
}

/// The node that makes the blob, the node binary that is injected (another platform's from
/// npm for a cross build), and that platform's settings.
fn runtimes<'t>(
    tc: &'t NodeToolchain,
    req: &NodeRequest,
    steps: &Steps,
) -> Result<(NodeRuntime, PathBuf, Option<&'t tools::CrossSpec>)> {
    // The fuse is read before node is ever run: a node whose fuse is flipped but which has no
    // blob crashes at start, even for --version.
    let node_path = tc.node.locate(req.node.as_deref())?;
    let node_size = check_fuse(&node_path)?;
    let node = tools::node_runtime(tc, Some(&node_path))?;
    steps.step("node", format!("v{} at {} ({})", node.version, node.path.display(), human_size(node_size)));
    let cross = req.platform.as_deref().map(|arch| cross::spec(tc, arch)).transpose()?;
    if cross.is_some() && req.code_cache {
        return Err(Error::usage(
            "--code-cache cannot be used with --platform: V8's code cache only fits the machine that made it",
            "leave out --code-cache",
        ));
    }
    let injected_node = match cross {
        Some(spec) => {
            let n = cross::fetch_node(tc, spec, &node.version, &req.cache, steps)?;
            check_fuse(&n)?;
            n
        }
        None => node.path.clone(),
    };
    Ok((node, injected_node, cross))
}

/// How the program was laid out, and the script the blob runs.
struct Laid {
    layout: Layout,
    bundler: Option<String>,
    self_locating: Vec<String>,
    tree: Option<Tree>,
    /// The tree packed into the executable.
    embedded: Option<embed::Embedded>,
    main: PathBuf,
    /// Directories of the npm packages shipped (bundled modules' packages, or the tree's).
    package_dirs: Vec<PathBuf>,
    /// The program's own modules esbuild reached from the entry, when none of them locates
    /// files beside itself (then the tree needs only these of the project's files).
    own_modules: Option<Vec<PathBuf>>,
}

/// Script, bundle or tree.
fn lay_out(
    tc: &NodeToolchain,
    node: &NodeRuntime,
    req: &NodeRequest,
    text: &str,
    cross: bool,
    steps: &Steps,
) -> Result<Laid> {
    let builtins = builtin_modules(node)?;
    // node cannot run TypeScript (ERR_UNKNOWN_FILE_EXTENSION); esbuild compiles it while
    // bundling, reading the project's tsconfig.json as it does for any build.
    let typescript = typescript_entry(req)?;
    let why_bundle = match req.layout {
        LayoutChoice::Bundle => Some("as asked (--layout bundle)".to_string()),
        LayoutChoice::Tree => Some("as asked (--layout tree)".to_string()),
        LayoutChoice::Auto if typescript => Some("it is TypeScript".to_string()),
        LayoutChoice::Auto if source::is_esm(&req.entry, text) => Some("it is an ES module".to_string()),
        LayoutChoice::Auto => source::specifiers(text)
            .into_iter()
            .find(|s| !source::is_builtin(s, &builtins))
            .map(|s| format!("it imports {s}"))
            .or_else(|| source::why_not_as_is(text, &builtins)),
    };
    let mut laid = Laid {
        layout: Layout::Script,
        bundler: None,
        self_locating: Vec::new(),
        tree: None,
        embedded: None,
        main: req.entry.clone(),
        package_dirs: Vec::new(),
        own_modules: None,
    };
    let Some(why) = why_bundle else {
        steps.step("layout", "the entry as it is: it imports nothing but node's built-in modules");
        return Ok(laid);
    };
    let mut unbundlable = None;
    if req.layout != LayoutChoice::Tree {
        match bundle(tc, node, req, steps)? {
            Ok(bundled) => {
                laid.self_locating = bundled.self_locating;
                laid.package_dirs = bundled.package_dirs;
                laid.own_modules = bundled.own_modules;
                laid.bundler = Some(tc.esbuild.package.clone());
                laid.main = bundled.script;
                laid.layout = Layout::Bundle;
            }
            // Only --layout auto gets here: esbuild cannot make one script of it, node runs
            // it as it is from its tree.
            Err(why_not) => unbundlable = Some(why_not),
        }
    }
    let auto_tree = req.layout == LayoutChoice::Auto && !laid.self_locating.is_empty() && !typescript;
    if req.layout == LayoutChoice::Tree || auto_tree || unbundlable.is_some() {
        let why = match unbundlable {
            Some(why_not) => format!("because {why_not}"),
            None if laid.self_locating.is_empty() => "as asked (--layout tree)".to_string(),
            None => format!("because {}", summarize(&laid.self_locating)),
        };
        lay_out_tree(req, &node.path, cross, &why, &mut laid, steps)?;
    } else if !laid.self_locating.is_empty() {
        steps.warn(format!(
            "{}: these modules look for files beside themselves and will look beside the executable instead: {}",
            if typescript { "TypeScript is bundled" } else { "--layout bundle" },
            laid.self_locating.join("; ")
        ));
    }
    if laid.layout == Layout::Bundle {
        steps.step("layout", format!("one bundled script in the executable: {why}"));
    }
    Ok(laid)
}

/// The tree layout: the package tree collected, packed into the executable with the launcher
/// that unpacks it (and shipped under /app in the image).
fn lay_out_tree(req: &NodeRequest, node: &Path, cross: bool, why: &str, laid: &mut Laid, steps: &Steps) -> Result<()> {
    laid.layout = Layout::Tree;
    let mut tree = tree::collect(&req.entry, laid.own_modules.as_deref())?;
    let place = embed::EmbedRequest { node, cross, image_tree: TREE_ROOT, staging: &req.staging };
    let embedded = embed::embed(&mut tree, &place, steps)?;
    steps.step(
        "layout",
        format!(
            "package tree: {} files of {} packages ({}), each module at its own path, {why}; carried inside the executable (unpacked once into a memory file system where it runs alone, tree {}) and under {TREE_ROOT} in its image",
            embedded.manifest.files,
            tree.packages.len(),
            human_size(tree.bytes),
            embedded.manifest.hash,
        ),
    );
    laid.main = embedded.launcher.clone();
    laid.package_dirs = tree.packages.iter().filter(|p| !p.is_empty()).map(|p| tree.root.join(p)).collect();
    laid.tree = Some(tree);
    laid.embedded = Some(embedded);
    Ok(())
}

/// Copies and strips node BEFORE injecting: strip rewrites the file and drops what it does not
/// know, which breaks an injected node. Returns the plain stripped node, its copy to inject
/// and the size of node as found.
fn copy_and_strip(
    tc: &NodeToolchain,
    cross: Option<&tools::CrossSpec>,
    injected_node: &Path,
    req: &NodeRequest,
    steps: &Steps,
) -> Result<(PathBuf, PathBuf, u64)> {
    // Its own directory: the program may be called "node" too.
    let dir = req.staging.join("runtime");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let plain = dir.join("node");
    std::fs::copy(injected_node, &plain).map_err(|e| Error::io("copy node to", &plain, e))?;
    set_mode(&plain, 0o755)?;
    let node_bytes = size_of(injected_node);
    if crate::elf::inspect(&plain)?.stripped {
        steps.step("strip", format!("node is already stripped ({})", human_size(node_bytes)));
    } else {
        let strip = match cross {
            Some(spec) => cross::strip_tool(spec)?,
            None => tc.strip.locate(None)?,
        };
        Command::new(strip).args(&tc.strip.args).arg(&plain).run("strip the copy of node")?;
        steps.step("strip", format!("{} → {}", human_size(node_bytes), human_size(size_of(&plain))));
    }
    let exe = req.staging.join(&req.name);
    std::fs::copy(&plain, &exe).map_err(|e| Error::io("copy node to", &exe, e))?;
    Ok((plain, exe, node_bytes))
}

/// Reads the injected executable back and checks the blob is where node will look.
fn verify(exe: &Path, injector: Injector, steps: &Steps) -> Result<(u64, SeaCheck)> {
    let bytes = std::fs::read(exe).map_err(|e| Error::io("read", exe, e))?;
    let check = sea::verify(&bytes).map_err(|m| Error::input(exe, m, None))?;
    if let Some(problem) = check.problem() {
        return Err(Error::Build {
            step: "verify the single executable".into(),
            message: format!("{problem} (the injector reported success)"),
            help: Some(match injector {
                Injector::Postject => "try staticize's own injector: --injector staticize".into(),
                Injector::Staticize => "try the reference injector: --injector postject".into(),
            }),
        });
    }
    steps.step(
        "verify",
        format!(
            "fuse flipped; {} note of {} in a loaded segment, SEA magic present",
            sea::NOTE_NAME,
            human_size(check.blob_bytes.unwrap_or(0))
        ),
    );
    Ok((bytes.len() as u64, check))
}

/// Whether the entry is TypeScript; refuses the package-tree layout for it (node would have to
/// run the TypeScript itself).
fn typescript_entry(req: &NodeRequest) -> Result<bool> {
    let typescript = source::is_typescript(&req.entry);
    if typescript && req.layout == LayoutChoice::Tree {
        return Err(Error::usage(
            format!("{} is TypeScript, which node cannot run from a package tree", req.entry.display()),
            "leave out --layout tree: TypeScript entries are compiled and bundled by esbuild",
        ));
    }
    Ok(typescript)
}

/// Refuses a node that cannot become a single executable; returns its size.
fn check_fuse(node: &Path) -> Result<u64> {
    let bytes = std::fs::read(node).map_err(|e| Error::io("read", node, e))?;
    match sea::fuse_state(&bytes) {
        (Fuse::Intact, _) => Ok(bytes.len() as u64),
        (Fuse::Flipped, _) => Err(Error::input(
            node,
            "is already a single-executable app (its SEA fuse is flipped)",
            Some("pass a plain node binary with --node".into()),
        )),
        _ => Err(Error::input(
            node,
            format!("has no usable {} fuse, so it cannot run single-executable apps", sea::FUSE),
            Some("use an official Node 20.12+ build (or pass one with --node)".into()),
        )),
    }
}

fn read_entry(entry: &Path) -> Result<String> {
    let meta = std::fs::metadata(entry).map_err(|e| Error::io("read entry script", entry, e))?;
    if !meta.is_file() {
        return Err(Error::input(
            entry,
            "is not a file",
            Some("pass the program's entry script, e.g. server.js".into()),
        ));
    }
    let bytes = std::fs::read(entry).map_err(|e| Error::io("read entry script", entry, e))?;
    String::from_utf8(bytes).map_err(|_| {
        Error::input(
            entry,
            "is not UTF-8 text",
            Some("pass a JavaScript or TypeScript entry script (.js, .mjs, .cjs, .ts, .mts, .cts, .tsx)".into()),
        )
    })
}

fn builtin_modules(node: &NodeRuntime) -> Result<Vec<String>> {
    let out = Command::new(&node.path)
        .args(["-p", "JSON.stringify(require('node:module').builtinModules)"])
        .run("list node's built-in modules")?;
    serde_json::from_str(out.stdout.trim()).map_err(|e| Error::Build {
        step: "list node's built-in modules".into(),
        message: format!("unexpected output from node: {e}"),
        help: None,
    })
}

/// The bundle and what its inputs revealed.
struct Bundled {
    script: PathBuf,
    self_locating: Vec<String>,
    /// Directories of the npm packages esbuild took modules from.
    package_dirs: Vec<PathBuf>,
    /// The project's own modules among the inputs, unless one of them locates files beside
    /// itself (then which of the project's files it reads is unknown).
    own_modules: Option<Vec<PathBuf>>,
}

/// Bundles the entry; `Ok(Err(why))` when `--layout auto` should take the tree instead
/// because esbuild cannot make one script of it (a native addon, top-level await in an ES
/// module): the reason is esbuild's own words.
fn bundle(tc: &NodeToolchain, node: &NodeRuntime, req: &NodeRequest, steps: &Steps) -> Result<Result<Bundled, String>> {
    let npx = tc.npx.locate(None)?;
    let entry = req.entry.canonicalize().map_err(|e| Error::io("resolve", &req.entry, e))?;
    // esbuild runs in the project so that its metafile names inputs as "node_modules/x/y.js".
    let dir = source::project_dir(&entry);
    let script = req.staging.join("bundle.cjs");
    let meta = req.staging.join("meta.json");
    let major = tools::parse_version(&node.version).0;
    let step = format!("bundle {} with {}", req.entry.display(), tc.esbuild.package);
    let spinner = steps.spinner(format!("bundling with {}", tc.esbuild.package));
    let result = npm_exec(&npx, &tc.esbuild.package)
        .arg(&entry)
        .args(&tc.esbuild.args)
        .arg(format!("--target=node{major}"))
        .arg(format!("--outfile={}", script.display()))
        .arg(format!("--metafile={}", meta.display()))
        .dir(&dir)
        .run(&step);
    drop(spinner);
    if let Err(Error::CommandFailed { stderr, .. }) = &result {
        let failure = failure::bundle_failure(stderr, &dir);
        match failure {
            failure::BundleFailure::Unbundlable(why) if req.layout == LayoutChoice::Auto => return Ok(Err(why)),
            failure => return Err(failure.into_error(step, stderr, &dir)),
        }
    }
    result?;
    let meta_text = std::fs::read_to_string(&meta).map_err(|e| Error::io("read esbuild's metafile", &meta, e))?;
    let meta: serde_json::Value = serde_json::from_str(&meta_text).map_err(|e| Error::Build {
        step: step.clone(),
        message: format!("esbuild wrote an unreadable metafile: {e}"),
        help: None,
    })?;
    let inputs: Vec<String> = meta["inputs"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let mut found = Vec::new();
    let mut pkgs = std::collections::BTreeSet::new();
    let mut package_dirs = std::collections::BTreeSet::new();
    let mut own_modules = Some(Vec::new());
    for input in &inputs {
        let path = dir.join(input);
        let pkg = package_of(input);
        if let Some(pkg) = &pkg {
            let at = input.rfind("node_modules/").unwrap_or(0);
            package_dirs.insert(dir.join(&input[..at]).join("node_modules").join(pkg));
            pkgs.insert(pkg.clone());
        }
        let marker = std::fs::read_to_string(&path).ok().as_deref().and_then(source::self_locating);
        if let Some(marker) = marker {
            found.push(format!("{input} uses {marker}"));
        }
        if pkg.is_none() {
            match marker {
                Some(_) => own_modules = None,
                None => own_modules.iter_mut().for_each(|m| m.push(path.clone())),
            }
        }
    }
    steps.step(
        "bundle",
        format!(
            "{} modules from {} packages with {} → {}",
            inputs.len(),
            pkgs.len(),
            tc.esbuild.package,
            human_size(size_of(&script))
        ),
    );
    Ok(Ok(Bundled { script, self_locating: found, package_dirs: package_dirs.into_iter().collect(), own_modules }))
}

/// "node_modules/@scope/name/lib/x.js" → "@scope/name".
fn package_of(input: &str) -> Option<String> {
    let rest = &input[input.rfind("node_modules/")? + "node_modules/".len()..];
    let mut parts = rest.split('/');
    let first = parts.next()?;
    Some(if first.starts_with('@') { format!("{first}/{}", parts.next()?) } else { first.to_string() })
}

fn summarize(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1..=3 => items.join(", "),
        n => format!("{} and {} more", items[..3].join(", "), n - 3),
    }
}

fn make_blob(
    node: &NodeRuntime,
    main: &Path,
    req: &NodeRequest,
    tree: Option<&Path>,
    steps: &Steps,
) -> Result<PathBuf> {
    let blob = req.staging.join("sea-prep.blob");
    let mut assets = serde_json::Map::new();
    if let Some(tree) = tree {
        assets.insert(embed::ASSET.into(), serde_json::Value::String(tree.to_string_lossy().into_owned()));
    }
    for a in &req.assets {
        if a.name == embed::ASSET {
            return Err(Error::usage(
                format!("--asset {}: that name holds the package tree staticize carries", a.name),
                "name the asset otherwise",
            ));
        }
        let p = a.path.canonicalize().map_err(|e| Error::io(format!("read asset {}", a.name), &a.path, e))?;
        if !p.is_file() {
            return Err(Error::input(&a.path, format!("asset {} is not a file", a.name), None));
        }
        assets.insert(a.name.clone(), serde_json::Value::String(p.to_string_lossy().into_owned()));
    }
    // Paths in the config are relative to the staging directory: node records the main
    // script's path in the blob, and a temporary directory's name would make every build's
    // bytes differ.
    let main_file = format!("{}.js", req.name);
    let staged_main = req.staging.join(&main_file);
    std::fs::copy(main, &staged_main).map_err(|e| Error::io("copy the main script to", &staged_main, e))?;
    let mut config = serde_json::json!({
        "main": main_file,
        "output": "sea-prep.blob",
        "disableExperimentalSEAWarning": true,
        "useSnapshot": false,
        "useCodeCache": req.code_cache,
    });
    if !assets.is_empty() {
        config["assets"] = serde_json::Value::Object(assets);
    }
    let config_path = req.staging.join("sea-config.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).expect("JSON serialises"))
        .map_err(|e| Error::io("write", &config_path, e))?;
    Command::new(&node.path)
        .arg("--experimental-sea-config")
        .arg(&config_path)
        .dir(&req.staging)
        .run("make the single-executable blob")?;
    if !blob.is_file() {
        return Err(Error::Build {
            step: "make the single-executable blob".into(),
            message: format!("node reported success but wrote no {}", blob.display()),
            help: Some("use Node 20.12 or newer (--node PATH)".into()),
        });
    }
    let assets = if req.assets.is_empty() { String::new() } else { format!(", {} assets", req.assets.len()) };
    let cache = if req.code_cache { " with code cache" } else { "" };
    // Name the entry when -o renamed the program, so the line says which script went in.
    let entry = req.entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let from = if entry.is_empty() || entry == main_file { String::new() } else { format!(" from {entry}") };
    steps.step("blob", format!("{main_file}{from}{cache}{assets} ({})", human_size(size_of(&blob))));
    Ok(blob)
}

fn main_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn inject(tc: &NodeToolchain, injector: Injector, exe: &Path, blob: &Path, steps: &Steps) -> Result<()> {
    let step = "inject the blob into node";
    let progress = steps.spinner(format!("injecting {} into {}", sea::NOTE_NAME, main_name(exe)));
    match injector {
        Injector::Staticize => {
            let node = std::fs::read(exe).map_err(|e| Error::io("read", exe, e))?;
            let blob_bytes = std::fs::read(blob).map_err(|e| Error::io("read", blob, e))?;
            let out = sea::inject(&node, &blob_bytes).map_err(|message| Error::Build {
                step: step.into(),
                message,
                help: Some("pass a plain Node 20.12+ binary with --node".into()),
            })?;
            let tmp = crate::output::temp_beside(exe)?;
            std::fs::write(tmp.path(), &out).map_err(|e| Error::io("write", tmp.path(), e))?;
            crate::output::persist(tmp, exe, 0o755)?;
        }
        Injector::Postject => {
            let npx = tc.npx.locate(None)?;
            npm_exec(&npx, &tc.postject.package)
                .arg(exe)
                .arg(sea::NOTE_NAME)
                .arg(blob)
                .args(["--sentinel-fuse", sea::FUSE])
                .run(step)?;
        }
    }
    drop(progress);
    let who = match injector {
        Injector::Staticize => "staticize's injector".to_string(),
        Injector::Postject => tc.postject.package.clone(),
    };
    steps.step("inject", format!("{} note with {who} → {}", sea::NOTE_NAME, human_size(size_of(exe))));
    Ok(())
}

/// `npx --yes PACKAGE`, quiet about npm's own notices.
fn npm_exec(npx: &Path, package: &str) -> Command {
    Command::new(npx)
        .args(["--yes", package])
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_loglevel", "error")
}

fn set_mode(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set permissions on", p, e))
}

/// `staticize node` as a [`Driver`]: what the request does not say (the entry is its only
/// input), the command line does.
#[derive(Debug, Default)]
pub(crate) struct NodeDriver {
    /// The node to use (`--node`).
    pub node: Option<PathBuf>,
    /// Files for the blob.
    pub assets: Vec<Asset>,
    /// Bundle, tree or decide.
    pub layout: LayoutChoice,
    /// Which injector.
    pub injector: Injector,
    /// Include V8's code cache.
    pub code_cache: bool,
    /// The cache registry other platforms' node and libraries are shared through.
    pub cache: crate::remote_cache::Settings,
    /// What each build did, in order, for the command's JSON: the pipeline's [`Artifact`] is
    /// common to every language, and `&self` builds, so the details are kept here.
    pub builds: RefCell<Vec<NodeBuild>>,
}

impl Driver for NodeDriver {
    fn tool(&self) -> crate::driver::Tool {
        // Which node (found, fetched for another platform) is decided while building.
        let node = self.node.as_ref().map(|n| format!("node at {}", n.display()));
        crate::driver::Tool { driver: "node".into(), compiler: node }
    }

    fn build(&self, req: &BuildRequest, steps: &Steps) -> Result<Artifact> {
        let nreq = NodeRequest {
            entry: req.inputs[0].clone(),
            name: req.name.clone(),
            staging: req.staging.clone(),
            node: self.node.clone(),
            assets: self.assets.clone(),
            layout: self.layout,
            injector: self.injector,
            platform: (req.arch != Arch::host()).then(|| req.arch.name().to_string()),
            code_cache: self.code_cache,
            cache: self.cache.clone(),
        };
        let b = build(&nreq, steps)?;
        let companions = b.tree.as_ref().map(|t| Companions {
            root: TREE_ROOT.to_string(),
            files: t.files.iter().map(|f| (f.rel.clone(), f.host.clone(), f.executable)).collect(),
        });
        let artifact = Artifact {
            path: b.executable.clone(),
            lang: "node".into(),
            target: format!("{}-linux", req.arch.uname()),
            toolchain_used: format!("node v{}", b.node.version),
            command: String::new(),
            warnings: Vec::new(),
            companions,
            on_runtime: b.on_runtime.clone(),
            package_dirs: b.npm_packages.clone(),
            archives: Vec::new(),
        };
        self.builds.borrow_mut().push(b);
        Ok(artifact)
    }

    fn reports_steps(&self) -> bool {
        true
    }

    /// Assets and V8's code cache live only inside a single executable.
    fn runtime(&self) -> Option<String> {
        (self.assets.is_empty() && !self.code_cache).then(|| "node".to_string())
    }

    /// A cross build's libraries come from Debian's packages for that architecture.
    fn library_root(&self, artifact: &Artifact, steps: &Steps) -> Result<Option<LibraryRoot>> {
        let builds = self.builds.borrow();
        let Some(arch) = builds.iter().find(|b| b.executable == artifact.path).and_then(|b| b.platform.clone()) else {
            return Ok(None);
        };
        let tc = tools::toolchain();
        let spec = cross::spec(&tc, &arch)?;
        let root = cross::debian_root(spec, &self.cache, steps)?;
        Ok(Some(LibraryRoot {
            root,
            supplier: "Debian's packages".into(),
            help: "add the packages that hold them to [cross] in toolchains/node.toml".into(),
            nss_note: "NSS files and dns are built into Debian 12's glibc".into(),
            variant: (arch == "arm64").then(|| "v8".to_string()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_parse() {
        let a: Asset = "greeting=data/hello.txt".parse().unwrap();
        assert_eq!((a.name.as_str(), a.path.as_path()), ("greeting", Path::new("data/hello.txt")));
        assert!("nopath=".parse::<Asset>().is_err());
        assert!("justname".parse::<Asset>().is_err());
    }

    #[test]
    fn packages_of_inputs() {
        assert_eq!(package_of("node_modules/cowsay/lib/cows.js").as_deref(), Some("cowsay"));
        assert_eq!(package_of("node_modules/@scope/x/i.js").as_deref(), Some("@scope/x"));
        assert_eq!(package_of("node_modules/a/node_modules/b/i.js").as_deref(), Some("b"));
        assert_eq!(package_of("server.js"), None);
    }
}
