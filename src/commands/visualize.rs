//! `clip-audit visualize`: the feature visualization of one unit (or a text direction), the
//! picture the multimodal-neurons article puts beside each unit, made without Python.
//!
//! The optimisation is `model::visualize`; this command picks the target and objective from
//! the arguments, shows progress, writes the PNG whole, and, with `--compare`, measures the
//! unit on given images so the visualization's activation can be read against the best
//! dataset example's (the check that the image really excites its unit).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use image::{ImageFormat, RgbImage};

use super::{Outcome, session_config};
use crate::cli::{VisualizeArgs, VisualizeObjective};
use crate::imaging::fv::Robustness;
use crate::model::manifest::ModelManifest;
use crate::model::pipeline::stack;
use crate::model::visualize::{Objective, Settings, Target, Visualization, objective_values, visualize};
use crate::model::{ClipModel, Encoder, TapSelection, preprocess};
use crate::run::progress::{Progress, ProgressMode};

/// Image files `--compare` reads from a folder.
const IMAGE_EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"];

/// What `--compare` found.
#[derive(Debug, serde::Serialize)]
struct Comparison {
    images: usize,
    skipped: Vec<(PathBuf, String)>,
    best: Option<(PathBuf, f32)>,
    /// The visualization's objective divided by the best image's (when that is positive).
    ratio: Option<f32>,
}

#[derive(Debug, serde::Serialize)]
struct Summary<'a> {
    model: &'a str,
    target: &'a str,
    unit: Option<usize>,
    objective: &'a str,
    steps: usize,
    seed: u64,
    device: String,
    seconds: f64,
    seconds_per_step: f64,
    initial: &'a [f32],
    achieved: &'a [f32],
    /// The mean objective under each step's transformation, at most 64 evenly spaced steps.
    trace: Vec<(usize, f32)>,
    out: &'a Path,
    compare: Option<Comparison>,
}

/// Runs the command.
pub fn run(args: &VisualizeArgs) -> anyhow::Result<Outcome> {
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if !(args.learning_rate.is_finite() && args.learning_rate > 0.0) {
        bail!("--learning-rate must be a positive number (Lucid's default is 0.05)");
    }
    if args.objective == VisualizeObjective::Diverse && args.count < 2 {
        bail!("--objective diverse needs --count of at least 2 (images that must differ from each other)");
    }
    let manifest = ModelManifest::load(&args.model)?;
    let config = session_config(&args.runtime);
    let (target, objective) = choose(args, &manifest)?;
    let settings = Settings {
        steps: args.steps,
        learning_rate: args.learning_rate,
        seed: args.seed,
        robustness: if args.no_transforms {
            Robustness::none()
        } else {
            crate::model::visualize::robustness_for(manifest.preprocess.size as usize)
        },
        images: if args.objective == VisualizeObjective::Diverse { args.count } else { 1 },
        diversity: if args.objective == VisualizeObjective::Diverse { args.diversity } else { 0.0 },
    };
    let mode = if args.json { ProgressMode::Quiet } else { ProgressMode::Auto };
    let mut progress = Progress::new(mode, "steps", args.steps as u64);
    let result = visualize(&manifest, &target, &objective, &settings, &config, &mut |_, _| progress.inc(1))
        .with_context(|| format!("visualizing {} of {}", target.label, args.model.display()))?;
    progress.finish();
    write_png(&result, args.size, &args.out)?;
    let compare =
        if args.compare.is_empty() { None } else { Some(compare(args, &manifest, &target, &objective, &result)?) };
    let summary = Summary {
        model: &manifest.name,
        target: &target.label,
        unit: args.unit.filter(|_| args.objective != VisualizeObjective::Text),
        objective: match args.objective {
            VisualizeObjective::Unit => "unit",
            VisualizeObjective::Negative => "negative",
            VisualizeObjective::Diverse => "diverse",
            VisualizeObjective::Text => "text",
        },
        steps: args.steps,
        seed: args.seed,
        device: result.device.to_string(),
        seconds: result.seconds,
        seconds_per_step: result.seconds / args.steps as f64,
        initial: &result.initial,
        achieved: &result.objective,
        trace: {
            let every = result.trace.len().div_ceil(64).max(1);
            result
                .trace
                .iter()
                .enumerate()
                .filter(|(i, _)| i % every == 0 || *i + 1 == result.trace.len())
                .map(|(i, v)| (i + 1, *v))
                .collect()
        },
        out: &args.out,
        compare,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(Outcome::Pass)
}

/// The target tensor and objective the arguments ask for.
fn choose(args: &VisualizeArgs, manifest: &ModelManifest) -> anyhow::Result<(Target, Objective)> {
    if args.objective == VisualizeObjective::Text {
        let prompt = args.prompt.as_deref().context("--objective text needs --prompt \"...\"")?;
        let mut model = ClipModel::load(&args.model, &session_config(&args.runtime), &TapSelection::None)?;
        let emb = model.encode_texts(&[prompt])?.normalized_embeddings();
        return Ok((Target::embedding(manifest), Objective::Direction(emb.row(0).to_vec())));
    }
    let names = || {
        manifest
            .taps
            .iter()
            .filter(|t| t.encoder == Encoder::Image)
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tap_name = args
        .tap
        .as_deref()
        .with_context(|| format!("--tap is needed; the image taps of {} are: {}", manifest.path.display(), names()))?;
    let tap = manifest.tap(tap_name).with_context(|| {
        format!("no tap {tap_name:?} in {}; its image taps are: {}", manifest.path.display(), names())
    })?;
    if tap.encoder != Encoder::Image {
        bail!(
            "tap {tap_name:?} is on the text tower; feature visualization optimises an image, so pick an image tap: {}",
            names()
        );
    }
    let unit = args.unit.context("--unit is needed (a 0-based index within the tap)")?;
    let negative = args.objective == VisualizeObjective::Negative;
    Ok((Target::tap(tap), Objective::Unit { unit, negative }))
}

/// Writes the images side by side, scaled to `size` with nearest-neighbour sampling.
fn write_png(result: &Visualization, size: Option<u32>, out: &Path) -> anyhow::Result<()> {
    let side = result.images.first().map_or(0, RgbImage::width);
    let size = size.unwrap_or(side).max(1);
    let count = result.images.len() as u32;
    let mut canvas = RgbImage::new(size * count, size);
    for (i, img) in result.images.iter().enumerate() {
        let scaled = image::imageops::resize(img, size, size, image::imageops::FilterType::Nearest);
        image::imageops::replace(&mut canvas, &scaled, i64::from(i as u32 * size), 0);
    }
    let mut bytes = Vec::new();
    canvas.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::files::write_atomic(out, &bytes)?;
    Ok(())
}

/// The unit's objective on the `--compare` images, and the visualization's ratio to the best.
fn compare(
    args: &VisualizeArgs,
    manifest: &ModelManifest,
    target: &Target,
    objective: &Objective,
    result: &Visualization,
) -> anyhow::Result<Comparison> {
    let mut files = Vec::new();
    for p in &args.compare {
        if p.is_dir() {
            images_under(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut skipped = Vec::new();
    let mut loaded: Vec<(PathBuf, Vec<f32>)> = Vec::new();
    for f in files {
        match crate::imaging::decode::load_rgb(&f) {
            Ok(img) => loaded.push((f, preprocess::preprocess(&img, &manifest.preprocess))),
            Err(e) => skipped.push((f, e.to_string())),
        }
    }
    let selection = match objective {
        Objective::Direction(_) => TapSelection::None,
        Objective::Unit { .. } => TapSelection::Named(vec![target.label.clone()]),
    };
    let mut model = ClipModel::load(&args.model, &session_config(&args.runtime), &selection)?;
    let mut scores: Vec<(PathBuf, f32)> = Vec::new();
    for chunk in loaded.chunks(16) {
        let tensors: Vec<Vec<f32>> = chunk.iter().map(|(_, t)| t.clone()).collect();
        let enc = model.encode_images(stack(&tensors, manifest.preprocess.size).view())?;
        let pooled = match objective {
            Objective::Direction(_) => enc.embeddings,
            Objective::Unit { .. } => enc.taps.into_iter().next().context("the model returned no tap")?.1,
        };
        let values = objective_values(objective, &pooled)?;
        scores.extend(chunk.iter().map(|(p, _)| p.clone()).zip(values));
    }
    let best = scores.into_iter().max_by(|a, b| a.1.total_cmp(&b.1));
    let achieved = result.objective.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let ratio = best.as_ref().and_then(|(_, b)| (*b > 0.0).then(|| achieved / b));
    Ok(Comparison { images: loaded.len(), skipped, best, ratio })
}

/// Image files under `dir` and its subfolders (class folders, say), sorted.
fn images_under(dir: &Path, into: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            images_under(&p, into)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            into.push(p);
        }
    }
    Ok(())
}

fn print_summary(s: &Summary<'_>) {
    let unit = s.unit.map(|u| format!(" unit {u}")).unwrap_or_default();
    println!(
        "{} {}{unit} ({}): {} steps on {} in {:.1} s ({:.3} s/step)",
        s.model, s.target, s.objective, s.steps, s.device, s.seconds, s.seconds_per_step
    );
    let fmt = |v: &[f32]| v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(", ");
    println!(
        "  objective: {} at the start, {} now (the saved 8-bit image, untransformed)",
        fmt(s.initial),
        fmt(s.achieved)
    );
    if let Some(c) = &s.compare {
        match &c.best {
            Some((path, v)) => println!("  best of {} compared images: {v:.4} ({})", c.images, path.display()),
            None => println!("  no compared image could be read"),
        }
        match c.ratio {
            Some(r) => println!("  visualization / best example: {r:.2}x"),
            None => println!("  no ratio: the best example's objective is not positive"),
        }
        for (p, why) in &c.skipped {
            println!("  skipped {}: {why}", p.display());
        }
    }
    println!("  wrote {}", s.out.display());
}
