//! Issue 25: the proof run. Every output is run inside its own files (bubblewrap: read-only,
//! no network, a time limit) under strace, and the verdict names how it ended and what it
//! looked for that the image lacks, with the package that owns it and the flag that carries
//! it. Real programs: Debian's perl without its standard library, busybox's httpd as a
//! server, a C program that crashes, a dynamic program in a root without its loader or libc,
//! and a CLI that prints its usage.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// The tools a proof run needs; false (after the skip notice) when one is missing.
fn have_sandbox() -> bool {
    have("bwrap") && have("strace")
}

fn json(out: &str) -> Value {
    let start = out.find(['{', '[']).unwrap_or_else(|| panic!("no JSON in:\n{out}"));
    let mut stream = serde_json::Deserializer::from_str(&out[start..]).into_iter::<Value>();
    stream.next().expect("one JSON value").expect("valid JSON")
}

/// The default probe of `staticize c hello.c`: the image's own command ran and exited 0, in
/// the step lines and the JSON; `--no-probe` says it did not run; `--no-image` proves the
/// executable alone.
#[test]
fn a_c_build_proves_its_image_and_no_probe_skips_it() {
    if !have_sandbox() || !have("musl-gcc") {
        return;
    }
    let t = tempdir();
    let hello = repo().join("examples/hello-c/hello.c");
    let bin = t.path().join("hello");
    let out = ok(staticize().arg("c").arg(&hello).arg("-o").arg(&bin));
    assert!(out.contains("proved ran: /hello, exit 0"), "{out}");
    let v = json(&ok(staticize().arg("c").arg(&hello).arg("-o").arg(&bin).arg("--json")));
    assert_eq!(v["proof"]["verdict"], "ran: /hello, exit 0", "{v}");
    assert_eq!(v["proof"]["ending"], serde_json::json!({"kind": "exited", "code": 0}));
    assert_eq!(v["proof"]["ok"], true);
    let out = ok(staticize().arg("c").arg(&hello).arg("-o").arg(&bin).arg("--no-probe"));
    assert!(out.contains("not run (--no-probe") && !out.contains("proved"), "{out}");
    let out = ok(staticize().arg("c").arg(&hello).arg("-o").arg(&bin).args(["--no-image", "--probe", "extra"]));
    assert!(out.contains("proved ran: /hello extra, exit 0"), "{out}");
}

/// A CLI that prints its usage and exits 2 is not a failed build ("nothing missing"); named
/// arguments that make it exit non-zero are. A program that segfaults fails the build with
/// exit 1, its image written and reported.
#[test]
fn usage_exits_pass_the_default_probe_and_crashes_fail_the_build() {
    if !have_sandbox() || !have("musl-gcc") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let usage = d.join("usage.c");
    std::fs::write(
        &usage,
        "#include <stdio.h>\n#include <string.h>\nint main(int c, char **v) {\n  if (c > 1 && !strcmp(v[1], \"--version\")) { puts(\"usage 1.0\"); return 0; }\n  fputs(\"usage: usage --version\\n\", stderr);\n  return 2;\n}\n",
    )
    .unwrap();
    let out = ok(staticize().arg("c").arg(&usage).arg("-o").arg(d.join("usage")));
    assert!(out.contains("ran: /usage, exit 2, nothing missing"), "{out}");
    let out = ok(staticize().arg("c").arg(&usage).arg("-o").arg(d.join("usage")).args(["--probe", "--version"]));
    assert!(out.contains("ran: /usage --version, exit 0"), "{out}");
    let out = fails_with(staticize().arg("c").arg(&usage).arg("-o").arg(d.join("usage")).args(["--probe", "-x"]), 1);
    assert!(out.contains("failed: /usage -x exited 2"), "{out}");

    let crash = d.join("crash.c");
    std::fs::write(&crash, "int main(void) { volatile int *p = 0; return *p; }\n").unwrap();
    let tar = d.join("crash.tar");
    let out = fails_with(staticize().arg("c").arg(&crash).arg("-o").arg(d.join("crash")).arg("--image").arg(&tar), 1);
    assert!(out.contains("crashed: killed by SIGSEGV"), "{out}");
    assert!(tar.is_file() && d.join("crash").is_file(), "a failed proof leaves the outputs written:\n{out}");
    // check --run gives the same verdict on the archive.
    let out = fails_with(staticize().arg("check").arg(&tar).arg("--run"), 1);
    assert!(out.contains("FAIL") && out.contains("killed by SIGSEGV"), "{out}");
}

/// Debian's perl bundled without its standard library: the ELF closure is complete (check
/// says ok) but a script using `strict` fails the proof run, which names strict.pm, the
/// package that ships it (perl-base) and the flag. With `--package perl-base` the same run
/// passes, and the image prints the same line in podman and docker.
#[test]
fn perl_without_its_stdlib_fails_naming_the_module_its_package_and_the_flag() {
    if !have_sandbox() || !Path::new("/usr/bin/perl").exists() {
        assert!(!e2e_required() || Path::new("/usr/bin/perl").exists(), "apt-get install perl");
        return;
    }
    let t = tempdir();
    let d = t.path();
    let script = ["-e", "use strict; print qq(strict perl\\n);"];
    let bare = d.join("bare.tar");
    ok(staticize().args(["bundle", "/usr/bin/perl", "--no-stdlib", "--no-probe", "-o"]).arg(&bare));
    ok(staticize().arg("check").arg(&bare));
    let out = fails_with(staticize().arg("check").arg(&bare).arg("--run").arg("--").args(script), 1);
    assert!(out.contains("exited 2 after looking for"), "{out}");
    assert!(
        out.contains("looked for /usr/lib/x86_64-linux-gnu/perl-base/strict.pm (perl-base)")
            && out.contains("carry it with --package perl-base"),
        "{out}"
    );
    let v = json(&fails_with(staticize().arg("check").arg(&bare).args(["--run", "--json", "--"]).args(script), 1));
    let missing = &v[0]["proof"]["missing"];
    assert!(
        missing.as_array().unwrap().iter().any(|m| m["package"] == "perl-base" && m["flag"] == "--package perl-base"),
        "{v}"
    );

    // The flag it named carries what was missing: the build's own probe with the same
    // arguments passes, and so does the image in both engines.
    let fixed = d.join("fixed.tar");
    let tag = unique_tag("prove-perl");
    let out = ok(staticize()
        .args(["bundle", "/usr/bin/perl", "--no-stdlib", "--package", "perl-base", "-t", &tag, "-o"])
        .arg(&fixed)
        .arg("--probe")
        .arg(serde_json::to_string(&script).unwrap()));
    assert!(out.contains("proved ran: /perl -e"), "{out}");
    for (engine, stdout) in load_and_run_everywhere(&fixed, &tag, &script) {
        assert_eq!(stdout.trim(), "strict perl", "{engine:?}");
    }
}

/// busybox's httpd (static) as a server: staying up at the limit passes, `--port` answers
/// inside the run's own network namespace, a port nothing listens on fails. check --run works
/// with podman and docker absent from PATH (only strace and bwrap on it).
#[test]
fn a_server_stays_up_and_answers_on_its_port_without_podman_on_path() {
    if !have_sandbox() || !Path::new("/bin/busybox").exists() {
        assert!(!e2e_required() || Path::new("/bin/busybox").exists(), "apt-get install busybox-static");
        return;
    }
    let t = tempdir();
    let d = t.path();
    let tar = d.join("httpd.tar");
    let out = ok(staticize()
        .args(["image", "/bin/busybox", "--cmd", "httpd", "--cmd", "-f", "--cmd", "-p", "--cmd", "8080"])
        .args(["--probe-port", "8080", "-o"])
        .arg(&tar));
    assert!(out.contains("answered on port 8080"), "{out}");
    // Only the sandbox's tools on PATH: no podman, no docker.
    let tools = d.join("tools");
    std::fs::create_dir(&tools).unwrap();
    for tool in ["strace", "bwrap"] {
        let found = std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        std::os::unix::fs::symlink(String::from_utf8_lossy(&found.stdout).trim(), tools.join(tool)).unwrap();
    }
    let check = || {
        let mut c = staticize();
        c.env("PATH", &tools).arg("check").arg(&tar).arg("--run");
        c
    };
    let out = ok(check().args(["--timeout", "1"]));
    assert!(out.contains("still running after 1 s"), "{out}");
    let out = ok(check().args(["--timeout", "1", "--port", "8080"]));
    assert!(out.contains("answered on port 8080"), "{out}");
    let out = fails_with(check().args(["--timeout", "1", "--port", "8081"]), 1);
    assert!(out.contains("did not answer on port 8081"), "{out}");
}

/// A dynamic program in a root that has only the program: it never starts, and the verdict
/// names its interpreter (owned by libc6). With the loader but not libc, the loader stops it
/// and libc.so.6 is named with `--lib`.
#[test]
fn a_dynamic_program_without_its_loader_or_libc_is_named() {
    if !have_sandbox() || !have("gcc") {
        return;
    }
    let t = tempdir();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    let src = t.path().join("dyn.c");
    std::fs::write(&src, "#include <stdio.h>\nint main(void) { puts(\"dynamic\"); return 0; }\n").unwrap();
    ok(std::process::Command::new("gcc").arg(&src).arg("-o").arg(root.join("bin/dyn")));
    let out = fails_with(staticize().arg("check").arg(&root).args(["--run", "--", "/bin/dyn"]), 1);
    assert!(out.contains("did not start: its interpreter /lib64/ld-linux-x86-64.so.2 is not in the image"), "{out}");
    assert!(out.contains("(libc6)"), "{out}");
    std::fs::create_dir_all(root.join("lib64")).unwrap();
    std::fs::copy("/lib64/ld-linux-x86-64.so.2", root.join("lib64/ld-linux-x86-64.so.2")).unwrap();
    let out = fails_with(staticize().arg("check").arg(&root).args(["--run", "--", "/bin/dyn"]), 1);
    assert!(out.contains("was stopped by the loader") && out.contains("libc.so.6"), "{out}");
    assert!(out.contains("carry it with --lib libc.so.6"), "{out}");
    // A root alone has no command: the arguments are required.
    let out = fails_with(staticize().arg("check").arg(&root).arg("--run"), 2);
    assert!(out.contains("nothing to run"), "{out}");
}

/// A `[probe.NAME]` table in staticize.toml names an output's run for CI. Debian's `file`
/// bundled without its magic database fails its default run (it looks for the magic files and
/// exits 1); `[probe.file] args = ["--version"]` names a run that passes — shown in the plan,
/// run by the build, and the image then runs in podman and docker the same way. A flag wins
/// over its key; `skip = true` and `--no-probe` skip; an unknown key is refused at its place.
#[test]
fn a_probe_table_in_staticize_toml_names_the_run_per_output() {
    if !have_sandbox() || !Path::new("/usr/bin/file").exists() {
        assert!(!e2e_required() || Path::new("/usr/bin/file").exists(), "apt-get install file");
        return;
    }
    let t = tempdir();
    let d = t.path();
    let bundle = || {
        let mut c = staticize();
        c.current_dir(d).args(["bundle", "/usr/bin/file", "-o", "file.tar"]);
        c
    };
    let out = fails_with(&mut bundle(), 1);
    assert!(out.contains("/file exited 1 after looking for") && out.contains("(libmagic-mgc)"), "{out}");
    let config = d.join("staticize.toml");
    std::fs::write(&config, "[probe.file]\nargs = [\"--version\"]\ntimeout = 3\n[probe.other]\nskip = true\n").unwrap();
    let out = ok(bundle().arg("--plan"));
    assert!(out.contains("proof run in its own root: --version, 3s, from staticize.toml [probe.file]"), "{out}");
    let v = json(&ok(bundle().arg("--json")));
    assert_eq!(v["proof"]["verdict"], "ran: /file --version, exit 0", "{v}");
    let tag = unique_tag("probe-table-file");
    ok(bundle().args(["-t", &tag, "--no-sbom"]));
    for (engine, stdout) in load_and_run_everywhere(&d.join("file.tar"), &tag, &["--version"]) {
        assert!(stdout.starts_with("file-"), "{engine:?}: {stdout}");
    }
    // The flag wins over the table's args: a run the flag names that exits non-zero fails.
    let out = fails_with(bundle().args(["--probe", "--no-such-flag"]), 1);
    assert!(out.contains("/file --no-such-flag"), "{out}");
    let out = ok(bundle().arg("--no-probe"));
    assert!(out.contains("not run (--no-probe"), "{out}");
    std::fs::write(&config, "[probe.file]\nskip = true\n").unwrap();
    let out = ok(&mut bundle());
    assert!(out.contains("skip = true in its [probe.NAME] table") && !out.contains("proved"), "{out}");
    std::fs::write(&config, "[probe.file]\nargz = [\"--version\"]\n").unwrap();
    let out = fails_with(&mut bundle(), 4);
    assert!(out.contains("staticize.toml:2:1") && out.contains("unknown field `argz`"), "{out}");
    assert!(out.contains("[probe.NAME] with the keys args, timeout, port, skip"), "{out}");
}
