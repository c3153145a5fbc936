//! Fixtures for the unit tests that read images (read, unpack, squash, sbom): layers, raw tars
//! with hostile names, and docker-save style archives. Compiled for tests only.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A tar built entry by entry; names are written raw so hostile ones ('..', absolute) can be
/// made, which `tar::Builder` refuses.
pub(crate) struct RawTar(Vec<u8>);

impl RawTar {
    /// An empty tar.
    pub(crate) fn new() -> Self {
        RawTar(Vec::new())
    }

    /// One entry, its name and link target written as given.
    pub(crate) fn entry(
        &mut self,
        name: &str,
        kind: tar::EntryType,
        data: &[u8],
        link: Option<&str>,
        mode: u32,
    ) -> &mut Self {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }

    /// A regular file, mode 0644.
    pub(crate) fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name, tar::EntryType::Regular, data, None, 0o644)
    }

    /// A symbolic link.
    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, tar::EntryType::Symlink, b"", Some(target), 0o644)
    }

    /// The tar's bytes, with the two zero blocks that end it.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.0);
        v.extend_from_slice(&[0u8; 1024]);
        v
    }
}

/// One entry of a test layer.
pub(crate) enum Entry<'a> {
    /// A directory, mode 0755.
    Dir(&'a str),
    /// A regular file, mode 0644, root's.
    File(&'a str, &'a [u8]),
    /// A file with an owner (uid = gid), a mode and maybe a file capability (an SELinux label
    /// comes with it, so tests can see which xattrs survive).
    Owned(&'a str, &'a [u8], u64, u32, Option<&'a [u8]>),
    /// A hard link to a path.
    Hard(&'a str, &'a str),
    /// A symbolic link to a target.
    Sym(&'a str, &'a str),
}

/// A layer (an uncompressed tar, GNU headers, mtime 1000) of `entries`.
pub(crate) fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1000);
        h.set_size(0);
        match e {
            Entry::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            Entry::File(p, data) => {
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::Owned(p, data, uid, mode, cap) => {
                if let Some(cap) = cap {
                    b.append_pax_extensions([
                        ("SCHILY.xattr.security.capability", *cap),
                        ("SCHILY.xattr.security.selinux", &b"x"[..]),
                    ])
                    .unwrap();
                }
                h.set_mode(*mode);
                h.set_uid(*uid);
                h.set_gid(*uid);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::Hard(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::Sym(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// The config's `rootfs` for uncompressed `layers`: their digests are their diff_ids.
pub(crate) fn rootfs(layers: &[Vec<u8>]) -> Value {
    let diff_ids: Vec<String> = layers.iter().map(|l| crate::digest::sha256_digest(l)).collect();
    json!({ "type": "layers", "diff_ids": diff_ids })
}

/// A docker-save style archive at `dir/in.tar`: config.json, the layers as l0.tar, l1.tar…
/// (bytes as given, compressed or not), and a manifest.json naming them with `tags`.
pub(crate) fn docker_save(dir: &Path, config: &Value, tags: &[&str], layers: &[Vec<u8>]) -> PathBuf {
    let mut t = RawTar::new();
    t.file("config.json", &serde_json::to_vec(config).unwrap());
    let names: Vec<String> = (0..layers.len()).map(|i| format!("l{i}.tar")).collect();
    for (n, l) in names.iter().zip(layers) {
        t.file(n, l);
    }
    let manifest = json!([{ "Config": "config.json", "RepoTags": tags, "Layers": names }]);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let path = dir.join("in.tar");
    std::fs::write(&path, t.finish()).unwrap();
    path
}
