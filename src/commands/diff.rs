//! `clip-audit diff`: two reports (or summaries) compared finding by finding, so CI can fail
//! on regressions only.

use super::Outcome;
use crate::cli::DiffArgs;
use crate::report::diff as rdiff;

/// `clip-audit diff`.
pub fn run(args: &DiffArgs) -> anyhow::Result<Outcome> {
    let d = rdiff::diff(&rdiff::read_findings(&args.old)?, &rdiff::read_findings(&args.new)?);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", rdiff::render(&d));
    }
    let Some(level) = args.fail_on.threshold() else { return Ok(Outcome::Pass) };
    let level = crate::report::severity_name(level);
    Ok(if args.fail_on_regression && d.regressions(level) > 0 { Outcome::Findings } else { Outcome::Pass })
}
