//! Paths inside a root directory ("/" for the host, an unpacked image otherwise), resolved the
//! way the kernel would inside that root: symlinks followed one component at a time, absolute
//! targets taken from the root, never escaping it. Every link met on the way is recorded so the
//! image can carry the same chain (`/lib64` → `usr/lib64`, `libfoo.so.1` → `libfoo.so.1.2.3`).

use std::path::{Path, PathBuf};

/// Links followed before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

/// A directory treated as `/`.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

/// A symbolic link met while resolving a path: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its path inside the root, absolute ("/lib64"); its parents contain no links.
    pub path: String,
    /// Its target exactly as stored ("usr/lib64", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").
    pub target: String,
}

/// What a path inside the root turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    /// The links followed, in order.
    pub links: Vec<Link>,
    /// The real path of the regular file at the end, absolute inside the root.
    pub real: String,
}

impl Root {
    /// A root at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Root { dir: dir.into() }
    }

    /// The directory standing for `/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when this root is the host's own `/`.
    pub fn is_host(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// Where an absolute path inside the root is on the host.
    pub fn host_path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside.trim_start_matches('/'))
    }

    /// True when `inside` resolves to a directory.
    pub fn is_dir(&self, inside: &str) -> bool {
        self.walk_any(inside).is_some_and(|(_, real)| self.host_path(&real).is_dir())
    }

    /// Resolves `inside` (absolute, or taken from the root) to a regular file, following links.
    /// Returns None when it is missing, a directory, or a link loop.
    pub fn walk(&self, inside: &str) -> Option<Walked> {
        let (links, real) = self.walk_any(inside)?;
        self.host_path(&real).is_file().then_some(Walked { links, real })
    }

    /// The real path of a directory inside the root (links followed), or None when `inside`
    /// is missing or not a directory: "/lib/x86_64-linux-gnu" → "/usr/lib/x86_64-linux-gnu".
    pub fn real_dir(&self, inside: &str) -> Option<String> {
        let (_, real) = self.walk_any(inside)?;
        self.host_path(&real).is_dir().then_some(real)
    }

    fn walk_any(&self, inside: &str) -> Option<(Vec<Link>, String)> {
        // Components still to visit, first one last (a stack), so a link's target can be
        // pushed in front of what remains.
        let mut todo: Vec<String> = split(inside).into_iter().rev().collect();
        let mut cur: Vec<String> = Vec::new();
        let mut links = Vec::new();
        while let Some(part) = todo.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            let candidate = format!("/{}", cur.iter().chain([&part]).cloned().collect::<Vec<_>>().join("/"));
            let host = self.host_path(&candidate);
            let meta = std::fs::symlink_metadata(&host).ok()?;
            if meta.file_type().is_symlink() {
                if links.len() >= MAX_LINKS {
                    return None;
                }
                let target = std::fs::read_link(&host).ok()?.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    cur.clear();
                }
                todo.extend(split(&target).into_iter().rev());
                links.push(Link { path: candidate, target });
            } else {
                if !meta.is_dir() && !todo.iter().all(|p| p == ".") {
                    return None; // a file used as a directory
                }
                cur.push(part);
            }
        }
        Some((links, format!("/{}", cur.join("/"))))
    }
}

fn split(p: &str) -> Vec<String> {
    p.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The directory part of an absolute path inside the root ("/usr/lib" for "/usr/lib/libz.so.1").
pub fn parent(inside: &str) -> String {
    match inside.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => inside[..i].to_string(),
    }
}

/// Joins a directory and a name inside the root, with exactly one '/'.
pub fn join(dir: &str, name: &str) -> String {
    format!("{}/{}", dir.trim_end_matches('/'), name.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_are_followed_inside_the_root_and_recorded() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/lib/x")).unwrap();
        std::fs::create_dir_all(r.join("usr/lib64")).unwrap();
        std::fs::write(r.join("usr/lib/x/ld.so.2"), b"ld").unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("usr/lib64", r.join("lib64")).unwrap();
        // An absolute target must be taken from the root, not from the host.
        symlink("/lib/x/ld.so.2", r.join("usr/lib64/ld.so.2")).unwrap();
        let root = Root::new(r);
        let w = root.walk("/lib64/ld.so.2").unwrap();
        assert_eq!(w.real, "/usr/lib/x/ld.so.2");
        let links: Vec<(&str, &str)> = w.links.iter().map(|l| (l.path.as_str(), l.target.as_str())).collect();
        assert_eq!(links, [("/lib64", "usr/lib64"), ("/usr/lib64/ld.so.2", "/lib/x/ld.so.2"), ("/lib", "usr/lib")]);
        assert!(root.walk("/lib/x").is_none(), "a directory is not a file");
        assert!(root.walk("/lib/x/ld.so.2/more").is_none());
        assert!(root.is_dir("/lib/x"));
    }

    #[test]
    fn loops_and_escapes_end_cleanly() {
        let t = tempfile::tempdir().unwrap();
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        symlink("../../../../etc/passwd", t.path().join("up")).unwrap();
        let root = Root::new(t.path());
        assert!(root.walk("/a").is_none());
        // ".." at the root stays at the root, so this names <root>/etc/passwd, which is absent.
        assert!(root.walk("/up").is_none());
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent("/usr/lib/libz.so.1"), "/usr/lib");
        assert_eq!(parent("/libz.so.1"), "/");
        assert_eq!(join("/usr/lib/", "libz.so"), "/usr/lib/libz.so");
    }
}
