//! The Markdown report (GitHub-flavoured): the verdict and findings first, then each analysis
//! with tables that show CIs, then provenance. Untrusted strings are escaped so that a probe
//! name cannot break a table or inject HTML.

use std::fmt::Write as _;

use super::tables::{self, Cell, Table};
use super::{ReportMeta, ci, num, severity_name};
use crate::analysis::Summary;
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
    if let Some(t) = &s.typographic {
        let _ = writeln!(o, "## Typographic susceptibility: `{}`\n", md(&t.family));
        let _ =
            writeln!(o, "{} classes; zero-shot accuracy on the clean images {}.\n", t.classes, num(t.clean_accuracy));
        table(
            &mut o,
            &["composites", "n", "flip rate", "95% CI", "clean baseline", "excess", "95% CI", "broken"],
            t.flip_rates.iter().map(|f| {
                vec![
                    md(&f.subset),
                    f.n.to_string(),
                    num(f.rate),
                    ci(f.ci),
                    num(f.baseline_rate),
                    num(f.excess),
                    ci(f.excess_ci),
                    f.broken.to_string(),
                ]
            }),
        );
        if !t.unit_shifts.is_empty() {
            table(
                &mut o,
                &["tap", "words with a unit", "pairs", "mean shift (sd)", "95% CI"],
                t.unit_shifts
                    .iter()
                    .map(|u| vec![md(&u.tap), u.words.to_string(), u.n.to_string(), num(u.mean_shift), ci(u.ci)]),
            );
        }
    }
    for r in &s.resolution {
        for t in &r.taps {
            let _ = writeln!(o, "## Resolution: `{}` by {} at `{}`\n", md(&r.family), md(&r.level), md(&t.tap));
            table(
                &mut o,
                &[
                    "group",
                    "members",
                    "with a dedicated unit",
                    "coverage",
                    "95% CI",
                    "weighted",
                    "dedicated units",
                    "group-wide units",
                ],
                t.groups.iter().map(|g| {
                    vec![
                        md(&g.group),
                        g.members.to_string(),
                        g.covered.to_string(),
                        num(g.coverage),
                        ci(g.ci),
                        g.weighted_coverage.map(num).unwrap_or_default(),
                        g.dedicated_units.to_string(),
                        g.group_units.to_string(),
                    ]
                }),
            );
            shared(&mut o, &tables::disparities(t));
        }
    }
    for a in &s.associations {
        let _ = writeln!(
            o,
            "## Associations: `{}` × `{}` (controls `{}`)\n\nWEAT effect sizes, {} permutations, {} bootstrap resamples; the 20 largest.\n",
            md(&a.groups),
            md(&a.attributes),
            md(&a.controls),
            a.permutations,
            a.bootstrap
        );
        table(
            &mut o,
            &[
                "group",
                "attribute",
                "images",
                "effect size",
                "95% CI",
                "p (vs limit)",
                "q",
                "verdict",
                "permutation p (vs 0)",
            ],
            a.tests.iter().take(20).map(|t| {
                vec![
                    md(&t.group),
                    md(&t.attribute),
                    format!("{} vs {}", t.n_group, t.n_rest),
                    num(t.effect_size),
                    ci(t.ci),
                    num(t.p_limit),
                    num(t.q),
                    t.verdict.name().to_owned(),
                    num(t.p),
                ]
            }),
        );
    }
    if let Some(d) = &s.denigration {
        let _ = writeln!(
            o,
            "## Denigration: `{}`\n\n{} of {} images got a harmful label ({}, 95% CI {}). Harmful labels: {}.\n",
            md(&d.images),
            d.harmful,
            d.n,
            num(d.overall_rate),
            ci(d.overall_ci),
            md(&d.harmful_labels.join(", "))
        );
        shared(&mut o, &tables::denigration_groups(d));
        let _ = writeln!(o, "Sweep (overall rate from {} to {}):\n", num(d.sweep_spread[0]), num(d.sweep_spread[1]));
        shared(&mut o, &tables::sweep(d));
    }
    if let Some(m) = &s.multimodality {
        o.push_str("## Multimodality\n\n");
        table(
            &mut o,
            &["tap", "selection", "concepts", "units", "multimodal units", "median rho", "word units"],
            m.blocks.iter().map(|b| {
                vec![
                    md(&b.tap),
                    md(&b.selection),
                    b.concepts.to_string(),
                    b.units.to_string(),
                    b.multimodal_units.to_string(),
                    num(b.median_rho),
                    b.word_units.len().to_string(),
                ]
            }),
        );
    }
    if let Some(sel) = &s.selectivity {
        let _ = writeln!(
            o,
            "## Selectivity\n\n{} tests; selective = q ≤ {} and Cohen's d ≥ {}.\n",
            sel.tests,
            num(sel.fdr),
            num(sel.min_effect_size)
        );
        table(
            &mut o,
            &["tap", "selection", "modality", "units", "concepts", "stimuli", "selective units", "selective pairs"],
            sel.blocks.iter().map(|b| {
                vec![
                    md(&b.tap),
                    md(&b.selection),
                    md(&b.modality),
                    b.units.to_string(),
                    b.concepts.to_string(),
                    b.stimuli.to_string(),
                    b.selective_units.to_string(),
                    b.selective_pairs.to_string(),
                ]
            }),
        );
    }
    if let Some(a) = &s.ablation {
        o.push_str("## Ablation\n\n");
        shared(&mut o, &tables::ablation(a));
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
