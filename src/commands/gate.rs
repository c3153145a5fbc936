//! `staticize gate`: build (when asked), measure every budget's file, print the verdict table,
//! optionally record the baseline; exit 1 when a budget fails.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::cli::GateArgs;
use crate::error::{Error, Result};
use crate::gate::baseline::{self, Baseline};
use crate::gate::config::{self, Budget, Target};
use crate::gate::measure::{self, Measures};
use crate::gate::{Check, evaluate};
use crate::process;
use crate::report::{Reporter, paint_out};

/// The JSON result of `staticize gate`.
#[derive(Debug, Serialize)]
pub struct GateReport {
    /// The config read.
    pub config: PathBuf,
    /// The baseline file (read, and written with --update-baseline).
    pub baseline: PathBuf,
    /// Whether a baseline existed before this run.
    pub baseline_found: bool,
    /// Whether this run wrote the baseline.
    pub baseline_updated: bool,
    /// True when every check passes.
    pub ok: bool,
    /// One entry per budget, in config order.
    pub budgets: Vec<BudgetResult>,
}

/// One budget's measures and checks.
#[derive(Debug, Serialize)]
pub struct BudgetResult {
    /// The budget's name.
    pub name: String,
    /// "binary" or "image".
    pub kind: &'static str,
    /// The file measured.
    pub path: PathBuf,
    /// Whether its build command ran.
    pub built: bool,
    /// What was measured.
    pub measures: Measures,
    /// The verdicts.
    pub checks: Vec<Check>,
    /// True when every check passes.
    pub ok: bool,
}

/// Runs `gate`.
pub fn run(args: GateArgs, rep: &Reporter) -> Result<()> {
    let config = config::load(&args.config)?;
    let lock_path = baseline::path_for(&config.dir);
    let old = baseline::load(&lock_path)?;
    if old.is_none() && !args.update_baseline && config.budgets.iter().any(|b| b.limits.max_growth.is_some()) {
        rep.warn(format!(
            "no {} yet: max-growth is not judged; record one with `staticize gate --update-baseline`",
            lock_path.display()
        ));
    }
    let mut results = Vec::new();
    for budget in &config.budgets {
        let path = within(&config.dir, budget.target.path());
        if let Some(words) = &budget.build {
            build(budget, words, &config.dir, &path, rep)?;
        }
        let measures = measure_target(budget, &path)?;
        let checks = evaluate(budget, &measures, old.as_ref(), !args.update_baseline);
        let ok = checks.iter().all(|c| c.ok);
        results.push(BudgetResult {
            name: budget.name.clone(),
            kind: budget.target.kind(),
            path,
            built: budget.build.is_some(),
            measures,
            checks,
            ok,
        });
    }
    let ok = results.iter().all(|r| r.ok);
    let mut report = GateReport {
        config: config.path.clone(),
        baseline: lock_path.clone(),
        baseline_found: old.is_some(),
        baseline_updated: false,
        ok,
        budgets: results,
    };
    if !rep.json {
        print_table(&report.budgets);
    }
    if args.update_baseline && ok {
        let mut new = Baseline::new();
        for r in &report.budgets {
            new.budget.insert(r.name.clone(), r.measures.by_name());
        }
        if old.as_ref() == Some(&new) {
            rep.step("baseline", format!("{} is up to date", lock_path.display()));
        } else {
            baseline::save(&new, &lock_path)?;
            rep.step("baseline", format!("wrote {} ({} budgets); commit it", lock_path.display(), new.budget.len()));
        }
        report.baseline_updated = true;
    }
    rep.json(&report);
    let checks: Vec<&Check> = report.budgets.iter().flat_map(|r| &r.checks).collect();
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        let not_updated = if args.update_baseline { "; the baseline was not updated" } else { "" };
        return Err(Error::Verdict {
            message: format!("{failed} of {} budget checks failed{not_updated}", checks.len()),
            help: Some(format!(
                "make the program smaller, or raise the limit in {}; if the growth is intended, run `staticize gate --update-baseline` and commit {}",
                config.path.display(),
                baseline::LOCK_FILE
            )),
        });
    }
    rep.line(format!("{} budgets, {} checks: all pass", report.budgets.len(), checks.len()));
    Ok(())
}

/// `dir/rel`, without a leading "./" when the config sits in the current directory.
fn within(dir: &Path, rel: &Path) -> PathBuf {
    if dir == Path::new(".") { rel.to_path_buf() } else { dir.join(rel) }
}

/// Runs a budget's build: this same staticize executable, in the config's directory.
fn build(budget: &Budget, words: &[String], dir: &Path, target: &Path, rep: &Reporter) -> Result<()> {
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create the output directory", parent, e))?;
    }
    let exe =
        std::env::current_exe().map_err(|e| Error::io("find the running staticize executable", "/proc/self/exe", e))?;
    let cmd = process::Command::new(exe).args(words).dir(dir);
    let shown = format!("staticize {}", words.iter().map(|w| process::shell_quote(w)).collect::<Vec<_>>().join(" "));
    let started = Instant::now();
    cmd.run(&format!("build budget '{}' ({shown})", budget.name))?;
    rep.step("build", format!("{}: {shown} ({:.1}s)", budget.name, started.elapsed().as_secs_f64()));
    Ok(())
}

fn measure_target(budget: &Budget, path: &Path) -> Result<Measures> {
    if !path.exists() {
        let help = match &budget.build {
            Some(_) => {
                format!("the build command did not write it: make its output match {} = \"…\"", budget.target.kind())
            }
            None => "build it first, or add build = \"…\" to the budget so the gate builds it".to_string(),
        };
        return Err(Error::input(
            path,
            format!("budget '{}': the {} to measure does not exist", budget.name, budget.target.kind()),
            Some(help),
        ));
    }
    match budget.target {
        Target::Binary(_) => measure::binary(path),
        Target::Image(_) => measure::image(path, budget.limits.require_static),
    }
}

/// The verdict table on stdout: target, measure, size, budget, change, verdict.
fn print_table(budgets: &[BudgetResult]) {
    let header = ["target", "measure", "size", "budget", "change", "verdict"].map(String::from);
    let mut rows: Vec<([String; 6], bool)> = Vec::new();
    for b in budgets {
        for c in &b.checks {
            let verdict = match &c.reason {
                None => "ok".to_string(),
                Some(r) => format!("FAIL: {r}"),
            };
            rows.push((
                [b.name.clone(), c.measure.clone(), c.shown.clone(), c.budget_text(), c.change_text(), verdict],
                c.ok,
            ));
        }
    }
    let mut width = [0usize; 6];
    for cells in std::iter::once(&header).chain(rows.iter().map(|(c, _)| c)) {
        for (w, cell) in width.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| -> String {
        let padded: Vec<String> =
            cells[..5].iter().zip(width).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join("  ")
    };
    println!("{}  {}", paint_out(&line(&header), "1"), paint_out(&header[5], "1"));
    for (cells, ok) in &rows {
        let verdict = if *ok { paint_out(&cells[5], "32") } else { paint_out(&cells[5], "1;31") };
        println!("{}  {verdict}", line(cells));
    }
}
