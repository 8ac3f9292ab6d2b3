//! Feature visualization shows what a unit reads: on a glass-box bundle with a unit that reads
//! the mean red of the image and one that reads horizontal stripes of period 8, the red unit's
//! image is red and the stripe unit's has its energy at that orientation and period;
//! on tiny-clip and the organism the optimised image excites its unit several times more than
//! the best of the fixture images (`visualize --compare`), and the run is seeded.

use std::path::Path;

use clip_audit::model::manifest::ModelManifest;
use clip_audit::model::synthetic::write_matmul_bundle;
use clip_audit::model::visualize::{Objective, Settings, Target, robustness_for, visualize};
use clip_audit::model::{Device, SessionConfig};

use crate::common::{clip_audit, fixture, texts};

const SIDE: u32 = 32;
const PERIOD: f32 = 8.0;

/// Unit 0 = the mean red of the image against its mean green and blue (R − (G + B)/2: a unit
/// that reads red must prefer red to white, which has as much red); unit 1 = a horizontal
/// grating (rows alternate with period 8) over all channels; unit 2 = the mean of the red
/// channel alone.
fn glass_box(dir: &Path) -> ModelManifest {
    let area = (SIDE * SIDE) as usize;
    let inputs = 3 * area;
    let units = 3;
    let mut w = vec![0.0f32; inputs * units];
    for c in 0..3 {
        for y in 0..SIDE as usize {
            for x in 0..SIDE as usize {
                let i = c * area + y * SIDE as usize + x;
                w[i * units] = if c == 0 { 1.0 } else { -0.5 } / area as f32;
                if c == 0 {
                    w[i * units + 2] = 1.0 / area as f32;
                }
                w[i * units + 1] = (std::f32::consts::TAU * y as f32 / PERIOD).cos() / inputs as f32;
            }
        }
    }
    write_matmul_bundle(dir, SIDE, units, Some(&w)).unwrap();
    ModelManifest::load(dir).unwrap()
}

fn run(m: &ModelManifest, unit: usize, seed: u64) -> clip_audit::model::visualize::Visualization {
    let settings = Settings { steps: 256, seed, robustness: robustness_for(SIDE as usize), ..Settings::default() };
    let target = Target::tap(m.tap("image.relu").unwrap());
    let config = SessionConfig { device: Device::Cpu, threads: Some(1) };
    visualize(m, &target, &Objective::Unit { unit, negative: false }, &settings, &config, &mut |_, _| {}).unwrap()
}

/// Power of the grey image at the frequency (fy, fx) in cycles per image.
fn power(img: &image::RgbImage, fy: f32, fx: f32) -> f32 {
    let (w, h) = img.dimensions();
    let (mut re, mut im) = (0.0f32, 0.0f32);
    for (x, y, p) in img.enumerate_pixels() {
        let v = (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / (3.0 * 255.0);
        let phase = std::f32::consts::TAU * (fy * y as f32 / h as f32 + fx * x as f32 / w as f32);
        re += v * phase.cos();
        im -= v * phase.sin();
    }
    re * re + im * im
}

fn channel_means(img: &image::RgbImage) -> [f32; 3] {
    let n = (img.width() * img.height()) as f32;
    let mut m = [0.0; 3];
    for p in img.pixels() {
        for c in 0..3 {
            m[c] += f32::from(p[c]) / 255.0 / n;
        }
    }
    m
}

#[test]
fn the_red_unit_is_visualised_red_and_the_stripe_unit_as_horizontal_stripes() {
    let dir = tempfile::tempdir().unwrap();
    let m = glass_box(&dir.path().join("glass-box"));

    let red = run(&m, 0, 0);
    let [r, g, b] = channel_means(&red.images[0]);
    assert!(r > g + 0.3 && r > b + 0.3, "the red unit's image has mean R {r:.2}, G {g:.2}, B {b:.2}");
    assert!(red.objective[0] > red.initial[0], "{:?} -> {:?}", red.initial, red.objective);
    // Red alone: white would do as well, and in the decorrelated colour space a step towards
    // red is mostly a step towards brightness (Olah et al. 2017 decorrelate colours so that
    // luminance is easy to move), so the image is bright with red on top.
    let [r, g, b] = channel_means(&run(&m, 2, 0).images[0]);
    assert!(r > 0.75 && r > g && r > b, "the red-channel unit's image has mean R {r:.2}, G {g:.2}, B {b:.2}");

    let stripes = run(&m, 1, 0);
    let img = &stripes.images[0];
    let cycles = SIDE as f32 / PERIOD;
    let along = power(img, cycles, 0.0);
    let across = power(img, 0.0, cycles);
    let diagonal = power(img, cycles, cycles);
    assert!(
        along > 20.0 * across.max(diagonal),
        "stripe unit: power {along:.1} at the unit's orientation, {across:.1} turned 90 degrees, {diagonal:.1} diagonal"
    );
    // A seeded run repeats exactly.
    assert_eq!(run(&m, 1, 0).images[0], *img);
    assert_ne!(run(&m, 1, 1).images[0], *img);
}

/// `visualize --compare` on a bundle: returns (achieved, best example, ratio).
fn compare(model: &Path, tap: &str, unit: usize, images: &[&Path]) -> (f64, f64, f64) {
    let out_png = tempfile::tempdir().unwrap();
    let png = out_png.path().join("unit.png");
    let unit = unit.to_string();
    let mut args = vec![
        "visualize",
        "--model",
        model.to_str().unwrap(),
        "--tap",
        tap,
        "--unit",
        &unit,
        "--steps",
        "128",
        "--json",
        "--device",
        "cpu",
        "--out",
        png.to_str().unwrap(),
    ];
    for i in images {
        args.extend(["--compare", i.to_str().unwrap()]);
    }
    let out = clip_audit(&args);
    assert!(out.status.success(), "{}", texts(&out).1);
    assert!(image::open(&png).is_ok(), "no PNG written");
    let v: serde_json::Value = serde_json::from_str(&texts(&out).0).unwrap();
    let c = &v["compare"];
    (v["achieved"][0].as_f64().unwrap(), c["best"][1].as_f64().unwrap(), c["ratio"].as_f64().unwrap())
}

/// Observed here (128 steps, seed 0): tiny-clip 6.0x, the organism 5.4x and 6.6x the best
/// image, so the bound of 1.5x leaves room for other thread counts' rounding.
#[test]
fn the_visualization_excites_its_unit_more_than_the_best_fixture_image() {
    let tiny = fixture("models/tiny-clip");
    let (got, best, ratio) = compare(&tiny, "image.block1.mlp", 3, &[&fixture("models/tiny-clip/golden")]);
    eprintln!("tiny-clip unit 3: {got:.3} vs best example {best:.3}: {ratio:.2}x");
    assert!(ratio > 1.5, "tiny-clip: {got} vs {best}");
    let countries = fixture("organism-images/countries");
    let folders: Vec<_> = ["at", "au", "be"].iter().map(|c| countries.join(c)).collect();
    let refs: Vec<&Path> = folders.iter().map(|p| p.as_path()).collect();
    for unit in [0, 17] {
        let (got, best, ratio) = compare(&fixture("models/organism"), "image.mlp", unit, &refs);
        eprintln!("organism unit {unit}: {got:.3} vs best example {best:.3}: {ratio:.2}x");
        assert!(ratio > 1.5, "organism unit {unit}: {got} vs {best}");
    }
}

#[test]
fn bad_requests_say_what_to_change() {
    let tiny = fixture("models/tiny-clip");
    let out_dir = tempfile::tempdir().unwrap();
    let png = out_dir.path().join("u.png");
    let run = |extra: &[&str]| {
        let mut args = vec!["visualize", "--model", tiny.to_str().unwrap(), "--device", "cpu", "--steps", "2"];
        args.extend(["--out", png.to_str().unwrap()]);
        args.extend(extra);
        let out = clip_audit(&args);
        (out.status.code(), texts(&out).1)
    };
    let (code, err) = run(&["--unit", "1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--tap is needed") && err.contains("image.block1.mlp"), "{err}");
    let (code, err) = run(&["--tap", "text.block1.mlp", "--unit", "1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("text tower"), "{err}");
    let (code, err) = run(&["--tap", "image.block1.mlp", "--unit", "999"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unit 999 is out of range") && err.contains("256 units"), "{err}");
    let (code, err) = run(&["--objective", "text"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--prompt"), "{err}");
    assert!(!png.exists(), "nothing is written when the request is refused");
}
