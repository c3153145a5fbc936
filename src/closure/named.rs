//! What an ELF object names in its strings that no ELF header does: the directories it loads
//! plugins from (module paths compiled into ImageMagick, GStreamer, glibc's gconv, SASL, PAM,
//! GIO and the like) and the system trust store (OpenSSL, GnuTLS, Go's crypto/x509, rustls
//! with the native certificates). Read from the bytes, never by running anything: `bundle`
//! carries or hints what is found, `check` judges an image that lacks it.
//!
//! Read by hand (a byte scan with memchr) because the question — which absolute paths a
//! binary's read-only data spells out — is not what an ELF library answers: the strings are
//! not symbols, and C and Go lay them out differently (NUL-terminated or not).

use std::io::Read;
use std::path::Path;

use goblin::elf::Elf;

use crate::closure::root::Root;

/// Directories that hold libraries themselves: a plugin directory lies below one and never is
/// one (that would be every library of the system).
const LIBRARY_DIRS: &[&str] = &["/usr/lib", "/lib", "/usr/lib64", "/lib64", "/usr/lib32", "/usr/local/lib"];

/// Plugin directories a library names that only some callers load, with the function that
/// loads them: glibc names its gconv directory, but only programs calling iconv_open() (for a
/// charset beyond the few built in) read it. Judged by the programs' own imports: a library
/// that may call it (libunistring for the locale's charset) does not bring 8 MB of modules
/// into every image that links it.
const GATED: &[(&str, &str, &str)] = &[("libc.so", "/gconv", "iconv_open")];

/// Names by which a program reads the system trust store (OpenSSL's and GnuTLS' defaults, Go's
/// crypto/x509 list, rustls-native-certs/openssl-probe, Fedora's bundle path).
const TRUST_STORE: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/certs",
    "/etc/pki/tls/certs",
    "/etc/ssl/cert.pem",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Library file-name prefixes that speak TLS and read a CA bundle.
const TLS_LIBS: &[&str] = &["libssl.so", "libgnutls.so", "libnss3.so", "libmbedtls.so", "libwolfssl.so"];

/// Why a program reads the system trust store — "links libssl.so.3", "names SSL_CERT_FILE" —
/// from the file names of the libraries it loads and its own bytes; None when nothing says so.
pub(crate) fn reads_trust_store<'a>(bytes: &[u8], libraries: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let linked = libraries.into_iter().find(|name| TLS_LIBS.iter().any(|p| name.starts_with(p)));
    linked.map(|l| format!("links {l}")).or_else(|| trust_store(bytes).map(|n| format!("names {n}")))
}

/// Names that say the program brings its own roots and reads the system store only when asked
/// (node's bundled Mozilla store; `--use-openssl-ca` switches to the system one).
const OWN_STORE: &[&str] = &["NODE_EXTRA_CA_CERTS"];

/// Bytes of a path, as C and Go spell paths in their data.
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+' | b'@')
}

/// The first trust-store name in a program's bytes, unless it carries its own store.
pub(crate) fn trust_store(bytes: &[u8]) -> Option<&'static str> {
    if OWN_STORE.iter().any(|n| memchr::memmem::find(bytes, n.as_bytes()).is_some()) {
        return None;
    }
    TRUST_STORE.iter().copied().find(|n| memchr::memmem::find(bytes, n.as_bytes()).is_some())
}

/// Every absolute path below a library directory that `bytes` spell out, trailing slashes
/// dropped, sorted and deduplicated ("/usr/lib/x86_64-linux-gnu/gstreamer-1.0").
pub(crate) fn library_paths(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for start in memchr::memmem::find_iter(bytes, b"/lib") {
        // Back up to where the path starts ("/usr/lib…"), then read to where it ends.
        let begin = bytes[..start].iter().rposition(|&b| !is_path_byte(b)).map_or(0, |i| i + 1);
        let len = bytes[begin..].iter().position(|&b| !is_path_byte(b)).unwrap_or(bytes.len() - begin);
        let Ok(path) = std::str::from_utf8(&bytes[begin..begin + len]) else { continue };
        let path = path.trim_end_matches('/');
        let dotted = path.split('/').any(|c| c == "." || c == "..");
        if path.starts_with('/') && !path.contains("//") && !dotted && below_library_dir(path) {
            out.push(path.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// True for a path strictly below a library directory that is not one itself (the multiarch
/// `/usr/lib/x86_64-linux-gnu` is one).
fn below_library_dir(path: &str) -> bool {
    let is_library_dir = |p: &str| {
        LIBRARY_DIRS.contains(&p)
            || LIBRARY_DIRS.iter().any(|d| p.strip_prefix(d).and_then(|r| r.strip_prefix('/')).is_some_and(triplet))
    };
    !is_library_dir(path) && LIBRARY_DIRS.iter().any(|d| path.starts_with(&format!("{d}/")))
}

/// A multiarch triplet directory name ("x86_64-linux-gnu", "aarch64-linux-musl").
fn triplet(name: &str) -> bool {
    !name.contains('/') && name.contains("-linux-")
}

/// A plugin directory an object names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PluginDir {
    /// The directory as named (absolute inside the root).
    pub dir: String,
    /// The function a program must call for it to be loaded, when only some callers load it.
    pub loaded_by: Option<&'static str>,
}

/// The plugin directories the shared library `name` (its file name,
/// "libMagickCore-6.Q16.so.6") names in `bytes` that exist in `root` and hold shared objects,
/// except the root's ld.so.conf directories (libltdl names those as its search path: they
/// are library directories, not plugins). Only libraries are read: the paths a program names
/// are its own business (gcc names /usr/lib/gcc, postgres its tree), judged by a run.
pub(crate) fn plugin_dirs(root: &Root, name: &str, bytes: &[u8]) -> Vec<PluginDir> {
    if !is_shared_library(bytes) {
        return Vec::new();
    }
    module_dirs(root, name, library_paths(bytes))
}

/// The paths that are plugin directories in `root`, with what loads them (`check` asks the
/// build machine about the directories an image lacks).
pub(crate) fn module_dirs(root: &Root, name: &str, paths: Vec<String>) -> Vec<PluginDir> {
    let ldconf: Vec<String> = crate::closure::ldconf::dirs(root);
    paths
        .into_iter()
        .filter(|dir| !ldconf.contains(dir))
        .filter(|dir| root.real_dir(dir).is_some_and(|real| holds_shared_objects(&root.host_path(&real), 2)))
        .map(|dir| PluginDir { loaded_by: loaded_by(name, &dir), dir })
        .collect()
}

/// The function a program must call for `name`'s plugin directory `dir` to be loaded, when
/// only some callers load it (glibc's gconv: iconv_open).
pub(crate) fn loaded_by(name: &str, dir: &str) -> Option<&'static str> {
    GATED.iter().find(|(lib, suffix, _)| name.starts_with(lib) && dir.ends_with(suffix)).map(|(_, _, f)| *f)
}

/// True when `dir` (a host path) holds an ELF shared object within `depth` levels: a module
/// directory, not a data or configuration one.
pub(crate) fn holds_shared_objects(dir: &Path, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    for e in entries.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else { continue };
        let name = e.file_name();
        let name = name.to_string_lossy();
        if meta.is_file() && name.contains(".so") && starts_like_elf(&e.path()) {
            return true;
        }
        if meta.is_dir() && depth > 0 && holds_shared_objects(&e.path(), depth - 1) {
            return true;
        }
    }
    false
}

/// True for a file that starts with the ELF magic.
pub(crate) fn starts_like_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF"
}

/// True for a shared library: an ELF object with a DT_SONAME (a PIE executable has none).
pub(crate) fn is_shared_library(bytes: &[u8]) -> bool {
    Elf::parse(bytes).is_ok_and(|elf| elf.soname.is_some())
}

/// The names of the dynamic symbols an ELF object imports (undefined in it).
pub(crate) fn imports(bytes: &[u8]) -> Vec<String> {
    let Ok(elf) = Elf::parse(bytes) else { return Vec::new() };
    elf.dynsyms
        .iter()
        .filter(|s| s.st_shndx == 0 && s.st_name != 0)
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name).map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_library_directories_are_found_in_c_and_go_layouts() {
        let bytes = b"\0/usr/lib/x86_64-linux-gnu/gstreamer-1.0\0%s/usr/lib/x86_64-linux-gnu\0\
            /lib/x86_64-linux-gnu/security/\0/usr/lib/pam.d/%s\0/usr/share/x\0xx/lib/rel\0/lib64\0/usr/lib/../lib\0";
        assert_eq!(
            library_paths(bytes),
            ["/lib/x86_64-linux-gnu/security", "/usr/lib/pam.d", "/usr/lib/x86_64-linux-gnu/gstreamer-1.0",]
        );
    }

    #[test]
    fn trust_store_names_unless_the_program_brings_its_own() {
        assert_eq!(
            trust_store(b"x/etc/ssl/certs/ca-certificates.crt/etc/pki"),
            Some("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(trust_store(b"getenv\0SSL_CERT_DIR\0"), Some("SSL_CERT_DIR"));
        assert_eq!(trust_store(b"SSL_CERT_FILE NODE_EXTRA_CA_CERTS"), None);
        assert_eq!(trust_store(b"/etc/ssl/private"), None);
    }

    #[test]
    fn only_directories_holding_modules_are_plugin_directories() {
        let t = tempfile::tempdir().unwrap();
        let lib = t.path().join("usr/lib/x86_64-linux-gnu");
        std::fs::create_dir_all(lib.join("gconv")).unwrap();
        std::fs::create_dir_all(lib.join("data/deep")).unwrap();
        std::fs::write(lib.join("gconv/ISO8859-15.so"), b"\x7fELF\x02\x01").unwrap();
        std::fs::write(lib.join("data/deep/notes.so.txt"), b"text").unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/ld.so.conf"), "/usr/lib/x86_64-linux-gnu/gconv/extra\n").unwrap();
        std::fs::create_dir_all(lib.join("gconv/extra")).unwrap();
        std::fs::write(lib.join("gconv/extra/x.so"), b"\x7fELF\x02\x01").unwrap();
        let root = Root::new(t.path());
        let bytes =
            b"\0/usr/lib/x86_64-linux-gnu/gconv\0/usr/lib/x86_64-linux-gnu/data\0/usr/lib/x86_64-linux-gnu/none\0\
            /usr/lib/x86_64-linux-gnu/gconv/extra\0";
        let want = PluginDir { dir: "/usr/lib/x86_64-linux-gnu/gconv".into(), loaded_by: Some("iconv_open") };
        assert_eq!(module_dirs(&root, "libc.so.6", library_paths(bytes)), [want]);
        assert_eq!(module_dirs(&root, "libgconvuser.so.1", library_paths(bytes))[0].loaded_by, None);
        // A program (no DT_SONAME) is not read at all.
        assert!(plugin_dirs(&root, "libc.so.6", bytes).is_empty());
    }
}
