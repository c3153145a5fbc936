//! Crash safety and concurrency: a run killed with SIGKILL in the middle of writing a large
//! image leaves the previous image valid and untouched, and the next run leaves no temporary
//! files; several runs writing the same output at once end with one valid image.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::programs::*;
use crate::support::*;

/// The image command writing `bin` to `out`, from `dir`.
fn image_cmd(dir: &Path, bin: &str, out: &str) -> Command {
    let mut c = staticize();
    c.current_dir(dir).args(["image", bin, "-o", out, "-t", "crash:test"]);
    c
}

/// Waits until a temporary file whose name starts with `prefix` exists in `dir` and holds more
/// than `min` bytes; returns its path. Panics when the child ends first.
fn wait_for_temp(child: &mut Child, dir: &Path, prefix: &str, min: u64) -> PathBuf {
    let start = Instant::now();
    loop {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && name.ends_with(".tmp") && e.metadata().is_ok_and(|m| m.len() > min) {
                return e.path();
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("staticize ended ({status}) before a {prefix}* file of > {min} bytes was seen");
        }
        assert!(start.elapsed() < Duration::from_secs(300), "no {prefix}* file after 300 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Starts a large write, SIGKILLs it once a temporary file matching `prefix` is being filled,
/// and checks the previous image survived.
fn kill_mid_write(dir: &Path, prefix: &str, old_digest: &str) {
    let mut child = image_cmd(dir, "big", "app.tar").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let temp = wait_for_temp(&mut child, dir, prefix, 1 << 20);
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status}");
    assert!(temp.exists(), "the killed run's temporary {} should still be there", temp.display());
    assert_eq!(sha256_file(&dir.join("app.tar")), old_digest, "the previous image was modified");
    skopeo_reads(&dir.join("app.tar")).unwrap();
}

#[test]
fn sigkill_mid_write_keeps_the_old_image_and_the_next_run_cleans_up() {
    if !have("skopeo") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    fs::copy(&programs().static_hello, d.join("hello")).unwrap();
    // ~100 MB of incompressible program: seconds of gzip and copying to be killed in.
    padded_static(&d.join("big"), 100 << 20);
    ok(&mut image_cmd(d, "hello", "app.tar"));
    let old = sha256_file(&d.join("app.tar"));

    // Killed while compressing the layer, then while copying the archive into place.
    kill_mid_write(d, ".staticize-layer.", &old);
    kill_mid_write(d, ".app.tar.", &old);
    assert!(temporaries(d).len() >= 2, "the kills should have left temporaries: {:?}", temporaries(d));

    // The next successful run writes the image and removes what the killed runs left.
    ok(&mut image_cmd(d, "hello", "app.tar"));
    assert_eq!(temporaries(d), Vec::<PathBuf>::new(), "temporary files remain after the next run");
    assert_eq!(sha256_file(&d.join("app.tar")), old, "same input, same bytes");
    skopeo_reads(&d.join("app.tar")).unwrap();
}

#[test]
fn a_live_runs_temporaries_are_not_removed_by_another_run() {
    let dir = tempdir();
    let d = dir.path();
    fs::copy(&programs().static_hello, d.join("hello")).unwrap();
    padded_static(&d.join("big"), 100 << 20);
    let mut slow = image_cmd(d, "big", "app.tar").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_temp(&mut slow, d, ".staticize-layer.", 1 << 20);
    // A second run on the same output while the first is still writing.
    ok(&mut image_cmd(d, "hello", "app.tar"));
    let o = slow.wait_with_output().unwrap();
    assert!(o.status.success(), "the first run was disturbed: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(temporaries(d), Vec::<PathBuf>::new());
}

#[test]
fn concurrent_runs_writing_one_output_end_with_one_valid_image() {
    let dir = tempdir();
    let d = dir.path();
    fs::copy(&programs().static_hello, d.join("hello")).unwrap();
    padded_static(&d.join("big"), 20 << 20);
    // What each input alone produces (the bytes are deterministic).
    ok(&mut image_cmd(d, "hello", "alone-hello.tar"));
    ok(&mut image_cmd(d, "big", "alone-big.tar"));
    let expected = [sha256_file(&d.join("alone-hello.tar")), sha256_file(&d.join("alone-big.tar"))];

    for round in 0..3 {
        let children: Vec<Child> = (0..4)
            .map(|i| {
                let bin = if i % 2 == 0 { "hello" } else { "big" };
                image_cmd(d, bin, "shared.tar").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "round {round}: a concurrent run failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let got = sha256_file(&d.join("shared.tar"));
        assert!(expected.contains(&got), "round {round}: shared.tar is neither run's image (torn write?)");
        assert_eq!(temporaries(d), Vec::<PathBuf>::new(), "round {round}");
        if have("skopeo") {
            skopeo_reads(&d.join("shared.tar")).unwrap();
        }
    }
}
