//! Opens a container image archive nobody vouches for and gives back its images: names,
//! platforms, manifests, configs and streaming layer readers.
//!
//! Accepted shapes: staticize's single-file tar (OCI layout + docker `manifest.json`), an OCI
//! layout directory, `docker save` output (docker 20.10's `<id>/layer.tar` + `manifest.json`,
//! and docker 25+'s OCI layout, whose legacy paths may be links into `blobs/`), and
//! `podman save` output (docker-archive, the default, and `--format oci-archive`).
//!
//! Safety on hostile input:
//! - nothing is ever written; an archive is only read;
//! - memory stays bounded: tar entries are streamed ([`super::tarstream`]), the archive index
//!   and JSON documents are capped ([`Limits`]), layers are decompressed as a stream with the
//!   decompressed bytes counted and capped;
//! - declared sizes and digests are never trusted: sizes come from what is actually stored,
//!   digests are recomputed while reading and mismatches are reported;
//! - absolute and `..` names, and links (in the archive or in an OCI directory) that point
//!   outside it, are reported as [`Problem`]s and never followed.
//!
//! ```no_run
//! # fn main() -> staticize::error::Result<()> {
//! use staticize::image::read::Archive;
//! let archive = Archive::open(std::path::Path::new("hello.tar"))?;
//! for image in &archive.images {
//!     println!("{:?} {}", image.names, image.platform);
//!     for layer in &image.layers {
//!         let mut r = archive.layer(layer)?;
//!         while let Some(entry) = r.next_entry()? {
//!             println!("{} {}", entry.path, entry.size);
//!         }
//!         let digests = r.finish()?;
//!         println!("{} {}", digests.digest, digests.uncompressed_size);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
pub use crate::image::layer::Compression;
use crate::image::spec::{self, Descriptor, DockerManifestEntry, History, Index, Manifest, Platform, RunConfig};
use crate::image::tarstream::{Stream, TarHeader, TarStream};

/// Media type of a docker schema 2 manifest.
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of a docker manifest list.
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Media type of a docker image config.
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Media type of a docker gzip layer.
pub const MEDIA_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// How far reading may go before the archive is judged hostile.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON document (index, manifest, config) read.
    pub max_json: u64,
    /// Total JSON bytes read from one archive.
    pub max_json_total: u64,
    /// Most entries in the archive's own tar.
    pub max_entries: usize,
    /// Total bytes of entry names kept in the archive's index.
    pub max_name_bytes: usize,
    /// Most images (manifests) in one archive.
    pub max_images: usize,
    /// Largest decompressed layer.
    pub max_layer_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json: 4 << 20,
            max_json_total: 64 << 20,
            max_entries: 200_000,
            max_name_bytes: 32 << 20,
            max_images: 1_000,
            max_layer_bytes: 256 << 30,
        }
    }
}

/// Which kind of archive was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A directory holding an OCI image layout.
    OciDir,
    /// A tar holding an OCI image layout only (`podman save --format oci-archive`, skopeo).
    OciArchive,
    /// A tar with docker's `manifest.json` only (docker 20.10 `save`, `podman save`).
    DockerArchive,
    /// A tar with both (staticize's own archives, docker 25+ `save`).
    OciAndDocker,
}

impl Format {
    /// A short description for people.
    pub fn describe(self) -> &'static str {
        match self {
            Format::OciDir => "OCI layout directory",
            Format::OciArchive => "OCI archive (index.json)",
            Format::DockerArchive => "docker archive (manifest.json)",
            Format::OciAndDocker => "OCI archive with docker manifest.json",
        }
    }
}

/// Something wrong or unsafe found while reading; reported, never acted upon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where: an archive entry, a document, a layer.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

/// A JSON document of the archive with its digest (computed from the bytes read).
#[derive(Debug, Clone)]
pub struct Doc {
    /// "sha256:<hex>" of `bytes`.
    pub digest: String,
    /// The media type it was referenced with (if any).
    pub media_type: Option<String>,
    /// The document, at most `Limits::max_json` bytes.
    pub bytes: Vec<u8>,
}

/// An image config, read leniently (every field optional) so odd archives still open.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// RFC 3339 creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Author, when set.
    #[serde(default)]
    pub author: Option<String>,
    /// CPU architecture.
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Operating system.
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// Architecture variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// How to run it.
    #[serde(default, deserialize_with = "nullable")]
    pub config: RunConfig,
    /// Layer digests of the uncompressed tars.
    #[serde(default, deserialize_with = "nullable")]
    pub rootfs: ConfigRootfs,
    /// What made each layer.
    #[serde(default, deserialize_with = "nullable")]
    pub history: Vec<History>,
}

/// The `rootfs` section of a config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigRootfs {
    /// sha256 of each uncompressed layer, bottom first.
    #[serde(default, deserialize_with = "nullable")]
    pub diff_ids: Vec<String>,
}

fn nullable<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One layer of an image: where its blob is and what the documents claim about it.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// The blob's path inside the archive, links resolved.
    pub location: String,
    /// Media type from the manifest (docker archives have none).
    pub media_type: Option<String>,
    /// Digest the manifest claims (unverified until the layer is read).
    pub digest: Option<String>,
    /// Bytes actually stored.
    pub size: u64,
    /// diff_id the config claims (unverified until the layer is read).
    pub diff_id: Option<String>,
}

/// One image (one platform) of an archive.
#[derive(Debug, Clone)]
pub struct Image {
    /// Names it is tagged with (RepoTags, index annotations); may be empty.
    pub names: Vec<String>,
    /// Platform from the config.
    pub platform: Platform,
    /// The manifest, when the archive has one (docker archives do not).
    pub manifest: Option<Doc>,
    /// The config document; its digest is the image ID docker and podman show.
    pub config: Doc,
    /// The config, parsed.
    pub parsed: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<LayerRef>,
    /// The multi-platform index it belongs to (position in `Archive::indexes`).
    pub index: Option<usize>,
}

/// A multi-platform image index (or docker manifest list) found in the archive.
#[derive(Debug, Clone)]
pub struct MultiPlatform {
    /// The index document.
    pub doc: Doc,
    /// Names the index is tagged with.
    pub names: Vec<String>,
    /// Positions in `Archive::images` of the platforms present in the archive.
    pub images: Vec<usize>,
}

/// An opened image archive.
#[derive(Debug)]
pub struct Archive {
    /// What was opened.
    pub path: PathBuf,
    /// Which shape it has.
    pub format: Format,
    /// Every image found, in archive order.
    pub images: Vec<Image>,
    /// Multi-platform indexes found.
    pub indexes: Vec<MultiPlatform>,
    /// Unsafe or inconsistent things seen, none acted upon.
    pub problems: Vec<Problem>,
    /// Things skipped on purpose (attestations, platforms absent from the archive).
    pub notes: Vec<String>,
    /// The limits in force.
    pub limits: Limits,
    store: Store,
    json_read: u64,
}

#[derive(Debug)]
enum Store {
    Tar { file: PathBuf, items: HashMap<String, Item> },
    Dir { root: PathBuf },
}

#[derive(Debug, Clone)]
enum Item {
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
const MAX_INDEX_DEPTH: usize = 4;

impl Archive {
    /// Opens `path` (a tar file or an OCI layout directory) with the default limits.
    pub fn open(path: &Path) -> Result<Archive> {
        Archive::open_with(path, Limits::default())
    }

    /// Opens `path` with explicit limits.
    pub fn open_with(path: &Path, limits: Limits) -> Result<Archive> {
        let meta = fs::metadata(path).map_err(|e| Error::io("read image", path, e))?;
        let mut problems = Vec::new();
        let store = if meta.is_dir() {
            Store::Dir { root: path.to_path_buf() }
        } else if meta.is_file() {
            let items = index_tar(path, &limits, &mut problems)?;
            Store::Tar { file: path.to_path_buf(), items }
        } else {
            return Err(not_an_image(path, "is neither a file nor a directory"));
        };
        let mut a = Archive {
            path: path.to_path_buf(),
            format: Format::DockerArchive,
            images: Vec::new(),
            indexes: Vec::new(),
            problems,
            notes: Vec::new(),
            limits,
            store,
            json_read: 0,
        };
        a.load()?;
        Ok(a)
    }

    /// Opens a blob (any file of the archive) by its path inside the archive, links resolved
    /// within the archive. Returns the reader and the number of bytes stored.
    pub fn open_file(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        let location = self.resolve(name).map_err(|why| self.bad(format!("{name}: {why}")))?;
        self.open_resolved(&location)
    }

    /// Starts reading a layer: compression is detected from the bytes, not the media type.
    pub fn layer(&self, layer: &LayerRef) -> Result<LayerReader> {
        let (raw, _) = self.open_resolved(&layer.location)?;
        LayerReader::new(raw, self.limits.max_layer_bytes, layer.location.clone())
    }

    /// The digest and size of a stored blob, computed by reading it (for archives whose
    /// documents carry no digests).
    pub fn hash_file(&self, location: &str) -> Result<(String, u64)> {
        let (mut r, _) = self.open_resolved(location)?;
        let mut h = HashCount::new(&mut r);
        io::copy(&mut h, &mut io::sink()).map_err(|e| self.io_err(location, e))?;
        Ok(h.finish())
    }

    fn load(&mut self) -> Result<()> {
        let has_index = self.exists("index.json");
        let has_docker = self.exists("manifest.json");
        let docker: Vec<DockerManifestEntry> = if has_docker {
            match self.read_json_file("manifest.json").and_then(|b| parse::<Vec<DockerManifestEntry>>(&b.bytes)) {
                Ok(v) => v,
                Err(e) => {
                    self.problem("manifest.json", e);
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        if has_index {
            let index = self.read_json_file("index.json").and_then(|d| parse::<Index>(&d.bytes));
            match index {
                Ok(index) => {
                    for desc in &index.manifests {
                        let names = descriptor_names(desc);
                        self.walk(desc, names, 0, None);
                    }
                }
                Err(e) => self.problem("index.json", e),
            }
        }
        // docker's manifest.json: add its names to the images found through index.json, or
        // (docker archives) make the images from it.
        for entry in docker {
            if let Err(e) = self.add_docker_entry(&entry, has_index) {
                self.problem(format!("manifest.json entry {}", entry.config), e);
            }
        }
        self.format = match (&self.store, has_index, has_docker) {
            (Store::Dir { .. }, _, _) => Format::OciDir,
            (_, true, true) => Format::OciAndDocker,
            (_, true, false) => Format::OciArchive,
            _ => Format::DockerArchive,
        };
        if self.images.is_empty() {
            let why = if !has_index && !has_docker {
                "holds neither index.json (OCI layout) nor manifest.json (docker save)".to_string()
            } else {
                let mut s = "holds no readable image".to_string();
                for p in self.problems.iter().take(3) {
                    s.push_str(&format!("; {}: {}", p.place, p.message));
                }
                s
            };
            return Err(not_an_image(&self.path, &why));
        }
        Ok(())
    }

    fn walk(&mut self, desc: &Descriptor, names: Vec<String>, depth: usize, index: Option<usize>) {
        let place = format!("{} {}", short_media(&desc.media_type), desc.digest);
        if depth > MAX_INDEX_DEPTH {
            self.problem(place, "indexes nested too deeply; not followed".into());
            return;
        }
        if self.images.len() >= self.limits.max_images {
            self.problem(place, format!("more than {} images; the rest are not read", self.limits.max_images));
            return;
        }
        match desc.media_type.as_str() {
            spec::MEDIA_INDEX | MEDIA_DOCKER_LIST => {
                let doc = match self.read_descriptor(desc) {
                    Ok(d) => d,
                    Err(e) => return self.problem(place, e),
                };
                let parsed = match parse::<Index>(&doc.bytes) {
                    Ok(i) => i,
                    Err(e) => return self.problem(place, e),
                };
                let at = self.indexes.len();
                self.indexes.push(MultiPlatform { doc, names: names.clone(), images: Vec::new() });
                for child in &parsed.manifests {
                    if child.annotations.contains_key("vnd.docker.reference.type") {
                        self.notes.push(format!("skipped attestation manifest {}", child.digest));
                        continue;
                    }
                    if self.blob_location(&child.digest).is_some_and(|l| !self.exists(&l)) {
                        let plat = child.platform.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "?".into());
                        self.notes.push(format!("{plat} manifest {} is listed but not in the archive", child.digest));
                        continue;
                    }
                    let before = self.images.len();
                    self.walk(child, names.clone(), depth + 1, Some(at));
                    let added: Vec<usize> = (before..self.images.len()).collect();
                    self.indexes[at].images.extend(added);
                }
            }
            spec::MEDIA_MANIFEST | MEDIA_DOCKER_MANIFEST => {
                if let Err(e) = self.add_manifest(desc, names, index) {
                    self.problem(place, e);
                }
            }
            other => self.notes.push(format!("skipped {} ({other})", desc.digest)),
        }
    }

    fn add_manifest(&mut self, desc: &Descriptor, names: Vec<String>, index: Option<usize>) -> Result<(), String> {
        let doc = self.read_descriptor(desc)?;
        let manifest: Manifest = parse(&doc.bytes)?;
        let cmt = manifest.config.media_type.as_str();
        if cmt != spec::MEDIA_CONFIG && cmt != MEDIA_DOCKER_CONFIG {
            self.notes.push(format!("skipped {} (not an image: config is {cmt})", desc.digest));
            return Ok(());
        }
        let mut config = self.read_descriptor(&manifest.config)?;
        config.media_type = Some(cmt.to_string());
        let parsed: ImageConfig = parse(&config.bytes)?;
        let mut layers = Vec::new();
        for (i, l) in manifest.layers.iter().enumerate() {
            let location =
                self.blob_location(&l.digest).ok_or_else(|| format!("layer digest '{}' is malformed", l.digest))?;
            let location = self.resolve(&location).map_err(|why| format!("layer {}: {why}", l.digest))?;
            let size = self.stored_size(&location).map_err(|e| format!("layer {}: {e}", l.digest))?;
            if size != l.size {
                self.problem(
                    format!("layer {}", l.digest),
                    format!("the manifest says {} bytes, the archive holds {size}", l.size),
                );
            }
            layers.push(LayerRef {
                location,
                media_type: Some(l.media_type.clone()),
                digest: Some(l.digest.clone()),
                size,
                diff_id: parsed.rootfs.diff_ids.get(i).cloned(),
            });
        }
        if parsed.rootfs.diff_ids.len() != layers.len() {
            self.problem(
                format!("config {}", config.digest),
                format!("lists {} diff_ids for {} layers", parsed.rootfs.diff_ids.len(), layers.len()),
            );
        }
        let mut doc = doc;
        doc.media_type = Some(desc.media_type.clone());
        let platform = platform_of(&parsed, desc.platform.as_ref());
        self.images.push(Image { names, platform, manifest: Some(doc), config, parsed, layers, index });
        Ok(())
    }

    fn add_docker_entry(&mut self, entry: &DockerManifestEntry, has_index: bool) -> Result<(), String> {
        let config_loc = self.resolve(&entry.config).map_err(|why| format!("Config: {why}"))?;
        let tags = entry.repo_tags.clone().unwrap_or_default();
        // Same config as an image found through index.json: only the names are new.
        let known_digest = digest_from_blob_path(&config_loc);
        if has_index {
            if let Some(d) = &known_digest {
                if let Some(img) = self.images.iter_mut().find(|i| &i.config.digest == d) {
                    for t in tags {
                        if !img.names.contains(&t) {
                            img.names.push(t);
                        }
                    }
                    return Ok(());
                }
            }
        }
        if self.images.len() >= self.limits.max_images {
            return Err(format!("more than {} images; the rest are not read", self.limits.max_images));
        }
        let config = self.read_json_resolved(&config_loc).map_err(|e| format!("Config: {e}"))?;
        if let Some(img) = self.images.iter_mut().find(|i| i.config.digest == config.digest) {
            for t in tags {
                if !img.names.contains(&t) {
                    img.names.push(t);
                }
            }
            return Ok(());
        }
        let parsed: ImageConfig = parse(&config.bytes)?;
        let mut layers = Vec::new();
        for (i, path) in entry.layers.iter().enumerate() {
            let location = self.resolve(path).map_err(|why| format!("layer {path}: {why}"))?;
            let size = self.stored_size(&location).map_err(|e| format!("layer {path}: {e}"))?;
            layers.push(LayerRef {
                digest: digest_from_blob_path(&location),
                location,
                media_type: None,
                size,
                diff_id: parsed.rootfs.diff_ids.get(i).cloned(),
            });
        }
        let platform = platform_of(&parsed, None);
        self.images.push(Image {
            names: tags,
            platform,
            manifest: None,
            config: Doc { media_type: Some(MEDIA_DOCKER_CONFIG.into()), ..config },
            parsed,
            layers,
            index: None,
        });
        Ok(())
    }

    /// `blobs/<alg>/<hex>` for a well-formed digest.
    fn blob_location(&self, digest: &str) -> Option<String> {
        let (alg, hex) = digest.split_once(':')?;
        let alg_ok = !alg.is_empty() && alg.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        (alg_ok && hex_ok).then(|| format!("blobs/{alg}/{hex}"))
    }

    fn read_descriptor(&mut self, desc: &Descriptor) -> Result<Doc, String> {
        let loc = self.blob_location(&desc.digest).ok_or_else(|| format!("digest '{}' is malformed", desc.digest))?;
        let loc = self.resolve(&loc)?;
        let mut doc = self.read_json_resolved(&loc)?;
        if desc.digest.starts_with("sha256:") && doc.digest != desc.digest {
            self.problem(desc.digest.clone(), format!("content hashes to {}, not to its name", doc.digest));
        }
        if doc.bytes.len() as u64 != desc.size {
            self.problem(
                desc.digest.clone(),
                format!("the descriptor says {} bytes, the archive holds {}", desc.size, doc.bytes.len()),
            );
        }
        doc.media_type = Some(desc.media_type.clone());
        Ok(doc)
    }

    fn read_json_file(&mut self, name: &str) -> Result<Doc, String> {
        let loc = self.resolve(name)?;
        self.read_json_resolved(&loc)
    }

    fn read_json_resolved(&mut self, location: &str) -> Result<Doc, String> {
        let (r, size) = self.open_resolved(location).map_err(|e| e.to_string())?;
        let max = self.limits.max_json;
        if size > max {
            return Err(format!("{location} is {size} bytes; JSON documents are read up to {max}"));
        }
        if self.json_read + size > self.limits.max_json_total {
            return Err(format!("more than {} bytes of JSON documents in one archive", self.limits.max_json_total));
        }
        let mut bytes = Vec::new();
        r.take(max + 1).read_to_end(&mut bytes).map_err(|e| format!("{location}: {e}"))?;
        if bytes.len() as u64 > max {
            return Err(format!("{location} is larger than {max} bytes"));
        }
        self.json_read += bytes.len() as u64;
        Ok(Doc { digest: spec::sha256_digest(&bytes), media_type: None, bytes })
    }

    fn exists(&self, name: &str) -> bool {
        self.resolve(name).is_ok_and(|l| self.stored_size(&l).is_ok())
    }

    /// Resolves `name` inside the archive, following links that stay inside it.
    fn resolve(&self, name: &str) -> Result<String, String> {
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
        match &self.store {
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

    fn stored_size(&self, location: &str) -> Result<u64, String> {
        match &self.store {
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

    fn open_resolved(&self, location: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        match &self.store {
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

    fn problem(&mut self, place: impl Into<String>, message: String) {
        self.problems.push(Problem { place: place.into(), message });
    }

    fn bad(&self, message: String) -> Error {
        Error::input(&self.path, message, None)
    }

    fn io_err(&self, location: &str, e: io::Error) -> Error {
        Error::input(&self.path, format!("reading {location}: {e}"), None)
    }
}

fn not_an_image(path: &Path, why: &str) -> Error {
    Error::input(
        path,
        format!("not an image archive: it {why}"),
        Some(
            "pass a tar written by staticize, docker save or podman save (uncompressed), or an OCI layout directory"
                .into(),
        ),
    )
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON document: {e}"))
}

fn descriptor_names(desc: &Descriptor) -> Vec<String> {
    let a = &desc.annotations;
    if let Some(n) = a.get(spec::ANNOTATION_CONTAINERD_NAME) {
        return vec![n.clone()];
    }
    a.get(spec::ANNOTATION_REF_NAME).map(|n| vec![n.clone()]).unwrap_or_default()
}

fn platform_of(c: &ImageConfig, desc: Option<&Platform>) -> Platform {
    let or_desc = |v: &str, f: fn(&Platform) -> &str| -> String {
        if v.is_empty() { desc.map(|p| f(p).to_string()).unwrap_or_else(|| "unknown".into()) } else { v.to_string() }
    };
    Platform {
        architecture: or_desc(&c.architecture, |p| &p.architecture),
        os: or_desc(&c.os, |p| &p.os),
        variant: c.variant.clone().or_else(|| desc.and_then(|p| p.variant.clone())),
    }
}

fn short_media(m: &str) -> &str {
    m.rsplit('.').next().unwrap_or(m)
}

fn digest_from_blob_path(location: &str) -> Option<String> {
    let rest = location.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    (!hex.contains('/') && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{alg}:{hex}"))
}

/// Lexically normalises an archive name: strips "./" and empty parts. Returns None (with the
/// reason) for absolute names and any ".." part.
fn clean_archive_name(name: &str) -> Result<String, &'static str> {
    if name.starts_with('/') {
        return Err("absolute name");
    }
    let mut parts = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("name with '..' (path traversal)"),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Scans the archive's tar once, recording where each file's data is. Nothing is buffered.
fn index_tar(path: &Path, limits: &Limits, problems: &mut Vec<Problem>) -> Result<HashMap<String, Item>> {
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
        let link = h.link.as_ref().map(|l| String::from_utf8_lossy(l).into_owned());
        let item = match h.kind {
            b'5' => Item::Dir,
            b'2' => {
                let target = link.unwrap_or_default();
                if let Some(why) = link_escapes(&name, &target, false) {
                    problems.push(Problem {
                        place: format!("archive entry {name}"),
                        message: format!("symlink to {target:?} {why}; it will not be followed"),
                    });
                }
                Item::Symlink(target)
            }
            b'1' => {
                let target = link.unwrap_or_default();
                if let Some(why) = link_escapes(&name, &target, true) {
                    problems.push(Problem {
                        place: format!("archive entry {name}"),
                        message: format!("hard link to {target:?} {why}; it will not be followed"),
                    });
                }
                Item::Hardlink(target)
            }
            _ if h.is_file() => {
                if h.data_offset.checked_add(h.size).is_none_or(|end| end > len) {
                    problems.push(Problem {
                        place: format!("archive entry {name}"),
                        message: format!("declares {} bytes past the end of the file (truncated?); ignored", h.size),
                    });
                    continue;
                }
                Item::File { offset: h.data_offset, size: h.size }
            }
            _ => Item::Other,
        };
        items.insert(name, item);
    }
    Ok(items)
}

/// Why a link at `name` pointing to `target` leaves the archive, if it does.
fn link_escapes(name: &str, target: &str, hard: bool) -> Option<&'static str> {
    if target.starts_with('/') {
        return Some("is absolute (outside the archive)");
    }
    let mut depth: i64 = if hard { 0 } else { name.split('/').count() as i64 - 1 };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Some("points outside the archive");
                }
            }
            _ => depth += 1,
        }
    }
    None
}

/// The compression of a blob from its first bytes (None when too short to tell).
pub fn compression_of(magic: &[u8]) -> Option<Compression> {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if magic.is_empty() {
        None
    } else {
        Some(Compression::None)
    }
}

/// A reader that hashes and counts what passes through, with an optional cap.
pub struct HashCount<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    cap: u64,
}

impl<R: Read> HashCount<R> {
    /// Wraps `inner` with no cap.
    pub fn new(inner: R) -> Self {
        HashCount::capped(inner, u64::MAX)
    }

    /// Wraps `inner`; reading more than `cap` bytes is an error.
    pub fn capped(inner: R, cap: u64) -> Self {
        HashCount { inner, hasher: Sha256::new(), count: 0, cap }
    }

    /// "sha256:<hex>" and the byte count.
    pub fn finish(self) -> (String, u64) {
        (format!("sha256:{}", hex::encode(self.hasher.finalize())), self.count)
    }

    fn into_parts(self) -> (R, String, u64) {
        let d = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, d, self.count)
    }
}

impl<R: Read> Read for HashCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.count > self.cap {
            return Err(io::Error::other(format!("decompresses to more than {} bytes (a bomb?)", self.cap)));
        }
        Ok(n)
    }
}

type Raw = BufReader<HashCount<Box<dyn Read + Send>>>;

enum Decoder {
    Gzip(Box<flate2::bufread::MultiGzDecoder<Raw>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, Raw>>),
    Plain(Raw),
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Plain(d) => d.read(buf),
        }
    }
}

impl Decoder {
    fn into_raw(self) -> Raw {
        match self {
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
            Decoder::Plain(d) => d,
        }
    }
}

/// What one layer entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier entry.
    Hardlink,
    /// A character or block device.
    Device,
    /// A named pipe.
    Fifo,
    /// `.wh.NAME`: NAME from lower layers is deleted (`path` is the deleted path).
    Whiteout,
    /// `.wh..wh..opq`: everything lower layers put in this directory is hidden (`path` is it).
    Opaque,
    /// Anything else (sparse files, aufs metadata).
    Other,
}

/// One entry of a layer tar, with its name cleaned and checked.
#[derive(Debug, Clone, Serialize)]
pub struct LayerEntry {
    /// Path inside the image, without a leading "/" ("" for the root); for whiteouts, the
    /// path deleted; for opaque markers, the directory.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Bytes of content (regular files only).
    pub size: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Link target (symlinks as written; hard links cleaned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Why the entry is unsafe (absolute or `..` name, escaping hard link), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Digests and sizes of a layer, computed from the bytes read.
#[derive(Debug, Clone, Serialize)]
pub struct LayerDigests {
    /// "sha256:…" of the stored blob.
    pub digest: String,
    /// Bytes stored.
    pub size: u64,
    /// "sha256:…" of the uncompressed tar (the diff_id).
    pub diff_id: String,
    /// Bytes of the uncompressed tar.
    pub uncompressed_size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
}

/// Streams one layer: entries one by one, file contents on demand, digests at the end.
pub struct LayerReader {
    tar: TarStream<Stream<HashCount<Decoder>>>,
    compression: Compression,
    place: String,
}

impl LayerReader {
    /// Reads a layer from any stream (a blob elsewhere, fuzz input): `max_layer_bytes` caps
    /// the decompressed size, `place` names the layer in errors.
    pub fn from_reader(raw: Box<dyn Read + Send>, max_layer_bytes: u64, place: &str) -> Result<Self> {
        LayerReader::new(raw, max_layer_bytes, place.to_string())
    }

    fn new(raw: Box<dyn Read + Send>, cap: u64, place: String) -> Result<Self> {
        let mut raw = BufReader::with_capacity(1 << 16, HashCount::new(raw));
        let err = |e: io::Error| Error::input(&place, format!("reading the layer: {e}"), None);
        let compression = compression_of(raw.fill_buf().map_err(err)?).unwrap_or(Compression::None);
        let decoder = match compression {
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(raw))),
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::with_buffer(raw).map_err(err)?;
                // 2^27 = 128 MiB: libzstd's default ceiling, stated so a frame cannot ask for more.
                d.window_log_max(27).map_err(err)?;
                Decoder::Zstd(Box::new(d))
            }
            Compression::None => Decoder::Plain(raw),
        };
        Ok(LayerReader { tar: TarStream::new(Stream(HashCount::capped(decoder, cap))), compression, place })
    }

    /// How the blob is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The next entry, or None at the end of the layer.
    pub fn next_entry(&mut self) -> Result<Option<LayerEntry>> {
        let h = match self.tar.next_header() {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        Ok(Some(layer_entry(&h)))
    }

    /// Mtime, xattrs and device numbers of the entry [`LayerReader::next_entry`] last returned.
    pub fn extra(&self) -> &crate::image::tarstream::TarExtra {
        self.tar.extra()
    }

    /// The current entry's content (regular files); stops at the entry's end.
    pub fn data(&mut self) -> impl Read + '_ {
        self.tar.data()
    }

    /// Reads what is left and returns the computed digests and sizes.
    pub fn finish(self) -> Result<LayerDigests> {
        let place = self.place;
        let err = |e: io::Error| Error::input(&place, format!("reading the layer: {e}"), None);
        let Stream(mut plain) = self.tar.into_inner();
        // Whatever follows the end-of-archive marker still belongs to the diff_id.
        io::copy(&mut plain, &mut io::sink()).map_err(err)?;
        let (decoder, diff_id, uncompressed_size) = plain.into_parts();
        let mut raw = decoder.into_raw();
        io::copy(&mut raw, &mut io::sink()).map_err(err)?;
        let (digest, size) = raw.into_inner().finish();
        Ok(LayerDigests { digest, size, diff_id, uncompressed_size, compression: self.compression })
    }

    fn err(&self, e: io::Error) -> Error {
        Error::input(&self.place, format!("reading the layer: {e}"), None)
    }
}

/// Turns a raw layer header into a checked entry: names cleaned like runtimes clean them,
/// whiteouts recognised, unsafe names flagged.
fn layer_entry(h: &TarHeader) -> LayerEntry {
    let raw = String::from_utf8_lossy(&h.path).into_owned();
    let (mut path, mut problem) = clean_layer_path(&raw);
    let mut kind = match h.kind {
        b'5' => EntryKind::Dir,
        b'2' => EntryKind::Symlink,
        b'1' => EntryKind::Hardlink,
        b'3' | b'4' => EntryKind::Device,
        b'6' => EntryKind::Fifo,
        _ if h.is_file() => EntryKind::File,
        _ => EntryKind::Other,
    };
    let (dir, base) = match path.rsplit_once('/') {
        Some((d, b)) => (d.to_string(), b.to_string()),
        None => (String::new(), path.clone()),
    };
    if base == ".wh..wh..opq" {
        kind = EntryKind::Opaque;
        path = dir;
    } else if let Some(name) = base.strip_prefix(".wh.") {
        if !name.starts_with(".wh.") && !name.is_empty() {
            kind = EntryKind::Whiteout;
            path = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
        } else {
            kind = EntryKind::Other;
        }
    }
    let mut link = h.link.as_ref().map(|l| String::from_utf8_lossy(l).into_owned());
    if kind == EntryKind::Hardlink {
        if let Some(l) = &link {
            let (clean, why) = clean_layer_path(l);
            if let Some(why) = why {
                problem.get_or_insert(format!("hard link target {l:?}: {why}"));
            }
            link = Some(clean);
        }
    }
    // An absolute symlink target is normal in an image (it resolves inside the container);
    // a relative one that climbs above the root only "works" because runtimes clamp it, and
    // anything unpacking the layer onto a host would follow it outside.
    if kind == EntryKind::Symlink {
        if let Some(l) = link.as_deref().filter(|l| !l.starts_with('/')) {
            if link_escapes(&path, l, false).is_some() {
                problem.get_or_insert(format!("symlink target {l:?} climbs above the image root (outside)"));
            }
        }
    }
    let size = if kind == EntryKind::File { h.size } else { 0 };
    LayerEntry { path, kind, mode: h.mode & 0o7777, size, uid: h.uid, gid: h.gid, link, problem }
}

/// Cleans a layer name the way container runtimes do (".." cannot climb above "/"), and
/// says why the raw name was unsafe.
fn clean_layer_path(raw: &str) -> (String, Option<String>) {
    let mut problem = None;
    if raw.starts_with('/') {
        problem = Some("absolute name".to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                problem = Some("name with '..' (path traversal)".to_string());
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    (parts.join("/"), problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A tar built entry by entry; names are written raw so hostile ones can be made.
    struct RawTar(Vec<u8>);

    impl RawTar {
        fn new() -> Self {
            RawTar(Vec::new())
        }
        fn entry(&mut self, name: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>) -> &mut Self {
            let mut h = tar::Header::new_old();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
            h.set_entry_type(kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_cksum();
            self.0.extend_from_slice(h.as_bytes());
            self.0.extend_from_slice(data);
            self.0.resize(self.0.len().div_ceil(512) * 512, 0);
            self
        }
        fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
            self.entry(name, tar::EntryType::Regular, data, None)
        }
        fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
            self.entry(name, tar::EntryType::Symlink, b"", Some(target))
        }
        fn finish(&mut self) -> Vec<u8> {
            let mut v = std::mem::take(&mut self.0);
            v.extend_from_slice(&[0u8; 1024]);
            v
        }
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn config_json(diff_ids: &[String]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Entrypoint": ["/app"], "Env": null, "Cmd": null},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "test"}]
        }))
        .unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    /// A docker-archive (podman save / docker 20.10 save) whose layer path is a symlink, as
    /// podman writes it: `<id>/layer.tar -> ../<hex>.tar`.
    fn docker_archive(extra: impl FnOnce(&mut RawTar)) -> Vec<u8> {
        let layer = RawTar::new().file("app", b"#!binary").file("etc/.wh.gone", b"").finish();
        let diff_id = spec::sha256_digest(&layer);
        let config = config_json(std::slice::from_ref(&diff_id));
        let manifest = serde_json::json!([{
            "Config": "cfg.json", "RepoTags": ["example/app:1"], "Layers": ["abc/layer.tar"]
        }]);
        let mut t = RawTar::new();
        t.file("cfg.json", &config).file("0123.tar", &layer).symlink("abc/layer.tar", "../0123.tar");
        extra(&mut t);
        t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap()).finish()
    }

    #[test]
    fn docker_archive_with_linked_layer() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.tar", &docker_archive(|_| {}));
        let a = Archive::open(&p).unwrap();
        assert_eq!(a.format, Format::DockerArchive);
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        let img = &a.images[0];
        assert_eq!(img.names, ["example/app:1"]);
        assert_eq!(img.platform.to_string(), "linux/amd64");
        assert_eq!(img.layers[0].location, "0123.tar");
        let mut r = a.layer(&img.layers[0]).unwrap();
        let mut seen = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            seen.push((e.path, e.kind));
        }
        assert_eq!(seen, [("app".to_string(), EntryKind::File), ("etc/gone".to_string(), EntryKind::Whiteout)]);
        let d = r.finish().unwrap();
        assert_eq!(Some(d.diff_id), img.layers[0].diff_id);
        assert_eq!(d.compression, Compression::None);
    }

    /// docker 25+ `save`: an OCI layout (uncompressed layers) whose manifest.json points into
    /// blobs/, plus legacy `<id>/layer.tar` links.
    #[test]
    fn docker25_layout_is_one_image_with_both_names() {
        let layer = RawTar::new().file("app", b"binary").finish();
        let diff_id = spec::sha256_digest(&layer);
        let config = config_json(std::slice::from_ref(&diff_id));
        let cfg_digest = spec::sha256_digest(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": spec::MEDIA_MANIFEST,
            "config": {"mediaType": spec::MEDIA_CONFIG, "digest": cfg_digest, "size": config.len()},
            "layers": [{"mediaType": spec::MEDIA_LAYER_TAR, "digest": diff_id, "size": layer.len()}]
        }))
        .unwrap();
        let m_digest = spec::sha256_digest(&manifest);
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": spec::MEDIA_INDEX, "manifests": [{
            "mediaType": spec::MEDIA_MANIFEST, "digest": m_digest, "size": manifest.len(),
            "annotations": {"io.containerd.image.name": "docker.io/library/app:1", "org.opencontainers.image.ref.name": "1"}
        }]});
        let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
        let docker = serde_json::json!([{
            "Config": format!("blobs/sha256/{}", hex(&cfg_digest)), "RepoTags": ["app:1"],
            "Layers": [format!("blobs/sha256/{}", hex(&diff_id))]
        }]);
        let t = RawTar::new()
            .file(&format!("blobs/sha256/{}", hex(&cfg_digest)), &config)
            .file(&format!("blobs/sha256/{}", hex(&diff_id)), &layer)
            .file(&format!("blobs/sha256/{}", hex(&m_digest)), &manifest)
            .symlink("abcd/layer.tar", &format!("../blobs/sha256/{}", hex(&diff_id)))
            .file("index.json", &serde_json::to_vec(&index).unwrap())
            .file("manifest.json", &serde_json::to_vec(&docker).unwrap())
            .file("oci-layout", spec::OCI_LAYOUT.as_bytes())
            .finish();
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(&write(dir.path(), "d25.tar", &t)).unwrap();
        assert_eq!(a.format, Format::OciAndDocker);
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert_eq!(a.images.len(), 1);
        let img = &a.images[0];
        assert_eq!(img.names, ["docker.io/library/app:1", "app:1"]);
        assert_eq!(img.manifest.as_ref().unwrap().digest, m_digest);
        assert_eq!(img.config.digest, cfg_digest);
        let (mut r, n) = a.open_file("abcd/layer.tar").unwrap();
        let mut via_link = Vec::new();
        r.read_to_end(&mut via_link).unwrap();
        assert_eq!((via_link, n), (layer.clone(), layer.len() as u64));
        let d = a.layer(&img.layers[0]).unwrap().finish().unwrap();
        assert_eq!((d.digest.as_str(), d.diff_id.as_str()), (diff_id.as_str(), diff_id.as_str()));
    }

    #[test]
    fn hostile_names_and_links_are_reported_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = docker_archive(|t| {
            t.file("../../evil", b"x")
                .file("/etc/abs", b"x")
                .symlink("out", "../../../etc/passwd")
                .symlink("abslink", "/etc/passwd")
                .entry("hard", tar::EntryType::Link, b"", Some("../x"));
        });
        let p = write(dir.path(), "h.tar", &bytes);
        let a = Archive::open(&p).unwrap();
        let text = format!("{:?}", a.problems);
        for needle in ["../../evil", "/etc/abs", "out", "abslink", "hard"] {
            assert!(text.contains(needle), "{needle} not reported: {text}");
        }
        // Asking for a file through an escaping link fails; nothing outside is opened.
        assert!(a.open_file("out").is_err());
        assert!(a.open_file("abslink").is_err());
        assert!(a.open_file("../../evil").is_err());
        assert!(a.resolve("abc/../../x").is_err());
    }

    #[test]
    fn manifest_pointing_outside_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = br#"[{"Config":"../../../../etc/passwd","RepoTags":["x:1"],"Layers":[]}]"#;
        let t = RawTar::new().symlink("l", "/etc/passwd").file("manifest.json", manifest).finish();
        let err = Archive::open(&write(dir.path(), "m.tar", &t)).unwrap_err().to_string();
        assert!(err.contains("not an image archive") && err.contains("outside"), "{err}");
    }

    #[test]
    fn big_json_and_bombs_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.tar", &docker_archive(|_| {}));
        let small = Limits { max_json: 64, ..Limits::default() };
        let err = Archive::open_with(&p, small).unwrap_err().to_string();
        assert!(err.contains("read up to 64"), "{err}");

        // A small gzip holding a tar of a 16 MiB file, read with a 1 MiB cap.
        let bomb = gz(&RawTar::new().file("big", &vec![0u8; 16 << 20]).finish());
        assert!(bomb.len() < 256 * 1024, "{}", bomb.len());
        let mut t = RawTar::new();
        let manifest = br#"[{"Config":"cfg.json","Layers":["bomb.gz"]}]"#;
        t.file("cfg.json", &config_json(&[])).file("bomb.gz", &bomb).file("manifest.json", manifest);
        let p = write(dir.path(), "b.tar", &t.finish());
        let tiny = Limits { max_layer_bytes: 1 << 20, ..Limits::default() };
        let a = Archive::open_with(&p, tiny).unwrap();
        let mut r = a.layer(&a.images[0].layers[0]).unwrap();
        let err = loop {
            match r.next_entry() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the bomb was read to the end"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(err.contains("more than 1048576 bytes"), "{err}");
    }

    #[test]
    fn compressed_outer_archive_gets_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.tar.gz", &gz(&docker_archive(|_| {})));
        let e = Archive::open(&p).unwrap_err();
        assert!(e.to_string().contains("Gzip-compressed"), "{e}");
        assert!(e.help().unwrap().contains("gunzip"));
        let p = write(dir.path(), "junk", b"hello, not a tar at all");
        assert!(Archive::open(&p).unwrap_err().to_string().contains("not an image archive"));
    }

    /// An OCI layout directory written from a staticize archive.
    fn oci_dir(dir: &Path, platforms: &[&str]) -> (PathBuf, crate::image::Written) {
        use crate::image::rootfs::MODE_EXEC;
        use crate::image::{ImagePlan, PlatformImage, Rootfs, Source};
        let images = platforms
            .iter()
            .map(|arch| {
                let mut rootfs = Rootfs::new();
                rootfs.add_file("/app", Source::Bytes(arch.as_bytes().to_vec()), MODE_EXEC).unwrap();
                PlatformImage {
                    platform: Platform::linux(arch),
                    rootfs,
                    config: RunConfig { entrypoint: Some(vec!["/app".into()]), ..Default::default() },
                    created_by: "test".into(),
                }
            })
            .collect();
        let plan = ImagePlan {
            reference: crate::image::ImageRef::parse("multi:1").unwrap(),
            images,
            compression: Compression::Gzip,
            epoch: 0,
        };
        let tar_path = dir.join("multi.tar");
        let written = crate::image::write(&plan, &tar_path).unwrap();
        let out = dir.join("layout");
        let mut ar = tar::Archive::new(File::open(&tar_path).unwrap());
        ar.unpack(&out).unwrap();
        (out, written)
    }

    #[test]
    fn multi_platform_archive_and_oci_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, written) = oci_dir(dir.path(), &["amd64", "arm64"]);
        for path in [written.path.clone(), layout.clone()] {
            let a = Archive::open(&path).unwrap();
            assert!(a.problems.is_empty(), "{:?}", a.problems);
            assert_eq!(a.indexes.len(), 1);
            assert_eq!(a.indexes[0].doc.digest, written.manifest_digest);
            let plats: Vec<String> = a.images.iter().map(|i| i.platform.to_string()).collect();
            assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
            assert!(a.images[0].names.contains(&"multi:1".to_string()), "{:?}", a.images[0].names);
            for (img, want) in a.images.iter().zip(["amd64", "arm64"]) {
                let mut r = a.layer(&img.layers[0]).unwrap();
                let e = r.next_entry().unwrap().unwrap();
                assert_eq!(e.path, "app");
                let mut content = String::new();
                r.data().read_to_string(&mut content).unwrap();
                assert_eq!(content, want);
                let d = r.finish().unwrap();
                assert_eq!(Some(d.digest), img.layers[0].digest);
                assert_eq!(d.compression, Compression::Gzip);
            }
        }
        let a = Archive::open(&layout).unwrap();
        assert_eq!(a.format, Format::OciDir);
    }

    #[test]
    fn oci_directory_links_outside_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, written) = oci_dir(dir.path(), &["amd64"]);
        let layer = &written.layers[0].digest;
        let blob = layout.join(spec::blob_path(layer));
        fs::remove_file(&blob).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &blob).unwrap();
        let a = Archive::open(&layout);
        let err = format!("{:?}", a.map(|a| a.problems));
        assert!(err.contains("absolute path /etc/passwd; not followed"), "{err}");

        // A FIFO where a blob should be: refused at once instead of blocking forever.
        fs::remove_file(&blob).unwrap();
        let status = std::process::Command::new("mkfifo").arg(&blob).status().unwrap();
        assert!(status.success());
        let a = Archive::open(&layout);
        let err = format!("{:?}", a.map(|a| a.problems));
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn archive_names_are_checked() {
        assert_eq!(clean_archive_name("./blobs//sha256/x").unwrap(), "blobs/sha256/x");
        assert!(clean_archive_name("/etc/passwd").is_err());
        assert!(clean_archive_name("a/../../x").is_err());
    }

    #[test]
    fn escaping_links_are_recognised() {
        assert!(link_escapes("abc/layer.tar", "../blobs/sha256/x", false).is_none());
        assert!(link_escapes("abc/layer.tar", "../../etc/passwd", false).is_some());
        assert!(link_escapes("x", "/etc/passwd", false).is_some());
        assert!(link_escapes("x", "../y", true).is_some());
    }

    #[test]
    fn whiteouts_and_traversal_in_layers() {
        let h = |p: &str, kind: u8| TarHeader {
            path: p.as_bytes().to_vec(),
            link: None,
            kind,
            mode: 0o644,
            size: 5,
            uid: 0,
            gid: 0,
            data_offset: 0,
        };
        let e = layer_entry(&h("./etc/.wh.passwd", b'0'));
        assert_eq!((e.kind, e.path.as_str(), e.size), (EntryKind::Whiteout, "etc/passwd", 0));
        let e = layer_entry(&h("var/cache/.wh..wh..opq", b'0'));
        assert_eq!((e.kind, e.path.as_str()), (EntryKind::Opaque, "var/cache"));
        let e = layer_entry(&h("../../etc/shadow", b'0'));
        assert_eq!(e.path, "etc/shadow");
        assert!(e.problem.unwrap().contains("traversal"));
        let e = layer_entry(&h("/abs", b'0'));
        assert!(e.problem.unwrap().contains("absolute"));
    }
}
