//! The blob cache, `$STATICIZE_CACHE/blobs`: a compressed layer kept by its uncompressed
//! digest (diff_id) and compression settings, so a layer whose files did not change is not
//! compressed again — hashing its tar is several times cheaper than deflating it.
//!
//! Safe under concurrent and killed runs: an entry is a blob and a small JSON record, each
//! written to a temporary file in the cache and renamed into place (two runs storing the same
//! entry store the same bytes); a killed run leaves only temporary files, which the next run
//! removes. Every hit is verified: the blob is hashed as it is copied out and must match its
//! record, else the entry is removed and the layer compressed again and stored anew. Bounded:
//! after each store the least recently used entries (by the blob's mtime, set on every hit)
//! are removed until the cache fits `$STATICIZE_BLOB_CACHE_MB` (default 2048; 0 turns it off).
//!
//! A [`Remote`] tier (the cache registry) may stand behind it: asked on a local miss, before
//! compressing; given every layer compressed here. What it gives is used only when it
//! decompresses to exactly the tar this run made (same diff_id, same size): the key is
//! that digest, so no one can put another layer under it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::image::compress;
use crate::image::layer::{Compression, Layer, diff_id, write_layer};
use crate::image::rootfs::Rootfs;

/// The environment variable bounding the cache, in MiB.
pub const ENV_LIMIT: &str = "STATICIZE_BLOB_CACHE_MB";
/// The bound when the variable is not set.
const DEFAULT_LIMIT_MB: u64 = 2048;
/// Bumped whenever the compressors could give other bytes for the same input.
const FORMAT: u32 = 1;

/// The blob cache directory.
pub fn dir() -> PathBuf {
    crate::output::cache_dir().join("blobs")
}

/// The cache's bound in bytes; None: the cache is off.
fn limit() -> Option<u64> {
    let mb = match std::env::var(ENV_LIMIT) {
        Ok(v) => v.trim().parse::<u64>().unwrap_or(DEFAULT_LIMIT_MB),
        Err(_) => DEFAULT_LIMIT_MB,
    };
    (mb > 0).then(|| mb * 1024 * 1024)
}

/// What an entry records beside its blob.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    diff_id: String,
    uncompressed_size: u64,
    digest: String,
    size: u64,
}

/// A second tier behind the local blob cache (the cache registry): asked on a local miss,
/// before a layer is compressed; given each layer compressed here. Its failures never fail a
/// build: it says them and answers None.
pub trait Remote {
    /// The blob kept as entry `key` (a layer of `media_type`), its bytes matching the digest
    /// its entry names; None: there is none.
    fn fetch(&self, key: &str, media_type: &str) -> Option<Vec<u8>>;
    /// Says the blob fetched as entry `key` (of `media_type`) is not used, and why.
    fn refuse(&self, key: &str, media_type: &str, why: &str);
    /// Keeps the layer blob at `blob` (of `media_type`) as entry `key`.
    fn store(&self, key: &str, media_type: &str, blob: &Path);
}

/// The layer of `rootfs` in a temporary file in `scratch`: from the cache when an entry of the
/// same tar and compression is there and intact, else from `remote` when it has one that
/// checks, else compressed (and stored in both).
pub fn layer(
    rootfs: &Rootfs,
    compression: Compression,
    mtime: u64,
    scratch: &Path,
    remote: Option<&dyn Remote>,
) -> Result<Layer> {
    let Some(limit) = limit().filter(|_| compression != Compression::None) else {
        // An uncompressed layer is its own tar: nothing to save.
        return write_layer(rootfs, compression, mtime, scratch);
    };
    let (id, uncompressed_size) = diff_id(rootfs, mtime).map_err(|e| Error::io("write layer", scratch, e))?;
    let dir = dir();
    let key = key(&id, compression);
    if let Some(layer) = reuse(&dir, &key, compression, scratch)? {
        return Ok(layer);
    }
    if let Some(r) = remote {
        if let Some(layer) = pulled(r, &key, (&id, uncompressed_size), compression, scratch)? {
            let _ = store(&dir, &key, &layer).and_then(|_| evict(&dir, limit));
            return Ok(layer);
        }
    }
    let layer = write_layer(rootfs, compression, mtime, scratch)?;
    if layer.diff_id == id && layer.uncompressed_size == uncompressed_size {
        // A file that changed between the two reads is not stored under the first read's key.
        // The cache only saves time: a run whose cache cannot be written still succeeds.
        let _ = store(&dir, &key, &layer).and_then(|_| evict(&dir, limit));
        if let Some(r) = remote {
            r.store(&key, compression.media_type(), layer.blob.path());
        }
    }
    Ok(layer)
}

/// The entry `key` from `remote` as a layer in `scratch`, when it decompresses to the tar
/// `want` (diff_id and size); else refused (said) and None.
fn pulled(
    r: &dyn Remote,
    key: &str,
    want: (&str, u64),
    compression: Compression,
    scratch: &Path,
) -> Result<Option<Layer>> {
    let Some(bytes) = r.fetch(key, compression.media_type()) else { return Ok(None) };
    match unpacked_digest(&bytes, compression, want.1) {
        Ok((id, n)) if id == want.0 && n == want.1 => {}
        Ok((id, n)) => {
            r.refuse(
                key,
                compression.media_type(),
                &format!("holds a layer whose tar is {id} ({n} bytes), not {} ({} bytes)", want.0, want.1),
            );
            return Ok(None);
        }
        Err(e) => {
            r.refuse(key, compression.media_type(), &format!("is not a {} layer: {e}", compression.name()));
            return Ok(None);
        }
    }
    let mut tmp = crate::output::temp_in(scratch, "staticize-layer")?;
    tmp.write_all(&bytes).map_err(|e| Error::io("write layer", tmp.path(), e))?;
    Ok(Some(Layer {
        blob: tmp,
        digest: crate::digest::sha256_digest(&bytes),
        size: bytes.len() as u64,
        diff_id: want.0.to_string(),
        uncompressed_size: want.1,
        media_type: compression.media_type(),
    }))
}

/// "sha256:…" and size of what `blob` decompresses to, reading at most one byte more than
/// `expected` (a blob that inflates beyond the tar it claims to be is stopped there).
pub fn unpacked_digest(blob: &[u8], compression: Compression, expected: u64) -> io::Result<(String, u64)> {
    let mut reader: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(blob)),
        Compression::Zstd => Box::new(zstd::Decoder::new(blob)?),
        Compression::None => Box::new(blob),
    };
    let mut limited = (&mut reader).take(expected.saturating_add(1));
    let (hex, n) = crate::digest::sha256_reader(&mut limited)?;
    Ok((format!("sha256:{hex}"), n))
}

/// The entry's name: compression, its settings, and the tar's digest.
fn key(diff_id: &str, c: Compression) -> String {
    let settings = match c {
        Compression::Gzip => format!("gzip{}-{}", compress::GZIP_LEVEL, compress::GZIP_BLOCK),
        Compression::Zstd => format!("zstd{}", compress::ZSTD_LEVEL),
        Compression::None => "tar".to_string(),
    };
    format!("v{FORMAT}-{settings}-{}", diff_id.trim_start_matches("sha256:"))
}

/// The entry `key` copied into `scratch`, verified; a damaged or half-present entry is removed.
fn reuse(dir: &Path, key: &str, compression: Compression, scratch: &Path) -> Result<Option<Layer>> {
    let blob_path = dir.join(key);
    let Ok(text) = fs::read(dir.join(format!("{key}.json"))) else { return Ok(None) };
    let Ok(mut src) = File::open(&blob_path) else { return Ok(None) };
    let record: Option<Record> = serde_json::from_slice(&text).ok();
    let tmp = crate::output::temp_in(scratch, "staticize-layer")?;
    let mut out = tmp.reopen().map_err(|e| Error::io("open", tmp.path(), e))?;
    let (digest, size) = copy_hashing(&mut src, &mut out).map_err(|e| Error::io("write layer", tmp.path(), e))?;
    match record {
        Some(r) if r.digest == digest && r.size == size => {
            // The blob's mtime is its last use, for eviction.
            let _ = File::options().write(true).open(&blob_path).and_then(|f| f.set_modified(SystemTime::now()));
            Ok(Some(Layer {
                blob: tmp,
                digest,
                size,
                diff_id: r.diff_id,
                uncompressed_size: r.uncompressed_size,
                media_type: compression.media_type(),
            }))
        }
        _ => {
            // Damaged (a disk error, a hand edit): gone, so this run stores a good one.
            let _ = fs::remove_file(&blob_path);
            let _ = fs::remove_file(dir.join(format!("{key}.json")));
            Ok(None)
        }
    }
}

/// Copies `src` into `out`, returning "sha256:…" of the bytes and their count.
fn copy_hashing(src: &mut File, out: &mut File) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = src.read(&mut buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        out.write_all(&buf[..k])?;
        n += k as u64;
    }
    out.sync_all()?;
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), n))
}

/// Stores `layer` as entry `key`: the blob, then its record, each renamed into place.
fn store(dir: &Path, key: &str, layer: &Layer) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let blob = crate::output::temp_in(dir, "blob")?;
    let mut src = File::open(layer.blob.path()).map_err(|e| Error::io("read", layer.blob.path(), e))?;
    let mut out = blob.reopen().map_err(|e| Error::io("open", blob.path(), e))?;
    copy_hashing(&mut src, &mut out).map_err(|e| Error::io("write", blob.path(), e))?;
    blob.persist(dir.join(key)).map_err(|e| Error::io("rename into place", dir.join(key), e.error))?;
    let record = Record {
        diff_id: layer.diff_id.clone(),
        uncompressed_size: layer.uncompressed_size,
        digest: layer.digest.clone(),
        size: layer.size,
    };
    let mut rec = crate::output::temp_in(dir, "blob")?;
    rec.write_all(&serde_json::to_vec(&record).unwrap_or_default()).map_err(|e| Error::io("write", rec.path(), e))?;
    let dest = dir.join(format!("{key}.json"));
    rec.persist(&dest).map_err(|e| Error::io("rename into place", &dest, e.error))?;
    Ok(())
}

/// One entry: its blob's path, size and last use.
#[derive(Debug)]
pub struct Entry {
    /// The blob.
    pub path: PathBuf,
    /// Its bytes.
    pub size: u64,
    /// When it was last stored or reused.
    pub used: SystemTime,
}

/// The cache's entries, least recently used first.
pub fn entries(dir: &Path) -> Vec<Entry> {
    let Ok(read) = fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<Entry> = read
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('v') && !name.ends_with(".json")
        })
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some(Entry { path: e.path(), size: m.len(), used: m.modified().ok()? })
        })
        .collect();
    out.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
    out
}

/// An entry as the cache registry takes it: its key, compression and blob.
#[derive(Debug, PartialEq, Eq)]
pub struct Stored {
    /// The entry's key (format, compression settings, the tar's digest).
    pub key: String,
    /// The blob's compression.
    pub compression: Compression,
    /// The blob.
    pub path: PathBuf,
}

/// The entries of `dir` that this version of staticize makes (its format and settings), with
/// their compression, least recently used first.
pub fn stored(dir: &Path) -> Vec<Stored> {
    let of = |e: Entry| {
        let name = e.path.file_name()?.to_string_lossy().into_owned();
        let (_, hex) = name.rsplit_once('-')?;
        let id = format!("sha256:{hex}");
        let compression = [Compression::Gzip, Compression::Zstd].into_iter().find(|c| key(&id, *c) == name)?;
        Some(Stored { key: name, compression, path: e.path })
    };
    entries(dir).into_iter().filter_map(of).collect()
}

/// Removes the least recently used entries until the blobs fit in `limit` bytes.
fn evict(dir: &Path, limit: u64) -> Result<()> {
    let entries = entries(dir);
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    for e in entries {
        if total <= limit {
            break;
        }
        let mut record = e.path.clone().into_os_string();
        record.push(".json");
        let _ = fs::remove_file(&record);
        let _ = fs::remove_file(&e.path);
        total -= e.size;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Source;
    use crate::image::rootfs::MODE_EXEC;

    fn sample(bytes: &[u8]) -> Rootfs {
        let mut r = Rootfs::new();
        r.add_file("/bin/app", Source::Bytes(bytes.to_vec()), MODE_EXEC).unwrap();
        r
    }

    #[test]
    fn a_hit_gives_the_same_layer_and_a_damaged_entry_is_replaced() {
        let cache = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let dir = cache.path().join("blobs");
        let r = sample(b"hello hello hello");
        let (id, _) = diff_id(&r, 0).unwrap();
        let key = key(&id, Compression::Gzip);
        assert!(reuse(&dir, &key, Compression::Gzip, scratch.path()).unwrap().is_none());
        let fresh = write_layer(&r, Compression::Gzip, 0, scratch.path()).unwrap();
        store(&dir, &key, &fresh).unwrap();
        let hit = reuse(&dir, &key, Compression::Gzip, scratch.path()).unwrap().expect("stored");
        assert_eq!(
            (hit.digest.as_str(), hit.diff_id.as_str(), hit.size),
            (fresh.digest.as_str(), id.as_str(), fresh.size)
        );
        assert_eq!(fs::read(hit.blob.path()).unwrap(), fs::read(fresh.blob.path()).unwrap());
        fs::write(dir.join(&key), b"not gzip").unwrap();
        assert!(reuse(&dir, &key, Compression::Gzip, scratch.path()).unwrap().is_none(), "damage is seen");
        assert!(!dir.join(&key).exists() && !dir.join(format!("{key}.json")).exists(), "and removed");
    }

    /// A remote tier that answers from memory and records what it was told.
    #[derive(Default)]
    struct Memory {
        blobs: std::cell::RefCell<std::collections::BTreeMap<String, Vec<u8>>>,
        refused: std::cell::RefCell<Vec<String>>,
    }

    impl Remote for Memory {
        fn fetch(&self, key: &str, _: &str) -> Option<Vec<u8>> {
            self.blobs.borrow().get(key).cloned()
        }
        fn refuse(&self, _: &str, _: &str, why: &str) {
            self.refused.borrow_mut().push(why.to_string());
        }
        fn store(&self, key: &str, _: &str, blob: &Path) {
            self.blobs.borrow_mut().insert(key.to_string(), fs::read(blob).unwrap());
        }
    }

    #[test]
    fn a_remote_blob_is_used_only_when_it_inflates_to_the_same_tar() {
        let scratch = tempfile::tempdir().unwrap();
        let r = sample(b"remote remote remote");
        let (id, n) = diff_id(&r, 0).unwrap();
        let key = key(&id, Compression::Gzip);
        let fresh = write_layer(&r, Compression::Gzip, 0, scratch.path()).unwrap();
        let remote = Memory::default();
        remote.store(&key, "", fresh.blob.path());
        let got = pulled(&remote, &key, (&id, n), Compression::Gzip, scratch.path()).unwrap().expect("used");
        assert_eq!((got.digest.as_str(), got.size), (fresh.digest.as_str(), fresh.size));
        assert_eq!(fs::read(got.blob.path()).unwrap(), fs::read(fresh.blob.path()).unwrap());
        // Another layer's blob under this key: a valid gzip of another tar.
        let other = write_layer(&sample(b"other"), Compression::Gzip, 0, scratch.path()).unwrap();
        remote.store(&key, "", other.blob.path());
        assert!(pulled(&remote, &key, (&id, n), Compression::Gzip, scratch.path()).unwrap().is_none());
        remote.blobs.borrow_mut().insert(key.clone(), b"not gzip".to_vec());
        assert!(pulled(&remote, &key, (&id, n), Compression::Gzip, scratch.path()).unwrap().is_none());
        let refused = remote.refused.borrow();
        assert!(refused[0].contains("whose tar is") && refused[1].contains("not a gzip layer"), "{refused:?}");
    }

    #[test]
    fn eviction_removes_the_least_recently_used_first() {
        let cache = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let dir = cache.path().to_path_buf();
        let mut keys = Vec::new();
        for (i, text) in [b"one".as_slice(), b"two", b"three"].iter().enumerate() {
            let r = sample(text);
            let l = write_layer(&r, Compression::Gzip, 0, scratch.path()).unwrap();
            let k = key(&l.diff_id, Compression::Gzip);
            store(&dir, &k, &l).unwrap();
            let when = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64);
            File::options().write(true).open(dir.join(&k)).unwrap().set_modified(when).unwrap();
            keys.push((k, l.size));
        }
        let all: Vec<String> = stored(&dir).into_iter().map(|s| s.key).collect();
        assert_eq!(all, keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>());
        evict(&dir, keys[1].1 + keys[2].1).unwrap();
        let left: Vec<PathBuf> = entries(&dir).into_iter().map(|e| e.path).collect();
        assert_eq!(left, [dir.join(&keys[1].0), dir.join(&keys[2].0)]);
        assert!(!dir.join(format!("{}.json", keys[0].0)).exists());
    }
}
