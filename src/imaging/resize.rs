//! Resizing as CLIP's reference pipeline does it: torchvision's `Resize(size)` (shortest side
//! to `size`) with Pillow's bicubic filter, reimplemented operation for operation (same
//! coefficients, same 22-bit fixed point, same two passes), and torchvision's `CenterCrop`
//! with Python's rounding. Below the stimuli (typographic composites are drawn on the resized
//! base image) and the model (its preprocessing); `fixtures/preprocess/` proves it against
//! Pillow + torchvision.

use image::RgbImage;

/// The output size of torchvision's `Resize(size)`: shortest side to `size`, the other
/// side `int(size * long / short)` computed in floating point, as torchvision does.
pub fn resized_dims(width: u32, height: u32, size: u32) -> (u32, u32) {
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    if short == size {
        return (width, height);
    }
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short)) as u32;
    if width <= height { (size, new_long) } else { (new_long, size) }
}

/// Resizes the shortest side to `size` (Pillow bicubic) and cuts the centre `size` square
/// (torchvision's `CenterCrop`, offsets rounded half to even as Python's `round`).
pub fn resize_and_crop(img: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = resized_dims(img.width(), img.height(), size);
    let resized = if (w, h) == img.dimensions() { img.clone() } else { resample_bicubic(img, w, h) };
    center_crop(&resized, size)
}

/// torchvision's `CenterCrop(size)` on an image at least `size` on each side; smaller
/// images are padded with zeros as torchvision does.
fn center_crop(img: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w >= size && h >= size {
        let left = round_half_even(f64::from(w - size) / 2.0);
        let top = round_half_even(f64::from(h - size) / 2.0);
        return image::imageops::crop_imm(img, left, top, size, size).to_image();
    }
    // torchvision pads (left, top, right, bottom) = ((s-w)//2, (s-h)//2, (s-w+1)//2, (s-h+1)//2) then crops.
    let pad_l = size.saturating_sub(w) / 2;
    let pad_t = size.saturating_sub(h) / 2;
    let padded_w = w.max(size);
    let padded_h = h.max(size);
    let mut padded = RgbImage::new(padded_w, padded_h);
    image::imageops::replace(&mut padded, img, i64::from(pad_l), i64::from(pad_t));
    center_crop(&padded, size)
}

fn round_half_even(x: f64) -> u32 {
    let r = x.round_ties_even();
    r as u32
}

// ---- Pillow's resampling (libImaging/Resample.c), bicubic, 8 bits per channel ----

const PRECISION_BITS: u32 = 32 - 8 - 2;

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

/// Per output pixel: first input index and fixed-point weights (Pillow's `precompute_coeffs`
/// followed by `normalize_coeffs_8bpc`).
struct Coeffs {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
}

fn precompute_coeffs(in_size: u32, out_size: u32) -> Coeffs {
    let (in0, in1) = (0.0f64, f64::from(in_size));
    let scale = (in1 - in0) / f64::from(out_size);
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size as usize);
    let mut weights = vec![0i32; out_size as usize * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size as usize {
        let center = in0 + (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) as usize - xmin;
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = bicubic((x as f64 + xmin as f64 - center + 0.5) * ss);
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

/// Pillow's `Image.resize(..., BICUBIC)` for RGB: a horizontal pass then a vertical pass,
/// each rounding to 8 bits.
pub fn resample_bicubic(img: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    let (in_w, in_h) = img.dimensions();
    let src = img.as_raw();
    let horizontal = if out_w != in_w {
        let c = precompute_coeffs(in_w, out_w);
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
        let c = precompute_coeffs(in_h, out_h);
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
    }

    #[test]
    fn centre_crop_rounds_half_to_even() {
        // 35 wide → offset round(1.5) = 2; 33 wide → round(0.5) = 0.
        let img = RgbImage::from_fn(35, 32, |x, _| image::Rgb([x as u8, 0, 0]));
        assert_eq!(center_crop(&img, 32).get_pixel(0, 0).0[0], 2);
        let img = RgbImage::from_fn(33, 32, |x, _| image::Rgb([x as u8, 0, 0]));
        assert_eq!(center_crop(&img, 32).get_pixel(0, 0).0[0], 0);
    }

    #[test]
    fn constant_image_stays_constant_through_bicubic() {
        let img = RgbImage::from_pixel(97, 61, image::Rgb([200, 10, 77]));
        let out = resample_bicubic(&img, 52, 32);
        assert!(out.pixels().all(|p| p.0 == [200, 10, 77]));
    }
}
