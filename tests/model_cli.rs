//! The model commands as a user runs them: `embed`, `model inspect`, `--help`.

use serde_json::Value;

use crate::common::{clip_audit, texts, tiny};

#[test]
fn help_lists_only_working_commands() {
    let out = clip_audit(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!(texts(&out).0);
}

#[test]
fn embed_json_gives_normalized_embeddings_and_zero_shot_probabilities() {
    let b = tiny();
    let img = b.join("golden/noise_50x64.png");
    let out = clip_audit(&[
        "embed",
        "--device",
        "cpu",
        "--model",
        b.to_str().unwrap(),
        "--image",
        img.to_str().unwrap(),
        "--text",
        "a photo of a dog",
        "--text",
        "a photo of a cat",
        "--json",
    ]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(v["embedding_dim"], 32);
    let emb: Vec<f64> = serde_json::from_value(v["images"][0]["embedding"].clone()).unwrap();
    let norm: f64 = emb.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    assert_eq!(v["images"][0]["taps"]["image.block1.mlp"].as_array().unwrap().len(), 256);
    assert_eq!(v["texts"][0]["input_ids"].as_array().map(Vec::len), Some(77));
    let probs: Vec<f64> = serde_json::from_value(v["probabilities"][0].clone()).unwrap();
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    let sim: Vec<f64> = serde_json::from_value(v["similarity"][0].clone()).unwrap();
    let t0: Vec<f64> = serde_json::from_value(v["texts"][0]["embedding"].clone()).unwrap();
    let dot: f64 = emb.iter().zip(&t0).map(|(a, b)| a * b).sum();
    assert!((dot - sim[0]).abs() < 1e-5, "similarity is the cosine of the printed embeddings");
}

#[test]
fn embed_text_output_is_readable() {
    let b = tiny();
    let img = b.join("golden/checker_32x32.png");
    let out = clip_audit(&[
        "embed",
        "--device",
        "cpu",
        "--model",
        b.to_str().unwrap(),
        "-i",
        img.to_str().unwrap(),
        "-t",
        "a photo of a dog",
        "-t",
        "a photo of a cat",
    ]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    for needle in ["model tiny-clip on cpu", "texts", "images", "tap image.block1.mlp (256 units)", "zero-shot", "→ t"]
    {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
}

#[test]
fn inspect_finds_the_manifest_taps_among_the_candidates() {
    let b = tiny();
    let out = clip_audit(&["model", "inspect", "--device", "cpu", b.to_str().unwrap(), "--json"]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let image = &v["encoders"][0];
    let tensors: Vec<&str> =
        image["candidates"].as_array().unwrap().iter().map(|c| c["tensor"].as_str().unwrap()).collect();
    assert_eq!(tensors, ["/blocks.0/mlp/act/Mul_1_output_0", "/blocks.1/mlp/act/Mul_1_output_0"]);
    assert_eq!(image["candidates"][1]["shape"], serde_json::json!([2, 17, 256]));
    assert_eq!(image["candidates"][1]["layout"], "ntd");
    assert_eq!(image["suggested"][0]["tensor"], "/blocks.1/mlp/act/Mul_1_output_0");
    assert_eq!(v["encoders"][1]["candidates"][1]["shape"], serde_json::json!([2, 77, 256]));
}

#[test]
fn inspect_accepts_a_single_onnx_file() {
    let f = tiny().join("image.onnx");
    let out = clip_audit(&["model", "inspect", "--device", "cpu", f.to_str().unwrap()]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("input   pixel_values  f32 [N, 3, 32, 32]"), "{stdout}");
    assert!(stdout.contains("suggested taps for model.yaml"), "{stdout}");
}
