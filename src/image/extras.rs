//! `--with`: what a scratch image lacks and programs expect — CA certificates, zoneinfo,
//! /etc/passwd with a nonroot user, a writable /tmp, and a static busybox for debugging.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::options::{Extras, Zones};
use crate::image::rootfs::{MODE_DATA, MODE_EXEC, Rootfs, Source};
use crate::image::spec::Platform;

/// Where the CA bundle goes (Debian's path; Go, OpenSSL, curl and rustls-native-certs look here).
pub const CERTS_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The zoneinfo directory in the image (and, by default, on the host).
pub const ZONEINFO: &str = "/usr/share/zoneinfo";
/// UID and GID of the `nonroot` user, as in distroless images.
pub const NONROOT_ID: u32 = 65532;

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";

/// Host CA bundles, most common first.
const HOST_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Environment variables an extra needs (SSL_CERT_FILE) and one report line per extra.
pub type ExtrasAdded = (Vec<(String, String)>, Vec<String>);

/// Adds the extras to `rootfs` for `platform`; returns environment variables they need and one
/// line per extra for the report.
pub fn add_extras(rootfs: &mut Rootfs, extras: &Extras, platform: &Platform) -> Result<ExtrasAdded> {
    let mut env = Vec::new();
    let mut lines = Vec::new();
    if let Some(bundle) = &extras.certs {
        let src = find_bundle(bundle.as_deref())?;
        let (size, count) = check_bundle(&src)?;
        rootfs.add_file(CERTS_PATH, Source::Host(src.clone()), MODE_DATA)?;
        env.push(("SSL_CERT_FILE".to_string(), CERTS_PATH.to_string()));
        lines.push(format!("certs: {count} certificates from {} → {CERTS_PATH} ({size} bytes)", src.display()));
    }
    if let Some(zones) = &extras.tzdata {
        let host = zoneinfo_dir()?;
        let n = match zones {
            Zones::All => add_zone_tree(rootfs, &host, &host, ZONEINFO)?,
            Zones::Only(list) => add_zones(rootfs, &host, list)?,
        };
        lines.push(format!("tzdata: {n} entries from {} → {ZONEINFO}", host.display()));
    }
    if extras.passwd {
        rootfs.add_file("/etc/passwd", Source::Bytes(PASSWD.as_bytes().to_vec()), MODE_DATA)?;
        rootfs.add_file("/etc/group", Source::Bytes(GROUP.as_bytes().to_vec()), MODE_DATA)?;
        lines.push(format!("passwd: /etc/passwd and /etc/group with root (0) and nonroot ({NONROOT_ID})"));
    }
    if extras.tmp {
        rootfs.add_dir("/tmp", 0o1777)?;
        lines.push("tmp: /tmp (mode 1777)".into());
    }
    if extras.busybox {
        let (bin, applets) = busybox(platform)?;
        rootfs.add_file("/bin/busybox", Source::Host(bin.clone()), MODE_EXEC)?;
        let mut linked = 0;
        for a in &applets {
            // Links never replace something already there (a program or an --add).
            if rootfs.get(&format!("/bin/{a}")).is_none() {
                rootfs.add_symlink(&format!("/bin/{a}"), "busybox")?;
                linked += 1;
            }
        }
        lines.push(format!("busybox: {} with {linked} applets linked in /bin", bin.display()));
    }
    Ok((env, lines))
}

fn find_bundle(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from).filter(|p| p.is_file()) {
        return Ok(p);
    }
    HOST_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| Error::ToolMissing {
        tool: "a CA certificate bundle".into(),
        hint: format!(
            "--with certs looked for {} — install ca-certificates (apt-get install ca-certificates), or name a PEM bundle: --with certs=/path/bundle.pem",
            HOST_BUNDLES.join(", ")
        ),
    })
}

/// Size and number of PEM certificates; refuses a file with none.
fn check_bundle(p: &Path) -> Result<(u64, usize)> {
    let text = fs::read(p).map_err(|e| Error::io("read CA bundle", p, e))?;
    let count = text.windows(27).filter(|w| *w == b"-----BEGIN CERTIFICATE-----").count();
    if count == 0 {
        return Err(Error::input(
            p,
            "holds no PEM certificates (no -----BEGIN CERTIFICATE----- line)",
            Some("point --with certs= at a PEM bundle such as /etc/ssl/certs/ca-certificates.crt".into()),
        ));
    }
    Ok((text.len() as u64, count))
}

fn zoneinfo_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("STATICIZE_ZONEINFO").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(ZONEINFO));
    if dir.join("UTC").exists() || dir.join("Etc/UTC").exists() {
        Ok(dir)
    } else {
        Err(Error::ToolMissing {
            tool: format!("time zone data ({})", dir.display()),
            hint: "--with tzdata copies the host's zoneinfo — install tzdata (apt-get install tzdata), or set STATICIZE_ZONEINFO to a zoneinfo directory".into(),
        })
    }
}

/// The whole tree; links that would leave it (Debian's `localtime -> /etc/localtime`) are left out.
fn add_zone_tree(rootfs: &mut Rootfs, root: &Path, dir: &Path, dest: &str) -> Result<usize> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| Error::io("read zoneinfo", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    let mut n = 0;
    for name in names {
        let Some(name) = name.to_str() else { continue };
        let host = dir.join(name);
        let image = format!("{dest}/{name}");
        let meta = fs::symlink_metadata(&host).map_err(|e| Error::io("read zoneinfo", &host, e))?;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&host).map_err(|e| Error::io("read link", &host, e))?;
            let rel = host.parent().unwrap_or(root).strip_prefix(root).unwrap_or(Path::new(""));
            if let (Some(t), true) = (target.to_str(), stays_inside(rel, &target)) {
                rootfs.add_symlink(&image, t)?;
                n += 1;
            }
        } else if meta.is_dir() {
            rootfs.add_dir(&image, MODE_EXEC)?;
            n += 1 + add_zone_tree(rootfs, root, &host, &image)?;
        } else if meta.is_file() {
            rootfs.add_file(&image, Source::Host(host), MODE_DATA)?;
            n += 1;
        }
    }
    Ok(n)
}

/// True when a relative link in directory `rel` (relative to the tree's root) stays in the tree.
fn stays_inside(rel: &Path, target: &Path) -> bool {
    let mut depth = rel.components().count() as isize;
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Named zones, as regular files (a zone that is a link on the host is copied, so it never
/// points at a zone left out).
fn add_zones(rootfs: &mut Rootfs, root: &Path, zones: &[String]) -> Result<usize> {
    for z in zones {
        let host = root.join(z);
        let mut magic = [0u8; 4];
        let ok = fs::File::open(&host).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"TZif";
        if !ok {
            return Err(Error::usage(
                format!("--with tzdata={}: there is no zone '{z}' in {}", zones.join(","), root.display()),
                format!("use names from the tz database, e.g. Europe/Paris (see ls {})", root.display()),
            ));
        }
        rootfs.add_file(&format!("{ZONEINFO}/{z}"), Source::Host(host), MODE_DATA)?;
    }
    Ok(zones.len())
}

/// The static busybox for `platform` and its applet names.
fn busybox(platform: &Platform) -> Result<(PathBuf, Vec<String>)> {
    let bin = match std::env::var_os("STATICIZE_BUSYBOX") {
        Some(p) => PathBuf::from(p),
        None => which::which("busybox").map_err(|_| Error::ToolMissing {
            tool: "busybox".into(),
            hint: "--with busybox copies a static busybox — install busybox-static (apt-get install busybox-static), or set STATICIZE_BUSYBOX".into(),
        })?,
    };
    let linkage = crate::elf::inspect(&bin)?;
    if !linkage.kind.is_self_contained() {
        return Err(Error::input(
            &bin,
            format!("is a {} busybox; it would not run in a scratch image", linkage.kind.label()),
            Some("install the static one: apt-get install busybox-static (or point STATICIZE_BUSYBOX at a static busybox)".into()),
        ));
    }
    if linkage.machine != platform.architecture {
        return Err(Error::usage(
            format!("--with busybox: {} is {}, but the image is for {platform}", bin.display(), linkage.machine),
            format!(
                "point STATICIZE_BUSYBOX at a static {} busybox, or leave --with busybox out",
                platform.architecture
            ),
        ));
    }
    let host = crate::image::spec::Platform::host();
    let applets = if linkage.machine == host.architecture {
        let out = crate::process::Command::new(&bin).arg("--list").run("list busybox applets")?;
        out.stdout.lines().map(str::trim).filter(|l| is_applet(l)).map(String::from).collect()
    } else {
        // A foreign busybox cannot run here to list its applets: link the shell only.
        vec!["sh".to_string()]
    };
    Ok((bin, applets))
}

fn is_applet(name: &str) -> bool {
    !name.is_empty() && name != "busybox" && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.[".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::rootfs::Entry;

    #[test]
    fn passwd_and_tmp() {
        let mut r = Rootfs::new();
        let extras = Extras { passwd: true, tmp: true, ..Default::default() };
        let (env, lines) = add_extras(&mut r, &extras, &Platform::host()).unwrap();
        assert!(env.is_empty());
        assert_eq!(lines.len(), 2);
        assert_eq!(r.get("/tmp"), Some(&Entry::Dir { mode: 0o1777 }));
        match r.get("/etc/passwd") {
            Some(Entry::File { source: Source::Bytes(b), .. }) => {
                assert!(String::from_utf8_lossy(b).contains("nonroot:x:65532:65532:"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn links_leaving_the_tree_are_detected() {
        assert!(stays_inside(Path::new(""), Path::new("Etc/UTC")));
        assert!(stays_inside(Path::new("right"), Path::new("../UTC")));
        assert!(!stays_inside(Path::new(""), Path::new("/etc/localtime")));
        assert!(!stays_inside(Path::new("a"), Path::new("../../x")));
    }

    #[test]
    fn bundle_without_certificates_is_refused() {
        let t = tempfile::NamedTempFile::new().unwrap();
        fs::write(t.path(), "not pem").unwrap();
        assert_eq!(check_bundle(t.path()).unwrap_err().exit_code(), 4);
    }
}
