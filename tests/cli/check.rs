//! `staticize check`: verdicts for every kind of file, compared with readelf.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::*;

type Zoo = Vec<(String, PathBuf, &'static str)>;

/// The fixture zoo, built once per test run into a directory that lives as long as the run.
fn zoo() -> &'static Zoo {
    static ZOO: OnceLock<(tempfile::TempDir, Zoo)> = OnceLock::new();
    &ZOO.get_or_init(|| {
        let dir = tempdir();
        let zoo = build_zoo(dir.path());
        (dir, zoo)
    })
    .1
}

/// Builds the fixture zoo from source into `dir`; returns (name, path, expected kind).
fn build_zoo(dir: &Path) -> Zoo {
    let c = dir.join("hello.c");
    fs::write(&c, "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n").unwrap();
    let mut v = Vec::new();
    let mut cc = |name: &str, argv: &[&str], kind: &'static str| {
        let out = dir.join(name);
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]).arg(&c).arg("-o").arg(&out);
        ok(&mut cmd);
        v.push((name.to_string(), out, kind));
    };
    if have("musl-gcc") {
        cc("musl-static", &["musl-gcc", "-static", "-Os"], "static");
        // Debian 12's musl-gcc -static-pie still asks for /lib/ld-musl-x86_64.so.1.
        cc("musl-static-pie", &["musl-gcc", "-static-pie"], "dynamic");
    }
    cc("glibc-static", &["gcc", "-static"], "static");
    cc("glibc-static-pie", &["gcc", "-static-pie"], "static-pie");
    cc("glibc-dynamic", &["gcc"], "dynamic");
    cc("libshared.so", &["gcc", "-shared", "-fPIC"], "shared-library");

    if have("rustc") {
        let rs = dir.join("hello.rs");
        fs::write(&rs, "fn main() { println!(\"hi\"); }\n").unwrap();
        let out = dir.join("rust-crt-static");
        ok(Command::new("rustc").args(["-C", "target-feature=+crt-static", "-O", "-o"]).arg(&out).arg(&rs));
        v.push(("rust-crt-static".into(), out, "static-pie"));
    }
    if have("go") {
        let gd = dir.join("goprog");
        fs::create_dir_all(&gd).unwrap();
        fs::write(gd.join("main.go"), "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hi\") }\n").unwrap();
        fs::write(gd.join("go.mod"), "module example.com/hi\ngo 1.21\n").unwrap();
        let out = dir.join("go-static");
        ok(Command::new("go")
            .current_dir(&gd)
            .env("CGO_ENABLED", "0")
            .env("GOFLAGS", "-buildvcs=false")
            .args(["build", "-o"])
            .arg(&out));
        v.push(("go-static".into(), out, "static"));
    }
    v
}

#[test]
fn verdicts_for_every_kind_of_program() {
    let zoo = zoo();
    let files: Vec<&PathBuf> = zoo.iter().map(|(_, p, _)| p).collect();
    let out = run(staticize().args(["check", "--json"]).args(&files));
    assert_eq!(out.status.code(), Some(1), "a dynamic file must fail the check: {}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for ((name, _, kind), r) in zoo.iter().zip(v.as_array().unwrap()) {
        assert_eq!(r["kind"], *kind, "{name}: {r}");
        assert_eq!(r["machine"], "amd64", "{name}");
        let should_pass = *kind == "static" || *kind == "static-pie";
        assert_eq!(r["ok"], should_pass, "{name}");
    }
    let musl_pie = zoo.iter().find(|(n, _, _)| n == "musl-static-pie");
    if let Some((_, p, _)) = musl_pie {
        let human = text(&run(staticize().arg("check").arg(p)));
        assert!(human.contains("interpreter /lib/ld-musl-x86_64.so.1"), "{human}");
    }
}

#[test]
fn allow_dynamic_passes_programs_but_not_libraries() {
    let zoo = zoo();
    let get = |n: &str| zoo.iter().find(|(name, _, _)| name == n).unwrap().1.clone();
    ok(staticize().args(["check", "--allow-dynamic"]).arg(get("glibc-dynamic")).arg(get("glibc-static")));
    fails_with(staticize().args(["check", "--allow-dynamic"]).arg(get("libshared.so")), 1);
}

#[test]
fn non_programs_get_named_reasons_and_exit_1() {
    let dir = tempdir();
    let script = dir.path().join("script.sh");
    fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let text_file = dir.path().join("notes.txt");
    fs::write(&text_file, "just text").unwrap();
    let empty = dir.path().join("empty");
    fs::write(&empty, "").unwrap();
    let truncated = dir.path().join("truncated");
    let whole = fs::read(std::env::current_exe().unwrap()).unwrap();
    fs::write(&truncated, &whole[..100]).unwrap();
    let cases: [(&Path, &str); 6] = [
        (&script, "is a script (#!/bin/sh)"),
        (&text_file, "is not an ELF file"),
        (&empty, "is empty"),
        (&truncated, "truncated or invalid ELF"),
        (dir.path(), "is a directory"),
        (Path::new("/nonexistent/file"), "No such file"),
    ];
    for (p, reason) in cases {
        let out = fails_with(staticize().arg("check").arg(p), 1);
        assert!(out.contains(reason), "{}: expected '{reason}' in:\n{out}", p.display());
    }
}

/// What readelf says about one file: (kind, interpreter, needed).
fn readelf_verdict(p: &Path) -> Option<(String, Option<String>, Vec<String>)> {
    let h = Command::new("readelf").args(["-hlW"]).arg(p).output().ok()?;
    if !h.status.success() {
        return None;
    }
    let hl = String::from_utf8_lossy(&h.stdout);
    let etype = hl.lines().find(|l| l.trim_start().starts_with("Type:"))?.split_whitespace().nth(1)?.to_string();
    let interp = hl.lines().find_map(|l| {
        let i = l.find("[Requesting program interpreter: ")?;
        Some(l[i + 33..l.rfind(']')?].to_string())
    });
    let d = Command::new("readelf").args(["-dW"]).arg(p).output().ok()?;
    let dl = String::from_utf8_lossy(&d.stdout);
    let needed: Vec<String> = dl
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_string()))
        .collect();
    let pie = dl.lines().any(|l| l.contains("(FLAGS_1)") && l.contains("PIE"));
    let kind = if interp.is_some() || !needed.is_empty() {
        if etype == "DYN" && interp.is_none() && !pie { "shared-library" } else { "dynamic" }
    } else if etype == "EXEC" {
        "static"
    } else if etype == "DYN" && pie {
        "static-pie"
    } else if etype == "DYN" {
        "shared-library"
    } else {
        "other-elf"
    };
    Some((kind.to_string(), interp, needed))
}

#[test]
fn verdicts_match_readelf_for_every_elf_in_usr_bin() {
    if !have("readelf") {
        return;
    }
    let mut elves: Vec<PathBuf> = fs::read_dir("/usr/bin")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && fs::File::open(p).ok().and_then(|mut f| {
                    let mut m = [0u8; 4];
                    std::io::Read::read_exact(&mut f, &mut m).ok().map(|_| m == *b"\x7fELF")
                }) == Some(true)
        })
        .collect();
    elves.sort();
    elves.dedup_by_key(|p| fs::canonicalize(&*p).unwrap());
    assert!(elves.len() > 100, "expected many ELF files in /usr/bin, found {}", elves.len());
    let out = run(staticize().args(["check", "--json", "--allow-dynamic"]).args(&elves));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: BTreeMap<String, &serde_json::Value> =
        v.as_array().unwrap().iter().map(|r| (r["path"].as_str().unwrap().to_string(), r)).collect();
    let mut compared = 0;
    for p in &elves {
        let Some((kind, interp, needed)) = readelf_verdict(p) else { continue };
        let r = ours[&p.display().to_string()];
        assert_eq!(r["kind"], kind, "{}", p.display());
        assert_eq!(r["interp"].as_str().map(str::to_string), interp, "{}", p.display());
        let our_needed: Vec<String> =
            r["needed"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
        assert_eq!(our_needed, needed, "{}", p.display());
        compared += 1;
    }
    assert!(compared > 100, "compared only {compared} files");
    eprintln!("compared {compared} ELF files with readelf");
}
