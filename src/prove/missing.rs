//! Which of the paths a proof run looked for and did not find matter: those the image lacks
//! but this machine has, with the Debian package that owns each and the flag that carries it.
//! Normal probing is not reported: the loader's cache and hwcaps directories, locale and
//! gconv fallbacks, optional configuration the C library reads when it is there, the
//! kernel's views — and any name the program found at another of the places it tried (a
//! library search path, an interpreter's module path). A package's conffile is reported but
//! marked optional: its lack alone fails no run.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::bundle::trace::{Call, Use};
use crate::pkgdb::PackageDb;

/// One file the program looked for that the image lacks and this machine has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Missing {
    /// The path, as the program asked for it.
    pub path: String,
    /// The installed Debian package that ships it, when dpkg knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The flag that would carry it ("--with certs", "--lib libz.so.1", "--package NAME").
    pub flag: String,
    /// A configuration file its package marks as one (a dpkg conffile): the administrator may
    /// remove it, so a program is expected to run without it and its lack alone fails nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// Paths (or prefixes, ending in '/') looked for in normal probing, never reported.
const PROBING: &[&str] = &[
    "/proc/",
    "/sys/",
    "/dev/",
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d/",
    "/usr/lib/locale/",
    "/usr/share/locale/",
    "/usr/share/i18n/",
    "/usr/lib/x86_64-linux-gnu/gconv/",
    "/usr/lib/aarch64-linux-gnu/gconv/",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/selinux/",
    "/etc/malloc.conf",
    "/etc/suid-debug",
];

/// Directory names the loader tries before the plain directory (hwcaps subdirectories).
const HWCAPS: &[&str] = &["/glibc-hwcaps/", "/tls/", "/haswell/", "/x86_64/", "/aarch64/"];

/// Library directories a soname is searched in: `--lib NAME` finds it there.
const LIB_DIRS: &[&str] = &[
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/local/lib",
];

/// The calls' failed lookups that matter, each once, in the order first looked for.
pub(crate) fn judge(calls: &[Call]) -> Vec<Missing> {
    let found: BTreeSet<&str> = calls.iter().filter(|c| c.errno.is_none()).map(|c| base(&c.path)).collect();
    let (mut seen, mut real) = (BTreeSet::new(), BTreeSet::new());
    let mut paths = Vec::new();
    for c in calls {
        let path = c.path.trim_end_matches('/');
        let looked = c.how != Use::Write && matches!(c.errno.as_deref(), Some("ENOENT" | "ENOTDIR"));
        if !looked || path.is_empty() || probing(path) {
            continue;
        }
        // Found under another directory it tried: a search, not a loss.
        if found.contains(base(path)) || !seen.insert(path.to_string()) {
            continue;
        }
        // One file reached by several names (/lib and /usr/lib on a merged-/usr host) once.
        if let Ok(host) = std::fs::canonicalize(path) {
            if real.insert(host) {
                paths.push(path.to_string());
            }
        }
    }
    if paths.is_empty() {
        return Vec::new();
    }
    let db = PackageDb::open(Path::new("/")).ok().flatten();
    paths.into_iter().map(|p| describe(p, db.as_ref())).collect()
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn probing(path: &str) -> bool {
    let hit =
        |s: &&str| if s.ends_with('/') { path.starts_with(s) || path == s.trim_end_matches('/') } else { path == *s };
    PROBING.iter().any(hit) || HWCAPS.iter().any(|h| path.contains(h))
}

fn describe(path: String, db: Option<&PackageDb>) -> Missing {
    let package = db.and_then(|d| d.owner(&path)).map(|p| p.name.clone());
    let flag = flag_for(&path, package.as_deref());
    let optional = optional_config(&path, package.as_deref(), db);
    Missing { path, package, flag, optional }
}

/// Configuration a program must do without: its package's conffile (the administrator may
/// remove it), a file under the run's home (/root: per-user settings, ~/.gitconfig), or a file
/// under /etc no package ships (this machine's own settings, /etc/gitconfig).
fn optional_config(path: &str, package: Option<&str>, db: Option<&PackageDb>) -> bool {
    if path.starts_with("/root/") {
        return true;
    }
    match (package, db) {
        (Some(p), Some(d)) => {
            // Reached through a link (/usr/lib/ssl/openssl.cnf), the conffile is its target.
            let real = std::fs::canonicalize(path).ok().map(|r| r.to_string_lossy().into_owned());
            d.is_conffile(p, path) || real.is_some_and(|r| d.is_conffile(p, &r))
        }
        (None, Some(_)) => path.starts_with("/etc/"),
        _ => false,
    }
}

/// The flag of the image-writing commands that carries `path`.
fn flag_for(path: &str, package: Option<&str>) -> String {
    let under = |dirs: &[&str]| dirs.iter().any(|d| path == *d || path.starts_with(&format!("{d}/")));
    if under(&["/etc/ssl", "/usr/lib/ssl", "/etc/pki", "/usr/share/ca-certificates", "/etc/ca-certificates"]) {
        return "--with certs".into();
    }
    if under(&["/usr/share/zoneinfo"]) {
        return "--with tzdata".into();
    }
    if ["/etc/passwd", "/etc/group"].contains(&path) {
        return "--with passwd".into();
    }
    let name = base(path);
    if name.contains(".so") && Path::new(path).is_file() {
        let dir = path.strip_suffix(name).unwrap_or("").trim_end_matches('/');
        return if LIB_DIRS.contains(&dir) { format!("--lib {name}") } else { format!("--lib {path}") };
    }
    match package {
        Some(p) => format!("--package {p}"),
        None => format!("--add {path}:{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(path: &str) -> Call {
        Call { name: "openat".into(), path: path.into(), how: Use::Read, errno: Some("ENOENT".into()) }
    }

    #[test]
    fn probing_and_names_found_elsewhere_are_not_missing() {
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
        let calls = vec![
            failed("/etc/ld.so.cache"),
            failed("/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libc.so.6"),
            failed("/lib/libc.so.6"),
            Call { errno: None, ..failed(libc) },
            failed("/usr/lib/locale/locale-archive"),
            // A file this machine has: reported once, with the package that owns it.
            failed("/etc/ssl/certs/ca-certificates.crt"),
            failed("/etc/ssl/certs/ca-certificates.crt"),
            // A file this machine lacks too: not something to carry.
            failed("/nonexistent/staticize-proof"),
        ];
        let got = judge(&calls);
        let paths: Vec<&str> = got.iter().map(|m| m.path.as_str()).collect();
        if Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
            assert_eq!(paths, ["/etc/ssl/certs/ca-certificates.crt"]);
            assert_eq!(got[0].flag, "--with certs");
        } else {
            assert!(paths.is_empty(), "{paths:?}");
        }
    }

    #[test]
    fn each_kind_of_file_names_its_flag() {
        assert_eq!(flag_for("/usr/share/zoneinfo/Europe/Paris", Some("tzdata")), "--with tzdata");
        assert_eq!(flag_for("/etc/passwd", Some("base-files")), "--with passwd");
        assert_eq!(
            flag_for("/usr/lib/python3.11/encodings", Some("libpython3.11-minimal")),
            "--package libpython3.11-minimal"
        );
        assert_eq!(flag_for("/opt/nowhere/data", None), "--add /opt/nowhere/data:/opt/nowhere/data");
        assert_eq!(flag_for("/usr/lib/x86_64-linux-gnu/libc.so.6", Some("libc6")), "--lib libc.so.6");
    }
}
