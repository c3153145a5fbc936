//! Software bills of materials: what staticize put into an output (sources, Go modules, Rust
//! crates, npm packages, the Debian packages of every file in the image), written as SPDX 2.3
//! JSON or CycloneDX 1.5 JSON beside the output, and the package records (`status.d`) that let
//! scanners see into an image. Knows nothing about the command line.

pub mod attached;
pub mod collect;
pub mod contents;
pub mod cyclonedx;
pub mod debian;
pub mod gobuildinfo;
pub mod image;
pub mod model;
pub mod spdx;
pub mod staticlibs;
pub mod statusd;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub use model::{Ecosystem, FileRef, Format, Package, Sbom, purl_escape};

impl Sbom {
    /// The document's bytes in `format`.
    pub fn to_bytes(&self, format: Format) -> Vec<u8> {
        let mut s = self.clone();
        s.normalize();
        let value = match format {
            Format::Spdx => spdx::document(&s),
            Format::CycloneDx => cyclonedx::document(&s),
        };
        let mut bytes = serde_json::to_vec_pretty(&value).expect("an SBOM serialises");
        bytes.push(b'\n');
        bytes
    }
}

/// Where the SBOM of an output at `output` goes: `NAME.tar` → `NAME.spdx.json` beside it.
pub fn path_beside(output: &Path, format: Format) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".tar").unwrap_or(&name);
    output.with_file_name(format!("{stem}{}", format.suffix()))
}

/// Writes the document atomically (temp file and rename) and returns its path.
pub fn write_beside(sbom: &Sbom, format: Format, output: &Path) -> Result<PathBuf> {
    let dest = path_beside(output, format);
    let mut tmp = crate::output::temp_beside(&dest)?;
    std::io::Write::write_all(&mut tmp, &sbom.to_bytes(format)).map_err(|e| Error::io("write the SBOM", &dest, e))?;
    crate::output::persist(tmp, &dest, 0o644)?;
    Ok(dest)
}

#[cfg(test)]
mod tests;
