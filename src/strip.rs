//! Stripping a copy of a program for its image: symbols and debug sections cost bytes in every
//! pull and do nothing in a scratch container. The file the user gave is never changed. Files
//! that strip would break are left whole: a Node single-executable app (strip drops the
//! NODE_SEA_BLOB note node reads its program from) and any file carrying bytes after its ELF
//! contents (an appended payload, which strip silently cuts off).

use std::path::{Path, PathBuf};

use goblin::elf::Elf;
use goblin::elf::section_header::SHT_NOBITS;

use crate::error::{Error, Result};
use crate::process::Command;
use crate::report::{Reporter, group_digits};

/// What happened to one program on its way into an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A stripped copy goes into the image instead.
    Stripped {
        /// The copy.
        copy: PathBuf,
        /// Size before.
        before: u64,
        /// Size after.
        after: u64,
    },
    /// The file goes in as it is; the reason, in words.
    Kept(String),
}

/// Strips a copy of `binary` (an ELF for `machine`, "amd64"/"arm64"/…) into `dir`, or says why
/// it is kept as it is. Only a failed copy is an error; a missing or failing strip is a reason.
pub(crate) fn strip_copy(binary: &Path, machine: &str, dir: &Path) -> Result<Outcome> {
    let bytes = std::fs::read(binary).map_err(|e| Error::io("read", binary, e))?;
    if let Some(why) = unsafe_to_strip(&bytes) {
        return Ok(Outcome::Kept(why));
    }
    if crate::elf::inspect_bytes(&bytes).is_ok_and(|l| l.stripped) {
        return Ok(Outcome::Kept("it has no symbols to remove (already stripped)".into()));
    }
    let Some(tool) = strip_tool(machine) else {
        return Ok(Outcome::Kept(format!(
            "no strip for {machine} found ({}; install binutils, or binutils-{}-linux-gnu, or llvm)",
            candidates(machine).join(", "),
            gnu_arch(machine)
        )));
    };
    let name = binary.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "program".into());
    let copy = dir.join(name);
    std::fs::write(&copy, &bytes).map_err(|e| Error::io("copy the program to", &copy, e))?;
    if let Err(e) = Command::new(&tool).arg("--strip-all").arg(&copy).run("strip a copy for the image") {
        return Ok(Outcome::Kept(format!("{} failed: {}", tool.display(), crate::elf::plain_reason(&e))));
    }
    let after = std::fs::metadata(&copy).map_err(|e| Error::io("read", &copy, e))?.len();
    Ok(Outcome::Stripped { copy, before: bytes.len() as u64, after })
}

/// Why stripping would break this file, if it would.
pub(crate) fn unsafe_to_strip(bytes: &[u8]) -> Option<String> {
    let (fuse, _) = crate::sea::fuse_state(bytes);
    let note = crate::sea::verify(bytes).ok().and_then(|c| c.blob_bytes).is_some();
    if fuse == crate::sea::Fuse::Flipped || note {
        return Some(format!(
            "a Node single-executable app: strip would drop its {} note, and node would no longer find the program",
            crate::sea::NOTE_NAME
        ));
    }
    let end = elf_end(bytes)?;
    (end < bytes.len() as u64).then(|| {
        format!(
            "{} B follow its ELF contents (an appended payload); strip would cut them off",
            group_digits(bytes.len() as u64 - end)
        )
    })
}

/// Where the ELF's own contents end: the furthest of its segments, sections and section
/// header table. None when the headers cannot be read (strip is then not run on a guess).
fn elf_end(bytes: &[u8]) -> Option<u64> {
    let elf = Elf::parse(bytes).ok()?;
    let h = &elf.header;
    let segments = elf.program_headers.iter().map(|p| p.p_offset.saturating_add(p.p_filesz));
    let sections =
        elf.section_headers.iter().filter(|s| s.sh_type != SHT_NOBITS).map(|s| s.sh_offset.saturating_add(s.sh_size));
    let table = h.e_shoff.saturating_add(u64::from(h.e_shnum) * u64::from(h.e_shentsize));
    let headers = h.e_phoff.saturating_add(u64::from(h.e_phnum) * u64::from(h.e_phentsize));
    segments.chain(sections).chain([table, headers]).max()
}

/// "amd64" → "x86_64" (GNU's names for cross binutils).
fn gnu_arch(machine: &str) -> &str {
    match machine {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
}

/// The strip commands that read `machine`'s ELF, best first: $STATICIZE_STRIP, the host's
/// strip for the host's machine, then the GNU cross strip and llvm-strip (which reads every
/// machine).
fn candidates(machine: &str) -> Vec<String> {
    let mut c: Vec<String> = std::env::var("STATICIZE_STRIP").ok().filter(|s| !s.is_empty()).into_iter().collect();
    if crate::image::spec::Platform::host().architecture == machine {
        c.push("strip".into());
    }
    c.push(format!("{}-linux-gnu-strip", gnu_arch(machine)));
    c.push("llvm-strip".into());
    c
}

fn strip_tool(machine: &str) -> Option<PathBuf> {
    candidates(machine).iter().find_map(|c| which::which(c).ok())
}

/// Strips copies of `binaries` for an image when `strip` is true, reporting each: the
/// (platform, path) list to package, with stripped copies in `dir` in place of the originals.
pub(crate) fn for_image<P: Clone>(
    binaries: &[(P, PathBuf, String)],
    strip: bool,
    dir: &Path,
    rep: &Reporter,
) -> Result<Vec<(P, PathBuf)>> {
    let mut out = Vec::new();
    for (i, (platform, path, machine)) in binaries.iter().enumerate() {
        if !strip {
            out.push((platform.clone(), path.clone()));
            continue;
        }
        let sub = dir.join(i.to_string());
        std::fs::create_dir_all(&sub).map_err(|e| Error::io("create", &sub, e))?;
        match strip_copy(path, machine, &sub)? {
            Outcome::Stripped { copy, before, after } => {
                rep.step(
                    "strip",
                    format!(
                        "{}: {} B → {} B in the image ({} B saved; the file on disk is untouched, --no-strip keeps symbols)",
                        path.display(),
                        group_digits(before),
                        group_digits(after),
                        group_digits(before.saturating_sub(after))
                    ),
                );
                out.push((platform.clone(), copy));
            }
            Outcome::Kept(why) => {
                rep.step("strip", format!("{}: not stripped: {why}", path.display()));
                out.push((platform.clone(), path.clone()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flipped_sea_fuse_or_appended_bytes_are_never_stripped() {
        let mut elf = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(unsafe_to_strip(&elf), None);
        elf.extend_from_slice(b"PAYLOAD!");
        assert!(unsafe_to_strip(&elf).unwrap().starts_with("8 B follow its ELF contents"));
        let mut sea = b"\x7fELF junk ".to_vec();
        sea.extend_from_slice(format!("{}:1", crate::sea::FUSE).as_bytes());
        assert!(unsafe_to_strip(&sea).unwrap().contains("Node single-executable app"));
    }

    #[test]
    fn cross_strips_are_looked_for_by_gnu_names() {
        let c = candidates("arm64");
        assert!(c.contains(&"aarch64-linux-gnu-strip".to_string()) && c.contains(&"llvm-strip".to_string()));
    }
}
