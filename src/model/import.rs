//! `model import`: a Hugging Face hub folder (config.json, preprocessor_config.json, the
//! tokenizer files and the ONNX exports) read into a `model.yaml` that needs no editing.
//!
//! Users download hub folders, not bundles, and writing a manifest by hand means translating
//! the processor's keys into the manifest's, finding each tower's input and output, digging
//! the learned temperature out of the weights (config.json holds only its initial value) and
//! choosing tap tensors. Every value here is read from the folder or measured on its graphs
//! (the taps through `model inspect`'s own suggestions); where a value can only be the
//! config's initial one, the manifest says so in a comment. Reading is kept apart from
//! writing: [`import`] returns the manifest text and a summary, and the command writes it, so
//! each step is tested on a temporary folder.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::ModelError;
use super::graph::OnnxGraph;
use super::inputs::TextFeed;
use super::inspect::{EncoderInspection, SuggestedTap, TensorInfo, inspect_onnx, is_pixels};
use super::manifest::{Encoder, Layout, MANIFEST_FILE};
use super::runtime::SessionConfig;

/// The model's configuration file in a hub folder.
pub const CONFIG_FILE: &str = "config.json";
/// The image processor's configuration file in a hub folder.
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";

/// The suffixes of the ONNX files transformers.js publishes beside the float32 one, in the
/// order a variant is taken when the float32 file is missing.
const VARIANTS: [&str; 7] = ["_quantized", "_int8", "_uint8", "_q4", "_bnb4", "_fp16", "_q4f16"];

/// Why a hub folder could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file of the folder is missing or holds something clip-audit cannot use; the message
    /// says what to do.
    #[error("{}: {message}", file.display())]
    Folder {
        /// The file (or folder) at fault.
        file: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The manifest exists and overwriting was not asked for.
    #[error("{} exists; pass --force to overwrite it, or --out to write the manifest elsewhere", path.display())]
    Exists {
        /// The manifest that would be overwritten.
        path: PathBuf,
    },
    /// An ONNX file could not be read or inspected.
    #[error(transparent)]
    Model(#[from] ModelError),
}

fn refuse(file: &Path, message: impl Into<String>) -> ImportError {
    ImportError::Folder { file: file.to_path_buf(), message: message.into() }
}

/// The model families `import` knows, from config.json's `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// `clip`: softmax head, projection to `projection_dim`.
    Clip,
    /// `siglip`: sigmoid head with a learned bias, no projection.
    Siglip,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Clip => "CLIP",
            Family::Siglip => "SigLIP",
        }
    }
}

/// What to import and where to write.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The hub folder.
    pub dir: PathBuf,
    /// A folder for `model.yaml`, or a `.yaml` path; `None`: `dir/model.yaml`.
    pub out: Option<PathBuf>,
    /// Overwrite an existing manifest.
    pub force: bool,
}

impl ImportRequest {
    /// The manifest the import writes: `dir/model.yaml`, `OUT/model.yaml` for a folder
    /// `--out`, or `--out` itself when it names a `.yaml`/`.yml` file.
    pub fn manifest_path(&self) -> PathBuf {
        match &self.out {
            None => self.dir.join(MANIFEST_FILE),
            Some(out) if out.extension().is_some_and(|e| e == "yaml" || e == "yml") => out.clone(),
            Some(out) => out.join(MANIFEST_FILE),
        }
    }
}

/// The image preprocessing read from preprocessor_config.json, in the manifest's terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preprocess {
    /// The side of the square the encoder takes.
    pub size: u32,
    /// `shortest_side` or `squash`.
    pub resize: &'static str,
    /// `bicubic` or `bilinear`.
    pub interpolation: &'static str,
    /// `center` or `none`.
    pub crop: &'static str,
    /// Multiplies the 8-bit values (1 when the processor does not rescale).
    pub rescale_factor: f64,
    /// Per-channel mean (0 when the processor does not normalize).
    pub mean: [f64; 3],
    /// Per-channel standard deviation (1 when the processor does not normalize).
    pub std: [f64; 3],
}

/// The tokenizer the manifest names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenizerChoice {
    /// `hf_tokenizer`, `sentencepiece` or `clip_bpe`.
    pub kind: &'static str,
    /// Its file in the hub folder (`clip_bpe` is built in and has none).
    pub file: Option<PathBuf>,
    /// Token ids per text.
    pub context_length: usize,
}

/// The zero-shot head and where its values came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadChoice {
    /// `softmax` (CLIP) or `sigmoid` (SigLIP).
    pub kind: &'static str,
    /// exp() of the learned log-scale.
    pub logit_scale: f64,
    /// The sigmoid head's learned bias.
    pub logit_bias: Option<f64>,
    /// The ONNX file whose initializers held the values (in the hub folder); `None`:
    /// config.json's initial value.
    pub from_graph: Option<PathBuf>,
}

/// One tower as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TowerChoice {
    /// The ONNX file.
    pub file: PathBuf,
    /// Its input (`pixel_values`, `input_ids`).
    pub input: String,
    /// Its embedding output (`image_embeds`, `text_embeds`).
    pub output: String,
}

/// Everything `import` found, from which the manifest is written.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// The bundle's name.
    pub name: String,
    /// Where it came from (`_name_or_path`, or the folder's name).
    pub source: String,
    /// The family.
    pub family: Family,
    /// The ONNX layout, in words.
    pub layout: String,
    /// The image tower.
    pub image: TowerChoice,
    /// The text tower.
    pub text: TowerChoice,
    /// The preprocessing.
    pub preprocess: Preprocess,
    /// The tokenizer.
    pub tokenizer: TokenizerChoice,
    /// The zero-shot head.
    pub head: HeadChoice,
    /// The shared embedding width, when config.json states it.
    pub embedding_dim: Option<u64>,
    /// The taps: the last MLP activation of each tower.
    pub taps: Vec<SuggestedTap>,
    /// What the user should know (a quantized file used, an initial value written).
    pub warnings: Vec<String>,
}

/// An imported folder: the manifest's path and text, and what went into it.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Where the manifest is to be written.
    pub manifest_path: PathBuf,
    /// The manifest.
    pub text: String,
    /// What was found.
    pub summary: ImportSummary,
}

/// Reads the hub folder `req.dir` and returns the manifest to write at
/// [`ImportRequest::manifest_path`], refusing up front when that exists and `req.force` is
/// not set. ONNX Runtime runs each graph once on dummy inputs to measure the taps' layouts.
pub fn import(req: &ImportRequest, config: &SessionConfig) -> Result<Imported, ImportError> {
    let manifest_path = req.manifest_path();
    if manifest_path.exists() && !req.force {
        return Err(ImportError::Exists { path: manifest_path });
    }
    if !req.dir.is_dir() {
        return Err(refuse(&req.dir, "is not a folder; give the folder a Hugging Face model was downloaded to"));
    }
    let mut summary = read_folder(&req.dir, config)?;
    // Only folders are resolved: the files of a hub cache are links to content-named blobs,
    // and a manifest must name the link (its external data lies beside it under its name).
    let base = resolve(manifest_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    let hub = relative_to(&resolve(&req.dir), &base);
    let written = |file: &Path| -> PathBuf {
        let inner: Vec<String> = file
            .strip_prefix(&req.dir)
            .unwrap_or(file)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let inner = inner.join("/");
        if hub.is_empty() { inner.into() } else { format!("{hub}/{inner}").into() }
    };
    summary.image.file = written(&summary.image.file);
    summary.text.file = written(&summary.text.file);
    summary.tokenizer.file = summary.tokenizer.file.as_deref().map(written);
    summary.head.from_graph = summary.head.from_graph.take().map(|f| PathBuf::from(name_in(&req.dir, &f)));
    let text = render_manifest(&summary, &req.dir);
    Ok(Imported { manifest_path, text, summary })
}

/// Everything but the writing: the configs, the files, the graphs' interfaces, the head and
/// the taps.
fn read_folder(dir: &Path, config: &SessionConfig) -> Result<ImportSummary, ImportError> {
    let hub = HubConfig::read(dir)?;
    let mut warnings = Vec::new();
    let (pp_file, pp) = processor_config(dir)?;
    let preprocess = preprocess_from(&pp, hub.family, &pp_file, &mut warnings)?;
    let tokenizer = tokenizer_in(dir, hub.family, hub.context_length)?;
    let files = find_onnx(dir, &mut warnings)?;
    let (image, text, taps) = towers(&files, hub.family, &preprocess, hub.context_length, config, &mut warnings)?;
    let head = head_of(&hub, &files.scale_sources, &mut warnings)?;
    let folder = resolve(dir).file_name().map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned());
    let source = hub.name_or_path.clone().unwrap_or_else(|| folder.clone());
    Ok(ImportSummary {
        name: hub.name_or_path.unwrap_or(folder),
        source,
        family: hub.family,
        layout: files.layout,
        image,
        text,
        preprocess,
        tokenizer,
        head,
        embedding_dim: hub.embedding_dim,
        taps,
        warnings,
    })
}

/// What config.json says.
#[derive(Debug, Clone, PartialEq)]
struct HubConfig {
    family: Family,
    /// `_name_or_path` when it is a hub id (`owner/name`), not a local path.
    name_or_path: Option<String>,
    context_length: usize,
    embedding_dim: Option<u64>,
    /// The initial log-scale (CLIP's `logit_scale_init_value`; transformers' SigLIP starts at 0).
    logit_scale_init: f64,
    /// The initial bias (SigLIP: 0).
    logit_bias_init: f64,
}

impl HubConfig {
    fn read(dir: &Path) -> Result<Self, ImportError> {
        let file = dir.join(CONFIG_FILE);
        let config = read_json(&file)?;
        let family = match config.get("model_type").and_then(Value::as_str) {
            Some("clip") => Family::Clip,
            Some("siglip") => Family::Siglip,
            Some(other) => {
                return Err(refuse(
                    &file,
                    format!(
                        "model_type {other:?} is not one clip-audit imports (clip, siglip); write model.yaml by hand (docs/model-bundle.md)"
                    ),
                ));
            }
            None => {
                return Err(refuse(
                    &file,
                    "has no model_type; a CLIP model's config.json says \"model_type\": \"clip\"",
                ));
            }
        };
        let text = config.get("text_config");
        let num = |v: Option<&Value>, key: &str| v.and_then(|v| v.get(key)).and_then(Value::as_u64);
        let default_context = if family == Family::Clip { 77 } else { 64 };
        let context_length = num(text, "max_position_embeddings").map_or(default_context, |n| n as usize);
        // The manifest's own bounds (the inspection's dummy run allocates a row per position).
        if !(3..=1024).contains(&context_length) {
            return Err(refuse(
                &file,
                format!("text_config.max_position_embeddings is {context_length}; clip-audit takes 3 to 1024"),
            ));
        }
        let embedding_dim = match family {
            Family::Clip => num(Some(&config), "projection_dim").or_else(|| num(text, "projection_dim")),
            // SigLIP has no shared projection: the text tower's head (`projection_size`) or
            // its width is the embedding's.
            Family::Siglip => num(text, "projection_size").or_else(|| num(text, "hidden_size")),
        };
        let name_or_path = config
            .get("_name_or_path")
            .and_then(Value::as_str)
            .filter(|n| n.split('/').count() == 2 && !n.starts_with(['/', '.', '~']) && !n.contains('\\'))
            .map(str::to_owned);
        let logit_scale_init = match family {
            Family::Clip => config.get("logit_scale_init_value").and_then(Value::as_f64).unwrap_or(2.6592),
            Family::Siglip => 0.0,
        };
        Ok(HubConfig { family, name_or_path, context_length, embedding_dim, logit_scale_init, logit_bias_init: 0.0 })
    }
}

/// The image processor's configuration: preprocessor_config.json, else the `image_processor`
/// of a processor_config.json (where newer transformers save a whole processor).
fn processor_config(dir: &Path) -> Result<(PathBuf, Value), ImportError> {
    let (single, whole) = (dir.join(PREPROCESSOR_FILE), dir.join("processor_config.json"));
    if !single.is_file()
        && whole.is_file()
        && let Some(pp) = read_json(&whole)?.get("image_processor")
    {
        return Ok((whole, pp.clone()));
    }
    let pp = read_json(&single)?;
    Ok((single, pp))
}

/// A JSON file of the folder, parsed; a missing file says what the folder needs.
fn read_json(file: &Path) -> Result<Value, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        refuse(
            file,
            format!("cannot read it ({e}); download the whole model folder from the hub (it holds config.json and preprocessor_config.json beside the ONNX files)"),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| refuse(file, format!("is not valid JSON ({e}); download it again")))
}

/// The preprocessing of a `CLIPImageProcessor` or `SiglipImageProcessor` config in the
/// manifest's terms (docs/model-bundle.md, "Importing a hub folder", has the table). Keys a
/// config leaves out take the processor class's defaults.
pub fn preprocess_from(
    pp: &Value,
    family: Family,
    file: &Path,
    warnings: &mut Vec<String>,
) -> Result<Preprocess, ImportError> {
    if pp.get("do_resize").and_then(Value::as_bool) == Some(false) {
        return Err(refuse(
            file,
            "do_resize is false, so images reach the model at any size; clip-audit resizes every image to one square size: set do_resize to true with the model's `size`, or write model.yaml by hand",
        ));
    }
    let (resize, size) = resize_of(pp.get("size"), family, file)?;
    let crop = crop_of(pp, family, resize, size, file)?;
    let interpolation = match pp.get("resample") {
        None | Some(Value::Null) => "bicubic",
        Some(v) => match v.as_u64() {
            Some(3) => "bicubic",
            Some(2) => "bilinear",
            _ => {
                let name = match v.as_u64() {
                    Some(0) => " (nearest)",
                    Some(1) => " (lanczos)",
                    Some(4) => " (box)",
                    Some(5) => " (hamming)",
                    _ => "",
                };
                return Err(refuse(
                    file,
                    format!(
                        "resample {v}{name} is not supported: clip-audit reproduces Pillow's bicubic (3) and bilinear (2) filters; set resample to the model's training filter, 3 or 2"
                    ),
                ));
            }
        },
    };
    let rescale_factor = if pp.get("do_rescale").and_then(Value::as_bool) == Some(false) {
        1.0
    } else {
        positive(pp.get("rescale_factor"), file, "rescale_factor")?.unwrap_or(1.0 / 255.0)
    };
    let (mean, std) = normalization_of(pp, family, file, warnings)?;
    Ok(Preprocess { size, resize, interpolation, crop, rescale_factor, mean, std })
}

/// A positive number under `key`, when present.
fn positive(v: Option<&Value>, file: &Path, key: &str) -> Result<Option<f64>, ImportError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Ok(Some(x)),
            _ => Err(refuse(file, format!("{key} must be a positive number, not {v}"))),
        },
    }
}

/// `size`: `{shortest_edge: S}` (or a bare number) resizes the shortest side; `{height: S,
/// width: S}` squashes to the square. A non-square or `longest_edge` size has no manifest rule.
fn resize_of(size: Option<&Value>, family: Family, file: &Path) -> Result<(&'static str, u32), ImportError> {
    let side = |v: Option<&Value>| v.and_then(Value::as_u64).filter(|s| (1..=4096).contains(s)).map(|s| s as u32);
    let Some(size) = size.filter(|v| !v.is_null()) else {
        // The processor classes' defaults.
        return Ok(if family == Family::Clip { ("shortest_side", 224) } else { ("squash", 224) });
    };
    if let Some(s) = side(Some(size)) {
        return Ok(("shortest_side", s));
    }
    if let Some(s) = side(size.get("shortest_edge")).filter(|_| size.get("longest_edge").is_none()) {
        return Ok(("shortest_side", s));
    }
    match (side(size.get("height")), side(size.get("width"))) {
        (Some(h), Some(w)) if h == w => Ok(("squash", h)),
        (Some(h), Some(w)) => Err(refuse(
            file,
            format!(
                "size is {h}x{w} (height x width), not square; clip-audit's encoders take square images: write model.yaml by hand if the model really takes {h}x{w}"
            ),
        )),
        _ => Err(refuse(
            file,
            format!(
                "size {size} is not one clip-audit reads: it takes {{\"shortest_edge\": S}} or {{\"height\": S, \"width\": S}}"
            ),
        )),
    }
}

/// The crop: `do_center_crop` with a square `crop_size` equal to the resize's size, or none
/// after a squash (which already gives the square).
fn crop_of(pp: &Value, family: Family, resize: &str, size: u32, file: &Path) -> Result<&'static str, ImportError> {
    // SigLIP's processor has no crop: a stray `do_center_crop` in its config means nothing.
    let crop = family == Family::Clip && pp.get("do_center_crop").and_then(Value::as_bool).unwrap_or(true);
    if !crop {
        if resize == "shortest_side" {
            return Err(refuse(
                file,
                "do_center_crop is false after a shortest_edge resize, so non-square images stay non-square; clip-audit's encoders take squares: set do_center_crop to true with crop_size equal to size",
            ));
        }
        return Ok("none");
    }
    let crop_size = match pp.get("crop_size").filter(|v| !v.is_null()) {
        None => 224,
        Some(v) => {
            match (v.as_u64(), v.get("height").and_then(Value::as_u64), v.get("width").and_then(Value::as_u64)) {
                (Some(s), _, _) => s,
                (None, Some(h), Some(w)) if h == w => h,
                _ => {
                    return Err(refuse(
                        file,
                        format!("crop_size {v} is not a square; clip-audit's encoders take squares"),
                    ));
                }
            }
        }
    };
    if crop_size != u64::from(size) {
        return Err(refuse(
            file,
            format!(
                "crop_size {crop_size} differs from size {size}: the manifest resizes straight to the crop size; write model.yaml by hand (docs/model-bundle.md) if the model was trained with a resize-then-smaller-crop"
            ),
        ));
    }
    Ok("center")
}

/// `image_mean` and `image_std` (a number stands for all three channels); mean 0 and std 1
/// when `do_normalize` is false; the processor class's defaults when absent.
fn normalization_of(
    pp: &Value,
    family: Family,
    file: &Path,
    warnings: &mut Vec<String>,
) -> Result<([f64; 3], [f64; 3]), ImportError> {
    if pp.get("do_normalize").and_then(Value::as_bool) == Some(false) {
        warnings.push(format!("{}: do_normalize is false: writing mean 0 and std 1", file.display()));
        return Ok(([0.0; 3], [1.0; 3]));
    }
    let (mean, std) = match family {
        Family::Clip => ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]),
        Family::Siglip => ([0.5; 3], [0.5; 3]),
    };
    let triple = |key: &str, default: [f64; 3], positive: bool| -> Result<[f64; 3], ImportError> {
        let v = match pp.get(key).filter(|v| !v.is_null()) {
            None => return Ok(default),
            Some(v) => v,
        };
        let values: Option<Vec<f64>> = match v {
            Value::Number(n) => n.as_f64().map(|x| vec![x; 3]),
            Value::Array(a) => a.iter().map(Value::as_f64).collect(),
            _ => None,
        };
        match values.as_deref() {
            Some(&[a, b, c]) if [a, b, c].iter().all(|x| x.is_finite() && (!positive || *x > 0.0)) => Ok([a, b, c]),
            _ => Err(refuse(
                file,
                format!("{key} {v} is not three (R, G, B) {}numbers", if positive { "positive " } else { "" }),
            )),
        }
    };
    Ok((triple("image_mean", mean, false)?, triple("image_std", std, true)?))
}

/// The tokenizer: for SigLIP its `spiece.model` first (`sentencepiece`: a converted
/// tokenizer.json, as transformers.js folders add, differs from `SiglipTokenizer` on some
/// strings); otherwise `tokenizer.json` (`hf_tokenizer`), else `spiece.model`, else CLIP's
/// `vocab.json` + `merges.txt`, which is OpenAI's BPE built into clip-audit (`clip_bpe`; checked
/// to be that vocabulary).
pub fn tokenizer_in(dir: &Path, family: Family, context_length: usize) -> Result<TokenizerChoice, ImportError> {
    let choice = |kind, file: Option<&str>| TokenizerChoice { kind, file: file.map(|f| dir.join(f)), context_length };
    if family == Family::Siglip && dir.join("spiece.model").is_file() {
        return Ok(choice("sentencepiece", Some("spiece.model")));
    }
    if dir.join("tokenizer.json").is_file() {
        return Ok(choice("hf_tokenizer", Some("tokenizer.json")));
    }
    if dir.join("spiece.model").is_file() {
        return Ok(choice("sentencepiece", Some("spiece.model")));
    }
    let vocab = dir.join("vocab.json");
    if family == Family::Clip && vocab.is_file() && dir.join("merges.txt").is_file() {
        let v = read_json(&vocab)?;
        let id = |t: &str| v.get(t).and_then(Value::as_u64);
        let is_clip = v.as_object().is_some_and(|m| m.len() == 49_408)
            && id("<|startoftext|>") == Some(49_406)
            && id("<|endoftext|>") == Some(49_407);
        if !is_clip {
            return Err(refuse(
                &vocab,
                "is not OpenAI CLIP's vocabulary (49,408 tokens, <|startoftext|> 49406), the one clip-audit builds in; add the model's tokenizer.json to the folder",
            ));
        }
        return Ok(choice("clip_bpe", None));
    }
    Err(refuse(
        dir,
        "holds no tokenizer: clip-audit reads tokenizer.json, spiece.model, or CLIP's vocab.json + merges.txt; download them from the model's hub page",
    ))
}

/// The ONNX files of a hub folder.
#[derive(Debug, Clone, PartialEq)]
struct OnnxFiles {
    /// The layout, in words.
    layout: String,
    image: PathBuf,
    text: PathBuf,
    /// Files holding both towers, which hold `logit_scale` (and `logit_bias`) too.
    scale_sources: Vec<PathBuf>,
}

/// The float32 file `dir/{stem}.onnx`, else its first quantized or half-precision variant
/// (with a warning).
fn pick(dir: &Path, stem: &str, warnings: &mut Vec<String>) -> Option<PathBuf> {
    let plain = dir.join(format!("{stem}.onnx"));
    if plain.is_file() {
        return Some(plain);
    }
    let variant = VARIANTS.iter().map(|v| dir.join(format!("{stem}{v}.onnx"))).find(|p| p.is_file())?;
    warnings.push(format!(
        "{} is missing: using {}, whose reduced-precision weights change embeddings and activations",
        plain.display(),
        variant.display()
    ));
    Some(variant)
}

/// The towers' files: transformers.js' `onnx/vision_model.onnx` + `onnx/text_model.onnx`
/// when both exist, else one file holding both (optimum's `model.onnx`, or transformers.js'
/// `onnx/model.onnx`).
fn find_onnx(dir: &Path, warnings: &mut Vec<String>) -> Result<OnnxFiles, ImportError> {
    let onnx = dir.join("onnx");
    let mut quiet = Vec::new();
    let scale_sources: Vec<PathBuf> = std::iter::once(dir.join("model.onnx"))
        .chain(std::iter::once(onnx.join("model.onnx")))
        .chain(VARIANTS.iter().map(|v| onnx.join(format!("model{v}.onnx"))))
        .filter(|p| p.is_file())
        .collect();
    let (image, text) = (pick(&onnx, "vision_model", &mut quiet), pick(&onnx, "text_model", &mut quiet));
    if let (Some(image), Some(text)) = (image.clone(), text.clone()) {
        warnings.append(&mut quiet);
        let layout = format!("transformers.js, one file per tower: {} + {}", name_in(dir, &image), name_in(dir, &text));
        return Ok(OnnxFiles { layout, image, text, scale_sources });
    }
    let Some(both) = scale_sources.first().cloned() else {
        let message = match (image, text) {
            (Some(_), None) => "has onnx/vision_model.onnx but no onnx/text_model.onnx; download the text tower too".to_owned(),
            (None, Some(_)) => "has onnx/text_model.onnx but no onnx/vision_model.onnx; download the vision tower too".to_owned(),
            _ => "holds no ONNX model: clip-audit reads transformers.js' onnx/vision_model.onnx + onnx/text_model.onnx or optimum's model.onnx; download them from the hub, or export with `optimum-cli export onnx --model MODEL_ID DIR`".to_owned(),
        };
        return Err(refuse(dir, message));
    };
    if both.file_name().is_some_and(|n| n != "model.onnx") {
        warnings.push(format!(
            "no float32 model.onnx: using {}, whose reduced-precision weights change embeddings and activations",
            both.display()
        ));
    }
    let who = if both.parent() == Some(dir) { "optimum" } else { "transformers.js" };
    let layout = format!("{who}, one file holding both towers: {}", name_in(dir, &both));
    Ok(OnnxFiles { layout, image: both.clone(), text: both, scale_sources })
}

/// `file` as a path inside `dir`, for messages.
fn name_in(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir).unwrap_or(file).display().to_string()
}

/// Inspects the graphs (once for a file holding both towers) and reads each tower's input,
/// output and taps from what they show.
fn towers(
    files: &OnnxFiles,
    family: Family,
    preprocess: &Preprocess,
    context_length: usize,
    config: &SessionConfig,
    warnings: &mut Vec<String>,
) -> Result<(TowerChoice, TowerChoice, Vec<SuggestedTap>), ImportError> {
    let image_view = inspect_onnx(&files.image, preprocess.size, context_length, config)?;
    let text_view = if files.text == files.image {
        image_view.clone()
    } else {
        inspect_onnx(&files.text, preprocess.size, context_length, config)?
    };
    let image = image_tower(&image_view, family)?;
    let text = text_tower(&text_view, family)?;
    let mut taps = Vec::new();
    for (view, tower) in [(&image_view, Encoder::Image), (&text_view, Encoder::Text)] {
        let mine: Vec<SuggestedTap> = view
            .suggested
            .iter()
            .filter(|t| t.encoder == Some(tower))
            // SigLIP pools by attention, not by a class token: token 0 is one more patch.
            .filter(|t| !(family == Family::Siglip && t.pooling == super::manifest::Pooling::ClassToken))
            .cloned()
            .collect();
        if mine.is_empty() {
            let why = view.shape_note.as_deref().map_or(String::new(), |n| format!(" ({n})"));
            warnings.push(format!(
                "no MLP activation of the {tower} tower found in {}{why}: the manifest has no {tower} taps; `clip-audit model inspect` lists the candidates",
                view.file.display()
            ));
        }
        taps.extend(mine);
    }
    Ok((image, text, taps))
}

/// The names a tower's embedding output goes by: CLIP's projection outputs; SigLIP, which has
/// no projection, also the towers' `pooler_output` (transformers.js' SigLIP towers).
fn embedding_outputs(tower: Encoder, family: Family) -> &'static [&'static str] {
    match (tower, family) {
        (Encoder::Image, Family::Clip) => &["image_embeds"],
        (Encoder::Text, Family::Clip) => &["text_embeds"],
        (Encoder::Image, Family::Siglip) => &["image_embeds", "pooler_output"],
        (Encoder::Text, Family::Siglip) => &["text_embeds", "pooler_output"],
    }
}

fn names(list: &[TensorInfo]) -> String {
    list.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The embedding output of one tower, or an error naming the outputs the graph has.
fn output_of(view: &EncoderInspection, tower: Encoder, family: Family) -> Result<String, ImportError> {
    let wanted = embedding_outputs(tower, family);
    wanted.iter().find(|w| view.outputs.iter().any(|o| o.name == **w)).map(|w| (*w).to_owned()).ok_or_else(|| {
        refuse(
            &view.file,
            format!(
                "has no output {} for the {tower} tower; its outputs are: {}. Export with optimum (`optimum-cli export onnx`) or take transformers.js' files, whose {} graphs have it",
                wanted.join(" or "),
                names(&view.outputs),
                family.name()
            ),
        )
    })
}

/// The image tower: the one float32 `[N, 3, H, W]` input and the image embedding output.
fn image_tower(view: &EncoderInspection, family: Family) -> Result<TowerChoice, ImportError> {
    let pixels: Vec<&TensorInfo> = view.inputs.iter().filter(|t| is_pixels(t)).collect();
    let [input] = pixels.as_slice() else {
        return Err(refuse(
            &view.file,
            format!(
                "has {} float32 [N, 3, H, W] pixel inputs where the image tower needs one; its inputs are: {} (a float16 export needs its float32 file)",
                pixels.len(),
                names(&view.inputs)
            ),
        ));
    };
    let output = output_of(view, Encoder::Image, family)?;
    Ok(TowerChoice { file: view.file.clone(), input: input.name.clone(), output })
}

/// The text tower: `input_ids`, every other input one clip-audit feeds, and the text
/// embedding output.
fn text_tower(view: &EncoderInspection, family: Family) -> Result<TowerChoice, ImportError> {
    const IDS: &str = "input_ids";
    if !view.inputs.iter().any(|t| t.name == IDS) {
        return Err(refuse(
            &view.file,
            format!("has no input {IDS} for the token ids; its inputs are: {}", names(&view.inputs)),
        ));
    }
    if let Some(t) = view.inputs.iter().find(|t| !is_pixels(t) && TextFeed::for_input(&t.name, IDS).is_none()) {
        return Err(refuse(
            &view.file,
            format!(
                "takes input {:?}, which clip-audit cannot feed (it feeds {}); export the text tower without it",
                t.name,
                super::inputs::known_text_inputs(IDS)
            ),
        ));
    }
    let output = output_of(view, Encoder::Text, family)?;
    Ok(TowerChoice { file: view.file.clone(), input: IDS.to_owned(), output })
}

/// The head: the learned scale (and SigLIP's bias) from the first file holding both towers
/// that computes its logits from them ([`learned_head`]), else config.json's initial values,
/// with a warning.
fn head_of(hub: &HubConfig, sources: &[PathBuf], warnings: &mut Vec<String>) -> Result<HeadChoice, ImportError> {
    let siglip = hub.family == Family::Siglip;
    let kind = if siglip { "sigmoid" } else { "softmax" };
    for file in sources {
        let graph = OnnxGraph::read(file).map_err(ModelError::from)?;
        let Some((logit_scale, bias)) = learned_head(&graph) else { continue };
        if siglip && bias.is_none() {
            continue;
        }
        if !(logit_scale.is_finite() && logit_scale > 0.0) || bias.is_some_and(|b| !b.is_finite()) {
            let found = format!("logit scale {logit_scale}, bias {bias:?}");
            return Err(refuse(file, format!("holds a learned {found}, not finite numbers with a positive scale")));
        }
        let logit_bias = if siglip { bias } else { None };
        return Ok(HeadChoice { kind, logit_scale, logit_bias, from_graph: Some(file.clone()) });
    }
    let what = if siglip {
        "transformers' initial SigLIP values (scale exp(0) = 1, bias 0)"
    } else {
        "exp(config.json's logit_scale_init_value)"
    };
    warnings.push(format!(
        "no ONNX file holding both towers holds the learned logit scale{}: logit_scale is {what}, the value training started from, not the trained one; zero-shot probabilities will be off. Download model.onnx (or onnx/model.onnx) beside the tower files and import again",
        if siglip { " and bias" } else { "" }
    ));
    let logit_bias = siglip.then_some(hub.logit_bias_init);
    Ok(HeadChoice { kind, logit_scale: hub.logit_scale_init.exp(), logit_bias, from_graph: None })
}

/// The learned scale (exp() taken) and bias of a graph holding both towers: read from the
/// nodes that compute `logits_per_text` (`MatMul * exp(scale) + bias`, through transposes
/// and casts), since exporters may rename the weights (SigLIP's become `onnx::Exp_759`);
/// else from initializers named `logit_scale` and `logit_bias`.
fn learned_head(graph: &OnnxGraph) -> Option<(f64, Option<f64>)> {
    let by_name = || {
        let scale = f64::from(graph.initializer_scalar("logit_scale")?).exp();
        Some((scale, graph.initializer_scalar("logit_bias").map(f64::from)))
    };
    let outputs = graph.output_names();
    let Some(start) = ["logits_per_text", "logits_per_image"].into_iter().find(|o| outputs.contains(o)) else {
        return by_name();
    };
    let (mut tensor, mut bias) = (start.to_owned(), None);
    for _ in 0..8 {
        let Some((op, inputs)) = graph.producer(&tensor) else { break };
        let next = match (op, inputs.as_slice()) {
            ("Transpose" | "Identity" | "Cast", [input, ..]) => input.to_string(),
            ("Add", [a, b]) => match one_scalar(graph, a, b, false) {
                Some((value, other)) => {
                    bias = Some(value);
                    other
                }
                None => break,
            },
            ("Mul", [a, b]) => match one_scalar(graph, a, b, true) {
                Some((scale, _)) => return Some((scale, bias)),
                None => break,
            },
            _ => break,
        };
        tensor = next;
    }
    by_name()
}

/// Of the inputs `a` and `b`, the one that is a scalar weight (through casts; with `exp`, also
/// `Exp` of one, taken) and the other's name.
fn one_scalar(graph: &OnnxGraph, a: &str, b: &str, exp: bool) -> Option<(f64, String)> {
    let value = |t: &str| -> Option<f64> {
        let mut t = t.to_owned();
        for _ in 0..4 {
            if let Some(v) = graph.initializer_scalar(&t) {
                return Some(f64::from(v));
            }
            match graph.producer(&t)? {
                ("Cast" | "Identity", inputs) => t = (*inputs.first()?).to_owned(),
                ("Exp", inputs) if exp => return graph.initializer_scalar(inputs.first()?).map(|v| f64::from(v).exp()),
                _ => return None,
            }
        }
        None
    };
    value(a).map(|v| (v, b.to_owned())).or_else(|| value(b).map(|v| (v, a.to_owned())))
}

/// `path` made absolute, with symbolic links resolved in the part that exists.
fn resolve(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or_else(|_| existing.to_path_buf());
    out.extend(rest.iter().rev());
    out
}

/// `target` relative to the folder `base` (both resolved), with `/` separators as a manifest
/// writes them; absolute when they share no root.
pub fn relative_to(target: &Path, base: &Path) -> String {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return target.display().to_string();
    }
    let ups = std::iter::repeat_n("..".to_owned(), b.len() - common);
    let downs = t[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned());
    ups.chain(downs).collect::<Vec<_>>().join("/")
}

/// A string as YAML writes it safely: JSON's double-quoted form is a YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn floats(v: &[f64; 3]) -> String {
    format!("[{:?}, {:?}, {:?}]", v[0], v[1], v[2])
}

/// The manifest text of a summary whose file paths are already relative to the manifest's
/// folder; `dir` is the hub folder, for the comments.
fn render_manifest(s: &ImportSummary, dir: &Path) -> String {
    use std::fmt::Write;
    let rel = |p: &Path| quoted(&p.to_string_lossy());
    let mut y = String::new();
    let shown = dir.display().to_string().replace(|c: char| c.is_control(), " ");
    let _ = writeln!(y, "# clip-audit model bundle, written by `clip-audit model import {shown}`.");
    let _ = writeln!(y, "# {} model; ONNX layout: {}.", s.family.name(), s.layout);
    let _ = writeln!(y, "name: {}", quoted(&s.name));
    let what =
        format!("{} model {} imported from its Hugging Face folder; ONNX: {}", s.family.name(), s.source, s.layout);
    let _ = writeln!(y, "description: {}", quoted(&what));
    for (key, t) in [("image_encoder", &s.image), ("text_encoder", &s.text)] {
        let _ = writeln!(
            y,
            "{key}:\n  file: {}\n  input: {}\n  output: {}",
            rel(&t.file),
            quoted(&t.input),
            quoted(&t.output)
        );
    }
    let p = &s.preprocess;
    let _ =
        writeln!(y, "preprocess:\n  size: {}\n  resize: {}\n  interpolation: {}", p.size, p.resize, p.interpolation);
    let _ = writeln!(y, "  crop: {}\n  crop_rounding: hf\n  rescale_factor: {:?}", p.crop, p.rescale_factor);
    let _ = writeln!(y, "  mean: {}\n  std: {}", floats(&p.mean), floats(&p.std));
    let _ = writeln!(y, "tokenizer:\n  kind: {}", s.tokenizer.kind);
    if let Some(f) = &s.tokenizer.file {
        let _ = writeln!(y, "  file: {}", rel(f));
    }
    let _ = writeln!(y, "  context_length: {}", s.tokenizer.context_length);
    let _ = writeln!(y, "head: {}", s.head.kind);
    match &s.head.from_graph {
        Some(f) => {
            let what = if s.head.logit_bias.is_some() {
                "values: exp() of the scale, and the bias"
            } else {
                "value: exp() of the scale"
            };
            let _ = writeln!(y, "# the trained {what} that the logits of {} are computed with", name_in(dir, f));
        }
        None => {
            let _ =
                writeln!(y, "# NOT the trained value: config.json's initial value (no ONNX file held the learned one)");
        }
    }
    let _ = writeln!(y, "logit_scale: {:?}", s.head.logit_scale);
    if let Some(b) = s.head.logit_bias {
        let _ = writeln!(y, "logit_bias: {b:?}");
    }
    if let Some(d) = s.embedding_dim {
        let _ = writeln!(y, "embedding_dim: {d}");
    }
    render_taps(&mut y, &s.taps);
    y
}

/// The `taps:` section.
fn render_taps(y: &mut String, taps: &[SuggestedTap]) {
    use std::fmt::Write;
    if taps.is_empty() {
        let _ = writeln!(y, "taps: []");
        return;
    }
    let _ = writeln!(y, "taps:");
    for t in taps {
        let encoder = t.encoder.map_or("image".to_owned(), |e| e.to_string());
        let _ = writeln!(y, "  - name: {}\n    encoder: {encoder}\n    tensor: {}", quoted(&t.name), quoted(&t.tensor));
        let _ = writeln!(y, "    layout: {}\n    pooling: {}", layout_name(t.layout), t.pooling);
    }
}

fn layout_name(l: Layout) -> &'static str {
    match l {
        Layout::Nchw => "nchw",
        Layout::Ntd => "ntd",
        Layout::Tnd => "tnd",
        Layout::Nd => "nd",
    }
}

impl ImportSummary {
    /// What `model import` prints: the layout, tokenizer, head and taps it found.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let mut line = |label: &str, text: String| s.push_str(&format!("{label:<10} {text}\n"));
        line("model", format!("{} ({})", self.name, self.family.name()));
        line("layout", self.layout.clone());
        for (what, t) in [("image", &self.image), ("text", &self.text)] {
            line(what, format!("{}: {} -> {}", t.file.display(), t.input, t.output));
        }
        let p = &self.preprocess;
        line(
            "preprocess",
            format!(
                "{} px, resize {}, {}, crop {}, rescale {:?}, mean {}, std {}",
                p.size,
                p.resize,
                p.interpolation,
                if p.crop == "center" { "center (hf rounding)" } else { p.crop },
                p.rescale_factor,
                floats(&p.mean),
                floats(&p.std)
            ),
        );
        let t = &self.tokenizer;
        let file = t.file.as_ref().map_or(String::new(), |f| format!(" ({})", f.display()));
        line("tokenizer", format!("{}{file}, context {}", t.kind, t.context_length));
        let h = &self.head;
        let bias = h.logit_bias.map_or(String::new(), |b| format!(", logit_bias {b}"));
        let from = h.from_graph.as_ref().map_or("config.json's initial value, NOT the trained one".to_owned(), |f| {
            format!("learned, from {}", f.display())
        });
        line("head", format!("{}, logit_scale {}{bias} ({from})", h.kind, h.logit_scale));
        if let Some(d) = self.embedding_dim {
            line("embeddings", format!("{d} wide"));
        }
        if self.taps.is_empty() {
            line("taps", "none".to_owned());
        }
        for t in &self.taps {
            line("tap", format!("{} {} {} {}", t.name, layout_name(t.layout), t.pooling, t.tensor));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file() -> PathBuf {
        PathBuf::from("hub/preprocessor_config.json")
    }

    fn map(pp: Value, family: Family) -> Result<Preprocess, String> {
        preprocess_from(&pp, family, &file(), &mut Vec::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn clip_processor_keys_map_to_the_manifest() {
        let pp = json!({
            "crop_size": {"height": 224, "width": 224}, "do_center_crop": true, "do_normalize": true,
            "do_rescale": true, "do_resize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
            "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224}
        });
        let p = map(pp, Family::Clip).unwrap();
        assert_eq!((p.size, p.resize, p.interpolation, p.crop), (224, "shortest_side", "bicubic", "center"));
        assert_eq!(p.rescale_factor, 1.0 / 255.0);
        assert_eq!(p.mean, [0.48145466, 0.4578275, 0.40821073]);
    }

    #[test]
    fn siglip_processor_keys_map_to_the_manifest() {
        let pp = json!({
            "do_normalize": true, "do_rescale": true, "do_resize": true, "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098,
            "size": {"height": 224, "width": 224}
        });
        let p = map(pp, Family::Siglip).unwrap();
        assert_eq!((p.size, p.resize, p.interpolation, p.crop), (224, "squash", "bilinear", "none"));
        assert_eq!(p.std, [0.5; 3]);
    }

    #[test]
    fn defaults_and_switches_follow_the_processor_classes() {
        let p = map(json!({}), Family::Clip).unwrap();
        assert_eq!((p.size, p.resize, p.crop, p.interpolation), (224, "shortest_side", "center", "bicubic"));
        let p = map(json!({"size": 256, "crop_size": 256}), Family::Clip).unwrap();
        assert_eq!((p.size, p.resize), (256, "shortest_side"));
        let mut warnings = Vec::new();
        let pp = json!({"do_normalize": false, "do_rescale": false, "size": {"height": 64, "width": 64}});
        let p = preprocess_from(&pp, Family::Siglip, &file(), &mut warnings).unwrap();
        assert_eq!((p.mean, p.std, p.rescale_factor), ([0.0; 3], [1.0; 3], 1.0));
        assert!(warnings[0].contains("do_normalize is false"), "{warnings:?}");
    }

    #[test]
    fn what_the_manifest_cannot_say_is_refused_naming_the_file_and_the_key() {
        let cases = [
            (json!({"resample": 0}), "resample 0 (nearest) is not supported"),
            (json!({"resample": 1}), "resample 1 (lanczos)"),
            (json!({"do_resize": false}), "do_resize is false"),
            (json!({"size": {"height": 224, "width": 320}}), "224x320 (height x width), not square"),
            (json!({"size": {"shortest_edge": 256}, "crop_size": 224}), "crop_size 224 differs from size 256"),
            (json!({"do_center_crop": false}), "do_center_crop is false"),
            (json!({"size": {"longest_edge": 224}}), "is not one clip-audit reads"),
            (json!({"image_mean": [0.5, 0.5]}), "image_mean [0.5,0.5] is not three"),
            (json!({"image_std": [0.5, 0.0, 0.5]}), "image_std [0.5,0.0,0.5] is not three (R, G, B) positive"),
        ];
        for (pp, want) in cases {
            let err = map(pp.clone(), Family::Clip).unwrap_err();
            assert!(err.starts_with("hub/preprocessor_config.json: ") && err.contains(want), "{pp}: {err}");
        }
    }

    fn hub(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn config_gives_family_context_and_embedding_width() {
        let d = hub(&[(
            "config.json",
            r#"{"model_type": "clip", "projection_dim": 512, "_name_or_path": "openai/clip-vit-base-patch32", "text_config": {"max_position_embeddings": 77}}"#,
        )]);
        let c = HubConfig::read(d.path()).unwrap();
        assert_eq!((c.family, c.context_length, c.embedding_dim), (Family::Clip, 77, Some(512)));
        assert_eq!(c.name_or_path.as_deref(), Some("openai/clip-vit-base-patch32"));
        assert_eq!(c.logit_scale_init, 2.6592);
        let d = hub(&[(
            "config.json",
            r#"{"model_type": "siglip", "_name_or_path": "/tmp/x/y", "text_config": {"hidden_size": 768}}"#,
        )]);
        let c = HubConfig::read(d.path()).unwrap();
        assert_eq!(
            (c.family, c.context_length, c.embedding_dim, c.name_or_path),
            (Family::Siglip, 64, Some(768), None)
        );
        let d = hub(&[("config.json", r#"{"model_type": "blip"}"#)]);
        let err = HubConfig::read(d.path()).unwrap_err().to_string();
        assert!(err.contains("config.json: model_type \"blip\" is not one clip-audit imports"), "{err}");
        let err = HubConfig::read(&d.path().join("nowhere")).unwrap_err().to_string();
        assert!(
            err.contains("config.json: cannot read it") && err.contains("download the whole model folder"),
            "{err}"
        );
    }

    #[test]
    fn a_whole_processor_config_stands_in_for_preprocessor_config() {
        let d = hub(&[("processor_config.json", r#"{"image_processor": {"size": {"height": 384, "width": 384}}}"#)]);
        let (file, pp) = processor_config(d.path()).unwrap();
        assert!(file.ends_with("processor_config.json") && pp["size"]["height"] == 384);
        let d = hub(&[]);
        let err = processor_config(d.path()).unwrap_err().to_string();
        assert!(err.contains("preprocessor_config.json: cannot read it"), "{err}");
    }

    #[test]
    fn the_tokenizer_prefers_the_models_own_files() {
        let d = hub(&[("tokenizer.json", "{}"), ("spiece.model", "x")]);
        let t = tokenizer_in(d.path(), Family::Clip, 77).unwrap();
        assert_eq!((t.kind, t.file), ("hf_tokenizer", Some(d.path().join("tokenizer.json"))));
        let d = hub(&[("spiece.model", "x")]);
        assert_eq!(tokenizer_in(d.path(), Family::Siglip, 64).unwrap().kind, "sentencepiece");
        // SigLIP: its own SentencePiece model over a converted tokenizer.json beside it.
        let d = hub(&[("tokenizer.json", "{}"), ("spiece.model", "x")]);
        assert_eq!(tokenizer_in(d.path(), Family::Siglip, 64).unwrap().kind, "sentencepiece");
        let d = hub(&[("vocab.json", r#"{"a": 0}"#), ("merges.txt", "")]);
        let err = tokenizer_in(d.path(), Family::Clip, 77).unwrap_err().to_string();
        assert!(err.contains("vocab.json: is not OpenAI CLIP's vocabulary"), "{err}");
        let d = hub(&[]);
        let err = tokenizer_in(d.path(), Family::Clip, 77).unwrap_err().to_string();
        assert!(err.contains("holds no tokenizer"), "{err}");
    }

    #[test]
    fn onnx_layouts_are_found_and_variants_only_stand_in_for_a_missing_float32_file() {
        let d = hub(&[("onnx/vision_model.onnx", ""), ("onnx/text_model.onnx", ""), ("onnx/model_fp16.onnx", "")]);
        let mut w = Vec::new();
        let f = find_onnx(d.path(), &mut w).unwrap();
        assert!(f.layout.starts_with("transformers.js") && w.is_empty(), "{f:?} {w:?}");
        assert_eq!(f.scale_sources, [d.path().join("onnx/model_fp16.onnx")]);
        let d = hub(&[("onnx/vision_model_quantized.onnx", ""), ("onnx/text_model_quantized.onnx", "")]);
        let f = find_onnx(d.path(), &mut w).unwrap();
        assert!(f.image.ends_with("onnx/vision_model_quantized.onnx") && w.len() == 2, "{w:?}");
        let d = hub(&[("model.onnx", ""), ("onnx/vision_model.onnx", "")]);
        let f = find_onnx(d.path(), &mut Vec::new()).unwrap();
        assert_eq!((f.image.clone(), f.text), (d.path().join("model.onnx"), d.path().join("model.onnx")));
        let d = hub(&[("onnx/vision_model.onnx", "")]);
        let err = find_onnx(d.path(), &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("no onnx/text_model.onnx"), "{err}");
        let d = hub(&[]);
        let err = find_onnx(d.path(), &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("holds no ONNX model") && err.contains("optimum-cli export onnx"), "{err}");
    }

    #[test]
    fn paths_are_written_relative_to_the_manifest_folder() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(relative_to(&p("/a/hub/onnx/v.onnx"), &p("/a/hub")), "onnx/v.onnx");
        assert_eq!(relative_to(&p("/a/hub/onnx/v.onnx"), &p("/a/bundles/x")), "../../hub/onnx/v.onnx");
        assert_eq!(relative_to(&p("/a/hub/model.onnx"), &p("/a/hub/out")), "../model.onnx");
        let req = ImportRequest { dir: p("hub"), out: Some(p("b/clip.yaml")), force: false };
        assert_eq!(req.manifest_path(), p("b/clip.yaml"));
        let req = ImportRequest { dir: p("hub"), out: Some(p("b")), force: false };
        assert_eq!(req.manifest_path(), p("b/model.yaml"));
    }

    #[test]
    fn the_learned_scale_is_read_from_the_combined_graph_else_the_config_with_a_warning() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/hf-clip-tiny");
        let graph = OnnxGraph::read(&fixture.join("model.onnx")).unwrap();
        assert_eq!(graph.initializer_scalar("logit_scale"), Some(2.6592));
        assert_eq!(graph.initializer_scalar("logit_bias"), None);
        let hub_config = HubConfig::read(&fixture).unwrap();
        let mut w = Vec::new();
        let h = head_of(&hub_config, &[fixture.join("model.onnx")], &mut w).unwrap();
        assert!((h.logit_scale - 14.284855842590332).abs() < 1e-5 && h.from_graph.is_some() && w.is_empty());
        let h = head_of(&hub_config, &[], &mut w).unwrap();
        assert_eq!((h.kind, h.logit_scale, h.from_graph), ("softmax", 2.6592f64.exp(), None));
        assert!(w[0].contains("not the trained one"), "{w:?}");
        let siglip = HubConfig { family: Family::Siglip, logit_scale_init: 0.0, ..hub_config };
        let h = head_of(&siglip, &[fixture.join("model.onnx")], &mut w).unwrap();
        assert_eq!((h.kind, h.logit_scale, h.logit_bias), ("sigmoid", 1.0, Some(0.0)), "CLIP's graph has no bias");
        // SigLIP's exporter renames the weights (`onnx::Exp_759`): they are found by the nodes.
        let siglip_onnx = fixture.with_file_name("hf-siglip-tiny").join("model.onnx");
        let h = head_of(&siglip, std::slice::from_ref(&siglip_onnx), &mut w).unwrap();
        assert!((h.logit_scale - 10.0).abs() < 1e-5 && h.logit_bias == Some(-10.0), "{h:?}");
        assert_eq!(h.from_graph.as_deref(), Some(siglip_onnx.as_path()));
    }
}
