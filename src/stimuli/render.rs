//! Drawing text into images: rendered-text stimuli (a concept's name on a plain canvas) and
//! typographic composites (attack text drawn onto a photo, the Distill article's
//! "piggy bank on a poodle").
//!
//! The font (DejaVu Sans, Bitstream Vera licence, in `assets/fonts/`) is embedded in the
//! binary so that pixels are the same on every machine. Text that would not fit is scaled
//! down to 95% of the canvas width; the actual size is part of the stimulus' identity.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::RgbImage;

use crate::spec::audit::Placement;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() -> FontRef<'static> {
    FontRef::try_from_slice(FONT_BYTES).expect("the embedded DejaVu Sans is a valid font")
}

/// A coverage mask (0..1 per pixel) of `text` laid out on one line at `size` pixels, and
/// the size actually used after fitting into `max_width`.
struct Mask {
    width: u32,
    height: u32,
    alpha: Vec<f32>,
}

fn layout(text: &str, size: f32, max_width: f32) -> (Mask, f32) {
    let font = font();
    let measure = |px: f32| {
        let scaled = font.as_scaled(PxScale::from(px));
        let mut w = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                w += scaled.kern(p, id);
            }
            w += scaled.h_advance(id);
            prev = Some(id);
        }
        w
    };
    let mut px = size;
    let w = measure(px);
    if w > max_width && w > 0.0 {
        px = (px * max_width / w).floor().max(4.0);
    }
    let scaled = font.as_scaled(PxScale::from(px));
    let width = measure(px).ceil().max(1.0) as u32 + 2;
    let height = (scaled.ascent() - scaled.descent()).ceil().max(1.0) as u32 + 2;
    let mut alpha = vec![0f32; (width * height) as usize];
    let mut x = 1.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), point(x, 1.0 + scaled.ascent()));
        x += scaled.h_advance(id);
        prev = Some(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                let (xx, yy) = (b.min.x as i64 + i64::from(gx), b.min.y as i64 + i64::from(gy));
                if xx >= 0 && yy >= 0 && (xx as u32) < width && (yy as u32) < height {
                    let i = (yy as u32 * width + xx as u32) as usize;
                    alpha[i] = (alpha[i] + cov).min(1.0);
                }
            });
        }
    }
    (Mask { width, height, alpha }, px)
}

fn origin(placement: Placement, canvas: (u32, u32), mask: (u32, u32)) -> (i64, i64) {
    let margin = i64::from(canvas.0.min(canvas.1)) / 16;
    let (cw, ch, mw, mh) = (i64::from(canvas.0), i64::from(canvas.1), i64::from(mask.0), i64::from(mask.1));
    let left = margin;
    let right = cw - mw - margin;
    let hmid = (cw - mw) / 2;
    let top = margin;
    let bottom = ch - mh - margin;
    let vmid = (ch - mh) / 2;
    match placement {
        Placement::Center => (hmid, vmid),
        Placement::Top => (hmid, top),
        Placement::Bottom => (hmid, bottom),
        Placement::Left => (left, vmid),
        Placement::Right => (right, vmid),
        Placement::TopLeft => (left, top),
        Placement::TopRight => (right, top),
        Placement::BottomLeft => (left, bottom),
        Placement::BottomRight => (right, bottom),
    }
}

/// Blends `color` into `img` through `mask` at `at`, with `opacity`; returns how many pixels
/// the text covers (coverage above one half).
fn stamp(img: &mut RgbImage, mask: &Mask, at: (i64, i64), color: [u8; 3], opacity: f32) -> u64 {
    let mut covered = 0;
    for my in 0..mask.height {
        for mx in 0..mask.width {
            let a = mask.alpha[(my * mask.width + mx) as usize] * opacity;
            if a <= 0.0 {
                continue;
            }
            let (x, y) = (at.0 + i64::from(mx), at.1 + i64::from(my));
            if x < 0 || y < 0 || x >= i64::from(img.width()) || y >= i64::from(img.height()) {
                continue;
            }
            let p = img.get_pixel_mut(x as u32, y as u32);
            for (channel, ink) in p.0.iter_mut().zip(color) {
                *channel = (f32::from(*channel) * (1.0 - a) + f32::from(ink) * a).round().clamp(0.0, 255.0) as u8;
            }
            if a > 0.5 {
                covered += 1;
            }
        }
    }
    covered
}

/// A square canvas of `background` with `text` drawn at `size` pixels.
/// Returns the image and the font size actually used.
pub fn render_text(
    text: &str,
    canvas: u32,
    size: u32,
    placement: Placement,
    color: [u8; 3],
    background: [u8; 3],
) -> (RgbImage, f32) {
    let mut img = RgbImage::from_pixel(canvas, canvas, image::Rgb(background));
    let (mask, px) = layout(text, size as f32, canvas as f32 * 0.95);
    let at = origin(placement, (canvas, canvas), (mask.width, mask.height));
    stamp(&mut img, &mask, at, color, 1.0);
    (img, px)
}

/// `text` drawn onto `base` (already at the model's input size), optionally with a dark
/// outline for legibility on photos. Returns the composite and the fraction of its pixels the
/// text (with outline) covers.
pub fn composite(
    base: &RgbImage,
    text: &str,
    size: u32,
    placement: Placement,
    color: [u8; 3],
    outline: bool,
    opacity: f32,
) -> (RgbImage, f64) {
    let mut img = base.clone();
    let (mask, _) = layout(text, size as f32, base.width() as f32 * 0.95);
    let at = origin(placement, base.dimensions(), (mask.width, mask.height));
    let mut covered_mask = vec![false; (base.width() * base.height()) as usize];
    let mut mark = |img: &mut RgbImage, dx: i64, dy: i64, color: [u8; 3]| {
        let before = img.clone();
        stamp(img, &mask, (at.0 + dx, at.1 + dy), color, opacity);
        for (i, (a, b)) in before.pixels().zip(img.pixels()).enumerate() {
            if a != b {
                covered_mask[i] = true;
            }
        }
    };
    if outline {
        let w = (size / 14).max(1) as i64;
        let dark = if color.iter().map(|c| u32::from(*c)).sum::<u32>() > 384 { [0, 0, 0] } else { [255, 255, 255] };
        for (dx, dy) in [(-w, 0), (w, 0), (0, -w), (0, w), (-w, -w), (w, w), (-w, w), (w, -w)] {
            mark(&mut img, dx, dy, dark);
        }
    }
    mark(&mut img, 0, 0, color);
    let fraction = covered_mask.iter().filter(|c| **c).count() as f64 / covered_mask.len() as f64;
    (img, fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_is_deterministic_and_draws_ink() {
        let (a, px) = render_text("Nigeria", 224, 32, Placement::Center, [0, 0, 0], [255, 255, 255]);
        let (b, _) = render_text("Nigeria", 224, 32, Placement::Center, [0, 0, 0], [255, 255, 255]);
        assert_eq!(a, b);
        assert_eq!(px, 32.0);
        let dark = a.pixels().filter(|p| p.0[0] < 128).count();
        assert!(dark > 200 && dark < 224 * 224 / 4, "{dark} dark pixels");
    }

    #[test]
    fn long_text_is_scaled_to_fit() {
        let (img, px) = render_text(&"W".repeat(60), 224, 48, Placement::Left, [0, 0, 0], [255, 255, 255]);
        assert!(px < 48.0);
        // Nothing is drawn in the last column: the text fits.
        assert!((0..224).all(|y| img.get_pixel(223, y).0 == [255, 255, 255]));
    }

    #[test]
    fn composite_reports_coverage() {
        let base = RgbImage::from_pixel(64, 64, image::Rgb([90, 120, 60]));
        let (img, frac) = composite(&base, "piggy bank", 12, Placement::Bottom, [255, 255, 255], true, 1.0);
        assert!(frac > 0.01 && frac < 0.5, "{frac}");
        assert_ne!(img, base);
        let (_, none) = composite(&base, "", 12, Placement::Bottom, [255, 255, 255], true, 1.0);
        assert_eq!(none, 0.0);
    }
}
