//! `staticize rust NAME@VERSION`: a crate published on crates.io, built the way `cargo install
//! NAME@VERSION --locked` builds it — the crate's own sources and its own `Cargo.lock`, in a
//! directory of staticize's cache rather than the user's project.
//!
//! cargo has no command that only downloads a crate: a throwaway manifest depending on it
//! would resolve the crate's dependencies afresh and ignores a crate without a library (most
//! programs). So the crate file is fetched the way cargo fetches it — the version from the
//! registry's sparse index (`index.crates.io`, RFC 2789), the `.crate` from the download URL
//! the index's `config.json` names, its SHA-256 checked against the index — and unpacked into
//! `$STATICIZE_CACHE/crates/NAME-VERSION`, where the build then runs (its target directory
//! inside), so a second build of the same version needs no network and reuses the first's
//! compiled dependencies. STATICIZE_CRATES_INDEX points at another sparse index (a mirror).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The sparse index read when STATICIZE_CRATES_INDEX is not set.
const DEFAULT_INDEX: &str = "https://index.crates.io/";
/// A `.crate` larger than this is refused (crates.io's own limit is 10 MB).
const MAX_CRATE_BYTES: u64 = 512 << 20;
/// An index file larger than this is refused (the largest crates' are a few MB).
const MAX_INDEX_BYTES: u64 = 64 << 20;

/// A published crate unpacked in the cache, ready to build.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    /// The crate's name.
    pub name: String,
    /// The version chosen.
    pub version: String,
    /// Its unpacked sources (the package root, with its Cargo.toml).
    pub dir: PathBuf,
    /// Whether the crate ships a Cargo.lock (then the build is `--locked`).
    pub locked: bool,
    /// Whether it was already in the cache (nothing downloaded).
    pub cached: bool,
}

/// Splits "ripgrep@14.1.1" into name and version; None for paths and anything that is not a
/// crate name (letters, digits, `-`, `_`) followed by `@` and a version.
pub(crate) fn split(input: &Path) -> Option<(&str, &str)> {
    let s = input.to_str()?;
    if input.exists() {
        return None;
    }
    let (name, version) = s.split_once('@')?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    (valid && !version.is_empty() && !version.contains(['@', '/'])).then_some((name, version))
}

/// Fetches `name` at `version` ("1.2.3" exactly, a requirement such as "^1.2", or "latest":
/// the newest release that is not yanked) into the cache, or finds it there.
pub(crate) fn fetch(name: &str, version: &str) -> Result<Published> {
    let root = crate::output::cache_dir().join("crates");
    // An exact version already unpacked needs no index: rebuilds work offline.
    if let Ok(v) = semver::Version::parse(version) {
        if let Some(p) = cached(&root, name, &v.to_string()) {
            return Ok(p);
        }
    }
    let agent = agent();
    let index = index_url();
    let release = choose(&index_entries(&agent, &index, name)?, name, version)?;
    if let Some(p) = cached(&root, name, &release.vers) {
        return Ok(p);
    }
    let url = download_url(&agent, &index, name, &release)?;
    let bytes = get(&agent, &url, MAX_CRATE_BYTES, &format!("download {name} {}", release.vers))?;
    let sum = hex::encode(Sha256::digest(&bytes));
    if sum != release.cksum {
        return Err(Error::Build {
            step: format!("download {name} {}", release.vers),
            message: format!("{url}: its SHA-256 is {sum}, the index says {}", release.cksum),
            help: Some("the download was damaged or altered: try again (or check STATICIZE_CRATES_INDEX)".into()),
        });
    }
    unpack(&bytes, &root, name, &release.vers)?;
    cached(&root, name, &release.vers).map(|p| Published { cached: false, ..p }).ok_or_else(|| {
        Error::input(root.join(format!("{name}-{}", release.vers)), "has no Cargo.toml after unpacking the crate", None)
    })
}

/// The unpacked crate in the cache, when a complete one is there.
fn cached(root: &Path, name: &str, version: &str) -> Option<Published> {
    let dir = root.join(format!("{name}-{version}"));
    dir.join("Cargo.toml").is_file().then(|| Published {
        name: name.to_string(),
        version: version.to_string(),
        locked: dir.join("Cargo.lock").is_file(),
        dir,
        cached: true,
    })
}

fn index_url() -> String {
    let base = std::env::var("STATICIZE_CRATES_INDEX").ok().filter(|v| !v.is_empty());
    let base = base.unwrap_or_else(|| DEFAULT_INDEX.to_string());
    let base = base.strip_prefix("sparse+").unwrap_or(&base).to_string();
    if base.ends_with('/') { base } else { format!("{base}/") }
}

fn agent() -> ureq::Agent {
    let t = Some(Duration::from_secs(60));
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(roots) = system_roots() {
        tls = tls.root_certs(roots);
    }
    ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_connect(t)
        .timeout_per_read(t)
        .user_agent(format!("staticize/{} (cargo-install-like)", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The certificate authorities the system trusts (SSL_CERT_FILE, else the distribution's
/// bundle), as cargo (through curl) trusts them: a machine behind a TLS-inspecting proxy or
/// using a private mirror has its authority there, not in the built-in Mozilla roots, which
/// stay the fallback when no bundle is found.
fn system_roots() -> Option<ureq::tls::RootCerts> {
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let bundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
    let pem = env.into_iter().chain(bundles.iter().map(PathBuf::from)).find_map(|p| std::fs::read(p).ok())?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    (!certs.is_empty()).then(|| ureq::tls::RootCerts::new_with_certs(&certs))
}

/// GETs `url` whole (at most `max` bytes); 404 is `Ok(None)`.
fn get_opt(agent: &ureq::Agent, url: &str, max: u64, step: &str) -> Result<Option<Vec<u8>>> {
    let failed = |message: String| Error::Build {
        step: step.to_string(),
        message,
        help: Some("check the network (or set STATICIZE_CRATES_INDEX to a reachable sparse index)".into()),
    };
    let resp = agent.get(url).call().map_err(|e| failed(format!("{url}: {e}")))?;
    match resp.status().as_u16() {
        200 => {}
        404 | 410 | 451 => return Ok(None),
        s => return Err(failed(format!("{url} answered HTTP {s}"))),
    }
    let mut bytes = Vec::new();
    resp.into_body().into_reader().take(max + 1).read_to_end(&mut bytes).map_err(|e| failed(format!("{url}: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(failed(format!("{url} is larger than {max} bytes")));
    }
    Ok(Some(bytes))
}

fn get(agent: &ureq::Agent, url: &str, max: u64, step: &str) -> Result<Vec<u8>> {
    get_opt(agent, url, max, step)?.ok_or_else(|| Error::Build {
        step: step.to_string(),
        message: format!("{url} answered 404"),
        help: Some("check STATICIZE_CRATES_INDEX".into()),
    })
}

/// One line of a crate's index file: one published version.
#[derive(Debug, Clone, Deserialize)]
struct Release {
    vers: String,
    cksum: String,
    #[serde(default)]
    yanked: bool,
}

/// The index file's path for a crate (RFC 2789: 1/, 2/, 3/A/, AB/CD/), lower-cased.
fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

fn index_entries(agent: &ureq::Agent, index: &str, name: &str) -> Result<Vec<Release>> {
    let url = format!("{index}{}", index_path(name));
    let step = format!("find {name} in the crate index");
    let Some(bytes) = get_opt(agent, &url, MAX_INDEX_BYTES, &step)? else {
        return Err(Error::input(
            PathBuf::from(name),
            format!("no crate named {name} on crates.io ({url})"),
            Some("check the name (cargo search NAME), or give the path of a local Cargo package".into()),
        ));
    };
    // Lines that do not parse are versions of a newer index format: skipped, as cargo does.
    Ok(String::from_utf8_lossy(&bytes).lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// The release `want` names: an exact version, a requirement's newest match, or "latest".
fn choose(releases: &[Release], name: &str, want: &str) -> Result<Release> {
    let mut candidates: Vec<(semver::Version, &Release)> =
        releases.iter().filter_map(|r| semver::Version::parse(&r.vers).ok().map(|v| (v, r))).collect();
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    let chosen = if want == "latest" {
        candidates.iter().rev().find(|(v, r)| !r.yanked && v.pre.is_empty())
    } else if let Ok(exact) = semver::Version::parse(want) {
        candidates.iter().find(|(v, _)| *v == exact)
    } else {
        let req = semver::VersionReq::parse(want).map_err(|e| {
            Error::usage(
                format!("{name}@{want}: not a version: {e}"),
                format!("name a version: {name}@1.2.3 or {name}@latest"),
            )
        })?;
        candidates.iter().rev().find(|(v, r)| !r.yanked && req.matches(v))
    };
    let newest: Vec<&str> =
        candidates.iter().rev().filter(|(_, r)| !r.yanked).take(5).map(|(_, r)| r.vers.as_str()).collect();
    match chosen {
        Some((_, r)) if r.yanked => Err(Error::input(
            PathBuf::from(format!("{name}@{want}")),
            "was yanked from crates.io: cargo install refuses it too",
            Some(format!("choose another version: {}", newest.join(", "))),
        )),
        Some((_, r)) => Ok((*r).clone()),
        None => Err(Error::input(
            PathBuf::from(format!("{name}@{want}")),
            "no such version on crates.io",
            Some(format!("the newest versions are: {}", newest.join(", "))),
        )),
    }
}

/// The `.crate` URL: the index's `dl` template (markers replaced, or `/{crate}/{version}/download`
/// appended, RFC 2789).
fn download_url(agent: &ureq::Agent, index: &str, name: &str, r: &Release) -> Result<String> {
    #[derive(Deserialize)]
    struct Config {
        dl: String,
    }
    let url = format!("{index}config.json");
    let bytes = get(agent, &url, 1 << 20, "read the crate index's config.json")?;
    let config: Config = serde_json::from_slice(&bytes).map_err(|e| Error::Build {
        step: "read the crate index's config.json".into(),
        message: format!("{url}: {e}"),
        help: Some("check STATICIZE_CRATES_INDEX names a sparse index".into()),
    })?;
    let markers = ["{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"];
    if !markers.iter().any(|m| config.dl.contains(m)) {
        return Ok(format!("{}/{name}/{}/download", config.dl.trim_end_matches('/'), r.vers));
    }
    let prefix = index_path(name).rsplit_once('/').map(|(p, _)| p.to_string()).unwrap_or_default();
    Ok(config
        .dl
        .replace("{crate}", name)
        .replace("{version}", &r.vers)
        .replace("{prefix}", &prefix)
        .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
        .replace("{sha256-checksum}", &r.cksum))
}

/// Unpacks a `.crate` (a gzip tar whose entries all sit under NAME-VERSION/) into `root`:
/// into a temporary directory there first, renamed when complete, so a cut-off run never
/// leaves half a crate that looks whole.
fn unpack(bytes: &[u8], root: &Path, name: &str, version: &str) -> Result<()> {
    std::fs::create_dir_all(root).map_err(|e| Error::io("create", root, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(root)
        .map_err(|e| Error::io("create a directory in", root, e))?;
    let top = format!("{name}-{version}");
    let bad = |why: String| {
        Error::input(PathBuf::from(format!("{name}@{version}")), format!("the downloaded crate {why}"), None)
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries().map_err(|e| bad(format!("is not a gzip tar: {e}")))? {
        let mut entry = entry.map_err(|e| bad(format!("is damaged: {e}")))?;
        let path = entry.path().map_err(|e| bad(format!("has an unreadable name: {e}")))?.into_owned();
        if path.components().next().map(|c| c.as_os_str()) != Some(std::ffi::OsStr::new(&top)) {
            return Err(bad(format!("has {} outside {top}/", path.display())));
        }
        // unpack_in refuses names with ".." and writes through no link that leaves tmp.
        if !entry.unpack_in(tmp.path()).map_err(|e| bad(format!("could not be unpacked ({}): {e}", path.display())))? {
            return Err(bad(format!("has the unsafe name {}", path.display())));
        }
    }
    let dest = root.join(&top);
    match std::fs::rename(tmp.path().join(&top), &dest) {
        Ok(()) => Ok(()),
        // Another run unpacked the same version meanwhile: theirs is as good.
        Err(_) if dest.join("Cargo.toml").is_file() => Ok(()),
        Err(e) => Err(Error::io("move the unpacked crate to", &dest, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_with_versions_are_split_off_paths_only() {
        assert_eq!(split(Path::new("ripgrep@14.1.1")), Some(("ripgrep", "14.1.1")));
        assert_eq!(split(Path::new("pulldown-cmark@latest")), Some(("pulldown-cmark", "latest")));
        assert_eq!(split(Path::new("./x@1")), None);
        assert_eq!(split(Path::new("ripgrep")), None);
        assert_eq!(split(Path::new("a/b@1")), None);
        assert_eq!(split(Path::new("x@")), None);
    }

    #[test]
    fn index_paths_follow_the_sparse_layout() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("jq"), "2/jq");
        assert_eq!(index_path("syn"), "3/s/syn");
        assert_eq!(index_path("Pulldown-Cmark"), "pu/ll/pulldown-cmark");
    }

    #[test]
    fn versions_are_chosen_like_cargo_install() {
        let r = |v: &str, yanked: bool| Release { vers: v.into(), cksum: String::new(), yanked };
        let all = [r("0.9.0", false), r("1.0.0", false), r("1.2.0", true), r("1.1.0", false), r("2.0.0-rc.1", false)];
        assert_eq!(choose(&all, "x", "latest").unwrap().vers, "1.1.0");
        assert_eq!(choose(&all, "x", "0.9.0").unwrap().vers, "0.9.0");
        assert_eq!(choose(&all, "x", "^1").unwrap().vers, "1.1.0");
        let e = choose(&all, "x", "1.2.0").unwrap_err();
        assert!(e.to_string().contains("yanked") && e.help().unwrap().contains("1.1.0"), "{e}");
        let e = choose(&all, "x", "3.0.0").unwrap_err().to_string();
        assert!(e.contains("no such version"), "{e}");
        assert_eq!(choose(&all, "x", "not a version").unwrap_err().exit_code(), crate::error::EXIT_USAGE);
    }
}
