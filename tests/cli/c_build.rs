//! `staticize c` / `cxx` / `image`: real compilers, images run by real podman and docker.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::*;

fn hello_c() -> PathBuf {
    repo().join("examples/hello-c/hello.c")
}

/// Builds `src` with extra args inside a fresh directory; returns (dir, binary, image).
fn build(lang: &str, src: &Path, args: &[&str], tag: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempdir();
    let out = ok(staticize().current_dir(dir.path()).arg(lang).arg(src).args(["-t", tag]).args(args));
    let name = src.file_stem().unwrap().to_str().unwrap();
    let bin = dir.path().join(name);
    assert!(bin.is_file(), "no binary written:\n{out}");
    let image = PathBuf::from(format!("{}.tar", bin.display()));
    (dir, bin, image)
}

#[test]
fn hello_c_is_tiny_static_and_runs_in_podman_and_docker() {
    if !have("musl-gcc") {
        return;
    }
    let tag = unique_tag("hello-c");
    let (_dir, bin, image) = build("c", &hello_c(), &[], &tag);
    let bin_size = fs::metadata(&bin).unwrap().len();
    let image_size = fs::metadata(&image).unwrap().len();
    assert!(bin_size <= 8 * 1024, "hello is {bin_size} B, budget 8 KiB");
    assert!(image_size <= 16 * 1024, "hello.tar is {image_size} B, budget 16 KiB");
    let verdict = ok(staticize().arg("check").arg(&bin));
    assert!(verdict.contains("static, amd64, stripped"), "{verdict}");
    let runs = load_and_run_everywhere(&image, &tag, &[]);
    assert_eq!(runs.len(), 2, "both podman and docker must run it");
    for (engine, stdout) in runs {
        assert_eq!(stdout, "Hello from staticize!\n", "{engine:?}");
    }
}

#[test]
fn skopeo_reads_the_archive_as_oci_and_as_docker() {
    if !have("musl-gcc") || !have("skopeo") {
        return;
    }
    let tag = unique_tag("skopeo");
    let (_dir, _bin, image) = build("c", &hello_c(), &[], &tag);
    for transport in ["oci-archive", "docker-archive"] {
        let out =
            ok(std::process::Command::new("skopeo").arg("inspect").arg(format!("{transport}:{}", image.display())));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Architecture"], "amd64", "{transport}: {out}");
        assert_eq!(v["Layers"].as_array().unwrap().len(), 1, "{transport}: {out}");
    }
}

#[test]
fn lookups_build_static_with_musl_and_glibc_and_run_in_scratch() {
    if !have("musl-gcc") {
        return;
    }
    let src = repo().join("examples/lookup-c/lookup.c");
    for (libc, expect_warning) in [("musl", false), ("glibc", true)] {
        let tag = unique_tag(&format!("lookup-{libc}"));
        let dir = tempdir();
        let out = ok(staticize().current_dir(dir.path()).args(["c", "--libc", libc, "-t", &tag]).arg(&src));
        assert_eq!(out.contains("warning static glibc: getaddrinfo, getpwnam"), expect_warning, "{libc}:\n{out}");
        let image = dir.path().join("lookup.tar");
        for (engine, stdout) in load_and_run_everywhere(&image, &tag, &[]) {
            assert_eq!(stdout, "getaddrinfo 127.0.0.1: 127.0.0.1\ngetpwnam root: not found\n", "{engine:?} {libc}");
        }
    }
}

#[test]
fn cxx_builds_static_and_runs_in_podman_and_docker() {
    if !have("g++") {
        return;
    }
    let tag = unique_tag("hello-cxx");
    let (_dir, bin, image) = build("cxx", &repo().join("examples/hello-cxx/hello.cpp"), &[], &tag);
    assert!(ok(staticize().arg("check").arg(&bin)).contains("static,"));
    let runs = load_and_run_everywhere(&image, &tag, &[]);
    assert_eq!(runs.len(), 2);
    for (engine, stdout) in runs {
        assert_eq!(stdout, "Hello from static C++!\n", "{engine:?}");
    }
}

#[test]
fn zig_cc_builds_a_small_static_hello() {
    if !have("musl-gcc") || !zig_available() {
        return;
    }
    let tag = unique_tag("hello-zig");
    let (_dir, bin, _image) = build("c", &hello_c(), &["--compiler", "zig"], &tag);
    assert!(fs::metadata(&bin).unwrap().len() <= 8 * 1024);
    let run = ok(&mut std::process::Command::new(&bin));
    assert_eq!(run, "Hello from staticize!\n");
}

fn zig_available() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-m", "ziglang", "version"])
        .output()
        .is_ok_and(|o| o.status.success())
        || std::process::Command::new("zig").arg("version").output().is_ok_and(|o| o.status.success());
    assert!(found || !e2e_required(), "zig is required (pip install ziglang)");
    found
}

#[test]
fn building_twice_gives_identical_image_bytes() {
    if !have("musl-gcc") {
        return;
    }
    let (_a, _, image_a) = build("c", &hello_c(), &[], "same:1");
    let (_b, _, image_b) = build("c", &hello_c(), &[], "same:1");
    assert_eq!(sha256_file(&image_a), sha256_file(&image_b));
    // SOURCE_DATE_EPOCH reaches the config's created time, and so the digest.
    let dir = tempdir();
    ok(staticize()
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["c", "-t", "same:1"])
        .arg(hello_c()));
    assert_ne!(sha256_file(&dir.path().join("hello.tar")), sha256_file(&image_a));
}

#[test]
fn several_sources_and_passthrough_flags() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    let inc = dir.path().join("include");
    fs::create_dir(&inc).unwrap();
    fs::write(inc.join("greet.h"), "double half(double x);\n").unwrap();
    fs::write(dir.path().join("main.c"), "#include <stdio.h>\n#include <math.h>\n#include \"greet.h\"\nint main(void){printf(\"%s %.1f\\n\", WHO, sqrt(half(32.0)));return 0;}\n").unwrap();
    fs::write(dir.path().join("half.c"), "double half(double x){return x/2;}\n").unwrap();
    ok(staticize().current_dir(dir.path()).args([
        "c",
        "main.c",
        "half.c",
        "-Iinclude",
        "-DWHO=\"passthrough\"",
        "-lm",
        "--no-image",
    ]));
    assert!(!dir.path().join("main.tar").exists(), "--no-image wrote an image");
    let run = ok(&mut std::process::Command::new(dir.path().join("main")));
    assert_eq!(run, "passthrough 4.0\n");
}

#[test]
fn output_and_image_paths_and_speed_profile() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    // Output directories are not created implicitly: a missing one is an I/O error (exit 4).
    let out = fails_with(staticize().current_dir(dir.path()).args(["c", "-o", "bin/hi"]).arg(hello_c()), 4);
    assert!(out.contains("bin"), "{out}");
    fs::create_dir_all(dir.path().join("bin")).unwrap();
    fs::create_dir_all(dir.path().join("img")).unwrap();
    ok(staticize()
        .current_dir(dir.path())
        .args(["c", "--profile", "speed", "-o", "bin/hi", "--image", "img/hi-image.tar"])
        .arg(hello_c()));
    assert_eq!(ok(&mut std::process::Command::new(dir.path().join("bin/hi"))), "Hello from staticize!\n");
    assert!(dir.path().join("img/hi-image.tar").is_file());
    assert!(!dir.path().join("bin/hi.tar").exists());
}

#[test]
fn fall_back_to_static_glibc_when_musl_and_zig_are_missing() {
    if !have("gcc") {
        return;
    }
    let path = toolbox(&["gcc", "as", "ld", "ld.bfd"]);
    let dir = tempdir();
    let out = ok(staticize().current_dir(dir.path()).env("PATH", path.path()).args(["c", "--no-image"]).arg(hello_c()));
    assert!(out.contains("with gcc"), "{out}");
    assert!(out.contains("better compilers are missing: musl-gcc (apt-get install musl-tools"), "{out}");
    assert!(ok(staticize().arg("check").arg(dir.path().join("hello"))).contains("static,"));
}

#[test]
fn missing_compiler_exits_3_with_install_hint() {
    let path = toolbox(&[]);
    let dir = tempdir();
    let out = fails_with(
        staticize()
            .current_dir(dir.path())
            .env("PATH", path.path())
            .args(["c", "--compiler", "musl-gcc"])
            .arg(hello_c()),
        3,
    );
    assert!(out.contains("musl-gcc not found"), "{out}");
    assert!(out.contains("apt-get install musl-tools"), "{out}");
    assert!(out.contains("STATICIZE_CC"), "{out}");
}

/// A directory holding symlinks to only the named host tools, to use as PATH.
fn toolbox(tools: &[&str]) -> tempfile::TempDir {
    let d = tempdir();
    for t in tools {
        let out = std::process::Command::new("sh").args(["-c", &format!("command -v {t}")]).output().unwrap();
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            std::os::unix::fs::symlink(p, d.path().join(t)).unwrap();
        }
    }
    d
}

#[test]
fn image_command_packages_a_static_binary_and_refuses_a_dynamic_one() {
    if !have("musl-gcc") {
        return;
    }
    let (dir, bin, _) = build("c", &hello_c(), &["--no-image"], "unused:1");
    let tag = unique_tag("image-cmd");
    ok(staticize().current_dir(dir.path()).arg("image").arg(&bin).args([
        "-o",
        "packaged.tar",
        "-t",
        &tag,
        "--path",
        "/usr/bin/hello",
    ]));
    for (engine, stdout) in load_and_run_everywhere(&dir.path().join("packaged.tar"), &tag, &[]) {
        assert_eq!(stdout, "Hello from staticize!\n", "{engine:?}");
    }
    let ls = which_path("ls");
    let out = fails_with(staticize().current_dir(dir.path()).arg("image").arg(&ls), 1);
    assert!(out.contains("not self-contained (dynamic"), "{out}");
    assert!(out.contains("staticize bundle"), "{out}");
    assert!(!dir.path().join("ls.tar").exists());
}

fn which_path(tool: &str) -> PathBuf {
    let out = std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn missing_source_is_an_io_error() {
    let dir = tempdir();
    let out = fails_with(staticize().current_dir(dir.path()).args(["c", "nope.c"]), 4);
    assert!(out.contains("nope.c"), "{out}");
}

#[test]
fn compile_error_shows_the_compilers_message_and_keeps_old_outputs() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    fs::write(dir.path().join("broken.c"), "int main(void) { return missing_symbol_xyz; }\n").unwrap();
    fs::write(dir.path().join("broken"), "old binary").unwrap();
    fs::write(dir.path().join("broken.tar"), "old image").unwrap();
    let out = fails_with(staticize().current_dir(dir.path()).args(["c", "broken.c"]), 3);
    assert!(out.contains("missing_symbol_xyz"), "compiler message not shown:\n{out}");
    assert!(out.contains("compile broken.c"), "{out}");
    assert_eq!(fs::read_to_string(dir.path().join("broken")).unwrap(), "old binary");
    assert_eq!(fs::read_to_string(dir.path().join("broken.tar")).unwrap(), "old image");
    let names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 3, "temporary files left behind: {names:?}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = fails_with(staticize().args(["c", "--frobnicate", "x.c"]), 2);
    assert!(out.contains("--frobnicate"), "{out}");
}

#[test]
fn unwritable_output_directory_is_refused_before_compiling() {
    let dir = tempdir();
    // /proc refuses new files even for root; a path under a regular file is never a directory.
    for bad in ["/proc/staticize-out", "/etc/hostname/out"] {
        let out = fails_with(staticize().current_dir(dir.path()).args(["c", "-o", bad]).arg(hello_c()), 4);
        assert!(!out.contains("compile"), "compiled before checking the output:\n{out}");
        assert!(out.contains(bad.rsplit_once('/').unwrap().0), "{out}");
    }
}

#[test]
fn dynamic_result_gets_no_image() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    // -shared turns the output into a library: it links, but cannot run in scratch.
    let out =
        fails_with(staticize().current_dir(dir.path()).args(["c"]).arg(hello_c()).args(["--", "-shared", "-fPIC"]), 1);
    assert!(out.contains("no image written"), "{out}");
    assert!(out.contains("shared library"), "{out}");
    assert!(!dir.path().join("hello.tar").exists());
}

#[test]
fn doctor_lists_compilers_with_versions_or_hints() {
    let out = ok(staticize().arg("doctor"));
    assert!(out.contains("musl-gcc") && out.contains("gcc") && out.contains("zig"), "{out}");
    let json = ok(staticize().args(["doctor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for t in v.as_array().unwrap() {
        if t["found"].as_bool().unwrap() {
            assert!(!t["version"].as_str().unwrap().is_empty(), "{t}");
        } else {
            assert!(!t["install"].as_str().unwrap().is_empty(), "{t}");
        }
    }
    let path = toolbox(&[]);
    let out = ok(staticize().env("PATH", path.path()).arg("doctor"));
    assert!(out.contains("apt-get install musl-tools"), "{out}");
}
