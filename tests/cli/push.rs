//! `--push REF` and `staticize push`: round trips through the real registry (pulled and run by
//! podman and docker), skipped blobs, chunked uploads, multi-platform indexes, and a stub
//! registry on 127.0.0.1 for the Bearer-token flow, credentials and failures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::Value;

use crate::support::*;

fn hello_c() -> PathBuf {
    repo().join("examples/hello-c/hello.c")
}

/// `127.0.0.1:5000/staticize-test/NAME-…:t` on the real registry.
fn remote(registry: &str, name: &str) -> String {
    format!("{registry}/{}", unique_tag(name))
}

fn json_of(out: &str) -> Value {
    let start = out.find('{').expect("JSON in output");
    let end = out.rfind('}').unwrap();
    serde_json::from_str(&out[start..=end]).unwrap_or_else(|e| panic!("{e}:\n{out}"))
}

#[test]
fn build_push_pull_and_run_then_push_again_skips_blobs() {
    if !have("musl-gcc") || !have("registry") || !have("podman") {
        return;
    }
    let reg = registry().unwrap();
    let dest = remote(&reg, "push-hello");
    let dir = tempdir();
    let out = ok(staticize().current_dir(dir.path()).args(["c", "--push", &dest]).arg(hello_c()));
    assert!(out.contains("uploaded") && out.contains(&format!("pushed {dest}@sha256:")), "{out}");
    let image = dir.path().join("hello.tar");
    let manifest_digest =
        json_of(&ok(staticize().args(["--json", "inspect"]).arg(&image)))["images"][0]["manifest_digest"]
            .as_str()
            .unwrap()
            .to_string();
    assert!(out.contains(&manifest_digest), "the pushed digest is the archive's manifest digest:\n{out}");

    ok(podman_cmd().args(["pull", "--tls-verify=false", &dest]));
    assert_eq!(Engine::Podman.run_image(&dest, &[], &[]), "Hello from staticize!\n");
    Engine::Podman.remove(&dest);
    if have("docker") {
        // docker treats 127.0.0.0/8 registries as insecure (plain HTTP) by default.
        ok(docker_cmd().args(["pull", &dest]));
        assert_eq!(Engine::Docker.run_image(&dest, &[], &[]), "Hello from staticize!\n");
        Engine::Docker.remove(&dest);
    }

    // The archive on disk, pushed again: every blob is already there.
    let again = json_of(&ok(staticize().args(["--json", "push"]).arg(&image).arg(&dest)));
    assert_eq!(again["skipped"], 2, "{again}");
    assert_eq!(again["uploaded_bytes"], 0, "{again}");
    assert_eq!(again["digest"], manifest_digest.as_str());
    let human = ok(staticize().arg("push").arg(&image).arg(&dest));
    assert!(human.contains("already there, skipped") && human.contains("0 blobs uploaded, 2 skipped"), "{human}");
}

#[test]
fn chunked_upload_of_an_archive_podman_wrote() {
    if !have("registry") || !have("podman") || !Path::new("/bin/busybox").exists() {
        return;
    }
    let reg = registry().unwrap();
    let dir = tempdir();
    // An image staticize did not write: busybox imported by podman, saved as docker-archive.
    let root = dir.path().join("root/bin");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy("/bin/busybox", root.join("busybox")).unwrap();
    let base_tar = dir.path().join("base.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&base_tar).unwrap());
    b.append_dir_all(".", dir.path().join("root")).unwrap();
    b.into_inner().unwrap();
    let local = format!("localhost/{}", unique_tag("push-busybox"));
    ok(podman_cmd().arg("import").arg(&base_tar).arg(&local));
    let saved = dir.path().join("busybox.tar");
    ok(podman_cmd().args(["save", "-o"]).arg(&saved).arg(&local));
    Engine::Podman.remove(&local);

    let dest = remote(&reg, "push-chunked");
    // 256 KiB chunks: the ~2 MiB layer goes up in PATCH chunks, then one PUT.
    let out = ok(staticize().env("STATICIZE_PUSH_CHUNK_SIZE", "262144").arg("push").arg(&saved).arg(&dest));
    assert!(out.contains("2 blobs uploaded"), "{out}");
    ok(podman_cmd().args(["pull", "--tls-verify=false", &dest]));
    assert_eq!(Engine::Podman.run_image(&dest, &[], &["/bin/busybox", "echo", "chunked ok"]), "chunked ok\n");
    Engine::Podman.remove(&dest);
}

/// A two-platform archive written with the library (the CLI's --platform lives elsewhere).
fn multi_platform_archive(dir: &Path, binary: &Path) -> PathBuf {
    use staticize::image::rootfs::MODE_EXEC;
    use staticize::image::spec::{Platform, RunConfig};
    use staticize::image::{Compression, ImagePlan, PlatformImage, Rootfs, Source};
    use staticize::reference::ImageRef;
    let images = ["amd64", "arm64"]
        .iter()
        .map(|arch| {
            let mut rootfs = Rootfs::new();
            rootfs.add_file("/hello", Source::Host(binary.to_path_buf()), MODE_EXEC).unwrap();
            rootfs.add_file("/arch", Source::Bytes(arch.as_bytes().to_vec()), 0o644).unwrap();
            PlatformImage {
                platform: Platform::linux(arch),
                rootfs,
                config: RunConfig { entrypoint: Some(vec!["/hello".into()]), ..Default::default() },
                created_by: format!("test {arch}"),
                parts: Vec::new(),
            }
        })
        .collect();
    let plan = ImagePlan {
        reference: ImageRef::parse("multi:1").unwrap(),
        images,
        compression: Compression::Gzip,
        epoch: 0,
        layering: staticize::image::layering::Layering::Single,
    };
    let path = dir.join("multi.tar");
    staticize::image::write(&plan, &path).unwrap();
    path
}

#[test]
fn multi_platform_archive_pushes_an_index() {
    if !have("musl-gcc") || !have("registry") || !have("podman") {
        return;
    }
    let reg = registry().unwrap();
    let dir = tempdir();
    ok(staticize().current_dir(dir.path()).args(["c", "--no-image"]).arg(hello_c()));
    let archive = multi_platform_archive(dir.path(), &dir.path().join("hello"));
    let dest = remote(&reg, "push-multi");
    let pushed = json_of(&ok(staticize().args(["--json", "push"]).arg(&archive).arg(&dest)));
    assert_eq!(pushed["media_type"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(pushed["manifests"], 3);
    // Ask the registry itself for the index.
    let (repo, tag) = dest.trim_start_matches(&format!("{reg}/")).rsplit_once(':').unwrap();
    let o = run(std::process::Command::new("curl").args([
        "-fsS",
        "-H",
        "Accept: application/vnd.oci.image.index.v1+json",
        &format!("http://{reg}/v2/{repo}/manifests/{tag}"),
    ]));
    let index: Value = serde_json::from_slice(&o.stdout).unwrap();
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    ok(podman_cmd().args(["pull", "--tls-verify=false", &dest]));
    assert_eq!(Engine::Podman.run_image(&dest, &[], &[]), "Hello from staticize!\n");
    Engine::Podman.remove(&dest);
}

/// A tiny archive made with the library: no compiler needed for the stub tests.
fn small_archive(dir: &Path) -> PathBuf {
    use staticize::image::spec::{Platform, RunConfig};
    use staticize::image::{Compression, ImagePlan, PlatformImage, Rootfs, Source};
    use staticize::reference::ImageRef;
    let mut rootfs = Rootfs::new();
    rootfs.add_file("/data", Source::Bytes(b"payload".to_vec()), 0o644).unwrap();
    let plan = ImagePlan {
        reference: ImageRef::parse("small:1").unwrap(),
        images: vec![PlatformImage {
            platform: Platform::linux("amd64"),
            rootfs,
            config: RunConfig::default(),
            created_by: "test".into(),
            parts: Vec::new(),
        }],
        compression: Compression::Gzip,
        epoch: 0,
        layering: staticize::image::layering::Layering::Single,
    };
    let path = dir.join("small.tar");
    staticize::image::write(&plan, &path).unwrap();
    path
}

/// One request as the stub saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    authorization: Option<String>,
    body_len: usize,
}

type Handler = dyn Fn(&Seen, u16) -> (u16, Vec<(String, String)>, String) + Send + Sync;

/// A registry stand-in on 127.0.0.1: answers each request with `handler`, closes the
/// connection after each answer, and records what it saw.
struct Stub {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    fn start(handler: Box<Handler>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.is_empty() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let target = parts.next().unwrap_or("").to_string();
                let (mut authorization, mut len) = (None, 0usize);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap_or((&h, ""));
                    match k.trim().to_ascii_lowercase().as_str() {
                        "authorization" => authorization = Some(v.trim().to_string()),
                        "content-length" => len = v.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                let req = Seen { method, target, authorization, body_len: len };
                log.lock().unwrap().push(req.clone());
                let (status, headers, body) = handler(&req, port);
                let mut resp =
                    format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in headers {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                if req.method != "HEAD" {
                    resp.push_str(&body);
                }
                let _ = stream.write_all(resp.as_bytes());
            }
        });
        Stub { port, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A registry that wants a Bearer token from its /token endpoint, which gives one only to
/// user:secret.
fn token_registry() -> Stub {
    let good = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("user:secret"));
    Stub::start(Box::new(move |r, port| {
        let none = Vec::new;
        if r.target.starts_with("/token") {
            return if r.authorization.as_deref() == Some(good.as_str()) {
                (200, none(), r#"{"token":"T0KEN"}"#.to_string())
            } else {
                (401, none(), String::new())
            };
        }
        if r.authorization.as_deref() != Some("Bearer T0KEN") {
            let challenge = format!(r#"Bearer realm="http://127.0.0.1:{port}/token",service="stub-registry""#);
            return (401, vec![("WWW-Authenticate".into(), challenge)], String::new());
        }
        match r.method.as_str() {
            "GET" => (200, none(), "{}".into()),
            "HEAD" => (404, none(), String::new()),
            "POST" => (202, vec![("Location".into(), "/v2/team/app/blobs/uploads/u1".into())], String::new()),
            "PUT" => (201, none(), String::new()),
            _ => (400, none(), String::new()),
        }
    }))
}

fn auth_file(dir: &Path, host: &str, user_pass: &str) -> PathBuf {
    let p = dir.join("auth.json");
    let auth = base64::engine::general_purpose::STANDARD.encode(user_pass);
    std::fs::write(&p, serde_json::json!({"auths": {host: {"auth": auth}}}).to_string()).unwrap();
    p
}

#[test]
fn bearer_token_flow_with_credentials_from_registry_auth_file() {
    let dir = tempdir();
    let archive = small_archive(dir.path());
    let stub = token_registry();
    let host = format!("127.0.0.1:{}", stub.port);
    let auth = auth_file(dir.path(), &host, "user:secret");
    let out =
        ok(staticize().env("REGISTRY_AUTH_FILE", &auth).arg("push").arg(&archive).arg(format!("{host}/team/app:v1")));
    assert!(out.contains("2 blobs uploaded"), "{out}");
    let seen = stub.seen();
    let token_req = seen.iter().find(|s| s.target.starts_with("/token")).expect("a token request");
    assert!(token_req.target.contains("service=stub-registry"), "{token_req:?}");
    assert!(token_req.target.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"), "{token_req:?}");
    let puts: Vec<&Seen> = seen.iter().filter(|s| s.method == "PUT").collect();
    assert_eq!(puts.len(), 3, "two blobs and the manifest: {seen:#?}");
    assert!(puts.iter().all(|s| s.authorization.as_deref() == Some("Bearer T0KEN")), "{seen:#?}");
    let manifest = puts.iter().find(|s| s.target == "/v2/team/app/manifests/v1").expect("manifest PUT");
    assert!(manifest.body_len > 100);
    assert!(puts.iter().any(|s| s.target.contains("digest=sha256%3A")), "{seen:#?}");
}

#[test]
fn missing_or_wrong_credentials_are_a_clear_exit_4() {
    let dir = tempdir();
    let archive = small_archive(dir.path());
    let stub = token_registry();
    let host = format!("127.0.0.1:{}", stub.port);
    let dest = format!("{host}/team/app:v1");

    let wrong = auth_file(dir.path(), &host, "user:wrong");
    let out = fails_with(staticize().env("REGISTRY_AUTH_FILE", &wrong).arg("push").arg(&archive).arg(&dest), 4);
    assert!(out.contains(&format!("registry {host}: refused the credentials of 'user'")), "{out}");
    assert!(out.contains("help: log in again"), "{out}");

    let other = auth_file(dir.path(), "elsewhere.example", "user:secret");
    let out = fails_with(staticize().env("REGISTRY_AUTH_FILE", &other).arg("push").arg(&archive).arg(&dest), 4);
    assert!(out.contains("needs credentials to push to team/app (HTTP 401)"), "{out}");
    assert!(out.contains(&format!("podman login {host}")), "{out}");
}

#[test]
fn registry_errors_and_a_registry_that_is_down() {
    let dir = tempdir();
    let archive = small_archive(dir.path());
    let stub = Stub::start(Box::new(|r, _| match r.method.as_str() {
        "GET" => (200, vec![], "{}".into()),
        "HEAD" => (404, vec![], String::new()),
        _ => (500, vec![], r#"{"errors":[{"code":"UNKNOWN","message":"storage backend is full"}]}"#.into()),
    }));
    let host = format!("127.0.0.1:{}", stub.port);
    let out = fails_with(staticize().arg("push").arg(&archive).arg(format!("{host}/team/app:v1")), 4);
    assert!(out.contains(&format!("registry {host}: failed with HTTP 500")), "{out}");
    assert!(out.contains("storage backend is full"), "{out}");
    assert!(out.contains("help: the registry itself failed"), "{out}");

    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = fails_with(staticize().arg("push").arg(&archive).arg(format!("127.0.0.1:{port}/x:1")), 4);
    assert!(
        out.contains(&format!(
            "registry 127.0.0.1:{port}: is not reachable at http://127.0.0.1:{port}: connection refused"
        )),
        "{out}"
    );
    assert!(out.contains("help: is the registry running"), "{out}");

    // --push on a build: the bad reference is refused before anything is built (exit 2), and a
    // registry failure still leaves the image and binary written.
    if have("musl-gcc") {
        let work = tempdir();
        let out = fails_with(staticize().current_dir(work.path()).args(["c", "--push", "Bad/Ref"]).arg(hello_c()), 2);
        assert!(out.contains("invalid push reference"), "{out}");
        assert!(!work.path().join("hello").exists());
        let out = fails_with(
            staticize().current_dir(work.path()).args(["c", "--push", &format!("127.0.0.1:{port}/x:1")]).arg(hello_c()),
            4,
        );
        assert!(out.contains("the image is written") && out.contains("staticize push"), "{out}");
        assert!(work.path().join("hello").is_file() && work.path().join("hello.tar").is_file());
    }
}
