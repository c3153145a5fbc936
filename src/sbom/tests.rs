use super::*;

fn sample() -> Sbom {
    let mut libc = Package::new("libc6", "2.36-9+deb12u9", Ecosystem::Debian);
    libc.purl = Some(debian::purl("libc6", "2.36-9+deb12u9", "amd64", "glibc", "debian-12"));
    libc.licenses = vec!["LGPL-2.1+".into(), "GPL-2".into()];
    libc.files.push(FileRef { path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into(), sha256: "ab".repeat(32) });
    let mut hex = Package::new("hex", "0.4.3", Ecosystem::Cargo);
    hex.licenses = vec!["MIT OR Apache-2.0".into()];
    let mut program = Package::new("app", "0.1.0", Ecosystem::Program);
    program.sha256 = Some("cd".repeat(32));
    Sbom {
        name: "app".into(),
        subject: format!("sha256:{}", "12".repeat(32)),
        created: 0,
        program,
        packages: vec![libc, hex],
    }
}

#[test]
fn the_same_input_gives_the_same_bytes_in_any_order() {
    let a = sample();
    let mut b = sample();
    b.packages.reverse();
    for f in [Format::Spdx, Format::CycloneDx] {
        assert_eq!(a.to_bytes(f), b.to_bytes(f));
    }
}

#[test]
fn spdx_names_purls_licences_and_relationships() {
    let v: serde_json::Value = serde_json::from_slice(&sample().to_bytes(Format::Spdx)).unwrap();
    assert_eq!(v["spdxVersion"], "SPDX-2.3");
    assert_eq!(v["creationInfo"]["created"], "1970-01-01T00:00:00Z");
    assert!(v["documentNamespace"].as_str().unwrap().ends_with(&"12".repeat(32)));
    let pkgs = v["packages"].as_array().unwrap();
    let libc = pkgs.iter().find(|p| p["name"] == "libc6").unwrap();
    assert_eq!(
        libc["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64&distro=debian-12&upstream=glibc"
    );
    assert_eq!(libc["licenseDeclared"], "NOASSERTION", "DEP-5 names are not SPDX ids");
    let hex = pkgs.iter().find(|p| p["name"] == "hex").unwrap();
    assert_eq!(hex["licenseDeclared"], "MIT OR Apache-2.0");
    assert_eq!(v["files"][0]["fileName"], "./usr/lib/x86_64-linux-gnu/libc.so.6");
    assert_eq!(v["relationships"].as_array().unwrap().len(), 4);
}

#[test]
fn cyclonedx_has_components_and_a_stable_serial() {
    let v: serde_json::Value = serde_json::from_slice(&sample().to_bytes(Format::CycloneDx)).unwrap();
    assert_eq!(v["specVersion"], "1.5");
    assert_eq!(v["serialNumber"], "urn:uuid:12121212-1212-4212-8212-121212121212");
    assert_eq!(v["components"].as_array().unwrap().len(), 2);
    assert_eq!(v["metadata"]["component"]["name"], "app");
}

#[test]
fn the_sbom_goes_beside_the_image() {
    assert_eq!(path_beside(Path::new("out/hello.tar"), Format::Spdx), Path::new("out/hello.spdx.json"));
    assert_eq!(path_beside(Path::new("app"), Format::CycloneDx), Path::new("app.cdx.json"));
}

#[test]
fn status_records_are_parsed_leniently() {
    let d = statusd::parse("Package: libssl3\nVersion: 3.0\nArchitecture: amd64\n\nGarbage\n\nPackage:\n", "/r");
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].name.as_str(), d[0].version.as_str()), ("libssl3", "3.0"));
}
