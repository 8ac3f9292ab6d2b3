//! Feature visualization: an image optimised to excite one unit (or a direction) of a CLIP
//! image tower, the picture the multimodal-neurons work shows beside each unit.
//!
//! The loop is Lucid's (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017):
//! the image is a decorrelated Fourier spectrum ([`crate::imaging::fv::FourierImage`]), every
//! step sees it through a freshly drawn jitter/scale/rotation
//! ([`crate::imaging::fv::Transform`]), and Adam climbs the objective. The gradient of the
//! objective with respect to the pixels comes from the tower's gradient graph
//! ([`super::autodiff`]), run in ONNX Runtime on the session's device. The objective is a
//! function of the tapped tensor *after* the tap's pooling ([`super::taps::pool`]), so "the
//! unit's activation" means exactly what the audit's statistics mean by it; its gradient is
//! pushed back through the pooling here ([`unpool`]).
//!
//! Everything is seeded: the same model, settings, seed, device and thread count give the same
//! image (ONNX Runtime's sums may round differently with other threads or on a GPU).

use std::collections::BTreeMap;
use std::time::Instant;

use image::RgbImage;
use ndarray::{Array2, Array3, Array4, ArrayD, Axis, IxDyn, s};

use super::OnnxGraph;
use super::autodiff::{AutodiffError, GradientSession};
use super::manifest::{Layout, ModelManifest, Pooling, TapSpec};
use super::runtime::{Device, SessionConfig};
use super::taps;
use crate::imaging::fv::{Adam, FourierImage, Robustness, Transform, to_rgb8};
use crate::rng::Rng;

/// What the optimisation climbs, per image, on the target's pooled `[batch, units]` values.
#[derive(Debug, Clone, PartialEq)]
pub enum Objective {
    /// The activation of one unit (negated when `negative`).
    Unit {
        /// The unit's index in the tap.
        unit: usize,
        /// Minimise instead of maximise: the unit's negative visualization.
        negative: bool,
    },
    /// The dot product of the pooled vector with a direction (for the image embedding, e.g. a
    /// concept's normalised text embedding; Lucid's `direction` objective).
    Direction(Vec<f32>),
}

/// How the optimisation runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Adam steps.
    pub steps: usize,
    /// Adam's learning rate on the spectrum (Lucid's default 0.05).
    pub learning_rate: f32,
    /// Seeds the spectrum's initialisation and the transformations.
    pub seed: u64,
    /// Transformation robustness (Lucid's standard transforms by default).
    pub robustness: Robustness,
    /// Images optimised together; more than one with `diversity` > 0 gives a diverse set.
    pub images: usize,
    /// Weight of the diversity penalty: each image's objective minus `diversity` × its mean
    /// cosine similarity (of the pooled tap vectors) with the other images. Lucid's
    /// `diversity` objective compares Gram matrices of the layer's activations instead; the
    /// pooled vectors are what the audit's statistics see of a tap, and work for every layout.
    pub diversity: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { steps: 256, learning_rate: 0.05, seed: 0, robustness: robustness_for(224), images: 1, diversity: 0.0 }
    }
}

/// Lucid's standard transformations, whose pixel amounts (pad 12, jitter 8 and 4) were set for
/// inputs of about 224 pixels, scaled to a `size`-pixel input (at least one pixel each), so a
/// 32-pixel test model is not shifted by a quarter of its width. Scales and angles keep Lucid's
/// values.
pub fn robustness_for(size: usize) -> Robustness {
    let lucid = Robustness::default();
    let px = |v: usize| ((v * size) as f32 / 224.0).round().max(1.0) as usize;
    Robustness { pad: px(lucid.pad), jitter: px(lucid.jitter), fine_jitter: px(lucid.fine_jitter), ..lucid }
}

/// The tensor the objective reads, and how it is pooled to `[batch, units]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Tensor name in the image tower.
    pub tensor: String,
    /// Its layout.
    pub layout: Layout,
    /// Its pooling.
    pub pooling: Pooling,
    /// A label for messages (the tap's name, or "image embedding").
    pub label: String,
}

impl Target {
    /// The target of a tap.
    pub fn tap(tap: &TapSpec) -> Self {
        Self { tensor: tap.tensor.clone(), layout: tap.layout, pooling: tap.pooling, label: tap.name.clone() }
    }

    /// The image tower's embedding output (`[N, D]`).
    pub fn embedding(manifest: &ModelManifest) -> Self {
        Self {
            tensor: manifest.image.output.clone(),
            layout: Layout::Nd,
            pooling: Pooling::None,
            label: "image embedding".into(),
        }
    }

    fn spec(&self) -> TapSpec {
        TapSpec {
            name: self.label.clone(),
            encoder: super::manifest::Encoder::Image,
            tensor: self.tensor.clone(),
            layout: self.layout,
            pooling: self.pooling,
            tensor_position: None,
        }
    }
}

/// Why a visualization failed.
#[derive(Debug, thiserror::Error)]
pub enum VisualizeError {
    /// The gradient graph could not be built or run.
    #[error(transparent)]
    Autodiff(#[from] AutodiffError),
    /// The model file could not be read.
    #[error(transparent)]
    Graph(#[from] super::GraphError),
    /// The target tensor's shape does not fit its layout.
    #[error(transparent)]
    Shape(#[from] taps::TapShapeError),
    /// The objective does not fit the target.
    #[error("{0}")]
    Objective(String),
}

/// The result: the images and what they achieved.
#[derive(Debug, Clone)]
pub struct Visualization {
    /// The optimised images at the model's input size, as saved (8-bit).
    pub images: Vec<RgbImage>,
    /// The objective of each saved image, seen without transformation, from its 8-bit pixels.
    pub objective: Vec<f32>,
    /// The objective of the initial (near-grey) image, seen the same way: the starting point.
    pub initial: Vec<f32>,
    /// The mean objective over the images at each step (under that step's transformation, before
    /// the step's update).
    pub trace: Vec<f32>,
    /// Wall time of the optimisation steps, seconds.
    pub seconds: f64,
    /// Wall time of the probe run, building the gradient graph and opening its session.
    pub setup_seconds: f64,
    /// The device the gradient graph ran on.
    pub device: Device,
    /// Operators differentiated, with counts.
    pub differentiated: BTreeMap<String, usize>,
}

/// Optimises `settings.images` images for `objective` on `target` of the bundle's image tower.
/// `progress` is called after each step with (step, mean objective).
pub fn visualize(
    manifest: &ModelManifest,
    target: &Target,
    objective: &Objective,
    settings: &Settings,
    config: &SessionConfig,
    progress: &mut dyn FnMut(usize, f32),
) -> Result<Visualization, VisualizeError> {
    let size = manifest.preprocess.size as usize;
    let k = settings.images.max(1);
    let graph = OnnxGraph::read(&manifest.image.file)?;
    let fourier: Vec<FourierImage> =
        (0..k).map(|i| FourierImage::new(size, settings.seed.wrapping_add(i as u64), 0.01)).collect();
    let identity = Transform::identity(size);
    let first = normalise(manifest, &fourier.iter().map(|f| identity.apply(f.render().view())).collect::<Vec<_>>());
    let setup_started = Instant::now();
    // A ReLU output has no gradient where the unit is off, which is everywhere on a grey
    // start for many units: climb its input instead, Lucid's convention (it visualises
    // `*_pre_relu` layers for this reason). With no pooling or a class token this climbs the
    // tap itself (ReLU is monotone); with a spatial or token mean it climbs the mean of the
    // pre-activation, a close but not identical objective. The objective reported is the
    // tap's own: the ReLU applied to the climbed tensor, then the tap's pooling.
    let (climbed, relu) = match graph.producer(&target.tensor) {
        Some(("Relu", inputs)) if !inputs.is_empty() => (inputs[0].to_owned(), true),
        _ => (target.tensor.clone(), false),
    };
    let mut session = GradientSession::new(&graph, &manifest.image.input, &climbed, first.view(), config)?;
    let spec = target.spec();
    let target_shape = session.graph().target_shape.clone();
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let seen_tap = |t: ArrayD<f32>| if relu { t.mapv(|v| v.max(0.0)) } else { t };

    let evaluate = |session: &mut GradientSession, images: &[Array3<f32>]| -> Result<Vec<f32>, VisualizeError> {
        let x = normalise(manifest, images);
        let zero = ArrayD::<f32>::zeros(IxDyn(&target_shape));
        let (t, _) = session.run(x.view(), zero.view())?;
        let pooled = taps::pool(&spec, seen_tap(t).view(), k)?;
        objective_values(objective, &pooled)
    };
    let quantised = |f: &FourierImage| -> Array3<f32> { from_rgb8(&to_rgb8(f.render().view())) };
    let initial = evaluate(&mut session, &fourier.iter().map(quantised).collect::<Vec<_>>())?;

    let started = Instant::now();
    let mut fourier = fourier;
    let mut adams: Vec<Adam> = fourier.iter().map(|f| Adam::new(f.params().len(), settings.learning_rate)).collect();
    let mut rng = Rng::new(settings.seed ^ 0x5EED_F00D);
    let mut trace = Vec::with_capacity(settings.steps);
    for step in 0..settings.steps {
        let transforms: Vec<Transform> =
            (0..k).map(|_| Transform::draw(&settings.robustness, size, &mut rng)).collect();
        let rendered: Vec<Array3<f32>> = fourier.iter().map(FourierImage::render).collect();
        let seen: Vec<Array3<f32>> = rendered.iter().zip(&transforms).map(|(r, t)| t.apply(r.view())).collect();
        let x = normalise(manifest, &seen);
        let pooled_now = if settings.diversity > 0.0 && k > 1 {
            let zero = ArrayD::<f32>::zeros(IxDyn(&target_shape));
            let (t, _) = session.run(x.view(), zero.view())?;
            Some(taps::pool(&spec, t.view(), k)?)
        } else {
            None
        };
        let dpooled = objective_gradient(objective, settings, pooled_now.as_ref(), k, &target_shape, &spec)?;
        let seed = unpool(spec.layout, spec.pooling, &dpooled, &target_shape);
        let (t, grad) = session.run(x.view(), seed.view())?;
        let pooled = taps::pool(&spec, seen_tap(t).view(), k)?;
        let mean = objective_values(objective, &pooled)?.iter().sum::<f32>() / k as f32;
        trace.push(mean);
        let grad = grad
            .into_dimensionality::<ndarray::Ix4>()
            .map_err(|_| VisualizeError::Objective("the gradient of the input is not [N, 3, S, S]".into()))?;
        for (i, f) in fourier.iter_mut().enumerate() {
            // Through the normalisation (x = (255·v·rescale − mean) / std) to the seen pixels, back through
            // the transformation, then the parameterisation.
            let g = through_normalisation(manifest, grad.index_axis(Axis(0), i));
            let g_img = transforms[i].backward(g.view());
            let g_params = f.backward(g_img.view());
            adams[i].ascend(f.params_mut(), &g_params);
        }
        progress(step + 1, mean);
    }
    let seconds = started.elapsed().as_secs_f64();
    let images: Vec<RgbImage> = fourier.iter().map(|f| to_rgb8(f.render().view())).collect();
    let objective_values = evaluate(&mut session, &images.iter().map(from_rgb8).collect::<Vec<_>>())?;
    Ok(Visualization {
        images,
        objective: objective_values,
        initial,
        trace,
        seconds,
        setup_seconds,
        device: session.device(),
        differentiated: session.graph().differentiated.clone(),
    })
}

/// The objective of each image from the pooled `[batch, units]` values.
pub fn objective_values(objective: &Objective, pooled: &Array2<f32>) -> Result<Vec<f32>, VisualizeError> {
    let units = pooled.ncols();
    match objective {
        Objective::Unit { unit, negative } => {
            if *unit >= units {
                return Err(VisualizeError::Objective(format!(
                    "unit {unit} is out of range: the target has {units} units (0..{units})"
                )));
            }
            let sign = if *negative { -1.0 } else { 1.0 };
            Ok(pooled.column(*unit).iter().map(|v| sign * v).collect())
        }
        Objective::Direction(d) => {
            if d.len() != units {
                return Err(VisualizeError::Objective(format!(
                    "the direction has {} values; the target has {units} units",
                    d.len()
                )));
            }
            Ok(pooled.rows().into_iter().map(|r| r.iter().zip(d).map(|(a, b)| a * b).sum()).collect())
        }
    }
}

/// ∂L/∂pooled for the objective summed over images, minus the diversity penalty when pooled
/// values are given.
fn objective_gradient(
    objective: &Objective,
    settings: &Settings,
    pooled: Option<&Array2<f32>>,
    k: usize,
    target_shape: &[usize],
    spec: &TapSpec,
) -> Result<Array2<f32>, VisualizeError> {
    let units = pooled_units(spec, target_shape);
    let mut d = Array2::<f32>::zeros((k, units));
    match objective {
        Objective::Unit { unit, negative } => {
            if *unit >= units {
                return Err(VisualizeError::Objective(format!(
                    "unit {unit} is out of range: {} has {units} units (0..{units})",
                    spec.name
                )));
            }
            d.column_mut(*unit).fill(if *negative { -1.0 } else { 1.0 });
        }
        Objective::Direction(dir) => {
            if dir.len() != units {
                return Err(VisualizeError::Objective(format!(
                    "the direction has {} values; {} has {units}",
                    dir.len(),
                    spec.name
                )));
            }
            for mut row in d.rows_mut() {
                row.iter_mut().zip(dir).for_each(|(r, v)| *r = *v);
            }
        }
    }
    let Some(p) = pooled else { return Ok(d) };
    // Diversity: −w/(k−1) Σ_{j≠i} cos(p_i, p_j) for each image i; its gradient with respect to
    // p_i collects both orders of each pair.
    let w = settings.diversity / (k as f32 - 1.0);
    let norms: Vec<f32> = p.rows().into_iter().map(|r| r.dot(&r).sqrt().max(1e-12)).collect();
    for i in 0..k {
        for j in 0..k {
            if i == j {
                continue;
            }
            let cos = p.row(i).dot(&p.row(j)) / (norms[i] * norms[j]);
            for u in 0..units {
                let dcos = p[[j, u]] / (norms[i] * norms[j]) - cos * p[[i, u]] / (norms[i] * norms[i]);
                d[[i, u]] -= 2.0 * w * dcos;
            }
        }
    }
    Ok(d)
}

fn pooled_units(spec: &TapSpec, shape: &[usize]) -> usize {
    match spec.layout {
        Layout::Nchw => shape[1],
        Layout::Ntd | Layout::Tnd => shape[2],
        Layout::Nd => shape[1],
    }
}

/// The adjoint of [`taps::pool`]: spreads ∂L/∂pooled (`[batch, units]`) over the tapped
/// tensor's shape.
pub fn unpool(layout: Layout, pooling: Pooling, d: &Array2<f32>, shape: &[usize]) -> ArrayD<f32> {
    let mut out = ArrayD::<f32>::zeros(IxDyn(shape));
    match (layout, pooling) {
        (Layout::Nchw, _) => {
            let area = (shape[2] * shape[3]).max(1) as f32;
            for ((n, c), v) in d.indexed_iter() {
                out.slice_mut(s![n, c, .., ..]).fill(v / area);
            }
        }
        (Layout::Ntd, Pooling::ClassToken) => {
            for ((n, u), v) in d.indexed_iter() {
                out[[n, 0, u]] = *v;
            }
        }
        (Layout::Tnd, Pooling::ClassToken) => {
            for ((n, u), v) in d.indexed_iter() {
                out[[0, n, u]] = *v;
            }
        }
        (Layout::Ntd, _) => {
            let t = shape[1].max(1) as f32;
            for ((n, u), v) in d.indexed_iter() {
                out.slice_mut(s![n, .., u]).fill(v / t);
            }
        }
        (Layout::Tnd, _) => {
            let t = shape[0].max(1) as f32;
            for ((n, u), v) in d.indexed_iter() {
                out.slice_mut(s![.., n, u]).fill(v / t);
            }
        }
        (Layout::Nd, _) => {
            for ((n, u), v) in d.indexed_iter() {
                out[[n, u]] = *v;
            }
        }
    }
    out
}

/// What a pixel value v in [0, 1] (the 8-bit level / 255) is multiplied by before the mean is
/// taken off: 255 × the bundle's `rescale_factor` (1 for CLIP's 1/255; 127.5 for a factor of
/// 1/2; 255 for a bundle that does not rescale).
fn level_scale(manifest: &ModelManifest) -> f32 {
    (255.0 * manifest.preprocess.rescale_factor) as f32
}

/// ∂L/∂pixels (in [0, 1]) from ∂L/∂(the model's input) of one image: the adjoint of
/// [`normalise`], whose derivative is 255 × rescale / std per channel.
fn through_normalisation(manifest: &ModelManifest, grad_x: ndarray::ArrayView3<'_, f32>) -> Array3<f32> {
    let mut g = grad_x.to_owned();
    for c in 0..3 {
        let k = level_scale(manifest) / manifest.preprocess.std[c];
        g.index_axis_mut(Axis(0), c).mapv_inplace(|v| v * k);
    }
    g
}

/// `[3, S, S]` images in [0, 1] to the model's normalised `[N, 3, S, S]` input, as
/// [`super::preprocess`] normalises the 8-bit levels: (level × rescale − mean) / std.
fn normalise(manifest: &ModelManifest, images: &[Array3<f32>]) -> ArrayD<f32> {
    let p = &manifest.preprocess;
    let size = p.size as usize;
    let k = level_scale(manifest);
    let mut x = Array4::<f32>::zeros((images.len(), 3, size, size));
    for (i, img) in images.iter().enumerate() {
        for c in 0..3 {
            let (m, sd) = (p.mean[c], p.std[c]);
            x.slice_mut(s![i, c, .., ..]).zip_mut_with(&img.index_axis(Axis(0), c), |o, v| *o = (v * k - m) / sd);
        }
    }
    x.into_dyn()
}

/// An 8-bit image as `[3, H, W]` values in [0, 1].
pub fn from_rgb8(img: &RgbImage) -> Array3<f32> {
    let (w, h) = img.dimensions();
    Array3::from_shape_fn((3, h as usize, w as usize), |(c, y, x)| {
        f32::from(img.get_pixel(x as u32, y as u32)[c]) / 255.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_preprocessings_and_its_gradient_matches_finite_differences_for_any_rescale_factor() {
        let mut m =
            ModelManifest::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/tiny-clip"))
                .unwrap();
        m.preprocess.size = 2;
        m.preprocess.mean = [0.1, 0.2, 0.3];
        m.preprocess.std = [0.5, 0.25, 2.0];
        let mut rng = Rng::new(1);
        for rescale in [1.0 / 255.0, 1.0 / 127.5, 1.0] {
            m.preprocess.rescale_factor = rescale;
            // The input is the one preprocessing makes of the same 8-bit image.
            let levels = RgbImage::from_fn(2, 2, |x, y| image::Rgb([(x * 90 + y * 40) as u8, 200, (y * 255) as u8]));
            let mut want = vec![0.0f32; 12];
            super::super::preprocess::normalize_into(&levels, &m.preprocess, &mut want);
            let got = normalise(&m, &[from_rgb8(&levels)]);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4 * w.abs().max(1.0), "rescale {rescale}: {g} vs preprocessing's {w}");
            }
            let img = Array3::from_shape_fn((3, 2, 2), |_| rng.uniform() as f32);
            let w = ArrayD::from_shape_fn(IxDyn(&[1, 3, 2, 2]), |_| rng.normal() as f32);
            let loss = |img: &Array3<f32>| -> f64 {
                normalise(&m, std::slice::from_ref(img)).iter().zip(w.iter()).map(|(a, b)| f64::from(a * b)).sum()
            };
            let wv = w.view().into_dimensionality::<ndarray::Ix4>().unwrap();
            let g = through_normalisation(&m, wv.index_axis(Axis(0), 0));
            for (c, y, x) in [(0, 0, 0), (1, 1, 0), (2, 1, 1)] {
                let (mut a, mut b) = (img.clone(), img.clone());
                a[[c, y, x]] += 1e-3;
                b[[c, y, x]] -= 1e-3;
                let numeric = (loss(&a) - loss(&b)) / 2e-3;
                let analytic = f64::from(g[[c, y, x]]);
                assert!(
                    (numeric - analytic).abs() < 1e-2 * numeric.abs().max(1.0),
                    "rescale {rescale}: {analytic} vs {numeric}"
                );
            }
        }
    }

    #[test]
    fn unpool_is_the_adjoint_of_pool() {
        let mut rng = Rng::new(4);
        for (layout, pooling, shape) in [
            (Layout::Nchw, Pooling::SpatialMean, vec![2, 3, 4, 5]),
            (Layout::Ntd, Pooling::TokenMean, vec![2, 6, 3]),
            (Layout::Ntd, Pooling::ClassToken, vec![2, 6, 3]),
            (Layout::Tnd, Pooling::TokenMean, vec![6, 2, 3]),
            (Layout::Tnd, Pooling::ClassToken, vec![6, 2, 3]),
            (Layout::Nd, Pooling::None, vec![2, 3]),
        ] {
            let spec = Target { tensor: "x".into(), layout, pooling, label: "t".into() }.spec();
            let n: usize = shape.iter().product();
            let x = ArrayD::from_shape_vec(IxDyn(&shape), (0..n).map(|_| rng.normal() as f32).collect()).unwrap();
            let d = Array2::from_shape_fn((2, 3), |_| rng.normal() as f32);
            let pooled = taps::pool(&spec, x.view(), 2).unwrap();
            let lhs: f32 = (&pooled * &d).sum();
            let rhs: f32 = (&x * &unpool(layout, pooling, &d, &shape)).sum();
            assert!((lhs - rhs).abs() < 1e-4, "{layout:?} {pooling:?}: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn diversity_gradient_matches_finite_differences() {
        let settings = Settings { images: 3, diversity: 0.7, ..Settings::default() };
        let spec = Target { tensor: "x".into(), layout: Layout::Nd, pooling: Pooling::None, label: "t".into() }.spec();
        let objective = Objective::Unit { unit: 1, negative: false };
        let mut rng = Rng::new(2);
        let p = Array2::from_shape_fn((3, 4), |_| rng.normal() as f32);
        let total = |p: &Array2<f32>| -> f64 {
            let v = objective_values(&objective, p).unwrap();
            let mut l: f64 = v.iter().map(|&x| f64::from(x)).sum();
            for i in 0..3 {
                for j in 0..3 {
                    if i != j {
                        let cos =
                            p.row(i).dot(&p.row(j)) / (p.row(i).dot(&p.row(i)).sqrt() * p.row(j).dot(&p.row(j)).sqrt());
                        l -= f64::from(0.7 / 2.0 * cos);
                    }
                }
            }
            l
        };
        let d = objective_gradient(&objective, &settings, Some(&p), 3, &[3, 4], &spec).unwrap();
        for i in 0..3 {
            for u in 0..4 {
                let mut a = p.clone();
                let mut b = p.clone();
                a[[i, u]] += 1e-2;
                b[[i, u]] -= 1e-2;
                let numeric = (total(&a) - total(&b)) / 2e-2;
                assert!((numeric - f64::from(d[[i, u]])).abs() < 2e-3, "[{i},{u}]: {} vs {numeric}", d[[i, u]]);
            }
        }
    }
}
