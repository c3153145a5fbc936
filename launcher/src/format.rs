//! The packed-file format, read by the launcher (no_std, no allocation) and by staticize
//! (`check`, `pack`). One file, included by both crates, so the two readers never disagree.
//!
//! ```text
//! [launcher ELF][header][payload: frames][trailer, 40 bytes]
//! trailer: magic "STZPACK\0" | version u32 | header_len u32 | header_offset u64
//!          | payload_len u64 | header_hash u64 (FNV-1a 64 of the header)
//! header:  loader u32 | count u32 | image_len u64 | align u32 | frame_count u32
//!          | frame_count × (raw_len u64 | packed_len u64) | count × entry (56 bytes) | names
//! entry:   role u8 | 0 u8 | name_len u16 | 0 u32 | size u64 | offset u64 | sha256 [32]
//! ```
//! All integers little-endian. The payload's frames are zstd frames that decompress, one after
//! the other, to the *image*: each entry's bytes at its offset (a multiple of `align`, at least
//! the page size of any kernel running the pack), zeros between. Page-aligned entries let the
//! launcher map every memory file at its place in one region and decode each frame in one pass
//! straight into it, several frames at once on several cores.
//! The first entry is the program; at most one interpreter; every other entry is a library.
//!
//! Version 1 (one frame, entries back to back, 48-byte entries without an offset) is still
//! read, so `check` judges packs made by earlier releases.

/// Exit status of a packed file that is damaged or truncated.
pub const EXIT_DAMAGED: i32 = 117;
/// Exit status when /proc is not mounted (the program runs through /proc/self/fd).
pub const EXIT_NO_PROC: i32 = 118;
/// Exit status when the kernel lacks memfd_create or execveat.
pub const EXIT_NO_MEMFD: i32 = 119;
/// Exit status when executing from memory was refused (seccomp, vm.memfd_noexec).
pub const EXIT_EXEC_REFUSED: i32 = 120;
/// Exit status of any other system error (out of memory, a write refused), also the init's.
pub const EXIT_SYSTEM: i32 = 121;
/// Every launcher exit status with what it means: `staticize pack --help` and the README list
/// these.
pub const EXITS: [(i32, &str); 5] = [
    (EXIT_DAMAGED, "the packed file is damaged or truncated"),
    (EXIT_NO_PROC, "/proc is not mounted"),
    (EXIT_NO_MEMFD, "the kernel lacks memfd_create or execveat"),
    (EXIT_EXEC_REFUSED, "executing from memory was refused (seccomp, vm.memfd_noexec=2)"),
    (EXIT_SYSTEM, "another system error (out of memory)"),
];

/// The magic at the start of the trailer.
pub const MAGIC: [u8; 8] = *b"STZPACK\0";
/// The format version this code writes.
pub const VERSION: u32 = 2;
/// The earlier version, still read.
pub const VERSION_1: u32 = 1;
/// Bytes in the trailer.
pub const TRAILER_LEN: usize = 40;
/// Bytes in the fixed part of the header (version 2).
pub const HEADER_FIXED: usize = 24;
/// Bytes per frame record.
pub const FRAME_LEN: usize = 16;
/// Bytes per entry record (version 2).
pub const ENTRY_LEN: usize = 56;
/// The longest name (memfd_create accepts 249 bytes).
pub const NAME_MAX: usize = 249;
/// Most entries a header may list.
pub const MAX_ENTRIES: usize = 4096;
/// Most frames a header may list.
pub const MAX_FRAMES: usize = 64;
/// The smallest and largest alignment of entries in the image.
pub const ALIGN_RANGE: (u32, u32) = (4096, 1 << 20);

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
    /// Where its bytes start in the decompressed image.
    pub offset: u64,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: &'a [u8; 32],
}

/// One zstd frame of the payload and the part of the image it decompresses to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Where its output starts in the image.
    pub raw_offset: u64,
    /// Bytes it decompresses to.
    pub raw_len: u64,
    /// The compressed frame.
    pub data: &'a [u8],
}

/// A parsed pack: borrowed from the file's bytes.
#[derive(Debug, Clone, Copy)]
pub struct Pack<'a> {
    /// The format version (1 or 2).
    pub version: u32,
    /// One of the LOADER_ constants.
    pub loader: u32,
    /// Number of entries.
    pub count: usize,
    /// Sum of the entries' sizes.
    pub unpacked_len: u64,
    /// Bytes of the decompressed image: the entries at their offsets, zeros between.
    pub image_len: u64,
    /// The entries' alignment in the image (1 in version 1).
    pub align: u64,
    /// Where the launcher ends and the header starts (the launcher's length).
    pub header_offset: u64,
    /// The compressed payload.
    pub payload: &'a [u8],
    frames: &'a [u8],
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
    if version != VERSION && version != VERSION_1 {
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
    let mut pack = parse_header(version, header, header_offset, payload)?;
    validate(&mut pack)?;
    Ok(pack)
}

/// Bytes in the fixed part of a version 1 header, and per version 1 entry.
const V1_FIXED: usize = 16;
const V1_ENTRY: usize = 48;

/// Splits a header into its parts. Version 1 has no alignment and no frame table (one frame:
/// the payload), and shorter entries without an offset.
fn parse_header<'a>(version: u32, h: &'a [u8], header_offset: u64, payload: &'a [u8]) -> Result<Pack<'a>, Damage> {
    let v1 = version == VERSION_1;
    let (fixed, entry_len) = if v1 { (V1_FIXED, V1_ENTRY) } else { (HEADER_FIXED, ENTRY_LEN) };
    if h.len() < fixed {
        return Err(Damage::Header("the packed header is shorter than its fixed part"));
    }
    let count = entry_count(h)?;
    let frame_count = if v1 { 0 } else { u32_at(h, 20) as usize };
    if !v1 && (frame_count == 0 || frame_count > MAX_FRAMES) {
        return Err(Damage::Header("the packed header lists no frames or too many"));
    }
    let frames_end = fixed + frame_count * FRAME_LEN;
    let records_end = frames_end + count * entry_len;
    if h.len() < records_end {
        return Err(Damage::Header(if v1 {
            "the packed header is shorter than its entry list"
        } else {
            "the packed header is shorter than its frame and entry lists"
        }));
    }
    Ok(Pack {
        version,
        loader: u32_at(h, 0),
        count,
        unpacked_len: 0,
        image_len: u64_at(h, 8),
        align: if v1 { 1 } else { u32_at(h, 16) as u64 },
        header_offset,
        payload,
        frames: &h[fixed..frames_end],
        records: &h[frames_end..records_end],
        names: &h[records_end..],
    })
}

fn entry_count(h: &[u8]) -> Result<usize, Damage> {
    let count = u32_at(h, 4) as usize;
    if count == 0 || count > MAX_ENTRIES {
        return Err(Damage::Header("the packed header lists no entries or too many"));
    }
    Ok(count)
}

/// Checks everything the launcher relies on, and fills in `unpacked_len`.
fn validate(p: &mut Pack<'_>) -> Result<(), Damage> {
    if p.loader > LOADER_MUSL {
        return Err(Damage::Header("the packed header names an unknown loader"));
    }
    if p.version == VERSION
        && (!p.align.is_power_of_two() || p.align < ALIGN_RANGE.0 as u64 || p.align > ALIGN_RANGE.1 as u64)
    {
        return Err(Damage::Header("the packed header's alignment is not a power of two from 4 KiB to 1 MiB"));
    }
    // align is a power of two (checked above for version 2; 1 in version 1), so masks test
    // multiples of it.
    let (mut total, mut end, mut interps) = (0u64, 0u64, 0);
    let mut names = Names { names: p.names, used: 0 };
    for (i, e) in p.raw_entries().enumerate() {
        let name = names.next(e.name_len)?;
        if name.iter().any(|&c| c == 0 || c == b'/') {
            return Err(Damage::Header("a packed entry's name holds '/' or NUL"));
        }
        match (i, e.role) {
            (0, ROLE_PROGRAM) => {}
            (0, _) | (_, ROLE_PROGRAM) => return Err(Damage::Header("the program is not the first packed entry")),
            (_, ROLE_INTERP) => interps += 1,
            (_, ROLE_LIBRARY | ROLE_DLOPEN) => {}
            _ => return Err(Damage::Header("a packed entry has an unknown role")),
        }
        if e.offset < end || e.offset & (p.align - 1) != 0 {
            return Err(Damage::Header("a packed entry overlaps the one before it or is not aligned"));
        }
        end = e.offset.checked_add(e.size).ok_or(Damage::Header("entry sizes overflow"))?;
        total = total.checked_add(e.size).ok_or(Damage::Header("entry sizes overflow"))?;
    }
    if names.used != p.names.len() {
        return Err(Damage::Header("the packed header has bytes after its names"));
    }
    let image_end = end.checked_add(p.align - 1).ok_or(Damage::Header("entry sizes overflow"))? & !(p.align - 1);
    if p.image_len != image_end {
        return Err(Damage::Header("the packed entries do not add up to the image length"));
    }
    p.unpacked_len = total;
    validate_frames(p)?;
    match (p.loader, interps) {
        (LOADER_NONE, 0) | (LOADER_GLIBC | LOADER_MUSL, 1) => Ok(()),
        _ => Err(Damage::Header("the packed loader kind and interpreter entries disagree")),
    }
}

/// The frames cover the image, each a whole number of alignment units, and the payload.
fn validate_frames(p: &Pack<'_>) -> Result<(), Damage> {
    let (mut raw, mut packed) = (0u64, 0u64);
    for f in (0..p.frame_count()).filter_map(|i| p.frame_record(i)) {
        if f.0 == 0 || f.1 == 0 || f.0 & (p.align - 1) != 0 {
            return Err(Damage::Header("a packed frame is empty or not aligned"));
        }
        raw = raw.checked_add(f.0).ok_or(Damage::Header("frame sizes overflow"))?;
        packed = packed.checked_add(f.1).ok_or(Damage::Header("frame sizes overflow"))?;
    }
    if raw != p.image_len || packed != p.payload.len() as u64 {
        return Err(Damage::Header("the packed frames do not cover the image and the payload"));
    }
    Ok(())
}

/// Hands out consecutive names from the header's name block.
struct Names<'a> {
    names: &'a [u8],
    used: usize,
}

impl<'a> Names<'a> {
    fn next(&mut self, len: usize) -> Result<&'a [u8], Damage> {
        if len == 0 || len > NAME_MAX {
            return Err(Damage::Header("a packed entry has an empty or too long name"));
        }
        let end = self.used.checked_add(len).ok_or(Damage::Header("names overflow"))?;
        if end > self.names.len() {
            return Err(Damage::Header("the packed header's names run past its end"));
        }
        let name = &self.names[self.used..end];
        self.used = end;
        Ok(name)
    }
}

/// An entry record before its name is looked up.
struct RawEntry<'a> {
    role: u8,
    name_len: usize,
    size: u64,
    offset: u64,
    sha256: &'a [u8; 32],
}

impl<'a> Pack<'a> {
    /// The entries, in image order.
    pub fn entries(&self) -> Entries<'a> {
        Entries { raw: self.raw_entries(), names: Names { names: self.names, used: 0 } }
    }

    /// The payload's frames, in image order.
    pub fn frames(&self) -> Frames<'a> {
        Frames { pack: *self, index: 0, raw_at: 0, data_at: 0 }
    }

    /// Number of frames.
    pub fn frame_count(&self) -> usize {
        if self.version == VERSION_1 { 1 } else { self.frames.len() / FRAME_LEN }
    }

    fn raw_entries(&self) -> RawEntries<'a> {
        RawEntries { pack: *self, index: 0, next_v1: 0 }
    }

    /// (raw_len, packed_len) of frame `i`: version 1's one frame is the whole payload.
    fn frame_record(&self, i: usize) -> Option<(u64, u64)> {
        if self.version == VERSION_1 {
            return (i == 0).then_some((self.image_len, self.payload.len() as u64));
        }
        let r = self.frames.get(i * FRAME_LEN..(i + 1) * FRAME_LEN)?;
        Some((u64_at(r, 0), u64_at(r, 8)))
    }
}

struct RawEntries<'a> {
    pack: Pack<'a>,
    index: usize,
    /// Version 1 has no offsets: entries follow each other.
    next_v1: u64,
}

impl<'a> Iterator for RawEntries<'a> {
    type Item = RawEntry<'a>;

    fn next(&mut self) -> Option<RawEntry<'a>> {
        let p = &self.pack;
        let len = if p.version == VERSION_1 { V1_ENTRY } else { ENTRY_LEN };
        if self.index >= p.count {
            return None;
        }
        let r = &p.records[self.index * len..(self.index + 1) * len];
        self.index += 1;
        let size = u64_at(r, 8);
        let (offset, hash_at) = if p.version == VERSION_1 { (self.next_v1, 16) } else { (u64_at(r, 16), 24) };
        self.next_v1 = self.next_v1.wrapping_add(size);
        let sha256: &'a [u8; 32] = r[hash_at..hash_at + 32].try_into().ok()?;
        Some(RawEntry { role: r[0], name_len: u16_at(r, 2) as usize, size, offset, sha256 })
    }
}

/// Iterator over a pack's entries (validated by [`parse`]).
pub struct Entries<'a> {
    raw: RawEntries<'a>,
    names: Names<'a>,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let r = self.raw.next()?;
        let name = self.names.next(r.name_len).ok()?;
        Some(Entry { role: r.role, name, size: r.size, offset: r.offset, sha256: r.sha256 })
    }
}

/// Iterator over a pack's frames (validated by [`parse`]).
pub struct Frames<'a> {
    pack: Pack<'a>,
    index: usize,
    raw_at: u64,
    data_at: usize,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        let (raw_len, packed_len) = self.pack.frame_record(self.index)?;
        self.index += 1;
        let data = self.pack.payload.get(self.data_at..self.data_at + packed_len as usize)?;
        let f = Frame { raw_offset: self.raw_at, raw_len, data };
        self.raw_at += raw_len;
        self.data_at += packed_len as usize;
        Some(f)
    }
}
