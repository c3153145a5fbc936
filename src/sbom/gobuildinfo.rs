//! The Go build information a Go binary carries (the `debug/buildinfo` format, what
//! `go version -m` prints): the main module and every dependency module with its version.
//! Read by hand because no Rust crate reads it; the format is a 32-byte header marked
//! "\xff Go buildinf:" followed (Go 1.18+, flag bit 2) by two length-prefixed strings.
//! The binary is untrusted input: every length is checked against the bytes present.

use super::{Ecosystem, Package, purl_escape};

const MAGIC: &[u8] = b"\xff Go buildinf:";
/// Largest prefix of a binary searched for the header (it sits in the data segment).
const MAX_SCAN: usize = 512 << 20;

/// One module line of the build info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module path.
    pub path: String,
    /// Its version ("(devel)" for a main module built from a checkout).
    pub version: String,
    /// The go.sum hash ("h1:…"), when recorded.
    pub sum: String,
}

/// What the build info says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// The toolchain ("go1.22.2").
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// The main module.
    pub main: Option<Module>,
    /// Dependency modules, replacements applied.
    pub deps: Vec<Module>,
}

/// Reads the build info from a binary's bytes; None when it has none (not Go, or Go < 1.18).
pub fn read(bytes: &[u8]) -> Option<BuildInfo> {
    let bytes = &bytes[..bytes.len().min(MAX_SCAN)];
    // The header is 16-byte aligned in the section; search every occurrence.
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&bytes[from..], MAGIC) {
        let start = from + at;
        if start % 16 == 0
            && let Some(info) = parse_at(&bytes[start..])
        {
            return Some(info);
        }
        from = start + 1;
    }
    None
}

fn parse_at(b: &[u8]) -> Option<BuildInfo> {
    let flags = *b.get(15)?;
    if flags & 2 == 0 {
        return None;
    }
    let (version, rest) = varint_string(b.get(32..)?)?;
    let (modinfo, _) = varint_string(rest)?;
    let mut info = parse_modinfo(&strip_sentinels(modinfo));
    info.go_version = String::from_utf8_lossy(version).into_owned();
    Some(info)
}

/// The module text is framed by 16 bytes on each side when it is longer than that.
fn strip_sentinels(m: &[u8]) -> String {
    let inner = if m.len() >= 33 && m[m.len() - 17] == b'\n' { &m[16..m.len() - 16] } else { m };
    String::from_utf8_lossy(inner).into_owned()
}

fn varint_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (mut n, mut shift, mut i) = (0u64, 0u32, 0usize);
    loop {
        let byte = *b.get(i)?;
        i += 1;
        n |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = i.checked_add(usize::try_from(n).ok()?)?;
    Some((b.get(i..end)?, b.get(end..)?))
}

/// Parses the lines `go version -m` prints: path, mod, dep and `=>` (replacement).
pub fn parse_modinfo(text: &str) -> BuildInfo {
    let mut info = BuildInfo::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let module = || Module {
            path: f.get(1).unwrap_or(&"").to_string(),
            version: f.get(2).unwrap_or(&"").to_string(),
            sum: f.get(3).unwrap_or(&"").to_string(),
        };
        match f[0] {
            "path" => info.path = f.get(1).unwrap_or(&"").to_string(),
            "mod" => info.main = Some(module()),
            "dep" => info.deps.push(module()),
            "=>" => {
                if let Some(last) = info.deps.last_mut() {
                    *last = module();
                }
            }
            _ => {}
        }
    }
    info
}

/// The dependency modules as SBOM packages (the main module is the program itself).
pub fn packages(info: &BuildInfo) -> Vec<Package> {
    info.deps
        .iter()
        .filter(|m| !m.path.is_empty())
        .map(|m| {
            let mut p = Package::new(&m.path, &m.version, Ecosystem::Go);
            p.purl = Some(purl(m));
            p
        })
        .collect()
}

/// `pkg:golang/PATH@VERSION` (no version for a main module built from a checkout).
pub fn purl(m: &Module) -> String {
    let path: Vec<String> = m.path.split('/').map(purl_escape).collect();
    if m.version.is_empty() || m.version == "(devel)" {
        format!("pkg:golang/{}", path.join("/"))
    } else {
        format!("pkg:golang/{}@{}", path.join("/"), purl_escape(&m.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(modinfo: &str) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&[8, 2]);
        b.resize(48 + 32, 0);
        let v = b"go1.22.2";
        b.push(v.len() as u8);
        b.extend_from_slice(v);
        let framed = format!("{}{modinfo}{}", "S".repeat(16), "E".repeat(16));
        let n = framed.len();
        b.extend_from_slice(&[(n as u8 & 0x7f) | 0x80, (n >> 7) as u8]);
        b.extend_from_slice(framed.as_bytes());
        b
    }

    #[test]
    fn modules_and_replacements_are_read() {
        let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
dep\tgithub.com/a/b\tv1.0.0\th1:x=\n=>\tgithub.com/c/b\tv1.1.0\th1:y=\n\
dep\tgolang.org/x/text\tv0.14.0\th1:z=\nbuild\t-ldflags=-s -w\n";
        let info = read(&blob(text)).expect("found");
        assert_eq!(info.go_version, "go1.22.2");
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.deps.len(), 2);
        assert_eq!(info.deps[0].path, "github.com/c/b");
        let p = packages(&info);
        assert_eq!(p.len(), 2, "the main module is the program");
        assert_eq!(p[1].purl.as_deref(), Some("pkg:golang/golang.org/x/text@v0.14.0"));
    }

    #[test]
    fn truncated_input_is_none() {
        let b = blob("path\tx\n");
        for n in 0..b.len() {
            let _ = read(&b[..n]);
        }
        assert!(read(b"\xff Go buildinf:").is_none());
    }
}
