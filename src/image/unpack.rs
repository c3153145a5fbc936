//! Unpacks the first image of an archive into a directory, layers applied in order with
//! whiteouts, so `check` can resolve closures against the image's own files.
//!
//! Only what a closure verdict reads is written in full: ELF objects, the loader's own
//! configuration (/etc/ld.so.conf*, /etc/ld-musl-*.path), directories and links. Every other
//! file becomes an empty file of the same name (so "is the entrypoint there" still has an
//! answer), and what is written is bounded ([`UnpackLimits`]): a small archive that inflates to
//! gigabytes (a gzip bomb) cannot fill the disk, it fails with an error naming the bound.
//!
//! Reading is [`crate::image::read`]'s, so every shape it opens works here (staticize's tar,
//! OCI layout directories, docker and podman saves; gzip, zstd or plain layers). This module
//! only writes, and only below `dest`: no symlink is ever followed while writing (a parent that
//! is a link or a file is replaced by a directory, as overlayfs shows a later layer's
//! directory over a lower non-directory), devices and fifos are not created, and set-id bits
//! are dropped.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::read::{Archive, EntryKind, LayerEntry};

/// At most this many skipped-entry notes are kept (a hostile layer could make millions).
const MAX_NOTES: usize = 20;

/// How much unpacking may write before it stops with an error.
#[derive(Debug, Clone, Copy)]
pub struct UnpackLimits {
    /// Bytes of file content written (ELF objects and loader configuration).
    pub max_bytes: u64,
    /// Entries created (files, placeholders, directories, links).
    pub max_entries: u64,
    /// Write every regular file in full (what `slim` carries out of an image), not only what a
    /// closure verdict reads; the byte bound then counts every file.
    pub every_file: bool,
}

impl UnpackLimits {
    /// Every file in full, for commands that carry files out of the image (`slim`): 64 GiB and
    /// a million entries.
    pub fn every_file() -> Self {
        UnpackLimits { max_bytes: 64 << 30, max_entries: 1_000_000, every_file: true }
    }
}

impl Default for UnpackLimits {
    /// 4 GiB of ELF objects (the largest CUDA images carry ~3 GiB of libraries) and a million
    /// entries (a full Debian root has ~60,000).
    fn default() -> Self {
        UnpackLimits { max_bytes: 4 << 30, max_entries: 1_000_000, every_file: false }
    }
}

/// Largest loader configuration file written in full.
const MAX_CONFIG: u64 = 1 << 20;

/// What unpacking learned besides the files.
#[derive(Debug, Clone, Default)]
pub struct Unpacked {
    /// The config's Env ("KEY=VALUE").
    pub env: Vec<String>,
    /// The config's Entrypoint followed by Cmd.
    pub command: Vec<String>,
    /// The config's Entrypoint alone (what arguments given to a run follow).
    pub entrypoint: Vec<String>,
    /// The config's User, when set.
    pub user: Option<String>,
    /// The config's WorkingDir, when set.
    pub workdir: Option<String>,
    /// The image's architecture ("amd64").
    pub architecture: String,
    /// Number of layers applied.
    pub layers: usize,
    /// The archive's problems and the entries that were not written, for warnings.
    pub notes: Vec<String>,
    /// Bytes of content written.
    pub bytes_written: u64,
    /// Entries created.
    pub entries_written: u64,
    /// Regular files written as empty placeholders (not ELF, not loader configuration).
    pub placeholders: u64,
}

impl Unpacked {
    /// The directories of LD_LIBRARY_PATH in the config's Env.
    pub fn library_path(&self) -> Vec<String> {
        self.env
            .iter()
            .filter_map(|v| v.strip_prefix("LD_LIBRARY_PATH="))
            .flat_map(|v| v.split(':'))
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn note(&mut self, note: String) {
        match self.notes.len() {
            n if n < MAX_NOTES => self.notes.push(note),
            MAX_NOTES => self.notes.push("more entries were skipped; not listed".into()),
            _ => {}
        }
    }
}

/// True when `path` starts like a tar archive (the "ustar" magic at offset 257).
pub fn looks_like_tar(path: &Path) -> bool {
    let mut buf = [0u8; 263];
    File::open(path).and_then(|mut f| f.read_exact(&mut buf)).is_ok() && &buf[257..262] == b"ustar"
}

/// True when `dir` holds an OCI image layout (an `oci-layout` file and an `index.json`).
pub fn is_oci_layout(dir: &Path) -> bool {
    dir.join("oci-layout").is_file() && dir.join("index.json").is_file()
}

/// Unpacks the first image of `archive` (a tar or an OCI layout directory) into `dest`, an
/// empty directory, writing only what a closure verdict needs, within `limits`.
pub fn unpack(archive: &Path, dest: &Path, limits: &UnpackLimits) -> Result<Unpacked> {
    unpack_platform(archive, None, dest, limits)
}

/// The architectures of `archive`'s images ("amd64", "arm64"), in its order, without repeats.
pub fn architectures(archive: &Path) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for img in Archive::open(archive)?.images {
        if !out.contains(&img.platform.architecture) {
            out.push(img.platform.architecture);
        }
    }
    Ok(out)
}

/// As [`unpack`], the first image of `architecture` when one is named (else the first image).
pub fn unpack_platform(
    archive: &Path,
    architecture: Option<&str>,
    dest: &Path,
    limits: &UnpackLimits,
) -> Result<Unpacked> {
    let opened = Archive::open(archive)?;
    // Archive::open fails when it finds no image, so there is a first one.
    let img = architecture
        .and_then(|a| opened.images.iter().find(|i| i.platform.architecture == a))
        .unwrap_or(&opened.images[0]);
    let cfg = &img.parsed.config;
    let mut out = Unpacked {
        env: cfg.env.clone().unwrap_or_default(),
        command: cfg.entrypoint.iter().chain(&cfg.cmd).flatten().cloned().collect(),
        entrypoint: cfg.entrypoint.clone().unwrap_or_default(),
        user: cfg.user.clone().filter(|u| !u.is_empty()),
        workdir: cfg.working_dir.clone().filter(|w| !w.is_empty()),
        architecture: img.platform.architecture.clone(),
        layers: img.layers.len(),
        ..Default::default()
    };
    for p in &opened.problems {
        out.note(format!("{}: {}", p.place, p.message));
    }
    for layer in &img.layers {
        let mut r = opened.layer(layer)?;
        while let Some(entry) = r.next_entry()? {
            apply(dest, &entry, &mut r.data(), limits.every_file, &mut out)
                .map_err(|e| Error::io(format!("unpack /{} of layer {}", entry.path, layer.location), dest, e))?;
            if out.bytes_written > limits.max_bytes || out.entries_written > limits.max_entries {
                return Err(over_limit(archive, &out, limits));
            }
        }
        // Reading to the end surfaces a damaged tail (a truncated or corrupt compressed stream).
        r.finish()?;
    }
    Ok(out)
}

fn over_limit(archive: &Path, out: &Unpacked, limits: &UnpackLimits) -> Error {
    let what = match (out.bytes_written > limits.max_bytes, limits.every_file) {
        (true, false) => format!("its ELF objects exceed {} bytes unpacked", limits.max_bytes),
        (true, true) => format!("its files exceed {} bytes unpacked", limits.max_bytes),
        (false, _) => format!("it has more than {} entries", limits.max_entries),
    };
    let (step, help) = if limits.every_file {
        ("stopped unpacking the image", "the image is larger than staticize unpacks; slim a smaller image")
    } else {
        (
            "stopped unpacking the image for check",
            "if the image is really that large, raise the bound: check --max-unpacked SIZE",
        )
    };
    Error::input(archive, format!("{step}: {what} (a damaged archive or a decompression bomb?)"), Some(help.into()))
}

/// True for the files the loader reads besides libraries: they are written in full.
fn is_loader_config(path: &str) -> bool {
    path == "etc/ld.so.conf"
        || path.starts_with("etc/ld.so.conf.d/")
        || (path.starts_with("etc/ld-musl-") && path.ends_with(".path"))
}

/// Writes a regular file: in full when it is an ELF object or loader configuration (or
/// `every_file`), else empty. Returns the bytes written.
fn write_file(target: &Path, path: &str, data: &mut impl Read, mode: u32, every_file: bool) -> io::Result<u64> {
    remove(target)?;
    // create_new (O_EXCL) never opens through a symlink, even one that appeared since.
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(target)?;
    let mut head = Vec::with_capacity(4);
    data.take(4).read_to_end(&mut head)?;
    let n = if head == b"\x7fELF" || every_file {
        io::Write::write_all(&mut f, &head)?;
        4 + io::copy(data, &mut f)?
    } else if is_loader_config(path) {
        io::Write::write_all(&mut f, &head)?;
        head.len() as u64 + io::copy(&mut data.take(MAX_CONFIG), &mut f)?
    } else {
        0
    };
    f.set_permissions(fs::Permissions::from_mode((mode & 0o777) | 0o600))?;
    Ok(n)
}

/// Applies one layer entry below `dest`.
fn apply(dest: &Path, e: &LayerEntry, data: &mut impl Read, every_file: bool, out: &mut Unpacked) -> io::Result<()> {
    let (dir, name) = match e.path.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", e.path.as_str()),
    };
    match e.kind {
        EntryKind::Whiteout => return whiteout(dest, Path::new(dir), Some(name)),
        EntryKind::Opaque => return whiteout(dest, Path::new(&e.path), None),
        // Devices and fifos mean nothing to a closure and must not be created on the host.
        EntryKind::Device | EntryKind::Fifo | EntryKind::Other => return Ok(()),
        _ if e.path.is_empty() => return Ok(()), // the root itself
        _ => {}
    }
    let target = make_parents(dest, Path::new(dir))?.join(name);
    out.entries_written += 1;
    match e.kind {
        EntryKind::Dir => {
            match fs::symlink_metadata(&target) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    remove(&target)?;
                    fs::create_dir(&target)?;
                }
                Err(_) => fs::create_dir(&target)?,
            }
            // The owner keeps rwx so later layers can write here and the temp dir can be removed.
            fs::set_permissions(&target, fs::Permissions::from_mode((e.mode & 0o777) | 0o700))
        }
        EntryKind::File => {
            let n = write_file(&target, &e.path, data, e.mode, every_file)?;
            out.bytes_written += n;
            out.placeholders += u64::from(n == 0 && e.size > 0);
            Ok(())
        }
        EntryKind::Symlink => {
            remove(&target)?;
            // Stored as written; Root resolves it later without leaving `dest`.
            std::os::unix::fs::symlink(e.link.as_deref().unwrap_or_default(), &target)
        }
        EntryKind::Hardlink => {
            let Some(source) = e.link.as_deref().and_then(|l| existing(dest, l)) else {
                out.note(format!("/{}: hard link to a missing /{}; skipped", e.path, e.link.as_deref().unwrap_or("")));
                return Ok(());
            };
            if source == target {
                return Ok(());
            }
            remove(&target)?;
            // linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
            fs::hard_link(&source, &target)
        }
        _ => Ok(()),
    }
}

/// `dest/dir`, every component made a real directory: missing ones are created, and a file
/// or symlink in the way is removed (never followed).
fn make_parents(dest: &Path, dir: &Path) -> io::Result<PathBuf> {
    let mut cur = dest.to_path_buf();
    for c in dir.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => fs::remove_file(&cur)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        fs::create_dir(&cur)?;
        fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))?;
    }
    Ok(cur)
}

/// `dest/inside` when it exists as a non-directory and no parent on the way is a link.
fn existing(dest: &Path, inside: &str) -> Option<PathBuf> {
    let mut cur = dest.to_path_buf();
    let parts: Vec<&str> = inside.split('/').filter(|c| !c.is_empty()).collect();
    let (last, parents) = parts.split_last()?;
    for c in parents {
        cur.push(c);
        if !fs::symlink_metadata(&cur).ok()?.is_dir() {
            return None;
        }
    }
    cur.push(last);
    (!fs::symlink_metadata(&cur).ok()?.is_dir()).then_some(cur)
}

/// Removes whatever is at `p` (a directory with its contents), without following links.
fn remove(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes `name` in `dir` (or everything in `dir` for an opaque whiteout), refusing to pass
/// through a symlink so a hostile layer cannot reach outside `dest`.
fn whiteout(dest: &Path, dir: &Path, name: Option<&str>) -> io::Result<()> {
    let mut cur = dest.to_path_buf();
    for c in dir.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            _ => return Ok(()), // missing, or a link: nothing of ours to remove
        }
    }
    match name {
        Some(n) => remove(&cur.join(n)),
        None => {
            for e in fs::read_dir(&cur)? {
                remove(&e?.path())?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::testkit::{RawTar, docker_save};

    #[test]
    fn whiteouts_never_follow_links() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("precious"), b"x").unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dest.path().join("x")).unwrap();
        whiteout(dest.path(), Path::new("x"), Some("precious")).unwrap();
        assert!(outside.path().join("precious").exists());
        fs::create_dir(dest.path().join("d")).unwrap();
        fs::write(dest.path().join("d/f"), b"x").unwrap();
        whiteout(dest.path(), Path::new("d"), None).unwrap();
        assert!(!dest.path().join("d/f").exists());
    }

    /// A docker-save style archive of `layers` (tar bytes, compressed as given; no diff_ids).
    fn archive(dir: &Path, layers: &[Vec<u8>]) -> PathBuf {
        let config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": ["/app"], "Cmd": ["-v"], "Env": ["LD_LIBRARY_PATH=/opt/lib:"]}});
        docker_save(dir, &config, &[], layers)
    }

    #[test]
    fn hostile_layers_stay_inside_and_whiteouts_apply() {
        use tar::EntryType::{Block, Char, Directory, Fifo, Link, Regular, Symlink};
        let outside = tempfile::tempdir().unwrap();
        let o = outside.path().display().to_string();
        fs::write(outside.path().join("precious"), b"keep").unwrap();
        let low = RawTar::new()
            .entry("etc/", Directory, b"", None, 0o555)
            .entry("etc/gone", Regular, b"x", None, 0o644)
            .entry("var/cache/old", Regular, b"x", None, 0o644)
            .entry("evil", Symlink, b"", Some(&o), 0o777)
            .entry("app", Regular, b"v1", None, 0o4755)
            .finish();
        let high = RawTar::new()
            .entry("etc/.wh.gone", Regular, b"", None, 0o644)
            .entry("var/cache/.wh..wh..opq", Regular, b"", None, 0o644)
            // Through the link: must replace it with a directory, never write into `outside`.
            .entry("evil/precious", Regular, b"pwned", None, 0o644)
            .entry("../../escape", Regular, b"x", None, 0o644)
            .entry("hard", Link, b"", Some("../../etc/passwd"), 0o644)
            .entry("app2", Link, b"", Some("app"), 0o644)
            .entry("dev/null", Char, b"", None, 0o666)
            .entry("dev/sda", Block, b"", None, 0o666)
            .entry("fifo", Fifo, b"", None, 0o644)
            .finish();
        // The upper layer zstd-compressed, the lower one gzip.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &low).unwrap();
        let zst = zstd::encode_all(high.as_slice(), 3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tar = archive(dir.path(), &[gz.finish().unwrap(), zst]);

        let dest = tempfile::tempdir().unwrap();
        let d = dest.path();
        let u = unpack(&tar, d, &UnpackLimits::default()).unwrap();
        assert_eq!(u.command, ["/app", "-v"]);
        assert_eq!(u.library_path(), ["/opt/lib"]);
        assert_eq!(u.layers, 2);
        assert_eq!(fs::read(outside.path().join("precious")).unwrap(), b"keep");
        // Not ELF: written as an empty file, so its name exists but nothing of it is written.
        assert_eq!(fs::read(d.join("evil/precious")).unwrap(), b"");
        assert!(fs::symlink_metadata(d.join("evil")).unwrap().is_dir());
        assert!(d.join("escape").is_file(), "'..' is cleaned as runtimes do");
        assert!(!d.join("etc/gone").exists() && d.join("etc").is_dir());
        assert_eq!(fs::metadata(d.join("etc")).unwrap().permissions().mode() & 0o777, 0o755);
        assert!(d.join("var/cache").is_dir() && !d.join("var/cache/old").exists());
        assert!(!d.join("hard").exists(), "a hard link to etc/passwd, absent in the image");
        assert!(u.notes.iter().any(|n| n.contains("/hard: hard link to a missing /etc/passwd")), "{:?}", u.notes);
        assert!(d.join("app2").is_file());
        assert_eq!(fs::metadata(d.join("app")).unwrap().permissions().mode() & 0o7777, 0o755, "no set-id bits");
        for gone in ["dev/null", "dev/sda", "fifo"] {
            assert!(fs::symlink_metadata(d.join(gone)).is_err(), "{gone} was created");
        }
    }

    #[test]
    fn only_elf_objects_are_written_and_within_the_bound() {
        use tar::EntryType::Regular;
        let mut elf = b"\x7fELF".to_vec();
        elf.resize(4096, 1);
        let l = RawTar::new()
            .entry("lib/a.so", Regular, &elf, None, 0o755)
            .entry("big.dat", Regular, &vec![0u8; 1 << 20], None, 0o644)
            .entry("etc/ld.so.conf", Regular, b"/opt/lib\n", None, 0o644)
            .finish();
        let dir = tempfile::tempdir().unwrap();
        let tar = archive(dir.path(), &[l]);
        let dest = tempfile::tempdir().unwrap();
        let d = dest.path();
        let u = unpack(&tar, d, &UnpackLimits::default()).unwrap();
        assert_eq!(fs::read(d.join("lib/a.so")).unwrap(), elf);
        assert_eq!(fs::metadata(d.join("big.dat")).unwrap().len(), 0, "not ELF: an empty placeholder");
        assert_eq!(fs::read(d.join("etc/ld.so.conf")).unwrap(), b"/opt/lib\n");
        assert_eq!((u.bytes_written, u.placeholders), (4096 + 9, 1));
        let small = UnpackLimits { max_bytes: 1000, max_entries: 100, every_file: false };
        let err = unpack(&tar, tempfile::tempdir().unwrap().path(), &small).unwrap_err();
        assert!(err.to_string().contains("exceed 1000 bytes"), "{err}");
        let few = UnpackLimits { max_bytes: 1 << 30, max_entries: 2, every_file: false };
        let err = unpack(&tar, tempfile::tempdir().unwrap().path(), &few).unwrap_err();
        assert!(err.to_string().contains("more than 2 entries"), "{err}");
    }
}
