//! `staticize inspect IMAGE`: arguments → [`crate::inspect::report::inspect`] → print (human
//! lines, or the report as JSON).

use crate::cli::InspectArgs;
use crate::error::Result;
use crate::image::read::EntryKind;
use crate::inspect::report::{FileRow, ImageReport, InspectReport, inspect};
use crate::inspect::waste::{Hidden, HiddenBy};
use crate::report::{Reporter, group_digits, human_size, short_digest};

/// Runs `inspect`.
pub fn run(args: InspectArgs, rep: &Reporter) -> Result<()> {
    if args.sbom {
        return super::inspect_sbom::run(&args, rep);
    }
    let report = inspect(&args.image, args.files)?;
    if rep.json {
        rep.json(&report);
    } else {
        print_human(&report, args.files, rep);
    }
    report.verdict()
}

fn print_human(r: &InspectReport, files: bool, rep: &Reporter) {
    let n = r.images.len();
    rep.line(format!("{}: {}, {n} image{}", r.archive.display(), r.format.describe(), if n == 1 { "" } else { "s" }));
    for ix in &r.indexes {
        rep.line(format!("index {} {} ({})", short_digest(&ix.digest), ix.names.join(", "), ix.platforms.join(", ")));
    }
    for img in &r.images {
        rep.line("");
        let names = if img.names.is_empty() { "(no name)".to_string() } else { img.names.join(", ") };
        rep.line(format!("{names}  {}", img.platform));
        print_config(img, rep);
        print_history(img, rep);
        print_layers(img, files, rep);
        print_totals(img, rep);
    }
    for note in &r.notes {
        rep.step("note", note);
    }
    for p in &r.problems {
        rep.warn(format!("{}: {}", p.place, p.message));
    }
}

/// The image's ID, creation and run configuration, one `key value` line each.
fn print_config(img: &ImageReport, rep: &Reporter) {
    let kv = |k: &str, v: String| rep.line(format!("  {k:<12} {v}"));
    if let Some(d) = &img.manifest_digest {
        kv("manifest", d.clone());
    }
    kv("id", format!("{} (config)", img.config_digest));
    kv("created", img.created.clone().unwrap_or_else(|| "-".into()));
    if let Some(a) = &img.author {
        kv("author", a.clone());
    }
    let c = &img.config;
    kv("entrypoint", json_list(&c.entrypoint));
    kv("cmd", json_list(&c.cmd));
    for (i, e) in c.env.iter().flatten().enumerate() {
        kv(if i == 0 { "env" } else { "" }, e.clone());
    }
    kv("user", c.user.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| "- (root)".into()));
    kv("workdir", c.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| "- (/)".into()));
    let ports: Vec<&String> = c.exposed_ports.iter().flat_map(|p| p.keys()).collect();
    kv("ports", if ports.is_empty() { "-".into() } else { join(&ports) });
    match &c.labels {
        Some(l) if !l.is_empty() => {
            for (i, (k, v)) in l.iter().enumerate() {
                kv(if i == 0 { "labels" } else { "" }, format!("{k}={v}"));
            }
        }
        _ => kv("labels", "-".into()),
    }
    kv("stop signal", c.stop_signal.clone().unwrap_or_else(|| "-".into()));
}

/// The build steps, newest first like `docker history`.
fn print_history(img: &ImageReport, rep: &Reporter) {
    rep.line("");
    rep.line("  history (newest first, like docker history)");
    let w = img.history.iter().map(|h| h.created.as_deref().map_or(1, str::len)).max().unwrap_or(0).max(7);
    rep.line(format!("    {:<w$} {:>10}  {:<60} COMMENT", "CREATED", "SIZE", "CREATED BY"));
    for h in img.history.iter().rev() {
        let size = if h.empty_layer { "0 B".to_string() } else { human_size(h.size) };
        rep.line(format!(
            "    {:<w$} {:>10}  {:<60} {}",
            h.created.clone().unwrap_or_else(|| "-".into()),
            size,
            truncate(h.created_by.as_deref().unwrap_or("-"), 60),
            h.comment.clone().unwrap_or_default()
        ));
    }
}

/// One row per layer, with its files under `--files`.
fn print_layers(img: &ImageReport, files: bool, rep: &Reporter) {
    rep.line("");
    rep.line("  layers (bottom first)");
    rep.line(format!(
        "    {:>3}  {:<19}  {:>10}  {:>12}  {:>7}  {:>10}  {}",
        "#", "DIGEST", "STORED", "UNCOMPRESSED", "FILES", "WASTED", "COMPRESSION"
    ));
    for (i, l) in img.layers.iter().enumerate() {
        rep.line(format!(
            "    {:>3}  {:<19}  {:>10}  {:>12}  {:>7}  {:>10}  {}",
            i + 1,
            short_digest(&l.digest),
            human_size(l.size),
            human_size(l.uncompressed_size),
            group_digits(l.files),
            human_size(l.wasted_bytes),
            format!("{:?}", l.compression).to_lowercase()
        ));
        if files {
            for row in l.listing.iter().flatten() {
                rep.line(format!("          {}", file_line(row)));
            }
        }
    }
}

/// The sums and the biggest wasted files.
fn print_totals(img: &ImageReport, rep: &Reporter) {
    let t = &img.totals;
    rep.line("");
    rep.line(format!(
        "  total: {} layer{}, {} stored, {} uncompressed, {} file{} ({})",
        t.layers,
        plural(t.layers as u64),
        human_size(t.size),
        human_size(t.uncompressed_size),
        group_digits(t.files),
        plural(t.files),
        human_size(t.file_bytes)
    ));
    rep.line(format!(
        "  wasted: {}{} in {} file{} overwritten or deleted by later layers; {} visible",
        human_size(t.wasted_bytes),
        exact(t.wasted_bytes),
        group_digits(t.wasted_files),
        plural(t.wasted_files),
        human_size(t.visible_bytes)
    ));
    let mut biggest: Vec<&Hidden> = img.wasted.iter().collect();
    biggest.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path)));
    for w in biggest.iter().take(10) {
        rep.line(format!(
            "    {:>10}  /{}  (layer {}, {} in layer {})",
            human_size(w.size),
            w.path,
            w.layer + 1,
            how_word(w.how),
            w.by_layer + 1
        ));
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// " (110,000 B)" when human_size rounded the figure.
fn exact(n: u64) -> String {
    if n >= 10 * 1024 { format!(" ({} B)", group_digits(n)) } else { String::new() }
}

fn how_word(h: HiddenBy) -> &'static str {
    match h {
        HiddenBy::Overwritten => "overwritten",
        HiddenBy::Deleted => "deleted",
        HiddenBy::Opaque => "hidden by an opaque directory",
    }
}

fn file_line(row: &FileRow) -> String {
    let e = &row.entry;
    let shown = if e.path.is_empty() { "/".to_string() } else { format!("/{}", e.path) };
    let mut s = match e.kind {
        EntryKind::Whiteout => format!("{:<10} {:>12}  {shown}", "deleted", ""),
        EntryKind::Opaque => format!("{:<10} {:>12}  {shown}/ (opaque: lower contents hidden)", "opaque", ""),
        _ => format!("{} {:>12}  {shown}", mode_string(e.kind, e.mode), group_digits(e.size)),
    };
    if let Some(l) = &e.link {
        s.push_str(if e.kind == EntryKind::Hardlink { " link to /" } else { " -> " });
        s.push_str(l);
    }
    if let Some(h) = row.hidden {
        let word = if e.size > 0 { "wasted" } else { "hidden" };
        s.push_str(&format!("  [{word}: {}]", how_word(h)));
    }
    if let Some(p) = &e.problem {
        s.push_str(&format!("  [UNSAFE: {p}]"));
    }
    s
}

/// `ls -l` style mode: "drwxr-xr-x".
pub fn mode_string(kind: EntryKind, mode: u32) -> String {
    let t = match kind {
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Hardlink => 'h',
        EntryKind::Device => 'c',
        EntryKind::Fifo => 'p',
        EntryKind::File => '-',
        _ => '?',
    };
    let mut s = String::from(t);
    for (shift, special, lower, upper) in [(6, 0o4000, 's', 'S'), (3, 0o2000, 's', 'S'), (0, 0o1000, 't', 'T')] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        s.push(match (mode & special != 0, x) {
            (true, true) => lower,
            (true, false) => upper,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

fn json_list(v: &Option<Vec<String>>) -> String {
    match v {
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
        None => "-".into(),
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        let cut: String = one_line.chars().take(n - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_like_ls() {
        assert_eq!(mode_string(EntryKind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(EntryKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(EntryKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(EntryKind::File, 0o644), "-rw-r--r--");
    }
}
