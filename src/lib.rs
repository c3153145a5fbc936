//! staticize: turn a program into a checked static executable and a single-file scratch image.
//!
//! The pipeline runs one way: a driver builds an ELF, `elf` judges it, the image modules write
//! the archive, `report` prints what happened.

pub(crate) mod bundle;
pub(crate) mod check;
pub mod cli;
pub mod closure;
pub mod commands;
pub mod deps;
pub(crate) mod driver;
pub mod elf;
pub mod error;
pub mod gate;
pub mod image;
pub(crate) mod input;
pub mod output;
pub mod pack;
pub(crate) mod pipeline;
pub(crate) mod pkgdb;
pub mod platform;
pub(crate) mod process;
pub(crate) mod progress;
pub mod prove;
pub mod report;
pub mod sbom;
pub mod sea;
pub(crate) mod slim;
pub(crate) mod strip;
pub(crate) mod toolchain;
