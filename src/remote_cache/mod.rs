//! Caches shared through an OCI registry (`--cache-registry HOST/REPO`,
//! `STATICIZE_CACHE_REGISTRY`, `[cache] registry =`): an entry is an artifact ([`entry`]) whose
//! layer holds its files ([`archive`]). A pull is checked (manifest, key, digests) before its
//! files are used; a registry that is down, slow, failing or refusing writes is reported once
//! and the run goes on locally — the remote cache never fails a build.

pub mod archive;
pub mod blobs;
pub mod downloads;
pub mod entry;

use std::path::Path;

use serde::Deserialize;

use crate::config::{CONFIG_FILE, ConfigFile};
use crate::error::{Error, Result};
use crate::registry::push::Remote;
use crate::registry::store::Repository;
use crate::report::Reporter;
pub use entry::Key;

/// The environment variable naming the cache registry.
pub const ENV_REGISTRY: &str = "STATICIZE_CACHE_REGISTRY";
/// The environment variable that makes the cache registry read-only (any non-empty value).
pub const ENV_READONLY: &str = "STATICIZE_CACHE_REGISTRY_READONLY";

/// Which registry repository caches are shared through, and whether this run may write to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `HOST/REPO`; None: no remote cache.
    pub registry: Option<String>,
    /// Pull only, never push (for untrusted jobs).
    pub readonly: bool,
}

impl Settings {
    /// `flag` (the command line or its environment variable), else `[cache] registry` of
    /// `dir/staticize.toml`; the repository is checked here, before anything is built.
    pub fn new(flag: Option<String>, readonly: bool, dir: &Path) -> Result<Settings> {
        let registry = match flag.filter(|f| !f.trim().is_empty()) {
            Some(f) => Some(f),
            None => from_config(dir)?,
        };
        if let Some(r) = &registry {
            remote(r)?;
        }
        Ok(Settings { registry, readonly })
    }

    /// The settings the environment gives (`staticize cc` has no flags of its own).
    pub fn from_env() -> Settings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        // As clap reads the variable for the flag: false, 0, no and off are false.
        let off = |v: &String| ["false", "0", "no", "off"].contains(&v.trim().to_ascii_lowercase().as_str());
        Settings {
            registry: var(ENV_REGISTRY).filter(|r| remote(r).is_ok()),
            readonly: var(ENV_READONLY).is_some_and(|v| !off(&v)),
        }
    }
}

/// The kinds of entry a cache registry holds; each entry's tag starts with its kind.
pub const KINDS: [&str; 3] = ["deps", "blobs", "downloads"];

/// How many entries of each of [`KINDS`] the cache registry of `settings` holds, by their
/// tags (other tags are not counted); empty without a registry.
pub fn census(settings: &Settings) -> Result<Vec<(&'static str, usize)>> {
    let Some(r) = &settings.registry else { return Ok(Vec::new()) };
    let tags = Repository::open(&remote(r)?)?.tags()?;
    let count = |k: &str| tags.iter().filter(|t| t.strip_prefix(k).is_some_and(|rest| rest.starts_with('-'))).count();
    Ok(KINDS.iter().map(|k| (*k, count(k))).collect())
}

/// The `[cache] registry` of `dir/staticize.toml`.
fn from_config(dir: &Path) -> Result<Option<String>> {
    /// The `[cache]` section.
    #[derive(Deserialize)]
    struct Section {
        cache: Option<Cache>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cache {
        /// HOST/REPO.
        registry: Option<String>,
    }
    let Some(file) = ConfigFile::read(&dir.join(CONFIG_FILE))? else { return Ok(None) };
    let s: Section = file.sections("write [cache] then registry = \"HOST/REPO\" (a string)")?;
    Ok(s.cache.and_then(|c| c.registry))
}

/// The repository `HOST/REPO` names.
fn remote(s: &str) -> Result<Remote> {
    let bad = || {
        Error::usage(
            format!("invalid cache registry '{s}'"),
            "give --cache-registry (or STATICIZE_CACHE_REGISTRY, [cache] registry) as HOST/REPO in lowercase, e.g. 127.0.0.1:5000/team/cache",
        )
    };
    if s.contains('@') || s.rsplit('/').next().is_some_and(|last| last.contains(':')) {
        return Err(bad());
    }
    Remote::parse(s).map_err(|_| bad())
}

/// The registries given up on in this process: every later session starts without them, so a
/// run that shares deps and layers through one registry says it failed once.
static GIVEN_UP: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn given_up(registry: &str) -> bool {
    GIVEN_UP.lock().map(|g| g.iter().any(|r| r == registry)).unwrap_or(false)
}

/// One run's use of the cache registry: connected on first use, given up after its first failure.
pub(crate) struct Session {
    settings: Settings,
    repo: Option<Repository>,
    dead: bool,
    rep: Reporter,
}

impl Session {
    /// A session for `settings` (nothing is contacted yet).
    pub(crate) fn new(settings: &Settings, rep: &Reporter) -> Session {
        let dead = settings.registry.as_deref().is_none_or(given_up);
        Session { settings: settings.clone(), repo: None, dead, rep: *rep }
    }

    /// The repository, connected; None once the registry failed (said once).
    fn repo(&mut self) -> Option<&mut Repository> {
        if self.dead {
            return None;
        }
        if self.repo.is_none() {
            let target = self.settings.registry.as_deref().map(remote)?;
            match target.and_then(|t| Repository::open(&t)) {
                Ok(r) => self.repo = Some(r),
                Err(e) => {
                    self.give_up(&e);
                    return None;
                }
            }
        }
        self.repo.as_mut()
    }

    fn give_up(&mut self, e: &Error) {
        self.dead = true;
        let r = self.settings.registry.clone().unwrap_or_default();
        if let Ok(mut g) = GIVEN_UP.lock() {
            if g.contains(&r) {
                return;
            }
            g.push(r.clone());
        }
        self.rep.warn(format!(
            "cache registry {r}: {}; building locally, without it for the rest of this run",
            one_line(e)
        ));
    }

    /// The manifest of the entry `key`, checked by `check` (which returns its one layer), and
    /// that layer's bytes (digest verified). None: no such entry, or it was refused (said), or
    /// the registry failed (said once).
    fn fetch_layer<T>(
        &mut self,
        key: &Key,
        check: impl Fn(&[u8]) -> std::result::Result<(entry::Descriptor, T), String>,
    ) -> Option<(Vec<u8>, T)> {
        let tag = key.tag();
        let fetched = match self.repo()?.manifest(&tag) {
            Ok(Some(f)) => f,
            Ok(None) => return None,
            Err(e) => {
                self.give_up(&e);
                return None;
            }
        };
        let (layer, extra) = match check(&fetched.bytes) {
            Ok(c) => c,
            Err(why) => {
                self.refuse(key, &why);
                return None;
            }
        };
        match self.repo()?.blob_at_most(&layer.digest, entry::MAX_LAYER) {
            Ok(b) => Some((b, extra)),
            Err(e) => {
                self.refuse(key, &format!("could not be read: {}", one_line(&e)));
                None
            }
        }
    }

    /// Pulls the entry `key` into the empty directory `dest`; returns the directory its files
    /// were built for. None: no such entry, or it was refused, or the registry failed (said).
    pub(crate) fn fetch(&mut self, key: &Key, dest: &Path) -> Option<String> {
        let registry = self.settings.registry.clone().unwrap_or_default();
        let (blob, origin) = self.fetch_layer(key, |bytes| entry::check(bytes, key).map(|c| (c.layer, c.origin)))?;
        if let Err(e) = archive::unpack(&blob, dest, &format!("{registry}:{}", key.tag())) {
            self.refuse(key, &one_line(&e));
            return None;
        }
        self.pulled(&key.name, blob.len());
        Some(origin)
    }

    /// The blob kept as the entry `key` (a layer of `media_type`), its digest verified; what
    /// it holds is for the caller to check. None as for [`Session::fetch`].
    pub(crate) fn fetch_blob(&mut self, key: &Key, media_type: &str) -> Option<Vec<u8>> {
        let (blob, ()) = self.fetch_layer(key, |bytes| entry::check_blob(bytes, key, media_type).map(|d| (d, ())))?;
        Some(blob)
    }

    /// Says what was pulled.
    pub(crate) fn pulled(&self, what: &str, bytes: usize) {
        let registry = self.settings.registry.as_deref().unwrap_or_default();
        self.rep.step("cache", format!("pulled {what} ({}) from {registry}", crate::report::human_size(bytes as u64)));
    }

    /// The registry's HOST/REPO, when there is one.
    pub(crate) fn registry(&self) -> Option<&str> {
        self.settings.registry.as_deref()
    }

    /// Says the entry `key` that was pulled is not used, and why.
    pub(crate) fn refuse(&self, key: &Key, why: &str) {
        let r = self.settings.registry.clone().unwrap_or_default();
        self.rep.warn(format!("cache registry {r}: the entry {} {why}; refused, building locally", key.tag()));
    }

    /// Pushes the files under `dir` (built for the directory `origin`) as the entry `key`;
    /// a failure is said once and otherwise ignored; read-only settings push nothing.
    pub(crate) fn store(&mut self, key: &Key, dir: &Path, origin: &str) {
        if self.settings.readonly || self.dead {
            return;
        }
        if let Err(e) = self.send(key, dir, origin) {
            self.give_up(&e);
        }
    }

    /// Pushes the files under `dir` as the entry `key`, failing with the registry's error
    /// (`staticize cache push`); returns the layer's bytes.
    pub(crate) fn send(&mut self, key: &Key, dir: &Path, origin: &str) -> Result<u64> {
        let blob = archive::pack(dir)?;
        let layer = descriptor(entry::MEDIA_LAYER, &blob);
        self.put(key, &blob, entry::manifest(key, &layer, origin))?;
        Ok(layer.size)
    }

    /// Pushes `blob` (a layer of `media_type`) as the blob entry `key`, failing with the
    /// registry's error.
    pub(crate) fn send_blob(&mut self, key: &Key, blob: &[u8], media_type: &str) -> Result<u64> {
        let layer = descriptor(media_type, blob);
        self.put(key, blob, entry::blob_manifest(key, &layer))?;
        Ok(layer.size)
    }

    /// [`Session::send_blob`] that says a failure once and otherwise ignores it; read-only
    /// settings push nothing.
    pub(crate) fn store_blob(&mut self, key: &Key, blob: &[u8], media_type: &str) {
        if self.settings.readonly || self.dead {
            return;
        }
        if let Err(e) = self.send_blob(key, blob, media_type) {
            self.give_up(&e);
        }
    }

    /// Puts the entry's layer, the empty config and its manifest under its tag.
    fn put(&mut self, key: &Key, blob: &[u8], manifest: Vec<u8>) -> Result<()> {
        let registry = self.settings.registry.clone().unwrap_or_default();
        if self.repo.is_none() {
            self.repo = Some(Repository::open(&remote(&registry)?)?);
        }
        let Some(repo) = self.repo.as_mut() else { return Ok(()) };
        repo.put_blob(blob)?;
        repo.put_blob(entry::EMPTY_CONFIG)?;
        repo.put_manifest(&key.tag(), manifest)?;
        let size = crate::report::human_size(blob.len() as u64);
        self.rep.step("cache", format!("pushed {} ({size}) to {registry}", key.name));
        Ok(())
    }
}

/// The descriptor of `blob` as a layer of `media_type`.
fn descriptor(media_type: &str, blob: &[u8]) -> entry::Descriptor {
    entry::Descriptor {
        media_type: media_type.into(),
        digest: crate::digest::sha256_digest(blob),
        size: blob.len() as u64,
    }
}

/// An error's first line (the warning is one line; the rest is the help of a failed build).
fn one_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_comes_from_the_flag_else_the_config_and_is_checked() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(Settings::new(None, false, d.path()).unwrap(), Settings::default());
        std::fs::write(d.path().join("staticize.toml"), "[cache]\nregistry = \"127.0.0.1:5000/c\"\n").unwrap();
        assert_eq!(Settings::new(None, true, d.path()).unwrap().registry.as_deref(), Some("127.0.0.1:5000/c"));
        let flag = Settings::new(Some("reg.example/team/cache".into()), false, d.path()).unwrap();
        assert_eq!(flag.registry.as_deref(), Some("reg.example/team/cache"));
        for bad in ["Bad/Ref", "127.0.0.1:5000/c:tag", "r.example/c@sha256:00"] {
            let e = Settings::new(Some(bad.into()), false, d.path()).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE, "{bad}");
        }
    }
}
