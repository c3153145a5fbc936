//! Which files of an image go into which layer (`--layers auto`): a carried program's
//! libraries at the bottom, one layer per Debian package that owns them (the largest first,
//! the rest together once the count reaches its cap), then the `--with` extras, then the
//! program and its own files on top. What changes least sits lowest, so a rebuild after a
//! change to the program keeps every layer under it — and a registry that has them is not
//! sent them again. The cutting itself is [`crate::image::layering`].

use std::collections::BTreeSet;

use crate::image::layering::{MAX_LAYERS, Part};
use crate::image::rootfs::{Rootfs, normalize};
use crate::sbom::model::{Ecosystem, Package};

/// The layer of the `--with` extras: the entries `before` held (the file system right after
/// the extras went in) that are still the same in `after` (an `--add` may replace one: then
/// it is the application's). None when there are no extras.
pub(super) fn extras_part(before: &Rootfs, after: &Rootfs) -> Option<Part> {
    let paths: BTreeSet<String> = before
        .entries()
        .filter(|(path, entry)| after.get(path) == Some(*entry))
        .map(|(path, _)| path.clone())
        .collect();
    (!paths.is_empty()).then(|| Part { what: "extras (--with)".to_string(), paths })
}

/// The libraries' layers from the packages that own the carried files (`program_path`, the
/// program's own file, stays on top): one per package, largest first by the bytes of its
/// files in `rootfs`; past the cap, the rest share one layer. Files no package owns share a
/// layer too. Each package's `/var/lib/dpkg/status.d` record goes with its files. A program
/// that is a shared `runtime` (node, whose apps are files on top) gets the first layer itself.
pub(super) fn runtime_parts(
    packages: &[Package],
    rootfs: &Rootfs,
    program_path: &str,
    runtime: Option<&str>,
) -> Vec<Part> {
    let program = normalize(program_path).unwrap_or_default();
    let mut owned: Vec<(u64, String, BTreeSet<String>)> = Vec::new();
    let mut unowned = BTreeSet::new();
    for p in packages {
        let mut paths: BTreeSet<String> =
            p.files.iter().filter_map(|f| normalize(&f.path).ok()).filter(|f| *f != program).collect();
        if p.ecosystem == Ecosystem::Unowned {
            unowned.append(&mut paths);
            continue;
        }
        if paths.is_empty() {
            continue;
        }
        if let Ok(record) = normalize(&format!("{}/{}", crate::sbom::statusd::DIR, p.name)) {
            if rootfs.get(&record).is_some() {
                paths.insert(record);
            }
        }
        let bytes = paths.iter().map(|f| file_size(rootfs, f)).sum();
        owned.push((bytes, p.name.clone(), paths));
    }
    // Largest first, then by name: the same packages always give the same layers.
    owned.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    // Room is left for the shared layer, the extras and the program (and the runtime).
    let own_layers = MAX_LAYERS - 3 - usize::from(runtime.is_some());
    let mut parts: Vec<Part> = Vec::new();
    if let Some(what) = runtime {
        parts.push(Part { what: format!("the runtime: {what}"), paths: [program.clone()].into() });
    }
    let mut rest = BTreeSet::new();
    for (i, (_, name, mut paths)) in owned.into_iter().enumerate() {
        if i < own_layers {
            parts.push(Part { what: format!("libraries of the Debian package {name}"), paths });
        } else {
            rest.append(&mut paths);
        }
    }
    rest.append(&mut unowned);
    if !rest.is_empty() {
        parts.push(Part { what: "other libraries".to_string(), paths: rest });
    }
    parts
}

/// The bytes of the file at `path` (0 for a link or a directory).
fn file_size(rootfs: &Rootfs, path: &str) -> u64 {
    match rootfs.get(path) {
        Some(crate::image::rootfs::Entry::File { source: crate::image::Source::Host(h), .. }) => {
            std::fs::metadata(h).map(|m| m.len()).unwrap_or(0)
        }
        Some(crate::image::rootfs::Entry::File { source: crate::image::Source::Bytes(b), .. }) => b.len() as u64,
        _ => 0,
    }
}

/// The parts below the extras (libraries) put under `parts` (the extras), bottom first.
pub(super) fn under(runtime: Vec<Part>, parts: &mut Vec<Part>) {
    let above = std::mem::replace(parts, runtime);
    parts.extend(above);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Source;
    use crate::image::rootfs::MODE_DATA;
    use crate::sbom::model::FileRef;

    fn names(parts: &[Part]) -> std::collections::BTreeMap<String, usize> {
        parts.iter().map(|p| (p.what.clone(), p.paths.len())).collect()
    }

    fn package(name: &str, eco: Ecosystem, files: &[&str]) -> Package {
        Package {
            name: name.into(),
            version: String::new(),
            ecosystem: eco,
            purl: None,
            licenses: Vec::new(),
            sha256: None,
            supplier: None,
            files: files.iter().map(|f| FileRef { path: f.to_string(), sha256: String::new() }).collect(),
            linked: false,
        }
    }

    #[test]
    fn packages_get_their_own_layers_up_to_the_cap() {
        let mut r = Rootfs::new();
        let mut packages = Vec::new();
        for i in 0..MAX_LAYERS {
            let f = format!("/usr/lib/lib{i}.so");
            r.add_file(&f, Source::Bytes(vec![0; 100 + 20 * i]), MODE_DATA).unwrap();
            packages.push(package(&format!("lib{i}"), Ecosystem::Debian, &[&f]));
        }
        r.add_file("/var/lib/dpkg/status.d/lib0", Source::Bytes(b"Package: lib0".to_vec()), MODE_DATA).unwrap();
        packages.push(package("", Ecosystem::Unowned, &["/opt/x.so", "/app"]));
        let parts = runtime_parts(&packages, &r, "/app", None);
        assert_eq!(parts.len(), MAX_LAYERS - 2);
        // The largest package is first; the smallest share the last layer with the unowned file.
        assert_eq!(parts[0].what, format!("libraries of the Debian package lib{}", MAX_LAYERS - 1));
        let last = parts.last().unwrap();
        assert_eq!(last.what, "other libraries");
        assert!(last.paths.contains("opt/x.so") && last.paths.contains("usr/lib/lib0.so"));
        assert!(last.paths.contains("var/lib/dpkg/status.d/lib0"), "the record goes with its files");
        assert!(!parts.iter().any(|p| p.paths.contains("app")), "the program stays on top");
        assert_eq!(names(&parts).values().sum::<usize>(), MAX_LAYERS + 2);
    }
}
