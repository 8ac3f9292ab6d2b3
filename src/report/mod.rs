//! Reports: an audit's [`Summary`] rendered for the people and systems that act on it —
//! Markdown and self-contained HTML for reviewers, JSON for tools, JUnit XML and SARIF 2.1.0
//! for CI. Renderers are pure functions of the summary and the report metadata; none touches
//! the model runtime or dataframes. Every untrusted string (probe names, file names, spec
//! values) is escaped for its format. Files are written whole or not at all (temp file +
//! rename) under `reports/<audit>/<timestamp>/`, with a `latest` link.

pub mod cards;
pub mod diff;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod model_card;
pub mod read;
pub mod review;
pub mod sarif;
pub mod tables;
pub mod world;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::Summary;
use crate::files::{FileError, write_atomic};
use crate::spec::analyses::Severity;

/// Version of the JSON report layout. 2: findings carry their decision, `statistic.p`/`q`
/// test against the limit, and the summary lists its inconclusive checks.
pub const REPORT_VERSION: u32 = 2;

/// What a report says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ReportMeta {
    /// The tool and version.
    pub tool: String,
    /// When the report was made (UTC, RFC 3339).
    pub generated_at: String,
    /// The audit spec, as given.
    pub spec: String,
    /// Review decisions carried over from the audit's previous report (by finding id).
    pub reviews: Vec<review::Decision>,
    /// The spec as a SARIF artifact location (a URI reference relative to the repository
    /// root, or to a base URI); SARIF only, not part of `report.json`.
    #[serde(skip)]
    #[schemars(skip)]
    pub spec_location: sarif::ArtifactLocation,
    /// Neuron cards with thumbnails, made from the run's stimuli when the report is written;
    /// HTML only, not part of `report.json` (a report read back has none).
    #[serde(skip)]
    #[schemars(skip)]
    pub cards: Vec<cards::NeuronCard>,
}

/// The JSON report (`report.json`): metadata and the summary. Its schema is
/// `docs/schema/report.schema.json` (`clip-audit schema report`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(title = "clip-audit report")]
pub struct Report<'a> {
    /// Layout version ([`REPORT_VERSION`]).
    pub format_version: u32,
    /// Metadata.
    pub meta: &'a ReportMeta,
    /// The audit's summary.
    pub summary: &'a Summary,
    /// What each analysis shows, as the Markdown and HTML reports draw it and the TUI's
    /// Analyses view reads it: titles, paragraphs, tables and charts, in report order
    /// ([`crate::analysis::present`]). Text is as written (escape it for your format).
    pub sections: Vec<crate::analysis::present::Section>,
}

/// The JSON Schema of `report.json`, generated from the types. Numbers may be `null` where a
/// statistic is undefined (a Cohen's d without spread), so every `number` also allows null.
pub fn schema_json() -> String {
    fn nullable(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("type") == Some(&serde_json::Value::from("number")) {
                    m.insert("type".into(), serde_json::json!(["number", "null"]));
                }
                m.values_mut().for_each(nullable);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(nullable),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(schemars::schema_for!(Report<'static>)).unwrap_or_default();
    nullable(&mut v);
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// The JSON report text.
pub fn json(summary: &Summary, meta: &ReportMeta) -> String {
    let sections = summary.results().iter().flat_map(|r| r.sections()).collect();
    let r = Report { format_version: REPORT_VERSION, meta, summary, sections };
    serde_json::to_string_pretty(&r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub use crate::analysis::present::{Check, ci, num};

/// Every check of the summary, analysis by analysis, in report order: what each analysis
/// lists ([`crate::analysis::present::AnalysisResult::checks`]). JUnit lists each as a test
/// case; a finding with the same id is its failure.
pub fn checks(s: &Summary) -> Vec<Check> {
    s.results().iter().flat_map(|r| r.checks()).collect()
}

/// The null baseline in the verdict line: "; 5 random-weight copies raise a median of 0
/// findings, 1 finding does not exceed them (structural)".
pub fn null_clause(n: &crate::analysis::null::NullSummary) -> String {
    let copies = n.copies.len();
    format!(
        "; {copies} random-weight cop{} raise{} a median of {} findings in the compared analyses, {} finding{} not exceed {} (structural)",
        if copies == 1 { "y" } else { "ies" },
        if copies == 1 { "s" } else { "" },
        n.findings,
        n.structural,
        if n.structural == 1 { " does" } else { "s do" },
        if copies == 1 { "it" } else { "them" }
    )
}

/// A severity in words.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

/// The report formats clip-audit writes, with their file names (the spec's list).
pub use crate::spec::audit::FORMATS as FILES;

/// Renders one format.
pub fn render(format: &str, s: &Summary, meta: &ReportMeta) -> Option<String> {
    Some(match format {
        "markdown" => markdown::render(s, meta),
        "html" => html::render(s, meta),
        "json" => json(s, meta),
        "junit" => junit::render(s, meta),
        "sarif" => sarif::render(s, meta),
        _ => return None,
    })
}

/// Writes the asked formats into `base/<audit>/<timestamp>/` (each file through a temp file
/// and a rename) and points `base/<audit>/latest` at that folder. Returns the folder and the
/// files.
pub fn write_reports(
    s: &Summary,
    meta: &ReportMeta,
    formats: &[String],
    base: &Path,
) -> Result<(PathBuf, Vec<PathBuf>), FileError> {
    let stamp = meta.generated_at.replace(':', "-");
    let audit_dir = base.join(&s.audit);
    // Decisions on findings that are still there carry over from the previous report.
    let previous = review::Review::load(&audit_dir.join("latest")).unwrap_or_default();
    let mut meta = meta.clone();
    meta.reviews = previous.decisions.into_iter().filter(|d| s.findings.iter().any(|f| f.id == d.finding)).collect();
    let meta = &meta;
    let mut dir = audit_dir.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = audit_dir.join(format!("{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(FileError::at("cannot create the report folder", &dir))?;
    let mut files = Vec::new();
    if !meta.reviews.is_empty() {
        let r = review::Review { format_version: 1, decisions: meta.reviews.clone() };
        files.push(r.save(&dir)?);
    }
    for (format, file) in FILES {
        if !formats.iter().any(|f| f == format) {
            continue;
        }
        if let Some(text) = render(format, s, meta) {
            let path = dir.join(file);
            write_atomic(&path, text.as_bytes())?;
            files.push(path);
        }
    }
    // `latest`: a new link renamed over the old one, so it is never missing.
    #[cfg(unix)]
    {
        let tmp = audit_dir.join(format!(".latest-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let target = dir.file_name().map(PathBuf::from).unwrap_or_default();
        if std::os::unix::fs::symlink(&target, &tmp).is_ok() {
            let _ = std::fs::rename(&tmp, audit_dir.join("latest"));
        }
    }
    Ok((dir, files))
}
