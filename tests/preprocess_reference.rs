//! Preprocessing matches Pillow + torchvision, and Pillow + transformers for the other
//! families' rules (fixtures/preprocess, made by scripts/make_preprocess_fixtures.py).
//!
//! Tolerance: lossless inputs must match to 1e-6 after normalization (in practice bit for
//! bit: the resize is compared byte for byte where the fixture has the resized image). JPEGs
//! are decoded by different decoders (libjpeg-turbo vs Rust's), whose IDCT and chroma
//! upsampling differ by a few levels; there the mean absolute difference must stay under 2
//! levels of 255 after un-normalizing, and the orientation must be right (checked by
//! comparing against the reference with the wrong rotations, which differ far more). Cases
//! with a rule (`resize`, `interpolation`, `crop`, `crop_rounding`, `rescale_factor`, the
//! names of model.yaml) are run with that rule; cases without one with CLIP's.

use clip_audit::model::manifest::{
    Crop, CropRounding, Interpolation, ModelManifest, PreprocessSpec, ResizeMode, ResizeRule,
};
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
    resize: Option<String>,
    interpolation: Option<String>,
    crop: Option<String>,
    crop_rounding: Option<String>,
    rescale_factor: Option<f64>,
}

impl Case {
    fn has_rule(&self) -> bool {
        self.resize.is_some()
            || self.interpolation.is_some()
            || self.crop.is_some()
            || self.crop_rounding.is_some()
            || self.rescale_factor.is_some()
    }

    /// The case's preprocessing, read as the manifest reads model.yaml's names.
    fn spec(&self) -> PreprocessSpec {
        fn pick<T: Default>(v: &Option<String>, parse: fn(&str) -> Option<T>, what: &str) -> T {
            v.as_deref().map_or_else(T::default, |s| parse(s).unwrap_or_else(|| panic!("unknown {what} {s:?}")))
        }
        PreprocessSpec {
            size: self.size,
            rule: ResizeRule {
                resize: pick(&self.resize, ResizeMode::parse, "resize"),
                interpolation: pick(&self.interpolation, Interpolation::parse, "interpolation"),
                crop: pick(&self.crop, Crop::parse, "crop"),
                crop_rounding: pick(&self.crop_rounding, CropRounding::parse, "crop_rounding"),
            },
            rescale_factor: self.rescale_factor.unwrap_or(PreprocessSpec::DEFAULT_RESCALE_FACTOR),
            mean: self.mean,
            std: self.std,
        }
    }

    fn load(&self) -> image::RgbImage {
        preprocess::load_rgb(&fixture("preprocess").join(&self.file)).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("preprocess/cases.json")).expect("cases.json");
    serde_json::from_str::<Cases>(&text).expect("cases.json parses").cases
}

fn run(case: &Case) -> Vec<f32> {
    preprocess::preprocess(&case.load(), &case.spec())
}

#[test]
fn lossless_inputs_match_the_references_exactly() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.decoder_exact) {
        let ours = run(case);
        let reference = read_f32(&fixture("preprocess").join(&case.reference));
        let d = max_abs_diff(&ours, &reference);
        assert!(d <= 1e-6, "{}: max abs difference {d} (tolerance 1e-6)", case.name);
        checked += 1;
    }
    assert!(checked >= 25, "the fixture covers the lossless modes and the rules ({checked} cases)");
}

#[test]
fn resize_and_crop_match_pillow_byte_for_byte() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.resized_u8.is_some()) {
        let rgb = case.load();
        let spec = case.spec();
        let ours = preprocess::fit(&rgb, &spec);
        if !case.has_rule() {
            // CLIP's rule, as the typographic composites call it.
            assert_eq!(preprocess::resize_and_crop(&rgb, case.size), ours, "{}", case.name);
        }
        let reference = std::fs::read(fixture("preprocess").join(case.resized_u8.as_ref().unwrap())).unwrap();
        assert_eq!(ours.dimensions(), (case.size, case.size), "{}", case.name);
        assert_eq!(ours.as_raw(), &reference, "{}", case.name);
        checked += 1;
    }
    assert!(checked >= 8, "{checked} cases with a resized image");
}

#[test]
fn every_rule_is_covered_and_changes_the_result() {
    let all = cases();
    let ruled: Vec<&Case> = all.iter().filter(|c| c.has_rule()).collect();
    let specs: Vec<PreprocessSpec> = ruled.iter().map(|c| c.spec()).collect();
    assert!(
        specs.iter().any(|s| s.rule.resize == ResizeMode::Squash && s.rule.interpolation == Interpolation::Bicubic)
    );
    assert!(
        specs.iter().any(|s| s.rule.resize == ResizeMode::Squash && s.rule.interpolation == Interpolation::Bilinear)
    );
    assert!(
        specs
            .iter()
            .any(|s| s.rule.resize == ResizeMode::ShortestSide && s.rule.interpolation == Interpolation::Bilinear)
    );
    assert!(specs.iter().any(|s| s.rule.crop == Crop::Center && s.rule.crop_rounding == CropRounding::Hf));
    assert!(specs.iter().any(|s| s.rescale_factor != PreprocessSpec::DEFAULT_RESCALE_FACTOR));
    // Each ruled case is discriminating: CLIP's rule on the same image is far from its reference.
    for case in ruled {
        let reference = read_f32(&fixture("preprocess").join(&case.reference));
        let clip = PreprocessSpec {
            rule: ResizeRule::CLIP,
            rescale_factor: PreprocessSpec::DEFAULT_RESCALE_FACTOR,
            ..case.spec()
        };
        let d = max_abs_diff(&preprocess::preprocess(&case.load(), &clip), &reference);
        assert!(d > 1e-3, "{}: CLIP's rule gives the same result (max abs difference {d})", case.name);
    }
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

/// The tiny bundle's manifest with its `preprocess:` block replaced, parsed as if it were
/// the bundle's own file (so the encoder files resolve).
fn manifest_with(preprocess: &str) -> Result<ModelManifest, String> {
    let path = fixture("models/tiny-clip/model.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("preprocess:\n").unwrap();
    let end = text.find("tokenizer:\n").unwrap();
    let source = format!("{}preprocess:\n{preprocess}{}", &text[..start], &text[end..]);
    ModelManifest::parse(&source, &path).map_err(|e| e.to_string())
}

const MEAN_STD: &str = "  mean: [0.5, 0.5, 0.5]\n  std: [0.5, 0.5, 0.5]\n";

#[test]
fn manifest_reads_old_bundles_as_clip_and_new_keys_as_typed_rules() {
    let tiny = ModelManifest::load(&fixture("models/tiny-clip")).unwrap();
    assert_eq!(tiny.preprocess.rule, ResizeRule::CLIP);
    assert_eq!(tiny.preprocess.rescale_factor, PreprocessSpec::DEFAULT_RESCALE_FACTOR);
    assert_eq!(tiny.preprocess, PreprocessSpec { size: 32, ..Default::default() }, "the default is OpenAI CLIP's");
    let bare = manifest_with(&format!("  size: 32\n{MEAN_STD}")).unwrap();
    assert_eq!(bare.preprocess.rule, ResizeRule::CLIP);
    let siglip = manifest_with(&format!(
        "  size: 224\n  resize: squash\n  interpolation: bilinear\n  crop: none\n  crop_rounding: hf\n  \
         rescale_factor: 0.004\n{MEAN_STD}"
    ))
    .unwrap();
    assert_eq!(
        siglip.preprocess.rule,
        ResizeRule {
            resize: ResizeMode::Squash,
            interpolation: Interpolation::Bilinear,
            crop: Crop::None,
            crop_rounding: CropRounding::Hf,
        }
    );
    assert_eq!(siglip.preprocess.rescale_factor, 0.004);
    let shortest = manifest_with(&format!("  size: 224\n  resize: shortest_side\n{MEAN_STD}")).unwrap();
    assert_eq!(shortest.preprocess.rule, ResizeRule::CLIP);
}

#[test]
fn manifest_names_the_allowed_values_of_each_rule() {
    let err = manifest_with(&format!(
        "  size: 32\n  resize: squish\n  interpolation: lanczos\n  crop: centre\n  crop_rounding: pil\n{MEAN_STD}"
    ))
    .unwrap_err();
    for expected in [
        "error[M007]: unsupported preprocess.resize \"squish\"",
        "model.yaml:14:11",
        "did you mean `squash`? one of: shortest_side, squash, shortest_side_bicubic",
        "unsupported preprocess.interpolation \"lanczos\"",
        "one of: bicubic, bilinear",
        "did you mean `center`? one of: center, none",
        "unsupported preprocess.crop_rounding \"pil\"",
        "one of: torchvision, hf",
        "4 problems found",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from:\n{err}");
    }
}

#[test]
fn manifest_rejects_rules_that_do_not_end_in_a_square_or_contradict() {
    let err = manifest_with(&format!("  size: 32\n  crop: none\n{MEAN_STD}")).unwrap_err();
    assert!(err.contains("error[M007]: `crop: none` needs `resize: squash`"), "{err}");
    let err =
        manifest_with(&format!("  size: 32\n  resize: shortest_side_bicubic\n  interpolation: bilinear\n{MEAN_STD}"))
            .unwrap_err();
    assert!(err.contains("contradicts `resize: shortest_side_bicubic`"), "{err}");
    let ok =
        manifest_with(&format!("  size: 32\n  resize: shortest_side_bicubic\n  interpolation: bicubic\n{MEAN_STD}"));
    assert!(ok.is_ok());
    let err = manifest_with(&format!("  size: 32\n  rescale_factor: -1\n{MEAN_STD}")).unwrap_err();
    assert!(err.contains("error[M004]: preprocess.rescale_factor must be a positive number, not -1"), "{err}");
}
