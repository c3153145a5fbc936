//! SBOMs (issue 19): every image gets NAME.spdx.json beside it; syft, run on the image, finds
//! every package the SBOM lists (Go modules from build info, Rust crates from the embedded
//! .dep-v0 list, npm packages from the shipped tree, Debian packages from status.d records);
//! the documents validate against the vendored SPDX 2.3 and CycloneDX 1.5 schemas; a pushed
//! SBOM comes back from the registry byte for byte.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{have, ok, registry, repo, staticize, tempdir, unique_tag};

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/sbom")
}

/// The SBOM validates against the schema of its format (python3 jsonschema).
#[track_caller]
pub(crate) fn validate(doc: &Path) {
    assert!(have("python3"));
    let schema =
        if doc.to_string_lossy().ends_with(".cdx.json") { "bom-1.5.schema.json" } else { "spdx-2.3.schema.json" };
    ok(Command::new("python3").arg(fixtures().join("validate.py")).arg(fixtures().join(schema)).arg(doc));
}

pub(crate) fn json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// (name, version) of every SPDX package but the program, its build tools and the packages
/// whose static libraries it links (scanners cannot see those in a stripped binary).
pub(crate) fn listed(doc: &Value) -> Vec<(String, String)> {
    let rels = doc["relationships"].as_array().unwrap();
    let tools: Vec<&str> = rels
        .iter()
        .filter(|r| r["relationshipType"] == "BUILD_TOOL_OF")
        .map(|r| r["spdxElementId"].as_str().unwrap())
        .chain(
            rels.iter()
                .filter(|r| r["relationshipType"] == "STATIC_LINK")
                .map(|r| r["relatedSpdxElement"].as_str().unwrap()),
        )
        .collect();
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["SPDXID"] != "SPDXRef-Package-program" && !tools.contains(&p["SPDXID"].as_str().unwrap()))
        .filter(|p| p["name"] != "unowned")
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["versionInfo"].as_str().unwrap().to_string()))
        .collect()
}

fn syft() -> PathBuf {
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_default()).join("go/bin/syft");
    if home.is_file() {
        return home;
    }
    assert!(have("syft"), "syft: go install github.com/anchore/syft/cmd/syft@v1.57.1 (scripts/test.sh)");
    PathBuf::from("syft")
}

/// (name, version) of every package syft finds in the image archive.
pub(crate) fn syft_finds(tar: &Path) -> Vec<(String, String)> {
    let out = Command::new(syft())
        .args(["scan", "-q", "-o", "json"])
        .arg(format!("docker-archive:{}", tar.display()))
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap();
    assert!(out.status.success(), "syft failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap().to_string(), a["version"].as_str().unwrap().to_string()))
        .collect()
}

#[track_caller]
pub(crate) fn syft_sees_all(tar: &Path, doc: &Value) -> Vec<(String, String)> {
    let found = syft_finds(tar);
    let listed = listed(doc);
    for p in &listed {
        assert!(found.contains(p), "syft does not find {p:?} that the SBOM lists; syft found {found:?}");
    }
    listed
}

#[test]
fn c_sbom_lists_sources_and_compiler_and_leaves_the_image_alone() {
    if !have("musl-gcc") {
        return;
    }
    let d = tempdir();
    fs::copy(repo().join("examples/hello-c/hello.c"), d.path().join("hello.c")).unwrap();
    let out = ok(staticize().current_dir(d.path()).args(["c", "hello.c", "--no-image"]));
    assert!(!out.contains("sbom"), "{out}");
    ok(staticize().current_dir(d.path()).args(["c", "hello.c", "--image", "plain.tar", "--no-sbom"]));
    assert!(!d.path().join("plain.spdx.json").exists());
    let out = ok(staticize().current_dir(d.path()).args(["c", "hello.c"]));
    assert!(out.contains("hello.spdx.json"), "{out}");
    assert_eq!(fs::read(d.path().join("hello.tar")).unwrap(), fs::read(d.path().join("plain.tar")).unwrap());
    let sbom = d.path().join("hello.spdx.json");
    validate(&sbom);
    let doc = json(&sbom);
    let files = doc["files"].as_array().unwrap();
    let src = files.iter().find(|f| f["fileName"] == "./hello.c").expect("hello.c listed");
    assert_eq!(src["checksums"][0]["checksumValue"], crate::support::sha256_file(&d.path().join("hello.c")));
    let names: Vec<&str> = doc["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"musl-gcc") && names.contains(&"musl"), "{names:?}");
    syft_sees_all(&d.path().join("hello.tar"), &doc);
    // The same build gives the same SBOM bytes; SOURCE_DATE_EPOCH sets its time.
    let first = fs::read(&sbom).unwrap();
    ok(staticize().current_dir(d.path()).args(["c", "hello.c"]));
    assert_eq!(fs::read(&sbom).unwrap(), first);
    ok(staticize().current_dir(d.path()).env("SOURCE_DATE_EPOCH", "1700000000").args(["c", "hello.c"]));
    assert_eq!(json(&sbom)["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    ok(staticize().current_dir(d.path()).args(["c", "hello.c", "--sbom-format", "cyclonedx"]));
    validate(&d.path().join("hello.cdx.json"));
}

/// The Debian version of an installed package, as dpkg-query reports it.
fn dpkg_version(package: &str) -> String {
    ok(Command::new("dpkg-query").args(["-W", "-f", "${Version}", package])).trim().to_string()
}

/// A C program that links zlib (`-lz`).
const ZVER: &str =
    "#include <zlib.h>\n#include <stdio.h>\nint main(void) { printf(\"zlib %s\\n\", zlibVersion()); return 0; }\n";

/// Whether gcc and zlib's static library are here (required under STATICIZE_E2E=require).
fn have_gcc_and_libz() -> bool {
    if !(have("gcc") && Path::new("/usr/lib/x86_64-linux-gnu/libz.a").is_file()) {
        assert!(std::env::var("STATICIZE_E2E").as_deref() != Ok("require"), "gcc and zlib1g-dev (scripts/test.sh)");
        return false;
    }
    true
}

/// Asserts the SBOM lists `package` at its installed version, statically linked into the program.
#[track_caller]
fn assert_statically_linked(doc: &Value, package: &str) {
    let p = doc["packages"].as_array().unwrap().iter().find(|p| p["name"] == package);
    let p = p.unwrap_or_else(|| panic!("{package} not listed: {doc}"));
    assert_eq!(p["versionInfo"].as_str().unwrap(), dpkg_version(package), "{package}: the installed version");
    let linked = doc["relationships"].as_array().unwrap().iter().any(|r| {
        r["relationshipType"] == "STATIC_LINK"
            && r["spdxElementId"] == "SPDXRef-Package-program"
            && r["relatedSpdxElement"] == p["SPDXID"]
    });
    assert!(linked, "{package} is STATIC_LINKed into the program");
}

#[test]
fn c_sbom_lists_the_distribution_static_libraries_the_linker_used() {
    if !have_gcc_and_libz() {
        return;
    }
    let d = tempdir();
    fs::write(d.path().join("zver.c"), ZVER).unwrap();
    ok(staticize().current_dir(d.path()).args(["c", "zver.c", "--libc", "glibc", "--", "-lz"]));
    let sbom = d.path().join("zver.spdx.json");
    validate(&sbom);
    let doc = json(&sbom);
    for package in ["zlib1g-dev", "libc6-dev"] {
        assert_statically_linked(&doc, package);
    }
    // What the linker did not read is not listed: no -lz, no zlib.
    fs::copy(repo().join("examples/hello-c/hello.c"), d.path().join("hello.c")).unwrap();
    ok(staticize().current_dir(d.path()).args(["c", "hello.c", "--libc", "glibc"]));
    let plain = fs::read_to_string(d.path().join("hello.spdx.json")).unwrap();
    assert!(!plain.contains("zlib1g-dev") && plain.contains("libc6-dev"), "{plain}");
}

/// The SBOM's archives come from the program's one real link (traced with -Wl,--trace), never
/// from a second link: a compiler wrapper given as STATICIZE_CC logs every call it gets.
#[test]
fn c_sbom_learns_the_static_libraries_from_the_one_real_link() {
    if !have_gcc_and_libz() {
        return;
    }
    let d = tempdir();
    fs::write(d.path().join("zver.c"), ZVER).unwrap();
    let (log, wrapper) = (d.path().join("calls.log"), d.path().join("logging-gcc"));
    fs::write(&wrapper, format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec gcc \"$@\"\n", log.display())).unwrap();
    fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = ok(staticize().current_dir(d.path()).env("STATICIZE_CC", &wrapper).args(["c", "zver.c", "--", "-lz"]));
    let calls = fs::read_to_string(&log).unwrap();
    let links: Vec<&str> =
        calls.lines().filter(|c| c.split(' ').any(|w| w == "-o") && !c.split(' ').any(|w| w == "-c")).collect();
    assert_eq!(links.len(), 1, "one link, no second one for the SBOM:\n{calls}");
    assert!(links[0].contains("-Wl,--trace"), "the real link is the traced one:\n{calls}");
    assert!(!out.contains("crt1.o") && !out.contains("libz.a"), "the linker's trace is not shown:\n{out}");
    let doc = json(&d.path().join("zver.spdx.json"));
    assert_statically_linked(&doc, "zlib1g-dev");
    assert_eq!(ok(&mut Command::new(d.path().join("zver"))).trim_end(), format!("zlib {}", zlib_version()));
}

/// zlib's version as its header states it (ZLIB_VERSION in /usr/include/zlib.h).
fn zlib_version() -> String {
    let h = fs::read_to_string("/usr/include/zlib.h").unwrap();
    let line = h.lines().find(|l| l.starts_with("#define ZLIB_VERSION")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn go_sbom_lists_the_modules_go_version_and_syft_see() {
    if !have("go") {
        return;
    }
    let d = tempdir();
    let p = d.path();
    fs::write(p.join("go.mod"), "module example.com/uuidgen\n\ngo 1.21\n\nrequire github.com/google/uuid v1.6.0\n")
        .unwrap();
    fs::write(
        p.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/google/uuid\"\n)\n\nfunc main() { fmt.Println(uuid.NewString()) }\n",
    )
    .unwrap();
    ok(Command::new("go").args(["mod", "download", "github.com/google/uuid"]).current_dir(p));
    ok(Command::new("go").args(["mod", "tidy"]).current_dir(p));
    ok(staticize().current_dir(p).args(["go", "."]));
    let doc = json(&p.join("uuidgen.spdx.json"));
    validate(&p.join("uuidgen.spdx.json"));
    let listed = syft_sees_all(&p.join("uuidgen.tar"), &doc);
    assert!(listed.contains(&("github.com/google/uuid".into(), "v1.6.0".into())), "{listed:?}");
    let m = ok(Command::new("go").args(["version", "-m", "uuidgen"]).current_dir(p));
    assert!(m.contains("dep\tgithub.com/google/uuid\tv1.6.0"), "{m}");
}

#[test]
fn rust_sbom_lists_the_crates_embedded_for_scanners() {
    if !have("cargo") {
        return;
    }
    let d = tempdir();
    let p = d.path();
    fs::create_dir(p.join("src")).unwrap();
    fs::write(
        p.join("Cargo.toml"),
        "[package]\nname = \"hexit\"\nversion = \"0.2.0\"\nedition = \"2021\"\n\n[dependencies]\nhex = \"=0.4.3\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::write(p.join("src/main.rs"), "fn main() { println!(\"{}\", hex::encode(b\"hi\")); }\n").unwrap();
    ok(staticize().current_dir(p).args(["rust", "."]));
    let doc = json(&p.join("hexit.spdx.json"));
    validate(&p.join("hexit.spdx.json"));
    let listed = syft_sees_all(&p.join("hexit.tar"), &doc);
    assert_eq!(listed, vec![("hex".to_string(), "0.4.3".to_string())]);
}

#[test]
fn bundled_redis_declares_its_debian_packages_and_the_pushed_sbom_comes_back() {
    let redis = Path::new("/usr/bin/redis-server");
    if !have("redis-server") {
        return;
    }
    let d = tempdir();
    let tar = d.path().join("redis.tar");
    let mut cmd = staticize();
    cmd.args(["bundle"]).arg(redis).arg("-o").arg(&tar);
    let remote = registry().map(|r| format!("{r}/{}", unique_tag("sbom-redis")));
    if let Some(r) = &remote {
        cmd.args(["--push", r]);
    }
    let out = ok(&mut cmd);
    let sbom = d.path().join("redis.spdx.json");
    validate(&sbom);
    let doc = json(&sbom);
    let listed = syft_sees_all(&tar, &doc);
    for want in ["libc6", "libssl3", "redis-tools"] {
        assert!(listed.iter().any(|(n, _)| n == want), "{want} not in {listed:?}");
    }
    let purls: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .collect();
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:deb/debian/libc6@") && p.contains("distro=debian-12")),
        "{purls:?}"
    );
    let declared = ok(staticize().args(["inspect", "--sbom"]).arg(&tar));
    for (name, version) in &listed {
        assert!(declared.contains(&format!("{name} {version}")), "{name} {version} not declared:\n{declared}");
    }
    if let Some(r) = remote {
        assert!(have("registry"));
        assert!(out.contains("sbom") && out.contains("attached"), "{out}");
        assert_eq!(fetch_sbom(&r, &out), fs::read(&sbom).unwrap());
        // `staticize push ARCHIVE REF` sends the SBOM found beside the archive the same way.
        let again = format!("{r}-again");
        let out = ok(staticize().arg("push").arg(&tar).arg(&again));
        assert!(out.contains("attached") && out.contains("redis.spdx.json"), "{out}");
        assert_eq!(fetch_sbom(&again, &out), fs::read(&sbom).unwrap());
        let out = ok(staticize().arg("push").arg(&tar).arg(format!("{r}-bare")).arg("--no-sbom"));
        // No SBOM attached (the provenance beside the archive still is).
        assert!(!out.lines().any(|l| l.trim_start().starts_with("sbom") && l.contains("attached")), "{out}");
    }
    ok(staticize().args(["bundle"]).arg(redis).arg("-o").arg(&tar).args(["--sbom-format", "cyclonedx"]));
    validate(&d.path().join("redis.cdx.json"));
}

/// The SBOM attached to a pushed image: its artifact manifest (by the `sha256-…sbom` tag, or
/// the referrers API), then its one layer.
pub(crate) fn fetch_sbom(remote: &str, out: &str) -> Vec<u8> {
    let (host, rest) = remote.split_once('/').unwrap();
    let repo = rest.rsplit_once(':').unwrap().0;
    let digest = out
        .lines()
        .find_map(|l| l.split_once("pushed").and_then(|(_, r)| r.split('@').nth(1)))
        .and_then(|r| r.split_whitespace().next())
        .expect("the push line names the digest")
        .to_string();
    let get = |url: String, accept: &str| {
        let o = Command::new("curl").args(["-fsS", "-H", &format!("Accept: {accept}"), &url]).output().unwrap();
        assert!(o.status.success(), "{url}: {}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let tag = digest.replace(':', "-") + ".sbom";
    let manifest: Value =
        match Command::new("curl").args(["-fsS", &format!("http://{host}/v2/{repo}/referrers/{digest}")]).output() {
            Ok(o) if o.status.success() && !o.stdout.is_empty() => {
                let index: Value = serde_json::from_slice(&o.stdout).unwrap();
                let d = index["manifests"][0]["digest"].as_str().unwrap().to_string();
                serde_json::from_slice(&get(format!("http://{host}/v2/{repo}/manifests/{d}"), oci)).unwrap()
            }
            _ => serde_json::from_slice(&get(format!("http://{host}/v2/{repo}/manifests/{tag}"), oci)).unwrap(),
        };
    assert_eq!(manifest["artifactType"], "application/spdx+json");
    assert_eq!(manifest["subject"]["digest"], digest.as_str());
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    get(format!("http://{host}/v2/{repo}/blobs/{layer}"), "*/*")
}

#[test]
fn node_sbom_lists_the_npm_packages_syft_finds_in_the_tree() {
    if !(have("node") && have("npm") && have("npx")) {
        return;
    }
    let d = tempdir();
    for f in ["package.json", "package-lock.json", "server.js"] {
        fs::copy(repo().join("examples/hello-node").join(f), d.path().join(f)).unwrap();
    }
    ok(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(d.path()));
    ok(staticize().current_dir(d.path()).args(["node", "server.js", "--layout", "tree"]));
    let sbom = d.path().join("hello-node.spdx.json");
    validate(&sbom);
    let doc = json(&sbom);
    let listed = syft_sees_all(&d.path().join("hello-node.tar"), &doc);
    assert!(listed.contains(&("escape-html".into(), "1.0.3".into())), "{listed:?}");
    assert!(listed.iter().any(|(n, _)| n == "libc6"), "the closure's Debian packages: {listed:?}");
}

/// Issue 25: every Debian package owning a file of the image is declared, whichever step put
/// the file there — not only the closure's. Debian's perl bundled with its standard library
/// (the packed modules' packages), `--with certs` (the CA bundle update-ca-certificates makes
/// from ca-certificates) and `--with tzdata=…`: every owner `dpkg -S` names for a file in the
/// image's layer is in the SPDX document, which still validates, and has its record in the
/// image (`status.d`) for scanners.
#[test]
fn every_package_owning_a_file_in_the_image_is_declared() {
    if !Path::new("/usr/bin/perl").exists() || !have("dpkg") {
        assert!(!crate::support::e2e_required() || Path::new("/usr/bin/perl").exists(), "apt-get install perl");
        return;
    }
    let d = tempdir();
    let tar = d.path().join("perl.tar");
    ok(staticize()
        .args(["bundle", "/usr/bin/perl", "--with", "certs", "--with", "tzdata=Europe/Paris", "--no-probe", "-o"])
        .arg(&tar));
    let sbom = d.path().join("perl.spdx.json");
    validate(&sbom);
    let doc = json(&sbom);
    let declared: Vec<String> =
        doc["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    let root = d.path().join("rootfs");
    crate::bundle_complete::unpack_layer(&tar, &root);
    let owners = dpkg_owners(&root);
    assert!(owners.len() > 5 && owners.contains(&"perl-modules-5.36".to_string()), "{owners:?}");
    for o in &owners {
        assert!(declared.contains(o), "{o} owns a file in the image but the SBOM does not declare it: {declared:?}");
    }
    for want in ["ca-certificates", "tzdata", "libc6", "perl-base"] {
        assert!(declared.contains(&want.to_string()), "{want} not in {declared:?}");
    }
    // The image's own records (status.d, what scanners read) name them too.
    let records = ok(staticize().args(["inspect", "--sbom"]).arg(&tar));
    for want in ["ca-certificates ", "tzdata ", "perl-modules-5.36 "] {
        assert!(records.contains(want), "{want} has no record in the image:\n{records}");
    }
}

/// The packages `dpkg -S` names as owners of the regular files under `root` (each path asked
/// as the image has it and, for merged-/usr paths, as dpkg may list it without `/usr`).
fn dpkg_owners(root: &Path) -> Vec<String> {
    let found = Command::new("find").arg(root).args(["-type", "f", "-printf", "/%P\\n"]).output().unwrap();
    let mut paths: Vec<String> = Vec::new();
    for p in String::from_utf8_lossy(&found.stdout).lines() {
        paths.push(p.to_string());
        if let Some(rest) =
            ["/usr/lib/", "/usr/bin/", "/usr/sbin/"].iter().find_map(|u| p.strip_prefix(u).map(|r| (u, r)))
        {
            paths.push(format!("{}{}", &rest.0[4..], rest.1));
        }
    }
    let mut owners: Vec<String> = Vec::new();
    for chunk in paths.chunks(500) {
        // dpkg -S exits 1 when a path has no owner (a generated file): the others still print.
        let out = Command::new("dpkg").arg("-S").args(chunk).output().unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with("diversion by")) {
            let Some((names, _)) = line.split_once(": ") else { continue };
            owners.extend(names.split(", ").map(|n| n.split(':').next().unwrap().to_string()));
        }
    }
    owners.sort();
    owners.dedup();
    owners
}
