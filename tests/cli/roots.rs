//! Issue 25's root causes, each on real programs run in podman and docker scratch images:
//! a pack whose program asks for a library by a name that is not its SONAME; packed
//! interpreters (Debian's perl and python3.11) with their standard libraries; a python venv
//! (packages from PyPI) through bundle, bundle --trace and pack; slim of a python app image
//! made from a debootstrap root (tests/fixtures/slim/build-python.sh); a set-ID program packed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::*;

/// Builds `dir/libx.so.7.0` (SONAME libx.so.7), `dir/libmid.so.1.0.0` (SONAME libmid.so.1,
/// asking for libx by its file name) and `dir/prog`, which asks for both by file name — as
/// patchelf --replace-needed leaves programs — and finds them through RUNPATH $ORIGIN.
fn misnamed_libraries(dir: &Path) -> PathBuf {
    fs::write(dir.join("x.c"), "int x_value(void) { return 42; }\n").unwrap();
    fs::write(dir.join("mid.c"), "int x_value(void);\nint mid_value(void) { return x_value() + 1; }\n").unwrap();
    fs::write(
        dir.join("prog.c"),
        "#include <stdio.h>\nint x_value(void); int mid_value(void);\nint main(void) { printf(\"x=%d mid=%d\\n\", x_value(), mid_value()); return 0; }\n",
    )
    .unwrap();
    let gcc = |args: &[&str]| ok(Command::new("gcc").current_dir(dir).args(args));
    gcc(&["-shared", "-fPIC", "-Wl,-soname,libx.so.7", "-o", "libx.so.7.0", "x.c"]);
    gcc(&["-shared", "-fPIC", "-Wl,-soname,libmid.so.1", "-o", "libmid.so.1.0.0", "mid.c", "./libx.so.7.0"]);
    gcc(&["-o", "prog", "prog.c", "./libmid.so.1.0.0", "./libx.so.7.0", "-Wl,-rpath,$ORIGIN"]);
    let patch = |args: &[&str]| ok(Command::new("patchelf").current_dir(dir).args(args));
    // gcc recorded the SONAMEs; ask by the file names instead, as the programs do.
    patch(&["--replace-needed", "libx.so.7", "libx.so.7.0", "prog"]);
    patch(&["--replace-needed", "libmid.so.1", "libmid.so.1.0.0", "prog"]);
    patch(&["--replace-needed", "libx.so.7", "libx.so.7.0", "libmid.so.1.0.0"]);
    patch(&["--set-rpath", "$ORIGIN", "libmid.so.1.0.0"]);
    let needed = ok(Command::new("readelf").args(["-d"]).arg(dir.join("prog")));
    assert!(needed.contains("[libx.so.7.0]") && needed.contains("[libmid.so.1.0.0]"), "{needed}");
    dir.join("prog")
}

#[test]
fn a_library_asked_for_by_a_name_that_is_not_its_soname_is_met_by_the_pack_in_scratch() {
    if !have("gcc") || !have("patchelf") {
        return;
    }
    let t = tempdir();
    let prog = misnamed_libraries(t.path());
    let packed = t.path().join("packed");
    let tar = t.path().join("packed.tar");
    let tag = unique_tag("roots-misnamed");
    let out = ok(staticize().arg("pack").arg(&prog).arg("-o").arg(&packed).arg("--image").arg(&tar).args(["-t", &tag]));
    assert!(out.contains("prog asks for libx.so.7.0, a library that calls itself libx.so.7"), "{out}");
    assert!(out.contains("libmid.so.1 asks for libx.so.7.0"), "{out}");
    let checked = ok(staticize().arg("check").arg(&packed));
    assert!(checked.contains("packed: carries prog"), "{checked}");
    // In scratch nothing but the pack can answer: the host's directories are not there.
    for (e, stdout) in load_and_run_everywhere(&tar, &tag, &[]) {
        assert_eq!(stdout, "x=42 mid=43\n", "{e:?}");
    }

    // Packed without the library (allowed): check proves the pack does not meet the name.
    let alone = t.path().join("alone");
    fs::create_dir(&alone).unwrap();
    fs::copy(&prog, alone.join("prog")).unwrap();
    let missing = alone.join("packed");
    ok(staticize().arg("pack").arg(alone.join("prog")).arg("-o").arg(&missing).args(["--no-image", "--allow-missing"]));
    let failed = fails_with(staticize().arg("check").arg(&missing), 1);
    assert!(
        failed.contains("no packed object answers to") && failed.contains("libx.so.7.0 (needed by prog)"),
        "{failed}"
    );
    let o = run(staticize().args(["--json", "check"]).arg(&missing));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let unmet = json[0]["packed"]["incomplete"]["unmet"].as_array().unwrap_or_else(|| panic!("{json}"));
    assert!(unmet.iter().any(|u| u["needed"] == "libx.so.7.0" && u["object"] == "prog"), "{json}");

    // A library with no SONAME at all cannot be asked for by one: refused, named.
    ok(Command::new("gcc").current_dir(t.path()).args(["-shared", "-fPIC", "-o", "libnos.so", "x.c"]));
    fs::write(t.path().join("nos.c"), "int x_value(void);\nint main(void) { return x_value() == 42 ? 0 : 1; }\n")
        .unwrap();
    ok(Command::new("gcc").current_dir(t.path()).args(["-o", "nos", "nos.c", "-L.", "-lnos", "-Wl,-rpath,$ORIGIN"]));
    let refused = fails_with(
        staticize().arg("pack").arg(t.path().join("nos")).arg("-o").arg(t.path().join("nos.packed")).arg("--no-image"),
        4,
    );
    assert!(
        refused.contains("that library has no SONAME") && refused.contains("patchelf --replace-needed"),
        "{refused}"
    );
    for e in Engine::available() {
        e.remove(&tag);
    }
}

#[test]
fn packed_perl_and_python_run_in_scratch_with_their_standard_libraries() {
    let t = tempdir();
    let cases = [
        (
            "/usr/bin/perl",
            vec!["-MPOSIX", "-MList::Util=sum", "-e", "print POSIX::floor(2.7) + sum(1, 2), qq{\\n}"],
            "5\n",
        ),
        (
            "/usr/bin/python3",
            vec![
                "-c",
                "import json, ssl, sqlite3; print(json.dumps(ssl.OPENSSL_VERSION.split()[0]), sqlite3.sqlite_version > '3')",
            ],
            "\"OpenSSL\" True\n",
        ),
    ];
    for (program, args, expect) in cases {
        let name = Path::new(program).file_name().unwrap().to_string_lossy().into_owned();
        let packed = t.path().join(&name);
        let tar = t.path().join(format!("{name}.tar"));
        let tag = unique_tag(&format!("roots-{name}"));
        let out = ok(staticize().arg("pack").arg(program).arg("-o").arg(&packed).arg("--image").arg(&tar).args([
            "-t",
            &tag,
            "--no-sbom",
        ]));
        assert!(out.contains("standard library") && out.contains("beside the packed file"), "{out}");
        assert!(out.contains("the packed file does not hold"), "the single file's limit is said: {out}");
        let checked = ok(staticize().arg("check").arg(&packed));
        assert!(checked.contains("also needs its standard library beside the file"), "{checked}");
        for (e, stdout) in load_and_run_everywhere(&tar, &tag, &args) {
            assert_eq!(stdout, expect, "{e:?} {program}");
        }
    }
}

/// A venv made by Debian's python3.11 with a pure-python package (six) and one with a C
/// extension (markupsafe's _speedups) installed from PyPI; made once per run.
fn venv() -> &'static Path {
    static V: OnceLock<PathBuf> = OnceLock::new();
    V.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("staticize-roots-venv-{}", std::process::id()));
        ok(Command::new("/usr/bin/python3").args(["-m", "venv"]).arg(&dir));
        ok(Command::new(dir.join("bin/pip")).args(["install", "-q", "six==1.16.0", "markupsafe==2.1.5"]));
        dir
    })
}

const VENV_PROBE: &str = "import sys, six, markupsafe._speedups as s; print(sys.prefix, six.__version__, s.__name__)";

#[test]
fn a_venvs_python_keeps_its_venv_in_bundle_trace_and_pack() {
    let v = venv();
    let python = v.join("bin/python");
    let expect = format!("{} 1.16.0 markupsafe._speedups\n", v.display());
    let t = tempdir();
    let bundled = t.path().join("bundle.tar");
    let traced = t.path().join("trace.tar");
    let packed_tar = t.path().join("pack.tar");
    let tags = [unique_tag("roots-venv-b"), unique_tag("roots-venv-t"), unique_tag("roots-venv-p")];
    let out = ok(staticize().arg("bundle").arg(&python).arg("-o").arg(&bundled).args(["-t", &tags[0], "--no-sbom"]));
    assert!(out.contains("carried the virtual environment"), "{out}");
    ok(staticize().arg("bundle").arg(&python).arg("-o").arg(&traced).args([
        "-t",
        &tags[1],
        "--no-sbom",
        "--trace",
        "--",
        "-c",
        VENV_PROBE,
    ]));
    ok(staticize()
        .arg("pack")
        .arg(&python)
        .arg("-o")
        .arg(t.path().join("python"))
        .arg("--image")
        .arg(&packed_tar)
        .args(["-t", &tags[2], "--no-sbom"]));
    for (tar, tag) in [(&bundled, &tags[0]), (&traced, &tags[1]), (&packed_tar, &tags[2])] {
        for (e, stdout) in load_and_run_everywhere(tar, tag, &["-c", VENV_PROBE]) {
            assert_eq!(stdout, expect, "{e:?} {}", tar.display());
        }
    }
}

/// The python app images (tests/fixtures/slim/build-python.sh), built on first use.
fn python_images() -> Option<&'static (PathBuf, PathBuf)> {
    static I: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    I.get_or_init(|| {
        if !have("debootstrap") || !have("podman") {
            return None;
        }
        let cache = std::env::var("STATICIZE_TEST_CACHE").unwrap_or_else(|_| "/var/tmp/staticize-test-cache".into());
        let out = std::env::temp_dir().join(format!("staticize-slim-python-{}", std::process::id()));
        let script = repo().join("tests/fixtures/slim/build-python.sh");
        ok(Command::new(script).arg(Path::new(&cache).join("squash")).arg(&out));
        Some((out.join("python.tar"), out.join("python-nolib.tar")))
    })
    .as_ref()
}

#[test]
fn slim_keeps_the_script_the_command_names_the_stdlib_and_the_kept_modules_libraries() {
    let Some((image, nolib)) = python_images() else { return };
    let t = tempdir();
    let slim = t.path().join("slim.tar");
    let tag = unique_tag("roots-slim-python");
    let out = ok(staticize().arg("slim").arg(image).arg("-o").arg(&slim).args([
        "-t",
        &tag,
        "--no-sbom",
        "--keep",
        "/usr/lib/python3/dist-packages",
    ]));
    assert!(out.contains("argument: /app/app.py"), "{out}");
    assert!(out.contains("stdlib: the python standard library /usr/lib/python3.11"), "{out}");
    assert!(out.contains("carried") && out.contains("more libraries from the image"), "_yaml's libyaml: {out}");
    ok(staticize().arg("check").arg(&slim));
    let expect = "{\"doc\": {\"items\": [1, 2, 3], \"name\": \"slim\"}, \"python\": [3, 11]}\n";
    for (e, stdout) in load_and_run_everywhere(&slim, &tag, &[]) {
        assert_eq!(stdout, expect, "{e:?}");
    }

    // libyaml deleted from the image: the kept module's library is missing, so slim refuses…
    let broken = t.path().join("broken.tar");
    let keep = ["--no-sbom", "--keep", "/usr/lib/python3/dist-packages"];
    let refused = fails_with(staticize().arg("slim").arg(nolib).arg("-o").arg(&broken).args(keep), 1);
    assert!(refused.contains("libyaml-0.so.2"), "{refused}");
    assert!(!broken.exists(), "no image when the closure is incomplete");
    // …and with --allow-missing writes it but fails its own check, as check does.
    let failed =
        fails_with(staticize().arg("slim").arg(nolib).arg("-o").arg(&broken).args(keep).arg("--allow-missing"), 1);
    assert!(failed.contains("fails staticize check") && failed.contains("libyaml-0.so.2"), "{failed}");
    assert!(broken.exists(), "the image stays written, reported failed");
    fails_with(staticize().arg("check").arg(&broken), 1);
}

#[test]
fn a_set_id_program_packed_says_what_differs_and_the_launcher_refuses_to_run_set_id() {
    if !have("setpriv") {
        return;
    }
    let t = tempdir();
    // Debian's newgrp is set-user-ID root; chage is set-group-ID shadow.
    for (program, bit) in [("/usr/bin/newgrp", "set-user-ID"), ("/usr/bin/chage", "set-group-ID")] {
        let packed = t.path().join(Path::new(program).file_name().unwrap());
        let out = ok(staticize().arg("pack").arg(program).arg("-o").arg(&packed).arg("--no-image"));
        assert!(out.contains(&format!("{program} is {bit}: the packed file is not")), "{out}");
        let mode = fs::metadata(&packed).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777, 0o755, "no bit carried");
    }
    // Someone sets the bit anyway: run by another user, the launcher refuses (exit 122).
    let packed = t.path().join("chage");
    fs::set_permissions(t.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fs::set_permissions(&packed, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let o = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&packed)
        .arg("-l")
        .arg("root"));
    assert_eq!(o.status.code(), Some(122), "{}", text(&o));
    assert!(text(&o).contains("cannot run set-user-ID or set-group-ID"), "{}", text(&o));
}
