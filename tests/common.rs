//! Shared helpers: fixture paths, running the binary, reading raw f32 files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// The tiny model bundle.
pub fn tiny() -> PathBuf {
    fixture("models/tiny-clip")
}

/// Runs the clip-audit binary with `args` in the repository root.
pub fn clip_audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clip-audit"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the clip-audit binary runs")
}

/// stdout and stderr of an output as text.
pub fn texts(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Reads a raw little-endian f32 file.
pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A big export made by `make exports` or `make hf-exports`, or None (and a visible SKIPPED line) when absent.
pub fn export(name: &str) -> Option<PathBuf> {
    let dir = fixture("exports").join(name);
    if dir.join("model.yaml").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent; run `make exports` (open_clip) or `make hf-exports` (Hugging Face) to make it",
            dir.display()
        );
        None
    }
}

/// Copies the tiny bundle into a temporary folder so a test can break it.
pub fn tiny_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["model.yaml", "image.onnx", "text.onnx"] {
        std::fs::copy(tiny().join(f), dir.path().join(f)).expect("copy fixture");
    }
    dir
}

/// `clip-audit run SPEC` on the CPU, quietly, with the run in `dir/run` and the reports under
/// `dir/reports`, plus `extra`.
pub fn run_with_reports(spec: &str, dir: &Path, extra: &[&str]) -> Output {
    let (out, reports) = (dir.join("run"), dir.join("reports"));
    let mut args = vec![
        "run",
        spec,
        "--out",
        out.to_str().unwrap(),
        "--reports",
        reports.to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let output = clip_audit(&args);
    // Every SARIF and JUnit file the tests make is checked the way its consumers check it.
    if let Ok(audits) = std::fs::read_dir(&reports) {
        for latest in audits.flatten().map(|e| e.path().join("latest")) {
            for (kind, file) in [("sarif", "report.sarif"), ("junit", "junit.xml")] {
                if latest.join(file).is_file() {
                    check_ci_output(kind, &[&latest.join(file)]);
                }
            }
            // Finding ids are built in one place: every failed or inconclusive check is a test
            // case of the JUnit file, which lists the checks from the analyses' tables.
            if let (Ok(json), Ok(junit)) =
                (std::fs::read_to_string(latest.join("report.json")), std::fs::read_to_string(latest.join("junit.xml")))
            {
                let report: serde_json::Value = serde_json::from_str(&json).unwrap();
                for list in ["findings", "inconclusive"] {
                    for f in report["summary"][list].as_array().into_iter().flatten() {
                        let id = f["id"].as_str().unwrap();
                        assert!(junit.contains(&format!("name=\"{id}\"")), "{list} id {id} is no JUnit test case");
                    }
                }
            }
        }
    }
    output
}

/// `clip-audit run SPEC --out OUT` on the CPU with one thread and no reports, plus `extra`.
pub fn run(spec: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-reports",
    ];
    args.extend_from_slice(extra);
    clip_audit(&args)
}

/// A reference file of `fixtures/stats/` (made by the scripts named in its README), parsed.
pub fn stats_reference(file: &str) -> serde_json::Value {
    let path = fixture("stats").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cases of one section of a reference file; fails if the section is missing or empty, so
/// no loop over it is vacuous.
pub fn reference_cases(fx: &serde_json::Value, section: &str) -> Vec<serde_json::Value> {
    let list = fx[section].as_array().unwrap_or_else(|| panic!("section {section} missing")).clone();
    assert!(!list.is_empty(), "section {section} is empty");
    list
}

/// A float of a reference file, with the strings "inf", "-inf" and "nan" for non-finite values.
pub fn reference_num(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().expect("f64"),
        serde_json::Value::String(s) => match s.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            other => panic!("unexpected number string {other:?}"),
        },
        other => panic!("not a number: {other}"),
    }
}

/// Runs `scripts/check_ci_outputs.py KIND FILES...` in the test environment that `make
/// test-tools` makes (`.venv-test`): the SARIF schema and GitHub's rules, the JUnit XSD,
/// huggingface_hub's model-card loader. Returns its stdout, or panics with its problems.
/// Without the environment the check says SKIPPED, unless `CLIP_AUDIT_REQUIRE_TEST_VENV` is
/// set (as `make test` does), when that is a failure.
pub fn check_ci_output(kind: &str, files: &[&Path]) -> Option<String> {
    let python = root().join(".venv-test/bin/python");
    // The stamp `make test-tools` writes once every package is in: a half-made venv counts
    // as missing.
    if !root().join(".venv-test/.installed").is_file() {
        assert!(
            std::env::var_os("CLIP_AUDIT_REQUIRE_TEST_VENV").is_none(),
            "{} is missing: run `make test-tools`",
            python.display()
        );
        eprintln!("SKIPPED: {kind} check, {} is missing (make test-tools)", python.display());
        return None;
    }
    let out = Command::new(python)
        .arg(root().join("scripts/check_ci_outputs.py"))
        .arg(kind)
        .args(files)
        .output()
        .expect("python runs");
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{kind} check failed:\n{stderr}");
    Some(stdout)
}

/// The golden of a Hugging Face export made by `scripts/make_hf_exports.py`
/// (`<dir>/golden/golden.json`): transformers' processor, tokenizer and onnxruntime.
#[derive(serde::Deserialize)]
pub struct HubGolden {
    /// exp() of the learned scale.
    pub logit_scale: f64,
    /// SigLIP's learned bias.
    #[serde(default)]
    pub logit_bias: Option<f64>,
    texts: Vec<HubText>,
    images: Vec<HubImage>,
}

#[derive(serde::Deserialize)]
struct HubText {
    text: String,
    text_embeds: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct HubImage {
    file: String,
    pixel_values: Vec<f32>,
    image_embeds: Vec<f32>,
    taps: std::collections::BTreeMap<String, Vec<f32>>,
}

/// Loads `manifest` (on the CPU, one thread) and checks it against the golden of the export in
/// `dir`: each prompt's embedding, each image's pixels (1e-6), embedding and `image.last_mlp`
/// tap (1e-5; embeddings compared L2-normalised, since optimum's graph normalises them). Returns
/// the golden and the model, for the caller's own checks of the head.
pub fn check_hub_golden(dir: &Path, manifest: &Path, what: &str) -> (HubGolden, clip_audit::model::ClipModel) {
    use clip_audit::model::{ClipModel, Device, SessionConfig, TapSelection, preprocess};
    const TOL: f32 = 1e-5;
    let unit = |v: &[f32]| clip_audit::vectors::l2_normalized(ndarray::ArrayView1::from(v));
    let g: HubGolden = serde_json::from_str(&std::fs::read_to_string(dir.join("golden/golden.json")).unwrap()).unwrap();
    let cpu = SessionConfig::default().with_device(Device::Cpu).with_threads(1);
    let mut model = ClipModel::load(manifest, &cpu, &TapSelection::All).unwrap_or_else(|e| panic!("{what}: {e}"));
    let texts: Vec<&str> = g.texts.iter().map(|t| t.text.as_str()).collect();
    let ours = model.encode_texts(&texts).expect("text inference").normalized_embeddings();
    for (i, t) in g.texts.iter().enumerate() {
        let d = max_abs_diff(ours.row(i).as_slice().unwrap(), &unit(&t.text_embeds));
        assert!(d <= TOL, "{what}: text {:?}: embedding differs by {d}", t.text);
    }
    let spec = model.manifest().preprocess;
    let size = spec.size as usize;
    let mut batch = ndarray::Array4::<f32>::zeros((g.images.len(), 3, size, size));
    for (i, img) in g.images.iter().enumerate() {
        let rgb = preprocess::load_rgb(&dir.join(&img.file)).expect("golden image decodes");
        let pixels = preprocess::preprocess(&rgb, &spec);
        let d = max_abs_diff(&pixels, &img.pixel_values);
        assert!(d <= 1e-6, "{what}: {}: preprocessing differs from transformers' by {d}", img.file);
        batch.slice_mut(ndarray::s![i, .., .., ..]).as_slice_mut().unwrap().copy_from_slice(&pixels);
    }
    let out = model.encode_images(batch.view()).expect("image inference");
    let ours = out.normalized_embeddings();
    let tap = out.taps.iter().find(|(n, _)| n == "image.last_mlp").expect("the image.last_mlp tap");
    for (i, img) in g.images.iter().enumerate() {
        let d = max_abs_diff(ours.row(i).as_slice().unwrap(), &unit(&img.image_embeds));
        assert!(d <= TOL, "{what}: {}: embedding differs by {d}", img.file);
        let d = max_abs_diff(tap.1.row(i).as_slice().unwrap(), &img.taps["image.last_mlp"]);
        assert!(d <= TOL, "{what}: {}: tap image.last_mlp differs by {d}", img.file);
    }
    (g, model)
}
