//! `staticize deps list|build|path|clean`: thin adapter from the command line to `crate::deps`.

use serde::Serialize;

use crate::cli::{DepsAction, DepsArgs, DepsTargetArgs};
use crate::deps::{self, Toolset, cache, recipe};
use crate::error::Result;
use crate::platform::Arch;
use crate::report::{Reporter, human_size};

/// One recipe in `deps list --json`.
#[derive(Debug, Serialize)]
struct RecipeRow {
    name: String,
    summary: String,
    libs: Vec<String>,
    pkgconfig: Vec<String>,
    needs: Vec<String>,
    debian: Option<String>,
}

/// One cache entry in `deps list --json` and `deps build --json`.
#[derive(Debug, Serialize)]
struct EntryRow {
    name: String,
    version: String,
    arch: String,
    compiler: String,
    profile: String,
    path: String,
    size: u64,
    built: bool,
    /// The entry's key: every input, one `name=value` line each (the same on every machine).
    key: String,
    /// Its sha256: the cache registry's tag ends with it.
    key_digest: String,
}

/// Runs `staticize deps`.
pub fn run(args: DepsArgs, rep: &Reporter) -> Result<()> {
    match args.action {
        DepsAction::List => list(rep),
        DepsAction::Build(t) => build(&t, rep, false),
        DepsAction::Path(t) => build(&t, rep, true),
        DepsAction::Clean(c) => {
            let names = recipe::split_names(&c.names);
            let mut freed = 0;
            if names.is_empty() {
                freed += cache::clean(None)?;
            }
            for n in &names {
                recipe::find(n)?;
                freed += cache::clean(Some(n))?;
            }
            rep.line(format!("removed {} from {}", human_size(freed), cache::root().display()));
            rep.json(&serde_json::json!({ "freed": freed, "cache": cache::root() }));
            Ok(())
        }
    }
}

fn list(rep: &Reporter) -> Result<()> {
    let recipes: Vec<RecipeRow> = recipe::all()
        .into_iter()
        .map(|r| RecipeRow {
            name: r.name,
            summary: r.summary,
            libs: r.provides.libs,
            pkgconfig: r.provides.pkgconfig,
            needs: r.needs,
            debian: r.source.debian,
        })
        .collect();
    let cached: Vec<EntryRow> = cache::entries(None)
        .into_iter()
        .map(|c| EntryRow {
            name: c.manifest.name,
            version: c.manifest.version,
            arch: c.manifest.arch,
            compiler: c.manifest.compiler,
            profile: c.manifest.profile,
            path: c.dir.display().to_string(),
            size: c.size,
            built: false,
            key_digest: crate::digest::sha256_hex(c.manifest.key.as_bytes()),
            key: c.manifest.key,
        })
        .collect();
    rep.line("recipes:");
    for r in &recipes {
        let libs: Vec<String> = r.libs.iter().map(|l| format!("-l{l}")).collect();
        let needs = if r.needs.is_empty() { String::new() } else { format!(" (needs {})", r.needs.join(", ")) };
        // The -l list goes on its own line: ncurses and libevent provide seven and four.
        rep.line(format!("  {:<12} {}{needs}", r.name, r.summary));
        rep.line(format!("  {:<12} provides {}", "", libs.join(" ")));
    }
    rep.line(format!("cached in {}:", cache::root().display()));
    if cached.is_empty() {
        rep.line("  (nothing yet: staticize deps build NAME, or --dep NAME on a build)");
    }
    for c in &cached {
        // The entry's own directory ends the line: two builds of one version (other needs,
        // another recipe text) are two entries, and the line says which is which.
        let key = std::path::Path::new(&c.path).file_name().map(|n| n.to_string_lossy().into_owned());
        rep.line(format!(
            "  {:<12} {:<24} {:<8} {:<6} {:>9}  {}  [{}]",
            c.name,
            c.version,
            c.arch,
            c.profile,
            human_size(c.size),
            c.compiler,
            key.unwrap_or_default()
        ));
    }
    rep.json(&serde_json::json!({ "recipes": recipes, "cached": cached, "cache": cache::root() }));
    Ok(())
}

fn build(t: &DepsTargetArgs, rep: &Reporter, print_paths: bool) -> Result<()> {
    let names = recipe::split_names(&t.names);
    for n in &names {
        recipe::find(n)?;
    }
    let arch = match &t.platform {
        Some(p) => Arch::parse("--platform", p)?,
        None => Arch::host(),
    };
    let target = Toolset::new(&t.toolchain.preference(), arch)?;
    let remote = crate::commands::settings::cache_registry(&t.cache, std::path::Path::new("."))?;
    let entries = deps::ensure(&names, &target, &remote, rep)?;
    let rows: Vec<EntryRow> = entries
        .iter()
        .map(|e| EntryRow {
            name: e.recipe.name.clone(),
            version: e.manifest.version.clone(),
            arch: e.manifest.arch.clone(),
            compiler: e.manifest.compiler.clone(),
            profile: e.manifest.profile.clone(),
            path: e.prefix.display().to_string(),
            size: cache::du(&e.prefix),
            built: e.built,
            key: e.manifest.key.clone(),
            key_digest: e.key.clone(),
        })
        .collect();
    if print_paths {
        // The paths go to stdout for `$(staticize deps path …)`; what had to be built first is
        // said on stderr, even with --json, so a slow first call is never a silent one.
        let built: Vec<&str> = rows.iter().filter(|r| r.built).map(|r| r.name.as_str()).collect();
        if !built.is_empty() {
            eprintln!("deps path: built {} first (not in the cache {})", built.join(", "), cache::root().display());
        }
    }
    for r in rows.iter().filter(|r| !print_paths || names.contains(&r.name)) {
        if print_paths {
            rep.line(&r.path);
        } else {
            let how = if r.built { "built" } else { "cached" };
            rep.line(format!("{how} {} {} ({}, {}): {}", r.name, r.version, r.arch, human_size(r.size), r.path));
        }
    }
    rep.json(&rows);
    Ok(())
}
