//! Shared helpers for the integration tests: run the real CLI, find real tools, load and run
//! images in real podman and docker.
//!
//! End-to-end tests need podman, dockerd, a registry and compilers. With
//! `STATICIZE_E2E=require` (set by scripts/test.sh and CI) a missing tool fails the test;
//! otherwise the test says what it skipped and returns, and the run ends with a count of the
//! tests that skipped something ([`skipped`]).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};

/// The staticize binary under test.
pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_staticize"))
}

/// A `staticize` command with a clean, predictable environment.
pub(crate) fn staticize() -> Command {
    let mut c = Command::new(bin());
    c.env_remove("SOURCE_DATE_EPOCH").env("NO_COLOR", "1");
    c
}

/// Runs a command and returns its output (never panics on failure status).
pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"))
}

/// stdout + stderr as one string, for assertions and failure messages.
pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Asserts success and returns the combined output.
#[track_caller]
pub(crate) fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(o.status.success(), "{cmd:?} failed ({}):\n{}", o.status, text(&o));
    text(&o)
}

/// Asserts the exit code and returns the combined output.
#[track_caller]
pub(crate) fn fails_with(cmd: &mut Command, code: i32) -> String {
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(code), "{cmd:?}: expected exit {code}, got {}:\n{}", o.status, text(&o));
    text(&o)
}

/// True when end-to-end tools are mandatory (CI).
pub(crate) fn e2e_required() -> bool {
    std::env::var("STATICIZE_E2E").is_ok_and(|v| v == "require")
}

/// Whether `tool` is usable; when it is not, fails under STATICIZE_E2E=require, else prints a
/// skip notice and returns false.
#[track_caller]
pub(crate) fn have(tool: &str) -> bool {
    let found = which(tool);
    if !found {
        assert!(!e2e_required(), "{tool} is required (STATICIZE_E2E=require) but was not found");
        skipped(tool);
    }
    found
}

/// Skips recorded in this run of the test binary: (test name, missing tool).
static SKIPS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Records that the running test leaves out its end-to-end part because `tool` is missing
/// (callers have already failed under STATICIZE_E2E=require). Says so at once, and once more
/// in a summary when the test binary exits, so a plain `cargo test` cannot pass vacuously
/// without saying so.
pub(crate) fn skipped(tool: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    static SUMMARY: Once = Once::new();
    // SAFETY: `print_skips` is an `extern "C" fn()` that only locks a static and writes.
    SUMMARY.call_once(|| unsafe {
        libc::atexit(print_skips);
    });
    // Written to the stderr handle, not with eprintln!, which libtest captures (and hides) for
    // tests that pass.
    let _ =
        writeln!(std::io::stderr(), "SKIP {test}: {tool} not found (set STATICIZE_E2E=require to make this a failure)");
    SKIPS.lock().unwrap_or_else(|e| e.into_inner()).push((test, tool.to_string()));
}

/// Prints how many tests skipped what, after libtest's own summary.
extern "C" fn print_skips() {
    let skips = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
    let tests: BTreeSet<&str> = skips.iter().map(|(t, _)| t.as_str()).collect();
    let mut by_tool: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (t, tool) in skips.iter() {
        by_tool.entry(tool.as_str()).or_default().insert(t.as_str());
    }
    let tools: Vec<String> = by_tool.iter().map(|(tool, t)| format!("{tool} ({})", t.len())).collect();
    let _ = writeln!(
        std::io::stderr(),
        "\nSKIPPED: {} test(s) left out end-to-end checks because tools are missing: {}.\n\
         Not a full pass: install them (scripts/test.sh) and run with STATICIZE_E2E=require.",
        tests.len(),
        tools.join(", ")
    );
}

fn which(tool: &str) -> bool {
    match tool {
        "docker" => docker_cmd().arg("version").output().is_ok_and(|o| o.status.success()),
        "podman" => Command::new("podman").arg("--version").output().is_ok_and(|o| o.status.success()),
        "registry" => registry().is_some(),
        _ => Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success()),
    }
}

/// The socket of the test dockerd (scripts/services.sh), unless DOCKER_HOST says otherwise.
pub(crate) fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///tmp/staticize-services/docker.sock".into())
}

/// A `docker` command talking to the test dockerd.
pub(crate) fn docker_cmd() -> Command {
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", docker_host());
    c
}

/// A `podman` command.
pub(crate) fn podman_cmd() -> Command {
    Command::new("podman")
}

/// The test registry's host:port (STATICIZE_REGISTRY), when one runs.
pub(crate) fn registry() -> Option<String> {
    let r = std::env::var("STATICIZE_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let up = Command::new("curl").args(["-fsS", "-o", "/dev/null", &format!("http://{r}/v2/")]).status();
    up.is_ok_and(|s| s.success()).then_some(r)
}

/// A tag nobody else uses in this run, so parallel tests never collide.
pub(crate) fn unique_tag(base: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("staticize-test/{base}-{}-{}:t", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// Which container engines to exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// podman, daemonless.
    Podman,
    /// docker against the test dockerd.
    Docker,
}

impl Engine {
    /// Both engines, each required under STATICIZE_E2E=require.
    #[track_caller]
    pub(crate) fn available() -> Vec<Engine> {
        let mut v = Vec::new();
        if have("podman") {
            v.push(Engine::Podman);
        }
        if have("docker") {
            v.push(Engine::Docker);
        }
        v
    }

    /// A command for this engine.
    pub(crate) fn cmd(self) -> Command {
        match self {
            Engine::Podman => podman_cmd(),
            Engine::Docker => docker_cmd(),
        }
    }

    /// Loads an archive; returns the loader's output.
    #[track_caller]
    pub(crate) fn load(self, tar: &Path) -> String {
        ok(self.cmd().arg("load").arg("-i").arg(tar))
    }

    /// `run --rm [extra…] IMAGE [args…]` with no network; returns stdout.
    #[track_caller]
    pub(crate) fn run_image(self, image: &str, extra: &[&str], args: &[&str]) -> String {
        let o = run(self.cmd().args(["run", "--rm", "--network", "none"]).args(extra).arg(image).args(args));
        assert!(o.status.success(), "{self:?} run {image} failed ({}):\n{}", o.status, text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `inspect IMAGE` parsed as JSON (the first element).
    #[track_caller]
    pub(crate) fn inspect(self, image: &str) -> serde_json::Value {
        let o = run(self.cmd().args(["image", "inspect", image]));
        assert!(o.status.success(), "{self:?} inspect {image}: {}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("inspect prints JSON");
        v[0].clone()
    }

    /// Removes an image, ignoring failures.
    pub(crate) fn remove(self, image: &str) {
        let _ = self.cmd().args(["rmi", "-f", image]).output();
    }
}

/// Loads `tar` into every engine, runs `image` with `args`, and returns each engine's stdout.
#[track_caller]
pub(crate) fn load_and_run_everywhere(tar: &Path, image: &str, args: &[&str]) -> Vec<(Engine, String)> {
    let mut out = Vec::new();
    for e in Engine::available() {
        e.load(tar);
        let stdout = e.run_image(image, &[], args);
        e.remove(image);
        out.push((e, stdout));
    }
    out
}

/// The repository root (for examples/).
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary directory.
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("staticize-it-").tempdir().unwrap()
}

/// sha256 of a file, hex.
pub(crate) fn sha256_file(p: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// The deps cache every test of the run shares, so each library (openssl above all) is built
/// once per run and kept across runs: STATICIZE_TEST_DEPS_CACHE, else <repo>/target/test-deps-cache.
/// Give it to staticize as STATICIZE_DEPS_CACHE.
pub(crate) fn deps_cache() -> PathBuf {
    let dir = std::env::var_os("STATICIZE_TEST_DEPS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target").join("test-deps-cache"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The uncompressed tars of an image archive's layers (gzip), bottom first.
pub(crate) fn layer_tars(archive: &Path) -> Vec<Vec<u8>> {
    use std::io::Read;
    let mut outer = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let (mut manifest, mut blobs) = (None, std::collections::HashMap::new());
    for e in outer.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        if path == "manifest.json" {
            manifest = Some(buf);
        } else {
            blobs.insert(path, buf);
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.expect("manifest.json")).unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    layers
        .iter()
        .map(|l| {
            let mut tar_bytes = Vec::new();
            flate2::read::MultiGzDecoder::new(blobs[l.as_str().unwrap()].as_slice())
                .read_to_end(&mut tar_bytes)
                .unwrap();
            tar_bytes
        })
        .collect()
}

/// A server the test started on 127.0.0.1 (a child process), killed when dropped.
pub(crate) struct LocalServer {
    child: std::process::Child,
    /// The port it listens on.
    pub(crate) port: u16,
}

impl LocalServer {
    /// Spawns `cmd` (quiet) with `{port}` in its arguments replaced by a free port, and waits
    /// up to 20 s for it to accept connections there.
    #[track_caller]
    pub(crate) fn start(program: &str, args: &[&str], dir: &Path) -> LocalServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let args: Vec<String> = args.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        let child = Command::new(program)
            .args(&args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let server = LocalServer { child, port };
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < std::time::Duration::from_secs(20), "{program} did not listen on {port}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
