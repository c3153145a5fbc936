//! Pass 1 of a squash: every layer's headers read once (contents skipped), stacked the way a
//! runtime stacks them ([`Overlay`]), so pass 2 knows which entry of which layer is the one
//! visible at each path — without holding any file content.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::image::read::{Archive, EntryKind, Image, LayerEntry};
use crate::image::tarstream::TarExtra;
use crate::inspect::waste::Overlay;

/// Paths tracked at most (metadata only); an image with more is refused, not half-squashed.
pub const MAX_ENTRIES: usize = 4_000_000;
/// Bytes of extended attributes kept in memory for directories, at most.
const MAX_XATTR_BYTES: usize = 64 << 20;

/// Everything but the content of one entry, as it will be written again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits (set-id and sticky included).
    pub mode: u32,
    /// Owner, kept as stored.
    pub uid: u64,
    /// Group, kept as stored.
    pub gid: u64,
    /// Modification time, kept as stored.
    pub mtime: u64,
    /// The extended attributes that matter at run time ([`keeps_xattr`]).
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Device numbers (devices only).
    pub device: (u32, u32),
    /// True for a block device (false for a character device and everything else).
    pub block: bool,
}

impl Meta {
    /// The metadata of `e` with the extras of its header.
    pub fn of(e: &LayerEntry, extra: &TarExtra) -> Meta {
        Meta {
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            mtime: extra.mtime,
            xattrs: extra.xattrs.iter().filter(|(k, _)| keeps_xattr(k)).cloned().collect(),
            device: extra.device,
            block: extra.kind == b'4',
        }
    }
}

/// Extended attributes carried over: file capabilities (`ping`'s cap_net_raw), POSIX ACLs and
/// the user namespace. SELinux labels and overlayfs' own `trusted.*` describe the machine that
/// built the layer, not the image, and runtimes refuse or ignore them.
pub fn keeps_xattr(name: &str) -> bool {
    name == "security.capability" || name.starts_with("system.posix_acl_") || name.starts_with("user.")
}

/// What becomes of a visible hard link in the squashed layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkPlan {
    /// Its target is still the same file, written earlier: a hard link as it was.
    Keep,
    /// Its target was overwritten or deleted: it becomes a regular file with the content of
    /// the entry numbered here (spooled to disk in pass 2).
    FileFrom(u64),
    /// Another link to the same lost file became that file: a hard link to its path.
    LinkTo(String),
    /// Its target is nowhere in the image: left out (and listed).
    Drop,
}

/// What pass 1 learned.
pub struct Plan {
    /// The stacked file system of every layer.
    pub overlay: Overlay,
    /// Paths visible after the kept layers (empty when every layer is squashed).
    pub lower: BTreeSet<String>,
    /// The entry number the first squashed layer starts at.
    pub first_seq: u64,
    /// Directory metadata of the squashed layers: path → (entry number, metadata).
    pub dirs: BTreeMap<String, (u64, Meta)>,
    /// Visible hard links of the squashed layers that are not kept as they were.
    pub links: HashMap<u64, LinkPlan>,
    /// Entry numbers whose content pass 2 spools for [`LinkPlan::FileFrom`].
    pub spool: BTreeSet<u64>,
    /// Digests of each layer's blob as read in pass 1 (a change before pass 2 is refused).
    pub digests: Vec<String>,
    /// Entries and content bytes in the squashed layers.
    pub entries_in: u64,
    /// Bytes of regular-file content in the squashed layers.
    pub bytes_in: u64,
    /// Visible hard links dropped because their target is nowhere.
    pub dropped_links: Vec<String>,
    /// Symlinks whose relative target climbs above the root (kept: runtimes clamp them).
    pub climbing_symlinks: u64,
}

struct HardLink {
    seq: u64,
    layer: usize,
    path: String,
    target: String,
    root: Option<u64>,
}

/// Reads the headers of every layer of `img` (squashing from layer index `from`).
pub fn plan(archive: &Archive, img: &Image, from: usize) -> Result<Plan> {
    let mut p = Plan {
        overlay: Overlay::new(MAX_ENTRIES),
        lower: BTreeSet::new(),
        first_seq: 0,
        dirs: BTreeMap::new(),
        links: HashMap::new(),
        spool: BTreeSet::new(),
        digests: Vec::new(),
        entries_in: 0,
        bytes_in: 0,
        dropped_links: Vec::new(),
        climbing_symlinks: 0,
    };
    let mut seq = 0u64;
    let mut hard = Vec::new();
    let mut roots: HashMap<u64, u64> = HashMap::new();
    let mut xattr_bytes = 0usize;
    for (i, layer) in img.layers.iter().enumerate() {
        if i == from {
            p.lower = p.overlay.visible().map(|(k, _)| k.to_string()).collect();
            p.first_seq = seq;
        }
        p.overlay.begin_layer(i);
        let mut r = archive.layer(layer)?;
        // Within one layer, a hard link names an earlier entry of the same tar.
        let mut here: HashMap<String, u64> = HashMap::new();
        while let Some(e) = r.next_entry()? {
            let s = seq;
            seq += 1;
            p.overlay.apply(&e);
            if i < from {
                continue;
            }
            refuse_unsafe(&e, &layer.location)?;
            p.entries_in += 1;
            p.bytes_in += e.size;
            match e.kind {
                EntryKind::File => {
                    here.insert(e.path.clone(), s);
                }
                EntryKind::Hardlink => {
                    let target = e.link.clone().unwrap_or_default();
                    let root = here.get(&target).map(|t| roots.get(t).copied().unwrap_or(*t));
                    if let Some(r) = root {
                        roots.insert(s, r);
                    }
                    here.insert(e.path.clone(), s);
                    hard.push(HardLink { seq: s, layer: i, path: e.path.clone(), target, root });
                }
                EntryKind::Dir => {
                    here.remove(&e.path);
                    let meta = Meta::of(&e, r.extra());
                    xattr_bytes += meta.xattrs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
                    if xattr_bytes > MAX_XATTR_BYTES {
                        return Err(too_big(&layer.location, "more than 64 MiB of directory extended attributes"));
                    }
                    p.dirs.insert(e.path.clone(), (s, meta));
                }
                EntryKind::Symlink => {
                    here.remove(&e.path);
                    p.climbing_symlinks += u64::from(e.problem.is_some());
                }
                _ => {
                    here.remove(&e.path);
                }
            }
        }
        p.digests.push(r.finish()?.digest);
        if !p.overlay.complete() {
            return Err(too_big(&layer.location, &format!("more than {MAX_ENTRIES} paths")));
        }
    }
    decide_links(&mut p, &hard, &roots);
    Ok(p)
}

/// Names that would land outside the root (absolute, `..`) or hard links out of the layer are
/// refused: a squash rewrites every entry, and none of those has a faithful rewrite.
fn refuse_unsafe(e: &LayerEntry, place: &str) -> Result<()> {
    match (&e.problem, e.kind) {
        (Some(why), k) if k != EntryKind::Symlink => Err(Error::input(
            place,
            format!("layer entry /{}: {why}; staticize does not squash unsafe layers", e.path),
            Some("run staticize inspect on the image to see every problem".into()),
        )),
        _ => Ok(()),
    }
}

fn too_big(place: &str, what: &str) -> Error {
    Error::input(place, format!("the image has {what}; staticize refuses to squash it"), None)
}

/// Decides, for every visible hard link, whether it stays a link, becomes the file its lost
/// target was, or links to another link that did.
fn decide_links(p: &mut Plan, hard: &[HardLink], roots: &HashMap<u64, u64>) {
    let root_of = |s: u64| roots.get(&s).copied().unwrap_or(s);
    let mut first_of_group: HashMap<u64, String> = HashMap::new();
    for h in hard {
        if p.overlay.source(&h.path).map(|s| s.seq) != Some(h.seq) {
            continue;
        }
        let target = p.overlay.source(&h.target).filter(|t| !t.dir && t.seq < h.seq);
        let keep = match (h.root, target) {
            (Some(root), Some(t)) => root_of(t.seq) == root,
            // A link to a file of a lower layer (no earlier entry in its own tar): runtimes
            // link to what is on disk, which is still that file if nothing replaced it.
            (None, Some(t)) => t.layer < h.layer,
            _ => false,
        };
        if keep {
            continue;
        }
        match h.root {
            Some(root) => {
                let plan = match first_of_group.get(&root) {
                    Some(first) => LinkPlan::LinkTo(first.clone()),
                    None => {
                        first_of_group.insert(root, h.path.clone());
                        p.spool.insert(root);
                        LinkPlan::FileFrom(root)
                    }
                };
                p.links.insert(h.seq, plan);
            }
            None => {
                p.dropped_links.push(h.path.clone());
                p.links.insert(h.seq, LinkPlan::Drop);
            }
        }
    }
}
