//! `staticize check -r`: a recursive walk that judges ELF files only, compared with scanelf.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// A tree with a static program, a dynamic one, a shared library in a subdirectory, and files
/// that are not ELF (text, script, empty) plus a link that must not be followed.
fn tree(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let c = dir.join("hello.c");
    fs::write(&c, "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n").unwrap();
    let root = dir.join("root");
    let sub = root.join("sub/deeper");
    fs::create_dir_all(&sub).unwrap();
    let stat = root.join("static-hello");
    let dynamic = root.join("dynamic-hello");
    let lib = sub.join("libx.so");
    ok(Command::new("gcc").args(["-static", "-Os", "-o"]).arg(&stat).arg(&c));
    ok(Command::new("gcc").arg("-o").arg(&dynamic).arg(&c));
    ok(Command::new("gcc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&c));
    fs::write(root.join("notes.txt"), "just text\n").unwrap();
    fs::write(root.join("sub/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::write(root.join("sub/empty"), "").unwrap();
    fs::write(root.join("sub/tiny"), "\x7fE").unwrap();
    std::os::unix::fs::symlink(&stat, root.join("sub/link-to-static")).unwrap();
    (root, stat, dynamic)
}

fn json_by_path(out: &std::process::Output) -> BTreeMap<String, serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)));
    v.as_array().unwrap().iter().map(|r| (r["path"].as_str().unwrap().to_string(), r.clone())).collect()
}

#[test]
fn recursive_check_judges_every_elf_below_and_skips_the_rest() {
    let dir = tempdir();
    let (root, stat, dynamic) = tree(dir.path());
    let lib = root.join("sub/deeper/libx.so");
    let out = run(staticize().args(["check", "-r", "--json"]).arg(&root));
    assert_eq!(out.status.code(), Some(1), "a dynamic program fails: {}", text(&out));
    let got = json_by_path(&out);
    let want: Vec<String> = [&dynamic, &stat, &lib].iter().map(|p| p.display().to_string()).collect();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), want, "only ELF files, sorted, links not followed");
    assert_eq!(got[&want[0]]["kind"], "dynamic");
    assert_eq!(got[&want[0]]["ok"], false);
    assert_eq!(got[&want[1]]["kind"], "static");
    assert_eq!(got[&want[1]]["ok"], true);
    assert_eq!(got[&want[2]]["kind"], "shared-library");

    // Human output: one line per ELF file, the summary names the count.
    let human = fails_with(staticize().args(["check", "--recursive"]).arg(&root), 1);
    assert!(human.contains(&format!("ok   {}: static", stat.display())), "{human}");
    assert!(human.contains(&format!("FAIL {}: dynamic (interpreter", dynamic.display())), "{human}");
    assert!(!human.contains("notes.txt") && !human.contains("run.sh") && !human.contains("empty"), "{human}");
    assert!(human.contains("2 of 3 file(s) failed"), "{human}");
}

#[test]
fn recursive_check_passes_a_tree_of_programs_with_allow_dynamic() {
    let dir = tempdir();
    let (root, _, _) = tree(dir.path());
    fs::remove_dir_all(root.join("sub/deeper")).unwrap();
    let out = ok(staticize().args(["check", "-r", "--allow-dynamic"]).arg(&root));
    assert_eq!(out.lines().filter(|l| l.starts_with("ok ")).count(), 2, "{out}");
    // The link (/lib → usr/lib style) given as the root is followed.
    let link = dir.path().join("root-link");
    std::os::unix::fs::symlink(&root, &link).unwrap();
    let out = ok(staticize().args(["check", "-r", "--allow-dynamic"]).arg(&link));
    assert!(out.contains(&format!("{}/static-hello", link.display())), "{out}");
}

#[test]
fn files_named_explicitly_are_judged_as_without_r() {
    let dir = tempdir();
    let (root, stat, _) = tree(dir.path());
    let notes = root.join("notes.txt");
    let out = fails_with(staticize().args(["check", "-r"]).arg(&stat).arg(&notes), 1);
    assert!(out.contains("is not an ELF file"), "{out}");
    let missing = fails_with(staticize().args(["check", "-r", "/nonexistent/dir"]), 4);
    assert!(missing.contains("/nonexistent/dir"), "{missing}");
}

#[test]
fn recursive_verdicts_match_scanelf() {
    if !have("scanelf") {
        return;
    }
    let dir = tempdir();
    let (root, _, _) = tree(dir.path());
    // Real trees too, when present: a slice of the system as scanelf sees it.
    let mut roots = vec![root];
    roots.extend(
        ["/usr/libexec", "/usr/lib/x86_64-linux-gnu/gconv"].map(PathBuf::from).into_iter().filter(|p| p.is_dir()),
    );
    for root in roots {
        let scan = ok(Command::new("scanelf").args(["-R", "-F", "%F|%i|%n#F"]).arg(&root));
        let theirs: BTreeMap<String, (String, String)> = scan
            .lines()
            .filter(|l| !l.starts_with("FILE INTERP"))
            .filter_map(|l| {
                let mut f = l.splitn(3, '|');
                Some((f.next()?.to_string(), (f.next()?.to_string(), f.next()?.to_string())))
            })
            .collect();
        let out = run(staticize().args(["check", "-r", "--json"]).arg(&root));
        let ours = json_by_path(&out);
        let file_set = |m: &BTreeMap<String, _>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(file_set(&ours), theirs.keys().cloned().collect::<Vec<_>>(), "{}: same ELF files", root.display());
        for (path, r) in &ours {
            let (interp, needed) = &theirs[path];
            assert_eq!(r["interp"].as_str().unwrap_or(""), interp.trim(), "{path}");
            let ours_needed: Vec<&str> = r["needed"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
            assert_eq!(ours_needed.join(","), needed.trim(), "{path}");
        }
        eprintln!("{}: {} ELF files agree with scanelf", root.display(), ours.len());
    }
}
