//! The feature-visualization cache in a run folder: what the audit writes for each neuron
//! card's image and what the TUI reads back.
//!
//! A visualization costs many forward and backward passes of the image tower, so each is kept
//! in `RUN/visualizations/` under a key of everything that determines it (computed by
//! `audit::visualizations`): `<stem>-<16 hex digits of the key>.png` and, beside it, its
//! [`Visualized`] record as `.json`, written after the PNG (both whole or not at all), so a
//! record always has its picture. The stem is the unit's card anchor (`unit-<tap>-<unit>`, the
//! tap through [`crate::files::safe_component`]). It belongs to the run layer because it is a
//! file of the run folder, beside the store, that two later layers share.

use std::path::{Path, PathBuf};

/// The cache folder, under the run folder.
pub const CACHE_DIR: &str = "visualizations";

/// A cached visualization's record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Visualized {
    /// The PNG (the file beside the record when read back).
    pub png: PathBuf,
    /// The unit's pooled activation on the saved image (untransformed, 8-bit).
    pub activation: f32,
    /// Its activation on the starting image.
    pub initial: f32,
    /// Steps.
    pub steps: usize,
    /// Seed.
    pub seed: u64,
    /// Seconds the optimisation took when made.
    pub seconds: f64,
    /// The device it was made on.
    pub device: String,
}

/// The start of every cache file name of a unit: `unit-<tap>-<unit>-`.
pub fn unit_prefix(tap: &str, unit: usize) -> String {
    format!("unit-{}-{unit}-", crate::files::safe_component(tap))
}

/// The PNG and record paths of a unit's visualization under `key` (a hex digest).
pub fn paths(run_dir: &Path, tap: &str, unit: usize, key: &str) -> (PathBuf, PathBuf) {
    let stem = format!("{}{}", unit_prefix(tap, unit), &key[..key.len().min(16)]);
    let dir = run_dir.join(CACHE_DIR);
    (dir.join(format!("{stem}.png")), dir.join(format!("{stem}.json")))
}

/// The record under `key`, when it and its PNG are there and it parses.
pub fn read(run_dir: &Path, tap: &str, unit: usize, key: &str) -> Option<Visualized> {
    let (png, meta) = paths(run_dir, tap, unit, key);
    let record: Visualized = serde_json::from_slice(&std::fs::read(&meta).ok()?).ok()?;
    png.is_file().then_some(Visualized { png, ..record })
}

/// Writes the PNG, then its record, each whole or not at all.
pub fn write(
    run_dir: &Path,
    tap: &str,
    unit: usize,
    key: &str,
    png_bytes: &[u8],
    record: &Visualized,
) -> Result<Visualized, String> {
    let (png, meta) = paths(run_dir, tap, unit, key);
    if let Some(dir) = png.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    crate::files::write_atomic(&png, png_bytes).map_err(|e| format!("{e:#}"))?;
    let stored = Visualized { png: png.clone(), ..record.clone() };
    let json = serde_json::to_vec_pretty(&stored).map_err(|e| e.to_string())?;
    crate::files::write_atomic(&meta, &json).map_err(|e| format!("{e:#}"))?;
    Ok(stored)
}
