//! Lexical path handling for names nobody vouches for: archive entries, layer entries, link
//! targets and image paths from the command line. One home, so every reader cleans and judges
//! names the same way. Nothing here touches the file system.

use std::collections::HashMap;

/// Why an archive's own entry name is unsafe: it starts with "/".
pub const ABSOLUTE: &str = "absolute name";
/// Why a name is unsafe: it has a ".." part.
pub const TRAVERSAL: &str = "name with '..' (path traversal)";

/// The parts of `path` that name something: empty and "." parts dropped, ".." kept.
fn parts(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Cleans `path` strictly: a leading "/", "./" and empty parts are dropped; any ".." part is
/// refused ([`TRAVERSAL`]). "" names the root.
pub fn clean_strict(path: &str) -> Result<String, &'static str> {
    let mut out = Vec::new();
    for c in parts(path) {
        if c == ".." {
            return Err(TRAVERSAL);
        }
        out.push(c);
    }
    Ok(out.join("/"))
}

/// Cleans a name of an archive's own tar: relative and without "..", or refused with the
/// reason ([`ABSOLUTE`], [`TRAVERSAL`]).
pub fn clean_archive_name(name: &str) -> Result<String, &'static str> {
    if name.starts_with('/') {
        return Err(ABSOLUTE);
    }
    clean_strict(name)
}

/// Cleans a layer name the way container runtimes do (a leading "/" names the same path under
/// the root, ".." cannot climb above it), and says why the raw name was unsafe: only a ".."
/// part is. A leading "/" is not: docker, podman and containerd all unpack "/ko-app/x" to
/// ROOT/ko-app/x, and image builders such as ko write such names.
pub fn clean_clamped(raw: &str) -> (String, Option<String>) {
    let mut problem = None;
    let mut out: Vec<&str> = Vec::new();
    for c in parts(raw) {
        if c == ".." {
            problem = Some(TRAVERSAL.to_string());
            out.pop();
        } else {
            out.push(c);
        }
    }
    (out.join("/"), problem)
}

/// Why a link at the clean path `name` pointing to `target` leaves the root it lives in (an
/// archive, an image's file system followed outside a container), if it does: an absolute
/// target, or one climbing above the root with "..". A symbolic link's target is relative to
/// the link's directory, a hard link's (`hard`) to the root.
pub fn link_escapes(name: &str, target: &str, hard: bool) -> Option<&'static str> {
    if target.starts_with('/') {
        return Some("is absolute (outside the archive)");
    }
    let mut depth: i64 = if hard { 0 } else { name.split('/').count() as i64 - 1 };
    for c in parts(target) {
        if c == ".." {
            depth -= 1;
            if depth < 0 {
                return Some("points outside the archive");
            }
        } else {
            depth += 1;
        }
    }
    None
}

/// The symbolic links of an image whose targets leave its root, seen layer after layer, so a
/// later entry written through one of them is recognised: an extractor that follows the link
/// writes outside.
#[derive(Debug, Default)]
pub struct EscapingLinks {
    links: HashMap<String, String>,
    max: usize,
}

impl EscapingLinks {
    /// Tracks at most `max` links (memory stays bounded on hostile layers).
    pub fn new(max: usize) -> Self {
        EscapingLinks { links: HashMap::new(), max }
    }

    /// Records the symbolic link at the clean path `path` when `target` leaves the root.
    pub fn note(&mut self, path: &str, target: &str) {
        if self.links.len() < self.max && link_escapes(path, target, false).is_some() {
            self.links.insert(path.to_string(), target.to_string());
        }
    }

    /// The escaping link (and its target) that one of the clean path `path`'s parent
    /// directories is, if any.
    pub fn through(&self, path: &str) -> Option<(&str, &str)> {
        if self.links.is_empty() {
            return None;
        }
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            if let Some((k, v)) = self.links.get_key_value(&path[..end]) {
                return Some((k.as_str(), v.as_str()));
            }
            end += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_are_checked() {
        assert_eq!(clean_archive_name("./blobs//sha256/x").unwrap(), "blobs/sha256/x");
        assert_eq!(clean_archive_name("/etc/passwd"), Err(ABSOLUTE));
        assert_eq!(clean_archive_name("a/../../x"), Err(TRAVERSAL));
        assert_eq!(clean_strict("/app/./bin//x").unwrap(), "app/bin/x");
    }

    #[test]
    fn layer_names_are_clamped_like_runtimes_do() {
        assert_eq!(clean_clamped("./etc/passwd"), ("etc/passwd".into(), None));
        assert_eq!(clean_clamped("../../etc/shadow"), ("etc/shadow".into(), Some(TRAVERSAL.into())));
        assert_eq!(clean_clamped("/ko-app/hello"), ("ko-app/hello".into(), None));
        assert_eq!(clean_clamped("/../etc/x"), ("etc/x".into(), Some(TRAVERSAL.into())));
    }

    #[test]
    fn escaping_links_are_recognised() {
        assert!(link_escapes("abc/layer.tar", "../blobs/sha256/x", false).is_none());
        assert!(link_escapes("abc/layer.tar", "../../etc/passwd", false).is_some());
        assert!(link_escapes("x", "/etc/passwd", false).is_some());
        assert!(link_escapes("x", "../y", true).is_some());
        assert!(link_escapes("etc", "/etc", false).is_some());
        assert!(link_escapes("a/up", "../../x", false).is_some());
        assert!(link_escapes("a/b/lib", "../lib", false).is_none());
        assert!(link_escapes("lib", "usr/lib", false).is_none());
    }

    #[test]
    fn paths_through_escaping_links_are_found() {
        let mut links = EscapingLinks::new(10);
        links.note("up", "../../");
        links.note("fine", "a/b");
        assert_eq!(links.through("up/tmp/x"), Some(("up", "../../")));
        assert_eq!(links.through("up"), None);
        assert_eq!(links.through("upper/x"), None);
        assert_eq!(links.through("fine/x"), None);
    }
}
