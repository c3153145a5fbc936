//! The gate's image measurer on arbitrary archives: `gate::measure::image` must return Ok or an
//! error naming the archive, never panic. It reads from a path, so each input goes to a file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| std::env::temp_dir().join(format!("staticize-fuzz-measure-{}.tar", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the fuzz input");
    let _ = staticize::gate::measure::image(path, true);
});
