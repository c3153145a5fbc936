//! The image-archive reader behind `inspect`, `push`, `gate` and `check IMAGE`: open arbitrary
//! bytes as an archive, then stream every layer's entries and data to the end. Must return Ok or
//! an error, never panic; the layer cap keeps a fuzzed gzip bomb from taking the run's time.
#![no_main]

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticize::image::read::{Archive, ReadLimits};

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| std::env::temp_dir().join(format!("staticize-fuzz-read-{}.tar", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the fuzz input");
    let limits = ReadLimits { max_layer_bytes: 16 << 20, ..ReadLimits::default() };
    let Ok(archive) = Archive::open_with(path, limits) else { return };
    for image in &archive.images {
        for layer in &image.layers {
            let Ok(mut reader) = archive.layer(layer) else { continue };
            while let Ok(Some(_entry)) = reader.next_entry() {
                let _ = std::io::copy(&mut reader.data().take(1 << 20), &mut std::io::sink());
            }
            let _ = reader.finish();
        }
    }
});
