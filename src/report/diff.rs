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

/// Reads the findings of a `report.json` or `summary.json` ([`super::read::load_summary`]: one
/// version check, older formats upgraded), with the review decisions saved beside it.
pub fn read_findings(path: &Path) -> anyhow::Result<Vec<FindingRecord>> {
    let (summary, _) = super::read::load_summary(path)?;
    let reviews = super::review::Review::load(path.parent().unwrap_or(Path::new("."))).unwrap_or_default();
    Ok(summary
        .findings
        .iter()
        .map(|f| FindingRecord {
            id: f.id.clone(),
            severity: super::severity_name(f.severity).to_owned(),
            statement: f.statement.clone(),
            value: Some(f.statistic.value).filter(|v| v.is_finite()),
            ci: f.statistic.ci.filter(|c| c.iter().all(|x| x.is_finite())),
            review: reviews
                .get(&f.id)
                .map(|d| format!("{} by {} at {}: {}", super::review::verdict_name(d.verdict), d.by, d.at, d.note)),
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
