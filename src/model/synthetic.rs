//! Small CLIP-shaped bundles written from code: an image tower that is one MatMul onto a wide
//! tapped ReLU layer, and a text tower that averages a token table.
//!
//! Two jobs need a model whose cost or answer is known by construction and that no hub has:
//! the scale benchmark (`bench analyze`: inference costs almost nothing, so the runner and the
//! analyses are what is timed) and glass-box tests (`search`: a unit planted to read a word,
//! whose rank the test knows). The graph is written with the ONNX protobuf types the model
//! layer already reads (`graph::proto`), so nothing outside the crate is needed.

use std::path::Path;

use prost::Message;

use super::graph::proto as onnx;
use super::onnx_build::{attr_int as int_attr, attr_ints, node, tensor_f32 as tensor, value};

/// Width of the bundle's embedding.
pub const EMBEDDING_DIM: usize = 64;
/// Rows of the text tower's token table: CLIP's BPE vocabulary.
const VOCABULARY: usize = 49_408;

fn model(graph: onnx::GraphProto) -> Vec<u8> {
    onnx::ModelProto {
        ir_version: Some(8),
        producer_name: Some("clip-audit model::synthetic".into()),
        opset_import: vec![onnx::OperatorSetIdProto { domain: Some(String::new()), version: Some(13) }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Uniform values in [-scale, scale) from a seeded xorshift.
fn weights(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Writes the bundle into `dir`: pixels (`side` × `side`, normalised with mean 0.5 and sd
/// 0.25) → Flatten → MatMul onto `units` → ReLU (tapped as `image.relu`) → MatMul →
/// embedding; a text tower that averages a token table over CLIP's BPE ids. `w_units` is the
/// `[3·side·side, units]` first matrix, row-major (seeded uniform weights when None).
pub fn write_matmul_bundle(dir: &Path, side: u32, units: usize, w_units: Option<&[f32]>) -> std::io::Result<()> {
    use onnx::tensor_proto::DataType;
    std::fs::create_dir_all(dir)?;
    let inputs = 3 * (side * side) as usize;
    let drawn;
    let w_units = match w_units {
        Some(w) if w.len() == inputs * units => w,
        Some(w) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} weights for a [{inputs}, {units}] matrix", w.len()),
            ));
        }
        None => {
            drawn = weights(inputs * units, 1, 1.0 / (inputs as f32).sqrt());
            &drawn
        }
    };
    let (u, d) = (units as i64, EMBEDDING_DIM as i64);
    let image = onnx::GraphProto {
        name: Some("image".into()),
        node: vec![
            node("Flatten", &["pixel_values"], "flat", vec![int_attr("axis", 1)]),
            node("MatMul", &["flat", "w_units"], "pre", vec![]),
            node("Relu", &["pre"], "units", vec![]),
            node("MatMul", &["units", "w_embed"], "image_embeds", vec![]),
        ],
        initializer: vec![
            tensor("w_units", &[inputs as i64, u], w_units),
            tensor("w_embed", &[u, d], &weights(units * EMBEDDING_DIM, 2, 1.0 / (units as f32).sqrt())),
        ],
        input: vec![value("pixel_values", DataType::Float, &[None, Some(3), Some(side.into()), Some(side.into())])],
        output: vec![value("image_embeds", DataType::Float, &[None, Some(d)])],
        ..Default::default()
    };
    let text = onnx::GraphProto {
        name: Some("text".into()),
        node: vec![
            node("Gather", &["tokens", "input_ids"], "embedded", vec![int_attr("axis", 0)]),
            node("ReduceMean", &["embedded"], "text_embeds", vec![attr_ints("axes", &[1]), int_attr("keepdims", 0)]),
        ],
        initializer: vec![tensor("tokens", &[VOCABULARY as i64, d], &weights(VOCABULARY * EMBEDDING_DIM, 3, 1.0))],
        input: vec![value("input_ids", DataType::Int64, &[None, Some(77)])],
        output: vec![value("text_embeds", DataType::Float, &[None, Some(d)])],
        ..Default::default()
    };
    std::fs::write(dir.join("image.onnx"), model(image))?;
    std::fs::write(dir.join("text.onnx"), model(text))?;
    std::fs::write(
        dir.join("model.yaml"),
        format!(
            "# Written by clip-audit (model::synthetic): one MatMul onto {units} tapped ReLU units.\nname: matmul-{units}\nimage_encoder:\n  file: image.onnx\n  input: pixel_values\n  output: image_embeds\ntext_encoder:\n  file: text.onnx\n  input: input_ids\n  output: text_embeds\npreprocess:\n  size: {side}\n  mean: [0.5, 0.5, 0.5]\n  std: [0.25, 0.25, 0.25]\ntokenizer:\n  kind: clip_bpe\n  context_length: 77\nlogit_scale: 100.0\nembedding_dim: {EMBEDDING_DIM}\ntaps:\n  - name: image.relu\n    encoder: image\n    tensor: units\n    layout: nd\n    pooling: none\n"
        ),
    )?;
    Ok(())
}
