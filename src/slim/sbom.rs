//! What a slim image carries, for its SBOM and its package records: the Debian package that
//! owns each carried file (or link), found in the IMAGE's own dpkg database — never the
//! host's — and what the carried programs' own bytes say (Go build info, Rust crates).

use std::path::Path;

use crate::closure::root::Root;
use crate::error::Result;
use crate::image::Rootfs;
use crate::image::rootfs::{Entry, Source};
use crate::sbom::collect::{self, Subject};
use crate::sbom::debian::{self, ClosureFile};
use crate::sbom::{Ecosystem, Package, Sbom};

/// The SBOM's contents before the image (and so its digest) exists.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlimSbom {
    /// The carried programs' own files (the document's subject contains them).
    pub program_files: Vec<crate::sbom::FileRef>,
    /// Debian packages (with their files), unowned files, Go modules, Rust crates.
    pub packages: Vec<Package>,
}

impl SlimSbom {
    /// The document for the written image: `name` its reference, `subject` its digest.
    pub(crate) fn sbom(&self, name: &str, subject: &str) -> Result<Sbom> {
        let mut program = Package::new(name, "", Ecosystem::Program);
        program.files = self.program_files.clone();
        let created = crate::epoch::source_date_epoch()?;
        let packages = self.packages.clone();
        let mut s = Sbom { name: name.to_string(), subject: subject.to_string(), created, program, packages };
        s.normalize();
        Ok(s)
    }
}

/// Finds the owners of every file and link `rootfs` took from the unpacked image at `root`,
/// adds one `status.d` record per owning package to `rootfs` (so scanners see them), and
/// reads the build info of each carried program (`programs`: paths inside the image).
pub(crate) fn collect(root: &Root, rootfs: &mut Rootfs, programs: &[String]) -> Result<SlimSbom> {
    let files = carried(root, rootfs);
    let (mut packages, paragraphs) = debian::owners(root.dir(), &files)?;
    crate::sbom::statusd::add(rootfs, &paragraphs)?;
    let mut program_files = Vec::new();
    for inside in programs {
        let Some(w) = root.walk(inside) else { continue };
        let host = root.host_path(&w.real);
        let s = Subject {
            name: inside,
            elf: &host,
            program_path: &w.real,
            artifact: None,
            inputs: &[],
            npm_dirs: &[],
            closure: None,
            host_program: None,
            runtime: None,
        };
        let c = collect::collect(&s)?;
        program_files.extend(c.program.files);
        packages.extend(c.packages);
    }
    // A carried program is the document's subject: listed as unowned too it would be twice.
    let own: Vec<String> = program_files.iter().map(|f| f.path.clone()).collect();
    for p in packages.iter_mut().filter(|p| p.ecosystem == Ecosystem::Unowned) {
        p.files.retain(|f| !own.contains(&f.path));
    }
    packages.retain(|p| p.ecosystem != Ecosystem::Unowned || !p.files.is_empty());
    Ok(SlimSbom { program_files, packages })
}

/// The regular files and links of `rootfs` that come from the unpacked image (generated
/// files such as /etc/passwd entries are not the image's packages' files).
fn carried(root: &Root, rootfs: &Rootfs) -> Vec<ClosureFile> {
    let mut out = Vec::new();
    for (path, entry) in rootfs.entries() {
        let inside = format!("/{path}");
        let host = match entry {
            Entry::File { source: Source::Host(h), .. } if h.starts_with(root.dir()) => h.clone(),
            // Only links to files: a directory link (/lib) is listed by every package with
            // files below it, so it says nothing about which package was carried.
            Entry::Symlink { .. } if root.walk(&inside).is_some() => root.host_path(&inside),
            _ => continue,
        };
        if Path::new(&host).symlink_metadata().is_ok() {
            out.push(ClosureFile { image_path: inside.clone(), inside, host_path: host });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::rootfs::{MODE_DATA, MODE_EXEC};
    use std::os::unix::fs::symlink;

    /// A root whose dpkg database says versions no host has.
    fn image_root() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for dir in ["var/lib/dpkg/info", "usr/lib/x86_64-linux-gnu", "usr/bin", "etc"] {
            std::fs::create_dir_all(d.join(dir)).unwrap();
        }
        symlink("usr/lib", d.join("lib")).unwrap();
        let status = "Package: libfake1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.9-image\n\n\
Package: fakeserver\nStatus: install ok installed\nArchitecture: amd64\nSource: fake (1.0-1)\nVersion: 1.0-1\n";
        std::fs::write(d.join("var/lib/dpkg/status"), status).unwrap();
        std::fs::write(d.join("var/lib/dpkg/info/libfake1:amd64.list"), "/lib/x86_64-linux-gnu/libfake.so.1\n")
            .unwrap();
        std::fs::write(d.join("var/lib/dpkg/info/fakeserver.list"), "/usr/bin/fakeserver\n/usr/bin/fake-link\n")
            .unwrap();
        std::fs::write(d.join("usr/lib/x86_64-linux-gnu/libfake.so.1"), b"lib").unwrap();
        std::fs::write(d.join("usr/bin/fakeserver"), b"#!/bin/sh\n").unwrap();
        symlink("fakeserver", d.join("usr/bin/fake-link")).unwrap();
        std::fs::write(d.join("etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\n").unwrap();
        t
    }

    #[test]
    fn owners_come_from_the_image_database_and_become_records() {
        let t = image_root();
        let root = Root::new(t.path());
        let mut rootfs = Rootfs::new();
        let host = |p: &str| Source::Host(root.host_path(p));
        rootfs
            .add_file(
                "/usr/lib/x86_64-linux-gnu/libfake.so.1",
                host("/usr/lib/x86_64-linux-gnu/libfake.so.1"),
                MODE_DATA,
            )
            .unwrap();
        rootfs.add_file("/usr/bin/fakeserver", host("/usr/bin/fakeserver"), MODE_EXEC).unwrap();
        rootfs.add_symlink("/usr/bin/fake-link", "fakeserver").unwrap();
        rootfs.add_file("/etc/passwd", Source::Bytes(b"root:x:0:0::/:\n".to_vec()), MODE_DATA).unwrap();
        let found = collect(&root, &mut rootfs, &[]).unwrap();
        let got: Vec<(&str, &str, usize)> =
            found.packages.iter().map(|p| (p.name.as_str(), p.version.as_str(), p.files.len())).collect();
        assert_eq!(got, [("fakeserver", "1.0-1", 1), ("libfake1", "9.9-image", 1)], "the link adds no file");
        let purl = found.packages[0].purl.as_deref().unwrap();
        assert_eq!(purl, "pkg:deb/debian/fakeserver@1.0-1?arch=amd64&distro=debian-12&upstream=fake");
        for name in ["libfake1", "fakeserver"] {
            let Some(Entry::File { source: Source::Bytes(b), .. }) =
                rootfs.get(&format!("/var/lib/dpkg/status.d/{name}"))
            else {
                panic!("no record for {name}")
            };
            assert!(String::from_utf8_lossy(b).starts_with(&format!("Package: {name}\n")));
        }
    }
}
