//! `staticize build` and `staticize cc` on real projects: Debian 12 source packages (one
//! `apt-get source --download-only` per package and run, kept in target/debsrc across runs),
//! each unpacked into a test's own temporary directory, built with the project's own build
//! system, checked, and run from a scratch image in podman and docker.

use std::path::Path;
use std::process::Command;

use crate::sources::*;
use crate::support::*;

/// `staticize build TOP ARGS…` run in `out`; asserts success and returns the output.
#[track_caller]
fn build(out: &Path, top: &Path, args: &[&str]) -> String {
    ok(staticize().current_dir(out).arg("build").arg(top).args(args))
}

/// Runs `name`'s image (IMAGE.tar in `out`) in every engine with `args` and `extra` run options.
#[track_caller]
fn run_everywhere(out: &Path, name: &str, extra: &[&str], args: &[&str]) -> Vec<String> {
    let tag = unique_tag(name);
    let tar = out.join(format!("{name}.tar"));
    let mut outputs = Vec::new();
    for e in Engine::available() {
        e.load(&tar);
        ok(e.cmd().args(["tag", &format!("{name}:latest"), &tag]));
        outputs.push(e.run_image(&tag, extra, args));
        e.remove(&tag);
    }
    outputs
}

#[track_caller]
fn assert_static(path: &Path) {
    let out = ok(staticize().arg("check").arg(path));
    assert!(out.contains("static"), "{}: {out}", path.display());
}

fn tools(list: &[&str]) -> bool {
    list.iter().all(|t| have(t))
}

#[test]
fn lua_make_lists_two_programs_then_builds_lua_static_incrementally() {
    if !tools(&["apt-get", "make", "musl-gcc"]) {
        return;
    }
    let (dir, top) = unpack(&LUA);
    let out = dir.path();
    // lua 5.4.4's Makefile writes CC= gcc -std=gnu99; staticize's CC still wins.
    let listed = fails_with(staticize().current_dir(out).arg("build").arg(&top), 2);
    assert!(
        listed.contains("choose with --bin") && listed.contains("src/lua ") && listed.contains("src/luac"),
        "{listed}"
    );
    // A plain Makefile builds in a private copy of the tree; an edit in the tree reaches it.
    let object = top.join(".staticize-build/tree/src/lapi.o");
    let stamp = std::fs::metadata(&object).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(top.join("src/lua.c"), std::fs::read(top.join("src/lua.c")).unwrap()).unwrap();
    let text = build(out, &top, &["--bin", "lua"]);
    assert!(text.contains("found 2 executables (1 built by this run)"), "{text}");
    assert_eq!(std::fs::metadata(&object).unwrap().modified().unwrap(), stamp, "lapi.o was rebuilt: not incremental");
    assert_static(&out.join("lua"));
    for stdout in run_everywhere(out, "lua", &[], &["-e", "print(2^10)"]) {
        assert_eq!(stdout.trim(), "1024.0");
    }
}

#[test]
fn zstd_makefile_target_compresses_and_decompresses_in_the_image() {
    if !tools(&["apt-get", "make", "musl-gcc"]) {
        return;
    }
    let (dir, top) = unpack(&ZSTD);
    let out = dir.path();
    let text = build(out, &top, &["--target", "zstd-release", "--bin", "programs/zstd"]);
    assert!(text.contains("static"), "{text}");
    assert_static(&out.join("zstd"));
    let data = tempdir();
    let payload = "staticize ".repeat(10_000);
    std::fs::write(data.path().join("in.txt"), &payload).unwrap();
    let mount = format!("{}:/d:z", data.path().display());
    for e in Engine::available() {
        let tag = unique_tag("zstd");
        e.load(&out.join("zstd.tar"));
        ok(e.cmd().args(["tag", "zstd:latest", &tag]));
        e.run_image(&tag, &["-v", &mount], &["-q", "-f", "/d/in.txt", "-o", "/d/in.zst"]);
        let packed = std::fs::metadata(data.path().join("in.zst")).unwrap().len();
        assert!(packed < 1000, "{e:?}: 100 kB of repeats compressed to {packed} bytes");
        let back = e.run_image(&tag, &["-v", &mount], &["-d", "-c", "/d/in.zst"]);
        assert_eq!(back, payload, "{e:?}");
        e.remove(&tag);
        std::fs::remove_file(data.path().join("in.zst")).unwrap();
    }
}

#[test]
fn sqlite3_configure_builds_a_static_shell_answering_in_the_image() {
    if !tools(&["apt-get", "make", "musl-gcc", "tclsh"]) {
        return;
    }
    let (dir, top) = unpack(&SQLITE);
    let out = dir.path();
    // Its configure finds /usr/include/readline by testing the path, which musl-gcc cannot use.
    let args = [
        "--configure-arg=--disable-readline",
        "--configure-arg=--disable-tcl",
        "--target",
        "sqlite3",
        "--bin",
        "sqlite3",
    ];
    let text = build(out, &top, &args);
    assert!(text.contains("configure") && text.contains("--disable-shared --enable-static"), "{text}");
    assert!(top.join(".staticize-build/build/config.status").is_file(), "configure did not run out of tree");
    assert_static(&out.join("sqlite3"));
    for stdout in run_everywhere(out, "sqlite3", &[], &[":memory:", "select 6*7"]) {
        assert_eq!(stdout.trim(), "42");
    }
}

#[test]
fn cmake_project_cmark_builds_static() {
    if !tools(&["apt-get", "cmake", "musl-gcc"]) {
        return;
    }
    let (dir, top) = unpack(&CMARK);
    let out = dir.path();
    let text = build(out, &top, &["--configure-arg=-DCMARK_TESTS=OFF", "--target", "cmark", "--bin", "cmark"]);
    assert!(text.contains("CMake") && text.contains("-DBUILD_SHARED_LIBS=OFF"), "{text}");
    assert_static(&out.join("cmark"));
    for stdout in run_everywhere(out, "cmark", &[], &["--version"]) {
        assert!(stdout.contains("cmark 0.30.2"), "{stdout}");
    }
}

#[test]
fn meson_project_fribidi_builds_static() {
    if !tools(&["apt-get", "meson", "ninja", "musl-gcc"]) {
        return;
    }
    let (dir, top) = unpack(&FRIBIDI);
    let out = dir.path();
    let text = build(out, &top, &["--configure-arg=-Ddocs=false", "--bin", "fribidi"]);
    assert!(text.contains("Meson") && text.contains("-Ddefault_library=static"), "{text}");
    assert_static(&out.join("fribidi"));
    for stdout in run_everywhere(out, "fribidi", &[], &["--version"]) {
        assert!(stdout.contains("1.0.8"), "{stdout}");
    }
}

#[test]
fn jq_libtool_comes_out_static_and_matches_a_build_by_hand() {
    if !tools(&["apt-get", "make", "musl-gcc", "autoreconf", "libtoolize"]) {
        return;
    }
    let (dir, top) = unpack(&JQ);
    let out = dir.path();
    // The tag's tree has no configure: autoreconf runs first. Nothing here says -all-static.
    let text = build(
        out,
        &top,
        &[
            "--configure-arg=--without-oniguruma",
            "--configure-arg=--disable-docs",
            "--configure-arg=--disable-maintainer-mode",
            "--bin",
            "jq",
        ],
    );
    assert!(text.contains("autoreconf -fi"), "{text}");
    assert!(!text.contains("all-static"), "{text}");
    assert_static(&out.join("jq"));
    for stdout in run_everywhere(out, "jq", &[], &["-n", "[1,2,3] | map(.*2) | add"]) {
        assert_eq!(stdout.trim(), "12");
    }
    // By hand, in a second copy: CC="staticize cc" ./configure && make.
    let (hand_dir, hand) = unpack(&JQ);
    let bin_dir = hand_dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(bin(), bin_dir.join("staticize")).unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let sh = "autoreconf -fi && CC='staticize cc' ./configure --without-oniguruma --disable-docs --disable-maintainer-mode && make -j2";
    ok(Command::new("sh").args(["-c", sh]).current_dir(&hand).env("PATH", &path));
    assert_static(&hand.join("jq"));
    let by_hand = ok(Command::new(hand.join("jq")).args(["-n", "[1,2,3] | map(.*2) | add"]));
    assert_eq!(by_hand.trim(), "12");
}

#[test]
fn a_compiler_hard_coded_in_a_makefile_is_explained_not_imaged() {
    if !tools(&["make", "gcc", "musl-gcc"]) {
        return;
    }
    let dir = tempdir();
    let top = dir.path().join("proj");
    std::fs::create_dir(&top).unwrap();
    std::fs::write(top.join("hi.c"), "int main(void) { return 0; }\n").unwrap();
    std::fs::write(top.join("Makefile"), "hi: hi.c\n\t/usr/bin/gcc -o hi hi.c\n").unwrap();
    let text = fails_with(staticize().current_dir(dir.path()).arg("build").arg(&top), 1);
    assert!(text.contains("hi is dynamic") && text.contains("not linked by staticize cc"), "{text}");
    assert!(text.contains("help:") && text.contains("CC=staticize-cc"), "{text}");
    assert!(!dir.path().join("hi.tar").exists(), "a dynamic result was imaged");
}

#[test]
fn staticize_cc_passes_probes_through_and_links_static() {
    if !tools(&["musl-gcc"]) {
        return;
    }
    let dir = tempdir();
    let version = ok(staticize().args(["cc", "--version"]));
    let real = ok(Command::new("musl-gcc").arg("--version"));
    assert_eq!(version, real, "--version must be the compiler's own");
    std::fs::write(dir.path().join("x.c"), "#include <stdio.h>\nint main(void) { puts(\"x\"); return 0; }\n").unwrap();
    ok(staticize().current_dir(dir.path()).args(["cc", "-c", "x.c", "-o", "x.o"]));
    let link = dir.path().join("staticize-cc");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    ok(Command::new(&link).current_dir(dir.path()).args(["x.o", "-o", "x"]));
    assert_static(&dir.path().join("x"));
    let shared = ok(staticize().current_dir(dir.path()).args(["cc", "-shared", "-fPIC", "x.c", "-o", "libx.so"]));
    assert!(shared.is_empty(), "{shared}");
    let verdict = text(&run(staticize().arg("check").arg(dir.path().join("libx.so")).arg("--json")));
    assert!(verdict.contains("shared-library"), "{verdict}");
    // A compile error is the compiler's: its message and a non-zero status.
    std::fs::write(dir.path().join("bad.c"), "int main(void) { return nope; }\n").unwrap();
    let o = run(staticize().current_dir(dir.path()).args(["cc", "-c", "bad.c"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("nope"), "{}", text(&o));
}

/// lz4's plain Makefile (no configure) builds in a private copy of the tree, which the next
/// run reuses; programs/lz4 and the ./lz4 the Makefile copies from it are one executable, so
/// no --bin is needed; the image round-trips a file.
#[test]
fn lz4_plain_makefile_builds_in_a_private_copy_incrementally_and_round_trips_in_the_image() {
    if !tools(&["apt-get", "make", "musl-gcc"]) {
        return;
    }
    let (dir, top) = unpack(&LZ4);
    let out = dir.path();
    let text = build(out, &top, &[]);
    assert!(text.contains("private copy") && text.contains("found 1 executable (1 built by this run)"), "{text}");
    assert!(!top.join("lz4").exists() && !top.join("programs/lz4").exists(), "the build wrote into the source tree");
    let copy = top.join(".staticize-build/tree");
    assert!(copy.join("programs/lz4").is_file() && copy.join("lz4").is_file(), "{text}");
    assert_static(&out.join("lz4"));
    // An edit in the source tree reaches the copy; the library is not compiled again.
    let object = copy.join("lib/lz4.o");
    let stamp = std::fs::metadata(&object).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let cli = top.join("programs/lz4cli.c");
    std::fs::write(&cli, std::fs::read(&cli).unwrap()).unwrap();
    let again = build(out, &top, &["--bin", "lz4"]);
    assert!(again.contains("1 files copied") && again.contains("(1 built by this run)"), "{again}");
    assert_eq!(std::fs::metadata(&object).unwrap().modified().unwrap(), stamp, "lz4.o was rebuilt: not incremental");
    let data = tempdir();
    let payload = "staticize ".repeat(10_000);
    std::fs::write(data.path().join("in.txt"), &payload).unwrap();
    let mount = format!("{}:/d:z", data.path().display());
    for e in Engine::available() {
        let tag = unique_tag("lz4");
        e.load(&out.join("lz4.tar"));
        ok(e.cmd().args(["tag", "lz4:latest", &tag]));
        e.run_image(&tag, &["-v", &mount], &["-q", "-f", "/d/in.txt", "/d/in.lz4"]);
        let packed = std::fs::metadata(data.path().join("in.lz4")).unwrap().len();
        assert!(packed < 2000, "{e:?}: 100 kB of repeats compressed to {packed} bytes");
        assert_eq!(e.run_image(&tag, &["-v", &mount], &["-d", "-c", "/d/in.lz4"]), payload, "{e:?}");
        e.remove(&tag);
        std::fs::remove_file(data.path().join("in.lz4")).unwrap();
    }
}

/// nginx's hand-written ./configure reads auto/options from the current directory: staticize
/// builds it in a private copy, without `-- sh -c`. Its configure asks pcre2-config for the
/// regex library's flags: `--dep pcre2` puts the musl build's script on PATH, and zlib is found
/// through the wrapper's -I/-L; it includes crypt.h, which `--auto-deps` finds in libxcrypt.
/// The proof run and the image print its version; the SBOM, read from the link, lists crypt.
#[test]
fn nginx_hand_written_configure_with_pcre2_config_builds_in_a_copy_and_runs_in_the_image() {
    if !tools(&["apt-get", "make", "musl-gcc"]) {
        return;
    }
    let (dir, top) = unpack(&NGINX);
    let out = dir.path();
    let log = ok(staticize()
        .current_dir(out)
        .env("STATICIZE_DEPS_CACHE", deps_cache())
        .env_remove("STATICIZE_DEPS")
        .arg("build")
        .arg(&top)
        .args(["--dep", "pcre2,zlib", "--auto-deps", "--bin", "nginx", "--probe", "-V"]));
    assert!(log.contains("private copy"), "{log}");
    // Its own configure takes no --disable-shared (the dep builds' lines do).
    let configure = log.lines().filter(|l| l.contains("tree/configure")).collect::<Vec<_>>();
    assert!(!configure.is_empty() && configure.iter().all(|l| !l.contains("--disable-shared")), "{log}");
    // The proof run is -V: without a prefix it could write, nginx's default run only exits 1.
    assert!(log.contains("ran: /nginx -V, exit 0"), "{log}");
    // Debian's musl has no crypt.h: the failure names libxcrypt, --auto-deps adds it.
    assert!(log.contains("adding --dep libxcrypt"), "{log}");
    assert!(!top.join("objs").exists() && !top.join("Makefile").exists(), "configure ran in the source tree");
    let copy = top.join(".staticize-build/tree");
    let config = std::fs::read_to_string(copy.join("objs/ngx_auto_config.h")).unwrap();
    assert!(config.contains("NGX_PCRE2") && config.contains("NGX_ZLIB"), "pcre2 or zlib not found by configure");
    // auth_basic's crypt_r, from libxcrypt (musl has none), linked with -lcrypt.
    assert!(config.contains("NGX_HAVE_GNU_CRYPT_R"), "configure did not find crypt_r");
    let makefile = std::fs::read_to_string(copy.join("objs/Makefile")).unwrap();
    assert!(makefile.contains("-lcrypt"), "objs/Makefile does not link -lcrypt");
    assert_static(&out.join("nginx"));
    // The SBOM is read from the link trace: it lists the archives the link read, libxcrypt's too.
    let sbom = std::fs::read_to_string(out.join("nginx.spdx.json")).unwrap();
    for dep in ["libxcrypt", "pcre2", "zlib"] {
        assert!(sbom.contains(dep), "{dep} not in the SBOM: {sbom}");
    }
    for e in Engine::available() {
        let tag = unique_tag("nginx");
        e.load(&out.join("nginx.tar"));
        ok(e.cmd().args(["tag", "nginx:latest", &tag]));
        let o = run(e.cmd().args(["run", "--rm", "--network", "none", &tag, "-V"]));
        let said = text(&o);
        assert!(o.status.success() && said.contains("nginx version: nginx/1.22.1"), "{e:?}: {said}");
        e.remove(&tag);
    }
}

/// libsvm's plain Makefile names its C++ compiler (`CXX ?= g++`) and compiles C files with it:
/// staticize's CXX wins, the result is static (glibc and libstdc++, as `staticize cxx` links),
/// reported as g++'s, and the image trains on the project's own data set.
#[test]
fn libsvm_cxx_makefile_naming_gxx_builds_static_and_trains_in_the_image() {
    if !tools(&["apt-get", "make", "g++", "musl-gcc"]) {
        return;
    }
    let (dir, top) = unpack(&LIBSVM);
    let out = dir.path();
    let data = format!("{}:/heart_scale", top.join("heart_scale").display());
    let probe = r#"["-v","5","/heart_scale"]"#;
    let text = build(out, &top, &["--bin", "svm-train", "--add", &data, "--probe", probe]);
    assert!(text.contains("found 3 executables (3 built by this run)"), "{text}");
    assert!(text.contains("compile svm-train with g++") && text.contains("libstdc++"), "{text}");
    assert!(text.contains("ran: /svm-train -v 5 /heart_scale, exit 0"), "{text}");
    assert_static(&out.join("svm-train"));
    for stdout in run_everywhere(out, "svm-train", &[], &["-v", "5", "/heart_scale"]) {
        let accuracy = stdout.lines().find_map(|l| l.strip_prefix("Cross Validation Accuracy = ")).expect(&stdout);
        let percent: f64 = accuracy.trim_end_matches('%').parse().expect(&stdout);
        assert!(percent > 75.0, "five-fold accuracy on heart_scale {percent}%: {stdout}");
    }
}

/// A dumb-HTTP git server on 127.0.0.1 (python's http.server over a bare repository made by
/// the host's git); killed when dropped.
struct GitServer {
    child: std::process::Child,
    port: u16,
    head: String,
}

impl GitServer {
    fn start(dir: &Path) -> GitServer {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let git = |cwd: &Path, args: &[&str]| ok(Command::new("git").current_dir(cwd).args(args));
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(work.join("README"), "served to a static git\n").unwrap();
        git(&work, &["add", "README"]);
        git(&work, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one"]);
        git(dir, &["clone", "-q", "--bare", "work", "repo.git"]);
        // Dumb HTTP: the refs and packs as plain files, listed by info/refs.
        git(&dir.join("repo.git"), &["update-server-info"]);
        let head = git(&work, &["rev-parse", "HEAD"]).trim().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < std::time::Duration::from_secs(20), "http.server did not listen on {port}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        GitServer { child, port, head }
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// git's plain Makefile asks `curl-config` for libcurl's flags (and its autoconf configure,
/// which only writes config.mak.autogen for that Makefile, builds nowhere but in its tree):
/// `--dep curl,expat,zlib` puts the musl build's curl-config on PATH, the configure's
/// `-lcurl` probe links statically because the link gets what curl needs after it, and the
/// build moves to the private copy by itself. The static git-remote-http, alone in its image,
/// lists the refs of a repository served over HTTP on the host.
#[test]
fn git_plain_makefile_asks_curl_config_and_its_static_http_helper_lists_a_served_repository() {
    if !tools(&["apt-get", "make", "musl-gcc", "git", "python3"]) {
        return;
    }
    let (dir, top) = unpack(&GIT);
    let out = dir.path();
    let log = ok(staticize()
        .current_dir(out)
        .env("STATICIZE_DEPS_CACHE", deps_cache())
        .env_remove("STATICIZE_DEPS")
        // What git's INSTALL says a build without gettext, Tcl/Tk, Perl and Python takes; musl's
        // regex lacks REG_STARTEND, so git's own (Alpine builds git the same way).
        .envs([("NO_GETTEXT", "1"), ("NO_TCLTK", "1"), ("NO_PERL", "1"), ("NO_PYTHON", "1"), ("NO_REGEX", "1")])
        .arg("build")
        .arg(&top)
        .args(["--dep", "curl,expat,zlib", "--target", "git-remote-http", "--bin", "git-remote-http"]));
    assert!(log.contains("private copy"), "{log}");
    // The default proof run: its usage, and nothing it looked for is missing from the image.
    assert!(log.contains("ran: /git-remote-http, exit 1, nothing missing"), "{log}");
    let config = std::fs::read_to_string(top.join(".staticize-build/tree/config.mak.autogen")).unwrap();
    assert!(config.contains("NO_CURL=\n") && config.contains("CURL_CONFIG=curl-config"), "{config}");
    assert_static(&out.join("git-remote-http"));
    let sbom = std::fs::read_to_string(out.join("git-remote-http.spdx.json")).unwrap();
    for dep in ["curl", "openssl", "zlib"] {
        assert!(sbom.contains(dep), "{dep} not in the SBOM: {sbom}");
    }
    let served = tempdir();
    let server = GitServer::start(served.path());
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    for e in Engine::available() {
        let tag = unique_tag("git-remote-http");
        e.load(&out.join("git-remote-http.tar"));
        ok(e.cmd().args(["tag", "git-remote-http:latest", &tag]));
        let mut child = e
            .cmd()
            .args(["run", "--rm", "-i", "--network", "host", &tag, "origin", &url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"list\n\n").unwrap();
        let o = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{e:?}: {}", text(&o));
        assert!(said.contains(&format!("{} refs/heads/main", server.head)), "{e:?}: {said}");
        e.remove(&tag);
    }
}
