//! The `[probe.NAME]` tables of staticize.toml on arbitrary bytes: `prove::ask::table` must
//! return the tables or an error at its place in the file, never panic. It reads a directory's
//! staticize.toml, so each input goes to that file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("staticize-fuzz-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    std::fs::write(dir.join("staticize.toml"), data).expect("write the fuzz input");
    let _ = staticize::prove::ask::table(dir);
});
