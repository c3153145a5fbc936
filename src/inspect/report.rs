//! What `staticize inspect IMAGE` reports: names, platforms, digests, config, history, layers
//! with their sizes, optionally every file, and the bytes wasted by files later layers
//! overwrite or delete. Every layer is read and hashed; claimed digests are checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::image::paths::EscapingLinks;
use crate::image::read::{Archive, Compression, EntryKind, Format, Image, LayerEntry, LayerRef, Problem};
use crate::image::spec::RunConfig;
use crate::inspect::waste::{Hidden, HiddenBy, Overlay};
use crate::report::short_digest;

/// Most entries tracked for one image (overlay and `--files` listing); beyond, figures are
/// marked incomplete so memory stays bounded on hostile layers.
const MAX_TRACKED_ENTRIES: usize = 2_000_000;
/// Unsafe entries reported one by one per layer; the rest are counted.
const MAX_PROBLEMS_PER_LAYER: u64 = 100;

/// Everything `inspect` found, as printed with `--json`.
#[derive(Debug, Serialize)]
pub(crate) struct InspectReport {
    /// The file or directory inspected.
    pub archive: PathBuf,
    /// Its shape.
    pub format: Format,
    /// The images in it.
    pub images: Vec<ImageReport>,
    /// Multi-platform indexes: digest, names, platforms present.
    pub indexes: Vec<IndexReport>,
    /// Unsafe or inconsistent things found (nothing was followed or written).
    pub problems: Vec<Problem>,
    /// Things skipped on purpose.
    pub notes: Vec<String>,
}

/// One multi-platform index.
#[derive(Debug, Serialize)]
pub(crate) struct IndexReport {
    /// Digest of the index document.
    pub digest: String,
    /// Names it carries.
    pub names: Vec<String>,
    /// Platforms present in the archive.
    pub platforms: Vec<String>,
}

/// One image (one platform).
#[derive(Debug, Serialize)]
pub(crate) struct ImageReport {
    /// Names (tags).
    pub names: Vec<String>,
    /// os/arch[/variant].
    pub platform: String,
    /// Digest of the manifest (what a registry calls the image), when the archive has one.
    pub manifest_digest: Option<String>,
    /// Digest of the config: the image ID docker and podman show.
    pub config_digest: String,
    /// Creation time from the config.
    pub created: Option<String>,
    /// Author from the config.
    pub author: Option<String>,
    /// Entrypoint, cmd, env, user, ports, labels, workdir, stop signal.
    pub config: RunConfig,
    /// Build steps, oldest first.
    pub history: Vec<HistoryRow>,
    /// Layers, bottom first.
    pub layers: Vec<LayerReport>,
    /// Sums over the layers and the merged file system.
    pub totals: Totals,
    /// Files stored in a layer but invisible in the final file system.
    pub wasted: Vec<Hidden>,
}

/// One history step.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryRow {
    /// When.
    pub created: Option<String>,
    /// The command.
    pub created_by: Option<String>,
    /// A comment.
    pub comment: Option<String>,
    /// True when the step made no layer.
    pub empty_layer: bool,
    /// The layer (0-based) it made.
    pub layer: Option<usize>,
    /// That layer's uncompressed size.
    pub size: u64,
}

/// One layer.
#[derive(Debug, Serialize)]
pub(crate) struct LayerReport {
    /// Digest of the stored blob (computed).
    pub digest: String,
    /// Digest of the uncompressed tar (computed).
    pub diff_id: String,
    /// Media type from the manifest.
    pub media_type: Option<String>,
    /// Compression judged from the bytes.
    pub compression: Compression,
    /// Stored bytes.
    pub size: u64,
    /// Uncompressed tar bytes.
    pub uncompressed_size: u64,
    /// Tar entries (whiteouts included).
    pub entries: u64,
    /// Regular files.
    pub files: u64,
    /// Bytes of file content.
    pub file_bytes: u64,
    /// Bytes of this layer's files that later layers overwrite or delete.
    pub wasted_bytes: u64,
    /// Every entry, with `--files`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<Vec<FileRow>>,
}

/// One entry in a `--files` listing.
#[derive(Debug, Serialize)]
pub(crate) struct FileRow {
    /// The entry.
    #[serde(flatten)]
    pub entry: LayerEntry,
    /// How a later layer hides it, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<HiddenBy>,
}

/// Sums for one image.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Totals {
    /// Number of layers.
    pub layers: usize,
    /// Stored bytes of all layers.
    pub size: u64,
    /// Uncompressed bytes of all layers.
    pub uncompressed_size: u64,
    /// Regular files over all layers.
    pub files: u64,
    /// Bytes of file content over all layers.
    pub file_bytes: u64,
    /// Bytes of file content in the final file system.
    pub visible_bytes: u64,
    /// Bytes of file content stored but invisible.
    pub wasted_bytes: u64,
    /// Files stored but invisible.
    pub wasted_files: u64,
    /// False when an image had more entries than could be tracked (figures are lower bounds).
    pub complete: bool,
}

/// Reads the archive or layout at `path` and everything in it; `files` keeps every entry for
/// the listing. Nothing is followed or written.
pub(crate) fn inspect(path: &Path, files: bool) -> Result<InspectReport> {
    let mut archive = Archive::open(path)?;
    let mut images = Vec::new();
    let mut problems = Vec::new();
    for img in &archive.images {
        images.push(inspect_image(&archive, img, files, &mut problems));
    }
    archive.problems.extend(problems);
    Ok(InspectReport {
        archive: path.to_path_buf(),
        format: archive.format,
        indexes: archive
            .indexes
            .iter()
            .map(|i| IndexReport {
                digest: i.doc.digest.clone(),
                names: i.names.clone(),
                platforms: i.images.iter().map(|n| archive.images[*n].platform.to_string()).collect(),
            })
            .collect(),
        images,
        problems: archive.problems.clone(),
        notes: archive.notes.clone(),
    })
}

impl InspectReport {
    /// The verdict: an archive with problems fails (exit 1), after it was printed.
    pub(crate) fn verdict(&self) -> Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        Err(Error::Verdict {
            message: format!("{}: {} problem(s) found in the archive", self.archive.display(), self.problems.len()),
            help: Some(
                "the archive was only read, nothing was followed or written; rebuild it from a trusted source".into(),
            ),
        })
    }
}

/// What one image's layers accumulate while they are read bottom first.
struct Walk<'a> {
    overlay: Overlay,
    /// Symbolic links seen so far whose target leaves the image's root.
    links: EscapingLinks,
    /// Entries kept for the `--files` listing.
    tracked: usize,
    /// Unsafe entries of the current layer.
    unsafe_entries: u64,
    problems: &'a mut Vec<Problem>,
}

impl Walk<'_> {
    /// Reads one layer into `report`: every entry, then the computed digests.
    fn layer(&mut self, archive: &Archive, l: &LayerRef, place: &str, report: &mut LayerReport) -> Result<()> {
        let mut r = archive.layer(l)?;
        while let Some(e) = r.next_entry()? {
            self.entry(e, place, report);
        }
        let d = r.finish()?;
        report.compression = d.compression;
        report.uncompressed_size = d.uncompressed_size;
        if let Some(claimed) = l.digest.as_deref().filter(|c| c.starts_with("sha256:") && *c != d.digest) {
            self.problems.push(Problem {
                place: place.to_string(),
                message: format!("the blob hashes to {}, the manifest says {claimed}", d.digest),
            });
        }
        if let Some(claimed) = l.diff_id.as_deref().filter(|c| c.starts_with("sha256:") && *c != d.diff_id) {
            self.problems.push(Problem {
                place: place.to_string(),
                message: format!("the tar hashes to {}, the config's diff_id says {claimed}", d.diff_id),
            });
        }
        report.digest = d.digest;
        report.diff_id = d.diff_id;
        Ok(())
    }

    /// Counts one entry, reports it when unsafe, and tracks it for the waste figures.
    fn entry(&mut self, e: LayerEntry, place: &str, report: &mut LayerReport) {
        report.entries += 1;
        if e.kind == EntryKind::File {
            report.files += 1;
            report.file_bytes += e.size;
        }
        let through = self.links.through(&e.path).map(|(link, target)| {
            format!(
                "the path goes through the symbolic link {link} → {target}, which points outside the image: an extractor that follows it writes outside"
            )
        });
        if let Some(p) = e.problem.clone().or(through) {
            self.unsafe_entries += 1;
            if self.unsafe_entries <= MAX_PROBLEMS_PER_LAYER {
                self.problems.push(Problem { place: format!("{place}: {}", e.path), message: p });
            }
        }
        if e.kind == EntryKind::Symlink {
            if let Some(target) = e.link.as_deref() {
                self.links.note(&e.path, target);
            }
        }
        self.overlay.apply(&e);
        if let Some(list) = &mut report.listing {
            if self.tracked < MAX_TRACKED_ENTRIES {
                self.tracked += 1;
                list.push(FileRow { entry: e, hidden: None });
            }
        }
    }
}

/// A layer's row before it is read: what the documents claim.
fn layer_report(l: &LayerRef, files: bool) -> LayerReport {
    LayerReport {
        digest: l.digest.clone().unwrap_or_default(),
        diff_id: l.diff_id.clone().unwrap_or_default(),
        media_type: l.media_type.clone(),
        compression: Compression::None,
        size: l.size,
        uncompressed_size: 0,
        entries: 0,
        files: 0,
        file_bytes: 0,
        wasted_bytes: 0,
        listing: files.then(Vec::new),
    }
}

fn inspect_image(archive: &Archive, img: &Image, files: bool, problems: &mut Vec<Problem>) -> ImageReport {
    let name = img.names.first().cloned().unwrap_or_else(|| short_digest(&img.config.digest));
    let mut walk = Walk {
        overlay: Overlay::new(MAX_TRACKED_ENTRIES),
        links: EscapingLinks::new(MAX_TRACKED_ENTRIES),
        tracked: 0,
        unsafe_entries: 0,
        problems,
    };
    let mut layers = Vec::new();
    for (i, l) in img.layers.iter().enumerate() {
        let place = format!("{name} layer {}", i + 1);
        walk.overlay.begin_layer(i);
        walk.unsafe_entries = 0;
        let mut report = layer_report(l, files);
        if let Err(e) = walk.layer(archive, l, &place, &mut report) {
            walk.problems.push(Problem { place: place.clone(), message: e.to_string() });
        }
        if walk.unsafe_entries > MAX_PROBLEMS_PER_LAYER {
            walk.problems.push(Problem {
                place: place.clone(),
                message: format!("{} more entries with unsafe names", walk.unsafe_entries - MAX_PROBLEMS_PER_LAYER),
            });
        }
        layers.push(report);
    }
    let overlay = walk.overlay;
    if !overlay.complete() {
        walk.problems.push(Problem {
            place: name.clone(),
            message: format!("more than {MAX_TRACKED_ENTRIES} paths; the waste figures are a lower bound"),
        });
    }
    for (i, l) in layers.iter_mut().enumerate() {
        l.wasted_bytes = overlay.wasted_in(i);
    }
    if files {
        mark_hidden(&mut layers, &overlay);
    }
    let wasted: Vec<Hidden> = overlay.hidden.iter().filter(|h| h.size > 0).cloned().collect();
    let totals = totals(&layers, &overlay, wasted.len() as u64);
    ImageReport {
        names: img.names.clone(),
        platform: img.platform.to_string(),
        manifest_digest: img.manifest.as_ref().map(|m| m.digest.clone()),
        config_digest: img.config.digest.clone(),
        created: img.parsed.created.clone(),
        author: img.parsed.author.clone(),
        config: img.parsed.config.clone(),
        history: history_rows(img, &layers),
        layers,
        totals,
        wasted,
    }
}

/// Marks the `--files` rows a later layer hides: the last row of a path in a layer is the one
/// hidden.
fn mark_hidden(layers: &mut [LayerReport], overlay: &Overlay) {
    let mut last: Vec<HashMap<&str, usize>> = vec![HashMap::new(); layers.len()];
    for (i, l) in layers.iter().enumerate() {
        for (n, row) in l.listing.iter().flatten().enumerate() {
            last[i].insert(row.entry.path.as_str(), n);
        }
    }
    let marks: Vec<(usize, usize, HiddenBy)> = overlay
        .hidden
        .iter()
        .filter_map(|h| last.get(h.layer)?.get(h.path.as_str()).map(|n| (h.layer, *n, h.how)))
        .collect();
    drop(last);
    for (layer, n, how) in marks {
        if let Some(row) = layers[layer].listing.as_mut().and_then(|l| l.get_mut(n)) {
            row.hidden.get_or_insert(how);
        }
    }
}

/// Sums over the layers and the merged file system.
fn totals(layers: &[LayerReport], overlay: &Overlay, wasted_files: u64) -> Totals {
    Totals {
        layers: layers.len(),
        size: layers.iter().map(|l| l.size).sum(),
        uncompressed_size: layers.iter().map(|l| l.uncompressed_size).sum(),
        files: layers.iter().map(|l| l.files).sum(),
        file_bytes: layers.iter().map(|l| l.file_bytes).sum(),
        visible_bytes: overlay.visible_bytes(),
        wasted_bytes: overlay.wasted_bytes(),
        wasted_files,
        complete: overlay.complete(),
    }
}

/// The config's history, each step with the layer it made and that layer's size.
fn history_rows(img: &Image, layers: &[LayerReport]) -> Vec<HistoryRow> {
    let mut history = Vec::new();
    let mut next_layer = 0;
    for h in &img.parsed.history {
        let empty = h.empty_layer.unwrap_or(false);
        let layer = (!empty && next_layer < layers.len()).then_some(next_layer);
        if !empty {
            next_layer += 1;
        }
        history.push(HistoryRow {
            created: h.created.clone(),
            created_by: h.created_by.clone(),
            comment: h.comment.clone(),
            empty_layer: empty,
            layer,
            size: layer.map_or(0, |i| layers[i].uncompressed_size),
        });
    }
    history
}
