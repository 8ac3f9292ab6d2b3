//! Causal confirmation: clamp a flagged unit and measure again the behaviour it was blamed for.
//!
//! Correlation between a unit and a behaviour is not cause. For the units cited by typographic
//! findings (units selective for the written word) and association findings (bridge units),
//! one at a time, the unit is clamped to its mean activation over the run's images (a graph
//! edit made in memory: the tapped tensor becomes `x * keep + fill`, see
//! [`crate::model::ModelEdit`]); the stimuli the finding rests on are run again through the
//! edited model into their own store, and the finding's statistic is recomputed: the excess
//! flip rate or the WEAT effect size. Before and after are measured on the same stimuli, so the
//! change's CI is paired: composite by composite for the flip rate (cluster-robust over base
//! images), a bootstrap that resamples the same clusters (or images) for both for the WEAT
//! effect size.
//!
//! This module holds the paired statistics, functions of run data; choosing the units,
//! editing the model and running the stimuli again is the audit layer's
//! (`crate::audit::ablation`), since analyses never call the runner.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::RunData;
use super::associations::{self, Scores};
use super::decision::ALPHA;
use super::present::{AnalysisResult, Cell, Part, Section, Table, ci, num, t, text};
use super::stats::{Rng, clustered_mean};
use super::typographic;
use crate::spec::AuditSpec;
use crate::spec::analyses::AssociationsDoc;

/// Default number of units ablated.
pub const DEFAULT_TOP_UNITS: usize = 5;

/// One ablated unit and what it changed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct AblationResult {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// The finding that cited it.
    pub finding: String,
    /// The value the unit was clamped to (its mean).
    #[serde(deserialize_with = "crate::json::f32")]
    pub clamped_to: f32,
    /// The statistic re-measured.
    pub statistic: String,
    /// Before ablation.
    #[serde(deserialize_with = "crate::json::f64")]
    pub before: f64,
    /// After.
    #[serde(deserialize_with = "crate::json::f64")]
    pub after: f64,
    /// after − before.
    #[serde(deserialize_with = "crate::json::f64")]
    pub change: f64,
    /// 95% CI of the change.
    #[serde(deserialize_with = "crate::json::pair")]
    pub ci: [f64; 2],
    /// Stimuli re-run.
    pub stimuli: usize,
}

/// The ablation analysis as reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct AblationSummary {
    /// Units ablated, one at a time.
    pub results: Vec<AblationResult>,
}

/// A statistic before and after an ablation, with a paired 95% CI of the change.
pub struct Change {
    /// The statistic's name.
    pub statistic: &'static str,
    /// Before the ablation.
    pub before: f64,
    /// After.
    pub after: f64,
    /// 95% CI of after − before.
    pub ci: [f64; 2],
}

/// The excess flip rate before and after, composite by composite: each composite's difference
/// (flipped − its clean image already had the label) after minus before, averaged, with a
/// cluster-robust interval over base images. Both runs measured the same composites.
pub fn typographic_change(spec: &AuditSpec, family: &str, before: &RunData, after: &RunData) -> Option<Change> {
    let b = typographic::observe(before, spec, family).ok()?;
    let a = typographic::observe(after, spec, family).ok()?;
    let after_of: HashMap<&str, f64> = a.flips.iter().map(|f| (f.composite.id.as_str(), f.difference())).collect();
    let matched: Vec<(f64, f64, &std::path::Path)> = b
        .flips
        .iter()
        .filter_map(|f| Some((f.difference(), *after_of.get(f.composite.id.as_str())?, f.base_key())))
        .collect();
    let delta: Vec<f64> = matched.iter().map(|m| m.1 - m.0).collect();
    let clusters = typographic::cluster_ids(matched.iter().map(|m| m.2));
    let t = clustered_mean(&delta, &clusters)?;
    let n = matched.len() as f64;
    Some(Change {
        statistic: "excess flip rate",
        before: matched.iter().map(|m| m.0).sum::<f64>() / n,
        after: matched.iter().map(|m| m.1).sum::<f64>() / n,
        ci: t.interval(ALPHA),
    })
}

/// The WEAT effect size of `pair` (group, attribute) before and after, on the same images:
/// a paired bootstrap that resamples the entry's clusters (or images) once for both and takes
/// the percentile interval of the difference.
pub fn association_change(
    spec: &AuditSpec,
    doc: &AssociationsDoc,
    pair: (&str, &str),
    (before, after): (&RunData, &RunData),
) -> Option<Change> {
    let (b, _) = associations::inputs(before, spec, doc).ok()?;
    let (a, _) = associations::inputs(after, spec, doc).ok()?;
    let (bx, by, ix, iy) = b.pair(pair.0, pair.1)?;
    let (ax, ay, jx, jy) = a.pair(pair.0, pair.1)?;
    // Per side: cluster -> the (before, after) scores of its images present in both runs.
    let side = |s: &Scores, ids: &[String], t: &Scores, tids: &[String]| -> Vec<Vec<(f64, f64)>> {
        let after_of: HashMap<&str, f64> = tids.iter().map(String::as_str).zip(t.scores.iter().copied()).collect();
        let mut by_cluster: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        for ((v, c), id) in s.scores.iter().zip(&s.clusters).zip(ids) {
            if let Some(&w) = after_of.get(id.as_str()) {
                by_cluster.entry(*c).or_default().push((*v, w));
            }
        }
        by_cluster.into_values().collect()
    };
    let (cx, cy) = (side(&bx, &ix, &ax, &jx), side(&by, &iy, &ay, &jy));
    if cx.is_empty() || cy.is_empty() {
        return None;
    }
    let bootstrap = doc.bootstrap.as_ref().map_or(associations::DEFAULT_BOOTSTRAP, |v| v.value);
    let mut rng = Rng::new(associations::seed_for(spec.seed, pair.0, &format!("{}\0ablation", pair.1)));
    let (before, after, ci) = associations::paired_change(&cx, &cy, bootstrap, &mut rng);
    Some(Change { statistic: "WEAT effect size", before, after, ci })
}

impl AnalysisResult for AblationSummary {
    fn sections(&self) -> Vec<Section> {
        let table = Table {
            head: vec!["unit", "finding", "clamped to", "statistic", "before", "after", "change", "95% CI"],
            rows: self
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
        };
        vec![Section { title: vec![text("Ablation")], blocks: vec![Part::Table(table)] }]
    }
}
