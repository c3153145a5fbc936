//! Issue 16: bundles that work and a check that does not say ok when they don't — `$ORIGIN` in
//! DT_NEEDED and hwcaps subdirectories compared with glibc's own loader (`ld.so --list`),
//! separate debug info, check judging every ELF object of an image within a bound, and python3
//! carried with its standard library and its extension modules' libraries.

use std::path::{Path, PathBuf};
use std::process::Command;

use staticize::closure::{self, ResolveOptions};

use crate::support::*;

/// The host's glibc loader (the one `ld.so --list` runs).
const LD_SO: &str = "/lib64/ld-linux-x86-64.so.2";

#[track_caller]
fn gcc(dir: &Path, src: &str, out: &str, args: &[&str]) -> PathBuf {
    let c = dir.join(format!("{}.c", out.replace('/', "_")));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(out);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    ok(Command::new("gcc").arg(&c).arg("-o").arg(&out).args(args).current_dir(dir));
    out
}

/// Where `ld.so [OPTIONS] --list PROG` says the library file `file_name` was loaded from, as a
/// real path ("name => /path (addr)", or "/path (addr)" for a name that is a path).
fn loader_finds(prog: &Path, file_name: &str, options: &[&str]) -> PathBuf {
    let out = ok(Command::new(LD_SO).args(options).arg("--list").arg(prog).env_remove("LD_LIBRARY_PATH"));
    let path = out
        .lines()
        .filter_map(|l| l.rsplit("=>").next().and_then(|r| r.split_whitespace().next()))
        .find(|p| p.ends_with(&format!("/{file_name}")))
        .unwrap_or_else(|| panic!("{file_name}?\n{out}"));
    std::fs::canonicalize(path).unwrap()
}

/// Where the closure finds the library called `file_name` (a real path).
fn closure_finds(prog: &Path, file_name: &str, levels: &[&str]) -> PathBuf {
    let opts = ResolveOptions { glibc_hwcaps: levels.iter().map(|s| s.to_string()).collect(), ..Default::default() };
    let c = closure::resolve(prog, &opts).unwrap();
    assert!(c.unresolved.is_empty(), "{:?}", c.unresolved);
    let e = c.files().find(|e| e.image_path.ends_with(&format!("/{file_name}"))).expect(file_name);
    std::fs::canonicalize(&e.host_path).unwrap()
}

/// A DT_NEEDED of `$ORIGIN/lib/liba.so` (set with patchelf, as some relocatable Python builds
/// ship libpython) is expanded from the program's directory, as glibc does.
#[test]
fn origin_in_dt_needed_matches_the_loader() {
    if !have("gcc") || !have("patchelf") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    gcc(d, "int a(void){return 42;}\n", "lib/liba.so", &["-shared", "-fPIC", "-Wl,-soname,liba.so"]);
    let prog = gcc(d, "int a(void);\nint main(void){return a() == 42 ? 0 : 1;}\n", "prog", &["-Llib", "-la"]);
    ok(Command::new("patchelf").args(["--replace-needed", "liba.so", "$ORIGIN/lib/liba.so"]).arg(&prog));
    assert!(Command::new(&prog).env_remove("LD_LIBRARY_PATH").status().unwrap().success());
    let want = loader_finds(&prog, "liba.so", &[]);
    assert_eq!(want, std::fs::canonicalize(d.join("lib/liba.so")).unwrap());
    assert_eq!(closure_finds(&prog, "liba.so", &[]), want);
    // bundle carries it; check on the image agrees it is complete.
    let out = ok(staticize().arg("bundle").arg(&prog).arg("-o").arg(d.join("p.tar")));
    assert!(out.contains("liba.so"), "{out}");
    ok(staticize().arg("check").arg(d.join("p.tar")));
}

/// A library in a directory, its legacy hwcap subdirectory and glibc-hwcaps/x86-64-v2: the
/// x86-64 baseline (no level asked) takes the legacy one as ld.so does with the levels masked
/// off; asking for x86-64-v2 takes that one, as ld.so does on a CPU that has it.
#[test]
fn hwcaps_subdirectories_match_the_loader() {
    if !have("gcc") || !Path::new(LD_SO).exists() {
        return;
    }
    let t = tempdir();
    let d = t.path();
    for sub in ["L", "L/x86_64", "L/glibc-hwcaps/x86-64-v2"] {
        let src = format!("int which(void){{return {};}}\n", sub.len());
        gcc(d, &src, &format!("{sub}/libw.so"), &["-shared", "-fPIC", "-Wl,-soname,libw.so"]);
    }
    let main = "int which(void);\nint main(void){return which();}\n";
    let prog = gcc(d, main, "prog", &["-LL", "-lw", "-Wl,-rpath,$ORIGIN/L"]);
    let baseline = loader_finds(&prog, "libw.so", &["--glibc-hwcaps-mask", "none"]);
    assert!(baseline.ends_with("L/x86_64/libw.so"), "{}", baseline.display());
    assert_eq!(closure_finds(&prog, "libw.so", &[]), baseline);
    let help = ok(Command::new(LD_SO).arg("--help"));
    if help.contains("x86-64-v2 (supported, searched)") {
        let v2 = loader_finds(&prog, "libw.so", &["--glibc-hwcaps-mask", "x86-64-v2"]);
        assert!(v2.ends_with("glibc-hwcaps/x86-64-v2/libw.so"), "{}", v2.display());
        assert_eq!(closure_finds(&prog, "libw.so", &["x86-64-v2"]), v2);
    }
}

/// A separate debug-info file is not a program for check or for bundle; check of an image
/// stops at --max-unpacked; an image with no ELF program is told so, not to carry libraries.
#[test]
fn debug_info_bounds_and_help_lines() {
    if !have("gcc") || !have("objcopy") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let prog = gcc(d, "int main(void){return 0;}\n", "prog", &["-g"]);
    let dbg = d.join("prog.debug");
    ok(Command::new("objcopy").arg("--only-keep-debug").arg(&prog).arg(&dbg));
    let out = fails_with(staticize().arg("check").arg("--allow-dynamic").arg(&dbg), 1);
    assert!(out.contains("not an executable"), "{out}");
    let out = fails_with(staticize().arg("bundle").arg(&dbg).arg("-o").arg(d.join("x.tar")), 4);
    assert!(out.contains("separate debug info"), "{out}");

    let tar = d.join("p.tar");
    ok(staticize().arg("bundle").arg(&prog).arg("-o").arg(&tar));
    let out = fails_with(staticize().arg("check").arg(&tar).args(["--max-unpacked", "1000"]), 4);
    assert!(out.contains("exceed 1000 bytes") && out.contains("--max-unpacked"), "{out}");

    let rootfs = d.join("rootfs");
    std::fs::create_dir_all(rootfs.join("app")).unwrap();
    std::fs::write(rootfs.join("app/run.sh"), "#!/bin/sh\n").unwrap();
    let out = fails_with(staticize().arg("check").arg(&rootfs), 1);
    assert!(out.contains("no ELF executable inside") && out.contains("without an ELF executable"), "{out}");
    assert!(!out.contains("carry the missing libraries"), "{out}");
}

/// Debian's python3 (python3.11 from apt): bundled with its standard library and the
/// libraries of its extension modules, it imports ssl, sqlite3, lzma and ctypes in podman and
/// docker, and check judges every shared object in it ok. Without the library, a lib-dynload
/// tree dropped in without its libraries fails check, naming the module and the library.
#[test]
fn python3_runs_with_its_stdlib_and_check_judges_its_modules() {
    let python = Path::new("/usr/bin/python3.11");
    if !have("podman") || !python.exists() {
        assert!(!e2e_required() || python.exists(), "apt-get install python3.11");
        return;
    }
    let t = tempdir();
    let d = t.path();
    let tar = d.join("python.tar");
    let tag = unique_tag("python3");
    let out = ok(staticize().arg("bundle").arg("/usr/bin/python3").arg("-o").arg(&tar).arg("-t").arg(&tag));
    assert!(out.contains("carried the python standard library /usr/lib/python3.11"), "{out}");
    assert!(out.contains("libssl.so.3") && out.contains("--no-stdlib"), "{out}");
    let script = "import json, ssl, sqlite3, lzma, ctypes; print(ssl.OPENSSL_VERSION)";
    for (engine, stdout) in load_and_run_everywhere(&tar, &tag, &["-c", script]) {
        assert!(stdout.trim().starts_with("OpenSSL 3"), "{engine:?}: {stdout}");
    }
    let out = ok(staticize().arg("check").arg(&tar));
    assert!(out.contains("shared objects, each with its libraries inside"), "{out}");

    let bare = d.join("bare.tar");
    // Without its standard library python cannot start: the proof run says so and what carries it.
    let out = fails_with(staticize().arg("bundle").arg("/usr/bin/python3").arg("--no-stdlib").arg("-o").arg(&bare), 1);
    assert!(!out.contains("carried the python standard library"), "{out}");
    assert!(out.contains("No module named 'encodings'") && out.contains("--package libpython3.11-minimal"), "{out}");
    let rootfs = d.join("rootfs");
    unpack_layer(&bare, &rootfs);
    let dynload = rootfs.join("usr/lib/python3.11");
    std::fs::create_dir_all(&dynload).unwrap();
    ok(Command::new("cp").arg("-a").arg("/usr/lib/python3.11/lib-dynload").arg(&dynload));
    let out = fails_with(staticize().arg("check").arg(&rootfs), 1);
    assert!(out.contains("lib-dynload/_ssl.") && out.contains("libssl.so.3"), "{out}");
}

/// Extracts the layers of a staticize archive into `dest`, bottom first.
pub(crate) fn unpack_layer(tar: &Path, dest: &Path) {
    let oci = dest.with_extension("oci");
    std::fs::create_dir_all(&oci).unwrap();
    ok(Command::new("tar").arg("-xf").arg(tar).arg("-C").arg(&oci));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("manifest.json")).unwrap()).unwrap();
    std::fs::create_dir_all(dest).unwrap();
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        let layer = oci.join(layer.as_str().unwrap());
        ok(Command::new("tar").arg("-xzf").arg(&layer).arg("-C").arg(dest));
    }
}

/// git with the files of its package (git-core helpers, templates) and the /bin/sh the hint
/// names clones a repository inside podman; without --package-files the hint names git-core.
#[test]
fn git_with_its_package_files_clones_in_podman() {
    if !have("git") || !have("podman") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let out = ok(staticize().arg("bundle").arg("/usr/bin/git").arg("-o").arg(d.join("bare.tar")));
    assert!(out.contains("/usr/lib/git-core") && out.contains("--package-files"), "{out}");
    assert!(out.contains("/bin/dash:/bin/sh"), "the hint names the shell git execs: {out}");
    assert!(out.contains("scratch has no /tmp — add --with tmp"), "{out}");
    let src = d.join("src");
    ok(Command::new("git").args(["init", "-q", "-b", "main"]).arg(&src));
    std::fs::write(src.join("f"), "hello\n").unwrap();
    ok(Command::new("git").arg("-C").arg(&src).args(["add", "f"]));
    let id = ["-c", "user.name=t", "-c", "user.email=t@t"];
    ok(Command::new("git").arg("-C").arg(&src).args(id).args(["commit", "-qm", "first"]));
    let tar = d.join("git.tar");
    let tag = unique_tag("git");
    let args = ["--package-files", "--add", "/bin/dash:/bin/sh"];
    let out = ok(staticize().arg("bundle").arg("/usr/bin/git").args(args).arg("-o").arg(&tar).arg("-t").arg(&tag));
    assert!(out.contains("carried") && out.contains("files of git"), "{out}");
    let dest = d.join("out");
    std::fs::create_dir(&dest).unwrap();
    Engine::Podman.load(&tar);
    let vols = [format!("{}:/src:ro", src.display()), format!("{}:/out", dest.display())];
    let extra = ["-v", &vols[0], "-v", &vols[1]];
    Engine::Podman.run_image(&tag, &extra, &["clone", "-q", "--bare", "file:///src", "/out/c.git"]);
    Engine::Podman.remove(&tag);
    let log = ok(Command::new("git").arg("-C").arg(dest.join("c.git")).args(["log", "--format=%s"]));
    assert_eq!(log.trim(), "first");
}

/// nginx with its configuration package's files (directories like /var/lib/nginx included),
/// /etc/passwd and a config of ours serves a page from podman on a free port.
#[test]
fn nginx_with_its_package_files_serves_a_page() {
    if !have("nginx") || !have("podman") || !have("curl") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::create_dir(d.join("www")).unwrap();
    std::fs::write(d.join("www/index.html"), "hello from scratch\n").unwrap();
    let conf = format!(
        "daemon off; master_process off; user root; error_log stderr; pid /tmp/nginx.pid;\n\
         events {{}}\nhttp {{ access_log off; include /etc/nginx/mime.types;\n\
         server {{ listen 127.0.0.1:{port}; root /www; }} }}\n"
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let tar = d.join("nginx.tar");
    let tag = unique_tag("nginx");
    let out = ok(staticize()
        .args(["bundle", "/usr/sbin/nginx", "--package-files", "--package", "nginx-common", "--with", "passwd"])
        .args(["--with", "tmp", "--add"])
        .arg(format!("{}:/www", d.join("www").display()))
        .arg("--add")
        .arg(format!("{}:/etc/nginx/staticize.conf", d.join("nginx.conf").display()))
        .args(["--probe", "-e", "--probe", "stderr", "--probe", "-c", "--probe", "/etc/nginx/staticize.conf"])
        .args(["--probe-port", &port.to_string()])
        .arg("-o")
        .arg(&tar)
        .arg("-t")
        .arg(&tag));
    assert!(out.contains("files of nginx-common"), "{out}");
    assert!(out.contains(&format!("answered on port {port}")), "the proof run served on its port: {out}");
    Engine::Podman.load(&tar);
    let name = format!("staticize-nginx-{}-{port}", std::process::id());
    let run_args = ["run", "-d", "--rm", "--name", &name, "--network", "host", &tag];
    ok(Engine::Podman.cmd().args(run_args).args(["-e", "stderr", "-c", "/etc/nginx/staticize.conf"]));
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut got = String::new();
    while std::time::Instant::now() < deadline && !got.contains("hello from scratch") {
        got = String::from_utf8_lossy(&run(Command::new("curl").args(["-s", &url])).stdout).into_owned();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let logs = text(&run(Engine::Podman.cmd().args(["logs", &name])));
    let _ = run(Engine::Podman.cmd().args(["rm", "-f", &name]));
    Engine::Podman.remove(&tag);
    assert!(got.contains("hello from scratch"), "nginx did not serve the page: {got}\n{logs}");
}
