//! `clip-audit analyze`, and the analysis step of `clip-audit run`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Outcome, session_config};
use crate::analysis::{RunData, Summary};
use crate::audit::{AuditOptions, audit};
use crate::cli::{AnalyzeArgs, FailOn, GateArgs, ReportArgs};
use crate::files::write_atomic;
use crate::report::{ReportMeta, diff as rdiff, write_reports};
use crate::run::progress::ProgressMode;
use crate::run::store::write_parquet_atomic;
use crate::spec::analyses::Severity;
use crate::spec::{AuditSpec, SpecError};

/// Loads a spec, printing its diagnostics when it is invalid.
pub fn load_spec(path: &Path, set: &[(String, String)]) -> anyhow::Result<AuditSpec> {
    match AuditSpec::load(path, set) {
        Ok(s) => {
            if !s.warnings.is_empty() {
                eprintln!("{}\n", s.warnings);
            }
            Ok(s)
        }
        Err(SpecError::Invalid(d)) => {
            eprintln!("{d}\n");
            anyhow::bail!("{} is invalid; nothing was run", path.display());
        }
        Err(e) => Err(e.into()),
    }
}

/// The severity at which findings fail the command.
fn fail_level(flag: Option<FailOn>, spec: &AuditSpec) -> Option<Severity> {
    flag.unwrap_or(spec.fail_on).threshold()
}

/// Where the analysis goes and how it ends.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    /// Folder for summary.json and selectivity.parquet.
    pub dir: &'a Path,
    /// Severity that fails the command.
    pub fail_on: Option<Severity>,
    /// Whether inconclusive checks at that severity fail it too.
    pub fail_on_inconclusive: bool,
    /// Reports and baseline.
    pub reports: &'a ReportArgs,
    /// No summary on stderr.
    pub quiet: bool,
}

impl<'a> Output<'a> {
    /// Where the analysis of `spec` goes and when it fails, from the command line.
    pub fn new(dir: &'a Path, gate: &GateArgs, spec: &AuditSpec, reports: &'a ReportArgs, quiet: bool) -> Self {
        Output {
            dir,
            fail_on: fail_level(gate.fail_on, spec),
            fail_on_inconclusive: gate.fail_on_inconclusive,
            reports,
            quiet,
        }
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
    let options = AuditOptions {
        session: session_config(&args.runtime),
        progress: if args.quiet { ProgressMode::Quiet } else { ProgressMode::Auto },
    };
    let output = Output::new(&out, &args.gate, &spec, &args.reports, args.quiet);
    analyze_and_write(&spec, &data, &args.runs[0], &options, &output)
}

/// Runs the analyses (and the null baseline and ablations, which run the model again under
/// `run_dir`), writes summary.json and selectivity.parquet under `out`, prints a short
/// summary, and says whether findings fail the command.
pub fn analyze_and_write(
    spec: &AuditSpec,
    data: &RunData,
    run_dir: &Path,
    options: &AuditOptions,
    output: &Output<'_>,
) -> anyhow::Result<Outcome> {
    let Output { dir: out, fail_on, fail_on_inconclusive, reports, quiet } = *output;
    let started = std::time::Instant::now();
    let analysis = audit(spec, data, run_dir, options).with_context(|| format!("analysis of `{}` failed", spec.id))?;
    // Activations are read from the store as the analyses go; a read that failed midway left
    // NaN behind, so nothing is written from it.
    if let Some(e) = data.io_error() {
        anyhow::bail!("analysis of `{}` stopped: {e}; nothing was written", spec.id);
    }
    let mut written = write_analysis(&analysis, out)?;
    let s = &analysis.summary;
    let meta = ReportMeta {
        tool: format!("clip-audit {}", crate::VERSION),
        generated_at: crate::clock::now_rfc3339(),
        spec: spec.path.display().to_string(),
        reviews: Vec::new(),
        spec_location: crate::report::sarif::artifact_location(&spec.path),
        cards: if !spec.formats.iter().any(|f| f == "html") {
            if reports.visualize_units.is_some_and(|n| n > 0) && !quiet {
                eprintln!(
                    "note: --visualize-units does nothing here: the spec's formats leave out html, where the cards are"
                );
            }
            Vec::new()
        } else if !reports.no_reports {
            let contents = data.stimuli.iter().map(|r| (r.id.clone(), r.content.clone())).collect();
            let mut cards = crate::report::cards::cards(s, &contents, crate::report::cards::DEFAULT_PER_BLOCK);
            let units: Vec<(String, usize)> =
                cards.iter().map(|c| (c.selective.tap.clone(), c.selective.unit)).collect();
            let made: Vec<crate::report::cards::MadeVisualization> = crate::audit::visualizations::visualize_units(
                spec,
                run_dir,
                &units,
                reports.visualize_units,
                options,
                quiet,
            )
            .into_iter()
            .map(|v| crate::report::cards::MadeVisualization {
                tap: v.tap,
                unit: v.unit,
                outcome: v.outcome.map(|f| (f.png, f.activation, f.steps, f.seed)),
            })
            .collect();
            crate::report::cards::attach_visualizations(&mut cards, &made);
            cards
        } else {
            Vec::new()
        },
    };
    let mut report_dir = None;
    if !reports.no_reports && !spec.formats.is_empty() {
        let base = reports.reports.clone().unwrap_or_else(|| spec.output_dir.clone());
        let (dir, files) = write_reports(s, &meta, &spec.formats, &base)?;
        written.extend(files);
        report_dir = Some(dir);
    }
    if !quiet {
        print_summary(s, started.elapsed().as_secs_f64());
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
        if let Some(dir) = &report_dir
            && spec.formats.iter().any(|f| f == "html")
        {
            eprintln!("open {} in a browser", dir.join("report.html").display());
        }
    }
    if let Some(old) = &reports.baseline {
        let d = against_baseline(s, old, quiet)?;
        if reports.fail_on_regression {
            let level = fail_on.map(crate::report::severity_name).unwrap_or("error");
            let regressed = fail_on.is_some() && d.regressions(level) > 0;
            // Undecided checks are not regressions, but a reviewer who asked for every check
            // to be decided still gets exit 1 for them.
            let undecided = fail_on.is_some_and(|l| fail_on_inconclusive && s.inconclusive_at_least(l) > 0);
            return Ok(if regressed || undecided { Outcome::Findings } else { Outcome::Pass });
        }
    }
    Ok(match fail_on {
        Some(level) if s.count_at_least(level) > 0 => Outcome::Findings,
        Some(level) if fail_on_inconclusive && s.inconclusive_at_least(level) > 0 => Outcome::Findings,
        _ => Outcome::Pass,
    })
}

/// Writes summary.json, the null copies' summaries and selectivity.parquet under `out`, each
/// whole or not at all; returns the files written.
fn write_analysis(analysis: &crate::analysis::Analyzed, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let summary_path = out.join("summary.json");
    let json = serde_json::to_string_pretty(&analysis.summary).context("cannot serialise the summary")?;
    write_atomic(&summary_path, json.as_bytes())?;
    let mut written: Vec<PathBuf> = vec![summary_path];
    for (k, null) in analysis.null.iter().enumerate() {
        let path = out.join(format!("null-summary-{}.json", k + 1));
        write_atomic(&path, serde_json::to_string_pretty(null).context("cannot serialise the summary")?.as_bytes())?;
        written.push(path);
    }
    if let Some(grid) = &analysis.grid {
        let path = out.join("selectivity.parquet");
        let mut df = grid.to_frame().context("cannot build the selectivity table")?;
        write_parquet_atomic(&path, &mut df)?;
        written.push(path);
    }
    Ok(written)
}

/// The findings compared with a baseline report's (`--baseline`), printed unless quiet.
fn against_baseline(s: &Summary, old: &Path, quiet: bool) -> anyhow::Result<rdiff::Diff> {
    let new: Vec<rdiff::FindingRecord> = s
        .findings
        .iter()
        .map(|f| rdiff::FindingRecord {
            id: f.id.clone(),
            severity: crate::report::severity_name(f.severity).to_owned(),
            statement: f.statement.clone(),
            value: f.statistic.value.is_finite().then_some(f.statistic.value),
            ci: f.statistic.ci,
            review: None,
        })
        .collect();
    let d = rdiff::diff(&rdiff::read_findings(old)?, &new);
    if !quiet {
        eprintln!("against {}: {}", old.display(), rdiff::render(&d));
    }
    Ok(d)
}

fn print_summary(s: &Summary, seconds: f64) {
    let count = |sev: Severity| s.findings.iter().filter(|f| f.severity == sev).count();
    eprintln!(
        "analysis of `{}`: {} stimuli; {} findings ({} error, {} warning, {} info), {} inconclusive checks in {:.1}s",
        s.audit,
        s.stimuli.analysed,
        s.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
        s.inconclusive.len(),
        seconds
    );
    for f in s.findings.iter().take(10) {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let structural =
            if f.structural { " (structural: not distinguishable from the random-weight copies)" } else { "" };
        eprintln!("  [{sev}] {}{structural}\n          {}", f.id, f.statement);
    }
    if s.findings.len() > 10 {
        eprintln!("  ... and {} more in summary.json", s.findings.len() - 10);
    }
    if !s.inconclusive.is_empty() {
        let errors = s.inconclusive_at_least(Severity::Error);
        eprintln!(
            "  {} checks are inconclusive ({errors} at error level): too few observations, or an interval across the limit; see `inconclusive` in summary.json or the report",
            s.inconclusive.len()
        );
    }
    if let Some(n) = &s.null_baseline {
        eprintln!(
            "  null baseline: a median of {} findings on {}; {} of the findings do not exceed it (structural)",
            n.findings, n.model, n.structural
        );
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
