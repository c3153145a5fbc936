//! The readers of a downloaded Debian source package's text (`--dep`): the .dsc (version and
//! file list) and debian/copyright (licence). Must return a value, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use staticize::deps::source::{license_of, parse_dsc};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_dsc(&text);
    let _ = license_of(&text);
});
