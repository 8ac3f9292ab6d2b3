//! The gradient graphs of whole towers against torch autograd: the organism, tiny-clip and
//! (when `make exports` made them) the random-weight ViT-B-32 and RN50 exports. Goldens come
//! from `scripts/make_autodiff_goldens.py` (float64 autograd on the model that was exported).

use std::path::Path;

use clip_audit::model::SessionConfig;
use clip_audit::model::autodiff::GradientSession;
use clip_audit::model::{Device, OnnxGraph};
use ndarray::{ArrayD, IxDyn};

use crate::common::{export, fixture, root};

#[derive(serde::Deserialize)]
struct Golden {
    model: String,
    input: String,
    target: String,
    input_shape: Vec<usize>,
    x: Vec<f32>,
    target_shape: Vec<usize>,
    target_sum: f64,
    seed: Vec<f32>,
    grad: Vec<f64>,
    #[allow(dead_code)]
    about: String,
    #[allow(dead_code)]
    max_abs_diff_target_vs_onnxruntime: f64,
}

/// Runs the gradient graph the golden describes and compares the target's sum and every
/// element of the input gradient. Returns the worst gradient error relative to the largest
/// gradient value.
fn check(file: &Path) -> f64 {
    let golden: Golden = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let graph = OnnxGraph::read(&root().join(&golden.model)).unwrap();
    let x = ArrayD::from_shape_vec(IxDyn(&golden.input_shape), golden.x.clone()).unwrap();
    let seed = ArrayD::from_shape_vec(IxDyn(&golden.target_shape), golden.seed.clone()).unwrap();
    let config = SessionConfig { device: Device::Cpu, threads: None };
    let mut session = GradientSession::new(&graph, &golden.input, &golden.target, x.view(), &config)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (target, grad) = session.run(x.view(), seed.view()).unwrap();
    let sum: f64 = target.iter().map(|&v| f64::from(v)).sum();
    let scale = target.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max) * target.len() as f64;
    assert!(
        (sum - golden.target_sum).abs() <= 1e-5 * scale.max(1.0),
        "{}: target sums to {sum}, torch says {}",
        file.display(),
        golden.target_sum
    );
    assert_eq!(grad.len(), golden.grad.len());
    let largest = golden.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let worst = grad.iter().zip(&golden.grad).map(|(a, b)| (f64::from(*a) - b).abs()).fold(0.0, f64::max);
    let relative = worst / largest;
    eprintln!(
        "{}: worst |grad - torch| = {worst:.3e} ({relative:.2e} of the largest); differentiated {:?}",
        file.display(),
        session.graph().differentiated
    );
    assert!(relative < 1e-5, "{}: gradient differs from torch autograd by {worst} (largest {largest})", file.display());
    relative
}

#[test]
fn tiny_clip_and_organism_gradients_match_torch_autograd() {
    let mut files: Vec<_> = ["tiny-clip", "organism"]
        .iter()
        .flat_map(|m| std::fs::read_dir(fixture("autodiff").join(m)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    for f in files {
        check(&f);
    }
}

#[test]
fn vit_b_32_and_rn50_gradients_match_torch_autograd() {
    for name in ["vit-b-32", "rn50"] {
        let Some(dir) = export(name) else { continue };
        let golden = dir.join("golden/autodiff.json");
        if !golden.is_file() {
            eprintln!("SKIPPED: {} is absent; `make exports` writes it", golden.display());
            continue;
        }
        check(&golden);
    }
}
