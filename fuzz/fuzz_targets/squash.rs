//! `staticize squash`: arbitrary bytes opened as an image archive and squashed (every layer,
//! then from layer 2 on), the result written and read back. Must return Ok or an error, never
//! panic; whatever squash writes must open again with no problem (no unsafe name, no link out
//! of the archive, digests that match).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticize::image::Compression;
use staticize::image::read::{Archive, ReadLimits};
use staticize::squash::{SquashOptions, squash};

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("staticize-fuzz-squash-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("make the scratch directory");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    let input = dir.join("in.tar");
    std::fs::write(&input, data).expect("write the fuzz input");
    let limits = ReadLimits { max_layer_bytes: 16 << 20, ..ReadLimits::default() };
    for from_layer in [1, 2] {
        let opts = SquashOptions { from_layer, compression: Compression::None, reference: None, epoch: 0, limits, platform: None };
        let Ok(s) = squash(&input, &opts, dir) else { continue };
        let out = dir.join("out.tar");
        staticize::image::archive::write_tar(&s.assembled, &out).expect("a squashed image can be written");
        let again = Archive::open(&out).expect("a squashed image opens");
        assert!(again.problems.is_empty(), "squash wrote an archive with problems: {:?}", again.problems);
        for layer in &again.images[0].layers {
            let mut r = again.layer(layer).expect("its layers open");
            while let Some(e) = r.next_entry().expect("its layers read") {
                assert!(e.problem.is_none() || e.kind == staticize::image::read::EntryKind::Symlink, "{e:?}");
            }
            r.finish().expect("its layers end well");
        }
    }
});
