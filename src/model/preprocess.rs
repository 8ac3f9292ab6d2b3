//! Image preprocessing, exact to the reference pipeline of the bundle's model family.
//!
//! The reference is what the family's own code does to an image already converted to 8-bit
//! RGB (the usual `Image.open(p).convert("RGB")` of data loaders): decode, honour EXIF
//! orientation, convert to 8-bit RGB (alpha dropped, 16-bit rounded to 8-bit), bring the
//! image to `size` x `size` by the bundle's [`ResizeRule`] (OpenAI CLIP and open_clip:
//! shortest side with Pillow's bicubic filter, centre crop with torchvision's rounding; HF's
//! processors: the same or squashed, bicubic or bilinear, crop offsets floored), rescale the
//! 8-bit values and normalize with the bundle's mean and std. Pillow's resampling is
//! reimplemented operation for operation in [`crate::imaging::resize`] and the arithmetic
//! below follows the references' float types, so for lossless inputs the result is
//! bit-identical to Pillow + torchvision or Pillow + transformers; `fixtures/preprocess/`
//! proves it. Exactness matters because the audit compares activations across stimuli, and a
//! pipeline that differs from training by a level here and there moves them.

use image::RgbImage;

use super::manifest::PreprocessSpec;

pub use crate::imaging::decode::{ImageError, decode_rgb, load_rgb, to_rgb8};
pub use crate::imaging::resize::{ResizeRule, apply_rule, resample, resample_bicubic, resize_and_crop, resized_dims};

/// The normalized value of each 8-bit level, per channel: `(rescale(v) - mean) / std` in
/// float32, where `rescale(v)` is `v * rescale_factor` in float64 rounded to float32, as
/// transformers' `rescale` computes it. For the default factor 1/255 that equals torchvision's
/// `ToTensor` (`v / 255` in float32) for every level, so one formula serves both references.
fn level_table(spec: &PreprocessSpec) -> [[f32; 256]; 3] {
    let mut table = [[0.0f32; 256]; 3];
    for (c, row) in table.iter_mut().enumerate() {
        for (v, out) in row.iter_mut().enumerate() {
            let x = (v as f64 * spec.rescale_factor) as f32;
            *out = (x - spec.mean[c]) / spec.std[c];
        }
    }
    table
}

/// Writes the normalized CHW float tensor of `img` (already `size`x`size`) into `out`.
pub fn normalize_into(img: &RgbImage, spec: &PreprocessSpec, out: &mut [f32]) {
    let plane = (img.width() * img.height()) as usize;
    assert_eq!(out.len(), 3 * plane, "output buffer must hold 3 x size x size values");
    let table = level_table(spec);
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = table[c][usize::from(p.0[c])];
        }
    }
}

/// The geometric step alone: `img` brought to `size` x `size` by the spec's rule.
pub fn fit(img: &RgbImage, spec: &PreprocessSpec) -> RgbImage {
    apply_rule(img, spec.size, &spec.rule)
}

/// The whole pipeline for one decoded image: the `[3, size, size]` tensor as a flat vector.
///
/// # Panics
/// If the spec's rule does not end in a square ([`ResizeRule::is_square`]); the manifest
/// validator rejects such rules.
pub fn preprocess(img: &RgbImage, spec: &PreprocessSpec) -> Vec<f32> {
    assert!(spec.rule.is_square(), "preprocessing rule {:?} does not give a square", spec.rule);
    let fitted = fit(img, spec);
    let mut out = vec![0.0f32; 3 * (spec.size * spec.size) as usize];
    normalize_into(&fitted, spec, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rescale_equals_torchvision_to_tensor_for_every_level() {
        for v in 0u8..=255 {
            let hf = (f64::from(v) * PreprocessSpec::DEFAULT_RESCALE_FACTOR) as f32;
            let tv = f32::from(v) / 255.0f32;
            assert_eq!(hf.to_bits(), tv.to_bits(), "level {v}");
        }
    }

    #[test]
    fn table_normalizes_as_the_reference_formula() {
        let spec = PreprocessSpec { rescale_factor: 1.0 / 127.5, mean: [1.0; 3], std: [1.0; 3], ..Default::default() };
        let img = RgbImage::from_fn(2, 2, |x, y| image::Rgb([(x * 255) as u8, (y * 255) as u8, 0]));
        let mut out = vec![0.0; 12];
        normalize_into(&img, &spec, &mut out);
        assert_eq!(&out[..4], &[-1.0, 1.0, -1.0, 1.0]);
        assert_eq!(&out[4..8], &[-1.0, -1.0, 1.0, 1.0]);
    }

    #[test]
    fn default_spec_is_clip_at_224() {
        let spec = PreprocessSpec::default();
        assert_eq!((spec.size, spec.rule), (224, ResizeRule::CLIP));
    }
}
