//! `.note.dlopen`: the ELF dlopen metadata note (systemd's "FDO" format) listing libraries a
//! program loads with dlopen(), which DT_NEEDED cannot show. The note's owner is "FDO", its
//! type 0x407c0c0a, its descriptor a NUL-terminated JSON array of
//! `{"feature", "description", "priority", "soname": [alternatives…]}`.

use goblin::elf::Elf;
use serde::{Deserialize, Serialize};

/// The note type of dlopen metadata.
pub const NT_FDO_DLOPEN_METADATA: u32 = 0x407c_0c0a;
/// The note owner of dlopen metadata.
pub const NOTE_OWNER: &str = "FDO";

/// How much a program needs a dlopen()ed library, as the note says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// The program fails without it.
    Required,
    /// A feature most users want needs it (the default when the note says nothing).
    #[default]
    Recommended,
    /// A rarely used feature needs it.
    Suggested,
}

/// One entry of a dlopen note: a feature and the sonames that provide it, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlopenEntry {
    /// Short feature name ("zstd").
    #[serde(default)]
    pub feature: Option<String>,
    /// What the feature is for.
    #[serde(default)]
    pub description: Option<String>,
    /// How much it is needed.
    #[serde(default)]
    pub priority: Priority,
    /// Alternative sonames; the first that exists is the one loaded.
    pub soname: Vec<String>,
}

/// The dlopen entries of a parsed ELF, from its note sections (or, in a file without section
/// headers, its PT_NOTE segments). A note whose JSON does not parse is reported as Err with the
/// reason, so the caller can warn and go on.
pub fn dlopen_entries(elf: &Elf, bytes: &[u8]) -> Vec<Result<Vec<DlopenEntry>, String>> {
    let notes = elf.iter_note_sections(bytes, None).or_else(|| elf.iter_note_headers(bytes));
    let Some(notes) = notes else { return Vec::new() };
    notes
        .flatten()
        .filter(|n| n.n_type == NT_FDO_DLOPEN_METADATA && n.name == NOTE_OWNER)
        .map(|n| parse_desc(n.desc))
        .collect()
}

/// Parses one note descriptor: JSON, NUL-terminated and padded with NULs.
pub fn parse_desc(desc: &[u8]) -> Result<Vec<DlopenEntry>, String> {
    let end = desc.iter().position(|b| *b == 0).unwrap_or(desc.len());
    serde_json::from_slice(&desc[..end]).map_err(|e| format!("invalid .note.dlopen JSON ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_systemd_shape() {
        let desc = br#"[{"feature":"zstd","description":"Support zstd compression","priority":"suggested","soname":["libzstd.so.1"]},{"soname":["libqrencode.so.4","libqrencode.so.3"]}]"#;
        let mut padded = desc.to_vec();
        padded.extend([0, 0, 0]);
        let e = parse_desc(&padded).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].priority, Priority::Suggested);
        assert_eq!(e[0].feature.as_deref(), Some("zstd"));
        assert_eq!(e[1].priority, Priority::Recommended);
        assert_eq!(e[1].soname, ["libqrencode.so.4", "libqrencode.so.3"]);
        assert!(parse_desc(b"[{\"soname\": 3}]\0").is_err());
    }
}
