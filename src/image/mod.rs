//! Container images: the file system (rootfs), layers, the JSON documents and the single-file
//! archive. Knows nothing about compilers.

pub mod archive;
pub mod layer;
pub mod reference;
pub mod rootfs;
pub mod spec;
pub mod unpack;

pub use archive::{ImagePlan, PlatformImage, Written, write};
pub use layer::Compression;
pub use reference::ImageRef;
pub use rootfs::{Rootfs, Source};
