//! ELF verdicts from the headers alone (goblin): is a file static, static-pie or dynamic,
//! which interpreter and libraries it asks for, its machine, and whether it is stripped.

use std::path::{Path, PathBuf};

use goblin::elf::dynamic::{DF_1_PIE, DT_FLAGS_1, DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME, Dynamic};
use goblin::elf::header::{ET_DYN, ET_EXEC};
use goblin::elf::program_header::{PT_INTERP, ProgramHeader};
use goblin::elf::section_header::{SHT_SYMTAB, SectionHeader};
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

/// One line describing a verdict: "static, amd64, stripped" or "dynamic (…) needs libc.so.6".
impl std::fmt::Display for Linkage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.label())?;
        if let Some(i) = &self.interp {
            write!(f, " (interpreter {i})")?;
        }
        if !self.needed.is_empty() {
            write!(f, ", needs {}", self.needed.join(" "))?;
        }
        write!(f, ", {}, {}", self.machine, if self.stripped { "stripped" } else { "not stripped" })
    }
}

/// The verdict's one-line description (the same as its `Display`).
pub fn describe(l: &Linkage) -> String {
    l.to_string()
}

/// Reads `path` and returns its linkage; non-ELF, truncated or unreadable files are errors
/// naming the file.
pub fn inspect(path: &Path) -> Result<Linkage> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    if let Some(what) = crate::input::not_regular(&meta.file_type()) {
        return Err(Error::input(path, format!("is {what}, not an executable"), None));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    inspect_open(&file, path)
}

/// Judges an open file by mapping it: only the pages the headers, the dynamic section and its
/// strings live on are read, not the whole (possibly 100 MB) file.
pub fn inspect_open(file: &std::fs::File, path: &Path) -> Result<Linkage> {
    // SAFETY: the map is read-only and dropped before returning; a file truncated by someone
    // else while we read it is the one hazard, the same one every mmap-based ELF tool accepts.
    let map = unsafe { memmap2::Mmap::map(file) };
    match map {
        Ok(map) => inspect_bytes(&map),
        // Empty files and special files cannot be mapped: read them instead.
        Err(_) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut &*file, &mut bytes).map_err(|e| Error::io("read", path, e))?;
            inspect_bytes(&bytes)
        }
    }
    .map_err(|message| Error::input(path, message, None))
}

/// True for a separate debug-info file (`objcopy --only-keep-debug`, /usr/lib/debug/…): its
/// `.text`, `.dynamic` or `.interp` section is SHT_NOBITS, so the code and the loader's data
/// the program headers point at are not in the file.
fn debug_only(bytes: &[u8], sections: &[SectionHeader], shstrndx: usize) -> bool {
    let Some(names) = sections.get(shstrndx) else { return false };
    let Some(strtab) = (names.sh_offset as usize)
        .checked_add(names.sh_size as usize)
        .and_then(|end| bytes.get(names.sh_offset as usize..end))
    else {
        return false;
    };
    let name = |off: usize| strtab.get(off..).and_then(|t| t.split(|b| *b == 0).next());
    sections.iter().any(|sh| {
        sh.sh_type == goblin::elf::section_header::SHT_NOBITS
            && matches!(name(sh.sh_name), Some(b".text" | b".dynamic" | b".interp"))
    })
}

/// Why a buffer is not an ELF staticize can judge, in words for the user.
pub type NotElf = String;

/// Classifies an in-memory ELF image. Only the ELF header, the program headers, the dynamic
/// section with the strings it names, and the section header table are read: on a mapped file
/// that is a few pages, whatever the file's size (goblin's full parse would also walk the
/// symbol string tables and every relocation).
pub fn inspect_bytes(bytes: &[u8]) -> std::result::Result<Linkage, NotElf> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err(describe_non_elf(bytes));
    }
    let invalid = |e: goblin::error::Error| format!("truncated or invalid ELF ({e})");
    let header = goblin::elf::Elf::parse_header(bytes).map_err(invalid)?;
    let container = header.container().map_err(invalid)?;
    let endian = header.endianness().map_err(invalid)?;
    let ctx = goblin::container::Ctx::new(container, endian);
    let phdrs = ProgramHeader::parse(bytes, header.e_phoff as usize, header.e_phnum as usize, ctx).map_err(invalid)?;
    let interp_ph = phdrs.iter().rfind(|ph| ph.p_type == PT_INTERP);
    let has_interp = interp_ph.is_some();
    let interp = interp_ph.filter(|ph| ph.p_filesz != 0).and_then(|ph| {
        let start = ph.p_offset as usize;
        let raw = bytes.get(start..start.checked_add(ph.p_filesz as usize - 1)?)?;
        std::str::from_utf8(raw).ok().map(str::to_string)
    });
    let dynamic = Dynamic::parse(bytes, &phdrs, ctx).map_err(invalid)?;
    let (mut needed, mut runpath, mut rpath, mut soname, mut flags_1) = (Vec::new(), Vec::new(), Vec::new(), None, 0);
    if let Some(d) = &dynamic {
        // The dynamic string table, bounds-checked once; strings are looked up lazily.
        let strtab = d.info.strtab.checked_add(d.info.strsz).and_then(|end| bytes.get(d.info.strtab..end));
        let string = |off: u64| -> Option<String> {
            let tail = strtab?.get(usize::try_from(off).ok()?..)?;
            let len = tail.iter().position(|b| *b == 0)?;
            std::str::from_utf8(&tail[..len]).ok().map(str::to_string)
        };
        let split = |v: &str| v.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>();
        for entry in &d.dyns {
            match entry.d_tag {
                DT_NEEDED => needed.extend(string(entry.d_val)),
                DT_RUNPATH => runpath.extend(string(entry.d_val).iter().flat_map(|v| split(v))),
                DT_RPATH => rpath.extend(string(entry.d_val).iter().flat_map(|v| split(v))),
                DT_SONAME if soname.is_none() => soname = string(entry.d_val),
                DT_FLAGS_1 if flags_1 == 0 => flags_1 = entry.d_val,
                _ => {}
            }
        }
    }
    let kind = link_kind(header.e_type, has_interp, !needed.is_empty(), flags_1 & DF_1_PIE != 0);
    let sections =
        SectionHeader::parse(bytes, header.e_shoff as usize, header.e_shnum as usize, ctx).map_err(invalid)?;
    // A separate debug-info file keeps the headers of the program it describes but none of its
    // code: neither check nor bundle may call it a program.
    let kind = if debug_only(bytes, &sections, header.e_shstrndx as usize) { LinkKind::OtherElf } else { kind };
    let stripped = !sections.iter().any(|sh| sh.sh_type == SHT_SYMTAB);
    Ok(Linkage {
        kind,
        interp: if has_interp { interp } else { None },
        needed,
        runpath,
        rpath,
        soname,
        machine: crate::platform::oci_name(header.e_machine).to_string(),
        e_machine: header.e_machine,
        is_64: container.is_big(),
        little_endian: endian.is_little(),
        stripped,
        size: bytes.len() as u64,
    })
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

/// The reason alone, without the path (the verdict already names the file).
pub fn plain_reason(e: &Error) -> String {
    match e {
        Error::Input { message, .. } => message.clone(),
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// The verdict from the ELF type, a PT_INTERP, DT_NEEDED entries and the DF_1_PIE flag: a
/// shared object with neither interpreter nor PIE flag is a library, not a program.
fn link_kind(e_type: u16, has_interp: bool, has_needed: bool, pie: bool) -> LinkKind {
    match e_type {
        ET_DYN if !has_interp && !pie => LinkKind::SharedLibrary,
        _ if has_interp || has_needed => LinkKind::Dynamic,
        ET_EXEC => LinkKind::Static,
        // Neither interpreter nor libraries, and (by the first arm) the PIE flag.
        ET_DYN => LinkKind::StaticPie,
        _ => LinkKind::OtherElf,
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
    fn link_kind_table() {
        use LinkKind::*;
        use goblin::elf::header::ET_REL;
        // (type, PT_INTERP, DT_NEEDED, DF_1_PIE) → verdict
        for (t, interp, needed, pie, want) in [
            (ET_EXEC, false, false, false, Static),
            (ET_EXEC, true, true, false, Dynamic),
            (ET_EXEC, false, true, false, Dynamic),
            (ET_DYN, false, false, true, StaticPie),
            (ET_DYN, true, true, true, Dynamic),
            (ET_DYN, true, false, false, Dynamic),
            (ET_DYN, false, true, true, Dynamic),
            (ET_DYN, false, true, false, SharedLibrary),
            (ET_DYN, false, false, false, SharedLibrary),
            (ET_REL, false, false, false, OtherElf),
            (ET_REL, false, true, false, Dynamic),
        ] {
            assert_eq!(link_kind(t, interp, needed, pie), want, "{t} {interp} {needed} {pie}");
        }
    }

    #[test]
    fn truncated_elf_is_an_error_not_a_panic() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for cut in [16, 63, 64, 200, 4096] {
            let r = inspect_bytes(&me[..cut]);
            assert!(r.is_err(), "cut at {cut} parsed: {r:?}");
        }
    }

    /// What goblin's full parse says, for comparing with the header-only reading.
    type Summary = (LinkKind, Option<String>, Vec<String>, (Vec<String>, Vec<String>), Option<String>, bool);

    fn full_parse(bytes: &[u8]) -> Option<Summary> {
        let elf = goblin::elf::Elf::parse(bytes).ok()?;
        let has_interp = elf.program_headers.iter().any(|ph| ph.p_type == PT_INTERP);
        let pie = elf.dynamic.as_ref().is_some_and(|d| d.info.flags_1 & DF_1_PIE != 0);
        let kind = link_kind(elf.header.e_type, has_interp, !elf.libraries.is_empty(), pie);
        let paths =
            |v: &Vec<&str>| v.iter().flat_map(|s| s.split(':')).filter(|s| !s.is_empty()).map(str::to_string).collect();
        Some((
            kind,
            elf.interpreter.filter(|_| has_interp).map(str::to_string),
            elf.libraries.iter().map(|s| s.to_string()).collect(),
            (paths(&elf.runpaths), paths(&elf.rpaths)),
            elf.soname.map(str::to_string),
            !elf.section_headers.iter().any(|sh| sh.sh_type == SHT_SYMTAB),
        ))
    }

    #[test]
    fn header_only_reading_agrees_with_goblins_full_parse() {
        let mut files = vec![std::env::current_exe().unwrap()];
        for dir in ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"] {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).take(400));
        }
        let mut compared = 0;
        for f in &files {
            let Ok(bytes) = std::fs::read(f) else { continue };
            let Some(want) = full_parse(&bytes) else { continue };
            let l = inspect_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let got = (l.kind, l.interp, l.needed, (l.runpath, l.rpath), l.soname, l.stripped);
            assert_eq!(got, want, "{}", f.display());
            compared += 1;
        }
        assert!(compared > 0, "no ELF files to compare");
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
        assert_eq!(me.machine, crate::platform::oci_name(me.e_machine));
    }
}
