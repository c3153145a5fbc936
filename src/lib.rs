//! staticize: turn a program into a checked static executable and a single-file scratch image.
//!
//! The pipeline runs one way: a driver builds an ELF, `elf` judges it, the image modules write
//! the archive, `report` prints what happened.

pub(crate) mod bundle;
pub mod caches;
pub(crate) mod check;
pub mod cli;
pub mod closure;
pub mod commands;
pub(crate) mod config;
pub mod deps;
pub(crate) mod digest;
pub(crate) mod driver;
pub mod elf;
pub(crate) mod epoch;
pub mod error;
pub mod gate;
pub mod image;
pub(crate) mod input;
pub(crate) mod inspect;
pub(crate) mod naming;
pub mod output;
pub mod pack;
pub(crate) mod pipeline;
pub(crate) mod pkgdb;
pub mod platform;
pub(crate) mod process;
pub(crate) mod progress;
pub mod prove;
pub(crate) mod provenance;
pub mod reference;
pub(crate) mod registry;
pub mod remote_cache;
pub mod report;
pub mod sbom;
pub mod sea;
pub(crate) mod sign;
pub(crate) mod slim;
pub mod squash;
pub(crate) mod strip;
pub(crate) mod toolchain;

/// The Rust crate list a built program carries (its reader is fuzzed from `fuzz/`).
pub use driver::rust::crates as rust_crates;
