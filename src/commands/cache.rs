//! `staticize cache info|clean`: every cache staticize keeps, listed or emptied.

use crate::caches::{self, Cache};
use crate::cli::{CacheAction, CacheArgs};
use crate::error::Result;
use crate::report::{Reporter, human_size};

/// Lists or cleans the caches.
pub fn run(args: CacheArgs, rep: &Reporter) -> Result<()> {
    match args.action {
        CacheAction::Info => {
            let all = caches::all();
            for c in &all {
                rep.step("cache", line(c));
            }
            rep.json(&all);
        }
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

fn line(c: &Cache) -> String {
    let dirs: Vec<String> = c.dirs.iter().map(|d| d.display().to_string()).collect();
    let place = if dirs.is_empty() { "none yet".to_string() } else { dirs.join(", ") };
    format!("{}: {}, {} in {} files ({place})", c.name, c.what, human_size(c.bytes), c.files)
}
