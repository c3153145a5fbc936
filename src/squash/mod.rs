//! `staticize squash`: the layers of an existing image (all, or from one on) merged into one,
//! as a runtime would stack them — whiteouts and opaque directories applied, overwritten and
//! deleted files dropped — with owners, modes, times, links, devices and file capabilities
//! kept. The bytes removed are exactly the ones [`crate::inspect::waste`] (and so `inspect`)
//! counts as wasted in the squashed layers.
//!
//! Two passes over the input, each a stream: pass 1 reads only headers ([`plan`]); pass 2
//! copies each visible entry's content from the input layer to the output layer ([`emit`]).
//! Memory holds paths and metadata, never file contents; a hard link whose target was
//! overwritten is rebuilt from a copy spooled to disk. Kept lower layers are copied byte for
//! byte, so their digests stay the same.

pub mod emit;
pub mod plan;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::image::archive::{Assembled, LayeredImage, assemble_layered};
use crate::image::layer::{Compression, Layer, write_layer_with};
use crate::image::read::{Archive, Image, LayerReader, LayerRef, ReadLimits};
use crate::image::spec::Platform;
use crate::reference::ImageRef;

/// What to squash and how to write it.
#[derive(Debug, Clone)]
pub struct SquashOptions {
    /// The first layer squashed, 1-based as `inspect` numbers them (1: every layer).
    pub from_layer: usize,
    /// Compression of the squashed layer (kept layers stay as they are).
    pub compression: Compression,
    /// The name to give the result (default: the image's name, tag `squashed`).
    pub reference: Option<ImageRef>,
    /// Seconds for the few timestamps squash invents (synthesized parents, whiteouts).
    pub epoch: u64,
    /// How far reading the input may go (the fuzz target caps layers lower).
    pub limits: ReadLimits,
    /// Of a multi-platform image, only this platform (OS/ARCH[/VARIANT]); None: every one.
    pub platform: Option<String>,
}

/// What a squash did, for people and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct SquashReport {
    /// The input.
    pub source: PathBuf,
    /// The input's names.
    pub names: Vec<String>,
    /// Its platform.
    pub platform: String,
    /// Layers of the input.
    pub layers_in: usize,
    /// Layers kept as they were, below the squashed one.
    pub layers_kept: usize,
    /// Layers merged into one.
    pub layers_squashed: usize,
    /// Entries in the squashed layers.
    pub entries_in: u64,
    /// Entries in the squashed layer.
    pub entries_out: u64,
    /// Regular-file bytes in the squashed layers.
    pub bytes_in: u64,
    /// Regular-file bytes in the squashed layer.
    pub bytes_out: u64,
    /// bytes_in - bytes_out.
    pub removed_bytes: u64,
    /// Bytes the squashed layers hold that later layers overwrite or delete (`inspect`'s
    /// figure for those layers).
    pub wasted_bytes: u64,
    /// Wasted bytes in the kept layers: still stored (squash from a lower layer to remove them).
    pub wasted_kept_bytes: u64,
    /// Whiteouts written for what the kept layers hold and the squashed ones delete.
    pub whiteouts: u64,
    /// Hard links written as files because their target was overwritten or deleted.
    pub links_materialized: u64,
    /// Things worth knowing (links dropped, symlinks climbing above the root, other images).
    pub notes: Vec<String>,
}

/// A squashed image, ready for any destination.
pub struct Squashed {
    /// Blobs and documents.
    pub assembled: Assembled,
    /// The name it carries.
    pub reference: ImageRef,
    /// What was done (to the first platform).
    pub report: SquashReport,
    /// What was done to the other platforms of a multi-platform image.
    pub more: Vec<SquashReport>,
}

impl Squashed {
    /// The digest of layer `i` of the result.
    pub fn assembled_layer_digest(&self, i: usize) -> String {
        self.assembled.layer_digest(i)
    }
}

/// Squashes the image in `path` (any archive `inspect` reads), writing temporary layers into
/// `scratch`: every platform of a multi-platform image (the index kept), or the one
/// `opts.platform` names.
pub fn squash(path: &Path, opts: &SquashOptions, scratch: &Path) -> Result<Squashed> {
    let archive = Archive::open_with(path, opts.limits)?;
    refuse_problems(&archive)?;
    let (chosen, notes) = choose_images(&archive, opts.platform.as_deref())?;
    let (mut images, mut reports) = (Vec::new(), Vec::new());
    for &i in &chosen {
        let (image, report) = squash_one(&archive, &archive.images[i], opts, scratch)?;
        images.push(image);
        reports.push(report);
    }
    reports[0].notes.splice(0..0, notes);
    let names = match archive.indexes.first() {
        Some(ix) if chosen.len() > 1 && !ix.names.is_empty() => ix.names.clone(),
        _ => archive.images[chosen[0]].names.clone(),
    };
    let reference = opts.reference.clone().unwrap_or_else(|| default_reference(&names));
    let assembled = assemble_layered(images, &reference, opts.epoch);
    let report = reports.remove(0);
    Ok(Squashed { assembled, reference, report, more: reports })
}

/// Squashes one image of the archive: its layers from `opts.from_layer` on become one.
fn squash_one(
    archive: &Archive,
    img: &Image,
    opts: &SquashOptions,
    scratch: &Path,
) -> Result<(LayeredImage, SquashReport)> {
    let path = archive.path.as_path();
    let mut notes = Vec::new();
    let n = img.layers.len();
    if opts.from_layer == 0 || opts.from_layer > n {
        return Err(Error::usage(
            format!(
                "--from-layer {}: the image has {n} layer{} ({})",
                opts.from_layer,
                if n == 1 { "" } else { "s" },
                img.platform
            ),
            format!(
                "give a layer from 1 (squash them all) to {n}, as staticize inspect {} numbers them",
                path.display()
            ),
        ));
    }
    let from = opts.from_layer - 1;
    let plan = plan::plan(archive, img, from)?;
    let mut layers = Vec::new();
    for l in &img.layers[..from] {
        layers.push(keep_layer(archive, l, scratch)?);
    }
    let input = emit::Input { archive, image: img, from, plan: &plan, scratch, epoch: opts.epoch };
    let mut done = emit::Emitted::default();
    let compression = like_kept(opts.compression, &layers, &mut notes);
    let squashed = write_layer_with(compression, scratch, &mut |out| {
        done = emit::emit(&input, out)?;
        Ok(())
    })
    .map_err(|e| match e {
        Error::Io { source, .. } => emit::write_error(path, source),
        other => other,
    })?;
    layers.push(squashed);
    notes.extend(
        plan.dropped_links.iter().take(10).map(|p| format!("dropped /{p}: a hard link to a file that is in no layer")),
    );
    if plan.climbing_symlinks > 0 {
        notes.push(format!(
            "{} symlinks have relative targets that climb above the root; kept as they are (runtimes stop them at /)",
            plan.climbing_symlinks
        ));
    }
    let report = SquashReport {
        source: path.to_path_buf(),
        names: img.names.clone(),
        platform: img.platform.to_string(),
        layers_in: n,
        layers_kept: from,
        layers_squashed: n - from,
        entries_in: plan.entries_in,
        entries_out: done.entries,
        bytes_in: plan.bytes_in,
        bytes_out: done.bytes,
        removed_bytes: plan.bytes_in.saturating_sub(done.bytes),
        wasted_bytes: (from..n).map(|i| plan.overlay.wasted_in(i)).sum(),
        wasted_kept_bytes: (0..from).map(|i| plan.overlay.wasted_in(i)).sum(),
        whiteouts: done.whiteouts,
        links_materialized: done.links_materialized,
        notes,
    };
    let config = new_config(img, &layers, &report)?;
    Ok((LayeredImage { platform: img.platform.clone(), layers, config }, report))
}

/// Archive-level problems (links out of the archive, digests that do not match) stop a squash:
/// its output would carry them on under a new digest.
fn refuse_problems(archive: &Archive) -> Result<()> {
    let Some(p) = archive.problems.first() else { return Ok(()) };
    Err(Error::input(
        &archive.path,
        format!(
            "{}: {} ({} problem(s) in all); staticize does not squash it",
            p.place,
            p.message,
            archive.problems.len()
        ),
        Some(format!("see them all with: staticize inspect {}", archive.path.display())),
    ))
}

/// The images to squash: the one `platform` names; else every platform of a multi-platform
/// index (kept as one); else the host's platform when the archive holds several images, else
/// its only one. Also says what was left out.
fn choose_images(archive: &Archive, platform: Option<&str>) -> Result<(Vec<usize>, Vec<String>)> {
    let all = || archive.images.iter().map(|i| i.platform.to_string()).collect::<Vec<_>>().join(", ");
    if let Some(want) = platform {
        let found = archive.images.iter().position(|i| matches_platform(&i.platform, want));
        return match found {
            Some(i) => Ok((vec![i], Vec::new())),
            None => Err(Error::usage(
                format!("--platform {want}: {} holds no image for it", archive.path.display()),
                format!("give one of the platforms it holds: {}", all()),
            )),
        };
    }
    if let [ix] = archive.indexes.as_slice() {
        if ix.images.len() > 1 && ix.images.len() == archive.images.len() {
            return Ok((ix.images.clone(), Vec::new()));
        }
    }
    let host = Platform::host();
    let i = archive.images.iter().position(|i| i.platform.architecture == host.architecture).unwrap_or(0);
    let mut notes = Vec::new();
    if archive.images.len() > 1 {
        notes.push(format!(
            "the archive holds {} images ({}); squashed the {} one (choose with --platform)",
            archive.images.len(),
            all(),
            archive.images[i].platform
        ));
    }
    Ok((vec![i], notes))
}

/// True when `p` is the platform `want` spells: OS/ARCH or OS/ARCH/VARIANT.
fn matches_platform(p: &Platform, want: &str) -> bool {
    let mut parts = want.split('/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    os == Some(p.os.as_str())
        && arch == Some(p.architecture.as_str())
        && variant.is_none_or(|v| p.variant.as_deref() == Some(v))
}

/// The input's first name with the tag `squashed` ("squashed:latest" when it has none).
fn default_reference(names: &[String]) -> ImageRef {
    let parsed = names.iter().find_map(|n| ImageRef::from_engine_name(n));
    match parsed {
        Some(r) => ImageRef { repository: r.repository, tag: "squashed".into() },
        None => ImageRef { repository: "squashed".into(), tag: "latest".into() },
    }
}

/// A kept layer: its blob copied as it is (same digest), its diff_id computed on the way.
/// The compression of the squashed layer: `chosen`, unless the kept layers below it all use
/// another one. go-containerregistry (under syft, crane, ko) takes the first layer's
/// compression for every layer of a docker archive, so an image mixing plain and gzip layers
/// is unreadable to scanners; the squashed layer follows the kept ones, and a note says so.
fn like_kept(chosen: Compression, kept: &[Layer], notes: &mut Vec<String>) -> Compression {
    let Some(first) = kept.first() else { return chosen };
    let all = [Compression::Gzip, Compression::Zstd, Compression::None];
    let Some(theirs) = all.into_iter().find(|c| c.media_type() == first.media_type) else { return chosen };
    if theirs == chosen || kept.iter().any(|l| l.media_type != first.media_type) {
        return chosen;
    }
    notes.push(format!(
        "squashed layer compressed as {} like the kept layers below it, not {}: scanners reading docker archives (syft, crane) take one compression for every layer",
        theirs.name(),
        chosen.name()
    ));
    theirs
}

fn keep_layer(archive: &Archive, l: &LayerRef, scratch: &Path) -> Result<Layer> {
    let tmp = crate::output::temp_in(scratch, "staticize-layer")?;
    let file = tmp.reopen().map_err(|e| Error::io("write layer", tmp.path(), e))?;
    let (raw, _) = archive.open_file(&l.location)?;
    let tee = Tee { inner: raw, copy: file };
    let mut r = LayerReader::from_reader(Box::new(tee), archive.limits.max_layer_bytes, &l.location)?;
    while r.next_entry()?.is_some() {}
    let d = r.finish()?;
    tmp.as_file().sync_all().map_err(|e| Error::io("write layer", tmp.path(), e))?;
    Ok(Layer {
        blob: tmp,
        digest: d.digest,
        size: d.size,
        diff_id: d.diff_id,
        uncompressed_size: d.uncompressed_size,
        media_type: d.compression.media_type(),
    })
}

/// A reader that writes a copy of everything read.
struct Tee {
    inner: Box<dyn Read + Send>,
    copy: File,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// The input's config with the new layer list; the history keeps every step, marking the
/// squashed ones as merged, and gains one entry saying what squash did.
fn new_config(img: &Image, layers: &[Layer], r: &SquashReport) -> Result<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(&img.config.bytes)
        .map_err(|e| Error::input(&r.source, format!("the image config is not JSON: {e}"), None))?;
    if !v.is_object() {
        return Err(Error::input(&r.source, "the image config is not a JSON object", None));
    }
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
    v["rootfs"] = json!({ "type": "layers", "diff_ids": diff_ids });
    let created = v.get("created").cloned().unwrap_or(Value::Null);
    let mut history: Vec<Value> = v.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    let non_empty = |h: &Value| !h.get("empty_layer").and_then(Value::as_bool).unwrap_or(false);
    if history.iter().filter(|h| non_empty(h)).count() == r.layers_in {
        let mut seen = 0;
        for h in history.iter_mut() {
            if non_empty(h) {
                seen += 1;
                if seen > r.layers_kept {
                    h["empty_layer"] = Value::Bool(true);
                    h["comment"] = Value::String(format!("layer {seen}, merged by staticize squash"));
                }
            }
        }
    } else {
        // A history that does not match the layers cannot say which step made which layer.
        history = (0..r.layers_kept).map(|_| json!({ "created": created, "comment": "kept layer" })).collect();
    }
    history.push(json!({
        "created": created,
        "created_by": format!(
            "staticize squash: layers {}-{} merged into one ({} entries -> {}, {} bytes of overwritten or deleted files removed)",
            r.layers_kept + 1, r.layers_in, r.entries_in, r.entries_out, r.removed_bytes
        ),
        "comment": format!("staticize {}", env!("CARGO_PKG_VERSION")),
    }));
    v["history"] = Value::Array(history);
    Ok(serde_json::to_vec(&v).expect("JSON values serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::read::EntryKind;
    use crate::image::testkit::{Entry as E, RawTar, docker_save, layer, rootfs};

    /// A docker-save style archive of `layers`, with a command and one history step each.
    fn archive(dir: &Path, layers: &[Vec<u8>]) -> PathBuf {
        let history: Vec<Value> = (0..layers.len()).map(|i| json!({ "created_by": format!("step {i}") })).collect();
        let config = json!({ "architecture": "amd64", "os": "linux", "config": { "Cmd": ["/bin/x"] },
            "rootfs": rootfs(layers), "history": history });
        docker_save(dir, &config, &["test/in:1"], layers)
    }

    /// (path, kind, size, uid, mode, link, capability) of every entry of every layer of `out`.
    type Row = (String, EntryKind, u64, u64, u32, Option<String>, bool);

    fn squash_to(input: &Path, from: usize, dir: &Path) -> (Squashed, Vec<Vec<Row>>, PathBuf) {
        let opts = SquashOptions { from_layer: from, compression: Compression::Gzip, ..opts() };
        let s = squash(input, &opts, dir).unwrap();
        let out = dir.join(format!("out-{from}.tar"));
        crate::image::archive::write_tar(&s.assembled, &out).unwrap();
        let a = Archive::open(&out).unwrap();
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        let mut layers = Vec::new();
        let n = a.images[0].layers.len();
        for (i, l) in a.images[0].layers.iter().enumerate() {
            let mut r = a.layer(l).unwrap();
            let mut rows = Vec::new();
            while let Some(e) = r.next_entry().unwrap() {
                let cap = r.extra().xattrs.iter().any(|(k, _)| k == "security.capability");
                // Only the squashed layer is rewritten (kept ones are copied as they are).
                assert!(i + 1 < n || r.extra().xattrs.iter().all(|(k, _)| k != "security.selinux"));
                rows.push((e.path, e.kind, e.size, e.uid, e.mode, e.link, cap));
            }
            r.finish().unwrap();
            layers.push(rows);
        }
        (s, layers, out)
    }

    fn sample(dir: &Path) -> PathBuf {
        let l1 = layer(&[
            E::Dir("etc/"),
            E::Owned("etc/ping", b"old ping", 1000, 0o4755, Some(b"\x01\x00\x00\x02")),
            E::File("etc/b", b"bbbb"),
            E::Hard("etc/c", "etc/b"),
            E::Dir("var/cache/"),
            E::File("var/cache/x", b"xxxxxxxx"),
            E::Sym("bin", "usr/bin"),
        ]);
        let l2 = layer(&[
            E::File("etc/.wh.b", b""),
            E::File("var/cache/.wh..wh..opq", b""),
            E::File("var/cache/y", b"y"),
            E::Owned("etc/ping", b"new ping!", 1000, 0o4755, Some(b"\x01\x00\x00\x02")),
        ]);
        let l3 = layer(&[E::Dir("opt/"), E::File("opt/big", &[7u8; 5000])]);
        let l4 = layer(&[E::File("opt/.wh.big", b"")]);
        archive(dir, &[l1, l2, l3, l4])
    }

    #[test]
    fn every_layer_squashed_keeps_what_is_visible_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let input = sample(dir.path());
        let (s, layers, out) = squash_to(&input, 1, dir.path());
        assert_eq!(layers.len(), 1);
        let rows = &layers[0];
        let paths: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(paths, ["etc", "opt", "var", "var/cache", "etc/c", "bin", "var/cache/y", "etc/ping"]);
        let ping = rows.iter().find(|r| r.0 == "etc/ping").unwrap();
        assert_eq!((ping.2, ping.3, ping.4, ping.6), (9, 1000, 0o4755, true), "owner, set-uid and capability kept");
        let c = rows.iter().find(|r| r.0 == "etc/c").unwrap();
        assert_eq!((c.1, c.2), (EntryKind::File, 4), "a hard link to a deleted file becomes that file");
        assert_eq!(rows.iter().find(|r| r.0 == "bin").unwrap().5.as_deref(), Some("usr/bin"));
        let r = &s.report;
        assert_eq!((r.bytes_in, r.bytes_out, r.links_materialized), (8 + 4 + 8 + 1 + 9 + 5000, 4 + 1 + 9, 1));
        // inspect's waste: old ping (8) + b (4) + x (8) + big (5000); c's 4 bytes come back as a file.
        assert_eq!(r.wasted_bytes, 5020);
        assert_eq!(r.removed_bytes, r.wasted_bytes - 4);
        // Deterministic: the same input gives the same bytes.
        let again = dir.path().join("again");
        std::fs::create_dir(&again).unwrap();
        let (_, _, out2) = squash_to(&input, 1, &again);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
    }

    #[test]
    fn squashing_from_a_layer_keeps_the_lower_ones_and_whites_out_what_they_lose() {
        let dir = tempfile::tempdir().unwrap();
        let input = sample(dir.path());
        let (s, layers, _) = squash_to(&input, 2, dir.path());
        assert_eq!(layers.len(), 2);
        let a = Archive::open(&input).unwrap();
        let first = a.layer(&a.images[0].layers[0]).unwrap().finish().unwrap();
        assert_eq!(s.assembled_layer_digest(0), first.digest, "the kept layer is copied byte for byte");
        let top: Vec<(&str, EntryKind)> = layers[1].iter().map(|r| (r.0.as_str(), r.1)).collect();
        assert_eq!(
            top,
            [
                ("opt", EntryKind::Dir),
                ("etc/b", EntryKind::Whiteout),
                ("var/cache/x", EntryKind::Whiteout),
                ("var/cache/y", EntryKind::File),
                ("etc/ping", EntryKind::File)
            ]
        );
        assert_eq!((s.report.whiteouts, s.report.wasted_kept_bytes > 0), (2, true));
        assert!(squash(&input, &SquashOptions { from_layer: 5, ..opts() }, dir.path()).is_err());
    }

    fn opts() -> SquashOptions {
        SquashOptions {
            from_layer: 1,
            compression: Compression::None,
            reference: None,
            epoch: 0,
            limits: ReadLimits::default(),
            platform: None,
        }
    }

    #[test]
    fn unsafe_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = archive(dir.path(), &[RawTar::new().file("../etc/shadow", b"x").finish()]);
        let err = squash(&input, &opts(), dir.path()).err().unwrap().to_string();
        assert!(err.contains("traversal"), "{err}");
    }
}
