//! What the config implies besides programs: `/etc/passwd` and `/etc/group` entries for its
//! User, taken from the image's own files; and the hint list of what a program is likely to
//! read but was not kept.

use std::io::Read;

use crate::closure::root::Root;

/// Largest passwd/group file read from an image.
const MAX_ETC: u64 = 1 << 20;

/// The image's passwd and group reduced to root and `user` (a name or UID, optionally
/// `:GROUP`), or None when the image does not know that user.
pub(crate) fn users(root: &Root, user: &str) -> Option<(String, String)> {
    let name = user.split(':').next().unwrap_or(user);
    let passwd = read_small(root, "/etc/passwd")?;
    let group = read_small(root, "/etc/group").unwrap_or_default();
    let fields = |l: &str| l.split(':').map(str::to_string).collect::<Vec<_>>();
    let wanted = passwd.lines().map(fields).find(|f| f.len() >= 4 && (f[0] == name || f[2] == name))?;
    let mut p: Vec<String> = Vec::new();
    for line in passwd.lines() {
        let f = fields(line);
        if f.len() >= 4 && (f[0] == "root" || f[0] == wanted[0]) && !p.contains(&line.to_string()) {
            p.push(line.to_string());
        }
    }
    let gids = ["0".to_string(), wanted[3].clone()];
    let g: Vec<&str> = group
        .lines()
        .filter(|l| {
            let f = fields(l);
            f.len() >= 3 && (gids.contains(&f[2]) || f.get(3).is_some_and(|m| m.split(',').any(|u| u == wanted[0])))
        })
        .collect();
    Some((p.join("\n") + "\n", g.join("\n") + "\n"))
}

/// A small text file of the image (links resolved inside it), or None.
pub(crate) fn read_small(root: &Root, inside: &str) -> Option<String> {
    let w = root.walk(inside)?;
    let mut s = String::new();
    std::fs::File::open(root.host_path(&w.real)).ok()?.take(MAX_ETC).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Directories named after a program that exist in the image: `/etc/NAME`, `/usr/share/NAME`
/// (for "redis-server" also "redis").
pub(crate) fn likely_data(root: &Root, program: &str) -> Vec<String> {
    let base = program.rsplit('/').next().unwrap_or(program);
    let mut names = vec![base.to_string()];
    if let Some((stem, _)) = base.split_once('-') {
        names.push(stem.to_string());
    }
    let mut out = Vec::new();
    for n in names.iter().filter(|n| !n.is_empty()) {
        for dir in ["/etc", "/usr/share", "/var/lib"] {
            let p = format!("{dir}/{n}");
            if (root.is_dir(&p) || root.walk(&p).is_some()) && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_keep_root_and_the_configured_user_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/redis")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\nredis:x:100:101::/var/lib/redis:/usr/sbin/nologin\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\ndaemon:x:1:\nredis:x:101:\nadm:x:4:redis\n").unwrap();
        let root = Root::new(dir.path());
        let (p, g) = users(&root, "redis").unwrap();
        assert_eq!(p, "root:x:0:0:root:/root:/bin/bash\nredis:x:100:101::/var/lib/redis:/usr/sbin/nologin\n");
        assert_eq!(g, "root:x:0:\nredis:x:101:\nadm:x:4:redis\n");
        assert!(users(&root, "100:101").is_some());
        assert!(users(&root, "nobody").is_none());
        assert_eq!(likely_data(&root, "/usr/bin/redis-server"), ["/etc/redis"]);
    }
}
