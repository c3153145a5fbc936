//! `staticize node`'s package tree taken from a project directory as a user leaves it (earlier
//! outputs, a checkout, another project inside), and `staticize image` of a packed node
//! executable: real npm packages, images run by real podman and docker.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::node::{have_node, install};
use crate::support::*;

#[test]
fn rebuilding_in_the_project_gives_the_same_image_of_only_the_program() {
    if !have_node() {
        return;
    }
    // cowsay 1.6.0 finds its cows through __dirname, so the app gets the package-tree layout.
    let project = install(&repo().join("tests/fixtures/node-cowsay"), &["package.json", "package-lock.json"]);
    let p = project.path();
    fs::write(p.join("moo.js"), "console.log(require('cowsay').say({ text: 'tree moo', f: 'tux' }));\n").unwrap();
    // What a working directory holds besides the program: a checkout, a cache, another project.
    fs::create_dir_all(p.join(".git")).unwrap();
    fs::write(p.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::create_dir_all(p.join("other")).unwrap();
    fs::write(p.join("other/package.json"), "{}").unwrap();
    fs::write(p.join("other/huge.bin"), vec![7u8; 1 << 20]).unwrap();
    let expected = ok(Command::new("node").arg(p.join("moo.js")));
    assert!(expected.contains("tree moo"), "{expected}");

    let tag = unique_tag("moo");
    let build = || {
        let o = run(staticize().current_dir(p).args(["node", "moo.js", "--no-probe", "--json", "-t", &tag]));
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON");
        assert_eq!(v["build"]["layout"], "tree", "cowsay uses __dirname: {v}");
        v
    };
    let first = build();
    // The first build left moo, moo.tar and its SBOM and provenance in the project.
    assert!(p.join("moo").is_file() && p.join("moo.tar").is_file());
    let v = build();
    assert_eq!(first["image"]["manifest_digest"], v["image"]["manifest_digest"], "a rebuild changed the image");
    assert!(
        v["image"]["bytes"].as_u64().unwrap() < 40 << 20,
        "the image carries more than the program: {}",
        v["image"]
    );

    let own: Vec<&str> = v["build"]["tree"]["files"]
        .as_array()
        .expect("the tree's files")
        .iter()
        .filter_map(|f| f["rel"].as_str())
        .filter(|r| !r.starts_with("node_modules/"))
        .collect();
    assert_eq!(
        own,
        [".staticize-tree", "moo.js", "package.json"],
        "the project's own files in the tree (and the hash file)"
    );

    for (engine, stdout) in load_and_run_everywhere(&p.join("moo.tar"), &tag, &[]) {
        assert_eq!(stdout, expected, "{engine:?}: the image prints what node prints");
    }
}

#[test]
fn an_image_of_a_packed_node_executable_starts_it_under_the_init() {
    if !have_node() {
        return;
    }
    let t = tempdir();
    let script = t.path().join("waiter.js");
    fs::write(
        &script,
        "process.on('SIGTERM', () => { console.log('stopped'); process.exit(0); });\n\
         console.log('waiting'); setInterval(() => {}, 1000);\n",
    )
    .unwrap();
    let bin = t.path().join("waiter");
    ok(staticize().arg("node").arg(&script).args(["--no-image", "--no-probe", "-o"]).arg(&bin));
    let tag = unique_tag("waiter");
    let tar = t.path().join("waiter.tar");
    let out = ok(staticize().arg("image").arg(&bin).arg("-o").arg(&tar).args(["--no-probe", "-t", &tag]));
    assert!(out.contains("/init runs first as PID 1"), "{out}");
    for engine in Engine::available() {
        engine.load(&tar);
        let name = format!("staticize-waiter-{}-{engine:?}", std::process::id());
        ok(engine.cmd().args(["run", "-d", "--network", "none", "--name", &name, &tag]));
        std::thread::sleep(Duration::from_secs(2));
        let started = Instant::now();
        let stopped = run(engine.cmd().args(["stop", "-t", "20", &name]));
        let took = started.elapsed();
        let logs = text(&run(engine.cmd().args(["logs", &name])));
        let code = text(&run(engine.cmd().args(["inspect", "--format", "{{.State.ExitCode}}", &name])));
        let _ = run(engine.cmd().args(["rm", "-f", &name]));
        engine.remove(&tag);
        assert!(stopped.status.success(), "{engine:?}: {}", text(&stopped));
        assert!(took < Duration::from_secs(15), "{engine:?}: stop took {took:?} (the timeout is 20 s)");
        assert!(logs.contains("waiting") && logs.contains("stopped"), "{engine:?}: {logs}");
        assert_eq!(code.trim(), "0", "{engine:?}: the program's own status after SIGTERM");
    }
    // --no-init: the executable itself is the entrypoint.
    let out = ok(staticize().arg("image").arg(&bin).arg("-o").arg(t.path().join("bare.tar")).args([
        "--no-probe",
        "--no-init",
        "-t",
        &tag,
    ]));
    assert!(!out.contains("/init runs first"), "{out}");
}
