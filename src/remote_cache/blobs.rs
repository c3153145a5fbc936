//! The cache registry as the blob cache's second tier: a compressed layer is kept as an entry
//! of kind `blobs` whose one layer is the compressed blob itself (its own media type, so a
//! registry stores it once, the same blob an image push sends), found by the local cache's key
//! (format, compression settings, the tar's digest). The blob cache checks what comes back.

use std::cell::RefCell;
use std::path::Path;

use super::{Key, Session, Settings, entry};
use crate::error::{Error, Result};
use crate::image::blobcache::{self, Remote};
use crate::report::Reporter;

/// The cache registry behind the blob cache for one run.
pub struct Tier {
    session: RefCell<Session>,
}

impl Tier {
    /// The tier of `settings`; None without a cache registry.
    pub fn new(settings: &Settings, rep: &Reporter) -> Option<Tier> {
        settings.registry.as_ref()?;
        Some(Tier { session: RefCell::new(Session::new(settings, rep)) })
    }
}

/// The registry key of the local blob cache's entry `key`, of `media_type`.
pub fn key(key: &str, media_type: &str) -> Key {
    Key { kind: "blobs".into(), name: "layer".into(), text: format!("blob={key}\nmedia-type={media_type}\n") }
}

impl Remote for Tier {
    fn fetch(&self, k: &str, media_type: &str) -> Option<Vec<u8>> {
        let mut session = self.session.borrow_mut();
        let blob = session.fetch_blob(&key(k, media_type), media_type)?;
        session.pulled("layer", blob.len());
        Some(blob)
    }

    fn refuse(&self, k: &str, media_type: &str, why: &str) {
        self.session.borrow().refuse(&key(k, media_type), why);
    }

    fn store(&self, k: &str, media_type: &str, blob: &Path) {
        let Ok(meta) = std::fs::metadata(blob) else { return };
        if meta.len() > entry::MAX_LAYER {
            // Larger than any pull accepts: not worth the upload.
            return;
        }
        let Ok(bytes) = std::fs::read(blob) else { return };
        self.session.borrow_mut().store_blob(&key(k, media_type), &bytes, media_type);
    }
}

/// Pushes every compressed layer of this machine's blob cache to the cache registry of
/// `settings`, failing with the registry's error; (key, bytes) of each.
pub fn push_stored(settings: &Settings, rep: &Reporter) -> Result<Vec<(String, u64)>> {
    let mut session = Session::new(settings, rep);
    let mut out = Vec::new();
    for s in blobcache::stored(&blobcache::dir()) {
        let media = s.compression.media_type();
        let bytes = std::fs::read(&s.path).map_err(|e| Error::io("read", &s.path, e))?;
        let size = session.send_blob(&key(&s.key, media), &bytes, media)?;
        out.push((s.key, size));
    }
    Ok(out)
}
