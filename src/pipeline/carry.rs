//! The closure stage: a dynamic program goes into its image with its interpreter at the
//! PT_INTERP path, its library closure (resolved like ld.so, see [`crate::closure`]) and, on
//! glibc, an /etc/nsswitch.conf. Whoever made the program — `bundle` given a file, `node` a
//! driver — it comes through here. The program stays dynamic; the report says so.

use std::collections::BTreeSet;
use std::path::Path;

use super::job::CarryOptions;
use crate::bundle::add_closure;
use crate::bundle::complete::{Extras, Note, complete, stdlib_for};
use crate::closure::{self, Closure, EntryKind, ResolveOptions, nss};
use crate::driver::LibraryRoot;
use crate::elf::{LinkKind, Linkage};
use crate::error::{Error, Result};
use crate::image::options::ImageSettings;
use crate::image::rootfs::MODE_DATA;
use crate::image::spec::Platform;
use crate::image::{PlatformImage, Rootfs, Source};
use crate::report::{Reporter, human_size};

/// One program's image with its closure, and what the report says about it.
#[derive(Debug, Clone)]
pub(crate) struct WithClosure {
    /// The image.
    pub image: PlatformImage,
    /// The libraries carried.
    pub closure: Closure,
    /// What was done for NSS, when the program uses glibc.
    pub nss: Option<String>,
    /// Report lines of what was carried besides the closure, and hints.
    pub notes: Vec<Note>,
}

/// The program to carry, what it is, where the plan puts it, and who asks.
pub(crate) struct ToCarry<'a> {
    /// The ELF file.
    pub elf: &'a Path,
    /// Its verdict.
    pub linkage: &'a Linkage,
    /// Where it goes inside the image (the plan's decision).
    pub program_path: &'a str,
    /// "node for linux/arm64", for messages about a cross closure.
    pub what: String,
    /// For the image history.
    pub created_by: &'a str,
    /// What the program is when it is a runtime every program using it shares ("node
    /// v20.20.2"): its file then gets a layer of its own.
    pub runtime: Option<&'a str>,
}

/// Plans `p`'s image with its closure: from this machine, or from `root` for a cross build.
/// Fails with a verdict (exit 1) when libraries are missing, unless `opts.allow_missing`.
pub(crate) fn carry(
    p: &ToCarry,
    s: &ImageSettings,
    opts: &CarryOptions,
    root: Option<LibraryRoot>,
) -> Result<WithClosure> {
    match p.linkage.kind {
        LinkKind::Dynamic | LinkKind::Static | LinkKind::StaticPie => {}
        other => {
            return Err(Error::input(
                p.elf,
                match other {
                    LinkKind::SharedLibrary => "is a shared library, not a program".to_string(),
                    _ => {
                        "is an ELF file that is not a program (a relocatable object, core dump or separate debug info)"
                            .to_string()
                    }
                },
                Some("give the executable that loads it; name extra libraries with --lib".into()),
            ));
        }
    }
    let mut carried = match root {
        Some(root) => carry_from(p, s, root),
        None => carry_host(p, s, opts),
    }?;
    if opts.init {
        crate::pack::with_init(&mut carried.image)?;
    }
    Ok(carried)
}

fn carry_host(p: &ToCarry, s: &ImageSettings, opts: &CarryOptions) -> Result<WithClosure> {
    let mut ropts = ResolveOptions { extra_libs: opts.extra_libs.clone(), ..Default::default() };
    let mut closure = closure::resolve(p.elf, &ropts)?;
    let mut nss = None;
    if nss::is_glibc(&closure) {
        let missing = nss::modules_needed(&closure);
        if !missing.is_empty() {
            ropts.extra_libs.extend(missing.iter().map(|s| s.to_string()));
            closure = closure::resolve(p.elf, &ropts)?;
        }
        nss = Some(if missing.is_empty() {
            "NSS files and dns are built into this glibc; no libnss_* needed".to_string()
        } else {
            format!("carried {} for NSS", missing.join(", "))
        });
    }
    if !closure.unresolved.is_empty() && !opts.allow_missing {
        return Err(unresolved_error(p.elf, &closure));
    }
    let extras = Extras { allow_missing: opts.allow_missing, ..opts.extras.clone() };
    let stdlib = stdlib_for(p.elf, &extras);
    // The plan kept the program's host directory when its RPATH/RUNPATH says $ORIGIN, unless
    // --path moved it: then $ORIGIN means another directory in the image.
    if closure.uses_origin {
        let real = std::fs::canonicalize(p.elf).map_err(|e| Error::io("read", p.elf, e))?;
        let real = real.to_string_lossy().into_owned();
        if closure::root::parent(p.program_path) != closure::root::parent(&real) {
            closure.warnings.push(format!(
                "the program's RPATH/RUNPATH uses $ORIGIN, which in the image means {} instead of {}; leave out --path to keep its host directory",
                closure::root::parent(p.program_path),
                closure::root::parent(&real)
            ));
        }
    }
    let program_path = p.program_path.to_string();
    let mut s = s.clone();
    if let Some(v) =
        stdlib.as_ref().and_then(|l| l.venv.as_ref()).filter(|_| s.path.is_none() && s.entrypoint.is_none())
    {
        // Started by its path inside the virtual environment, python takes the venv's
        // packages (`pyvenv.cfg`); started as itself it would not.
        s.entrypoint = Some(vec![crate::image::options::program_path(&v.entry.to_string_lossy())?]);
    }
    let mut image = program_image(p, &s)?;
    add_closure(&mut image.rootfs, &closure)?;
    let packages = add_package_records(&mut image.rootfs, &closure, Some(p.elf), &program_path)?;
    let parts = super::layers::runtime_parts(&packages, &image.rootfs, &program_path, p.runtime);
    super::layers::under(parts, &mut image.parts);
    add_nsswitch(&mut image.rootfs, nss.is_some())?;
    if !closure.cache_dirs.is_empty() {
        // Scratch has no ld.so.cache: name the ld.so.conf directories that supplied libraries.
        let env = image.config.env.get_or_insert_with(Vec::new);
        env.retain(|v| !v.starts_with("LD_LIBRARY_PATH="));
        env.push(format!("LD_LIBRARY_PATH={}", closure.cache_dirs.join(":")));
    }
    let mut done: BTreeSet<String> = closure.files().map(|e| e.image_path.clone()).collect();
    done.insert(program_path.clone());
    let notes = complete(&mut image.rootfs, p.elf, &closure, &done, stdlib.as_ref(), &extras)?;
    // The records of the packages whose files the other steps added (standard library,
    // package files, traced files, plugins, --with), beside the closure's.
    let records = crate::sbom::debian::rootfs_paragraphs(&image.rootfs)?;
    crate::sbom::statusd::add(&mut image.rootfs, &records)?;
    Ok(WithClosure { image, closure, nss, notes })
}

/// A cross build's closure: resolved inside a root holding that platform's libraries.
fn carry_from(p: &ToCarry, s: &ImageSettings, root: LibraryRoot) -> Result<WithClosure> {
    let opts = ResolveOptions { root: root.root.clone(), ..Default::default() };
    let closure = closure::resolve(p.elf, &opts)?;
    if !closure.unresolved.is_empty() {
        let names: Vec<String> = closure.unresolved.iter().map(ToString::to_string).collect();
        return Err(Error::Verdict {
            message: format!("{} needs libraries {} did not supply: {}", p.what, root.supplier, names.join(", ")),
            help: Some(root.help.clone()),
        });
    }
    let mut image = program_image(p, s)?;
    image.platform.variant = root.variant.clone();
    add_closure(&mut image.rootfs, &closure)?;
    let packages = add_package_records(&mut image.rootfs, &closure, None, p.program_path)?;
    let parts = super::layers::runtime_parts(&packages, &image.rootfs, p.program_path, p.runtime);
    super::layers::under(parts, &mut image.parts);
    let nss = nss::is_glibc(&closure).then(|| root.nss_note.clone());
    add_nsswitch(&mut image.rootfs, nss.is_some())?;
    Ok(WithClosure { image, closure, nss, notes: Vec::new() })
}

/// One `/var/lib/dpkg/status.d/NAME` record per Debian package whose files the image carries
/// (distroless's convention), so scanners see them; `host_program` is the program's own file
/// when it may come from a package (`bundle /usr/bin/redis-server`). Returns the packages
/// that own the carried files (the libraries' layers are cut by them).
pub(super) fn add_package_records(
    rootfs: &mut Rootfs,
    closure: &Closure,
    host_program: Option<&Path>,
    program_path: &str,
) -> Result<Vec<crate::sbom::model::Package>> {
    let (packages, paragraphs) = crate::sbom::collect::closure_owners(closure, host_program, program_path)?;
    crate::sbom::statusd::add(rootfs, &paragraphs)?;
    Ok(packages)
}

/// The image of the program alone at its planned path, every setting applied.
fn program_image(p: &ToCarry, s: &ImageSettings) -> Result<PlatformImage> {
    let platform = Platform::linux(&p.linkage.machine);
    super::image::program_image(p.elf, &platform, p.program_path, s, p.created_by).map(|(image, _)| image)
}

fn add_nsswitch(rootfs: &mut Rootfs, glibc: bool) -> Result<()> {
    if glibc && rootfs.get("/etc/nsswitch.conf").is_none() {
        rootfs.add_file("/etc/nsswitch.conf", Source::Bytes(nss::NSSWITCH_CONF.as_bytes().to_vec()), MODE_DATA)?;
    }
    Ok(())
}

fn unresolved_error(binary: &Path, c: &Closure) -> Error {
    let names: Vec<String> = c.unresolved.iter().map(|u| u.to_string()).collect();
    Error::Verdict {
        message: format!(
            "{}: {} librar{} not found: {}",
            binary.display(),
            names.len(),
            if names.len() == 1 { "y" } else { "ies" },
            names.join(", ")
        ),
        help: Some(
            "install the package that provides it, name its file with --lib PATH, or pass --allow-missing to write the image anyway"
                .into(),
        ),
    }
}

/// Prints what the closure carried: that the program is dynamic, how many libraries, what
/// is missing.
pub(crate) fn report(b: &WithClosure, rep: &Reporter) {
    let c = &b.closure;
    if !c.is_dynamic() {
        rep.step("closure", "the program is static: no libraries to carry");
        return;
    }
    let libs: Vec<String> = c
        .files()
        .filter(|e| e.kind != EntryKind::Interp)
        .map(|e| e.image_path.rsplit('/').next().unwrap_or(&e.image_path).to_string())
        .collect();
    let links = c.entries.iter().filter(|e| e.kind == EntryKind::Symlink).count();
    rep.step(
        "closure",
        format!(
            "the program is dynamic, not static: carried its interpreter {} and {} libraries ({} files + {} links, {})",
            c.interp.as_deref().unwrap_or("(none)"),
            libs.len(),
            c.files().count(),
            links,
            human_size(c.bytes())
        ),
    );
    if !libs.is_empty() {
        rep.step("", libs.join(" "));
    }
    let dlopen: Vec<&str> = c.files().filter(|e| e.kind == EntryKind::Dlopen).map(|e| e.image_path.as_str()).collect();
    if !dlopen.is_empty() {
        rep.step("dlopen", format!("also carried for dlopen(): {}", dlopen.join(" ")));
    }
    if let Some(n) = &b.nss {
        rep.step("nss", format!("/etc/nsswitch.conf (files dns); {n}"));
    }
    if !c.cache_dirs.is_empty() {
        rep.step("env", format!("LD_LIBRARY_PATH={} (scratch has no ld.so.cache)", c.cache_dirs.join(":")));
    }
    for u in &c.unresolved {
        rep.warn(format!("missing {u}: the program will fail where it loads it (--allow-missing)"));
    }
    for u in &c.optional_missing {
        rep.warn(format!("optional dlopen() library not found: {u}; that feature will not work"));
    }
    for w in &c.warnings {
        rep.warn(w);
    }
    for note in &b.notes {
        match note {
            Note::Step(step, line) => rep.step(step, line),
            Note::Warn(w) => rep.warn(w),
        }
    }
}
