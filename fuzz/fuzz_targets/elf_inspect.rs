//! ELF verdicts from arbitrary bytes: `elf::inspect_bytes` must return Ok or a reason, never
//! panic, loop or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = staticize::elf::inspect_bytes(data) {
        // The verdict's derived fields must be consistent with what was parsed.
        assert_eq!(l.size, data.len() as u64);
        assert_eq!(l.machine, staticize::platform::oci_name(l.e_machine));
    }
});
