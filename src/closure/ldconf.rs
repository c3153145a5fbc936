//! The directories of `/etc/ld.so.conf` and the files it includes, read inside a root. ld.so
//! itself reads the cache ldconfig builds from these; searching them in order is what that
//! cache amounts to for a closure.

use crate::closure::root::{Root, parent};

/// Includes nested deeper than this are ignored (a loop in the configuration).
const MAX_DEPTH: usize = 16;

/// The library directories named by `/etc/ld.so.conf` inside `root`, in order, without
/// duplicates. A missing file gives none.
pub fn dirs(root: &Root) -> Vec<String> {
    let mut out = Vec::new();
    read(root, "/etc/ld.so.conf", 0, &mut out);
    out
}

fn read(root: &Root, file: &str, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(text) = std::fs::read_to_string(root.host_path(file)) else { return };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("include") => {
                for pattern in words {
                    // ldconfig takes a relative pattern from the including file's directory.
                    let pattern = if pattern.starts_with('/') {
                        pattern.to_string()
                    } else {
                        format!("{}/{pattern}", parent(file))
                    };
                    for inside in expand(root, &pattern) {
                        read(root, &inside, depth + 1, out);
                    }
                }
            }
            Some("hwcap") => {}
            _ => {
                // Old syntax allowed "DIR=TYPE"; the type is ignored, as ldconfig does today.
                for dir in line.split([':', ',', ' ', '\t']).map(|d| d.split('=').next().unwrap_or("")) {
                    let dir = dir.trim_end_matches('/');
                    if dir.starts_with('/') && !out.iter().any(|d| d == dir) {
                        out.push(dir.to_string());
                    }
                }
            }
        }
    }
}

/// Glob `pattern` (absolute inside the root) and return matching paths inside the root, sorted
/// as glob(3) sorts them.
fn expand(root: &Root, pattern: &str) -> Vec<String> {
    let base = root.dir().to_string_lossy().trim_end_matches('/').to_string();
    let full = format!("{}{}", glob::Pattern::escape(&base), pattern);
    let Ok(paths) = glob::glob(&full) else { return Vec::new() };
    let mut found: Vec<String> = paths
        .flatten()
        .filter_map(|p| p.strip_prefix(root.dir()).ok().map(|r| format!("/{}", r.to_string_lossy())))
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_comments_and_order() {
        let t = tempfile::tempdir().unwrap();
        let etc = t.path().join("etc");
        std::fs::create_dir_all(etc.join("ld.so.conf.d")).unwrap();
        std::fs::write(
            etc.join("ld.so.conf"),
            "# top\n/opt/first/\ninclude /etc/ld.so.conf.d/*.conf\ninclude rel.conf\nhwcap 0 x\n",
        )
        .unwrap();
        std::fs::write(etc.join("ld.so.conf.d/b.conf"), "/b/lib # trailing\n").unwrap();
        std::fs::write(etc.join("ld.so.conf.d/a.conf"), "/a/lib:/a/lib2=libc6\n/opt/first\n").unwrap();
        std::fs::write(etc.join("ld.so.conf.d/skip.txt"), "/never\n").unwrap();
        std::fs::write(etc.join("rel.conf"), "/rel\ninclude rel.conf\n").unwrap();
        let got = dirs(&Root::new(t.path()));
        assert_eq!(got, ["/opt/first", "/a/lib", "/a/lib2", "/b/lib", "/rel"]);
    }

    #[test]
    fn no_configuration_means_no_dirs() {
        let t = tempfile::tempdir().unwrap();
        assert!(dirs(&Root::new(t.path())).is_empty());
    }
}
