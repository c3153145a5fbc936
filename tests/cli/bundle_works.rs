//! Issue 16, continued: bundles of real programs that work in the image — a traced run
//! (`--trace`) carrying what no ELF header names, HTTPS from curl with the CA bundle the hint
//! asks for, postgres answering a query, and the perl, ruby and lua interpreters with their
//! standard libraries.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// `--trace`: python3 runs a script importing a module from a directory on PYTHONPATH (no
/// package's, not the standard library) — with `--no-stdlib`, so every Python file the script
/// needs comes from the trace — and the image runs the same script (the traced arguments are
/// its default command) in podman and docker. dash running ls brings ls and its libraries.
#[test]
fn traced_python_runs_a_script_importing_from_pythonpath() {
    let python = Path::new("/usr/bin/python3.11");
    if !have("strace") || !python.exists() {
        assert!(!e2e_required() || python.exists(), "apt-get install python3.11");
        return;
    }
    let t = tempdir();
    let d = t.path();
    let lib = d.join("site");
    std::fs::create_dir(&lib).unwrap();
    std::fs::write(lib.join("greet.py"), "def hello():\n    return 'hello from greet'\n").unwrap();
    let script = d.join("main.py");
    std::fs::write(&script, "import json, greet\nprint(greet.hello(), json.dumps([1]))\n").unwrap();
    let tar = d.join("traced.tar");
    let tag = unique_tag("traced-python");
    let out = ok(staticize()
        .args(["bundle", "/usr/bin/python3", "--no-stdlib", "--env"])
        .arg(format!("PYTHONPATH={}", lib.display()))
        .args(["--trace", "-o"])
        .arg(&tar)
        .args(["-t", &tag, "--"])
        .arg(&script));
    assert!(out.contains("under strace") && out.contains("/greet.py"), "{out}");
    for (engine, stdout) in load_and_run_everywhere(&tar, &tag, &[]) {
        assert_eq!(stdout.trim(), "hello from greet [1]", "{engine:?}");
    }
    let out = ok(staticize().arg("check").arg(&tar));
    assert!(out.contains("shared objects, each with its libraries inside") || out.starts_with("ok"), "{out}");
    // A program the traced run executes comes with the libraries it loaded: dash running ls.
    let (tar, tag) = (d.join("dash.tar"), unique_tag("traced-dash"));
    let out = ok(staticize()
        .args(["bundle", "/usr/bin/dash", "--trace", "-o"])
        .arg(&tar)
        .args(["-t", &tag, "--"])
        .args(["-c", "ls -d /usr/bin/ls"]));
    assert!(out.contains("/usr/bin/ls"), "{out}");
    Engine::Podman.load(&tar);
    assert_eq!(Engine::Podman.run_image(&tag, &[], &[]).trim(), "/usr/bin/ls");
    Engine::Podman.remove(&tag);
    // Arguments after -- without --trace are refused, not silently dropped.
    let out = fails_with(staticize().args(["bundle", "/usr/bin/python3", "--", "x.py"]), 2);
    assert!(out.contains("--trace"), "{out}");
}

/// curl links libssl through libcurl: the hint names `--with certs`. With the CA bundle that
/// signed a local TLS server's certificate (`--with certs=BUNDLE`, as the hint offers), curl in
/// the image fetches a page from it over HTTPS — it reads the bundle at the image's standard
/// path, no `--cacert` — in podman and docker on the host network; the hint is gone.
#[test]
fn curl_gets_the_certs_hint_and_speaks_https_with_them() {
    if !have("curl") || !have("openssl") {
        return;
    }
    let t = tempdir();
    let d = t.path();
    let out = ok(staticize().arg("bundle").arg("/usr/bin/curl").arg("-o").arg(d.join("bare.tar")));
    assert!(out.contains("TLS needs CA certificates") && out.contains("--with certs"), "{out}");
    let (ca, key) = (d.join("ca.pem"), d.join("key.pem"));
    ok(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&ca));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
        .arg(&ca)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tar = d.join("curl.tar");
    let tag = unique_tag("curl");
    let out = ok(staticize()
        .args(["bundle", "/usr/bin/curl", "--with"])
        .arg(format!("certs={}", ca.display()))
        .arg("-o")
        .arg(&tar)
        .args(["-t", &tag]));
    assert!(!out.contains("TLS needs CA certificates"), "{out}");
    let url = format!("https://127.0.0.1:{port}/");
    let mut pages = Vec::new();
    for engine in Engine::available() {
        engine.load(&tar);
        let o = run(engine
            .cmd()
            .args(["run", "--rm", "--network", "host", &tag, "-sS", "--retry", "5"])
            .args(["--retry-connrefused", &url]));
        engine.remove(&tag);
        pages.push((engine, o));
    }
    let _ = server.kill();
    let _ = server.wait();
    for (engine, o) in pages {
        assert!(String::from_utf8_lossy(&o.stdout).contains("s_server"), "{engine:?}: {}", text(&o));
    }
}

/// perl, ruby and lua5.4 carry their standard libraries by default (with the closures of their
/// extension modules: POSIX.so, json's parser.so) and run a line that loads a module of it.
#[test]
fn perl_ruby_and_lua_run_with_their_standard_libraries() {
    let cases: [(&str, &[&str], &str); 3] = [
        ("/usr/bin/perl", &["-MPOSIX", "-e", "print POSIX::floor(2.5)"], "2"),
        ("/usr/bin/ruby", &["-e", "require 'json'; puts JSON.generate([1])"], "[1]"),
        ("/usr/bin/lua5.4", &["-e", "print(string.format('%5.2f', math.pi))"], " 3.14"),
    ];
    if !have("podman") {
        return;
    }
    let t = tempdir();
    for (program, args, want) in cases {
        if !Path::new(program).exists() {
            assert!(!e2e_required(), "{program} is required (scripts/test.sh installs it)");
            continue;
        }
        let name = Path::new(program).file_name().unwrap().to_string_lossy().into_owned();
        let tar = t.path().join(format!("{name}.tar"));
        let tag = unique_tag(&name);
        let out = ok(staticize().args(["bundle", program, "-o"]).arg(&tar).args(["-t", &tag]));
        Engine::Podman.load(&tar);
        let got = Engine::Podman.run_image(&tag, &[], args);
        Engine::Podman.remove(&tag);
        assert_eq!(got.trim_end_matches('\n'), want, "{program}:\n{out}");
        if name == "perl" {
            assert!(out.contains("calls tzset") && out.contains("--with tzdata"), "{out}");
        }
    }
}

/// nginx's configuration is in another package: the hint names the dependency and its flag;
/// its user lookup (`user nobody;`) gets the /etc/passwd hint.
#[test]
fn the_hint_names_the_dependency_holding_the_config() {
    if !have("nginx") {
        return;
    }
    let t = tempdir();
    let out = ok(staticize().args(["bundle", "/usr/sbin/nginx", "-o"]).arg(t.path().join("n.tar")));
    assert!(out.contains("nginx depends on") && out.contains("nginx-common (/etc/nginx"), "{out}");
    assert!(out.contains("--package nginx-common"), "{out}");
    assert!(out.contains("it calls getpwnam") && out.contains("--with passwd"), "{out}");
}

/// postgres (Debian's postgresql-15) with its package's files and what the hints name — the
/// time zones and the C.UTF-8 locale its package depends on, /etc/passwd for the non-root user
/// it must run as, /tmp for its socket, /bin/sh for initdb's popen(): initdb makes a cluster in
/// the image as that user, and the server answers `select 42` to psql on the host.
#[test]
fn postgres_with_its_package_files_answers_a_query() {
    let bin = Path::new("/usr/lib/postgresql/15/bin");
    if !have("podman") || !have("psql") || !bin.join("postgres").exists() {
        assert!(!e2e_required() || bin.exists(), "apt-get install postgresql-15");
        return;
    }
    let t = tempdir();
    let d = t.path();
    let tar = d.join("postgres.tar");
    let tag = unique_tag("postgres");
    let out = ok(staticize()
        .arg("bundle")
        .arg(bin.join("postgres"))
        .args(["--package-files", "--with", "passwd", "--with", "tmp", "--with", "tzdata"])
        .args(["--add", "/usr/lib/locale/C.utf8:/usr/lib/locale/C.utf8", "--add", "/bin/dash:/bin/sh"])
        .args(["--user", "nonroot", "-o"])
        .arg(&tar)
        .args(["-t", &tag]));
    assert!(out.contains("files of postgresql-15"), "{out}");
    let data = d.join("data");
    std::fs::create_dir(&data).unwrap();
    ok(Command::new("chmod").arg("0777").arg(d).arg(&data));
    Engine::Podman.load(&tar);
    let vol = format!("{}:/data", data.display());
    let initdb = bin.join("initdb").display().to_string();
    Engine::Podman.run_image(
        &tag,
        &["-v", &vol, "--entrypoint", &initdb],
        &["-D", "/data/pg", "--locale=C.UTF-8", "-U", "postgres", "--auth=trust"],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let name = format!("staticize-postgres-{}-{port}", std::process::id());
    let run_args = ["run", "-d", "--rm", "--name", &name, "--network", "host", "-v", &vol, &tag];
    ok(Engine::Podman.cmd().args(run_args).args(["-D", "/data/pg", "-k", "/tmp", "-h", "127.0.0.1", "-p", &port]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut got = String::new();
    while std::time::Instant::now() < deadline && got.trim() != "42" {
        let psql = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-Atc", "select 42"];
        got = String::from_utf8_lossy(&run(Command::new("psql").args(psql)).stdout).into_owned();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let logs = text(&run(Engine::Podman.cmd().args(["logs", &name])));
    let _ = run(Engine::Podman.cmd().args(["rm", "-f", &name]));
    Engine::Podman.remove(&tag);
    assert_eq!(got.trim(), "42", "postgres did not answer:\n{logs}");
}
