//! Stacks layers the way a container runtime does and counts the bytes that end up invisible:
//! file contents a later layer overwrites, deletes with a whiteout (`.wh.NAME`), or hides
//! with an opaque directory (`.wh..wh..opq`). Those bytes are still downloaded and stored.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::image::read::{EntryKind, LayerEntry};

/// How a lower entry became invisible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HiddenBy {
    /// A later entry at the same path (or one that turned a parent into a non-directory).
    Overwritten,
    /// A whiteout `.wh.NAME`.
    Deleted,
    /// An opaque directory marker.
    Opaque,
}

/// One entry that is stored in a layer but not visible in the final file system.
#[derive(Debug, Clone, Serialize)]
pub struct Hidden {
    /// Its path.
    pub path: String,
    /// The layer (0-based) whose bytes are wasted.
    pub layer: usize,
    /// Bytes of content wasted (0 for directories, links…).
    pub size: u64,
    /// The layer that hid it.
    pub by_layer: usize,
    /// How.
    pub how: HiddenBy,
}

/// Where a visible path comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The layer (0-based) of the entry that is visible.
    pub layer: usize,
    /// Bytes of content.
    pub size: u64,
    /// True for a directory.
    pub dir: bool,
    /// The entry's number: how many entries were applied before it (squash re-reads the
    /// layers and counts the same way to find it again).
    pub seq: u64,
}

/// The merged file system so far, and what was hidden on the way.
#[derive(Debug)]
pub struct Overlay {
    entries: BTreeMap<String, Slot>,
    layer: usize,
    max_entries: usize,
    overflowed: bool,
    applied: u64,
    /// Wasted bytes per layer (never capped).
    wasted: Vec<u64>,
    /// Entries hidden so far, in the order they were hidden (at most `max_entries`).
    pub hidden: Vec<Hidden>,
}

impl Overlay {
    /// An empty file system that tracks at most `max_entries` paths (memory stays bounded;
    /// past the cap, `complete()` turns false).
    pub fn new(max_entries: usize) -> Self {
        Overlay {
            entries: BTreeMap::new(),
            layer: 0,
            max_entries,
            overflowed: false,
            applied: 0,
            wasted: Vec::new(),
            hidden: Vec::new(),
        }
    }

    /// Starts the next layer; entries applied from now on belong to `layer`.
    pub fn begin_layer(&mut self, layer: usize) {
        self.layer = layer;
    }

    /// False when the cap was hit: the byte figures are then a lower bound and `hidden` is
    /// incomplete.
    pub fn complete(&self) -> bool {
        !self.overflowed
    }

    /// Applies one entry of the current layer.
    pub fn apply(&mut self, e: &LayerEntry) {
        let l = self.layer;
        let seq = self.applied;
        self.applied += 1;
        match e.kind {
            EntryKind::Whiteout => {
                self.hide_under(&e.path, true, HiddenBy::Deleted);
            }
            EntryKind::Opaque => {
                self.hide_under(&e.path, false, HiddenBy::Opaque);
            }
            _ => {
                if e.path.is_empty() {
                    return;
                }
                let dir = e.kind == EntryKind::Dir;
                // A parent that was a file (or link) is replaced by the directory this implies.
                let mut end = 0;
                while let Some(i) = e.path[end..].find('/') {
                    end += i;
                    let parent = &e.path[..end];
                    if self.entries.get(parent).is_some_and(|s| !s.dir) {
                        let s = self.entries.remove(parent).expect("just seen");
                        self.record(parent.to_string(), s, HiddenBy::Overwritten);
                    }
                    end += 1;
                }
                if let Some(old) = self.entries.get(&e.path).copied() {
                    if !(old.dir && dir) {
                        self.record(e.path.clone(), old, HiddenBy::Overwritten);
                    }
                }
                if !dir {
                    // A file replacing a directory hides everything below it.
                    self.hide_under(&e.path, false, HiddenBy::Overwritten);
                }
                if self.entries.len() >= self.max_entries && !self.entries.contains_key(&e.path) {
                    self.overflowed = true;
                    return;
                }
                self.entries.insert(e.path.clone(), Slot { layer: l, size: e.size, dir, seq });
            }
        }
    }

    /// Where the visible entry at `path` comes from, if one is.
    pub fn source(&self, path: &str) -> Option<Slot> {
        self.entries.get(path).copied()
    }

    /// Every visible path (sorted) with where it comes from.
    pub fn visible(&self) -> impl Iterator<Item = (&str, Slot)> {
        self.entries.iter().map(|(k, s)| (k.as_str(), *s))
    }

    /// Bytes of file content visible in the final file system.
    pub fn visible_bytes(&self) -> u64 {
        self.entries.values().map(|s| s.size).sum()
    }

    /// Number of paths visible in the final file system.
    pub fn visible_entries(&self) -> usize {
        self.entries.len()
    }

    /// Bytes wasted in total.
    pub fn wasted_bytes(&self) -> u64 {
        self.wasted.iter().sum()
    }

    /// Bytes wasted that are stored in `layer`.
    pub fn wasted_in(&self, layer: usize) -> u64 {
        self.wasted.get(layer).copied().unwrap_or(0)
    }

    /// Hides what lower layers hold below `path` (and `path` itself when `itself`).
    /// Whiteouts and opaque markers act on lower layers only, never on their own layer.
    fn hide_under(&mut self, path: &str, itself: bool, how: HiddenBy) {
        let l = self.layer;
        let lower_only = how != HiddenBy::Overwritten;
        let mut victims: Vec<String> = Vec::new();
        if itself && self.entries.get(path).is_some_and(|s| !lower_only || s.layer < l) {
            victims.push(path.to_string());
        }
        let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
        for (k, s) in self.entries.range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            if !lower_only || s.layer < l {
                victims.push(k.clone());
            }
        }
        for v in victims {
            if let Some(s) = self.entries.remove(&v) {
                self.record(v, s, how);
            }
        }
    }

    fn record(&mut self, path: String, s: Slot, how: HiddenBy) {
        if self.wasted.len() <= s.layer {
            self.wasted.resize(s.layer + 1, 0);
        }
        self.wasted[s.layer] += s.size;
        // The byte counts stay exact; the list of what was hidden is capped like the rest.
        if self.hidden.len() < self.max_entries {
            self.hidden.push(Hidden { path, layer: s.layer, size: s.size, by_layer: self.layer, how });
        } else {
            self.overflowed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, kind: EntryKind, size: u64) -> LayerEntry {
        LayerEntry { path: path.into(), kind, mode: 0o644, size, uid: 0, gid: 0, link: None, problem: None }
    }

    fn stack(layers: &[Vec<LayerEntry>]) -> Overlay {
        let mut o = Overlay::new(1000);
        for (i, l) in layers.iter().enumerate() {
            o.begin_layer(i);
            for x in l {
                o.apply(x);
            }
        }
        o
    }

    #[test]
    fn overwrite_delete_and_opaque() {
        use EntryKind::*;
        let o = stack(&[
            vec![
                e("big", File, 100_000),
                e("dir", Dir, 0),
                e("dir/a", File, 3000),
                e("dir/b", File, 5000),
                e("keep", File, 1000),
                e("opq", Dir, 0),
                e("opq/x", File, 2000),
            ],
            vec![e("big", File, 10)],
            vec![e("dir", Whiteout, 0)],
            vec![e("opq", Dir, 0), e("opq/new", File, 7), e("opq", Opaque, 0)],
        ]);
        assert_eq!(o.wasted_bytes(), 100_000 + 8000 + 2000);
        assert_eq!(o.wasted_in(0), 110_000);
        assert_eq!(o.visible_bytes(), 1000 + 10 + 7);
        let deleted: Vec<_> = o.hidden.iter().filter(|h| h.how == HiddenBy::Deleted).map(|h| h.path.as_str()).collect();
        assert_eq!(deleted, ["dir", "dir/a", "dir/b"]);
    }

    #[test]
    fn dirs_merge_and_files_replace_dirs() {
        use EntryKind::*;
        let o = stack(&[
            vec![e("etc", Dir, 0), e("etc/a", File, 5), e("x", File, 9)],
            vec![e("etc", Dir, 0), e("etc", File, 3), e("x/y", File, 1)],
        ]);
        // etc/a (5) hidden by the file etc; x (9) replaced by the directory x/.
        assert_eq!(o.wasted_bytes(), 14);
    }

    #[test]
    fn whiteout_does_not_touch_its_own_layer() {
        use EntryKind::*;
        let o = stack(&[vec![e("a", File, 4)], vec![e("a", Whiteout, 0), e("b", File, 2), e("b", Whiteout, 0)]]);
        assert_eq!(o.wasted_bytes(), 4);
        assert_eq!(o.visible_bytes(), 2);
    }
}
