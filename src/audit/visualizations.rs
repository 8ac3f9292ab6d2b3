//! Feature visualizations for the report's neuron cards, within the spec's budget and cached in
//! the run folder.
//!
//! A card's unit is shown, as Goh et al. show theirs, by an image optimised to excite it
//! (`model::visualize`) beside its dataset examples. Each costs `steps` forward and backward
//! passes of the image tower (about 0.3 s on the organism, about 20 s for ViT-B/32 on
//! a 2-core CPU), so the spec gives a budget (`outputs.feature_visualization.units`), spent on
//! cited units first, and every result is kept in `RUN/visualizations/` (format:
//! `run::visualizations`) under a key of everything that determines it: the SHA-256 of every
//! file of the model bundle (external weights included, as the run's provenance hashes them),
//! the preprocessing, the tapped tensor with its layout and pooling, the unit, the steps, the
//! seed and the optimiser's settings. A rerun, or a report written
//! again, pays only for what is new. A unit that cannot be visualized (an operator without a
//! gradient rule, a text tap) is reported with why, and the report still comes out.

use std::path::{Path, PathBuf};

use crate::model::manifest::{Encoder, ModelManifest};
use crate::model::visualize::{Objective, Settings, Target, robustness_for, visualize};
use crate::run::visualizations::{self as cache, Visualized};
use crate::spec::AuditSpec;

use super::AuditOptions;

/// Version of the cache key: bump when the optimisation changes what it makes.
const CACHE_VERSION: u32 = 1;

/// One unit's visualization, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitVisualization {
    /// Tap name.
    pub tap: String,
    /// Unit index.
    pub unit: usize,
    /// The result.
    pub outcome: Result<Visualized, String>,
    /// Whether it was read from the cache.
    pub cached: bool,
}

/// Visualizes `units` (tap, unit) in order until the budget is spent (the spec's, or
/// `budget_units` when given: `--visualize-units`), skipping text taps; results are cached
/// under `run_dir`. Prints a line per unit unless `quiet`.
pub fn visualize_units(
    spec: &AuditSpec,
    run_dir: &Path,
    units: &[(String, usize)],
    budget_units: Option<usize>,
    options: &AuditOptions,
    quiet: bool,
) -> Vec<UnitVisualization> {
    let mut budget = spec.feature_visualization;
    if let Some(n) = budget_units {
        budget.units = n;
    }
    if budget.units == 0 || units.is_empty() {
        return Vec::new();
    }
    let manifest = match ModelManifest::load(&spec.bundle) {
        Ok(m) => m,
        Err(e) => {
            return units
                .iter()
                .take(budget.units)
                .map(|(tap, unit)| UnitVisualization {
                    tap: tap.clone(),
                    unit: *unit,
                    outcome: Err(format!("the model bundle could not be read: {e}")),
                    cached: false,
                })
                .collect();
        }
    };
    let model_hash = crate::run::provenance::hash_bundle(&manifest)
        .map(|files| crate::hashing::sha256_hex(format!("{files:?}").as_bytes()));
    let settings = Settings {
        steps: budget.steps,
        seed: spec.seed,
        robustness: robustness_for(manifest.preprocess.size as usize),
        ..Settings::default()
    };
    let image_units: Vec<&(String, usize)> = units
        .iter()
        .filter(|(tap, _)| manifest.tap(tap).is_some_and(|t| t.encoder == Encoder::Image))
        .take(budget.units)
        .collect();
    let mut out = Vec::new();
    for (k, (tap, unit)) in image_units.iter().enumerate() {
        let result = match &model_hash {
            Err(e) => Err(format!("cannot hash the model bundle: {e}")),
            Ok(hash) => one(&manifest, hash, tap, *unit, &settings, run_dir, options),
        };
        let cached = matches!(result, Ok((_, true)));
        let outcome = result.map(|(v, _)| v);
        if !quiet {
            let what = match &outcome {
                Ok(_) if cached => "cached".to_owned(),
                Ok(v) => format!(
                    "{:.1} s on {}, activation {:.3} (from {:.3})",
                    v.seconds, v.device, v.activation, v.initial
                ),
                Err(e) => format!("failed: {e}"),
            };
            eprintln!(
                "feature visualization {}/{}: {tap} unit {unit} ({} steps): {what}",
                k + 1,
                image_units.len(),
                settings.steps
            );
        }
        out.push(UnitVisualization { tap: tap.clone(), unit: *unit, outcome, cached });
    }
    out
}

/// One unit, from the cache (true) or made and cached (false).
fn one(
    manifest: &ModelManifest,
    model_hash: &str,
    tap_name: &str,
    unit: usize,
    settings: &Settings,
    run_dir: &Path,
    options: &AuditOptions,
) -> Result<(Visualized, bool), String> {
    let tap = manifest.tap(tap_name).ok_or_else(|| format!("no tap {tap_name:?} in the model bundle"))?;
    let key = crate::hashing::sha256_hex(
        format!(
            "clip-audit feature visualization v{CACHE_VERSION}|{model_hash}|{:?}|{}|{:?}|{:?}|{unit}|{:?}",
            manifest.preprocess, tap.tensor, tap.layout, tap.pooling, settings
        )
        .as_bytes(),
    );
    if let Some(cached) = cache::read(run_dir, tap_name, unit, &key) {
        return Ok((cached, true));
    }
    let target = Target::tap(tap);
    let objective = Objective::Unit { unit, negative: false };
    let v = visualize(manifest, &target, &objective, settings, &options.session, &mut |_, _| {})
        .map_err(|e| format!("{e:#}"))?;
    let img = v.images.first().ok_or("no image was made")?;
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).map_err(|e| e.to_string())?;
    let record = Visualized {
        png: PathBuf::new(),
        activation: v.objective.first().copied().unwrap_or(f32::NAN),
        initial: v.initial.first().copied().unwrap_or(f32::NAN),
        steps: settings.steps,
        seed: settings.seed,
        seconds: v.seconds,
        device: v.device.to_string(),
    };
    Ok((cache::write(run_dir, tap_name, unit, &key, &bytes, &record)?, false))
}
