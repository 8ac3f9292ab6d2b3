//! Running the ablations: for the units the typographic and association findings cite, the
//! model is edited in memory (the unit clamped to its mean over the run's images), the
//! stimuli the finding rests on run again into their own store under `RUN_DIR/ablation/`, and
//! the finding's statistic is compared, paired, by `crate::analysis::ablation`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::analysis::ablation::{
    AblationResult, AblationSummary, Change, DEFAULT_TOP_UNITS, association_change, typographic_change,
};

use crate::analysis::{AnalysisError, Finding, RunData, Summary, slug};
use crate::model::Ablation;
use crate::run::acts::TapMatrix;
use crate::run::{RunOptions, run};
use crate::spec::AuditSpec;
use crate::spec::analyses::AblationDoc;
use crate::stimuli::Modality;

/// Ablates the units cited by the summary's typographic and association findings.
pub fn run_ablation(
    spec: &AuditSpec,
    doc: &AblationDoc,
    summary: &Summary,
    data: &RunData,
    run_dir: &Path,
    options: &super::AuditOptions,
) -> Result<AblationSummary, AnalysisError> {
    let top = doc.top_units.unwrap_or(DEFAULT_TOP_UNITS);
    let mut chosen: Vec<(&Finding, String, usize)> = Vec::new();
    for f in summary.findings.iter().filter(|f| f.analysis == "typographic" || f.analysis == "associations") {
        for u in &f.evidence.units {
            if chosen.len() < top && !chosen.iter().any(|c| c.1 == u.tap && c.2 == u.unit) {
                chosen.push((f, u.tap.clone(), u.unit));
            }
        }
    }
    let mut results = Vec::new();
    for (f, tap, unit) in chosen {
        let Some(acts) = data.images.taps.get(&tap) else { continue };
        let mean = image_mean(data, acts, unit);
        let (sub, selections) = rerun_spec(spec, f);
        let only: BTreeSet<String> =
            data.stimuli.iter().filter(|s| selections.contains(&s.selection)).map(|s| s.id.clone()).collect();
        let mut opts = RunOptions::new(run_dir.join("ablation").join(format!("{}-{unit}", slug(&tap))));
        opts.session = options.session;
        opts.progress = options.progress;
        opts.edit.ablate = vec![Ablation { tap: tap.clone(), unit, units: acts.units(), value: mean as f32 }];
        opts.only = Some(only.clone());
        if opts.progress != crate::run::progress::ProgressMode::Quiet {
            eprintln!(
                "ablation: {tap} unit {unit} clamped to its mean {mean:.4}; {} stimuli of {} again",
                only.len(),
                f.id
            );
        }
        run(&sub, &opts)?;
        let after_data = RunData::load(std::slice::from_ref(&opts.out))?;
        let change = paired_change(&sub, f, data, &after_data);
        if let Some(message) = after_data.io_error() {
            return Err(AnalysisError::Data { path: opts.out.clone(), message });
        }
        let Some(Change { statistic, before, after, ci }) = change else { continue };
        results.push(AblationResult {
            tap,
            unit,
            finding: f.id.clone(),
            clamped_to: mean as f32,
            statistic: statistic.into(),
            before,
            after,
            change: after - before,
            ci,
            stimuli: only.len(),
        });
    }
    Ok(AblationSummary { results })
}

/// A unit's mean over the run's images (not rendered text or composites): the value an
/// ablation clamps it to.
fn image_mean(data: &RunData, acts: &TapMatrix, unit: usize) -> f64 {
    let rows: Vec<usize> =
        data.stimuli.iter().filter(|s| s.modality == Modality::Image).filter_map(|s| data.row_of(s)).collect();
    if rows.is_empty() {
        0.0
    } else {
        let column = acts.column(unit);
        rows.iter().map(|&r| f64::from(column[r])).sum::<f64>() / rows.len() as f64
    }
}

/// The spec to run again for a finding: only its analysis (typographic, or the one
/// association of its group), and the selections whose stimuli it rests on.
fn rerun_spec(spec: &AuditSpec, f: &Finding) -> (AuditSpec, Vec<String>) {
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
    (sub, selections)
}

/// The finding's statistic before and after, paired over the stimuli both runs measured.
fn paired_change(sub: &AuditSpec, f: &Finding, before: &RunData, after: &RunData) -> Option<Change> {
    if f.analysis == "typographic" {
        let family = sub.doc.analyses.typographic.as_ref().and_then(|t| t.family.as_ref())?;
        typographic_change(sub, &family.value, before, after)
    } else {
        let concepts = &f.evidence.concepts;
        let doc = sub.doc.analyses.associations.iter().find(|d| {
            let (Some(g), Some(a)) = (&d.groups, &d.attributes) else { return false };
            f.id == crate::analysis::ids::association(&g.value, &concepts[0], &concepts[1])
                && sub.selection(&a.value).is_some_and(|s| s.members.iter().any(|m| m.id == concepts[1]))
        })?;
        association_change(sub, doc, (&concepts[0], &concepts[1]), (before, after))
    }
}
