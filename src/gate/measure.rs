//! Measuring a budget's file: a binary's size and linkage, or an image archive's size, its
//! layers compressed and uncompressed, its file count and the linkage of the programs inside.
//!
//! The image side reads staticize's own archive shape (a tar holding an OCI layout: index.json →
//! manifest → layer blobs) and, failing index.json, docker's manifest.json. It is deliberately
//! minimal — sizes and ELF headers only.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path};

use serde::Serialize;

use crate::elf::{self, LinkKind};
use crate::error::{Error, Result};
use crate::image::spec::{Descriptor, DockerManifestEntry, Index, Manifest};

/// The largest JSON document read from an archive (index, manifest, config).
const MAX_JSON: u64 = 16 << 20;

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
        Ok(l) => StaticVerdict {
            ok: l.kind.is_self_contained(),
            label: l.kind.label().to_string(),
            detail: crate::commands::build::describe(&l),
        },
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

/// Measures an image archive; `programs` reads every ELF file's headers (for `static`).
pub fn image(path: &Path, programs: bool) -> Result<Measures> {
    let bad = |message: String| {
        Error::input(path, message, Some("measure an image archive written by staticize (or docker save)".into()))
    };
    let io_err = |e: io::Error| Error::io("read image", path, e);
    let file = File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let mut archive = tar::Archive::new(file);
    // Where each regular entry's data sits in the archive, by normalised path.
    let mut entries: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for entry in archive.entries_with_seek().map_err(|e| bad(format!("not a tar archive ({e})")))? {
        let entry = entry.map_err(|e| bad(format!("not a tar archive, or a damaged one ({e})")))?;
        if entry.header().entry_type().is_file() {
            let name = normalise(&entry.path().map_err(|e| bad(format!("bad entry name ({e})")))?);
            entries.insert(name, (entry.raw_file_position(), entry.size()));
        }
    }
    let mut file = archive.into_inner();
    let mut read_json = |name: &str| -> Result<Vec<u8>> {
        let &(offset, len) = entries.get(name).ok_or_else(|| bad(format!("{name} is missing from the archive")))?;
        if len > MAX_JSON {
            return Err(bad(format!("{name} is {len} bytes: too large for an image document")));
        }
        file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
        let mut buf = Vec::with_capacity(len as usize);
        (&mut file).take(len).read_to_end(&mut buf).map_err(io_err)?;
        Ok(buf)
    };

    // Each platform's layers, as archive paths.
    let mut platforms: Vec<Vec<String>> = Vec::new();
    if entries.contains_key("index.json") {
        let index: Index =
            serde_json::from_slice(&read_json("index.json")?).map_err(|e| bad(format!("index.json: {e}")))?;
        let mut todo: Vec<Descriptor> = index.manifests;
        while let Some(d) = todo.pop() {
            let name = blob(&d.digest).ok_or_else(|| bad(format!("bad digest '{}'", d.digest)))?;
            let doc: serde_json::Value =
                serde_json::from_slice(&read_json(&name)?).map_err(|e| bad(format!("{name}: {e}")))?;
            if doc.get("manifests").is_some() {
                let nested: Index = serde_json::from_value(doc).map_err(|e| bad(format!("{name}: {e}")))?;
                todo.extend(nested.manifests);
            } else {
                let m: Manifest = serde_json::from_value(doc).map_err(|e| bad(format!("{name}: {e}")))?;
                let layers =
                    m.layers.iter().map(|l| blob(&l.digest).ok_or_else(|| bad(format!("bad digest '{}'", l.digest))));
                platforms.push(layers.collect::<Result<_>>()?);
            }
        }
    } else if entries.contains_key("manifest.json") {
        let docker: Vec<DockerManifestEntry> =
            serde_json::from_slice(&read_json("manifest.json")?).map_err(|e| bad(format!("manifest.json: {e}")))?;
        platforms.extend(docker.into_iter().map(|e| e.layers.iter().map(|l| normalise(Path::new(l))).collect()));
    } else {
        return Err(bad("not an image archive: it has neither index.json nor manifest.json".into()));
    }
    if platforms.is_empty() {
        return Err(bad("the archive holds no image".into()));
    }

    let mut best = PlatformSizes::default();
    let mut offenders: Vec<String> = Vec::new();
    let mut programs_seen = 0usize;
    for layers in &platforms {
        let mut sizes = PlatformSizes::default();
        for name in layers {
            let &(offset, len) = entries.get(name).ok_or_else(|| bad(format!("layer {name} is missing")))?;
            file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
            let scan = scan_layer(BufReader::new((&mut file).take(len)), programs)
                .map_err(|e| bad(format!("layer {name}: {e}")))?;
            sizes.compressed += len;
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

/// What one layer holds.
struct LayerScan {
    bytes: u64,
    files: u64,
    programs: Vec<(String, LinkKind)>,
}

/// Decompresses a layer (gzip or plain tar, told by its first bytes), counting its bytes and
/// non-directory entries and, when asked, classifying each ELF file.
fn scan_layer<R: io::BufRead>(mut blob: R, programs: bool) -> io::Result<LayerScan> {
    let (gzip, zstd) = {
        let head = blob.fill_buf()?;
        (head.starts_with(&[0x1f, 0x8b]), head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]))
    };
    let reader: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(blob))
    } else if zstd {
        return Err(io::Error::other("zstd-compressed layers cannot be measured yet; write gzip layers"));
    } else {
        Box::new(blob)
    };
    let mut counted = Counting { inner: reader, count: 0 };
    let mut files = 0;
    let mut found = Vec::new();
    {
        let mut tar = tar::Archive::new(&mut counted);
        for entry in tar.entries()? {
            let mut entry = entry?;
            let kind = entry.header().entry_type();
            if kind.is_dir() || kind.is_pax_global_extensions() {
                continue;
            }
            files += 1;
            if programs && kind.is_file() && entry.size() >= 4 {
                let mut magic = [0u8; 4];
                entry.read_exact(&mut magic)?;
                if &magic == b"\x7fELF" {
                    let mut bytes = magic.to_vec();
                    entry.read_to_end(&mut bytes)?;
                    let path = normalise(&entry.path()?);
                    let kind = elf::inspect_bytes(&bytes).map(|l| l.kind).unwrap_or(LinkKind::OtherElf);
                    found.push((path, kind));
                }
            }
        }
    }
    // The tar reader stops at the end-of-archive marker; the padding after it is layer bytes too.
    io::copy(&mut counted, &mut io::sink())?;
    Ok(LayerScan { bytes: counted.count, files, programs: found })
}

/// A reader that counts what passes through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// "./blobs/sha256/x" → "blobs/sha256/x".
fn normalise(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The archive path of a blob, for a well-formed "algorithm:hex" digest.
fn blob(digest: &str) -> Option<String> {
    let (alg, hex) = digest.split_once(':')?;
    let ok =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+' || c == '-');
    (ok(alg) && ok(hex)).then(|| format!("blobs/{alg}/{hex}"))
}
