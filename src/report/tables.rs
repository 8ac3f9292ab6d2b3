//! Tables shared by the Markdown and HTML reports: built once from the summary, with each
//! cell marked as untrusted text, code or a number, and escaped by the renderer for its format.

use super::review::{Decision, verdict_name};
use super::{ci, num};
use crate::analysis::Summary;
use crate::analysis::ablation::AblationSummary;
use crate::analysis::denigration::DenigrationSummary;
use crate::analysis::resolution::TapResolution;
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

/// The findings, most severe first, with the review decision when there is one.
pub fn findings(s: &Summary, reviews: &[Decision]) -> Table {
    let mut t = Table {
        head: vec!["severity", "finding", "statistic", "95% CI", "q", "threshold"],
        rows: s
            .findings
            .iter()
            .map(|f| {
                vec![
                    Cell::Severity(f.severity, f.structural),
                    Cell::CodeThenText(f.id.clone(), f.statement.clone()),
                    Cell::Text(format!("{} = {}", f.statistic.name, num(f.statistic.value))),
                    Cell::Num(f.statistic.ci.map(ci).unwrap_or_default()),
                    Cell::Num(f.statistic.q.map(num).unwrap_or_default()),
                    Cell::Text(format!(
                        "{} = {}{}",
                        f.threshold.name,
                        num(f.threshold.value),
                        f.threshold.position.map(|p| format!(" (spec line {})", p.line)).unwrap_or_default()
                    )),
                ]
            })
            .collect(),
    };
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

/// Coverage differences between groups at one tap.
pub fn disparities(r: &TapResolution) -> Table {
    Table {
        head: vec!["higher", "lower", "difference", "95% CI", "Fisher p", "q"],
        rows: r
            .disparities
            .iter()
            .map(|d| {
                vec![
                    t(&d.higher),
                    t(&d.lower),
                    Cell::Num(num(d.difference)),
                    Cell::Num(ci(d.ci)),
                    Cell::Num(num(d.p)),
                    Cell::Num(num(d.q)),
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
