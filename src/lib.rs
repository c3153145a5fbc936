//! staticize: turn a program into a checked static executable and a single-file scratch image.
//!
//! The pipeline runs one way: a driver builds an ELF, `elf` judges it, the image modules write
//! the archive, `report` prints what happened.

pub mod bundle;
pub mod check;
pub mod cli;
pub mod closure;
pub mod commands;
pub mod driver;
pub mod elf;
pub mod error;
pub mod gate;
pub mod image;
pub mod input;
pub mod output;
pub mod pack;
pub mod pipeline;
pub mod pkgdb;
pub mod platform;
pub mod process;
pub mod progress;
pub mod report;
pub mod sbom;
pub mod sea;
pub mod slim;
pub mod strip;
pub mod toolchain;
