//! What a proof run runs, from the image's config as a container engine reads it: the
//! entrypoint followed by the command (arguments given to the run replace the command, as
//! `docker run IMAGE ARGS` does), the environment with the defaults engines add (PATH, HOME),
//! the user (a name looked up in the image's own /etc/passwd), and the working directory.

use std::path::Path;

use crate::error::{Error, Result};
use crate::prove::sandbox::RunSpec;

/// The PATH docker and podman set when the image sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The parts of an image config a run needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    /// Entrypoint words.
    pub entrypoint: Vec<String>,
    /// Entrypoint followed by Cmd.
    pub command: Vec<String>,
    /// KEY=VALUE.
    pub env: Vec<String>,
    /// User, as the config has it.
    pub user: Option<String>,
    /// WorkingDir.
    pub workdir: Option<String>,
}

/// The run for `config` inside `root`, with `args` (when given) replacing the command.
pub(crate) fn run_spec(root: &Path, config: &Config, args: Option<&[String]>) -> Result<RunSpec> {
    let argv: Vec<String> = match args {
        Some(a) => config.entrypoint.iter().chain(a).cloned().collect(),
        None => config.command.clone(),
    };
    if argv.is_empty() {
        return Err(Error::usage(
            format!("{}: nothing to run: it has no entrypoint or command", root.display()),
            "give the command to run: check ROOT --run -- PROGRAM ARGS…",
        ));
    }
    let mut env: Vec<(String, String)> =
        config.env.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
    for (k, v) in [("PATH", DEFAULT_PATH), ("HOME", "/root")] {
        if !env.iter().any(|(key, _)| key == k) {
            env.push((k.into(), v.into()));
        }
    }
    let ids = match config.user.as_deref() {
        Some(u) => Some(ids(root, u)?),
        None => None,
    };
    let workdir = config.workdir.clone().filter(|w| root.join(w.trim_start_matches('/')).is_dir());
    Ok(RunSpec { argv, env, ids, workdir, emulator: None })
}

/// UID and GID for a config's User: "UID[:GID]" or a name the image's /etc/passwd knows.
fn ids(root: &Path, user: &str) -> Result<(u32, u32)> {
    let (who, group) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    let entry = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 3 && f[0] == who);
    let uid = match (who.parse::<u32>(), &entry) {
        (Ok(n), _) => n,
        (Err(_), Some(f)) => f[2].parse().unwrap_or(0),
        (Err(_), None) => {
            return Err(Error::input(
                root,
                format!("the image runs as user {who}, which its /etc/passwd does not name"),
                Some("add the user (--with passwd gives root and nonroot) or run as --user UID[:GID]".into()),
            ));
        }
    };
    let gid = match group {
        Some(g) => g.parse().ok().or_else(|| group_id(root, g)).unwrap_or(uid),
        None => entry.and_then(|f| f[3].parse().ok()).unwrap_or(uid),
    };
    Ok((uid, gid))
}

fn group_id(root: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(root.join("etc/group")).ok()?;
    text.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 2 && f[0] == name)?[2].parse().ok()
}

/// Where `program` (as the run names it) is inside `root`: itself when absolute, else the
/// first PATH directory that has it.
pub(crate) fn locate(root: &Path, program: &str, env: &[(String, String)]) -> Option<String> {
    if program.starts_with('/') {
        return Some(program.to_string());
    }
    let path = env.iter().find(|(k, _)| k == "PATH").map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    path.split(':')
        .map(|d| crate::closure::root::join(d, program))
        .find(|p| root.join(p.trim_start_matches('/')).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_replace_the_command_and_engines_defaults_are_set() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nnonroot:x:65532:65532::/home:/x\n")
            .unwrap();
        let config = Config {
            entrypoint: vec!["/app".into()],
            command: vec!["/app".into(), "serve".into()],
            env: vec!["A=b=c".into()],
            user: Some("nonroot".into()),
            workdir: Some("/nowhere".into()),
        };
        let spec = run_spec(t.path(), &config, Some(&["--version".into()])).unwrap();
        assert_eq!(spec.argv, ["/app", "--version"]);
        assert_eq!(spec.env[0], ("A".into(), "b=c".into()));
        assert!(spec.env.iter().any(|(k, _)| k == "PATH"));
        assert_eq!(spec.ids, Some((65532, 65532)));
        assert_eq!(spec.workdir, None, "a working directory the image lacks is not entered");
        assert_eq!(run_spec(t.path(), &config, None).unwrap().argv, ["/app", "serve"]);
        let stranger = Config { user: Some("app".into()), ..config };
        assert!(run_spec(t.path(), &stranger, None).is_err());
    }
}
