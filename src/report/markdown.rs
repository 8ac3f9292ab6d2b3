//! The Markdown report (GitHub-flavoured): the verdict and findings first, then each analysis's
//! sections (its text and tables with CIs, as the analysis presents them; figures are the HTML
//! report's), then provenance. Untrusted strings are escaped so that a probe
//! name cannot break a table or inject HTML.

use std::fmt::Write as _;

use super::tables::{self, Cell, Table};
use super::{ReportMeta, severity_name};
use crate::analysis::Summary;
use crate::analysis::present::{Part, Span};
use crate::spec::analyses::Severity;

/// Escapes text for a Markdown table cell or paragraph.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn shared(out: &mut String, t: &Table) {
    let cell = |c: &Cell| match c {
        Cell::Text(s) => md(s),
        Cell::Code(s) => format!("`{}`", md(s)),
        Cell::CodeThenText(a, b) => format!("`{}`<br>{}", md(a), md(b)),
        Cell::Num(s) => s.clone(),
        Cell::Severity(sev, structural) => {
            format!("{}{}", severity_name(*sev), if *structural { " (structural)" } else { "" })
        }
    };
    table(out, &t.head, t.rows.iter().map(|r| r.iter().map(cell).collect()));
}

/// Running text: text escaped, code in backticks, numbers as they are.
fn spans(list: &[Span]) -> String {
    list.iter()
        .map(|s| match s {
            Span::Text(t) => md(t),
            Span::Code(c) => format!("`{}`", md(c)),
            Span::Num(n) => n.clone(),
        })
        .collect()
}

fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}|", head.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

/// Renders the report.
pub fn render(s: &Summary, meta: &ReportMeta) -> String {
    let mut o = String::new();
    let count = |sev: Severity| s.findings.iter().filter(|f| f.severity == sev).count();
    let _ = writeln!(o, "# clip-audit report: `{}`\n", md(&s.audit));
    if let Some(d) = &s.description {
        let _ = writeln!(o, "{}\n", md(d));
    }
    let _ = writeln!(
        o,
        "**{} findings**: {} error, {} warning, {} info; **{} inconclusive** (too few observations, or an interval across the limit){}. Model `{}`, {} stimuli analysed ({} missing, {} skipped).\n",
        s.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
        s.inconclusive.len(),
        s.null_baseline.as_ref().map(super::null_clause).unwrap_or_default(),
        md(&s.model),
        s.stimuli.analysed,
        s.stimuli.missing,
        s.stimuli.skipped
    );
    if !s.findings.is_empty() {
        o.push_str("## Findings\n\n");
        shared(&mut o, &tables::findings(s, &meta.reviews));
    }
    if !s.inconclusive.is_empty() {
        o.push_str(
            "## Inconclusive\n\nChecks the data could not decide: more observations, or a larger effect, would be needed.\n\n",
        );
        shared(&mut o, &tables::inconclusive(s));
    }
    for section in s.results().iter().flat_map(|r| r.sections()) {
        let _ = writeln!(o, "## {}\n", spans(&section.title));
        for part in &section.blocks {
            match part {
                Part::Text(text) => {
                    let _ = writeln!(o, "{}\n", spans(text));
                }
                Part::Table(t) => shared(&mut o, t),
                // Figures are drawn by the HTML report.
                Part::Chart(..) => {}
            }
        }
    }
    if !s.notes.is_empty() {
        o.push_str("## Notes\n\n");
        for n in &s.notes {
            let _ = writeln!(o, "- {}", md(n));
        }
        o.push('\n');
    }
    o.push_str("## Provenance\n\n");
    let _ = writeln!(o, "- spec: `{}`", md(&meta.spec));
    let _ = writeln!(o, "- model: `{}`", md(&s.model));
    let _ = writeln!(o, "- runs: {}", s.runs.iter().map(|r| format!("`{}`", md(r))).collect::<Vec<_>>().join(", "));
    let _ = writeln!(o, "- seed: {}", s.seed);
    let _ = writeln!(o, "- made by {} at {}", md(&meta.tool), md(&meta.generated_at));
    o
}
