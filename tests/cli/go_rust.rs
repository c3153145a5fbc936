//! `staticize go` and `staticize rust`, end to end: real go and cargo, images run by podman and
//! docker (HTTP answered on 127.0.0.1 through `--network host`), cgo with musl, arm64 under
//! qemu, workspaces, build scripts, and every error with its exit code.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// helpers

/// Writes `files` (relative path, contents) under `dir`.
fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (rel, body) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.0 GET against 127.0.0.1:port; the body, or None while nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// Kills a detached container when dropped, so a failed assertion leaves nothing running.
struct Running {
    engine: Engine,
    id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.engine.cmd().args(["kill", &self.id]).output();
        let _ = self.engine.cmd().args(["rm", "-f", &self.id]).output();
    }
}

/// Loads `tar` into every engine, runs `image` detached on the host network with a unique
/// port on 127.0.0.1, and returns each engine's answer to `GET /from-host`.
fn serve_everywhere(tar: &Path, image: &str) -> Vec<(Engine, String)> {
    let mut answers = Vec::new();
    for engine in Engine::available() {
        engine.load(tar);
        let port = free_port();
        let o = run(engine.cmd().args(["run", "-d", "--rm", "--network", "host"]).args([
            "-e",
            &format!("PORT={port}"),
            "-e",
            "BIND=127.0.0.1",
            image,
        ]));
        assert!(o.status.success(), "{engine:?} run {image}: {}", text(&o));
        let running = Running { engine, id: String::from_utf8_lossy(&o.stdout).trim().to_string() };
        let deadline = Instant::now() + Duration::from_secs(30);
        let body = loop {
            if let Some(b) = http_get(port, "/from-host") {
                break b;
            }
            assert!(Instant::now() < deadline, "{engine:?}: {image} never answered on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(200));
        };
        drop(running);
        engine.remove(image);
        answers.push((engine, body));
    }
    answers
}

/// `staticize --json …` parsed.
#[track_caller]
fn json_ok(cmd: &mut Command) -> serde_json::Value {
    let o = run(cmd);
    assert!(o.status.success(), "{cmd:?} failed ({}):\n{}", o.status, text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)))
}

/// ELF e_machine of a file: 62 x86-64, 183 aarch64.
fn e_machine(p: &Path) -> u16 {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", p.display());
    u16::from_le_bytes([b[18], b[19]])
}

/// Runs a program and returns its stdout, asserting success.
#[track_caller]
fn stdout_of(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(o.status.success(), "{cmd:?} failed ({}):\n{}", o.status, text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether zig (the ziglang wheel or zig on PATH) is usable, under the usual require rule.
fn have_zig() -> bool {
    let ok = Command::new("python3").args(["-m", "ziglang", "version"]).output().is_ok_and(|o| o.status.success())
        || Command::new("zig").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!e2e_required(), "zig is required (STATICIZE_E2E=require): pip install ziglang");
        skipped("zig");
    }
    ok
}

/// A PATH with the system directories only: no go (/usr/local/go) and no cargo (~/.cargo).
const BARE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

const GO_MOD: &str = "module example.com/prog\n\ngo 1.21\n";

// ---------------------------------------------------------------------------------------------
// Go

#[test]
fn go_hello_image_answers_http_from_podman_and_docker() {
    if !have("go") {
        return;
    }
    let dir = tempdir();
    let tag = unique_tag("hello-go");
    let bin = dir.path().join("hello-go");
    let out = ok(staticize().arg("go").arg(repo().join("examples/hello-go")).arg("-o").arg(&bin).args(["-t", &tag]));
    for step in ["compile", "check", "image", "write", "run"] {
        assert!(out.contains(step), "missing step {step}:\n{out}");
    }
    assert!(out.contains("static, amd64, stripped") || out.contains("static, arm64, stripped"), "{out}");
    let tar = dir.path().join("hello-go.tar");
    assert!(bin.is_file() && tar.is_file());
    for (engine, body) in serve_everywhere(&tar, &tag) {
        assert!(body.starts_with("hello from go (linux/"), "{engine:?}: {body}");
        assert!(body.trim_end().ends_with("/from-host"), "{engine:?}: {body}");
    }
    eprintln!(
        "go hello: binary {} bytes, image {} bytes",
        std::fs::metadata(&bin).unwrap().len(),
        std::fs::metadata(&tar).unwrap().len()
    );
}

#[test]
fn go_module_with_a_dependency_builds_static() {
    if !have("go") {
        return;
    }
    let dir = tempdir();
    let src = dir.path().join("uuidprog");
    write_tree(
        &src,
        &[
            ("go.mod", "module example.com/uuidprog\n\ngo 1.21\n\nrequire github.com/google/uuid v1.6.0\n"),
            (
                "main.go",
                "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/google/uuid\"\n)\n\n\
                 func main() { fmt.Println(\"uuid\", uuid.NewSHA1(uuid.NameSpaceURL, []byte(\"staticize\")).String()) }\n",
            ),
        ],
    );
    // go.sum comes from the module proxy, as a user's checkout would have it.
    ok(Command::new("go").arg("mod").arg("tidy").current_dir(&src));
    let bin = dir.path().join("uuidprog-bin");
    let v = json_ok(staticize().args(["--json", "go"]).arg(&src).arg("-o").arg(&bin).arg("--no-image"));
    assert_eq!(v["linkage"]["kind"], "static", "{v}");
    assert_eq!(v["image"], serde_json::Value::Null);
    let printed = stdout_of(&mut Command::new(&bin));
    // Version-5 UUIDs are deterministic (Python's uuid.uuid5 agrees): the dependency's code ran.
    assert_eq!(printed.trim(), "uuid f0da0012-5ecd-5ad8-9aaf-4ed558d1597b");

    // staticize starts the pure-Go build beside `go list`, in its cache slot (where go keeps
    // an unchanged program without linking it again): the program must still be exactly what
    // the command it reports builds, run by hand with go.toml's environment.
    let reported = v["artifact"]["command"].as_str().unwrap().to_string();
    let staged = reported.split(" -o ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or("").to_string();
    assert!(staged.ends_with("/program"), "the command names its output in the go cache: {reported}");
    let by_hand = dir.path().join("by-hand");
    let goarch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    ok(Command::new("sh")
        .arg("-c")
        .arg(reported.replace(&staged, &by_hand.display().to_string()))
        .current_dir(&src)
        .envs([("CGO_ENABLED", "0"), ("GOOS", "linux"), ("GOARCH", goarch)]));
    assert!(std::fs::read(&by_hand).unwrap() == std::fs::read(&bin).unwrap(), "{reported} built other bytes");
}

#[test]
fn go_cgo_links_static_with_musl_and_runs_in_scratch() {
    if !have("go") || !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    let src = dir.path().join("cgoprog");
    write_tree(
        &src,
        &[
            ("go.mod", GO_MOD),
            (
                "main.go",
                "package main\n\n/*\n#include <string.h>\nstatic int twice(int x) { return 2 * x; }\n*/\nimport \"C\"\n\
                 import \"fmt\"\n\nfunc main() { fmt.Println(\"cgo twice\", C.twice(21), C.strlen(C.CString(\"musl\"))) }\n",
            ),
        ],
    );
    let tag = unique_tag("cgo");
    let bin = dir.path().join("prog");
    // A private TMPDIR: the pure-Go build started beside `go list` is stopped once cgo turns out
    // to be needed, and neither it nor go's work directories may be left behind.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = ok(staticize().env("TMPDIR", &tmp).arg("go").arg(&src).arg("-o").arg(&bin).args(["-t", &tag]));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
    assert!(out.contains("needs C (example.com/prog)"), "{out}");
    assert!(out.contains("CC=musl-gcc") && out.contains("-linkmode external -extldflags -static"), "{out}");
    assert!(out.contains("check static,"), "{out}");
    for (engine, stdout) in load_and_run_everywhere(&dir.path().join("prog.tar"), &tag, &[]) {
        assert_eq!(stdout.trim(), "cgo twice 42 4", "{engine:?}");
    }
}

#[test]
fn go_two_platforms_give_arm64_static_elf_and_one_index_image() {
    if !have("go") {
        return;
    }
    let dir = tempdir();
    let src = dir.path().join("arch");
    write_tree(
        &src,
        &[
            ("go.mod", GO_MOD),
            (
                "main.go",
                "package main\n\nimport (\"fmt\"; \"runtime\")\n\nfunc main() { fmt.Println(\"arch\", runtime.GOARCH) }\n",
            ),
        ],
    );
    let tag = unique_tag("arch");
    let base = dir.path().join("prog");
    let out = ok(staticize().arg("go").arg(&src).arg("-o").arg(&base).args([
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        &tag,
    ]));
    assert!(out.contains("check linux/arm64: static, arm64"), "{out}");
    let arm = dir.path().join("prog-arm64");
    let amd = dir.path().join("prog-amd64");
    assert_eq!(e_machine(&arm), 183, "aarch64");
    assert_eq!(e_machine(&amd), 62, "x86-64");
    let checked = json_ok(staticize().args(["--json", "check"]).arg(&arm));
    assert_eq!(checked[0]["kind"], "static", "{checked}");
    if have("qemu-aarch64-static") {
        assert_eq!(stdout_of(Command::new("qemu-aarch64-static").arg(&arm)).trim(), "arch arm64");
    }
    // One archive, an index of two manifests; each engine runs its own platform.
    let tar = dir.path().join("prog.tar");
    let listing = stdout_of(Command::new("tar").arg("-xOf").arg(&tar).arg("index.json"));
    let index: serde_json::Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(index["manifests"][0]["mediaType"], "application/vnd.oci.image.index.v1+json", "{index}");
    for (engine, stdout) in load_and_run_everywhere(&tar, &tag, &[]) {
        assert_eq!(stdout.trim(), "arch amd64", "{engine:?}");
    }
}

#[test]
fn go_cgo_cross_builds_arm64_with_zig_and_runs_under_qemu() {
    if !have("go") || !have_zig() || !have("qemu-aarch64-static") {
        return;
    }
    let dir = tempdir();
    let src = dir.path().join("cgoarm");
    write_tree(
        &src,
        &[
            ("go.mod", GO_MOD),
            (
                "main.go",
                "package main\n\n// static int add(int a, int b) { return a + b; }\nimport \"C\"\nimport \"fmt\"\n\n\
                 func main() { fmt.Println(\"cgo add\", C.add(40, 2)) }\n",
            ),
        ],
    );
    let bin = dir.path().join("prog");
    let out = ok(staticize().arg("go").arg(&src).arg("-o").arg(&bin).args(["--platform", "linux/arm64", "--no-image"]));
    assert!(out.contains("-target aarch64-linux-musl"), "{out}");
    assert!(out.contains("check static, arm64, stripped"), "{out}");
    assert_eq!(e_machine(&bin), 183);
    assert_eq!(stdout_of(Command::new("qemu-aarch64-static").arg(&bin)).trim(), "cgo add 42");
}

#[test]
fn go_tzdata_embeds_zones_for_scratch() {
    if !have("go") {
        return;
    }
    let dir = tempdir();
    let src = dir.path().join("tz");
    write_tree(
        &src,
        &[
            ("go.mod", GO_MOD),
            (
                "main.go",
                "package main\n\nimport (\"fmt\"; \"os\"; \"time\")\n\nfunc main() {\n\
                 \tloc, err := time.LoadLocation(\"Europe/Paris\")\n\
                 \tif err != nil { fmt.Println(\"no zone:\", err); os.Exit(1) }\n\
                 \tfmt.Println(\"zone\", time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC).In(loc).Format(\"15:04 MST\"))\n}\n",
            ),
        ],
    );
    let tag = unique_tag("tz");
    let bin = dir.path().join("prog");
    ok(staticize().arg("go").arg(&src).arg("-o").arg(&bin).args(["--tzdata", "-t", &tag]));
    // Scratch has no /usr/share/zoneinfo: only the embedded database can answer.
    for (engine, stdout) in load_and_run_everywhere(&dir.path().join("prog.tar"), &tag, &[]) {
        assert_eq!(stdout.trim(), "zone 14:00 CEST", "{engine:?}");
    }
}

#[test]
fn interrupting_staticize_go_stops_the_build_it_started_beside_go_list() {
    // A stand-in go: `go list` takes long, `go build` would leave a mark after 2 s. The build
    // runs in a process group of its own, out of reach of the terminal's Ctrl-C.
    let dir = tempdir();
    let mark = dir.path().join("build-finished");
    let fake = dir.path().join("fake-go");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  list) sleep 20 ;;\n  build) sleep 2; touch '{}' ;;\n  *) echo go version go1.99 linux/amd64 ;;\nesac\n",
            mark.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let pkg = dir.path().join("pkg");
    write_tree(&pkg, &[("go.mod", GO_MOD), ("main.go", "package main\n\nfunc main() {}\n")]);
    // Like a shell: staticize leads its own foreground group, and Ctrl-C goes to that group.
    let mut child = {
        use std::os::unix::process::CommandExt;
        // A private TMPDIR: an interrupted run leaves its scratch directory, as any program's.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        staticize()
            .env("STATICIZE_GO", &fake)
            .env("TMPDIR", &tmp)
            .arg("go")
            .arg(&pkg)
            .arg("--no-image")
            .process_group(0)
            .spawn()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: kill(2) on the group just spawned.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGINT), "{status}");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!mark.exists(), "the background go build outlived the interrupted staticize");
}

#[test]
fn go_errors_name_the_problem_with_their_exit_codes() {
    if !have("go") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    write_tree(
        d,
        &[
            ("empty/go.mod", "module example.com/empty\n\ngo 1.21\n"),
            ("lib/go.mod", "module example.com/lib\n\ngo 1.21\n"),
            ("lib/lib.go", "package lib\n\nfunc F() int { return 1 }\n"),
            ("bad/go.mod", "module example.com/bad\n\ngo 1.21\n"),
            ("bad/main.go", "package main\n\nfunc main() { notDefined() }\n"),
            ("nomod/main.go", "package main\n\nfunc main() {}\n"),
        ],
    );
    let e = fails_with(staticize().arg("go").arg(d.join("empty")), 4);
    assert!(e.contains("not a Go package") && e.contains("no Go files"), "{e}");
    let e = fails_with(staticize().arg("go").arg(d.join("nomod")).current_dir(d), 4);
    assert!(e.contains("not a Go package") && e.contains("go.mod"), "{e}");
    let e = fails_with(staticize().arg("go").arg(d.join("lib")), 4);
    assert!(e.contains("is package lib, not a main package"), "{e}");
    let e = fails_with(staticize().arg("go").arg(d.join("missing-dir")), 4);
    assert!(e.contains("no such directory"), "{e}");
    // A compile error shows the compiler's own words, and an existing output survives.
    let out = d.join("bad-out");
    std::fs::write(&out, "previous").unwrap();
    let e = fails_with(staticize().arg("go").arg(d.join("bad")).arg("-o").arg(&out), 3);
    assert!(e.contains("undefined: notDefined"), "{e}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
    assert!(!d.join("bad-out.tar").exists());
    let e = fails_with(staticize().arg("go").arg(d.join("bad")).env("PATH", BARE_PATH), 3);
    assert!(e.contains("go not found") && e.contains("STATICIZE_GO"), "{e}");
    let e = fails_with(staticize().arg("go").arg(d.join("bad")).args(["--platform", "windows/386"]), 2);
    assert!(e.contains("is not a platform staticize can build"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Rust

#[test]
fn rust_hello_image_answers_http_from_podman_and_docker() {
    if !have("cargo") {
        return;
    }
    let dir = tempdir();
    // A copy, so the test never writes into the repository's examples/.
    let src = dir.path().join("hello-rust");
    write_tree(
        &src,
        &[
            ("Cargo.toml", &std::fs::read_to_string(repo().join("examples/hello-rust/Cargo.toml")).unwrap()),
            ("src/main.rs", &std::fs::read_to_string(repo().join("examples/hello-rust/src/main.rs")).unwrap()),
        ],
    );
    let manifest_before = std::fs::read(src.join("Cargo.toml")).unwrap();
    let tag = unique_tag("hello-rust");
    let bin = dir.path().join("hello-rust-bin");
    let out = ok(staticize().arg("rust").arg(&src).arg("-o").arg(&bin).args(["-t", &tag]));
    for step in ["compile", "check", "image", "write", "run"] {
        assert!(out.contains(step), "missing step {step}:\n{out}");
    }
    assert!(out.contains("linux-musl") && out.contains("stripped"), "{out}");
    // Built under target/staticize; the manifest is untouched.
    assert_eq!(std::fs::read(src.join("Cargo.toml")).unwrap(), manifest_before);
    assert!(src.join("target/staticize").is_dir());
    assert!(!src.join("target/release").exists());
    let tar = dir.path().join("hello-rust-bin.tar");
    for (engine, body) in serve_everywhere(&tar, &tag) {
        assert!(body.starts_with("hello from rust (linux/"), "{engine:?}: {body}");
        assert!(body.trim_end().ends_with("/from-host"), "{engine:?}: {body}");
    }
    eprintln!(
        "rust hello: binary {} bytes, image {} bytes",
        std::fs::metadata(&bin).unwrap().len(),
        std::fs::metadata(&tar).unwrap().len()
    );
}

fn workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    let pkg = |name: &str| format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    write_tree(
        &ws,
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"alpha\", \"beta\", \"util\"]\nresolver = \"2\"\n"),
            ("alpha/Cargo.toml", &pkg("alpha")),
            ("alpha/src/main.rs", "fn main() { println!(\"i am alpha on {}\", std::env::consts::ARCH); }\n"),
            ("beta/Cargo.toml", &pkg("beta")),
            ("beta/src/main.rs", "fn main() { println!(\"i am beta\"); }\n"),
            ("util/Cargo.toml", &pkg("util")),
            ("util/src/lib.rs", "pub fn f() -> u32 { 1 }\n"),
        ],
    );
    ws
}

#[test]
fn rust_workspace_with_two_bins_needs_and_honours_bin() {
    if !have("cargo") {
        return;
    }
    let dir = tempdir();
    let ws = workspace(dir.path());
    let e = fails_with(staticize().arg("rust").arg(&ws).current_dir(dir.path()), 2);
    assert!(e.contains("2 bin targets: alpha, beta") && e.contains("--bin"), "{e}");
    let e = fails_with(staticize().arg("rust").arg(&ws).args(["--bin", "gamma"]).current_dir(dir.path()), 2);
    assert!(e.contains("no bin target named 'gamma'") && e.contains("alpha, beta"), "{e}");
    let e = fails_with(staticize().arg("rust").arg(ws.join("util")).current_dir(dir.path()), 4);
    assert!(e.contains("has no bin target"), "{e}");

    let tag = unique_tag("beta");
    let bin = dir.path().join("out-beta");
    let out = ok(staticize().arg("rust").arg(&ws).args(["--bin", "beta", "-t", &tag]).arg("-o").arg(&bin));
    assert!(out.contains("compile beta") || out.contains("(bin beta)") || out.contains("check static"), "{out}");
    assert_eq!(stdout_of(&mut Command::new(&bin)).trim(), "i am beta");
    for (engine, stdout) in load_and_run_everywhere(&dir.path().join("out-beta.tar"), &tag, &[]) {
        assert_eq!(stdout.trim(), "i am beta", "{engine:?}");
    }
    // A member directory picks its own bin without --bin.
    let alpha = dir.path().join("alpha-bin");
    ok(staticize().arg("rust").arg(ws.join("alpha")).arg("-o").arg(&alpha).arg("--no-image"));
    assert!(stdout_of(&mut Command::new(&alpha)).starts_with("i am alpha"));
}

#[test]
fn rust_arm64_build_is_static_aarch64_and_runs_under_qemu() {
    if !have("cargo") || !have("qemu-aarch64-static") {
        return;
    }
    let dir = tempdir();
    let ws = workspace(dir.path());
    let bin = dir.path().join("alpha-arm");
    let v = json_ok(
        staticize()
            .args(["--json", "rust"])
            .arg(ws.join("alpha"))
            .args(["--platform", "linux/arm64", "--no-image", "-o"])
            .arg(&bin),
    );
    assert_eq!(v["artifact"]["target"], "aarch64-unknown-linux-musl", "{v}");
    assert!(v["linkage"]["kind"] == "static" || v["linkage"]["kind"] == "static-pie", "{v}");
    assert_eq!(e_machine(&bin), 183);
    assert_eq!(stdout_of(Command::new("qemu-aarch64-static").arg(&bin)).trim(), "i am alpha on aarch64");
}

#[test]
fn rust_crate_with_build_script_and_features_builds_for_musl_and_static_glibc() {
    if !have("cargo") {
        return;
    }
    let dir = tempdir();
    let src = dir.path().join("scripted");
    write_tree(
        &src,
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"scripted\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nshout = []\n",
            ),
            (
                "build.rs",
                "fn main() {\n    println!(\"cargo:rustc-env=BUILT_FOR={}\", std::env::var(\"TARGET\").unwrap());\n    \
                 println!(\"cargo:rerun-if-changed=build.rs\");\n}\n",
            ),
            (
                "src/main.rs",
                "fn main() {\n    let s = format!(\"built for {}\", env!(\"BUILT_FOR\"));\n    \
                 if cfg!(feature = \"shout\") { println!(\"{}!\", s.to_uppercase()) } else { println!(\"{s}\") }\n}\n",
            ),
        ],
    );
    let musl = dir.path().join("musl");
    let v = json_ok(staticize().args(["--json", "rust"]).arg(&src).args(["--features", "shout", "-o"]).arg(&musl));
    assert!(v["linkage"]["kind"] == "static" || v["linkage"]["kind"] == "static-pie", "{v}");
    assert_eq!(v["linkage"]["stripped"], true, "{v}");
    let host_arch = std::env::consts::ARCH;
    assert_eq!(
        stdout_of(&mut Command::new(&musl)).trim(),
        format!("BUILT FOR {}-UNKNOWN-LINUX-MUSL!", host_arch.to_uppercase())
    );
    // The glibc fallback: an explicit --target keeps the build script (run on the host) dynamic.
    let gnu = dir.path().join("gnu");
    let out = ok(staticize().arg("rust").arg(&src).args(["--libc", "glibc", "--no-image", "-o"]).arg(&gnu));
    assert!(out.contains("linux-gnu") && out.contains("check static"), "{out}");
    assert_eq!(stdout_of(&mut Command::new(&gnu)).trim(), format!("built for {host_arch}-unknown-linux-gnu"));
}

#[test]
fn rust_errors_name_the_problem_with_their_exit_codes() {
    if !have("cargo") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    write_tree(
        d,
        &[
            ("broken/Cargo.toml", "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
            ("broken/src/main.rs", "fn main() { let x: u32 = \"text\"; }\n"),
            ("plain/readme.txt", "no cargo here\n"),
            ("dyn/Cargo.toml", "[package]\nname = \"dyn\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
            ("dyn/src/main.rs", "fn main() { println!(\"dynamic\"); }\n"),
        ],
    );
    // The user's RUSTFLAGS can turn crt-static off: the result is dynamic, so the binary is
    // written for inspection but no image is (exit 1, the verdict).
    let dynbin = d.join("dyn-out");
    let e = fails_with(
        staticize()
            .arg("rust")
            .arg(d.join("dyn"))
            .arg("-o")
            .arg(&dynbin)
            .env("RUSTFLAGS", "-C target-feature=-crt-static"),
        1,
    );
    assert!(e.contains("check dynamic") && e.contains("no image written"), "{e}");
    assert!(dynbin.is_file() && !d.join("dyn-out.tar").exists());
    let e = fails_with(staticize().arg("rust").arg(d.join("plain")), 4);
    assert!(e.contains("not a Rust package: no Cargo.toml"), "{e}");
    let e = fails_with(staticize().arg("rust").arg(d.join("nowhere")), 4);
    assert!(e.contains("no such file or directory"), "{e}");
    let out = d.join("broken-out");
    std::fs::write(&out, "previous").unwrap();
    let e = fails_with(staticize().arg("rust").arg(d.join("broken")).arg("-o").arg(&out), 3);
    assert!(e.contains("error[E0308]: mismatched types"), "{e}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
    let e = fails_with(staticize().arg("rust").arg(d.join("broken")).env("PATH", BARE_PATH), 3);
    assert!(e.contains("cargo not found") && e.contains("rustup"), "{e}");
}

#[test]
fn doctor_lists_go_cargo_and_rust_musl_targets() {
    let out = ok(staticize().arg("doctor"));
    for word in ["go ", "cargo", "x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        assert!(out.contains(word), "doctor does not mention {word}:\n{out}");
    }
    let v = json_ok(staticize().args(["--json", "doctor"]));
    let rows = v.as_array().unwrap();
    let musl = rows.iter().find(|r| r["name"] == "x86_64-unknown-linux-musl").unwrap();
    if musl["found"] == false {
        assert!(musl["install"].as_str().unwrap().contains("rustup target add x86_64-unknown-linux-musl"), "{musl}");
    }
    assert!(rows.iter().any(|r| r["language"] == "go" && r["name"] == "go"));
    assert!(rows.iter().any(|r| r["language"] == "rust" && r["name"] == "cargo"));
}
