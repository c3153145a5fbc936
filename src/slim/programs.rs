//! Which programs an image runs, found from its config and its own files: the entrypoint (a
//! shell-form one through its shell to the command it runs, a script to its interpreter) and
//! the `--program` ones, each looked up in the image's PATH and working directory.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use crate::closure::root::{Root, join};
use crate::error::{Error, Result};

/// Scripts followed through their interpreters at most this deep (`#!` to `#!`).
const MAX_SCRIPT_DEPTH: usize = 4;

/// One file an image's command needs, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Needed {
    /// The path inside the image, as the config or the script names it (links not resolved).
    pub path: String,
    /// How it was found: "entrypoint", "shell of a shell-form entrypoint", "interpreter of
    /// /app/run.sh", "--program", "script".
    pub why: String,
    /// True for an ELF program (its closure goes in); false for a script (the file alone).
    pub elf: bool,
}

/// Where the image looks for commands.
pub(crate) struct Lookup<'a> {
    /// The unpacked image.
    pub root: &'a Root,
    /// The config's PATH (Debian's default when it has none).
    pub path: String,
    /// The config's working directory ("/" when none).
    pub workdir: String,
}

/// The programs (and scripts) the config's entrypoint + cmd runs.
pub(crate) fn from_command(words: &[String], look: &Lookup) -> Result<Vec<Needed>> {
    let Some(first) = words.first() else {
        return Err(Error::usage(
            "the image has no entrypoint or cmd, so slim cannot tell which program it runs",
            "name it: staticize slim IMAGE --program /usr/bin/PROGRAM --entrypoint /usr/bin/PROGRAM",
        ));
    };
    let mut out = Vec::new();
    let base = first.rsplit('/').next().unwrap_or(first);
    if matches!(base, "sh" | "bash" | "dash" | "ash") && words.get(1).is_some_and(|w| w == "-c") {
        out.extend(follow(first, "shell of a shell-form entrypoint", look)?);
        if let Some(script) = words.get(2) {
            if let Some(cmd) = shell_command(script) {
                out.extend(follow(&cmd, &format!("command of the shell form {script:?}"), look)?);
            }
        }
        return Ok(out);
    }
    follow(first, "entrypoint", look)
}

/// The first command word of a shell command line: `exec`, `VAR=value` and `env` skipped.
pub(crate) fn shell_command(script: &str) -> Option<String> {
    let words = shlex::split(script)?;
    words.into_iter().find(|w| !w.contains('=') && w != "exec" && w != "env" && !w.starts_with('-'))
}

/// A program named by `word` (a path, or a name looked up in PATH), followed through `#!`
/// lines to the ELF program that runs it.
pub(crate) fn follow(word: &str, why: &str, look: &Lookup) -> Result<Vec<Needed>> {
    let mut out = Vec::new();
    let mut word = word.to_string();
    let mut why = why.to_string();
    for _ in 0..=MAX_SCRIPT_DEPTH {
        let path = find(&word, look)?;
        let real = look.root.walk(&path).map(|w| w.real).unwrap_or_else(|| path.clone());
        match shebang(look.root, &real) {
            Some((interp, arg)) => {
                out.push(Needed { path: path.clone(), why, elf: false });
                why = format!("interpreter of {path}");
                let interp_base = interp.rsplit('/').next().unwrap_or(&interp);
                word = match (interp_base, arg) {
                    // `#!/usr/bin/env node`: env runs whatever PATH finds.
                    ("env", Some(a)) => a.split_whitespace().find(|w| !w.starts_with('-')).unwrap_or("").to_string(),
                    _ => interp,
                };
            }
            None => {
                out.push(Needed { path, why, elf: true });
                return Ok(out);
            }
        }
    }
    Err(Error::input(
        look.root.host_path(&word),
        format!("scripts run scripts more than {MAX_SCRIPT_DEPTH} deep; not followed"),
        Some("name the program with --program".into()),
    ))
}

/// The path inside the image a command word runs: itself when it has a '/', else the first
/// executable file of that name in PATH.
fn find(word: &str, look: &Lookup) -> Result<String> {
    let candidates: Vec<String> = if word.starts_with('/') {
        vec![word.to_string()]
    } else if word.contains('/') {
        let joined = join(&look.workdir, word);
        // "./start.sh" from /app is /app/start.sh: "." parts dropped (".." is left to Root).
        vec![format!("/{}", joined.split('/').filter(|p| !p.is_empty() && *p != ".").collect::<Vec<_>>().join("/"))]
    } else {
        look.path.split(':').filter(|d| d.starts_with('/')).map(|d| join(d, word)).collect()
    };
    for c in &candidates {
        if let Some(w) = look.root.walk(c) {
            let exec =
                std::fs::metadata(look.root.host_path(&w.real)).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
            if exec || word.contains('/') {
                return Ok(c.clone());
            }
        }
    }
    Err(Error::input(
        look.root.host_path(word.trim_start_matches('/')),
        format!("the image has no program '{word}' (looked in {})", candidates.join(", ")),
        Some("name it with its path inside the image: --program /usr/bin/NAME".into()),
    ))
}

/// The interpreter and its optional argument when `real` (a file inside the root) starts with
/// `#!`.
fn shebang(root: &Root, real: &str) -> Option<(String, Option<String>)> {
    let mut head = [0u8; 256];
    let f = std::fs::File::open(root.host_path(real)).ok()?;
    let n = f.take(256).read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|b| *b == b'\n').unwrap_or(line.len())];
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    let (interp, arg) = match line.split_once(char::is_whitespace) {
        Some((i, a)) => (i.to_string(), Some(a.trim().to_string()).filter(|a| !a.is_empty())),
        None => (line.to_string(), None),
    };
    (!interp.is_empty()).then_some((interp, arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_commands_skip_assignments_and_exec() {
        assert_eq!(shell_command("exec redis-server --port 1").as_deref(), Some("redis-server"));
        assert_eq!(shell_command("A=1 B='x y' env node app.js").as_deref(), Some("node"));
        assert_eq!(shell_command("'unclosed").as_deref(), None);
    }

    #[test]
    fn scripts_are_followed_to_their_interpreter_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("usr/bin")).unwrap();
        std::fs::create_dir_all(d.join("app")).unwrap();
        std::fs::write(d.join("usr/bin/node"), b"\x7fELF").unwrap();
        std::fs::set_permissions(d.join("usr/bin/node"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(d.join("app/run"), b"#!/usr/bin/env node\nconsole.log(1)\n").unwrap();
        std::fs::set_permissions(d.join("app/run"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(d.join("app/start.sh"), b"#!/app/run -x\n").unwrap();
        let root = Root::new(d);
        let look = Lookup { root: &root, path: "/usr/local/bin:/usr/bin".into(), workdir: "/app".into() };
        let got = from_command(&["./start.sh".into()], &look).unwrap();
        let paths: Vec<(&str, bool)> = got.iter().map(|n| (n.path.as_str(), n.elf)).collect();
        assert_eq!(paths, [("/app/start.sh", false), ("/app/run", false), ("/usr/bin/node", true)]);
        assert_eq!(got[2].why, "interpreter of /app/run");
        let shell = from_command(&["/usr/bin/node".into(), "-c".into()], &look).unwrap();
        assert_eq!(shell.len(), 1);
        assert!(from_command(&["missing".into()], &look).unwrap_err().to_string().contains("no program 'missing'"));
    }
}
