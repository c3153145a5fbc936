//! Image options end to end: run configuration as docker and podman see it, `--with` extras
//! proven by a program that needs each one, `--add` trees, reproducible digests, zstd,
//! `--oci-dir`, `--load` and two-platform images.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

/// Prints its arguments, $GREETING, the working directory and the uid: what --cmd,
/// --entrypoint, --env, --workdir and --user change.
const SHOW_C: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char cwd[256];
    for (int i = 0; i < argc; i++) printf("%s\n", argv[i]);
    const char *g = getenv("GREETING");
    printf("GREETING=%s\ncwd=%s\nuid=%d\n", g ? g : "", getcwd(cwd, sizeof cwd) ? cwd : "?", (int)getuid());
    return 0;
}
"#;

fn engine_name(e: Engine) -> &'static str {
    match e {
        Engine::Podman => "podman",
        Engine::Docker => "docker",
    }
}

/// A static `show` built by `staticize c` (musl) in `dir`.
fn build_show(dir: &Path) -> PathBuf {
    fs::write(dir.join("show.c"), SHOW_C).unwrap();
    ok(staticize().current_dir(dir).args(["c", "show.c", "--no-image"]));
    dir.join("show")
}

/// The Go program in tests/fixtures/extras-probe, static (CGO_ENABLED=0), in `dir`.
fn build_probe(dir: &Path) -> PathBuf {
    let out = dir.join("extras-probe");
    ok(Command::new("go")
        .current_dir(repo().join("tests/fixtures/extras-probe"))
        .env("CGO_ENABLED", "0")
        .args(["build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o"])
        .arg(&out)
        .arg("."));
    out
}

/// `engine run --rm --network none [extra] image [args]`, status and all.
fn run_in(e: Engine, image: &str, extra: &[&str], args: &[&str]) -> std::process::Output {
    run(e.cmd().args(["run", "--rm", "--network", "none"]).args(extra).arg(image).args(args))
}

/// The `--json` result of a staticize command.
fn json_of(cmd: &mut Command) -> Value {
    let o = run(cmd.arg("--json"));
    assert!(o.status.success(), "{cmd:?} failed:\n{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&o)))
}

/// Every entry of the layers of an image archive, as an engine stacks them (a later layer's
/// entry replaces an earlier one's), sorted: path, type, mode, link target, bytes.
fn layer_entries(archive: &Path) -> Vec<(String, char, u32, String, Vec<u8>)> {
    let mut stacked = std::collections::BTreeMap::new();
    for tar_bytes in layer_tars(archive) {
        let mut inner = tar::Archive::new(tar_bytes.as_slice());
        for e in inner.entries().unwrap().map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let kind = match h.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Regular => 'f',
                _ => '?',
            };
            let target = e.link_name().unwrap().map(|l| l.display().to_string()).unwrap_or_default();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.path().unwrap().display().to_string(), kind, h.mode().unwrap(), target, data)
        }) {
            stacked.insert(e.0.clone(), e);
        }
    }
    stacked.into_values().collect()
}

#[test]
fn run_config_is_what_docker_and_podman_inspect_and_run() {
    if !have("musl-gcc") {
        return;
    }
    let t = tempdir();
    fs::write(t.path().join("show.c"), SHOW_C).unwrap();
    for e in Engine::available() {
        let tag = unique_tag("config");
        let out = ok(staticize().current_dir(t.path()).env("DOCKER_HOST", docker_host()).args([
            "c",
            "show.c",
            "-t",
            &tag,
            "--entrypoint",
            "/show",
            "--entrypoint",
            "first",
            "--cmd",
            r#"["two words","-x"]"#,
            "--env",
            "GREETING=hi there",
            "--env",
            "MODE=prod",
            "--workdir",
            "/srv/app",
            "--user",
            "nonroot",
            "--with",
            "passwd",
            "--expose",
            "8080",
            "--expose",
            "53/udp",
            "--label",
            "org.opencontainers.image.title=show",
            "--label",
            "team=infra",
            "--stop-signal",
            "quit",
            "--load",
            engine_name(e),
        ]));
        assert!(out.contains(&format!("load {}", engine_name(e))), "{out}");
        let cfg = e.inspect(&tag)["Config"].clone();
        assert_eq!(cfg["Entrypoint"], json!(["/show", "first"]), "{e:?}: {cfg}");
        assert_eq!(cfg["Cmd"], json!(["two words", "-x"]), "{e:?}");
        let env: Vec<&str> = cfg["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(env.contains(&"GREETING=hi there") && env.contains(&"MODE=prod"), "{e:?}: {env:?}");
        assert_eq!(cfg["WorkingDir"], "/srv/app", "{e:?}");
        assert_eq!(cfg["User"], "nonroot", "{e:?}");
        assert_eq!(cfg["ExposedPorts"], json!({"53/udp": {}, "8080/tcp": {}}), "{e:?}");
        assert_eq!(cfg["Labels"], json!({"org.opencontainers.image.title": "show", "team": "infra"}), "{e:?}");
        assert_eq!(cfg["StopSignal"], "SIGQUIT", "{e:?}");
        let stdout = e.run_image(&tag, &[], &[]);
        assert_eq!(stdout, "/show\nfirst\ntwo words\n-x\nGREETING=hi there\ncwd=/srv/app\nuid=65532\n", "{e:?}");
        e.remove(&tag);
    }
}

#[test]
fn each_extra_is_what_a_program_needs() {
    if !have("go") {
        return;
    }
    let t = tempdir();
    let probe = build_probe(t.path());
    let (full, bare, zones) = (unique_tag("extras"), unique_tag("bare"), unique_tag("zones"));
    let with = |tag: &str, out: &str, extra: &[&str]| {
        let mut c = staticize();
        c.current_dir(t.path()).arg("image").arg(&probe).args(["-t", tag, "-o", out]).args(extra);
        ok(&mut c)
    };
    let report = with(
        &full,
        "full.tar",
        &[
            "--with",
            "certs",
            "--with",
            "tzdata=Asia/Taipei,UTC",
            "--with",
            "passwd",
            "--with",
            "tmp",
            "--user",
            "nonroot",
        ],
    );
    assert!(report.contains("certificates from") && report.contains("tmp: /tmp (mode 1777)"), "{report}");
    with(&bare, "bare.tar", &["--user", "65532"]);
    with(&zones, "zones.tar", &["--with", "tzdata"]);
    let entries = layer_entries(&t.path().join("full.tar"));
    assert!(
        entries.iter().any(|(p, k, m, _, _)| p == "tmp/" && *k == 'd' && *m == 0o1777),
        "{:?}",
        entries.iter().map(|e| &e.0).collect::<Vec<_>>()
    );

    for e in Engine::available() {
        for tar in ["full.tar", "bare.tar", "zones.tar"] {
            e.load(&t.path().join(tar));
        }
        let probe_out = |image: &str, args: &[&str]| e.run_image(image, &[], args);
        assert!(probe_out(&full, &["certs"]).contains("ISRG Root X1 found"), "{e:?}");
        assert_eq!(probe_out(&full, &["tz", "Asia/Taipei"]), "tz: Asia/Taipei +0800\n", "{e:?}");
        assert_eq!(probe_out(&full, &["tz", "UTC"]), "tz: UTC +0000\n", "{e:?}");
        assert_eq!(probe_out(&full, &["user"]), "user: nonroot uid=65532 home=/home/nonroot\n", "{e:?}");
        let tmp = probe_out(&full, &["tmp"]);
        assert!(tmp.starts_with("tmp: wrote /tmp/probe-") && tmp.ends_with("as uid 65532\n"), "{e:?}: {tmp}");
        // The whole zoneinfo tree, links inside it included (ROC -> Asia/Taipei).
        assert_eq!(probe_out(&zones, &["tz", "ROC"]), "tz: ROC +0800\n", "{e:?}");
        assert_eq!(probe_out(&zones, &["tz", "America/New_York"]), "tz: America/New_York -0500\n", "{e:?}");
        // Without the extras the same program fails each way: the extras are what made it work.
        for args in [&["certs"][..], &["tz", "Asia/Taipei"], &["user"], &["tmp"]] {
            let o = run_in(e, &bare, &[], args);
            assert!(!o.status.success(), "{e:?} {args:?} passed without its extra:\n{}", text(&o));
        }
        for tag in [&full, &bare, &zones] {
            e.remove(tag);
        }
    }
}

#[test]
fn busybox_gives_a_debug_shell() {
    if !have("musl-gcc") || !have("busybox") {
        return;
    }
    let t = tempdir();
    let show = build_show(t.path());
    let tag = unique_tag("busybox");
    ok(staticize().current_dir(t.path()).arg("image").arg(&show).args([
        "-t",
        &tag,
        "-o",
        "debug.tar",
        "--with",
        "busybox",
        "--with",
        "tmp",
        "--entrypoint",
        "/bin/sh",
        "--cmd",
        "-c",
        "--cmd",
        "echo $((6*7)) > /tmp/x && cat /tmp/x && /show via-shell | head -2",
    ]));
    for (e, out) in load_and_run_everywhere(&t.path().join("debug.tar"), &tag, &[]) {
        assert_eq!(out, "42\n/show\nvia-shell\n", "{e:?}");
    }
}

#[test]
fn add_copies_trees_and_keeps_links_as_links() {
    if !have("musl-gcc") || !have("busybox") {
        return;
    }
    let t = tempdir();
    let show = build_show(t.path());
    fs::write(t.path().join("secret"), "SECRET-OUTSIDE").unwrap();
    let site = t.path().join("site");
    fs::create_dir_all(site.join("css/deep")).unwrap();
    fs::write(site.join("index.html"), "<h1>hi</h1>").unwrap();
    fs::write(site.join("css/deep/a.css"), "a{}").unwrap();
    fs::write(site.join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    fs::set_permissions(site.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    symlink("index.html", site.join("home.html")).unwrap();
    symlink("../secret", site.join("escape")).unwrap();
    symlink("/etc/hostname", site.join("abs")).unwrap();
    fs::write(t.path().join("redis.conf"), "port 6380\n").unwrap();
    let tag = unique_tag("add");
    let out = ok(staticize().current_dir(t.path()).arg("image").arg(&show).args([
        "-t",
        &tag,
        "-o",
        "add.tar",
        "--add",
        "site:/srv/www",
        "--add",
        "redis.conf:/etc/redis/redis.conf:0600",
        "--with",
        "busybox",
    ]));
    assert!(out.contains("(3 files, 3 links, 3 directories"), "{out}");
    let entries = layer_entries(&t.path().join("add.tar"));
    let find = |p: &str| entries.iter().find(|e| e.0 == p).unwrap_or_else(|| panic!("{p} missing"));
    assert_eq!(find("srv/www/escape").1, 'l');
    assert_eq!(find("srv/www/escape").3, "../secret");
    assert_eq!(find("srv/www/abs").3, "/etc/hostname");
    assert_eq!(find("srv/www/home.html").3, "index.html");
    assert_eq!((find("srv/www/index.html").1, find("srv/www/index.html").2), ('f', 0o644));
    assert_eq!(find("srv/www/run.sh").2, 0o755);
    assert_eq!(
        (find("etc/redis/redis.conf").2, find("etc/redis/redis.conf").4.as_slice()),
        (0o600, &b"port 6380\n"[..])
    );
    assert!(find("srv/www/css/deep/").1 == 'd' && find("srv/").1 == 'd' && find("etc/redis/").1 == 'd');
    assert!(
        !entries.iter().any(|e| e.4.windows(14).any(|w| w == b"SECRET-OUTSIDE")),
        "the file outside SRC was read through a link"
    );
    let script = "cat /srv/www/home.html; readlink /srv/www/escape; cat /srv/www/escape || echo not-followed; cat /etc/redis/redis.conf";
    for e in Engine::available() {
        e.load(&t.path().join("add.tar"));
        let o = run_in(e, &tag, &["--entrypoint", "/bin/sh"], &["-c", script]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(stdout, "<h1>hi</h1>../secret\nnot-followed\nport 6380\n", "{e:?}: {}", text(&o));
        e.remove(&tag);
    }
}

#[test]
fn digests_do_not_depend_on_umask_path_mtime_or_cores() {
    if !have("musl-gcc") {
        return;
    }
    let mut results = Vec::new();
    let roots = [tempdir(), tempdir()];
    for (i, root) in roots.iter().enumerate() {
        // Two checkouts at different paths, made under different umasks, with different mtimes.
        let dir = root.path().join(if i == 0 { "checkout" } else { "elsewhere/deeper/copy" });
        fs::create_dir_all(dir.join("conf/sub")).unwrap();
        fs::write(dir.join("show.c"), SHOW_C).unwrap();
        fs::write(dir.join("conf/app.toml"), "x = 1\n").unwrap();
        fs::write(dir.join("conf/sub/b.txt"), "b\n").unwrap();
        symlink("../app.toml", dir.join("conf/sub/link")).unwrap();
        let mode = if i == 0 { 0o644 } else { 0o600 };
        for f in ["conf/app.toml", "conf/sub/b.txt", "show.c"] {
            fs::set_permissions(dir.join(f), fs::Permissions::from_mode(mode)).unwrap();
        }
        let stamp = if i == 0 { "200001010000" } else { "202406150930" };
        ok(Command::new("sh").current_dir(&dir).args(["-c", &format!("find . -exec touch -h -t {stamp} {{}} +")]));
        let (umask, threads) = if i == 0 { ("022", "1") } else { ("077", "7") };
        for compress in ["gzip", "zstd"] {
            let script = format!(
                "umask {umask} && exec \"$0\" c show.c -o show-{compress} --image show-{compress}.tar --compress {compress} \
                 --add conf:/etc/app --with tmp --with passwd --with tzdata=Europe/Paris --json"
            );
            let o = run(Command::new("sh")
                .current_dir(&dir)
                .env("STATICIZE_THREADS", threads)
                .env_remove("SOURCE_DATE_EPOCH")
                .args(["-c", &script, bin().to_str().unwrap()]));
            assert!(o.status.success(), "{}", text(&o));
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            results.push((
                compress,
                v["image"]["manifest_digest"].clone(),
                sha256_file(&dir.join(format!("show-{compress}.tar"))),
            ));
        }
    }
    assert_eq!(results[0], results[2], "gzip images differ between the two checkouts");
    assert_eq!(results[1], results[3], "zstd images differ between the two checkouts");
    assert_ne!(results[0].1, results[1].1);
}

#[test]
fn zstd_layers_load_in_podman_and_old_docker_is_refused_clearly() {
    if !have("musl-gcc") {
        return;
    }
    let t = tempdir();
    let show = build_show(t.path());
    let tag = unique_tag("zstd");
    if have("podman") {
        let v = json_of(staticize().current_dir(t.path()).arg("image").arg(&show).args([
            "-t",
            &tag,
            "--compress",
            "zstd",
            "--load",
            "podman",
            "--cmd",
            "zstd-ok",
        ]));
        assert_eq!(v["loaded_into"], "podman");
        let raw = ok(Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci-archive:{}", t.path().join(v["path"].as_str().unwrap()).display())));
        assert!(raw.contains("application/vnd.oci.image.layer.v1.tar+zstd"), "{raw}");
        assert_eq!(Engine::Podman.run_image(&tag, &[], &[]), "/show\nzstd-ok\nGREETING=\ncwd=/\nuid=0\n");
        Engine::Podman.remove(&tag);
    }
    if have("docker") {
        let version =
            String::from_utf8(run(docker_cmd().args(["version", "--format", "{{.Server.Version}}"])).stdout).unwrap();
        let major: u32 = version.trim().split('.').next().unwrap().parse().unwrap();
        let mut cmd = staticize();
        cmd.current_dir(t.path()).env("DOCKER_HOST", docker_host()).arg("image").arg(&show).args([
            "-o",
            "z.tar",
            "-t",
            &tag,
            "--compress",
            "zstd",
            "--load",
            "docker",
        ]);
        if major < 23 {
            // Docker 20.10 fails on zstd layers ("archive/tar: invalid tar header"): refuse first.
            let err = fails_with(&mut cmd, 2);
            assert!(err.contains("cannot read zstd layers") && err.contains("--compress gzip"), "{err}");
            assert!(!t.path().join("z.tar").exists(), "nothing is written when the load is refused");
        } else {
            ok(&mut cmd);
            assert_eq!(Engine::Docker.run_image(&tag, &[], &[]), "/show\nGREETING=\ncwd=/\nuid=0\n");
            Engine::Docker.remove(&tag);
        }
    }
}

#[test]
fn oci_dir_is_a_layout_skopeo_reads() {
    if !have("musl-gcc") || !have("skopeo") {
        return;
    }
    let t = tempdir();
    let show = build_show(t.path());
    let v = json_of(staticize().current_dir(t.path()).arg("image").arg(&show).args([
        "-o",
        "show.tar",
        "--oci-dir",
        "layout",
        "--label",
        "k=v",
    ]));
    assert_eq!(v["oci_dir"], "layout");
    let inspect: Value =
        serde_json::from_str(&ok(Command::new("skopeo").current_dir(t.path()).args(["inspect", "oci:layout"])))
            .unwrap();
    assert_eq!(inspect["Digest"], v["manifest_digest"]);
    assert_eq!(inspect["Labels"], json!({"k": "v"}));
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(fs::metadata(t.path().join("layout")).unwrap().permissions().mode() & 0o777, 0o755);
    // Writing again replaces the layout; a directory that is not a layout is never touched.
    ok(staticize().current_dir(t.path()).arg("image").arg(&show).args([
        "-o",
        "show.tar",
        "--oci-dir",
        "layout",
        "--label",
        "k=w",
    ]));
    let again: Value =
        serde_json::from_str(&ok(Command::new("skopeo").current_dir(t.path()).args(["inspect", "oci:layout"])))
            .unwrap();
    assert_eq!(again["Labels"], json!({"k": "w"}));
    fs::create_dir(t.path().join("mine")).unwrap();
    fs::write(t.path().join("mine/notes.txt"), "keep").unwrap();
    let err = fails_with(
        staticize().current_dir(t.path()).arg("image").arg(&show).args(["-o", "other.tar", "--oci-dir", "mine"]),
        4,
    );
    assert!(err.contains("not an OCI layout"), "{err}");
    assert_eq!(fs::read_to_string(t.path().join("mine/notes.txt")).unwrap(), "keep");
    assert!(!t.path().join("other.tar").exists());
    let leftovers: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staticize"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `python3 -m ziglang` (pip install ziglang), the cross compiler for arm64.
fn have_zig() -> bool {
    let found = Command::new("python3").args(["-m", "ziglang", "version"]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(!e2e_required(), "zig (pip install ziglang) is required (STATICIZE_E2E=require)");
        skipped("zig");
    }
    found
}

#[test]
fn two_platform_image_has_an_index_and_loads() {
    if !have("musl-gcc") || !have("skopeo") || !have_zig() {
        return;
    }
    let t = tempdir();
    let amd = build_show(t.path());
    fs::write(t.path().join("show.c"), SHOW_C).unwrap();
    ok(Command::new("python3").current_dir(t.path()).args([
        "-m",
        "ziglang",
        "cc",
        "-target",
        "aarch64-linux-musl",
        "-static",
        "-Os",
        "-s",
        "show.c",
        "-o",
        "show-arm64",
    ]));
    let tag = unique_tag("multi");
    let v = json_of(staticize().current_dir(t.path()).args([
        "image",
        "--binary",
        "linux/arm64=show-arm64",
        "--binary",
        &format!("linux/amd64={}", amd.display()),
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        &tag,
        "--cmd",
        "multi",
    ]));
    let tar = PathBuf::from(v["path"].as_str().unwrap());
    assert_eq!(tar.file_name().unwrap(), "show.tar", "the name drops the -arm64 suffix");
    let tar = t.path().join(tar);
    let raw: Value = serde_json::from_str(&ok(Command::new("skopeo")
        .arg("inspect")
        .arg("--raw")
        .arg(format!("oci-archive:{}", tar.display()))))
    .unwrap();
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let platforms: Vec<&str> =
        raw["manifests"].as_array().unwrap().iter().map(|m| m["platform"]["architecture"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    for e in Engine::available() {
        e.load(&tar);
        assert_eq!(e.inspect(&tag)["Architecture"], "amd64", "{e:?} loads the host platform");
        assert_eq!(e.run_image(&tag, &[], &[]), "/show\nmulti\nGREETING=\ncwd=/\nuid=0\n", "{e:?}");
        e.remove(&tag);
    }
    // The arm64 manifest holds the arm64 program: copy it out and run it under qemu.
    if have("podman") && have("qemu-aarch64-static") {
        let arm_tag = format!("{}-arm64", tag.trim_end_matches(":t"));
        ok(Command::new("skopeo")
            .args(["copy", "--override-arch", "arm64"])
            .arg(format!("oci-archive:{}", tar.display()))
            .arg(format!("containers-storage:localhost/{arm_tag}:t")));
        assert_eq!(Engine::Podman.inspect(&format!("localhost/{arm_tag}:t"))["Architecture"], "arm64");
        let created = run(podman_cmd().args(["create", &format!("localhost/{arm_tag}:t")]));
        assert!(created.status.success(), "{}", text(&created));
        let ctr = String::from_utf8_lossy(&created.stdout).trim().to_string();
        ok(podman_cmd().args(["cp", &format!("{ctr}:/show")]).arg(t.path().join("from-image")));
        let _ = podman_cmd().args(["rm", &ctr]).output();
        let out = ok(Command::new("qemu-aarch64-static").arg(t.path().join("from-image")).arg("arm"));
        assert!(out.starts_with("/") && out.contains("\narm\n"), "{out}");
        Engine::Podman.remove(&format!("localhost/{arm_tag}:t"));
    }
}

#[test]
fn bad_image_options_are_usage_errors_naming_the_flag() {
    let t = tempdir();
    // Any file will do: options are refused before the binary is read.
    let bin_path = t.path().join("app");
    fs::write(&bin_path, "not yet read").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--cmd", "redis-server --port 80"], "--cmd redis-server --cmd --port --cmd 80"),
        (&["--entrypoint", "[\"a\","], "--entrypoint"),
        (&["--env", "NOVALUE"], "--env NAME=value"),
        (&["--label", "=x"], "--label"),
        (&["--workdir", "srv"], "--workdir /srv"),
        (&["--user", "a b"], "--user"),
        (&["--expose", "99999"], "--expose 8080"),
        (&["--expose", "80/icmp"], "--expose"),
        (&["--stop-signal", "SIGNOPE"], "--stop-signal"),
        (&["--add", "x"], "--add SRC:DEST"),
        (&["--add", "x:relative"], "--add"),
        (&["--with", "certs,passwd"], "--with certs --with passwd"),
        (&["--with", "nope"], "certs, tzdata, passwd, tmp, busybox"),
        (&["--with", "tzdata=../../etc"], "--with tzdata"),
        (&["--platform", "linux/riscv64"], "--platform linux/arm64"),
        (&["--binary", "arm64"], "--binary linux/arm64=./app-arm64"),
        (&["--compress", "brotli"], "gzip"),
        (&["--load", "lxc"], "docker"),
    ];
    for (args, hint) in cases {
        let err = fails_with(staticize().current_dir(t.path()).arg("image").arg(&bin_path).args(*args), 2);
        assert!(err.contains(hint), "{args:?}: expected {hint:?} in:\n{err}");
    }
    assert!(!t.path().join("app.tar").exists());
}

#[test]
fn options_that_need_the_image_are_refused_with_a_fix() {
    if !have("musl-gcc") {
        return;
    }
    let t = tempdir();
    let show = build_show(t.path());
    fs::write(t.path().join("show.tar"), "old image").unwrap();
    let image = |args: &[&str]| {
        let mut c = staticize();
        c.current_dir(t.path()).arg("image").arg(&show).args(args);
        c
    };
    let err = fails_with(&mut image(&["--user", "nonroot"]), 2);
    assert!(err.contains("--with passwd"), "{err}");
    let err = fails_with(&mut image(&["--user", "app", "--with", "passwd"]), 2);
    assert!(err.contains("only knows root and nonroot"), "{err}");
    let err = fails_with(&mut image(&["--with", "tzdata=Mars/Olympus"]), 2);
    assert!(err.contains("no zone 'Mars/Olympus'"), "{err}");
    let err = fails_with(&mut image(&["--add", "show:/show"]), 2);
    assert!(err.contains("--path"), "{err}");
    let err = fails_with(&mut image(&["--add", "missing.conf:/etc/x"]), 4);
    assert!(err.contains("missing.conf"), "{err}");
    let err = fails_with(&mut image(&["--binary", &format!("linux/arm64={}", show.display())]), 4);
    assert!(err.contains("is a linux/amd64 executable, but --binary says linux/arm64"), "{err}");
    let err = fails_with(&mut image(&["--platform", "linux/arm64"]), 2);
    assert!(err.contains("--binary linux/arm64=PATH"), "{err}");
    // `staticize build --platform` cross-builds (tests/cli/cross_build.rs); a directory with no
    // build system is refused before anything is built.
    let err = fails_with(staticize().current_dir(t.path()).args(["build", ".", "--platform", "linux/arm64"]), 2);
    assert!(err.contains("no build system found"), "{err}");
    assert_eq!(fs::read_to_string(t.path().join("show.tar")).unwrap(), "old image", "a failed run keeps the old image");
}
