//! `model inspect`: what a user needs to write the taps of a new export in minutes.
//!
//! Lists each encoder's inputs and outputs and its candidate tap points (MLP activations and
//! residual block outputs, see [`OnnxGraph::candidate_taps`]) grouped by layer, with the
//! shapes measured by one dummy inference on a batch of two (so the batch axis, and with it
//! the `ntd`/`tnd` layout, can be told apart), and suggests tap entries for `model.yaml`.

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use ort::value::{Tensor, TensorElementType, ValueType};
use serde::Serialize;

use super::ModelError;
use super::graph::{CandidateKind, OnnxGraph};
use super::inputs::{TextFeed, known_text_inputs};
use super::manifest::{Encoder, Layout, ModelManifest, Pooling};
use super::runtime::{Runtime, SessionConfig};

const DUMMY_BATCH: usize = 2;

/// One graph input or output.
#[derive(Debug, Clone, Serialize)]
pub struct TensorInfo {
    /// Its name.
    pub name: String,
    /// Element type, e.g. `float32`.
    pub dtype: String,
    /// Dimensions; `None` where symbolic (e.g. the batch).
    pub shape: Vec<Option<i64>>,
    /// For an input: what clip-audit feeds it, or why it cannot (outputs: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fed_as: Option<String>,
}

/// One candidate tap, with its measured shape and a suggested layout and pooling.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateInfo {
    /// The layer (node name prefix).
    pub layer: String,
    /// The producing operator.
    pub op_type: String,
    /// The tensor name to write in `model.yaml`.
    pub tensor: String,
    /// Why it is a candidate.
    pub kind: CandidateKind,
    /// The tower it belongs to, from the graph inputs it depends on (pixels: image; token ids
    /// alone: text); this tells the towers apart in a file that holds both.
    pub tower: Option<Encoder>,
    /// Shape for a batch of 2, when the dummy run succeeded.
    pub shape: Option<Vec<usize>>,
    /// The layout that shape implies.
    pub layout: Option<Layout>,
    /// The pooling suggested for it.
    pub pooling: Option<Pooling>,
}

/// A tap entry ready for `model.yaml`.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestedTap {
    /// Suggested tap name.
    pub name: String,
    /// Encoder.
    pub encoder: Option<Encoder>,
    /// Tensor.
    pub tensor: String,
    /// Layout.
    pub layout: Layout,
    /// Pooling.
    pub pooling: Pooling,
}

/// What `inspect` found in one ONNX file.
#[derive(Debug, Clone, Serialize)]
pub struct EncoderInspection {
    /// Which tower, when known from a bundle.
    pub encoder: Option<Encoder>,
    /// The file.
    pub file: PathBuf,
    /// True when weights live in external data files.
    pub external_data: bool,
    /// Graph inputs.
    pub inputs: Vec<TensorInfo>,
    /// Graph outputs.
    pub outputs: Vec<TensorInfo>,
    /// Candidate tap points in graph order.
    pub candidates: Vec<CandidateInfo>,
    /// Why shapes are missing, if the dummy run failed.
    pub shape_note: Option<String>,
    /// Suggested taps (the last MLP activation; the last residual block).
    pub suggested: Vec<SuggestedTap>,
}

/// What `inspect` found in a bundle or a file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The bundle name, when a bundle was inspected.
    pub bundle: Option<String>,
    /// One entry per ONNX file.
    pub encoders: Vec<EncoderInspection>,
}

/// Inspects a bundle folder, a `model.yaml`, or a single `.onnx` file.
pub fn inspect(target: &Path, config: &SessionConfig) -> Result<Inspection, ModelError> {
    let is_onnx = target.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if is_onnx {
        let dummy = Dummy { ids_input: "input_ids", image_size: 224, context: 77, guessed: true };
        return Ok(Inspection { bundle: None, encoders: vec![inspect_file(target, None, &dummy, config)?] });
    }
    let manifest = ModelManifest::load(target)?;
    let dummy = Dummy {
        ids_input: &manifest.text.input,
        image_size: i64::from(manifest.preprocess.size),
        context: manifest.tokenizer.context_length as i64,
        guessed: false,
    };
    let encoders = [Encoder::Image, Encoder::Text]
        .into_iter()
        .map(|which| inspect_file(&manifest.encoder(which).file, Some(which), &dummy, config))
        .collect::<Result<_, _>>()?;
    Ok(Inspection { bundle: Some(manifest.name.clone()), encoders })
}

/// Inspects one `.onnx` file of a model that has no manifest yet, measuring shapes on dummy
/// inputs of the model's own image size and context length (a ViT's position embeddings fix
/// both): what `model import` suggests its taps from.
pub fn inspect_onnx(
    file: &Path,
    image_size: u32,
    context_length: usize,
    config: &SessionConfig,
) -> Result<EncoderInspection, ModelError> {
    let dummy = Dummy {
        ids_input: "input_ids",
        image_size: i64::from(image_size),
        context: context_length as i64,
        guessed: false,
    };
    inspect_file(file, None, &dummy, config)
}

/// What the dummy inference feeds: the name of the token ids input, the image side and the
/// context length.
struct Dummy<'a> {
    ids_input: &'a str,
    image_size: i64,
    context: i64,
    /// True for a lone file, whose context length is a guess.
    guessed: bool,
}

fn dims_of(v: &ValueType) -> (String, Vec<Option<i64>>) {
    match v {
        ValueType::Tensor { ty, shape, .. } => {
            (ty.to_string(), shape.iter().map(|d| (*d >= 0).then_some(*d)).collect())
        }
        other => (other.to_string(), Vec::new()),
    }
}

fn inspect_file(
    file: &Path,
    encoder: Option<Encoder>,
    dummy: &Dummy<'_>,
    config: &SessionConfig,
) -> Result<EncoderInspection, ModelError> {
    let graph = OnnxGraph::read(file)?;
    let candidates = graph.candidate_taps();
    let bytes = graph.with_outputs(candidates.iter().map(|c| c.tensor.as_str()))?;
    let runtime = Runtime::get()?;
    let (mut session, _) = runtime.session_from_bytes(&bytes, file.parent(), config, &file.display().to_string())?;
    let original_outputs: Vec<&str> = graph.output_names();
    let info = |o: &ort::value::Outlet| {
        let (dtype, shape) = dims_of(o.dtype());
        TensorInfo { name: o.name().to_owned(), dtype, shape, fed_as: None }
    };
    let mut inputs: Vec<TensorInfo> = session.inputs().iter().map(info).collect();
    for i in &mut inputs {
        i.fed_as = Some(fed_as(i, dummy.ids_input));
    }
    let outputs: Vec<TensorInfo> =
        session.outputs().iter().filter(|o| original_outputs.contains(&o.name())).map(info).collect();
    let towers = towers_of(&graph, &inputs);

    // One dummy inference on a batch of two to measure the candidates' shapes.
    // A lone file says nothing of its context length: CLIP's 77 first, then SigLIP's 64 (a
    // text graph with learned positions refuses any other length).
    let contexts: &[i64] = if dummy.guessed { &[dummy.context, 64] } else { &[dummy.context] };
    let (mut shapes, mut shape_note) = (std::collections::HashMap::new(), None);
    for &context in contexts {
        (shapes, shape_note) = match dummy_feeds(&session, dummy.image_size, context) {
            Ok(feeds) => measured_shapes(&mut session, feeds, &candidates),
            Err(note) => (std::collections::HashMap::new(), Some(note)),
        };
        if shape_note.is_none() {
            break;
        }
    }
    let candidates: Vec<CandidateInfo> = candidates
        .into_iter()
        .map(|c| {
            let shape = shapes.get(&c.tensor).cloned();
            let layout = shape.as_deref().and_then(layout_for);
            let pooling = layout.map(|l| match l {
                Layout::Nchw => Pooling::SpatialMean,
                Layout::Ntd | Layout::Tnd => Pooling::TokenMean,
                Layout::Nd => Pooling::None,
            });
            let tower = towers.get(&c.tensor).copied();
            CandidateInfo {
                layer: c.layer,
                op_type: c.op_type,
                tensor: c.tensor,
                kind: c.kind,
                tower,
                shape,
                layout,
                pooling,
            }
        })
        .collect();
    let suggested = suggest(&candidates, encoder);
    Ok(EncoderInspection {
        encoder,
        file: file.to_path_buf(),
        external_data: graph.has_external_data(),
        inputs,
        outputs,
        candidates,
        shape_note,
        suggested,
    })
}

/// Inputs for a dummy run on a batch of [`DUMMY_BATCH`]: zero images of `image_size`, token
/// rows of `context` of id 0 (in every vocabulary), attention masks of ones and positions
/// `0..context`. Err says why an input cannot be made.
fn dummy_feeds(
    session: &ort::session::Session,
    image_size: i64,
    context: i64,
) -> Result<Vec<(String, ort::session::SessionInputValue<'static>)>, String> {
    let mut feeds: Vec<(String, ort::session::SessionInputValue<'static>)> = Vec::new();
    for input in session.inputs() {
        let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
            return Err(format!("input {:?} is not a tensor", input.name()));
        };
        let mut dims: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(i, d)| match (*d, i) {
                (d, _) if d > 0 => d as usize,
                (_, 0) => DUMMY_BATCH,
                (_, 1) if shape.len() == 2 => context as usize,
                (_, 1) if shape.len() == 4 => 3,
                _ => image_size as usize,
            })
            .collect();
        if dims.first().is_some_and(|d| *d != DUMMY_BATCH) && !dims.is_empty() {
            dims[0] = DUMMY_BATCH;
        }
        let value: Result<ort::session::SessionInputValue<'static>, ort::Error> = match ty {
            TensorElementType::Float32 => Tensor::from_array(ArrayD::<f32>::zeros(IxDyn(&dims))).map(Into::into),
            TensorElementType::Int64 | TensorElementType::Int32 => {
                // Id 0 is in every vocabulary (a CLIP id such as 49406 is out of range for
                // SigLIP's 32,000); a mask of ones and positions 0.. are valid for any model.
                let ids = match input.name() {
                    "attention_mask" => ArrayD::<i64>::ones(IxDyn(&dims)),
                    "position_ids" if dims.len() == 2 => ArrayD::from_shape_fn(IxDyn(&dims), |i| i[1] as i64),
                    _ => ArrayD::<i64>::zeros(IxDyn(&dims)),
                };
                if *ty == TensorElementType::Int64 {
                    Tensor::from_array(ids).map(Into::into)
                } else {
                    Tensor::from_array(ids.mapv(|v| v as i32)).map(Into::into)
                }
            }
            other => return Err(format!("input {:?} has type {other}, which the dummy run cannot make", input.name())),
        };
        feeds.push((input.name().to_owned(), value.map_err(|e| e.to_string())?));
    }
    Ok(feeds)
}

/// The shape of each candidate tensor in one dummy run, and a note when the run failed.
fn measured_shapes(
    session: &mut ort::session::Session,
    feeds: Vec<(String, ort::session::SessionInputValue<'static>)>,
    candidates: &[super::graph::TapCandidate],
) -> (std::collections::HashMap<String, Vec<usize>>, Option<String>) {
    let mut shapes = std::collections::HashMap::new();
    match session.run(feeds) {
        Ok(out) => {
            for c in candidates {
                if let Some(v) = out.get(&c.tensor)
                    && let Ok((shape, _)) = v.try_extract_tensor::<f32>()
                {
                    shapes.insert(c.tensor.clone(), shape.iter().map(|d| *d as usize).collect());
                }
            }
            (shapes, None)
        }
        Err(e) => (shapes, Some(format!("dummy inference failed: {e}"))),
    }
}

/// The layout a shape measured with a batch of [`DUMMY_BATCH`] implies.
fn layout_for(shape: &[usize]) -> Option<Layout> {
    match shape {
        [n, _, _, _] if *n == DUMMY_BATCH => Some(Layout::Nchw),
        [n, t, _] if *n == DUMMY_BATCH && *t != DUMMY_BATCH => Some(Layout::Ntd),
        [_, n, _] if *n == DUMMY_BATCH => Some(Layout::Tnd),
        [n, _] if *n == DUMMY_BATCH => Some(Layout::Nd),
        _ => None,
    }
}

/// Whether an input holds pixels: a float tensor of rank 4.
pub(crate) fn is_pixels(t: &TensorInfo) -> bool {
    t.dtype == "f32" && t.shape.len() == 4 || t.dtype == "float32" && t.shape.len() == 4
}

/// What clip-audit feeds a graph input, in words.
fn fed_as(t: &TensorInfo, ids_input: &str) -> String {
    if is_pixels(t) {
        return "pixel values (the bundle's preprocessing)".to_owned();
    }
    match TextFeed::for_input(&t.name, ids_input) {
        Some(feed) => feed.describe().to_owned(),
        None => format!("nothing: clip-audit cannot feed this input (it feeds {})", known_text_inputs(ids_input)),
    }
}

/// The tower of every tensor: image when it depends on a pixel input, text when it depends on
/// other inputs only.
fn towers_of(graph: &OnnxGraph, inputs: &[TensorInfo]) -> std::collections::HashMap<String, Encoder> {
    let names = graph.input_names();
    let pixels: Vec<bool> = names.iter().map(|n| inputs.iter().find(|i| i.name == *n).is_some_and(is_pixels)).collect();
    graph
        .input_dependencies()
        .into_iter()
        .filter(|(_, deps)| !deps.is_empty())
        .map(|(t, deps)| {
            let tower = if deps.iter().any(|&i| pixels.get(i).copied().unwrap_or(false)) {
                Encoder::Image
            } else {
                Encoder::Text
            };
            (t.to_owned(), tower)
        })
        .collect()
}

/// Suggested taps: per tower (the bundle's encoder, or every tower the file holds), its last
/// MLP activation (token mean; class token too for images) and its last residual block.
fn suggest(candidates: &[CandidateInfo], encoder: Option<Encoder>) -> Vec<SuggestedTap> {
    let towers: Vec<Encoder> = match encoder {
        Some(e) => vec![e],
        None => [Encoder::Image, Encoder::Text]
            .into_iter()
            .filter(|t| candidates.iter().any(|c| c.tower == Some(*t)))
            .collect(),
    };
    towers.into_iter().flat_map(|t| suggest_for(candidates, t)).collect()
}

fn suggest_for(candidates: &[CandidateInfo], tower: Encoder) -> Vec<SuggestedTap> {
    let prefix = tower.to_string();
    let mine = || candidates.iter().rev().filter(move |c| c.tower.is_none_or(|x| x == tower));
    let mut out = Vec::new();
    // The last MLP over a sequence of tokens: an MLP over one pooled token (SigLIP's attention-
    // pooling head) comes after the encoder's layers and is no layer of it.
    let over_tokens = |c: &&CandidateInfo| match (c.layout, c.shape.as_deref()) {
        (Some(Layout::Ntd), Some([_, t, _])) | (Some(Layout::Tnd), Some([t, _, _])) => *t > 1,
        _ => true,
    };
    let mlp = |c: &&CandidateInfo| c.kind == CandidateKind::MlpActivation && c.layout.is_some();
    if let Some(c) = mine().filter(mlp).find(over_tokens).or_else(|| mine().find(mlp)) {
        let layout = c.layout.expect("filtered");
        let tap = |name: String, pooling| SuggestedTap {
            name,
            encoder: Some(tower),
            tensor: c.tensor.clone(),
            layout,
            pooling,
        };
        out.push(tap(format!("{prefix}.last_mlp"), Pooling::TokenMean));
        if tower == Encoder::Image {
            out.push(tap(format!("{prefix}.last_mlp.cls"), Pooling::ClassToken));
        }
    }
    if let Some(c) = mine().find(|c| c.kind == CandidateKind::ResidualBlockOutput && c.layout == Some(Layout::Nchw)) {
        out.push(SuggestedTap {
            name: format!("{prefix}.last_block"),
            encoder: Some(tower),
            tensor: c.tensor.clone(),
            layout: Layout::Nchw,
            pooling: Pooling::SpatialMean,
        });
    }
    out
}

impl Inspection {
    /// The human-readable listing printed by `model inspect`.
    pub fn render_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        if let Some(b) = &self.bundle {
            let _ = writeln!(s, "bundle: {b}");
        }
        let fmt_shape = |shape: &[Option<i64>]| {
            let dims: Vec<String> = shape
                .iter()
                .enumerate()
                .map(|(i, d)| d.map_or_else(|| if i == 0 { "N".into() } else { "?".into() }, |v| v.to_string()))
                .collect();
            format!("[{}]", dims.join(", "))
        };
        for e in &self.encoders {
            let role = e.encoder.map_or("model".to_owned(), |r| format!("{r} encoder"));
            let _ = writeln!(
                s,
                "\n{role}: {}{}",
                e.file.display(),
                if e.external_data { " (weights in external data)" } else { "" }
            );
            for (what, list) in [("input ", &e.inputs), ("output", &e.outputs)] {
                for t in list {
                    let fed = t.fed_as.as_ref().map_or(String::new(), |f| format!("  <- {f}"));
                    let _ = writeln!(s, "  {what}  {}  {} {}{fed}", t.name, t.dtype, fmt_shape(&t.shape));
                }
            }
            let _ = writeln!(s, "  candidate taps: {} (shapes for a batch of {DUMMY_BATCH})", e.candidates.len());
            if let Some(note) = &e.shape_note {
                let _ = writeln!(s, "  note: shapes unavailable: {note}");
            }
            let mut last_layer = None;
            for c in &e.candidates {
                if last_layer != Some(&c.layer) {
                    let _ = writeln!(s, "    {}", c.layer);
                    last_layer = Some(&c.layer);
                }
                let kind = match c.kind {
                    CandidateKind::MlpActivation => "mlp activation",
                    CandidateKind::ResidualBlockOutput => "block output",
                };
                let shape = c.shape.as_ref().map_or("?".to_owned(), |v| format!("{v:?}"));
                let tower = c.tower.map_or("?".to_owned(), |t| t.to_string());
                let _ = writeln!(s, "      {kind:<15} {tower:<6} {:<10} {shape:<18} {}", c.op_type, c.tensor);
            }
            if !e.suggested.is_empty() {
                let _ = writeln!(s, "  suggested taps for model.yaml:");
                for t in &e.suggested {
                    let _ = writeln!(s, "    - name: {}", t.name);
                    let _ = writeln!(s, "      encoder: {}", t.encoder.map_or("image".to_owned(), |e| e.to_string()));
                    let _ = writeln!(s, "      tensor: {:?}", t.tensor);
                    let _ = writeln!(
                        s,
                        "      layout: {}",
                        serde_json::to_value(t.layout)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    );
                    let _ = writeln!(s, "      pooling: {}", t.pooling);
                }
            }
        }
        s
    }
}
