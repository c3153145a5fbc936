//! The archive's JSON documents: index.json (nested indexes, manifests) and docker's
//! manifest.json, read within the limits into [`Image`]s and [`MultiPlatform`] indexes.

use super::model::{Doc, Image, ImageConfig, LayerRef};
use super::{Archive, Format, MultiPlatform, Store, not_an_image};
use super::{MEDIA_DOCKER_CONFIG, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST};
use crate::error::Result;
use crate::image::spec::{self, Descriptor, DockerManifestEntry, Index, Manifest, Platform};
use std::io::Read;

const MAX_INDEX_DEPTH: usize = 4;

impl Archive {
    pub(super) fn load(&mut self) -> Result<()> {
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
        Ok(Doc { digest: crate::digest::sha256_digest(&bytes), media_type: None, bytes })
    }
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
