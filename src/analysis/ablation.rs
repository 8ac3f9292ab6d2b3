//! Causal confirmation: clamp a flagged unit and measure again the behaviour it was blamed for.
//!
//! Correlation between a unit and a behaviour is not cause. For the units cited by typographic
//! findings (units selective for the written word) and association findings (bridge units),
//! one at a time, the unit is clamped to its mean activation over the run's images (a graph
//! edit made in memory: the tapped tensor becomes `x * keep + fill`, see
//! [`crate::model::ModelEdit`]); the stimuli the finding rests on are run again through the
//! edited model into their own store, and the finding's statistic is recomputed: the excess
//! flip rate or the WEAT effect size, the change with a CI combining the two intervals' half
//! widths (a normal approximation).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::{AnalysisError, AnalyzeOptions, RunData, Summary, analyze, slug};
use crate::model::Ablation;
use crate::run::{RunOptions, run};
use crate::spec::AuditSpec;
use crate::spec::analyses::AblationDoc;

/// Default number of units ablated.
pub const DEFAULT_TOP_UNITS: usize = 5;

/// One ablated unit and what it changed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AblationResult {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// The finding that cited it.
    pub finding: String,
    /// The value the unit was clamped to (its mean).
    pub clamped_to: f32,
    /// The statistic re-measured.
    pub statistic: String,
    /// Before ablation.
    pub before: f64,
    /// After.
    pub after: f64,
    /// after − before.
    pub change: f64,
    /// 95% CI of the change.
    pub ci: [f64; 2],
    /// Stimuli re-run.
    pub stimuli: usize,
}

/// The ablation analysis as reported.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AblationSummary {
    /// Units ablated, one at a time.
    pub results: Vec<AblationResult>,
}

/// Ablates the units cited by the summary's typographic and association findings.
pub fn run_ablation(
    spec: &AuditSpec,
    doc: &AblationDoc,
    summary: &Summary,
    data: &RunData,
    run_dir: &Path,
    options: &AnalyzeOptions,
) -> Result<AblationSummary, AnalysisError> {
    let top = doc.top_units.unwrap_or(DEFAULT_TOP_UNITS);
    let mut chosen: Vec<(String, String, usize)> = Vec::new();
    for f in summary.findings.iter().filter(|f| f.analysis == "typographic" || f.analysis == "associations") {
        for u in &f.evidence.units {
            if chosen.len() < top && !chosen.iter().any(|c| c.1 == u.tap && c.2 == u.unit) {
                chosen.push((f.id.clone(), u.tap.clone(), u.unit));
            }
        }
    }
    let mut results = Vec::new();
    for (finding_id, tap, unit) in chosen {
        let Some(acts) = data.images.taps.get(&tap) else { continue };
        let Some(f) = summary.findings.iter().find(|f| f.id == finding_id) else { continue };
        // The unit's mean over the run's images (not rendered text or composites).
        let rows: Vec<usize> =
            data.stimuli.iter().filter(|s| s.modality == "image").filter_map(|s| data.row_of(s)).collect();
        let mean = if rows.is_empty() {
            0.0
        } else {
            rows.iter().map(|&r| f64::from(acts[[r, unit]])).sum::<f64>() / rows.len() as f64
        };
        let mut sub = spec.clone();
        let a = &mut sub.doc.analyses;
        a.null_baseline = None;
        a.ablation = None;
        a.selectivity = None;
        a.multimodality = None;
        a.resolution.clear();
        a.denigration = None;
        let selections: Vec<String> = if f.analysis == "typographic" {
            a.associations.clear();
            a.typographic.iter().filter_map(|t| t.family.as_ref().map(|x| x.value.clone())).collect()
        } else {
            a.typographic = None;
            let group = f.id.split('/').nth(1).unwrap_or_default().to_owned();
            a.associations.retain(|x| x.groups.as_ref().is_some_and(|g| slug(&g.value) == group));
            a.associations
                .iter()
                .flat_map(|x| [&x.groups, &x.attributes, &x.controls])
                .filter_map(|s| s.as_ref().map(|s| s.value.clone()))
                .collect()
        };
        let only: BTreeSet<String> =
            data.stimuli.iter().filter(|s| selections.contains(&s.selection)).map(|s| s.id.clone()).collect();
        let mut opts = RunOptions::new(run_dir.join("ablation").join(format!("{}-{unit}", slug(&tap))));
        opts.session = options.session;
        opts.progress = options.progress;
        opts.edit.ablate = vec![Ablation { tap: tap.clone(), unit, units: acts.ncols(), value: mean as f32 }];
        opts.only = Some(only.clone());
        if opts.progress != crate::run::progress::ProgressMode::Quiet {
            eprintln!(
                "ablation: {tap} unit {unit} clamped to its mean {mean:.4}; {} stimuli of {finding_id} again",
                only.len()
            );
        }
        run(&sub, &opts)?;
        let after_data = RunData::load(std::slice::from_ref(&opts.out))?;
        let after_options =
            AnalyzeOptions { session: options.session, edit: opts.edit.clone(), progress: options.progress };
        let after = analyze(&sub, &after_data, &after_options)?.summary;
        let before_stat = &f.statistic;
        let (statistic, after_value, ci) = if f.analysis == "typographic" {
            let Some(fr) = after.typographic.as_ref().and_then(|t| t.flip_rates.first()) else { continue };
            let Some(was) = summary.typographic.as_ref().and_then(|t| t.flip_rates.first()) else { continue };
            // The clean images do not pass the ablated unit's text, but they do pass the unit:
            // compare the excess, each with its own clean baseline.
            let change = fr.excess - was.excess;
            let hw = |ci: [f64; 2]| (ci[1] - ci[0]) / 2.0;
            let half = (hw(fr.excess_ci).powi(2) + hw(was.excess_ci).powi(2)).sqrt();
            ("excess flip rate", fr.excess, [change - half, change + half])
        } else {
            let concepts = &f.evidence.concepts;
            let Some(t) = after
                .associations
                .iter()
                .flat_map(|x| &x.tests)
                .find(|t| concepts.first() == Some(&t.group) && concepts.get(1) == Some(&t.attribute))
            else {
                continue;
            };
            let hw = |ci: [f64; 2]| (ci[1] - ci[0]) / 2.0;
            let half = (hw(t.ci).powi(2) + before_stat.ci.map_or(0.0, hw).powi(2)).sqrt();
            let change = t.effect_size - before_stat.value;
            ("WEAT effect size", t.effect_size, [change - half, change + half])
        };
        results.push(AblationResult {
            tap,
            unit,
            finding: finding_id,
            clamped_to: mean as f32,
            statistic: statistic.into(),
            before: before_stat.value,
            after: after_value,
            change: after_value - before_stat.value,
            ci,
            stimuli: only.len(),
        });
    }
    Ok(AblationSummary { results })
}
