//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>): one package per component, the
//! program described by the document and containing the rest. Written with serde_json values
//! because no maintained Rust crate writes SPDX 2.3 documents.

use serde_json::{Value, json};

use super::model::{Ecosystem, Package, Sbom, purl_escape};

/// The SPDX 2.3 document for `sbom` (already normalised).
pub fn document(sbom: &Sbom) -> Value {
    let digest = sbom.subject.trim_start_matches("sha256:");
    let mut packages = vec![package(&sbom.program, "SPDXRef-Package-program")];
    let mut files = Vec::new();
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Package-program",
    })];
    add_files(&sbom.program, "program", &mut files, &mut relationships);
    for (i, p) in sbom.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{i}-{}", id_part(&p.name));
        packages.push(package(p, &id));
        let kind = match (p.ecosystem, p.linked) {
            (Ecosystem::Tool, _) => "BUILD_TOOL_OF",
            (_, true) => "STATIC_LINK",
            _ => "CONTAINS",
        };
        let (from, to) = if kind != "BUILD_TOOL_OF" {
            ("SPDXRef-Package-program", id.as_str())
        } else {
            (id.as_str(), "SPDXRef-Package-program")
        };
        relationships.push(json!({ "spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to }));
        add_files(p, &i.to_string(), &mut files, &mut relationships);
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": sbom.name,
        "documentNamespace": format!("https://staticize.invalid/spdx/{}-{digest}", purl_escape(&sbom.name)),
        "creationInfo": {
            "created": crate::epoch::rfc3339(sbom.created),
            "creators": [format!("Tool: staticize-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "files": files,
        "relationships": relationships,
    })
}

fn package(p: &Package, id: &str) -> Value {
    let mut v = json!({
        "name": p.name,
        "SPDXID": id,
        "versionInfo": if p.version.is_empty() { "NOASSERTION" } else { p.version.as_str() },
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": license_expression(p),
        "copyrightText": "NOASSERTION",
        "supplier": p.supplier.as_ref().map_or("NOASSERTION".to_string(), |s| format!("Organization: {s}")),
        "primaryPackagePurpose": purpose(p.ecosystem),
    });
    let o = v.as_object_mut().expect("an object");
    if let Some(purl) = &p.purl {
        o.insert(
            "externalRefs".into(),
            json!([{ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl }]),
        );
    }
    if let Some(sha) = &p.sha256 {
        o.insert("checksums".into(), json!([{ "algorithm": "SHA256", "checksumValue": sha }]));
    }
    if !p.licenses.is_empty() && license_expression(p) == "NOASSERTION" {
        // Debian's DEP-5 names ("GPL-2+") are not SPDX identifiers: kept as a comment.
        o.insert("licenseComments".into(), json!(format!("as the package declares: {}", p.licenses.join(", "))));
    }
    v
}

/// Crates and npm packages declare SPDX expressions; anything else is not asserted.
fn license_expression(p: &Package) -> String {
    let spdx_like = matches!(p.ecosystem, Ecosystem::Cargo | Ecosystem::Npm) && p.licenses.len() == 1;
    match p.licenses.first() {
        Some(l) if spdx_like && l.chars().all(|c| c.is_ascii_alphanumeric() || " .-+()/".contains(c)) => {
            // Cargo's old "MIT/Apache-2.0" spelling means OR.
            l.replace('/', " OR ")
        }
        _ => "NOASSERTION".into(),
    }
}

fn purpose(e: Ecosystem) -> &'static str {
    match e {
        Ecosystem::Program => "APPLICATION",
        Ecosystem::Tool => "APPLICATION",
        Ecosystem::Unowned => "FILE",
        _ => "LIBRARY",
    }
}

fn add_files(p: &Package, owner: &str, files: &mut Vec<Value>, rels: &mut Vec<Value>) {
    let pkg_id = if owner == "program" {
        "SPDXRef-Package-program".to_string()
    } else {
        format!("SPDXRef-Package-{owner}-{}", id_part(&p.name))
    };
    for (j, f) in p.files.iter().enumerate() {
        let id = format!("SPDXRef-File-{owner}-{j}");
        files.push(json!({
            "fileName": if f.path.starts_with('/') { format!(".{}", f.path) } else { format!("./{}", f.path) },
            "SPDXID": id,
            "checksums": [{ "algorithm": "SHA256", "checksumValue": f.sha256 }],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        rels.push(json!({ "spdxElementId": pkg_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id }));
    }
}

/// SPDX ids allow letters, digits, '.' and '-'.
fn id_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}
