//! The Node single-executable injector on arbitrary "node" executables: reading the fuse,
//! verifying, and injecting a blob must return Ok or a reason, never panic. The first byte
//! splits the input into the executable and the blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use staticize::sea;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let cut = (split as usize * rest.len()) / 255;
    let (node, blob) = rest.split_at(cut.min(rest.len()));
    let _ = sea::fuse_state(node);
    let _ = sea::verify(node);
    if let Ok(out) = sea::inject(node, blob) {
        // An injected executable must verify as ready.
        let _ = sea::verify(&out);
    }
});
