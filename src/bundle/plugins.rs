//! Plugin directories: a library that loads modules with dlopen() from a directory compiled
//! into it (ImageMagick's coders, GStreamer's elements, glibc's gconv, SASL's mechanisms, PAM's
//! modules, GIO's extensions) names that directory in its strings and in no ELF header, so the
//! closure never sees it. Every ELF object of the image is read for such directories
//! ([`crate::closure::named`]); each one the host has is carried whole, at its real path with
//! the links on the way, and [`super::carry_closures`] then gives every module its closure.
//! A directory only some callers read (gconv: iconv_open) is carried only when a program of
//! the image calls that function.

use std::collections::BTreeSet;

use crate::closure::named::{self, PluginDir};
use crate::closure::root::Root;
use crate::error::Result;
use crate::image::options::AddSpec;
use crate::image::rootfs::{Entry, Rootfs, Source};
use crate::report::human_size;

/// One plugin directory put into the image, for the step line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Carried {
    /// The directory, as the library names it.
    pub dir: String,
    /// The file name of the library that names it.
    pub named_by: String,
    /// The installed package owning it, when dpkg knows.
    pub package: Option<String>,
    /// The function whose call makes it needed, for a directory only some callers read.
    pub loaded_by: Option<&'static str>,
    /// Files and bytes added.
    pub files: usize,
    /// Bytes of those files.
    pub bytes: u64,
}

impl Carried {
    /// "libgstreamer-1.0.so.0 loads modules from /usr/lib/…/gstreamer-1.0 (libgstreamer1.0-0):
    /// carried 3 files (2.1 MiB)".
    pub(crate) fn line(&self) -> String {
        let owner = self.package.as_deref().map(|p| format!(" (package {p})")).unwrap_or_default();
        let why = self.loaded_by.map(|f| format!(", read as the program calls {f}()")).unwrap_or_default();
        format!(
            "{} loads modules from {}{owner}{why}: carried {} files ({}); --no-plugins leaves them out",
            self.named_by,
            self.dir,
            self.files,
            human_size(self.bytes)
        )
    }
}

/// Finds the plugin directories the image's ELF objects name and carries the ones the host
/// has and the image lacks, except `skip` (an interpreter's standard library left out with
/// --no-stdlib: libperl names it too).
pub(crate) fn carry(rootfs: &mut Rootfs, skip: &[String]) -> Result<Vec<Carried>> {
    let host = Root::new("/");
    let mut found = wanted(rootfs, &host);
    found.retain(|(_, p)| !skip.iter().any(|s| p.dir == *s || p.dir.starts_with(&format!("{s}/"))));
    let db = crate::pkgdb::PackageDb::open(std::path::Path::new("/"))?;
    let mut out = Vec::new();
    for (named_by, plugin) in found {
        let Some(walked) = host.walk_to_any(&plugin.dir) else { continue };
        if rootfs.get(&walked.real).is_some() || rootfs.get(&plugin.dir).is_some() {
            continue;
        }
        for link in &walked.links {
            if rootfs.get(&link.path).is_none() {
                rootfs.add_symlink(&link.path, &link.target)?;
            }
        }
        let spec = AddSpec { src: host.host_path(&walked.real), dest: walked.real.clone(), mode: None };
        let added = crate::image::add::add(rootfs, &spec)?;
        let package = db.as_ref().and_then(|db| db.owner(&walked.real)).map(|p| p.name.clone());
        out.push(Carried {
            dir: plugin.dir,
            named_by,
            package,
            loaded_by: plugin.loaded_by,
            files: added.files,
            bytes: added.bytes,
        });
    }
    Ok(out)
}

/// (library file name, directory) for every plugin directory an ELF object of the image
/// names, once each, gated directories only when something calls their loader.
fn wanted(rootfs: &Rootfs, host: &Root) -> Vec<(String, PluginDir)> {
    let mut imports = BTreeSet::new();
    let mut found: Vec<(String, PluginDir)> = Vec::new();
    for (path, entry) in rootfs.entries() {
        let Entry::File { source: Source::Host(file), .. } = entry else { continue };
        if !named::starts_like_elf(file) {
            continue;
        }
        let Ok(bytes) = std::fs::read(file) else { continue };
        if !named::is_shared_library(&bytes) {
            imports.extend(named::imports(&bytes));
        }
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        for dir in named::plugin_dirs(host, &name, &bytes) {
            if !found.iter().any(|(_, d)| d.dir == dir.dir) {
                found.push((name.clone(), dir));
            }
        }
    }
    found.retain(|(_, d)| d.loaded_by.is_none_or(|f| imports.contains(f)));
    found
}
