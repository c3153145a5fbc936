//! Size budgets: `staticize.toml` (config), `staticize.lock` (baseline), measuring binaries
//! and images (measure), and the verdicts that turn measures into pass or fail.

pub mod baseline;
pub mod config;
pub mod measure;
pub mod run;
pub mod size;

use serde::Serialize;

use crate::report::{group_digits, human_size};
use baseline::Baseline;
use config::{Budget, Measured};
use measure::Measures;
use size::Growth;

/// One line of the verdict table: a measure of a budget's target against its limits.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// "size", "compressed", "uncompressed", "files" or "static".
    pub measure: String,
    /// The measured value (bytes, or a count for files; absent for static).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// The measure for people: "7,896 B", "static", "3 files".
    pub shown: String,
    /// The absolute limit, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// The growth allowed against the baseline ("+5%").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_growth: Option<Growth>,
    /// The value recorded in staticize.lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<u64>,
    /// The largest value the growth limit allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_limit: Option<u64>,
    /// Whether it passes.
    pub ok: bool,
    /// Why it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Check {
    /// The budget column: "≤ 8,192 B, +5%", "static", or "—".
    pub fn budget_text(&self) -> String {
        if self.measure == "static" {
            return "static".into();
        }
        let mut parts = Vec::new();
        if let Some(m) = self.max {
            parts.push(format!("≤ {}", self.format(m)));
        }
        if let Some(g) = self.max_growth {
            parts.push(g.to_string());
        }
        if parts.is_empty() { "—".into() } else { parts.join(", ") }
    }

    /// The change column: "+96 B (+1.2%)", "±0", "new" (no baseline), "—" (not a number).
    pub fn change_text(&self) -> String {
        match (self.value, self.baseline) {
            (None, _) => "—".into(),
            (Some(_), None) => "new".into(),
            (Some(v), Some(b)) => change(v, b, self.measure == "files"),
        }
    }

    fn format(&self, n: u64) -> String {
        if self.measure == "files" { group_digits(n) } else { human_size(n) }
    }
}

/// "+96 B (+1.2%)" / "-1 file" / "±0".
fn change(value: u64, base: u64, count: bool) -> String {
    if value == base {
        return "±0".into();
    }
    let (sign, diff) = if value > base { ('+', value - base) } else { ('-', base - value) };
    if count {
        return format!("{sign}{diff}");
    }
    let pct = if base == 0 { String::new() } else { format!(" ({sign}{:.1}%)", diff as f64 * 100.0 / base as f64) };
    format!("{sign}{}{pct}", human_size(diff))
}

/// The checks of one budget: absolute limits, linkage and, when `judge_growth`, growth
/// against `baseline`.
pub fn evaluate(budget: &Budget, m: &Measures, baseline: Option<&Baseline>, judge_growth: bool) -> Vec<Check> {
    let l = &budget.limits;
    let image = matches!(budget.target, Measured::Image(_));
    let growth = l.max_growth.filter(|_| judge_growth);
    let mut checks = Vec::new();
    let byte_measures = [
        ("size", Some(m.size), l.max, true),
        ("compressed", m.compressed, l.max_compressed, image),
        ("uncompressed", m.uncompressed, l.max_uncompressed, image),
    ];
    for (name, value, max, shown_always) in byte_measures {
        let Some(value) = value else { continue };
        if !(shown_always && name == "size") && max.is_none() && l.max_growth.is_none() {
            continue;
        }
        let base = baseline.and_then(|b| b.get(&budget.name, name));
        checks.push(judge(name, value, human_size(value), max, l.max_growth, growth, base));
    }
    if let (Some(files), Some(max)) = (m.files, l.max_files) {
        let base = baseline.and_then(|b| b.get(&budget.name, "files"));
        let shown = format!("{} file{}", group_digits(files), if files == 1 { "" } else { "s" });
        checks.push(judge("files", files, shown, Some(max), None, None, base));
    }
    if l.require_static {
        checks.push(Check {
            measure: "static".into(),
            value: None,
            shown: m.linkage.label.clone(),
            max: None,
            max_growth: None,
            baseline: None,
            growth_limit: None,
            ok: m.linkage.ok,
            reason: (!m.linkage.ok).then(|| format!("not static: {}", m.linkage.detail)),
        });
    }
    checks
}

fn judge(
    measure: &str,
    value: u64,
    shown: String,
    max: Option<u64>,
    max_growth: Option<Growth>,
    judged_growth: Option<Growth>,
    base: Option<u64>,
) -> Check {
    let fmt = |n: u64| if measure == "files" { group_digits(n) } else { human_size(n) };
    let mut reasons = Vec::new();
    if let Some(m) = max.filter(|&m| value > m) {
        reasons.push(format!("over the {} budget by {}", fmt(m), fmt(value - m)));
    }
    let growth_limit = judged_growth.zip(base).map(|(g, b)| g.limit(b));
    if let (Some(limit), Some(g), Some(b)) = (growth_limit, judged_growth, base) {
        if value > limit {
            reasons.push(format!("grew {} since the baseline, more than the {g} allowed", change(value, b, false)));
        }
    }
    Check {
        measure: measure.into(),
        value: Some(value),
        shown,
        max,
        max_growth,
        baseline: base,
        growth_limit,
        ok: reasons.is_empty(),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::config::Limits;
    use crate::gate::measure::StaticVerdict;
    use std::collections::BTreeMap;

    fn budget(limits: Limits) -> Budget {
        Budget { name: "app".into(), build: None, target: Measured::Binary("app".into()), limits }
    }

    fn measures(size: u64, ok: bool) -> Measures {
        Measures {
            size,
            compressed: None,
            uncompressed: None,
            files: None,
            linkage: StaticVerdict {
                ok,
                label: if ok { "static".into() } else { "dynamic".into() },
                detail: if ok { "static, amd64".into() } else { "dynamic (x)".into() },
            },
        }
    }

    #[test]
    fn max_and_static() {
        let b = budget(Limits { max: Some(8192), require_static: true, ..Limits::default() });
        let c = evaluate(&b, &measures(8192, true), None, true);
        assert!(c.iter().all(|c| c.ok), "{c:?}");
        assert_eq!(c[0].budget_text(), "≤ 8,192 B");
        assert_eq!(c[0].change_text(), "new");
        assert_eq!(c[1].shown, "static");
        let c = evaluate(&b, &measures(8193, false), None, true);
        assert_eq!(c[0].reason.as_deref(), Some("over the 8,192 B budget by 1 B"));
        assert_eq!(c[1].reason.as_deref(), Some("not static: dynamic (x)"));
    }

    #[test]
    fn growth_against_baseline() {
        let b = budget(Limits { max_growth: Some("5%".parse().unwrap()), ..Limits::default() });
        let mut base = Baseline::new();
        base.budget.insert("app".into(), BTreeMap::from([("size".into(), 1000)]));
        let c = &evaluate(&b, &measures(1050, true), Some(&base), true)[0];
        assert!(c.ok);
        assert_eq!(c.change_text(), "+50 B (+5.0%)");
        let c = &evaluate(&b, &measures(1051, true), Some(&base), true)[0];
        assert!(!c.ok);
        assert_eq!(c.growth_limit, Some(1050));
        assert!(c.reason.as_deref().unwrap().contains("grew +51 B (+5.1%)"), "{c:?}");
        // Updating the baseline judges absolute limits only.
        assert!(evaluate(&b, &measures(1051, true), Some(&base), false)[0].ok);
        assert_eq!(evaluate(&b, &measures(900, true), Some(&base), true)[0].change_text(), "-100 B (-10.0%)");
    }
}
