//! Native files in a node package tree — addons (`.node`), the shared libraries shipped beside
//! them, executables a package spawns — and the libraries of this machine they need that node
//! does not load itself. Those are carried in the tree (`.staticize/lib`) and loaded by the
//! launcher before the program starts, so an addon finds them by soname wherever it runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::closure::{self, EntryKind};
use crate::driver::node::tree::Tree;
use crate::elf::{self, LinkKind};
use crate::error::Result;

/// Where carried libraries go, relative to the tree root.
pub(crate) const CARRIED_DIR: &str = ".staticize/lib";

/// One native file of the tree.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    /// Its path below the tree root.
    pub rel: String,
}

/// The native files found and what they need from this machine.
#[derive(Debug, Default)]
pub(crate) struct Native {
    /// Every ELF file of the tree.
    pub modules: Vec<Module>,
    /// Libraries of this machine to carry, in the order they must be loaded: (path below the
    /// tree root, file on this machine).
    pub carried: Vec<(String, PathBuf)>,
    /// Libraries that are nowhere, and what cannot be judged.
    pub warnings: Vec<String>,
}

/// Finds the tree's ELF files and resolves their closures against this machine (`node` is the
/// node binary that will run them: what it loads itself is not carried again). A cross build's
/// native files are listed, not resolved: this machine's libraries are of the wrong kind.
pub(crate) fn find(tree: &Tree, node: &Path, cross: bool) -> Result<Native> {
    let mut out = Native::default();
    let elves: Vec<_> = tree.files.iter().filter(|f| is_elf(&f.host)).collect();
    out.modules = elves.iter().map(|f| Module { rel: f.rel.clone() }).collect();
    if elves.is_empty() {
        return Ok(out);
    }
    if cross {
        out.warnings.push(format!(
            "the tree's native files ({}) are for this machine's npm install, not checked for the target platform: install the packages for that platform",
            out.modules.len()
        ));
        return Ok(out);
    }
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let in_tree: BTreeSet<PathBuf> = tree.files.iter().map(|f| real(&f.host)).collect();
    let opts = closure::ResolveOptions::default();
    let by_node: BTreeSet<PathBuf> =
        closure::resolve(node, &opts)?.entries.iter().map(|e| real(&e.host_path)).collect();
    let mut carried: Vec<(String, PathBuf)> = Vec::new();
    for f in elves {
        let Ok(linkage) = elf::inspect(&f.host) else { continue };
        if linkage.kind.is_self_contained() || linkage.kind == LinkKind::OtherElf {
            continue;
        }
        let c = closure::resolve(&f.host, &opts)?;
        for u in &c.unresolved {
            out.warnings.push(format!(
                "{} needs {}, which is neither in the package tree nor on this machine: it will fail to load",
                f.rel, u.name
            ));
        }
        for e in c.entries.iter().filter(|e| matches!(e.kind, EntryKind::Needed | EntryKind::Dlopen)) {
            let host = real(&e.host_path);
            if in_tree.contains(&host) || by_node.contains(&host) || carried.iter().any(|(_, h)| *h == host) {
                continue;
            }
            let name = e.image_path.rsplit('/').next().unwrap_or(&e.image_path).to_string();
            carried.push((format!("{CARRIED_DIR}/{name}"), host));
        }
    }
    // The closure lists a library before the ones it needs: load those first.
    carried.reverse();
    out.carried = carried;
    Ok(out)
}

fn is_elf(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
        && head == *b"\x7fELF"
}
