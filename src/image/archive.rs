//! Writes the single-file image: a tar that is an OCI image layout (oci-layout, index.json,
//! blobs/sha256/…) and also carries docker's manifest.json pointing at the same blobs.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::image::blobcache::Remote;
use crate::image::layer::{Compression, Layer, fixed_header};
use crate::image::layering::{self, Layering, Part};
use crate::image::rootfs::Rootfs;
use crate::image::spec::{
    self, ConfigFile, Descriptor, DockerManifestEntry, History, Index, Manifest, Platform, RootFs, RunConfig,
};
use crate::reference::ImageRef;

/// Everything one platform's image is made of.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// The platform the program runs on.
    pub platform: Platform,
    /// The files.
    pub rootfs: Rootfs,
    /// Entrypoint, env and the rest.
    pub config: RunConfig,
    /// What made the layer, for `docker history`.
    pub created_by: String,
    /// The lower layers, bottom first ([`crate::image::layering`]); every file none claims goes
    /// into the layer on top. Empty: one layer.
    pub parts: Vec<Part>,
}

/// A whole image to write: one name, one or more platforms.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    /// The name it is tagged with.
    pub reference: ImageRef,
    /// One image per platform; the first matching the host (or the first) goes into manifest.json.
    pub images: Vec<PlatformImage>,
    /// Layer compression.
    pub compression: Compression,
    /// Seconds since the epoch for every timestamp (SOURCE_DATE_EPOCH or 0).
    pub epoch: u64,
    /// Single: every platform's image is one layer, whatever parts it names.
    pub layering: Layering,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// The archive's path.
    pub path: PathBuf,
    /// The name it carries.
    pub reference: String,
    /// Digest of the top-level manifest (or index, for several platforms).
    pub manifest_digest: String,
    /// Digest of the (first) config: the image ID docker and podman show.
    pub config_digest: String,
    /// Size of the archive.
    pub bytes: u64,
    /// Per-layer sizes: compressed and uncompressed.
    pub layers: Vec<LayerSummary>,
    /// The OCI layout directory also written (--oci-dir).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oci_dir: Option<PathBuf>,
    /// The engine the image was loaded into (--load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_into: Option<String>,
}

/// Sizes of one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSummary {
    /// The platform it belongs to.
    pub platform: String,
    /// Compressed digest.
    pub digest: String,
    /// Compressed bytes.
    pub size: u64,
    /// Uncompressed bytes.
    pub uncompressed_size: u64,
}

/// One blob of the image, in memory or a layer in a temporary file.
enum Blob {
    Json(Vec<u8>),
    /// Index into `Assembled::layers`.
    Layer(usize),
}

/// An image ready to be written to any destination: every blob and top-level document made,
/// layers in temporary files.
pub struct Assembled {
    layers: Vec<Layer>,
    blobs: BTreeMap<String, Blob>,
    index: Vec<u8>,
    docker_manifest: Vec<u8>,
    epoch: u64,
    reference: String,
    manifest_digest: String,
    config_digest: String,
    summaries: Vec<LayerSummary>,
}

/// Writes `plan` to `dest` atomically: a temporary file beside it, renamed at the end.
pub fn write(plan: &ImagePlan, dest: &Path) -> Result<Written> {
    let assembled = assemble_beside(plan, dest, None)?;
    write_tar(&assembled, dest)
}

/// [`assemble`] with the layers beside `dest` (so the final rename stays on one file system);
/// a layer that cannot be written (disk full, file-size limit) is reported as a failure to
/// write `dest`, naming the image rather than the hidden temporary file.
pub fn assemble_beside(plan: &ImagePlan, dest: &Path, remote: Option<&dyn Remote>) -> Result<Assembled> {
    assemble(plan, crate::output::parent_dir(dest), remote).map_err(|e| match e {
        Error::Io { step, source, .. } if step == "write layer" => Error::io("write image", dest, source),
        other => other,
    })
}

/// Makes the layers (as temporary files in `scratch`; compressed ones through the blob cache
/// and its `remote` tier) and every JSON document of `plan`.
pub fn assemble(plan: &ImagePlan, scratch: &Path, remote: Option<&dyn Remote>) -> Result<Assembled> {
    let created = crate::epoch::rfc3339(plan.epoch);
    let mut images = Vec::new();
    for img in &plan.images {
        let parts = if plan.layering == Layering::Single { &[][..] } else { &img.parts[..] };
        let cut = layering::split(&img.rootfs, parts, "the application");
        let mut layers = Vec::new();
        for (_, rootfs) in &cut {
            layers.push(crate::image::blobcache::layer(rootfs, plan.compression, plan.epoch, scratch, remote)?);
        }
        let whats: Vec<&str> = cut.iter().map(|(w, _)| w.as_str()).collect();
        let config = to_json(&platform_config(img, &layers, &whats, &created));
        images.push(LayeredImage { platform: img.platform.clone(), layers, config });
    }
    Ok(assemble_layered(images, &plan.reference, plan.epoch))
}

/// The config of one platform's image: its layers, one history step each (one layer's
/// comment names only staticize, as it always has).
fn platform_config(img: &PlatformImage, layers: &[Layer], whats: &[&str], created: &str) -> ConfigFile {
    let version = format!("staticize {}", env!("CARGO_PKG_VERSION"));
    let history = whats
        .iter()
        .map(|what| History {
            created: Some(created.to_string()),
            created_by: Some(img.created_by.clone()),
            comment: Some(if whats.len() == 1 { version.clone() } else { format!("{version}: {what}") }),
            empty_layer: None,
        })
        .collect();
    ConfigFile {
        created: Some(created.to_string()),
        architecture: img.platform.architecture.clone(),
        os: img.platform.os.clone(),
        variant: img.platform.variant.clone(),
        config: img.config.clone(),
        rootfs: RootFs { kind: "layers".into(), diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect() },
        history,
    }
}

/// What index.json points at: the manifest itself for one platform, else a nested image index
/// (added to `blobs`); with the reference's `annotations`. Returns it and its digest.
fn top_descriptor(
    manifests: &[Descriptor],
    annotations: BTreeMap<String, String>,
    blobs: &mut BTreeMap<String, Blob>,
) -> (Descriptor, String) {
    if manifests.len() == 1 {
        let mut m = manifests[0].clone();
        m.annotations = annotations;
        let d = m.digest.clone();
        (m, d)
    } else {
        let nested = Index {
            schema_version: 2,
            media_type: Some(spec::MEDIA_INDEX.into()),
            manifests: manifests.to_vec(),
            annotations: BTreeMap::new(),
        };
        let bytes = to_json(&nested);
        let mut d = Descriptor::of(spec::MEDIA_INDEX, &bytes);
        blobs.insert(d.digest.clone(), Blob::Json(bytes));
        d.annotations = annotations;
        let digest = d.digest.clone();
        (d, digest)
    }
}

/// One platform's image with its layers written and its config made: by [`assemble`], or
/// elsewhere (`squash`).
pub struct LayeredImage {
    /// Its platform (for the index).
    pub platform: Platform,
    /// Its layers, bottom first, as blobs in temporary files.
    pub layers: Vec<Layer>,
    /// Its config document, exactly as it will be stored.
    pub config: Vec<u8>,
}

/// Makes every other document of layered images: a manifest each, index.json (pointing at the one
/// manifest, or at an image index of several platforms) and docker's manifest.json (the
/// host's platform, else the first).
pub fn assemble_layered(images: Vec<LayeredImage>, reference: &ImageRef, epoch: u64) -> Assembled {
    let mut blobs = BTreeMap::new();
    let (mut layers, mut summaries, mut manifests, mut dockers) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for image in images {
        let config_desc = Descriptor::of(spec::MEDIA_CONFIG, &image.config);
        let layer_descs: Vec<Descriptor> =
            image.layers.iter().map(|l| Descriptor::new(l.media_type, &l.digest, l.size)).collect();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(spec::MEDIA_MANIFEST.into()),
            config: config_desc.clone(),
            layers: layer_descs.clone(),
            annotations: BTreeMap::new(),
        };
        let manifest_bytes = to_json(&manifest);
        let mut desc = Descriptor::of(spec::MEDIA_MANIFEST, &manifest_bytes);
        desc.platform = Some(image.platform.clone());
        blobs.insert(config_desc.digest.clone(), Blob::Json(image.config));
        blobs.insert(desc.digest.clone(), Blob::Json(manifest_bytes));
        for l in image.layers {
            blobs.insert(l.digest.clone(), Blob::Layer(layers.len()));
            summaries.push(LayerSummary {
                platform: image.platform.to_string(),
                digest: l.digest.clone(),
                size: l.size,
                uncompressed_size: l.uncompressed_size,
            });
            layers.push(l);
        }
        dockers.push((image.platform, config_desc.digest, layer_descs));
        manifests.push(desc);
    }
    let name = reference.to_string();
    let annotations = BTreeMap::from([
        (spec::ANNOTATION_CONTAINERD_NAME.to_string(), name.clone()),
        (spec::ANNOTATION_REF_NAME.to_string(), name.clone()),
    ]);
    let (top, manifest_digest) = top_descriptor(&manifests, annotations, &mut blobs);
    let index = Index {
        schema_version: 2,
        media_type: Some(spec::MEDIA_INDEX.into()),
        manifests: vec![top],
        annotations: BTreeMap::new(),
    };
    let host = Platform::host();
    let (_, docker_config, docker_layers) =
        dockers.iter().find(|(p, _, _)| p.architecture == host.architecture).unwrap_or(&dockers[0]);
    let docker_manifest = vec![DockerManifestEntry {
        config: spec::blob_path(docker_config),
        repo_tags: Some(vec![name.clone()]),
        layers: docker_layers.iter().map(|d| spec::blob_path(&d.digest)).collect(),
    }];
    Assembled {
        layers,
        blobs,
        index: to_json(&index),
        docker_manifest: to_json(&docker_manifest),
        epoch,
        reference: name,
        manifest_digest,
        config_digest: dockers[0].1.clone(),
        summaries,
    }
}

impl Assembled {
    /// The digest of layer `i` (bottom first).
    pub fn layer_digest(&self, i: usize) -> String {
        self.layers[i].digest.clone()
    }

    fn written(&self, path: &Path, bytes: u64) -> Written {
        Written {
            path: path.to_path_buf(),
            reference: self.reference.clone(),
            manifest_digest: self.manifest_digest.clone(),
            config_digest: self.config_digest.clone(),
            bytes,
            layers: self.summaries.clone(),
            oci_dir: None,
            loaded_into: None,
        }
    }
}

/// Writes the single-file archive (OCI layout + docker manifest.json) atomically.
pub fn write_tar(a: &Assembled, dest: &Path) -> Result<Written> {
    let tmp = crate::output::temp_beside(dest)?;
    let io_err = |e: std::io::Error| Error::io("write image", dest, e);
    {
        let file = tmp.reopen().map_err(io_err)?;
        let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
        let mtime = a.epoch;
        let dir_entry = |tar: &mut tar::Builder<_>, p: &str| -> std::io::Result<()> {
            let mut h = fixed_header(tar::EntryType::Directory, 0o755, 0, mtime);
            tar.append_data(&mut h, p, std::io::empty())
        };
        dir_entry(&mut tar, "blobs/").map_err(io_err)?;
        dir_entry(&mut tar, "blobs/sha256/").map_err(io_err)?;
        for (digest, blob) in &a.blobs {
            let path = spec::blob_path(digest);
            match blob {
                Blob::Json(b) => append_bytes(&mut tar, &path, b, mtime),
                Blob::Layer(i) => {
                    let l = &a.layers[*i];
                    let f = File::open(l.blob.path()).map_err(io_err)?;
                    let mut h = fixed_header(tar::EntryType::Regular, 0o644, l.size, mtime);
                    tar.append_data(&mut h, &path, f)
                }
            }
            .map_err(io_err)?;
        }
        append_bytes(&mut tar, "index.json", &a.index, mtime).map_err(io_err)?;
        append_bytes(&mut tar, "manifest.json", &a.docker_manifest, mtime).map_err(io_err)?;
        append_bytes(&mut tar, "oci-layout", spec::OCI_LAYOUT.as_bytes(), mtime).map_err(io_err)?;
        let mut w = tar.into_inner().map_err(io_err)?;
        w.flush().map_err(io_err)?;
        w.into_inner().map_err(|e| io_err(e.into_error()))?.sync_all().map_err(io_err)?;
    }
    let bytes = tmp.as_file().metadata().map_err(io_err)?.len();
    crate::output::persist(tmp, dest, 0o644)?;
    Ok(a.written(dest, bytes))
}

/// Writes an OCI image layout directory: built beside `dir`, then renamed into place. An
/// existing OCI layout at `dir` is replaced; any other existing, non-empty directory is refused.
pub fn write_oci_dir(a: &Assembled, dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let replacing = check_oci_dest(dir)?;
    let parent = crate::output::parent_dir(dir);
    let io_err = |p: &Path, e: std::io::Error| Error::io("write OCI layout", p, e);
    let tmp = crate::output::temp_dir_in(parent, "staticize-oci")?;
    let root = tmp.path();
    let sha = root.join("blobs/sha256");
    std::fs::create_dir_all(&sha).map_err(|e| io_err(&sha, e))?;
    let write_file = |p: &Path, bytes: &[u8]| -> Result<()> {
        std::fs::write(p, bytes).map_err(|e| io_err(p, e))?;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).map_err(|e| io_err(p, e))
    };
    for (digest, blob) in &a.blobs {
        let p = root.join(spec::blob_path(digest));
        match blob {
            Blob::Json(b) => write_file(&p, b)?,
            Blob::Layer(i) => {
                std::fs::copy(a.layers[*i].blob.path(), &p).map_err(|e| io_err(&p, e))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).map_err(|e| io_err(&p, e))?;
            }
        }
    }
    write_file(&root.join("index.json"), &a.index)?;
    write_file(&root.join("oci-layout"), spec::OCI_LAYOUT.as_bytes())?;
    for d in [root, &root.join("blobs"), &sha] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).map_err(|e| io_err(d, e))?;
    }
    let built = tmp.keep();
    // Move the old layout aside first so a failed rename leaves it where it was.
    let aside = if replacing {
        let aside = parent.join(format!(".staticize-oci-old-{}", std::process::id()));
        std::fs::rename(dir, &aside).map_err(|e| io_err(dir, e))?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&built, dir) {
        if let Some(old) = &aside {
            let _ = std::fs::rename(old, dir);
        }
        let _ = std::fs::remove_dir_all(&built);
        return Err(io_err(dir, e));
    }
    if let Some(old) = aside {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io("remove the previous OCI layout", &old, e))?;
    }
    Ok(())
}

/// Ok(true) when `dir` holds an OCI layout to replace (or an empty directory), Ok(false) when
/// it does not exist; an error for anything else.
pub fn check_oci_dest(dir: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("check --oci-dir", dir, e)),
        Ok(m) if m.is_dir() => {
            let empty = std::fs::read_dir(dir).map_err(|e| Error::io("read --oci-dir", dir, e))?.next().is_none();
            if empty || dir.join("oci-layout").is_file() {
                Ok(true)
            } else {
                Err(Error::input(
                    dir,
                    "exists and is not an OCI layout (no oci-layout file); staticize will not overwrite it",
                    Some("choose a new directory for --oci-dir, or remove this one".into()),
                ))
            }
        }
        Ok(_) => Err(Error::input(
            dir,
            "exists and is not a directory",
            Some("--oci-dir needs a directory path that does not exist yet or holds an OCI layout".into()),
        )),
    }
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8], mtime: u64) -> std::io::Result<()> {
    let mut h = fixed_header(tar::EntryType::Regular, 0o644, bytes.len() as u64, mtime);
    tar.append_data(&mut h, path, bytes)
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("image documents always serialise")
}
