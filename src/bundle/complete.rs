//! The bundle's last step after the program's own closure: the interpreter's standard
//! library, the package's files, the plugin directories the libraries name, the closure of
//! every ELF object that brought in, and the scratch-gap hints. Plain data in, report lines out, so any road to an image can call it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::bundle::package as pkg;
use crate::bundle::stdlib::{self, Stdlib};
use crate::bundle::trace::{self, TraceRequest};
use crate::closure::{Closure, ResolveOptions};
use crate::error::{Error, Result};
use crate::image::options::AddSpec;
use crate::image::rootfs::Rootfs;
use crate::report::human_size;

/// What `bundle` carries beyond the program's closure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    /// Leave out an interpreter's standard library (`--no-stdlib`).
    pub no_stdlib: bool,
    /// Leave out the plugin directories the image's libraries name (`--no-plugins`).
    pub no_plugins: bool,
    /// Carry the files of the package owning the program (`--package-files`).
    pub package_files: bool,
    /// Carry these installed packages' files (`--package NAME`).
    pub packages: Vec<String>,
    /// Write the image even when a library is missing (`--allow-missing`).
    pub allow_missing: bool,
    /// Run the program once under strace and carry what it used (`--trace -- ARGS…`).
    pub trace: Option<TraceRequest>,
}

/// One line for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Note {
    /// A step line: (step, text).
    Step(&'static str, String),
    /// A warning.
    Warn(String),
}

/// The standard library to carry for `program`, unless opted out; decided before the image is
/// planned because the interpreter then goes to its real host path.
pub(crate) fn stdlib_for(program: &Path, x: &Extras) -> Option<Stdlib> {
    if x.no_stdlib { None } else { stdlib::find(program) }
}

/// Adds the standard library, the package files, then the closure of every ELF object not yet
/// resolved (`done`: the program and its closure), and returns the report lines with the
/// hints. Fails like the program's own closure when a library is missing, unless allowed.
pub(crate) fn complete(
    rootfs: &mut Rootfs,
    program: &Path,
    closure: &Closure,
    done: &BTreeSet<String>,
    stdlib: Option<&Stdlib>,
    x: &Extras,
) -> Result<Vec<Note>> {
    let mut notes = Vec::new();
    if let Some(s) = stdlib {
        for dir in &s.dirs {
            let spec = AddSpec { src: dir.clone(), dest: dir.to_string_lossy().into_owned(), mode: None };
            let n = crate::image::add::add(rootfs, &spec)?;
            let what = format!("{} ({} files, {})", dir.display(), n.files, human_size(n.bytes));
            notes.push(Note::Step(
                "stdlib",
                format!("carried the {} standard library {what}; --no-stdlib leaves it out", s.runtime),
            ));
        }
    }
    notes.extend(packages(rootfs, program, x)?);
    if let Some(req) = &x.trace {
        notes.push(traced(rootfs, program, req)?);
    }
    if !x.no_plugins {
        // Left out with --no-stdlib, the standard library stays out though libperl names it.
        let skip: Vec<String> = match (stdlib, x.no_stdlib) {
            (None, true) => stdlib::find(program).map(|s| s.dirs).unwrap_or_default(),
            _ => Vec::new(),
        }
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
        notes.extend(crate::bundle::plugins::carry(rootfs, &skip)?.iter().map(|p| Note::Step("plugins", p.line())));
    }
    let carried = crate::bundle::carry_closures(rootfs, done, &ResolveOptions::default())?;
    if !carried.files.is_empty() {
        let names: Vec<&str> = carried.files.iter().map(|f| f.rsplit('/').next().unwrap_or(f)).collect();
        notes.push(Note::Step(
            "closure",
            format!(
                "{} more ELF objects in the image: carried {} more libraries ({}): {}",
                carried.objects,
                names.len(),
                human_size(carried.bytes),
                names.join(" ")
            ),
        ));
    }
    if !carried.unresolved.is_empty() {
        let names: Vec<String> = carried.unresolved.iter().map(ToString::to_string).collect();
        if !x.allow_missing {
            return Err(Error::Verdict {
                message: format!(
                    "{}: libraries of the ELF objects carried with it not found: {}",
                    program.display(),
                    names.join(", ")
                ),
                help: Some(
                    "install the packages that provide them, or pass --allow-missing to write the image anyway".into(),
                ),
            });
        }
        notes.extend(
            names
                .into_iter()
                .map(|n| Note::Warn(format!("missing {n}: it fails where it is loaded (--allow-missing)"))),
        );
    }
    let hints = crate::bundle::hints::scratch_gaps(rootfs, program, Some(closure));
    notes.extend(hints.into_iter().map(|h| Note::Step("hint", h)));
    Ok(notes)
}

/// The hint naming the dependencies of the program's package that ship what it may need,
/// except those already asked for with --package and areas the image already has (an
/// interpreter's standard library).
fn dependency_hint(rootfs: &Rootfs, package: &str, x: &Extras) -> Result<Option<Note>> {
    let mut deps = pkg::dependencies(package)?;
    deps.retain_mut(|d| {
        d.areas.retain(|a| rootfs.get(&a.dir).is_none());
        let done = d.carried_at.is_some_and(|p| rootfs.get(p).is_some());
        !done && !d.areas.is_empty() && !x.packages.contains(&d.package)
    });
    if deps.is_empty() {
        return Ok(None);
    }
    let area = |a: &pkg::Area| format!("{} ({} files)", a.dir, a.files);
    let named: Vec<String> = deps
        .iter()
        .map(|d| format!("{} ({})", d.package, d.areas.iter().take(2).map(area).collect::<Vec<_>>().join(", ")))
        .collect();
    let mut flags: Vec<&str> = deps.iter().map(|d| d.flag.as_str()).collect();
    flags.dedup();
    Ok(Some(Note::Step(
        "hint",
        format!("{package} depends on {}; carry what the program needs with {}", named.join(", "), flags.join(" ")),
    )))
}

/// Lines of the trace report name this many files, then how many more.
const TRACE_NAMED: usize = 12;

/// `--trace`: runs the program under strace and carries what it used; the step line says
/// what that added.
fn traced(rootfs: &mut Rootfs, program: &Path, req: &TraceRequest) -> Result<Note> {
    let (used, work) = trace::run(program, req)?;
    let t = trace::carry(rootfs, program, &used, &work)?;
    let run = std::iter::once(program.display().to_string()).chain(req.args.iter().cloned()).collect::<Vec<_>>();
    let mut names: Vec<&str> = t.added.iter().take(TRACE_NAMED).map(String::as_str).collect();
    let more = t.added.len().saturating_sub(TRACE_NAMED);
    let more = if more > 0 { format!(" … and {more} more") } else { String::new() };
    if names.is_empty() {
        names.push("nothing new");
    }
    Ok(Note::Step(
        "trace",
        format!(
            "ran `{}` under strace: it used {} files; carried {} more ({}): {}{more}",
            run.join(" "),
            t.used,
            t.added.len(),
            human_size(t.bytes),
            names.join(" ")
        ),
    ))
}

/// `--package-files` and `--package NAME`: the package's files into the image; without them, a
/// hint naming what the owning package ships besides the program.
fn packages(rootfs: &mut Rootfs, program: &Path, x: &Extras) -> Result<Vec<Note>> {
    let mut notes = Vec::new();
    let mut wanted = Vec::new();
    let mut dependencies = None;
    if let Some(o) = pkg::owner(program)? {
        dependencies = dependency_hint(rootfs, &o.package, x)?;
        if x.package_files {
            wanted.push(o);
        } else if !o.files.is_empty() {
            let areas: Vec<String> = o
                .areas()
                .iter()
                .take(5)
                .map(|a| match a.executables {
                    0 => format!("{} ({} files)", a.dir, a.files),
                    n => format!("{} ({} files, {n} helper programs)", a.dir, a.files),
                })
                .collect();
            let (name, version, areas) = (&o.package, &o.version, areas.join(", "));
            notes.push(Note::Step(
                "package",
                format!(
                    "{} is from {name} {version}, which also ships {areas}; carry them with --package-files",
                    program.display()
                ),
            ));
        }
    }
    notes.extend(dependencies);
    for name in &x.packages {
        wanted.push(pkg::named(name)?);
    }
    for o in &wanted {
        let (n, bytes) = pkg::carry(rootfs, o)?;
        notes.push(Note::Step(
            "package",
            format!("carried {n} files of {} {} ({})", o.package, o.version, human_size(bytes)),
        ));
    }
    Ok(notes)
}
