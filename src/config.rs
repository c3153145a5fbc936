//! `staticize.toml`: the one reader of the project file. It reads the file, checks the TOML and
//! the names of its sections once, and hands each owner its own section typed (`[[budget]]` to
//! the gate, `[deps]` to `--dep`, `[probe.NAME]` to the proof run), every mistake reported as `FILE:LINE:COLUMN` with the line
//! underlined. A new section is one name in [`SECTIONS`] and one struct where it is used.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny};
use toml::Spanned;

use crate::error::{Error, Result};

/// The default config file name, looked up in the current directory.
pub(crate) const CONFIG_FILE: &str = "staticize.toml";

/// The sections `staticize.toml` may hold; any other top-level key is refused.
pub(crate) const SECTIONS: &[&str] = &["budget", "cache", "deps", "probe"];

/// Largest config read (a config is a few hundred bytes; this bounds a wrong file).
const MAX_CONFIG: u64 = 16 << 20;

/// A read and syntax-checked `staticize.toml`.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The file it came from.
    pub path: PathBuf,
    /// The directory relative paths and builds start from (the file's directory).
    pub dir: PathBuf,
    /// Its text, kept so errors can point into it.
    pub source: String,
}

impl ConfigFile {
    /// Reads the config at `path` and checks its TOML and section names; None when no file is
    /// there (each caller says what a missing file means to it).
    pub fn read(path: &Path) -> Result<Option<ConfigFile>> {
        let source = match crate::input::read_text(path, MAX_CONFIG) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read config", path, e)),
        };
        let file = ConfigFile { path: path.to_path_buf(), dir: crate::output::parent_dir(path).to_path_buf(), source };
        let keys: BTreeMap<Spanned<String>, IgnoredAny> =
            file.sections(&format!("fix the TOML syntax of {CONFIG_FILE}"))?;
        if let Some(unknown) = keys.keys().find(|k| !SECTIONS.contains(&k.get_ref().as_str())) {
            return Err(file.located(
                Some(unknown.span()),
                &format!("unknown section `{}`, expected one of {}", unknown.get_ref(), SECTIONS.join(", ")),
                Some(format!(
                    "{CONFIG_FILE} holds [[budget]] tables, a [cache] table, a [deps] table and [probe.NAME] tables; check the spelling"
                )),
            ));
        }
        Ok(Some(file))
    }

    /// The file as `T`: a struct naming the sections it reads (the others are ignored). A type
    /// mismatch is located in the file; `help` says where the keys are documented.
    pub fn sections<T: DeserializeOwned>(&self, help: &str) -> Result<T> {
        toml::from_str(&self.source).map_err(|e| self.located(e.span(), e.message().trim_end(), Some(help.to_string())))
    }

    /// An error at `span` of this file.
    pub fn located(&self, span: Option<Range<usize>>, message: &str, help: Option<String>) -> Error {
        located(&self.path, &self.source, span, message, help)
    }
}

/// An error at a place in a file: renders as `FILE:LINE:COL: message` plus the line, underlined.
pub(crate) fn located(
    path: &Path,
    source: &str,
    span: Option<Range<usize>>,
    message: &str,
    help: Option<String>,
) -> Error {
    let Some(span) = span else {
        return Error::input(path, message.to_string(), help);
    };
    let start = span.start.min(source.len());
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
    let line_no = source[..start].matches('\n').count() + 1;
    let col = source[line_start..start].chars().count() + 1;
    let text = source[line_start..line_end].trim_end_matches('\r');
    let width = source[start..span.end.clamp(start, line_end)].chars().count().max(1);
    let gutter = " ".repeat(line_no.to_string().len());
    let snippet =
        format!("{message}\n{gutter} |\n{line_no} | {text}\n{gutter} | {}{}", " ".repeat(col - 1), "^".repeat(width));
    Error::Input { path: PathBuf::from(format!("{}:{line_no}:{col}", path.display())), message: snippet, help }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<Option<ConfigFile>> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CONFIG_FILE);
        std::fs::write(&p, text).unwrap();
        ConfigFile::read(&p)
    }

    #[test]
    fn missing_is_none_and_sections_are_checked_once() {
        assert!(ConfigFile::read(Path::new("/nonexistent/staticize.toml")).unwrap().is_none());
        assert!(file("[deps]\nuse = []\n[[budget]]\nname = \"a\"\n").unwrap().is_some());
        let e = file("[deps]\nuse = []\n[probes]\nx = 1\n").unwrap_err().to_string();
        assert!(e.contains(":3:2") && e.contains("unknown section `probes`"), "{e}");
        let e = file("[deps\n").unwrap_err().to_string();
        assert!(e.contains(":1:"), "{e}");
    }
}
