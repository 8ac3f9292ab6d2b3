//! The Rust model layer reproduces onnxruntime-python's outputs on the tiny bundle.

use clip_audit::model::{ClipModel, Device, SessionConfig, TapSelection, preprocess};
use ndarray::{Array2, Array4};
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::common::{max_abs_diff, tiny};

#[derive(Deserialize)]
struct Golden {
    texts: Vec<GoldenText>,
    images: Vec<GoldenImage>,
}

#[derive(Deserialize)]
struct GoldenText {
    text: String,
    input_ids: Vec<i64>,
    text_embeds: Vec<f32>,
    taps: BTreeMap<String, Vec<f32>>,
}

#[derive(Deserialize)]
struct GoldenImage {
    file: String,
    pixel_values: Vec<f32>,
    image_embeds: Vec<f32>,
    taps: BTreeMap<String, Vec<f32>>,
}

/// The tolerance the Foundation issue sets for model outputs.
const TOL: f32 = 1e-5;

fn golden() -> Golden {
    let text = std::fs::read_to_string(tiny().join("golden/golden.json")).expect("golden.json");
    serde_json::from_str(&text).expect("golden.json parses")
}

fn cpu() -> SessionConfig {
    SessionConfig::default().with_device(Device::Cpu).with_threads(1)
}

#[test]
fn text_tower_matches_onnxruntime_python() {
    let g = golden();
    let mut model = ClipModel::load(&tiny(), &cpu(), &TapSelection::All).expect("tiny model loads");
    let texts: Vec<&str> = g.texts.iter().map(|t| t.text.as_str()).collect();
    let (ids, _mask) = model.tokenize(&texts).expect("tokenizes");
    for (row, t) in ids.rows().into_iter().zip(&g.texts) {
        assert_eq!(row.to_vec(), t.input_ids, "token ids of {:?}", t.text);
    }
    let out = model.encode_texts(&texts).expect("text inference");
    for (i, t) in g.texts.iter().enumerate() {
        let d = max_abs_diff(out.embeddings.row(i).as_slice().unwrap(), &t.text_embeds);
        assert!(d <= TOL, "text {:?}: embedding differs by {d}", t.text);
        for (name, acts) in &out.taps {
            let d = max_abs_diff(acts.row(i).as_slice().unwrap(), &t.taps[name]);
            assert!(d <= TOL, "text {:?}: tap {name} differs by {d}", t.text);
        }
    }
    assert_eq!(out.taps.len(), 1, "the one text tap is attached");
}

#[test]
fn image_tower_matches_onnxruntime_python_from_files() {
    let g = golden();
    let mut model = ClipModel::load(&tiny(), &cpu(), &TapSelection::All).expect("tiny model loads");
    let spec = model.manifest().preprocess;
    let n = g.images.len();
    let mut batch = Array4::<f32>::zeros((n, 3, 32, 32));
    for (i, img) in g.images.iter().enumerate() {
        let rgb = preprocess::load_rgb(&tiny().join(&img.file)).expect("golden image decodes");
        let pixels = preprocess::preprocess(&rgb, &spec);
        let d = max_abs_diff(&pixels, &img.pixel_values);
        assert!(d <= 1e-6, "{}: preprocessing differs from torchvision by {d}", img.file);
        batch.slice_mut(ndarray::s![i, .., .., ..]).as_slice_mut().unwrap().copy_from_slice(&pixels);
    }
    let out = model.encode_images(batch.view()).expect("image inference");
    assert_eq!(
        out.taps.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["image.block1.mlp", "image.block1.cls", "image.block0.mlp"]
    );
    for (i, img) in g.images.iter().enumerate() {
        let d = max_abs_diff(out.embeddings.row(i).as_slice().unwrap(), &img.image_embeds);
        assert!(d <= TOL, "{}: embedding differs by {d}", img.file);
        for (name, acts) in &out.taps {
            let d = max_abs_diff(acts.row(i).as_slice().unwrap(), &img.taps[name]);
            assert!(d <= TOL, "{}: tap {name} differs by {d}", img.file);
        }
    }
}

#[test]
fn tap_selection_attaches_only_the_named_taps() {
    let sel = TapSelection::Named(vec!["image.block0.mlp".into()]);
    let mut model = ClipModel::load(&tiny(), &cpu(), &sel).expect("loads");
    let out = model.encode_images(Array4::<f32>::zeros((2, 3, 32, 32)).view()).expect("runs");
    assert_eq!(out.taps.len(), 1);
    assert_eq!(out.taps[0].1.shape(), &[2, 256]);
    let text = model.encode_texts(&["x"]).expect("runs");
    assert!(text.taps.is_empty());
    let err =
        ClipModel::load(&tiny(), &cpu(), &TapSelection::Named(vec!["image.block9".into()])).unwrap_err().to_string();
    assert!(err.contains("no tap named \"image.block9\"") && err.contains("image.block1.mlp"), "{err}");
}

#[test]
fn normalized_embeddings_have_unit_length() {
    let mut model = ClipModel::load(&tiny(), &cpu(), &TapSelection::None).expect("loads");
    let out = model.encode_texts(&["a photo of a dog", "zebra"]).expect("runs");
    let n: Array2<f32> = out.normalized_embeddings();
    for row in n.rows() {
        assert!((row.dot(&row) - 1.0).abs() < 1e-5);
    }
}

/// Writes a copy of the tiny bundle whose weights live in external data files, the way
/// models over 2 GB are saved, and checks it loads from there and gives the same outputs.
#[test]
fn external_data_models_load_from_beside_the_onnx_file() {
    use clip_audit::model::graph::proto;
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    for f in ["image.onnx", "text.onnx"] {
        let bytes = std::fs::read(tiny().join(f)).unwrap();
        let mut model = proto::ModelProto::decode(bytes.as_slice()).unwrap();
        let mut data = Vec::new();
        let data_name = format!("{f}.data");
        for init in &mut model.graph.as_mut().unwrap().initializer {
            let Some(raw) = init.raw_data.take() else { continue };
            let offset = data.len();
            data.extend_from_slice(&raw);
            init.data_location = Some(proto::tensor_proto::DataLocation::External as i32);
            let entry = |k: &str, v: String| proto::StringStringEntryProto { key: Some(k.into()), value: Some(v) };
            init.external_data = vec![
                entry("location", data_name.clone()),
                entry("offset", offset.to_string()),
                entry("length", raw.len().to_string()),
            ];
        }
        assert!(!data.is_empty(), "the tiny model has raw initializers to move out");
        std::fs::write(dir.path().join(&data_name), data).unwrap();
        std::fs::write(dir.path().join(f), model.encode_to_vec()).unwrap();
    }
    std::fs::copy(tiny().join("model.yaml"), dir.path().join("model.yaml")).unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    let mut ext = ClipModel::load(dir.path(), &cpu(), &TapSelection::All).expect("external-data bundle loads");
    let mut orig = ClipModel::load(&tiny(), &cpu(), &TapSelection::All).expect("loads");
    let batch =
        Array4::<f32>::from_shape_fn((2, 3, 32, 32), |(n, c, y, x)| ((n + c * 3 + y * 5 + x * 7) % 11) as f32 / 11.0);
    let (a, b) = (ext.encode_images(batch.view()).unwrap(), orig.encode_images(batch.view()).unwrap());
    assert_eq!(a, b);
    let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "taps are added in memory: no edited copy is written");
}

#[test]
fn vit_b_32_export_runs_with_its_tap_presets() {
    let Some(dir) = crate::common::export("vit-b-32") else { return };
    let mut model = ClipModel::load(&dir, &cpu().with_threads(0), &TapSelection::All).expect("ViT-B-32 export loads");
    let out = model.encode_images(Array4::<f32>::zeros((1, 3, 224, 224)).view()).expect("runs");
    assert_eq!(out.embeddings.shape(), &[1, 512]);
    assert!(out.taps.iter().all(|(_, a)| a.shape() == [1, 3072]));
}

#[test]
fn rn50_export_taps_the_final_convolutional_block() {
    let Some(dir) = crate::common::export("rn50") else { return };
    let mut model = ClipModel::load(&dir, &cpu().with_threads(0), &TapSelection::All).expect("RN50 export loads");
    let out = model.encode_images(Array4::<f32>::zeros((1, 3, 224, 224)).view()).expect("runs");
    assert_eq!(out.embeddings.shape(), &[1, 1024]);
    assert_eq!(out.taps[0].1.shape(), &[1, 2048], "layer4 output pooled over space has 2048 channels");
}

/// Hugging Face's CLIP in the layouts users download (fixtures/models/hf-clip-tiny, made by
/// scripts/make_hf_exports.py): the transformers.js pair, whose text graph takes
/// `attention_mask` too, and optimum's single `model.onnx` holding both towers, each tower cut
/// out of it at load time. Both give transformers' own processor + tokenizer + onnxruntime
/// embeddings, for square and non-square images (HF's crop rounding) and for prompts, although
/// clip-audit pads with 0 where HF pads with `<|endoftext|>` (CLIP's causal attention makes the
/// padding irrelevant to the embedding).
#[test]
fn hugging_face_clip_layouts_match_the_transformers_reference() {
    hub_layouts_match_their_golden("models/hf-clip-tiny", None);
}

/// SigLIP in both layouts (fixtures/models/hf-siglip-tiny): its SentencePiece tokenizer (a
/// stand-in trained by scripts/spm_standin.py: no SigLIP spiece.model can be downloaded) with
/// `</s>` appended and padding to 64 with `</s>`, squash resizing with mean = std = 0.5, the
/// transformers.js graphs' `pooler_output` or optimum's `model.onnx`, and the sigmoid head: within
/// 1e-5 of transformers' `SiglipTokenizer` + `SiglipImageProcessorPil` + onnxruntime.
#[test]
fn siglip_layouts_match_the_transformers_reference() {
    hub_layouts_match_their_golden(
        "models/hf-siglip-tiny",
        Some(clip_audit::vectors::Head::Sigmoid { scale: 10.0, bias: -10.0 }),
    );
}

/// Both manifests of a fixture hub folder (`model.yaml`: transformers.js' two graphs;
/// `model.optimum.yaml`: the single graph) against its golden ([`check_hub_golden`]), and the
/// head when given.
fn hub_layouts_match_their_golden(fixture: &str, head: Option<clip_audit::vectors::Head>) {
    let dir = crate::common::fixture(fixture);
    for manifest in ["model.yaml", "model.optimum.yaml"] {
        let (_, model) = crate::common::check_hub_golden(&dir, &dir.join(manifest), &format!("{fixture} {manifest}"));
        if let Some(head) = head {
            assert_eq!(model.manifest().head, head, "{manifest}");
        }
    }
}

/// A graph input nothing can feed is refused when the model loads, by name; and a tower whose
/// output does not depend on its named input (a manifest pointing at the other tower) too.
#[test]
fn an_input_clip_audit_cannot_feed_is_refused_at_load_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = crate::common::fixture("models/hf-clip-tiny");
    std::fs::create_dir_all(dir.path().join("onnx")).unwrap();
    for f in ["onnx/vision_model.onnx", "onnx/text_model.onnx", "model.onnx"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(src.join("model.optimum.yaml")).unwrap();
    // The image tower named with the text tower's output: it needs token ids, not pixels.
    let wrong = manifest.replacen("output: image_embeds", "output: text_embeds", 1);
    std::fs::write(dir.path().join("model.yaml"), &wrong).unwrap();
    let err = ClipModel::load(dir.path(), &cpu(), &TapSelection::None).unwrap_err().to_string();
    assert!(err.contains("do not depend on its input \"pixel_values\""), "{err}");
    // The text tower taking pixels besides its ids: the combined graph's logits need both.
    let wrong = manifest.replacen("output: text_embeds", "output: logits_per_text", 1);
    std::fs::write(dir.path().join("model.yaml"), &wrong).unwrap();
    let err = ClipModel::load(dir.path(), &cpu(), &TapSelection::None).unwrap_err().to_string();
    assert!(err.contains("takes input \"pixel_values\", which clip-audit cannot feed"), "{err}");
    // A text tensor listed as an image tap: named, with the tower it belongs to.
    let wrong = manifest.replacen(
        "/vision_model/encoder/layers.1/mlp/activation_fn/Mul_1_output_0",
        "/text_model/encoder/layers.1/mlp/activation_fn/Mul_1_output_0",
        1,
    );
    assert_ne!(wrong, manifest);
    std::fs::write(dir.path().join("model.yaml"), &wrong).unwrap();
    let err = ClipModel::load(dir.path(), &cpu(), &TapSelection::All).unwrap_err().to_string();
    assert!(err.contains("tap \"image.last_mlp\" is listed under `encoder: image` but its tensor"), "{err}");
    assert!(err.contains("depends on the input \"input_ids\""), "{err}");
}

/// A bundle naming CLIP's BPE for SigLIP's graph (whose table has 1,000 rows here, 32,000 in the
/// real model) is refused at load, saying so, not at the first prompt with ONNX Runtime's
/// out-of-bounds message.
#[test]
fn a_tokenizer_with_more_ids_than_the_graph_embeds_is_refused_at_load() {
    let src = crate::common::fixture("models/hf-siglip-tiny");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("onnx")).unwrap();
    for f in ["onnx/vision_model.onnx", "onnx/text_model.onnx"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(src.join("model.yaml")).unwrap();
    let clip = manifest.replacen(
        "  kind: sentencepiece\n  file: spiece.model\n  context_length: 64\n  pad_id: 1",
        "  kind: clip_bpe\n  context_length: 64",
        1,
    );
    assert_ne!(clip, manifest);
    std::fs::write(dir.path().join("model.yaml"), clip).unwrap();
    let err = ClipModel::load(dir.path(), &cpu(), &TapSelection::None).unwrap_err().to_string();
    assert!(
        err.contains("the text graph embeds 1000 token ids, but the tokenizer (clip_bpe) produces ids up to 49407"),
        "{err}"
    );
}
