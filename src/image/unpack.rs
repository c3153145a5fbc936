//! Unpacks the first image of an archive into a directory, layers applied in order with
//! whiteouts, so `check` can resolve closures against the image's own files.
//!
//! Minimal on purpose: it reads the archives staticize, `docker save` and `podman save` write
//! (a docker `manifest.json`, else an OCI `index.json`), gzip or plain layers. A fuller reader
//! (src/image/read.rs, issue 4) may replace the archive parsing here.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// What unpacking learned besides the files.
#[derive(Debug, Clone, Default)]
pub struct Unpacked {
    /// The config's Env ("KEY=VALUE").
    pub env: Vec<String>,
    /// The config's Entrypoint followed by Cmd.
    pub command: Vec<String>,
    /// Number of layers applied.
    pub layers: usize,
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
}

/// Where a member of the archive is: offset and size of its data.
type Members = BTreeMap<String, (u64, u64)>;

/// True when `path` starts like a tar archive (the "ustar" magic at offset 257).
pub fn looks_like_tar(path: &Path) -> bool {
    let mut buf = [0u8; 263];
    File::open(path).and_then(|mut f| f.read_exact(&mut buf)).is_ok() && &buf[257..262] == b"ustar"
}

/// Unpacks the first image of `archive` into `dest` (an empty directory).
pub fn unpack(archive: &Path, dest: &Path) -> Result<Unpacked> {
    let bad = |m: String| {
        Error::input(archive, m, Some("give an image archive written by staticize, docker save or podman save".into()))
    };
    let members = index(archive)?;
    let read = |name: &str| -> Result<Vec<u8>> {
        let (pos, size) = members.get(name).ok_or_else(|| bad(format!("has no {name}")))?;
        if *size > 64 << 20 {
            return Err(bad(format!("{name} is too large for an image document")));
        }
        let mut f = File::open(archive).map_err(|e| Error::io("read", archive, e))?;
        f.seek(SeekFrom::Start(*pos)).map_err(|e| Error::io("read", archive, e))?;
        let mut buf = vec![0; *size as usize];
        f.read_exact(&mut buf).map_err(|e| Error::io("read", archive, e))?;
        Ok(buf)
    };
    let json = |bytes: Vec<u8>, what: &str| -> Result<serde_json::Value> {
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{what} is not valid JSON ({e})")))
    };
    let blob = |digest: &str| format!("blobs/{}", digest.replacen(':', "/", 1));
    let (config, layers): (String, Vec<String>) = if members.contains_key("manifest.json") {
        let m = json(read("manifest.json")?, "manifest.json")?;
        let first = &m[0];
        let config = first["Config"].as_str().ok_or_else(|| bad("manifest.json names no Config".into()))?;
        let layers =
            first["Layers"].as_array().map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_string)).collect());
        (config.to_string(), layers.unwrap_or_default())
    } else {
        let mut doc = json(read("index.json")?, "index.json")?;
        // Follow nested indexes (multi-platform) to the first manifest.
        for _ in 0..4 {
            if doc.get("manifests").is_none() {
                break;
            }
            let d = doc["manifests"][0]["digest"].as_str().ok_or_else(|| bad("index.json lists no manifest".into()))?;
            doc = json(read(&blob(d))?, "a manifest")?;
        }
        let config = doc["config"]["digest"].as_str().ok_or_else(|| bad("the manifest names no config".into()))?;
        let layers =
            doc["layers"].as_array().map(|a| a.iter().filter_map(|l| l["digest"].as_str().map(&blob)).collect());
        (blob(config), layers.unwrap_or_default())
    };
    let cfg = json(read(&config)?, "the config")?;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
    };
    let mut out = Unpacked {
        env: strings(&cfg["config"]["Env"]),
        command: strings(&cfg["config"]["Entrypoint"]),
        layers: layers.len(),
    };
    out.command.extend(strings(&cfg["config"]["Cmd"]));
    for layer in &layers {
        let (pos, size) = *members.get(layer).ok_or_else(|| bad(format!("has no layer {layer}")))?;
        apply_layer(archive, pos, size, dest).map_err(|e| bad(format!("layer {layer} could not be unpacked ({e})")))?;
    }
    Ok(out)
}

/// Every regular member's data position; links to other members (docker 25's legacy paths)
/// are followed one level.
fn index(archive: &Path) -> Result<Members> {
    let f = File::open(archive).map_err(|e| Error::io("read", archive, e))?;
    let mut ar = tar::Archive::new(BufReader::new(f));
    let mut members = Members::new();
    let mut links = Vec::new();
    let entries = ar.entries().map_err(|e| Error::io("read", archive, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read", archive, e))?;
        let name = entry.path().map(|p| clean(&p)).unwrap_or_default();
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                members.insert(name, (entry.raw_file_position(), entry.size()));
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Ok(Some(t)) = entry.link_name() {
                    let base = Path::new(&name).parent().unwrap_or(Path::new(""));
                    let target = if entry.header().entry_type() == tar::EntryType::Link {
                        t.to_path_buf()
                    } else {
                        base.join(t)
                    };
                    links.push((name, clean(&target)));
                }
            }
            _ => {}
        }
    }
    for (name, target) in links {
        if let Some(v) = members.get(&target).copied() {
            members.insert(name, v);
        }
    }
    Ok(members)
}

/// A member name without "./", with ".." applied (never above the top).
fn clean(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts.join("/")
}

fn apply_layer(archive: &Path, pos: u64, size: u64, dest: &Path) -> std::io::Result<()> {
    let mut f = File::open(archive)?;
    f.seek(SeekFrom::Start(pos))?;
    let mut r = BufReader::new(f.take(size));
    let mut magic = [0u8; 4];
    let n = r.read(&mut magic)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let stream = head.chain(r);
    let reader: Box<dyn Read> = match magic {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(stream)),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            return Err(std::io::Error::other("zstd layers are not supported by check yet"));
        }
        _ => Box::new(stream),
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_preserve_ownerships(false);
    ar.set_unpack_xattrs(false);
    ar.set_overwrite(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = PathBuf::from(clean(&entry.path()?));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let dir = path.parent().unwrap_or(Path::new(""));
            whiteout(dest, dir, (hidden != ".wh..opq").then_some(hidden))?;
            continue;
        }
        match entry.header().entry_type() {
            // Devices and fifos mean nothing to a closure and must not be created on the host.
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => continue,
            _ => {
                entry.unpack_in(dest)?;
            }
        }
    }
    Ok(())
}

/// Removes `name` in `dir` (or everything in `dir` for an opaque whiteout), refusing to pass
/// through a symlink so a hostile layer cannot reach outside `dest`.
fn whiteout(dest: &Path, dir: &Path, name: Option<&str>) -> std::io::Result<()> {
    let mut cur = dest.to_path_buf();
    for c in dir.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            _ => return Ok(()), // missing, or a link: nothing of ours to remove
        }
    }
    let remove = |p: &Path| -> std::io::Result<()> {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
            Ok(_) => std::fs::remove_file(p),
            Err(_) => Ok(()),
        }
    };
    match name {
        Some(n) => remove(&cur.join(n)),
        None => {
            for e in std::fs::read_dir(&cur)? {
                remove(&e?.path())?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_never_follow_links() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), b"x").unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dest.path().join("x")).unwrap();
        whiteout(dest.path(), Path::new("x"), Some("precious")).unwrap();
        assert!(outside.path().join("precious").exists());
        std::fs::create_dir(dest.path().join("d")).unwrap();
        std::fs::write(dest.path().join("d/f"), b"x").unwrap();
        whiteout(dest.path(), Path::new("d"), None).unwrap();
        assert!(!dest.path().join("d/f").exists());
    }

    #[test]
    fn member_names_are_cleaned() {
        assert_eq!(clean(Path::new("./blobs/sha256/../sha256/ab")), "blobs/sha256/ab");
        assert_eq!(clean(Path::new("../../etc")), "etc");
    }
}
