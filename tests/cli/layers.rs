//! Layers by how often they change (issue 29): a carried program's libraries under the
//! program, so a rebuild after a change to the program keeps the layers under it and a push
//! sends only the program's layer; the blob cache that keeps unchanged layers from being
//! compressed again, damaged, killed and shared by concurrent runs; `--layers single`; a Go
//! program that did not change is not linked again.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn json_of(out: &str) -> Value {
    let start = out.find(['{', '[']).expect("JSON in output");
    let end = out.rfind(['}', ']']).unwrap();
    serde_json::from_str(&out[start..=end]).unwrap_or_else(|e| panic!("{e}:\n{out}"))
}

/// The layers' digests of an archive, bottom first, and its config digest.
fn layers_of(tar: &Path) -> (Vec<String>, String) {
    let v = json_of(&ok(staticize().args(["--json", "inspect"]).arg(tar)));
    let img = &v["images"][0];
    let digests = img["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string());
    (digests.collect(), img["config_digest"].as_str().unwrap().to_string())
}

/// A dynamic (glibc) hello that prints `message`, compiled with the system's cc into `dir/hello`.
fn dynamic_hello(dir: &Path, message: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let src = dir.join("hello.c");
    fs::write(&src, format!("#include <stdio.h>\nint main(void) {{ puts(\"{message}\"); return 0; }}\n")).unwrap();
    let bin = dir.join("hello");
    ok(Command::new("cc").arg("-O2").arg(&src).arg("-o").arg(&bin));
    bin
}

/// `staticize bundle BINARY -o TAR` with its blob cache in `cache`.
fn bundle(bin: &Path, tar: &Path, cache: &Path, more: &[&str]) -> Command {
    let mut c = staticize();
    c.env("STATICIZE_CACHE", cache).arg("bundle").arg(bin).arg("-o").arg(tar).arg("--no-sbom").args(more);
    c
}

#[test]
fn a_changed_program_changes_and_pushes_only_its_own_layer() {
    if !have("cc") || !have("registry") {
        return;
    }
    let reg = registry().unwrap();
    let t = tempdir();
    let d = t.path();
    let cache = d.join("cache");
    let (a, b) = (d.join("a.tar"), d.join("b.tar"));
    ok(&mut bundle(&dynamic_hello(&d.join("v1"), "layers v1"), &a, &cache, &[]));
    let tag = unique_tag("layers-hello");
    let out = ok(&mut bundle(&dynamic_hello(&d.join("v2"), "layers v2"), &b, &cache, &["-t", &tag]));
    let (la, _) = layers_of(&a);
    let (lb, config_b) = layers_of(&b);
    assert!(lb.len() >= 2, "glibc's layer under the program's: {lb:?}\n{out}");
    assert_eq!(la.len(), lb.len());
    assert_eq!(la[..la.len() - 1], lb[..lb.len() - 1], "the libraries' layers did not change");
    assert_ne!(la.last(), lb.last(), "the program's layer did");

    let remote = format!("{reg}/{}", unique_tag("layers-push"));
    ok(staticize().arg("push").arg(&a).arg(format!("{remote}1")));
    let pushed = json_of(&ok(staticize().args(["--json", "push"]).arg(&b).arg(format!("{remote}2"))));
    let blobs = pushed["blobs"].as_array().unwrap();
    let mut sent: Vec<&str> =
        blobs.iter().filter(|b| b["skipped"] == false).map(|b| b["digest"].as_str().unwrap()).collect();
    sent.sort();
    let mut expected = vec![lb.last().unwrap().as_str(), config_b.as_str()];
    expected.sort();
    assert_eq!(sent, expected, "only the program's layer and the config go up: {pushed}");
    let size_of = |skipped: bool| -> u64 {
        blobs.iter().filter(|b| b["skipped"] == skipped).map(|b| b["size"].as_u64().unwrap()).sum()
    };
    assert_eq!(pushed["uploaded_bytes"].as_u64(), Some(size_of(false)));
    assert_eq!(pushed["skipped_bytes"].as_u64(), Some(size_of(true)));
    assert!(size_of(true) > size_of(false), "the libraries are most of the image: {pushed}");
    // The registry holds the image with those layers.
    let (host, rest) = remote.split_once('/').unwrap();
    let (repo_name, tag1) = rest.rsplit_once(':').unwrap();
    let url = format!("http://{host}/v2/{repo_name}/manifests/{tag1}2");
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json";
    let manifest = json_of(&ok(Command::new("curl").args(["-fsS", "-H", accept, &url])));
    let in_registry: Vec<&str> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap()).collect();
    assert_eq!(in_registry, lb.iter().map(String::as_str).collect::<Vec<_>>());

    // The layered image runs in podman and docker.
    let image = tag.clone();
    for (engine, stdout) in load_and_run_everywhere(&b, &image, &[]) {
        assert_eq!(stdout, "layers v2\n", "{engine:?}");
    }
    assert_eq!(Engine::available().len(), 2, "podman and docker both ran it");

    // --layers single: one layer of the same files.
    let single = d.join("single.tar");
    ok(&mut bundle(&d.join("v2/hello"), &single, &cache, &["--layers", "single"]));
    assert_eq!(layers_of(&single).0.len(), 1);
}

#[test]
fn one_static_program_stays_one_layer_and_single_changes_nothing() {
    if !have("musl-gcc") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let hello = repo().join("examples/hello-c/hello.c");
    let cache = d.join("cache");
    let build = |tar: &str, more: &[&str]| {
        ok(staticize()
            .env("STATICIZE_CACHE", &cache)
            .current_dir(d)
            .arg("c")
            .arg(&hello)
            .args(["--image", tar])
            .args(more));
        d.join(tar)
    };
    let auto = build("auto.tar", &[]);
    let single = build("single.tar", &["--layers", "single"]);
    assert_eq!(layers_of(&auto).0.len(), 1);
    assert_eq!(sha256_file(&auto), sha256_file(&single), "one static program: the same bytes either way");
    // Extras ask for a layer of their own, under the program.
    let with = build("with.tar", &["--with", "tmp", "--with", "passwd"]);
    let with_single = build("with-single.tar", &["--with", "tmp", "--with", "passwd", "--layers", "single"]);
    assert_eq!(layers_of(&with).0.len(), 2);
    assert_eq!(layers_of(&with_single).0.len(), 1);
    let other = build("other.tar", &["--with", "tmp", "--with", "passwd", "--env", "A=1"]);
    assert_eq!(layers_of(&with).0[0], layers_of(&other).0[0], "the same extras, the same layer");
}

#[test]
fn a_proof_that_passed_is_kept_for_the_very_same_image_and_a_failing_one_runs_again() {
    if !have("musl-gcc") || !have("bwrap") || !have("strace") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let cache = d.join("cache");
    let c = |src: &str, env: &[(&str, &str)]| {
        let mut cmd = staticize();
        cmd.env("STATICIZE_CACHE", &cache).envs(env.iter().copied()).current_dir(d).arg("c").arg(src);
        run(&mut cmd)
    };
    fs::copy(repo().join("examples/hello-c/hello.c"), d.join("hello.c")).unwrap();
    let first = c("hello.c", &[]);
    assert!(first.status.success() && !text(&first).contains("passed before"), "{}", text(&first));
    let again = text(&c("hello.c", &[]));
    assert!(again.contains("this very image passed before") && again.contains("proved ran: /hello"), "{again}");
    let off = text(&c("hello.c", &[("STATICIZE_PROOF_CACHE", "0")]));
    assert!(!off.contains("passed before") && off.contains("proved ran: /hello"), "{off}");
    // Another image is proven anew.
    fs::write(d.join("hello.c"), "#include <stdio.h>\nint main(void) { puts(\"other\"); return 0; }\n").unwrap();
    assert!(!text(&c("hello.c", &[])).contains("passed before"));
    // A failing verdict is never kept: it runs (and fails) again.
    fs::write(d.join("crash.c"), "int main(void) { *(volatile int *)0 = 1; return 0; }\n").unwrap();
    for _ in 0..2 {
        let o = c("crash.c", &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(!text(&o).contains("passed before"), "{}", text(&o));
    }
}

/// The blob entries (not their records) in a cache.
fn blob_entries(cache: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        fs::read_dir(cache.join("blobs")).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    v.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        !name.starts_with('.') && !name.ends_with(".json")
    });
    v.sort();
    v
}

#[test]
fn the_blob_cache_survives_damage_kills_and_concurrent_runs() {
    if !have("cc") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let bin = dynamic_hello(&d.join("src"), "cached");
    let cache = d.join("cache");
    let reference = d.join("reference.tar");
    ok(bundle(&bin, &reference, &cache, &[]).env("STATICIZE_BLOB_CACHE_MB", "0"));
    assert!(blob_entries(&cache).is_empty(), "STATICIZE_BLOB_CACHE_MB=0 turns the cache off");
    let want = sha256_file(&reference);

    let first = d.join("first.tar");
    ok(&mut bundle(&bin, &first, &cache, &[]));
    assert_eq!(sha256_file(&first), want);
    let entries = blob_entries(&cache);
    assert_eq!(entries.len(), layers_of(&first).0.len(), "one entry per layer: {entries:?}");
    let info = json_of(&ok(staticize().env("STATICIZE_CACHE", &cache).args(["--json", "cache", "info"])));
    let blobs = info.as_array().unwrap().iter().find(|c| c["name"] == "blobs").unwrap().clone();
    assert_eq!(blobs["files"].as_u64(), Some(2 * entries.len() as u64), "{info}");

    // Damage: every entry's bytes replaced. The next run sees it, compresses again, repairs.
    for e in &entries {
        fs::write(e, b"not a layer").unwrap();
    }
    let again = d.join("again.tar");
    ok(&mut bundle(&bin, &again, &cache, &[]));
    assert_eq!(sha256_file(&again), want, "a damaged entry never reaches an image");
    for e in blob_entries(&cache) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        let record: Value =
            serde_json::from_slice(&fs::read(e.with_file_name(format!("{name}.json"))).unwrap()).unwrap();
        assert_eq!(record["digest"].as_str().unwrap(), format!("sha256:{}", sha256_file(&e)), "repaired");
    }

    // A run killed part-way leaves the cache usable.
    let mut child = bundle(&bin, &d.join("killed.tar"), &cache, &[]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let after_kill = d.join("after-kill.tar");
    ok(&mut bundle(&bin, &after_kill, &cache, &[]));
    assert_eq!(sha256_file(&after_kill), want);

    // Two runs filling one empty cache at once both write the right image.
    ok(staticize().env("STATICIZE_CACHE", &cache).args(["cache", "clean", "blobs"]));
    assert!(blob_entries(&cache).is_empty());
    let (one, two) = (d.join("one.tar"), d.join("two.tar"));
    let mut a = bundle(&bin, &one, &cache, &[]).spawn().unwrap();
    let mut b = bundle(&bin, &two, &cache, &[]).spawn().unwrap();
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    assert_eq!((sha256_file(&one), sha256_file(&two)), (want.clone(), want));
    assert_eq!(blob_entries(&cache).len(), entries.len());
}

/// The layers of an archive with their files: (digest, stored size, paths), bottom first.
fn layer_files(tar: &Path) -> Vec<(String, u64, Vec<String>)> {
    let v = json_of(&ok(staticize().args(["--json", "inspect", "--files"]).arg(tar)));
    let layers = v["images"][0]["layers"].as_array().unwrap().iter();
    layers
        .map(|l| {
            let paths = l["listing"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string());
            (l["digest"].as_str().unwrap().to_string(), l["size"].as_u64().unwrap(), paths.collect())
        })
        .collect()
}

/// The bytes of `path` in an archive's layers, unpacked with tar as a runtime would.
fn file_in_image(tar: &Path, path: &str) -> Vec<u8> {
    let t = tempdir();
    ok(Command::new("tar").arg("-xf").arg(tar).arg("-C").arg(t.path()));
    let manifest: Value = serde_json::from_slice(&fs::read(t.path().join("manifest.json")).unwrap()).unwrap();
    let root = t.path().join("rootfs");
    fs::create_dir_all(&root).unwrap();
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        ok(Command::new("tar").arg("-xzf").arg(t.path().join(layer.as_str().unwrap())).arg("-C").arg(&root));
    }
    fs::read(root.join(path.trim_start_matches('/'))).unwrap()
}

#[test]
fn the_node_plan_puts_node_in_a_layer_of_its_own_under_the_app() {
    let t = tempdir();
    fs::write(t.path().join("tiny.js"), "console.log('planned');\n").unwrap();
    let plan = |more: &[&str]| {
        json_of(&ok(staticize().current_dir(t.path()).args(["--json", "node", "tiny.js", "--plan"]).args(more)))
    };
    let p = plan(&[]);
    assert_eq!(p["programs"][0]["runtime"], "/usr/local/bin/node", "{p:#}");
    let layers = p["image"]["layers"].as_array().unwrap();
    assert!(layers[0]["what"].as_str().unwrap().starts_with("the runtime: node"), "{p:#}");
    assert_eq!(layers[0]["files"][0]["path"], "/usr/local/bin/node");
    assert_eq!(p["image"]["config"]["entrypoint"], serde_json::json!(["/init", "/usr/local/bin/node", "/tiny"]));
    // Today's form: one layer, the single executable at the program's path, run as itself.
    for more in [&["--layers", "single"][..], &["--asset", "a=tiny.js"], &["--entrypoint", "/tiny"]] {
        let p = plan(more);
        assert!(p["programs"][0].get("runtime").is_none(), "{more:?}: {p:#}");
        assert!(!p["image"]["config"]["entrypoint"].to_string().contains("/usr/local/bin/node"), "{more:?}: {p:#}");
    }
}

#[test]
fn node_apps_share_the_runtime_layer_and_a_changed_app_pushes_only_its_own() {
    if !crate::node::have_node() || !have("registry") {
        return;
    }
    let reg = registry().unwrap();
    let t = tempdir();
    let d = t.path();
    let cache = d.join("cache");
    let project =
        crate::node::install(&repo().join("examples/hello-node"), &["server.js", "package.json", "package-lock.json"]);
    // --no-pack: the -o file is the single executable itself (packing it is pack.rs's test).
    let node = |entry: &Path, out: &str, more: &[&str]| {
        let bin = d.join(out);
        let tag = unique_tag(out);
        let said = ok(staticize()
            .env("STATICIZE_CACHE", &cache)
            .arg("node")
            .arg(entry)
            .arg("-o")
            .arg(&bin)
            .args(["--no-pack", "-t", &tag])
            .args(more));
        (bin.with_extension("tar"), tag, said)
    };
    let (server, _, _) = node(&project.path().join("server.js"), "hello-node", &["--no-probe"]);
    let tiny = d.join("tiny.js");
    fs::write(&tiny, "console.log('tiny one', process.argv.slice(2).join(' '));\n").unwrap();
    let (tiny_tar, _, said) = node(&tiny, "tiny", &[]);
    assert!(said.contains("proved ran"), "the image's program is proven: {said}");
    let (ls, lt) = (layer_files(&server), layer_files(&tiny_tar));
    let runtime = lt.iter().position(|l| l.2.iter().any(|p| p == "usr/local/bin/node")).expect("node's layer");
    assert_eq!(lt[runtime].2, ["usr", "usr/local", "usr/local/bin", "usr/local/bin/node"], "node alone");
    assert!(lt[runtime].1 > 20 << 20, "node is the big layer: {lt:?}");
    let digests = |l: &[(String, u64, Vec<String>)]| l.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    let (ds, dt) = (digests(&ls), digests(&lt));
    assert!(dt.len() >= 3, "node, its libraries, the app: {lt:?}");
    assert_eq!(ds[..ds.len() - 1], dt[..dt.len() - 1], "node and its libraries: the same layers for both apps");
    assert_ne!(ds.last(), dt.last());
    let top = lt.last().unwrap();
    assert!(top.1 < 64 << 10, "the app's layer is small: {top:?}");
    assert!(top.2.contains(&"tiny".to_string()) && top.2.contains(&"init".to_string()), "{top:?}");
    // The image runs the plain node (no blob injected) on the app's script; -o is the single
    // executable, as before.
    let plain = file_in_image(&tiny_tar, "/usr/local/bin/node");
    assert!(staticize::sea::verify(&plain).unwrap().blob_bytes.is_none(), "node in the image is plain");
    assert_eq!(file_in_image(&tiny_tar, "/tiny"), fs::read(&tiny).unwrap(), "the script as written");
    assert!(staticize::sea::verify(&fs::read(d.join("tiny")).unwrap()).unwrap().is_ready());
    let checked = ok(staticize().arg("check").arg(&tiny_tar));
    assert!(checked.contains("/usr/local/bin/node: dynamic, its closure is inside the image"), "{checked}");
    let config = json_of(&ok(staticize().args(["--json", "inspect"]).arg(&tiny_tar)));
    let entrypoint = &config["images"][0]["config"]["Entrypoint"];
    assert_eq!(entrypoint, &serde_json::json!(["/init", "/usr/local/bin/node", "/tiny"]), "{config}");

    // A one-line change: only the app's layer changes, and only it (and the config) go up.
    let remote = format!("{reg}/{}", unique_tag("layers-node"));
    ok(staticize().arg("push").arg(&tiny_tar).arg(format!("{remote}1")));
    fs::write(&tiny, "console.log('tiny two', process.argv.slice(2).join(' '));\n").unwrap();
    let (changed, tag, _) = node(&tiny, "tiny", &["--no-probe"]);
    let (dc, config_c) = layers_of(&changed);
    assert_eq!(dt[..dt.len() - 1], dc[..dc.len() - 1], "a one-line change keeps every layer under the app");
    assert_ne!(dt.last(), dc.last());
    let pushed = json_of(&ok(staticize().args(["--json", "push"]).arg(&changed).arg(format!("{remote}2"))));
    let blobs = pushed["blobs"].as_array().unwrap();
    let mut sent: Vec<&str> =
        blobs.iter().filter(|b| b["skipped"] == false).map(|b| b["digest"].as_str().unwrap()).collect();
    sent.sort();
    let mut expected = vec![dc.last().unwrap().as_str(), config_c.as_str()];
    expected.sort();
    assert_eq!(sent, expected, "only the app's layer and the config go up: {pushed}");
    assert!(pushed["uploaded_bytes"].as_u64().unwrap() < 64 << 10, "{pushed}");
    assert!(pushed["skipped_bytes"].as_u64().unwrap() > 20 << 20, "node stayed in the registry: {pushed}");
    let (host, rest) = remote.split_once('/').unwrap();
    let (repo_name, tag1) = rest.rsplit_once(':').unwrap();
    let url = format!("http://{host}/v2/{repo_name}/manifests/{tag1}2");
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json";
    let manifest = json_of(&ok(Command::new("curl").args(["-fsS", "-H", accept, &url])));
    let in_registry: Vec<&str> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap()).collect();
    assert_eq!(in_registry, dc.iter().map(String::as_str).collect::<Vec<_>>());
    for (engine, stdout) in load_and_run_everywhere(&changed, &tag, &["with", "args"]) {
        assert_eq!(stdout, "tiny two with args\n", "{engine:?}");
    }
    assert_eq!(Engine::available().len(), 2, "podman and docker both ran it");

    // --layers single: today's form, the single executable at the program's path.
    let (single, _, _) = node(&tiny, "tiny-single", &["--no-probe", "--layers", "single"]);
    assert_eq!(layers_of(&single).0.len(), 1);
    assert_eq!(file_in_image(&single, "/tiny-single"), fs::read(d.join("tiny-single")).unwrap());
}

/// A small Go web server that answers `message`, as a module in `dir`.
fn go_server(dir: &Path, message: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("go.mod"), "module example.com/relink\n\ngo 1.21\n").unwrap();
    let main = format!(
        "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() {{\n\
         \tif len(os.Args) > 1 && os.Args[1] == \"-say\" {{\n\t\tfmt.Println({message:?})\n\t\treturn\n\t}}\n\
         \thttp.HandleFunc(\"/\", func(w http.ResponseWriter, r *http.Request) {{ fmt.Fprintln(w, {message:?}) }})\n\
         \t_ = http.ListenAndServe(\":8080\", nil)\n}}\n"
    );
    fs::write(dir.join("main.go"), main).unwrap();
}

/// The inode of the one program in the Go slots of `cache`.
fn slot_program(cache: &Path) -> (PathBuf, u64) {
    use std::os::unix::fs::MetadataExt;
    let slots: Vec<PathBuf> = fs::read_dir(cache.join("go")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(slots.len(), 1, "one slot per package and settings: {slots:?}");
    let p = slots[0].join("program");
    let ino = fs::metadata(&p).unwrap().ino();
    (p, ino)
}

#[test]
fn go_an_unchanged_program_is_not_linked_again_and_a_changed_one_is() {
    if !have("go") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let (pkg, cache_a, cache_b) = (d.join("relink"), d.join("cache-a"), d.join("cache-b"));
    go_server(&pkg, "relink v1");
    let go = |cache: &Path, out: &str| {
        ok(staticize().env("STATICIZE_CACHE", cache).arg("go").arg(&pkg).arg("-o").arg(d.join(out)).arg("--no-image"))
    };
    let first = go(&cache_a, "a1");
    assert!(!first.contains("not linked again"), "{first}");
    let (slot, linked) = slot_program(&cache_a);
    let again = go(&cache_a, "a2");
    assert!(again.contains("example.com/relink: unchanged, not linked again"), "{again}");
    assert_eq!(slot_program(&cache_a), (slot.clone(), linked), "go replaced the program it found up to date");
    assert_eq!(sha256_file(&d.join("a1")), sha256_file(&d.join("a2")));
    // Keeping the build ID keeps the bytes reproducible: a fresh cache gives the same program.
    go(&cache_b, "b1");
    assert_eq!(sha256_file(&d.join("a1")), sha256_file(&d.join("b1")), "the same input, another cache");
    // Two runs at once on one slot: one waits for the other's lock; both give the program.
    let mut both: Vec<_> = ["c1", "c2"]
        .iter()
        .map(|out| {
            staticize()
                .env("STATICIZE_CACHE", &cache_b)
                .arg("go")
                .arg(&pkg)
                .arg("-o")
                .arg(d.join(out))
                .arg("--no-image")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in &mut both {
        assert!(child.wait().unwrap().success());
    }
    for out in ["c1", "c2"] {
        assert_eq!(sha256_file(&d.join("a1")), sha256_file(&d.join(out)), "{out}, built beside another run");
    }
    // One changed line is linked again, and the program says so.
    go_server(&pkg, "relink v2");
    let changed = go(&cache_a, "a3");
    assert!(!changed.contains("not linked again"), "{changed}");
    assert_ne!(slot_program(&cache_a).1, linked, "the changed program was not linked again");
    assert_ne!(sha256_file(&d.join("a1")), sha256_file(&d.join("a3")));
    let said = ok(Command::new(d.join("a3")).arg("-say"));
    assert_eq!(said.trim(), "relink v2");
    // Other settings (a tag) get a slot of their own and leave this one as it is.
    ok(staticize()
        .env("STATICIZE_CACHE", &cache_a)
        .arg("go")
        .arg(&pkg)
        .args(["--tags", "relinktest", "-o"])
        .arg(d.join("a4"))
        .arg("--no-image"));
    assert_eq!(fs::read_dir(cache_a.join("go")).unwrap().count(), 2);
    assert!(go(&cache_a, "a5").contains("not linked again"));
}
