//! The files of an image, in order: directories, files and symlinks with fixed modes, every
//! parent directory present. Paths are kept relative ("etc/passwd") and normalised.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Mode for executables and directories.
pub const MODE_EXEC: u32 = 0o755;
/// Mode for data files.
pub const MODE_DATA: u32 = 0o644;

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file on the host, read when the layer is written.
    Host(PathBuf),
    /// Bytes held in memory (generated files such as /etc/passwd).
    Bytes(Vec<u8>),
}

/// One entry of the image file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory with a mode.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A regular file.
    File {
        /// Where its bytes come from.
        source: Source,
        /// Permission bits.
        mode: u32,
    },
    /// A symbolic link, stored as written.
    Symlink {
        /// The link's target.
        target: String,
    },
}

/// The ordered file system of an image.
#[derive(Debug, Clone, Default)]
pub struct Rootfs {
    entries: BTreeMap<String, Entry>,
}

/// Normalises an image path: drops the leading '/' and "." parts, refuses ".." and empty paths.
pub fn normalize(path: &str) -> Result<String> {
    let clean = crate::image::paths::clean_strict(path).map_err(|_| {
        Error::usage(
            format!("image path '{path}' leaves the image root"),
            "use an absolute path inside the image, e.g. /app/name",
        )
    })?;
    if clean.is_empty() {
        return Err(Error::usage(
            format!("image path '{path}' names the root, not a file"),
            "give a file path such as /hello",
        ));
    }
    Ok(clean)
}

impl Rootfs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a regular file (and its parents); a later add of the same path replaces it.
    pub fn add_file(&mut self, image_path: &str, source: Source, mode: u32) -> Result<String> {
        let p = normalize(image_path)?;
        self.ensure_parents(&p)?;
        // Replacing a directory would orphan its children in the layer.
        if let Some(Entry::Dir { .. }) = self.entries.get(&p) {
            return Err(conflict(&p));
        }
        self.entries.insert(p.clone(), Entry::File { source, mode });
        Ok(p)
    }

    /// Adds a directory (and its parents).
    pub fn add_dir(&mut self, image_path: &str, mode: u32) -> Result<String> {
        let p = normalize(image_path)?;
        self.ensure_parents(&p)?;
        match self.entries.get(&p) {
            Some(Entry::Dir { .. }) | None => {
                self.entries.insert(p.clone(), Entry::Dir { mode });
                Ok(p)
            }
            Some(_) => Err(conflict(&p)),
        }
    }

    /// Adds a symbolic link (and its parents).
    pub fn add_symlink(&mut self, image_path: &str, target: &str) -> Result<String> {
        let p = normalize(image_path)?;
        self.ensure_parents(&p)?;
        if let Some(Entry::Dir { .. }) = self.entries.get(&p) {
            return Err(conflict(&p));
        }
        self.entries.insert(p.clone(), Entry::Symlink { target: target.to_string() });
        Ok(p)
    }

    fn ensure_parents(&mut self, path: &str) -> Result<()> {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            match self.entries.get(&prefix) {
                None => {
                    self.entries.insert(prefix.clone(), Entry::Dir { mode: MODE_EXEC });
                }
                Some(Entry::Dir { .. }) => {}
                Some(_) => return Err(conflict(&prefix)),
            }
        }
        Ok(())
    }

    /// A file system of these entries, taken as they are (every parent must be among them).
    pub fn from_entries(entries: BTreeMap<String, Entry>) -> Self {
        Rootfs { entries }
    }

    /// Entries in the order they go into the layer (parents before children).
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    /// The entry at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        normalize(path).ok().and_then(|p| self.entries.get(&p))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn conflict(path: &str) -> Error {
    Error::usage(
        format!("image path /{path} is both a directory and a file"),
        "choose image paths that do not nest inside a file",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_created_and_sorted() {
        let mut r = Rootfs::new();
        r.add_file("/etc/redis/redis.conf", Source::Bytes(b"x".to_vec()), MODE_DATA).unwrap();
        r.add_file("/hello", Source::Bytes(vec![]), MODE_EXEC).unwrap();
        let names: Vec<&String> = r.entries().map(|(k, _)| k).collect();
        assert_eq!(names, ["etc", "etc/redis", "etc/redis/redis.conf", "hello"]);
    }

    #[test]
    fn traversal_is_refused() {
        assert!(normalize("/../etc/passwd").is_err());
        assert!(normalize("/").is_err());
        assert_eq!(normalize("./a//b/").unwrap(), "a/b");
    }

    #[test]
    fn file_under_file_is_a_conflict() {
        let mut r = Rootfs::new();
        r.add_file("/a", Source::Bytes(vec![]), MODE_DATA).unwrap();
        assert!(r.add_file("/a/b", Source::Bytes(vec![]), MODE_DATA).is_err());
    }
}
