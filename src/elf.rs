//! ELF verdicts from the headers alone (goblin): is a file static, static-pie or dynamic,
//! which interpreter and libraries it asks for, its machine, and whether it is stripped.

use std::io::Read;
use std::path::{Path, PathBuf};

use goblin::elf::dynamic::{DF_1_PIE, DT_FLAGS_1};
use goblin::elf::header::{ET_DYN, ET_EXEC};
use goblin::elf::program_header::PT_INTERP;
use goblin::elf::section_header::SHT_SYMTAB;
use serde::Serialize;

use crate::error::{Error, Result};

/// How an ELF file is linked, as the kernel and the loader will see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// A fixed-address executable with no interpreter and no needed libraries.
    Static,
    /// A position-independent executable that relocates itself: no interpreter, no libraries.
    StaticPie,
    /// An executable that needs a loader (PT_INTERP) or shared libraries (DT_NEEDED).
    Dynamic,
    /// A shared library: loadable, not runnable on its own.
    SharedLibrary,
    /// A relocatable object, core dump or other ELF that is not a program.
    OtherElf,
}

impl LinkKind {
    /// The word used in human output.
    pub fn label(self) -> &'static str {
        match self {
            LinkKind::Static => "static",
            LinkKind::StaticPie => "static-pie",
            LinkKind::Dynamic => "dynamic",
            LinkKind::SharedLibrary => "shared library",
            LinkKind::OtherElf => "not an executable",
        }
    }

    /// True when the program runs with nothing but itself (FROM scratch).
    pub fn is_self_contained(self) -> bool {
        matches!(self, LinkKind::Static | LinkKind::StaticPie)
    }
}

/// Everything staticize reads from an ELF file's headers.
#[derive(Debug, Clone, Serialize)]
pub struct Linkage {
    /// The verdict.
    pub kind: LinkKind,
    /// PT_INTERP, when present.
    pub interp: Option<String>,
    /// DT_NEEDED entries, in file order.
    pub needed: Vec<String>,
    /// DT_RUNPATH entries (split on ':').
    pub runpath: Vec<String>,
    /// DT_RPATH entries (split on ':').
    pub rpath: Vec<String>,
    /// DT_SONAME, when present.
    pub soname: Option<String>,
    /// The machine in Docker/OCI terms where known ("amd64", "arm64"), else the ELF name.
    pub machine: String,
    /// e_machine as a number, for comparing two files.
    pub e_machine: u16,
    /// True for ELFCLASS64.
    pub is_64: bool,
    /// True for little-endian.
    pub little_endian: bool,
    /// True when there is no symbol table (.symtab).
    pub stripped: bool,
    /// The file's size in bytes.
    pub size: u64,
}

/// Reads `path` and returns its linkage; non-ELF, truncated or unreadable files are errors
/// naming the file.
pub fn inspect(path: &Path) -> Result<Linkage> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    if let Some(what) = crate::input::not_regular(&meta.file_type()) {
        return Err(Error::input(path, format!("is {what}, not an executable"), None));
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    // Judge the magic number first: a huge file that is not an ELF is never read further.
    let mut head = Vec::with_capacity(HEAD);
    (&mut file).take(HEAD as u64).read_to_end(&mut head).map_err(|e| Error::io("read", path, e))?;
    if head.len() < 4 || &head[..4] != b"\x7fELF" {
        return Err(Error::input(path, describe_non_elf(&head), None));
    }
    let judged = if meta.len() <= READ_LIMIT {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        inspect_bytes(&bytes)
    } else {
        // SAFETY: the map is read-only and dropped before returning. Another process
        // truncating the file meanwhile could fault the read; that race is accepted for
        // files this large (reading them whole would cost their size in memory).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io("read", path, e))?;
        inspect_bytes(&map)
    };
    judged.map_err(|message| Error::input(path, message, None))
}

/// Bytes read to tell what a file is (magic number, a script's first line).
const HEAD: usize = 256;

/// Files up to this size are read into memory; larger ones are mapped, so a huge or sparse
/// file costs address space rather than memory.
const READ_LIMIT: u64 = 256 << 20;

/// Why a buffer is not an ELF staticize can judge, in words for the user.
pub type NotElf = String;

/// Classifies an in-memory ELF image.
pub fn inspect_bytes(bytes: &[u8]) -> std::result::Result<Linkage, NotElf> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err(describe_non_elf(bytes));
    }
    let elf = goblin::elf::Elf::parse(bytes).map_err(|e| format!("truncated or invalid ELF ({e})"))?;
    let interp = elf
        .program_headers
        .iter()
        .any(|ph| ph.p_type == PT_INTERP)
        .then(|| elf.interpreter.map(str::to_string))
        .flatten();
    let has_interp = elf.program_headers.iter().any(|ph| ph.p_type == PT_INTERP);
    let needed: Vec<String> = elf.libraries.iter().map(|s| s.to_string()).collect();
    let flags_1 =
        elf.dynamic.as_ref().and_then(|d| d.dyns.iter().find(|d| d.d_tag == DT_FLAGS_1).map(|d| d.d_val)).unwrap_or(0);
    let is_pie_flag = flags_1 & DF_1_PIE != 0;
    let kind = match elf.header.e_type {
        _ if has_interp || !needed.is_empty() => {
            if elf.header.e_type == ET_DYN && !has_interp && !is_pie_flag {
                LinkKind::SharedLibrary
            } else {
                LinkKind::Dynamic
            }
        }
        ET_EXEC => LinkKind::Static,
        ET_DYN if is_pie_flag => LinkKind::StaticPie,
        ET_DYN => LinkKind::SharedLibrary,
        _ => LinkKind::OtherElf,
    };
    let split = |v: &Vec<&str>| -> Vec<String> {
        v.iter().flat_map(|s| s.split(':')).filter(|s| !s.is_empty()).map(str::to_string).collect()
    };
    let stripped = !elf.section_headers.iter().any(|sh| sh.sh_type == SHT_SYMTAB);
    Ok(Linkage {
        kind,
        interp: if has_interp { interp } else { None },
        needed,
        runpath: split(&elf.runpaths),
        rpath: split(&elf.rpaths),
        soname: elf.soname.map(str::to_string),
        machine: machine_name(elf.header.e_machine).to_string(),
        e_machine: elf.header.e_machine,
        is_64: elf.is_64,
        little_endian: elf.little_endian,
        stripped,
        size: bytes.len() as u64,
    })
}

/// The OCI/Docker architecture name for an ELF machine, or the ELF name when unmapped.
pub fn machine_name(e_machine: u16) -> &'static str {
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

fn describe_non_elf(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        "is empty, not an ELF executable".into()
    } else if bytes.starts_with(b"#!") {
        let line = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
        format!("is a script ({}), not an ELF executable", String::from_utf8_lossy(line).trim())
    } else if bytes.len() < 4 && b"\x7fELF".starts_with(bytes) {
        "truncated ELF: shorter than its magic number".into()
    } else {
        "is not an ELF file".into()
    }
}

/// A file's verdict, or why it has none, for `check`.
#[derive(Debug, Clone, Serialize)]
pub struct FileVerdict {
    /// The file as the user named it.
    pub path: PathBuf,
    /// The linkage, when the file is an ELF.
    #[serde(flatten)]
    pub linkage: Option<Linkage>,
    /// Why the file could not be judged (not ELF, unreadable, directory…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FileVerdict {
    /// Judges one path, turning errors into a verdict rather than failing.
    pub fn of(path: &Path) -> Self {
        match inspect(path) {
            Ok(l) => FileVerdict { path: path.to_path_buf(), linkage: Some(l), error: None },
            Err(e) => FileVerdict { path: path.to_path_buf(), linkage: None, error: Some(plain_reason(&e)) },
        }
    }
}

fn plain_reason(e: &Error) -> String {
    match e {
        Error::Input { message, .. } => message.clone(),
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_elf_inputs_are_named() {
        assert!(inspect_bytes(b"").unwrap_err().contains("empty"));
        assert!(inspect_bytes(b"#!/bin/sh\necho hi\n").unwrap_err().contains("script (#!/bin/sh)"));
        assert!(inspect_bytes(b"hello world").unwrap_err().contains("not an ELF"));
        assert!(inspect_bytes(b"\x7fEL").unwrap_err().contains("truncated"));
    }

    #[test]
    fn truncated_elf_is_an_error_not_a_panic() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for cut in [16, 63, 64, 200, 4096] {
            let r = inspect_bytes(&me[..cut]);
            assert!(r.is_err(), "cut at {cut} parsed: {r:?}");
        }
    }

    #[test]
    fn fifos_and_devices_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // Opening a FIFO for reading blocks until a writer comes; this must return at once.
        assert!(inspect(&fifo).unwrap_err().to_string().contains("FIFO"));
        assert!(inspect(Path::new("/dev/zero")).unwrap_err().to_string().contains("a device"));
        assert!(inspect(dir.path()).unwrap_err().to_string().contains("a directory"));
    }

    #[test]
    fn huge_sparse_files_are_judged_without_reading_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let zeros = dir.path().join("zeros");
        std::fs::File::create(&zeros).unwrap().set_len(64 << 30).unwrap();
        assert!(inspect(&zeros).unwrap_err().to_string().contains("not an ELF"));
        // A real ELF followed by a 64 GiB hole: mapped, not read; the verdict is the program's.
        let elf = dir.path().join("elf");
        std::fs::copy(std::env::current_exe().unwrap(), &elf).unwrap();
        std::fs::OpenOptions::new().write(true).open(&elf).unwrap().set_len(64 << 30).unwrap();
        let l = inspect(&elf).unwrap();
        assert_eq!(l.size, 64 << 30);
        assert!(matches!(l.kind, LinkKind::Dynamic | LinkKind::StaticPie));
    }

    #[test]
    fn the_test_binary_itself_is_dynamic_or_static_pie() {
        let me = inspect(&std::env::current_exe().unwrap()).unwrap();
        assert!(matches!(me.kind, LinkKind::Dynamic | LinkKind::StaticPie));
        assert_eq!(me.machine, machine_name(me.e_machine));
    }
}
