//! The distribution's package database, read without running anything: which Debian package
//! owns a file, its version, the files it ships, and its licences. Used by `bundle` (package
//! files and hints), `slim` (inside an image's own root) and the SBOM (owners of a closure).
//!
//! Read by hand because no maintained crate reads dpkg's on-disk database (`status` plus
//! `info/*.list`); its format is plain deb822 paragraphs and one path per line. Every read is
//! capped so a hostile image root cannot make staticize read without bound.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::closure::root::{self, Root};
use crate::error::{Error, Result};

/// Largest `status` file read (Debian 12 with 2,000 packages: ~3 MiB).
const MAX_STATUS: u64 = 64 << 20;
/// Largest single `*.list` or copyright file read.
const MAX_LIST: u64 = 16 << 20;

/// One installed package, as dpkg's `status` file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Package {
    /// `Package:` ("libssl3").
    pub name: String,
    /// `Version:` ("3.0.15-1~deb12u1").
    pub version: String,
    /// `Architecture:` ("amd64", "all").
    pub architecture: String,
    /// The source package (`Source:`, without its version), else the package's own name.
    pub source: String,
    /// The source version when `Source:` names one ("openssl (3.0.15-1)"), else `version`.
    pub source_version: String,
    /// `Homepage:`, when given.
    pub homepage: Option<String>,
    /// The whole paragraph, exactly as in `status` (what distroless writes to `status.d/`).
    pub paragraph: String,
}

/// dpkg's database inside a root ("/" for the host, an unpacked image otherwise).
#[derive(Debug)]
pub(crate) struct PackageDb {
    root: Root,
    packages: BTreeMap<String, Package>,
    owners: std::sync::OnceLock<HashMap<String, String>>,
}

impl PackageDb {
    /// Reads `ROOT/var/lib/dpkg/status`; None when the root has no dpkg database.
    pub(crate) fn open(root_dir: &Path) -> Result<Option<PackageDb>> {
        let status = root_dir.join("var/lib/dpkg/status");
        if !status.is_file() {
            return Ok(None);
        }
        let text = crate::input::read_text(&status, MAX_STATUS)
            .map_err(|e| Error::io("read the dpkg database", &status, e))?;
        let packages = parse_status(&text).into_iter().map(|p| (p.name.clone(), p)).collect();
        Ok(Some(PackageDb { root: Root::new(root_dir), packages, owners: Default::default() }))
    }

    /// The installed package called `name`.
    pub(crate) fn package(&self, name: &str) -> Option<&Package> {
        self.packages.get(name)
    }

    /// The package that ships `inside` (an absolute path inside the root). Paths are compared
    /// after resolving their directory's links, so `/lib/x86_64-linux-gnu/libc.so.6` (as dpkg
    /// lists it) and `/usr/lib/x86_64-linux-gnu/libc.so.6` (as a merged-/usr closure finds
    /// it) have the same owner.
    pub(crate) fn owner(&self, inside: &str) -> Option<&Package> {
        let key = self.canonical(inside)?;
        let name = self.owners.get_or_init(|| self.index_owners()).get(&key)?;
        self.packages.get(name)
    }

    /// The paths a package ships, as listed in `info/NAME.list` (or `NAME:ARCH.list`),
    /// directories included, in dpkg's order.
    pub(crate) fn files(&self, name: &str) -> Result<Vec<String>> {
        let Some(list) = self.list_file(name) else {
            return Err(Error::input(
                self.root.host_path("/var/lib/dpkg/info"),
                format!("no file list for the package {name}"),
                Some("is the package installed? dpkg -L NAME lists its files".into()),
            ));
        };
        let text =
            crate::input::read_text(&list, MAX_LIST).map_err(|e| Error::io("read the package file list", &list, e))?;
        Ok(text.lines().filter(|l| l.starts_with('/') && *l != "/.").map(str::to_string).collect())
    }

    /// The licences named in the package's machine-readable copyright file
    /// (`/usr/share/doc/NAME/copyright`, DEP-5 `License:` fields), sorted and deduplicated;
    /// empty when the file is missing or not machine-readable.
    pub(crate) fn licenses(&self, name: &str) -> Vec<String> {
        let path = self.root.host_path(&format!("/usr/share/doc/{name}/copyright"));
        let Ok(text) = crate::input::read_text(&path, MAX_LIST) else {
            return Vec::new();
        };
        let mut found: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("License:"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// The installed packages that `name` depends on (`Pre-Depends:` and `Depends:`), one per
    /// dependency: of alternatives (`locales | locales-all`) the first installed one; virtual
    /// names and uninstalled dependencies are left out. Empty for an unknown package.
    pub(crate) fn depends(&self, name: &str) -> Vec<String> {
        let Some(pkg) = self.packages.get(name) else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        for field in ["Pre-Depends", "Depends"] {
            for dep in field_value(&pkg.paragraph, field).split(',') {
                let found = dep
                    .split('|')
                    .filter_map(|alt| alt.split(['(', ' ', ':']).find(|w| !w.is_empty()))
                    .find(|n| self.packages.contains_key(*n));
                if let Some(n) = found.filter(|n| !out.iter().any(|o| o == n)) {
                    out.push(n.to_string());
                }
            }
        }
        out
    }

    fn list_file(&self, name: &str) -> Option<PathBuf> {
        self.info_file(name, "list")
    }

    /// True when `inside` is one of the package's conffiles (`info/NAME.conffiles`):
    /// configuration the administrator may edit or remove, which its program must do without.
    pub(crate) fn is_conffile(&self, name: &str, inside: &str) -> bool {
        let Some(file) = self.info_file(name, "conffiles") else { return false };
        let text = crate::input::read_text(&file, MAX_STATUS).unwrap_or_default();
        // Each line is a path, optionally followed by flags ("remove-on-upgrade").
        text.lines().any(|l| l.split_whitespace().next() == Some(inside))
    }

    fn info_file(&self, name: &str, kind: &str) -> Option<PathBuf> {
        let info = self.root.host_path("/var/lib/dpkg/info");
        let arch = self.packages.get(name).map(|p| p.architecture.as_str()).unwrap_or("");
        [format!("{name}.{kind}"), format!("{name}:{arch}.{kind}")]
            .into_iter()
            .map(|f| info.join(f))
            .find(|p| p.is_file())
    }

    /// The path with its directory's links resolved inside the root; the file name itself is
    /// kept (a library's soname link is owned by the package, whatever it points at).
    fn canonical(&self, inside: &str) -> Option<String> {
        let (dir, name) = (root::parent(inside), inside.rsplit('/').next()?);
        Some(root::join(&self.root.real_dir(&dir)?, name))
    }

    fn index_owners(&self) -> HashMap<String, String> {
        let mut dirs: HashMap<String, Option<String>> = HashMap::new();
        let mut owners = HashMap::new();
        for name in self.packages.keys() {
            let Ok(files) = self.files(name) else { continue };
            for f in files {
                let dir = root::parent(&f);
                let real = dirs.entry(dir.clone()).or_insert_with(|| self.root.real_dir(&dir));
                if let (Some(real), Some(base)) = (real, f.rsplit('/').next()) {
                    owners.entry(root::join(real, base)).or_insert_with(|| name.clone());
                }
            }
        }
        owners
    }
}

/// A field of a deb822 paragraph with its continuation lines joined ("" when absent).
fn field_value(par: &str, key: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in par.lines() {
        if let Some(v) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            inside = true;
            out.push_str(v.trim());
        } else if inside && line.starts_with([' ', '\t']) {
            out.push(' ');
            out.push_str(line.trim());
        } else {
            inside = false;
        }
    }
    out
}

/// Parses dpkg's `status` file: the paragraphs of packages that are installed.
pub(crate) fn parse_status(text: &str) -> Vec<Package> {
    text.split("\n\n").filter_map(|p| parse_paragraph(p, true)).collect()
}

/// Parses package records (`status.d/NAME` files): paragraphs with a name and a version; a
/// `Status:` field, when present, must say installed (distroless's records have none).
pub(crate) fn parse_records(text: &str) -> Vec<Package> {
    text.split("\n\n").filter_map(|p| parse_paragraph(p, false)).collect()
}

fn parse_paragraph(par: &str, status_required: bool) -> Option<Package> {
    let par = par.trim_matches('\n');
    let field = |key: &str| {
        par.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()))
    };
    match field("Status") {
        Some(status) if !status.ends_with(" installed") => return None,
        None if status_required => return None,
        _ => {}
    }
    let (name, version) = (field("Package").filter(|n| !n.is_empty())?, field("Version")?);
    let (source, source_version) = match field("Source") {
        Some(s) => match s.split_once(' ') {
            Some((n, v)) => (n.to_string(), v.trim_matches(|c| c == '(' || c == ')' || c == ' ').to_string()),
            None => (s, version.clone()),
        },
        None => (name.clone(), version.clone()),
    };
    Some(Package {
        architecture: field("Architecture").unwrap_or_default(),
        homepage: field("Homepage"),
        paragraph: format!("{par}\n"),
        name,
        version,
        source,
        source_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const STATUS: &str = "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\n\
Source: foo (1.2-1)\nVersion: 1.2-1+b1\nHomepage: https://foo.example\nDescription: foo\n more\n\n\
Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 3\n\
Pre-Depends: libfoo1\nDepends: gone, locales | libfoo1 (>= 1.2),\n bar:any, libfoo1\n";

    fn fake_root() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("var/lib/dpkg/info")).unwrap();
        std::fs::create_dir_all(d.join("usr/lib/x86_64-linux-gnu")).unwrap();
        symlink("usr/lib", d.join("lib")).unwrap();
        std::fs::write(d.join("var/lib/dpkg/status"), STATUS).unwrap();
        std::fs::write(
            d.join("var/lib/dpkg/info/libfoo1:amd64.list"),
            "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libfoo.so.1\n",
        )
        .unwrap();
        std::fs::write(d.join("usr/lib/x86_64-linux-gnu/libfoo.so.1"), b"x").unwrap();
        t
    }

    #[test]
    fn installed_packages_are_read_with_their_source() {
        let p = parse_status(STATUS);
        assert_eq!(p.len(), 2, "the deinstalled one is left out");
        assert_eq!((p[0].source.as_str(), p[0].source_version.as_str()), ("foo", "1.2-1"));
        assert_eq!((p[1].source.as_str(), p[1].source_version.as_str()), ("bar", "3"));
        assert!(p[0].paragraph.starts_with("Package: libfoo1\n") && p[0].paragraph.ends_with(" more\n"));
    }

    #[test]
    fn depends_names_installed_packages_first_alternative_first() {
        let t = fake_root();
        let db = PackageDb::open(t.path()).unwrap().unwrap();
        assert_eq!(db.depends("bar"), ["libfoo1", "bar"]);
        assert!(db.depends("libfoo1").is_empty() && db.depends("nope").is_empty());
    }

    #[test]
    fn owners_match_through_merged_usr_links() {
        let t = fake_root();
        let db = PackageDb::open(t.path()).unwrap().unwrap();
        let owner = |p: &str| db.owner(p).map(|p| p.name.clone());
        assert_eq!(owner("/usr/lib/x86_64-linux-gnu/libfoo.so.1").as_deref(), Some("libfoo1"));
        assert_eq!(owner("/lib/x86_64-linux-gnu/libfoo.so.1").as_deref(), Some("libfoo1"));
        assert_eq!(owner("/usr/lib/x86_64-linux-gnu/other.so"), None);
        assert_eq!(db.files("libfoo1").unwrap().len(), 3);
        assert!(db.files("bar").is_err(), "no list file is an error naming the package");
    }

    #[test]
    fn a_root_without_dpkg_has_no_database() {
        let t = tempfile::tempdir().unwrap();
        assert!(PackageDb::open(t.path()).unwrap().is_none());
    }

    #[test]
    fn the_host_database_knows_libc() {
        let Some(db) = PackageDb::open(Path::new("/")).unwrap() else { return };
        let Some(libc) = db.package("libc6") else { return };
        let files = db.files("libc6").unwrap();
        let so = files.iter().find(|f| f.ends_with("/libc.so.6")).expect("libc6 ships libc.so.6");
        assert_eq!(db.owner(so).map(|p| &p.name), Some(&libc.name));
    }
}
