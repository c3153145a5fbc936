//! The proof run a command asks for, before the output's name is known: `--no-probe`, the
//! `--probe*` flags, and the `[probe.NAME]` tables of `staticize.toml` (read through
//! [`crate::config`]), so CI can name each output's run once in the project file:
//!
//! ```toml
//! [probe.hello]        # NAME: the output's program name
//! args = ["--version"] # replaces the image's command (after its entrypoint)
//! timeout = 3          # seconds
//! port = 8080          # a TCP port it must answer on
//! # skip = true        # not run (as --no-probe)
//! ```
//!
//! [`Probe::request`] resolves it for one output: each flag given wins over its key in the
//! table; `--no-probe` skips the run whatever the table says.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{CONFIG_FILE, ConfigFile};
use crate::error::Result;
use crate::prove::{BUILD_TIMEOUT, ProofRequest};

/// The keys a `[probe.NAME]` table may hold, for the error that refuses another one.
const KEYS: &str = "args, timeout, port, skip";

/// What one source (the flags, or one table) says about a run; None: it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Arguments replacing the image's command.
    pub args: Option<Vec<String>>,
    /// The time limit.
    pub timeout: Option<Duration>,
    /// The TCP port it must answer on.
    pub port: Option<u16>,
}

/// One `[probe.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Its run's keys.
    pub keys: Keys,
    /// `skip = true`: this output is not run (as `--no-probe`).
    pub skip: bool,
}

/// The proof run asked for: the flags over the project file's tables.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// `--no-probe`: nothing is run, whatever the table says.
    pub off: bool,
    /// What the command line gave.
    pub flags: Keys,
    /// `[probe.NAME]` tables by output name.
    pub table: BTreeMap<String, Entry>,
}

impl Probe {
    /// The flags alone (no project file): the run `--probe*` ask for.
    pub fn from_flags(flags: Keys) -> Probe {
        Probe { flags, ..Default::default() }
    }

    /// `--no-probe`.
    pub fn off() -> Probe {
        Probe { off: true, ..Default::default() }
    }

    /// The run of the output named `name`; None when it is skipped (`--no-probe`, or the
    /// table's `skip = true` with no flag asking for a run).
    pub fn request(&self, name: &str) -> Option<ProofRequest> {
        if self.off {
            return None;
        }
        let entry = self.table.get(name);
        let flagged = self.flags != Keys::default();
        if entry.is_some_and(|e| e.skip) && !flagged {
            return None;
        }
        let table = entry.map(|e| e.keys.clone()).unwrap_or_default();
        Some(ProofRequest {
            args: self.flags.args.clone().or(table.args),
            timeout: self.flags.timeout.or(table.timeout).unwrap_or(BUILD_TIMEOUT),
            port: self.flags.port.or(table.port),
        })
    }

    /// Where the run of `name` was named, for the plan: "staticize.toml [probe.NAME]" when
    /// the table has an entry for it (and --no-probe is not given).
    pub fn table_for(&self, name: &str) -> Option<String> {
        (!self.off && self.table.contains_key(name)).then(|| format!("{CONFIG_FILE} [probe.{name}]"))
    }
}

/// The `[probe.NAME]` tables of `dir/staticize.toml` (empty when there is no file or table).
/// An unknown key, a wrong type or a bad limit is an error at its place in the file.
pub fn table(dir: &Path) -> Result<BTreeMap<String, Entry>> {
    match ConfigFile::read(&dir.join(CONFIG_FILE))? {
        Some(file) => from_file(&file),
        None => Ok(BTreeMap::new()),
    }
}

/// The `[probe]` section of a read config.
pub(crate) fn from_file(file: &ConfigFile) -> Result<BTreeMap<String, Entry>> {
    /// The section; `crate::config` reads the file and refuses unknown sections.
    #[derive(Deserialize)]
    struct Section {
        probe: Option<BTreeMap<String, Raw>>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        args: Option<Vec<String>>,
        timeout: Option<Spanned<f64>>,
        port: Option<u16>,
        skip: Option<Spanned<bool>>,
    }
    let help = format!(
        "write one table per output, named by its program name: [probe.NAME] with the keys {KEYS}, \
         e.g. [probe.hello] args = [\"--version\"] timeout = 3 (the --probe* flags win over it)"
    );
    let section: Section = file.sections(&help)?;
    let mut out = BTreeMap::new();
    for (name, raw) in section.probe.unwrap_or_default() {
        let timeout = match raw.timeout {
            Some(t) if !(*t.get_ref() > 0.0 && *t.get_ref() <= 86_400.0) => {
                return Err(file.located(
                    Some(t.span()),
                    &format!("[probe.{name}] timeout = {}: not a time limit", t.get_ref()),
                    Some("give seconds, more than 0 and at most a day, e.g. timeout = 2.5".into()),
                ));
            }
            Some(t) => Some(Duration::from_secs_f64(*t.get_ref())),
            None => None,
        };
        let skip = raw.skip.as_ref().is_some_and(|s| *s.get_ref());
        if let Some(s) = raw.skip.filter(|_| skip && (raw.args.is_some() || timeout.is_some() || raw.port.is_some())) {
            return Err(file.located(
                Some(s.span()),
                &format!("[probe.{name}] says skip = true and also how to run it"),
                Some("keep either skip = true or the keys args, timeout, port".into()),
            ));
        }
        out.insert(name, Entry { keys: Keys { args: raw.args, timeout, port: raw.port }, skip });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<BTreeMap<String, Entry>> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(CONFIG_FILE), text).unwrap();
        table(d.path())
    }

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tables_per_output() {
        let t = read(
            "[probe.hello]\nargs = [\"--version\"]\ntimeout = 3\n[probe.srv]\nport = 8080\n[probe.gui]\nskip = true\n",
        )
        .unwrap();
        assert_eq!(t["hello"].keys.args, Some(v(&["--version"])));
        assert_eq!(t["hello"].keys.timeout, Some(Duration::from_secs(3)));
        assert_eq!(t["srv"].keys.port, Some(8080));
        assert!(t["gui"].skip);
        assert!(read("[deps]\nuse = []\n").unwrap().is_empty());
        let d = tempfile::tempdir().unwrap();
        assert!(table(d.path()).unwrap().is_empty());
    }

    #[test]
    fn mistakes_are_located_with_the_keys() {
        let e = read("[probe.hello]\nargz = [\"-v\"]\n").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("staticize.toml:2:1") && s.contains("argz"), "{s}");
        assert!(e.help().unwrap().contains("args, timeout, port, skip"), "{:?}", e.help());
        let e = read("[probe.hello]\ntimeout = -1\n").unwrap_err().to_string();
        assert!(e.contains(":2:11") && e.contains("not a time limit"), "{e}");
        let e = read("[probe]\nargs = [\"-v\"]\n").unwrap_err();
        assert!(e.help().unwrap().contains("[probe.NAME]"), "{e}");
        let e = read("[probe.x]\nskip = true\nport = 1\n").unwrap_err().to_string();
        assert!(e.contains("skip = true and also"), "{e}");
        assert!(read("[probe.x]\nport = 70000\n").is_err());
    }

    #[test]
    fn flags_win_key_by_key_and_no_probe_skips() {
        let mut table = BTreeMap::new();
        let keys = Keys { args: Some(v(&["-h"])), timeout: Some(Duration::from_secs(7)), port: Some(80) };
        table.insert("app".to_string(), Entry { keys, skip: false });
        table.insert("gui".to_string(), Entry { skip: true, ..Default::default() });
        let from_table = Probe { table: table.clone(), ..Default::default() };
        let r = from_table.request("app").unwrap();
        assert_eq!((r.args, r.timeout, r.port), (Some(v(&["-h"])), Duration::from_secs(7), Some(80)));
        assert_eq!(from_table.request("other"), Some(ProofRequest::default()));
        assert_eq!(from_table.request("gui"), None);
        assert_eq!(from_table.table_for("app").as_deref(), Some("staticize.toml [probe.app]"));
        assert_eq!(from_table.table_for("other"), None);
        let flags = Keys { timeout: Some(Duration::from_secs(1)), ..Default::default() };
        let both = Probe { flags, table, off: false };
        let r = both.request("app").unwrap();
        assert_eq!((r.args, r.timeout), (Some(v(&["-h"])), Duration::from_secs(1)));
        // A flag asks for a run: it wins over the table's skip.
        assert!(both.request("gui").is_some());
        let off = Probe { off: true, ..both };
        assert_eq!(off.request("app"), None);
        assert_eq!(off.table_for("app"), None);
    }
}
