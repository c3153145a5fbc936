//! The SBOM readers of untrusted bytes: `inspect --sbom` and squash's SBOM (an archive
//! opened, every image's layers stacked, its dpkg database and `status.d` records parsed), and the readers of a program's own metadata (Go build
//! info, the Rust `.dep-v0` crate list). Must return Ok or an error, never panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticize::image::read::{Archive, ReadLimits};
use staticize::rust_crates as rust;
use staticize::sbom::{attached, gobuildinfo, image, statusd};

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| std::env::temp_dir().join(format!("staticize-fuzz-sbom-{}.tar", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let _ = statusd::parse(&String::from_utf8_lossy(data), "/fuzz");
    let _ = gobuildinfo::read(data);
    let _ = rust::read_embedded(data);
    let _ = rust::parse_section(data);
    let path = scratch();
    std::fs::write(path, data).expect("write the fuzz input");
    let limits = ReadLimits { max_layer_bytes: 16 << 20, ..ReadLimits::default() };
    let Ok(archive) = Archive::open_with(path, limits) else { return };
    let _ = attached::find(&archive);
    for i in 0..archive.images.len() {
        let _ = image::declared(&archive, i);
        let _ = image::packages(&archive, i);
    }
});
