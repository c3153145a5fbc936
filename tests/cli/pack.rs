//! `staticize pack`: real Debian programs (redis-server), gcc and musl-gcc programs and a real
//! Node executable packed into one static file, run from memory on the host, in podman and
//! docker scratch images (no /tmp, read-only, noexec /tmp), and arm64 under qemu; each launcher
//! failure provoked for real.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

const PROGRAM: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    printf("argv0=%s", argv[0]);
    for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
    const char *g = getenv("GREETING");
    printf(" GREETING=%s\n", g ? g : "(unset)");
    return argc > 1 && strcmp(argv[1], "fail") == 0 ? 7 : 0;
}
"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Compiles PROGRAM dynamically with `cc` into `dir/name`.
fn compile(cc: &str, dir: &Path, name: &str) -> PathBuf {
    let src = dir.join("prog.c");
    fs::write(&src, PROGRAM).unwrap();
    let out = dir.join(name);
    ok(Command::new(cc).arg("-O2").arg(&src).arg("-o").arg(&out));
    out
}

/// Packs `program` into `out` without an image; returns staticize's output.
fn pack(program: &Path, out: &Path) -> String {
    ok(staticize().arg("pack").arg(program).arg("-o").arg(out).arg("--no-image"))
}

#[test]
fn packed_glibc_and_musl_programs_behave_as_themselves() {
    if !have("gcc") || !have("musl-gcc") {
        return;
    }
    let t = tempdir();
    for (cc, loader) in [("gcc", "ld-linux-x86-64.so.2"), ("musl-gcc", "ld-musl-x86_64.so.1")] {
        let prog = compile(cc, t.path(), &format!("prog-{cc}"));
        let packed = t.path().join(format!("packed-{cc}"));
        let out = pack(&prog, &packed);
        assert!(out.contains("static: launcher"), "{out}");
        // Arguments, environment, argv[0] and the exit status are the program's own.
        let o = run(Command::new(&packed).args(["fail", "a b"]).env("GREETING", "hi"));
        assert_eq!(o.status.code(), Some(7), "{cc}: {}", text(&o));
        let argv0 = packed.display().to_string();
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("argv0={argv0} [fail] [a b] GREETING=hi\n"));
        // On one CPU the launcher starts no thread; the program is the same.
        if have("taskset") {
            let o =
                run(Command::new("taskset").args(["-c", "0"]).arg(&packed).args(["fail", "a b"]).env("GREETING", "hi"));
            assert_eq!(o.status.code(), Some(7), "{cc} on one CPU: {}", text(&o));
            assert!(String::from_utf8_lossy(&o.stdout).ends_with("[fail] [a b] GREETING=hi\n"), "{}", text(&o));
        }
        // check: static, and what it carries.
        let checked = ok(staticize().arg("check").arg(&packed));
        assert!(checked.contains(": static, amd64"), "{checked}");
        assert!(checked.contains(&format!("packed: carries prog-{cc} with {loader}")), "{checked}");
        let json: serde_json::Value =
            serde_json::from_str(&ok(staticize().args(["--json", "check"]).arg(&packed))).unwrap();
        let entries = json[0]["packed"]["carries"]["entries"].as_array().unwrap().clone();
        assert_eq!(entries[0]["role"], "program");
        assert_eq!(entries[1]["role"], "interpreter");
        assert_eq!(entries[1]["name"], loader);
        if cc == "gcc" {
            assert!(entries.iter().any(|e| e["name"] == "libc.so.6" && e["role"] == "library"), "{json}");
        }
        // The same input gives the same bytes.
        let again = t.path().join(format!("again-{cc}"));
        pack(&prog, &again);
        assert_eq!(sha256_file(&packed), sha256_file(&again), "{cc}: packing is deterministic");
    }
}

/// The `Cpus_allowed_list` line of `/proc/self/status` as `cat` (packed or not) prints it.
fn cpus_allowed(cat: &Path, taskset: Option<&str>) -> String {
    let o = match taskset {
        Some(cpus) => run(Command::new("taskset").args(["-c", cpus]).arg(cat).arg("/proc/self/status")),
        None => run(Command::new(cat).arg("/proc/self/status")),
    };
    assert!(o.status.success(), "{}", text(&o));
    let status = String::from_utf8_lossy(&o.stdout).into_owned();
    status.lines().find(|l| l.starts_with("Cpus_allowed_list")).unwrap_or_default().to_string()
}

#[test]
fn the_packed_program_runs_with_the_callers_cpu_affinity() {
    if !have("taskset") {
        return;
    }
    // The launcher keeps its decoding threads off its own CPU; the program must not inherit that.
    let t = tempdir();
    let cat = which::which("cat").unwrap();
    let packed = t.path().join("cat");
    pack(&cat, &packed);
    assert_eq!(cpus_allowed(&packed, None), cpus_allowed(&cat, None));
    assert_eq!(cpus_allowed(&packed, Some("0")), cpus_allowed(&cat, Some("0")));
}

#[test]
fn each_launcher_failure_is_named_with_its_own_status() {
    if !have("gcc") || !have("unshare") {
        return;
    }
    let t = tempdir();
    let packed = t.path().join("packed");
    pack(&compile("gcc", t.path(), "prog"), &packed);

    // Truncated: the launcher says so (117) and check fails it.
    let cut = t.path().join("cut");
    let bytes = fs::read(&packed).unwrap();
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fs::set_permissions(&cut, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = run(&mut Command::new(&cut));
    assert_eq!(o.status.code(), Some(117), "{}", text(&o));
    assert!(text(&o).contains("its end was cut off"), "{}", text(&o));
    assert!(o.stdout.is_empty(), "no half program ran");
    let checked = fails_with(staticize().arg("check").arg(&cut), 1);
    assert!(checked.contains("packed, but no packed payload"), "{checked}");
    assert!(
        checked.contains("help: a damaged or truncated packed file cannot run: pack the program again"),
        "{checked}"
    );
    assert!(!checked.contains("rebuild statically"), "the help is about the pack: {checked}");
    // Damaged inside the first frame (just after the header) or the last (near the end): the
    // frame's zstd checksum catches it, whichever thread decodes it.
    let n = bytes.len();
    let header_end = u64::from_le_bytes(bytes[n - 24..n - 16].try_into().unwrap())
        + u64::from(u32::from_le_bytes(bytes[n - 28..n - 24].try_into().unwrap()));
    for at in [header_end as usize + 200, n - 4096] {
        let mut bad = bytes.clone();
        bad[at] ^= 0xff;
        let damaged = t.path().join("damaged");
        fs::write(&damaged, &bad).unwrap();
        fs::set_permissions(&damaged, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let o = run(&mut Command::new(&damaged));
        assert_eq!(o.status.code(), Some(117), "byte {at}: {}", text(&o));
        assert!(text(&o).contains("damaged"), "{}", text(&o));
        assert!(o.stdout.is_empty(), "no half program ran");
    }

    // No /proc: a mount namespace with /proc unmounted.
    let script = format!("umount -l /proc && exec {}", packed.display());
    let o = run(Command::new("unshare").args(["--mount", "--fork", "sh", "-c", &script]));
    assert_eq!(o.status.code(), Some(118), "{}", text(&o));
    assert!(text(&o).contains("/proc is not mounted"), "{}", text(&o));

    // Executable memory files refused: vm.memfd_noexec=2 in a PID namespace of its own
    // (Linux 6.3+; the setting is per PID namespace, so the machine is untouched).
    if Path::new("/proc/sys/vm/memfd_noexec").exists() {
        let script = format!("echo 2 > /proc/sys/vm/memfd_noexec && exec {}", packed.display());
        let o = run(Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script]));
        assert_eq!(o.status.code(), Some(120), "{}", text(&o));
        assert!(text(&o).contains("vm.memfd_noexec"), "{}", text(&o));
    } else {
        eprintln!("NOTE: this kernel predates vm.memfd_noexec (Linux 6.3): nothing to refuse with it");
    }
}

/// `deny NAME ERRNO PROGRAM ARGS…`: runs PROGRAM under a seccomp filter that fails the system
/// call NAME (execveat, clone or memfd_create) with ERRNO, as a container runtime's profile can.
const DENY: &str = r#"#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    unsigned nr = strcmp(argv[1], "execveat") == 0 ? SYS_execveat
                : strcmp(argv[1], "clone") == 0    ? SYS_clone
                                                   : SYS_memfd_create;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)atoi(argv[2])),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        perror("seccomp");
        return 3;
    }
    execv(argv[3], argv + 3);
    perror("execv");
    return 4;
}
"#;

#[test]
fn seccomp_refusals_are_named_and_nothing_runs() {
    if !have("gcc") {
        return;
    }
    let t = tempdir();
    let packed = t.path().join("packed");
    pack(&compile("gcc", t.path(), "prog"), &packed);
    fs::write(t.path().join("deny.c"), DENY).unwrap();
    let deny = t.path().join("deny");
    ok(Command::new("gcc").arg("-O2").arg(t.path().join("deny.c")).arg("-o").arg(&deny));
    // (system call, errno, status, what the message names)
    let cases = [
        ("execveat", "1", 120, "executing from memory was refused (EPERM)"),
        ("memfd_create", "1", 120, "executable memory files are refused (EPERM)"),
        // ENOSYS: what a kernel without memfd_create answers.
        ("memfd_create", "38", 119, "this kernel has no memfd_create"),
    ];
    for (call, errno, code, says) in cases {
        let o = run(Command::new(&deny).args([call, errno]).arg(&packed).arg("fail"));
        assert_eq!(o.status.code(), Some(code), "{call} {errno}: {}", text(&o));
        assert!(text(&o).contains(says), "{call} {errno}: {}", text(&o));
        assert!(o.stdout.is_empty(), "{call}: no half program ran");
    }
    // execveat missing (ENOSYS, as under qemu-user): the launcher falls back to execve of
    // /proc/self/fd/N and the program runs as itself.
    let o = run(Command::new(&deny).args(["execveat", "38"]).arg(&packed).args(["fail", "x"]));
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("[fail] [x]"), "{}", text(&o));
    // No threads allowed (clone refused): the launcher decodes every frame on its own thread.
    let o = run(Command::new(&deny).args(["clone", "1"]).arg(&packed).args(["fail", "y"]));
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("[fail] [y]"), "{}", text(&o));
}

/// Runs redis from `tag` with `extra` run flags and waits for PONG; then stops it and returns
/// the container's exit code and how long the stop took.
fn redis_answers(engine: Engine, tag: &str, extra: &[&str]) -> (i64, Duration) {
    let port = free_port();
    let name = format!("staticize-pack-redis-{}-{port}", std::process::id());
    let mut cmd = engine.cmd();
    cmd.args(["run", "-d", "--name", &name, "--network", "host"]).args(extra).arg(tag);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
    let o = run(&mut cmd);
    assert!(o.status.success(), "{engine:?} run {tag} {extra:?}: {}", text(&o));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline && last.trim() != "PONG" {
        last = text(&run(Command::new("redis-cli").args(["-p", &port.to_string(), "ping"])));
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs = text(&run(engine.cmd().args(["logs", &name])));
    let started = Instant::now();
    let stopped = run(engine.cmd().args(["stop", "-t", "10", &name]));
    let took = started.elapsed();
    let state = run(engine.cmd().args(["inspect", "--format", "{{.State.ExitCode}}", &name]));
    let _ = run(engine.cmd().args(["rm", "-f", &name]));
    assert_eq!(last.trim(), "PONG", "{engine:?} {extra:?}: no PONG on {port}; logs:\n{logs}");
    assert!(stopped.status.success(), "{}", text(&stopped));
    (String::from_utf8_lossy(&state.stdout).trim().parse().unwrap_or(-1), took)
}

#[test]
fn packed_redis_answers_from_a_one_file_image_without_tmp_read_only_and_noexec_tmp() {
    if !have("redis-server") || !have("redis-cli") {
        return;
    }
    let t = tempdir();
    let packed = t.path().join("redis-server");
    let tar = t.path().join("redis-server.tar");
    let tag = unique_tag("packed-redis");
    let out = ok(staticize().arg("pack").arg("/usr/bin/redis-server").arg("-o").arg(&packed).args(["-t", &tag]));
    eprintln!("packed redis-server: {} B\n{out}", fs::metadata(&packed).unwrap().len());
    // The image holds that one file and nothing else.
    let listing = ok(staticize().arg("inspect").arg(&tar));
    assert!(listing.contains("/redis-server"), "{listing}");
    assert!(!listing.contains("/lib"), "only the packed file: {listing}");
    // What is packed is in the SBOM, with the packages' status.d records in the image so that
    // a scanner sees them too: syft finds every package the SBOM lists.
    let doc: serde_json::Value =
        serde_json::from_slice(&fs::read(t.path().join("redis-server.spdx.json")).unwrap()).unwrap();
    let listed = crate::sbom::syft_sees_all(&tar, &doc);
    for name in ["libc6", "libssl3", "libjemalloc2", "redis-tools"] {
        assert!(listed.iter().any(|(n, _)| n == name), "{name} in the SBOM: {listed:?}");
    }
    for engine in Engine::available() {
        engine.load(&tar);
        for extra in [&[][..], &["--read-only"][..], &["--read-only", "--tmpfs", "/tmp:rw,noexec"][..]] {
            let (code, took) = redis_answers(engine, &tag, extra);
            // SIGTERM reached redis itself: it shut down cleanly, well within the timeout.
            assert_eq!(code, 0, "{engine:?} {extra:?}: redis' own exit status after SIGTERM");
            assert!(took < Duration::from_secs(9), "{engine:?}: stop took {took:?}");
        }
        // A program's exit status comes through the image too.
        let o = run(engine.cmd().args(["run", "--rm", "--network", "none", &tag, "/nonexistent.conf"]));
        assert_eq!(o.status.code(), Some(1), "{engine:?}: redis' own status for a missing config: {}", text(&o));
        engine.remove(&tag);
    }
}

/// hello-node installed from its lockfile (examples/hello-node).
fn hello_node() -> tempfile::TempDir {
    crate::node::install(&repo().join("examples/hello-node"), &["server.js", "package.json", "package-lock.json"])
}

#[test]
fn hello_node_is_packed_static_and_its_images_answer_and_stop_with_nodes_status() {
    if !crate::node::have_node() {
        return;
    }
    let project = hello_node();
    let t = tempdir();
    let bin = t.path().join("hello-node");
    let tag = unique_tag("hello-node-init");
    let out = ok(staticize().arg("node").arg(project.path().join("server.js")).arg("-o").arg(&bin).args(["-t", &tag]));
    assert!(out.contains("/init runs first as PID 1"), "{out}");
    let checked = ok(staticize().arg("check").arg(&bin));
    assert!(checked.contains(": static, amd64") && checked.contains("packed: carries hello-node"), "{checked}");
    // The node image (node's closure + /init): podman stop and docker stop end it within the
    // timeout, with the program's own status (hello-node closes its server on the forwarded
    // SIGTERM and exits 0).
    let tar = t.path().join("hello-node.tar");
    for engine in Engine::available() {
        engine.load(&tar);
        let port = free_port();
        let name = format!("staticize-pack-node-{}-{port}", std::process::id());
        ok(engine.cmd().args(["run", "-d", "--name", &name, "--network", "host", "-e", &format!("PORT={port}"), &tag]));
        let resp = crate::node::http_get(port, "/?name=init");
        let started = Instant::now();
        let stopped = run(engine.cmd().args(["stop", "-t", "20", &name]));
        let took = started.elapsed();
        let code = text(&run(engine.cmd().args(["inspect", "--format", "{{.State.ExitCode}}", &name])));
        let _ = run(engine.cmd().args(["rm", "-f", &name]));
        engine.remove(&tag);
        assert!(resp.is_ok_and(|r| r.contains("Hello, init!")), "{engine:?}: no HTTP answer");
        assert!(stopped.status.success(), "{}", text(&stopped));
        assert!(took < Duration::from_secs(15), "{engine:?}: stop took {took:?} (the timeout is 20 s)");
        assert_eq!(code.trim(), "0", "{engine:?}: hello-node's own status after SIGTERM");
    }

    // staticize pack on the dynamic executable: a one-file image answers HTTP.
    let dynamic = t.path().join("hello-dyn");
    ok(staticize()
        .arg("node")
        .arg(project.path().join("server.js"))
        .args(["--no-pack", "--no-image", "-o"])
        .arg(&dynamic));
    let packed = t.path().join("hello-packed");
    let tag = unique_tag("hello-node-packed");
    let out = ok(staticize().arg("pack").arg(&dynamic).arg("-o").arg(&packed).args(["--init", "-t", &tag]));
    assert!(out.contains("static: launcher"), "{out}");
    for engine in Engine::available() {
        engine.load(&t.path().join("hello-packed.tar"));
        let port = free_port();
        let name = format!("staticize-pack-node1-{}-{port}", std::process::id());
        ok(engine.cmd().args([
            "run",
            "-d",
            "--read-only",
            "--name",
            &name,
            "--network",
            "host",
            "-e",
            &format!("PORT={port}"),
            &tag,
        ]));
        let resp = crate::node::http_get(port, "/?name=packed");
        let logs = text(&run(engine.cmd().args(["logs", &name])));
        let _ = run(engine.cmd().args(["rm", "-f", &name]));
        engine.remove(&tag);
        assert!(resp.as_ref().is_ok_and(|r| r.contains("Hello, packed!")), "{engine:?}: {resp:?}\n{logs}");
    }
}

/// A Node program that ignores SIGTERM (says so on stdout) and answers HTTP.
const STUBBORN: &str = r#"'use strict';
const http = require('node:http');
process.on('SIGTERM', () => console.log('got SIGTERM, ignoring it'));
http.createServer((req, res) => res.end('stubborn\n')).listen(Number(process.env.PORT), () => console.log(`listening as pid ${process.pid}`));
"#;

#[test]
fn the_node_images_init_forwards_sigterm_and_a_program_ignoring_it_is_killed_at_the_timeout() {
    if !crate::node::have_node() {
        return;
    }
    let t = tempdir();
    fs::write(t.path().join("stubborn.js"), STUBBORN).unwrap();
    let tag = unique_tag("stubborn-node");
    let out = ok(staticize()
        .arg("node")
        .arg(t.path().join("stubborn.js"))
        .arg("-o")
        .arg(t.path().join("stubborn"))
        .args(["-t", &tag]));
    assert!(out.contains("/init runs first as PID 1"), "{out}");
    for engine in Engine::available() {
        engine.load(&t.path().join("stubborn.tar"));
        let port = free_port();
        let name = format!("staticize-stubborn-{}-{port}", std::process::id());
        ok(engine.cmd().args(["run", "-d", "--name", &name, "--network", "host", "-e", &format!("PORT={port}"), &tag]));
        let resp = crate::node::http_get(port, "/");
        let started = Instant::now();
        let stopped = run(engine.cmd().args(["stop", "-t", "2", &name]));
        let took = started.elapsed();
        let code = text(&run(engine.cmd().args(["inspect", "--format", "{{.State.ExitCode}}", &name])));
        let logs = text(&run(engine.cmd().args(["logs", &name])));
        let _ = run(engine.cmd().args(["rm", "-f", &name]));
        engine.remove(&tag);
        assert!(resp.is_ok_and(|r| r.contains("stubborn")), "{engine:?}: no HTTP answer; logs:\n{logs}");
        assert!(stopped.status.success(), "{}", text(&stopped));
        // The init passed SIGTERM on (node's handler ran), the program kept running, and the
        // engine's SIGKILL at the 2 s timeout ended the container: 128 + 9, as documented.
        assert!(!logs.contains("listening as pid 1\n"), "{engine:?}: node is PID 1, not the init:\n{logs}");
        assert!(logs.contains("got SIGTERM, ignoring it"), "{engine:?}: SIGTERM never reached node:\n{logs}");
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(10),
            "{engine:?}: stop took {took:?}"
        );
        assert_eq!(code.trim(), "137", "{engine:?}: the container's status after the timeout's SIGKILL");
    }
}

#[test]
fn an_arm64_node_executable_is_packed_and_runs_under_qemu() {
    if !crate::node::have_node() || !have("qemu-aarch64-static") || !have("unshare") || !have("aarch64-linux-gnu-strip")
    {
        return;
    }
    let project = hello_node();
    let t = tempdir();
    let bin = t.path().join("hello-arm64");
    let out = ok(staticize()
        .arg("node")
        .arg(project.path().join("server.js"))
        .args(["--platform", "linux/arm64", "--no-image", "-o"])
        .arg(&bin));
    assert!(out.contains("static: launcher"), "{out}");
    let checked = ok(staticize().arg("check").arg(&bin));
    assert!(checked.contains(": static, arm64") && checked.contains("with ld-linux-aarch64.so.1"), "{checked}");
    // The launcher executes the loader from memory: the kernel must hand that arm64 file to
    // qemu too, so qemu is registered with binfmt_misc — in a user namespace of its own
    // (Linux 6.7+), leaving the machine's binfmt_misc alone.
    let magic = r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00";
    let mask = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff";
    let port = free_port();
    let script = format!(
        "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && \
         printf '%s' ':staticize-aarch64:M::{magic}:{mask}:/usr/bin/qemu-aarch64-static:OF' > /proc/sys/fs/binfmt_misc/register && \
         exec {}",
        bin.display()
    );
    let child = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--fork", "--kill-child", "sh", "-c", &script])
        .env("PORT", port.to_string())
        .spawn()
        .unwrap();
    let mut child = scopeguard_child(child);
    let resp = crate::node::http_get_within(port, "/?name=arm64", 120);
    let _ = child.0.kill();
    let _ = child.0.wait();
    assert!(resp.as_ref().is_ok_and(|r| r.contains("Hello, arm64!")), "{resp:?}");
}

/// Kills the child when the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scopeguard_child(c: std::process::Child) -> KillOnDrop {
    KillOnDrop(c)
}
