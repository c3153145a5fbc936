//! `staticize squash` and `staticize slim` on real images: a Debian bookworm root made by
//! debootstrap, imported by podman, with redis-server installed on top, a 32 MiB file copied in
//! one layer and deleted in the next, saved by podman (docker- and oci-archive) and by docker
//! (tests/fixtures/squash/build-images.sh, run once per test run; the debootstrap root is
//! cached for the day under /var/tmp/staticize-test-cache).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// The saved images, built on first use; None when a tool is missing (and not required).
struct Images {
    redis_podman_docker: PathBuf,
    redis_podman_oci: PathBuf,
    redis_docker: PathBuf,
    node: PathBuf,
}

fn images() -> Option<&'static Images> {
    static I: OnceLock<Option<Images>> = OnceLock::new();
    I.get_or_init(|| {
        for tool in ["debootstrap", "podman", "docker", "redis-cli", "node", "curl"] {
            if !have(tool) {
                return None;
            }
        }
        let cache = std::env::var("STATICIZE_TEST_CACHE").unwrap_or_else(|_| "/var/tmp/staticize-test-cache".into());
        // Kept for the whole run (statics are never dropped); removed by the OS's tmp cleaning.
        let out = std::env::temp_dir().join(format!("staticize-squash-images-{}", std::process::id()));
        let script = repo().join("tests/fixtures/squash/build-images.sh");
        ok(Command::new(script).arg(Path::new(&cache).join("squash")).arg(&out).env("DOCKER_HOST", docker_host()));
        Some(Images {
            redis_podman_docker: out.join("redis-podman-docker.tar"),
            redis_podman_oci: out.join("redis-podman-oci.tar"),
            redis_docker: out.join("redis-docker.tar"),
            node: out.join("node-podman-docker.tar"),
        })
    })
    .as_ref()
}

fn json_of(out: &str) -> Value {
    let start = out.find('{').expect("JSON in output");
    serde_json::from_str(&out[start..=out.rfind('}').unwrap()]).unwrap_or_else(|e| panic!("{e}:\n{out}"))
}

/// A port for this test: distinct per process and call, in a range nothing else here uses.
fn port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static N: AtomicU16 = AtomicU16::new(0);
    20000 + (std::process::id() % 2000) as u16 * 10 + N.fetch_add(1, Ordering::SeqCst) % 10
}

/// Runs `image` detached with host networking and `args`, waits until `probe` (run on the host)
/// prints `expect`, removes the container; returns what the probe printed last.
fn serve_and_probe(e: Engine, image: &str, args: &[&str], probe: &mut dyn FnMut() -> String, expect: &str) -> String {
    let name = unique_tag("squash-ctr").replace(['/', ':'], "-");
    ok(e.cmd().args(["run", "-d", "--rm", "--name", &name, "--network", "host"]).arg(image).args(args));
    let mut last = String::new();
    for _ in 0..50 {
        last = probe();
        if last.contains(expect) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs = run(e.cmd().args(["logs", &name]));
    let _ = e.cmd().args(["rm", "-f", &name]).output();
    assert!(last.contains(expect), "{e:?} {image}: the probe said {last:?}; logs:\n{}", text(&logs));
    last
}

fn redis_ping(port: u16) -> impl FnMut() -> String {
    move || {
        let o = Command::new("redis-cli").args(["-p", &port.to_string(), "ping"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

/// Every non-directory entry of a plain tar: path → (kind, size, uid, gid, mode).
type Listing = BTreeMap<String, (char, u64, u64, u64, u32)>;

fn list_tar(r: impl Read) -> Listing {
    let mut out = Listing::new();
    let mut a = tar::Archive::new(r);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let path = e.path().unwrap().to_string_lossy().trim_start_matches("./").trim_end_matches('/').to_string();
        let kind = h.entry_type().as_byte() as char;
        if kind == '5' || path.is_empty() {
            continue;
        }
        // A hard link is the same file as its target: compare it as one.
        let kind = if kind == '1' { '0' } else { kind };
        out.insert(path, (kind, e.size(), h.uid().unwrap(), h.gid().unwrap(), h.mode().unwrap() & 0o7777));
    }
    out
}

/// The squashed archive's only layer, decompressed, listed.
fn list_squashed(archive: &Path) -> Listing {
    let a = staticize::image::read::Archive::open(archive).unwrap();
    let layers = &a.images[0].layers;
    let (raw, _) = a.open_file(&layers[layers.len() - 1].location).unwrap();
    let mut hard = Listing::new();
    let mut listing = list_tar(flate2::read::MultiGzDecoder::new(raw));
    // Hard links have size 0 in a tar: give them their target's.
    let (raw, _) = a.open_file(&layers[layers.len() - 1].location).unwrap();
    let mut t = tar::Archive::new(flate2::read::MultiGzDecoder::new(raw));
    for e in t.entries().unwrap() {
        let e = e.unwrap();
        if e.header().entry_type().is_hard_link() {
            let target = e.link_name().unwrap().unwrap().to_string_lossy().into_owned();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            hard.insert(path, listing[&target]);
        }
    }
    listing.extend(hard);
    listing
}

/// `podman export` of a container of the original image: the final root as a runtime sees it.
fn exported_root(image_tar: &Path, dir: &Path) -> Listing {
    let loaded = ok(podman_cmd().args(["load", "-q", "-i"]).arg(image_tar));
    let image = loaded.trim().rsplit(' ').next().unwrap().to_string();
    let ctr = unique_tag("squash-export").replace(['/', ':'], "-");
    ok(podman_cmd().args(["create", "--name", &ctr, &image]));
    let out = dir.join("export.tar");
    ok(podman_cmd().args(["export", "-o"]).arg(&out).arg(&ctr));
    let _ = podman_cmd().args(["rm", "-f", &ctr]).output();
    let mut hard = Listing::new();
    let mut listing = list_tar(std::fs::File::open(&out).unwrap());
    let mut t = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for e in t.entries().unwrap() {
        let e = e.unwrap();
        if e.header().entry_type().is_hard_link() {
            let target = e.link_name().unwrap().unwrap().to_string_lossy().trim_start_matches("./").to_string();
            let path = e.path().unwrap().to_string_lossy().trim_start_matches("./").to_string();
            hard.insert(path, listing[&target]);
        }
    }
    listing.extend(hard);
    listing
}

#[test]
fn squash_gives_the_final_root_and_runs_redis_in_podman_and_docker() {
    let Some(img) = images() else { return };
    let dir = tempdir();
    let reference = exported_root(&img.redis_podman_docker, dir.path());
    for (i, input) in [&img.redis_podman_docker, &img.redis_podman_oci, &img.redis_docker].into_iter().enumerate() {
        let out = dir.path().join(format!("squashed-{i}.tar"));
        let tag = format!("localhost/{}", unique_tag("squashed"));
        let said = json_of(&ok(staticize().args(["--json", "squash", "-t", &tag, "-o"]).arg(&out).arg(input)));
        let report = &said["squash"];
        let inspected = json_of(&ok(staticize().args(["--json", "inspect"]).arg(input)));
        let totals = &inspected["images"][0]["totals"];
        // The bytes inspect calls wasted are exactly the bytes removed.
        assert_eq!(report["removed_bytes"], totals["wasted_bytes"], "{input:?}: {report}");
        assert_eq!(report["bytes_out"], totals["visible_bytes"], "{input:?}: {report}");
        assert!(report["removed_bytes"].as_u64().unwrap() > 32 << 20, "the deleted 32 MiB file is gone: {report}");
        // Same paths, kinds, sizes, owners and modes as the root podman exports.
        let squashed = list_squashed(&out);
        let only_export: Vec<_> = reference.keys().filter(|k| !squashed.contains_key(*k)).collect();
        let only_squash: Vec<_> = squashed.keys().filter(|k| !reference.contains_key(*k)).collect();
        assert!(
            only_export.is_empty() && only_squash.is_empty(),
            "{input:?}: only in export {only_export:?}, only in squash {only_squash:?}"
        );
        let differ: Vec<_> = reference.iter().filter(|(k, v)| squashed[*k] != **v).take(5).collect();
        assert!(differ.is_empty(), "{input:?}: entries differ from the export: {differ:?}");
        let bytes: u64 = squashed.values().filter(|v| v.0 == '0').map(|v| v.1).sum();
        let export_bytes: u64 = reference.values().filter(|v| v.0 == '0').map(|v| v.1).sum();
        assert_eq!(bytes, export_bytes);
        if i == 0 {
            // Its SBOM: every package of the image's dpkg database, each one syft finds.
            let sbom = dir.path().join("squashed-0.spdx.json");
            let listed = crate::sbom::syft_sees_all(&out, &crate::sbom::json(&sbom));
            assert!(listed.iter().any(|(n, _)| n == "redis-server") && listed.len() > 80, "{listed:?}");
            for e in Engine::available() {
                e.load(&out);
                let p = port();
                let ports = p.to_string();
                serve_and_probe(e, &tag, &["--port", &ports, "--protected-mode", "no"], &mut redis_ping(p), "PONG");
                e.remove(&tag);
            }
        }
    }
}

#[test]
fn squash_from_a_layer_keeps_the_lower_layers_and_is_deterministic() {
    let Some(img) = images() else { return };
    let dir = tempdir();
    let a = dir.path().join("a.tar");
    let b = dir.path().join("b.tar");
    let said =
        ok(staticize().args(["squash", "--from-layer", "2", "-t", "sq:from2", "-o"]).arg(&a).arg(&img.redis_docker));
    assert!(said.contains("layers 2-4 (layers 1-1 kept as they are)"), "{said}");
    // docker save wrote plain layers: the squashed one follows them, so scanners can read it.
    assert!(said.contains("squashed layer compressed as none like the kept layers"), "{said}");
    ok(staticize().args(["squash", "--from-layer", "2", "-t", "sq:from2", "-o"]).arg(&b).arg(&img.redis_docker));
    assert_eq!(sha256_file(&a), sha256_file(&b), "two squashes of one image give the same bytes");
    let (sa, sb) = (dir.path().join("a.spdx.json"), dir.path().join("b.spdx.json"));
    assert!(std::fs::read(&sa).unwrap() == std::fs::read(&sb).unwrap(), "and the same SBOM bytes");
    let before = json_of(&ok(staticize().args(["--json", "inspect"]).arg(&img.redis_docker)));
    let after = json_of(&ok(staticize().args(["--json", "inspect"]).arg(&a)));
    let layers = after["images"][0]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["diff_id"], before["images"][0]["layers"][0]["diff_id"], "layer 1 is kept as it was");
    let history = after["images"][0]["history"].to_string();
    assert!(history.contains("staticize squash: layers 2-4 merged"), "{history}");
    let tag = format!("localhost/{}", unique_tag("squash-from2"));
    ok(staticize()
        .args(["squash", "--from-layer", "2", "--load", "podman", "-t", &tag, "-o"])
        .arg(&a)
        .arg(&img.redis_docker));
    let p = port();
    serve_and_probe(Engine::Podman, &tag, &["--port", &p.to_string()], &mut redis_ping(p), "PONG");
    Engine::Podman.remove(&tag);
    // The SBOM beside it lists what the image's own dpkg database declares, and syft reads
    // the image (its layers all plain, as go-containerregistry expects of a docker archive).
    let sa = dir.path().join("a.spdx.json");
    crate::sbom::validate(&sa);
    let listed = crate::sbom::syft_sees_all(&a, &crate::sbom::json(&sa));
    let declared = ok(staticize().args(["inspect", "--sbom"]).arg(&img.redis_docker));
    assert!(declared.contains("packages declared in /var/lib/dpkg/status"), "{declared}");
    assert_eq!(listed.len(), declared.lines().count() - 1, "every package the database declares: {declared}");
    for (name, version) in &listed {
        assert!(declared.contains(&format!("  {name} {version} ")), "{name} {version} not in the image:\n{declared}");
    }
    assert!(listed.iter().any(|(n, _)| n == "redis-server"), "{listed:?}");
    ok(staticize().args(["squash", "--sbom-format", "cyclonedx", "--no-sbom", "-o"]).arg(&b).arg(&img.redis_docker));
    assert!(!dir.path().join("b.cdx.json").exists(), "--no-sbom writes none");
    ok(staticize().args(["squash", "--sbom-format", "cyclonedx", "-o"]).arg(&b).arg(&img.redis_docker));
    crate::sbom::validate(&dir.path().join("b.cdx.json"));
    let bad = fails_with(staticize().args(["squash", "--from-layer", "9"]).arg(&img.redis_docker), 2);
    assert!(bad.contains("the image has 4 layers"), "{bad}");
}

#[test]
fn squash_pushes_and_writes_an_oci_dir() {
    let Some(img) = images() else { return };
    if !have("registry") || !have("skopeo") {
        return;
    }
    let dir = tempdir();
    let dest = format!("{}/{}", registry().unwrap(), unique_tag("squash-push"));
    let oci = dir.path().join("oci");
    let out = ok(staticize()
        .current_dir(dir.path())
        .args(["squash", "--push", &dest, "--oci-dir"])
        .arg(&oci)
        .arg(&img.redis_podman_oci));
    assert!(out.contains(&format!("pushed {dest}@sha256:")), "{out}");
    let sbom = std::fs::read(dir.path().join("redis-podman-oci-squashed.spdx.json")).unwrap();
    assert_eq!(crate::sbom::fetch_sbom(&dest, &out), sbom, "the SBOM is attached to the pushed image");
    ok(Command::new("skopeo").args(["inspect", "--tls-verify=false", &format!("docker://{dest}")]));
    ok(Command::new("skopeo").arg("inspect").arg(format!("oci:{}", oci.display())));
    assert!(dir.path().join("redis-podman-oci-squashed.tar").is_file());
}

#[test]
fn slim_redis_is_a_scratch_image_that_answers_ping() {
    let Some(img) = images() else { return };
    let dir = tempdir();
    let out = dir.path().join("redis-slim.tar");
    let tag = format!("localhost/{}", unique_tag("redis-slim"));
    let said = ok(staticize().args(["slim", "-t", &tag, "-o"]).arg(&out).arg(&img.redis_podman_docker));
    assert!(said.contains("/usr/bin/redis-server (entrypoint): dynamic; its closure from the image"), "{said}");
    assert!(said.contains("hint") && said.contains("/etc/redis"), "{said}");
    let slim = std::fs::metadata(&out).unwrap().len();
    let original = std::fs::metadata(&img.redis_podman_docker).unwrap().len();
    eprintln!("slim redis: {slim} bytes; original archive {original} bytes; the tutorials' scratch redis: 7.73 MB");
    assert!(slim * 10 < original, "slim {slim} vs original {original}");
    // The SBOM: the Debian packages of the carried files, from the image's own database
    // (the versions it declares), each recorded in status.d so syft finds them.
    let sbom = dir.path().join("redis-slim.spdx.json");
    crate::sbom::validate(&sbom);
    let listed = crate::sbom::syft_sees_all(&out, &crate::sbom::json(&sbom));
    let declared = ok(staticize().args(["inspect", "--sbom"]).arg(&img.redis_podman_docker));
    for (name, version) in &listed {
        assert!(declared.contains(&format!("  {name} {version} ")), "{name} {version} not in the image:\n{declared}");
    }
    for want in ["redis-server", "redis-tools", "libc6", "libssl3", "libjemalloc2", "libsystemd0"] {
        assert!(listed.iter().any(|(n, _)| n == want), "{want} not in {listed:?}");
    }
    let files = json_of(&ok(staticize().args(["--json", "inspect", "--files"]).arg(&out))).to_string();
    assert!(!files.contains("/bin/sh") && !files.contains("apt"), "scratch: no shell, no package manager");
    for e in Engine::available() {
        e.load(&out);
        let p = port();
        serve_and_probe(e, &tag, &["--port", &p.to_string(), "--protected-mode", "no"], &mut redis_ping(p), "PONG");
        e.remove(&tag);
    }
}

#[test]
fn slim_node_keeps_the_app_and_answers_http() {
    let Some(img) = images() else { return };
    let dir = tempdir();
    let out = dir.path().join("node-slim.tar");
    let tag = format!("localhost/{}", unique_tag("node-slim"));
    let said = ok(staticize().args(["slim", "--keep", "/app", "-t", &tag, "-o"]).arg(&out).arg(&img.node));
    assert!(said.contains("/usr/local/bin/node (entrypoint)") && said.contains("keep: /app (1 files"), "{said}");
    let e = Engine::Podman;
    e.load(&out);
    let p = port();
    let url = format!("http://127.0.0.1:{p}/");
    let mut get = || {
        let o = Command::new("curl").args(["-fsS", "--max-time", "2", &url]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    serve_and_probe(e, &tag, &[&p.to_string()], &mut get, "hello from slim node");
    e.remove(&tag);
}

#[test]
fn squash_keeps_every_platform_of_an_index_or_the_one_asked_for() {
    if !have("go") {
        return;
    }
    let d = tempdir();
    for f in ["go.mod", "main.go"] {
        std::fs::copy(repo().join("examples/hello-go").join(f), d.path().join(f)).unwrap();
    }
    ok(staticize().current_dir(d.path()).args(["go", ".", "-o", "hello", "--platform", "linux/amd64,linux/arm64"]));
    let tag = format!("localhost/{}", unique_tag("squash-multi"));
    let said = json_of(&ok(staticize().current_dir(d.path()).args(["--json", "squash", "hello.tar", "-t", &tag])));
    assert_eq!(said["squash"]["platform"], "linux/amd64", "{said}");
    assert_eq!(said["other_platforms"][0]["platform"], "linux/arm64", "{said}");
    let out = d.path().join("hello-squashed.tar");
    let raw: Value = serde_json::from_str(&ok(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci-archive:{}", out.display()))))
    .unwrap();
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json", "the index is kept: {raw}");
    let archs: Vec<&str> =
        raw["manifests"].as_array().unwrap().iter().map(|m| m["platform"]["architecture"].as_str().unwrap()).collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    for e in Engine::available() {
        e.load(&out);
        assert_eq!(e.inspect(&tag)["Architecture"], "amd64", "{e:?} loads the host platform");
        e.remove(&tag);
    }
    // --platform chooses one; a platform the index lacks is a usage error naming those it has.
    let arm = d.path().join("arm.tar");
    ok(staticize().current_dir(d.path()).args(["squash", "hello.tar", "--platform", "linux/arm64", "-o"]).arg(&arm));
    let inspected = json_of(&ok(staticize().args(["--json", "inspect"]).arg(&arm)));
    let platforms: Vec<&str> =
        inspected["images"].as_array().unwrap().iter().map(|i| i["platform"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["linux/arm64"]);
    let bad =
        fails_with(staticize().current_dir(d.path()).args(["squash", "hello.tar", "--platform", "linux/s390x"]), 2);
    assert!(bad.contains("linux/amd64, linux/arm64"), "{bad}");
}
