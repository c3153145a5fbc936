//! The package tree inside the single executable: every file of the tree in one SEA asset, and
//! a launcher (`unpack.js`) that unpacks it once into a memory file system and runs the entry
//! from there.
//!
//! Why unpack rather than serve the files from memory through a patched `fs`: node reads ES
//! modules, worker scripts, native addons (`dlopen`) and child executables (`execve`) through
//! the operating system, not through the `fs` module a launcher could patch; only real files
//! make all of them work. The directory is named by the tree's hash, written under a temporary
//! name and renamed, so a run sees a whole tree or none, and later runs reuse it. Only tmpfs and
//! ramfs are used: nothing reaches a disk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::driver::node::native::{self, Native};
use crate::driver::node::tree::{Tree, TreeFile};
use crate::error::{Error, Result};
use crate::progress::Steps;
use crate::report::human_size;

/// The SEA asset holding the tree.
pub(crate) const ASSET: &str = "staticize/tree";
/// The file in an unpacked (or imaged) tree holding its hash: a tree is used only when it is
/// the one this executable carries.
pub(crate) const MARK: &str = ".staticize-tree";
/// How the launcher begins its manifest comment, which `check` reads.
pub(crate) const MANIFEST: &str = "/*staticize-tree ";

/// What the launcher says about the tree it carries (also read back by `check`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The tree's content hash (the name of its unpacked directory).
    pub hash: String,
    /// Files in the tree.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Native files (addons, shared libraries, executables), relative to the tree root.
    pub native: Vec<String>,
    /// Libraries of this machine the native modules need, carried under `.staticize/lib`.
    pub preload: Vec<String>,
}

/// The tree packed for the executable.
#[derive(Debug)]
pub(crate) struct Embedded {
    /// The asset file (index length, index, file bytes).
    pub asset: PathBuf,
    /// The launcher script the blob runs.
    pub launcher: PathBuf,
    /// What it carries.
    pub manifest: Manifest,
}

/// Where the tree is packed for and where it goes.
pub(crate) struct EmbedRequest<'a> {
    /// The node binary that will run the tree (what it loads itself is not carried).
    pub node: &'a Path,
    /// A build for another platform (native files are listed, not resolved).
    pub cross: bool,
    /// Where the image holds the tree ("/app").
    pub image_tree: &'a str,
    /// The build's private directory.
    pub staging: &'a Path,
}

/// Packs `tree` into an asset in the staging directory (after adding the libraries its native
/// modules need from this machine), writes the launcher, and adds the hash file to the tree
/// (for the image).
pub(crate) fn embed(tree: &mut Tree, req: &EmbedRequest, steps: &Steps) -> Result<Embedded> {
    let (staging, image_tree) = (req.staging, req.image_tree);
    let found = native::find(tree, req.node, req.cross)?;
    report_native(&found, steps);
    for (rel, host) in &found.carried {
        insert(tree, TreeFile { host: host.clone(), rel: rel.clone(), executable: false });
    }
    tree.bytes = tree.files.iter().map(|f| std::fs::metadata(&f.host).map(|m| m.len()).unwrap_or(0)).sum();
    let (bytes, hash) = archive(tree)?;
    let asset = staging.join("tree.bin");
    std::fs::write(&asset, &bytes).map_err(|e| Error::io("write", &asset, e))?;
    let manifest = Manifest {
        hash: hash.clone(),
        files: tree.files.len(),
        bytes: tree.bytes,
        native: found.modules.iter().map(|m| m.rel.clone()).collect(),
        preload: found.carried.iter().map(|(rel, _)| rel.clone()).collect(),
    };
    let launcher = write_launcher(tree, &manifest, image_tree, staging)?;
    let mark = staging.join("tree-mark");
    std::fs::write(&mark, &hash).map_err(|e| Error::io("write", &mark, e))?;
    insert(tree, TreeFile { host: mark, rel: MARK.into(), executable: false });
    Ok(Embedded { asset, launcher, manifest })
}

fn insert(tree: &mut Tree, file: TreeFile) {
    if let Err(at) = tree.files.binary_search_by(|f| f.rel.cmp(&file.rel)) {
        tree.files.insert(at, file);
    }
}

fn report_native(found: &Native, steps: &Steps) {
    if found.modules.is_empty() {
        return;
    }
    let names: Vec<&str> = found.modules.iter().map(|m| m.rel.as_str()).collect();
    let carried: Vec<&str> = found.carried.iter().map(|(rel, _)| rel.rsplit('/').next().unwrap_or(rel)).collect();
    let from_host = if carried.is_empty() {
        "every library they need is in the tree or loaded by node".to_string()
    } else {
        format!("carried from this machine: {}", carried.join(" "))
    };
    steps.step(
        "native",
        format!(
            "{} native files ({}); {from_host}; they need a memory file system without noexec where the executable runs alone",
            names.len(),
            summarize(&names)
        ),
    );
    for w in &found.warnings {
        steps.warn(w);
    }
}

fn summarize(items: &[&str]) -> String {
    match items.len() {
        0..=3 => items.join(", "),
        n => format!("{} and {} more", items[..3].join(", "), n - 3),
    }
}

/// The asset's bytes — a little-endian u32 index length, the index (JSON: `[rel, offset, size,
/// executable]` per file, sorted), then every file's bytes — and its hash. Host paths never go
/// in, so the same tree gives the same bytes anywhere.
fn archive(tree: &Tree) -> Result<(Vec<u8>, String)> {
    let mut data = Vec::new();
    let mut index = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &tree.files {
        if !seen.insert(&f.rel) {
            continue;
        }
        let bytes = std::fs::read(&f.host).map_err(|e| Error::io("read", &f.host, e))?;
        index.push(serde_json::json!([f.rel, data.len(), bytes.len(), f.executable]));
        data.extend_from_slice(&bytes);
    }
    let index = serde_json::to_vec(&index).expect("JSON serialises");
    let mut out = Vec::with_capacity(4 + index.len() + data.len());
    out.extend_from_slice(&(index.len() as u32).to_le_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(&data);
    let hash = crate::digest::sha256_hex(&out)[..32].to_string();
    Ok((out, hash))
}

/// The launcher: `unpack.js` with this tree's values filled in.
fn write_launcher(tree: &Tree, manifest: &Manifest, image_tree: &str, staging: &Path) -> Result<PathBuf> {
    let summary = format!("{} files, {}", manifest.files, human_size(manifest.bytes));
    let script = include_str!("unpack.js")
        .replace("@@MANIFEST@@", &serde_json::to_string(manifest).expect("JSON serialises").replace("*/", "*\\/"))
        .replace("@@HASH@@", &manifest.hash)
        .replace("@@ENTRY@@", &json(&tree.entry))
        .replace("@@IMAGE_TREE@@", &json(image_tree))
        .replace("@@PRELOAD@@", &json(&manifest.preload))
        .replace("@@NATIVE@@", &json(&manifest.native))
        .replace("@@SUMMARY@@", &summary);
    let path = staging.join("launcher.cjs");
    std::fs::write(&path, script).map_err(|e| Error::io("write", &path, e))?;
    Ok(path)
}

/// A value as a JSON literal for the launcher's source.
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("JSON serialises")
}

/// The manifest of the tree a node single executable carries, read from its blob's launcher.
pub(crate) fn manifest_in(bytes: &[u8]) -> Option<Manifest> {
    let at = memchr::memmem::find(bytes, MANIFEST.as_bytes())? + MANIFEST.len();
    let end = memchr::memmem::find(&bytes[at..], b"*/")?;
    serde_json::from_slice(&bytes[at..at + end]).ok()
}

/// The files of a tree archive (see [`archive`]): path below the root and bytes.
pub(crate) fn read_archive(bytes: &[u8]) -> Option<Vec<(String, &[u8])>> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let index: Vec<(String, usize, usize, bool)> = serde_json::from_slice(bytes.get(4..4 + len)?).ok()?;
    let data = &bytes[4 + len..];
    index.into_iter().map(|(rel, at, size, _)| Some((rel, data.get(at..at.checked_add(size)?)?))).collect()
}

/// The tree archive inside a node single executable's blob, found through node's own asset table.
pub(crate) fn archive_in(program: &[u8]) -> Option<&[u8]> {
    let (start, end) = crate::sea::verify(program).ok()?.blob_range?;
    let blob = program.get(start..end)?;
    crate::sea::assets(blob)?.into_iter().find(|(k, _)| *k == ASSET).map(|(_, v)| v)
}

/// What `check` says of a carried tree: what it is and where it goes when the file runs alone.
pub(crate) fn describe(m: &Manifest) -> String {
    let native = if m.native.is_empty() {
        String::new()
    } else {
        format!(
            "; {} native files ({}) run from it, so that file system must allow exec (no noexec mount)",
            m.native.len(),
            summarize(&m.native.iter().map(String::as_str).collect::<Vec<_>>())
        )
    };
    format!(
        "carries its node package tree ({} files, {}, tree {}): unpacked once into a memory file system ($STATICIZE_NODE_TREE_DIR, $XDG_RUNTIME_DIR, /dev/shm, /run or /tmp, tmpfs only) where it runs{native}",
        m.files,
        human_size(m.bytes),
        m.hash
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_of(dir: &Path, files: &[(&str, &str)]) -> Tree {
        let mut out = Vec::new();
        for (rel, text) in files {
            let host = dir.join(rel);
            std::fs::create_dir_all(host.parent().unwrap()).unwrap();
            std::fs::write(&host, text).unwrap();
            out.push(TreeFile { host, rel: rel.to_string(), executable: false });
        }
        Tree { root: dir.into(), entry: files[0].0.into(), packages: vec![], files: out, bytes: 0 }
    }

    #[test]
    fn the_archive_depends_on_the_files_not_where_they_are() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let files = [("main.js", "require('./lib')"), ("lib/index.js", "module.exports = 1")];
        let (x, hx) = archive(&tree_of(a.path(), &files)).unwrap();
        let (y, hy) = archive(&tree_of(b.path(), &files)).unwrap();
        assert_eq!((x, &hx), (y, &hy));
        let (_, hz) = archive(&tree_of(b.path(), &[("main.js", "changed")])).unwrap();
        assert_ne!(hx, hz);
    }

    #[test]
    fn the_archive_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let (bytes, _) = archive(&tree_of(d.path(), &[("a.js", "A"), ("b/c.node", "\x7fELF")])).unwrap();
        let files = read_archive(&bytes).unwrap();
        assert_eq!(files, [("a.js".to_string(), &b"A"[..]), ("b/c.node".to_string(), &b"\x7fELF"[..])]);
        assert!(read_archive(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn the_manifest_is_read_back_from_the_launcher() {
        let d = tempfile::tempdir().unwrap();
        let tree = tree_of(d.path(), &[("main.js", "")]);
        let m = Manifest { hash: "ab".into(), files: 1, bytes: 0, native: vec!["a*/b.node".into()], preload: vec![] };
        let launcher = write_launcher(&tree, &m, "/app", d.path()).unwrap();
        let text = std::fs::read(launcher).unwrap();
        let back = manifest_in(&text).unwrap();
        assert_eq!((back.hash.as_str(), back.native), ("ab", vec!["a*/b.node".to_string()]));
    }
}
