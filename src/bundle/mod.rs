//! What `staticize bundle` carries besides the program's own library closure: the closure of
//! every other ELF object put into the image (an `--add`ed tree, an interpreter's standard
//! library with its extension modules), and an interpreter's standard library
//! ([`stdlib`]). Resolution is [`crate::closure`]'s, against the host; nothing is run.

pub(crate) mod complete;
pub(crate) mod hints;
pub(crate) mod package;
pub(crate) mod plugins;
pub(crate) mod stdlib;
pub(crate) mod trace;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;

use crate::closure::{self, Closure, EntryKind, ResolveOptions, Unresolved};
use crate::elf::LinkKind;
use crate::error::Result;
use crate::image::rootfs::{Entry, MODE_DATA, MODE_EXEC, Rootfs, Source};

/// What [`carry_closures`] added.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClosuresAdded {
    /// Dynamic ELF objects whose closure was resolved.
    pub objects: usize,
    /// Libraries (files) newly put into the image.
    pub files: Vec<String>,
    /// Libraries none of the objects' search paths found, with who asked.
    pub unresolved: Vec<Unresolved>,
    /// Bytes of the files added.
    pub bytes: u64,
}

/// Puts a closure's files and links into `rootfs` at their image paths; what is already there
/// (the user's --add) is never replaced. Returns the image paths of the regular files added.
pub(crate) fn add_closure(rootfs: &mut Rootfs, closure: &Closure) -> Result<Vec<String>> {
    let mut added = Vec::new();
    for e in &closure.entries {
        if rootfs.get(&e.image_path).is_some() {
            continue;
        }
        match e.kind {
            EntryKind::Symlink => {
                rootfs.add_symlink(&e.image_path, e.link_target.as_deref().unwrap_or_default())?;
            }
            // The kernel maps the interpreter only when it may execute it.
            EntryKind::Interp => {
                rootfs.add_file(&e.image_path, Source::Host(e.host_path.clone()), MODE_EXEC)?;
                added.push(e.image_path.clone());
            }
            EntryKind::Needed | EntryKind::Dlopen => {
                rootfs.add_file(&e.image_path, Source::Host(e.host_path.clone()), MODE_DATA)?;
                added.push(e.image_path.clone());
            }
        }
    }
    Ok(added)
}

/// Resolves, on the host, the closure of every dynamic executable and shared object that
/// `rootfs` takes from a host file — except the image paths in `done`, whose closure is
/// already in — and adds it, until no new object appears. So a `lib-dynload/` tree brings
/// libssl with `_ssl.so`.
pub(crate) fn carry_closures(
    rootfs: &mut Rootfs,
    done: &BTreeSet<String>,
    opts: &ResolveOptions,
) -> Result<ClosuresAdded> {
    let mut carried = ClosuresAdded::default();
    let mut seen: BTreeSet<String> = done.iter().map(|p| p.trim_start_matches('/').to_string()).collect();
    loop {
        let todo: Vec<(String, PathBuf)> = rootfs
            .entries()
            .filter(|(path, _)| !seen.contains(path.as_str()))
            .filter_map(|(path, e)| match e {
                Entry::File { source: Source::Host(host), .. } => Some((path.clone(), host.clone())),
                _ => None,
            })
            .collect();
        if todo.is_empty() {
            return Ok(carried);
        }
        for (path, host) in todo {
            seen.insert(path);
            if !needs_libraries(&host) {
                continue;
            }
            let c = closure::resolve(&host, opts)?;
            carried.objects += 1;
            for f in add_closure(rootfs, &c)? {
                seen.insert(f.trim_start_matches('/').to_string());
                carried.bytes += c
                    .files()
                    .find(|e| e.image_path == f)
                    .and_then(|e| e.host_path.metadata().ok())
                    .map_or(0, |m| m.len());
                carried.files.push(f);
            }
            carried.unresolved.extend(c.unresolved);
        }
    }
}

/// True for a dynamic executable or a shared object (a library or loadable module).
fn needs_libraries(host: &std::path::Path) -> bool {
    let mut magic = [0u8; 4];
    let is_elf = std::fs::File::open(host).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF";
    is_elf && crate::elf::inspect(host).is_ok_and(|l| matches!(l.kind, LinkKind::Dynamic | LinkKind::SharedLibrary))
}
