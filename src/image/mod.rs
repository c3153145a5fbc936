//! Container images: the file system (rootfs), layers, the JSON documents and the single-file
//! archive. Knows nothing about compilers.

pub mod add;
pub mod archive;
pub mod auth;
pub mod compress;
pub mod extras;
pub mod layer;
pub mod load;
pub mod options;
pub mod paths;
pub mod push;
pub mod read;
pub mod reference;
pub mod rootfs;
pub mod spec;
pub mod squash;
pub mod tarstream;
#[cfg(test)]
pub(crate) mod testkit;
pub mod unpack;
pub mod waste;

pub use archive::{ImagePlan, PlatformImage, Written, write};
pub use layer::Compression;
pub use reference::ImageRef;
pub use rootfs::{Rootfs, Source};
