//! Layers by how often they change: an image's files cut into parts, bottom first, so that a
//! part whose files did not change keeps its layer digest from image to image (and run to run)
//! and a registry that has it is not sent it again. Which file goes in which part is decided by
//! the pipeline; this module only cuts a [`Rootfs`] along those lines.

use std::collections::{BTreeMap, BTreeSet};

use crate::image::rootfs::{Entry, Rootfs};

/// How an image is cut into layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layering {
    /// By how often the files change: runtime and libraries, extras, the application on top.
    #[default]
    Auto,
    /// One layer holding everything (`--layers single`).
    Single,
}

impl Layering {
    /// The name users type (`--layers NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Layering::Auto => "auto",
            Layering::Single => "single",
        }
    }
}

/// One lower layer: what it holds and the image paths (normalised, no leading '/') of its
/// entries. Every entry no part claims goes into the top layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// What it holds, for the image history ("libstdc++6").
    pub what: String,
    /// Its entries' paths.
    pub paths: BTreeSet<String>,
}

/// The most layers an image is cut into: registries and runtimes take more, but each layer
/// costs a round trip on pull and a mount on run (Nix caps its layered images at 100; an image
/// here has far fewer parts worth keeping apart).
pub const MAX_LAYERS: usize = 12;

/// Cuts `rootfs` into one file system per part (bottom first) and the top layer of whatever no
/// part claims, each with the parent directories of its entries (modes as in `rootfs`), so
/// that every layer is the same whichever other layers it is stacked with. Empty parts are
/// dropped; with no parts the result is `rootfs` alone.
pub fn split(rootfs: &Rootfs, parts: &[Part], top: &str) -> Vec<(String, Rootfs)> {
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, part) in parts.iter().enumerate() {
        for p in &part.paths {
            // The first part that claims a path keeps it.
            owner.entry(p.as_str()).or_insert(i);
        }
    }
    let parents = |path: &str| -> Vec<String> { path.match_indices('/').map(|(i, _)| path[..i].to_string()).collect() };
    let with_children: BTreeSet<String> = rootfs.entries().flat_map(|(p, _)| parents(p)).collect();
    let mut cut: Vec<BTreeMap<String, Entry>> = vec![BTreeMap::new(); parts.len() + 1];
    for (path, entry) in rootfs.entries() {
        let i = owner.get(path.as_str()).copied().unwrap_or(parts.len());
        let unclaimed_dir = matches!(entry, Entry::Dir { .. }) && i == parts.len() && !owner.is_empty();
        if unclaimed_dir && with_children.contains(path) {
            // A directory no part claims goes wherever its entries go, as their parent.
            continue;
        }
        let layer = &mut cut[i];
        for dir in parents(path) {
            if let Some(e) = rootfs.get(&dir) {
                layer.entry(dir).or_insert_with(|| e.clone());
            }
        }
        layer.insert(path.clone(), entry.clone());
    }
    let names = parts.iter().map(|p| p.what.clone()).chain(std::iter::once(top.to_string()));
    names.zip(cut).filter(|(_, c)| !c.is_empty()).map(|(what, c)| (what, Rootfs::from_entries(c))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Source;
    use crate::image::rootfs::{MODE_DATA, MODE_EXEC};

    fn sample() -> Rootfs {
        let mut r = Rootfs::new();
        r.add_file("/lib/libc.so.6", Source::Bytes(b"libc".to_vec()), MODE_EXEC).unwrap();
        r.add_file("/etc/ssl/certs/ca.pem", Source::Bytes(b"ca".to_vec()), MODE_DATA).unwrap();
        r.add_dir("/tmp", 0o1777).unwrap();
        r.add_file("/app", Source::Bytes(b"app".to_vec()), MODE_EXEC).unwrap();
        r
    }

    fn names(r: &Rootfs) -> Vec<String> {
        r.entries().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn no_parts_is_one_layer_of_everything() {
        let r = sample();
        let cut = split(&r, &[], "app");
        assert_eq!(cut.len(), 1);
        assert_eq!(names(&cut[0].1), names(&r));
    }

    #[test]
    fn each_entry_goes_to_one_layer_with_its_parents() {
        let libs = Part { what: "libc6".into(), paths: ["lib/libc.so.6".to_string()].into() };
        let extras = Part { what: "extras".into(), paths: ["etc/ssl/certs/ca.pem".into(), "tmp".into()].into() };
        let cut = split(&sample(), &[libs, extras, Part { what: "none".into(), paths: BTreeSet::new() }], "app");
        let got: Vec<(String, Vec<String>)> = cut.iter().map(|(w, r)| (w.clone(), names(r))).collect();
        assert_eq!(
            got,
            [
                ("libc6".to_string(), vec!["lib".to_string(), "lib/libc.so.6".into()]),
                (
                    "extras".into(),
                    vec![
                        "etc".into(),
                        "etc/ssl".into(),
                        "etc/ssl/certs".into(),
                        "etc/ssl/certs/ca.pem".into(),
                        "tmp".into()
                    ]
                ),
                ("app".into(), vec!["app".into()]),
            ]
        );
        assert_eq!(cut[1].1.get("/tmp"), Some(&Entry::Dir { mode: 0o1777 }));
    }
}
