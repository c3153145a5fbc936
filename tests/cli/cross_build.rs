//! Cross builds of real projects (issue 27): `staticize build DIR --platform
//! linux/amd64,linux/arm64` on Debian source packages — a CMake project (a toolchain file) and
//! an autotools one (`--host`, its generators built by this machine's compiler) — each giving
//! two binaries and one multi-platform image; the arm64 binary answers under qemu-aarch64-static,
//! podman takes the arm64 image of the index (and runs it under qemu), skopeo and crane accept
//! it; each platform rebuilds incrementally in its own out-of-tree directory. And the recipes
//! whose configure is among their own steps (ncurses, and readline on it) cross-build.

use std::path::Path;
use std::process::Command;

use crate::cross::{e_machine, have_cross_tools, under_qemu};
use crate::sources::*;
use crate::support::*;

/// `staticize` with the run's shared deps cache.
fn st() -> Command {
    let mut c = staticize();
    c.env("STATICIZE_DEPS_CACHE", deps_cache()).env_remove("STATICIZE_DEPS");
    c
}

/// Runs the arm64 program `bin` under qemu-aarch64-static with `args` and `stdin`.
#[track_caller]
fn under_qemu_with(bin: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("qemu-aarch64-static")
        .arg(bin)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{} under qemu: {}", bin.display(), text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The architectures of an archive's index, as skopeo reads it.
#[track_caller]
fn index_arches(tar: &Path) -> Vec<String> {
    let raw = ok(Command::new("skopeo").arg("inspect").arg("--raw").arg(format!("oci-archive:{}", tar.display())));
    let index: serde_json::Value = serde_json::from_str(raw.trim()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("not an index: {index}"))
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap().to_string())
        .collect()
}

/// podman takes the arm64 image of the index; this machine runs no arm64 code, so the image's
/// program runs under qemu-aarch64-static bound in from the host, inside the container.
#[track_caller]
fn podman_runs_the_arm64_image(tar: &Path, program: &str, args: &[&str]) -> String {
    let id = ok(podman_cmd()
        .args(["pull", "-q", "--platform", "linux/arm64"])
        .arg(format!("oci-archive:{}", tar.display())));
    let id = id.trim().lines().last().unwrap().to_string();
    let arch = ok(podman_cmd().args(["image", "inspect", "--format", "{{.Architecture}}", &id]));
    assert_eq!(arch.trim(), "arm64");
    let qemu = "/usr/bin/qemu-aarch64-static:/qemu:ro";
    let o = run(podman_cmd()
        .args(["run", "--rm", "--network", "none", "--platform", "linux/arm64", "-v", qemu, "--entrypoint", "/qemu"])
        .arg(&id)
        .arg(program)
        .args(args));
    let _ = run(podman_cmd().args(["rmi", "-f", &id]));
    assert!(o.status.success(), "podman run of the arm64 image: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cmake_project_cmark_for_amd64_and_arm64_is_one_index_podman_skopeo_and_crane_accept() {
    if !have_cross_tools() || !tools(&["apt-get", "cmake", "podman", "skopeo", "crane", "registry"]) {
        return;
    }
    let (dir, top) = unpack(&CMARK);
    let out = dir.path();
    let reference = format!("{}/{}", registry().unwrap(), unique_tag("cross-cmark"));
    let args = ["--configure-arg=-DCMARK_TESTS=OFF", "--target", "cmark", "--bin", "cmark"];
    let text = ok(staticize().current_dir(out).arg("build").arg(&top).args(args).args([
        "--platform",
        "linux/amd64,linux/arm64",
        "--push",
        &reference,
    ]));
    // The arm64 build is configured by a toolchain file in its own directory.
    let toolchain = top.join(".staticize-build/linux-arm64/toolchain.cmake");
    assert!(text.contains(&format!("-DCMAKE_TOOLCHAIN_FILE={}", toolchain.display())), "{text}");
    let file = std::fs::read_to_string(&toolchain).unwrap();
    assert!(file.contains("CMAKE_SYSTEM_PROCESSOR aarch64") && file.contains("FIND_ROOT_PATH_MODE_LIBRARY ONLY"));
    assert!(text.contains("check linux/arm64: static, arm64") && text.contains("check linux/amd64: static, amd64"));
    assert_eq!(e_machine(&out.join("cmark-arm64")), 183);
    assert_eq!(e_machine(&out.join("cmark-amd64")), 62);
    assert_eq!(under_qemu_with(&out.join("cmark-arm64"), &[], "# cross\n").trim(), "<h1>cross</h1>");
    assert!(text.contains("linux/arm64: ran: /cmark, exit 0 (under qemu-aarch64-static)"), "{text}");
    let tar = out.join("cmark.tar");
    assert_eq!(index_arches(&tar), ["amd64", "arm64"]);
    let version = podman_runs_the_arm64_image(&tar, "/cmark", &["--version"]);
    assert!(version.contains("cmark 0.30.2"), "{version}");
    for platform in ["all", "linux/arm64", "linux/amd64"] {
        let v =
            ok(Command::new("crane").args(["validate", "--insecure", "--platform", platform, "--remote", &reference]));
        assert!(v.contains("PASS"), "{platform}: {v}");
    }
    // Each platform's SBOM-bearing config says its own architecture.
    let config = ok(Command::new("crane").args(["config", "--insecure", "--platform", "linux/arm64", &reference]));
    assert!(config.contains("\"architecture\":\"arm64\""), "{config}");
    // Again: both builds are up to date in their own directories, nothing is configured again.
    let again = ok(staticize()
        .current_dir(out)
        .arg("build")
        .arg(&top)
        .args(args)
        .args(["--platform", "linux/amd64,linux/arm64"]));
    assert_eq!(again.matches("already set up").count(), 2, "{again}");
    assert!(again.contains("linux/arm64: 1 executable (0 built by this run)"), "{again}");
    assert!(again.contains("linux/amd64: 1 executable (0 built by this run)"), "{again}");
}

fn tools(list: &[&str]) -> bool {
    list.iter().all(|t| have(t))
}

#[test]
fn autotools_project_sqlite3_cross_builds_with_its_generators_built_for_this_machine() {
    if !have_cross_tools() || !tools(&["apt-get", "make", "musl-gcc", "tclsh", "podman", "skopeo"]) {
        return;
    }
    let (dir, top) = unpack(&SQLITE);
    let out = dir.path();
    let args = ["--configure-arg=--disable-readline", "--configure-arg=--disable-tcl", "--target", "sqlite3"];
    let text = ok(st().current_dir(out).arg("build").arg(&top).args(args).args([
        "--bin",
        "sqlite3",
        "--platform",
        "linux/amd64,linux/arm64",
    ]));
    let host = format!("--build={}-linux-gnu", std::env::consts::ARCH);
    assert!(text.contains(&format!("--host=aarch64-linux-musl {host}")), "{text}");
    assert!(top.join(".staticize-build/linux-arm64/build/config.status").is_file(), "not out of tree: {text}");
    // lemon and mkkeywordhash, which the build compiles and runs, were built for this machine
    // (CC_FOR_BUILD / BUILD_CC) and are not among the programs found for arm64.
    let lemon = top.join(".staticize-build/linux-arm64/build/lemon");
    assert_eq!(e_machine(&lemon), if cfg!(target_arch = "x86_64") { 62 } else { 183 });
    let found = text.lines().find(|l| l.contains("found linux/arm64:")).unwrap_or_else(|| panic!("{text}"));
    assert!(!found.contains("lemon") && found.contains("sqlite3"), "{found}");
    assert_eq!(e_machine(&out.join("sqlite3-arm64")), 183);
    assert_eq!(e_machine(&out.join("sqlite3-amd64")), 62);
    assert_eq!(under_qemu_with(&out.join("sqlite3-arm64"), &[":memory:", "select 6*7"], "").trim(), "42");
    assert!(text.contains("linux/arm64: ran: /sqlite3"), "{text}");
    let tar = out.join("sqlite3.tar");
    assert_eq!(index_arches(&tar), ["amd64", "arm64"]);
    assert_eq!(podman_runs_the_arm64_image(&tar, "/sqlite3", &[":memory:", "select 6*7"]).trim(), "42");
    // The SBOM beside the index names what built each platform's program: musl-gcc (and
    // Debian's musl-dev it links) for amd64, zig for arm64.
    let sbom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sqlite3.spdx.json")).unwrap()).unwrap();
    let names: Vec<&str> = sbom["packages"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for tool in ["sqlite3", "musl-gcc", "musl-dev", "zig"] {
        assert!(names.contains(&tool), "{tool} not in the SBOM: {names:?}");
    }
}

/// A program on ncurses, whose configure is one of its recipe's own steps (its make_hash and
/// make_keys are built for this machine), and readline on it. (sqlite3's recipe crosses the
/// same way; its configure is the one the sqlite3 project test above runs with --host.)
const ON_RECIPES: &str = r#"#include <stdio.h>
#include <curses.h>
#include <readline/readline.h>
#include <readline/history.h>
int main(void) {
    add_history("6*7");
    printf("%s|%s|%s\n", curses_version(), rl_library_version, history_get(history_base)->line);
    return 0;
}
"#;

#[test]
fn ncurses_and_readline_recipes_cross_build_for_arm64() {
    if !have_cross_tools() || !tools(&["apt-get", "make", "tic"]) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("on.c"), ON_RECIPES).unwrap();
    let text =
        ok(st().current_dir(d).args(["c", "on.c", "--dep", "readline", "--platform", "linux/arm64", "--no-image"]));
    assert_eq!(e_machine(&d.join("on")), 183, "{text}");
    let said = under_qemu(&d.join("on"));
    let parts: Vec<&str> = said.trim().split('|').collect();
    assert!(parts[0].starts_with("ncurses 6."), "{said}");
    assert!(parts[1].starts_with("8."), "{said}");
    assert_eq!(parts[2], "6*7", "{said}");
    assert!(text.contains("aarch64-musl-zig"), "the arm64 entries of the cache: {text}");
}
