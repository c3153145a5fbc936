//! Cross builds of C and C++ (issue 27): `--platform linux/amd64,linux/arm64` gives one
//! multi-platform image, each binary judged for its own machine and proven under
//! qemu-aarch64-static; `--dep` libraries built for the target; `staticize cc` under
//! STATICIZE_PLATFORM; a host-only compiler for another platform is refused with the fix.

use std::path::Path;
use std::process::Command;

use crate::support::*;

const HELLO_C: &str = "#include <stdio.h>\nint main(void) { puts(\"hello from C\"); return 0; }\n";
const HELLO_CXX: &str = "#include <iostream>\n#include <string>\nint main() { std::string s = \"hello from C++\"; std::cout << s << std::endl; }\n";
const ZLIB_C: &str =
    "#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf(\"zlib %s\\n\", zlibVersion()); return 0; }\n";

/// ELF e_machine of a file: 62 x86-64, 183 aarch64.
pub(crate) fn e_machine(p: &Path) -> u16 {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", p.display());
    u16::from_le_bytes([b[18], b[19]])
}

/// The stdout of an arm64 program run under qemu-aarch64-static.
#[track_caller]
pub(crate) fn under_qemu(p: &Path) -> String {
    let o = run(Command::new("qemu-aarch64-static").arg(p));
    assert!(o.status.success(), "{} under qemu: {}", p.display(), text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// zig (the cross compiler) and qemu (the proof of the arm64 binary), under the require rule.
pub(crate) fn have_cross_tools() -> bool {
    let zig = Command::new("python3").args(["-m", "ziglang", "version"]).output().is_ok_and(|o| o.status.success());
    if !zig {
        assert!(!e2e_required(), "zig (pip install ziglang) is required (STATICIZE_E2E=require)");
        skipped("zig");
    }
    zig && have("qemu-aarch64-static")
}

/// The two binaries of a two-platform build: right machine each, and the arm64 one runs.
#[track_caller]
fn both_machines(dir: &Path, base: &str, out: &str, says: &str) {
    assert!(out.contains("check linux/arm64: static, arm64"), "{out}");
    assert!(out.contains("check linux/amd64: static, amd64"), "{out}");
    assert!(out.contains("with zig"), "the foreign platform is built with zig: {out}");
    assert_eq!(e_machine(&dir.join(format!("{base}-arm64"))), 183);
    assert_eq!(e_machine(&dir.join(format!("{base}-amd64"))), 62);
    assert_eq!(under_qemu(&dir.join(format!("{base}-arm64"))).trim(), says);
    // The proof ran each platform of the image, the arm64 one under the emulator.
    assert!(out.contains(&format!("linux/arm64: ran: /{base}, exit 0 (under qemu-aarch64-static)")), "{out}");
    assert!(out.contains(&format!("linux/amd64: ran: /{base}, exit 0")), "{out}");
}

#[test]
fn c_hello_for_amd64_and_arm64_is_one_index_podman_skopeo_and_crane_read() {
    if !have_cross_tools() || !have("podman") || !have("skopeo") || !have("crane") || !have("registry") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("hello.c"), HELLO_C).unwrap();
    let tag = unique_tag("cross-c");
    let reference = format!("{}/{tag}", registry().unwrap());
    let out = ok(staticize()
        .current_dir(d)
        .args(["c", "hello.c", "--platform", "linux/amd64,linux/arm64", "-t", &tag, "--image", "hello.tar"])
        .args(["--push", &reference]));
    both_machines(d, "hello", &out, "hello from C");
    let tar = d.join("hello.tar");
    // skopeo reads the index and the arm64 image's config.
    let raw = ok(Command::new("skopeo").arg("inspect").arg("--raw").arg(format!("oci-archive:{}", tar.display())));
    let index: serde_json::Value = serde_json::from_str(raw.trim()).unwrap();
    let arches: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"], "{index}");
    let arm = ok(Command::new("skopeo")
        .args(["inspect", "--override-arch", "arm64"])
        .arg(format!("oci-archive:{}", tar.display())));
    assert!(arm.contains("\"Architecture\": \"arm64\""), "{arm}");
    // podman loads the arm64 image of the index when asked for that platform.
    let id = ok(podman_cmd()
        .args(["pull", "-q", "--platform", "linux/arm64"])
        .arg(format!("oci-archive:{}", tar.display())));
    let id = id.trim().lines().last().unwrap().to_string();
    let arch = ok(podman_cmd().args(["image", "inspect", "--format", "{{.Architecture}}", &id]));
    assert_eq!(arch.trim(), "arm64");
    let _ = run(podman_cmd().args(["rmi", "-f", &id]));
    // crane validates the pushed index, and each platform's image.
    for platform in ["all", "linux/arm64", "linux/amd64"] {
        let v =
            ok(Command::new("crane").args(["validate", "--insecure", "--platform", platform, "--remote", &reference]));
        assert!(v.contains("PASS"), "{platform}: {v}");
    }
    let config = ok(Command::new("crane").args(["config", "--insecure", "--platform", "linux/arm64", &reference]));
    assert!(config.contains("\"architecture\":\"arm64\""), "{config}");
}

#[test]
fn cxx_hello_and_a_zlib_program_cross_build_and_run_under_qemu() {
    if !have_cross_tools() {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("hello.cc"), HELLO_CXX).unwrap();
    std::fs::write(d.join("z.c"), ZLIB_C).unwrap();
    let out = ok(staticize().current_dir(d).args(["cxx", "hello.cc", "--platform", "linux/arm64,linux/amd64"]));
    both_machines(d, "hello", &out, "hello from C++");
    // The dep is built for each platform (its cache entry is the arm64 one) and linked.
    let out =
        ok(staticize().current_dir(d).args(["c", "z.c", "--dep", "zlib", "--platform", "linux/amd64,linux/arm64"]));
    both_machines(d, "z", &out, &format!("zlib {}", zlib_version(&out)));
    assert!(out.contains("aarch64-musl-zig"), "the arm64 zlib comes from its own cache entry: {out}");
}

/// The zlib version the build's dep line names ("zlib 1:1.2.13.dfsg-1" → "1.2.13").
fn zlib_version(out: &str) -> String {
    let line = out.lines().find(|l| l.contains("zlib") && l.contains("dep")).unwrap_or_else(|| panic!("{out}"));
    let v = line
        .split_whitespace()
        .find(|w| w.contains(".dfsg") || w.starts_with("1:"))
        .unwrap_or_else(|| panic!("{line}"));
    let v = v.split_once(':').map_or(v, |(_, v)| v);
    v.split(['.', '-']).take_while(|p| p.chars().all(|c| c.is_ascii_digit())).collect::<Vec<_>>().join(".")
}

#[test]
fn staticize_cc_builds_for_the_platform_the_environment_names() {
    if !have_cross_tools() {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("hello.c"), HELLO_C).unwrap();
    ok(staticize().current_dir(d).env("STATICIZE_PLATFORM", "linux/arm64").args(["cc", "hello.c", "-o", "hello"]));
    assert_eq!(e_machine(&d.join("hello")), 183);
    assert_eq!(under_qemu(&d.join("hello")).trim(), "hello from C");
    let e = fails_with(staticize().current_dir(d).env("STATICIZE_PLATFORM", "sparc").args(["cc", "hello.c"]), 2);
    assert!(e.contains("STATICIZE_PLATFORM"), "{e}");
}

#[test]
fn a_host_only_compiler_for_another_platform_names_the_flag_that_fixes_it() {
    if !have("gcc") {
        return;
    }
    let dir = tempdir();
    std::fs::write(dir.path().join("hello.c"), HELLO_C).unwrap();
    let e = fails_with(
        staticize().current_dir(dir.path()).args(["c", "hello.c", "--compiler", "gcc", "--platform", "linux/arm64"]),
        2,
    );
    assert!(e.contains("--platform linux/arm64: --compiler gcc builds c for the host"), "{e}");
    assert!(e.contains("--compiler zig"), "{e}");
    assert!(!dir.path().join("hello").exists() && !dir.path().join("hello-arm64").exists());
    // doctor says which platforms each C compiler reaches.
    let doctor = ok(staticize().arg("doctor"));
    let line = |name: &str| doctor.lines().find(|l| l.contains(&format!(" c    {name} "))).unwrap_or("").to_string();
    assert!(line("gcc").contains("builds for linux/amd64") && !line("gcc").contains("arm64"), "{doctor}");
    if !line("zig").is_empty() {
        assert!(line("zig").contains("builds for linux/amd64, linux/arm64"), "{doctor}");
    }
}
