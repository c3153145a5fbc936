//! `staticize pack`: a dynamic program → one static executable carrying its interpreter and
//! library closure (src/pack), and a scratch image holding only that file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::PackArgs;
use crate::closure::nss::{is_glibc, modules_needed as nss_modules_needed};
use crate::closure::{self, Closure, ResolveOptions};
use crate::commands::{bundle, settings};
use crate::elf::{self, LinkKind, Linkage};
use crate::error::{Error, Result};
use crate::image::options::{AddSpec, ImageSettings};
use crate::pack::{self, Packed};
use crate::pipeline::{self, Binaries, Dynamic, Job, Programs};
use crate::report::{Reporter, human_size};

/// The JSON result of `staticize pack`.
#[derive(Debug, Serialize)]
pub struct PackResult {
    /// The packed executable written.
    pub output: PathBuf,
    /// The input program's verdict.
    pub program: Linkage,
    /// What the packed file carries.
    pub packed: Packed,
    /// The closure that was resolved.
    pub closure: Closure,
    /// The image, when one was written.
    pub image: Option<crate::image::Written>,
}

/// Runs `staticize pack`: packs the program, then writes the one-file image through the
/// pipeline (the packed file is static, so the image is that file alone).
pub fn run(args: PackArgs, rep: &Reporter) -> Result<()> {
    let name = bundle::binary_name(&args.program)?;
    let out = args.output.clone().unwrap_or_else(|| PathBuf::from(&name));
    if same_file(&out, &args.program) {
        return Err(Error::usage(
            format!("the packed file would replace the program itself ({})", out.display()),
            "name another output with -o OUT",
        ));
    }
    crate::output::ensure_writable(&out)?;
    let mut image_settings = settings::build_settings(&args.image)?;
    let destinations = settings::build_destinations(&args.image, &out)?;
    let req = PackRequest { libs: args.lib.clone(), allow_missing: args.allow_missing, root: args.root.clone() };
    let (linkage, closure, packed) = pack_file(&args.program, &name, &req, &out, rep)?;
    let mut image = None;
    if !destinations.is_empty() {
        let staging = tempfile::tempdir().map_err(|e| Error::io("create a directory in", std::env::temp_dir(), e))?;
        if args.init {
            add_init(&mut image_settings, &name, &linkage.machine, staging.path())?;
        }
        let job = Job {
            created_by: format!("staticize pack {name}"),
            name,
            programs: Programs::Prebuilt(vec![(None, out.clone())]),
            settings: image_settings,
            binaries: Binaries::None,
            destinations,
            dynamic: Dynamic::Refuse,
        };
        let outcome = pipeline::run(job, rep)?;
        image = outcome.image.clone();
        outcome.finish()?;
    }
    rep.json(&PackResult { output: out, program: linkage, packed, closure, image });
    Ok(())
}

/// `--init`: the init goes into the image at [`pack::INIT_PATH`] and runs the program.
fn add_init(s: &mut ImageSettings, name: &str, arch: &str, staging: &Path) -> Result<()> {
    let init = pack::init(arch).ok_or_else(|| Error::usage(format!("no init for {arch}"), pack::missing_hint(arch)))?;
    let file = staging.join("init");
    std::fs::write(&file, init).map_err(|e| Error::io("write", &file, e))?;
    s.adds.push(AddSpec { src: file, dest: pack::INIT_PATH.into(), mode: Some(0o755) });
    let mut entry = vec![pack::INIT_PATH.to_string()];
    entry.extend(s.entrypoint.clone().unwrap_or_else(|| vec![String::new()]));
    if entry[1].is_empty() {
        entry[1] = s.program_path(name)?;
    }
    s.entrypoint = Some(entry);
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

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
    let linkage = elf::inspect(program)?;
    if !matches!(linkage.kind, LinkKind::Dynamic | LinkKind::Static | LinkKind::StaticPie) {
        return Err(Error::input(program, format!("is a {}, not a program", linkage.kind.label()), None));
    }
    pack::launcher(&linkage.machine).ok_or_else(|| {
        Error::usage(format!("cannot pack a {} program", linkage.machine), pack::missing_hint(&linkage.machine))
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
    rep.step("check", format!("{}: {}", program.display(), crate::elf::describe(&linkage)));
    let inputs = pack::inputs(program, name, &closure)?;
    let total: u64 = inputs.iter().filter_map(|i| std::fs::metadata(&i.host).ok()).map(|m| m.len()).sum();
    let spinner = crate::progress::Progress::start(rep, format!("compressing (zstd -{})", pack::level_for(total)));
    let packed = pack::write(&inputs, &closure, &linkage.machine, out)?;
    drop(spinner);
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
            "{} ({}, static: launcher {} + {} compressed from {}; {} libraries{})",
            out.display(),
            human_size(packed.launcher_bytes + packed.payload_bytes),
            human_size(packed.launcher_bytes),
            human_size(packed.payload_bytes),
            human_size(packed.unpacked_bytes),
            libs,
            closure.interp.as_deref().map(|i| format!(", loader {i}")).unwrap_or_default()
        ),
    );
    Ok((linkage, closure, packed))
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
