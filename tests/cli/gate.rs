//! `staticize gate`, `check --max-size`, completions, the man page and the real pre-commit
//! round trip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// A C program whose binary grows by about `pad` bytes (a read-only table it really reads).
fn source(pad: usize) -> String {
    format!(
        "#include <stdio.h>\nstatic const unsigned char pad[{n}] = {{1, 2, 3}};\nint main(int argc, char **argv) {{\n  (void)argv;\n  puts(pad[(argc * 7) % {n}] ? \"one\" : \"zero\");\n  return 0;\n}}\n",
        n = pad.max(1)
    )
}

/// Compiles `src` into `dir/name` with `cc` and `flags`; returns the path.
fn compile(dir: &Path, name: &str, src: &str, cc: &str, flags: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    fs::write(&c, src).unwrap();
    let out = dir.join(name);
    ok(Command::new(cc).args(flags).arg(&c).arg("-o").arg(&out));
    out
}

/// A small static binary built by `staticize c` itself (musl), when musl-gcc is installed.
fn static_bin(dir: &Path, name: &str, pad: usize) -> Option<PathBuf> {
    if !have("musl-gcc") {
        return None;
    }
    let c = dir.join(format!("{name}.c"));
    fs::write(&c, source(pad)).unwrap();
    let out = dir.join(name);
    ok(staticize().arg("c").arg(&c).arg("-o").arg(&out).args(["--no-image", "--compiler", "musl-gcc"]));
    Some(out)
}

/// A dynamic glibc binary.
fn dynamic_bin(dir: &Path, name: &str) -> PathBuf {
    compile(dir, name, &source(1), "gcc", &["-Os", "-s"])
}

fn gate(dir: &Path) -> Command {
    let mut c = staticize();
    c.current_dir(dir).arg("gate");
    c
}

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

#[test]
fn passing_and_failing_budgets_with_a_build() {
    if !have("musl-gcc") {
        return;
    }
    let d = tempdir();
    let dir = d.path();
    write(dir, "hello.c", &source(1));
    let config = |max: &str, files: u32| {
        format!(
            r#"
[[budget]]
name = "hello"
build = "c hello.c -o out/hello --image out/hello.tar"
binary = "out/hello"
max = "{max}"
static = true

[[budget]]
name = "hello-image"
image = "out/hello.tar"
max = "16 KiB"
max-files = {files}
static = true
"#
        )
    };
    write(dir, "staticize.toml", &config("8 KiB", 1));
    let out = ok(&mut gate(dir));
    assert!(out.contains("build hello: staticize c hello.c -o out/hello --image out/hello.tar"), "{out}");
    let size = fs::metadata(dir.join("out/hello")).unwrap().len();
    assert!(size <= 8192, "musl hello is {size} bytes");
    let row = out.lines().find(|l| l.starts_with("hello ") && l.contains(" size ")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("≤ 8,192 B") && row.trim_end().ends_with("ok"), "{row}");
    assert!(out.contains("2 budgets, 5 checks: all pass"), "{out}");

    // One byte under the binary's size: over budget by exactly one byte.
    write(dir, "staticize.toml", &config(&format!("{}", size - 1), 0));
    let out = fails_with(&mut gate(dir), 1);
    assert!(out.contains(&format!("FAIL: over the {} budget by 1 B", human(size - 1))), "{out}");
    assert!(out.contains("FAIL: over the 0 B budget by 1 B") || out.contains("FAIL: over the 0 budget by 1"), "{out}");
    assert!(out.contains("2 of 5 budget checks failed"), "{out}");

    // The same budget in decimal units: 6 kB is 6000 bytes, 6 KiB is 6144.
    write(dir, "staticize.toml", &config("1 MB", 1));
    ok(&mut gate(dir));
}

/// "6,144 B" like the table prints sizes under 10 KiB.
fn human(n: u64) -> String {
    staticize::report::human_size(n)
}

#[test]
fn a_dynamic_binary_fails_static() {
    let d = tempdir();
    let dir = d.path();
    dynamic_bin(dir, "app");
    write(dir, "staticize.toml", "[[budget]]\nname = \"app\"\nbinary = \"app\"\nmax = \"1 MiB\"\nstatic = true\n");
    let out = fails_with(&mut gate(dir), 1);
    let row = out.lines().find(|l| l.contains(" static ")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("dynamic") && row.contains("FAIL: not static: dynamic (interpreter /lib"), "{row}");
    assert!(out.contains("1 of 2 budget checks failed"), "{out}");
}

#[test]
fn growth_against_a_baseline_is_exact() {
    let d = tempdir();
    let dir = d.path();
    // Plain files of exact sizes: growth is about bytes, and the limit is exact at 5%.
    fs::write(dir.join("blob"), vec![0u8; 1000]).unwrap();
    write(dir, "staticize.toml", "[[budget]]\nname = \"blob\"\nbinary = \"blob\"\nmax-growth = \"5%\"\n");
    let out = ok(&mut gate(dir));
    assert!(out.contains("no staticize.lock yet"), "{out}");
    let out = ok(gate(dir).arg("--update-baseline"));
    assert!(out.contains("wrote staticize.lock"), "{out}");
    let lock = fs::read_to_string(dir.join("staticize.lock")).unwrap();
    let parsed: toml::Value = toml::from_str(&lock).unwrap();
    assert_eq!(parsed["budget"]["blob"]["size"].as_integer(), Some(1000), "{lock}");

    fs::write(dir.join("blob"), vec![0u8; 1050]).unwrap();
    let out = ok(&mut gate(dir));
    assert!(out.contains("+50 B (+5.0%)"), "{out}");
    fs::write(dir.join("blob"), vec![0u8; 1051]).unwrap();
    let out = fails_with(&mut gate(dir), 1);
    assert!(out.contains("FAIL: grew +51 B (+5.1%) since the baseline, more than the +5% allowed"), "{out}");
    assert!(out.contains("--update-baseline"), "{out}");

    // Accepting the growth: the baseline moves and the gate passes again.
    ok(gate(dir).arg("--update-baseline"));
    let out = ok(&mut gate(dir));
    assert!(out.contains("±0"), "{out}");
    let first = fs::read(dir.join("staticize.lock")).unwrap();
    let out = ok(gate(dir).arg("--update-baseline"));
    assert!(out.contains("is up to date"), "{out}");
    assert_eq!(fs::read(dir.join("staticize.lock")).unwrap(), first, "the lock changed without a change");
}

#[test]
fn growth_of_a_real_binary_and_a_failed_update() {
    let d = tempdir();
    let dir = d.path();
    let Some(_) = static_bin(dir, "app", 1) else { return };
    write(
        dir,
        "staticize.toml",
        "[[budget]]\nname = \"zz-app\"\nbinary = \"app\"\nmax = \"64 KiB\"\nmax-growth = \"5%\"\nstatic = true\n\n[[budget]]\nname = \"aa-other\"\nbinary = \"app\"\nmax-growth = \"10 kB\"\n",
    );
    ok(gate(dir).arg("--update-baseline"));
    let lock = fs::read_to_string(dir.join("staticize.lock")).unwrap();
    assert!(lock.find("[budget.aa-other]").unwrap() < lock.find("[budget.zz-app]").unwrap(), "sorted: {lock}");
    let before = fs::metadata(dir.join("app")).unwrap().len();
    static_bin(dir, "app", 20_000);
    let after = fs::metadata(dir.join("app")).unwrap().len();
    assert!(after > before + 19_000, "{before} → {after}");
    let out = fails_with(&mut gate(dir), 1);
    let zz = out.lines().find(|l| l.starts_with("zz-app") && l.contains(" size ")).unwrap();
    assert!(zz.contains("FAIL: grew"), "{zz}");
    let aa = out.lines().find(|l| l.starts_with("aa-other")).unwrap();
    assert!(aa.contains("FAIL: grew") && aa.contains("more than the +10,000 B allowed"), "{aa}");

    // Over an absolute limit: the baseline is not rewritten.
    static_bin(dir, "app", 70_000);
    let out = fails_with(gate(dir).arg("--update-baseline"), 1);
    assert!(out.contains("the baseline was not updated"), "{out}");
    assert_eq!(fs::read_to_string(dir.join("staticize.lock")).unwrap(), lock);
}

#[test]
fn json_output() {
    let d = tempdir();
    let dir = d.path();
    let Some(_) = static_bin(dir, "app", 1) else { return };
    ok(staticize().current_dir(dir).args(["image", "app", "-o", "app.tar"]));
    write(
        dir,
        "staticize.toml",
        "[[budget]]\nname = \"app\"\nbinary = \"app\"\nmax = \"8 KiB\"\nstatic = true\n\n[[budget]]\nname = \"img\"\nimage = \"app.tar\"\nmax = \"2 kB\"\nmax-compressed = \"1 MB\"\n",
    );
    let o = run(gate(dir).arg("--json"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("gate --json prints JSON");
    assert_eq!(v["ok"], false);
    assert_eq!(v["config"], "staticize.toml");
    assert_eq!(v["baseline_found"], false);
    let app = &v["budgets"][0];
    assert_eq!(app["name"], "app");
    assert_eq!(app["kind"], "binary");
    assert_eq!(app["ok"], true);
    assert_eq!(app["measures"]["size"].as_u64(), Some(fs::metadata(dir.join("app")).unwrap().len()));
    assert_eq!(app["checks"][1]["measure"], "static");
    let img = &v["budgets"][1];
    assert_eq!(img["ok"], false);
    let archive = fs::metadata(dir.join("app.tar")).unwrap().len();
    let size = &img["checks"][0];
    assert_eq!(size["value"].as_u64(), Some(archive));
    assert_eq!(size["max"].as_u64(), Some(2000));
    assert_eq!(size["ok"], false);
    assert_eq!(img["checks"][1]["measure"], "compressed");
    assert_eq!(img["checks"][1]["ok"], true);
    // Nothing but JSON on stdout.
    assert!(String::from_utf8_lossy(&o.stdout).trim_start().starts_with('{'));
}

/// Extracts `tar` into `dest` with the system tar.
fn untar(tar: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    ok(Command::new("tar").arg("-xf").arg(tar).arg("-C").arg(dest));
}

fn sh(script: &str) -> String {
    let o = run(Command::new("sh").args(["-c", script]));
    assert!(o.status.success(), "{script}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn image_measures_match_the_archive() {
    let d = tempdir();
    let dir = d.path();
    let Some(_) = static_bin(dir, "app", 1) else { return };
    ok(staticize().current_dir(dir).args(["image", "app", "-o", "app.tar", "--path", "/bin/app"]));
    write(
        dir,
        "staticize.toml",
        "[[budget]]\nname = \"img\"\nimage = \"app.tar\"\nmax = \"16 KiB\"\nmax-compressed = \"8 KiB\"\nmax-uncompressed = \"16 KiB\"\nmax-files = 1\nstatic = true\n",
    );
    let o = run(gate(dir).arg("--json"));
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &v["budgets"][0]["measures"];

    // The same numbers, independently: the system tar, gzip and wc over docker's manifest.json.
    let x = dir.join("x");
    untar(&dir.join("app.tar"), &x);
    let manifest: serde_json::Value = serde_json::from_slice(&fs::read(x.join("manifest.json")).unwrap()).unwrap();
    let layer = x.join(manifest[0]["Layers"][0].as_str().unwrap());
    let l = layer.display();
    assert_eq!(m["compressed"].as_u64(), Some(fs::metadata(&layer).unwrap().len()));
    assert_eq!(m["uncompressed"].as_u64().unwrap().to_string(), sh(&format!("gzip -dc '{l}' | wc -c")));
    assert_eq!(m["files"].as_u64().unwrap().to_string(), sh(&format!("gzip -dc '{l}' | tar -tv | grep -vc '^d'")));
    assert_eq!(m["size"].as_u64(), Some(fs::metadata(dir.join("app.tar")).unwrap().len()));
    assert_eq!(m["linkage"]["ok"], true);

    // One more file than allowed.
    write(dir, "staticize.toml", "[[budget]]\nname = \"img\"\nimage = \"app.tar\"\nmax-files = 0\n");
    let out = fails_with(&mut gate(dir), 1);
    assert!(out.contains("FAIL: over the 0 budget by 1"), "{out}");
}

#[test]
fn a_docker_archive_with_a_dynamic_program_fails_static() {
    // A docker-save style archive (manifest.json, an uncompressed layer.tar) made with the
    // system tar, holding a dynamic program: the gate reads it and names the program.
    let d = tempdir();
    let dir = d.path();
    let root = dir.join("root/usr/bin");
    fs::create_dir_all(&root).unwrap();
    let bin = dynamic_bin(dir, "app");
    fs::copy(&bin, root.join("app")).unwrap();
    fs::write(root.join("README"), "not a program").unwrap();
    let img = dir.join("img");
    fs::create_dir_all(&img).unwrap();
    ok(Command::new("tar").arg("-cf").arg(img.join("layer.tar")).arg("-C").arg(dir.join("root")).arg("usr"));
    fs::write(
        img.join("config.json"),
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    )
    .unwrap();
    fs::write(img.join("manifest.json"), r#"[{"Config":"config.json","RepoTags":["t:1"],"Layers":["layer.tar"]}]"#)
        .unwrap();
    ok(Command::new("tar").arg("-cf").arg(dir.join("docker.tar")).arg("-C").arg(&img).arg("."));
    write(dir, "staticize.toml", "[[budget]]\nname = \"d\"\nimage = \"docker.tar\"\nmax-files = 2\nstatic = true\n");
    let o = run(gate(dir).arg("--json"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &v["budgets"][0]["measures"];
    assert_eq!(m["files"].as_u64(), Some(2));
    assert_eq!(m["compressed"].as_u64(), Some(fs::metadata(img.join("layer.tar")).unwrap().len()));
    assert_eq!(m["uncompressed"], m["compressed"], "an uncompressed layer is its own size");
    assert_eq!(m["linkage"]["detail"], "/usr/bin/app is dynamic");

    // Not an image at all.
    write(dir, "staticize.toml", "[[budget]]\nname = \"d\"\nimage = \"img/config.json\"\nmax = 1\n");
    let out = fails_with(&mut gate(dir), 4);
    assert!(out.contains("not a tar archive") || out.contains("not an image archive"), "{out}");
}

#[test]
fn config_errors_name_line_and_column() {
    let d = tempdir();
    let dir = d.path();
    let cases: &[(&str, &str)] = &[
        (
            "[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax = \"8 K\"\n",
            "staticize.toml:4:7: '8 K': the unit K is ambiguous",
        ),
        ("[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax = \"eight\"\n", "staticize.toml:4:7: 'eight' is not a size"),
        ("[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax = 1\nmax-growth = \"lots\"\n", "staticize.toml:5:14:"),
        ("[[budget]]\nname = \"a\"\nbinary = \"a\"\nmaximum = 3\n", "staticize.toml:4:1: unknown field `maximum`"),
        ("[[budget]]\nname = \"a\"\nbinary = \"a\"\n  static = \"yes\"\n", "staticize.toml:4:12:"),
        (
            "[[budget]]\nname = \"a\"\nbinary = \"a\"\nimage = \"b\"\nmax = 1\n",
            "staticize.toml:4:9: budget 'a' names both",
        ),
        (
            "# budgets\n[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax = 1\nbuild = \"gate\"\n",
            "staticize.toml:6:9: a budget cannot build with `staticize gate`",
        ),
        ("[[budget]\nname = \"a\"\n", "staticize.toml:1:"),
    ];
    for (config, expected) in cases {
        write(dir, "staticize.toml", config);
        let out = fails_with(&mut gate(dir), 4);
        assert!(out.contains(&format!("error: {expected}")), "expected {expected:?} for\n{config}\ngot:\n{out}");
        assert!(out.contains("help:"), "{out}");
    }
    // The underline points at the value.
    write(dir, "staticize.toml", cases[1].0);
    let out = fails_with(&mut gate(dir), 4);
    assert!(out.contains("4 | max = \"eight\"\n  |       ^^^^^^^"), "{out}");

    // A missing config, by default and with --config.
    let out = fails_with(gate(dir).args(["--config", "nope.toml"]), 4);
    assert!(out.contains("error: nope.toml: no such config file") && out.contains("[[budget]]"), "{out}");
    let empty = tempdir();
    let out = fails_with(&mut gate(empty.path()), 4);
    assert!(out.contains("error: staticize.toml: no such config file"), "{out}");

    // A broken baseline is named with its position too.
    write(dir, "staticize.toml", "[[budget]]\nname = \"a\"\nbinary = \"staticize.toml\"\nmax = \"1 MB\"\n");
    write(dir, "staticize.lock", "version = 1\n[budget.a]\nsize = -\n");
    let out = fails_with(&mut gate(dir), 4);
    assert!(out.contains("error: staticize.lock:3:8:"), "{out}");

    // A budget whose file does not exist.
    fs::remove_file(dir.join("staticize.lock")).unwrap();
    write(dir, "staticize.toml", "[[budget]]\nname = \"a\"\nbinary = \"missing\"\nmax = 1\n");
    let out = fails_with(&mut gate(dir), 4);
    assert!(out.contains("budget 'a': the binary to measure does not exist"), "{out}");
    assert!(out.contains("add build = "), "{out}");
}

#[test]
fn a_failing_build_is_a_build_error() {
    let d = tempdir();
    let dir = d.path();
    write(dir, "broken.c", "int main(void) { return missing_symbol; }\n");
    write(
        dir,
        "staticize.toml",
        "[[budget]]\nname = \"b\"\nbuild = \"c broken.c --no-image\"\nbinary = \"broken\"\nmax = 1\n",
    );
    let out = fails_with(&mut gate(dir), 3);
    assert!(out.contains("build budget 'b' (staticize c broken.c --no-image) failed"), "{out}");
    assert!(out.contains("missing_symbol"), "{out}");
}

#[test]
fn check_max_size() {
    let d = tempdir();
    let dir = d.path();
    let Some(small) = static_bin(dir, "small", 1) else { return };
    let big = static_bin(dir, "big", 100_000).unwrap();
    let dynamic = dynamic_bin(dir, "dyn");
    let out = ok(staticize().args(["check", "--static", "--max-size", "64KiB"]).arg(&small));
    assert!(out.starts_with("ok  "), "{out}");
    let out = fails_with(staticize().args(["check", "--max-size", "64 KiB"]).arg(&small).arg(&big), 1);
    let size = fs::metadata(&big).unwrap().len();
    assert!(out.contains(&format!("over the 64.0 KiB limit by {}", human(size - 65536))), "{out}");
    assert!(out.contains("raise --max-size"), "{out}");
    let out = fails_with(staticize().args(["check", "--static", "--max-size", "1 MB"]).arg(&dynamic), 1);
    assert!(out.contains("FAIL") && out.contains("dynamic"), "{out}");
    // Decimal vs binary units, to the byte.
    let n = fs::metadata(&small).unwrap().len();
    ok(staticize().args(["check", "--max-size"]).arg(n.to_string()).arg(&small));
    fails_with(staticize().args(["check", "--max-size"]).arg((n - 1).to_string()).arg(&small), 1);
    let o = run(staticize().args(["check", "--json", "--max-size", "1kB"]).arg(&small));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["max_size"].as_u64(), Some(1000));
    assert_eq!(v[0]["ok"], false);
    // Bad values are usage errors.
    let out = fails_with(staticize().args(["check", "--max-size", "8 K"]).arg(&small), 2);
    assert!(out.contains("ambiguous"), "{out}");
    fails_with(staticize().args(["check", "--static", "--allow-dynamic"]).arg(&small), 2);
}

#[test]
fn completions_parse_in_their_shells() {
    for (shell, checker) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        let o = run(staticize().args(["completions", shell]));
        assert!(o.status.success(), "{}", text(&o));
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(script.contains("gate") && script.contains("update-baseline"), "{shell}: {script}");
        if !have(checker) {
            continue;
        }
        let d = tempdir();
        let f = d.path().join(format!("staticize.{shell}"));
        fs::write(&f, &script).unwrap();
        ok(Command::new(checker).arg("-n").arg(&f));
    }
    // bash can load it and complete the subcommands.
    if have("bash") {
        let d = tempdir();
        let f = d.path().join("c.bash");
        fs::write(&f, run(staticize().args(["completions", "bash"])).stdout).unwrap();
        let script = format!(
            "source '{}'; COMP_WORDS=(staticize ga); COMP_CWORD=1; COMP_LINE='staticize ga'; COMP_POINT=12; _staticize staticize ga staticize; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            f.display()
        );
        let out = ok(Command::new("bash").args(["-c", &script]));
        assert_eq!(out.trim(), "gate", "{out}");
    }
    fails_with(staticize().args(["completions", "tcsh"]), 2);
}

#[test]
fn man_page_renders() {
    let o = run(staticize().arg("man"));
    assert!(o.status.success(), "{}", text(&o));
    let roff = String::from_utf8(o.stdout).unwrap();
    assert!(roff.starts_with(".ie \\n(.g .ds Aq") || roff.contains(".TH staticize 1"), "{roff}");
    let d = tempdir();
    let page = d.path().join("staticize.1");
    fs::write(&page, &roff).unwrap();
    let rendered = if have("man") {
        ok(Command::new("man").env("MANPAGER", "cat").env("MANWIDTH", "100").arg("-l").arg(&page))
    } else {
        assert!(have("groff"), "neither man nor groff to render with");
        ok(Command::new("groff").args(["-man", "-Tutf8", "-ww"]).arg(&page))
    };
    for needle in ["SYNOPSIS", "gate", "completions", "Exit codes"] {
        assert!(rendered.contains(needle), "{needle} missing from:\n{rendered}");
    }
    // groff's own warnings about the roff: none.
    if have("groff") {
        let o = run(Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(&page));
        assert!(o.status.success() && o.stderr.is_empty(), "groff warnings:\n{}", text(&o));
    }

    // One page per command into a directory.
    let mandir = d.path().join("man1");
    ok(staticize().args(["man", "--dir"]).arg(&mandir));
    let gate_page = mandir.join("staticize-gate.1");
    let text = fs::read_to_string(&gate_page).unwrap();
    assert!(text.contains("update\\-baseline") && text.contains("max\\-growth"), "{text}");
    if have("man") {
        let out = ok(Command::new("man").env("MANPAGER", "cat").arg("-l").arg(&gate_page));
        assert!(out.contains("staticize-gate") || out.contains("staticize\u{2010}gate"), "{out}");
    }
}

/// git with a fixed identity and no user or system config.
fn git(dir: &Path, home: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .env("PRE_COMMIT_HOME", home.join("pre-commit-cache"))
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("PATH", path_with_staticize());
    c
}

/// PATH with the staticize under test first.
fn path_with_staticize() -> String {
    let dir = bin().parent().unwrap().to_path_buf();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// `git commit` through the installed pre-commit hook: Ok(output) when the commit was made.
fn commit(repo: &Path, home: &Path, files: &[&str], message: &str) -> Result<String, String> {
    ok(git(repo, home).arg("add").args(files));
    let before = head(repo, home);
    let o = run(git(repo, home).args(["commit", "-m", message]));
    let after = head(repo, home);
    if o.status.success() {
        assert_ne!(before, after, "commit succeeded but HEAD did not move:\n{}", text(&o));
        Ok(text(&o))
    } else {
        assert_eq!(before, after, "commit refused but HEAD moved");
        // Unstage what was refused so the next scenario starts clean.
        let _ = run(git(repo, home).args(["reset", "-q", "HEAD", "--"]).args(files));
        Err(text(&o))
    }
}

fn head(repo: &Path, home: &Path) -> String {
    let o = run(git(repo, home).args(["rev-parse", "-q", "--verify", "HEAD"]));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn pre_commit_refuses_over_budget_and_dynamic_binaries() {
    if !have("pre-commit") || !have("git") || !have("musl-gcc") {
        return;
    }
    let d = tempdir();
    let home = d.path().join("home");
    fs::create_dir_all(&home).unwrap();

    // The hooks repository: a clone-able git repo holding this repository's real
    // .pre-commit-hooks.yaml.
    let hooks = d.path().join("hooks");
    fs::create_dir_all(&hooks).unwrap();
    fs::copy(repo().join(".pre-commit-hooks.yaml"), hooks.join(".pre-commit-hooks.yaml")).unwrap();
    ok(git(&hooks, &home).args(["init", "-q", "-b", "main"]));
    ok(git(&hooks, &home).args(["config", "user.name", "Hooks"]));
    ok(git(&hooks, &home).args(["config", "user.email", "hooks@example.invalid"]));
    ok(git(&hooks, &home).args(["add", ".pre-commit-hooks.yaml"]));
    ok(git(&hooks, &home).args(["commit", "-q", "-m", "hooks"]));
    let rev = head(&hooks, &home);

    // The project using them.
    let project = d.path().join("project");
    let bins = project.join("bin");
    fs::create_dir_all(&bins).unwrap();
    ok(git(&project, &home).args(["init", "-q", "-b", "main"]));
    ok(git(&project, &home).args(["config", "user.name", "Tester"]));
    ok(git(&project, &home).args(["config", "user.email", "tester@example.invalid"]));
    let config = format!(
        "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: staticize-check\n        args: [--max-size, 64KiB]\n      - id: staticize-gate\n",
        hooks.display()
    );
    write(&project, ".pre-commit-config.yaml", &config);
    write(
        &project,
        "staticize.toml",
        "[[budget]]\nname = \"app\"\nbinary = \"bin/app\"\nmax = \"16 KiB\"\nstatic = true\n",
    );
    static_bin(&bins, "app", 1).unwrap();
    fs::remove_file(bins.join("app.c")).unwrap();
    ok(git(&project, &home).args(["add", ".pre-commit-config.yaml", "staticize.toml"]));
    let installed = ok(Command::new("pre-commit")
        .current_dir(&project)
        .env("HOME", &home)
        .env("PRE_COMMIT_HOME", home.join("pre-commit-cache"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .arg("install"));
    assert!(installed.contains("pre-commit installed"), "{installed}");

    // A good static binary within budget goes through; both hooks ran.
    let out = commit(&project, &home, &[".pre-commit-config.yaml", "staticize.toml", "bin/app"], "good")
        .unwrap_or_else(|e| panic!("the good commit was refused:\n{e}"));
    assert!(out.contains("staticize check") && out.contains("Passed"), "{out}");
    assert!(out.contains("staticize gate") && !out.contains("Failed"), "{out}");

    // Over --max-size: refused by staticize-check.
    let scratch = d.path().join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    fs::copy(static_bin(&scratch, "big", 100_000).unwrap(), bins.join("big")).unwrap();
    let out = commit(&project, &home, &["bin/big"], "big").expect_err("an over-budget binary was committed");
    assert!(out.contains("staticize check") && out.contains("Failed"), "{out}");
    assert!(out.contains("bin/big") && out.contains("over the 64.0 KiB limit"), "{out}");
    fs::remove_file(bins.join("big")).unwrap();

    // A dynamic binary: refused by staticize-check.
    fs::copy(dynamic_bin(&scratch, "dyn"), bins.join("dyn")).unwrap();
    let out = commit(&project, &home, &["bin/dyn"], "dyn").expect_err("a dynamic binary was committed");
    assert!(out.contains("bin/dyn") && out.contains("dynamic"), "{out}");
    fs::remove_file(bins.join("dyn")).unwrap();

    // Under --max-size but over the 16 KiB budget in staticize.toml: refused by staticize-gate.
    fs::copy(static_bin(&scratch, "app", 30_000).unwrap(), bins.join("app")).unwrap();
    let out = commit(&project, &home, &["bin/app"], "grow").expect_err("an over-budget app was committed");
    let gate_line = out.lines().find(|l| l.starts_with("staticize gate")).unwrap_or_else(|| panic!("{out}"));
    assert!(gate_line.contains("Failed"), "{out}");
    assert!(out.contains("FAIL: over the 16.0 KiB budget"), "{out}");

    // Back within budget: the commit goes through.
    fs::copy(static_bin(&scratch, "app", 2_000).unwrap(), bins.join("app")).unwrap();
    commit(&project, &home, &["bin/app"], "fix").unwrap_or_else(|e| panic!("the fixed commit was refused:\n{e}"));
    let log = ok(git(&project, &home).args(["log", "--format=%s"]));
    assert_eq!(log.lines().collect::<Vec<_>>(), ["fix", "good"], "{log}");
}

#[test]
fn the_repository_budgets_pass() {
    if !have("musl-gcc") {
        return;
    }
    let config = repo().join("staticize.toml");
    let lock = fs::read(repo().join("staticize.lock")).unwrap();
    let out = ok(staticize().current_dir(repo()).args(["gate", "--config"]).arg(&config));
    assert!(out.contains("2 budgets, 7 checks: all pass"), "{out}");
    // Deterministic output: the committed baseline matches to the byte.
    assert!(out.lines().filter(|l| l.starts_with("hello-c")).all(|l| l.contains("±0") || l.contains('—')), "{out}");
    assert!(fs::metadata(repo().join("target/gate/hello")).unwrap().len() <= 8192);
    assert_eq!(fs::read(repo().join("staticize.lock")).unwrap(), lock, "the gate must not write the lock");
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let d = tempdir();
    let dir = d.path();
    fs::write(dir.join("blob"), b"x").unwrap();
    write(dir, "staticize.toml", "[[budget]]\nname = \"blob\"\nbinary = \"blob\"\nmax = 1\n");
    // Piped: plain.
    let o = run(gate(dir).env_remove("NO_COLOR"));
    assert!(o.status.success() && !text(&o).contains('\x1b'), "{}", text(&o));
    if !have("script") {
        return;
    }
    // On a terminal (script(1) gives it a pty): coloured, unless NO_COLOR is set.
    let on_tty = |no_color: Option<&str>| {
        let mut c = Command::new("script");
        c.current_dir(dir).args(["-qec", &format!("{} gate", bin().display()), "/dev/null"]);
        match no_color {
            Some(v) => c.env("NO_COLOR", v),
            None => c.env_remove("NO_COLOR"),
        };
        let o = run(&mut c);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let coloured = on_tty(None);
    assert!(coloured.contains("\x1b[32mok\x1b[0m"), "{coloured:?}");
    let plain = on_tty(Some("1"));
    assert!(plain.contains("ok") && !plain.contains('\x1b'), "{plain:?}");
}

#[test]
fn zstd_images_and_oci_directories_are_gated() {
    // The gate reads images through the shared reader: zstd layers and OCI layout directories
    // give the same figures the system's zstd, tar and wc give.
    let d = tempdir();
    let dir = d.path();
    let Some(_) = static_bin(dir, "app", 1) else { return };
    if !have("zstd") {
        return;
    }
    ok(staticize().current_dir(dir).args(["image", "app", "-o", "z.tar", "--path", "/bin/app"]).args([
        "--compress",
        "zstd",
        "--oci-dir",
        "z-oci",
    ]));
    let both = "[[budget]]\nname = \"tar\"\nimage = \"z.tar\"\nmax-files = 1\nstatic = true\n\n[[budget]]\nname = \"dir\"\nimage = \"z-oci\"\nmax-files = 1\nstatic = true\n";
    write(dir, "staticize.toml", both);
    let o = run(gate(dir).arg("--json"));
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (tar, oci) = (&v["budgets"][0]["measures"], &v["budgets"][1]["measures"]);

    let x = dir.join("x");
    untar(&dir.join("z.tar"), &x);
    let manifest: serde_json::Value = serde_json::from_slice(&fs::read(x.join("manifest.json")).unwrap()).unwrap();
    let layer = x.join(manifest[0]["Layers"][0].as_str().unwrap());
    let l = layer.display();
    assert!(fs::read(&layer).unwrap().starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "the layer is zstd");
    assert_eq!(tar["compressed"].as_u64(), Some(fs::metadata(&layer).unwrap().len()));
    assert_eq!(tar["uncompressed"].as_u64().unwrap().to_string(), sh(&format!("zstd -dc '{l}' | wc -c")));
    assert_eq!(tar["files"].as_u64().unwrap().to_string(), sh(&format!("zstd -dc '{l}' | tar -tv | grep -vc '^d'")));
    assert_eq!(tar["linkage"]["label"], "static (1 program)");
    for k in ["compressed", "uncompressed", "files", "linkage"] {
        assert_eq!(tar[k], oci[k], "{k}: the OCI directory holds the same image");
    }
    let oci_bytes = sh(&format!(
        "find '{}' -type f -printf '%s\\n' | awk '{{s+=$1}} END {{print s}}'",
        dir.join("z-oci").display()
    ));
    assert_eq!(oci["size"].as_u64().unwrap().to_string(), oci_bytes, "a directory's size is its files' bytes");

    // A dynamic program in a zstd image fails `static`, named.
    if !have("gcc") {
        return;
    }
    dynamic_bin(dir, "dyn");
    ok(staticize().current_dir(dir).args(["bundle", "dyn", "-o", "dyn.tar", "--compress", "zstd"]));
    write(dir, "staticize.toml", "[[budget]]\nname = \"dyn\"\nimage = \"dyn.tar\"\nstatic = true\n");
    let out = fails_with(&mut gate(dir), 1);
    assert!(out.contains("dyn is dynamic"), "{out}");
}
