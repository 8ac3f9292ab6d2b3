//! `clip-audit model inspect`.

use std::path::Path;

use anyhow::Context;

use super::Outcome;
use crate::model::SessionConfig;
use crate::model::inspect::inspect;

/// Prints the inspection of `target` as text or JSON.
pub fn run(target: &Path, json: bool, config: &SessionConfig) -> anyhow::Result<Outcome> {
    let report = inspect(target, config).with_context(|| format!("cannot inspect {}", target.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(Outcome::Pass)
}
