//! The null baseline: the same audit on random-weight copies of the model.
//!
//! Some "findings" come from the architecture and the stimuli alone (a rendered word differs
//! from a photo in pixels whatever the weights are). Re-running the audit on copies whose
//! every weight tensor is re-drawn from a normal distribution with the tensor's own mean and
//! sd (seeded, one seed per copy; made in memory at load time, see
//! [`crate::model::ModelEdit`]), or on a given random-weight bundle, separates those.
//!
//! The rule compares statistics, not verdicts: each check of the real model has an estimate
//! (a coverage difference, an association's effect, the fraction of units that read words),
//! and every copy gives the same check's estimate whether or not it fails there. A finding is
//! *structural* (not distinguishable from random weights) unless its estimate is more extreme,
//! in the harmful direction, than every compared copy's: with K compared copies, a finding
//! that exceeds all of them has an empirical one-sided p of 1/(K + 1), the smallest K copies
//! can give (the default K = 5 gives 1/6: a screen, not a test, with no correction across
//! findings; and random re-drawn weights are a heuristic stand-in for "training changed
//! nothing"). Copies without the check or with an undefined estimate are no evidence either
//! way and are left out; with none left the finding is not compared. Each finding carries the
//! copies' values (`null` in the JSON), so a reviewer sees how far above the null it is.
//!
//! Zero-shot findings (denigration, typographic) are not compared, and their analyses are
//! left out of the copies' audits: a random network may give every image one label, which
//! says nothing about the trained model's labels.
//!
//! This module holds the comparison, a function of summaries; making and running the copies
//! is the audit layer's (`crate::audit::null`), since analyses never call the runner.

use serde::Serialize;

use super::Summary;
use super::decision::Direction;

/// Random-weight copies when the spec does not say.
pub const DEFAULT_COPIES: u64 = 5;

/// One random-weight copy as reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct NullCopy {
    /// Seed of its re-drawn weights (None for a given bundle).
    pub seed: Option<u64>,
    /// Its run folder.
    pub run: String,
    /// Findings of the audit on it.
    pub findings: usize,
    /// Their ids.
    pub finding_ids: Vec<String>,
}

/// The null baseline as reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct NullSummary {
    /// How the null models were made.
    pub model: String,
    /// Seed of the first copy (None with a given bundle).
    pub seed: Option<u64>,
    /// The folder of the copies' runs.
    pub run: String,
    /// The copies.
    pub copies: Vec<NullCopy>,
    /// Median number of findings per copy (the lower median), of the compared analyses (the
    /// copies do not run the zero-shot ones).
    pub findings: usize,
    /// Ids of the findings any copy raises.
    pub finding_ids: Vec<String>,
    /// Findings of the real model whose statistic does not exceed every copy's.
    pub structural: usize,
    /// The rule, in words.
    pub rule: String,
}

/// A finding's statistic against the null copies.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct NullComparison {
    /// The same check's estimate in each copy (null where the copy has no such check or its
    /// estimate is undefined).
    pub values: Vec<Option<f64>>,
    /// Copies with a defined estimate: those the finding is compared with.
    pub compared: usize,
    /// Compared copies whose estimate the finding's exceeds in the harmful direction.
    pub exceeded: usize,
    /// Empirical one-sided p: (compared copies reaching it + 1) / (compared + 1); 1/(K + 1)
    /// when it exceeds all K.
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
}

/// Analyses whose findings rest on zero-shot labels. Random weights are no null for them (a
/// random network may send every image to one label), so they are never marked structural.
pub const ZERO_SHOT: [&str; 2] = [
    <super::denigration::Denigration as super::Analysis>::NAME,
    <super::typographic::Typographic as super::Analysis>::NAME,
];

/// The comparison of an estimate with the copies' estimates of the same check, or `None` when
/// nothing can be compared (the estimate is undefined, or no copy has a defined one). Copies
/// without the check or with an undefined estimate are left out: they are no evidence either
/// way. Infinite values compare as numbers.
pub fn compare(estimate: f64, direction: Direction, values: Vec<Option<f64>>) -> Option<NullComparison> {
    let values: Vec<Option<f64>> = values.into_iter().map(|v| v.filter(|v| !v.is_nan())).collect();
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    if estimate.is_nan() || defined.is_empty() {
        return None;
    }
    let beyond = |v: f64| match direction {
        Direction::Above => estimate > v,
        Direction::Below => estimate < v,
    };
    let exceeded = defined.iter().filter(|&&v| beyond(v)).count();
    let reaching = defined.len() - exceeded;
    Some(NullComparison {
        p: (reaching + 1) as f64 / (defined.len() + 1) as f64,
        compared: defined.len(),
        exceeded,
        values,
    })
}

/// Compares each finding of `summary` with the copies and marks as structural those whose
/// statistic does not exceed every copy's, except findings of zero-shot analyses
/// ([`ZERO_SHOT`]), which a note says were not compared.
pub fn mark_structural(summary: &mut Summary, mut null: NullSummary, copies: &[Summary]) {
    let mut uncompared = Vec::new();
    for f in &mut summary.findings {
        if ZERO_SHOT.contains(&f.analysis.as_str()) {
            continue;
        }
        let values = copies.iter().map(|c| c.estimates.get(&f.id).map(|(v, _)| *v)).collect();
        match compare(f.decision.estimate, f.decision.direction, values) {
            Some(comparison) => {
                f.structural = comparison.exceeded < comparison.compared;
                f.null = Some(comparison);
            }
            None => uncompared.push(f.id.clone()),
        }
    }
    if !uncompared.is_empty() {
        summary.notes.push(format!(
            "null_baseline: {} not compared: the estimate, or every copy's estimate of the same check, is undefined",
            uncompared.join(", ")
        ));
    }
    let skipped: std::collections::BTreeSet<&str> =
        summary.findings.iter().map(|f| f.analysis.as_str()).filter(|a| ZERO_SHOT.contains(a)).collect();
    if !skipped.is_empty() {
        summary.notes.push(format!(
            "null_baseline: {} findings are not compared with the null model: they rest on zero-shot labels, and a random network may give every image one label, so it is no null for them",
            skipped.into_iter().collect::<Vec<_>>().join(" and ")
        ));
    }
    null.structural = summary.findings.iter().filter(|f| f.structural).count();
    summary.null_baseline = Some(null);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_is_structural_unless_it_exceeds_every_compared_copy() {
        let c = compare(0.4, Direction::Above, vec![Some(0.1), Some(0.39), None, Some(f64::NAN), Some(0.2)]).unwrap();
        assert_eq!((c.compared, c.exceeded, c.p), (3, 3, 1.0 / 4.0), "missing and undefined copies are left out");
        let c = compare(0.4, Direction::Above, vec![Some(0.1), Some(0.4), Some(0.5)]).unwrap();
        assert_eq!((c.exceeded, c.p), (1, 3.0 / 4.0), "a tie reaches the finding");
        let c = compare(0.6, Direction::Below, vec![Some(0.7), Some(0.9)]).unwrap();
        assert_eq!(c.exceeded, 2);
        let c = compare(2.0, Direction::Above, vec![Some(f64::INFINITY), Some(1.0)]).unwrap();
        assert_eq!(c.exceeded, 1, "an infinite copy reaches any finding above");
        assert!(compare(0.4, Direction::Above, vec![None, Some(f64::NAN)]).is_none(), "nothing to compare with");
        assert!(compare(f64::NAN, Direction::Above, vec![Some(0.1)]).is_none());
    }
}
