//! What slim carries besides the programs and their closures: the files the command's
//! arguments name (`CMD ["python3", "/app/x.py"]` keeps `/app/x.py`), an interpreter's
//! standard library from the image's own files, and the closure of every ELF object that
//! came in with those or with `--keep` (a kept site-packages' extension modules bring their
//! libraries). All of it is resolved inside the image, never on the host.

use std::collections::BTreeSet;

use crate::bundle::stdlib;
use crate::closure::root::{Root, join};
use crate::closure::{self, ResolveOptions, Unresolved};
use crate::error::{Error, Result};
use crate::image::options::AddSpec;
use crate::image::rootfs::{Entry, Rootfs, Source};

/// The paths inside the image that the command's words (after the program) name: a word, or
/// the value of `--opt=VALUE`, that is an existing file or directory, absolute or from the
/// working directory. A shell form's script is split into its words. "/" is never a name.
pub(crate) fn named_by_arguments(words: &[String], root: &Root, workdir: &str) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let shell = words.first().is_some_and(|w| {
        matches!(w.rsplit('/').next(), Some("sh" | "bash" | "dash" | "ash")) && words.get(1).is_some_and(|c| c == "-c")
    });
    if shell {
        for script in words.iter().skip(2) {
            args.extend(shlex::split(script).unwrap_or_default());
        }
    } else {
        args.extend(words.iter().skip(1).cloned());
    }
    let mut out = Vec::new();
    for a in args {
        let value = match a.split_once('=') {
            Some((k, v)) if k.starts_with('-') => v.to_string(),
            _ => a,
        };
        if value.is_empty() || value.starts_with('-') || value.contains(['*', '?', '$', '\n']) {
            continue;
        }
        let inside = if value.starts_with('/') { value } else { join(workdir, &value) };
        let clean =
            format!("/{}", inside.split('/').filter(|p| !p.is_empty() && *p != ".").collect::<Vec<_>>().join("/"));
        if clean != "/" && root.walk_to_any(&clean).is_some() && !out.contains(&clean) {
            out.push(clean);
        }
    }
    out
}

/// The standard library of the interpreter at `real` (inside the image), as `--keep` paths,
/// with the virtual environment it was `named` in (`/venv/bin/python`), whose packages python
/// takes only with the tree's `pyvenv.cfg`.
pub(crate) fn stdlib_dirs(root: &Root, real: &str, named: &str) -> Option<(&'static str, Vec<String>)> {
    let s = stdlib::find_in(root, real)?;
    let mut dirs: Vec<String> = s.dirs.iter().map(|d| d.to_string_lossy().into_owned()).collect();
    if s.runtime == "python" {
        if let Some(v) = stdlib::venv_in(root, std::path::Path::new(named)) {
            dirs.push(v.root.to_string_lossy().into_owned());
        }
    }
    Some((s.runtime, dirs))
}

/// Adds the path `inside` (a file or tree of the image, the links on the way kept) to
/// `rootfs`; the number of files added.
pub(crate) fn add_path(rootfs: &mut Rootfs, root: &Root, inside: &str) -> Result<usize> {
    let Some(walked) = root.walk_to_any(inside) else { return Ok(0) };
    for l in &walked.links {
        if rootfs.get(&l.path).is_none() {
            rootfs.add_symlink(&l.path, &l.target)?;
        }
    }
    let spec = AddSpec { src: root.host_path(&walked.real), dest: walked.real.clone(), mode: None };
    Ok(crate::image::add::add(rootfs, &spec)?.files)
}

/// What [`closures`] added.
#[derive(Debug, Default)]
pub(crate) struct Added {
    /// ELF objects whose closure was resolved.
    pub objects: usize,
    /// Library files added.
    pub files: usize,
    /// Libraries the image does not have.
    pub unresolved: Vec<Unresolved>,
}

/// Resolves, inside the image, the closure of every dynamic ELF object in `rootfs` taken from
/// the image's files and not in `done` (paths inside the image), and adds it, until no new
/// object appears.
pub(crate) fn closures(
    rootfs: &mut Rootfs,
    root: &Root,
    done: &BTreeSet<String>,
    opts: &ResolveOptions,
) -> Result<Added> {
    let mut seen: BTreeSet<String> = done.iter().map(|p| p.trim_start_matches('/').to_string()).collect();
    let mut added = Added::default();
    loop {
        let todo: Vec<(String, std::path::PathBuf)> = rootfs
            .entries()
            .filter(|(p, _)| !seen.contains(p.as_str()))
            .filter_map(|(p, e)| match e {
                Entry::File { source: Source::Host(h), .. } if h.starts_with(root.dir()) => {
                    Some((p.clone(), h.clone()))
                }
                _ => None,
            })
            .collect();
        if todo.is_empty() {
            return Ok(added);
        }
        for (path, host) in todo {
            seen.insert(path.clone());
            if !crate::bundle::needs_libraries(&host) {
                continue;
            }
            let c = closure::resolve_inside(&format!("/{path}"), opts)?;
            added.objects += 1;
            let new = crate::bundle::add_closure(rootfs, &c)?;
            added.files += new.len();
            seen.extend(new.iter().map(|f| f.trim_start_matches('/').to_string()));
            added.unresolved.extend(c.unresolved);
        }
    }
}

/// The verdict when kept ELF objects miss libraries the image does not have.
pub(crate) fn missing_error(unresolved: &[Unresolved]) -> Error {
    let names: Vec<String> = unresolved.iter().map(ToString::to_string).collect();
    Error::Verdict {
        message: format!("libraries of the files slim keeps are not in the image: {}", names.join(", ")),
        help: Some("name the file with --lib PATH, or pass --allow-missing to write the image anyway".into()),
    }
}
