//! Node single-executable applications (SEA) at the ELF level: inject the preparation blob into
//! a copy of node as the `NODE_SEA_BLOB` note, flip the sentinel fuse, and verify both from the
//! file itself.
//!
//! How node finds its blob decides the layout (postject-api.h, which node compiles in): at start
//! it walks the main program's program headers (dl_iterate_phdr), reads every PT_NOTE segment
//! *in memory*, and takes the first note whose name starts with "NODE_SEA"; it only looks when
//! the fuse string in its .rodata ends in ":1". So the note must sit in a PT_LOAD segment and be
//! listed by a PT_NOTE program header. There is never room for two more program headers after
//! the existing table, so the injector moves the table into the new segment (as patchelf does),
//! placed so that `vaddr - offset` equals the first PT_LOAD's: then every kernel — those that
//! compute AT_PHDR as `load address + e_phoff` and those that look up the PT_LOAD holding
//! e_phoff — hands ld.so the new table.

use goblin::elf::Elf;
use goblin::elf::program_header::{PF_R, PT_LOAD, PT_NOTE, PT_PHDR};
use serde::Serialize;

/// The words of the tree layout's launcher (see `driver::node`) that say the executable runs
/// the package tree its image carries: `check` finds them in the blob to say the file runs only
/// inside its image. Kept in the launcher's error message, so they mean what they say.
pub const NEEDS_TREE: &str = "this executable runs the package tree its image carries under ";

/// The sentinel fuse node checks before looking for a blob (without the ":0"/":1" suffix).
pub const FUSE: &str = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/// The note name node looks for.
pub const NOTE_NAME: &str = "NODE_SEA_BLOB";
/// The first four bytes of a SEA preparation blob (node's `kMagic`, little-endian).
pub const BLOB_MAGIC: u32 = 0x0143_da20;

/// The n_type of the injected note. Node ignores it; postject writes 0 as well.
const NOTE_TYPE: u32 = 0;
const EHDR_PHOFF: usize = 0x20;
const EHDR_PHENTSIZE: usize = 0x36;
const EHDR_PHNUM: usize = 0x38;
const PHDR_SIZE: usize = 56;
const NHDR_SIZE: usize = 12;
/// The most padding the injector adds between the end of the file and the new segment.
const MAX_GAP: u64 = 64 << 20;

/// The state of the sentinel fuse in a node binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fuse {
    /// No fuse string: this node cannot run a single-executable app (older than 18.16/19.7).
    Absent,
    /// ":0": a plain node, ready to be injected.
    Intact,
    /// ":1": node will look for its blob.
    Flipped,
    /// The string appears more than once; injecting would be a guess.
    Ambiguous,
}

/// What verification found in a SEA executable.
#[derive(Debug, Clone, Serialize)]
pub struct SeaCheck {
    /// The fuse.
    pub fuse: Fuse,
    /// The blob's size, when a NODE_SEA_BLOB note was found.
    pub blob_bytes: Option<u64>,
    /// Whether that note lies inside a PT_LOAD segment (node reads it from memory).
    pub note_loaded: bool,
    /// Whether the blob starts with node's SEA magic number.
    pub magic_ok: bool,
    /// Where the blob is in the file (start, end).
    #[serde(skip)]
    pub blob_range: Option<(usize, usize)>,
}

impl SeaCheck {
    /// True when node will find and run the blob.
    pub fn is_ready(&self) -> bool {
        self.fuse == Fuse::Flipped && self.blob_bytes.is_some_and(|n| n > 0) && self.note_loaded && self.magic_ok
    }

    /// What is wrong, in words, when the executable is not ready.
    pub fn problem(&self) -> Option<String> {
        let mut p = Vec::new();
        match self.fuse {
            Fuse::Flipped => {}
            Fuse::Intact => p.push(format!("the fuse {FUSE} was not flipped (still :0)")),
            Fuse::Absent => p.push(format!("there is no fuse {FUSE} (not a node 20+ binary)")),
            Fuse::Ambiguous => p.push("the fuse string appears more than once".to_string()),
        }
        match self.blob_bytes {
            None | Some(0) => p.push(format!("no {NOTE_NAME} note is listed by a PT_NOTE program header")),
            Some(_) if !self.note_loaded => p.push(format!("the {NOTE_NAME} note is not inside a loaded segment")),
            Some(_) if !self.magic_ok => p.push(format!("the {NOTE_NAME} note does not start with the SEA magic")),
            Some(_) => {}
        }
        (!p.is_empty()).then(|| p.join("; "))
    }
}

/// Finds the fuse in a node binary and reports its state with its offset (of the ':' suffix).
pub fn fuse_state(bytes: &[u8]) -> (Fuse, Option<usize>) {
    let mut hits = memchr::memmem::find_iter(bytes, FUSE.as_bytes());
    let Some(first) = hits.next() else { return (Fuse::Absent, None) };
    if hits.next().is_some() {
        return (Fuse::Ambiguous, None);
    }
    let colon = first + FUSE.len();
    match bytes.get(colon..colon + 2) {
        Some(b":0") => (Fuse::Intact, Some(colon)),
        Some(b":1") => (Fuse::Flipped, Some(colon)),
        _ => (Fuse::Ambiguous, None),
    }
}

/// Checks an executable: the fuse, and the NODE_SEA_BLOB note as node itself will look for it.
pub fn verify(bytes: &[u8]) -> Result<SeaCheck, String> {
    let elf = Elf::parse(bytes).map_err(|e| format!("not a readable ELF file ({e})"))?;
    let (fuse, _) = fuse_state(bytes);
    let mut check = SeaCheck { fuse, blob_bytes: None, note_loaded: false, magic_ok: false, blob_range: None };
    let loads: Vec<_> = elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD).collect();
    for ph in elf.program_headers.iter().filter(|p| p.p_type == PT_NOTE) {
        // Every sum is checked: the headers may say anything, and a wrapped offset would lie.
        let Ok(start) = usize::try_from(ph.p_offset) else { continue };
        let end = start.saturating_add(usize::try_from(ph.p_filesz).unwrap_or(usize::MAX)).min(bytes.len());
        let mut pos = start;
        while pos.checked_add(NHDR_SIZE).is_some_and(|h| h <= end) {
            let namesz = u32_at(bytes, pos, elf.little_endian) as usize;
            let descsz = u32_at(bytes, pos + 4, elf.little_endian) as usize;
            let name_at = pos + NHDR_SIZE;
            let Some(desc_at) = name_at.checked_add(align4(namesz)) else { break };
            let Some(next) = desc_at.checked_add(align4(descsz)) else { break };
            let name = name_at.checked_add(namesz).and_then(|e| bytes.get(name_at..e)).unwrap_or(&[]);
            if name.strip_suffix(&[0]).unwrap_or(name) == NOTE_NAME.as_bytes() && descsz > 0 {
                let desc = desc_at.checked_add(descsz).and_then(|e| bytes.get(desc_at..e)).unwrap_or(&[]);
                check.blob_bytes = Some(desc.len() as u64);
                check.blob_range = Some((desc_at, desc_at + desc.len()));
                check.magic_ok = desc.len() >= 4 && u32_at(desc, 0, elf.little_endian) == BLOB_MAGIC;
                // Where the note is in memory, and whether a PT_LOAD maps those bytes from the file.
                let vaddr = ph.p_vaddr.checked_add((pos - start) as u64);
                let vend = vaddr.and_then(|v| v.checked_add((desc_at + descsz - pos) as u64));
                check.note_loaded = match (vaddr, vend) {
                    (Some(vaddr), Some(vend)) => loads.iter().any(|l| {
                        l.p_vaddr <= vaddr
                            && l.p_vaddr.checked_add(l.p_filesz).is_some_and(|end| vend <= end)
                            && l.p_offset.checked_add(vaddr - l.p_vaddr) == Some(pos as u64)
                    }),
                    _ => false,
                };
                return Ok(check);
            }
            pos = next;
        }
    }
    Ok(check)
}

/// The assets of a SEA preparation blob (node 20.12+'s layout, little-endian): magic, flags, the
/// main script's path and code, the code cache when flag 4 says so, then with flag 8 a count and
/// each asset's key and bytes, every string a u64 length and its bytes.
pub fn assets(blob: &[u8]) -> Option<Vec<(&str, &[u8])>> {
    const CODE_CACHE: u32 = 1 << 2;
    const ASSETS: u32 = 1 << 3;
    let mut at = 8usize;
    let flags = u32::from_le_bytes(blob.get(4..8)?.try_into().ok()?);
    fn take<'a>(blob: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
        let len = usize::try_from(u64::from_le_bytes(blob.get(*at..*at + 8)?.try_into().ok()?)).ok()?;
        let start = *at + 8;
        let bytes = blob.get(start..start.checked_add(len)?)?;
        *at = start + len;
        Some(bytes)
    }
    take(blob, &mut at)?; // the main script's path
    take(blob, &mut at)?; // its code (or snapshot)
    if flags & CODE_CACHE != 0 {
        take(blob, &mut at)?;
    }
    let mut out = Vec::new();
    if flags & ASSETS != 0 {
        let count = u64::from_le_bytes(blob.get(at..at + 8)?.try_into().ok()?);
        at += 8;
        for _ in 0..count {
            let key = std::str::from_utf8(take(blob, &mut at)?).ok()?;
            out.push((key, take(blob, &mut at)?));
        }
    }
    Some(out)
}

/// Returns a copy of `node` (a plain, already stripped node binary) with `blob` injected as the
/// NODE_SEA_BLOB note and the fuse flipped. Supports 64-bit little-endian ELF (x86-64, arm64).
pub fn inject(node: &[u8], blob: &[u8]) -> Result<Vec<u8>, String> {
    let elf = Elf::parse(node).map_err(|e| format!("not a readable ELF file ({e})"))?;
    let fuse_at = check_inputs(node, &elf, blob)?;
    let Placement { page, delta, offset, vaddr } = place(node, &elf)?;

    let phnum = elf.program_headers.len() + 2;
    if phnum >= 0xffff {
        return Err("too many program headers".into());
    }
    let table_len = (phnum * PHDR_SIZE) as u64;
    let note_off = offset + align_up(table_len, 8);
    let name = format!("{NOTE_NAME}\0");
    let note_len = (NHDR_SIZE + align4(name.len()) + align4(blob.len())) as u64;
    let seg_len = note_off + note_len - offset;

    // The new program header table: the old entries (PT_PHDR moved), a PT_LOAD after the last
    // PT_LOAD (loads stay sorted by address), and a PT_NOTE for the blob at the end.
    let last_load = elf.program_headers.iter().rposition(|p| p.p_type == PT_LOAD).unwrap();
    let mut table = Vec::with_capacity(table_len as usize);
    for (i, ph) in elf.program_headers.iter().enumerate() {
        let mut ph = ph.clone();
        if ph.p_type == PT_PHDR {
            (ph.p_offset, ph.p_vaddr, ph.p_paddr, ph.p_filesz, ph.p_memsz) =
                (offset, vaddr, vaddr, table_len, table_len);
        }
        put_phdr(
            &mut table,
            ph.p_type,
            ph.p_flags,
            ph.p_offset,
            ph.p_vaddr,
            ph.p_paddr,
            ph.p_filesz,
            ph.p_memsz,
            ph.p_align,
        );
        if i == last_load {
            put_phdr(&mut table, PT_LOAD, PF_R, offset, vaddr, vaddr, seg_len, seg_len, page);
        }
    }
    let note_vaddr = note_off + delta;
    put_phdr(&mut table, PT_NOTE, PF_R, note_off, note_vaddr, note_vaddr, note_len, note_len, 4);
    debug_assert_eq!(table.len() as u64, table_len);

    let mut out = Vec::with_capacity((offset + seg_len) as usize);
    out.extend_from_slice(node);
    out[fuse_at + 1] = b'1';
    out[EHDR_PHOFF..EHDR_PHOFF + 8].copy_from_slice(&offset.to_le_bytes());
    out[EHDR_PHENTSIZE..EHDR_PHENTSIZE + 2].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    out[EHDR_PHNUM..EHDR_PHNUM + 2].copy_from_slice(&(phnum as u16).to_le_bytes());
    out.resize(offset as usize, 0);
    out.extend_from_slice(&table);
    out.resize(note_off as usize, 0);
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&(blob.len() as u32).to_le_bytes());
    out.extend_from_slice(&NOTE_TYPE.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.resize(out.len() + align4(name.len()) - name.len(), 0);
    out.extend_from_slice(blob);
    out.resize(out.len() + align4(blob.len()) - blob.len(), 0);
    debug_assert_eq!(out.len() as u64, offset + seg_len);
    Ok(out)
}

/// Where the new segment goes: past the file and past every mapped address.
struct Placement {
    /// The page size the segment must be aligned for.
    page: u64,
    /// Virtual address minus file offset of the first PT_LOAD.
    delta: u64,
    /// File offset of the new segment.
    offset: u64,
    /// Its virtual address.
    vaddr: u64,
}

/// Refuses what cannot be injected (not 64-bit little-endian, no intact fuse, not a SEA blob);
/// returns where the fuse is.
fn check_inputs(node: &[u8], elf: &Elf, blob: &[u8]) -> Result<usize, String> {
    if !elf.is_64 || !elf.little_endian {
        return Err("only 64-bit little-endian ELF executables (x86-64, arm64) can be injected".into());
    }
    if usize::from(elf.header.e_phentsize) != PHDR_SIZE {
        return Err(format!("unexpected program header size {}", elf.header.e_phentsize));
    }
    let fuse_at = match fuse_state(node) {
        (Fuse::Intact, Some(at)) => at,
        (Fuse::Flipped, _) => return Err("this node already carries a blob (its fuse is flipped)".into()),
        (Fuse::Absent, _) => return Err(format!("this node has no {FUSE} fuse: it cannot run single-executable apps")),
        _ => return Err(format!("the fuse {FUSE} appears more than once; refusing to guess")),
    };
    if blob.len() < 8 || u32::from_le_bytes(blob[..4].try_into().unwrap()) != BLOB_MAGIC {
        return Err("the blob is not a SEA preparation blob (wrong magic number)".into());
    }
    if blob.len() > u32::MAX as usize - 16 {
        return Err("the blob is larger than an ELF note can hold (4 GiB)".into());
    }
    Ok(fuse_at)
}

/// Places the new segment so it overlaps nothing in the file or in memory.
fn place(node: &[u8], elf: &Elf) -> Result<Placement, String> {
    let loads: Vec<_> = elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD).collect();
    let first = loads.first().ok_or("the executable has no PT_LOAD segment")?;
    // The page size the segment must be aligned for: the largest PT_LOAD alignment (64 KiB on
    // many arm64 builds), never less than 4 KiB.
    let page = loads.iter().map(|l| l.p_align).max().unwrap_or(0).max(0x1000);
    if !page.is_power_of_two() {
        return Err(format!("PT_LOAD alignment {page:#x} is not a power of two"));
    }
    let delta = first.p_vaddr.checked_sub(first.p_offset).ok_or("the first PT_LOAD maps below its file offset")?;
    if delta % page != 0 {
        return Err("the first PT_LOAD is not page-congruent; cannot place a new segment".into());
    }
    let overflow = || "a PT_LOAD segment reaches past the end of the address space".to_string();
    let mut mem_end = 0u64;
    for l in &loads {
        mem_end = mem_end.max(l.p_vaddr.checked_add(l.p_memsz).ok_or_else(overflow)?);
    }
    // File offset of the new segment: past the file and past every mapped address, so it
    // overlaps nothing in the file or in memory.
    let offset =
        (node.len() as u64).max(mem_end.saturating_sub(delta)).checked_next_multiple_of(page).ok_or_else(overflow)?;
    // The file is padded up to that offset. Node's .bss is a few MiB; a gap beyond this means
    // the program headers are wrong, and following them would write (and allocate) the gap.
    let gap = offset - node.len() as u64;
    if gap > MAX_GAP {
        return Err(format!(
            "the program headers map {gap} bytes past the end of the file; placing the blob after them would pad the file by that much — is this really node?"
        ));
    }
    let vaddr = offset.checked_add(delta).ok_or_else(overflow)?;
    Ok(Placement { page, delta, offset, vaddr })
}

#[allow(clippy::too_many_arguments)]
fn put_phdr(out: &mut Vec<u8>, ty: u32, flags: u32, off: u64, va: u64, pa: u64, filesz: u64, memsz: u64, align: u64) {
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    for v in [off, va, pa, filesz, memsz, align] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn u32_at(b: &[u8], at: usize, le: bool) -> u32 {
    let x: [u8; 4] = b.get(at..at + 4).and_then(|s| s.try_into().ok()).unwrap_or([0; 4]);
    if le { u32::from_le_bytes(x) } else { u32::from_be_bytes(x) }
}

fn align4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

fn align_up(n: u64, a: u64) -> u64 {
    n.div_ceil(a) * a
}

#[cfg(test)]
mod tests {

    /// What node v20.20.2 wrote for `{"main":"m.js","assets":{"k1":"a.bin"}}` (m.js is
    /// `console.log(1)`, a.bin `HELLOASSET`).
    const NODE_BLOB: &[u8] = &[
        0x20, 0xda, 0x43, 0x01, 0x09, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6d, 0x2e,
        0x6a, 0x73, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x6f, 0x6e, 0x73, 0x6f, 0x6c, 0x65, 0x2e,
        0x6c, 0x6f, 0x67, 0x28, 0x31, 0x29, 0x0a, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x6b, 0x31, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x45, 0x4c,
        0x4c, 0x4f, 0x41, 0x53, 0x53, 0x45, 0x54,
    ];

    #[test]
    fn assets_are_read_from_a_blob_node_wrote() {
        assert_eq!(assets(NODE_BLOB).unwrap(), [("k1", &b"HELLOASSET"[..])]);
        assert!(assets(&NODE_BLOB[..70]).is_none(), "a truncated blob is not read past its end");
    }
    use super::*;

    /// A minimal ELF64 executable image: header, 2 program headers (PT_PHDR, PT_LOAD), the fuse.
    fn tiny_elf() -> Vec<u8> {
        let mut b = vec![0u8; 0x40];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // 64-bit
        b[5] = 1; // little-endian
        b[6] = 1;
        b[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        b[0x12..0x14].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        b[0x14..0x18].copy_from_slice(&1u32.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        b[0x34..0x36].copy_from_slice(&0x40u16.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        let fuse = format!("{FUSE}:0");
        let total = 0x40 + 2 * 56 + fuse.len() as u64;
        put_phdr(&mut b, PT_PHDR, PF_R, 0x40, 0x400040, 0x400040, 112, 112, 8);
        put_phdr(&mut b, PT_LOAD, PF_R, 0, 0x400000, 0x400000, total, total + 0x3000, 0x1000);
        b.extend_from_slice(fuse.as_bytes());
        b
    }

    /// Fuzzing found (fuzz/corpus/sea_inject/regression-huge-memsz): a PT_LOAD declaring a
    /// huge p_memsz made inject pad the output to that size — a 355 GB allocation. Headers like
    /// these, and ones whose sums overflow, are refused.
    #[test]
    fn lying_program_headers_are_refused_not_followed() {
        let load_at = 0x40 + 56; // the PT_LOAD entry of tiny_elf
        for (field, value) in [(40, 1u64 << 40), (40, u64::MAX - 0x1000), (48, 1u64 << 62)] {
            let mut node = tiny_elf();
            node[load_at + field..load_at + field + 8].copy_from_slice(&value.to_le_bytes());
            let r = inject(&node, &blob());
            assert!(r.is_err(), "field {field} = {value:#x} was accepted");
        }
        // And verify() summed addresses from the headers without checking for overflow.
        let crash = include_bytes!("../fuzz/corpus/sea_inject/regression-verify-overflow");
        let (node, _) = crash[1..].split_at((crash[0] as usize * (crash.len() - 1)) / 255);
        let _ = verify(node);
        let _ = verify(&crash[1..]);
        let corpus = include_bytes!("../fuzz/corpus/sea_inject/regression-huge-memsz");
        let rest = &corpus[1..];
        let cut = (corpus[0] as usize * rest.len()) / 255;
        let (node, blob) = rest.split_at(cut.min(rest.len()));
        assert!(inject(node, blob).map(|out| out.len() < 256 << 20).unwrap_or(true));
    }

    fn blob() -> Vec<u8> {
        let mut v = BLOB_MAGIC.to_le_bytes().to_vec();
        v.extend_from_slice(b"\x05\0\0\0rest of a blob");
        v
    }

    #[test]
    fn plain_node_is_not_ready_and_says_why() {
        let c = verify(&tiny_elf()).unwrap();
        assert_eq!(c.fuse, Fuse::Intact);
        assert!(!c.is_ready());
        let why = c.problem().unwrap();
        assert!(why.contains("not flipped") && why.contains("no NODE_SEA_BLOB note"), "{why}");
    }

    #[test]
    fn injected_note_is_found_in_memory_and_fuse_flipped() {
        let out = inject(&tiny_elf(), &blob()).unwrap();
        let c = verify(&out).unwrap();
        assert!(c.is_ready(), "{c:?} {:?}", c.problem());
        assert_eq!(c.blob_bytes, Some(blob().len() as u64));
        let elf = Elf::parse(&out).unwrap();
        assert_eq!(elf.program_headers.len(), 4);
        let phdr = &elf.program_headers[0];
        assert_eq!(phdr.p_offset, elf.header.e_phoff);
        let new_load = &elf.program_headers[2];
        assert_eq!(new_load.p_type, PT_LOAD);
        // Congruent with the first segment, and above everything already mapped.
        assert_eq!(new_load.p_vaddr - new_load.p_offset, 0x400000);
        assert!(new_load.p_vaddr >= 0x400000 + 0x40 + 112 + 48 + 0x3000);
        assert_eq!(phdr.p_vaddr, new_load.p_vaddr);
    }

    #[test]
    fn injecting_twice_or_into_a_fuseless_binary_is_refused() {
        let once = inject(&tiny_elf(), &blob()).unwrap();
        assert!(inject(&once, &blob()).unwrap_err().contains("already"));
        let mut no_fuse = tiny_elf();
        let n = no_fuse.len();
        no_fuse[n - 3] = b'X';
        no_fuse.truncate(n - 10);
        assert!(inject(&no_fuse, &blob()).unwrap_err().contains("no NODE_SEA_FUSE"));
        assert!(inject(&tiny_elf(), b"not a blob").unwrap_err().contains("magic"));
    }
}
