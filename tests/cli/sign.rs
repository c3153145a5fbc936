//! Signed images and their provenance (issue 31), against the real registry and the real
//! cosign: `--sign` with `--push` is what `cosign verify --key` and `cosign verify-attestation
//! --type slsaprovenance1` accept; a wrong key, a re-pointed tag and a copied signature are
//! rejected by cosign and by `staticize verify` (exit 1); skopeo still reads the image;
//! `staticize sign` signs an image pushed unsigned; the statement is the same for the same build;
//! crane validates the image; `verify --rebuild` reproduces it; an archive is signed and verified
//! with no registry.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn hello_c() -> std::path::PathBuf {
    repo().join("examples/hello-c/hello.c")
}

/// An ECDSA P-256 key pair made by openssl: the private key as PKCS#8 (genpkey) or SEC1
/// (ecparam), the public key as PEM.
fn keypair(dir: &Path, name: &str, sec1: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let (key, public) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.pub")));
    let mut make = Command::new("openssl");
    if sec1 {
        make.args(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"]).arg(&key);
    } else {
        make.args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]).arg(&key);
    }
    ok(&mut make);
    ok(Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&key).arg("-out").arg(&public));
    (key, public)
}

/// A Go tool scripts/test.sh builds into ~/go/bin (cosign, crane), else the one on PATH;
/// None (a skip, or a failure under STATICIZE_E2E=require) when there is none.
fn go_tool(tool: &str) -> Option<std::path::PathBuf> {
    let home = std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join("go/bin").join(tool);
    if home.is_file() {
        return Some(home);
    }
    have(tool).then(|| tool.into())
}

fn cosign_bin() -> Option<std::path::PathBuf> {
    go_tool("cosign")
}

/// `cosign verify` (or `verify-attestation --type slsaprovenance1`) with the key, no tlog.
fn cosign(attestation: bool, public: &Path, reference: &str) -> std::process::Output {
    let mut c = Command::new(cosign_bin().expect("cosign was found"));
    if attestation {
        c.args(["verify-attestation", "--type", "slsaprovenance1"]);
    } else {
        c.arg("verify");
    }
    c.arg("--key").arg(public).args(["--insecure-ignore-tlog=true", "--allow-insecure-registry", reference]);
    run(&mut c)
}

fn digest_of(out: &str, reference: &str) -> String {
    let at = out.find(&format!("{reference}@sha256:")).unwrap_or_else(|| panic!("no digest pushed:\n{out}"));
    out[at + reference.len() + 1..].chars().take(71).collect()
}

/// Re-points `tag` of the repository at the manifest under `from` (what an attacker with push
/// rights can do), with curl against the registry API.
fn copy_tag(reg: &str, repo: &str, from: &str, tag: &str) {
    let media = "application/vnd.oci.image.manifest.v1+json";
    let get = run(Command::new("curl")
        .args(["-fsS", "-H", &format!("Accept: {media}")])
        .arg(format!("http://{reg}/v2/{repo}/manifests/{from}")));
    assert!(get.status.success(), "{}", text(&get));
    let dir = tempdir();
    let body = dir.path().join("m.json");
    std::fs::write(&body, &get.stdout).unwrap();
    ok(Command::new("curl")
        .args(["-fsS", "-X", "PUT", "-H", &format!("Content-Type: {media}"), "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg(format!("http://{reg}/v2/{repo}/manifests/{tag}")));
}

#[test]
fn signed_push_is_what_cosign_verifies_and_tampering_is_refused() {
    if !have("musl-gcc") || !have("registry") || cosign_bin().is_none() || !have("skopeo") || !have("openssl") {
        return;
    }
    let reg = registry().unwrap();
    let dir = tempdir();
    let (key, public) = keypair(dir.path(), "key", false);
    let (_, wrong) = keypair(dir.path(), "wrong", true);
    let reference = format!("{reg}/{}", unique_tag("signed"));
    let repo_path = reference[reg.len() + 1..].rsplit_once(':').unwrap().0.to_string();
    let out =
        ok(staticize().current_dir(dir.path()).args(["c", "--push", &reference, "--sign"]).arg(&key).arg(hello_c()));
    let digest = digest_of(&out, &reference);
    // Keys never appear in outputs or errors (a private key given where a public one goes).
    let secret = std::fs::read_to_string(&key).unwrap().lines().nth(1).unwrap().to_string();
    let e = fails_with(staticize().args(["verify", &reference, "--key"]).arg(&key), 4);
    assert!(!out.contains(&secret) && !e.contains(&secret), "no key text in output:\n{out}\n{e}");
    let statement = std::fs::read(dir.path().join("hello.provenance.json")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(v["subject"][0]["digest"]["sha256"], digest.trim_start_matches("sha256:"), "{v}");
    assert_eq!(
        v["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["sha256"],
        sha256_file(&hello_c())
    );

    // The real cosign accepts the signature and the attestation; staticize verify agrees.
    let c = cosign(false, &public, &reference);
    assert!(c.status.success() && text(&c).contains(&digest), "cosign verify: {}", text(&c));
    let c = cosign(true, &public, &reference);
    assert!(c.status.success(), "cosign verify-attestation: {}", text(&c));
    let out = ok(staticize().args(["verify", &reference, "--key"]).arg(&public));
    assert!(out.contains(&format!("verified {reference}@{digest}")), "{out}");
    // skopeo and crane still read the image the tag names; crane validates every blob.
    let s = ok(Command::new("skopeo").args(["inspect", "--tls-verify=false", &format!("docker://{reference}")]));
    assert!(s.contains(&digest), "{s}");
    let crane = go_tool("crane").expect("crane was found");
    let d = ok(Command::new(&crane).args(["digest", "--insecure", &reference]));
    assert_eq!(d.trim(), digest, "crane digest");
    ok(Command::new(&crane).args(["validate", "--insecure", "--remote", &reference]));
    // The build the signed provenance records, run again, gives the same digest.
    let out = ok(staticize().args(["verify", &reference, "--rebuild", "--key"]).arg(&public));
    assert!(out.contains("rebuilt the same") && out.contains(&format!("same digest: {digest}")), "{out}");

    // A wrong key: both refuse.
    assert!(!cosign(false, &wrong, &reference).status.success(), "cosign with a wrong key");
    let e = fails_with(staticize().args(["verify", &reference, "--key"]).arg(&wrong), 1);
    assert!(e.contains("no signature verifies with that key"), "{e}");

    // The tag re-pointed at another manifest (an unsigned image, like a stripped signature).
    let out = ok(staticize().current_dir(dir.path()).args(["c", "--env", "X=1", "--push", &reference]).arg(hello_c()));
    let changed = digest_of(&out, &reference);
    assert_ne!(changed, digest);
    assert!(!cosign(false, &public, &reference).status.success(), "cosign on the changed manifest");
    let e = fails_with(staticize().args(["verify", &reference, "--key"]).arg(&public), 1);
    assert!(e.contains("is not signed"), "{e}");
    // ... with the first image's signature copied to it: a signature of another manifest.
    let sig = |d: &str| format!("{}.sig", d.replace(':', "-"));
    copy_tag(&reg, &repo_path, &sig(&digest), &sig(&changed));
    assert!(!cosign(false, &public, &reference).status.success(), "cosign on a copied signature");
    let e = fails_with(staticize().args(["verify", &reference, "--key"]).arg(&public), 1);
    assert!(e.contains("signature is of another manifest"), "{e}");

    // staticize sign signs what was pushed unsigned (and attests its provenance).
    let prov = dir.path().join("hello.provenance.json");
    let out = ok(staticize().args(["sign", &reference, "--key"]).arg(&key).arg("--provenance").arg(&prov));
    assert!(out.contains("attested"), "{out}");
    assert!(cosign(false, &public, &reference).status.success(), "cosign after staticize sign");
    assert!(cosign(true, &public, &reference).status.success(), "cosign attestation after staticize sign");
    ok(staticize().args(["verify", &reference, "--key"]).arg(&public));

    // An Ed25519 key signs beside the P-256 one; cosign verifies with either.
    let (ed, ed_public) = (dir.path().join("ed.pem"), dir.path().join("ed.pub"));
    ok(Command::new("openssl").args(["genpkey", "-algorithm", "ed25519", "-out"]).arg(&ed));
    ok(Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&ed).arg("-out").arg(&ed_public));
    ok(staticize().args(["sign", &reference, "--key"]).arg(&ed).arg("--provenance").arg(&prov));
    assert!(cosign(false, &ed_public, &reference).status.success(), "cosign verify, Ed25519");
    assert!(cosign(true, &ed_public, &reference).status.success(), "cosign verify-attestation, Ed25519");
    assert!(cosign(false, &public, &reference).status.success(), "the P-256 signature is kept");
    let out = ok(staticize().args(["verify", &reference, "--key"]).arg(&ed_public));
    assert!(out.contains("1 signature verified"), "{out}");
}

#[test]
fn the_same_build_gives_the_same_provenance() {
    if !have("musl-gcc") {
        return;
    }
    let (a, b) = (tempdir(), tempdir());
    for d in [&a, &b] {
        std::fs::copy(hello_c(), d.path().join("hello.c")).unwrap();
        ok(staticize().current_dir(d.path()).args(["c", "hello.c", "--no-probe"]));
    }
    let one = std::fs::read(a.path().join("hello.provenance.json")).unwrap();
    assert_eq!(one, std::fs::read(b.path().join("hello.provenance.json")).unwrap());
    let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let invocation = &v["predicate"]["buildDefinition"]["externalParameters"]["parameters"]["invocation"];
    assert_eq!(invocation, &serde_json::json!(["c", "hello.c", "--no-probe"]), "{v}");
}

/// An archive signed with no registry: `--sign` writes NAME.intoto.jsonl, `verify ARCHIVE`
/// accepts it, `--rebuild` gives the same digest from the sources, and a changed source, a
/// changed archive and a wrong key each fail with exit 1.
#[test]
fn a_signed_archive_verifies_and_rebuilds_the_same() {
    if !have("musl-gcc") || !have("openssl") {
        return;
    }
    let dir = tempdir();
    let (key, public) = keypair(dir.path(), "key", false);
    let (_, wrong) = keypair(dir.path(), "wrong", true);
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::copy(hello_c(), src.join("hello.c")).unwrap();
    let out =
        ok(staticize().current_dir(&src).args(["c", "hello.c", "--env", "X=1", "-o", "../hello", "--sign"]).arg(&key));
    assert!(out.contains("hello.intoto.jsonl"), "{out}");
    let archive = dir.path().join("hello.tar");
    let verify = |archive: &Path, key: &Path| {
        let mut c = staticize();
        c.current_dir(&src).arg("verify").arg(archive).arg("--key").arg(key);
        c
    };
    ok(&mut verify(&archive, &public));
    let out = ok(verify(&archive, &public).arg("--rebuild"));
    assert!(out.contains("rebuilt the same") && out.contains("source files checked by digest: 1"), "{out}");
    let e = fails_with(&mut verify(&archive, &wrong), 1);
    assert!(e.contains("no signature verifies with that key"), "{e}");

    // The source changed since: the rebuild names it before building.
    std::fs::write(src.join("hello.c"), "int main(void){return 3;}\n").unwrap();
    let e = fails_with(verify(&archive, &public).arg("--rebuild"), 1);
    assert!(e.contains("hello.c: the source differs"), "{e}");

    // Another image under the signed name: changed after signing. Signing it again makes it pass.
    ok(staticize().current_dir(&src).args(["c", "hello.c", "--env", "X=1", "-o", "../hello", "--no-probe"]));
    let e = fails_with(&mut verify(&archive, &public), 1);
    assert!(e.contains("changed after signing"), "{e}");
    let out = ok(staticize().arg("sign").arg(&archive).arg("--key").arg(&key));
    assert!(out.contains("hello.intoto.jsonl"), "{out}");
    ok(verify(&archive, &public).arg("--rebuild"));
}

/// go-containerregistry's registry with its referrers API on (built by scripts/test.sh), on a
/// free port of 127.0.0.1; stopped when dropped.
struct ReferrersRegistry {
    child: std::process::Child,
    addr: String,
}

impl ReferrersRegistry {
    fn start() -> ReferrersRegistry {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let bin = go_tool("referrers-registry").expect("referrers-registry was found");
        let child = Command::new(bin).arg(&addr).stderr(std::process::Stdio::null()).spawn().unwrap();
        // Owned at once, so a registry that never answers is stopped by the drop of the panic.
        let started = ReferrersRegistry { child, addr };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&started.addr).is_ok() {
                return started;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the referrers registry did not start on {}", started.addr);
    }
}

impl Drop for ReferrersRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// On a registry with the OCI 1.1 referrers API the signature is a referrer of the image (no
/// `.sig` tag), which `cosign verify --experimental-oci11` and `staticize verify` accept, and the
/// SBOM is a referrer too; the attestation stays under `.att`, where cosign reads it.
#[test]
fn signatures_are_referrers_where_the_registry_lists_them() {
    if !have("musl-gcc") || cosign_bin().is_none() || go_tool("referrers-registry").is_none() || !have("openssl") {
        return;
    }
    let reg = ReferrersRegistry::start();
    let dir = tempdir();
    let (key, public) = keypair(dir.path(), "key", false);
    let reference = format!("{}/team/hello:v1", reg.addr);
    let out =
        ok(staticize().current_dir(dir.path()).args(["c", "--push", &reference, "--sign"]).arg(&key).arg(hello_c()));
    assert!(out.contains("signed (the referrer sha256:"), "{out}");
    assert!(out.contains("as an OCI referrer"), "the SBOM: {out}");
    let digest = digest_of(&out, &reference);
    let sig_tag = format!("http://{}/v2/team/hello/manifests/{}.sig", reg.addr, digest.replace(':', "-"));
    let code = run(Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &sig_tag]));
    assert_eq!(text(&code).trim(), "404", "no .sig tag on a registry with referrers");

    let mut c = Command::new(cosign_bin().unwrap());
    c.args(["verify", "--experimental-oci11", "--key"]).arg(&public);
    let c = run(c.args(["--insecure-ignore-tlog=true", "--allow-insecure-registry", &reference]));
    assert!(c.status.success() && text(&c).contains(&digest), "cosign verify --experimental-oci11: {}", text(&c));
    assert!(cosign(true, &public, &reference).status.success(), "cosign verify-attestation");
    let out = ok(staticize().args(["verify", &reference, "--key"]).arg(&public));
    assert!(out.contains("1 signature verified"), "{out}");
    // Signing again adds no second referrer.
    let out = ok(staticize().args(["sign", &reference, "--key"]).arg(&key));
    assert!(out.contains("signed (the referrer sha256:"), "{out}");
    let index =
        ok(Command::new("curl").arg("-fsS").arg(format!("http://{}/v2/team/hello/referrers/{digest}", reg.addr)));
    assert_eq!(index.matches("application/vnd.dev.cosign.artifact.sig.v1+json").count(), 1, "{index}");
}
