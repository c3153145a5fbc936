//! Measuring a budget's file: a binary's size and linkage, or an image archive's size, its
//! layers compressed and uncompressed, its file count and the linkage of the programs inside.
//!
//! The image side opens archives with [`crate::image::read`], so every shape it reads (our
//! tar, OCI layout directories, docker and podman saves, gzip, zstd or plain layers) can be
//! budgeted; this module only adds up sizes and reads ELF headers.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::elf::{self, LinkKind};
use crate::error::{Error, Result};
use crate::image::read::{Archive, EntryKind, LayerReader};

/// Whether the thing measured is static, and what it is if not.
#[derive(Debug, Clone, Serialize)]
pub struct StaticVerdict {
    /// True when every program is static or static-pie.
    pub ok: bool,
    /// A short word for tables: "static", "dynamic", "not ELF", "static (1 program)".
    pub label: String,
    /// "static", "dynamic (interpreter …)", or the offending files of an image.
    pub detail: String,
}

/// Everything measured about one target.
#[derive(Debug, Clone, Serialize)]
pub struct Measures {
    /// Bytes of the file on disk (the binary, or the image archive).
    pub size: u64,
    /// Images: compressed layer bytes (the largest platform's sum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compressed: Option<u64>,
    /// Images: uncompressed layer bytes (the largest platform's sum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncompressed: Option<u64>,
    /// Images: files and symlinks in the layers (the largest platform's count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Linkage of the binary, or of every ELF file in the image.
    pub linkage: StaticVerdict,
}

impl Measures {
    /// The byte and count measures by name, as recorded in staticize.lock.
    pub fn by_name(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::from([("size".to_string(), self.size)]);
        for (k, v) in [("compressed", self.compressed), ("uncompressed", self.uncompressed), ("files", self.files)] {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        }
        m
    }
}

/// Measures an executable.
pub fn binary(path: &Path) -> Result<Measures> {
    let size = std::fs::metadata(path).map_err(|e| Error::io("measure", path, e))?.len();
    let linkage = match elf::inspect(path) {
        Ok(l) => {
            StaticVerdict { ok: l.kind.is_self_contained(), label: l.kind.label().to_string(), detail: l.to_string() }
        }
        Err(Error::Input { message, .. }) => StaticVerdict { ok: false, label: "not ELF".into(), detail: message },
        Err(e) => return Err(e),
    };
    Ok(Measures { size, compressed: None, uncompressed: None, files: None, linkage })
}

/// Sizes of one platform's image.
#[derive(Debug, Default)]
struct PlatformSizes {
    compressed: u64,
    uncompressed: u64,
    files: u64,
}

/// Measures an image — any archive or OCI layout directory `image::read` opens, gzip, zstd
/// or plain layers; `programs` reads every ELF file's headers (for `static`).
pub fn image(path: &Path, programs: bool) -> Result<Measures> {
    let size = stored_bytes(path)?;
    let archive = Archive::open(path)?;
    if !archive.problems.is_empty() {
        // A budget over a damaged or unsafe archive would judge figures nobody can trust.
        let shown: Vec<String> =
            archive.problems.iter().take(3).map(|p| format!("{}: {}", p.place, p.message)).collect();
        return Err(Error::input(
            path,
            format!("the image archive has {} problem(s): {}", archive.problems.len(), shown.join("; ")),
            Some(format!("see them all with: staticize inspect {}", path.display())),
        ));
    }

    let mut best = PlatformSizes::default();
    let mut offenders: Vec<String> = Vec::new();
    let mut programs_seen = 0usize;
    for img in &archive.images {
        let mut sizes = PlatformSizes::default();
        for layer in &img.layers {
            let scan = scan_layer(archive.layer(layer)?, programs, path)?;
            sizes.compressed += layer.size;
            sizes.uncompressed += scan.bytes;
            sizes.files += scan.files;
            programs_seen += scan.programs.len();
            for (p, kind) in scan.programs {
                if !kind.is_self_contained() {
                    offenders.push(format!("/{p} is {}", kind.label()));
                }
            }
        }
        best.compressed = best.compressed.max(sizes.compressed);
        best.uncompressed = best.uncompressed.max(sizes.uncompressed);
        best.files = best.files.max(sizes.files);
    }
    offenders.sort();
    offenders.dedup();
    let verdict = |ok: bool, label: String, detail: String| StaticVerdict { ok, label, detail };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let linkage = match (programs, offenders.len(), programs_seen) {
        (false, _, _) => verdict(true, "not checked".into(), "not checked".into()),
        (true, 0, 0) => verdict(true, "no programs".into(), "no ELF programs in the image".into()),
        (true, 0, n) => {
            verdict(true, format!("static ({n} program{})", plural(n)), format!("{n} ELF program(s), all static"))
        }
        (true, bad, _) => verdict(false, format!("{bad} not static"), offenders.join("; ")),
    };
    Ok(Measures {
        size,
        compressed: Some(best.compressed),
        uncompressed: Some(best.uncompressed),
        files: Some(best.files),
        linkage,
    })
}

/// Bytes on disk: a file's length, or for an OCI layout directory the sum of its files
/// (links are not followed, so nothing outside it is counted).
fn stored_bytes(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("measure", path, e))?;
    if meta.is_dir() { dir_bytes(path) } else { Ok(meta.len()) }
}

fn dir_bytes(path: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(path).map_err(|e| Error::io("measure", path, e))? {
        let e = e.map_err(|e| Error::io("measure", path, e))?;
        let m = e.metadata().map_err(|err| Error::io("measure", e.path(), err))?;
        total += if m.is_dir() {
            dir_bytes(&e.path())?
        } else if m.is_file() {
            m.len()
        } else {
            0
        };
    }
    Ok(total)
}

/// What one layer holds.
struct LayerScan {
    bytes: u64,
    files: u64,
    programs: Vec<(String, LinkKind)>,
}

/// Reads a layer to its end, counting its non-directory entries and, when asked, classifying
/// each ELF file; the uncompressed size is what the reader counted (padding included).
fn scan_layer(mut layer: LayerReader, programs: bool, archive: &Path) -> Result<LayerScan> {
    let mut files = 0;
    let mut found = Vec::new();
    while let Some(entry) = layer.next_entry()? {
        if entry.kind == EntryKind::Dir {
            continue;
        }
        files += 1;
        if programs && entry.kind == EntryKind::File && entry.size >= 4 {
            let mut data = layer.data();
            let mut magic = [0u8; 4];
            let read = data.read_exact(&mut magic).and_then(|()| {
                if &magic != b"\x7fELF" {
                    return Ok(None);
                }
                let mut bytes = magic.to_vec();
                data.read_to_end(&mut bytes)?;
                Ok(Some(bytes))
            });
            let bytes =
                read.map_err(|e| Error::input(archive, format!("reading /{} from a layer: {e}", entry.path), None))?;
            if let Some(bytes) = bytes {
                let kind = elf::inspect_bytes(&bytes).map(|l| l.kind).unwrap_or(LinkKind::OtherElf);
                found.push((entry.path, kind));
            }
        }
    }
    let digests = layer.finish()?;
    Ok(LayerScan { bytes: digests.uncompressed_size, files, programs: found })
}
