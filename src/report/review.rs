//! Review decisions: a reviewer confirms or dismisses a finding, with a note; the decisions
//! are kept in `review.json` beside the report (written whole or not at all), carried into
//! later reports of the same audit, and shown by diffs and model cards.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::{FileError, write_atomic};

/// The file name beside a report.
pub const FILE: &str = "review.json";

/// A reviewer's verdict on a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The finding is real and matters.
    Confirmed,
    /// Not a problem (explained in the note).
    Dismissed,
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    /// The finding id.
    pub finding: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub note: String,
    /// Who (`$USER`).
    pub by: String,
    /// When (UTC, RFC 3339).
    pub at: String,
}

/// The decisions of one report folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Layout version.
    pub format_version: u32,
    /// Decisions, one per finding (the latest wins).
    pub decisions: Vec<Decision>,
}

impl Review {
    /// Reads `dir/review.json`; an absent file is an empty review.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| {
                anyhow::anyhow!("{} is not a review file ({e}); move it away to start afresh", path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self { format_version: 1, decisions: Vec::new() }),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes `dir/review.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, FileError> {
        let path = dir.join(FILE);
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The decision on a finding.
    pub fn get(&self, finding: &str) -> Option<&Decision> {
        self.decisions.iter().rev().find(|d| d.finding == finding)
    }

    /// Records a decision by the current user now, replacing an earlier one.
    pub fn decide(&mut self, finding: &str, verdict: Verdict, note: &str) {
        self.decisions.retain(|d| d.finding != finding);
        self.decisions.push(Decision {
            finding: finding.to_owned(),
            verdict,
            note: note.to_owned(),
            by: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            at: crate::clock::now_rfc3339(),
        });
    }
}

/// A verdict in words.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Confirmed => "confirmed",
        Verdict::Dismissed => "dismissed",
    }
}
