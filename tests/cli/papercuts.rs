//! Paper cuts found by trying real programs as a new user would (issue 13): each test
//! reproduces one of them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

/// An archive with one uncompressed layer of `bytes` pseudo-random bytes, made with the library.
fn archive_of(dir: &Path, bytes: usize) -> PathBuf {
    use staticize::image::spec::{Platform, RunConfig};
    use staticize::image::{Compression, ImagePlan, PlatformImage, Rootfs, Source};
    use staticize::reference::ImageRef;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut rootfs = Rootfs::new();
    rootfs.add_file("/data", Source::Bytes(data), 0o644).unwrap();
    let plan = ImagePlan {
        reference: ImageRef::parse("slow:1").unwrap(),
        images: vec![PlatformImage {
            platform: Platform::linux("amd64"),
            rootfs,
            config: RunConfig::default(),
            created_by: "test".into(),
            parts: Vec::new(),
        }],
        compression: Compression::None,
        epoch: 0,
        layering: staticize::image::layering::Layering::Single,
    };
    let path = dir.join("slow.tar");
    staticize::image::write(&plan, &path).unwrap();
    path
}

#[test]
fn push_to_a_registry_that_never_answers_stops_at_the_timeout_with_exit_4() {
    let dir = tempdir();
    let archive = archive_of(dir.path(), 1000);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts every connection and says nothing, keeping each open.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let started = Instant::now();
    let out = fails_with(
        staticize().env("STATICIZE_PUSH_TIMEOUT", "1").arg("push").arg(&archive).arg(format!("127.0.0.1:{port}/x:1")),
        4,
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "push waited {took:?} for a silent registry:\n{out}");
    assert!(out.contains(&format!("registry 127.0.0.1:{port}: sent and received nothing for 1 s")), "{out}");
    assert!(out.contains("while trying to check the registry API"), "{out}");
    assert!(out.contains("STATICIZE_PUSH_TIMEOUT=SECONDS (now 1)"), "{out}");
}

/// Writes `bytes` a few at a time, `pause` apart.
fn dribble(stream: &mut TcpStream, bytes: &[u8], pause: Duration) {
    for piece in bytes.chunks(4) {
        let _ = stream.write_all(piece);
        std::thread::sleep(pause);
    }
}

/// A registry on 127.0.0.1 that is slow but always moving: it answers the API check a few bytes
/// at a time and reads uploaded bodies 64 KiB at a time. Records the body bytes it received.
fn slow_registry() -> (u16, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(0usize));
    let total = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let method = line.split_whitespace().next().unwrap_or("").to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = reader.read(&mut buf[..left.min(64 * 1024)]).unwrap_or(0);
                if n == 0 {
                    break;
                }
                left -= n;
                *total.lock().unwrap() += n;
                std::thread::sleep(Duration::from_millis(20));
            }
            let (status, extra) = match method.as_str() {
                "GET" => (200, ""),
                "HEAD" => (404, ""),
                "POST" => (202, "Location: /v2/x/blobs/uploads/u1\r\n"),
                _ => (201, ""),
            };
            let head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n{extra}Content-Length: 0\r\n\r\n");
            if method == "GET" {
                // 60-odd bytes, 4 every 100 ms: well over the 1 s limit in all, never 1 s idle.
                dribble(&mut stream, head.as_bytes(), Duration::from_millis(100));
            } else {
                let _ = stream.write_all(head.as_bytes());
            }
        }
    });
    (port, received)
}

#[test]
fn push_to_a_slow_but_moving_registry_is_never_cut_off() {
    let dir = tempdir();
    let layer = 12 << 20;
    let archive = archive_of(dir.path(), layer);
    let (port, received) = slow_registry();
    let started = Instant::now();
    let out = ok(staticize()
        .env("STATICIZE_PUSH_TIMEOUT", "1")
        .arg("push")
        .arg(&archive)
        .arg(format!("127.0.0.1:{port}/x:1")));
    let took = started.elapsed();
    assert!(out.contains("2 blobs uploaded"), "{out}");
    // The answer alone took over 1 s, and the upload at ~3 MiB/s longer still: only an
    // inactivity limit lets this finish.
    assert!(took > Duration::from_secs(3), "the stub was not slow ({took:?}); the test proves nothing");
    assert!(*received.lock().unwrap() > layer, "the layer did not arrive whole");
}

#[test]
fn output_name_names_the_program_in_the_image_and_its_tag() {
    if !have("musl-gcc") || !have("podman") {
        return;
    }
    let dir = tempdir();
    std::fs::write(
        dir.path().join("shell.c"),
        "int half(int);\n#include <stdio.h>\nint main(void){printf(\"%d\\n\", half(84));return 0;}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("lib.c"), "int half(int x){return x/2;}\n").unwrap();
    let out = ok(staticize().current_dir(dir.path()).args(["c", "shell.c", "lib.c", "-o", "calc"]));
    assert!(out.contains("calc:latest"), "{out}");
    let archive = dir.path().join("calc.tar");
    let o = run(staticize().args(["--json", "inspect"]).arg(&archive));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["images"][0]["names"][0], "calc:latest", "{v}");
    assert_eq!(v["images"][0]["config"]["Entrypoint"][0], "/calc", "{v}");
    let tag = "calc:latest";
    Engine::Podman.load(&archive);
    assert_eq!(Engine::Podman.run_image(tag, &[], &[]), "42\n");
    Engine::Podman.remove(tag);
}

#[test]
fn a_long_step_off_a_terminal_prints_a_start_line_and_a_heartbeat() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    // A compiler that takes its time: musl-gcc after a pause.
    let slow = dir.path().join("slow-musl-gcc");
    std::fs::write(
        &slow,
        "#!/bin/sh\n[ \"$1\" = --version ] && exec musl-gcc --version\nsleep 3.5\nexec musl-gcc \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = ok(staticize()
        .current_dir(dir.path())
        .env("STATICIZE_CC", &slow)
        .env("STATICIZE_PROGRESS_INTERVAL", "0.5")
        .args(["c", "--no-image"])
        .arg(repo().join("examples/hello-c/hello.c")));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let start = lines.iter().position(|l| l.starts_with("started compiling ")).unwrap_or_else(|| panic!("{out}"));
    let beats: Vec<usize> =
        (0..lines.len()).filter(|&i| lines[i].starts_with("running compiling ") && lines[i].ends_with("s)")).collect();
    let summary = lines.iter().position(|l| l.starts_with("compile ")).unwrap_or_else(|| panic!("{out}"));
    // The start line comes after a second (issue 32), then a line every 0.5 s.
    assert!(beats.len() >= 3, "expected a line every 0.5 s of a 3.5 s compile:\n{out}");
    assert!(start < beats[0] && *beats.last().unwrap() < summary, "start, heartbeat, then the summary:\n{out}");
    assert!(!out.contains('\x1b') && !out.contains('⠋'), "no colour and no spinner off a terminal:\n{out}");
}

#[test]
fn a_quick_step_off_a_terminal_prints_no_start_line() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    // The compiler really runs (a source no object cache has seen), and says so in a log.
    let cc = d.join("logging-musl-gcc");
    let log = d.join("cc.log");
    std::fs::write(
        &cc,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && exec musl-gcc --version\necho ran >> '{}'\nexec musl-gcc \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let nonce = format!("{:?}", std::time::SystemTime::now());
    std::fs::write(d.join("quick.c"), format!("int main(void){{return 0;}} /* {nonce} */\n")).unwrap();
    let out = ok(staticize().current_dir(d).env("STATICIZE_CC", &cc).args(["c", "--no-image", "quick.c"]));
    assert!(std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ran")), "the compiler did not run:\n{out}");
    assert!(out.contains("compile "), "{out}");
    assert!(!out.contains("started "), "a step of milliseconds printed a start line:\n{out}");
}

#[test]
fn a_typescript_entry_is_compiled_bundled_and_runs_in_its_image() {
    if !have("node") || !have("npx") || !have("podman") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("lib")).unwrap();
    // A path alias only tsconfig.json knows: the build must read it.
    std::fs::write(d.join("tsconfig.json"), r#"{"compilerOptions": {"baseUrl": ".", "paths": {"@lib/*": ["lib/*"]}}}"#)
        .unwrap();
    std::fs::write(
        d.join("lib/greet.ts"),
        "export interface Who { name: string }\nexport function greet(w: Who): string { return `hello, ${w.name}`; }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("app.ts"),
        "import { greet, type Who } from \"@lib/greet\";\nconst who: Who = { name: process.argv[2] ?? \"typescript\" };\nconsole.log(greet(who));\n",
    )
    .unwrap();
    let out = ok(staticize().current_dir(d).args(["node", "app.ts", "-t", "staticize-test/ts-app:1"]));
    assert!(out.contains("bundle ") && out.contains("esbuild"), "{out}");
    assert_eq!(ok(&mut std::process::Command::new(d.join("app"))), "hello, typescript\n");
    let tag = "staticize-test/ts-app:1";
    Engine::Podman.load(&d.join("app.tar"));
    let said = Engine::Podman.run_image(tag, &[], &["image"]);
    Engine::Podman.remove(tag);
    assert_eq!(said, "hello, image\n");
}

/// The bytes of the files inside an archive's (single) image.
fn image_file_bytes(archive: &Path) -> u64 {
    let o = run(staticize().args(["--json", "inspect"]).arg(archive));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    v["images"][0]["totals"]["file_bytes"].as_u64().unwrap()
}

#[test]
fn image_strips_a_copy_and_leaves_the_file_and_what_strip_would_break_alone() {
    if !have("musl-gcc") || !have("strip") || !have("podman") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("calc.c"), "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 6 * 7);return 0;}\n")
        .unwrap();
    // Built elsewhere, with symbols and debug information, as a project's own Makefile might.
    ok(std::process::Command::new("musl-gcc").current_dir(d).args(["-static", "-O2", "-g", "calc.c", "-o", "calc"]));
    let size = std::fs::metadata(d.join("calc")).unwrap().len();
    let before = sha256_file(&d.join("calc"));
    let out = ok(staticize().current_dir(d).args(["image", "calc", "-t", "staticize-test/strip-calc:1"]));
    assert!(out.contains("strip calc: ") && out.contains("saved; the file on disk is untouched"), "{out}");
    assert_eq!(sha256_file(&d.join("calc")), before, "the file on disk changed");
    let stripped = image_file_bytes(&d.join("calc.tar"));
    // musl's static libc has no debug information: the symbol tables are about a quarter.
    assert!(stripped + 4000 < size, "{stripped} of {size} bytes: not stripped");
    Engine::Podman.load(&d.join("calc.tar"));
    assert_eq!(Engine::Podman.run_image("staticize-test/strip-calc:1", &[], &[]), "42\n");
    Engine::Podman.remove("staticize-test/strip-calc:1");

    ok(staticize().current_dir(d).args(["image", "calc", "--no-strip", "-o", "whole.tar"]));
    assert_eq!(image_file_bytes(&d.join("whole.tar")), size, "--no-strip changed the file");

    // A file with a payload after its ELF contents (as self-extracting programs carry), and
    // one with a flipped Node SEA fuse: strip would break both, so both go in whole.
    let mut appended = std::fs::read(d.join("calc")).unwrap();
    appended.extend_from_slice(b"payload read by the program at run time");
    std::fs::write(d.join("selfx"), &appended).unwrap();
    std::fs::set_permissions(d.join("selfx"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = ok(staticize().current_dir(d).args(["image", "selfx"]));
    assert!(out.contains("not stripped: 39 B follow its ELF contents"), "{out}");
    assert_eq!(image_file_bytes(&d.join("selfx.tar")), appended.len() as u64);
    std::fs::write(
        d.join("sea.c"),
        "#include <stdio.h>\nconst char fuse[] = \"NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1\";\nint main(void){puts(fuse);return 0;}\n",
    )
    .unwrap();
    ok(std::process::Command::new("musl-gcc").current_dir(d).args(["-static", "-O2", "sea.c", "-o", "sea"]));
    let out = ok(staticize().current_dir(d).args(["image", "sea"]));
    assert!(
        out.contains("not stripped: a Node single-executable app: strip would drop its NODE_SEA_BLOB note"),
        "{out}"
    );
    assert_eq!(image_file_bytes(&d.join("sea.tar")), std::fs::metadata(d.join("sea")).unwrap().len());
}

#[test]
fn a_library_the_system_has_only_for_glibc_is_explained_with_the_ways_out() {
    if !have("musl-gcc") || !have("gcc") {
        return;
    }
    assert!(Path::new("/usr/include/zlib.h").is_file(), "zlib1g-dev is needed (scripts/test.sh installs it)");
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("minigzip.c"),
        "#include <stdio.h>\n#include <string.h>\n#include <zlib.h>\nint main(void){const char *s=\"abc\";\
         printf(\"%08lx\\n\", crc32(0,(const unsigned char*)s,strlen(s)));return 0;}\n",
    )
    .unwrap();
    // The header: musl-gcc does not search /usr/include.
    let out = fails_with(staticize().current_dir(d).args(["c", "minigzip.c", "-l", "z", "--compiler", "musl-gcc"]), 3);
    assert!(out.contains("found no header zlib.h: the system has it only for glibc (/usr/include/zlib.h)"), "{out}");
    assert!(out.contains("fatal error: zlib.h"), "the compiler's own words stay:\n{out}");
    assert!(out.contains("add --libc glibc") && out.contains("(from zlib1g-dev)"), "{out}");
    assert!(out.contains("build the library for musl"), "{out}");
    // The library: declared by hand, so only the link fails.
    std::fs::write(
        d.join("crc.c"),
        "#include <stdio.h>\nunsigned long crc32(unsigned long, const unsigned char *, unsigned);\n\
         int main(void){printf(\"%08lx\\n\", crc32(0,(const unsigned char*)\"abc\",3));return 0;}\n",
    )
    .unwrap();
    let out = fails_with(staticize().current_dir(d).args(["c", "crc.c", "-l", "z", "--compiler", "musl-gcc"]), 3);
    assert!(out.contains("found no library -lz: the system has it only for glibc (/usr/lib/"), "{out}");
    // The first way out works.
    ok(staticize().current_dir(d).args(["c", "minigzip.c", "-l", "z", "--libc", "glibc", "--no-image"]));
    assert_eq!(ok(&mut std::process::Command::new(d.join("minigzip"))), "352441c2\n");
}

/// The version of shfmt the Go test builds (served by the Go module proxy).
const SHFMT: &str = "mvdan.cc/sh/v3/cmd/shfmt@v3.10.0";

#[test]
fn go_package_at_version_builds_like_go_install_and_knows_its_version() {
    if !have("go") || !have("podman") {
        return;
    }
    let dir = tempdir();
    let tag = "staticize-test/shfmt:3";
    let out = ok(staticize().current_dir(dir.path()).args(["go", SHFMT, "-t", tag]));
    assert!(out.contains(&format!("go install {SHFMT}")), "{out}");
    // Built outside any module, the program's module is the main module: its version is known.
    assert_eq!(ok(std::process::Command::new(dir.path().join("shfmt")).arg("--version")), "v3.10.0\n");
    Engine::Podman.load(&dir.path().join("shfmt.tar"));
    let version = Engine::Podman.run_image(tag, &[], &["--version"]);
    let mut child = podman_cmd()
        .args(["run", "--rm", "-i", "--network", "none", tag, "-i", "2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"if true;then\necho  hi\nfi\n").unwrap();
    let formatted = child.wait_with_output().unwrap();
    Engine::Podman.remove(tag);
    assert_eq!(version, "v3.10.0\n");
    assert_eq!(String::from_utf8_lossy(&formatted.stdout), "if true; then\n  echo hi\nfi\n");
}

/// `staticize c main.c a.c b.c -o OUT --no-image` with the object cache in `cache`: which
/// sources were compiled and which came from the cache, read from its `objects` step line
/// ("objects 1 compiled (b.c), 2 from the cache (main.c a.c) in DIR").
fn c_build(dir: &Path, cache: &Path, out: &str) -> (Vec<String>, Vec<String>) {
    let said = ok(staticize().current_dir(dir).env("STATICIZE_CACHE", cache).args([
        "c",
        "main.c",
        "a.c",
        "b.c",
        "-o",
        out,
        "--no-image",
        "--compiler",
        "musl-gcc",
    ]));
    let line = said.lines().map(str::trim).find(|l| l.starts_with("objects ")).unwrap_or_else(|| panic!("{said}"));
    let (compiled, cached) = line.strip_prefix("objects ").unwrap().split_once(" from the cache").unwrap();
    let list = |s: &str| -> Vec<String> {
        s.split_once('(')
            .map(|(_, r)| r.split(')').next().unwrap().split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    (list(compiled.rsplit_once(',').unwrap().0), list(cached.split(" in ").next().unwrap()))
}

#[test]
fn unchanged_sources_come_from_the_object_cache_and_the_output_is_byte_identical() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let write = |f: &str, s: &str| std::fs::write(d.join(f), s).unwrap();
    write("a.h", "#define A 40\n");
    write(
        "main.c",
        "#include <stdio.h>\nint a(void);\nint b(void);\nint main(void){printf(\"%d\\n\", a() + b());return 0;}\n",
    );
    write("a.c", "#include \"a.h\"\nint a(void){return A;}\n");
    write("b.c", "int b(void){return 2;}\n");
    let cache = d.join("cache");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    assert_eq!(c_build(d, &cache, "first"), (s(&["main.c", "a.c", "b.c"]), s(&[])));
    assert_eq!(c_build(d, &cache, "again"), (s(&[]), s(&["main.c", "a.c", "b.c"])));
    assert_eq!(std::fs::read(d.join("first")).unwrap(), std::fs::read(d.join("again")).unwrap());

    // One source changed: only it compiles, and the result equals a clean build's bytes.
    write("b.c", "int b(void){return 3;}\n");
    assert_eq!(c_build(d, &cache, "changed"), (s(&["b.c"]), s(&["main.c", "a.c"])));
    assert_eq!(c_build(d, &d.join("fresh-cache"), "clean"), (s(&["main.c", "a.c", "b.c"]), s(&[])));
    assert_eq!(std::fs::read(d.join("changed")).unwrap(), std::fs::read(d.join("clean")).unwrap());
    assert_eq!(ok(&mut std::process::Command::new(d.join("changed"))), "43\n");

    // A changed header recompiles the file that includes it.
    write("a.h", "#define A 50\n");
    assert_eq!(c_build(d, &cache, "header"), (s(&["a.c"]), s(&["main.c", "b.c"])));
    assert_eq!(ok(&mut std::process::Command::new(d.join("header"))), "53\n");
}

/// ko, as scripts/test.sh installs it (`go install`, into ~/go/bin).
fn ko() -> PathBuf {
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_default()).join("go/bin/ko");
    if home.is_file() {
        return home;
    }
    assert!(have("ko"), "ko: go install github.com/google/ko@v0.19.1 (scripts/test.sh)");
    PathBuf::from("ko")
}

/// An image `ko build --tarball` writes for a tiny Go program, on an empty base image pushed to
/// the test registry (ko needs a base from a registry; nothing leaves the machine).
fn ko_image(dir: &Path, registry: &str) -> PathBuf {
    let base = format!("{registry}/{}", unique_tag("ko-base"));
    let layout = dir.join("base-oci");
    ok(std::process::Command::new("umoci").args(["init", "--layout"]).arg(&layout));
    ok(std::process::Command::new("umoci").arg("new").arg("--image").arg(format!("{}:base", layout.display())));
    ok(std::process::Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .args([format!("oci:{}:base", layout.display()), format!("docker://{base}")]));
    let src = dir.join("kohello");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("go.mod"), "module example.com/kohello\n\ngo 1.21\n").unwrap();
    std::fs::write(
        src.join("main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from ko\") }\n",
    )
    .unwrap();
    let tar = dir.join("ko.tar");
    ok(std::process::Command::new(ko())
        .current_dir(&src)
        .env("KO_DOCKER_REPO", "staticize-test.invalid/kohello")
        .env("KO_DEFAULTBASEIMAGE", &base)
        .args(["build", "--bare", "--push=false", "--platform=linux/amd64"])
        .arg(format!("--tarball={}", tar.display()))
        .arg("."));
    tar
}

#[test]
fn an_image_ko_writes_with_slash_names_is_inspected_clean_squashed_and_runs() {
    if !have("go") || !have("umoci") || !have("skopeo") || !have("registry") {
        return;
    }
    let dir = tempdir();
    let tar = ko_image(dir.path(), &registry().unwrap());
    // ko names its layer entries "/ko-app/kohello", "/var/run/ko": the engines put them under
    // the root, and so must inspect and squash.
    let out = ok(staticize().args(["inspect", "--files"]).arg(&tar));
    assert!(out.contains("/ko-app/kohello") && out.contains("/var/run/ko"), "{out}");
    assert!(!out.contains("absolute") && !out.contains("problem"), "{out}");
    let squashed = dir.path().join("squashed.tar");
    let tag = format!("localhost/{}", unique_tag("ko-squashed"));
    let out = ok(staticize().args(["squash", "-t", &tag, "-o"]).arg(&squashed).arg(&tar));
    assert!(out.contains("squash"), "{out}");
    let listed = ok(staticize().args(["inspect", "--files"]).arg(&squashed));
    assert!(listed.contains("/ko-app/kohello"), "{listed}");
    for (engine, said) in load_and_run_everywhere(&squashed, &tag, &[]) {
        assert_eq!(said, "hello from ko\n", "{engine:?}");
    }
}

/// What scripts/apt-sources.sh's `debian_source_entry` prints for a machine whose apt files are
/// `files` (path under /etc/apt, content): (exit code, stdout, stderr).
fn deb_src_entry_for(files: &[(&str, &str)]) -> (i32, String, String) {
    let root = tempdir();
    std::fs::create_dir_all(root.path().join("etc/apt/sources.list.d")).unwrap();
    for (path, content) in files {
        std::fs::write(root.path().join("etc/apt").join(path), content).unwrap();
    }
    let o = run(std::process::Command::new("bash")
        .arg("-c")
        .arg(". scripts/apt-sources.sh && debian_source_entry \"$1\"")
        .arg("test")
        .arg(root.path())
        .current_dir(repo()));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), err)
}

#[test]
fn the_deb_src_entry_of_scripts_test_sh_follows_the_machines_own_debian_entry() {
    let entry = |uri: &str, suite: &str, key: &str| {
        format!("Types: deb-src\nURIs: {uri}\nSuites: {suite}\nComponents: main\nSigned-By: {key}\n")
    };
    let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
    // Debian 12's own file: the main entry, then security.
    let debian12 = "Types: deb\n# a snapshot\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n";
    assert_eq!(
        deb_src_entry_for(&[("sources.list.d/debian.sources", debian12)]).1,
        entry("http://deb.debian.org/debian", "bookworm", keyring)
    );
    // A mirror behind a proxy, security listed first, a disabled entry, fields over several lines.
    let mirror = "Types: deb\nURIs: http://security.example/debian-security\nSuites: trixie-security\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: trixie\n\nTypes: deb deb-src\nURIs:\n http://apt-proxy.example:3142/debian\n http://second.example/debian\nSuites:\n trixie-updates\n trixie\nComponents: main\nSigned-By: /etc/apt/keyrings/mirror.gpg\n";
    assert_eq!(
        deb_src_entry_for(&[("sources.list.d/mirror.sources", mirror)]).1,
        entry("http://apt-proxy.example:3142/debian", "trixie", "/etc/apt/keyrings/mirror.gpg")
    );
    // The one-line form, with options, after a comment, a deb-src line and security.
    let one_line = "# old style\ndeb-src http://src.example/debian bookworm main\ndeb http://security.debian.org/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/etc/apt/keyrings/local.gpg] http://10.0.0.1:3142/debian bookworm main contrib\n";
    assert_eq!(
        deb_src_entry_for(&[("sources.list", one_line)]).1,
        entry("http://10.0.0.1:3142/debian", "bookworm", "/etc/apt/keyrings/local.gpg")
    );
    let plain = "deb http://ftp.example.org/debian/ bookworm main\n";
    assert_eq!(
        deb_src_entry_for(&[("sources.list.d/plain.list", plain)]).1,
        entry("http://ftp.example.org/debian/", "bookworm", keyring)
    );
    // No Debian entry at all: a clear failure, nothing printed to write.
    for files in [
        &[][..],
        &[("sources.list.d/other.list.disabled", "deb http://x/debian bookworm main\n")][..],
        &[("sources.list", "deb http://security.debian.org/debian-security bookworm-security main\n")][..],
    ] {
        let (code, out, err) = deb_src_entry_for(files);
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        assert!(
            err.contains("no Debian package entry (Types: deb) found") && err.contains("add a deb-src entry"),
            "{err}"
        );
    }
}

/// The crate `staticize rust NAME@VERSION` is tested on: a small program (a Markdown renderer)
/// whose published Cargo.lock pins its few dependencies.
const PULLDOWN: &str = "pulldown-cmark@0.13.6";

/// A crates cache kept across runs (like the deps cache), outside any Cargo workspace: the
/// crate is downloaded and its dependencies compiled once.
fn crates_cache() -> PathBuf {
    let dir = std::env::var_os("STATICIZE_TEST_CRATES_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("staticize-test-crates-cache"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn rust_crate_at_version_builds_like_cargo_install_from_its_own_lock() {
    if !have("cargo") || !have("podman") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let cache = crates_cache();
    let tag = unique_tag("pulldown");
    let out = ok(staticize().current_dir(d).env("STATICIZE_CACHE", &cache).args(["rust", PULLDOWN, "-t", &tag]));
    let unpacked = cache.join("crates/pulldown-cmark-0.13.6");
    assert!(out.contains("pulldown-cmark 0.13.6 ") && out.contains(&unpacked.display().to_string()), "{out}");
    assert!(out.contains("(its own Cargo.lock, --locked)"), "{out}");
    // The program works, static, on the host and in its image.
    let verdict = ok(staticize().arg("check").arg(d.join("pulldown-cmark")));
    assert!(verdict.contains("static"), "{verdict}");
    let md = b"# Title\n\nSome *text*.\n";
    let mut host = std::process::Command::new(d.join("pulldown-cmark"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    host.stdin.take().unwrap().write_all(md).unwrap();
    let html = String::from_utf8_lossy(&host.wait_with_output().unwrap().stdout).into_owned();
    assert_eq!(html, "<h1>Title</h1>\n<p>Some <em>text</em>.</p>\n");
    Engine::Podman.load(&d.join("pulldown-cmark.tar"));
    let mut child = podman_cmd()
        .args(["run", "--rm", "-i", "--network", "none", &tag])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(md).unwrap();
    let in_image = child.wait_with_output().unwrap();
    Engine::Podman.remove(&tag);
    assert_eq!(String::from_utf8_lossy(&in_image.stdout), html);
    // The versions built are the published Cargo.lock's (the SBOM lists the linked crates).
    let lock = std::fs::read_to_string(unpacked.join("Cargo.lock")).unwrap();
    let sbom = std::fs::read_to_string(d.join("pulldown-cmark.spdx.json")).unwrap();
    for krate in ["getopts", "unicase", "bitflags", "memchr"] {
        let at = lock.find(&format!("name = \"{krate}\"\nversion = \"")).unwrap_or_else(|| panic!("{krate}: {lock}"));
        let version = lock[at..].lines().nth(1).unwrap().trim_start_matches("version = ").trim_matches('"');
        let listed =
            sbom.contains(&format!("\"name\": \"{krate}\"")) || sbom.contains(&format!("\"name\":\"{krate}\""));
        assert!(
            listed && sbom.contains(&format!("\"versionInfo\": \"{version}\"")),
            "{krate} {version} not in the SBOM"
        );
    }
    // Rebuilt from the cache: nothing downloaded.
    let again = ok(staticize().current_dir(d).env("STATICIZE_CACHE", &cache).args([
        "rust",
        PULLDOWN,
        "--no-image",
        "-o",
        "again",
    ]));
    assert!(again.contains("pulldown-cmark 0.13.6 cached in"), "{again}");
}

#[test]
fn rust_names_the_published_crate_form_and_what_is_wrong_with_one() {
    if !have("cargo") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let cache = crates_cache();
    // A path that does not exist: the help names both forms.
    let out = fails_with(staticize().current_dir(d).args(["rust", "no-such-dir"]), 4);
    assert!(out.contains("no-such-dir: no such file or directory"), "{out}");
    assert!(out.contains("or NAME@VERSION for a crate from crates.io"), "{out}");
    // A version crates.io never had: the newest ones are named.
    let out = fails_with(
        staticize().current_dir(d).env("STATICIZE_CACHE", &cache).args(["rust", "pulldown-cmark@99.0.0"]),
        4,
    );
    assert!(out.contains("pulldown-cmark@99.0.0: no such version on crates.io"), "{out}");
    assert!(out.contains("the newest versions are: 0.13."), "{out}");
    // A bin the crate does not have: its bins are listed (the crate comes from the cache).
    let out = fails_with(
        staticize().current_dir(d).env("STATICIZE_CACHE", &cache).args([
            "rust",
            PULLDOWN,
            "--bin",
            "nope",
            "--no-image",
        ]),
        2,
    );
    assert!(out.contains("has no bin target named 'nope'") && out.contains("choose one of: pulldown-cmark"), "{out}");
}

#[test]
fn pack_of_a_script_says_to_pack_its_interpreter_or_bundle_it_and_both_work() {
    if !have("podman") || !have("dash") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let script = d.join("greet.sh");
    std::fs::write(&script, "#!/bin/dash\necho \"hello from $0\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = fails_with(staticize().current_dir(d).args(["pack", "greet.sh"]), 4);
    assert!(out.contains("greet.sh: is a script for /bin/dash, not an ELF program"), "{out}");
    assert!(out.contains("staticize pack /bin/dash"), "{out}");
    let bundle = "staticize bundle /bin/dash --add greet.sh:/app/greet.sh --cmd /app/greet.sh";
    assert!(out.contains(bundle), "{out}");
    // The first way: the packed interpreter runs the script.
    ok(staticize().current_dir(d).args(["pack", "/bin/dash", "--no-image", "-o", "dash-packed"]));
    assert_eq!(
        ok(std::process::Command::new(d.join("dash-packed")).arg(&script)),
        format!("hello from {}\n", script.display())
    );
    // The second, exactly as printed (with a tag of this run's own).
    let tag = unique_tag("greet");
    ok(staticize().current_dir(d).args(bundle.split(' ').skip(1)).args(["-t", &tag]));
    Engine::Podman.load(&d.join("dash.tar"));
    let said = Engine::Podman.run_image(&tag, &[], &[]);
    Engine::Podman.remove(&tag);
    assert_eq!(said, "hello from /app/greet.sh\n");
}

#[test]
fn pack_and_bundle_of_one_program_get_their_own_tags_and_pack_says_what_it_holds_in_memory() {
    if !have("podman") || !have("redis-cli") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    // A copy with a name of this run's own: the default tags are made from it.
    let name = format!("rcli{}", std::process::id());
    std::fs::copy("/usr/bin/redis-cli", d.join(&name)).unwrap();
    let bundled = ok(staticize().current_dir(d).arg("bundle").arg(d.join(&name)));
    assert!(bundled.contains(&format!("{name}:latest")), "{bundled}");
    let packed = ok(staticize().current_dir(d).arg("pack").arg(d.join(&name)).args(["-o", "packed"]));
    assert!(packed.contains(&format!("{name}:packed")), "{packed}");
    // The memory the packed program holds: on the pack line and in check, the same figure,
    // the sum of what it carries.
    let v: serde_json::Value =
        serde_json::from_slice(&run(staticize().args(["--json", "check"]).arg(d.join("packed"))).stdout).unwrap();
    let carried = &v[0]["packed"]["carries"];
    let sum: u64 = carried["entries"].as_array().unwrap().iter().map(|e| e["size"].as_u64().unwrap()).sum();
    assert_eq!(carried["unpacked_bytes"].as_u64(), Some(sum), "{v}");
    let line = packed.lines().find(|l| l.trim_start().starts_with("pack ")).unwrap_or_else(|| panic!("{packed}"));
    let size = line.split("compressed from ").nth(1).and_then(|s| s.split(", held in memory while it runs").next());
    let size = size.unwrap_or_else(|| panic!("no memory on the pack line: {line}"));
    let checked = ok(staticize().arg("check").arg(d.join("packed")));
    assert!(checked.contains(&format!("({size} unpacked, held in memory while it runs)")), "{size}: {checked}");
    // Both images load side by side: neither replaced the other.
    Engine::Podman.load(&d.join(format!("{name}.tar")));
    Engine::Podman.load(&d.join("packed.tar"));
    let (latest, packed_tag) = (format!("{name}:latest"), format!("{name}:packed"));
    let a = Engine::Podman.run_image(&latest, &[], &["--version"]);
    let b = Engine::Podman.run_image(&packed_tag, &[], &["--version"]);
    let bundled_id = Engine::Podman.inspect(&latest)["Id"].clone();
    let packed_id = Engine::Podman.inspect(&packed_tag)["Id"].clone();
    Engine::Podman.remove(&latest);
    Engine::Podman.remove(&packed_tag);
    assert!(a.starts_with("redis-cli ") && a == b, "{a} / {b}");
    assert_ne!(bundled_id, packed_id);
}
