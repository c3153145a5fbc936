//! What a cache registry sends back (issue 30) on arbitrary bytes: `remote_cache::entry::check`
//! (the entry's manifest, its artifact type, key annotation and one layer) must accept or refuse
//! with a reason, and `remote_cache::archive::unpack` (the layer: zstd, then a tar) must unpack
//! or refuse, writing nothing outside its directory; a blob entry's manifest
//! (`remote_cache::entry::check_blob`) and the layer blob it names, inflated and hashed as the
//! blob cache checks it (`image::blobcache::unpacked_digest`, gzip and zstd) — never panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticize::image::Compression;
use staticize::image::blobcache::unpacked_digest;
use staticize::remote_cache::{Key, archive, blobs, entry};

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| std::env::temp_dir().join(format!("staticize-fuzz-cache-{}", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let key = Key { kind: "deps".into(), name: "zlib".into(), text: "recipe=zlib\n".into() };
    let _ = entry::check(data, &key);
    let gzip = Compression::Gzip.media_type();
    let _ = entry::check_blob(data, &blobs::key("v1-gzip6-1024-00", gzip), gzip);
    for c in [Compression::Gzip, Compression::Zstd] {
        let _ = unpacked_digest(data, c, 1 << 20);
    }
    let root = scratch();
    let _ = std::fs::remove_dir_all(root);
    let dest = root.join("entry");
    std::fs::create_dir_all(&dest).expect("create the fuzz directory");
    let _ = archive::unpack(data, &dest, "fuzz");
});
