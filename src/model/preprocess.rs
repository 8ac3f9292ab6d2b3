//! CLIP image preprocessing, exact to the reference pipeline.
//!
//! The reference (what OpenAI CLIP and open_clip do, with the usual `convert("RGB")` first):
//! decode, honour EXIF orientation, convert to 8-bit RGB (alpha dropped, 16-bit rounded to
//! 8-bit), resize the shortest side to `size` with Pillow's bicubic filter, cut the centre
//! square with torchvision's rounding, scale to [0, 1] and normalize with the bundle's
//! mean and std. Pillow's resampling is reimplemented here operation for operation (same
//! coefficients, same 22-bit fixed point, same two passes), so for lossless inputs the
//! result is bit-identical to Pillow + torchvision; `fixtures/preprocess/` proves it.

use image::RgbImage;

use super::manifest::PreprocessSpec;

pub use crate::imaging::decode::{ImageError, decode_rgb, load_rgb, to_rgb8};
pub use crate::imaging::resize::{resample_bicubic, resize_and_crop, resized_dims};

/// Writes the normalized CHW float tensor of `img` (already `size`x`size`) into `out`.
pub fn normalize_into(img: &RgbImage, spec: &PreprocessSpec, out: &mut [f32]) {
    let plane = (img.width() * img.height()) as usize;
    assert_eq!(out.len(), 3 * plane, "output buffer must hold 3 x size x size values");
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            // torchvision: ToTensor divides by 255 in float32, Normalize subtracts then divides.
            let v = f32::from(p.0[c]) / 255.0f32;
            out[c * plane + i] = (v - spec.mean[c]) / spec.std[c];
        }
    }
}

/// The whole pipeline for one decoded image: the `[3, size, size]` tensor as a flat vector.
pub fn preprocess(img: &RgbImage, spec: &PreprocessSpec) -> Vec<f32> {
    let cropped = resize_and_crop(img, spec.size);
    let mut out = vec![0.0f32; 3 * (spec.size * spec.size) as usize];
    normalize_into(&cropped, spec, &mut out);
    out
}
