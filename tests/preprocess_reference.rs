//! Preprocessing matches Pillow + torchvision (fixtures/preprocess, made by
//! scripts/make_preprocess_fixtures.py).
//!
//! Tolerance: lossless inputs must match to 1e-6 after normalization (in practice bit for
//! bit: the bicubic resize is compared byte for byte where the fixture has the resized
//! image). JPEGs are decoded by different decoders (libjpeg-turbo vs Rust's), whose IDCT and
//! chroma upsampling differ by a few levels; there the mean absolute difference must stay
//! under 2 levels of 255 after un-normalizing, and the orientation must be right (checked by
//! comparing against the reference with the wrong rotations, which differ far more).

use clip_audit::model::manifest::PreprocessSpec;
use clip_audit::model::preprocess;
use serde::Deserialize;

use crate::common::{fixture, max_abs_diff, read_f32};

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    file: String,
    size: u32,
    mean: [f32; 3],
    std: [f32; 3],
    reference: String,
    decoder_exact: bool,
    resized_u8: Option<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("preprocess/cases.json")).expect("cases.json");
    serde_json::from_str::<Cases>(&text).expect("cases.json parses").cases
}

fn run(case: &Case) -> Vec<f32> {
    let spec = PreprocessSpec { size: case.size, mean: case.mean, std: case.std };
    let rgb =
        preprocess::load_rgb(&fixture("preprocess").join(&case.file)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    preprocess::preprocess(&rgb, &spec)
}

#[test]
fn lossless_inputs_match_torchvision_exactly() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.decoder_exact) {
        let ours = run(case);
        let reference = read_f32(&fixture("preprocess").join(&case.reference));
        let d = max_abs_diff(&ours, &reference);
        assert!(d <= 1e-6, "{}: max abs difference {d} (tolerance 1e-6)", case.name);
        checked += 1;
    }
    assert!(checked >= 18, "the fixture covers the lossless modes ({checked} cases)");
}

#[test]
fn bicubic_resize_and_crop_match_pillow_byte_for_byte() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.resized_u8.is_some()) {
        let rgb = preprocess::load_rgb(&fixture("preprocess").join(&case.file)).unwrap();
        let ours = preprocess::resize_and_crop(&rgb, case.size);
        let reference = std::fs::read(fixture("preprocess").join(case.resized_u8.as_ref().unwrap())).unwrap();
        assert_eq!(ours.as_raw(), &reference, "{}", case.name);
        checked += 1;
    }
    assert!(checked >= 2);
}

#[test]
fn jpegs_match_within_decoder_tolerance_and_are_oriented() {
    for case in cases().iter().filter(|c| !c.decoder_exact) {
        let ours = run(case);
        let reference = read_f32(&fixture("preprocess").join(&case.reference));
        // Back to 0..255 levels: |Δx| * std * 255.
        let plane = (case.size * case.size) as usize;
        let levels = |a: &[f32], b: &[f32]| -> f32 {
            a.iter().zip(b).enumerate().map(|(i, (x, y))| (x - y).abs() * case.std[i / plane] * 255.0).sum::<f32>()
                / a.len() as f32
        };
        let mean_levels = levels(&ours, &reference);
        assert!(mean_levels < 2.0, "{}: mean difference {mean_levels:.2} levels (tolerance 2)", case.name);
        // A wrong orientation would be far off: rotate our result by 180° and compare.
        let s = case.size as usize;
        let rotated: Vec<f32> = (0..3 * plane)
            .map(|i| {
                let (c, r) = (i / plane, i % plane);
                let (y, x) = (r / s, r % s);
                ours[c * plane + (s - 1 - y) * s + (s - 1 - x)]
            })
            .collect();
        let wrong = levels(&rotated, &reference);
        assert!(
            wrong > 4.0 * mean_levels.max(1.0),
            "{}: orientation test is not discriminating ({wrong:.2} vs {mean_levels:.2})",
            case.name
        );
        let _ = max_abs_diff(&ours, &reference);
    }
}
