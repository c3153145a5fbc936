//! Files no ELF header names (issue 25): plugin directories a library loads modules from,
//! the system trust store, what a traced run wrote, and node entries that need their files.
//! Each on a real program: glibc's iconv with its gconv modules, a Go net/http client against
//! a local `openssl s_server`, gzip and sqlite3 traced, and a CommonJS shim that imports its
//! own ES module (which uses escape-goat from npm).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use std::process::Output;

use crate::node::install;
use crate::support::*;

/// Every path in the layers of an image archive, once each, sorted.
fn image_paths(archive: &Path) -> Vec<String> {
    let mut paths = std::collections::BTreeSet::new();
    for tar_bytes in layer_tars(archive) {
        let mut inner = tar::Archive::new(tar_bytes.as_slice());
        paths.extend(inner.entries().unwrap().map(|e| format!("/{}", e.unwrap().path().unwrap().display())));
    }
    paths.into_iter().collect()
}

/// Runs the image with `stdin` on its standard input; returns its standard output.
fn run_with_input(engine: Engine, image: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = engine
        .cmd()
        .args(["run", "--rm", "-i", "--network", "none", image])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// glibc names its gconv directory only in libc.so.6's strings: iconv converting to
/// ISO-8859-15 and EUC-JP needs its modules. bundle carries them (iconv calls iconv_open),
/// the image converts in podman and docker; with --no-plugins it cannot, and check says why.
#[test]
fn iconv_gets_its_gconv_modules_and_converts_in_podman_and_docker() {
    if !have("podman") {
        return;
    }
    let d = tempdir();
    let tar = d.path().join("iconv.tar");
    let tag = unique_tag("iconv");
    let out = ok(staticize().args(["bundle", "/usr/bin/iconv", "-o"]).arg(&tar).args(["-t", &tag]));
    assert!(
        out.contains("plugins libc.so.6 loads modules from /usr/lib/x86_64-linux-gnu/gconv (package libc6)")
            && out.contains("iconv_open()"),
        "{out}"
    );
    assert!(image_paths(&tar).iter().any(|p| p.ends_with("/gconv/ISO8859-15.so")), "{out}");
    // "€ uro" in UTF-8; ISO-8859-15 has the euro sign at 0xa4.
    let euro = "\u{20ac} uro".as_bytes();
    for engine in Engine::available() {
        engine.load(&tar);
        let latin9 = run_with_input(engine, &tag, &["-f", "UTF-8", "-t", "ISO-8859-15"], euro);
        let jp = run_with_input(engine, &tag, &["-f", "UTF-8", "-t", "EUC-JP"], "\u{3042}".as_bytes());
        engine.remove(&tag);
        assert_eq!(latin9.stdout, b"\xa4 uro", "{engine:?}: {}", text(&latin9));
        assert_eq!(jp.stdout, b"\xa4\xa2", "{engine:?}: {}", text(&jp));
    }
    let bare = d.path().join("bare.tar");
    let bare_tag = unique_tag("iconv-bare");
    let out =
        ok(staticize().args(["bundle", "/usr/bin/iconv", "--no-plugins", "-o"]).arg(&bare).args(["-t", &bare_tag]));
    assert!(!out.contains("plugins "), "{out}");
    Engine::Podman.load(&bare);
    let failed = run_with_input(Engine::Podman, &bare_tag, &["-f", "UTF-8", "-t", "ISO-8859-15"], euro);
    Engine::Podman.remove(&bare_tag);
    assert!(!failed.status.success(), "without gconv iconv cannot convert: {}", text(&failed));
    let checked = ok(staticize().arg("check").arg(&bare));
    assert!(
        checked.contains("loads modules (read as a program calls iconv_open()) from /usr/lib/x86_64-linux-gnu/gconv, which the image lacks"),
        "{checked}"
    );
    let checked = ok(staticize().arg("check").arg(&tar));
    assert!(!checked.contains("gconv"), "{checked}");
}

/// A CA and its key for 127.0.0.1, and an `openssl s_server` answering HTTPS with them.
fn tls_server(dir: &Path) -> (std::path::PathBuf, u16, std::process::Child) {
    let (key, ca) = (dir.join("key.pem"), dir.join("ca.pem"));
    ok(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&ca));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
        .arg(&ca)
        .arg("-key")
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (ca, port, server)
}

const FETCH_GO: &str = r#"package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	var err error
	// The server may still be starting: retry briefly, then report the last error.
	for i := 0; i < 30; i++ {
		var resp *http.Response
		if resp, err = http.Get(os.Args[1]); err == nil {
			body, _ := io.ReadAll(resp.Body)
			fmt.Printf("%d %t\n", resp.StatusCode, len(body) > 0)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
"#;

/// A static Go net/http client names the trust store only in its strings: the build and check
/// suggest --with certs; with --with certs=CA the HTTPS request to a local s_server succeeds
/// in podman, and without it fails on the certificate. wget (GnuTLS) gets the same hint.
#[test]
fn a_go_https_client_is_told_to_add_certs_and_verifies_with_them() {
    if !have("go") || !have("openssl") || !have("podman") {
        return;
    }
    let d = tempdir();
    fs::write(d.path().join("go.mod"), "module example.com/fetch\n\ngo 1.19\n").unwrap();
    fs::write(d.path().join("main.go"), FETCH_GO).unwrap();
    let (ca, port, mut server) = tls_server(d.path());
    let (bare, certs) = (d.path().join("bare.tar"), d.path().join("certs.tar"));
    let (bare_tag, certs_tag) = (unique_tag("fetch-bare"), unique_tag("fetch-certs"));
    let hint =
        "names /etc/ssl/certs/ca-certificates.crt: TLS needs CA certificates, which scratch lacks — add --with certs";
    let out = ok(staticize()
        .current_dir(d.path())
        .args(["go", ".", "-o", "fetch", "--image"])
        .arg(&bare)
        .args(["-t", &bare_tag]));
    assert!(out.contains(hint), "{out}");
    let checked = ok(staticize().arg("check").arg(&bare));
    assert!(
        checked.contains("TLS needs CA certificates, which the image lacks — rebuild with --with certs"),
        "{checked}"
    );
    let with = format!("certs={}", ca.display());
    let out = ok(staticize()
        .current_dir(d.path())
        .args(["go", ".", "-o", "fetch", "--with", &with, "--image"])
        .arg(&certs)
        .args(["-t", &certs_tag]));
    assert!(!out.contains("TLS needs CA certificates"), "{out}");
    assert!(!ok(staticize().arg("check").arg(&certs)).contains("TLS needs"));
    let url = format!("https://127.0.0.1:{port}/");
    let p = Engine::Podman;
    p.load(&bare);
    p.load(&certs);
    let good = run(p.cmd().args(["run", "--rm", "--network", "host", &certs_tag, &url]));
    let bad = run(p.cmd().args(["run", "--rm", "--network", "host", &bare_tag, &url]));
    p.remove(&bare_tag);
    p.remove(&certs_tag);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(String::from_utf8_lossy(&good.stdout), "200 true\n", "{}", text(&good));
    assert!(!bad.status.success() && text(&bad).contains("x509"), "{}", text(&bad));

    let wget = ok(staticize().args(["bundle", "/usr/bin/wget", "-o"]).arg(d.path().join("wget.tar")));
    assert!(wget.contains("it links libgnutls.so.30") && wget.contains("add --with certs"), "{wget}");
}

/// gzip -k and sqlite3 traced: the files they read are carried, the files they wrote (the .gz,
/// the database and its journal, a directory made by mkdir) are not, whatever the flags.
#[test]
fn a_traced_run_carries_what_it_read_never_what_it_wrote() {
    if !have("strace") || !have("sqlite3") {
        return;
    }
    let d = tempdir();
    let dir = d.path().canonicalize().unwrap();
    let input = dir.join("notes.txt");
    fs::write(&input, "read me, gzip\n".repeat(100)).unwrap();
    let gz = dir.join("gzip.tar");
    let out =
        ok(staticize().args(["bundle", "/usr/bin/gzip", "-o"]).arg(&gz).args(["--trace", "--", "-k"]).arg(&input));
    let paths = image_paths(&gz);
    let s = |p: &Path| p.to_string_lossy().into_owned();
    assert!(dir.join("notes.txt.gz").is_file(), "the traced run wrote its output");
    assert!(paths.contains(&s(&input)), "the input it read is carried:\n{out}");
    assert!(!paths.contains(&s(&dir.join("notes.txt.gz"))), "its output is not:\n{out}");

    let db = dir.join("made/app.db");
    fs::create_dir(dir.join("made")).unwrap();
    let sql = "create table t(x); insert into t values (1);";
    let sq = dir.join("sqlite.tar");
    // The image's own command names the host's database, which it rightly lacks: the proof
    // runs a query of its own instead.
    let probe = ["--probe", ":memory:", "--probe", "select 1;"];
    let out = ok(staticize()
        .args(["bundle", "/usr/bin/sqlite3", "-o"])
        .arg(&sq)
        .args(probe)
        .args(["--trace", "--"])
        .arg(&db)
        .arg(sql));
    assert!(out.contains("ran: /sqlite3 :memory: 'select 1;', exit 0"), "{out}");
    assert!(db.is_file(), "the traced run made its database:\n{out}");
    let paths = image_paths(&sq);
    assert!(!paths.iter().any(|p| p.starts_with(&s(&db))), "the database (and its journal) is not carried:\n{paths:?}");
}

/// A CommonJS bin that only requires built-ins at its top but import()s its own ES module by a
/// computed path (which uses escape-goat, ESM-only, from npm) is not taken as it is: the layout
/// line says why, the executable carries its tree (build and check say so) and runs alone,
/// and the image runs it in podman and docker.
#[test]
fn a_commonjs_shim_importing_its_esm_is_not_run_as_is_and_runs_alone() {
    if !have("node") || !have("npm") {
        return;
    }
    let fixture = repo().join("tests/fixtures/node-esm-cli");
    let project = install(&fixture, &["package.json", "package-lock.json", "cli.cjs"]);
    fs::create_dir(project.path().join("lib")).unwrap();
    fs::copy(fixture.join("lib/main.mjs"), project.path().join("lib/main.mjs")).unwrap();
    let entry = project.path().join("cli.cjs");
    let want = ok(Command::new("node").arg(&entry).arg("<goat & \"kid\">"));
    assert_eq!(want, "&lt;goat &amp; &quot;kid&quot;&gt;\n");
    let out_dir = tempdir();
    let (bin, tar, tag) = (out_dir.path().join("goat"), out_dir.path().join("goat.tar"), unique_tag("goat"));
    let out = ok(staticize().arg("node").arg(&entry).arg("-o").arg(&bin).arg("--image").arg(&tar).args(["-t", &tag]));
    assert!(!out.contains("the entry as it is"), "{out}");
    assert!(out.contains("layout package tree:") && out.contains("cli.cjs uses __dirname"), "{out}");
    assert!(out.contains("carried inside the executable"), "{out}");
    let checked = ok(staticize().arg("check").arg(&bin));
    assert!(checked.contains("packed: carries goat") && checked.contains("carries its node package tree"), "{checked}");
    let alone = run(Command::new(&bin).arg("<goat & \"kid\">").env("STATICIZE_NODE_TREE_DIR", "/dev/shm"));
    assert_eq!(text(&alone), want, "the executable alone");
    for (engine, stdout) in load_and_run_everywhere(&tar, &tag, &["<goat & \"kid\">"]) {
        assert_eq!(stdout, want, "{engine:?}");
    }
}
