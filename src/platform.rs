//! The CPU architectures staticize builds for, and every name each one goes by: the OCI /
//! Docker / Go name ("arm64"), the GNU / uname name ("aarch64"), the ELF machine number, the zig
//! and Rust target triples. One parser for `--platform` and `--binary OS/ARCH=…`, one host.

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
    /// Every architecture, in a fixed order.
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

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

    /// The ELF header's e_machine.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::Amd64 => goblin::elf::header::EM_X86_64,
            Arch::Arm64 => goblin::elf::header::EM_AARCH64,
        }
    }

    /// The architecture an OCI name ("arm64") stands for, if staticize builds for it.
    pub fn from_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The zig target triple for a static musl program.
    pub fn zig_target(self) -> String {
        format!("{}-linux-musl", self.uname())
    }

    /// The GNU (autoconf `--host` / `--build`) triple for `libc` ("musl", "glibc"):
    /// "aarch64-linux-musl", "x86_64-linux-gnu".
    pub fn gnu_triple(self, libc: &str) -> String {
        format!("{}-linux-{}", self.uname(), if libc == "musl" { "musl" } else { "gnu" })
    }

    /// The Rust target triple for `libc` ("musl", "gnu").
    pub fn rust_triple(self, libc: &str) -> String {
        format!("{}-unknown-linux-{libc}", self.uname())
    }

    /// "linux/arm64".
    pub fn platform(self) -> String {
        format!("linux/{}", self.name())
    }

    /// Parses one platform ("linux/arm64", "arm64", "linux/arm64/v8", "x86_64"); `flag` names
    /// the option in errors.
    pub fn parse(flag: &str, v: &str) -> Result<Arch> {
        let bad = || {
            Error::usage(
                format!("{flag} '{v}' is not a platform staticize can build"),
                format!("write OS/ARCH with OS linux and ARCH amd64 or arm64, e.g. {flag} linux/arm64"),
            )
        };
        let parts: Vec<&str> = v.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [a] => ("linux", *a, None),
            [o, a] => (*o, *a, None),
            [o, a, var] => (*o, *a, Some(*var)),
            _ => return Err(bad()),
        };
        let arch = match arch {
            "amd64" | "x86_64" => Arch::Amd64,
            "arm64" | "aarch64" => Arch::Arm64,
            _ => return Err(bad()),
        };
        if os != "linux" {
            return Err(bad());
        }
        // arm64's only variant is v8, which is also what it means without one: keep it implicit
        // so the same platform always gives the same bytes.
        match (arch, variant) {
            (_, None) | (Arch::Arm64, Some("v8")) => Ok(arch),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The architectures asked for with `--platform` (comma-separated or repeated), in the order
/// given and without repeats; empty when none is given.
pub(crate) fn parse_platforms(values: &[String]) -> Result<Vec<Arch>> {
    let mut out = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')).filter(|v| !v.trim().is_empty()) {
        let a = Arch::parse("--platform", v)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// The OCI name of any ELF machine ("amd64", "riscv64", …), for verdicts about programs
/// staticize did not build.
pub fn oci_name(e_machine: u16) -> &'static str {
    use goblin::elf::header::*;
    match e_machine {
        EM_X86_64 => "amd64",
        EM_AARCH64 => "arm64",
        EM_386 => "386",
        EM_ARM => "arm",
        EM_RISCV => "riscv64",
        EM_PPC64 => "ppc64le",
        EM_S390 => "s390x",
        EM_MIPS => "mips",
        other => goblin::elf::header::machine_to_str(other),
    }
}

/// (AT_PLATFORM base name, Debian multiarch triplet) of an ELF machine: the names ld.so
/// expands `$PLATFORM` to and the directories Debian keeps its libraries in.
pub(crate) fn loader_names(machine: u16, is_64: bool, little: bool) -> (&'static str, Option<&'static str>) {
    use goblin::elf::header::*;
    match (machine, is_64, little) {
        (EM_X86_64, true, _) => ("x86_64", Some("x86_64-linux-gnu")),
        (EM_X86_64, false, _) => ("x86_64", Some("x86_64-linux-gnux32")),
        (EM_386, _, _) => ("i686", Some("i386-linux-gnu")),
        (EM_AARCH64, _, true) => ("aarch64", Some("aarch64-linux-gnu")),
        (EM_AARCH64, _, false) => ("aarch64_be", Some("aarch64_be-linux-gnu")),
        (EM_ARM, _, _) => ("v7l", Some("arm-linux-gnueabihf")),
        (EM_RISCV, true, _) => ("riscv64", Some("riscv64-linux-gnu")),
        (EM_PPC64, _, true) => ("powerpc64le", Some("powerpc64le-linux-gnu")),
        (EM_PPC64, _, false) => ("powerpc64", Some("powerpc64-linux-gnu")),
        (EM_S390, _, _) => ("s390x", Some("s390x-linux-gnu")),
        (EM_MIPS, true, true) => ("mips64", Some("mips64el-linux-gnuabi64")),
        (EM_MIPS, false, true) => ("mips", Some("mipsel-linux-gnu")),
        _ => ("unknown", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse() {
        let v = parse_platforms(&["linux/arm64,linux/amd64".into(), "arm64".into()]).unwrap();
        assert_eq!(v, [Arch::Arm64, Arch::Amd64]);
        assert!(parse_platforms(&[]).unwrap().is_empty());
        assert_eq!(Arch::parse("--platform", "linux/arm64/v8").unwrap(), Arch::Arm64);
        assert_eq!(Arch::parse("--platform", "x86_64").unwrap(), Arch::Amd64);
        for bad in ["windows/amd64", "linux/riscv64", "linux/amd64/v3", "a/b/c/d"] {
            let err = Arch::parse("--platform", bad).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::EXIT_USAGE, "{bad}");
        }
    }

    #[test]
    fn names_agree() {
        for a in Arch::ALL {
            assert_eq!(oci_name(a.elf_machine()), a.name());
            assert_eq!(Arch::from_name(a.name()), Some(a));
            assert_eq!(loader_names(a.elf_machine(), true, true).0, a.uname());
        }
        assert_eq!(Arch::Arm64.zig_target(), "aarch64-linux-musl");
        assert_eq!(Arch::Amd64.rust_triple("musl"), "x86_64-unknown-linux-musl");
        assert_eq!(Arch::Arm64.gnu_triple("musl"), "aarch64-linux-musl");
        assert_eq!(Arch::Amd64.gnu_triple("glibc"), "x86_64-linux-gnu");
    }
}
