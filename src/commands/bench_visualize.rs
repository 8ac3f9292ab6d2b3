//! `clip-audit bench visualize`: what a feature visualization costs, measured against the
//! forward pass it contains, in one invocation.
//!
//! A step runs the gradient graph (the forward pass up to the tap, then its backward pass) and
//! the image side (render the Fourier image, transform it, carry the gradient back, Adam). The
//! baseline is the bare forward pass of the same tower with the same tap, batch of one, on the
//! same device and threads, so the printed ratio says what the backward pass and the image
//! side add; reverse mode costs about two to three forward passes by theory. The projected cost
//! of a unit is what `outputs.feature_visualization` budgets with.

use std::time::Instant;

use anyhow::Context;
use ndarray::Array4;

use super::{Outcome, session_config};
use crate::cli::BenchVisualizeArgs;
use crate::model::manifest::ModelManifest;
use crate::model::visualize::{Objective, Settings, Target, robustness_for, visualize};
use crate::model::{ClipModel, TapSelection};

/// Runs the benchmark and prints its lines.
pub fn run(args: &BenchVisualizeArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(args.steps > 0, "--steps must be at least 1");
    let config = session_config(&args.runtime);
    let manifest = ModelManifest::load(&args.model)?;
    let tap =
        manifest.tap(&args.tap).with_context(|| format!("no tap {:?} in {}", args.tap, manifest.path.display()))?;
    let size = manifest.preprocess.size as usize;

    let mut model = ClipModel::load(&args.model, &config, &TapSelection::Named(vec![args.tap.clone()]))?;
    let x = Array4::<f32>::zeros((1, 3, size, size));
    model.encode_images(x.view())?; // warm-up
    let t = Instant::now();
    for _ in 0..args.steps {
        model.encode_images(x.view())?;
    }
    let forward = t.elapsed().as_secs_f64() / args.steps as f64;
    let device = model.device();
    drop(model);

    let settings = Settings { steps: args.steps, robustness: robustness_for(size), ..Settings::default() };
    let objective = Objective::Unit { unit: args.unit, negative: false };
    let v = visualize(&manifest, &Target::tap(tap), &objective, &settings, &config, &mut |_, _| {})?;
    let step = v.seconds / args.steps as f64;
    println!("{} {} unit {} on {device}, {} steps, {size}px", manifest.name, args.tap, args.unit, args.steps);
    println!("forward pass      {forward:>9.4} s  (bare inference, batch of 1, with the tap)");
    println!("optimisation step {step:>9.4} s  (gradient graph forward + backward, image side, Adam)");
    println!("step / forward    {:>9.2}", step / forward);
    println!("setup             {:>9.2} s  (probe run, gradient graph, session; once per unit)", v.setup_seconds);
    println!(
        "per unit          {:>9.1} s  at 256 steps (setup + 256 steps; the default of outputs.feature_visualization)",
        v.setup_seconds + 256.0 * step
    );
    println!("objective         {:>9.4} -> {:.4}", v.initial[0], v.objective[0]);
    Ok(Outcome::Pass)
}
