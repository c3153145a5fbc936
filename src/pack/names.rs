//! Every packed object answers to every name it was reached by.
//!
//! The launcher hands the libraries to glibc's loader as `--preload /proc/self/fd/N …`, and
//! the loader matches a `DT_NEEDED` against a loaded object by its path or its `DT_SONAME`
//! only. A program whose `DT_NEEDED` asks for `libfoo.so.7.0` (a file name, a link name, a
//! name patchelf wrote) while the file calls itself `libfoo.so.7` is not met by the pack: the
//! loader then searches the file system — the build machine's `/usr/lib`, where it happens to
//! work, and nothing in scratch ("cannot open shared object file").
//!
//! The packed *copy* of the asking object is changed to ask by the SONAME, when that can be
//! done without touching any other string: its `DT_NEEDED` (and the version requirement's file
//! name, `vn_file`, which the loader matches the same way) is pointed at a copy of the SONAME
//! already in `.dynstr` (patchelf leaves the old name there), or the string is overwritten in
//! place when the SONAME is not longer and no other reference points into it. An alias object
//! (a tiny library whose SONAME is the asked name) was the other way; it would need a copy of
//! the real library's version definitions, or the loader prints "no version information
//! available" for every versioned program. When neither edit is safe (or the library has no
//! SONAME at all), packing is refused, naming the name and the fix.
//!
//! [`unmet`] is the proof `check` runs on a pack: every `DT_NEEDED` of every packed object is
//! met by a packed object's SONAME (or, for musl, by the loader itself).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::input::{Input, Role};
use crate::closure::{Closure, EntryKind};
use crate::error::{Error, Result};

/// A name a packed copy was changed to ask by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Renamed {
    /// The object whose copy asks by the new name.
    pub object: String,
    /// The name it asked for.
    pub from: String,
    /// The SONAME it asks for now.
    pub to: String,
}

/// Makes every `DT_NEEDED` of every input answerable by a packed object's SONAME: the bytes
/// of the inputs whose copy had to change are set in [`Input::bytes`]. Names that no packed
/// object was reached by (missing libraries, allowed) are left alone.
pub(crate) fn answer_all(inputs: &mut [Input], closure: &Closure) -> Result<Vec<Renamed>> {
    let mut sonames: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_file: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (k, i) in inputs.iter().enumerate() {
        if i.role == Role::Program {
            continue;
        }
        if let Some(s) = crate::elf::inspect(&i.host).ok().and_then(|l| l.soname) {
            sonames.entry(s).or_insert(k);
        }
        by_file.insert(canonical(&i.host), k);
    }
    let mut renamed = Vec::new();
    for k in 0..inputs.len() {
        if inputs[k].role == Role::Interpreter {
            continue;
        }
        let bytes = std::fs::read(&inputs[k].host).map_err(|e| Error::io("read", &inputs[k].host, e))?;
        let Ok(linkage) = crate::elf::inspect_bytes(&bytes) else { continue };
        let mut copy = bytes;
        let mut changed = false;
        for name in &linkage.needed {
            if sonames.contains_key(name) {
                continue;
            }
            // The packed library this name reached, through the closure's files and links.
            let Some(&lib) = reached_by(name, closure).and_then(|f| by_file.get(&f)) else { continue };
            let refuse = |why: String| refuse(&inputs[k], name, &inputs[lib], why);
            let soname = crate::elf::inspect(&inputs[lib].host)
                .ok()
                .and_then(|l| l.soname)
                .ok_or_else(|| refuse("that library has no SONAME to ask for instead".into()))?;
            rename_needed(&mut copy, name, &soname).map_err(|why| refuse(why.into()))?;
            renamed.push(Renamed { object: inputs[k].name.clone(), from: name.clone(), to: soname });
            changed = true;
        }
        if changed {
            inputs[k].bytes = Some(copy);
        }
    }
    Ok(renamed)
}

fn refuse(asker: &Input, name: &str, lib: &Input, why: String) -> Error {
    Error::input(
        &asker.host,
        format!(
            "asks for {name}, which is {} but does not call itself so; glibc's loader matches a packed library only by its SONAME, and {why}",
            lib.host.display()
        ),
        Some(format!(
            "make it ask by the SONAME (patchelf --replace-needed {name} SONAME {}), or carry the libraries as files with staticize bundle",
            asker.host.display()
        )),
    )
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The real file a needed name was resolved to: the closure's file or link of that name.
fn reached_by(name: &str, closure: &Closure) -> Option<PathBuf> {
    closure
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Needed | EntryKind::Dlopen | EntryKind::Symlink))
        .find(|e| e.image_path.rsplit('/').next() == Some(name))
        .map(|e| canonical(&e.host_path))
}

/// A needed name that no packed object answers to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmet {
    /// The packed object that asks.
    pub object: String,
    /// The name it asks for.
    pub needed: String,
}

/// musl's loader is its C library and answers to these names itself.
const MUSL_OWN: [&str; 7] = ["c", "pthread", "rt", "m", "dl", "util", "xnet"];

/// The `DT_NEEDED` names of the packed objects (`(name, role, bytes)`) that no packed object's
/// SONAME answers to; with `musl`, the loader answers for libc's own names.
pub fn unmet<'a>(objects: impl IntoIterator<Item = (&'a str, Role, &'a [u8])>, musl: bool) -> Vec<Unmet> {
    let parsed: Vec<(&str, Role, crate::elf::Linkage)> =
        objects.into_iter().filter_map(|(n, r, b)| crate::elf::inspect_bytes(b).ok().map(|l| (n, r, l))).collect();
    let answers: Vec<&str> =
        parsed.iter().filter(|(_, r, _)| *r != Role::Program).filter_map(|(_, _, l)| l.soname.as_deref()).collect();
    let mut out = Vec::new();
    for (name, _, l) in &parsed {
        for n in &l.needed {
            let by_musl = musl
                && n.strip_prefix("lib").and_then(|s| s.split_once(".so")).is_some_and(|(b, _)| MUSL_OWN.contains(&b));
            if !answers.contains(&n.as_str()) && !by_musl {
                out.push(Unmet { object: name.to_string(), needed: n.clone() });
            }
        }
    }
    out
}

/// Why a needed name could not be changed.
type Why = &'static str;

use goblin::elf::dynamic::{
    DT_AUDIT, DT_CONFIG, DT_DEPAUDIT, DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB, DT_VERDEF,
    DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM,
};

/// The filter tags (glibc's elf.h), which goblin does not name.
const DT_AUXILIARY: u64 = 0x7fff_fffd;
const DT_FILTER: u64 = 0x7fff_ffff;

/// Dynamic tags whose value is an offset into the dynamic string table.
const STRING_TAGS: [u64; 9] =
    [DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_AUXILIARY, DT_FILTER, DT_CONFIG, DT_DEPAUDIT, DT_AUDIT];

/// Where a reference to a string lives: a byte offset in the file of a 32- or 64-bit field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    at: usize,
    wide: bool,
}

/// Every reference into the dynamic string table: (field, string offset, what refers).
#[derive(Debug, Default)]
struct References {
    /// Tables the references were read from.
    strtab: usize,
    strsz: usize,
    all: Vec<(Field, u64, Kind)>,
    /// False when the symbol table's extent is unknown (no section headers): an in-place
    /// overwrite could then change a symbol's name.
    complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Needed,
    VersionFile,
    Other,
}

/// Changes the copy's `DT_NEEDED` `from` (and the version requirements on it) to `to`.
fn rename_needed(bytes: &mut [u8], from: &str, to: &str) -> std::result::Result<(), Why> {
    let refs = references(bytes)?;
    let table = bytes.get(refs.strtab..refs.strtab + refs.strsz).ok_or("its string table is outside the file")?;
    let at_str = |o: u64| -> &[u8] {
        let s = table.get(o as usize..).unwrap_or_default();
        &s[..s.iter().position(|b| *b == 0).unwrap_or(s.len())]
    };
    let asked: Vec<u64> = refs
        .all
        .iter()
        .filter(|(_, o, k)| *k == Kind::Needed && at_str(*o) == from.as_bytes())
        .map(|(_, o, _)| *o)
        .collect();
    let Some(&old) = asked.first() else { return Err("its DT_NEEDED was not found") };
    let to_change: Vec<Field> = refs
        .all
        .iter()
        .filter(|(_, o, k)| *o == old && matches!(k, Kind::Needed | Kind::VersionFile))
        .map(|(f, _, _)| *f)
        .collect();
    // A copy of the SONAME already in the table (a whole string or a string's tail).
    let mut pattern = to.as_bytes().to_vec();
    pattern.push(0);
    if let Some(p) = memchr::memmem::find(table, &pattern) {
        for f in to_change {
            write_field(bytes, f, p as u64);
        }
        return Ok(());
    }
    if to.len() > from.len() {
        return Err("the SONAME is longer than the name asked for and is not in its string table");
    }
    let end = old + from.len() as u64;
    let shared = refs.all.iter().any(|(f, o, _)| (*o > old && *o <= end) || (*o == old && !to_change.contains(f)));
    if shared || !refs.complete {
        return Err("its string is shared with other names");
    }
    let start = refs.strtab + old as usize;
    bytes[start..start + from.len()].fill(0);
    bytes[start..start + to.len()].copy_from_slice(to.as_bytes());
    Ok(())
}

fn write_field(bytes: &mut [u8], f: Field, v: u64) {
    if f.wide {
        bytes[f.at..f.at + 8].copy_from_slice(&v.to_le_bytes());
    } else {
        bytes[f.at..f.at + 4].copy_from_slice(&(v as u32).to_le_bytes());
    }
}

fn read(bytes: &[u8], at: usize, wide: bool) -> Option<u64> {
    Some(if wide {
        u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?)
    } else {
        u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as u64
    })
}

fn read16(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as u64)
}

/// Reads the dynamic section, the version tables and the symbols' names (little-endian ELF:
/// every architecture staticize packs for).
fn references(bytes: &[u8]) -> std::result::Result<References, Why> {
    let elf = goblin::elf::Elf::parse(bytes).map_err(|_| "it is not an ELF file staticize can read")?;
    if !elf.little_endian {
        return Err("it is a big-endian ELF file");
    }
    let wide = elf.is_64;
    let dynamic = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == goblin::elf::program_header::PT_DYNAMIC)
        .ok_or("it has no dynamic section")?;
    let to_file = |addr: u64| -> Option<usize> {
        elf.program_headers
            .iter()
            .filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD)
            .find(|p| addr >= p.p_vaddr && addr < p.p_vaddr + p.p_filesz)
            .map(|p| (addr - p.p_vaddr + p.p_offset) as usize)
    };
    let size = if wide { 16 } else { 8 };
    let mut refs = References::default();
    let mut tags: BTreeMap<u64, u64> = BTreeMap::new();
    let mut at = dynamic.p_offset as usize;
    while let (Some(tag), Some(val)) = (read(bytes, at, wide), read(bytes, at + size / 2, wide)) {
        if tag == 0 || at >= (dynamic.p_offset + dynamic.p_filesz) as usize {
            break;
        }
        if STRING_TAGS.contains(&tag) {
            let kind = if tag == DT_NEEDED { Kind::Needed } else { Kind::Other };
            refs.all.push((Field { at: at + size / 2, wide }, val, kind));
        }
        tags.entry(tag).or_insert(val);
        at += size;
    }
    refs.strtab = tags.get(&DT_STRTAB).and_then(|a| to_file(*a)).ok_or("it has no string table")?;
    refs.strsz = *tags.get(&DT_STRSZ).ok_or("it has no string table size")? as usize;
    if let (Some(a), Some(n)) = (tags.get(&DT_VERNEED).and_then(|a| to_file(*a)), tags.get(&DT_VERNEEDNUM)) {
        version_needs(bytes, a, *n, &mut refs).ok_or("its version requirements are damaged")?;
    }
    if let (Some(a), Some(n)) = (tags.get(&DT_VERDEF).and_then(|a| to_file(*a)), tags.get(&DT_VERDEFNUM)) {
        version_defs(bytes, a, *n, &mut refs).ok_or("its version definitions are damaged")?;
    }
    // The symbols' names: the table's extent comes from the section headers.
    let dynsym = elf.section_headers.iter().find(|s| s.sh_type == goblin::elf::section_header::SHT_DYNSYM);
    refs.complete = dynsym.is_some() || !tags.contains_key(&6);
    for s in elf.dynsyms.iter() {
        refs.all.push((Field { at: 0, wide: false }, s.st_name as u64, Kind::Other));
    }
    Ok(refs)
}

/// `Elf_Verneed` (16 bytes: version, count, file, aux, next) and its `Elf_Vernaux` (16 bytes:
/// hash, flags, other, name, next).
fn version_needs(bytes: &[u8], mut at: usize, n: u64, refs: &mut References) -> Option<()> {
    for _ in 0..n.min(4096) {
        refs.all.push((Field { at: at + 4, wide: false }, read(bytes, at + 4, false)?, Kind::VersionFile));
        let (count, mut aux) = (read16(bytes, at + 2)?, at + read(bytes, at + 8, false)? as usize);
        for _ in 0..count.min(4096) {
            refs.all.push((Field { at: aux + 8, wide: false }, read(bytes, aux + 8, false)?, Kind::Other));
            match read(bytes, aux + 12, false)? {
                0 => break,
                next => aux += next as usize,
            }
        }
        match read(bytes, at + 12, false)? {
            0 => break,
            next => at += next as usize,
        }
    }
    Some(())
}

/// `Elf_Verdef` (20 bytes: version, flags, index, count, hash, aux, next) and its
/// `Elf_Verdaux` (8 bytes: name, next).
fn version_defs(bytes: &[u8], mut at: usize, n: u64, refs: &mut References) -> Option<()> {
    for _ in 0..n.min(4096) {
        let (count, mut aux) = (read16(bytes, at + 6)?, at + read(bytes, at + 12, false)? as usize);
        for _ in 0..count.min(4096) {
            refs.all.push((Field { at: aux, wide: false }, read(bytes, aux, false)?, Kind::Other));
            match read(bytes, aux + 4, false)? {
                0 => break,
                next => aux += next as usize,
            }
        }
        match read(bytes, at + 16, false)? {
            0 => break,
            next => at += next as usize,
        }
    }
    Some(())
}
