//! The bad-input matrix: every command fed missing, empty, wrong, truncated, huge and special
//! files, awkward names, the wrong architecture, broken toolchains and configs, and outputs that
//! cannot be written. Each row states the exit code and what the message must name; every row
//! also checks that nothing panicked, the run ended in time, and — when it failed — that its
//! directory is byte-for-byte what it was before (no partial output, no temporary files, the
//! existing output intact).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::programs::*;
use crate::support::*;

/// A check on the row's directory after a successful run.
type Then = Box<dyn Fn(&Path)>;

/// What to run for one row, and what must come out.
struct Run {
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    /// Run as uid/gid 65534 (root ignores file permissions).
    as_nobody: bool,
    /// Run under `prlimit --fsize=N`.
    fsize: Option<u64>,
    code: i32,
    /// Substrings of stdout+stderr: the message must name the thing.
    says: Vec<String>,
    /// More directories that must be unchanged by a failed run (e.g. a tmpfs mount).
    watch: Vec<PathBuf>,
    /// Checks on the row's directory after the run.
    then: Option<Then>,
    /// Paths (relative to the row's directory) a failed run may create or change: build
    /// caches such as cargo's target/ — never outputs.
    ignoring: Vec<PathBuf>,
    /// Kept alive until the row is done (a mount to undo).
    _guard: Option<Mount>,
}

fn run<I: AsRef<OsStr>>(args: impl IntoIterator<Item = I>) -> Run {
    Run {
        args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
        env: Vec::new(),
        as_nobody: false,
        fsize: None,
        code: 0,
        says: Vec::new(),
        watch: Vec::new(),
        then: None,
        ignoring: Vec::new(),
        _guard: None,
    }
}

impl Run {
    fn code(mut self, c: i32) -> Self {
        self.code = c;
        self
    }
    fn says(mut self, s: impl Into<String>) -> Self {
        self.says.push(s.into());
        self
    }
    fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.env.push((k.into(), v.as_ref().to_owned()));
        self
    }
    fn nobody(mut self) -> Self {
        self.as_nobody = true;
        self
    }
    fn ignoring(mut self, p: &str) -> Self {
        self.ignoring.push(p.into());
        self
    }
    fn then(mut self, f: impl Fn(&Path) + 'static) -> Self {
        self.then = Some(Box::new(f));
        self
    }
}

/// A tmpfs mounted for one row, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` (e.g. "64k") with extra `opts` at `dir`; None when mounting is
    /// not allowed here (not root, no CAP_SYS_ADMIN).
    fn tmpfs(dir: &Path, size: &str, opts: &str) -> Option<Mount> {
        fs::create_dir_all(dir).unwrap();
        let o = format!("size={size},mode=0755{opts}");
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", &o, "tmpfs"]).arg(dir).status();
        ok.is_ok_and(|s| s.success()).then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

struct Case {
    name: &'static str,
    /// Prepares files in the row's directory (the run's working directory).
    setup: fn(&Path) -> Run,
}

fn write(dir: &Path, name: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn exec(dir: &Path, name: impl AsRef<Path>, from: &Path) -> PathBuf {
    let p = dir.join(name);
    fs::copy(from, &p).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// An existing image a failed run must leave alone.
fn old_image(dir: &Path, name: &str) {
    write(dir, name, b"the previous image");
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

fn sparse(p: &Path, len: u64) {
    fs::OpenOptions::new().create(true).write(true).truncate(false).open(p).unwrap().set_len(len).unwrap();
}

const BROKEN_C: &str = "int main(void) { return missing_function(; }\n";

/// Declares the rows: `cases()` lists them (name, row) and each row gets its own `#[test]`
/// named after it, so a failure names its row and one row runs alone
/// (`cargo test --test cli bad_inputs::image_empty_file -- --exact`).
macro_rules! matrix {
    ($($id:ident => $case:expr),* $(,)?) => {
        fn cases() -> Vec<(&'static str, Case)> {
            vec![$((stringify!($id), $case)),*]
        }
        $(
            #[test]
            fn $id() {
                one_row(stringify!($id));
            }
        )*
    };
}

matrix! {
    // ---- staticize image: what the input file is ----
    image_missing_file => Case {
        name: "image: missing file",
        setup: |_| run(["image", "nope"]).code(4).says("nope").says("No such file"),
    },
    image_missing_file_with_spaces_in_its_name => Case {
        name: "image: missing file with spaces in its name",
        setup: |_| run(["image", "no such program"]).code(4).says("no such program"),
    },
    image_empty_file => Case {
        name: "image: empty file",
        setup: |d| {
            write(d, "empty", b"");
            old_image(d, "empty.tar");
            run(["image", "empty"]).code(4).says("empty: is empty")
        },
    },
    image_text_file => Case {
        name: "image: text file",
        setup: |d| {
            write(d, "notes", b"just some words\n");
            run(["image", "notes"]).code(4).says("notes: is not an ELF file")
        },
    },
    image_shell_script => Case {
        name: "image: shell script",
        setup: |d| {
            write(d, "run.sh", b"#!/bin/sh\necho hi\n");
            run(["image", "run.sh"]).code(4).says("run.sh: is a script (#!/bin/sh)")
        },
    },
    image_truncated_elf => Case {
        name: "image: truncated ELF",
        setup: |d| {
            let bytes = fs::read(&programs().static_hello).unwrap();
            write(d, "cut", &bytes[..200]);
            old_image(d, "cut.tar");
            run(["image", "cut"]).code(4).says("cut: truncated or invalid ELF")
        },
    },
    image_huge_sparse_file_16_gib_not_elf_is_judged_from_its_first_bytes => Case {
        name: "image: huge sparse file (16 GiB, not ELF) is judged from its first bytes",
        setup: |d| {
            sparse(&d.join("huge"), 16 << 30);
            run(["image", "huge"]).code(4).says("huge: is not an ELF file")
        },
    },
    check_huge_sparse_elf_16_gib_is_mapped_not_read => Case {
        name: "check: huge sparse ELF (16 GiB) is mapped, not read",
        setup: |d| {
            let p = exec(d, "huge-elf", &programs().static_hello);
            sparse(&p, 16 << 30);
            run(["check", "huge-elf"]).says("huge-elf: static")
        },
    },
    image_a_directory => Case {
        name: "image: a directory",
        setup: |d| {
            fs::create_dir(d.join("adir")).unwrap();
            run(["image", "adir"]).code(4).says("adir: is a directory")
        },
    },
    image_a_fifo_does_not_hang => Case {
        name: "image: a FIFO does not hang",
        setup: |d| {
            mkfifo(&d.join("pipe"));
            run(["image", "pipe"]).code(4).says("pipe: is a FIFO")
        },
    },
    check_a_fifo_does_not_hang => Case {
        name: "check: a FIFO does not hang",
        setup: |d| {
            mkfifo(&d.join("pipe"));
            run(["check", "pipe"]).code(1).says("pipe: is a FIFO")
        },
    },
    image_a_device => Case { name: "image: a device", setup: |_| run(["image", "/dev/zero"]).code(4).says("/dev/zero: is a device") },
    image_proc_self_mem_fails_on_read => Case {
        name: "image: /proc/self/mem fails on read",
        setup: |_| run(["image", "/proc/self/mem"]).code(4).says("/proc/self/mem"),
    },
    image_unreadable_file_as_nobody => Case {
        name: "image: unreadable file (as nobody)",
        setup: |d| {
            let p = exec(d, "secret", &programs().static_hello);
            fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
            run(["image", "secret", "-o", "/tmp/staticize-never-written.tar"])
                .nobody()
                .code(4)
                .says("secret")
                .says("Permission denied")
        },
    },
    image_symlink_loop => Case {
        name: "image: symlink loop",
        setup: |d| {
            symlink("loop", d.join("loop")).unwrap();
            run(["image", "loop"]).code(4).says("loop").says("symbolic links")
        },
    },
    image_dangling_symlink => Case {
        name: "image: dangling symlink",
        setup: |d| {
            symlink("gone", d.join("dangling")).unwrap();
            run(["image", "dangling"]).code(4).says("dangling").says("No such file")
        },
    },
    image_dynamic_program_is_refused_old_image_kept => Case {
        name: "image: dynamic program is refused, old image kept",
        setup: |d| {
            exec(d, "dyn", &programs().dynamic_hello);
            old_image(d, "dyn.tar");
            run(["image", "dyn"]).code(1).says("dyn is not self-contained").says("staticize bundle")
        },
    },
    image_shared_library_is_refused => Case {
        name: "image: shared library is refused",
        setup: |d| {
            exec(d, "libadd.so", &programs().shared_lib);
            run(["image", "libadd.so"]).code(1).says("libadd.so is not self-contained (shared library")
        },
    },
    image_object_file_is_refused => Case {
        name: "image: object file is refused",
        setup: |d| {
            exec(d, "hello.o", &programs().object);
            run(["image", "hello.o"]).code(1).says("not an executable")
        },
    },
    // ---- awkward names that must work ----
    image_name_with_spaces => Case {
        name: "image: name with spaces",
        setup: |d| {
            exec(d, "my prog", &programs().static_hello);
            run(["image", "my prog"]).says("my-prog:latest").then(|d| valid_image(&d.join("my prog.tar")))
        },
    },
    image_name_with_a_newline => Case {
        name: "image: name with a newline",
        setup: |d| {
            exec(d, "new\nline", &programs().static_hello);
            run(["image", "new\nline"]).says("new-line:latest").then(|d| valid_image(&d.join("new\nline.tar")))
        },
    },
    image_non_ascii_name_and_output_directory => Case {
        name: "image: non-ASCII name and output directory",
        setup: |d| {
            exec(d, "héllo wörld", &programs().static_hello);
            fs::create_dir(d.join("ausgabe ü")).unwrap();
            run(["image", "héllo wörld", "-o", "ausgabe ü/bild.tar"])
                .then(|d| valid_image(&d.join("ausgabe ü/bild.tar")))
        },
    },
    image_name_that_is_not_utf_8 => Case {
        name: "image: name that is not UTF-8",
        setup: |d| {
            exec(d, OsStr::from_bytes(b"caf\xe9"), &programs().static_hello);
            run([OsStr::new("image"), OsStr::from_bytes(b"caf\xe9"), OsStr::new("-o"), OsStr::new("out.tar")])
                .then(|d| valid_image(&d.join("out.tar")))
        },
    },
    // ---- the wrong architecture ----
    image_an_aarch64_program_gives_an_arm64_image => Case {
        name: "image: an aarch64 program gives an arm64 image",
        setup: |d| match &programs().arm64_hello {
            Some(arm) => {
                exec(d, "arm-hello", arm);
                run(["image", "arm-hello"]).says("arm64").then(|d| {
                    valid_image(&d.join("arm-hello.tar"));
                    let config = skopeo_config(&d.join("arm-hello.tar"));
                    assert_eq!(config["architecture"], "arm64", "{config}");
                })
            }
            None => run(["image", "--help"]),
        },
    },
    // ---- outputs that cannot be written ----
    image_output_is_a_directory => Case {
        name: "image: output is a directory",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            fs::create_dir(d.join("out")).unwrap();
            run(["image", "hello", "-o", "out"]).code(4).says("out: is a directory")
        },
    },
    image_output_directory_missing => Case {
        name: "image: output directory missing",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "-o", "no/such/dir/hello.tar"]).code(4).says("no/such/dir")
        },
    },
    image_output_directory_not_writable_as_nobody => Case {
        name: "image: output directory not writable (as nobody)",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            old_image(d, "hello.tar");
            run(["image", "hello"]).nobody().code(4).says("Permission denied").says("writable")
        },
    },
    image_read_only_file_system => Case {
        name: "image: read-only file system",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            let ro = d.join("ro");
            let mut r = run(["image", "hello", "-o", "ro/hello.tar"]).code(4).says("ro/").says("Read-only");
            r._guard = Some(Mount::tmpfs(&ro, "64k", ",ro").expect("mount a read-only tmpfs (run as root)"));
            r
        },
    },
    image_disk_full_64_kib_tmpfs_old_image_kept_no_temporary_left => Case {
        name: "image: disk full (64 KiB tmpfs), old image kept, no temporary left",
        setup: |d| {
            padded_static(&d.join("big"), 512 << 10);
            let small = d.join("small");
            let guard = Mount::tmpfs(&small, "64k", "").expect("mount a small tmpfs (run as root)");
            old_image(&small, "big.tar");
            let mut r = run(["image", "big", "-o", "small/big.tar"]).code(4).says("small/").says("No space left");
            r.watch.push(small);
            r._guard = Some(guard);
            r
        },
    },
    image_file_size_limit_prlimit_fsize_old_image_kept => Case {
        name: "image: file-size limit (prlimit --fsize), old image kept",
        setup: |d| {
            padded_static(&d.join("big"), 512 << 10);
            old_image(d, "big.tar");
            let mut r = run(["image", "big"]).code(4).says("big.tar").says("File too large");
            r.fsize = Some(64 << 10);
            r
        },
    },
    // ---- bad options ----
    image_invalid_tag => Case {
        name: "image: invalid tag",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "-t", "Not A Name"]).code(2).says("invalid image name 'Not A Name'")
        },
    },
    image_invalid_source_date_epoch => Case {
        name: "image: invalid SOURCE_DATE_EPOCH",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello"])
                .env("SOURCE_DATE_EPOCH", "yesterday")
                .code(2)
                .says("SOURCE_DATE_EPOCH='yesterday'")
        },
    },
    unknown_flag => Case { name: "unknown flag", setup: |_| run(["image", "--frobnicate", "x"]).code(2).says("--frobnicate") },
    unknown_command => Case { name: "unknown command", setup: |_| run(["frobnicate"]).code(2).says("frobnicate") },
    completions_unknown_shell => Case { name: "completions: unknown shell", setup: |_| run(["completions", "tcsh"]).code(2).says("tcsh") },
    check_bad_max_size => Case {
        name: "check: bad --max-size",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["check", "--max-size", "12 parsecs", "hello"]).code(2).says("12 parsecs")
        },
    },
    // ---- check ----
    check_missing_file => Case {
        name: "check: missing file",
        setup: |_| run(["check", "nope"]).code(1).says("nope").says("No such file"),
    },
    check_one_bad_file_among_good_ones_fails_and_names_it => Case {
        name: "check: one bad file among good ones fails and names it",
        setup: |d| {
            exec(d, "good", &programs().static_hello);
            write(d, "bad", b"nope");
            run(["check", "good", "bad"]).code(1).says("good: static").says("bad: is not an ELF")
        },
    },
    // ---- compiling ----
    c_missing_source => Case { name: "c: missing source", setup: |_| run(["c", "nope.c"]).code(4).says("nope.c") },
    c_compile_error_keeps_the_old_outputs => Case {
        name: "c: compile error keeps the old outputs",
        setup: |d| {
            write(d, "broken.c", BROKEN_C);
            write(d, "broken", b"old binary");
            old_image(d, "broken.tar");
            run(["c", "broken.c"]).code(3).says("broken.c").says("error")
        },
    },
    c_empty_source_no_main_fails_to_link => Case {
        name: "c: empty source (no main) fails to link",
        setup: |d| {
            write(d, "empty.c", b"");
            run(["c", "empty.c"]).code(3).says("main")
        },
    },
    c_source_is_a_directory => Case {
        name: "c: source is a directory",
        setup: |d| {
            fs::create_dir(d.join("dir.c")).unwrap();
            run(["c", "dir.c"]).code(4).says("dir.c")
        },
    },
    c_no_compiler_on_path => Case {
        name: "c: no compiler on PATH",
        setup: |d| {
            fs::copy(&programs().hello_c, d.join("hello.c")).unwrap();
            run(["c", "hello.c"]).env("PATH", "/nonexistent").code(3).says("not found").says("musl-tools")
        },
    },
    cxx_no_compiler_on_path => Case {
        name: "cxx: no compiler on PATH",
        setup: |d| {
            write(d, "hello.cpp", b"int main() { return 0; }\n");
            run(["cxx", "hello.cpp"]).env("PATH", "/nonexistent").code(3).says("not found")
        },
    },
    c_unknown_compiler_name => Case {
        name: "c: unknown compiler name",
        setup: |d| {
            fs::copy(&programs().hello_c, d.join("hello.c")).unwrap();
            run(["c", "--compiler", "tcc9000", "hello.c"]).code(2).says("tcc9000")
        },
    },
    c_output_is_a_directory_refused_before_compiling => Case {
        name: "c: output is a directory, refused before compiling",
        setup: |d| {
            write(d, "broken.c", BROKEN_C);
            fs::create_dir(d.join("out")).unwrap();
            // A compile error would be exit 3: exit 4 shows the output was checked first.
            run(["c", "broken.c", "-o", "out"]).code(4).says("out: is a directory")
        },
    },
    c_image_on_a_read_only_file_system_refused_before_compiling => Case {
        name: "c: image on a read-only file system, refused before compiling",
        setup: |d| {
            write(d, "broken.c", BROKEN_C);
            let ro = d.join("ro");
            let mut r = run(["c", "broken.c", "--image", "ro/x.tar"]).code(4).says("ro").says("Read-only");
            r._guard = Some(Mount::tmpfs(&ro, "64k", ",ro").expect("mount a read-only tmpfs (run as root)"));
            r
        },
    },
    // ---- gate ----
    gate_missing_config => Case {
        name: "gate: missing config",
        setup: |_| run(["gate", "--config", "nope.toml"]).code(4).says("nope.toml"),
    },
    gate_config_is_not_toml => Case {
        name: "gate: config is not TOML",
        setup: |d| {
            write(d, "staticize.toml", b"[[budget]\nname = \"x\"\n");
            run(["gate"]).code(4).says("staticize.toml")
        },
    },
    gate_unknown_key_in_a_budget => Case {
        name: "gate: unknown key in a budget",
        setup: |d| {
            write(d, "staticize.toml", b"[[budget]]\nname = \"x\"\nbinary = \"x\"\nmax = \"1 KiB\"\nmaxx = 3\n");
            run(["gate"]).code(4).says("staticize.toml").says("maxx")
        },
    },
    gate_bad_size => Case {
        name: "gate: bad size",
        setup: |d| {
            write(d, "staticize.toml", b"[[budget]]\nname = \"x\"\nbinary = \"x\"\nmax = \"lots\"\n");
            run(["gate"]).code(4).says("staticize.toml").says("lots")
        },
    },
    gate_budget_s_binary_is_missing => Case {
        name: "gate: budget's binary is missing",
        setup: |d| {
            write(d, "staticize.toml", b"[[budget]]\nname = \"x\"\nbinary = \"gone\"\nmax = \"1 KiB\"\n");
            run(["gate"]).code(4).says("gone")
        },
    },
    gate_config_is_a_fifo_does_not_hang => Case {
        name: "gate: config is a FIFO does not hang",
        setup: |d| {
            mkfifo(&d.join("staticize.toml"));
            run(["gate"]).code(4).says("staticize.toml").says("FIFO")
        },
    },
    gate_the_build_command_fails_to_compile => Case {
        name: "gate: the build command fails to compile",
        setup: |d| {
            write(d, "broken.c", BROKEN_C);
            write(
                d,
                "staticize.toml",
                b"[[budget]]\nname = \"b\"\nbuild = \"c broken.c\"\nbinary = \"broken\"\nmax = \"1 MiB\"\n",
            );
            run(["gate"]).code(3).says("broken.c")
        },
    },
    // ---- image options (run config, contents, platforms, destinations) ----
    image_add_source_missing => Case {
        name: "image: --add source missing",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            old_image(d, "hello.tar");
            run(["image", "hello", "--add", "nope.conf:/etc/app.conf"]).code(4).says("nope.conf")
        },
    },
    image_add_without_a_destination => Case {
        name: "image: --add without a destination",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--add", "justone"]).code(2).says("--add 'justone'")
        },
    },
    image_add_with_a_bad_mode => Case {
        name: "image: --add with a bad mode",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--add", "hello:/x:999"]).code(2).says("MODE")
        },
    },
    image_add_destination_climbing_out => Case {
        name: "image: --add destination climbing out",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--add", "hello:../../x"]).code(2).says("DEST")
        },
    },
    image_env_without => Case {
        name: "image: --env without =",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--env", "NOEQUALS"]).code(2).says("--env 'NOEQUALS'")
        },
    },
    image_env_with_an_empty_name => Case {
        name: "image: --env with an empty name",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--env", "=value"]).code(2).says("--env '=value'")
        },
    },
    image_expose_port_out_of_range => Case {
        name: "image: --expose port out of range",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--expose", "99999"]).code(2).says("--expose '99999'")
        },
    },
    image_expose_unknown_protocol => Case {
        name: "image: --expose unknown protocol",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--expose", "80/icmp"]).code(2).says("--expose '80/icmp'")
        },
    },
    image_entrypoint_broken_json => Case {
        name: "image: --entrypoint broken JSON",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--entrypoint", "[\"/hello\""]).code(2).says("--entrypoint")
        },
    },
    image_with_unknown_extra => Case {
        name: "image: --with unknown extra",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--with", "kitchen-sink"]).code(2).says("kitchen-sink")
        },
    },
    image_user_malformed => Case {
        name: "image: --user malformed",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--user", "a:b:c"]).code(2).says("--user 'a:b:c'")
        },
    },
    image_stop_signal_unknown => Case {
        name: "image: --stop-signal unknown",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["image", "hello", "--stop-signal", "SIGFOO"]).code(2).says("SIGFOO")
        },
    },
    image_an_aarch64_program_with_platform_linux_amd64_is_a_mismatch => Case {
        name: "image: an aarch64 program with --platform linux/amd64 is a mismatch",
        setup: |d| match &programs().arm64_hello {
            Some(arm) => {
                exec(d, "arm-hello", arm);
                run(["image", "arm-hello", "--platform", "linux/amd64"]).code(2).says("linux/amd64")
            }
            None => run(["image", "--platform", "linux/amd64", "--binary", "linux/amd64=nope"]).code(4),
        },
    },
    image_binary_for_a_missing_file => Case {
        name: "image: --binary for a missing file",
        setup: |_| run(["image", "--binary", "linux/arm64=nope", "-o", "multi.tar"]).code(4).says("nope"),
    },
    image_oci_dir_is_someone_else_s_directory => Case {
        name: "image: --oci-dir is someone else's directory",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            fs::create_dir(d.join("mine")).unwrap();
            write(d, "mine/precious", b"keep me");
            run(["image", "hello", "--oci-dir", "mine"]).code(4).says("mine").says("not an OCI layout")
        },
    },
    // ---- registries ----
    push_registry_down => Case {
        name: "push: registry down",
        setup: |d| {
            image_of_hello(d);
            let r = closed_port();
            run(["push".to_string(), "hello.tar".into(), format!("{r}/team/hello:1")])
                .code(4)
                .says(r)
                .says("not reachable")
        },
    },
    push_registry_answers_401 => Case {
        name: "push: registry answers 401",
        setup: |d| {
            image_of_hello(d);
            let r = failing_registry(401);
            run(["push".to_string(), "hello.tar".into(), format!("{r}/team/hello:1")]).code(4).says(r).says("401")
        },
    },
    push_registry_answers_500 => Case {
        name: "push: registry answers 500",
        setup: |d| {
            image_of_hello(d);
            let r = failing_registry(500);
            run(["push".to_string(), "hello.tar".into(), format!("{r}/team/hello:1")]).code(4).says(r).says("500")
        },
    },
    push_invalid_reference => Case {
        name: "push: invalid reference",
        setup: |d| {
            image_of_hello(d);
            run(["push", "hello.tar", "Not A Ref"]).code(2).says("Not A Ref")
        },
    },
    image_push_registry_answers_500_the_written_image_is_complete => Case {
        name: "image --push: registry answers 500, the written image is complete",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            let r = failing_registry(500);
            let mut run = run(["image".to_string(), "hello".into(), "--push".into(), format!("{r}/x/hello:1")])
                .code(4)
                .says("500")
                .says("the image is written: hello.tar");
            // Not partial output: the archive (and the SBOM and provenance beside it) is whole
            // before the push starts.
            run.ignoring.push("hello.tar".into());
            run.ignoring.push("hello.spdx.json".into());
            run.ignoring.push("hello.provenance.json".into());
            run.then = Some(Box::new(|d: &Path| valid_image(&d.join("hello.tar"))));
            run
        },
    },
    // ---- inspect ----
    inspect_missing_archive => Case { name: "inspect: missing archive", setup: |_| run(["inspect", "nope.tar"]).code(4).says("nope.tar") },
    inspect_an_elf_is_not_an_archive => Case {
        name: "inspect: an ELF is not an archive",
        setup: |d| {
            exec(d, "hello", &programs().static_hello);
            run(["inspect", "hello"]).code(4).says("hello: not an image archive")
        },
    },
    inspect_a_fifo_does_not_hang => Case {
        name: "inspect: a FIFO does not hang",
        setup: |d| {
            mkfifo(&d.join("pipe.tar"));
            run(["inspect", "pipe.tar"]).code(4).says("pipe.tar")
        },
    },
    inspect_truncated_archive => Case {
        name: "inspect: truncated archive",
        setup: |d| {
            let full = image_of_hello(d);
            let bytes = fs::read(&full).unwrap();
            write(d, "cut.tar", &bytes[..bytes.len() / 2]);
            run(["inspect", "cut.tar"]).code(4).says("cut.tar")
        },
    },
    // ---- bundle ----
    bundle_a_library_that_cannot_be_found => Case {
        name: "bundle: a library that cannot be found",
        setup: |d| {
            write(d, "lib.c", b"int add1(int x) { return x + 1; }\n");
            write(d, "use.c", b"int add1(int); int main(void) { return add1(-1); }\n");
            let cc = |args: &[&str]| ok(Command::new("gcc").current_dir(d).args(args));
            cc(&["-shared", "-fPIC", "lib.c", "-o", "libgone.so"]);
            cc(&["use.c", "-L.", "-lgone", "-o", "needs-gone"]);
            fs::remove_file(d.join("libgone.so")).unwrap();
            fs::remove_file(d.join("lib.c")).unwrap();
            fs::remove_file(d.join("use.c")).unwrap();
            run(["bundle", "needs-gone"]).code(1).says("libgone.so")
        },
    },
    bundle_not_an_elf => Case {
        name: "bundle: not an ELF",
        setup: |d| {
            write(d, "script", b"#!/bin/sh\n");
            run(["bundle", "script"]).code(4).says("script")
        },
    },
    // ---- other languages ----
    go_compile_error => Case {
        name: "go: compile error",
        setup: |d| {
            fs::create_dir(d.join("gobad")).unwrap();
            write(d, "gobad/go.mod", b"module gobad\n\ngo 1.19\n");
            write(d, "gobad/main.go", b"package main\n\nfunc main() { undefined() }\n");
            run(["go", "./gobad", "-o", "gob"]).code(3).says("main.go").says("undefined")
        },
    },
    go_no_go_on_path => Case {
        name: "go: no go on PATH",
        setup: |d| {
            fs::create_dir(d.join("g")).unwrap();
            write(d, "g/go.mod", b"module g\n\ngo 1.19\n");
            write(d, "g/main.go", b"package main\n\nfunc main() {}\n");
            run(["go", "./g", "-o", "gout"]).env("PATH", "/nonexistent").code(3).says("go not found")
        },
    },
    rust_compile_error => Case {
        name: "rust: compile error",
        setup: |d| {
            fs::create_dir_all(d.join("rsbad/src")).unwrap();
            write(d, "rsbad/Cargo.toml", b"[package]\nname = \"rsbad\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
            write(d, "rsbad/src/main.rs", b"fn main() { let x: u32 = \"no\"; }\n");
            run(["rust", "rsbad", "-o", "rsb"])
                .code(3)
                .says("main.rs")
                .says("mismatched types")
                .ignoring("rsbad/target")
                .ignoring("rsbad/Cargo.lock")
        },
    },
    rust_not_a_cargo_package => Case {
        name: "rust: not a cargo package",
        setup: |d| {
            fs::create_dir(d.join("plain")).unwrap();
            run(["rust", "plain", "-o", "x"]).code(4).says("plain: not a Rust package")
        },
    },
    rust_no_cargo_on_path => Case {
        name: "rust: no cargo on PATH",
        setup: |d| {
            fs::create_dir_all(d.join("rs/src")).unwrap();
            write(d, "rs/Cargo.toml", b"[package]\nname = \"rs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
            write(d, "rs/src/main.rs", b"fn main() {}\n");
            run(["rust", "rs", "-o", "x"]).env("PATH", "/nonexistent").code(3).says("cargo not found")
        },
    },
    node_missing_entry => Case { name: "node: missing entry", setup: |_| run(["node", "nope.js"]).code(4).says("nope.js") },
    node_entry_with_a_syntax_error => Case {
        name: "node: entry with a syntax error",
        setup: |d| {
            write(d, "broken.js", b"console.log(\"hi\"\nfunction (\n");
            old_image(d, "broken.tar");
            run(["node", "broken.js"]).code(3).says("broken.js").says("SyntaxError")
        },
    },
    node_entry_is_a_directory => Case {
        name: "node: entry is a directory",
        setup: |d| {
            fs::create_dir(d.join("app.js")).unwrap();
            run(["node", "app.js"]).code(4).says("app.js")
        },
    },
    node_an_entry_named_app_js_default_app_meets_the_tree_s_app => Case {
        name: "node: an entry named app.js (default /app meets the tree's /app)",
        setup: |d| {
            write(d, "app.js", b"console.log('hi');\n");
            run(["node", "app.js", "--no-image", "-o", "app-bin"]).says("app.js")
        },
    },
    // ---- man ----
    man_dir_is_a_file => Case {
        name: "man: --dir is a file",
        setup: |d| {
            write(d, "afile", b"x");
            run(["man", "--dir", "afile"]).code(4).says("afile")
        },
    },
}

/// Writes hello.tar (an image of the static hello) into `d` with staticize; returns its path.
fn image_of_hello(d: &Path) -> PathBuf {
    exec(d, "hello", &programs().static_hello);
    ok(staticize().current_dir(d).args(["image", "hello"]));
    d.join("hello.tar")
}

/// skopeo reads the archive as OCI and as docker (when skopeo is here).
fn valid_image(tar: &Path) {
    if have("skopeo") {
        skopeo_reads(tar).unwrap();
    } else {
        assert!(tar.is_file(), "{} was not written", tar.display());
    }
}

/// Runs one row; returns what went wrong, if anything.
fn check_case(case: &Case, root: &Path, n: usize) -> Result<(), String> {
    let dir = root.join(format!("case-{n:02}"));
    fs::create_dir(&dir).unwrap();
    // Readable by the unprivileged user of `.nobody()` rows, not writable by it.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let r = (case.setup)(&dir);
    let mut watched: Vec<PathBuf> = vec![dir.clone()];
    watched.extend(r.watch.iter().cloned());
    let before: Vec<_> = watched.iter().map(|w| snapshot(w)).collect();

    let mut cmd = if r.as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(bin());
        c
    } else if let Some(limit) = r.fsize {
        let mut c = Command::new("prlimit");
        c.arg(format!("--fsize={limit}")).arg("--").arg(bin());
        c
    } else {
        Command::new(bin())
    };
    cmd.current_dir(&dir).env_remove("SOURCE_DATE_EPOCH").env("NO_COLOR", "1").args(&r.args);
    for (k, v) in &r.env {
        cmd.env(k, v);
    }
    let Some(o) = run_with_deadline(&mut cmd, Duration::from_secs(120)) else {
        return Err("did not finish within 120 s (hung?)".into());
    };
    let all = text(&o);
    let mut problems = Vec::new();
    if o.status.code() != Some(r.code) {
        problems.push(format!("exit {:?}, expected {}", o.status.code(), r.code));
    }
    if all.contains("panicked") || all.contains("RUST_BACKTRACE") {
        problems.push("panicked".into());
    }
    for s in &r.says {
        if !all.contains(s.as_str()) {
            problems.push(format!("does not say {s:?}"));
        }
    }
    if r.code != 0 {
        let keep = |m: std::collections::BTreeMap<PathBuf, String>| -> std::collections::BTreeMap<PathBuf, String> {
            m.into_iter().filter(|(p, _)| !r.ignoring.iter().any(|i| p.starts_with(i))).collect()
        };
        for (w, b) in watched.iter().zip(&before) {
            let b = &keep(b.clone());
            let after = keep(snapshot(w));
            if &after != b {
                problems.push(format!("{} changed: before {b:?}, after {after:?}", w.display()));
            }
        }
    } else {
        let temps = temporaries(&dir);
        if !temps.is_empty() {
            problems.push(format!("temporary files left: {temps:?}"));
        }
    }
    if let Some(then) = &r.then {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| then(&dir))) {
            problems.push(format!("post-check failed: {:?}", e.downcast_ref::<String>()));
        }
    }
    drop(r);
    if problems.is_empty() { Ok(()) } else { Err(format!("{}\n--- output:\n{all}", problems.join("; "))) }
}

#[test]
fn bad_input_matrix() {
    let cases = cases();
    assert!(cases.len() >= 30, "the matrix has {} rows", cases.len());
}

/// Runs the row `id` in a directory of its own; fails naming the row.
fn one_row(id: &str) {
    // Rows run one at a time, as when they were one test: some (the 16 GiB sparse files) need
    // most of the machine's memory, and two at once get the test binary OOM-killed.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cases = cases();
    let (n, (_, case)) = cases.iter().enumerate().find(|(_, (i, _))| *i == id).expect("a row of the matrix");
    let root = tempdir();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    match check_case(case, root.path(), n) {
        Ok(()) => eprintln!("ok   {:2} {}", n, case.name),
        Err(e) => {
            eprintln!("FAIL {:2} {}: {e}", n, case.name);
            panic!("[{n}] {}: {e}", case.name);
        }
    }
}
