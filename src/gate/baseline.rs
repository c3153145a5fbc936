//! `staticize.lock`: the measures of the last accepted state, for `max-growth`. Written sorted
//! (BTreeMaps) so the same measures always give the same bytes and diffs stay small.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::located;
use crate::error::{Error, Result};

/// The baseline file name, beside the config.
pub const LOCK_FILE: &str = "staticize.lock";

/// The only format version so far.
const VERSION: u32 = 1;

/// Recorded measures: budget name → measure name → value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Format version (1).
    pub version: u32,
    /// Per budget, per measure ("size", "compressed", "uncompressed", "files").
    #[serde(default)]
    pub budget: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Baseline {
    /// An empty baseline of the current version.
    pub fn new() -> Self {
        Baseline { version: VERSION, budget: BTreeMap::new() }
    }

    /// The recorded value of `measure` for `budget`.
    pub fn get(&self, budget: &str, measure: &str) -> Option<u64> {
        self.budget.get(budget)?.get(measure).copied()
    }

    /// The TOML text, with a header saying what the file is.
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("a baseline always serialises");
        format!(
            "# Written by `staticize gate --update-baseline`: the sizes max-growth compares against.\n# Commit this file. Values are bytes (files: a count).\n\n{body}"
        )
    }
}

/// The lock path for a config directory.
pub fn path_for(config_dir: &Path) -> PathBuf {
    if config_dir == Path::new(".") { PathBuf::from(LOCK_FILE) } else { config_dir.join(LOCK_FILE) }
}

/// Reads the baseline at `path`; `None` when there is none yet.
pub fn load(path: &Path) -> Result<Option<Baseline>> {
    let text = match crate::input::read_text(path, 16 << 20) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read baseline", path, e)),
    };
    let help =
        || Some("fix it, or delete it and run `staticize gate --update-baseline` to record a new one".to_string());
    let b: Baseline =
        toml::from_str(&text).map_err(|e| located(path, &text, e.span(), e.message().trim_end(), help()))?;
    if b.version != VERSION {
        return Err(Error::input(
            path,
            format!("baseline version {} is not supported (expected {VERSION})", b.version),
            help(),
        ));
    }
    Ok(Some(b))
}

/// Writes `baseline` to `path` atomically.
pub fn save(baseline: &Baseline, path: &Path) -> Result<()> {
    let mut tmp = crate::output::temp_beside(path)?;
    let io = |e| Error::io("write baseline", path, e);
    tmp.write_all(baseline.to_text().as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    crate::output::persist(tmp, path, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_stable() {
        let mut b = Baseline::new();
        b.budget.insert("zeta".into(), BTreeMap::from([("size".into(), 9), ("files".into(), 1)]));
        b.budget.insert("alpha".into(), BTreeMap::from([("size".into(), 7896)]));
        let text = b.to_text();
        let alpha = text.find("[budget.alpha]").unwrap();
        let zeta = text.find("[budget.zeta]").unwrap();
        assert!(alpha < zeta, "{text}");
        assert!(text.find("files = 1").unwrap() < text.find("size = 9").unwrap(), "{text}");
        let again: Baseline = toml::from_str(&text).unwrap();
        assert_eq!(again, b);
        assert_eq!(again.to_text(), text);
    }

    #[test]
    fn bad_lock_has_position() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(LOCK_FILE);
        std::fs::write(&p, "version = 1\n[budget.a]\nsize = \"big\"\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("staticize.lock:3:8:"), "{e}");
        assert_eq!(load(&dir.path().join("none")).unwrap(), None);
    }
}
