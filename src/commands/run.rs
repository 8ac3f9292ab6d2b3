//! `clip-audit run`: fill the store, then (unless told not to, or running one shard) analyse.

use anyhow::Context;

use super::analyze::{Output, analyze_and_write, load_spec};
use super::{Outcome, session_config};
use crate::analysis::RunData;
use crate::audit::AuditOptions;
use crate::cli::RunArgs;
use crate::run::progress::{ProgressMode, human};
use crate::run::{RunOptions, default_run_dir, run as run_audit};

/// Loads the spec, runs it, prints a summary, analyses.
pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let spec = load_spec(&args.spec, &args.vars.set)?;
    if !(0.0..=1.0).contains(&args.max_skipped) {
        anyhow::bail!("--max-skipped must be a fraction between 0 and 1, not {}", args.max_skipped);
    }
    let mut opts = RunOptions::new(args.out.clone().unwrap_or_else(|| default_run_dir(&spec)));
    opts.session = session_config(&args.runtime);
    opts.batch = args.batch;
    opts.shard = args.shard;
    opts.max_skipped = args.max_skipped;
    opts.part_rows = args.part_rows.max(1);
    opts.progress = if args.quiet { ProgressMode::Quiet } else { ProgressMode::Auto };
    let summary = run_audit(&spec, &opts).with_context(|| format!("run of {} failed", args.spec.display()))?;
    if !args.quiet {
        eprintln!(
            "run `{}` on {}: {} stimuli, {} computed, {} from the store, {} skipped{}{} in {}",
            spec.id,
            summary.device,
            summary.total,
            summary.computed,
            summary.cached,
            summary.skipped,
            if summary.non_finite > 0 { format!(" ({} non-finite)", summary.non_finite) } else { String::new() },
            if summary.excluded > 0 {
                format!("; {} image-source rows excluded by the spec", summary.excluded)
            } else {
                String::new()
            },
            human(summary.seconds)
        );
        eprintln!("store: {}", summary.store_dir.display());
    }
    if args.no_analyze {
        return Ok(Outcome::Pass);
    }
    if args.shard.is_some() {
        if !args.quiet {
            eprintln!(
                "one shard is not the whole audit: when every shard is done, run `clip-audit analyze` on all the shard folders"
            );
        }
        return Ok(Outcome::Pass);
    }
    let data = RunData::load(std::slice::from_ref(&opts.out)).context("cannot read the run back")?;
    let options = AuditOptions { session: opts.session, progress: opts.progress };
    let dir = opts.out.join("analysis");
    let output = Output::new(&dir, &args.gate, &spec, &args.reports, args.quiet);
    analyze_and_write(&spec, &data, &opts.out, &options, &output)
}
