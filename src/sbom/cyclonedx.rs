//! CycloneDX 1.5 JSON (<https://cyclonedx.org/docs/1.5/json/>): the program is the metadata
//! component, everything else a component it depends on. Written with serde_json values to
//! keep one model for both formats (the cyclonedx-bom crate has its own model).

use serde_json::{Value, json};

use super::model::{Ecosystem, Package, Sbom};

/// The CycloneDX 1.5 document for `sbom` (already normalised).
pub fn document(sbom: &Sbom) -> Value {
    let digest = sbom.subject.trim_start_matches("sha256:");
    // A deterministic urn:uuid from the subject digest (version 4 layout, variant bits set).
    let h = format!("{digest:0<32}");
    let serial = format!("urn:uuid:{}-{}-4{}-8{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]);
    let components: Vec<Value> =
        sbom.packages.iter().enumerate().map(|(i, p)| component(p, &format!("{i}-{}", p.name))).collect();
    let refs: Vec<Value> = sbom.packages.iter().enumerate().map(|(i, p)| json!(format!("{i}-{}", p.name))).collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": crate::epoch::rfc3339(sbom.created),
            "tools": { "components": [{ "type": "application", "name": "staticize", "version": env!("CARGO_PKG_VERSION") }] },
            "component": component(&sbom.program, "program"),
        },
        "components": components,
        "dependencies": [{ "ref": "program", "dependsOn": refs }],
    })
}

fn component(p: &Package, bom_ref: &str) -> Value {
    let kind = match p.ecosystem {
        Ecosystem::Program | Ecosystem::Tool => "application",
        Ecosystem::Unowned => "file",
        _ => "library",
    };
    let mut v = json!({ "type": kind, "bom-ref": bom_ref, "name": p.name });
    let o = v.as_object_mut().expect("an object");
    if !p.version.is_empty() {
        o.insert("version".into(), json!(p.version));
    }
    if let Some(purl) = &p.purl {
        o.insert("purl".into(), json!(purl));
    }
    if let Some(s) = &p.supplier {
        o.insert("supplier".into(), json!({ "name": s }));
    }
    if let Some(sha) = &p.sha256 {
        o.insert("hashes".into(), json!([{ "alg": "SHA-256", "content": sha }]));
    }
    if !p.licenses.is_empty() {
        let l: Vec<Value> = p.licenses.iter().map(|l| json!({ "license": { "name": l } })).collect();
        o.insert("licenses".into(), json!(l));
    }
    if !p.files.is_empty() {
        let files: Vec<Value> = p
            .files
            .iter()
            .map(|f| json!({ "type": "file", "name": f.path, "hashes": [{ "alg": "SHA-256", "content": f.sha256 }] }))
            .collect();
        o.insert("components".into(), json!(files));
    }
    v
}
