//! Baseline comparison: which findings are new, resolved, worsened or unchanged between two
//! reports (two checkpoints of one model, a model and its successor), so CI can fail on
//! regressions only.

use std::path::Path;

use serde::Serialize;

/// A finding as read back from a report (or summary) JSON file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingRecord {
    /// Stable id.
    pub id: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// The sentence.
    pub statement: String,
    /// The statistic's value (None when undefined).
    pub value: Option<f64>,
    /// Its CI.
    pub ci: Option<[f64; 2]>,
    /// The review decision recorded beside the report, in words.
    pub review: Option<String>,
}

fn rank(severity: &str) -> u8 {
    match severity {
        "error" => 2,
        "warning" => 1,
        _ => 0,
    }
}

/// Reads the findings of a `report.json` or `summary.json`.
pub fn read_findings(path: &Path) -> anyhow::Result<Vec<FindingRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not JSON ({e}); give a report.json or summary.json", path.display()))?;
    if let Some(version) = v.get("format_version").and_then(|x| x.as_u64())
        && version > u64::from(super::REPORT_VERSION)
    {
        anyhow::bail!(
            "{} has format version {version}, newer than this clip-audit reads ({}); update clip-audit",
            path.display(),
            super::REPORT_VERSION
        );
    }
    let findings = v
        .get("summary")
        .and_then(|s| s.get("findings"))
        .or_else(|| v.get("findings"))
        .and_then(|f| f.as_array())
        .ok_or_else(|| anyhow::anyhow!("{} has no findings list: is it a clip-audit report?", path.display()))?;
    let reviews = super::review::Review::load(path.parent().unwrap_or(Path::new("."))).unwrap_or_default();
    Ok(findings
        .iter()
        .map(|f| {
            let s = |k: &str| f.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
            let stat = f.get("statistic");
            let ci = stat
                .and_then(|s| s.get("ci"))
                .and_then(|c| c.as_array())
                .and_then(|c| Some([c.first()?.as_f64()?, c.get(1)?.as_f64()?]));
            FindingRecord {
                id: s("id"),
                severity: s("severity"),
                statement: s("statement"),
                value: stat.and_then(|s| s.get("value")).and_then(|x| x.as_f64()),
                ci,
                review: reviews
                    .get(&s("id"))
                    .map(|d| format!("{} by {} at {}: {}", super::review::verdict_name(d.verdict), d.by, d.at, d.note)),
            }
        })
        .collect())
}

/// How two reports differ.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// In the new report only.
    pub new: Vec<FindingRecord>,
    /// In the old report only.
    pub resolved: Vec<FindingRecord>,
    /// In both, and worse: a higher severity, or a statistic whose new CI lies wholly above
    /// the old value (every finding is "larger is worse").
    pub worsened: Vec<(FindingRecord, FindingRecord)>,
    /// In both, not worse.
    pub unchanged: Vec<(FindingRecord, FindingRecord)>,
}

impl Diff {
    /// New or worsened findings at or above a severity (`error`, `warning`, `info`).
    pub fn regressions(&self, at_least: &str) -> usize {
        self.new.iter().filter(|f| rank(&f.severity) >= rank(at_least)).count()
            + self.worsened.iter().filter(|(_, n)| rank(&n.severity) >= rank(at_least)).count()
    }
}

/// Compares findings by id.
pub fn diff(old: &[FindingRecord], new: &[FindingRecord]) -> Diff {
    let mut d = Diff::default();
    for n in new {
        match old.iter().find(|o| o.id == n.id) {
            None => d.new.push(n.clone()),
            Some(o) => {
                let worse_stat = match (n.ci, o.value) {
                    (Some(ci), Some(v)) => ci[0] > v,
                    _ => false,
                };
                if rank(&n.severity) > rank(&o.severity) || worse_stat {
                    d.worsened.push((o.clone(), n.clone()));
                } else {
                    d.unchanged.push((o.clone(), n.clone()));
                }
            }
        }
    }
    d.resolved = old.iter().filter(|o| !new.iter().any(|n| n.id == o.id)).cloned().collect();
    d
}

/// The diff for a terminal.
pub fn render(d: &Diff) -> String {
    let mut o = format!(
        "{} new, {} worsened, {} resolved, {} unchanged\n",
        d.new.len(),
        d.worsened.len(),
        d.resolved.len(),
        d.unchanged.len()
    );
    let v = |f: &FindingRecord| f.value.map_or("n/a".into(), super::num);
    for f in &d.new {
        o.push_str(&format!("  new       [{}] {}: {}\n", f.severity, f.id, f.statement));
    }
    let review = |f: &FindingRecord| f.review.as_ref().map(|r| format!(" (reviewed: {r})")).unwrap_or_default();
    for (a, b) in &d.worsened {
        o.push_str(&format!("  worsened  [{}] {}: {} -> {}{}\n", b.severity, b.id, v(a), v(b), review(a)));
    }
    for f in &d.resolved {
        o.push_str(&format!("  resolved  [{}] {}{}\n", f.severity, f.id, review(f)));
    }
    for (a, b) in d.unchanged.iter().filter(|(a, _)| a.review.is_some()) {
        o.push_str(&format!("  unchanged [{}] {}{}\n", b.severity, b.id, review(a)));
    }
    o
}
