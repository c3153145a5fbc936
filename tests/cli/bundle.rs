//! `staticize bundle` and `staticize check` on images: real Debian programs (redis-server,
//! sqlite3) carried into scratch with their library closure and run by podman and docker; the
//! closure compared with pax-utils' lddtree and with what the real loader does; dlopen notes;
//! missing libraries.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use staticize::closure::{self, EntryKind, ResolveOptions};

use crate::support::*;

/// A TCP port nobody listens on right now (the kernel picks it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Compiles a C source with gcc and extra arguments; panics with gcc's output on failure.
#[track_caller]
fn gcc(dir: &Path, src: &str, out: &str, args: &[&str]) -> PathBuf {
    let c = dir.join(format!("{out}.c"));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(out);
    ok(Command::new("gcc").arg(&c).arg("-o").arg(&out).args(args).current_dir(dir));
    out
}

fn json(o: &str) -> serde_json::Value {
    let start = o.find('{').expect("JSON on stdout");
    serde_json::Deserializer::from_str(&o[start..]).into_iter().next().unwrap().unwrap()
}

/// `lddtree -l FILE` from pax-utils (a Python script that needs pyelftools): the file itself,
/// then the interpreter and every library, each as the path it was found under.
fn lddtree_list(file: &Path) -> Option<BTreeSet<PathBuf>> {
    if !have("lddtree") {
        return None;
    }
    // Debian's lddtree runs with whatever python3 is first on PATH; pyelftools may live only in
    // the system interpreter.
    let script = String::from_utf8(run(Command::new("sh").args(["-c", "command -v lddtree"])).stdout).unwrap();
    let pythons = ["python3", "/usr/bin/python3"];
    let python =
        pythons.iter().find(|p| Command::new(p).args(["-c", "import elftools"]).status().is_ok_and(|s| s.success()));
    let python = python.unwrap_or_else(|| panic!("lddtree needs pyelftools: apt-get install python3-pyelftools"));
    let out = ok(Command::new(python).arg(script.trim()).arg("-l").arg(file));
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    assert_eq!(Path::new(lines.next().unwrap()), file, "lddtree -l starts with the file itself");
    // Both sides compared as real paths: lddtree reports /lib/…, the closure /usr/lib/… on a
    // merged-/usr system.
    Some(lines.map(|l| std::fs::canonicalize(l).unwrap()).collect())
}

/// The closure's interpreter and DT_NEEDED files, as real paths (dlopen ones are extra: lddtree
/// does not read notes).
fn closure_list(file: &Path) -> BTreeSet<PathBuf> {
    let c = closure::resolve(file, &ResolveOptions::default()).unwrap();
    assert!(c.unresolved.is_empty(), "{}: unresolved {:?}", file.display(), c.unresolved);
    c.files()
        .filter(|e| matches!(e.kind, EntryKind::Interp | EntryKind::Needed))
        .map(|e| std::fs::canonicalize(&e.host_path).unwrap())
        .collect()
}

fn node_path() -> Option<PathBuf> {
    let out = run(Command::new("sh").args(["-c", "command -v node"]));
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if p.is_empty() {
        have("node");
        return None;
    }
    Some(std::fs::canonicalize(p).unwrap())
}

#[test]
fn closure_of_node_and_redis_equals_lddtree() {
    let mut files = vec![PathBuf::from("/usr/bin/redis-server")];
    if !have("redis-server") {
        return;
    }
    if let Some(node) = node_path() {
        files.push(node);
    }
    for f in files {
        let Some(expected) = lddtree_list(&f) else { return };
        let got = closure_list(&f);
        assert!(!got.is_empty());
        assert_eq!(got, expected, "closure of {} differs from lddtree -l", f.display());
    }
}

#[test]
fn closure_keeps_symlink_chains_and_the_interpreter_path() {
    if !have("redis-server") {
        return;
    }
    let c = closure::resolve(Path::new("/usr/bin/redis-server"), &ResolveOptions::default()).unwrap();
    let interp = c.interp.clone().unwrap();
    // Every link and file of the chain from the PT_INTERP path is carried, so the kernel finds
    // the interpreter at that exact path in the image.
    let t = tempdir();
    for e in &c.entries {
        let dest = t.path().join(e.image_path.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        match &e.link_target {
            Some(target) => std::os::unix::fs::symlink(target, &dest).unwrap(),
            None => {
                std::fs::write(&dest, b"x").unwrap();
            }
        }
    }
    let root = closure::root::Root::new(t.path());
    assert!(root.walk(&interp).is_some(), "{interp} does not resolve inside the copied closure");
    // And every library's soname symlink (libfoo.so.1 → libfoo.so.1.2.3) is there as a link.
    let links = c.entries.iter().filter(|e| e.kind == EntryKind::Symlink).count();
    assert!(links > 0);
    for e in c.entries.iter().filter(|e| e.kind == EntryKind::Symlink) {
        assert!(std::fs::symlink_metadata(&e.host_path).unwrap().file_type().is_symlink());
    }
}

/// RPATH is inherited by the libraries a program loads; RUNPATH is not. The closure must agree
/// with the real loader in both cases.
#[test]
fn rpath_and_runpath_match_the_real_loader() {
    if !have("gcc") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    std::fs::create_dir(d.join("lib")).unwrap();
    gcc(d, "int b(void){return 42;}\n", "lib/libb.so", &["-shared", "-fPIC", "-Wl,-soname,libb.so"]);
    gcc(
        d,
        "int b(void);\nint a(void){return b();}\n",
        "lib/liba.so",
        &["-shared", "-fPIC", "-Wl,-soname,liba.so", "-Llib", "-lb"],
    );
    let main = "int a(void);\nint main(void){return a() == 42 ? 0 : 1;}\n";
    let common = ["-Llib", "-la", "-Wl,-rpath-link,lib", "-Wl,-rpath,$ORIGIN/lib"];
    let with_rpath = gcc(d, main, "with-rpath", &[&common[..], &["-Wl,--disable-new-dtags"]].concat());
    let with_runpath = gcc(d, main, "with-runpath", &[&common[..], &["-Wl,--enable-new-dtags"]].concat());

    let c = closure::resolve(&with_rpath, &ResolveOptions::default()).unwrap();
    assert!(c.unresolved.is_empty(), "{:?}", c.unresolved);
    assert!(c.files().any(|e| e.image_path.ends_with("/lib/libb.so")));
    assert!(c.uses_origin);
    assert!(Command::new(&with_rpath).env_remove("LD_LIBRARY_PATH").status().unwrap().success());

    let c = closure::resolve(&with_runpath, &ResolveOptions::default()).unwrap();
    let missing: Vec<&str> = c.unresolved.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(missing, ["libb.so"], "RUNPATH must not serve liba's own needs");
    assert!(c.unresolved[0].needed_by.ends_with("/lib/liba.so"));
    let real = run(Command::new(&with_runpath).env_remove("LD_LIBRARY_PATH"));
    assert!(!real.status.success() && text(&real).contains("libb.so"), "the real loader agrees: {}", text(&real));

    // The CLI: exit 1 naming the library; --allow-missing writes the image and says what is missing.
    let out = fails_with(staticize().arg("bundle").arg(&with_runpath).arg("-o").arg(d.join("x.tar")), 1);
    assert!(out.contains("libb.so (needed by") && out.contains("--allow-missing"), "{out}");
    assert!(!d.join("x.tar").exists());
    // The image is written, and its proof run fails on the very library allowed missing.
    let out = fails_with(
        staticize().arg("bundle").arg(&with_runpath).arg("-o").arg(d.join("x.tar")).arg("--allow-missing"),
        1,
    );
    assert!(out.contains("missing libb.so"), "{out}");
    assert!(out.contains("stopped by the loader") && out.contains("libb.so: cannot open"), "{out}");
    assert!(d.join("x.tar").is_file(), "{out}");
    // The program keeps its host directory because its RUNPATH says $ORIGIN.
    assert!(out.contains(&format!("{}", std::fs::canonicalize(&with_runpath).unwrap().display())), "{out}");

    // check on that image finds the hole, resolving against the image's files.
    let out = fails_with(staticize().arg("check").arg(d.join("x.tar")), 1);
    assert!(out.contains("missing libb.so"), "{out}");

    // The RPATH program's image is complete.
    ok(staticize().arg("bundle").arg(&with_rpath).arg("-o").arg(d.join("y.tar")));
    let out = ok(staticize().arg("check").arg(d.join("y.tar")));
    assert!(out.contains("its closure is inside the image"), "{out}");
}

fn dlopen_note_program(dir: &Path, name: &str, json: &str) -> PathBuf {
    // The note as systemd's ELF_NOTE_DLOPEN writes it: an SHT_NOTE section ".note.dlopen",
    // owner "FDO", type 0x407c0c0a, a NUL-terminated JSON descriptor padded to 4 bytes.
    let asm_json = json.replace('\\', "\\\\\\\\").replace('"', "\\\\\\\"");
    let src = format!(
        "__asm__(\".pushsection .note.dlopen,\\\"a\\\",@note\\n\"\n\
         \".balign 4\\n.long 4\\n.long 2f - 1f\\n.long 0x407c0c0a\\n.asciz \\\"FDO\\\"\\n\"\n\
         \"1: .asciz \\\"{asm_json}\\\"\\n2: .balign 4\\n.popsection\\n\");\n\
         int main(void) {{ return 0; }}\n"
    );
    gcc(dir, &src, name, &[])
}

#[test]
fn dlopen_notes_are_followed() {
    if !have("gcc") || !have("readelf") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let notes = r#"[{"feature":"zlib","description":"compression","priority":"recommended","soname":["libstaticize-absent.so.9","libz.so.1"]},{"feature":"ghost","priority":"suggested","soname":["libstaticize-ghost.so.1"]}]"#;
    let prog = dlopen_note_program(d, "noted", notes);
    // The note is really there, in the format readelf knows (binutils 2.40 exits 1 on a note
    // type it cannot name, so only its output counts).
    let re = text(&run(Command::new("readelf").arg("-n").arg(&prog)));
    assert!(re.contains(".note.dlopen") && re.contains("FDO") && re.contains("0x407c0c0a"), "{re}");

    let c = closure::resolve(&prog, &ResolveOptions::default()).unwrap();
    let dl: Vec<&str> = c.files().filter(|e| e.kind == EntryKind::Dlopen).map(|e| e.image_path.as_str()).collect();
    assert!(dl.iter().any(|p| p.contains("/libz.so.1")), "{dl:?}");
    assert!(c.unresolved.is_empty());
    assert_eq!(c.optional_missing.len(), 1);
    assert_eq!(c.optional_missing[0].name, "libstaticize-ghost.so.1");
    // Switched off, nothing is added.
    let off = closure::resolve(&prog, &ResolveOptions { dlopen_notes: false, ..Default::default() }).unwrap();
    assert!(off.files().all(|e| e.kind != EntryKind::Dlopen));

    let out = ok(staticize().arg("bundle").arg(&prog).arg("-o").arg(d.join("n.tar")));
    assert!(out.contains("also carried for dlopen()") && out.contains("libz.so.1"), "{out}");
    assert!(out.contains("optional dlopen() library not found: libstaticize-ghost.so.1"), "{out}");

    // A required one that is missing fails like a missing DT_NEEDED.
    let required = r#"[{"priority":"required","soname":["libstaticize-ghost.so.1"]}]"#;
    let prog = dlopen_note_program(d, "needs-ghost", required);
    let out = fails_with(staticize().arg("bundle").arg(&prog).arg("-o").arg(d.join("g.tar")), 1);
    assert!(out.contains("libstaticize-ghost.so.1"), "{out}");
}

#[test]
fn lib_flag_adds_dlopened_libraries() {
    if !have("gcc") {
        return;
    }
    let t = tempdir();
    let prog = gcc(t.path(), "int main(void){return 0;}\n", "plain", &[]);
    let out = ok(staticize()
        .args(["--json", "bundle"])
        .arg(&prog)
        .arg("-o")
        .arg(t.path().join("p.tar"))
        .args(["--lib", "libz.so.1"]));
    let v = json(&out);
    let entries = v["closure"]["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["kind"] == "dlopen" && e["image_path"].as_str().unwrap().contains("libz.so")),
        "{v}"
    );
    let out = fails_with(
        staticize()
            .arg("bundle")
            .arg(&prog)
            .arg("-o")
            .arg(t.path().join("q.tar"))
            .args(["--lib", "libstaticize-nope.so.3"]),
        1,
    );
    assert!(out.contains("libstaticize-nope.so.3 (needed by --lib)"), "{out}");
}

#[test]
fn redis_server_runs_from_its_bundle_in_podman_and_docker() {
    if !have("redis-server") || !have("redis-cli") {
        return;
    }
    let t = tempdir();
    let tar = t.path().join("redis.tar");
    let engines = Engine::available();
    for engine in engines {
        let port = free_port();
        let conf = t.path().join("redis.conf");
        std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\nprotected-mode yes\n"))
            .unwrap();
        let tag = unique_tag("redis");
        let out = ok(staticize()
            .arg("bundle")
            .arg("/usr/bin/redis-server")
            .arg("-o")
            .arg(&tar)
            .arg("-t")
            .arg(&tag)
            .arg("--add")
            .arg(format!("{}:/etc/redis/redis.conf", conf.display()))
            .args(["--expose", "6379"]));
        assert!(out.contains("the program is dynamic, not static"), "{out}");
        assert!(out.contains("/etc/nsswitch.conf"), "{out}");
        eprintln!("redis image: {} bytes", std::fs::metadata(&tar).unwrap().len());
        engine.load(&tar);
        let cfg = engine.inspect(&tag);
        assert!(cfg["Config"]["ExposedPorts"]["6379/tcp"].is_object(), "{cfg}");
        // The entrypoint is the program; the config file is its argument.
        redis_answers_with_conf(engine, &tag, port);
        engine.remove(&tag);
        // check agrees the image is complete.
        let out = ok(staticize().arg("check").arg(&tar));
        assert!(out.contains("/redis-server: dynamic, its closure is inside the image"), "{out}");
    }
}

/// Starts `tag` detached with host networking and waits for `redis-cli -p PORT ping`.
fn redis_answers_with_conf(engine: Engine, tag: &str, port: u16) {
    let name = format!("staticize-redis-{}-{port}", std::process::id());
    let o = run(engine.cmd().args([
        "run",
        "-d",
        "--rm",
        "--name",
        &name,
        "--network",
        "host",
        tag,
        "/etc/redis/redis.conf",
    ]));
    assert!(o.status.success(), "{engine:?} run {tag}: {}", text(&o));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        last = text(&run(Command::new("redis-cli").args(["-p", &port.to_string(), "ping"])));
        if last.trim() == "PONG" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs = run(engine.cmd().args(["logs", &name]));
    let _ = run(engine.cmd().args(["rm", "-f", &name]));
    assert_eq!(last.trim(), "PONG", "{engine:?}: redis did not answer on {port}; logs:\n{}", text(&logs));
}

#[test]
fn sqlite3_runs_a_query_from_its_bundle() {
    if !have("sqlite3") {
        return;
    }
    let t = tempdir();
    let tar = t.path().join("sqlite3.tar");
    let tag = unique_tag("sqlite3");
    let out = ok(staticize().arg("bundle").arg("/usr/bin/sqlite3").arg("-o").arg(&tar).arg("-t").arg(&tag));
    assert!(out.contains("the program is dynamic"), "{out}");
    // The same program gives the same bytes.
    let again = t.path().join("again.tar");
    ok(staticize().arg("bundle").arg("/usr/bin/sqlite3").arg("-o").arg(&again).arg("-t").arg(&tag));
    assert_eq!(sha256_file(&tar), sha256_file(&again));
    let runs = load_and_run_everywhere(&tar, &tag, &[":memory:", "select 6*7, sqlite_version() like '3.%';"]);
    for (engine, stdout) in runs {
        assert_eq!(stdout.trim(), "42|1", "{engine:?}");
    }
}

#[test]
fn check_looks_inside_root_directories() {
    if !have("sqlite3") {
        return;
    }
    let t = tempdir();
    let tar = t.path().join("s.tar");
    ok(staticize().arg("bundle").arg("/usr/bin/sqlite3").arg("-o").arg(&tar));
    // Unpack the layer the way an engine would, then remove one library.
    let oci = t.path().join("oci");
    std::fs::create_dir(&oci).unwrap();
    ok(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&oci));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("manifest.json")).unwrap()).unwrap();
    let rootfs = t.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        let layer = oci.join(layer.as_str().unwrap());
        ok(Command::new("tar").arg("-xzf").arg(&layer).arg("-C").arg(&rootfs));
    }
    let out = ok(staticize().arg("check").arg(&rootfs));
    assert!(out.contains("/sqlite3: dynamic, its closure is inside the rootfs"), "{out}");
    let c = closure::resolve(Path::new("/usr/bin/sqlite3"), &ResolveOptions::default()).unwrap();
    let victim = c.files().find(|e| e.kind == EntryKind::Needed && !e.image_path.ends_with("libc.so.6")).unwrap();
    std::fs::remove_file(rootfs.join(victim.image_path.trim_start_matches('/'))).unwrap();
    let out = fails_with(staticize().arg("check").arg(&rootfs), 1);
    assert!(out.contains("FAIL") && out.contains("missing"), "{out}");
    // The host still has the library: check must not have looked there.
    assert!(victim.host_path.exists());
}

#[test]
fn bundle_refuses_what_is_not_a_program() {
    let t = tempdir();
    let out = fails_with(staticize().arg("bundle").arg(t.path().join("absent")), 4);
    assert!(out.contains("absent"), "{out}");
    let libz = Path::new("/lib/x86_64-linux-gnu/libz.so.1");
    if libz.exists() {
        let out = fails_with(staticize().arg("bundle").arg(libz).arg("-o").arg(t.path().join("l.tar")), 4);
        assert!(out.contains("is a shared library, not a program"), "{out}");
    }
    std::fs::write(t.path().join("script"), "#!/bin/sh\necho hi\n").unwrap();
    let out = fails_with(staticize().arg("bundle").arg(t.path().join("script")), 4);
    assert!(out.contains("script"), "{out}");
}

#[test]
fn check_reads_zstd_images_and_oci_directories() {
    if !have("gcc") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    std::fs::create_dir(d.join("lib")).unwrap();
    gcc(d, "int f(void){return 7;}\n", "lib/libf.so", &["-shared", "-fPIC", "-Wl,-soname,libf.so"]);
    let hole = gcc(d, "int f(void);\nint main(void){return f() == 7 ? 0 : 1;}\n", "hole", &["-Llib", "-lf"]);
    let whole = gcc(d, "int main(void){return 0;}\n", "whole", &[]);

    // Complete: a zstd archive and the same image as an OCI layout directory.
    ok(staticize()
        .arg("bundle")
        .arg(&whole)
        .arg("-o")
        .arg(d.join("w.tar"))
        .args(["--compress", "zstd"])
        .arg("--oci-dir")
        .arg(d.join("w-oci")));
    for target in [d.join("w.tar"), d.join("w-oci")] {
        let out = ok(staticize().arg("check").arg(&target));
        assert!(out.contains("/whole: dynamic, its closure is inside the image"), "{out}");
        let v: serde_json::Value =
            serde_json::from_str(&ok(staticize().args(["check", "--json"]).arg(&target))).unwrap();
        assert_eq!(v[0]["kind"], "image", "{v}");
        assert_eq!(v[0]["command"][0], "/whole", "{v}");
    }

    // A library bundle could not find (no RPATH, not on the loader's path): check on the zstd
    // image names it, resolving against the image's files only.
    // Written with --allow-missing, the image fails its proof run on that library (exit 1).
    let out = fails_with(
        staticize().arg("bundle").arg(&hole).arg("-o").arg(d.join("h.tar")).args([
            "--compress",
            "zstd",
            "--allow-missing",
        ]),
        1,
    );
    assert!(out.contains("missing libf.so") && out.contains("libf.so: cannot open"), "{out}");
    let out = fails_with(staticize().arg("check").arg(d.join("h.tar")), 1);
    assert!(out.contains("missing libf.so"), "{out}");
}

#[test]
fn check_reads_docker_and_podman_saves() {
    if !have("gcc") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let prog = gcc(d, "int main(void){return 0;}\n", "prog", &[]);
    let tag = unique_tag("check-save");
    ok(staticize().arg("bundle").arg(&prog).arg("-o").arg(d.join("p.tar")).arg("-t").arg(&tag));
    let mut saves = Vec::new();
    for engine in Engine::available() {
        engine.load(&d.join("p.tar"));
        let formats: &[&[&str]] = match engine {
            Engine::Podman => &[&[], &["--format", "oci-archive"]],
            Engine::Docker => &[&[]],
        };
        for (i, format) in formats.iter().enumerate() {
            let out = d.join(format!("{engine:?}-{i}.tar"));
            ok(engine.cmd().arg("save").args(*format).arg("-o").arg(&out).arg(&tag));
            saves.push(out);
        }
        engine.remove(&tag);
    }
    for save in &saves {
        let out = ok(staticize().arg("check").arg(save));
        eprintln!("{}: {out}", save.display());
        assert!(out.contains("/prog: dynamic, its closure is inside the image"), "{}: {out}", save.display());
    }
}
