//! Reproducibility: the same sources built in different directories, under different umasks,
//! clocks (libfaketime), time zones and locales, with different input mtimes, give byte-identical
//! binaries and images.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::programs::*;
use crate::support::*;

/// How one build's surroundings differ from another's.
struct Surroundings {
    /// Directory components below the temp dir (different depths and names).
    subdir: &'static str,
    umask: &'static str,
    /// A libfaketime time spec (`faketime SPEC …`).
    clock: &'static str,
    tz: &'static str,
    locale: &'static str,
    /// `touch -d` date for every input file.
    mtime: &'static str,
    /// Name the inputs by absolute path instead of relative to the working directory.
    absolute: bool,
}

const A: Surroundings = Surroundings {
    subdir: "a",
    umask: "022",
    clock: "2001-02-03 04:05:06",
    tz: "UTC",
    locale: "C",
    mtime: "2001-01-01 00:00:00",
    absolute: false,
};
const B: Surroundings = Surroundings {
    subdir: "somewhere/much/deeper with spaces",
    umask: "077",
    clock: "2036-11-19 14:51:56",
    tz: "Asia/Kolkata",
    locale: "C.UTF-8",
    mtime: "2030-06-15 12:34:56",
    absolute: true,
};

fn have_faketime() -> bool {
    have("faketime")
}

/// Runs `staticize ARGS` in `dir` under `s`; `inputs` are file names in `dir`, put after ARGS
/// (absolute when `s.absolute`), then `tail`.
fn staticize_in(dir: &Path, s: &Surroundings, args: &[&str], inputs: &[&str], tail: &[&str]) {
    for i in inputs {
        ok(Command::new("touch").arg("-d").arg(s.mtime).arg(dir.join(i)));
    }
    let mut c = Command::new("sh");
    c.arg("-c").arg("umask \"$0\" && exec \"$@\"").arg(s.umask);
    if have_faketime() {
        c.args(["faketime", s.clock]);
    }
    c.arg(bin()).args(args);
    for i in inputs {
        if s.absolute {
            c.arg(dir.join(i));
        } else {
            c.arg(i);
        }
    }
    c.args(tail);
    c.current_dir(dir).env_remove("SOURCE_DATE_EPOCH").env("TZ", s.tz).env("LC_ALL", s.locale).env("NO_COLOR", "1");
    ok(&mut c);
}

/// A fresh directory for one surroundings, holding copies of `files`.
fn place(root: &Path, s: &Surroundings, files: &[(&str, &Path)]) -> PathBuf {
    let dir = root.join(s.subdir);
    fs::create_dir_all(&dir).unwrap();
    for (name, from) in files {
        fs::copy(from, dir.join(name)).unwrap();
    }
    dir
}

#[track_caller]
fn same_bytes(a: &Path, b: &Path) {
    assert_eq!(sha256_file(a), sha256_file(b), "{} and {} differ", a.display(), b.display());
}

#[test]
fn c_builds_are_byte_identical_across_directories_umasks_clocks_and_zones() {
    let root = tempdir();
    let p = programs();
    let files = [("hello.c", p.hello_c.as_path())];
    let da = place(root.path(), &A, &files);
    let db = place(root.path(), &B, &files);
    staticize_in(&da, &A, &["c"], &["hello.c"], &[]);
    staticize_in(&db, &B, &["c"], &["hello.c"], &[]);
    same_bytes(&da.join("hello"), &db.join("hello"));
    same_bytes(&da.join("hello.tar"), &db.join("hello.tar"));
    // The image's timestamps are the epoch, whatever the clock said.
    if have("skopeo") {
        assert_eq!(skopeo_config(&da.join("hello.tar"))["created"], "1970-01-01T00:00:00Z");
    }
}

#[test]
fn cxx_builds_are_byte_identical_across_surroundings() {
    let root = tempdir();
    let src = root.path().join("hi.cpp");
    fs::write(&src, "#include <cstdio>\nint main() { std::puts(\"hi\"); return 0; }\n").unwrap();
    let files = [("hi.cpp", src.as_path())];
    let da = place(root.path(), &A, &files);
    let db = place(root.path(), &B, &files);
    staticize_in(&da, &A, &["cxx"], &["hi.cpp"], &[]);
    staticize_in(&db, &B, &["cxx"], &["hi.cpp"], &[]);
    same_bytes(&da.join("hi"), &db.join("hi"));
    same_bytes(&da.join("hi.tar"), &db.join("hi.tar"));
}

#[test]
fn image_of_the_same_program_is_identical_whatever_its_mode_and_mtime() {
    let root = tempdir();
    let p = programs();
    let files = [("hello", p.static_hello.as_path())];
    let da = place(root.path(), &A, &files);
    let db = place(root.path(), &B, &files);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(da.join("hello"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(db.join("hello"), fs::Permissions::from_mode(0o700)).unwrap();
    staticize_in(&da, &A, &["image"], &["hello"], &["-o", "img.tar"]);
    staticize_in(&db, &B, &["image"], &["hello"], &["-o", "img.tar"]);
    same_bytes(&da.join("img.tar"), &db.join("img.tar"));
}

#[test]
fn source_date_epoch_is_the_only_clock_that_matters() {
    let root = tempdir();
    let p = programs();
    let d = place(root.path(), &A, &[("hello", p.static_hello.as_path())]);
    let epoch = |e: &str, out: &str| {
        ok(staticize().current_dir(&d).env("SOURCE_DATE_EPOCH", e).args(["image", "hello", "-o", out]));
    };
    epoch("1700000000", "one.tar");
    epoch("1700000000", "two.tar");
    epoch("1700000001", "three.tar");
    same_bytes(&d.join("one.tar"), &d.join("two.tar"));
    assert_ne!(sha256_file(&d.join("one.tar")), sha256_file(&d.join("three.tar")), "the epoch must reach the image");
}
