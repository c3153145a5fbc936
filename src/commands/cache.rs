//! `staticize cache info|push|pull|clean`: every cache staticize keeps, listed, shared through
//! the cache registry (deps, compressed layers, downloads) or emptied.

use std::path::Path;

use crate::caches::{self, Cache};
use crate::cli::{CacheAction, CacheArgs, CacheRegistryArgs, DepsTargetArgs};
use crate::deps::{self, Toolset, recipe};
use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::remote_cache::{KINDS, Settings};
use crate::report::{Reporter, human_size};

/// Lists, moves or cleans the caches.
pub fn run(args: CacheArgs, rep: &Reporter) -> Result<()> {
    match args.action {
        CacheAction::Info { cache } => info(&cache, rep)?,
        CacheAction::Push { names, cache } => push(&names, &cache, rep)?,
        CacheAction::Pull(t) => pull(&t, rep)?,
        CacheAction::Clean { names } => {
            let cleaned = caches::clean(&names)?;
            for c in &cleaned {
                rep.step("cleaned", format!("{}: {} in {} files removed", c.name, human_size(c.bytes), c.files));
            }
            rep.json(&cleaned);
        }
    }
    Ok(())
}

/// Every cache, with the cache registry's count of each kind when there is one (a registry
/// that cannot be listed is a warning: the local caches are still shown).
fn info(cache: &CacheRegistryArgs, rep: &Reporter) -> Result<()> {
    let settings = Settings::new(cache.cache_registry.clone(), cache.cache_registry_readonly, Path::new("."))?;
    let mut all = caches::all();
    match crate::remote_cache::census(&settings) {
        Ok(counts) => {
            for c in &mut all {
                c.registry_entries = counts.iter().find(|(k, _)| *k == c.name).map(|(_, n)| *n);
            }
        }
        Err(e) => rep.warn(format!("cache registry {}: {e}", settings.registry.as_deref().unwrap_or(""))),
    }
    for c in &all {
        rep.step("cache", line(c));
    }
    rep.json(&all);
    Ok(())
}

/// Pushes the named recipes' entries and the named kinds (every kind when none is named).
fn push(names: &[String], cache: &CacheRegistryArgs, rep: &Reporter) -> Result<()> {
    let remote = registry(cache, true)?;
    let names = recipe::split_names(names);
    let (kinds, recipes): (Vec<String>, Vec<String>) = names.into_iter().partition(|n| KINDS.contains(&n.as_str()));
    let recipes = known(&recipes)?;
    let every = kinds.is_empty() && recipes.is_empty();
    let has = |k: &str| every || kinds.iter().any(|n| n == k);
    let mut pushed = Vec::new();
    if has("deps") || !recipes.is_empty() {
        let only = if has("deps") { Vec::new() } else { recipes };
        pushed.extend(deps::push_cached(&only, &remote, rep)?);
    }
    if has("blobs") {
        pushed.extend(crate::remote_cache::blobs::push_stored(&remote, rep)?);
    }
    if has("downloads") {
        pushed.extend(crate::remote_cache::downloads::push_stored(&remote, rep)?);
    }
    let bytes: u64 = pushed.iter().map(|p| p.1).sum();
    rep.line(format!(
        "pushed {} entries ({}) to {}",
        pushed.len(),
        human_size(bytes),
        remote.registry.as_deref().unwrap_or("")
    ));
    rep.json(&serde_json::json!({ "pushed": pushed.iter().map(|p| &p.0).collect::<Vec<_>>(), "bytes": bytes }));
    Ok(())
}

fn pull(t: &DepsTargetArgs, rep: &Reporter) -> Result<()> {
    let remote = registry(&t.cache, false)?;
    let names = known(&t.names)?;
    let arch = match &t.platform {
        Some(p) => Arch::parse("--platform", p)?,
        None => Arch::host(),
    };
    let entries = deps::pull_only(&names, &Toolset::new(&t.toolchain.preference(), arch)?, &remote, rep)?;
    let paths: Vec<String> = entries.iter().map(|e| e.prefix.display().to_string()).collect();
    rep.line(format!("{} libraries in the local cache", entries.len()));
    rep.json(&serde_json::json!({ "entries": paths }));
    Ok(())
}

/// The recipe names, each checked.
fn known(names: &[String]) -> Result<Vec<String>> {
    let names = recipe::split_names(names);
    for n in &names {
        recipe::find(n)?;
    }
    Ok(names)
}

/// The cache registry the command line (or staticize.toml) names; moving entries needs one.
fn registry(a: &CacheRegistryArgs, push: bool) -> Result<Settings> {
    let s = Settings::new(a.cache_registry.clone(), a.cache_registry_readonly, Path::new("."))?;
    if s.registry.is_none() {
        return Err(Error::usage("no cache registry to move entries to or from", "give --cache-registry HOST/REPO"));
    }
    if push && s.readonly {
        return Err(Error::usage("the cache registry is read-only here", "drop --cache-registry-readonly to push"));
    }
    Ok(s)
}

fn line(c: &Cache) -> String {
    let dirs: Vec<String> = c.dirs.iter().map(|d| d.display().to_string()).collect();
    let place = if dirs.is_empty() { "none yet".to_string() } else { dirs.join(", ") };
    let remote = c.registry_entries.map(|n| format!("; {n} in the cache registry")).unwrap_or_default();
    format!("{}: {}, {} in {} files ({place}){remote}", c.name, c.what, human_size(c.bytes), c.files)
}
