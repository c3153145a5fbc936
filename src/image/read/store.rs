//! Where an archive's files are: the index of its own tar (one streaming pass, nothing
//! buffered) or an OCI layout directory; names and links resolved without leaving it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::layer::compression_of;
use super::limits::{Problem, ReadLimits, not_an_image};
use crate::error::{Error, Result};
use crate::image::layer::Compression;
use crate::image::paths::{clean_archive_name, link_escapes};
use crate::image::tarstream::{TarHeader, TarStream};

#[derive(Debug)]
pub(super) enum Store {
    Tar { file: PathBuf, items: HashMap<String, Item> },
    Dir { root: PathBuf },
}

#[derive(Debug, Clone)]
pub(super) enum Item {
    File { offset: u64, size: u64 },
    Dir,
    Symlink(String),
    Hardlink(String),
    Other,
}

enum Link {
    Sym(String),
    Hard(String),
}

const MAX_LINK_HOPS: usize = 16;

impl Store {
    pub(super) fn exists(&self, name: &str) -> bool {
        self.resolve(name).is_ok_and(|l| self.stored_size(&l).is_ok())
    }

    /// Resolves `name` inside the archive, following links that stay inside it.
    pub(super) fn resolve(&self, name: &str) -> Result<String, String> {
        if name.starts_with('/') {
            return Err("is an absolute path; not followed".into());
        }
        let mut pending: Vec<String> = name.rsplit('/').map(str::to_string).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    if done.pop().is_none() {
                        return Err("points outside the archive; not followed".into());
                    }
                    continue;
                }
                _ => done.push(c),
            }
            let cur = done.join("/");
            let link = self.link_at(&cur);
            if let Some(link) = link {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err("too many links (a loop?); not followed".into());
                }
                let target = match link {
                    Link::Sym(t) => {
                        done.pop();
                        t
                    }
                    Link::Hard(t) => {
                        done.clear();
                        t
                    }
                };
                if target.starts_with('/') {
                    return Err(format!("{cur} links to the absolute path {target}; not followed"));
                }
                pending.extend(target.rsplit('/').map(str::to_string));
            }
        }
        if done.is_empty() {
            return Err("names the archive's root".into());
        }
        Ok(done.join("/"))
    }

    fn link_at(&self, path: &str) -> Option<Link> {
        match self {
            Store::Tar { items, .. } => match items.get(path) {
                Some(Item::Symlink(t)) => Some(Link::Sym(t.clone())),
                Some(Item::Hardlink(t)) => Some(Link::Hard(t.clone())),
                _ => None,
            },
            Store::Dir { root } => {
                let p = root.join(path);
                let m = fs::symlink_metadata(&p).ok()?;
                if m.file_type().is_symlink() {
                    fs::read_link(&p).ok().map(|t| Link::Sym(t.to_string_lossy().into_owned()))
                } else {
                    None
                }
            }
        }
    }

    pub(super) fn stored_size(&self, location: &str) -> Result<u64, String> {
        match self {
            Store::Tar { items, .. } => match items.get(location) {
                Some(Item::File { size, .. }) => Ok(*size),
                Some(_) => Err(format!("{location} is not a regular file")),
                None => Err(format!("{location} is not in the archive")),
            },
            Store::Dir { root } => match fs::symlink_metadata(root.join(location)) {
                Ok(m) if m.is_file() => Ok(m.len()),
                Ok(_) => Err(format!("{location} is not a regular file")),
                Err(e) => Err(format!("{location}: {e}")),
            },
        }
    }

    pub(super) fn open_resolved(&self, location: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        match self {
            Store::Tar { file, items } => match items.get(location) {
                Some(Item::File { offset, size }) => {
                    let mut f = File::open(file).map_err(|e| Error::io("read image", file, e))?;
                    f.seek(SeekFrom::Start(*offset)).map_err(|e| Error::io("read image", file, e))?;
                    Ok((Box::new(BufReader::with_capacity(1 << 16, f).take(*size)), *size))
                }
                _ => Err(self.bad(format!("{location} is not a file in the archive"))),
            },
            Store::Dir { root } => {
                let p = root.join(location);
                // A FIFO or device would block or never end: only regular files are opened.
                let size = self.stored_size(location).map_err(|why| self.bad(why))?;
                let f = File::open(&p).map_err(|e| Error::io("read image", &p, e))?;
                Ok((Box::new(BufReader::with_capacity(1 << 16, f).take(size)), size))
            }
        }
    }

    /// An error about the archive itself (its path is the tar file or the directory).
    fn bad(&self, message: String) -> Error {
        let path = match self {
            Store::Tar { file, .. } => file,
            Store::Dir { root } => root,
        };
        Error::input(path, message, None)
    }
}

/// Scans the archive's tar once, recording where each file's data is. Nothing is buffered.
pub(super) fn index_tar(
    path: &Path,
    limits: &ReadLimits,
    problems: &mut Vec<Problem>,
) -> Result<HashMap<String, Item>> {
    let file = File::open(path).map_err(|e| Error::io("read image", path, e))?;
    let len = file.metadata().map_err(|e| Error::io("read image", path, e))?.len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let magic = r.fill_buf().map_err(|e| Error::io("read image", path, e))?;
    if let Some(kind) = compression_of(magic).filter(|c| *c != Compression::None) {
        return Err(Error::input(
            path,
            format!("is a {kind:?}-compressed file, not a tar"),
            Some(format!(
                "decompress it first ({}), then pass the .tar",
                if kind == Compression::Gzip { "gunzip -k FILE" } else { "zstd -d FILE" }
            )),
        ));
    }
    let mut tar = TarStream::new(r);
    let mut items = HashMap::new();
    let mut name_bytes = 0usize;
    loop {
        let h: TarHeader = match tar.next_header() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) if items.is_empty() => return Err(not_an_image(path, &format!("is not a readable tar ({e})"))),
            Err(e) => return Err(Error::input(path, format!("reading the archive: {e}"), None)),
        };
        if items.len() >= limits.max_entries || name_bytes > limits.max_name_bytes {
            return Err(Error::input(
                path,
                format!("has more than {} entries (or {} bytes of names)", limits.max_entries, limits.max_name_bytes),
                Some("image archives hold a few files per layer; this one looks hostile or is not an image".into()),
            ));
        }
        let raw = String::from_utf8_lossy(&h.path).into_owned();
        let name = match clean_archive_name(&raw) {
            Ok(n) if n.is_empty() => continue,
            Ok(n) => n,
            Err(why) => {
                problems.push(Problem { place: format!("archive entry {raw:?}"), message: format!("{why}; ignored") });
                continue;
            }
        };
        name_bytes += name.len();
        let Some(item) = item_of(&h, &name, len, problems) else { continue };
        items.insert(name, item);
    }
    Ok(items)
}

/// What the archive entry `h` (cleaned to `name`) is; None (with a problem) for a file whose
/// data would run past the archive's `len`. Links that leave the archive are reported here and
/// refused when followed ([`Archive::resolve`]).
fn item_of(h: &TarHeader, name: &str, len: u64, problems: &mut Vec<Problem>) -> Option<Item> {
    let link = h.link.as_ref().map(|l| String::from_utf8_lossy(l).into_owned());
    match h.kind {
        b'5' => Some(Item::Dir),
        b'1' | b'2' => {
            let (hard, target) = (h.kind == b'1', link.unwrap_or_default());
            if let Some(why) = link_escapes(name, &target, hard) {
                let what = if hard { "hard link" } else { "symlink" };
                problems.push(Problem {
                    place: format!("archive entry {name}"),
                    message: format!("{what} to {target:?} {why}; it will not be followed"),
                });
            }
            Some(if hard { Item::Hardlink(target) } else { Item::Symlink(target) })
        }
        _ if h.is_file() => {
            if h.data_offset.checked_add(h.size).is_none_or(|end| end > len) {
                problems.push(Problem {
                    place: format!("archive entry {name}"),
                    message: format!("declares {} bytes past the end of the file (truncated?); ignored", h.size),
                });
                return None;
            }
            Some(Item::File { offset: h.data_offset, size: h.size })
        }
        _ => Some(Item::Other),
    }
}
