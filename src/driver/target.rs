//! Target platforms for cross builds: `--platform linux/amd64,linux/arm64` → architectures,
//! with each language's name for them.

use serde::Serialize;

use crate::error::{Error, Result};

/// A CPU architecture staticize can build for (always Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// x86-64.
    Amd64,
    /// 64-bit ARM.
    Arm64,
}

impl Arch {
    /// The architecture of the machine staticize runs on.
    pub fn host() -> Arch {
        match std::env::consts::ARCH {
            "aarch64" => Arch::Arm64,
            _ => Arch::Amd64,
        }
    }

    /// The OCI / Docker / Go name: "amd64", "arm64".
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The GNU / uname name: "x86_64", "aarch64".
    pub fn uname(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }

    /// The zig target triple for a static musl program.
    pub fn zig_target(self) -> String {
        format!("{}-linux-musl", self.uname())
    }

    /// "linux/arm64".
    pub fn platform(self) -> String {
        format!("linux/{}", self.name())
    }

    /// Parses one platform ("linux/arm64", "arm64", "linux/arm64/v8", "x86_64") with the same
    /// rules and messages as the image options.
    pub fn parse(text: &str) -> Result<Arch> {
        let p = crate::image::options::parse_platform("--platform", text)?;
        match p.architecture.as_str() {
            "arm64" => Ok(Arch::Arm64),
            "amd64" => Ok(Arch::Amd64),
            other => {
                Err(Error::usage(format!("--platform {other} is not supported"), "use linux/amd64 or linux/arm64"))
            }
        }
    }
}

/// The architectures asked for with `--platform` (comma-separated or repeated), in the order
/// given and without repeats; the host's when none is given.
pub fn parse_platforms(values: &[String]) -> Result<Vec<Arch>> {
    let mut out = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')).filter(|v| !v.trim().is_empty()) {
        let a = Arch::parse(v)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        out.push(Arch::host());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse() {
        let v = parse_platforms(&["linux/arm64,linux/amd64".into(), "arm64".into()]).unwrap();
        assert_eq!(v, [Arch::Arm64, Arch::Amd64]);
        assert_eq!(parse_platforms(&[]).unwrap(), [Arch::host()]);
        assert_eq!(Arch::parse("linux/arm64/v8").unwrap(), Arch::Arm64);
        let err = Arch::parse("windows/amd64").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }
}
