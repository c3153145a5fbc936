//! The standard library of a known interpreter (python3, perl, ruby, lua), found from the
//! program's real file name and its installation prefix, without running it: an interpreter
//! without its library tree does not start (`No module named 'encodings'`).

use std::path::{Path, PathBuf};

use crate::closure::root::Root;

/// An interpreter's library trees on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stdlib {
    /// "python", "perl", "ruby" or "lua".
    pub runtime: &'static str,
    /// The interpreter's real path (links resolved): where it goes in the image, so its
    /// prefix — and so its library directories — are the same as on the host.
    pub program: PathBuf,
    /// The directories to carry, each to the same path in the image.
    pub dirs: Vec<PathBuf>,
    /// The virtual environment the program was named in, when it was (python's `pyvenv.cfg`).
    pub venv: Option<Venv>,
}

/// A python virtual environment (any tree with a `pyvenv.cfg`): python takes it as its
/// prefix only when started by a path inside it, so the image carries the tree and starts
/// the program by that path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Venv {
    /// The directory holding `pyvenv.cfg`.
    pub root: PathBuf,
    /// The program's path inside it, as named (`VENV/bin/python`, links not resolved).
    pub entry: PathBuf,
}

/// The virtual environment `named` (an absolute path inside `root`, links not resolved) is in:
/// `pyvenv.cfg` beside it or one directory up, where python looks.
pub(crate) fn venv_in(root: &Root, named: &Path) -> Option<Venv> {
    let dir = named.parent()?;
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .find(|d| root.walk(&d.join("pyvenv.cfg").to_string_lossy()).is_some())
        .map(|d| Venv { root: d.to_path_buf(), entry: named.to_path_buf() })
}

/// The standard library of `program` when it is a known interpreter, None otherwise (or when
/// none of its directories exists).
pub(crate) fn find(program: &Path) -> Option<Stdlib> {
    let real = std::fs::canonicalize(program).ok()?;
    let mut s = find_in(&Root::new("/"), &real.to_string_lossy())?;
    if s.runtime == "python" {
        let named = std::path::absolute(program).ok()?;
        s.venv = venv_in(&Root::new("/"), &named);
    }
    Some(s)
}

/// The standard library of the interpreter at `real` (an absolute path inside `root`, links
/// resolved), its directories as paths inside `root`: `slim` finds an image's python this way.
pub(crate) fn find_in(root: &Root, real: &str) -> Option<Stdlib> {
    let real = Path::new(real);
    let name = real.file_name()?.to_string_lossy().into_owned();
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let version = &name[base.len()..];
    // PREFIX/bin/NAME → PREFIX.
    let prefix = real.parent()?.parent()?.to_path_buf();
    let lib = prefix.join("lib");
    let arch_libs = arch_lib_dirs(root, &lib);
    let (runtime, dirs): (&'static str, Vec<PathBuf>) = match base {
        "python" => ("python", python_dirs(root, &lib, version)),
        "perl" => {
            let mut d = vec![prefix.join("share/perl"), prefix.join("share/perl5")];
            for a in &arch_libs {
                d.extend(["perl", "perl-base", "perl5"].map(|p| a.join(p)));
            }
            ("perl", d)
        }
        "ruby" => ("ruby", std::iter::once(lib.join("ruby")).chain(arch_libs.iter().map(|a| a.join("ruby"))).collect()),
        "lua" => {
            let v = if version.is_empty() { String::new() } else { format!("/{version}") };
            let mut d = vec![prefix.join(format!("share/lua{v}"))];
            d.extend(arch_libs.iter().map(|a| a.join(format!("lua{v}"))));
            ("lua", d)
        }
        _ => return None,
    };
    let dirs: Vec<PathBuf> = dirs.into_iter().filter(|d| root.is_dir(&d.to_string_lossy())).collect();
    (!dirs.is_empty()).then_some(Stdlib { runtime, program: real.to_path_buf(), dirs, venv: None })
}

/// The names in a directory inside the root.
fn names_in(root: &Root, dir: &Path) -> Vec<String> {
    let Some(real) = root.real_dir(&dir.to_string_lossy()) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(root.host_path(&real)) else { return Vec::new() };
    let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// PREFIX/lib/pythonX.Y holding `os.py` (the landmark CPython looks for): the one the
/// program's name gives, else the highest installed.
fn python_dirs(root: &Root, lib: &Path, version: &str) -> Vec<PathBuf> {
    let landmark = |d: &Path| root.walk(&d.join("os.py").to_string_lossy()).is_some();
    let exact = lib.join(format!("python{version}"));
    if version.contains('.') && landmark(&exact) {
        return vec![exact];
    }
    let mut found: Vec<(u32, u32, PathBuf)> = names_in(root, lib)
        .into_iter()
        .filter_map(|n| {
            let (major, minor) = n.strip_prefix("python")?.split_once('.')?;
            let dir = lib.join(&n);
            let ok = major.starts_with(version) && landmark(&dir);
            ok.then(|| Some((major.parse().ok()?, minor.parse().ok()?, dir)))?
        })
        .collect();
    found.sort();
    found.pop().map(|(_, _, p)| vec![p]).unwrap_or_default()
}

/// PREFIX/lib/TRIPLET directories (Debian's multiarch library directories).
fn arch_lib_dirs(root: &Root, lib: &Path) -> Vec<PathBuf> {
    names_in(root, lib)
        .into_iter()
        .filter(|n| n.contains("-linux-"))
        .map(|n| lib.join(n))
        .filter(|d| root.is_dir(&d.to_string_lossy()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_python_prefix_is_found_by_its_landmark() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        std::fs::create_dir_all(p.join("bin")).unwrap();
        std::fs::create_dir_all(p.join("lib/python3.11/lib-dynload")).unwrap();
        std::fs::create_dir_all(p.join("lib/python3.9")).unwrap();
        std::fs::write(p.join("lib/python3.11/os.py"), b"").unwrap();
        std::fs::write(p.join("bin/python3.11"), b"").unwrap();
        std::os::unix::fs::symlink("python3.11", p.join("bin/python3")).unwrap();
        let s = find(&p.join("bin/python3")).unwrap();
        assert_eq!(s.runtime, "python");
        assert_eq!(s.program, std::fs::canonicalize(p.join("bin/python3.11")).unwrap());
        assert_eq!(s.dirs, [std::fs::canonicalize(p).unwrap().join("lib/python3.11")]);
        std::fs::write(p.join("bin/cat"), b"").unwrap();
        assert_eq!(find(&p.join("bin/cat")), None);
    }
}
