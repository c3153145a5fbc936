//! Pass 2 of a squash: the squashed layers read again and only the visible entries written,
//! contents streamed from the input layer straight into the output layer.
//!
//! Order of the written tar: directories first (sorted, so parents come before children),
//! then the whiteouts that delete what the kept lower layers hold, then every other visible
//! entry in the order the layers stored them (so a hard link still follows its target).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use crate::error::Error;
use crate::image::read::{Archive, EntryKind, Image, LayerEntry};
use crate::squash::plan::{LinkPlan, Meta, Plan};

/// What pass 2 wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct Emitted {
    /// Entries written (directories, files, links, whiteouts).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Whiteouts written for paths of the kept layers that the squashed ones delete.
    pub whiteouts: u64,
    /// Hard links turned into files because their target was overwritten or deleted.
    pub links_materialized: u64,
}

/// Everything pass 2 needs besides the output.
pub struct Input<'a> {
    /// The archive.
    pub archive: &'a Archive,
    /// The image.
    pub image: &'a Image,
    /// Index of the first squashed layer.
    pub from: usize,
    /// What pass 1 learned.
    pub plan: &'a Plan,
    /// Where spooled contents go (temporary files, removed on drop).
    pub scratch: &'a Path,
    /// mtime of synthesized parents and whiteouts.
    pub epoch: u64,
}

/// Writes the squashed layer's tar into `out`.
pub fn emit(input: &Input, out: &mut dyn Write) -> io::Result<Emitted> {
    let mut tar = tar::Builder::new(out);
    let mut done = Emitted::default();
    write_dirs(input, &mut tar, &mut done)?;
    write_whiteouts(input, &mut tar, &mut done)?;
    let mut spooled: HashMap<u64, (File, Meta, u64)> = HashMap::new();
    let mut seq = input.plan.first_seq;
    for (i, layer) in input.image.layers.iter().enumerate().skip(input.from) {
        let mut r = input.archive.layer(layer).map_err(io::Error::other)?;
        while let Some(e) = r.next_entry().map_err(io::Error::other)? {
            let s = seq;
            seq += 1;
            let meta = Meta::of(&e, r.extra());
            if input.plan.spool.contains(&s) {
                let mut f = tempfile::tempfile_in(input.scratch)?;
                let n = io::copy(&mut r.data(), &mut f)?;
                spooled.insert(s, (f, meta.clone(), n));
            }
            let visible = input.plan.overlay.source(&e.path).is_some_and(|v| v.seq == s && !v.dir);
            if !visible || e.path.is_empty() {
                continue;
            }
            match e.kind {
                EntryKind::File => match spooled.get_mut(&s) {
                    Some((f, _, n)) => {
                        f.rewind()?;
                        append(&mut tar, &e, &meta, &mut Body::Data(&mut *f, *n), &mut done)?
                    }
                    None => append(&mut tar, &e, &meta, &mut Body::Data(&mut r.data(), e.size), &mut done)?,
                },
                EntryKind::Hardlink => hard_link(&mut tar, &e, &meta, s, input.plan, &mut spooled, &mut done)?,
                EntryKind::Symlink | EntryKind::Device | EntryKind::Fifo => {
                    append(&mut tar, &e, &meta, &mut Body::Empty, &mut done)?
                }
                EntryKind::Dir | EntryKind::Whiteout | EntryKind::Opaque | EntryKind::Other => {}
            }
        }
        let digest = r.finish().map_err(io::Error::other)?.digest;
        if input.plan.digests.get(i) != Some(&digest) {
            return Err(io::Error::other(format!("layer {} changed while it was being squashed", i + 1)));
        }
    }
    tar.into_inner()?;
    Ok(done)
}

/// A visible hard link: as it was, or turned into the file its lost target was.
fn hard_link(
    tar: &mut tar::Builder<&mut dyn Write>,
    e: &LayerEntry,
    meta: &Meta,
    s: u64,
    plan: &Plan,
    spooled: &mut HashMap<u64, (File, Meta, u64)>,
    done: &mut Emitted,
) -> io::Result<()> {
    match plan.links.get(&s) {
        None | Some(LinkPlan::Keep) => append(tar, e, meta, &mut Body::Empty, done),
        Some(LinkPlan::Drop) => Ok(()),
        Some(LinkPlan::LinkTo(first)) => {
            let redirected = LayerEntry { link: Some(first.clone()), ..e.clone() };
            append(tar, &redirected, meta, &mut Body::Empty, done)
        }
        Some(LinkPlan::FileFrom(root)) => {
            let (f, root_meta, n) = spooled
                .get_mut(root)
                .ok_or_else(|| io::Error::other(format!("hard link /{}: its content was not kept", e.path)))?;
            f.rewind()?;
            let as_file = LayerEntry { kind: EntryKind::File, link: None, size: *n, ..e.clone() };
            done.links_materialized += 1;
            append(tar, &as_file, &root_meta.clone(), &mut Body::Data(&mut *f, *n), done)
        }
    }
}

/// Directories whose visible entry is in a squashed layer, and parents no layer declares.
fn write_dirs(input: &Input, tar: &mut tar::Builder<&mut dyn Write>, done: &mut Emitted) -> io::Result<()> {
    let plan = input.plan;
    let mut dirs: BTreeMap<&str, Meta> = BTreeMap::new();
    for (path, (seq, meta)) in &plan.dirs {
        if plan.overlay.source(path).is_some_and(|v| v.dir && v.seq == *seq) {
            dirs.insert(path, meta.clone());
        }
    }
    let implied = Meta { mode: 0o755, mtime: input.epoch, ..Meta::default() };
    for (path, slot) in plan.overlay.visible() {
        if slot.layer < input.from {
            continue;
        }
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            let parent = &path[..end];
            if !dirs.contains_key(parent) && !in_lower(plan, parent) {
                dirs.insert(parent, implied.clone());
            }
            end += 1;
        }
    }
    for (path, meta) in dirs {
        let e = LayerEntry {
            path: path.to_string(),
            kind: EntryKind::Dir,
            mode: meta.mode,
            size: 0,
            uid: meta.uid,
            gid: meta.gid,
            link: None,
            problem: None,
        };
        append(tar, &e, &meta, &mut Body::Empty, done)?;
    }
    Ok(())
}

/// True when the kept layers have `dir`, declared or implied by a path below it.
fn in_lower(plan: &Plan, dir: &str) -> bool {
    let below = format!("{dir}/");
    plan.lower.contains(dir) || plan.lower.range(below.clone()..).next().is_some_and(|p| p.starts_with(&below))
}

/// `.wh.NAME` for each path the kept layers show and the squashed ones delete, at the top of
/// what is deleted (a deleted directory takes its children with it).
fn write_whiteouts(input: &Input, tar: &mut tar::Builder<&mut dyn Write>, done: &mut Emitted) -> io::Result<()> {
    let ov = &input.plan.overlay;
    for path in &input.plan.lower {
        if ov.source(path).is_some() {
            continue;
        }
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", path.as_str()),
        };
        if !dir.is_empty() && ov.source(dir).is_none() {
            continue; // its parent is whited out already
        }
        let wh = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
        let mut h = crate::image::layer::fixed_header(tar::EntryType::Regular, 0o644, 0, input.epoch);
        tar.append_data(&mut h, wh, io::empty())?;
        done.entries += 1;
        done.whiteouts += 1;
    }
    Ok(())
}

/// Where an entry's content comes from.
enum Body<'a> {
    Empty,
    Data(&'a mut dyn Read, u64),
}

/// Writes one entry with its own owner, mode, time and kept extended attributes.
fn append(
    tar: &mut tar::Builder<&mut dyn Write>,
    e: &LayerEntry,
    meta: &Meta,
    body: &mut Body,
    done: &mut Emitted,
) -> io::Result<()> {
    if !meta.xattrs.is_empty() {
        let keys: Vec<String> = meta.xattrs.iter().map(|(k, _)| format!("SCHILY.xattr.{k}")).collect();
        tar.append_pax_extensions(keys.iter().map(String::as_str).zip(meta.xattrs.iter().map(|(_, v)| v.as_slice())))?;
    }
    let kind = match e.kind {
        EntryKind::Dir => tar::EntryType::Directory,
        EntryKind::Symlink => tar::EntryType::Symlink,
        EntryKind::Hardlink => tar::EntryType::Link,
        EntryKind::Fifo => tar::EntryType::Fifo,
        EntryKind::Device if meta.block => tar::EntryType::Block,
        EntryKind::Device => tar::EntryType::Char,
        _ => tar::EntryType::Regular,
    };
    let size = match body {
        Body::Data(_, n) => *n,
        Body::Empty => 0,
    };
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode);
    h.set_uid(meta.uid);
    h.set_gid(meta.gid);
    h.set_mtime(meta.mtime);
    h.set_size(size);
    if e.kind == EntryKind::Device {
        h.set_device_major(meta.device.0)?;
        h.set_device_minor(meta.device.1)?;
    }
    done.entries += 1;
    match (e.kind, body) {
        (EntryKind::Symlink | EntryKind::Hardlink, _) => {
            tar.append_link(&mut h, &e.path, e.link.as_deref().unwrap_or_default())
        }
        (EntryKind::Dir, _) => tar.append_data(&mut h, format!("{}/", e.path), io::empty()),
        (_, Body::Data(r, n)) => {
            done.bytes += *n;
            tar.append_data(&mut h, &e.path, CheckedLen { inner: &mut **r, left: *n })
        }
        (_, Body::Empty) => tar.append_data(&mut h, &e.path, io::empty()),
    }
}

/// Reads exactly the declared length: a source that ends early is an error, not a short entry
/// that would shift every later header.
struct CheckedLen<'a> {
    inner: &'a mut dyn Read,
    left: u64,
}

impl Read for CheckedLen<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a layer entry ended before its size"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// An error of pass 2 as the failure to write the squashed layer of `place`.
pub fn write_error(place: &Path, e: io::Error) -> Error {
    Error::io("write the squashed layer of", place, e)
}
