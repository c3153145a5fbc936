//! `--plan`: every image-writing command prints what it would do — as steps, or as JSON with
//! `--json` — and does nothing else: the directory it runs in (and the one its outputs would
//! go to) is byte for byte what it was. No compiler runs, so most of these need none.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// Every entry below `root` (hidden temporaries included): its kind, mode and, for a file,
/// its bytes' digest.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let meta = path.symlink_metadata().unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let mode = meta.permissions().mode();
        let what = if meta.file_type().is_symlink() {
            format!("link {}", std::fs::read_link(&path).unwrap().display())
        } else if meta.is_file() {
            format!("file {mode:o} {}", sha256_file(&path))
        } else {
            walk(root, &path, out);
            format!("dir {mode:o}")
        };
        out.insert(rel, what);
    }
}

/// Runs `staticize --json ARGS --plan` in `dir`, asserts it left `dir` as it was and printed
/// a plan, and returns the plan.
#[track_caller]
fn plan_in(dir: &Path, args: &[&str]) -> Value {
    let before = tree(dir);
    let o = run(staticize().current_dir(dir).arg("--json").args(args).arg("--plan"));
    assert!(o.status.success(), "{args:?} --plan failed:\n{}", text(&o));
    assert_eq!(tree(dir), before, "{args:?} --plan changed {}", dir.display());
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&o)));
    assert!(plan["checks"].is_array(), "{plan:#}");
    plan
}

/// The human plan: one line per step, the same run.
#[track_caller]
fn human_plan_in(dir: &Path, args: &[&str]) -> String {
    let before = tree(dir);
    let out = ok(staticize().current_dir(dir).args(args).arg("--plan"));
    assert_eq!(tree(dir), before, "{args:?} --plan changed {}", dir.display());
    assert!(out.contains("--plan: nothing is built or written"), "{out}");
    out
}

fn hello_c(dir: &Path) {
    std::fs::copy(repo().join("examples/hello-c/hello.c"), dir.join("hello.c")).unwrap();
}

#[test]
fn c_plan_names_the_compiler_the_binary_the_image_and_the_verdict() {
    let d = tempdir();
    hello_c(d.path());
    let p = plan_in(d.path(), &["c", "hello.c", "--with", "tmp", "--push", "127.0.0.1:5000/plan/hello:v1"]);
    let program = &p["programs"][0];
    assert_eq!(program["make"]["kind"], "build", "{p:#}");
    assert_eq!(program["make"]["tool"]["driver"], "c");
    if have("musl-gcc") {
        assert!(program["make"]["tool"]["compiler"].as_str().unwrap().starts_with("musl-gcc"), "{p:#}");
    }
    assert_eq!(program["binary"], "hello");
    assert_eq!(program["path_in_image"], "/hello");
    assert_eq!(p["dynamic"]["kind"], "refuse");
    assert_eq!(p["checks"][0]["check"], "elf-verdict");
    let image = &p["image"];
    assert_eq!(image["reference"], "hello:latest");
    assert_eq!(image["config"]["entrypoint"], serde_json::json!(["/hello"]));
    // --layers auto: the extras under the program.
    let layer_files = |i: usize| -> Vec<&str> {
        image["layers"][i]["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect()
    };
    assert_eq!((layer_files(0), layer_files(1)), (vec!["/tmp"], vec!["/hello"]), "{p:#}");
    let kinds: Vec<&str> =
        image["destinations"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["archive", "push"]);
    assert_eq!(image["sbom"]["path"], "hello.spdx.json");
    assert_eq!(image["sbom"]["attached"], true);
    // -o names the program and --no-image leaves the image out.
    let p = plan_in(d.path(), &["c", "hello.c", "-o", "out/greet", "--no-image"]);
    assert_eq!(p["programs"][0]["binary"], "out/greet");
    assert_eq!(p["name"], "greet");
    assert!(p["image"].is_null(), "{p:#}");
    let human = human_plan_in(d.path(), &["c", "hello.c"]);
    assert!(human.contains("hello.tar") && human.contains("ELF verdict"), "{human}");
}

#[test]
fn bundle_plan_puts_the_program_where_its_files_expect_it() {
    let d = tempdir();
    let p = plan_in(d.path(), &["bundle", "/usr/bin/jq", "--with", "certs"]);
    assert_eq!(p["programs"][0]["make"]["kind"], "given", "{p:#}");
    assert_eq!(p["programs"][0]["path_in_image"], "/jq");
    assert_eq!(p["dynamic"]["kind"], "carry");
    assert_eq!(p["image"]["destinations"][0]["to"], "jq.tar");
    let froms: Vec<&str> =
        p["image"]["layers"][0]["files"].as_array().unwrap().iter().map(|f| f["from"].as_str().unwrap()).collect();
    assert!(froms.iter().any(|f| f.contains("library closure")), "{p:#}");
    // Beside its package's files it stays at its host path, decided once by the plan.
    let p = plan_in(d.path(), &["bundle", "/usr/bin/jq", "--package-files"]);
    assert_eq!(p["programs"][0]["path_in_image"], "/usr/bin/jq", "{p:#}");
    let p = plan_in(d.path(), &["bundle", "/usr/bin/jq", "--package-files", "--path", "/app/jq"]);
    assert_eq!(p["programs"][0]["path_in_image"], "/app/jq", "{p:#}");
    let e = fails_with(staticize().current_dir(d.path()).args(["bundle", "no-such-program", "--plan"]), 4);
    assert!(e.contains("no-such-program"), "{e}");
}

#[test]
fn pack_plan_packs_then_images_the_packed_file() {
    let d = tempdir();
    let p = plan_in(d.path(), &["pack", "/usr/bin/jq", "-o", "jq-packed", "--init"]);
    let program = &p["programs"][0];
    assert_eq!(program["make"]["kind"], "pack", "{p:#}");
    assert_eq!(program["make"]["program"], "/usr/bin/jq");
    assert_eq!(program["binary"], "jq-packed");
    // The image is named after the program packed.
    assert_eq!(program["path_in_image"], "/jq");
    assert_eq!(p["image"]["reference"], "jq:packed");
    assert_eq!(p["image"]["config"]["entrypoint"], serde_json::json!(["/init", "/jq"]));
    assert_eq!(p["dynamic"]["kind"], "pack");
    assert_eq!(p["image"]["destinations"][0]["to"], "jq-packed.tar");
}

#[test]
fn squash_slim_and_image_plans_read_nothing_and_write_nothing() {
    let d = tempdir();
    let busybox = which::which("busybox").expect("busybox (apt-get install busybox-static)");
    // An existing image to plan from, made before the directory is measured.
    ok(staticize().current_dir(d.path()).arg("image").arg(&busybox).args(["-o", "bb.tar", "--no-sbom"]));
    let p = plan_in(d.path(), &["squash", "bb.tar"]);
    assert_eq!(p["programs"][0]["make"]["kind"], "squash", "{p:#}");
    assert_eq!(p["image"]["destinations"][0]["to"], "bb-squashed.tar");
    assert_eq!(p["dynamic"]["kind"], "from-image");
    let p = plan_in(d.path(), &["squash", "bb.tar", "--from-layer", "2", "-o", "out.tar", "--oci-dir", "layout"]);
    assert_eq!(p["image"]["layers"].as_array().unwrap().len(), 2, "{p:#}");
    let kinds: Vec<&str> =
        p["image"]["destinations"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["archive", "oci-dir"]);
    let p = plan_in(d.path(), &["slim", "bb.tar", "--keep", "/etc"]);
    assert_eq!(p["programs"][0]["make"]["kind"], "slim", "{p:#}");
    assert_eq!(p["programs"][0]["make"]["keep"], serde_json::json!(["/etc"]));
    assert_eq!(p["image"]["destinations"][0]["to"], "bb-slim.tar");
    assert_eq!(p["checks"][0]["check"], "elf-verdict");
    let p = plan_in(d.path(), &["image", busybox.to_str().unwrap(), "-t", "tools:1"]);
    assert_eq!(p["image"]["reference"], "tools:1", "{p:#}");
    assert_eq!(p["programs"][0]["path_in_image"], "/busybox");
    let e = fails_with(staticize().current_dir(d.path()).args(["squash", "missing.tar", "--plan"]), 4);
    assert!(e.contains("missing.tar"), "{e}");
}

#[test]
fn build_go_and_rust_plans_build_nothing() {
    let d = tempdir();
    let project = d.path().join("proj");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("Makefile"), "all:\n\tcc -o hello hello.c\n").unwrap();
    hello_c(&project);
    let p = plan_in(d.path(), &["build", "proj"]);
    assert_eq!(p["programs"][0]["make"]["kind"], "build-system", "{p:#}");
    assert!(p["programs"][0]["make"]["system"].as_str().unwrap().contains("make"), "{p:#}");
    assert!(!project.join(".staticize-build").exists());
    for (lang, example) in [("go", "hello-go"), ("rust", "hello-rust")] {
        let tool = if lang == "go" { "go" } else { "cargo" };
        if !have(tool) {
            skipped(tool);
            continue;
        }
        let src = d.path().join(example);
        copy_dir(&repo().join("examples").join(example), &src);
        let p = plan_in(d.path(), &[lang, example]);
        assert_eq!(p["programs"][0]["make"]["tool"]["driver"], lang, "{p:#}");
        assert!(p["programs"][0]["binary"].is_string(), "{p:#}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() == "target" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
