//! The gate run: build (when asked), measure every budget's file, judge it, optionally record
//! the baseline; a failed check is a verdict (exit 1).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::gate::baseline::{self, Baseline};
use crate::gate::config::{self, Budget, Measured};
use crate::gate::measure::{self, Measures};
use crate::gate::{Check, evaluate};
use crate::process;
use crate::report::Reporter;

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

/// A gate run after every budget was built and measured: the report, and the baseline it was
/// judged against.
pub struct GateRun {
    /// What was measured and judged.
    pub report: GateReport,
    /// The baseline read before the run.
    old: Option<Baseline>,
}

/// Reads the config at `config_path`, builds what budgets ask to build, measures every file and
/// judges it (growth too, unless `update_baseline`).
pub fn measure_all(config_path: &Path, update_baseline: bool, rep: &Reporter) -> Result<GateRun> {
    let config = config::load(config_path)?;
    let lock_path = baseline::path_for(&config.dir);
    let old = baseline::load(&lock_path)?;
    if old.is_none() && !update_baseline && config.budgets.iter().any(|b| b.limits.max_growth.is_some()) {
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
        let checks = evaluate(budget, &measures, old.as_ref(), !update_baseline);
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
    let report = GateReport {
        config: config.path.clone(),
        baseline: lock_path,
        baseline_found: old.is_some(),
        baseline_updated: false,
        ok,
        budgets: results,
    };
    Ok(GateRun { report, old })
}

impl GateRun {
    /// Writes the measures as the new baseline when every check passed (unchanged files are
    /// left alone).
    pub fn record_baseline(&mut self, rep: &Reporter) -> Result<()> {
        if !self.report.ok {
            return Ok(());
        }
        let lock_path = &self.report.baseline;
        let mut new = Baseline::new();
        for r in &self.report.budgets {
            new.budget.insert(r.name.clone(), r.measures.by_name());
        }
        if self.old.as_ref() == Some(&new) {
            rep.step("baseline", format!("{} is up to date", lock_path.display()));
        } else {
            baseline::save(&new, lock_path)?;
            rep.step("baseline", format!("wrote {} ({} budgets); commit it", lock_path.display(), new.budget.len()));
        }
        self.report.baseline_updated = true;
        Ok(())
    }

    /// The verdict: how many checks ran, or a failure (exit 1) saying how many failed and how
    /// to fix them.
    pub fn verdict(&self, update_baseline: bool) -> Result<usize> {
        let checks: Vec<&Check> = self.report.budgets.iter().flat_map(|r| &r.checks).collect();
        let failed = checks.iter().filter(|c| !c.ok).count();
        if failed > 0 {
            let not_updated = if update_baseline { "; the baseline was not updated" } else { "" };
            return Err(Error::Verdict {
                message: format!("{failed} of {} budget checks failed{not_updated}", checks.len()),
                help: Some(format!(
                    "make the program smaller, or raise the limit in {}; if the growth is intended, run `staticize gate --update-baseline` and commit {}",
                    self.report.config.display(),
                    baseline::LOCK_FILE
                )),
            });
        }
        Ok(checks.len())
    }
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
        Measured::Binary(_) => measure::binary(path),
        Measured::Image(_) => measure::image(path, budget.limits.require_static),
    }
}
