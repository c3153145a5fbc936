//! Packed-file headers from arbitrary bytes: `pack::read` (what `check` and the launcher
//! parse, one shared reader) must return None, a pack or its damage, never panic or read
//! outside the input; a pack it accepts must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Ok(p)) = staticize::pack::read(data) {
        let sum: u64 = p.entries.iter().map(|e| e.size).sum();
        assert_eq!(sum, p.unpacked_bytes);
        assert!(p.launcher_bytes + p.payload_bytes <= data.len() as u64);
        assert_eq!(p.entries[0].role, staticize::pack::Role::Program);
    }
});
