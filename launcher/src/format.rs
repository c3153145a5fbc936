//! The packed-file format, read by the launcher (no_std, no allocation) and by staticize
//! (`check`, `pack`). One file, included by both crates, so the two readers never disagree.
//!
//! ```text
//! [launcher ELF][header][payload: one zstd frame][trailer, 40 bytes]
//! trailer: magic "STZPACK\0" | version u32 | header_len u32 | header_offset u64
//!          | payload_len u64 | header_hash u64 (FNV-1a 64 of the header)
//! header:  loader u32 | count u32 | unpacked_len u64 | count × entry (48 bytes) | names
//! entry:   role u8 | 0 u8 | name_len u16 | 0 u32 | size u64 | sha256 [32]
//! ```
//! All integers little-endian. The payload decompresses to the entries' contents, in order.
//! The first entry is the program; at most one interpreter; every other entry is a library.

/// The magic at the start of the trailer.
pub const MAGIC: [u8; 8] = *b"STZPACK\0";
/// The format version this code reads and writes.
pub const VERSION: u32 = 1;
/// Bytes in the trailer.
pub const TRAILER_LEN: usize = 40;
/// Bytes in the fixed part of the header.
pub const HEADER_FIXED: usize = 16;
/// Bytes per entry record.
pub const ENTRY_LEN: usize = 48;
/// The longest name (memfd_create accepts 249 bytes).
pub const NAME_MAX: usize = 249;
/// Most entries a header may list.
pub const MAX_ENTRIES: usize = 4096;

/// Role of the program entry.
pub const ROLE_PROGRAM: u8 = 1;
/// Role of the program interpreter (PT_INTERP).
pub const ROLE_INTERP: u8 = 2;
/// Role of a library the program or a library needs (DT_NEEDED).
pub const ROLE_LIBRARY: u8 = 3;
/// Role of a library loaded with dlopen() (.note.dlopen or --lib), preloaded.
pub const ROLE_DLOPEN: u8 = 4;

/// No interpreter: a static program, executed directly.
pub const LOADER_NONE: u32 = 0;
/// glibc's ld.so: `--preload LIST --argv0 NAME PROGRAM`.
pub const LOADER_GLIBC: u32 = 1;
/// musl's ld.so (libc.so itself): `--argv0 NAME PROGRAM`.
pub const LOADER_MUSL: u32 = 2;

/// Why a file is not a readable pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// No trailer magic at the end: not a packed file, or its end was cut off.
    NoTrailer,
    /// A version this reader does not know.
    Version(u32),
    /// The trailer's offsets do not add up to the file's length: truncated or appended to.
    Length,
    /// The header's hash does not match: the header was damaged.
    HeaderHash,
    /// The header's fields are inconsistent.
    Header(&'static str),
}

impl Damage {
    /// A sentence saying what is wrong.
    pub fn message(&self) -> &'static str {
        match self {
            Damage::NoTrailer => {
                "no packed payload at the end of the file (not a staticize pack, or its end was cut off)"
            }
            Damage::Version(_) => "the packed payload has a format version this program does not read",
            Damage::Length => "the file's length does not match its packed payload (truncated or extended)",
            Damage::HeaderHash => "the packed header is damaged (its checksum does not match)",
            Damage::Header(m) => m,
        }
    }
}

/// One entry of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// One of the ROLE_ constants.
    pub role: u8,
    /// The file name (a soname for libraries), no '/' or NUL.
    pub name: &'a [u8],
    /// Uncompressed size in bytes.
    pub size: u64,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: &'a [u8; 32],
}

/// A parsed pack: borrowed from the file's bytes.
#[derive(Debug, Clone, Copy)]
pub struct Pack<'a> {
    /// One of the LOADER_ constants.
    pub loader: u32,
    /// Number of entries.
    pub count: usize,
    /// Sum of the entries' sizes.
    pub unpacked_len: u64,
    /// Where the launcher ends and the header starts (the launcher's length).
    pub header_offset: u64,
    /// The compressed payload.
    pub payload: &'a [u8],
    records: &'a [u8],
    names: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// FNV-1a, 64 bits: guards the header against damage (not against an attacker: a packed file
/// is a program, trusted as much as any executable).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// True when the file ends with the pack trailer magic (it may still be damaged).
pub fn has_trailer(file: &[u8]) -> bool {
    file.len() >= TRAILER_LEN && file[file.len() - TRAILER_LEN..file.len() - TRAILER_LEN + 8] == MAGIC
}

/// Parses and validates a whole packed file.
pub fn parse(file: &[u8]) -> Result<Pack<'_>, Damage> {
    if !has_trailer(file) {
        return Err(Damage::NoTrailer);
    }
    let t = &file[file.len() - TRAILER_LEN..];
    let version = u32_at(t, 8);
    if version != VERSION {
        return Err(Damage::Version(version));
    }
    let header_len = u32_at(t, 12) as u64;
    let header_offset = u64_at(t, 16);
    let payload_len = u64_at(t, 24);
    let body = (file.len() - TRAILER_LEN) as u64;
    let end = header_offset.checked_add(header_len).and_then(|v| v.checked_add(payload_len));
    if end != Some(body) {
        return Err(Damage::Length);
    }
    let (ho, hl) = (header_offset as usize, header_len as usize);
    let header = &file[ho..ho + hl];
    if fnv1a(header) != u64_at(t, 32) {
        return Err(Damage::HeaderHash);
    }
    let payload = &file[ho + hl..body as usize];
    parse_header(header, header_offset, payload)
}

fn parse_header<'a>(h: &'a [u8], header_offset: u64, payload: &'a [u8]) -> Result<Pack<'a>, Damage> {
    if h.len() < HEADER_FIXED {
        return Err(Damage::Header("the packed header is shorter than its fixed part"));
    }
    let loader = u32_at(h, 0);
    if loader > LOADER_MUSL {
        return Err(Damage::Header("the packed header names an unknown loader"));
    }
    let count = u32_at(h, 4) as usize;
    if count == 0 || count > MAX_ENTRIES {
        return Err(Damage::Header("the packed header lists no entries or too many"));
    }
    let records_end = HEADER_FIXED + count * ENTRY_LEN;
    if h.len() < records_end {
        return Err(Damage::Header("the packed header is shorter than its entry list"));
    }
    let pack = Pack {
        loader,
        count,
        unpacked_len: u64_at(h, 8),
        header_offset,
        payload,
        records: &h[HEADER_FIXED..records_end],
        names: &h[records_end..],
    };
    validate(&pack)?;
    Ok(pack)
}

fn validate(p: &Pack<'_>) -> Result<(), Damage> {
    let mut total: u64 = 0;
    let mut interps = 0;
    let mut names_used = 0usize;
    for i in 0..p.count {
        let r = &p.records[i * ENTRY_LEN..(i + 1) * ENTRY_LEN];
        let role = r[0];
        let name_len = u16_at(r, 2) as usize;
        if name_len == 0 || name_len > NAME_MAX {
            return Err(Damage::Header("a packed entry has an empty or too long name"));
        }
        names_used = names_used.checked_add(name_len).ok_or(Damage::Header("names overflow"))?;
        if names_used > p.names.len() {
            return Err(Damage::Header("the packed header's names run past its end"));
        }
        let name = &p.names[names_used - name_len..names_used];
        if name.iter().any(|&c| c == 0 || c == b'/') {
            return Err(Damage::Header("a packed entry's name holds '/' or NUL"));
        }
        match (i, role) {
            (0, ROLE_PROGRAM) => {}
            (0, _) | (_, ROLE_PROGRAM) => return Err(Damage::Header("the program is not the first packed entry")),
            (_, ROLE_INTERP) => interps += 1,
            (_, ROLE_LIBRARY | ROLE_DLOPEN) => {}
            _ => return Err(Damage::Header("a packed entry has an unknown role")),
        }
        total = total.checked_add(u64_at(r, 8)).ok_or(Damage::Header("entry sizes overflow"))?;
    }
    if names_used != p.names.len() {
        return Err(Damage::Header("the packed header has bytes after its names"));
    }
    if total != p.unpacked_len {
        return Err(Damage::Header("the packed entries' sizes do not add up to the unpacked length"));
    }
    match (p.loader, interps) {
        (LOADER_NONE, 0) | (LOADER_GLIBC | LOADER_MUSL, 1) => Ok(()),
        _ => Err(Damage::Header("the packed loader kind and interpreter entries disagree")),
    }
}

impl<'a> Pack<'a> {
    /// The entries, in payload order.
    pub fn entries(&self) -> Entries<'a> {
        Entries { pack: *self, index: 0, name_at: 0 }
    }
}

/// Iterator over a pack's entries (validated by [`parse`]).
pub struct Entries<'a> {
    pack: Pack<'a>,
    index: usize,
    name_at: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.index >= self.pack.count {
            return None;
        }
        let r = &self.pack.records[self.index * ENTRY_LEN..(self.index + 1) * ENTRY_LEN];
        let name_len = u16_at(r, 2) as usize;
        let name = &self.pack.names[self.name_at..self.name_at + name_len];
        self.index += 1;
        self.name_at += name_len;
        let sha256: &'a [u8; 32] = r[16..48].try_into().ok()?;
        Some(Entry { role: r[0], name, size: u64_at(r, 8), sha256 })
    }
}
