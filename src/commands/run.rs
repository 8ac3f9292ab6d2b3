//! `clip-audit run`.

use anyhow::Context;

use super::{Outcome, session_config};
use crate::cli::RunArgs;
use crate::run::progress::{ProgressMode, human};
use crate::run::{RunOptions, default_run_dir, run as run_audit};
use crate::spec::{AuditSpec, SpecError};

/// Loads the spec, runs it, prints a summary.
pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let spec = match AuditSpec::load(&args.spec, &args.vars.set) {
        Ok(s) => s,
        Err(SpecError::Invalid(d)) => {
            eprintln!("{d}\n");
            anyhow::bail!("{} is invalid; nothing was run", args.spec.display());
        }
        Err(e) => return Err(e.into()),
    };
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
            "run `{}` on {}: {} stimuli, {} computed, {} from the store, {} skipped{} in {}",
            spec.id,
            summary.device,
            summary.total,
            summary.computed,
            summary.cached,
            summary.skipped,
            if summary.non_finite > 0 { format!(" ({} non-finite)", summary.non_finite) } else { String::new() },
            human(summary.seconds)
        );
        eprintln!("store: {}", summary.store_dir.display());
    }
    Ok(Outcome::Pass)
}
