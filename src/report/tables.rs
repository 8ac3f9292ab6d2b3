//! The tables of the decided checks (findings, inconclusive) shared by the Markdown and HTML
//! reports: built once from the summary, with each cell marked as untrusted text, code or a
//! number, and escaped by the renderer for its format. Each analysis's own tables are its
//! sections (`crate::analysis::present`).

use super::review::{Decision, verdict_name};
use super::{ci, num};
use crate::analysis::decision::Direction;
use crate::analysis::{Finding, Summary};

pub use crate::analysis::present::{Cell, Table};

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
                        d.family.correction.name(),
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
