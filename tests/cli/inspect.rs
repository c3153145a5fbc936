//! `staticize inspect`: our own archives, images podman built (saved by podman in both formats
//! and re-saved by docker), hostile archives, and the waste figure against a hand count.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn inspect_json(image: &Path, files: bool) -> Value {
    let mut cmd = staticize();
    cmd.args(["--json", "inspect"]).arg(image);
    if files {
        cmd.arg("--files");
    }
    let o = run(&mut cmd);
    assert!(o.status.success(), "inspect {} failed:\n{}", image.display(), text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("inspect --json is not JSON ({e}):\n{}", text(&o)))
}

#[test]
fn our_own_archive_shows_config_digests_and_files() {
    if !have("musl-gcc") {
        return;
    }
    let dir = tempdir();
    let tag = unique_tag("inspect-own");
    let built = ok(staticize()
        .current_dir(dir.path())
        .args(["--json", "c", "-t", &tag])
        .arg(repo().join("examples/hello-c/hello.c")));
    let built: Value = serde_json::from_str(&built[..built.rfind('}').unwrap() + 1]).unwrap();
    let image = dir.path().join("hello.tar");
    let bin_size = fs::metadata(dir.path().join("hello")).unwrap().len();

    let v = inspect_json(&image, true);
    assert_eq!(v["format"], "oci-and-docker");
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    let img = &v["images"][0];
    assert_eq!(img["names"][0], tag.as_str());
    assert_eq!(img["platform"], "linux/amd64");
    assert_eq!(img["manifest_digest"], built["image"]["manifest_digest"]);
    assert_eq!(img["config_digest"], built["image"]["config_digest"]);
    assert_eq!(img["created"], "1970-01-01T00:00:00Z");
    assert_eq!(img["config"]["Entrypoint"], serde_json::json!(["/hello"]));
    assert_eq!(img["history"][0]["created_by"], "staticize c hello.c");
    let layer = &img["layers"][0];
    assert_eq!(layer["digest"], built["image"]["layers"][0]["digest"]);
    assert_eq!(layer["size"], built["image"]["layers"][0]["size"]);
    assert_eq!(layer["uncompressed_size"], built["image"]["layers"][0]["uncompressed_size"]);
    assert_eq!(layer["compression"], "gzip");
    let hello = layer["listing"].as_array().unwrap().iter().find(|f| f["path"] == "hello").expect("hello listed");
    assert_eq!(
        (hello["kind"].as_str(), hello["mode"].as_u64(), hello["size"].as_u64()),
        (Some("file"), Some(0o755), Some(bin_size))
    );
    assert_eq!(img["totals"]["wasted_bytes"], 0);
    assert_eq!(img["totals"]["visible_bytes"].as_u64(), Some(bin_size));

    let human = ok(staticize().arg("inspect").arg(&image).arg("--files"));
    for needle in
        [tag.as_str(), "linux/amd64", "[\"/hello\"]", "-rwxr-xr-x", "/hello", "wasted: 0 B", "staticize c hello.c"]
    {
        assert!(human.contains(needle), "missing {needle:?} in:\n{human}");
    }
}

/// The test image: a base with known files, then a layer overwriting /big (100,000 B), one
/// deleting /dir (3,000 + 5,000 B) and one replacing /opq (2,000 B): 110,000 B wasted.
const WASTED: u64 = 100_000 + 3_000 + 5_000 + 2_000;

fn build_test_image_with_podman(dir: &Path) -> String {
    let root = dir.join("root");
    let files: [(&str, usize); 5] =
        [("big", 100_000), ("dir/a", 3_000), ("dir/b", 5_000), ("keep", 1_000), ("opq/x", 2_000)];
    for (p, n) in files {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, vec![b'x'; n]).unwrap();
    }
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let base_tar = dir.join("base.tar");
    let mut b = tar::Builder::new(fs::File::create(&base_tar).unwrap());
    b.append_dir_all(".", &root).unwrap();
    b.into_inner().unwrap();
    let base = format!("localhost/{}", unique_tag("inspect-base"));
    let image = format!("localhost/{}", unique_tag("inspect-waste"));
    ok(podman_cmd().arg("import").arg(&base_tar).arg(&base));
    fs::write(dir.join("small"), "small\n").unwrap();
    fs::write(
        dir.join("Containerfile"),
        format!(
            "FROM {base}\n\
             COPY small /big\n\
             RUN [\"/bin/busybox\", \"rm\", \"-rf\", \"/dir\"]\n\
             RUN [\"/bin/busybox\", \"sh\", \"-c\", \"rm -rf /opq && mkdir /opq && echo hi > /opq/new\"]\n\
             ENV GREETING=hello\n\
             LABEL org.example.test=waste\n\
             EXPOSE 8080/tcp\n\
             USER 65532\n\
             WORKDIR /opq\n\
             STOPSIGNAL SIGINT\n\
             ENTRYPOINT [\"/bin/busybox\", \"cat\"]\n\
             CMD [\"/opq/new\"]\n"
        ),
    )
    .unwrap();
    ok(podman_cmd().args(["build", "--network", "none", "-t", &image]).arg(dir));
    podman_cmd().args(["rmi", "-f", &base]).output().unwrap();
    image
}

fn assert_waste(v: &Value, what: &str) {
    let img = &v["images"][0];
    assert_eq!(v["problems"].as_array().unwrap().len(), 0, "{what}: {v}");
    assert_eq!(img["totals"]["wasted_bytes"].as_u64(), Some(WASTED), "{what}: {}", img["totals"]);
    assert_eq!(img["totals"]["layers"], 4, "{what}");
    let mut wasted: Vec<(String, u64, String)> = img["wasted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["path"].as_str().unwrap().to_string(),
                w["size"].as_u64().unwrap(),
                w["how"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    wasted.sort();
    assert_eq!(
        wasted,
        [
            ("big".to_string(), 100_000, "overwritten".to_string()),
            ("dir/a".to_string(), 3_000, "deleted".to_string()),
            ("dir/b".to_string(), 5_000, "deleted".to_string()),
            ("opq/x".to_string(), 2_000, "opaque".to_string()),
        ],
        "{what}"
    );
    assert_eq!(img["layers"][0]["wasted_bytes"].as_u64(), Some(WASTED), "{what}");
    let c = &img["config"];
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/busybox", "cat"]), "{what}");
    assert_eq!(c["Cmd"], serde_json::json!(["/opq/new"]), "{what}");
    assert_eq!(c["User"], "65532", "{what}");
    assert_eq!(c["WorkingDir"], "/opq", "{what}");
    assert_eq!(c["StopSignal"], "SIGINT", "{what}");
    assert!(c["Env"].as_array().unwrap().contains(&Value::from("GREETING=hello")), "{what}");
    assert_eq!(c["Labels"]["org.example.test"], "waste", "{what}");
    assert!(c["ExposedPorts"].get("8080/tcp").is_some(), "{what}");
    // One history row per layer, plus the metadata-only steps.
    let hist = img["history"].as_array().unwrap();
    assert_eq!(hist.iter().filter(|h| h["empty_layer"] == false).count(), 4, "{what}");
    assert!(hist.iter().any(|h| h["created_by"].as_str().unwrap_or("").contains("rm -rf /opq")), "{what}");
}

#[test]
fn podman_built_image_in_every_save_format_and_the_waste_figure() {
    if !have("podman") || !Path::new("/bin/busybox").exists() {
        return;
    }
    let dir = tempdir();
    let image = build_test_image_with_podman(dir.path());
    let docker_archive = dir.path().join("podman-docker.tar");
    let oci_archive = dir.path().join("podman-oci.tar");
    ok(podman_cmd().args(["save", "-o"]).arg(&docker_archive).arg(&image));
    ok(podman_cmd().args(["save", "--format", "oci-archive", "-o"]).arg(&oci_archive).arg(&image));
    podman_cmd().args(["rmi", "-f", &image]).output().unwrap();

    let v = inspect_json(&docker_archive, false);
    assert_eq!(v["format"], "docker-archive");
    assert_eq!(v["images"][0]["names"][0], image.as_str());
    assert_waste(&v, "podman save (docker-archive)");
    let id = v["images"][0]["config_digest"].clone();

    let v = inspect_json(&oci_archive, true);
    assert_eq!(v["format"], "oci-archive");
    assert_waste(&v, "podman save --format oci-archive");
    assert_eq!(v["images"][0]["config_digest"], id);
    assert!(v["images"][0]["manifest_digest"].as_str().unwrap().starts_with("sha256:"));
    // --files marks what is wasted and shows the whiteout and opaque markers.
    let layers = v["images"][0]["layers"].as_array().unwrap();
    let listed =
        |i: usize, path: &str| layers[i]["listing"].as_array().unwrap().iter().find(|f| f["path"] == path).cloned();
    assert_eq!(listed(0, "big").unwrap()["hidden"], "overwritten");
    assert_eq!(listed(0, "keep").unwrap().get("hidden"), None);
    assert_eq!(listed(2, "dir").unwrap()["kind"], "whiteout");
    assert!(layers[3]["listing"].as_array().unwrap().iter().any(|f| f["path"] == "opq" && f["kind"] == "opaque"));

    let human = ok(staticize().arg("inspect").arg(&docker_archive));
    assert!(human.contains("wasted: 107.4 KiB (110,000 B) in 4 files"), "{human}");
    assert!(human.contains("/big  (layer 1, overwritten in layer 2)"), "{human}");

    // docker 20.10's own save format, from the same image.
    if have("docker") {
        ok(docker_cmd().arg("load").arg("-i").arg(&docker_archive));
        let docker_save = dir.path().join("docker-save.tar");
        ok(docker_cmd().args(["save", "-o"]).arg(&docker_save).arg(&image));
        docker_cmd().args(["rmi", "-f", &image]).output().unwrap();
        let v = inspect_json(&docker_save, false);
        assert_eq!(v["format"], "docker-archive");
        assert_waste(&v, "docker save");
        assert_eq!(v["images"][0]["config_digest"], id);
    }
}

fn write_tar(path: &Path, entries: &[(&str, &[u8])]) {
    let mut out = Vec::new();
    for (name, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    fs::write(path, out).unwrap();
}

#[test]
fn hostile_archive_is_reported_and_nothing_is_written() {
    let dir = tempdir();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    // A layer with traversal and absolute names, in a docker archive that also has them.
    let layer_path = dir.path().join("layer.tar");
    write_tar(
        &layer_path,
        &[("../../../tmp/evil", b"pwned"), ("/etc/cron.d/x", b"* * * * * root sh"), ("ok", b"fine")],
    );
    let layer = fs::read(&layer_path).unwrap();
    let config = br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest = br#"[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["l.tar"]}]"#;
    let archive = work.join("evil.tar");
    write_tar(&archive, &[("c.json", config), ("l.tar", &layer), ("../escape", b"x"), ("manifest.json", manifest)]);
    let before: Vec<PathBuf> = fs::read_dir(&work).unwrap().map(|e| e.unwrap().path()).collect();

    let out = fails_with(staticize().current_dir(&work).arg("inspect").arg(&archive).arg("--files"), 1);
    assert!(out.contains("archive entry \"../escape\": name with '..' (path traversal); ignored"), "{out}");
    assert!(out.contains("tmp/evil: name with '..' (path traversal)"), "{out}");
    // A leading "/" in a layer is the same path under the root, as engines unpack it.
    assert!(out.contains("/etc/cron.d/x") && !out.contains("cron.d/x: absolute"), "{out}");
    assert!(out.contains("[UNSAFE: name with '..' (path traversal)]"), "{out}");
    assert!(out.contains("problem(s) found in the archive"), "{out}");

    let o = run(staticize().current_dir(&work).args(["--json", "inspect"]).arg(&archive));
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    // The archive's "../escape" and the layer's "../../../tmp/evil" ("/etc/cron.d/x" is not one).
    assert!(v["problems"].as_array().unwrap().len() >= 2, "{v}");

    let after: Vec<PathBuf> = fs::read_dir(&work).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(before, after, "inspect wrote something");
    assert!(!Path::new("/tmp/evil").exists() || fs::read("/tmp/evil").unwrap() != b"pwned");
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn missing_and_non_image_inputs_exit_4() {
    let dir = tempdir();
    let out = fails_with(staticize().arg("inspect").arg(dir.path().join("nope.tar")), 4);
    assert!(out.contains("nope.tar") && out.contains("help:"), "{out}");
    let junk = dir.path().join("junk.tar");
    write_tar(&junk, &[("hello.txt", b"hi")]);
    let out = fails_with(staticize().arg("inspect").arg(&junk), 4);
    assert!(out.contains("not an image archive: it holds neither index.json"), "{out}");
    assert!(out.contains("help: pass a tar written by staticize, docker save or podman save"), "{out}");
    let gz = dir.path().join("x.tar.gz");
    let status =
        Command::new("sh").arg("-c").arg(format!("gzip -c {} > {}", junk.display(), gz.display())).status().unwrap();
    assert!(status.success());
    let out = fails_with(staticize().arg("inspect").arg(&gz), 4);
    assert!(out.contains("gunzip"), "{out}");
}
