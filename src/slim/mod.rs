//! `staticize slim`: a scratch image made from an existing image without running anything —
//! the programs its config runs (and `--program` ones) with their library closures resolved
//! inside the image's own files (its ld.so.conf, its library directories; never the host's),
//! the `--keep` paths, and what the config implies (passwd/group entries for its User,
//! nsswitch.conf for glibc programs). Env, cmd, workdir, ports, labels and user carry over.
//!
//! The image is unpacked by [`crate::image::unpack`] (bounded, no link followed while
//! writing); every path inside it is then resolved with [`Root`], which never leaves it.

pub(crate) mod carry;
pub(crate) mod etc;
pub(crate) mod programs;
pub(crate) mod sbom;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::closure::root::Root;
use crate::closure::{self, ResolveOptions};
use crate::elf::{self, LinkKind};
use crate::error::{Error, Result};
use crate::image::options::{AddSpec, ImageSettings, User};
use crate::image::read::Archive;
use crate::image::rootfs::{MODE_DATA, MODE_EXEC};
use crate::image::spec::{EmptyObject, Platform, RunConfig};
use crate::image::{ImagePlan, PlatformImage, Rootfs, Source, add, extras, unpack};
use crate::reference::ImageRef;
use programs::{Lookup, Needed};

/// Debian's PATH, for images whose config sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to make.
pub(crate) struct SlimRequest<'a> {
    /// The image archive (or OCI layout directory).
    pub image: &'a Path,
    /// `--program`: more programs, paths inside the image or names in its PATH.
    pub programs: &'a [String],
    /// `--keep`: files or trees inside the image, carried as they are.
    pub keep: &'a [String],
    /// `--lib`: libraries dlopen()ed that no note names.
    pub extra_libs: &'a [String],
    /// Write the image even when libraries are missing.
    pub allow_missing: bool,
    /// The image options (they override the image's config; `-t` names the result).
    pub settings: &'a ImageSettings,
    /// Layer compression.
    pub compression: crate::image::Compression,
    /// Collect what the SBOM lists (false with `--no-sbom`).
    pub sbom: bool,
    /// Seconds for timestamps.
    pub epoch: u64,
}

/// One program carried, for the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeptProgram {
    /// What it is and why it is there.
    #[serde(flatten)]
    pub needed: Needed,
    /// static, static-pie, dynamic, or script.
    pub linkage: String,
    /// Files of its closure (interpreter + libraries).
    pub closure_files: usize,
    /// Libraries not found inside the image.
    pub missing: Vec<String>,
}

/// A planned slim image.
pub(crate) struct Slimmed {
    /// The image to write (its files point into `unpacked`).
    pub plan: ImagePlan,
    /// The programs and scripts carried.
    pub carried: Vec<KeptProgram>,
    /// One line per --keep, --add and --with.
    pub lines: Vec<String>,
    /// Paths a program is likely to read that were not kept.
    pub hints: Vec<String>,
    /// Warnings (unpacking notes, users not found, missing optional libraries).
    pub notes: Vec<String>,
    /// Bytes the original image's layers hold (stored).
    pub original_bytes: u64,
    /// What the SBOM lists (the image's Debian packages of the carried files; their
    /// `status.d` records are in the plan); None with `--no-sbom`.
    pub sbom: Option<sbom::SlimSbom>,
    /// The unpacked image; dropped (removed) after the image is written.
    #[expect(dead_code, reason = "held, not read: the directory must live until the image is written")]
    pub unpacked: tempfile::TempDir,
}

/// Plans the slim image of `req.image`, unpacking it below `scratch`.
pub(crate) fn slim(req: &SlimRequest, scratch: &Path) -> Result<Slimmed> {
    let archive = Archive::open(req.image)?;
    let img = &archive.images[0];
    let original_bytes = img.layers.iter().map(|l| l.size).sum();
    let orig = img.parsed.config.clone();
    let platform = img.platform.clone();
    let default_name = img.names.first().cloned();
    drop(archive);
    let dir = crate::output::temp_dir_in(scratch, "staticize-slim")?;
    let unpacked = unpack::unpack(req.image, dir.path(), &unpack::UnpackLimits::every_file())?;
    let root = Root::new(dir.path());
    let config = merged_config(&orig, req.settings);
    let env = config.env.clone().unwrap_or_default();
    let look = Lookup {
        root: &root,
        path: env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH).to_string(),
        workdir: config.working_dir.clone().filter(|w| w.starts_with('/')).unwrap_or_else(|| "/".into()),
    };
    let words: Vec<String> = config.entrypoint.iter().chain(&config.cmd).flatten().cloned().collect();
    let mut needed = programs::from_command(&words, &look)?;
    for p in req.programs {
        needed.extend(programs::follow(p, "--program", &look)?);
    }
    let mut w = Work {
        root: &root,
        req,
        rootfs: Rootfs::new(),
        env: Vec::new(),
        glibc: false,
        carried: Vec::new(),
        lines: Vec::new(),
        notes: unpacked.notes.clone(),
        resolved: BTreeSet::new(),
        stdlibs: Vec::new(),
    };
    for n in needed {
        w.carry(n, &unpacked.library_path())?;
    }
    w.add_kept()?;
    w.add_named(&words, &look.workdir)?;
    w.add_stdlibs()?;
    w.add_closures(&unpacked.library_path())?;
    w.add_implied(config.user.as_deref(), &platform)?;
    let Work { mut rootfs, env: env_extra, carried, lines, notes, .. } = w;
    let elves: Vec<String> = carried.iter().filter(|c| c.linkage != "script").map(|c| c.needed.path.clone()).collect();
    let sbom = if req.sbom { Some(sbom::collect(&root, &mut rootfs, &elves)?) } else { None };
    let config = finish_config(config, env_extra, &mut rootfs)?;
    let names: Vec<&str> = carried.iter().map(|c| c.needed.path.as_str()).collect();
    let created_by = format!("staticize slim {}", names.join(" "));
    let mut hints = Vec::new();
    for c in &carried {
        for h in etc::likely_data(&root, &c.needed.path) {
            if rootfs.get(&h).is_none() && !hints.contains(&h) {
                hints.push(h);
            }
        }
    }
    let plan = ImagePlan {
        reference: reference(req, default_name.as_deref()),
        images: vec![PlatformImage { platform, rootfs, config, created_by, parts: Vec::new() }],
        compression: req.compression,
        layering: crate::image::layering::Layering::Single,
        epoch: req.epoch,
    };
    Ok(Slimmed { plan, carried, lines, hints, notes, original_bytes, sbom, unpacked: dir })
}

/// The check of slim's own output, as `staticize check` judges it: every ELF object inside
/// has its closure inside, and the entrypoint is there. A failed verdict (exit 1) names what is
/// missing; the image stays written, so it can be inspected.
pub(crate) fn verify(written: &Path) -> Result<()> {
    let c = crate::check::image::check_target(written, &unpack::UnpackLimits::every_file())?;
    if c.ok {
        return Ok(());
    }
    let mut what: Vec<String> = c.broken().map(|e| format!("{} lacks {}", e.path, e.missing.join(", "))).collect();
    what.extend(c.entrypoint_missing.clone());
    if c.executables.is_empty() {
        what.push("it holds no ELF executable".into());
    }
    Err(Error::Verdict {
        message: format!("the slim image {} fails staticize check: {}", written.display(), what.join("; ")),
        help: Some("keep what is missing with --keep PATH (its libraries come with it) or --lib PATH".into()),
    })
}

/// The image being filled, and what is said about it.
struct Work<'a> {
    root: &'a Root,
    req: &'a SlimRequest<'a>,
    rootfs: Rootfs,
    /// Environment the carried files need (LD_LIBRARY_PATH, SSL_CERT_FILE).
    env: Vec<(String, String)>,
    /// True once a glibc program is carried.
    glibc: bool,
    carried: Vec<KeptProgram>,
    lines: Vec<String>,
    notes: Vec<String>,
    /// Paths inside the image whose closure is in: the programs and their libraries.
    resolved: BTreeSet<String>,
    /// The standard libraries of the interpreters carried: (runtime, directories).
    stdlibs: Vec<(&'static str, Vec<String>)>,
}

fn reference(req: &SlimRequest, name: Option<&str>) -> ImageRef {
    if let Some(r) = &req.settings.tag {
        return r.clone();
    }
    match name.and_then(ImageRef::from_engine_name) {
        Some(r) => ImageRef { repository: r.repository, tag: "slim".into() },
        None => ImageRef { repository: "slim".into(), tag: "latest".into() },
    }
}

impl Work<'_> {
    /// Carries one program (its links, its file and its closure) or script.
    fn carry(&mut self, n: Needed, library_path: &[String]) -> Result<()> {
        let (root, req, rootfs) = (self.root, self.req, &mut self.rootfs);
        let walked = root
            .walk(&n.path)
            .ok_or_else(|| Error::input(root.host_path(&n.path), "is not a file in the image", None))?;
        add_links(rootfs, &walked.links)?;
        let host = root.host_path(&walked.real);
        if !n.elf {
            add_file(rootfs, &walked.real, &host, None)?;
            self.carried.push(KeptProgram {
                needed: n,
                linkage: "script".into(),
                closure_files: 0,
                missing: Vec::new(),
            });
            return Ok(());
        }
        let linkage = elf::inspect(&host)?;
        if !matches!(linkage.kind, LinkKind::Dynamic | LinkKind::Static | LinkKind::StaticPie) {
            return Err(Error::input(
                &host,
                format!("({}) is a {}, not a program", n.path, linkage.kind.label()),
                None,
            ));
        }
        add_file(rootfs, &walked.real, &host, Some(MODE_EXEC))?;
        let mut opts = ResolveOptions {
            root: root.dir().to_path_buf(),
            library_path: library_path.to_vec(),
            extra_libs: req.extra_libs.to_vec(),
            ..Default::default()
        };
        let mut c = closure::resolve_inside(&n.path, &opts)?;
        let glibc = closure::nss::is_glibc(&c);
        if glibc {
            let nss = closure::nss::modules_needed(&c);
            if !nss.is_empty() {
                opts.extra_libs.extend(nss.iter().map(|s| s.to_string()));
                c = closure::resolve_inside(&n.path, &opts)?;
            }
        }
        if !c.unresolved.is_empty() && !req.allow_missing {
            let names: Vec<String> = c.unresolved.iter().map(|u| u.to_string()).collect();
            return Err(Error::Verdict {
                message: format!("{}: not found inside the image: {}", n.path, names.join(", ")),
                help: Some("name the file with --lib PATH, or pass --allow-missing to write the image anyway".into()),
            });
        }
        crate::bundle::add_closure(rootfs, &c)?;
        self.resolved.insert(walked.real.clone());
        self.resolved.extend(c.files().map(|e| e.image_path.clone()));
        if let Some(found) = carry::stdlib_dirs(root, &walked.real, &n.path) {
            if !self.stdlibs.contains(&found) {
                self.stdlibs.push(found);
            }
        }
        if !c.cache_dirs.is_empty() {
            // Scratch has no ld.so.cache: name the ld.so.conf directories that supplied libraries.
            self.env.push(("LD_LIBRARY_PATH".into(), c.cache_dirs.join(":")));
        }
        self.glibc |= glibc;
        self.notes.extend(c.warnings.iter().cloned());
        self.notes
            .extend(c.optional_missing.iter().map(|u| format!("optional dlopen() library not in the image: {u}")));
        self.carried.push(KeptProgram {
            needed: n,
            linkage: linkage.kind.label().to_string(),
            closure_files: c.files().count(),
            missing: c.unresolved.iter().map(|u| u.to_string()).collect(),
        });
        Ok(())
    }
}

fn add_links(rootfs: &mut Rootfs, links: &[closure::root::Link]) -> Result<()> {
    for l in links {
        if rootfs.get(&l.path).is_none() {
            rootfs.add_symlink(&l.path, &l.target)?;
        }
    }
    Ok(())
}

fn add_file(rootfs: &mut Rootfs, inside: &str, host: &Path, mode: Option<u32>) -> Result<()> {
    if rootfs.get(inside).is_some() {
        return Ok(());
    }
    let mode = match mode {
        Some(m) => m,
        None => {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(host).map_err(|e| Error::io("read", host, e))?.permissions().mode();
            if m & 0o111 != 0 { MODE_EXEC } else { MODE_DATA }
        }
    };
    rootfs.add_file(inside, Source::Host(host.to_path_buf()), mode)?;
    Ok(())
}

impl Work<'_> {
    /// `--keep PATH`: the links on the way, then the file or tree (links inside it kept as links,
    /// never followed).
    fn add_kept(&mut self) -> Result<()> {
        let (root, rootfs) = (self.root, &mut self.rootfs);
        for k in self.req.keep {
            let inside = if k.starts_with('/') { k.clone() } else { format!("/{k}") };
            let walked = root.walk_to_any(&inside).ok_or_else(|| {
                Error::usage(
                    format!("--keep {k}: the image has no such file or directory"),
                    "give a path inside the image (see: staticize inspect IMAGE --files)",
                )
            })?;
            add_links(rootfs, &walked.links)?;
            let spec = AddSpec { src: root.host_path(&walked.real), dest: walked.real.clone(), mode: None };
            let n = add::add(rootfs, &spec)?;
            self.lines.push(format!("keep: {inside} ({} files, {} links, {} directories)", n.files, n.links, n.dirs));
        }
        Ok(())
    }

    /// The files and trees the command's arguments name (the script an interpreter runs).
    fn add_named(&mut self, words: &[String], workdir: &str) -> Result<()> {
        for path in carry::named_by_arguments(words, self.root, workdir) {
            if self.rootfs.get(&path).is_some() {
                continue;
            }
            let n = carry::add_path(&mut self.rootfs, self.root, &path)?;
            self.lines.push(format!("argument: {path} ({n} files), named by the image's command"));
        }
        Ok(())
    }

    /// The standard library of every interpreter carried, from the image's own files.
    fn add_stdlibs(&mut self) -> Result<()> {
        for (runtime, dirs) in std::mem::take(&mut self.stdlibs) {
            for d in dirs {
                let n = carry::add_path(&mut self.rootfs, self.root, &d)?;
                self.lines.push(format!("stdlib: the {runtime} standard library {d} ({n} files), from the image"));
            }
        }
        Ok(())
    }

    /// The closure of every ELF object kept, named or in a standard library (extension
    /// modules), resolved inside the image; missing libraries fail unless allowed.
    fn add_closures(&mut self, library_path: &[String]) -> Result<()> {
        let opts = ResolveOptions {
            root: self.root.dir().to_path_buf(),
            library_path: library_path.to_vec(),
            extra_libs: self.req.extra_libs.to_vec(),
            ..Default::default()
        };
        let added = carry::closures(&mut self.rootfs, self.root, &self.resolved, &opts)?;
        if !added.unresolved.is_empty() {
            if !self.req.allow_missing {
                return Err(carry::missing_error(&added.unresolved));
            }
            self.notes.extend(added.unresolved.iter().map(|u| format!("{u} is not in the image (--allow-missing)")));
        }
        if added.files > 0 {
            self.lines.push(format!(
                "closure: {} more ELF objects kept; carried {} more libraries from the image",
                added.objects, added.files
            ));
        }
        Ok(())
    }

    /// passwd/group for the User, nsswitch.conf for glibc, `--add` and `--with` extras (CA
    /// certificates from the image's own bundle when it has one).
    fn add_implied(&mut self, user: Option<&str>, platform: &Platform) -> Result<()> {
        let (root, s, rootfs) = (self.root, self.req.settings, &mut self.rootfs);
        let mut extras_wanted = s.extras.clone();
        if extras_wanted.certs == Some(None) {
            if let Some(w) = root.walk(extras::CERTS_PATH) {
                extras_wanted.certs = Some(Some(root.host_path(&w.real)));
            }
        }
        let (extra_env, lines) = extras::add_extras(rootfs, &extras_wanted, platform)?;
        self.env.extend(extra_env);
        self.lines.extend(lines);
        for a in &s.adds {
            let n = add::add(rootfs, a)?;
            self.lines.push(format!("add: {} → {} ({} files)", a.src.display(), a.dest, n.files));
        }
        let user = user.filter(|u| !u.is_empty() && *u != "root" && *u != "0" && !u.starts_with("0:"));
        if let (Some(u), false) = (user, s.extras.passwd) {
            match etc::users(root, u) {
                Some((p, g)) => {
                    rootfs.add_file("/etc/passwd", Source::Bytes(p.into_bytes()), MODE_DATA)?;
                    rootfs.add_file("/etc/group", Source::Bytes(g.into_bytes()), MODE_DATA)?;
                    self.lines
                        .push(format!("user: /etc/passwd and /etc/group entries for root and {u}, from the image"));
                }
                None if u.split(':').all(|p| p.bytes().all(|b| b.is_ascii_digit())) => {}
                None => self
                    .notes
                    .push(format!("the image's /etc/passwd has no user '{u}'; the container will not start as it")),
            }
        }
        if self.glibc && rootfs.get("/etc/nsswitch.conf").is_none() {
            let text =
                etc::read_small(root, "/etc/nsswitch.conf").unwrap_or_else(|| closure::nss::NSSWITCH_CONF.to_string());
            rootfs.add_file("/etc/nsswitch.conf", Source::Bytes(text.into_bytes()), MODE_DATA)?;
            self.lines.push("nss: /etc/nsswitch.conf (the image's own) for glibc's user and host lookups".into());
        }
        Ok(())
    }
}

/// The image's config with every option given on the command line laid over it.
fn merged_config(orig: &RunConfig, s: &ImageSettings) -> RunConfig {
    let mut c = orig.clone();
    if let Some(e) = &s.entrypoint {
        c.entrypoint = (!e.is_empty()).then(|| e.clone());
    }
    if let Some(cmd) = &s.cmd {
        c.cmd = Some(cmd.clone());
    }
    let mut env = c.env.take().unwrap_or_default();
    for (k, v) in &s.env {
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    c.env = (!env.is_empty()).then_some(env);
    if let Some(w) = &s.workdir {
        c.working_dir = Some(w.clone());
    }
    if let Some(u) = &s.user {
        c.user = Some(match u {
            User::Name(n) => n.clone(),
            other => other.as_str().to_string(),
        });
    }
    let mut ports = c.exposed_ports.take().unwrap_or_default();
    ports.extend(s.exposed.iter().map(|p| (p.clone(), EmptyObject {})));
    c.exposed_ports = (!ports.is_empty()).then_some(ports);
    let mut labels: BTreeMap<String, String> = c.labels.take().unwrap_or_default();
    labels.extend(s.labels.clone());
    c.labels = (!labels.is_empty()).then_some(labels);
    if let Some(sig) = &s.stop_signal {
        c.stop_signal = Some(sig.clone());
    }
    c
}

/// Adds the environment the carried files need and the working directory.
fn finish_config(mut c: RunConfig, extra: Vec<(String, String)>, rootfs: &mut Rootfs) -> Result<RunConfig> {
    let mut env = c.env.take().unwrap_or_default();
    for (k, v) in extra {
        env.retain(|e| !e.starts_with(&format!("{k}=")));
        env.push(format!("{k}={v}"));
    }
    c.env = (!env.is_empty()).then_some(env);
    if let Some(w) = c.working_dir.as_deref().filter(|w| w.starts_with('/') && *w != "/") {
        if rootfs.get(w).is_none() {
            rootfs.add_dir(w, MODE_EXEC)?;
        }
    }
    Ok(c)
}
