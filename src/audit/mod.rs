//! The whole audit of a run, one level above the analyses: analyse the run data, then run
//! the edited models the spec asks for (the null baseline's random-weight copies, the
//! ablations) and compare. Analyses are functions of run data and never call the runner; this
//! layer is the only one below the commands that does both, so data flows one way: run →
//! analysis → audit → report.

pub mod ablation;
pub mod null;
pub mod visualizations;

use std::path::Path;

use crate::analysis::{AnalysisError, Analyzed, RunData, analyze};
use crate::model::SessionConfig;
use crate::run::progress::ProgressMode;
use crate::spec::AuditSpec;

/// How the audit runs the edited models (null baseline, ablation); the analyses themselves
/// need no settings beyond the spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditOptions {
    /// Session of those model runs.
    pub session: SessionConfig,
    /// Progress display of those runs.
    pub progress: ProgressMode,
}

/// [`analyze`], then the null baseline and the ablations when the spec asks for them (both
/// run the model again, into `run_dir/null` and `run_dir/ablation/`).
pub fn audit(
    spec: &AuditSpec,
    data: &RunData,
    run_dir: &Path,
    options: &AuditOptions,
) -> Result<Analyzed, AnalysisError> {
    let mut analysis = analyze(spec, data)?;
    // The null baseline and ablation run the model again; when that fails, the analyses
    // already done still stand, with a note saying what is missing and why.
    if let Some(doc) = &spec.doc.analyses.null_baseline {
        match null::run_null(spec, doc, run_dir, options) {
            Ok((null, copies)) => {
                crate::analysis::null::mark_structural(&mut analysis.summary, null, &copies);
                analysis.null = copies;
            }
            Err(e) => analysis.summary.notes.push(format!("null_baseline: not done: {e}")),
        }
    }
    if let Some(doc) = &spec.doc.analyses.ablation {
        match ablation::run_ablation(spec, doc, &analysis.summary, data, run_dir, options) {
            Ok(a) => {
                if a.results.is_empty() {
                    analysis.summary.notes.push(
                        "ablation: no typographic or association finding cites a unit; nothing was ablated".into(),
                    );
                }
                analysis.summary.ablation = Some(a);
            }
            Err(e) => analysis.summary.notes.push(format!("ablation: not done: {e}")),
        }
    }
    Ok(analysis)
}
