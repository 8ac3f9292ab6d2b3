//! The image side of feature visualisation: how a few thousand parameters become the picture a
//! CLIP image tower looks at, how that picture is jittered, and how the parameters climb.
//!
//! Feature visualisation (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017)
//! optimises an input image to excite one unit of a network. Optimising raw pixels finds
//! high-frequency patterns the network reacts to but a person cannot read, so Lucid adds three
//! things, reproduced here. The image lives in a decorrelated space ([`FourierImage`], Lucid's
//! `lucid.optvis.param.spectral.fft_image` followed by `lucid.optvis.param.color.to_valid_rgb`
//! with `decorrelate=True`): a Fourier spectrum scaled by 1/frequency, so that every frequency
//! moves with the same ease under gradient steps, whose colours are mixed through the square
//! root of ImageNet's colour correlation and squashed by a sigmoid into (0, 1). Every step sees
//! the image through a freshly drawn small affine map ([`Transform`], Lucid's
//! `lucid.optvis.transform.standard_transforms`), so what the optimiser finds must survive
//! being moved, scaled and turned. And the steps are Adam's ([`Adam`]).
//!
//! The model's gradient comes from elsewhere (an ONNX gradient graph returning dL/dinput); this
//! module knows no model. It is plain Rust with hand-written adjoints, because the chain rule
//! from the model's input back to the spectrum runs through all three pieces, and a wrong
//! adjoint makes the optimisation quietly worse instead of failing: each `backward` is tested
//! against finite differences or the inner-product identity of an adjoint. The inverse DFT is
//! written as dense real matrix products rather than an FFT: at CLIP's input sizes they cost a
//! few milliseconds, any size works (odd ones too), and the adjoint is the same products
//! transposed. Every random choice is drawn from [`Rng`], so a visualisation is a function of
//! its seed.
//!
//! Where this departs from Lucid, on purpose: the transformed image keeps the input's size,
//! centre-aligned, because a CLIP tower takes one fixed input size (Lucid pads, jitters by
//! cropping and lets the model take whatever size results); and an odd width uses the exact
//! odd-length inverse real DFT (Lucid keeps one extra frequency, transforms to width + 1 and
//! crops a column).

use std::f64::consts::TAU;

use image::{Rgb, RgbImage};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayView4, ArrayViewMut4, Zip, s};

use crate::rng::Rng;

/// Lucid's `color_correlation_svd_sqrt`: the square root (by SVD) of ImageNet's RGB colour
/// correlation, rows indexed by output colour.
const COLOR_CORRELATION_SVD_SQRT: [[f32; 3]; 3] = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];

/// Lucid's `decay_power`: the spectrum is scaled by 1/frequency^decay_power.
const DECAY_POWER: f64 = 1.0;

/// A `size` x `size` RGB image parameterised as Lucid parameterises it: a per-channel real
/// Fourier spectrum scaled by 1/frequency, inverse-transformed, divided by 4, mixed through the
/// normalised colour-correlation square root, and squashed by a sigmoid into (0, 1).
///
/// The parameters are the spectrum, laid out `[3, size, size / 2 + 1, 2]` (channel, vertical
/// frequency in numpy's `fftfreq` order, horizontal frequency in `rfftfreq` order, real then
/// imaginary part). As in numpy's `irfft2`, the imaginary parts of the zero and (even sizes)
/// Nyquist horizontal frequencies do not reach the image, so their gradient is zero.
#[derive(Debug, Clone)]
pub struct FourierImage {
    size: usize,
    params: Vec<f32>,
    /// Lucid's `scale`: 1 / max(f, 1 / size)^decay_power * sqrt(size²), `[size, size / 2 + 1]`.
    scale: Array2<f32>,
    /// cos(2π·ky·y / h), `[y, ky]`: the real part of the complex inverse DFT along y.
    cos_y: Array2<f32>,
    /// sin(2π·ky·y / h), `[y, ky]`: its imaginary part.
    sin_y: Array2<f32>,
    /// c_kx·cos(2π·kx·x / w) / (h·w), `[kx, x]`: the real inverse DFT along x (c2r) with
    /// numpy's 1/(h·w) normalisation folded in; c_kx counts the mirrored negative frequency.
    cos_x: Array2<f32>,
    /// c_kx·sin(2π·kx·x / w) / (h·w), `[kx, x]`.
    sin_x: Array2<f32>,
    /// Lucid's `color_correlation_svd_sqrt / max_norm_svd_sqrt` (max column norm).
    color: [[f32; 3]; 3],
}

impl FourierImage {
    /// A `size` x `size` image whose spectrum is drawn from N(0, `init_sd`²) (Lucid's default
    /// is 0.01) with a generator seeded by `seed`.
    ///
    /// # Panics
    /// When `size` is 0.
    pub fn new(size: usize, seed: u64, init_sd: f32) -> Self {
        assert!(size > 0, "a Fourier image needs at least one pixel");
        let (h, w) = (size, size);
        let wf = w / 2 + 1;
        let mut rng = Rng::new(seed);
        let params = (0..3 * h * wf * 2).map(|_| (rng.normal() * f64::from(init_sd)) as f32).collect();

        let floor = 1.0 / h.max(w) as f64;
        let pixels = ((h * w) as f64).sqrt();
        let scale = Array2::from_shape_fn((h, wf), |(ky, kx)| {
            let (fy, fx) = (fftfreq(ky, h), kx as f64 / w as f64);
            let f = (fy * fy + fx * fx).sqrt();
            (pixels / f.max(floor).powf(DECAY_POWER)) as f32
        });

        let cos_y = Array2::from_shape_fn((h, h), |(y, ky)| turn(ky * y, h).cos() as f32);
        let sin_y = Array2::from_shape_fn((h, h), |(y, ky)| turn(ky * y, h).sin() as f32);
        let norm = 1.0 / (h * w) as f64;
        // The c2r weight: every bin but DC and (even w) Nyquist stands for itself and its mirror.
        let c2r = |kx: usize| if kx == 0 || 2 * kx == w { norm } else { 2.0 * norm };
        let cos_x = Array2::from_shape_fn((wf, w), |(kx, x)| (c2r(kx) * turn(kx * x, w).cos()) as f32);
        let sin_x = Array2::from_shape_fn((wf, w), |(kx, x)| (c2r(kx) * turn(kx * x, w).sin()) as f32);

        Self { size, params, scale, cos_y, sin_y, cos_x, sin_x, color: decorrelation_matrix() }
    }

    /// The image's width and height in pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The spectrum, flattened from `[3, size, size / 2 + 1, 2]`.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The spectrum, for the optimiser to update in place.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// The RGB image in (0, 1), `[3, size, size]`.
    pub fn render(&self) -> Array3<f32> {
        self.decorrelated().mapv_into(sigmoid)
    }

    /// dL/dparams given dL/dRGB (`[3, size, size]`, the shape [`Self::render`] returns): the
    /// exact adjoint of `render` at the current parameters (it renders once more to get the
    /// sigmoid's slope, a few milliseconds at CLIP's sizes).
    ///
    /// # Panics
    /// When `grad_rgb` does not have `render`'s shape.
    pub fn backward(&self, grad_rgb: ArrayView3<'_, f32>) -> Vec<f32> {
        let (h, w, wf) = (self.size, self.size, self.scale.ncols());
        assert_eq!(grad_rgb.dim(), (3, h, w), "gradient shape differs from the rendered image");
        let rgb = self.render();
        // Through the sigmoid: s' = s (1 - s).
        let mut grad_lin = Array3::<f32>::zeros((3, h, w));
        Zip::from(&mut grad_lin).and(&grad_rgb).and(&rgb).for_each(|d, &g, &s| *d = g * s * (1.0 - s));

        let mut grad = vec![0.0; self.params.len()];
        let mut grad_spectrum = ArrayViewMut4::from_shape((3, h, wf, 2), &mut grad[..])
            .expect("params hold [3, size, size / 2 + 1, 2] values");
        for k in 0..3 {
            // Through the colour mix (rgb[c] = Σ_k color[c][k]·plane[k]) and Lucid's "/ 4".
            let mut grad_plane = Array2::<f32>::zeros((h, w));
            for (c, row) in self.color.iter().enumerate() {
                grad_plane.scaled_add(row[k] / 4.0, &grad_lin.slice(s![c, .., ..]));
            }
            let (grad_re, grad_im) = self.irfft2_adjoint(grad_plane.view());
            grad_spectrum.slice_mut(s![k, .., .., 0]).assign(&(grad_re * &self.scale));
            grad_spectrum.slice_mut(s![k, .., .., 1]).assign(&(grad_im * &self.scale));
        }
        grad
    }

    /// The image before the sigmoid: scaled spectrum → `irfft2` → / 4 → colour mix.
    fn decorrelated(&self) -> Array3<f32> {
        let (h, w) = (self.size, self.size);
        let spectrum = self.spectrum();
        let planes: Vec<Array2<f32>> = (0..3)
            .map(|k| {
                let re = &spectrum.slice(s![k, .., .., 0]) * &self.scale;
                let im = &spectrum.slice(s![k, .., .., 1]) * &self.scale;
                self.irfft2(re.view(), im.view()) / 4.0
            })
            .collect();
        let mut out = Array3::<f32>::zeros((3, h, w));
        for (c, row) in self.color.iter().enumerate() {
            let mut channel = out.slice_mut(s![c, .., ..]);
            for (weight, plane) in row.iter().zip(&planes) {
                channel.scaled_add(*weight, plane);
            }
        }
        out
    }

    fn spectrum(&self) -> ArrayView4<'_, f32> {
        ArrayView4::from_shape((3, self.size, self.scale.ncols(), 2), &self.params[..])
            .expect("params hold [3, size, size / 2 + 1, 2] values")
    }

    /// numpy's `irfft2(re + i·im, s=(h, w))`: a complex inverse DFT along y, then the real
    /// (c2r) inverse DFT along x, normalised by 1/(h·w).
    fn irfft2(&self, re: ArrayView2<'_, f32>, im: ArrayView2<'_, f32>) -> Array2<f32> {
        let y_re = self.cos_y.dot(&re) - self.sin_y.dot(&im);
        let y_im = self.sin_y.dot(&re) + self.cos_y.dot(&im);
        y_re.dot(&self.cos_x) - y_im.dot(&self.sin_x)
    }

    /// The adjoint of [`Self::irfft2`]: the gradient with respect to (re, im) given the
    /// gradient with respect to its output.
    fn irfft2_adjoint(&self, grad: ArrayView2<'_, f32>) -> (Array2<f32>, Array2<f32>) {
        let grad_y_re = grad.dot(&self.cos_x.t());
        let grad_y_im = -grad.dot(&self.sin_x.t());
        let grad_re = self.cos_y.t().dot(&grad_y_re) + self.sin_y.t().dot(&grad_y_im);
        let grad_im = self.cos_y.t().dot(&grad_y_im) - self.sin_y.t().dot(&grad_y_re);
        (grad_re, grad_im)
    }
}

/// numpy's `fftfreq(n)[k]`: k/n for the first (n + 1) / 2 bins, then the negative frequencies.
fn fftfreq(k: usize, n: usize) -> f64 {
    if k < n.div_ceil(2) { k as f64 / n as f64 } else { (k as f64 - n as f64) / n as f64 }
}

/// 2π·(k mod n)/n: reducing the product first keeps the angle exact for large indices.
fn turn(k: usize, n: usize) -> f64 {
    TAU * (k % n) as f64 / n as f64
}

/// Lucid's `color_correlation_svd_sqrt / max_norm_svd_sqrt`, where the norm is the largest
/// column norm (`np.linalg.norm(..., axis=0)`). Lucid applies it as `t_flat @ C.T`, that is
/// `rgb[c] = Σ_k C[c][k]·plane[k]`, which is how this crate applies it too.
fn decorrelation_matrix() -> [[f32; 3]; 3] {
    let m = COLOR_CORRELATION_SVD_SQRT;
    let max_norm = (0..3).map(|k| m.iter().map(|row| row[k] * row[k]).sum::<f32>().sqrt()).fold(0.0, f32::max);
    m.map(|row| row.map(|v| v / max_norm))
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The grey that fills whatever a transform brings into view from outside the image (Lucid's
/// `pad(12, mode="constant", constant_value=.5)`).
const FILL: f32 = 0.5;

/// Lucid's `random_scale([1 + (i - 5) / 50. for i in range(11)])`: 0.90, 0.92, ..., 1.10.
fn lucid_scale(i: usize) -> f32 {
    1.0 + (i as f32 - 5.0) / 50.0
}

/// Lucid's `random_rotate(list(range(-10, 11)) + 5 * [0])` lists "no rotation" five extra times.
const EXTRA_UNROTATED: usize = 5;

/// Transformation robustness settings, Lucid's `standard_transforms`: pad 12 (fill 0.5),
/// jitter 8, a random scale, a random rotation, jitter 4, composed here into one affine map
/// with bilinear sampling.
///
/// The output keeps the input's size, centre-aligned, where Lucid lets the canvas grow by the
/// pad and shrink by the jitters and the model takes whatever size results; a CLIP tower takes
/// one fixed size. Everything outside the image reads the fill, which with a fixed,
/// centre-aligned output is exactly what padding with it does, so `pad` records Lucid's recipe
/// but changes no pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Robustness {
    /// Pixels of fill around the image (Lucid: 12); see the type's documentation.
    pub pad: usize,
    /// Coarse jitter before scaling and rotation (Lucid: 8): a shift drawn uniformly from
    /// {-d/2, ..., d/2} on each axis, as Lucid's random crop of d pixels does.
    pub jitter: usize,
    /// The range (min, max) of scales; a draw picks uniformly among Lucid's eleven scales
    /// 1 + (i - 5)/50, i in 0..11, that lie in it, or takes `min` when none does.
    pub scales: (f32, f32),
    /// Rotation bound in degrees (Lucid: 10); a draw picks an integer angle in -m..=m
    /// (m = floor of the bound) from Lucid's list, which holds 0 five extra times.
    pub max_rotation_deg: f32,
    /// Fine jitter after scaling and rotation (Lucid: 4), drawn as `jitter` is.
    pub fine_jitter: usize,
}

impl Default for Robustness {
    /// Lucid's `standard_transforms`.
    fn default() -> Self {
        Self { pad: 12, jitter: 8, scales: (0.9, 1.1), max_rotation_deg: 10.0, fine_jitter: 4 }
    }
}

impl Robustness {
    /// No transformation: every draw is the identity.
    pub fn none() -> Self {
        Self { pad: 0, jitter: 0, scales: (1.0, 1.0), max_rotation_deg: 0.0, fine_jitter: 0 }
    }
}

/// One drawn affine map from an image to an image of the same size, in Lucid's order: shift by
/// the coarse jitter, scale and rotate about the centre, shift by the fine jitter. Each output
/// pixel centre is mapped back through the inverse and bilinearly sampled, with the fill 0.5
/// wherever a sample falls outside the image.
///
/// Shifts are (down, right) in pixels; a positive angle turns the content counterclockwise as
/// displayed (as `tf.contrib.image.rotate` does, with y pointing down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    size: usize,
    shift_before: [f32; 2],
    scale: f32,
    rotation_deg: f32,
    shift_after: [f32; 2],
}

/// One bilinear tap: the source pixel (None outside the image, where the fill is read) and
/// its weight.
type Tap = (Option<(usize, usize)>, f32);

impl Transform {
    /// A map drawn from `settings` for `size` x `size` images: coarse jitter (y, x), scale,
    /// rotation, fine jitter (y, x), in that order from `rng`.
    pub fn draw(settings: &Robustness, size: usize, rng: &mut Rng) -> Self {
        let shift_before = [jitter_shift(settings.jitter, rng), jitter_shift(settings.jitter, rng)];
        let scale = draw_scale(settings.scales, rng);
        let rotation_deg = draw_rotation(settings.max_rotation_deg, rng);
        let shift_after = [jitter_shift(settings.fine_jitter, rng), jitter_shift(settings.fine_jitter, rng)];
        Self::compose(size, shift_before, scale, rotation_deg, shift_after)
    }

    /// The map that returns every image unchanged.
    pub fn identity(size: usize) -> Self {
        Self::compose(size, [0.0, 0.0], 1.0, 0.0, [0.0, 0.0])
    }

    /// The map that shifts by `shift_before` (down, right), scales by `scale` and rotates by
    /// `rotation_deg` about the centre, then shifts by `shift_after`.
    ///
    /// # Panics
    /// When `scale` is not a positive finite number.
    pub fn compose(size: usize, shift_before: [f32; 2], scale: f32, rotation_deg: f32, shift_after: [f32; 2]) -> Self {
        assert!(scale.is_finite() && scale > 0.0, "scale must be positive, got {scale}");
        Self { size, shift_before, scale, rotation_deg, shift_after }
    }

    /// The drawn scale.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The drawn rotation in degrees.
    pub fn rotation_deg(&self) -> f32 {
        self.rotation_deg
    }

    /// The drawn shifts, (down, right) in pixels: before scaling and rotation, and after.
    pub fn shifts(&self) -> ([f32; 2], [f32; 2]) {
        (self.shift_before, self.shift_after)
    }

    /// The transformed image, `[channels, size, size]` like the input.
    ///
    /// # Panics
    /// When the image is not `size` x `size`.
    pub fn apply(&self, img: ArrayView3<'_, f32>) -> Array3<f32> {
        let (channels, n) = self.check_shape(img.dim());
        let mut out = Array3::<f32>::zeros((channels, n, n));
        for oy in 0..n {
            for ox in 0..n {
                let taps = self.taps(oy, ox);
                for c in 0..channels {
                    out[[c, oy, ox]] = taps.iter().map(|&(at, w)| w * at.map_or(FILL, |(y, x)| img[[c, y, x]])).sum();
                }
            }
        }
        out
    }

    /// The exact adjoint of [`Self::apply`] with respect to the image: the gradient with
    /// respect to the input given the gradient with respect to the output. The fill is a
    /// constant and contributes nothing.
    ///
    /// # Panics
    /// When the gradient is not `size` x `size`.
    pub fn backward(&self, grad_out: ArrayView3<'_, f32>) -> Array3<f32> {
        let (channels, n) = self.check_shape(grad_out.dim());
        let mut grad = Array3::<f32>::zeros((channels, n, n));
        for oy in 0..n {
            for ox in 0..n {
                for (at, w) in self.taps(oy, ox) {
                    if let Some((y, x)) = at {
                        for c in 0..channels {
                            grad[[c, y, x]] += w * grad_out[[c, oy, ox]];
                        }
                    }
                }
            }
        }
        grad
    }

    fn check_shape(&self, (channels, h, w): (usize, usize, usize)) -> (usize, usize) {
        assert!(h == self.size && w == self.size, "transform drawn for {0}x{0} images, got {h}x{w}", self.size);
        (channels, self.size)
    }

    /// The four bilinear taps of output pixel (oy, ox): its centre mapped through the inverse
    /// map, source = R(θ)·(out − shift_after)/scale − shift_before about the centre, where
    /// R(θ) acts on (x, y).
    fn taps(&self, oy: usize, ox: usize) -> [Tap; 4] {
        let centre = (self.size as f64 - 1.0) / 2.0;
        let (sin, cos) = f64::from(self.rotation_deg).to_radians().sin_cos();
        let scale = f64::from(self.scale);
        let dy = oy as f64 - centre - f64::from(self.shift_after[0]);
        let dx = ox as f64 - centre - f64::from(self.shift_after[1]);
        let sy = (sin * dx + cos * dy) / scale - f64::from(self.shift_before[0]) + centre;
        let sx = (cos * dx - sin * dy) / scale - f64::from(self.shift_before[1]) + centre;
        let (y0, x0) = (sy.floor(), sx.floor());
        let (fy, fx) = (sy - y0, sx - x0);
        let n = self.size as f64;
        let tap = |y: f64, x: f64, weight: f64| -> Tap {
            let inside = (0.0..n).contains(&y) && (0.0..n).contains(&x);
            (inside.then_some((y as usize, x as usize)), weight as f32)
        };
        [
            tap(y0, x0, (1.0 - fy) * (1.0 - fx)),
            tap(y0, x0 + 1.0, (1.0 - fy) * fx),
            tap(y0 + 1.0, x0, fy * (1.0 - fx)),
            tap(y0 + 1.0, x0 + 1.0, fy * fx),
        ]
    }
}

/// A shift uniform in {-d/2, ..., d/2}: Lucid's `jitter(d)` crops d pixels at an offset uniform
/// in 0..=d, which moves the content by that offset less d/2 relative to the centre.
fn jitter_shift(d: usize, rng: &mut Rng) -> f32 {
    rng.below(d + 1) as f32 - d as f32 / 2.0
}

fn draw_scale((min, max): (f32, f32), rng: &mut Rng) -> f32 {
    const SLACK: f32 = 1e-6;
    let candidates: Vec<f32> = (0..11).map(lucid_scale).filter(|s| (min - SLACK..=max + SLACK).contains(s)).collect();
    if candidates.is_empty() { min } else { candidates[rng.below(candidates.len())] }
}

fn draw_rotation(max_deg: f32, rng: &mut Rng) -> f32 {
    let m = max_deg.max(0.0).floor() as usize;
    let pick = rng.below(2 * m + 1 + EXTRA_UNROTATED);
    if pick <= 2 * m { pick as f32 - m as f32 } else { 0.0 }
}

/// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015) ascending the
/// objective: params += lr · m̂ / (sqrt(v̂) + eps), with β1 = 0.9, β2 = 0.999, eps = 1e-8.
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    /// First-moment estimate.
    m: Vec<f32>,
    /// Second-moment estimate.
    v: Vec<f32>,
    /// Steps taken, for the bias correction.
    step: i32,
}

impl Adam {
    /// An optimiser for `n` parameters with learning rate `lr` and Adam's default moments.
    pub fn new(n: usize, lr: f32) -> Self {
        Self { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, m: vec![0.0; n], v: vec![0.0; n], step: 0 }
    }

    /// One step up the gradient `grad` of the objective.
    ///
    /// # Panics
    /// When `params` or `grad` does not hold the `n` values the optimiser was made for.
    pub fn ascend(&mut self, params: &mut [f32], grad: &[f32]) {
        assert_eq!(params.len(), self.m.len(), "Adam made for {} parameters", self.m.len());
        assert_eq!(grad.len(), self.m.len(), "Adam made for {} gradients", self.m.len());
        self.step = self.step.saturating_add(1);
        let correct1 = 1.0 - self.beta1.powi(self.step);
        let correct2 = 1.0 - self.beta2.powi(self.step);
        for (((p, &g), m), v) in params.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *p += self.lr * (*m / correct1) / ((*v / correct2).sqrt() + self.eps);
        }
    }
}

/// An 8-bit RGB image of a `[3, h, w]` image in [0, 1] (values clamped, then rounded), for
/// saving as PNG.
///
/// # Panics
/// When the image does not have three channels.
pub fn to_rgb8(img: ArrayView3<'_, f32>) -> RgbImage {
    let (channels, h, w) = img.dim();
    assert_eq!(channels, 3, "an RGB image has three channels");
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let level = |c: usize| (img[[c, y as usize, x as usize]].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([level(0), level(1), level(2)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_array(shape: (usize, usize, usize), rng: &mut Rng) -> Array3<f32> {
        Array3::from_shape_fn(shape, |_| rng.normal() as f32)
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
    }

    fn dot3(a: &Array3<f32>, b: &Array3<f32>) -> f64 {
        dot(a.as_slice().unwrap(), b.as_slice().unwrap())
    }

    fn with_params(image: &FourierImage, params: &[f32]) -> FourierImage {
        let mut moved = image.clone();
        moved.params_mut().copy_from_slice(params);
        moved
    }

    #[test]
    fn render_backward_matches_central_differences() {
        for size in [16, 15] {
            // A large spread, so the sigmoid is well away from linear.
            let image = FourierImage::new(size, 11, 0.3);
            let mut rng = Rng::new(99);
            let direction: Vec<f32> = (0..image.params().len()).map(|_| rng.normal() as f32).collect();
            let weights = random_array((3, size, size), &mut rng);

            let analytic = dot(&direction, &image.backward(weights.view()));
            let eps = 1e-2;
            let shifted = |sign: f32| {
                let p: Vec<f32> = image.params().iter().zip(&direction).map(|(p, v)| p + sign * eps * v).collect();
                with_params(&image, &p).render()
            };
            let numeric = (dot3(&weights, &shifted(1.0)) - dot3(&weights, &shifted(-1.0))) / (2.0 * f64::from(eps));
            let relative = (numeric - analytic).abs() / analytic.abs();
            assert!(relative < 1e-2, "size {size}: numeric {numeric}, analytic {analytic}");
        }
    }

    #[test]
    fn irfft2_of_one_frequency_is_numpys_cosine() {
        for size in [16usize, 15] {
            let image = FourierImage::new(size, 0, 0.0);
            let (h, w, wf) = (size, size, size / 2 + 1);
            let (a, b) = (0.7f32, -0.4f32);
            for (ky, kx) in [(0, 0), (3, 0), (2, 5), (h - 1, 1), (5, wf - 1), (h / 2, 2)] {
                let mut re = Array2::<f32>::zeros((h, wf));
                let mut im = Array2::<f32>::zeros((h, wf));
                re[[ky, kx]] = a;
                im[[ky, kx]] = b;
                let got = image.irfft2(re.view(), im.view());
                // numpy: a bin other than DC and Nyquist along x also stands for its mirror, and
                // the c2r transform keeps only the real part of the rest.
                let weight = if kx == 0 || 2 * kx == w { 1.0 } else { 2.0 };
                for ((y, x), &value) in got.indexed_iter() {
                    let theta = TAU * (ky as f64 * y as f64 / h as f64 + kx as f64 * x as f64 / w as f64);
                    let expected = weight / (h * w) as f64 * (f64::from(a) * theta.cos() - f64::from(b) * theta.sin());
                    assert!(
                        (f64::from(value) - expected).abs() < 1e-7,
                        "size {size}, bin ({ky}, {kx}), pixel ({y}, {x}): {value} vs {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn spectrum_scale_is_lucids() {
        let even = FourierImage::new(16, 0, 0.0);
        // 1 / max(f, 1/16) * sqrt(16 * 16): DC and the lowest frequency share the floor.
        assert_eq!(even.scale[[0, 0]], 256.0);
        assert_eq!(even.scale[[1, 0]], 256.0);
        assert_eq!(even.scale[[0, 2]], 128.0);
        assert_eq!(even.scale[[8, 0]], 32.0); // fftfreq(16)[8] = -0.5
        let odd = FourierImage::new(15, 0, 0.0);
        assert!((odd.scale[[0, 0]] - 225.0).abs() < 1e-3);
        assert!((odd.scale[[0, 2]] - 112.5).abs() < 1e-3);
        assert!((odd.scale[[8, 0]] - 15.0 / 7.0 * 15.0).abs() < 1e-3); // fftfreq(15)[8] = -7/15
    }

    #[test]
    fn colour_mix_is_applied_as_lucid_applies_it() {
        // Only the DC of the second decorrelated channel: the rendered colour is its column of
        // the matrix (0.09, 0, -0.09) / max column norm, not its row (0.27, 0, -0.05).
        let mut image = FourierImage::new(8, 0, 0.0);
        let wf = 8 / 2 + 1;
        image.params_mut()[8 * wf * 2] = 1.0;
        // DC: scale 8 * 8, irfft2 divides by 64, then / 4.
        let plane = 0.25f32;
        let max_norm = (0.26f32 * 0.26 + 0.27 * 0.27 + 0.27 * 0.27).sqrt();
        let rgb = image.render();
        for (c, column) in [0.09f32, 0.0, -0.09].into_iter().enumerate() {
            let expected = sigmoid(column / max_norm * plane);
            for &v in rgb.slice(s![c, .., ..]) {
                assert!((v - expected).abs() < 1e-6, "channel {c}: {v} vs {expected}");
            }
        }
    }

    #[test]
    fn a_224_image_renders_and_back() {
        let image = FourierImage::new(224, 1, 0.01);
        let rgb = image.render();
        assert_eq!(rgb.dim(), (3, 224, 224));
        assert!(rgb.iter().all(|&v| v > 0.0 && v < 1.0));
        let grad = image.backward(rgb.view());
        assert_eq!(grad.len(), 3 * 224 * 113 * 2);
        assert!(grad.iter().all(|g| g.is_finite()));
    }

    #[test]
    fn identity_transform_returns_the_image() {
        let mut rng = Rng::new(5);
        for size in [16, 15] {
            let img = random_array((3, size, size), &mut rng);
            let out = Transform::identity(size).apply(img.view());
            let worst = (&out - &img).iter().fold(0.0f32, |m, d| m.max(d.abs()));
            assert!(worst < 1e-5, "size {size}: off by {worst}");
        }
    }

    #[test]
    fn an_integer_shift_moves_pixels_and_brings_in_the_fill() {
        let n = 12;
        let img = random_array((3, n, n), &mut Rng::new(6));
        // Down 3, left 2, split between the two jitters.
        let shift = Transform::compose(n, [1.0, 0.0], 1.0, 0.0, [2.0, -2.0]);
        let out = shift.apply(img.view());
        for ((c, y, x), &v) in out.indexed_iter() {
            let expected = match (y.checked_sub(3), x + 2) {
                (Some(sy), sx) if sx < n => img[[c, sy, sx]],
                _ => FILL,
            };
            assert!((v - expected).abs() < 1e-6, "({c}, {y}, {x}): {v} vs {expected}");
        }
    }

    #[test]
    fn a_positive_quarter_turn_is_counterclockwise() {
        let n = 9;
        let img = random_array((1, n, n), &mut Rng::new(7));
        let out = Transform::compose(n, [0.0, 0.0], 1.0, 90.0, [0.0, 0.0]).apply(img.view());
        // Counterclockwise on screen: the right edge comes up to the top edge.
        for ((_, y, x), &v) in out.indexed_iter() {
            let expected = img[[0, x, n - 1 - y]];
            assert!((v - expected).abs() < 1e-4, "({y}, {x}): {v} vs {expected}");
        }
    }

    #[test]
    fn transform_backward_is_the_adjoint_of_apply() {
        let mut rng = Rng::new(8);
        for size in [32, 31] {
            for _ in 0..4 {
                let transform = Transform::draw(&Robustness::default(), size, &mut rng);
                let x = random_array((3, size, size), &mut rng);
                let y = random_array((3, size, size), &mut rng);
                // apply is affine (the fill); its linear part is apply(x) - apply(0).
                let linear = transform.apply(x.view()) - transform.apply(Array3::zeros((3, size, size)).view());
                let lhs = dot3(&linear, &y);
                let rhs = dot3(&x, &transform.backward(y.view()));
                assert!(
                    (lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0),
                    "{transform:?}: <Ax, y> = {lhs}, <x, A*y> = {rhs}"
                );
            }
        }
    }

    #[test]
    fn draws_stay_within_lucids_lists() {
        let settings = Robustness::default();
        let mut rng = Rng::new(9);
        let draws: Vec<Transform> = (0..300).map(|_| Transform::draw(&settings, 64, &mut rng)).collect();
        for t in &draws {
            assert!((0..11).any(|i| lucid_scale(i) == t.scale()), "scale {}", t.scale());
            assert!(t.rotation_deg().fract() == 0.0 && t.rotation_deg().abs() <= 10.0);
            let (before, after) = t.shifts();
            assert!(before.iter().all(|s| s.abs() <= 4.0 && s.fract() == 0.0));
            assert!(after.iter().all(|s| s.abs() <= 2.0 && s.fract() == 0.0));
        }
        let distinct = |f: fn(&Transform) -> f32| {
            let mut values: Vec<f32> = draws.iter().map(f).collect();
            values.sort_by(f32::total_cmp);
            values.dedup();
            values.len()
        };
        assert_eq!(distinct(Transform::scale), 11);
        assert_eq!(distinct(Transform::rotation_deg), 21);
        // Lucid lists 0 six times among 26 angles (about 69 of 300 draws); uniform would give 14.
        let unrotated = draws.iter().filter(|t| t.rotation_deg() == 0.0).count();
        assert!(unrotated > 40, "{unrotated} of 300 draws unrotated");
        let none = Transform::draw(&Robustness::none(), 64, &mut rng);
        assert_eq!(none, Transform::identity(64));
    }

    #[test]
    fn adam_climbs_to_the_top_of_a_concave_quadratic() {
        // f(x) = -(x - 3)², maximal at 3.
        let mut x = [0.0f32];
        let mut adam = Adam::new(1, 0.1);
        for _ in 0..1000 {
            let grad = [-2.0 * (x[0] - 3.0)];
            adam.ascend(&mut x, &grad);
        }
        assert!((x[0] - 3.0).abs() < 1e-2, "ended at {}", x[0]);
    }

    #[test]
    fn the_seed_fixes_params_and_draws() {
        let a = FourierImage::new(16, 42, 0.01);
        assert_eq!(a.params(), FourierImage::new(16, 42, 0.01).params());
        assert_ne!(a.params(), FourierImage::new(16, 43, 0.01).params());

        let draws = |seed| {
            let mut rng = Rng::new(seed);
            (0..20).map(|_| Transform::draw(&Robustness::default(), 32, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draws(1), draws(1));
        assert_ne!(draws(1), draws(2));
    }

    #[test]
    fn to_rgb8_clamps_and_rounds() {
        let img = Array3::from_shape_vec((3, 1, 2), vec![0.0, 1.0, 0.5, -1.0, 2.0, 0.2]).unwrap();
        let rgb = to_rgb8(img.view());
        assert_eq!(rgb.dimensions(), (2, 1));
        assert_eq!(rgb.get_pixel(0, 0).0, [0, 128, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [255, 0, 51]);
    }
}
