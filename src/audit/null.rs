//! Running the null baseline's random-weight copies: the audit again on each copy (its own
//! run folder and store under `RUN_DIR/null/copy-K`), analysed with the same spec less the
//! zero-shot analyses, the null baseline and ablation. The comparison itself, a function of
//! the summaries, is `crate::analysis::null`.

use std::path::Path;

use crate::analysis::null::{DEFAULT_COPIES, NullCopy, NullSummary};
use crate::analysis::{AnalysisError, RunData, Summary, analyze};
use crate::run::{RunOptions, run};
use crate::spec::AuditSpec;
use crate::spec::analyses::NullBaselineDoc;

/// Runs the audit on each null copy into `run_dir/null/copy-K` and analyses it, leaving out
/// the zero-shot analyses ([`crate::analysis::null::ZERO_SHOT`]) and the null baseline and ablation themselves.
pub fn run_null(
    spec: &AuditSpec,
    doc: &NullBaselineDoc,
    run_dir: &Path,
    options: &super::AuditOptions,
) -> Result<(NullSummary, Vec<Summary>), AnalysisError> {
    let mut null_spec = spec.clone();
    let analyses = &mut null_spec.doc.analyses;
    analyses.null_baseline = None;
    analyses.ablation = None;
    analyses.denigration = None;
    analyses.typographic = None;
    let base_seed = doc.seed.unwrap_or(spec.seed);
    let given = doc.bundle.as_ref().map(|b| spec.path.parent().unwrap_or(Path::new(".")).join(&b.value));
    let copies = if given.is_some() { 1 } else { doc.copies.as_ref().map_or(DEFAULT_COPIES, |c| c.value) };
    let model = match &given {
        Some(b) => format!("random-weight bundle {}", b.display()),
        None => format!(
            "{} with every weight tensor re-drawn (normal, own mean and sd), {copies} copies (seeds {base_seed} to {})",
            spec.bundle.display(),
            base_seed.wrapping_add(copies - 1)
        ),
    };
    let folder = run_dir.join("null");
    if options.progress != crate::run::progress::ProgressMode::Quiet {
        eprintln!("null baseline: the audit again on {model}, into {}", folder.display());
    }
    let mut reports = Vec::new();
    let mut summaries = Vec::new();
    for k in 0..copies {
        let mut opts = RunOptions::new(folder.join(format!("copy-{}", k + 1)));
        opts.session = options.session;
        opts.progress = options.progress;
        let seed = match &given {
            Some(b) => {
                null_spec.bundle = b.clone();
                None
            }
            None => {
                opts.edit.randomize = Some(base_seed.wrapping_add(k));
                Some(base_seed.wrapping_add(k))
            }
        };
        run(&null_spec, &opts)?;
        let data = RunData::load(std::slice::from_ref(&opts.out))?;
        let null = analyze(&null_spec, &data)?.summary;
        if let Some(message) = data.io_error() {
            return Err(AnalysisError::Data { path: opts.out.clone(), message });
        }
        reports.push(NullCopy {
            seed,
            run: opts.out.display().to_string(),
            findings: null.findings.len(),
            finding_ids: null.findings.iter().map(|f| f.id.clone()).collect(),
        });
        summaries.push(null);
    }
    let mut counts: Vec<usize> = reports.iter().map(|c| c.findings).collect();
    counts.sort_unstable();
    let mut finding_ids: Vec<String> = reports.iter().flat_map(|c| c.finding_ids.iter().cloned()).collect();
    finding_ids.sort();
    finding_ids.dedup();
    let summary = NullSummary {
        model,
        seed: given.is_none().then_some(base_seed),
        run: folder.display().to_string(),
        findings: counts[(counts.len() - 1) / 2],
        finding_ids,
        structural: 0,
        rule: format!(
            "structural unless the statistic exceeds, in the harmful direction, the same check's statistic in every one of {copies} random-weight copies (a finding that exceeds them all has an empirical one-sided p of 1/{})",
            copies + 1
        ),
        copies: reports,
    };
    Ok((summary, summaries))
}
