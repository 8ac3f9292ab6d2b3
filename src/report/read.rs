//! Reading a report back, the one way every reader does it (`diff`, `model-card`, the TUI):
//! into the same serde types the writer serialises, so that renaming a field breaks the build
//! rather than a screen, with one check of `format_version` and explicit upgrades of the older
//! formats this clip-audit still reads.
//!
//! Upgrades (each tested on a report written by the clip-audit of its time,
//! `fixtures/reports/format-N/`):
//! - **1 → 2.** Format 1 predates the decision layer: its findings carry no `decision` and its
//!   summary no `inconclusive` list. Each finding gets the decision its statistic and threshold
//!   state (verdict fail, estimate and CI as reported, the threshold as the limit; the family
//!   and test are unknown and say so, with a family of size 0), and the inconclusive list is
//!   empty.
//! - **Any earlier report.** Within a format, analyses gained fields; an analysis's details
//!   that do not read in today's layout are left out, with a note naming them. Findings,
//!   inconclusive checks, notes and counts are always kept.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{REPORT_VERSION, ReportMeta};
use crate::analysis::{
    Summary, ablation, associations, denigration, multimodality, null, resolution, selectivity, typographic,
};

/// A report as read back: what `report.json` holds, in the writer's types.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReportFile {
    /// The format it was written in (the upgrades above have been applied to what is read).
    pub format_version: u32,
    /// Metadata.
    pub meta: ReportMeta,
    /// The audit's summary.
    pub summary: Summary,
    /// The analyses' report sections, as written (none before they were written out): drawn
    /// by the TUI's Analyses view, which knows the section vocabulary
    /// ([`crate::analysis::present`]), not the analyses.
    #[serde(default)]
    pub sections: Vec<Value>,
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON, or not a clip-audit report or summary.
    #[error("{} is not a clip-audit report.json or summary.json: {why}", path.display())]
    NotReport {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        why: String,
    },
    /// Written in a format this clip-audit does not read.
    #[error(
        "{} has report format {version}, {}; this clip-audit reads formats 1 to {REPORT_VERSION}: {}",
        path.display(),
        if *version > u64::from(REPORT_VERSION) { "newer than this clip-audit reads" } else { "which is unknown" },
        if *version > u64::from(REPORT_VERSION) { "update clip-audit, or open it with the clip-audit that wrote it" } else { "open it with the clip-audit that wrote it, or run the audit again" }
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its format.
        version: u64,
    },
}

/// Reads a `report.json`: checks its format, upgrades an older one, and deserialises it.
pub fn load(path: &Path) -> Result<ReportFile, ReadError> {
    report_from(path, read_json(path)?)
}

fn report_from(path: &Path, mut v: Value) -> Result<ReportFile, ReadError> {
    if v.get("summary").is_none() {
        return Err(not_report(path, "it has no `summary` (give the report.json of a reports folder)"));
    }
    let version = check_version(path, &v)?;
    upgrade(&mut v, version);
    read_upgraded(path, v, version, |v| &mut v["summary"])
}

/// Deserialises an upgraded report or summary. Most read whole at once; one that does not (an
/// earlier layout) has the analysis details that no longer read left out, and is read again,
/// so the sections are only tried one by one when they need to be.
fn read_upgraded<T: serde::de::DeserializeOwned>(
    path: &Path,
    mut v: Value,
    version: u64,
    summary: impl Fn(&mut Value) -> &mut Value,
) -> Result<T, ReadError> {
    if let Ok(read) = T::deserialize(&v) {
        return Ok(read);
    }
    keep_readable_details(summary(&mut v), version);
    serde_json::from_value(v).map_err(|e| not_report(path, &e.to_string()))
}

/// Reads a `report.json` or a `summary.json` (what `diff` and a baseline accept): the summary,
/// and the report's metadata when it is a report.
pub fn load_summary(path: &Path) -> Result<(Summary, Option<ReportMeta>), ReadError> {
    let v = read_json(path)?;
    if v.get("summary").is_some() {
        let r = report_from(path, v)?;
        return Ok((r.summary, Some(r.meta)));
    }
    if v.get("findings").is_none() {
        return Err(not_report(path, "it has no findings list"));
    }
    // A summary.json: the same upgrades, on a report-shaped wrapper.
    let version = check_version(path, &v)?;
    let mut wrapped = serde_json::json!({ "format_version": version, "summary": v });
    upgrade(&mut wrapped, version);
    let summary = read_upgraded(path, wrapped["summary"].take(), version, |v| v)?;
    Ok((summary, None))
}

fn read_json(path: &Path) -> Result<Value, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| not_report(path, &format!("not JSON ({e})")))
}

fn not_report(path: &Path, why: &str) -> ReadError {
    ReadError::NotReport { path: path.to_path_buf(), why: why.to_owned() }
}

fn check_version(path: &Path, v: &Value) -> Result<u64, ReadError> {
    match v.get("format_version").and_then(Value::as_u64) {
        Some(version) if (1..=u64::from(REPORT_VERSION)).contains(&version) => Ok(version),
        Some(version) => Err(ReadError::Version { path: path.to_path_buf(), version }),
        None => Err(not_report(path, "it has no format_version")),
    }
}

/// Brings a report (`{format_version, meta, summary}`) of format `from` up to the current one.
fn upgrade(v: &mut Value, from: u64) {
    if from < 2 {
        upgrade_1_to_2(&mut v["summary"]);
    }
}

fn upgrade_1_to_2(summary: &mut Value) {
    let Some(s) = summary.as_object_mut() else { return };
    if let Some(findings) = s.get_mut("findings").and_then(Value::as_array_mut) {
        for f in findings.iter_mut().filter(|f| f.get("decision").is_none()) {
            f["decision"] = decision_of_format_1(f);
        }
    }
    s.entry("inconclusive").or_insert_with(|| Value::Array(Vec::new()));
}

/// Whether a summary's field reads as `T`, today's layout.
fn reads<T: serde::de::DeserializeOwned>(v: &Value) -> bool {
    T::deserialize(v).is_ok()
}

/// A check that a summary field reads in today's layout.
type Reads = fn(&Value) -> bool;

/// Each analysis's details field of a summary: its name, whether it reads in today's layout,
/// and whether it is a list (emptied when left out) or optional (nulled).
const DETAILS: [(&str, Reads, bool); 8] = [
    ("selectivity", reads::<Option<selectivity::SelectivitySummary>>, false),
    ("multimodality", reads::<Option<multimodality::MultimodalitySummary>>, false),
    ("resolution", reads::<Vec<resolution::ResolutionSummary>>, true),
    ("associations", reads::<Vec<associations::AssociationSummary>>, true),
    ("denigration", reads::<Option<denigration::DenigrationSummary>>, false),
    ("typographic", reads::<Option<typographic::TypographicSummary>>, false),
    ("null_baseline", reads::<Option<null::NullSummary>>, false),
    ("ablation", reads::<Option<ablation::AblationSummary>>, false),
];

/// An analysis's details written by an earlier clip-audit in a layout that has changed since
/// (within a format, fields were added) are left out, with a note naming them; the findings,
/// the inconclusive checks, the notes and the counts are always kept.
fn keep_readable_details(summary: &mut Value, from: u64) {
    let Some(s) = summary.as_object_mut() else { return };
    let mut left_out = Vec::new();
    for (key, read, list) in DETAILS {
        let Some(part) = s.get(key).filter(|p| !p.is_null()) else { continue };
        if !read(part) {
            left_out.push(key);
            s.insert(key.to_owned(), if list { Value::Array(Vec::new()) } else { Value::Null });
        }
    }
    if !left_out.is_empty() {
        let note = format!(
            "this report was written by an earlier clip-audit (format {from}): the details of {} are not shown (their layout has changed since); every finding is",
            left_out.join(", ")
        );
        if let Some(notes) = s.entry("notes").or_insert_with(|| Value::Array(Vec::new())).as_array_mut() {
            notes.push(Value::String(note));
        }
    }
}

/// The decision a format-1 finding states: it failed, with its statistic and CI against its
/// threshold; what format 1 did not record (the test, the family) says so.
fn decision_of_format_1(f: &Value) -> Value {
    let st = &f["statistic"];
    let threshold = &f["threshold"];
    let below = threshold["name"].as_str().is_some_and(|n| n.starts_with("min_"));
    serde_json::json!({
        "verdict": "fail",
        "estimand": st["name"],
        "estimate": st["value"],
        "ci": if st["ci"].is_array() { st["ci"].clone() } else { serde_json::json!([null, null]) },
        "ci_method": "as reported (format 1)",
        "ci_adjusted": null,
        "ci_adjusted_level": null,
        "limit": threshold["value"],
        "direction": if below { "below" } else { "above" },
        "test": "not recorded (format 1)",
        "p": st["p"],
        "p_adjusted": st["q"],
        "family": {"name": "not recorded (format 1)", "correction": "benjamini_hochberg", "level": 0.05, "size": 0},
        "n": st["n"].as_u64().unwrap_or(0),
        "min_n": 0,
        "mde": null,
        "reason": "decided before the decision layer (format 1)",
    })
}
