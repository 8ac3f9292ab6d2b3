//! `clip-audit analyze`, and the analysis step of `clip-audit run`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Outcome, session_config};
use crate::analysis::{AnalyzeOptions, RunData, Summary, audit};
use crate::cli::{AnalyzeArgs, FailOn};
use crate::run::progress::ProgressMode;
use crate::run::store::{write_atomic, write_parquet_atomic};
use crate::spec::analyses::Severity;
use crate::spec::{AuditSpec, SpecError};

/// Loads a spec, printing its diagnostics when it is invalid.
pub fn load_spec(path: &Path, set: &[(String, String)]) -> anyhow::Result<AuditSpec> {
    match AuditSpec::load(path, set) {
        Ok(s) => Ok(s),
        Err(SpecError::Invalid(d)) => {
            eprintln!("{d}\n");
            anyhow::bail!("{} is invalid; nothing was run", path.display());
        }
        Err(e) => Err(e.into()),
    }
}

/// The severity at which findings fail the command.
pub fn fail_level(flag: Option<FailOn>, spec: &AuditSpec) -> Option<Severity> {
    match flag {
        None => Some(spec.fail_on),
        Some(FailOn::Info) => Some(Severity::Info),
        Some(FailOn::Warning) => Some(Severity::Warning),
        Some(FailOn::Error) => Some(Severity::Error),
        Some(FailOn::Never) => None,
    }
}

/// `clip-audit analyze`.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<Outcome> {
    let data = RunData::load(&args.runs).context("cannot read the run")?;
    let spec = match &args.spec {
        Some(p) => load_spec(p, &args.vars.set)?,
        None => {
            let Some((path, mut vars)) = data.recorded_spec() else {
                anyhow::bail!(
                    "{} has no provenance naming its spec; pass --spec",
                    args.runs.first().map(|p| p.display().to_string()).unwrap_or_default()
                );
            };
            vars.retain(|(k, _)| !args.vars.set.iter().any(|(o, _)| o == k));
            vars.extend(args.vars.set.iter().cloned());
            load_spec(&path, &vars).with_context(|| format!("the spec recorded in the run ({})", path.display()))?
        }
    };
    let out = args.out.clone().unwrap_or_else(|| args.runs[0].join("analysis"));
    let options = AnalyzeOptions {
        session: session_config(&args.runtime),
        progress: if args.quiet { ProgressMode::Quiet } else { ProgressMode::Auto },
        ..AnalyzeOptions::default()
    };
    analyze_and_write(&spec, &data, &args.runs[0], &options, &out, fail_level(args.fail_on, &spec), args.quiet)
}

/// Runs the analyses (and the null baseline and ablations, which run the model again under
/// `run_dir`), writes summary.json and selectivity.parquet under `out`, prints a short
/// summary, and says whether findings fail the command.
pub fn analyze_and_write(
    spec: &AuditSpec,
    data: &RunData,
    run_dir: &Path,
    options: &AnalyzeOptions,
    out: &Path,
    fail_on: Option<Severity>,
    quiet: bool,
) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let analysis = audit(spec, data, run_dir, options).with_context(|| format!("analysis of `{}` failed", spec.id))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let summary_path = out.join("summary.json");
    let json = serde_json::to_string_pretty(&analysis.summary).context("cannot serialise the summary")?;
    write_atomic(&summary_path, json.as_bytes())?;
    let mut written: Vec<PathBuf> = vec![summary_path];
    if let Some(null) = &analysis.null {
        let path = out.join("null-summary.json");
        write_atomic(&path, serde_json::to_string_pretty(null).context("cannot serialise the summary")?.as_bytes())?;
        written.push(path);
    }
    if let Some(grid) = &analysis.grid {
        let path = out.join("selectivity.parquet");
        let mut df = grid.to_frame().context("cannot build the selectivity table")?;
        write_parquet_atomic(&path, &mut df)?;
        written.push(path);
    }
    let s = &analysis.summary;
    if !quiet {
        print_summary(s, started.elapsed().as_secs_f64());
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(match fail_on {
        Some(level) if s.count_at_least(level) > 0 => Outcome::Findings,
        _ => Outcome::Pass,
    })
}

fn print_summary(s: &Summary, seconds: f64) {
    let count = |sev: Severity| s.findings.iter().filter(|f| f.severity == sev).count();
    eprintln!(
        "analysis of `{}`: {} stimuli; {} findings ({} error, {} warning, {} info) in {:.1}s",
        s.audit,
        s.stimuli.analysed,
        s.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
        seconds
    );
    for f in s.findings.iter().take(10) {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let structural = if f.structural { " (structural: the null baseline raises it too)" } else { "" };
        eprintln!("  [{sev}] {}{structural}\n          {}", f.id, f.statement);
    }
    if s.findings.len() > 10 {
        eprintln!("  ... and {} more in summary.json", s.findings.len() - 10);
    }
    if let Some(n) = &s.null_baseline {
        eprintln!("  null baseline: {} findings on {}", n.findings, n.model);
    }
    if let Some(a) = &s.ablation {
        for r in &a.results {
            eprintln!(
                "  ablation: {} unit {} → {} {:.3} → {:.3} (change {:+.3}, 95% CI {:+.3} to {:+.3})",
                r.tap, r.unit, r.statistic, r.before, r.after, r.change, r.ci[0], r.ci[1]
            );
        }
    }
    for n in &s.notes {
        eprintln!("  note: {n}");
    }
}
