//! Libraries built static for musl (issue 15): `--dep` on c, build and cc, the shared deps
//! cache (one per test run, support::deps_cache, so each library is built once per run), the
//! hints, `staticize deps`, and real programs linking them run from scratch images.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sources::*;
use crate::support::*;

/// `staticize` using the run's shared deps cache.
fn st() -> Command {
    let mut c = staticize();
    c.env("STATICIZE_DEPS_CACHE", deps_cache()).env_remove("STATICIZE_DEPS");
    c
}

/// zlib's own test program, test/minigzip.c, copied into `dir`.
fn minigzip_source(dir: &Path) -> PathBuf {
    let (tmp, top) = unpack(&ZLIB);
    let src = dir.join("minigzip.c");
    std::fs::copy(top.join("test/minigzip.c"), &src).unwrap();
    drop(tmp);
    src
}

/// `data` through `cmd`'s stdin; its stdout.
fn pipe(cmd: &mut Command, data: &[u8]) -> Vec<u8> {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[track_caller]
fn assert_static(path: &Path) {
    let out = ok(staticize().arg("check").arg(path));
    assert!(out.contains(": static"), "{}: {out}", path.display());
}

#[test]
fn minigzip_with_dep_zlib_is_static_musl_and_round_trips_through_gzip_in_the_image() {
    if !["apt-get", "musl-gcc", "make", "gzip"].iter().all(|t| have(t)) {
        return;
    }
    let dir = tempdir();
    let src = minigzip_source(dir.path());
    let json = ok(st().current_dir(dir.path()).args(["--json", "c"]).arg(&src).args(["--dep", "zlib"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["artifact"]["target"], format!("{}-linux-musl", std::env::consts::ARCH), "{json}");
    let bin = dir.path().join("minigzip");
    assert_static(&bin);
    let data = b"staticize --dep zlib: minigzip round trip\n".repeat(50);
    let gz = pipe(&mut Command::new(&bin), &data);
    assert_eq!(pipe(Command::new("gzip").arg("-dc"), &gz), data, "host gzip -dc");
    for e in Engine::available() {
        e.load(&dir.path().join("minigzip.tar"));
        let tag = unique_tag("minigzip");
        ok(e.cmd().args(["tag", "minigzip:latest", &tag]));
        let gz = pipe(e.cmd().args(["run", "--rm", "-i", "--network", "none", &tag]), &data);
        assert_eq!(pipe(Command::new("gzip").arg("-dc"), &gz), data, "{e:?}: gzip -dc of minigzip's output");
        e.remove(&tag);
    }
    // The SBOM beside the image names the library linked in: Debian's zlib source, the
    // version the cache entry was built from, statically linked.
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("minigzip.spdx.json")).unwrap()).unwrap();
    let zlib = sbom["packages"].as_array().unwrap().iter().find(|p| p["name"] == "zlib");
    let zlib = zlib.unwrap_or_else(|| panic!("zlib in the SBOM: {sbom}"));
    assert!(zlib["versionInfo"].as_str().unwrap().contains("1.2.13"), "{zlib}");
    assert!(zlib.to_string().contains("pkg:deb/debian/zlib@"), "{zlib}");
    assert!(sbom["relationships"].to_string().contains("STATIC_LINK"), "{sbom}");
    // [deps] in ./staticize.toml does what --dep does; STATICIZE_DEPS does it for staticize cc.
    std::fs::write(dir.path().join("staticize.toml"), "[deps]\nuse = [\"zlib\"]\n").unwrap();
    let out = ok(st().current_dir(dir.path()).args(["c", "minigzip.c", "--no-image", "-o", "mg2"]));
    assert!(out.contains("dep zlib") && out.contains("cached"), "{out}");
    ok(st().current_dir(dir.path()).env("STATICIZE_DEPS", "zlib").args(["cc", "minigzip.c", "-o", "mg3"]));
    assert_static(&dir.path().join("mg3"));
}

#[test]
fn a_missing_library_names_its_dep_an_unknown_one_is_refused_and_auto_deps_adds_it() {
    if !["apt-get", "musl-gcc", "make"].iter().all(|t| have(t)) {
        return;
    }
    let dir = tempdir();
    minigzip_source(dir.path());
    let out = fails_with(st().current_dir(dir.path()).args(["c", "minigzip.c", "--no-image"]), 3);
    assert!(out.contains("zlib.h") && out.contains("add --dep zlib"), "{out}");
    let out =
        fails_with(st().current_dir(dir.path()).args(["c", "minigzip.c", "--dep", "zlib,nosuch", "--no-image"]), 2);
    assert!(out.contains("no library recipe named 'nosuch'") && out.contains("zlib"), "{out}");
    std::fs::write(dir.path().join("n.c"), "int main(void) { return 0; }\n").unwrap();
    let out = fails_with(st().current_dir(dir.path()).args(["c", "n.c", "-l", "nosuchlib", "--no-image"]), 3);
    assert!(out.contains("no staticize recipe provides") && out.contains("--libc glibc"), "{out}");
    let out = ok(st().current_dir(dir.path()).args(["c", "minigzip.c", "--auto-deps", "--no-image"]));
    assert!(out.contains("adding --dep zlib"), "{out}");
    assert_static(&dir.path().join("minigzip"));
}

/// `staticize deps build zlib` in a cache of its own: killed mid-build it leaves no entry; the
/// next run builds it; the one after reuses it without building anything.
#[test]
fn deps_build_is_cached_and_a_killed_build_leaves_no_entry() {
    if !["apt-get", "musl-gcc", "make"].iter().all(|t| have(t)) {
        return;
    }
    let cache = tempdir();
    let deps = || {
        let mut c = staticize();
        c.env("STATICIZE_DEPS_CACHE", cache.path()).arg("deps");
        c
    };
    let mut child =
        deps().args(["build", "zlib"]).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0).spawn().unwrap();
    let started = Instant::now();
    // Wait until the library's own build compiles (an object file appears in its staged
    // source tree: zlib builds in its tree), then SIGKILL the whole group at once: staticize
    // and the make it runs. A fixed delay instead let a quick machine finish zlib first.
    let compiling = || {
        std::fs::read_dir(cache.path()).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".build.")
                && e.path().join("src").read_dir().is_ok_and(|d| {
                    d.flatten().any(|top| {
                        top.path()
                            .read_dir()
                            .is_ok_and(|files| files.flatten().any(|f| f.path().extension().is_some_and(|x| x == "o")))
                    })
                })
        })
    };
    while !compiling() {
        assert!(started.elapsed() < Duration::from_secs(120), "the zlib build never started compiling");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    let listed = ok(deps().arg("list"));
    assert!(!listed.contains("1:1.2.13"), "a killed build left an entry:\n{listed}");
    assert!(!has_manifest(&cache.path().join("zlib")), "a killed build left a manifest");
    let first = Instant::now();
    let out = ok(deps().args(["build", "zlib"]));
    let build_time = first.elapsed();
    assert!(out.contains("built zlib"), "{out}");
    let again = Instant::now();
    let out = ok(deps().args(["build", "zlib"]));
    let reuse_time = again.elapsed();
    assert!(out.contains("cached zlib") && !out.contains("build zlib:"), "the second run rebuilt:\n{out}");
    eprintln!("deps cache: zlib built in {build_time:?}, reused in {reuse_time:?}");
    let path = ok(deps().args(["path", "zlib"]));
    let prefix = PathBuf::from(path.lines().find(|l| l.starts_with('/')).unwrap().trim());
    assert!(prefix.join("lib/libz.a").is_file() && prefix.join("lib/pkgconfig/zlib.pc").is_file(), "{prefix:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(prefix.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["debian_source"], "zlib");
    assert_eq!(manifest["license"], "Zlib");
    assert!(manifest["purl"].as_str().unwrap().starts_with("pkg:deb/debian/zlib@"), "{manifest}");
    ok(deps().args(["clean", "zlib"]));
    assert!(!cache.path().join("zlib").exists());
}

fn has_manifest(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|d| d.flatten().any(|e| e.path().join("manifest.json").exists()))
}

/// zlib for arm64 with zig: a cache entry of its own; minigzip linked against it runs under
/// qemu-aarch64-static and round-trips through gzip.
#[test]
fn arm64_zlib_is_cached_separately_and_minigzip_runs_under_qemu() {
    if !["apt-get", "python3", "qemu-aarch64-static", "make", "gzip"].iter().all(|t| have(t)) {
        return;
    }
    let prefix = |platform: &str| {
        let out = ok(st().args(["deps", "path", "zlib", "--platform", platform]));
        PathBuf::from(out.lines().find(|l| l.starts_with('/')).unwrap().trim())
    };
    let arm = prefix("linux/arm64");
    let host = prefix(&format!("linux/{}", if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" }));
    assert_ne!(arm, host, "arm64 and the host share a cache entry");
    let dir = tempdir();
    let src = minigzip_source(dir.path());
    let bin = dir.path().join("minigzip-arm64");
    ok(Command::new("python3")
        .args(["-m", "ziglang", "cc", "-target", "aarch64-linux-musl", "-static", "-Os"])
        .arg(format!("-I{}", arm.join("include").display()))
        .arg(&src)
        .arg(format!("-L{}", arm.join("lib").display()))
        .args(["-lz", "-o"])
        .arg(&bin));
    let check = ok(staticize().arg("check").arg(&bin));
    assert!(check.contains("static") && check.contains("arm64"), "{check}");
    let data = b"arm64 minigzip\n".repeat(20);
    let gz = pipe(Command::new("qemu-aarch64-static").arg(&bin), &data);
    assert_eq!(pipe(Command::new("gzip").arg("-dc"), &gz), data);
}

/// jq 1.6 from its Debian source, built by its own autotools with `--dep oniguruma`: configure
/// finds the musl build of libonig (nothing else could), and regexes work in the image.
#[test]
fn jq_built_with_dep_oniguruma_matches_regexes_in_the_image() {
    if !["apt-get", "musl-gcc", "make", "cmake", "autoreconf"].iter().all(|t| have(t)) {
        return;
    }
    let (dir, top) = unpack(&JQ);
    let out = ok(st().current_dir(dir.path()).arg("build").arg(&top).args([
        "--dep",
        "oniguruma",
        "--configure-arg=--disable-docs",
        "--configure-arg=--disable-maintainer-mode",
        "--bin",
        "jq",
    ]));
    assert!(out.contains("dep oniguruma") || out.contains("building oniguruma"), "{out}");
    let jq = dir.path().join("jq");
    assert_static(&jq);
    let host = ok(Command::new(&jq).args(["-n", r#""abc" | test("a.c")"#]));
    assert_eq!(host.trim(), "true");
    for e in Engine::available() {
        e.load(&dir.path().join("jq.tar"));
        let tag = unique_tag("jq");
        ok(e.cmd().args(["tag", "jq:latest", &tag]));
        let got = e.run_image(&tag, &[], &["-n", r#"["abc", "xbz"] | map(test("a.c"))"#, "-c"]);
        assert_eq!(got.trim(), "[true,false]", "{e:?}");
        e.remove(&tag);
    }
}

/// A local HTTPS server (openssl s_server -WWW) on 127.0.0.1 serving `dir`, with a certificate
/// for 127.0.0.1 made here; killed when dropped.
struct TlsServer {
    /// Held for its Drop, which stops the server.
    _server: LocalServer,
    port: u16,
    cert: PathBuf,
}

impl TlsServer {
    fn start(dir: &Path) -> TlsServer {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        ok(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        let (c, k) = (cert.display().to_string(), key.display().to_string());
        let args = ["s_server", "-quiet", "-WWW", "-accept", "127.0.0.1:{port}", "-cert", &c, "-key", &k];
        let server = LocalServer::start("openssl", &args, dir);
        TlsServer { port: server.port, _server: server, cert }
    }
}

/// curl 7.88.1 from its Debian source through `staticize build --dep openssl,zlib`: static,
/// `curl --version` names OpenSSL and zlib, and it fetches over HTTPS from a local server from
/// inside the image (host network, the test's certificate passed with --cacert).
#[test]
fn curl_built_with_dep_openssl_zlib_fetches_over_https_from_the_image() {
    if !["apt-get", "musl-gcc", "make", "perl", "openssl"].iter().all(|t| have(t)) {
        return;
    }
    let (dir, top) = unpack(&CURL);
    // curl ships CMakeLists.txt too; its configure is the build Debian uses, so it is the command.
    let configure = "./configure --disable-shared --enable-static --with-openssl --with-zlib --without-libpsl \
        --without-libidn2 --without-nghttp2 --without-brotli --without-zstd --without-libssh2 \
        --disable-ldap --disable-manual --disable-docs && make -j2";
    let args = ["--dep", "openssl,zlib", "--bin", "curl", "--", "sh", "-c", configure];
    let t = Instant::now();
    let out = ok(st().current_dir(dir.path()).arg("build").arg(&top).args(args));
    eprintln!("curl (and any deps not cached yet) built in {:?}", t.elapsed());
    let curl = dir.path().join("curl");
    assert_static(&curl);
    let version = ok(Command::new(&curl).arg("--version"));
    assert!(version.contains("OpenSSL/") && version.contains("zlib/"), "{version}\n{out}");
    let cached = ok(st().args(["deps", "build", "openssl,zlib"]));
    assert!(
        cached.contains("cached openssl") && cached.contains("cached zlib") && !cached.contains("build openssl:"),
        "{cached}"
    );
    let site = tempdir();
    std::fs::write(site.path().join("hello.txt"), "hello over TLS from staticize\n").unwrap();
    let server = TlsServer::start(site.path());
    let url = format!("https://127.0.0.1:{}/hello.txt", server.port);
    let certs = format!("{}:/certs:ro", site.path().display());
    for e in Engine::available() {
        e.load(&dir.path().join("curl.tar"));
        let tag = unique_tag("curl");
        ok(e.cmd().args(["tag", "curl:latest", &tag]));
        let v = ok(e.cmd().args(["run", "--rm", "--network", "none", &tag, "--version"]));
        assert!(v.contains("OpenSSL/") && v.contains("zlib/"), "{e:?}: {v}");
        let got = ok(e.cmd().args(["run", "--rm", "--network", "host", "-v", &certs, &tag]).args([
            "-sS",
            "--cacert",
            "/certs/cert.pem",
            &url,
        ]));
        assert!(got.contains("hello over TLS from staticize"), "{e:?}: {got}");
        e.remove(&tag);
    }
    let _ = server.cert;
}
