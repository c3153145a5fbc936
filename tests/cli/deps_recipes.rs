//! The library recipes (toolchains/deps/*.toml), each proven by a real program from the
//! library's own source: compiled with `staticize c … --dep NAME` (musl), judged static, and
//! run from a scratch image in podman and docker, checking what it really did (a round trip
//! through the host's own tools, a query answer, a regex match, a DNS answer…).
//!
//! Every test uses the run-wide deps cache (`deps_cache()`), so each library is built once per
//! run whichever test asks first; the proof program's source comes from the same Debian source
//! package the recipe built, out of that cache's download directory (`<cache>/sources/<pkg>/`),
//! so nothing is downloaded twice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// `staticize deps build NAME` into the shared cache; returns its output.
#[track_caller]
fn deps_build(name: &str) -> String {
    ok(staticize().env("STATICIZE_DEPS_CACHE", deps_cache()).args(["deps", "build", name]))
}

/// The orig tarball of Debian source package `package` in the deps cache (downloaded by the
/// recipe's build, which [`deps_build`] ran first).
fn orig_tarball(package: &str) -> PathBuf {
    let dir = deps_cache().join("sources").join(package);
    let found = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the recipe's build downloads it)", dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".orig.tar.") && !n.to_string_lossy().ends_with(".asc"))
        });
    found.unwrap_or_else(|| panic!("no {package} orig tarball in {}", dir.display()))
}

/// `members` (paths below the tarball's top directory) of `package`'s upstream source, unpacked
/// into a fresh directory; returns it and the top directory inside it.
fn upstream_files(package: &str, members: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    let patterns: Vec<String> = members.iter().map(|m| format!("*/{m}")).collect();
    ok(Command::new("tar")
        .arg("xf")
        .arg(orig_tarball(package))
        .arg("--wildcards")
        .args(&patterns)
        .current_dir(dir.path()));
    let top = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).find(|p| p.is_dir()).unwrap();
    (dir, top)
}

/// `staticize c SRC --dep DEP -o NAME -t TAG ARGS…` in `out`; asserts the program is static
/// and returns the image's tag.
#[track_caller]
fn compile(out: &Path, src: &Path, dep: &str, name: &str, args: &[&str]) -> String {
    let tag = unique_tag(name);
    let mut cmd = staticize();
    cmd.current_dir(out).env("STATICIZE_DEPS_CACHE", deps_cache()).arg("c").arg(src);
    let text = ok(cmd.args(["--dep", dep, "-o", name, "-t", &tag]).args(args));
    let verdict = ok(staticize().arg("check").arg(out.join(name)));
    assert!(verdict.contains("static"), "{name}: {verdict}\n{text}");
    tag
}

/// Runs `tag` (loaded from `out/NAME.tar`) with `args`, `extra` run options and `stdin`;
/// returns the whole output (raw bytes: some programs write compressed data).
#[track_caller]
fn run_in(e: Engine, tag: &str, extra: &[&str], args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = e.cmd();
    cmd.args(["run", "--rm", "-i", "--network", "none"]).args(extra).arg(tag).args(args);
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{e:?} run {tag} {args:?} failed ({}):\n{}", o.status, text(&o));
    o
}

/// Loads `out/NAME.tar` into each engine, calls `each` with it, and removes the image.
fn in_every_engine(out: &Path, name: &str, tag: &str, mut each: impl FnMut(Engine)) {
    for e in Engine::available() {
        e.load(&out.join(format!("{name}.tar")));
        each(e);
        e.remove(tag);
    }
}

/// `host_tool ARGS` with `input` on stdin; its stdout.
#[track_caller]
fn filter(host_tool: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(host_tool).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{host_tool} {args:?} failed on the image's output");
    o.stdout
}

/// Text that compresses well but is not trivial: numbered lines.
fn payload() -> Vec<u8> {
    (0..20_000).map(|i| format!("line {i} of the staticize payload\n")).collect::<String>().into_bytes()
}

fn tools(list: &[&str]) -> bool {
    list.iter().all(|t| have(t))
}

#[test]
fn zstd_simple_compression_example_output_decompresses_with_the_hosts_zstd() {
    if !tools(&["apt-get", "musl-gcc", "zstd"]) {
        return;
    }
    deps_build("zstd");
    let (dir, top) = upstream_files("libzstd", &["examples/simple_compression.c", "examples/common.h"]);
    let out = dir.path();
    let tag = compile(out, &top.join("examples/simple_compression.c"), "zstd", "zstd-compress", &[]);
    let data = tempdir();
    let input = data.path().join("in.txt");
    std::fs::write(&input, payload()).unwrap();
    let mount = format!("{}:/d:z", data.path().display());
    in_every_engine(out, "zstd-compress", &tag, |e| {
        run_in(e, &tag, &["-v", &mount], &["/d/in.txt"], b"");
        let packed = std::fs::read(data.path().join("in.txt.zst")).unwrap();
        assert!(packed.len() < payload().len() / 4, "{e:?}: {} bytes", packed.len());
        assert_eq!(filter("zstd", &["-dc"], &packed), payload(), "{e:?}");
        std::fs::remove_file(data.path().join("in.txt.zst")).unwrap();
    });
}

#[test]
fn xz_compress_easy_example_output_decompresses_with_the_hosts_xz() {
    if !tools(&["apt-get", "musl-gcc", "xz"]) {
        return;
    }
    deps_build("xz");
    let (dir, top) = upstream_files("xz-utils", &["doc/examples/01_compress_easy.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("doc/examples/01_compress_easy.c"), "xz", "xz-compress", &[]);
    in_every_engine(out, "xz-compress", &tag, |e| {
        let packed = run_in(e, &tag, &[], &["6"], &payload()).stdout;
        assert_eq!(&packed[..6], b"\xfd7zXZ\0", "{e:?}: not .xz");
        assert_eq!(filter("xz", &["-dc"], &packed), payload(), "{e:?}");
    });
}

#[test]
fn bzip2_program_on_libbz2_round_trips_with_the_hosts_bzip2() {
    if !tools(&["apt-get", "musl-gcc", "bzip2"]) {
        return;
    }
    deps_build("bzip2");
    let (dir, top) = upstream_files("bzip2", &["bzip2.c"]);
    let out = dir.path();
    // bzip2.c is the bzip2 program itself; here its compression comes from the cached libbz2.a.
    let tag = compile(out, &top.join("bzip2.c"), "bzip2", "bzip2", &[]);
    let host_packed = filter("bzip2", &["-c"], &payload());
    in_every_engine(out, "bzip2", &tag, |e| {
        let packed = run_in(e, &tag, &[], &["-c"], &payload()).stdout;
        assert_eq!(filter("bzip2", &["-dc"], &packed), payload(), "{e:?}: compress");
        assert_eq!(run_in(e, &tag, &[], &["-dc"], &host_packed).stdout, payload(), "{e:?}: decompress");
    });
}

#[test]
fn pcre2demo_finds_every_match_in_the_image() {
    if !tools(&["apt-get", "musl-gcc"]) {
        return;
    }
    deps_build("pcre2");
    let (dir, top) = upstream_files("pcre2", &["src/pcre2demo.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("src/pcre2demo.c"), "pcre2", "pcre2demo", &[]);
    in_every_engine(out, "pcre2demo", &tag, |e| {
        let o = run_in(e, &tag, &[], &["-g", "c(a|o)t", "the cat and the cot"], b"");
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(s.contains("Match succeeded at offset 4\n 0: cat\n 1: a\n"), "{e:?}: {s}");
        assert!(s.contains("Match succeeded again at offset 16\n 0: cot\n 1: o\n"), "{e:?}: {s}");
    });
}

#[test]
fn sqlite3_shell_on_libsqlite3_answers_full_text_and_json_queries() {
    if !tools(&["apt-get", "musl-gcc", "tclsh"]) {
        return;
    }
    deps_build("sqlite3");
    let (dir, top) =
        upstream_files("sqlite3", &["src/shell.c.in", "tool/mkshellc.tcl", "ext/*", "src/test_windirent.*"]);
    let out = dir.path();
    // shell.c is generated from shell.c.in and the ext/misc sources it inlines, as SQLite's
    // Makefile does.
    let shell = out.join("shell.c");
    let generated = Command::new("tclsh").arg(top.join("tool/mkshellc.tcl")).output().unwrap();
    assert!(generated.status.success(), "mkshellc.tcl: {}", text(&generated));
    std::fs::write(&shell, &generated.stdout).unwrap();
    let tag = compile(out, &shell, "sqlite3", "sqlite3", &[]);
    let sql = "create virtual table t using fts5(body); \
               insert into t values ('static with musl'), ('dynamic with glibc'); \
               select body from t where t match 'musl'; \
               select json_extract('{\"libs\":[\"zstd\",\"xz\"]}', '$.libs[1]'); \
               select sqlite_version();";
    in_every_engine(out, "sqlite3", &tag, |e| {
        let o = run_in(e, &tag, &[], &[":memory:", sql], b"");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "static with musl\nxz\n3.40.1\n", "{e:?}");
    });
}

#[test]
fn libyaml_parser_test_suite_program_prints_the_event_stream() {
    if !tools(&["apt-get", "musl-gcc", "autoreconf"]) {
        return;
    }
    deps_build("libyaml");
    let (dir, top) = upstream_files("libyaml", &["tests/run-parser-test-suite.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("tests/run-parser-test-suite.c"), "libyaml", "yaml-events", &[]);
    let doc = b"name: staticize\nlibs: [zstd, \"xz\"]\n";
    let events = "+STR\n+DOC\n+MAP\n=VAL :name\n=VAL :staticize\n=VAL :libs\n+SEQ\n=VAL :zstd\n=VAL \"xz\n-SEQ\n-MAP\n-DOC\n-STR\n";
    in_every_engine(out, "yaml-events", &tag, |e| {
        let o = run_in(e, &tag, &[], &[], doc);
        assert_eq!(String::from_utf8_lossy(&o.stdout), events, "{e:?}");
    });
}

#[test]
fn libffi_closure_test_calls_back_through_a_trampoline() {
    if !tools(&["apt-get", "musl-gcc"]) {
        return;
    }
    deps_build("libffi");
    let (dir, top) = upstream_files(
        "libffi",
        &[
            "testsuite/libffi.closures/closure_fn0.c",
            "testsuite/libffi.closures/ffitest.h",
            "testsuite/libffi.call/ffitest.h",
        ],
    );
    let out = dir.path();
    // The testsuite's harness header includes the build tree's fficonfig.h, which an
    // installed libffi does not ship; these are the three answers its configure gives on Linux.
    let config = out.join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("fficonfig.h"),
        "#define HAVE_STDINT_H 1\n#define HAVE_INTTYPES_H 1\n#define HAVE_MMAP_ANON 1\n",
    )
    .unwrap();
    let include = format!("-I{}", config.display());
    let tag = compile(out, &top.join("testsuite/libffi.closures/closure_fn0.c"), "libffi", "ffi-closure", &[&include]);
    in_every_engine(out, "ffi-closure", &tag, |e| {
        let o = run_in(e, &tag, &[], &[], b"");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "1 2 3 4 127 429 7 8 9 10 11 12 13 19 21 1 3: 680\nres: 680\n",
            "{e:?}"
        );
    });
}

/// A detached container, removed when dropped (also when an assertion fails).
struct Detached {
    engine: Engine,
    id: String,
}

impl Drop for Detached {
    fn drop(&mut self) {
        let _ = self.engine.cmd().args(["rm", "-f", &self.id]).output();
    }
}

#[test]
fn libevent_dns_example_answers_its_own_query_over_udp() {
    if !tools(&["apt-get", "musl-gcc"]) {
        return;
    }
    deps_build("libevent");
    let (dir, top) = upstream_files("libevent", &["sample/dns-example.c", "ipv6-internal.h"]);
    let out = dir.path();
    // ipv6-internal.h includes the build tree's evconfig-private.h (not installed); on Linux
    // configure fills it with _GNU_SOURCE.
    std::fs::write(top.join("evconfig-private.h"), "#define _GNU_SOURCE 1\n").unwrap();
    let tag = compile(out, &top.join("sample/dns-example.c"), "libevent", "dns-example", &[]);
    // -T serves DNS on UDP 10053 (any A question gets 192.168.11.11); -s asks that server.
    // Both sides run in one event loop, which never ends: the container is removed once the
    // answer is out.
    in_every_engine(out, "dns-example", &tag, |e| {
        let o = run(e.cmd().args([
            "run",
            "-d",
            "--network",
            "none",
            &tag,
            "-T",
            "-s",
            "127.0.0.1:10053",
            "staticize.test",
        ]));
        assert!(o.status.success(), "{e:?}: {}", text(&o));
        let c = Detached { engine: e, id: String::from_utf8_lossy(&o.stdout).trim().to_string() };
        let deadline = Instant::now() + Duration::from_secs(30);
        let logs = loop {
            let logs = text(&run(e.cmd().args(["logs", &c.id])));
            if logs.contains("staticize.test: 192.168.11.11") || Instant::now() > deadline {
                break logs;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        // The resolver mixes the question's letter case (the 0x20 defence against spoofing).
        assert!(logs.to_lowercase().contains(" -- replying for staticize.test (a)"), "{e:?}: {logs}");
        assert!(logs.contains("staticize.test: 192.168.11.11"), "{e:?}: {logs}");
    });
}

#[test]
fn ncurses_test_program_reads_a_built_in_terminal_description_in_scratch() {
    if !tools(&["apt-get", "musl-gcc", "make", "pkg-config", "infocmp"]) {
        return;
    }
    deps_build("ncurses");
    // ncurses' own test programs, configured by test/configure against the cached library
    // (found through pkg-config: ncursesw.pc, panelw.pc…), built with `staticize build`.
    let (dir, top) = upstream_files("ncurses", &["*"]);
    let out = dir.path();
    let tag = unique_tag("demo_terminfo");
    let args = ["--dep", "ncurses", "--configure-arg=--with-ncursesw", "--target", "demo_terminfo"];
    let built = ok(staticize()
        .current_dir(out)
        .env("STATICIZE_DEPS_CACHE", deps_cache())
        .arg("build")
        .arg(top.join("test"))
        .args(args)
        .args(["--bin", "demo_terminfo", "-t", &tag]));
    let verdict = ok(staticize().arg("check").arg(out.join("demo_terminfo")));
    assert!(verdict.contains("static"), "{verdict}\n{built}");
    // A scratch image has no terminfo database: the answers come from the descriptions
    // compiled into the library (--with-fallbacks).
    in_every_engine(out, "demo_terminfo", &tag, |e| {
        let o = run_in(e, &tag, &[], &["-n", "xterm-256color"], b"");
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(s.contains("num colors   =  256") && s.contains("num cols     =  80"), "{e:?}: {s}");
        let o = run_in(e, &tag, &[], &["-n", "tmux-256color"], b"");
        assert!(String::from_utf8_lossy(&o.stdout).contains("num colors   =  256"), "{e:?}: {}", text(&o));
    });
}

#[test]
fn readline_rltest_edits_a_line_and_keeps_history() {
    if !tools(&["apt-get", "musl-gcc", "infocmp"]) {
        return;
    }
    deps_build("readline");
    let (dir, top) = upstream_files("readline", &["examples/rltest.c"]);
    let out = dir.path();
    // rltest.c is written for readline's own tree (config.h); these say what it finds there.
    let tag =
        compile(out, &top.join("examples/rltest.c"), "readline", "rltest", &["-DHAVE_STDLIB_H", "-DHAVE_LOCALE_H"]);
    // "helo", Ctrl-B (back one character), "l": the line readline returns is "hello". rltest
    // echoes each line on stderr, and "list" prints the history.
    let keys = b"helo\x02l\nlist\nquit\n";
    in_every_engine(out, "rltest", &tag, |e| {
        let o = run_in(e, &tag, &["-e", "TERM=xterm-256color"], &[], keys);
        assert_eq!(String::from_utf8_lossy(&o.stderr), "hello\r\nlist\r\n0: hello\r\n1: list\r\nquit\r\n", "{e:?}");
    });
}

// Issue 26's recipes: each proven the same way, by a program from the library's own source.

#[test]
fn expat_elements_example_prints_the_element_tree_of_its_input() {
    if !tools(&["apt-get", "musl-gcc", "cmake"]) {
        return;
    }
    deps_build("expat");
    let (dir, top) = upstream_files("expat", &["expat/examples/elements.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("expat/examples/elements.c"), "expat", "xml-elements", &[]);
    let doc = b"<?xml version='1.0'?><image><layer digest='sha256:1'><file/></layer><layer/></image>";
    in_every_engine(out, "xml-elements", &tag, |e| {
        let o = run_in(e, &tag, &[], &[], doc);
        // One line per start tag, a tab per level of nesting.
        assert_eq!(String::from_utf8_lossy(&o.stdout), "image\n\tlayer\n\t\tfile\n\tlayer\n", "{e:?}");
    });
}

#[test]
fn lz4_frame_compress_example_output_decompresses_with_the_hosts_lz4() {
    if !tools(&["apt-get", "musl-gcc", "lz4"]) {
        return;
    }
    deps_build("lz4");
    let (dir, top) = upstream_files("lz4", &["examples/frameCompress.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("examples/frameCompress.c"), "lz4", "lz4-frame", &[]);
    let data = tempdir();
    std::fs::write(data.path().join("in.txt"), payload()).unwrap();
    let mount = format!("{}:/d:z", data.path().display());
    in_every_engine(out, "lz4-frame", &tag, |e| {
        // It compresses in.txt to in.txt.lz4, decompresses that to in.txt.lz4.dec and compares.
        let o = run_in(e, &tag, &["-v", &mount], &["/d/in.txt"], b"");
        assert!(String::from_utf8_lossy(&o.stdout).contains("verify : OK"), "{e:?}: {}", text(&o));
        let packed = std::fs::read(data.path().join("in.txt.lz4")).unwrap();
        assert!(packed.len() < payload().len() / 3, "{e:?}: {} bytes", packed.len());
        assert_eq!(filter("lz4", &["-dc"], &packed), payload(), "{e:?}");
        for f in ["in.txt.lz4", "in.txt.lz4.dec"] {
            std::fs::remove_file(data.path().join(f)).unwrap();
        }
    });
}

#[test]
fn brotli_tool_on_the_libraries_round_trips_with_the_hosts_brotli() {
    if !tools(&["apt-get", "musl-gcc", "cmake", "brotli"]) {
        return;
    }
    deps_build("brotli");
    let (dir, top) = upstream_files(
        "brotli",
        &["c/tools/brotli.c", "c/common/constants.h", "c/common/version.h", "c/common/platform.h"],
    );
    let out = dir.path();
    // c/tools/brotli.c is the brotli program itself; here its codec comes from the cached archives.
    let tag = compile(out, &top.join("c/tools/brotli.c"), "brotli", "brotli", &[]);
    let host_packed = filter("brotli", &["-c"], &payload());
    in_every_engine(out, "brotli", &tag, |e| {
        let packed = run_in(e, &tag, &[], &["-c", "-q", "9"], &payload()).stdout;
        assert!(packed.len() < payload().len() / 4, "{e:?}: {} bytes", packed.len());
        assert_eq!(filter("brotli", &["-dc"], &packed), payload(), "{e:?}: compress");
        assert_eq!(run_in(e, &tag, &[], &["-dc"], &host_packed).stdout, payload(), "{e:?}: decompress");
    });
}

#[test]
fn jansson_simple_parse_prints_the_tree_of_each_line() {
    if !tools(&["apt-get", "musl-gcc", "cmake"]) {
        return;
    }
    deps_build("jansson");
    let (dir, top) = upstream_files("jansson", &["examples/simple_parse.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("examples/simple_parse.c"), "jansson", "simple_parse", &[]);
    let lines = b"{\"libs\": [\"zstd\", \"xz\"], \"static\": true}\n[1.5, null]\n";
    in_every_engine(out, "simple_parse", &tag, |e| {
        let s = String::from_utf8_lossy(&run_in(e, &tag, &[], &[], lines).stdout).into_owned();
        for want in [
            "JSON Object of 2 pairs:",
            "JSON Key: \"libs\"",
            "JSON Array of 2 elements:",
            "JSON String: \"xz\"",
            "JSON True",
            "JSON Real: 1.500000",
            "JSON Null",
        ] {
            assert!(s.contains(want), "{e:?}: no {want:?} in\n{s}");
        }
    });
}

#[test]
fn nghttp2_hpack_deflate_example_compresses_the_second_header_set_against_the_first() {
    if !tools(&["apt-get", "musl-gcc"]) {
        return;
    }
    deps_build("nghttp2");
    let (dir, top) = upstream_files("nghttp2", &["examples/deflate.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("examples/deflate.c"), "nghttp2", "hpack-deflate", &[]);
    in_every_engine(out, "hpack-deflate", &tag, |e| {
        let o = run_in(e, &tag, &[], &[], b"");
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        // Each header set is deflated, then inflated back and printed: HPACK's encoding is
        // fixed by its input, so the sizes are too.
        let sizes: Vec<usize> = s
            .match_indices("Deflate (")
            .map(|(i, m)| s[i + m.len()..].split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(sizes, [22, 37], "{e:?}: {s}");
        // After `:scheme: https` (static index 7, 0x87) the second set sends 0xBF: index 63, the
        // `:authority: example.org` that the first set added to the dynamic table.
        assert!(s.contains("00000000: 87 BF 04"), "{e:?}: {s}");
        // The headers inflated back from the second block come out on stderr.
        let inflated = String::from_utf8_lossy(&o.stderr);
        for h in ["referer: https://example.org", ":path: /stylesheet/style.css", ":authority: example.org"] {
            assert!(inflated.contains(h), "{e:?}: {h} not inflated:\n{inflated}");
        }
    });
}

#[test]
fn libsodium_signature_test_vectors_match_the_sources_expected_output() {
    if !tools(&["apt-get", "musl-gcc"]) {
        return;
    }
    deps_build("libsodium");
    let (dir, top) = upstream_files(
        "libsodium",
        &["test/default/sign.c", "test/default/sign.exp", "test/default/cmptest.h", "test/quirks/quirks.h"],
    );
    let out = dir.path();
    // libsodium's own test of Ed25519 (its 1,024 RFC 8032 style vectors, detached and combined
    // signatures, key conversion). BROWSER_TESTS makes the harness print to stdout, which is
    // then compared with the expected output the source ships.
    let quirks = format!("-I{}", top.join("test/quirks").display());
    let args = ["-DBROWSER_TESTS", "-DTEST_NAME=\"sign\"", &quirks];
    let tag = compile(out, &top.join("test/default/sign.c"), "libsodium", "sodium-sign", &args);
    let expected = std::fs::read_to_string(top.join("test/default/sign.exp")).unwrap() + "--- SUCCESS ---\n";
    in_every_engine(out, "sodium-sign", &tag, |e| {
        let o = run_in(e, &tag, &[], &[], b"");
        assert_eq!(String::from_utf8_lossy(&o.stdout), expected, "{e:?}");
    });
}

#[test]
fn libseccomp_resolver_names_system_call_numbers_of_two_architectures() {
    if !tools(&["apt-get", "musl-gcc"]) {
        return;
    }
    deps_build("libseccomp");
    let (dir, top) = upstream_files("libseccomp", &["tools/scmp_sys_resolver.c"]);
    let out = dir.path();
    let tag = compile(out, &top.join("tools/scmp_sys_resolver.c"), "libseccomp", "scmp_sys_resolver", &[]);
    in_every_engine(out, "scmp_sys_resolver", &tag, |e| {
        let ask = |args: &[&str]| String::from_utf8_lossy(&run_in(e, &tag, &[], args, b"").stdout).trim().to_string();
        // Numbers from the kernel's tables: read is 0 on x86_64, openat 56 on arm64, 257 on x86_64.
        assert_eq!(ask(&["-a", "x86_64", "read"]), "0", "{e:?}");
        assert_eq!(ask(&["-a", "aarch64", "openat"]), "56", "{e:?}");
        assert_eq!(ask(&["-a", "x86_64", "257"]), "openat", "{e:?}");
    });
}

#[test]
fn libcap_capsh_decodes_a_mask_and_reads_the_containers_bounding_set() {
    if !tools(&["apt-get", "musl-gcc", "make"]) {
        return;
    }
    deps_build("libcap");
    let (dir, top) = upstream_files("libcap2", &["progs/capsh.c", "progs/capshdoc.h", "progs/capshdoc.c"]);
    let out = dir.path();
    // capsh's help texts are in capshdoc.c, compiled into the same program as its Makefile does.
    let doc = top.join("progs/capshdoc.c").display().to_string();
    let tag = compile(out, &top.join("progs/capsh.c"), "libcap", "capsh", &[&doc]);
    in_every_engine(out, "capsh", &tag, |e| {
        let o = run_in(e, &tag, &[], &["--decode=0x3000"], b"");
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0x0000000000003000=cap_net_admin,cap_net_raw", "{e:?}");
        // Dropping a capability the engine grants leaves it out of the container's bounding set.
        let o = run_in(e, &tag, &["--cap-drop", "chown"], &["--print"], b"");
        let s = String::from_utf8_lossy(&o.stdout);
        let bounding = s.lines().find(|l| l.starts_with("Bounding set =")).unwrap_or_else(|| panic!("{e:?}: {s}"));
        assert!(bounding.contains("cap_kill") && !bounding.contains("cap_chown"), "{e:?}: {bounding}");
    });
}

#[test]
fn libpcap_filtertest_compiles_a_filter_expression_to_bpf() {
    if !tools(&["apt-get", "musl-gcc", "flex", "bison"]) {
        return;
    }
    deps_build("libpcap");
    let (dir, top) = upstream_files("libpcap", &["testprogs/filtertest.c", "testprogs/unix.h", "varattrs.h"]);
    let out = dir.path();
    // filtertest includes the build tree's config.h (not installed); nothing in it is needed on Linux.
    std::fs::write(top.join("testprogs/config.h"), "").unwrap();
    let include = format!("-I{}", top.display());
    let tag = compile(out, &top.join("testprogs/filtertest.c"), "libpcap", "filtertest", &[&include]);
    in_every_engine(out, "filtertest", &tag, |e| {
        let o = run_in(e, &tag, &[], &["EN10MB", "tcp dst port 443"], b"");
        let s = String::from_utf8_lossy(&o.stdout);
        // The Ethernet type (IPv6, then IPv4), the protocol (6, TCP) and port 443 (0x1bb).
        for want in
            ["ldh      [12]", "jeq      #0x86dd", "jeq      #0x800", "jeq      #0x6", "jeq      #0x1bb", "ret      #0"]
        {
            assert!(s.contains(want), "{e:?}: no {want:?} in\n{s}");
        }
    });
}
