//! The standard library of a known interpreter (python3, perl, ruby, lua), found from the
//! program's real file name and its installation prefix, without running it: an interpreter
//! without its library tree does not start (`No module named 'encodings'`).

use std::path::{Path, PathBuf};

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
}

/// The standard library of `program` when it is a known interpreter, None otherwise (or when
/// none of its directories exists).
pub(crate) fn find(program: &Path) -> Option<Stdlib> {
    let real = std::fs::canonicalize(program).ok()?;
    let name = real.file_name()?.to_string_lossy().into_owned();
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let version = &name[base.len()..];
    // PREFIX/bin/NAME → PREFIX.
    let prefix = real.parent()?.parent()?.to_path_buf();
    let lib = prefix.join("lib");
    let arch_libs = arch_lib_dirs(&lib);
    let (runtime, dirs): (&'static str, Vec<PathBuf>) = match base {
        "python" => ("python", python_dirs(&lib, version)),
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
    let dirs: Vec<PathBuf> = dirs.into_iter().filter(|d| d.is_dir()).collect();
    (!dirs.is_empty()).then_some(Stdlib { runtime, program: real, dirs })
}

/// PREFIX/lib/pythonX.Y holding `os.py` (the landmark CPython looks for): the one the
/// program's name gives, else the highest installed.
fn python_dirs(lib: &Path, version: &str) -> Vec<PathBuf> {
    let exact = lib.join(format!("python{version}"));
    if version.contains('.') && exact.join("os.py").is_file() {
        return vec![exact];
    }
    let Ok(entries) = std::fs::read_dir(lib) else { return Vec::new() };
    let mut found: Vec<(u32, u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let (major, minor) = n.strip_prefix("python")?.split_once('.')?;
            let ok = major.starts_with(version) && e.path().join("os.py").is_file();
            ok.then(|| Some((major.parse().ok()?, minor.parse().ok()?, e.path())))?
        })
        .collect();
    found.sort();
    found.pop().map(|(_, _, p)| vec![p]).unwrap_or_default()
}

/// PREFIX/lib/TRIPLET directories (Debian's multiarch library directories).
fn arch_lib_dirs(lib: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(lib) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-linux-") && e.path().is_dir())
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
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
