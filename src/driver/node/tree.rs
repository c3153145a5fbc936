//! The package tree layout: the program's own package and every package it depends on at run
//! time, each at its own path below one root, so every module keeps its own `__dirname` and
//! node's module resolution works exactly as it did where the program was installed.
//!
//! Dependencies are resolved the way node does: a package's `dependencies`,
//! `optionalDependencies` and `peerDependencies` are looked up in `node_modules` directories
//! from the package's directory upwards. devDependencies are never shipped.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::driver::node::source::{package_json, package_root};
use crate::error::{Error, Result};

/// One file of the tree.
#[derive(Debug, Clone, Serialize)]
pub struct TreeFile {
    /// Where it is on this machine.
    pub host: PathBuf,
    /// Its path below the tree root ("node_modules/cowsay/cows/dragon.cow").
    pub rel: String,
    /// Whether it is executable.
    pub executable: bool,
}

/// The files to ship and where the entry is among them.
#[derive(Debug, Clone, Serialize)]
pub struct Tree {
    /// The directory on this machine all files are below.
    pub root: PathBuf,
    /// The entry script, relative to the root.
    pub entry: String,
    /// Package directories shipped, relative to the root ("" for the root package).
    pub packages: Vec<String>,
    /// Every file, sorted by path.
    pub files: Vec<TreeFile>,
    /// Their total size.
    pub bytes: u64,
}

/// Collects the tree for `entry` (an existing script; symlinks such as node_modules/.bin/x are
/// followed to the real file). `reachable` is the program's own modules esbuild found from the
/// entry, when it looked and no own module locates files beside itself.
pub(crate) fn collect(entry: &Path, reachable: Option<&[PathBuf]>) -> Result<Tree> {
    let entry = entry.canonicalize().map_err(|e| Error::io("resolve", entry, e))?;
    let entry_dir = entry.parent().unwrap_or(Path::new("/")).to_path_buf();
    let top = package_root(&entry_dir).unwrap_or_else(|| entry_dir.clone());

    // Breadth-first over the dependency graph; package dirs are kept as found (not
    // canonicalised) so that symlinked workspace packages keep their place in the tree.
    let mut packages: BTreeSet<PathBuf> = BTreeSet::from([top.clone()]);
    let mut queue = vec![top.clone()];
    let mut missing = Vec::new();
    while let Some(dir) = queue.pop() {
        let Some(pj) = package_json(&dir) else { continue };
        for (field, required) in [("dependencies", true), ("optionalDependencies", false), ("peerDependencies", false)]
        {
            let Some(deps) = pj[field].as_object() else { continue };
            for name in deps.keys() {
                match resolve_package(&dir, name) {
                    Some(found) if packages.insert(found.clone()) => queue.push(found),
                    Some(_) => {}
                    None if required && pj["optionalDependencies"].get(name).is_none() => {
                        missing.push(format!("{name} (needed by {})", dir.display()))
                    }
                    None => {}
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(Error::input(
            &top,
            format!("dependencies are not installed: {}", missing.join(", ")),
            Some(format!("run npm install (or npm ci) in {}", top.display())),
        ));
    }

    // The root: the deepest directory above every package and the entry that is not inside a
    // node_modules directory (node resolves packages by that name, so it must stay in the path).
    let mut root = common_ancestor(packages.iter().map(PathBuf::as_path).chain([entry_dir.as_path()]));
    if let Some(i) = root.components().position(|c| c.as_os_str() == "node_modules") {
        root = root.components().take(i).collect();
    }

    let mut files: BTreeMap<String, TreeFile> = BTreeMap::new();
    for pkg in &packages {
        if is_installed(pkg) {
            walk(pkg, &root, &mut files, &mut BTreeSet::new())?;
        } else {
            own_files(pkg, &entry, reachable, &root, &mut files)?;
        }
    }
    let entry_rel = rel_to(&entry, &root).ok_or_else(|| {
        Error::input(&entry, "is outside its package tree", Some("pass the script inside the project".into()))
    })?;
    if !files.contains_key(&entry_rel) {
        files.insert(entry_rel.clone(), file_entry(&entry, entry_rel.clone())?);
    }
    let bytes = files.values().map(|f| std::fs::metadata(&f.host).map(|m| m.len()).unwrap_or(0)).sum();
    Ok(Tree {
        packages: packages.iter().filter_map(|p| rel_to(p, &root)).collect(),
        root,
        entry: entry_rel,
        files: files.into_values().collect(),
        bytes,
    })
}

/// Whether `dir` is an installed package (below a node_modules directory): npm put exactly its
/// published files there, so all of them ship. Anything else is a project's working directory.
fn is_installed(dir: &Path) -> bool {
    dir.components().any(|c| c.as_os_str() == "node_modules")
}

/// A project's own files: its package.json, the entry, what `main`, `bin` and `files` name (as
/// npm publishes them), and the modules reachable from the entry. With no `files` list and no
/// module graph (or an own module that finds files beside itself) it is the directory less what
/// is never the program's: see [`walk_project`].
fn own_files(
    dir: &Path,
    entry: &Path,
    reachable: Option<&[PathBuf]>,
    root: &Path,
    files: &mut BTreeMap<String, TreeFile>,
) -> Result<()> {
    let pj = package_json(dir).unwrap_or_default();
    let listed = pj["files"].as_array();
    if listed.is_none() && reachable.is_none() {
        return walk_project(dir, root, files, &mut BTreeSet::new());
    }
    let mut named: Vec<PathBuf> = vec![dir.join("package.json"), entry.to_path_buf()];
    named.extend(pj["main"].as_str().map(|m| dir.join(m)));
    match &pj["bin"] {
        serde_json::Value::String(b) => named.push(dir.join(b)),
        serde_json::Value::Object(o) => named.extend(o.values().filter_map(|v| v.as_str()).map(|b| dir.join(b))),
        _ => {}
    }
    named.extend(reachable.unwrap_or_default().iter().cloned());
    for pattern in listed.into_iter().flatten().filter_map(|v| v.as_str()) {
        let pattern = dir.join(pattern.trim_start_matches("./").trim_end_matches('/'));
        let matched = glob::glob(&pattern.to_string_lossy()).map_err(|e| {
            Error::input(
                dir.join("package.json"),
                format!("its files entry {} is not a pattern: {e}", pattern.display()),
                None,
            )
        })?;
        named.extend(matched.filter_map(|m| m.ok()));
    }
    for path in named {
        let Ok(meta) = std::fs::metadata(&path) else { continue }; // npm skips what is absent too
        if meta.is_dir() {
            walk(&path, root, files, &mut BTreeSet::new())?;
        } else if let Some(rel) = rel_to(&path, root) {
            files.entry(rel.clone()).or_insert(file_entry(&path, rel)?);
        }
    }
    Ok(())
}

/// A project directory with nothing to say what ships: every file except hidden ones (`.git`,
/// caches, `.env`), node_modules (its packages ship by the dependency graph), directories of
/// other projects (their own package.json) or image layouts, and what a build writes there:
/// executables and archives (ELF, tar), SBOMs and provenance. Without this every rebuild would
/// carry the previous build's image inside the next.
fn walk_project(
    dir: &Path,
    root: &Path,
    files: &mut BTreeMap<String, TreeFile>,
    seen: &mut BTreeSet<PathBuf>,
) -> Result<()> {
    let real = dir.canonicalize().map_err(|e| Error::io("read", dir, e))?;
    if !seen.insert(real) {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if name.starts_with('.') || name == "node_modules" || is_build_output(&name, &path, meta.is_dir()) {
            continue;
        }
        if meta.is_dir() {
            if !path.join("package.json").exists() {
                walk_project(&path, root, files, seen)?;
            }
        } else if let Some(rel) = rel_to(&path, root).filter(|_| meta.is_file()) {
            files.entry(rel.clone()).or_insert(file_entry(&path, rel)?);
        }
    }
    Ok(())
}

/// Whether a file in a project directory is what a build wrote rather than the program: an
/// executable or archive by its first bytes (ELF; tar, gzip, zstd), an SBOM or provenance by
/// its name, or an OCI image layout directory.
fn is_build_output(name: &str, path: &Path, is_dir: bool) -> bool {
    if is_dir {
        return path.join("oci-layout").is_file();
    }
    if [".spdx.json", ".cdx.json", ".provenance.json", ".intoto.jsonl"].iter().any(|s| name.ends_with(s)) {
        return true;
    }
    let mut head = Vec::with_capacity(262);
    let read =
        std::fs::File::open(path).and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 262), &mut head));
    if read.is_err() {
        return false;
    }
    head.starts_with(b"\x7fELF")
        || head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.get(257..262) == Some(b"ustar")
}

/// Where node finds package `name` when required from a module in `dir`.
fn resolve_package(dir: &Path, name: &str) -> Option<PathBuf> {
    dir.ancestors()
        .filter(|a| a.file_name().is_none_or(|n| n != "node_modules"))
        .map(|a| a.join("node_modules").join(name))
        .find(|p| p.join("package.json").is_file())
}

/// Adds every file below `dir` except nested node_modules (those are packages of their own,
/// added when something depends on them) and version-control directories.
fn walk(dir: &Path, root: &Path, files: &mut BTreeMap<String, TreeFile>, seen: &mut BTreeSet<PathBuf>) -> Result<()> {
    let real = dir.canonicalize().map_err(|e| Error::io("read", dir, e))?;
    if !seen.insert(real) {
        return Ok(()); // a symlink loop
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name == "node_modules" || name == ".git" || name == ".hg" || name == ".svn" {
            continue;
        }
        let path = e.path();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(_) => continue, // a dangling symlink: node could not read it either
        };
        if meta.is_dir() {
            walk(&path, root, files, seen)?;
        } else if meta.is_file() {
            if let Some(rel) = rel_to(&path, root) {
                files.entry(rel.clone()).or_insert(file_entry(&path, rel)?);
            }
        }
    }
    Ok(())
}

fn file_entry(path: &Path, rel: String) -> Result<TreeFile> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    Ok(TreeFile { host: path.to_path_buf(), rel, executable: meta.permissions().mode() & 0o111 != 0 })
}

fn rel_to(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"))
}

fn common_ancestor<'a>(mut paths: impl Iterator<Item = &'a Path>) -> PathBuf {
    let first = paths.next().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    paths.fold(first, |acc, p| {
        acc.components().zip(p.components()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect::<PathBuf>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn ships_runtime_dependencies_with_their_data_not_dev_dependencies() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        write(&p.join("package.json"), r#"{"name":"app","dependencies":{"a":"1"},"devDependencies":{"dev":"1"}}"#);
        write(&p.join("main.js"), "require('a')");
        write(&p.join("node_modules/a/package.json"), r#"{"name":"a","dependencies":{"b":"1"}}"#);
        write(&p.join("node_modules/a/data/words.txt"), "hello");
        write(&p.join("node_modules/a/node_modules/b/package.json"), r#"{"name":"b"}"#);
        write(&p.join("node_modules/dev/package.json"), r#"{"name":"dev"}"#);
        let t = collect(&p.join("main.js"), None).unwrap();
        let rels: Vec<&str> = t.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            [
                "main.js",
                "node_modules/a/data/words.txt",
                "node_modules/a/node_modules/b/package.json",
                "node_modules/a/package.json",
                "package.json"
            ]
        );
        assert_eq!(t.entry, "main.js");
    }

    #[test]
    fn an_entry_inside_node_modules_keeps_the_node_modules_dir_in_the_tree() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        write(&p.join("package.json"), r#"{"dependencies":{"cli":"1"}}"#);
        write(&p.join("node_modules/cli/package.json"), r#"{"name":"cli","dependencies":{"dep":"1"}}"#);
        write(&p.join("node_modules/cli/cli.js"), "");
        write(&p.join("node_modules/dep/package.json"), r#"{"name":"dep"}"#);
        let t = collect(&p.join("node_modules/cli/cli.js"), None).unwrap();
        assert_eq!(t.entry, "node_modules/cli/cli.js");
        assert!(t.files.iter().any(|f| f.rel == "node_modules/dep/package.json"));
    }

    #[test]
    fn a_missing_dependency_says_to_install() {
        let d = tempfile::tempdir().unwrap();
        write(&d.path().join("package.json"), r#"{"dependencies":{"absent":"1"}}"#);
        write(&d.path().join("x.js"), "");
        let e = collect(&d.path().join("x.js"), None).unwrap_err();
        assert!(e.to_string().contains("absent"), "{e}");
        assert!(e.help().unwrap().contains("npm install"));
    }

    fn rels(t: &Tree) -> Vec<&str> {
        t.files.iter().map(|f| f.rel.as_str()).filter(|r| !r.starts_with("node_modules/")).collect()
    }

    /// A project directory after a build or two, a checkout and another project inside it.
    fn used_project(p: &Path, package: &str) {
        write(&p.join("package.json"), package);
        write(&p.join("server.js"), "require('./lib/util')");
        write(&p.join("lib/util.js"), "");
        write(&p.join("views/index.html"), "<p>");
        write(&p.join(".git/HEAD"), "ref: refs/heads/main");
        write(&p.join(".cache/x"), "");
        write(&p.join("other/package.json"), "{}");
        write(&p.join("other/big.js"), "");
        write(&p.join("server"), "\x7fELF and the rest of an executable");
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        std::fs::write(p.join("server.tar"), tar).unwrap();
        write(&p.join("server.provenance.json"), "{}");
        write(&p.join("server.spdx.json"), "{}");
        write(&p.join("img/oci-layout"), "{}");
    }

    #[test]
    fn a_project_directory_ships_without_outputs_checkouts_or_other_projects() {
        let d = tempfile::tempdir().unwrap();
        used_project(d.path(), r#"{"name":"app"}"#);
        let t = collect(&d.path().join("server.js"), None).unwrap();
        assert_eq!(rels(&t), ["lib/util.js", "package.json", "server.js", "views/index.html"]);
    }

    #[test]
    fn the_module_graph_or_the_files_list_chooses_a_projects_files() {
        let d = tempfile::tempdir().unwrap();
        used_project(d.path(), r#"{"name":"app","bin":{"app":"server.js"}}"#);
        let graph = [d.path().join("server.js"), d.path().join("lib/util.js")];
        let t = collect(&d.path().join("server.js"), Some(&graph)).unwrap();
        assert_eq!(rels(&t), ["lib/util.js", "package.json", "server.js"]);

        let e = tempfile::tempdir().unwrap();
        used_project(e.path(), r#"{"name":"app","main":"server.js","files":["lib/","views/*.html"]}"#);
        let t = collect(&e.path().join("server.js"), None).unwrap();
        assert_eq!(rels(&t), ["lib/util.js", "package.json", "server.js", "views/index.html"]);
    }
}
