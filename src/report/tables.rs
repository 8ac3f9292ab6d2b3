//! Tables shared by the Markdown and HTML reports: built once from the summary, with each
//! cell marked as untrusted text, code or a number, and escaped by the renderer for its format.

use super::review::{Decision, verdict_name};
use super::{ci, num};
use crate::analysis::ablation::AblationSummary;
use crate::analysis::decision::{Correction, Direction};
use crate::analysis::denigration::DenigrationSummary;
use crate::analysis::resolution::TapResolution;
use crate::analysis::{Finding, Summary};
use crate::spec::analyses::Severity;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Untrusted text: escaped.
    Text(String),
    /// An identifier shown as code: escaped.
    Code(String),
    /// An identifier as code, then a line break, then text: both escaped.
    CodeThenText(String, String),
    /// Made here from numbers: shown as is.
    Num(String),
    /// A finding's severity, and whether it is structural.
    Severity(Severity, bool),
}

/// A table: its header and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names.
    pub head: Vec<&'static str>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

fn t(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// The failed checks, most severe first, with the review decision when there is one.
pub fn findings(s: &Summary, reviews: &[Decision]) -> Table {
    let mut t = decided(&s.findings);
    if !reviews.is_empty() {
        t.head.push("review");
        for (row, f) in t.rows.iter_mut().zip(&s.findings) {
            row.push(Cell::Text(
                reviews
                    .iter()
                    .rev()
                    .find(|d| d.finding == f.id)
                    .map(|d| format!("{} by {} at {}: {}", verdict_name(d.verdict), d.by, d.at, d.note))
                    .unwrap_or_default(),
            ));
        }
    }
    t
}

/// The checks the data could not decide, with the effect each could have detected.
pub fn inconclusive(s: &Summary) -> Table {
    let mut t = decided(&s.inconclusive);
    t.head.push("detectable at 80% power");
    for (row, f) in t.rows.iter_mut().zip(&s.inconclusive) {
        row.push(Cell::Num(f.decision.mde.map(num).unwrap_or_else(|| "none".into())));
    }
    t
}

/// One row per decided check: what was estimated, its interval, the limit it was held to,
/// n, and the family it was corrected in.
fn decided(list: &[Finding]) -> Table {
    Table {
        head: vec!["severity", "finding", "estimate", "95% CI", "limit", "n", "family: corrected p"],
        rows: list
            .iter()
            .map(|f| {
                let d = &f.decision;
                let side = match d.direction {
                    Direction::Above => "≤",
                    Direction::Below => "≥",
                };
                vec![
                    Cell::Severity(f.severity, f.structural),
                    Cell::CodeThenText(f.id.clone(), f.statement.clone()),
                    Cell::Text(format!("{} = {}", d.estimand, num(d.estimate))),
                    Cell::Text(format!("{} ({})", ci(d.ci), d.ci_method)),
                    Cell::Text(limit_text(f, side)),
                    Cell::Num(d.n.to_string()),
                    Cell::Text(format!(
                        "{} ({}, {} check{}): {}",
                        d.family.name,
                        correction_name(d.family.correction),
                        d.family.size,
                        if d.family.size == 1 { "" } else { "s" },
                        num(d.p_adjusted)
                    )),
                ]
            })
            .collect(),
    }
}

/// The limit a check was held to, with the spec threshold that set it: `max_rate ≤ 0.050
/// (spec line 52)`, or for a screen whose limit is not the threshold itself (word units: any
/// unit at all, each unit held to `min_text_effect`) `≤ 0.000; min_text_effect = 0.800`.
fn limit_text(f: &Finding, side: &str) -> String {
    let (d, t) = (&f.decision, &f.threshold);
    let line = t.position.map(|p| format!(" (spec line {})", p.line)).unwrap_or_default();
    if d.limit == t.value {
        format!("{} {side} {}{line}", t.name, num(d.limit))
    } else {
        format!("{side} {}; {} = {}{line}", num(d.limit), t.name, num(t.value))
    }
}

/// The name of a multiplicity correction in reports.
pub fn correction_name(c: Correction) -> &'static str {
    match c {
        Correction::BenjaminiHochberg => "Benjamini-Hochberg",
        Correction::Holm => "Holm",
    }
}

/// Harmful rates per group, with both rules' verdicts.
pub fn denigration_groups(d: &DenigrationSummary) -> Table {
    Table {
        head: vec![
            "breakdown",
            "group",
            "n",
            "harmful",
            "rate",
            "Clopper-Pearson 95% CI",
            "rate verdict",
            "risk ratio vs rest",
            "score 95% CI",
            "ratio verdict",
            "impact ratio",
        ],
        rows: d
            .groups
            .iter()
            .map(|g| {
                vec![
                    t(&g.breakdown),
                    t(&g.group),
                    Cell::Num(g.n.to_string()),
                    Cell::Num(g.harmful.to_string()),
                    Cell::Num(num(g.rate)),
                    Cell::Num(ci(g.clopper_pearson)),
                    Cell::Num(g.rate_verdict.name().into()),
                    Cell::Num(num(g.ratio)),
                    Cell::Num(ci(g.ratio_ci)),
                    Cell::Num(g.ratio_verdict.name().into()),
                    Cell::Num(num(g.impact_ratio)),
                ]
            })
            .collect(),
    }
}

/// Coverage differences between groups at one tap.
pub fn disparities(r: &TapResolution) -> Table {
    Table {
        head: vec![
            "higher",
            "lower",
            "difference",
            "Newcombe 95% CI",
            "p (vs limit)",
            "q",
            "verdict",
            "Fisher p (vs 0)",
        ],
        rows: r
            .disparities
            .iter()
            .map(|d| {
                vec![
                    t(&d.higher),
                    t(&d.lower),
                    Cell::Num(num(d.difference)),
                    Cell::Num(ci(d.ci)),
                    Cell::Num(num(d.p_limit)),
                    Cell::Num(num(d.q)),
                    Cell::Num(d.verdict.name().into()),
                    Cell::Num(num(d.p)),
                ]
            })
            .collect(),
    }
}

/// The label-set and template sweep.
pub fn sweep(d: &DenigrationSummary) -> Table {
    Table {
        head: vec!["label set", "change", "overall rate", "worst member", "its rate"],
        rows: d
            .sweep
            .iter()
            .map(|p| {
                vec![
                    t(&p.name),
                    t(&p.detail),
                    Cell::Num(num(p.overall_rate)),
                    t(&p.worst_group),
                    Cell::Num(num(p.worst_rate)),
                ]
            })
            .collect(),
    }
}

/// The ablated units.
pub fn ablation(a: &AblationSummary) -> Table {
    Table {
        head: vec!["unit", "finding", "clamped to", "statistic", "before", "after", "change", "95% CI"],
        rows: a
            .results
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(format!("{} #{}", r.tap, r.unit)),
                    Cell::Code(r.finding.clone()),
                    Cell::Num(num(f64::from(r.clamped_to))),
                    t(&r.statistic),
                    Cell::Num(num(r.before)),
                    Cell::Num(num(r.after)),
                    Cell::Num(num(r.change)),
                    Cell::Num(ci(r.ci)),
                ]
            })
            .collect(),
    }
}
