//! The model-card section: an audit's result in the Hugging Face model-card layout ("Bias,
//! Risks, and Limitations", evaluation results with CIs, method, provenance) and model-index
//! YAML for the card's front matter. `--into` replaces only what lies between clip-audit's
//! markers (adding them the first time), so a rerun is idempotent and the rest of the card
//! stays byte for byte.

use std::fmt::Write as _;

use super::ReportMeta;
use super::markdown::md;
use crate::analysis::Summary;
use crate::spec::analyses::Severity;

/// Marker lines around the Markdown section.
pub const START: &str = "<!-- clip-audit:model-card:start -->";
/// End marker of the Markdown section.
pub const END: &str = "<!-- clip-audit:model-card:end -->";
/// Marker lines around the model-index entry inside the YAML front matter.
pub const YAML_START: &str = "# clip-audit:model-index:start";
/// End marker of the model-index entry.
pub const YAML_END: &str = "# clip-audit:model-index:end";

fn f(x: f64) -> String {
    super::num(x)
}

/// The Markdown section (without markers) from a report's summary and metadata (a summary.json
/// has none), read back by [`super::read::load_summary`], and the review decisions beside it.
pub fn section(sum: &Summary, meta: Option<&ReportMeta>, reviews: &[super::review::Decision]) -> String {
    let findings = &sum.findings;
    let mut o = String::new();
    let _ = writeln!(o, "## Bias, Risks, and Limitations\n");
    let _ = writeln!(
        o,
        "Audited with clip-audit (audit `{}`, {} stimuli): {} findings, {} at error level{}.\n",
        md(&sum.audit),
        sum.stimuli.analysed,
        findings.len(),
        findings.iter().filter(|x| x.severity == Severity::Error).count(),
        sum.null_baseline
            .as_ref()
            .map(|n| format!(
                "; {} random-weight copies of the same architecture raise a median of {}",
                n.copies.len().max(1),
                n.findings
            ))
            .unwrap_or_default()
    );
    for x in findings.iter().filter(|x| !x.structural) {
        let review = reviews
            .iter()
            .rev()
            .find(|d| d.finding == x.id)
            .map(|d| {
                format!(
                    " *Review: {} by {} ({}): {}*",
                    super::review::verdict_name(d.verdict),
                    md(&d.by),
                    md(&d.at),
                    md(&d.note)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "- **{}** ({}): {}{review}",
            md(&x.analysis),
            super::severity_name(x.severity),
            md(&x.statement)
        );
    }
    let structural = findings.iter().filter(|x| x.structural).count();
    if structural > 0 {
        let _ = writeln!(
            o,
            "\n{structural} further findings are not distinguishable from random-weight copies of the model (structural)."
        );
    }
    let _ = writeln!(o, "\n## Evaluation\n\n### Results\n");
    o.push_str(&results_table(findings));
    let _ = writeln!(
        o,
        "\n### Method\n\nclip-audit reads the model's zero-shot behaviour and the activations of its units on the audit's \
         probe stimuli (prompts, rendered names, images, typographic composites). Each check is decided against the \
         audit's limit: rates on the Clopper-Pearson interval and the exact binomial test, risk and impact ratios on \
         Miettinen-Nurminen score intervals and Farrington-Manning tests, differences on Newcombe intervals, \
         associations (image WEAT) and typographic flips on Welch or cluster-robust intervals with clusters \
         (members, identities, base images) as the unit. Each family of checks is corrected (Benjamini-Hochberg); a \
         finding needs its corrected test to reject, a check too small to decide is reported as inconclusive, and \
         findings no stronger than in random-weight copies of the model are marked structural.\n"
    );
    let _ = writeln!(
        o,
        "### Provenance\n\n- audit spec: `{}`\n- model: `{}`\n- seed: {}\n- report: {} at {}",
        md(meta.map_or(&sum.spec, |m| &m.spec)),
        md(&sum.model),
        sum.seed,
        md(meta.map_or("clip-audit", |m| m.tool.as_str())),
        md(meta.map_or("(no report metadata: a summary.json)", |m| m.generated_at.as_str()))
    );
    o
}

/// The results table: each finding's statistic, CI and limit, with its n and its family's
/// corrected p.
fn results_table(findings: &[crate::analysis::Finding]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "| finding | statistic | value | 95% CI | limit | n | family: corrected p |\n|---|---|---|---|---|---|---|"
    );
    for x in findings {
        let st = &x.statistic;
        let ci = st.ci.map(|c| format!("[{}, {}]", f(c[0]), f(c[1]))).unwrap_or_default();
        let d = &x.decision;
        // Reports of format 1 predate the decision layer: no n or family to show.
        let (n, family) = if d.family.size > 0 {
            let checks = if d.family.size == 1 { "check" } else { "checks" };
            (d.n.to_string(), format!("{} ({} {checks}): {}", md(&d.family.name), d.family.size, f(d.p_adjusted)))
        } else {
            ("–".to_owned(), "–".to_owned())
        };
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} | {n} | {family} |",
            md(&x.id),
            md(&st.name),
            f(st.value),
            ci,
            f(x.threshold.value)
        );
    }
    o
}

fn yaml_str(x: &str) -> String {
    serde_json::to_string(x).unwrap_or_else(|_| "\"\"".into())
}

/// The model-index entry (YAML, without markers).
pub fn model_index(sum: &Summary, model_name: &str) -> String {
    let mut o = format!(
        "model-index:\n  - name: {}\n    results:\n      - task:\n          type: zero-shot-image-classification\n        dataset:\n          name: {}\n          type: clip-audit\n        metrics:\n",
        yaml_str(model_name),
        yaml_str(&format!("clip-audit {}", sum.audit))
    );
    // Always one metric, so that a clean audit still has a valid model-index (the Hub's
    // parser refuses `metrics:` without entries).
    let _ = write!(
        o,
        "          - type: clip-audit-findings\n            name: \"findings at error level\"\n            value: {}\n",
        sum.findings.iter().filter(|x| x.severity == Severity::Error).count()
    );
    for x in sum.findings.iter().filter(|x| x.statistic.value.is_finite()) {
        let _ = write!(
            o,
            "          - type: {}\n            name: {}\n            value: {}\n",
            yaml_str(&x.statistic.name),
            yaml_str(&x.id),
            x.statistic.value
        );
    }
    o
}

/// The start of the first line at or after `from` that is exactly `marker` (a marker quoted
/// in prose or YAML is not one).
fn find_line(text: &str, marker: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = text[at..].find(marker) {
        let start = at + i;
        let end = start + marker.len();
        let line_start = start == 0 || text.as_bytes()[start - 1] == b'\n';
        let rest = &text[end..];
        if line_start && (rest.is_empty() || rest.starts_with('\n') || rest.starts_with("\r\n")) {
            return Some(start);
        }
        at = end;
    }
    None
}

/// `text` with what lies between the line `start` and the line `end` replaced by `body`.
fn replace_between(text: &str, start: &str, end: &str, body: &str, nl: &str) -> Option<String> {
    let a = find_line(text, start, 0)?;
    let b = find_line(text, end, a + start.len())?;
    Some(format!("{}{start}{nl}{body}{}", &text[..a], &text[b..]))
}

/// The front matter as `huggingface_hub` 2.4.0 finds it (`REGEX_YAML_BLOCK` in
/// `repocard.py`): optional leading whitespace, `---`, a line end (LF, CRLF or CR), the YAML
/// body, a line `---` (trailing spaces or tabs allowed) at the end of a line or of the file.
/// Group 2 is the body.
fn front_matter() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))").expect("valid")
    })
}

/// The card with the section and the model-index entry put in (or replaced). Line ends follow
/// the card's first line (a CRLF card stays CRLF). The front matter is found the way the Hub
/// finds it, so there is only ever one: its own keys kept, the model-index added between
/// clip-audit's YAML markers; the Markdown section goes between its markers after the front
/// matter. Markers count only as whole lines.
pub fn into(card: &str, section_md: &str, index_yaml: &str) -> String {
    let nl = match card.find('\n') {
        Some(i) if card[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    };
    let lines = |t: &str| if nl == "\n" { t.to_owned() } else { t.replace("\r\n", "\n").replace('\n', nl) };
    let (section_md, index_yaml) = (lines(section_md), lines(index_yaml));
    let found = front_matter().captures(card);
    let body_start = found.as_ref().and_then(|c| c.get(0)).map_or(0, |m| m.end());
    let (head, body) = card.split_at(body_start);
    let body = match replace_between(body, START, END, &format!("{nl}{section_md}{nl}"), nl) {
        Some(t) => t,
        None => {
            let sep = if body.is_empty() || body.ends_with(&format!("{nl}{nl}")) {
                String::new()
            } else if body.ends_with('\n') {
                nl.to_owned()
            } else {
                format!("{nl}{nl}")
            };
            format!("{body}{sep}{START}{nl}{nl}{section_md}{nl}{END}{nl}")
        }
    };
    let head = match found.as_ref().and_then(|c| c.get(2)) {
        Some(fm_match) => {
            let fm = fm_match.as_str();
            let has_index = fm.starts_with("model-index:") || fm.contains("\nmodel-index:");
            let block = format!("{YAML_START}{nl}{index_yaml}{YAML_END}");
            let new_fm = match replace_between(fm, YAML_START, YAML_END, &index_yaml, nl) {
                Some(t) => t,
                // A hand-written model-index stays as it is: a second key would break the YAML.
                None if has_index => fm.to_owned(),
                None if fm.trim().is_empty() => block,
                // A YAML document end (`...`) stays last.
                None => match fm.trim_end().strip_suffix("...").filter(|b| b.is_empty() || b.ends_with('\n')) {
                    Some(before) => format!("{before}{block}{nl}..."),
                    None => format!("{fm}{nl}{block}"),
                },
            };
            format!("{}{new_fm}{}", &head[..fm_match.start()], &head[fm_match.end()..])
        }
        None => format!("---{nl}{YAML_START}{nl}{index_yaml}{YAML_END}{nl}---{nl}"),
    };
    format!("{head}{body}")
}
