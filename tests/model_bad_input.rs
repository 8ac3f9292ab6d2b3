//! Bad input to the model layer: each case is a clear error naming the file, exit code 2,
//! and no panic. Diagnostic wording is pinned by snapshots (temp paths filtered).

use std::path::Path;

use crate::common::{clip_audit, texts, tiny, tiny_copy};

/// Runs `embed` on a bundle and returns (exit code, stderr with the bundle path replaced).
fn embed_fails(bundle: &Path, extra: &[&str]) -> (i32, String) {
    let b = bundle.to_str().unwrap();
    let mut args = vec!["embed", "--device", "cpu", "--model", b, "--text", "a dog"];
    args.extend_from_slice(extra);
    let out = clip_audit(&args);
    let (_, err) = texts(&out);
    assert!(!err.contains("panicked"), "no panic reaches the user:\n{err}");
    (out.status.code().unwrap_or(-1), err.replace(b, "<bundle>"))
}

fn edit_manifest(dir: &Path, from: &str, to: &str) {
    let p = dir.join("model.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "fixture manifest contains {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn missing_model_file_points_at_the_manifest_line() {
    let dir = tiny_copy();
    std::fs::remove_file(dir.path().join("image.onnx")).unwrap();
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn missing_manifest_says_which_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read model manifest <bundle>/model.yaml"), "{err}");
}

#[test]
fn bytes_that_are_not_onnx_are_named() {
    let dir = tiny_copy();
    std::fs::write(dir.path().join("text.onnx"), b"this is not a protobuf, just text\n").unwrap();
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("<bundle>/text.onnx is not an ONNX model"), "{err}");
}

#[test]
fn tap_missing_from_the_graph_lists_the_closest_names() {
    let dir = tiny_copy();
    edit_manifest(dir.path(), "/blocks.0/mlp/act/Mul_1_output_0", "/blocks.0/mlp/act/Mul_2_output_0");
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn input_size_that_does_not_fit_the_model_is_explained() {
    let dir = tiny_copy();
    edit_manifest(dir.path(), "size: 32", "size: 64");
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("image input \"pixel_values\" has shape [-1, 3, 32, 32]") && err.contains("fix preprocess.size"),
        "{err}"
    );
}

#[test]
fn manifest_missing_field_has_file_line_column() {
    let dir = tiny_copy();
    edit_manifest(dir.path(), "logit_scale: 100.0\n", "");
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn manifest_unknown_key_suggests_the_nearest() {
    let dir = tiny_copy();
    edit_manifest(dir.path(), "  context_length: 77", "  context_lenght: 77");
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn manifest_bad_values_are_all_reported_together() {
    let dir = tiny_copy();
    edit_manifest(dir.path(), "pooling: token_mean", "pooling: token_maen");
    edit_manifest(dir.path(), "mean: [0.48145466, 0.4578275, 0.40821073]", "mean: [0.5, 0.5]");
    edit_manifest(dir.path(), "logit_scale: 100.0", "logit_scale: -1");
    let (code, err) = embed_fails(dir.path(), &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn image_that_fails_to_decode_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nthis is not really a png").unwrap();
    let (code, err) = embed_fails(&tiny(), &["--image", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot decode image") && err.contains("broken.png"), "{err}");
}

#[test]
fn missing_image_is_named() {
    let (code, err) = embed_fails(&tiny(), &["--image", "no/such/picture.jpg"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read image no/such/picture.jpg"), "{err}");
}

#[test]
fn wrong_device_is_a_usage_error() {
    let out = clip_audit(&["embed", "--device", "tpu", "--model", "x", "--text", "a"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("use cpu, cuda, cuda:N or auto"));
}

#[test]
fn cuda_on_a_cpu_only_library_says_why() {
    let b = tiny();
    let out = clip_audit(&["embed", "--device", "cuda", "--model", b.to_str().unwrap(), "--text", "a"]);
    let (_, err) = texts(&out);
    if out.status.success() {
        eprintln!("SKIPPED: CUDA works here, so its error cannot be checked");
        return;
    }
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("CUDA was requested but cannot be used"), "{err}");
    assert!(
        err.contains("without the CUDA execution provider")
            || err.contains("CUDA or cuDNN libraries")
            || err.contains("no usable CUDA device"),
        "{err}"
    );
}

#[test]
fn auto_device_falls_back_to_cpu_with_one_warning_line() {
    let b = tiny();
    let out = clip_audit(&["embed", "--device", "auto", "--model", b.to_str().unwrap(), "--text", "a"]);
    assert!(out.status.success());
    let (stdout, err) = texts(&out);
    if stdout.contains("on cuda:") {
        return;
    }
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("running on CPU"));
}

/// The zero-shot head is checked with the rest of the manifest: a sigmoid needs its bias, the
/// bias belongs to the sigmoid only, and an unknown head names the two there are.
#[test]
fn zero_shot_head_settings_are_checked_with_their_place() {
    let dir = tiny_copy();
    edit_manifest(dir.path(), "logit_scale: 100.0", "logit_scale: 100.0\nhead: sigmoid");
    let (code, err) = embed_fails(dir.path(), &["--text", "a"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error[M007]: the sigmoid head needs `logit_bias`") && err.contains("model.yaml:22:7"),
        "{err}"
    );

    let dir = tiny_copy();
    edit_manifest(dir.path(), "logit_scale: 100.0", "logit_scale: 100.0\nlogit_bias: -10.0");
    let (code, err) = embed_fails(dir.path(), &["--text", "a"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[M007]: `logit_bias` applies to the sigmoid head only"), "{err}");

    let dir = tiny_copy();
    edit_manifest(dir.path(), "logit_scale: 100.0", "logit_scale: 100.0\nhead: cosine");
    let (code, err) = embed_fails(dir.path(), &["--text", "a"]);
    assert!(code == 2 && err.contains("error[M007]: unknown head `cosine`") && err.contains("`sigmoid`"), "{err}");

    // A sigmoid head with its bias: embed's probabilities are per text, not summing to one.
    let dir = tiny_copy();
    edit_manifest(dir.path(), "logit_scale: 100.0", "logit_scale: 10.0\nhead: sigmoid\nlogit_bias: -1.0");
    let img = crate::common::tiny().join("golden/checker_32x32.png");
    let out = clip_audit(&[
        "embed",
        "--model",
        dir.path().to_str().unwrap(),
        "--device",
        "cpu",
        "--json",
        "--text",
        "a",
        "--text",
        "b",
        "--image",
        img.to_str().unwrap(),
    ]);
    let (stdout, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["head"]["kind"], "sigmoid");
    let cos: Vec<f64> = v["similarity"][0].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    let p: Vec<f64> = v["probabilities"][0].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    for (c, p) in cos.iter().zip(&p) {
        assert!((p - 1.0 / (1.0 + (-(10.0 * c - 1.0)).exp())).abs() < 1e-5, "{c} {p}");
    }
}
