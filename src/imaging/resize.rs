//! Resizing as the reference pipelines of the CLIP family do it, so that the pixels a model
//! sees are the pixels it was trained and exported with, bit for bit.
//!
//! The families differ in four choices, gathered in a [`ResizeRule`]: shortest side to `size`
//! then a centre crop (torchvision's `Resize(size)` + `CenterCrop`, OpenAI CLIP and open_clip;
//! HF's `CLIPImageProcessor`) or straight to `size` x `size` ignoring the aspect ratio (HF's
//! `SiglipImageProcessor`); Pillow's bicubic or bilinear filter; and the crop offsets, rounded
//! half to even as torchvision's `round` does or floored as HF's `center_crop` does. Pillow's
//! resampling is reimplemented operation for operation (same filters, same support, same
//! 22-bit fixed point, same two passes), because a float resize differs from it by a level
//! here and there. The rest of the crate sits above this module: the stimuli draw typographic
//! composites on the base image resized by CLIP's rule, and the model's preprocessing uses the
//! bundle's rule; `fixtures/preprocess/` proves every rule against Pillow, torchvision and
//! transformers.

use image::RgbImage;

/// How the image is brought to the model's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResizeMode {
    /// The shortest side becomes `size`, the other `int(size * long / short)` (torchvision's
    /// `Resize(size)`, HF's `{"shortest_edge": size}`); a crop then cuts the square.
    #[default]
    ShortestSide,
    /// Straight to `size` x `size`, ignoring the aspect ratio (HF's `{"height": size,
    /// "width": size}`, SigLIP's processor).
    Squash,
}

impl ResizeMode {
    /// Its name in model.yaml (one of [`Self::NAMES`]).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The names model.yaml accepts, in this order.
    pub const NAMES: [&'static str; 2] = ["shortest_side", "squash"];

    /// The mode a model.yaml name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "shortest_side" => ResizeMode::ShortestSide,
            "squash" => ResizeMode::Squash,
            _ => return None,
        })
    }
}

/// Pillow's resampling filter used for the resize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// `Image.BICUBIC` (a = -0.5, support 2), CLIP's and SigLIP's.
    #[default]
    Bicubic,
    /// `Image.BILINEAR` (triangle, support 1), HF's default when a processor names none.
    Bilinear,
}

impl Interpolation {
    /// Its name in model.yaml (one of [`Self::NAMES`]).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The names model.yaml accepts, in this order.
    pub const NAMES: [&'static str; 2] = ["bicubic", "bilinear"];

    /// The filter a model.yaml name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bicubic" => Interpolation::Bicubic,
            "bilinear" => Interpolation::Bilinear,
            _ => return None,
        })
    }
}

/// Whether a centre square is cut after the resize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crop {
    /// Cut the centre `size` x `size` square.
    #[default]
    Center,
    /// No crop: only right when the resize already gives `size` x `size` ([`ResizeMode::Squash`]).
    None,
}

impl Crop {
    /// Its name in model.yaml (one of [`Self::NAMES`]).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The names model.yaml accepts, in this order.
    pub const NAMES: [&'static str; 2] = ["center", "none"];

    /// The crop a model.yaml name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "center" => Crop::Center,
            "none" => Crop::None,
            _ => return None,
        })
    }
}

/// How the centre crop places its square when the margin is odd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropRounding {
    /// torchvision's `CenterCrop`: `int(round((dim - size) / 2.0))`, Python's round half to
    /// even (a margin of 87 gives 44, one of 89 gives 44); an image smaller than the square is
    /// padded with `(size - dim) // 2` zeros before.
    #[default]
    Torchvision,
    /// transformers' `center_crop`: `(dim - size) // 2`, floored (a margin of 87 gives 43, one
    /// of 89 gives 44); an image smaller than the square is padded with
    /// `ceil((size - dim) / 2)` zeros before.
    Hf,
}

impl CropRounding {
    /// Its name in model.yaml (one of [`Self::NAMES`]).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The names model.yaml accepts, in this order.
    pub const NAMES: [&'static str; 2] = ["torchvision", "hf"];

    /// The rounding a model.yaml name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "torchvision" => CropRounding::Torchvision,
            "hf" => CropRounding::Hf,
            _ => return None,
        })
    }
}

/// The geometric part of a family's preprocessing: how an image of any shape becomes the
/// `size` x `size` square the image encoder takes. The default is CLIP's ([`ResizeRule::CLIP`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResizeRule {
    /// Shortest side or squash.
    pub resize: ResizeMode,
    /// Pillow's filter.
    pub interpolation: Interpolation,
    /// Centre crop or none.
    pub crop: Crop,
    /// Where the centre crop falls when the margin is odd.
    pub crop_rounding: CropRounding,
}

impl ResizeRule {
    /// The rule as model.yaml writes it (store keys and provenance name it so).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "resize": self.resize.name(),
            "interpolation": self.interpolation.name(),
            "crop": self.crop.name(),
            "crop_rounding": self.crop_rounding.name(),
        })
    }

    /// OpenAI CLIP's and open_clip's: shortest side (bicubic), torchvision's centre crop.
    pub const CLIP: ResizeRule = ResizeRule {
        resize: ResizeMode::ShortestSide,
        interpolation: Interpolation::Bicubic,
        crop: Crop::Center,
        crop_rounding: CropRounding::Torchvision,
    };

    /// Whether the rule always ends in a `size` x `size` square.
    pub fn is_square(&self) -> bool {
        self.crop == Crop::Center || self.resize == ResizeMode::Squash
    }
}

/// The output size of torchvision's `Resize(size)`: shortest side to `size`, the other
/// side `int(size * long / short)` computed in floating point, as torchvision does (HF's
/// `get_resize_output_image_size(..., default_to_square=False)` computes the same).
pub fn resized_dims(width: u32, height: u32, size: u32) -> (u32, u32) {
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    if short == size {
        return (width, height);
    }
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short)) as u32;
    if width <= height { (size, new_long) } else { (new_long, size) }
}

/// Resizes the shortest side to `size` (Pillow bicubic) and cuts the centre `size` square
/// (torchvision's `CenterCrop`, offsets rounded half to even as Python's `round`): CLIP's
/// rule, [`ResizeRule::CLIP`].
pub fn resize_and_crop(img: &RgbImage, size: u32) -> RgbImage {
    apply_rule(img, size, &ResizeRule::CLIP)
}

/// Brings `img` to the model's input by `rule`: the resize, then the crop. The result is
/// `size` x `size` whenever [`ResizeRule::is_square`] holds; with `resize: shortest_side` and
/// no crop it keeps the resized shape.
pub fn apply_rule(img: &RgbImage, size: u32, rule: &ResizeRule) -> RgbImage {
    let (w, h) = match rule.resize {
        ResizeMode::ShortestSide => resized_dims(img.width(), img.height(), size),
        ResizeMode::Squash => (size, size),
    };
    // Pillow's `resize` to the same size returns a copy, and torchvision skips it.
    let resized = if (w, h) == img.dimensions() { img.clone() } else { resample(img, w, h, rule.interpolation) };
    match rule.crop {
        Crop::Center => center_crop(&resized, size, rule.crop_rounding),
        Crop::None => resized,
    }
}

/// The centre `size` x `size` square of an image at least `size` on each side, its offsets
/// placed by `rounding`; smaller images are first padded with zeros as the same library does.
fn center_crop(img: &RgbImage, size: u32, rounding: CropRounding) -> RgbImage {
    let (w, h) = img.dimensions();
    if w >= size && h >= size {
        let offset = |dim: u32| match rounding {
            CropRounding::Torchvision => round_half_even(f64::from(dim - size) / 2.0),
            CropRounding::Hf => (dim - size) / 2,
        };
        return image::imageops::crop_imm(img, offset(w), offset(h), size, size).to_image();
    }
    // torchvision pads (left, top) = ((s-w)//2, (s-h)//2) then crops; transformers pads
    // ceil((s-w)/2), ceil((s-h)/2). Either way the padded side then has no margin left.
    let pad = |dim: u32| {
        let missing = size.saturating_sub(dim);
        match rounding {
            CropRounding::Torchvision => missing / 2,
            CropRounding::Hf => missing.div_ceil(2),
        }
    };
    let mut padded = RgbImage::new(w.max(size), h.max(size));
    image::imageops::replace(&mut padded, img, i64::from(pad(w)), i64::from(pad(h)));
    center_crop(&padded, size, rounding)
}

fn round_half_even(x: f64) -> u32 {
    let r = x.round_ties_even();
    r as u32
}

// ---- Pillow's resampling (libImaging/Resample.c), 8 bits per channel ----

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's `bicubic_filter` (a = -0.5); support 2.
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Pillow's `bilinear_filter` (a triangle); support 1.
fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

impl Interpolation {
    /// Pillow's filter function and its support (before scaling by the downscale factor).
    fn filter(self) -> (fn(f64) -> f64, f64) {
        match self {
            Interpolation::Bicubic => (bicubic, 2.0),
            Interpolation::Bilinear => (bilinear, 1.0),
        }
    }
}

/// Per output pixel: first input index and fixed-point weights (Pillow's `precompute_coeffs`
/// followed by `normalize_coeffs_8bpc`).
struct Coeffs {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
}

fn precompute_coeffs(in_size: u32, out_size: u32, interpolation: Interpolation) -> Coeffs {
    let (filter, filter_support) = interpolation.filter();
    let (in0, in1) = (0.0f64, f64::from(in_size));
    let scale = (in1 - in0) / f64::from(out_size);
    let filterscale = scale.max(1.0);
    let support = filter_support * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size as usize);
    let mut weights = vec![0i32; out_size as usize * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size as usize {
        let center = in0 + (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's `(int)` truncates toward zero, as `as` does.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) as usize - xmin;
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = filter((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for (x, kx) in k.iter().enumerate().take(xmax) {
            let w = if ww == 0.0 { *kx } else { *kx / ww };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            weights[xx * ksize + x] = if w < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 };
        }
        bounds.push((xmin, xmax));
    }
    Coeffs { bounds, ksize, weights }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's `Image.resize(..., BICUBIC)` for RGB (`reducing_gap=None`, as torchvision and
/// transformers call it).
pub fn resample_bicubic(img: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    resample(img, out_w, out_h, Interpolation::Bicubic)
}

/// Pillow's `Image.resize(..., filter)` for RGB with `reducing_gap=None`: a horizontal pass
/// then a vertical pass (each skipped when that side keeps its size), each rounding to 8 bits.
pub fn resample(img: &RgbImage, out_w: u32, out_h: u32, interpolation: Interpolation) -> RgbImage {
    let (in_w, in_h) = img.dimensions();
    let src = img.as_raw();
    let horizontal = if out_w != in_w {
        let c = precompute_coeffs(in_w, out_w, interpolation);
        let mut tmp = vec![0u8; (out_w * in_h * 3) as usize];
        for y in 0..in_h as usize {
            let row = &src[y * in_w as usize * 3..(y + 1) * in_w as usize * 3];
            for (xx, &(xmin, xmax)) in c.bounds.iter().enumerate() {
                let k = &c.weights[xx * c.ksize..xx * c.ksize + xmax];
                let mut ss = [1i32 << (PRECISION_BITS - 1); 3];
                for (x, &w) in k.iter().enumerate() {
                    let p = &row[(xmin + x) * 3..(xmin + x) * 3 + 3];
                    for ch in 0..3 {
                        ss[ch] += i32::from(p[ch]) * w;
                    }
                }
                let o = (y * out_w as usize + xx) * 3;
                for ch in 0..3 {
                    tmp[o + ch] = clip8(ss[ch]);
                }
            }
        }
        tmp
    } else {
        src.clone()
    };
    let out = if out_h != in_h {
        let c = precompute_coeffs(in_h, out_h, interpolation);
        let stride = out_w as usize * 3;
        let mut res = vec![0u8; out_h as usize * stride];
        for (yy, &(ymin, ymax)) in c.bounds.iter().enumerate() {
            let k = &c.weights[yy * c.ksize..yy * c.ksize + ymax];
            for xb in 0..stride {
                let mut ss = 1i32 << (PRECISION_BITS - 1);
                for (y, &w) in k.iter().enumerate() {
                    ss += i32::from(horizontal[(ymin + y) * stride + xb]) * w;
                }
                res[yy * stride + xb] = clip8(ss);
            }
        }
        res
    } else {
        horizontal
    };
    RgbImage::from_raw(out_w, out_h, out).expect("buffer sized for out_w x out_h x 3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resized_dims_follow_torchvision() {
        assert_eq!(resized_dims(640, 480, 224), (298, 224));
        assert_eq!(resized_dims(45, 130, 32), (32, 92));
        assert_eq!(resized_dims(32, 32, 32), (32, 32));
        assert_eq!(resized_dims(20, 13, 32), (49, 32));
        assert_eq!(resized_dims(334, 240, 224), (311, 224));
    }

    #[test]
    fn centre_crop_rounds_half_to_even_for_torchvision_and_down_for_hf() {
        // 35 wide → offset round(1.5) = 2; 33 wide → round(0.5) = 0. HF floors: 1 and 0.
        let img = RgbImage::from_fn(35, 32, |x, _| image::Rgb([x as u8, 0, 0]));
        assert_eq!(center_crop(&img, 32, CropRounding::Torchvision).get_pixel(0, 0).0[0], 2);
        assert_eq!(center_crop(&img, 32, CropRounding::Hf).get_pixel(0, 0).0[0], 1);
        let img = RgbImage::from_fn(33, 32, |x, _| image::Rgb([x as u8, 0, 0]));
        assert_eq!(center_crop(&img, 32, CropRounding::Torchvision).get_pixel(0, 0).0[0], 0);
        assert_eq!(center_crop(&img, 32, CropRounding::Hf).get_pixel(0, 0).0[0], 0);
    }

    #[test]
    fn small_images_are_padded_as_each_library_does() {
        // 29 wide in a 32 square: torchvision pads 3 // 2 = 1 on the left, HF ceil(1.5) = 2.
        let img = RgbImage::from_pixel(29, 32, image::Rgb([9, 9, 9]));
        let tv = center_crop(&img, 32, CropRounding::Torchvision);
        let hf = center_crop(&img, 32, CropRounding::Hf);
        let first_lit = |c: &RgbImage| (0..32).find(|&x| c.get_pixel(x, 0).0[0] == 9);
        assert_eq!(first_lit(&tv), Some(1));
        assert_eq!(first_lit(&hf), Some(2));
    }

    #[test]
    fn constant_image_stays_constant_through_both_filters() {
        let img = RgbImage::from_pixel(97, 61, image::Rgb([200, 10, 77]));
        for f in [Interpolation::Bicubic, Interpolation::Bilinear] {
            let out = resample(&img, 52, 32, f);
            assert!(out.pixels().all(|p| p.0 == [200, 10, 77]), "{f:?}");
        }
    }

    #[test]
    fn every_rule_name_reads_back_as_the_value_that_writes_it() {
        for n in ResizeMode::NAMES {
            assert_eq!(ResizeMode::parse(n).map(ResizeMode::name), Some(n));
        }
        for n in Interpolation::NAMES {
            assert_eq!(Interpolation::parse(n).map(Interpolation::name), Some(n));
        }
        for n in Crop::NAMES {
            assert_eq!(Crop::parse(n).map(Crop::name), Some(n));
        }
        for n in CropRounding::NAMES {
            assert_eq!(CropRounding::parse(n).map(CropRounding::name), Some(n));
        }
    }

    #[test]
    fn squash_ignores_the_aspect_ratio_and_needs_no_crop() {
        let img = RgbImage::from_pixel(97, 61, image::Rgb([1, 2, 3]));
        let rule = ResizeRule { resize: ResizeMode::Squash, crop: Crop::None, ..ResizeRule::CLIP };
        assert!(rule.is_square());
        assert_eq!(apply_rule(&img, 32, &rule).dimensions(), (32, 32));
        let open = ResizeRule { crop: Crop::None, ..ResizeRule::CLIP };
        assert!(!open.is_square());
        assert_eq!(apply_rule(&img, 32, &open).dimensions(), (50, 32));
    }

    #[test]
    fn bilinear_upscale_by_two_interpolates_between_neighbours() {
        // Pillow: 2x upscale of [0, 255] with BILINEAR gives [0, 64, 191, 255].
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([if x == 0 { 0 } else { 255 }; 3]));
        let out = resample(&img, 4, 1, Interpolation::Bilinear);
        let row: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
        assert_eq!(row, [0, 64, 191, 255]);
    }

    #[test]
    fn names_parse_and_the_default_is_clip() {
        assert_eq!(ResizeRule::default(), ResizeRule::CLIP);
        for n in ResizeMode::NAMES {
            assert!(ResizeMode::parse(n).is_some());
        }
        for n in Interpolation::NAMES {
            assert!(Interpolation::parse(n).is_some());
        }
        for n in Crop::NAMES {
            assert!(Crop::parse(n).is_some());
        }
        for n in CropRounding::NAMES {
            assert!(CropRounding::parse(n).is_some());
        }
        assert_eq!(Crop::parse("centre"), None);
    }
}
