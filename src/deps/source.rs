//! A recipe's source on disk: the Debian source package (`apt-get source --download-only`,
//! version from its .dsc, licence from debian/copyright), else the recipe's upstream tarball
//! checked against its sha256. Downloads are kept in `<cache>/sources/` across runs.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::deps::cache;
use crate::deps::recipe::Recipe;
use crate::error::{Error, Result};
use crate::process::Command;
use crate::report::Reporter;

/// A downloaded source, ready to unpack.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The version ("1:1.2.13.dfsg-1" from Debian, or the recipe's upstream version).
    pub version: String,
    /// The Debian source package it came from, when it did.
    pub debian: Option<String>,
    /// The tarball holding the upstream tree.
    pub tarball: PathBuf,
    /// The SPDX-ish licence name, when known.
    pub license: Option<String>,
}

impl Fetched {
    /// The package URL naming this source, for the SBOM.
    pub(crate) fn purl(&self, name: &str) -> String {
        match &self.debian {
            Some(pkg) => format!("pkg:deb/debian/{pkg}@{}?arch=source", self.version.replace(':', "%3A")),
            None => format!("pkg:generic/{name}@{}", self.version),
        }
    }
}

/// The source of `r`: from the download cache, else fetched (Debian first, then upstream).
pub(crate) fn fetch(r: &Recipe, rep: &Reporter) -> Result<Fetched> {
    let mut why = Vec::new();
    if let Some(pkg) = &r.source.debian {
        match debian(pkg, rep) {
            Ok(mut f) => {
                f.license = f.license.or_else(|| r.source.license.clone());
                return Ok(f);
            }
            Err(e) => why.push(format!("apt-get source {pkg}: {e}")),
        }
    }
    if let (Some(url), Some(sum), Some(version)) = (&r.source.url, &r.source.sha256, &r.source.version) {
        match upstream(&r.name, url, sum, rep) {
            Ok(tarball) => {
                let license = r.source.license.clone();
                return Ok(Fetched { version: version.clone(), debian: None, tarball, license });
            }
            Err(e) => why.push(format!("{url}: {e}")),
        }
    }
    Err(Error::Build {
        step: format!("fetch the source of {}", r.name),
        message: why.join("; "),
        help: Some(
            "enable deb-src in apt's sources (apt-get source needs it) and run apt-get update, or make the upstream URL reachable"
                .into(),
        ),
    })
}

/// The newest .dsc of `pkg` in the download cache, downloading it with apt when there is none.
fn debian(pkg: &str, rep: &Reporter) -> Result<Fetched> {
    let dir = cache::root().join("sources").join(pkg);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let _lock = cache::lock(&dir.join(".lock"))?;
    if newest_dsc(&dir).is_none() {
        rep.step("fetch", format!("apt-get source --download-only {pkg}"));
        Command::new("apt-get").args(["source", "--download-only", pkg]).dir(&dir).run("download the Debian source")?;
    }
    let dsc = newest_dsc(&dir).ok_or_else(|| Error::Build {
        step: format!("download the Debian source package {pkg}"),
        message: format!("apt-get source left no {pkg}_*.dsc in {}", dir.display()),
        help: Some("check that deb-src is configured and run apt-get update".into()),
    })?;
    let text = std::fs::read_to_string(&dsc).map_err(|e| Error::io("read", &dsc, e))?;
    let (version, files) = parse_dsc(&text);
    let version = version.ok_or_else(|| Error::input(&dsc, "has no Version field", None))?;
    let find = |pred: &dyn Fn(&str) -> bool| files.iter().find(|f| pred(f)).map(|f| dir.join(f));
    let debian_tar = find(&|f| f.contains(".debian.tar."));
    let tarball = find(&|f| f.contains(".orig.tar."))
        .or_else(|| find(&|f| f.contains(".tar.") && !f.contains(".debian.tar.") && !f.ends_with(".asc")))
        .ok_or_else(|| Error::input(&dsc, "names no source tarball", None))?;
    let license = debian_tar.as_deref().and_then(copyright_license);
    Ok(Fetched { version, debian: Some(pkg.to_string()), tarball, license })
}

fn newest_dsc(dir: &Path) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dsc"))
        .collect();
    v.sort();
    v.pop()
}

/// The Version and the file names of the Files section of a .dsc.
pub fn parse_dsc(text: &str) -> (Option<String>, Vec<String>) {
    let mut version = None;
    let mut files = Vec::new();
    let mut in_files = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Version:") {
            version = Some(v.trim().to_string());
        }
        if line.starts_with("Files:") {
            in_files = true;
            continue;
        }
        if in_files {
            match line.strip_prefix(' ') {
                Some(rest) => files.extend(rest.split_whitespace().nth(2).map(str::to_string)),
                None => in_files = false,
            }
        }
    }
    (version, files)
}

/// The licence of the `Files: *` stanza of debian/copyright inside Debian's tarball.
fn copyright_license(debian_tar: &Path) -> Option<String> {
    let out = Command::new("tar").arg("-xOf").arg(debian_tar).arg("debian/copyright").probe()?;
    license_of(&out.stdout)
}

/// The `License:` of the `Files: *` stanza (else the first one) of a machine-readable
/// debian/copyright.
pub fn license_of(copyright: &str) -> Option<String> {
    let stanzas: Vec<&str> = copyright.split("\n\n").collect();
    let license = |s: &str| {
        s.lines().find_map(|l| l.strip_prefix("License:")).map(|l| l.trim().to_string()).filter(|l| !l.is_empty())
    };
    stanzas
        .iter()
        .find(|s| s.lines().any(|l| l.trim() == "Files: *"))
        .and_then(|s| license(s))
        .or_else(|| stanzas.iter().find_map(|s| license(s)))
}

/// Downloads `url` into the source cache once, checking its sha256.
fn upstream(name: &str, url: &str, sha256: &str, rep: &Reporter) -> Result<PathBuf> {
    let dir = cache::root().join("sources").join(format!("upstream-{name}"));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let file = dir.join(url.rsplit('/').next().unwrap_or("source.tar.gz"));
    if file.is_file() && crate::digest::sha256_file(&file)? == sha256 {
        return Ok(file);
    }
    rep.step("fetch", url);
    let mut body = Vec::new();
    let resp = ureq::get(url).call().map_err(|e| Error::Build {
        step: format!("download {url}"),
        message: e.to_string(),
        help: Some("check the network, or enable deb-src so apt-get source can fetch it".into()),
    })?;
    resp.into_body().into_reader().read_to_end(&mut body).map_err(|e| Error::io("download", &file, e))?;
    let got = crate::digest::sha256_hex(&body);
    if got != sha256 {
        return Err(Error::Build {
            step: format!("check {url}"),
            message: format!("sha256 is {got}, the recipe says {sha256}"),
            help: Some("the upstream file changed: check it and update the recipe's sha256".into()),
        });
    }
    let mut tmp = crate::output::temp_beside(&file)?;
    std::io::Write::write_all(&mut tmp, &body).map_err(|e| Error::io("write", &file, e))?;
    crate::output::persist(tmp, &file, 0o644)?;
    Ok(file)
}

/// Unpacks `f`'s tarball into `into` and returns the top directory of the tree.
pub(crate) fn unpack(f: &Fetched, into: &Path) -> Result<PathBuf> {
    Command::new("tar").arg("-xf").arg(&f.tarball).dir(into).run("unpack the source")?;
    let dirs: Vec<PathBuf> = std::fs::read_dir(into)
        .map_err(|e| Error::io("read", into, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    match dirs.as_slice() {
        [one] => Ok(one.clone()),
        _ => Ok(into.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsc_version_and_files() {
        let dsc = "Format: 3.0 (quilt)\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\nChecksums-Sha1:\n abc 1 x\nFiles:\n ef26 1239825 zlib_1.2.13.dfsg.orig.tar.bz2\n 27c1 15700 zlib_1.2.13.dfsg-1.debian.tar.xz\n\n-----BEGIN PGP";
        let (v, files) = parse_dsc(dsc);
        assert_eq!(v.as_deref(), Some("1:1.2.13.dfsg-1"));
        assert_eq!(files, ["zlib_1.2.13.dfsg.orig.tar.bz2", "zlib_1.2.13.dfsg-1.debian.tar.xz"]);
    }

    #[test]
    fn license_of_the_main_stanza() {
        let c = "Format: x\nUpstream-Name: zlib\n\nFiles: debian/*\nLicense: GPL-2\n\nFiles: *\nCopyright: x\nLicense: Zlib\n text\n";
        assert_eq!(license_of(c).as_deref(), Some("Zlib"));
        assert_eq!(license_of("Files: a\nLicense: MIT\n").as_deref(), Some("MIT"));
        assert_eq!(license_of("nothing"), None);
        let f = Fetched { version: "1:1.2-1".into(), debian: Some("zlib".into()), tarball: "x".into(), license: None };
        assert_eq!(f.purl("zlib"), "pkg:deb/debian/zlib@1%3A1.2-1?arch=source");
    }
}
