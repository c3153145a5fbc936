//! Container images: the file system (rootfs), layers, the JSON documents and the single-file
//! archive. Knows nothing about compilers.

pub mod archive;
pub mod auth;
pub mod layer;
pub mod push;
pub mod read;
pub mod reference;
pub mod rootfs;
pub mod spec;
pub mod tarstream;
pub mod waste;

pub use archive::{ImagePlan, PlatformImage, Written, write};
pub use layer::Compression;
pub use reference::ImageRef;
pub use rootfs::{Rootfs, Source};
