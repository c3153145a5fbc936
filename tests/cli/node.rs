//! `staticize node`: real node, real npm packages, real esbuild and postject from npm, images
//! run by real podman and docker.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// node and npm are there (or, under STATICIZE_E2E=require, the test fails).
pub(crate) fn have_node() -> bool {
    have("node") && have("npm") && have("npx")
}

/// Copies a project's package files into a fresh directory and installs exactly its lockfile.
pub(crate) fn install(project: &Path, files: &[&str]) -> tempfile::TempDir {
    let dir = tempdir();
    for f in files {
        fs::copy(project.join(f), dir.path().join(f)).unwrap();
    }
    ok(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(dir.path()));
    dir
}

/// A TCP port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET http://127.0.0.1:PORT/PATH, retried for up to 30 s while the server starts.
pub(crate) fn http_get(port: u16, path: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
                s.write_all(req.as_bytes()).unwrap();
                let mut resp = String::new();
                match s.read_to_string(&mut resp) {
                    Ok(_) if !resp.is_empty() => return Ok(resp),
                    Ok(_) => last = "empty response".into(),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(last)
}

/// GET with retries for up to `secs` seconds.
pub(crate) fn http_get_within(port: u16, path: &str, secs: u64) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match http_get(port, path) {
            Ok(r) => return Ok(r),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => {}
        }
    }
}

/// Kills a child process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes a container when the test ends, however it ends.
struct Container(Engine, String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.0.cmd().args(["rm", "-f", &self.1]).output();
    }
}

#[test]
fn hello_node_image_answers_http_from_podman_and_docker() {
    if !have_node() {
        return;
    }
    let project = install(&repo().join("examples/hello-node"), &["server.js", "package.json", "package-lock.json"]);
    let out_dir = tempdir();
    let tag = unique_tag("hello-node");
    let bin = out_dir.path().join("hello-node");
    let tar = out_dir.path().join("hello-node.tar");
    let out = ok(staticize().arg("node").arg(project.path().join("server.js")).arg("-o").arg(&bin).args(["-t", &tag]));
    assert!(out.contains("bundle 2 modules from 1 packages with esbuild@"), "{out}");
    assert!(out.contains("inject NODE_SEA_BLOB note"), "{out}");
    assert!(out.contains("closure the program is dynamic, not static"), "{out}");
    eprintln!(
        "hello-node: executable {} B, image {} B\n{out}",
        fs::metadata(&bin).unwrap().len(),
        fs::metadata(&tar).unwrap().len()
    );
    // The executable is packed: static, carrying node's loader and libraries.
    let verdict = ok(staticize().arg("check").arg(&bin));
    assert!(verdict.contains(": static, amd64") && verdict.contains("packed: carries hello-node"), "{verdict}");

    let engines = Engine::available();
    assert_eq!(engines.len(), 2, "both podman and docker must run it");
    for engine in engines {
        engine.load(&tar);
        let port = free_port();
        let name = format!("staticize-hello-node-{}-{port}", std::process::id());
        let _guard = Container(engine, name.clone());
        ok(engine.cmd().args(["run", "-d", "--name", &name, "--network", "host", "-e", &format!("PORT={port}"), &tag]));
        let resp = http_get(port, "/?name=%3Cb%3Estaticize%3C%2Fb%3E").unwrap_or_else(|e| {
            let logs = run(engine.cmd().args(["logs", &name]));
            panic!("{engine:?}: no answer on port {port}: {e}\n{}", text(&logs))
        });
        assert!(resp.starts_with("HTTP/1.1 200"), "{engine:?}: {resp}");
        // escape-html, bundled from npm, did its job inside the scratch image.
        assert!(resp.contains("<p>Hello, &lt;b&gt;staticize&lt;/b&gt;!</p>"), "{engine:?}: {resp}");
        ok(engine.cmd().args(["stop", "-t", "5", &name]));
        engine.remove(&tag);
    }
}

#[test]
fn a_published_cli_reads_its_own_files_from_its_image() {
    if !have_node() {
        return;
    }
    // cowsay 1.6.0 from npm: `-f dragon` reads node_modules/cowsay/cows/dragon.cow through
    // path.join(__dirname, '../cows'), and `-l` lists that directory.
    let project = install(&repo().join("tests/fixtures/node-cowsay"), &["package.json", "package-lock.json"]);
    let cli = project.path().join("node_modules/.bin/cowsay");
    let args = ["-f", "dragon", "-e", "^^", "Moo from scratch"];
    let from_npm = ok(Command::new("node").arg(&cli).args(args));
    let plain_cow = ok(Command::new("node").arg(&cli).arg("Moo from scratch"));
    assert!(from_npm.contains("Moo from scratch"), "{from_npm}");
    assert!(from_npm.lines().count() > plain_cow.lines().count() + 5, "not a dragon:\n{from_npm}");

    let out_dir = tempdir();
    let tag = unique_tag("cowsay");
    let tar = out_dir.path().join("cowsay.tar");
    let out = ok(staticize().current_dir(out_dir.path()).arg("node").arg(&cli).args(["-t", &tag]));
    assert!(out.contains("layout package tree:"), "{out}");
    assert!(out.contains("node_modules/cowsay/lib/cows.js uses __dirname"), "{out}");

    for (engine, stdout) in load_and_run_everywhere(&tar, &tag, &args) {
        assert_eq!(stdout, from_npm, "{engine:?}: the image prints what npm's cowsay prints");
    }
    for (engine, stdout) in load_and_run_everywhere(&tar, &tag, &["-l"]) {
        assert!(stdout.contains("dragon") && stdout.contains("tux"), "{engine:?}: {stdout}");
    }

    // Why the tree: bundled into one script, the same CLI looks for its cows beside the
    // executable and cannot draw the dragon.
    let bundled = out_dir.path().join("cowsay-bundled");
    let out = ok(staticize().arg("node").arg(&cli).args(["--layout", "bundle", "--no-image", "-o"]).arg(&bundled));
    assert!(out.contains("will look beside the executable instead"), "{out}");
    let o = run(Command::new(&bundled).args(args));
    assert!(!o.status.success() || text(&o) != from_npm, "bundled cowsay unexpectedly worked:\n{}", text(&o));
}

/// A script that needs only node's own modules: no bundling, no npx for esbuild.
fn asset_script(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("greet.js");
    fs::write(
        &script,
        "const sea = require('node:sea');\n\
         console.log(sea.getAsset('greeting', 'utf8').trim() + ' ' + process.argv.slice(2).join(' '));\n",
    )
    .unwrap();
    let asset = dir.join("greeting.txt");
    fs::write(&asset, "Hello from an asset,\n").unwrap();
    (script, asset)
}

#[test]
fn both_injectors_make_a_node_that_runs_its_blob_and_assets() {
    if !have_node() {
        return;
    }
    let dir = tempdir();
    let (script, asset) = asset_script(dir.path());
    for injector in ["staticize", "postject"] {
        let bin = dir.path().join(format!("greet-{injector}"));
        let out = ok(staticize()
            .arg("node")
            .arg(&script)
            .arg("--asset")
            .arg(format!("greeting={}", asset.display()))
            .args(["--injector", injector, "--no-image", "-o"])
            .arg(&bin));
        assert!(out.contains("verify fuse flipped"), "{injector}: {out}");
        assert!(!out.contains("bundle"), "a builtins-only script needs no bundling: {out}");
        let ran = ok(Command::new(&bin).args(["dear", "reader"]));
        assert_eq!(ran, "Hello from an asset, dear reader\n", "{injector}");
    }
}

#[test]
fn verification_catches_an_injector_that_injected_nothing() {
    if !have_node() {
        return;
    }
    let dir = tempdir();
    let (script, asset) = asset_script(dir.path());
    // An "npx" that reports success and does nothing: what postject has been seen to do.
    let fake_npx = dir.path().join("fake-npx");
    fs::write(&fake_npx, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&fake_npx, fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("greet");
    fs::write(&bin, "previous build").unwrap();
    let out = fails_with(
        staticize()
            .env("STATICIZE_NPX", &fake_npx)
            .arg("node")
            .arg(&script)
            .arg("--asset")
            .arg(format!("greeting={}", asset.display()))
            .args(["--injector", "postject", "--no-image", "-o"])
            .arg(&bin),
        3,
    );
    assert!(out.contains("verify the single executable"), "{out}");
    assert!(out.contains("not flipped") && out.contains("no NODE_SEA_BLOB note"), "{out}");
    assert_eq!(fs::read_to_string(&bin).unwrap(), "previous build", "a failed build keeps the old output");
}

#[test]
fn the_elf_check_sees_a_missing_blob_and_an_unflipped_fuse() {
    if !have_node() {
        return;
    }
    let node_path = String::from_utf8(Command::new("sh").args(["-c", "command -v node"]).output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let node = fs::read(fs::canonicalize(node_path).unwrap()).unwrap();
    // Plain node: fuse intact, no note.
    let plain = staticize::sea::verify(&node).unwrap();
    assert!(!plain.is_ready());
    assert!(plain.problem().unwrap().contains("no NODE_SEA_BLOB note"), "{:?}", plain.problem());
    // Only the fuse flipped, no blob: still caught.
    let (_, at) = staticize::sea::fuse_state(&node);
    let mut flipped = node.clone();
    flipped[at.unwrap() + 1] = b'1';
    let c = staticize::sea::verify(&flipped).unwrap();
    assert_eq!(c.fuse, staticize::sea::Fuse::Flipped);
    assert!(!c.is_ready() && c.problem().unwrap().contains("no NODE_SEA_BLOB note"));
    // And staticize refuses to build from it.
    let dir = tempdir();
    let fake = dir.path().join("node");
    fs::write(&fake, &flipped).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let (script, _) = asset_script(dir.path());
    let out = fails_with(staticize().arg("node").arg(&script).arg("--node").arg(&fake).arg("--no-image"), 4);
    assert!(out.contains("already a single-executable app"), "{out}");
}

#[test]
fn same_input_same_executable() {
    if !have_node() {
        return;
    }
    let dir = tempdir();
    let (script, asset) = asset_script(dir.path());
    let mut sums = Vec::new();
    for n in 0..2 {
        // The same name in two directories: -o names the program, so the name is an input too.
        let out = dir.path().join(format!("run{n}"));
        fs::create_dir_all(&out).unwrap();
        let bin = out.join("greet");
        ok(staticize()
            .arg("node")
            .arg(&script)
            .arg("--asset")
            .arg(format!("greeting={}", asset.display()))
            .args(["--no-image", "-o"])
            .arg(&bin));
        sums.push(sha256_file(&bin));
    }
    assert_eq!(sums[0], sums[1]);
}

#[test]
fn bad_node_inputs_fail_with_their_documented_codes() {
    let dir = tempdir();
    let missing = fails_with(staticize().arg("node").arg(dir.path().join("nope.js")), 4);
    assert!(missing.contains("nope.js"), "{missing}");
    let script = dir.path().join("x.js");
    fs::write(&script, "console.log(1)\n").unwrap();
    let platform = fails_with(staticize().arg("node").arg(&script).args(["--platform", "linux/s390x"]), 2);
    assert!(platform.contains("s390x") && platform.contains("arm64"), "{platform}");
    let asset = fails_with(staticize().arg("node").arg(&script).args(["--asset", "novalue"]), 2);
    assert!(asset.contains("NAME=PATH"), "{asset}");
    let node = fails_with(staticize().arg("node").arg(&script).args(["--node", "/nonexistent/node"]), 4);
    assert!(node.contains("/nonexistent/node"), "{node}");
}

#[test]
fn hello_node_for_arm64_runs_from_its_image_files_under_qemu() {
    if !have_node() || !have("qemu-aarch64-static") || !have("apt-get") || !have("dpkg-deb") || !have("tar") {
        return;
    }
    // scripts/test.sh installs binutils-aarch64-linux-gnu; llvm-strip would serve too, but
    // asking for it first would fail under STATICIZE_E2E=require where only binutils is there.
    if !have("aarch64-linux-gnu-strip") {
        return;
    }
    let project = install(&repo().join("examples/hello-node"), &["server.js", "package.json", "package-lock.json"]);
    let out_dir = tempdir();
    let tar = out_dir.path().join("hello-arm64.tar");
    let out = ok(staticize()
        .arg("node")
        .arg(project.path().join("server.js"))
        .args(["--platform", "linux/arm64", "-o"])
        .arg(out_dir.path().join("hello-arm64"))
        .args(["-t", &unique_tag("hello-node-arm64")]));
    assert!(out.contains("interpreter /lib/ld-linux-aarch64.so.1"), "{out}");
    assert!(out.contains("arm64, stripped"), "{out}");
    let checked = ok(staticize().arg("check").arg(&tar));
    assert!(checked.contains("its closure is inside the image"), "{checked}");

    // No binfmt_misc here for podman/docker to run arm64 images: run the image's own files
    // instead, with qemu resolving the loader and libraries inside the unpacked layer.
    let unpacked = out_dir.path().join("unpacked");
    let rootfs = unpacked.join("rootfs");
    fs::create_dir_all(&rootfs).unwrap();
    ok(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&unpacked));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        let layer = unpacked.join(layer.as_str().unwrap());
        ok(Command::new("tar").arg("-xzf").arg(&layer).arg("-C").arg(&rootfs));
    }
    let index: serde_json::Value = serde_json::from_slice(&fs::read(unpacked.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["platform"]["architecture"], "arm64");
    let port = free_port();
    let child = Command::new("qemu-aarch64-static")
        .arg("-L")
        .arg(&rootfs)
        // The image's node runs the app's script, which -o names (issue 13).
        .arg(rootfs.join("usr/local/bin/node"))
        .arg(rootfs.join("hello-arm64"))
        .env("PORT", port.to_string())
        .spawn()
        .unwrap();
    let _guard = Child(child);
    let resp = http_get_within(port, "/?name=%3Carm64%3E", 90).expect("the arm64 executable answers under qemu");
    assert!(resp.contains("<p>Hello, &lt;arm64&gt;!</p>"), "{resp}");
}

#[test]
fn an_es_module_entry_is_bundled_to_commonjs_and_runs() {
    if !have_node() {
        return;
    }
    let dir = tempdir();
    fs::write(dir.path().join("shout.mjs"), "export const shout = (s) => s.toUpperCase() + '!';\n").unwrap();
    let entry = dir.path().join("main.mjs");
    fs::write(
        &entry,
        "import { basename } from 'node:path';\nimport { shout } from './shout.mjs';\n\
         console.log(shout(process.argv.slice(2).join(' ')), basename(process.execPath));\n",
    )
    .unwrap();
    let bin = dir.path().join("shouter");
    // --no-pack: process.execPath names the file only when node is not run from memory.
    let out = ok(staticize().arg("node").arg(&entry).args(["--no-image", "--no-pack", "-o"]).arg(&bin));
    assert!(out.contains("bundle 2 modules from 0 packages"), "{out}");
    assert_eq!(ok(Command::new(&bin).args(["es", "modules"])), "ES MODULES! shouter\n");
}
