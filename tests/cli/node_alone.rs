//! Node apps whose single executable carries its package tree and runs anywhere (issue 28):
//! real npm apps of each kind — a `__dirname` user (figlet's fonts), an ES-module-only CLI
//! (pretty-bytes-cli), a CommonJS entry that `import()`s its own ES module and runs worker
//! threads (piscina), a native addon whose shared library comes from npm (sharp, libvips), and
//! a package spawning its native binary (esbuild's API). For each: the executable alone on
//! this machine, the executable alone in an empty scratch image (`staticize image`) in podman,
//! `staticize node`'s image in podman and docker, and a rebuild giving the same image digest.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::node::{have_node, install};
use crate::support::*;

/// One app: its fixture, the files copied besides the lockfile, its entry and arguments.
struct App<'a> {
    fixture: &'a str,
    own_files: &'a [&'a str],
    entry: &'a str,
    name: &'a str,
    args: &'a [&'a str],
    expect: &'a str,
    /// It runs native code from its tree: a lone executable in a container needs an exec-able
    /// tmpfs (the containers' /dev/shm is noexec).
    native: bool,
}

fn build(project: &Path, app: &App, out: &Path, tag: &str, extra: &[&str]) -> serde_json::Value {
    let bin = out.join(app.name);
    let o = run(staticize()
        .current_dir(project)
        .args(["node", app.entry, "--json", "--no-probe", "-t", tag])
        .arg("-o")
        .arg(&bin)
        .args(extra));
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).expect("--json prints JSON")
}

fn runs_anywhere(app: App) {
    if !have_node() {
        return;
    }
    let fixture = repo().join("tests/fixtures").join(app.fixture);
    let mut files = vec!["package.json", "package-lock.json"];
    files.extend(app.own_files.iter().filter(|f| !f.contains('/')));
    let project = install(&fixture, &files);
    let p = project.path();
    for f in app.own_files.iter().filter(|f| f.contains('/')) {
        fs::create_dir_all(p.join(f).parent().unwrap()).unwrap();
        fs::copy(fixture.join(f), p.join(f)).unwrap();
    }
    let want = ok(Command::new("node").arg(p.join(app.entry)).args(app.args));
    assert!(want.contains(app.expect), "node itself: {want}");

    let out = tempdir();
    let tag = unique_tag(app.name);
    let v = build(p, &app, out.path(), &tag, &[]);
    assert_eq!(v["build"]["layout"], "tree", "{v}");
    assert!(v["build"]["carries"]["files"].as_u64().unwrap() > 1, "{v}");
    let bin = out.path().join(app.name);

    // The file alone: check calls it static and says what it carries; it runs with no /app.
    let checked = ok(staticize().arg("check").arg(&bin));
    assert!(checked.contains("carries its node package tree"), "{checked}");
    let alone = run(Command::new(&bin).args(app.args).current_dir(out.path()));
    assert_eq!(text(&alone), want, "the executable alone");

    // The file alone in an empty scratch image.
    let alone_tar = out.path().join("alone.tar");
    let alone_tag = unique_tag(&format!("{}-alone", app.name));
    ok(staticize().arg("image").arg(&bin).arg("-o").arg(&alone_tar).args([
        "--no-probe",
        "--compress",
        "none",
        "-t",
        &alone_tag,
    ]));
    let podman = Engine::Podman;
    podman.load(&alone_tar);
    let tmpfs: &[&str] = if app.native { &["--tmpfs", "/run:rw,exec"] } else { &[] };
    let stdout = podman.run_image(&alone_tag, tmpfs, app.args);
    podman.remove(&alone_tag);
    assert_eq!(stdout, want, "the lone executable in scratch, podman");

    // staticize node's own image, from /app, in both engines.
    let tar = out.path().join(format!("{}.tar", app.name));
    for (engine, stdout) in load_and_run_everywhere(&tar, &tag, app.args) {
        assert_eq!(stdout, want, "{engine:?}: the image prints what node prints");
    }

    // A rebuild (not packed again: the image does not hold the packed file) gives the same image.
    let again = tempdir();
    let w = build(p, &app, again.path(), &tag, &["--no-pack"]);
    assert_eq!(v["image"]["manifest_digest"], w["image"]["manifest_digest"], "a rebuild changed the image");
}

#[test]
fn a_dirname_user_runs_alone_figlet() {
    runs_anywhere(App {
        fixture: "node-figlet",
        own_files: &[],
        entry: "node_modules/figlet/bin/index.js",
        name: "figlet",
        args: &["-f", "Ghost", "hi"],
        expect: "( OO )",
        native: false,
    });
}

#[test]
fn an_esm_only_cli_runs_alone_pretty_bytes() {
    runs_anywhere(App {
        fixture: "node-pretty-bytes",
        own_files: &[],
        entry: "node_modules/pretty-bytes-cli/cli.js",
        name: "pretty-bytes",
        args: &["1337"],
        expect: "1.34 kB",
        native: false,
    });
}

#[test]
fn an_import_of_local_esm_with_workers_runs_alone_piscina() {
    runs_anywhere(App {
        fixture: "node-worker",
        own_files: &["app.cjs", "lib/pool.mjs", "lib/square.mjs"],
        entry: "app.cjs",
        name: "squares",
        args: &["100"],
        expect: "338350 2686700 9045050",
        native: false,
    });
}

#[test]
fn a_native_addon_with_libraries_from_npm_runs_alone_sharp() {
    runs_anywhere(App {
        fixture: "node-sharp",
        own_files: &["thumb.js"],
        entry: "thumb.js",
        name: "thumb",
        args: &[],
        expect: "thumbnail jpeg 16x12",
        native: true,
    });
}

#[test]
fn a_package_spawning_its_native_binary_runs_alone_esbuild() {
    runs_anywhere(App {
        fixture: "node-esbuild-api",
        own_files: &["strip-types.js"],
        entry: "strip-types.js",
        name: "strip-types",
        args: &["let n: number = 7; console.log(n)"],
        expect: "let n=7;console.log(n);",
        native: true,
    });
}

/// esbuild's failures say what is true: "npm install" only for a package no node_modules holds;
/// a native addon under --layout bundle is named as what cannot go into one script.
#[test]
fn bundling_failures_say_what_is_true() {
    if !have_node() {
        return;
    }
    let d = tempdir();
    let p = d.path();
    fs::write(p.join("package.json"), r#"{"name":"truth","private":true}"#).unwrap();
    fs::write(p.join("absent.js"), "console.log(require('staticize-surely-not-installed'));\n").unwrap();
    let out = fails_with(staticize().current_dir(p).args(["node", "absent.js", "--no-image", "--no-probe"]), 3);
    assert!(out.contains("not installed: staticize-surely-not-installed") && out.contains("npm install"), "{out}");

    // A shared object where an addon would be: esbuild has no loader for it.
    fs::create_dir_all(p.join("build/Release")).unwrap();
    fs::copy("/lib/x86_64-linux-gnu/libz.so.1", p.join("build/Release/addon.node")).unwrap();
    fs::write(p.join("addon.js"), "console.log(require('./build/Release/addon.node'));\n").unwrap();
    let args = ["node", "addon.js", "--layout", "bundle", "--no-image", "--no-probe"];
    let out = fails_with(staticize().current_dir(p).args(args), 3);
    assert!(out.contains("native addon build/Release/addon.node"), "{out}");
    assert!(!out.contains("npm install"), "the packages are installed: {out}");
}
