//! Making a packed file from a program on this machine: its closure resolved as `bundle`
//! resolves it, refused when libraries are missing (unless allowed), then written by
//! [`super::write`], each step reported.

use std::path::{Path, PathBuf};

use super::{Packed, inputs, launcher, level_for, missing_hint, write};
use crate::closure::nss::{is_glibc, modules_needed as nss_modules_needed};
use crate::closure::{self, Closure, ResolveOptions};
use crate::elf::{self, LinkKind, Linkage};
use crate::error::{Error, Result};
use crate::report::{Reporter, human_size};

/// How to resolve what is packed.
#[derive(Debug, Clone, Default)]
pub struct PackRequest {
    /// `--lib`: libraries the program dlopen()s that no note names.
    pub libs: Vec<String>,
    /// Pack even when libraries are missing.
    pub allow_missing: bool,
    /// Resolve the closure inside this directory instead of `/` (another architecture's root).
    pub root: Option<PathBuf>,
}

/// Packs `program` (its closure resolved like `bundle` does, `--lib` included) into `out`,
/// reporting each step; returns the program's verdict, its closure and what was packed.
pub fn pack_file(
    program: &Path,
    name: &str,
    req: &PackRequest,
    out: &Path,
    rep: &Reporter,
) -> Result<(Linkage, Closure, Packed)> {
    refuse_script(program, name)?;
    let linkage = elf::inspect(program)?;
    if !matches!(linkage.kind, LinkKind::Dynamic | LinkKind::Static | LinkKind::StaticPie) {
        return Err(Error::input(program, format!("is a {}, not a program", linkage.kind.label()), None));
    }
    launcher(&linkage.machine).ok_or_else(|| {
        Error::usage(format!("cannot pack a {} program", linkage.machine), missing_hint(&linkage.machine))
    })?;
    let closure = resolve(program, req)?;
    if !closure.unresolved.is_empty() && !req.allow_missing {
        let names: Vec<String> = closure.unresolved.iter().map(|u| u.to_string()).collect();
        return Err(Error::Verdict {
            message: format!("{}: libraries not found: {}", program.display(), names.join(", ")),
            help: Some(
                "install the package that provides it, name its file with --lib PATH, or pass --allow-missing".into(),
            ),
        });
    }
    rep.step("check", format!("{}: {}", program.display(), elf::describe(&linkage)));
    let mut inputs = inputs(program, name, &closure)?;
    let renamed = super::names::answer_all(&mut inputs, &closure)?;
    let total: u64 = inputs.iter().filter_map(|i| std::fs::metadata(&i.host).ok()).map(|m| m.len()).sum();
    let spinner = crate::progress::Progress::start(rep, format!("compressing (zstd -{})", level_for(total)));
    let mut packed = write(&inputs, &closure, &linkage.machine, out)?;
    drop(spinner);
    for r in &renamed {
        rep.step(
            "names",
            format!(
                "{} asks for {}, a library that calls itself {}: its packed copy asks for {}",
                r.object, r.from, r.to, r.to
            ),
        );
    }
    packed.renamed = renamed;
    if let Some(s) = super::beside::stdlib_of(program) {
        let dirs: Vec<String> = s.dirs.iter().map(|d| d.display().to_string()).collect();
        rep.step("stdlib", super::beside::alone_note(s.runtime, &dirs));
    }
    for w in what_differs(program) {
        rep.warn(w);
    }
    for u in &closure.unresolved {
        rep.warn(format!("missing {u}: the program will fail where it loads it (--allow-missing)"));
    }
    for w in &closure.warnings {
        rep.warn(w);
    }
    let libs = packed.entries.len().saturating_sub(if closure.interp.is_some() { 2 } else { 1 });
    rep.step(
        "pack",
        format!(
            "{} ({}, static: launcher {} + {} compressed from {}, {}; {} libraries{})",
            out.display(),
            human_size(packed.launcher_bytes + packed.payload_bytes),
            human_size(packed.launcher_bytes),
            human_size(packed.payload_bytes),
            human_size(packed.unpacked_bytes),
            super::MEMORY_NOTE,
            libs,
            closure.interp.as_deref().map(|i| format!(", loader {i}")).unwrap_or_default()
        ),
    );
    Ok((linkage, closure, packed))
}

/// The interpreter a `#!` script names ("/usr/bin/env python3" names python3, found on PATH),
/// or None when `program` is not a script.
fn script_interpreter(program: &Path) -> Option<String> {
    let mut head = [0u8; 256];
    let n = std::io::Read::read(&mut std::fs::File::open(program).ok()?, &mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or("/bin/sh").to_string();
    if first.rsplit('/').next() != Some("env") {
        return Some(first);
    }
    let named = words.find(|w| !w.starts_with('-'))?;
    Some(which::which(named).map(|p| p.display().to_string()).unwrap_or_else(|_| named.to_string()))
}

/// A script cannot be packed (the launcher executes an ELF program): the error says what can
/// be. Checked before anything else, so a script is never met with an unrelated complaint
/// (the default output, ./NAME, would be the script itself).
pub fn refuse_script(program: &Path, name: &str) -> Result<()> {
    let Some(interp) = script_interpreter(program) else { return Ok(()) };
    Err(Error::input(
        program,
        format!("is a script for {interp}, not an ELF program: pack packs programs, not their scripts"),
        Some(format!(
            "pack the interpreter (staticize pack {interp}, then run the packed file with the script as its \
             argument), or bundle the script with it into an image: staticize bundle {interp} --add {}:/app/{name} \
             --cmd /app/{name}",
            program.display()
        )),
    ))
}

/// The closure as `bundle` resolves it: DT_NEEDED, .note.dlopen, --lib, and for glibc before
/// 2.34 the NSS modules `files dns` needs.
fn resolve(program: &Path, req: &PackRequest) -> Result<Closure> {
    let mut ropts = ResolveOptions { extra_libs: req.libs.clone(), ..Default::default() };
    if let Some(root) = &req.root {
        ropts.root = root.clone();
    }
    let c = closure::resolve(program, &ropts)?;
    if !is_glibc(&c) {
        return Ok(c);
    }
    let nss = nss_modules_needed(&c);
    if nss.is_empty() {
        return Ok(c);
    }
    ropts.extra_libs.extend(nss.iter().map(|s| s.to_string()));
    closure::resolve(program, &ropts)
}

/// What runs differently packed, for the report: a set-ID bit is not carried (and the launcher
/// refuses to run set-ID, exit 122: the loader it starts from a memory file would not run in
/// secure mode), and `/proc/self/exe` is the loader's memory file, not the program.
fn what_differs(program: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mode = std::fs::metadata(program).map(|m| m.permissions().mode()).unwrap_or(0);
    let bits: Vec<&str> = [(0o4000, "set-user-ID"), (0o2000, "set-group-ID")]
        .into_iter()
        .filter(|(b, _)| mode & b != 0)
        .map(|(_, n)| n)
        .collect();
    if !bits.is_empty() {
        out.push(format!(
            "{} is {}: the packed file is not, so it runs with the caller's privileges; setting the bit on it does not help (the launcher then refuses to run, exit 122: the loader it starts would trust the caller's environment); install the program unpacked where it needs its privileges",
            program.display(),
            bits.join(" and ")
        ));
    }
    let names_self = std::fs::read(program).is_ok_and(|b| memchr::memmem::find(&b, b"/proc/self/exe").is_some());
    if names_self {
        out.push(format!(
            "{} names /proc/self/exe: packed, that is the loader's memory file, so where the program reads it to find itself or runs it again it finds the loader, not the program",
            program.display()
        ));
    }
    out
}
