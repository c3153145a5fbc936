//! `staticize pack`: a dynamic program, its interpreter and its library closure compressed
//! into one static executable. The launcher (launcher/, built by build.rs) reads the payload
//! appended to its own file, puts each object into an anonymous memory file and executes the
//! interpreter on them: nothing is written to any file system, so it runs in an empty scratch
//! image, with a read-only root and with a noexec /tmp.
//!
//! The file format is [`format`], shared with the launcher so the two never disagree.

pub mod beside;
#[path = "../../launcher/src/format.rs"]
pub mod format;
mod input;
pub mod make;
pub mod names;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::closure::{Closure, EntryKind, Loader};
use crate::error::{Error, Result};
use crate::output;

pub use input::{Input, Role};

static LAUNCHER_X86_64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/launcher-x86_64"));
static LAUNCHER_AARCH64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/launcher-aarch64"));
static INIT_X86_64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/init-x86_64"));
static INIT_AARCH64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/init-aarch64"));

/// The tag of a packed program's image when `-t` names none (`redis-server:packed`), so it
/// never replaces the image `bundle` writes of the same program (`redis-server:latest`).
pub const DEFAULT_TAG: &str = "packed";

/// The launcher for an architecture (OCI name: "amd64", "arm64"), when it was built.
pub fn launcher(arch: &str) -> Option<&'static [u8]> {
    let b = match arch {
        "amd64" => LAUNCHER_X86_64,
        "arm64" => LAUNCHER_AARCH64,
        _ => return None,
    };
    (!b.is_empty()).then_some(b)
}

/// The minimal init (see launcher/src/bin/init.rs) for an architecture, when it was built.
pub fn init(arch: &str) -> Option<&'static [u8]> {
    let b = match arch {
        "amd64" => INIT_X86_64,
        "arm64" => INIT_AARCH64,
        _ => return None,
    };
    (!b.is_empty()).then_some(b)
}

/// What to install so that this staticize carries the launcher for `arch`.
pub fn missing_hint(arch: &str) -> String {
    let triple = match arch {
        "arm64" => "aarch64-unknown-linux-musl",
        "amd64" => "x86_64-unknown-linux-musl",
        other => return format!("staticize has no launcher for {other}: only amd64 and arm64 are supported"),
    };
    format!("this staticize was built without the {arch} launcher: rustup target add {triple}, then rebuild staticize")
}

/// One packed object as the header lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedObject {
    /// Program, interpreter or library.
    pub role: Role,
    /// Its name.
    pub name: String,
    /// Uncompressed bytes.
    pub size: u64,
    /// SHA-256 of the uncompressed bytes, hex.
    pub sha256: String,
}

/// What a packed file carries (written by [`write`], read by [`read`]).
#[derive(Debug, Clone, Serialize)]
pub struct Packed {
    /// "glibc", "musl" or "none" (a static program).
    pub loader: &'static str,
    /// The objects, program first.
    pub entries: Vec<PackedObject>,
    /// Bytes of the launcher.
    pub launcher_bytes: u64,
    /// Bytes of the compressed payload.
    pub payload_bytes: u64,
    /// Sum of the objects' sizes.
    pub unpacked_bytes: u64,
    /// Needed names the packed copies were changed to ask by SONAME (empty when read back).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renamed: Vec<names::Renamed>,
}

/// The objects to pack for `program`: itself, its interpreter and the closure's libraries in
/// the order the closure found them (which is the order the loader would load them).
pub fn inputs(program: &Path, name: &str, closure: &Closure) -> Result<Vec<Input>> {
    let mut out = vec![Input { role: Role::Program, name: name.to_string(), host: program.to_path_buf(), bytes: None }];
    let interp = closure.files().find(|e| e.kind == EntryKind::Interp);
    if let Some(i) = interp {
        // Named as PT_INTERP names it (musl's is a link to libc.so).
        let name = base_name(closure.interp.as_deref().unwrap_or(&i.image_path));
        out.push(Input { role: Role::Interpreter, name, host: i.host_path.clone(), bytes: None });
    }
    for e in closure.files() {
        let role = match e.kind {
            EntryKind::Needed => Role::Library,
            EntryKind::Dlopen => Role::Dlopen,
            _ => continue,
        };
        // musl's libc.so is its loader: the loader answers for it.
        if closure.loader == Loader::Musl && interp.is_some_and(|i| same_file(&i.host_path, &e.host_path)) {
            continue;
        }
        let soname = crate::elf::inspect(&e.host_path).ok().and_then(|l| l.soname);
        let name = soname.unwrap_or_else(|| base_name(&e.image_path));
        out.push(Input { role, name, host: e.host_path.clone(), bytes: None });
    }
    if closure.loader == Loader::Musl && out.iter().any(|i| matches!(i.role, Role::Library | Role::Dlopen)) {
        let libs: Vec<&str> = out
            .iter()
            .filter(|i| i.role != Role::Program && i.role != Role::Interpreter)
            .map(|i| i.name.as_str())
            .collect();
        return Err(Error::input(
            program,
            format!(
                "is a musl program that needs libraries besides musl's libc ({}); packing supports those only for glibc programs",
                libs.join(", ")
            ),
            Some("link those libraries statically, or use staticize bundle for an image carrying them".into()),
        ));
    }
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

fn base_name(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// The loader kind for a closure.
fn loader_code(closure: &Closure) -> u32 {
    match (closure.interp.is_some(), closure.loader) {
        (false, _) => format::LOADER_NONE,
        (true, Loader::Glibc) => format::LOADER_GLIBC,
        (true, Loader::Musl) => format::LOADER_MUSL,
    }
}

/// The entries' alignment in the image for an architecture: a multiple of every page size its
/// kernels use (arm64 kernels run with 4, 16 or 64 KiB pages; amd64 with 4 KiB).
pub fn align_for(arch: &str) -> u64 {
    if arch == "amd64" { 4096 } else { 65536 }
}

/// Writes the `arch` launcher + header + compressed objects + trailer to `dest` (atomically,
/// 0755). The same inputs give the same bytes.
pub fn write(inputs: &[Input], closure: &Closure, arch: &str, dest: &Path) -> Result<Packed> {
    let launcher =
        launcher(arch).ok_or_else(|| Error::usage(format!("cannot pack a {arch} program"), missing_hint(arch)))?;
    let align = align_for(arch);
    let mut image = Vec::new();
    let mut carried = Vec::new();
    for i in inputs {
        let bytes = match &i.bytes {
            Some(b) => b.clone(),
            None => std::fs::read(&i.host).map_err(|e| Error::io("read", &i.host, e))?,
        };
        let sha256 = crate::digest::sha256_hex(&bytes);
        let offset = image.len() as u64;
        carried.push(Placed {
            carried: PackedObject { role: i.role, name: i.name.clone(), size: bytes.len() as u64, sha256 },
            offset,
        });
        image.extend_from_slice(&bytes);
        image.resize(image.len().next_multiple_of(align as usize), 0);
    }
    let unpacked: u64 = carried.iter().map(|c| c.carried.size).sum();
    let frames =
        compress(&image, align, level_for(unpacked)).map_err(|e| Error::io("compress the objects for", dest, e))?;
    let loader = loader_code(closure);
    let layout = Layout { loader, image_len: image.len() as u64, align, frames: &frames };
    let header = header_bytes(&layout, &carried)?;
    let payload_len: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
    let trailer = trailer_bytes(launcher.len() as u64, &header, payload_len);
    let mut tmp = output::temp_beside(dest)?;
    let f = tmp.as_file_mut();
    let parts =
        [launcher, &header].into_iter().chain(frames.iter().map(|f| f.data.as_slice())).chain([trailer.as_slice()]);
    for part in parts {
        f.write_all(part).map_err(|e| Error::io("write", dest, e))?;
    }
    f.sync_all().map_err(|e| Error::io("write", dest, e))?;
    output::persist(tmp, dest, 0o755)?;
    Ok(Packed {
        loader: loader_name(loader),
        entries: carried.into_iter().map(|c| c.carried).collect(),
        launcher_bytes: launcher.len() as u64,
        payload_bytes: payload_len,
        unpacked_bytes: unpacked,
        renamed: Vec::new(),
    })
}

/// An object and where it starts in the image.
struct Placed {
    carried: PackedObject,
    offset: u64,
}

/// The header's fixed facts.
struct Layout<'a> {
    loader: u32,
    image_len: u64,
    align: u64,
    frames: &'a [Compressed],
}

/// One compressed frame and the bytes of the image it holds.
struct Compressed {
    raw_len: u64,
    data: Vec<u8>,
}

/// Inputs up to this size are compressed at zstd level 18, bigger ones at [`BIG_LEVEL`].
pub const SMALL_INPUT: u64 = 32 << 20;
/// The level for inputs over [`SMALL_INPUT`] (node: ~100 MB): level 18 takes minutes there,
/// level 12 seconds, for a payload a few per cent larger.
pub const BIG_LEVEL: i32 = 12;

/// The zstd level for `total` input bytes. 18, not 19: a payload 0.2 % larger for a third less
/// time (measured on redis-server's closure).
pub fn level_for(total: u64) -> i32 {
    if total <= SMALL_INPUT { 18 } else { BIG_LEVEL }
}

/// How many frames the image is cut into: the launcher decodes them on as many cores at once.
/// Each cut costs the matches that would cross it (about 1 % of the payload for two frames),
/// so small images stay whole, and only very big ones get more than two.
fn frame_count(image_len: u64) -> u64 {
    match image_len {
        0..0x10_0000 => 1,
        0x10_0000..0x400_0000 => 2,
        _ => 4,
    }
}

/// The image cut into [`frame_count`] aligned parts, each one zstd frame with a window of up to
/// [`WINDOW_LOG`] so the libraries' repeats are found, and a checksum that lets the launcher
/// detect damage. The frames are compressed side by side on up to
/// [`crate::image::compress::threads`] threads, each frame by one thread with fixed parameters,
/// so the bytes do not depend on the machine.
fn compress(image: &[u8], align: u64, level: i32) -> std::io::Result<Vec<Compressed>> {
    let n = frame_count(image.len() as u64);
    let mut cuts = vec![0usize];
    for k in 1..n {
        let at = (image.len() as u64 * k / n).next_multiple_of(align) as usize;
        if at > *cuts.last().unwrap_or(&0) && at < image.len() {
            cuts.push(at);
        }
    }
    cuts.push(image.len());
    let parts: Vec<&[u8]> = cuts.windows(2).map(|w| &image[w[0]..w[1]]).collect();
    let mut frames = Vec::with_capacity(parts.len());
    for batch in parts.chunks(crate::image::compress::threads().max(1)) {
        std::thread::scope(|s| {
            let jobs: Vec<_> = batch.iter().map(|p| s.spawn(move || compress_frame(p, level))).collect();
            for j in jobs {
                frames.push(j.join().unwrap_or_else(|_| Err(std::io::Error::other("a compression thread panicked")))?);
            }
            Ok::<_, std::io::Error>(())
        })?;
    }
    Ok(frames)
}

/// The largest window: matches reach at most 4 MiB back. Farther ones miss the caches when the
/// launcher decodes them; a 4 MiB window decodes ~10 % faster than one the frame's size, for a
/// payload 0.1 % larger (measured on redis-server's closure).
const WINDOW_LOG: u32 = 22;

fn compress_frame(part: &[u8], level: i32) -> std::io::Result<Compressed> {
    let window_log = (64 - (part.len() as u64).max(1 << 20).leading_zeros()).min(WINDOW_LOG);
    let mut enc = zstd::stream::Encoder::new(Vec::new(), level)?;
    enc.include_checksum(true)?;
    enc.include_contentsize(true)?;
    enc.set_pledged_src_size(Some(part.len() as u64))?;
    enc.window_log(window_log)?;
    enc.write_all(part)?;
    Ok(Compressed { raw_len: part.len() as u64, data: enc.finish()? })
}

fn header_bytes(l: &Layout<'_>, placed: &[Placed]) -> Result<Vec<u8>> {
    let mut h = Vec::new();
    h.extend_from_slice(&l.loader.to_le_bytes());
    h.extend_from_slice(&(placed.len() as u32).to_le_bytes());
    h.extend_from_slice(&l.image_len.to_le_bytes());
    h.extend_from_slice(&(l.align as u32).to_le_bytes());
    h.extend_from_slice(&(l.frames.len() as u32).to_le_bytes());
    for f in l.frames {
        h.extend_from_slice(&f.raw_len.to_le_bytes());
        h.extend_from_slice(&(f.data.len() as u64).to_le_bytes());
    }
    for p in placed {
        let c = &p.carried;
        if c.name.is_empty() || c.name.len() > format::NAME_MAX || c.name.contains(['/', '\0']) {
            return Err(Error::usage(format!("cannot pack an object named {:?}", c.name), "rename the file"));
        }
        h.push(c.role.code());
        h.push(0);
        h.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
        h.extend_from_slice(&[0; 4]);
        h.extend_from_slice(&c.size.to_le_bytes());
        h.extend_from_slice(&p.offset.to_le_bytes());
        h.extend_from_slice(&hex::decode(&c.sha256).unwrap_or_default());
    }
    for p in placed {
        h.extend_from_slice(p.carried.name.as_bytes());
    }
    Ok(h)
}

fn trailer_bytes(header_offset: u64, header: &[u8], payload_len: u64) -> Vec<u8> {
    let mut t = Vec::with_capacity(format::TRAILER_LEN);
    t.extend_from_slice(&format::MAGIC);
    t.extend_from_slice(&format::VERSION.to_le_bytes());
    t.extend_from_slice(&(header.len() as u32).to_le_bytes());
    t.extend_from_slice(&header_offset.to_le_bytes());
    t.extend_from_slice(&payload_len.to_le_bytes());
    t.extend_from_slice(&format::fnv1a(header).to_le_bytes());
    t
}

fn loader_name(code: u32) -> &'static str {
    match code {
        format::LOADER_GLIBC => "glibc",
        format::LOADER_MUSL => "musl",
        _ => "none",
    }
}

/// Reads what a packed file carries: None when the file is not a pack at all, Some(Err) when
/// it is one but damaged or truncated.
pub fn read(file: &[u8]) -> Option<std::result::Result<Packed, format::Damage>> {
    if !format::has_trailer(file) {
        // A launcher whose payload was cut off still carries its own messages: recognise it
        // by one of them, so a truncated pack is not judged a plain static program.
        let head = &file[..file.len().min(256 * 1024)];
        let marker = format::Damage::NoTrailer.message().as_bytes();
        return memchr::memmem::find(head, marker).map(|_| Err(format::Damage::NoTrailer));
    }
    Some(format::parse(file).map(|p| {
        Packed {
            loader: loader_name(p.loader),
            entries: p
                .entries()
                .map(|e| PackedObject {
                    role: Role::of(e.role),
                    name: String::from_utf8_lossy(e.name).into_owned(),
                    size: e.size,
                    sha256: hex::encode(e.sha256),
                })
                .collect(),
            launcher_bytes: p.header_offset,
            payload_bytes: p.payload.len() as u64,
            unpacked_bytes: p.unpacked_len,
            renamed: Vec::new(),
        }
    }))
}

/// The proof that a pack runs on its own: every `DT_NEEDED` of every packed object is met by a
/// packed object (never by the machine's libraries). Decompresses the payload; the names no
/// packed object answers to, or the damage that stopped the reading.
pub fn unmet_needed(file: &[u8]) -> std::result::Result<Vec<names::Unmet>, format::Damage> {
    unmet_needed_with(file, &[])
}

/// The same proof for the packed objects and `more` (name, bytes): libraries the program loads
/// from elsewhere inside the file (a node executable's carried package tree), whose needs must
/// be met too and whose SONAMEs answer like a packed library's.
pub fn unmet_needed_with(
    file: &[u8],
    more: &[(String, &[u8])],
) -> std::result::Result<Vec<names::Unmet>, format::Damage> {
    let p = format::parse(file)?;
    let mut image = Vec::with_capacity(p.image_len as usize);
    for f in p.frames() {
        let part =
            zstd::bulk::decompress(f.data, f.raw_len as usize).map_err(|_| format::Damage::Header(DAMAGED_PAYLOAD))?;
        if part.len() as u64 != f.raw_len {
            return Err(format::Damage::Header(DAMAGED_PAYLOAD));
        }
        image.extend(part);
    }
    let names: Vec<String> = p.entries().map(|e| String::from_utf8_lossy(e.name).into_owned()).collect();
    let mut objects = Vec::new();
    for (e, name) in p.entries().zip(&names) {
        let bytes = image
            .get(e.offset as usize..(e.offset + e.size) as usize)
            .ok_or(format::Damage::Header(DAMAGED_PAYLOAD))?;
        objects.push((name.as_str(), Role::of(e.role), bytes));
    }
    objects.extend(more.iter().map(|(n, b)| (n.as_str(), Role::Library, *b)));
    Ok(names::unmet(objects, p.loader == format::LOADER_MUSL))
}

const DAMAGED_PAYLOAD: &str = "the packed payload does not decompress to what its header lists";

/// Reads the end of a file on disk and what it carries (None: not a pack).
pub fn read_file(path: &Path) -> Result<Option<std::result::Result<Packed, format::Damage>>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    // SAFETY: a read-only private mapping; a file changed underneath gives wrong bytes, which
    // the parser treats as any other damage.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io("read", path, e))?;
    Ok(read(&map))
}

impl Packed {
    /// "carries redis-server with ld-linux-x86-64.so.2 and 6 libraries (8.9 MiB unpacked, held
    /// in memory while it runs)".
    pub fn summary(&self) -> String {
        let program = self.entries.first().map(|e| e.name.as_str()).unwrap_or("?");
        let interp = self.entries.iter().find(|e| e.role == Role::Interpreter).map(|e| e.name.as_str());
        let libs = self.entries.iter().filter(|e| matches!(e.role, Role::Library | Role::Dlopen)).count();
        let unpacked = format!("{} unpacked, {}", crate::report::human_size(self.unpacked_bytes), MEMORY_NOTE);
        let carries = match interp {
            Some(i) => format!("packed: carries {program} with {i} and {libs} libraries ({unpacked})"),
            None => format!("packed: carries {program}, static ({unpacked})"),
        };
        match beside::runtime_named(program) {
            Some(r) => {
                format!("{carries}; {r} also needs its standard library beside the file, which the pack does not hold")
            }
            None => carries,
        }
    }
}

/// What the unpacked size costs: the launcher puts every object into a memory file, so the
/// whole closure stays in memory (and counts against a container's memory limit) for as long
/// as the program runs, where a bundled image's libraries are mapped from disk.
pub const MEMORY_NOTE: &str = "held in memory while it runs";

/// Where [`with_init`] puts the init in an image.
pub const INIT_PATH: &str = "/init";

/// Makes the minimal init the image's PID 1: it goes to [`INIT_PATH`] and the entrypoint
/// becomes `/init ENTRYPOINT…`, so signals reach the program and its status comes back.
pub fn with_init(image: &mut crate::image::PlatformImage) -> Result<()> {
    let arch = image.platform.architecture.clone();
    let init = init(&arch).ok_or_else(|| Error::usage(format!("no init for {arch}"), missing_hint(&arch)))?;
    if image.rootfs.get(INIT_PATH).is_some() {
        return Err(Error::usage(
            format!("--init puts staticize's init at {INIT_PATH}, but the image already has a file there"),
            "pass --no-init, or move your file",
        ));
    }
    image.rootfs.add_file(INIT_PATH, crate::image::Source::Bytes(init.to_vec()), crate::image::rootfs::MODE_EXEC)?;
    let mut entry = vec![INIT_PATH.to_string()];
    entry.extend(image.config.entrypoint.take().unwrap_or_default());
    image.config.entrypoint = Some(entry);
    Ok(())
}

/// Largest program read back out of a pack to look at it.
const MAX_PROGRAM: u64 = 1 << 30;

/// The program a packed file carries, decompressed from the frames that hold it (None: not a
/// pack, damaged, or a program over 1 GiB).
pub fn program_of(file: &[u8]) -> Option<Vec<u8>> {
    let p = format::parse(file).ok()?;
    let e = p.entries().find(|e| e.role == format::ROLE_PROGRAM)?;
    if e.size > MAX_PROGRAM {
        return None;
    }
    let (start, end) = (e.offset, e.offset + e.size);
    let mut out = Vec::with_capacity(e.size as usize);
    for f in p.frames().filter(|f| f.raw_offset < end && f.raw_offset + f.raw_len > start) {
        let raw = zstd::bulk::decompress(f.data, f.raw_len as usize).ok()?;
        let from = start.saturating_sub(f.raw_offset) as usize;
        let to = (end - f.raw_offset).min(f.raw_len) as usize;
        out.extend_from_slice(raw.get(from..to)?);
    }
    (out.len() as u64 == e.size).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_seeds_read_as_packs_or_as_damage() {
        let glibc = read(include_bytes!("../../fuzz/corpus/pack_read/glibc")).unwrap().unwrap();
        assert_eq!(glibc.loader, "glibc");
        let roles: Vec<Role> = glibc.entries.iter().map(|e| e.role).collect();
        assert_eq!(roles, [Role::Program, Role::Interpreter, Role::Library, Role::Dlopen]);
        assert_eq!(glibc.unpacked_bytes, 223);
        assert_eq!(read(include_bytes!("../../fuzz/corpus/pack_read/musl")).unwrap().unwrap().loader, "musl");
        let st = read(include_bytes!("../../fuzz/corpus/pack_read/static")).unwrap().unwrap();
        assert_eq!((st.loader, st.launcher_bytes), ("none", 64));
        // Cut off: no trailer and no launcher text, so not a pack at all.
        assert!(read(include_bytes!("../../fuzz/corpus/pack_read/truncated")).is_none());
        let hurt = read(include_bytes!("../../fuzz/corpus/pack_read/header-damaged")).unwrap();
        assert_eq!(hurt.unwrap_err(), format::Damage::HeaderHash);
    }

    #[test]
    fn version_2_seeds_place_entries_at_aligned_offsets_in_frames_that_cover_the_image() {
        let bytes = include_bytes!("../../fuzz/corpus/pack_read/v2-glibc");
        let p = format::parse(bytes).unwrap();
        assert_eq!((p.version, p.align, p.frame_count()), (2, 4096, 2));
        let offsets: Vec<u64> = p.entries().map(|e| e.offset).collect();
        assert_eq!(offsets, [0, 4096, 8192, 16384]);
        let frames: Vec<(u64, u64)> = p.frames().map(|f| (f.raw_offset, f.raw_len)).collect();
        assert_eq!(frames, [(0, 12288), (12288, 8192)]);
        // Each frame decodes on its own to its part of the image.
        let mut image = Vec::new();
        for f in p.frames() {
            image.extend(zstd::bulk::decompress(f.data, f.raw_len as usize).unwrap());
        }
        let libc = p.entries().nth(2).unwrap();
        assert_eq!(&image[8192..8192 + libc.size as usize], "libc".repeat(1500).as_bytes());
        let packed = read(bytes).unwrap().unwrap();
        assert_eq!((packed.loader, packed.unpacked_bytes), ("glibc", 240 + 180 + 6000 + 8));
        assert_eq!(read(include_bytes!("../../fuzz/corpus/pack_read/v2-static")).unwrap().unwrap().loader, "none");
        let lie = read(include_bytes!("../../fuzz/corpus/pack_read/v2-frames-lie")).unwrap().unwrap_err();
        assert_eq!(lie, format::Damage::Header("the packed frames do not cover the image and the payload"));
    }

    #[test]
    fn a_big_image_is_cut_at_an_aligned_point_into_frames_that_decode_back() {
        let image: Vec<u8> = (0..3u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8 & 0x0f).collect();
        let frames = compress(&image, 65536, 3).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].raw_len % 65536, 0);
        let mut back = Vec::new();
        for f in &frames {
            back.extend(zstd::bulk::decompress(&f.data, f.raw_len as usize).unwrap());
        }
        assert!(back == image, "the frames decode to the image");
        assert_eq!(frame_count(512 << 10), 1);
        assert_eq!(frame_count(100 << 20), 4);
    }

    #[test]
    fn lying_headers_are_refused() {
        let mut b = include_bytes!("../../fuzz/corpus/pack_read/glibc").to_vec();
        // A header offset past the end.
        let n = b.len();
        b[n - 24..n - 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(read(&b).unwrap().unwrap_err(), format::Damage::Length);
        assert_eq!(read(b"").map(|r| r.is_ok()), None);
    }
}
