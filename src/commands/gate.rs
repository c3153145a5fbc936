//! `staticize gate`: arguments → [`crate::gate::run`] → the verdict table (or JSON) → exit 1
//! when a budget fails.

use crate::cli::GateArgs;
use crate::error::Result;
use crate::gate::run::{BudgetResult, measure_all};
use crate::report::{Reporter, paint_out};

/// Runs `gate`.
pub fn run(args: GateArgs, rep: &Reporter) -> Result<()> {
    let mut run = measure_all(&args.config, args.update_baseline, rep)?;
    if !rep.json {
        print_table(&run.report.budgets);
    }
    if args.update_baseline {
        run.record_baseline(rep)?;
    }
    rep.json(&run.report);
    let checks = run.verdict(args.update_baseline)?;
    rep.line(format!("{} budgets, {checks} checks: all pass", run.report.budgets.len()));
    Ok(())
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
