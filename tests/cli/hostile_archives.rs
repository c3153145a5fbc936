//! Hostile image archives: names that climb out (`..`, absolute), links pointing outside,
//! device nodes, huge declared sizes, a gzip bomb, deep nesting, duplicate entries and a JSON
//! nesting bomb — at the archive's own level and inside a layer. Every command that reads image
//! archives gets each one under an address-space limit (`prlimit --as`) and a deadline; each
//! must answer with a documented exit code, never panic, write nothing, and (`inspect`) report
//! what is wrong.
//!
//! The archives are written byte by byte (ustar headers built here), because tar libraries
//! refuse to write most of these on purpose.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use sha2::Digest;

use crate::programs::*;
use crate::support::*;

/// One raw tar entry.
#[derive(Clone)]
struct Raw {
    name: Vec<u8>,
    /// ustar typeflag: b'0' file, b'1' hard link, b'2' symlink, b'3' char dev, b'4' block dev,
    /// b'5' directory, b'6' FIFO.
    kind: u8,
    data: Vec<u8>,
    /// The size written in the header; `None` = the data's length.
    declared: Option<u64>,
    link: Vec<u8>,
    dev: (u32, u32),
}

fn file(name: &str, data: &[u8]) -> Raw {
    Raw { name: name.into(), kind: b'0', data: data.to_vec(), declared: None, link: vec![], dev: (0, 0) }
}
fn dir(name: &str) -> Raw {
    Raw { kind: b'5', ..file(name, b"") }
}
fn symlink(name: &str, to: &str) -> Raw {
    Raw { kind: b'2', link: to.into(), ..file(name, b"") }
}
fn hardlink(name: &str, to: &str) -> Raw {
    Raw { kind: b'1', link: to.into(), ..file(name, b"") }
}
fn device(name: &str, kind: u8, dev: (u32, u32)) -> Raw {
    Raw { kind, dev, ..file(name, b"") }
}

/// Writes `v` as a NUL-terminated octal field, or base-256 when it does not fit.
fn numeric(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    if s.len() <= digits {
        field[..digits].copy_from_slice(s.as_bytes());
        field[digits] = 0;
    } else {
        field.fill(0);
        field[0] = 0x80;
        let n = field.len();
        field[n - 8..].copy_from_slice(&v.to_be_bytes());
    }
}

fn header(name: &[u8], kind: u8, size: u64, link: &[u8], dev: (u32, u32)) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    numeric(&mut h[100..108], if kind == b'5' { 0o755 } else { 0o644 });
    numeric(&mut h[108..116], 0);
    numeric(&mut h[116..124], 0);
    numeric(&mut h[124..136], size);
    numeric(&mut h[136..148], 0);
    h[156] = kind;
    let l = link.len().min(100);
    h[157..157 + l].copy_from_slice(&link[..l]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    numeric(&mut h[329..337], dev.0 as u64);
    numeric(&mut h[337..345], dev.1 as u64);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

fn pad(out: &mut Vec<u8>) {
    while out.len() % 512 != 0 {
        out.push(0);
    }
}

/// A pax record "LEN key=value\n", LEN counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = 3 + key.len() + value.len(); // ' ', '=', '\n'
    let mut len = body + 1;
    while body + len.to_string().len() != len {
        len = body + len.to_string().len();
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// The tar bytes of `entries`, names over 100 bytes carried by pax headers.
fn tar(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        if e.name.len() > 100 || e.link.len() > 100 {
            let mut pax = Vec::new();
            if e.name.len() > 100 {
                pax.extend(pax_record("path", &e.name));
            }
            if e.link.len() > 100 {
                pax.extend(pax_record("linkpath", &e.link));
            }
            out.extend_from_slice(&header(b"././@PaxHeader", b'x', pax.len() as u64, b"", (0, 0)));
            out.extend(pax);
            pad(&mut out);
        }
        out.extend_from_slice(&header(&e.name, e.kind, e.declared.unwrap_or(e.data.len() as u64), &e.link, e.dev));
        out.extend_from_slice(&e.data);
        pad(&mut out);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(bytes).unwrap();
    g.finish().unwrap()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn blob_name(d: &str) -> String {
    format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))
}

/// A complete single-image archive (OCI layout + docker manifest.json) around `layer` (the
/// blob bytes as stored), plus `extra` entries at the archive's own level; `index` replaces
/// index.json when given.
fn image_archive(layer: &[u8], diff_id: &str, extra: &[Raw], index: Option<Vec<u8>>) -> Vec<u8> {
    let layer_digest = digest(layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap();
    let index = index.unwrap_or_else(|| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(&manifest),
                "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "hostile:latest"}}],
        }))
        .unwrap()
    });
    let docker = serde_json::to_vec(&serde_json::json!([
        {"Config": blob_name(&digest(&config)), "RepoTags": ["hostile:latest"], "Layers": [blob_name(&layer_digest)]}
    ]))
    .unwrap();
    let mut entries = vec![
        dir("blobs/"),
        dir("blobs/sha256/"),
        file(&blob_name(&digest(&config)), &config),
        file(&blob_name(&digest(&manifest)), &manifest),
        file(&blob_name(&layer_digest), layer),
        file("index.json", &index),
        file("manifest.json", &docker),
        file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
    ];
    entries.extend_from_slice(extra);
    tar(&entries)
}

/// An archive whose only layer holds `entries`.
fn layer_archive(entries: &[Raw]) -> Vec<u8> {
    let raw = tar(entries);
    image_archive(&gzip(&raw), &digest(&raw), &[], None)
}

/// A fine layer: one static program.
fn good_layer_entries() -> Vec<Raw> {
    let mut hello = file("hello", &fs::read(&programs().static_hello).unwrap());
    hello.kind = b'0';
    vec![hello]
}

fn good_archive_with(extra: &[Raw]) -> Vec<u8> {
    let raw = tar(&good_layer_entries());
    image_archive(&gzip(&raw), &digest(&raw), extra, None)
}

/// Where a reader that follows `..` or absolute names would write: must never appear.
fn escape_target() -> String {
    format!("tmp/staticize-hostile-escape-{}", std::process::id())
}

/// A gzip layer that inflates to about 1 GiB (one file of zeros), made with the system gzip.
fn gzip_bomb() -> &'static Vec<u8> {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let size: u64 = 1 << 30;
        let dir = tempdir();
        let head = dir.path().join("head");
        fs::write(&head, header(b"zeros", b'0', size, b"", (0, 0))).unwrap();
        let script = format!("(cat head; head -c {} /dev/zero) | gzip -1 > bomb.gz", size + 1024);
        ok(Command::new("sh").arg("-c").arg(script).current_dir(dir.path()));
        fs::read(dir.path().join("bomb.gz")).unwrap()
    })
}

/// One hostile archive and what `inspect` must say about it.
struct Hostile {
    name: &'static str,
    bytes: fn() -> Vec<u8>,
    /// A word `inspect` must print when it reports the problem (None: any clean outcome).
    inspect_says: Option<&'static str>,
}

/// Declares the table: `hostiles()` lists the rows (name, row) and each row gets its own
/// `#[test]` named after it, so a failure names its row and one row runs alone
/// (`cargo test --test cli hostile_archives::layer_gzip_bomb_1_mib_inflating_to_1_gib`).
macro_rules! table {
    ($($id:ident => $row:expr),* $(,)?) => {
        fn hostiles() -> Vec<(&'static str, Hostile)> {
            vec![$((stringify!($id), $row)),*]
        }
        $(
            #[test]
            fn $id() {
                one_hostile(stringify!($id));
            }
        )*
    };
}

table! {
    archive_entry_climbing_out_with_dotdot => Hostile {
        name: "archive: entry climbing out with ..",
        bytes: || good_archive_with(&[file(&format!("../../../../../{}", escape_target()), b"escaped")]),
        inspect_says: Some(".."),
    },
    archive_absolute_entry_name => Hostile {
        name: "archive: absolute entry name",
        bytes: || good_archive_with(&[file(&format!("/{}", escape_target()), b"escaped")]),
        inspect_says: Some("absolute"),
    },
    archive_the_layer_blob_is_a_symlink_to_etc_shadow => Hostile {
        name: "archive: the layer blob is a symlink to /etc/shadow",
        bytes: || {
            let raw = tar(&good_layer_entries());
            let gz = gzip(&raw);
            hostile_layer_link(&gz, &digest(&raw), symlink(&blob_name(&digest(&gz)), "/etc/shadow"))
        },
        inspect_says: Some("/etc/shadow"),
    },
    archive_hard_link_to_a_file_outside => Hostile {
        name: "archive: hard link to a file outside",
        bytes: || good_archive_with(&[hardlink("evil", "../../../../etc/passwd")]),
        inspect_says: Some("evil"),
    },
    archive_device_nodes_and_a_fifo => Hostile {
        name: "archive: device nodes and a FIFO",
        bytes: || {
            good_archive_with(&[
                device("sda", b'4', (8, 0)),
                device("null", b'3', (1, 3)),
                device("fifo", b'6', (0, 0)),
            ])
        },
        inspect_says: None,
    },
    archive_entry_declaring_1_tib_archive_ends => Hostile {
        name: "archive: entry declaring 1 TiB, archive ends",
        bytes: || {
            let mut big = file("blobs/sha256/huge", b"tiny");
            big.declared = Some(1 << 40);
            let mut a = good_archive_with(&[]);
            a.truncate(a.len() - 1024);
            let mut h = tar(&[big]);
            h.truncate(512 + 512); // the header and one block of "data"
            a.extend(h);
            a
        },
        inspect_says: None,
    },
    archive_duplicate_index_json_pointing_nowhere => Hostile {
        name: "archive: duplicate index.json pointing nowhere",
        bytes: || {
            let bogus = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2}]}"#;
            good_archive_with(&[file("index.json", bogus)])
        },
        inspect_says: None,
    },
    archive_300_directories_deep => Hostile {
        name: "archive: 300 directories deep",
        bytes: || good_archive_with(&[file(&format!("{}deep", "d/".repeat(300)), b"x")]),
        inspect_says: None,
    },
    archive_index_json_nested_100000_deep => Hostile {
        name: "archive: index.json nested 100000 deep",
        bytes: || {
            let raw = tar(&good_layer_entries());
            image_archive(&gzip(&raw), &digest(&raw), &[], Some("[".repeat(100_000).into_bytes()))
        },
        inspect_says: Some("index.json"),
    },
    archive_not_a_tar_at_all => Hostile { name: "archive: not a tar at all", bytes: || b"hello, not a tar".repeat(100), inspect_says: None },
    layer_entry_climbing_out_with_dotdot => Hostile {
        name: "layer: entry climbing out with ..",
        bytes: || layer_archive(&[file(&format!("../../../../../{}", escape_target()), b"escaped")]),
        inspect_says: Some(".."),
    },
    // Engines put "/tmp/x" of a layer at ROOT/tmp/x (ko writes such names): no problem, but
    // nothing may land at the host's /tmp.
    layer_absolute_entry_name => Hostile {
        name: "layer: absolute entry name",
        bytes: || layer_archive(&[file(&format!("/{}", escape_target()), b"escaped")]),
        inspect_says: None,
    },
    layer_symlinks_pointing_outside => Hostile {
        name: "layer: symlinks pointing outside",
        bytes: || {
            layer_archive(&[
                symlink("etc", "/etc"),
                symlink("up", "../../../../../../"),
                file("up/tmp/written-through-link", b"escaped"),
            ])
        },
        inspect_says: Some("goes through the symbolic link up"),
    },
    layer_hard_link_to_a_file_outside => Hostile {
        name: "layer: hard link to a file outside",
        bytes: || layer_archive(&[hardlink("passwd", "../../../../etc/passwd")]),
        inspect_says: Some("passwd"),
    },
    layer_device_nodes_and_a_fifo => Hostile {
        name: "layer: device nodes and a FIFO",
        bytes: || {
            layer_archive(&[
                device("dev/sda", b'4', (8, 0)),
                device("dev/mem", b'3', (1, 1)),
                device("fifo", b'6', (0, 0)),
            ])
        },
        inspect_says: None,
    },
    layer_entry_declaring_1_tib_stream_ends => Hostile {
        name: "layer: entry declaring 1 TiB, stream ends",
        bytes: || {
            let mut big = file("huge", b"tiny");
            big.declared = Some(1 << 40);
            let mut raw = tar(&[big]);
            raw.truncate(1024);
            image_archive(&gzip(&raw), &digest(&raw), &[], None)
        },
        inspect_says: None,
    },
    layer_gzip_bomb_1_mib_inflating_to_1_gib => Hostile {
        name: "layer: gzip bomb (1 MiB inflating to 1 GiB)",
        bytes: || image_archive(gzip_bomb(), "sha256:unknown", &[], None),
        inspect_says: None,
    },
    layer_300_directories_deep => Hostile {
        name: "layer: 300 directories deep",
        bytes: || layer_archive(&[file(&format!("{}deep", "d/".repeat(300)), b"x")]),
        inspect_says: None,
    },
    layer_the_same_path_as_file_directory_and_link => Hostile {
        name: "layer: the same path as file, directory and link",
        bytes: || {
            layer_archive(&[
                file("same", b"one"),
                dir("same/"),
                symlink("same", "/etc/passwd"),
                file("same", b"two"),
            ])
        },
        inspect_says: None,
    },
    layer_not_compressed_data_at_all => Hostile {
        name: "layer: not compressed data at all",
        bytes: || image_archive(&b"\x1f\x8bnot really gzip".repeat(50), "sha256:x", &[], None),
        inspect_says: None,
    },
}

/// An archive whose layer entry is `link` instead of the blob.
fn hostile_layer_link(gz: &[u8], diff_id: &str, link: Raw) -> Vec<u8> {
    let full = image_archive(gz, diff_id, &[], None);
    // Rebuild with the layer entry swapped: parse our own entries back by walking headers.
    let mut out = Vec::new();
    let mut pos = 0;
    let layer_name = blob_name(&digest(gz));
    while pos + 512 <= full.len() {
        let h = &full[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&h[..name_end]).into_owned();
        let size = u64::from_str_radix(String::from_utf8_lossy(&h[124..135]).trim_matches(char::from(0)), 8).unwrap();
        let span = 512 + size.div_ceil(512) as usize * 512;
        if name == layer_name {
            out.extend_from_slice(&tar(std::slice::from_ref(&link))[..512]);
        } else {
            out.extend_from_slice(&full[pos..pos + span]);
        }
        pos += span;
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// The commands of this build that read image archives, each with its accepted exit codes.
fn readers(dir: &Path, archive: &str) -> Vec<(&'static str, Command, &'static [i32])> {
    let mut v = Vec::new();
    fs::write(
        dir.join("staticize.toml"),
        format!("[[budget]]\nname = \"hostile\"\nimage = \"{archive}\"\nmax = \"100 GiB\"\nstatic = true\n"),
    )
    .unwrap();
    let mut gate = Command::new(bin());
    gate.arg("gate");
    v.push(("gate", gate, &[0, 1, 4][..]));
    if has_command("inspect") {
        let mut inspect = Command::new(bin());
        inspect.args(["--json", "inspect", archive]);
        v.push(("inspect", inspect, &[0, 1, 4][..]));
    }
    if has_command("bundle") {
        // check FILE.tar unpacks the image to judge every program in it.
        let mut check = Command::new(bin());
        check.args(["check", archive]);
        v.push(("check", check, &[0, 1, 4][..]));
    }
    if has_command("squash") {
        // Their outputs go beside the directory, which must stay untouched.
        let out = dir.with_extension("out");
        fs::create_dir_all(&out).unwrap();
        let mut squash = Command::new(bin());
        squash.args(["squash", archive, "-o"]).arg(out.join("squashed.tar"));
        // 1: the squashed image is written but fails its proof run (most of these images name
        // a /hello they do not hold); the proof unpacks the squashed output, one more reader.
        v.push(("squash", squash, &[0, 1, 4][..]));
        // slim: 2 when the image names no program to carry.
        let mut slim = Command::new(bin());
        slim.args(["slim", archive, "-o"]).arg(out.join("slim.tar"));
        v.push(("slim", slim, &[0, 1, 2, 4][..]));
    }
    v
}

/// Whether this build has subcommand `name`.
fn has_command(name: &str) -> bool {
    Command::new(bin()).args([name, "--help"]).output().is_ok_and(|o| o.status.success())
}

/// Feeds the row `id` to every reader, in a directory of its own; fails naming the row.
fn one_hostile(id: &str) {
    // Rows run one at a time, as when they were one test: each feeds every reader a hostile
    // archive under a 1 GiB address-space limit, and the escape check looks at one shared path.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = tempdir();
    let escape = Path::new("/").join(escape_target());
    let mut failures = Vec::new();
    for (n, (_, h)) in hostiles().into_iter().enumerate().filter(|(_, (i, _))| *i == id) {
        let dir = root.path().join(format!("h{n:02}"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("hostile.tar"), (h.bytes)()).unwrap();
        for (reader, mut cmd, codes) in readers(&dir, "hostile.tar") {
            let before = snapshot(&dir);
            // 1 GiB of address space: a reader that buffers the bomb or a declared size fails.
            let mut limited = Command::new("prlimit");
            limited.arg(format!("--as={}", 1u64 << 30)).arg("--").arg(cmd.get_program()).args(cmd.get_args());
            limited.current_dir(&dir).env("NO_COLOR", "1").env("RUST_BACKTRACE", "0");
            let _ = &mut cmd;
            let what = format!("[{n}] {} — {reader}", h.name);
            let Some(o) = run_with_deadline(&mut limited, Duration::from_secs(180)) else {
                failures.push(format!("{what}: hung (killed after 180 s)"));
                continue;
            };
            let all = text(&o);
            let mut problems = Vec::new();
            match o.status.code() {
                Some(c) if codes.contains(&c) => {}
                other => problems.push(format!(
                    "exit {other:?} (signal {:?})",
                    std::os::unix::process::ExitStatusExt::signal(&o.status)
                )),
            }
            if all.contains("panicked") || all.contains("memory allocation") {
                problems.push("panicked or ran out of memory".into());
            }
            if snapshot(&dir) != before {
                problems.push("wrote into its directory".into());
            }
            if escape.exists() {
                let _ = fs::remove_file(&escape);
                problems.push(format!("wrote {}", escape.display()));
            }
            if reader == "inspect" {
                if let Some(word) = h.inspect_says {
                    if !all.contains(word) {
                        problems.push(format!("does not report it (no {word:?})"));
                    }
                }
            }
            eprintln!("{} {what}: exit {:?}", if problems.is_empty() { "ok  " } else { "FAIL" }, o.status.code());
            if !problems.is_empty() {
                failures.push(format!("{what}: {}\n{all}", problems.join("; ")));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// The generators make what they claim: a well-formed archive passes every reader, so the
/// failures above come from the hostile parts, not from broken scaffolding.
#[test]
fn the_scaffold_archive_is_a_valid_image() {
    let dir = tempdir();
    let p: PathBuf = dir.path().join("good.tar");
    fs::write(&p, good_archive_with(&[])).unwrap();
    if have("skopeo") {
        skopeo_reads(&p).unwrap();
    }
    fs::write(
        dir.path().join("staticize.toml"),
        "[[budget]]\nname = \"good\"\nimage = \"good.tar\"\nmax = \"1 MiB\"\nstatic = true\n",
    )
    .unwrap();
    let out = ok(staticize().current_dir(dir.path()).arg("gate"));
    assert!(out.contains("static (1 program)"), "{out}");
}
