//! Container images: the file system (rootfs), layers, the JSON documents and the single-file
//! archive. Knows nothing about compilers.

pub mod add;
pub mod archive;
pub mod blobcache;
pub mod compress;
pub mod extras;
pub mod layer;
pub mod layering;
pub mod options;
pub mod paths;
pub mod read;
pub mod referrer;
pub mod rootfs;
pub mod spec;
pub mod tarstream;
#[cfg(test)]
pub(crate) mod testkit;
pub mod unpack;

pub use archive::{ImagePlan, PlatformImage, Written, write};
pub use layer::Compression;
pub use rootfs::{Rootfs, Source};
