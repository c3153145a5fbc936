//! `staticize bundle`: a dynamic program into a scratch image together with its library
//! closure (see [`crate::closure`]) and its interpreter at its PT_INTERP path. The program stays
//! dynamic; the output says so.
//!
//! Other commands that end with a dynamic program (`staticize node`) call [`bundle_plan`] and
//! [`report_closure`], then `package::deliver`.

use std::path::{Path, PathBuf};

use goblin::elf::Elf;
use serde::Serialize;

use crate::cli::{BundleArgs, ImageOptions};
use crate::closure::{self, Closure, EntryKind, Loader, ResolveOptions};
use crate::commands::build::describe;
use crate::commands::package;
use crate::elf::{self, LinkKind, Linkage};
use crate::error::{Error, Result};
use crate::image::rootfs::{MODE_DATA, MODE_EXEC};
use crate::image::{ImagePlan, Rootfs, Source, Written};
use crate::report::{Reporter, human_size};

/// The nsswitch.conf written for glibc programs: local files, then DNS — what scratch can serve.
pub const NSSWITCH_CONF: &str = "\
# Written by staticize bundle: scratch has only files, so look there, then ask DNS.
passwd:    files
group:     files
shadow:    files
hosts:     files dns
networks:  files
protocols: files
services:  files
ethers:    files
rpc:       files
";

/// What bundling adds besides the image options.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// Libraries the program dlopen()s that no note names: sonames or paths (`--lib`).
    pub extra_libs: Vec<String>,
    /// Write the image even when libraries are missing.
    pub allow_missing: bool,
}

/// A planned bundle: the image plan, the closure it carries, and lines for the report.
#[derive(Debug, Clone)]
pub struct Bundled {
    /// The image to write.
    pub plan: ImagePlan,
    /// The libraries carried.
    pub closure: Closure,
    /// The program's ELF verdict.
    pub linkage: Linkage,
    /// Where the program is inside the image.
    pub program_path: String,
    /// What was done for NSS, when the program uses glibc.
    pub nss: Option<String>,
}

/// The JSON result of `staticize bundle`.
#[derive(Debug, Serialize)]
pub struct BundleResult<'a> {
    /// The program bundled.
    pub program: &'a Path,
    /// Always "dynamic" unless the program was static after all.
    pub linkage: &'a Linkage,
    /// Where the program is in the image.
    pub program_path: &'a str,
    /// The closure carried.
    pub closure: &'a Closure,
    /// The image written.
    pub image: &'a Written,
}

/// Runs `bundle`.
pub fn run(args: BundleArgs, rep: &Reporter) -> Result<()> {
    let name = binary_name(&args.binary)?;
    let dest = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.tar")));
    let dests = package::destinations(&args.options, &dest)?;
    let created_by = format!("staticize bundle {name}");
    let bundle = BundleOptions { extra_libs: args.lib.clone(), allow_missing: args.allow_missing };
    let b = bundle_plan(&args.binary, &name, &args.options, &bundle, created_by)?;
    rep.step("check", format!("{}: {}", args.binary.display(), describe(&b.linkage)));
    report_closure(&b, rep);
    let written = package::deliver(&b.plan, &dests, rep)?;
    let subject = crate::sbom::collect::Subject {
        name: &name,
        elf: &args.binary,
        program_path: &b.program_path,
        artifact: None,
        inputs: &[],
        npm_dirs: &[],
        closure: Some(&b.closure),
        host_program: Some(&args.binary),
    };
    package::write_sbom(&args.options, &written, &name, &[subject], rep)?;
    package::report_run_hint(&written, rep);
    package::push_if_asked(&written, &args.options, rep)?;
    rep.json(&BundleResult {
        program: &args.binary,
        linkage: &b.linkage,
        program_path: &b.program_path,
        closure: &b.closure,
        image: &written,
    });
    Ok(())
}

/// The file name of a binary, used to name the image and the program inside it.
pub fn binary_name(binary: &Path) -> Result<String> {
    binary
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .ok_or_else(|| Error::input(binary, "cannot name the image after this path", Some("pass -t NAME".into())))
}

/// Turns a program (dynamic or static) into an image plan carrying its closure, its
/// interpreter at the PT_INTERP path, and for glibc programs an /etc/nsswitch.conf. Fails with
/// a verdict (exit 1) when libraries are missing, unless `bundle.allow_missing`.
pub fn bundle_plan(
    binary: &Path,
    name: &str,
    opts: &ImageOptions,
    bundle: &BundleOptions,
    created_by: String,
) -> Result<Bundled> {
    let linkage = elf::inspect(binary)?;
    match linkage.kind {
        LinkKind::Dynamic | LinkKind::Static | LinkKind::StaticPie => {}
        other => {
            return Err(Error::input(
                binary,
                format!("is a {}, not a program", other.label()),
                Some("give the executable that loads it; name extra libraries with --lib".into()),
            ));
        }
    }
    let mut ropts = ResolveOptions { extra_libs: bundle.extra_libs.clone(), ..Default::default() };
    let mut closure = closure::resolve(binary, &ropts)?;
    let mut nss = None;
    if is_glibc(&closure) {
        let missing = nss_modules_needed(&closure);
        if !missing.is_empty() {
            ropts.extra_libs.extend(missing.iter().map(|s| s.to_string()));
            closure = closure::resolve(binary, &ropts)?;
        }
        nss = Some(if missing.is_empty() {
            "NSS files and dns are built into this glibc; no libnss_* needed".to_string()
        } else {
            format!("carried {} for NSS", missing.join(", "))
        });
    }
    if !closure.unresolved.is_empty() && !bundle.allow_missing {
        return Err(unresolved_error(binary, &closure));
    }

    // A program whose own RPATH/RUNPATH says $ORIGIN keeps its host directory, so $ORIGIN
    // means the same directory in the image.
    let mut opts = opts.clone();
    if closure.uses_origin {
        let real = std::fs::canonicalize(binary).map_err(|e| Error::io("read", binary, e))?;
        let real = real.to_string_lossy().into_owned();
        match &opts.path {
            None => opts.path = Some(real),
            Some(p) if closure::root::parent(p) != closure::root::parent(&real) => closure.warnings.push(format!(
                "the program's RPATH/RUNPATH uses $ORIGIN, which in the image means {} instead of {}; leave out --path to keep its host directory",
                closure::root::parent(p),
                closure::root::parent(&real)
            )),
            Some(_) => {}
        }
    }
    let program_path = package::program_path(&opts, name)?;
    let mut plan = package::plan_for_binary(binary, name, &linkage, &opts, created_by)?;
    let image = &mut plan.images[0];
    add_closure(&mut image.rootfs, &closure)?;
    // Records of the Debian packages carried, so scanners see them (distroless's convention).
    let (_, paragraphs) = crate::sbom::collect::closure_owners(&closure, Some(binary), &program_path)?;
    crate::sbom::statusd::add(&mut image.rootfs, &paragraphs)?;
    if nss.is_some() && image.rootfs.get("/etc/nsswitch.conf").is_none() {
        image.rootfs.add_file("/etc/nsswitch.conf", Source::Bytes(NSSWITCH_CONF.as_bytes().to_vec()), MODE_DATA)?;
    }
    if !closure.cache_dirs.is_empty() {
        // Scratch has no ld.so.cache: name the ld.so.conf directories that supplied libraries.
        let env = image.config.env.get_or_insert_with(Vec::new);
        env.retain(|v| !v.starts_with("LD_LIBRARY_PATH="));
        env.push(format!("LD_LIBRARY_PATH={}", closure.cache_dirs.join(":")));
    }
    Ok(Bundled { plan, closure, linkage, program_path, nss })
}

/// Prints what the closure carried: that the program is dynamic, how many libraries, what
/// is missing.
pub fn report_closure(b: &Bundled, rep: &Reporter) {
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

/// True when the program runs on glibc (its loader is ld-linux and libc.so.6 is carried).
pub fn is_glibc(c: &Closure) -> bool {
    c.loader == Loader::Glibc && c.files().any(|e| e.image_path.ends_with("/libc.so.6"))
}

/// The NSS modules `files dns` needs as separate libraries on this glibc: none since glibc
/// 2.34 (they are built into libc.so.6, which then exports `_nss_files_getpwnam_r` and
/// `_nss_dns_gethostbyname4_r`), libnss_files.so.2 / libnss_dns.so.2 before.
pub fn nss_modules_needed(c: &Closure) -> Vec<&'static str> {
    let Some(libc) = c.files().find(|e| e.image_path.ends_with("/libc.so.6")) else { return Vec::new() };
    let Ok(bytes) = std::fs::read(&libc.host_path) else { return Vec::new() };
    let Ok(elf) = Elf::parse(&bytes) else { return Vec::new() };
    let exports =
        |sym: &str| elf.dynsyms.iter().any(|s| s.st_shndx != 0 && elf.dynstrtab.get_at(s.st_name) == Some(sym));
    let mut out = Vec::new();
    if !exports("_nss_files_getpwnam_r") {
        out.push("libnss_files.so.2");
    }
    if !exports("_nss_dns_gethostbyname4_r") {
        out.push("libnss_dns.so.2");
    }
    out
}

/// Puts a closure's files and links into `rootfs` at their image paths; what is already there
/// (the user's --add) is never replaced.
pub fn add_closure(rootfs: &mut Rootfs, closure: &Closure) -> Result<()> {
    for e in &closure.entries {
        if rootfs.get(&e.image_path).is_some() {
            continue;
        }
        match e.kind {
            EntryKind::Symlink => {
                rootfs.add_symlink(&e.image_path, e.link_target.as_deref().unwrap_or_default())?;
            }
            // The kernel maps the interpreter only when it may execute it.
            EntryKind::Interp => {
                rootfs.add_file(&e.image_path, Source::Host(e.host_path.clone()), MODE_EXEC)?;
            }
            EntryKind::Needed | EntryKind::Dlopen => {
                rootfs.add_file(&e.image_path, Source::Host(e.host_path.clone()), MODE_DATA)?;
            }
        }
    }
    Ok(())
}
