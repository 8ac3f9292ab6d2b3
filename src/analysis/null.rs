//! The null baseline: the same audit on a random-weight copy of the model.
//!
//! Some "findings" come from the architecture and the stimuli alone (a rendered word differs
//! from a photo in pixels whatever the weights are). Re-running the audit on a copy whose
//! every weight tensor is re-drawn from a normal distribution with the tensor's own mean and sd
//! (seeded; made in memory at load time, see [`crate::model::ModelEdit`]) or on a given
//! random-weight bundle separates those: a finding whose id also appears in the null is marked
//! *structural*, and the report states the null's finding count. Zero-shot findings
//! (denigration, typographic) are not compared: random weights may give every image one label,
//! which says nothing about the trained model's labels.

use std::path::Path;

use serde::Serialize;

use super::{AnalysisError, AnalyzeOptions, RunData, Summary, analyze};
use crate::run::{RunOptions, run};
use crate::spec::AuditSpec;
use crate::spec::analyses::NullBaselineDoc;

/// The null baseline as reported.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct NullSummary {
    /// How the null model was made.
    pub model: String,
    /// Seed of the re-drawn weights (None with a given bundle).
    pub seed: Option<u64>,
    /// The null run folder.
    pub run: String,
    /// Findings of the same audit on the null model.
    pub findings: usize,
    /// Their ids.
    pub finding_ids: Vec<String>,
    /// Findings of the real model that the null also raises.
    pub structural: usize,
}

/// Runs the audit on the null model into `run_dir/null` and analyses it.
pub fn run_null(
    spec: &AuditSpec,
    doc: &NullBaselineDoc,
    run_dir: &Path,
    options: &AnalyzeOptions,
) -> Result<(NullSummary, Summary), AnalysisError> {
    let mut null_spec = spec.clone();
    null_spec.doc.analyses.null_baseline = None;
    null_spec.doc.analyses.ablation = None;
    let mut opts = RunOptions::new(run_dir.join("null"));
    opts.session = options.session;
    opts.progress = options.progress;
    let (model, seed) = match &doc.bundle {
        Some(b) => {
            let base = spec.path.parent().unwrap_or(Path::new("."));
            null_spec.bundle = base.join(&b.value);
            (format!("random-weight bundle {}", null_spec.bundle.display()), None)
        }
        None => {
            let seed = doc.seed.unwrap_or(spec.seed);
            opts.edit.randomize = Some(seed);
            (
                format!("{} with every weight tensor re-drawn (normal, own mean and sd)", spec.bundle.display()),
                Some(seed),
            )
        }
    };
    if opts.progress != crate::run::progress::ProgressMode::Quiet {
        eprintln!("null baseline: the audit again on {model}, into {}", opts.out.display());
    }
    run(&null_spec, &opts)?;
    let data = RunData::load(std::slice::from_ref(&opts.out))?;
    let null_options = AnalyzeOptions { session: options.session, edit: opts.edit.clone(), progress: options.progress };
    let null = analyze(&null_spec, &data, &null_options)?.summary;
    let summary = NullSummary {
        model,
        seed,
        run: opts.out.display().to_string(),
        findings: null.findings.len(),
        finding_ids: null.findings.iter().map(|f| f.id.clone()).collect(),
        structural: 0,
    };
    Ok((summary, null))
}

/// Analyses whose findings rest on zero-shot labels. Random weights are no null for them (a
/// random network may send every image to one label), so they are never marked structural.
pub const ZERO_SHOT: [&str; 2] = ["denigration", "typographic"];

/// Marks the findings of `summary` that the null also raised as structural, except those of
/// zero-shot analyses ([`ZERO_SHOT`]), which a note says were not compared.
pub fn mark_structural(summary: &mut Summary, mut null: NullSummary) {
    let ids: std::collections::BTreeSet<&str> = null.finding_ids.iter().map(String::as_str).collect();
    for f in &mut summary.findings {
        f.structural = !ZERO_SHOT.contains(&f.analysis.as_str()) && ids.contains(f.id.as_str());
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
