//! The model layer: a CLIP model bundle loaded into ONNX Runtime sessions whose graphs carry
//! the requested taps, plus the exact preprocessing and tokenization it needs.
//!
//! [`ClipModel`] is what the rest of clip-audit uses: feed it preprocessed image batches or
//! token ids and get back raw embeddings and pooled unit activations per tap. Normalization
//! and scoring happen in the callers, so the raw output stays inspectable.

pub use crate::imaging::decode;
pub mod autodiff;
pub mod graph;
pub mod import;
pub mod inputs;
pub mod inspect;
pub mod manifest;
pub(crate) mod onnx_build;
pub mod pipeline;
pub mod preprocess;
pub mod runtime;
pub mod synthetic;
pub mod taps;
pub mod tokenizer;
pub mod visualize;

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2, ArrayView4, Ix2};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

pub use graph::{GraphError, OnnxGraph};
pub use manifest::{Encoder, ManifestError, ModelManifest, TapSpec};
pub use preprocess::ImageError;
pub use runtime::{Device, Runtime, RuntimeError, SessionConfig};
pub use taps::TapShapeError;
pub use tokenizer::{ClipTokenizer, Tokenizer, TokenizerError};

use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostic, Diagnostics};
use inputs::TextFeed;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An ONNX file is unreadable, not ONNX, or lacks a tensor.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// ONNX Runtime could not be loaded or could not create a session.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A tap names a tensor that the graph lacks; points at the manifest line.
    #[error("{0}")]
    TapNotInGraph(Diagnostics),
    /// A tap was selected by a name the manifest does not define.
    #[error("no tap named {name:?} in {manifest}; defined taps: {}", if .available.is_empty() { "none".to_owned() } else { .available.join(", ") })]
    UnknownTap {
        /// The requested name.
        name: String,
        /// The manifest.
        manifest: PathBuf,
        /// The names it defines.
        available: Vec<String>,
    },
    /// The ONNX graph's inputs or outputs do not match the manifest.
    #[error("{file}: {message}")]
    Interface {
        /// The ONNX file.
        file: PathBuf,
        /// What does not match and what to change.
        message: String,
    },
    /// Inference failed.
    #[error("inference failed in {file}: {source}")]
    Inference {
        /// The ONNX file.
        file: PathBuf,
        /// What ONNX Runtime said.
        #[source]
        source: ort::Error,
    },
    /// A tapped tensor had an unexpected shape.
    #[error(transparent)]
    TapShape(#[from] TapShapeError),
    /// The tokenizer file is unreadable or unusable, or a text could not be tokenized.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// Raw model output for one batch: unnormalized embeddings and pooled taps.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// `[N, D]` embeddings as the encoder returned them (not normalized).
    pub embeddings: Array2<f32>,
    /// For each tap of this encoder, in manifest order: its name and `[N, units]` activations.
    pub taps: Vec<(String, Array2<f32>)>,
}

impl Encoded {
    /// Embeddings scaled to unit length (CLIP compares them by cosine).
    pub fn normalized_embeddings(&self) -> Array2<f32> {
        crate::vectors::l2_normalized_rows(self.embeddings.view())
    }
}

/// Which taps to attach when loading.
#[derive(Debug, Clone, Default)]
pub enum TapSelection {
    /// Every tap in the manifest.
    #[default]
    All,
    /// None: embeddings only.
    None,
    /// These, by name.
    Named(Vec<String>),
}

/// One input of the text graph: its name, what it is fed, and whether it takes int32 (int64
/// otherwise).
#[derive(Debug, Clone)]
struct TextInput {
    name: String,
    feed: TextFeed,
    int32: bool,
}

struct EncoderSession {
    session: Session,
    file: PathBuf,
    input: String,
    output: String,
    taps: Vec<TapSpec>,
    /// The rows of the embedding table its input indexes (text towers), when found.
    vocabulary: Option<usize>,
}

impl EncoderSession {
    fn run(
        &mut self,
        inputs: Vec<(&str, ort::session::SessionInputValue<'_>)>,
        batch: usize,
    ) -> Result<Encoded, ModelError> {
        let file = self.file.clone();
        let infer = |source| ModelError::Inference { file: file.clone(), source };
        let outputs = self.session.run(inputs).map_err(infer)?;
        let extract = |name: &str| -> Result<ndarray::ArrayViewD<'_, f32>, ModelError> {
            let value = outputs.get(name).ok_or_else(|| ModelError::Interface {
                file: file.clone(),
                message: format!("output {name:?} missing from the session's results"),
            })?;
            value.try_extract_array::<f32>().map_err(infer)
        };
        let emb = extract(&self.output)?;
        let embeddings = emb.to_owned().into_dimensionality::<Ix2>().map_err(|_| ModelError::Interface {
            file: file.clone(),
            message: format!("embedding output {:?} has shape {:?}; expected [N, D]", self.output, emb.shape()),
        })?;
        let mut taps = Vec::with_capacity(self.taps.len());
        for tap in &self.taps {
            let t = extract(&tap.tensor)?;
            taps.push((tap.name.clone(), taps::pool(tap, t, batch)?));
        }
        Ok(Encoded { embeddings, taps })
    }
}

/// A CLIP model bundle with live sessions for both towers.
pub struct ClipModel {
    manifest: ModelManifest,
    tokenizer: Tokenizer,
    image: EncoderSession,
    text: EncoderSession,
    text_inputs: Vec<TextInput>,
    device: Device,
}

impl std::fmt::Debug for ClipModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipModel")
            .field("name", &self.manifest.name)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// Edits of the graphs made in memory at load time, for the analyses that need a changed
/// model: the null baseline (weights re-drawn) and causal ablation (units clamped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelEdit {
    /// Re-draw every weight from its tensor's own mean and sd with this seed.
    pub randomize: Option<u64>,
    /// Units to clamp.
    pub ablate: Vec<Ablation>,
}

/// One unit to clamp: `tap` channel `unit` (of `units`) set to `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ablation {
    /// Tap name (its tensor and layout come from the manifest).
    pub tap: String,
    /// Channel.
    pub unit: usize,
    /// Channels of the tap.
    pub units: usize,
    /// The value the channel is clamped to (its mean, or 0).
    pub value: f32,
}

impl ModelEdit {
    /// True when nothing is edited.
    pub fn is_empty(&self) -> bool {
        self.randomize.is_none() && self.ablate.is_empty()
    }
}

impl ClipModel {
    /// Loads the bundle at `bundle` (a folder with `model.yaml`, or the manifest itself).
    pub fn load(bundle: &Path, config: &SessionConfig, selection: &TapSelection) -> Result<Self, ModelError> {
        Self::load_edited(bundle, config, selection, &ModelEdit::default())
    }

    /// Loads the bundle with its graphs edited in memory.
    pub fn load_edited(
        bundle: &Path,
        config: &SessionConfig,
        selection: &TapSelection,
        edit: &ModelEdit,
    ) -> Result<Self, ModelError> {
        let manifest = ModelManifest::load(bundle)?;
        let tokenizer = Tokenizer::load(&manifest.tokenizer)?;
        let chosen = chosen_taps(&manifest, selection)?;
        // ONNX Runtime is loaded (or its absence reported) before any graph is read.
        Runtime::get()?;
        let mut missing = Diagnostics::default();
        let mut open = |which: Encoder| open_encoder(&manifest, which, &chosen, edit, config, &mut missing);
        let (image, device) = open(Encoder::Image)?;
        let (text, _) = open(Encoder::Text)?;
        if !missing.is_empty() {
            return Err(ModelError::TapNotInGraph(missing));
        }
        check_image_inputs(&image)?;
        check_vocabulary(&text, &tokenizer)?;
        let model = Self { text_inputs: text_inputs(&text)?, manifest, tokenizer, image, text, device };
        model.check_image_input()?;
        Ok(model)
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    /// The device the sessions run on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The taps attached to one encoder, in manifest order.
    pub fn taps(&self, which: Encoder) -> &[TapSpec] {
        match which {
            Encoder::Image => &self.image.taps,
            Encoder::Text => &self.text.taps,
        }
    }

    fn check_image_input(&self) -> Result<(), ModelError> {
        let s = i64::from(self.manifest.preprocess.size);
        let input = self.image.session.inputs().iter().find(|i| i.name() == self.image.input);
        if let Some(ValueType::Tensor { ty, shape, .. }) = input.map(|i| i.dtype()) {
            if *ty != TensorElementType::Float32 {
                return Err(ModelError::Interface {
                    file: self.image.file.clone(),
                    message: format!(
                        "image input {:?} has element type {ty}; clip-audit feeds float32",
                        self.image.input
                    ),
                });
            }
            let dims: Vec<i64> = shape.iter().copied().collect();
            let fits = dims.len() == 4
                && [dims[1], dims[2], dims[3]].iter().zip([3, s, s]).all(|(d, want)| *d < 0 || *d == want);
            if !fits {
                return Err(ModelError::Interface {
                    file: self.image.file.clone(),
                    message: format!(
                        "image input {:?} has shape {dims:?} but the manifest's preprocessing makes [N, 3, {s}, {s}]; fix preprocess.size in {}",
                        self.image.input,
                        self.manifest.path.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Runs the image tower on a `[N, 3, S, S]` batch of preprocessed images.
    pub fn encode_images(&mut self, batch: ArrayView4<'_, f32>) -> Result<Encoded, ModelError> {
        let s = self.manifest.preprocess.size as usize;
        let shape = batch.shape();
        if shape[1..] != [3, s, s] {
            return Err(ModelError::Interface {
                file: self.image.file.clone(),
                message: format!("image batch has shape {shape:?}; this model takes [N, 3, {s}, {s}]"),
            });
        }
        let n = shape[0];
        let file = self.image.file.clone();
        let tensor = TensorRef::from_array_view(batch).map_err(|source| ModelError::Inference { file, source })?;
        let input = self.image.input.clone();
        self.image.run(vec![(input.as_str(), tensor.into())], n)
    }

    /// Runs the text tower on `[N, context_length]` token ids and their attention mask (as
    /// [`ClipModel::tokenize`] gives them; the mask feeds an `attention_mask` input).
    pub fn encode_token_ids(
        &mut self,
        ids: ArrayView2<'_, i64>,
        mask: ArrayView2<'_, i64>,
    ) -> Result<Encoded, ModelError> {
        let ctx = self.manifest.tokenizer.context_length;
        if ids.ncols() != ctx || mask.dim() != ids.dim() {
            return Err(ModelError::Interface {
                file: self.text.file.clone(),
                message: format!(
                    "token batch has shape {:?} and mask {:?}; this model takes [N, {ctx}] for both",
                    ids.dim(),
                    mask.dim()
                ),
            });
        }
        let n = ids.nrows();
        let file = self.text.file.clone();
        let err = |source| ModelError::Inference { file: file.clone(), source };
        let (ids, mask) = (ids.to_owned(), mask.to_owned());
        let wide: Vec<Array2<i64>> = self.text_inputs.iter().map(|i| i.feed.values(&ids, &mask)).collect();
        let narrow: Vec<Option<Array2<i32>>> =
            self.text_inputs.iter().zip(&wide).map(|(i, v)| i.int32.then(|| v.mapv(|x| x as i32))).collect();
        let mut feeds = Vec::with_capacity(wide.len());
        for ((input, w), n32) in self.text_inputs.iter().zip(&wide).zip(&narrow) {
            let value: ort::session::SessionInputValue<'_> = match n32 {
                Some(v) => TensorRef::from_array_view(v.view()).map_err(err)?.into(),
                None => TensorRef::from_array_view(w.view()).map_err(err)?.into(),
            };
            feeds.push((input.name.as_str(), value));
        }
        self.text.run(feeds, n)
    }

    /// Tokenizes and encodes texts.
    pub fn encode_texts<S: AsRef<str>>(&mut self, texts: &[S]) -> Result<Encoded, ModelError> {
        let (ids, mask) = self.tokenize(texts)?;
        self.encode_token_ids(ids.view(), mask.view())
    }

    /// The `[N, context_length]` token ids of `texts` and their attention mask (1 on each
    /// text's tokens, 0 on the padding), from the bundle's tokenizer.
    pub fn tokenize<S: AsRef<str>>(&self, texts: &[S]) -> Result<(Array2<i64>, Array2<i64>), ModelError> {
        Ok(self.tokenizer.encode(texts)?)
    }

    /// The bundle's tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

/// Checks that the graph's named input and output exist, naming the closest when not.
fn check_interface(graph: &OnnxGraph, spec: &manifest::EncoderSpec) -> Result<(), ModelError> {
    let inputs = graph.input_names();
    if !inputs.contains(&spec.input.as_str()) {
        return Err(ModelError::Interface {
            file: spec.file.clone(),
            message: format!("the manifest names input {:?}, but the graph's inputs are {inputs:?}", spec.input),
        });
    }
    let names = graph.tensor_names();
    if !names.contains(spec.output.as_str()) {
        let outputs = graph.output_names();
        return Err(ModelError::Interface {
            file: spec.file.clone(),
            message: format!(
                "the manifest names output {:?}, which is not in the graph; its outputs are {outputs:?}",
                spec.output
            ),
        });
    }
    Ok(())
}

/// The taps a session reads: all of the manifest's, none, or those named (an unknown name is
/// an error listing the available ones).
fn chosen_taps(manifest: &ModelManifest, selection: &TapSelection) -> Result<Vec<TapSpec>, ModelError> {
    Ok(match selection {
        TapSelection::All => manifest.taps.clone(),
        TapSelection::None => Vec::new(),
        TapSelection::Named(names) => names
            .iter()
            .map(|n| {
                manifest.tap(n).cloned().ok_or_else(|| ModelError::UnknownTap {
                    name: n.clone(),
                    manifest: manifest.path.clone(),
                    available: manifest.taps.iter().map(|t| t.name.clone()).collect(),
                })
            })
            .collect::<Result<_, _>>()?,
    })
}

/// One encoder's session: its graph read, edited (re-drawn weights, ablated units), its taps
/// added as outputs (a tap whose tensor is not in the graph goes into `missing`), committed to
/// ONNX Runtime.
fn open_encoder(
    manifest: &ModelManifest,
    which: Encoder,
    chosen: &[TapSpec],
    edit: &ModelEdit,
    config: &SessionConfig,
    missing: &mut Diagnostics,
) -> Result<(EncoderSession, Device), ModelError> {
    let spec = manifest.encoder(which);
    let mut graph = OnnxGraph::read(&spec.file)?;
    apply_edit(&mut graph, manifest, which, edit, &spec.file)?;
    let taps: Vec<TapSpec> = chosen.iter().filter(|t| t.encoder == which).cloned().collect();
    for tap in &taps {
        if let Err(GraphError::NoSuchTensor { closest, .. }) = graph.check_tensor(&tap.tensor) {
            let help = if closest.is_empty() {
                "run `clip-audit model inspect` to list candidate tensors".to_owned()
            } else {
                format!("closest names in the graph: {}", closest.join(", "))
            };
            missing.push(
                Diagnostic::new(
                    Code::M008,
                    format!("tap {:?}: tensor {:?} is not in {}", tap.name, tap.tensor, spec.file.display()),
                    &manifest.path,
                    Some(&manifest.source),
                    tap.tensor_position,
                )
                .with_help(help),
            );
        }
    }
    check_interface(&graph, spec)?;
    let taps_found: Vec<&str> =
        taps.iter().filter(|t| graph.check_tensor(&t.tensor).is_ok()).map(|t| t.tensor.as_str()).collect();
    check_taps_in_tower(&graph, manifest, spec, which, &taps_found)?;
    // Only this tower: a file holding both (optimum's model.onnx) is cut to the part that
    // computes this tower's output and taps, so it takes this tower's inputs alone.
    let wanted: Vec<&str> = std::iter::once(spec.output.as_str()).chain(taps_found.iter().copied()).collect();
    graph.keep_only(&wanted)?;
    if !graph.input_names().contains(&spec.input.as_str()) {
        return Err(ModelError::Interface {
            file: spec.file.clone(),
            message: format!(
                "the {which} encoder's output {:?} and taps do not depend on its input {:?}: the manifest names another tower's input or output (a tap of the other tower?)",
                spec.output, spec.input
            ),
        });
    }
    let bytes = graph.with_outputs(taps_found)?;
    let what = spec.file.display().to_string();
    let (session, device) = Runtime::get()?.session_from_bytes(&bytes, spec.file.parent(), config, &what)?;
    let session = EncoderSession {
        session,
        file: spec.file.clone(),
        input: spec.input.clone(),
        output: spec.output.clone(),
        taps,
        vocabulary: graph.vocabulary_size(&spec.input),
    };
    Ok((session, device))
}

/// Applies `edit` to one encoder's graph: weights re-drawn (null baseline), and one keep/fill
/// pair per tapped tensor for the units clamped in it (ablation).
fn apply_edit(
    graph: &mut OnnxGraph,
    manifest: &ModelManifest,
    which: Encoder,
    edit: &ModelEdit,
    file: &Path,
) -> Result<(), ModelError> {
    if let Some(seed) = edit.randomize
        && graph.randomize_weights(seed)? == 0
    {
        return Err(GraphError::Unsupported {
            path: file.to_path_buf(),
            what: "a null baseline of a model without float32 weight tensors (fp16, bf16 and quantized exports: give a random-weight bundle as null_baseline.bundle)".into(),
        }
        .into());
    }
    let mut per_tensor: Vec<(&TapSpec, Vec<f32>, Vec<f32>)> = Vec::new();
    for a in &edit.ablate {
        let Some(tap) = manifest.tap(&a.tap).filter(|t| t.encoder == which) else { continue };
        if a.unit >= a.units {
            return Err(GraphError::Unsupported {
                path: file.to_path_buf(),
                what: format!("ablating unit {} of tap {:?}, which has {} units", a.unit, a.tap, a.units),
            }
            .into());
        }
        let i = match per_tensor.iter().position(|(t, _, _)| t.tensor == tap.tensor) {
            Some(i) => i,
            None => {
                per_tensor.push((tap, vec![1f32; a.units], vec![0f32; a.units]));
                per_tensor.len() - 1
            }
        };
        let (_, keep, fill) = &mut per_tensor[i];
        if let (Some(k), Some(f)) = (keep.get_mut(a.unit), fill.get_mut(a.unit)) {
            *k = 0.0;
            *f = a.value;
        }
    }
    for (tap, keep, fill) in per_tensor {
        let c = keep.len() as i64;
        let shape: Vec<i64> = match tap.layout {
            manifest::Layout::Nchw => vec![1, c, 1, 1],
            manifest::Layout::Nd => vec![1, c],
            manifest::Layout::Ntd | manifest::Layout::Tnd => vec![1, 1, c],
        };
        graph.ablate(&tap.tensor, &shape, &keep, &fill)?;
    }
    Ok(())
}

/// Every input of the text graph with what it is fed; an input nothing can feed, or one of a
/// type other than int64 and int32, is an error naming it.
fn text_inputs(text: &EncoderSession) -> Result<Vec<TextInput>, ModelError> {
    text.session
        .inputs()
        .iter()
        .map(|input| {
            let name = input.name();
            let Some(feed) = TextFeed::for_input(name, &text.input) else {
                return Err(ModelError::Interface {
                    file: text.file.clone(),
                    message: format!(
                        "the text graph takes input {name:?}, which clip-audit cannot feed (it feeds {}); if this file holds both towers, give each tower its own graph",
                        inputs::known_text_inputs(&text.input)
                    ),
                });
            };
            let int32 = match input.dtype() {
                ValueType::Tensor { ty: TensorElementType::Int64, .. } => false,
                ValueType::Tensor { ty: TensorElementType::Int32, .. } => true,
                other => {
                    return Err(ModelError::Interface {
                        file: text.file.clone(),
                        message: format!(
                            "text input {name:?} has type {other}; clip-audit feeds its {} as int64 (or int32)",
                            feed.describe()
                        ),
                    });
                }
            };
            Ok(TextInput { name: name.to_owned(), feed, int32 })
        })
        .collect()
}

/// In a file holding both towers, a tap of this encoder must read this tower: one that
/// depends on a graph input its output does not (a text tensor listed under `encoder: image`)
/// is an error naming the tap.
fn check_taps_in_tower(
    graph: &OnnxGraph,
    manifest: &ModelManifest,
    spec: &manifest::EncoderSpec,
    which: Encoder,
    taps: &[&str],
) -> Result<(), ModelError> {
    let deps = graph.input_dependencies();
    let inputs = graph.input_names();
    let Some(own) = deps.get(spec.output.as_str()) else { return Ok(()) };
    for tap in taps {
        let Some(extra) = deps.get(tap).and_then(|d| d.difference(own).next()) else { continue };
        let name = manifest.taps.iter().find(|t| t.tensor == *tap && t.encoder == which).map_or(*tap, |t| &t.name);
        return Err(ModelError::Interface {
            file: spec.file.clone(),
            message: format!(
                "tap {name:?} is listed under `encoder: {which}` but its tensor {tap:?} belongs to the other tower (it depends on the input {:?}); move it under the other encoder (`clip-audit model inspect` shows each tensor's tower)",
                inputs.get(*extra).copied().unwrap_or("?")
            ),
        });
    }
    Ok(())
}

/// The tokenizer must produce only ids the text graph's embedding table has rows for: a
/// bundle naming CLIP's BPE (ids up to 49,407) for SigLIP's 32,000-row table fails here, by
/// name, instead of at the first prompt.
fn check_vocabulary(text: &EncoderSession, tokenizer: &Tokenizer) -> Result<(), ModelError> {
    match text.vocabulary {
        Some(rows) if tokenizer.vocab_size() > rows => Err(ModelError::Interface {
            file: text.file.clone(),
            message: format!(
                "the text graph embeds {rows} token ids, but the tokenizer ({}) produces ids up to {}: the bundle names another model's tokenizer; set `tokenizer:` in the manifest to the model's own (`clip-audit model import` reads it from the hub folder)",
                tokenizer.kind_name(),
                tokenizer.vocab_size() - 1
            ),
        }),
        _ => Ok(()),
    }
}

/// The image graph must take the pixels alone: any other input is an error naming it.
fn check_image_inputs(image: &EncoderSession) -> Result<(), ModelError> {
    match image.session.inputs().iter().find(|i| i.name() != image.input) {
        Some(other) => Err(ModelError::Interface {
            file: image.file.clone(),
            message: format!(
                "the image graph takes input {:?} besides {:?}, which clip-audit cannot feed; if this file holds both towers, give each tower its own graph",
                other.name(),
                image.input
            ),
        }),
        None => Ok(()),
    }
}
