//! The model bundle manifest, `model.yaml`: which ONNX files make up a CLIP model, how to
//! feed them, and which internal tensors ("taps") hold the units to audit.
//!
//! The file is read into raw types that keep each value's source location, then validated
//! into [`ModelManifest`]; validation collects every problem before failing, and each one
//! points at file:line:column. The format is documented in docs/model-bundle.md.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostic, Diagnostics, Position, closest};
use crate::vectors::Head;

/// The manifest's file name inside a bundle folder.
pub const MANIFEST_FILE: &str = "model.yaml";

/// Problems reading a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("cannot read model manifest {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest was read but is not valid.
    #[error("{diagnostics}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        diagnostics: Diagnostics,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    image_encoder: RawEncoder,
    text_encoder: RawEncoder,
    preprocess: RawPreprocess,
    tokenizer: RawTokenizer,
    logit_scale: Spanned<f64>,
    #[serde(default)]
    head: Option<Spanned<String>>,
    #[serde(default)]
    logit_bias: Option<Spanned<f64>>,
    #[serde(default)]
    embedding_dim: Option<Spanned<usize>>,
    #[serde(default)]
    taps: Vec<RawTap>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEncoder {
    file: Spanned<String>,
    input: Spanned<String>,
    output: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreprocess {
    size: Spanned<u32>,
    #[serde(default)]
    resize: Option<Spanned<String>>,
    #[serde(default)]
    interpolation: Option<Spanned<String>>,
    #[serde(default)]
    crop: Option<Spanned<String>>,
    #[serde(default)]
    crop_rounding: Option<Spanned<String>>,
    #[serde(default)]
    rescale_factor: Option<Spanned<f64>>,
    mean: Spanned<Vec<f64>>,
    std: Spanned<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokenizer {
    kind: Spanned<String>,
    #[serde(default)]
    file: Option<Spanned<String>>,
    context_length: Spanned<usize>,
    #[serde(default)]
    pad_id: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTap {
    name: Spanned<String>,
    encoder: Spanned<String>,
    tensor: Spanned<String>,
    #[serde(default)]
    layout: Option<Spanned<String>>,
    pooling: Spanned<String>,
}

/// Which tower of the model a tap or input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoder {
    /// The image tower.
    Image,
    /// The text tower.
    Text,
}

impl fmt::Display for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoder::Image => "image",
            Encoder::Text => "text",
        })
    }
}

/// How a tapped tensor is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `[N, C, H, W]`: convolutional feature maps.
    Nchw,
    /// `[N, T, D]`: batch-first transformer tokens.
    Ntd,
    /// `[T, N, D]`: sequence-first transformer tokens (older OpenAI exports).
    Tnd,
    /// `[N, D]`: already one vector per input.
    Nd,
}

impl Layout {
    const NAMES: [&'static str; 4] = ["nchw", "ntd", "tnd", "nd"];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "nchw" => Layout::Nchw,
            "ntd" => Layout::Ntd,
            "tnd" => Layout::Tnd,
            "nd" => Layout::Nd,
            _ => return None,
        })
    }

    /// The tensor rank this layout implies.
    pub fn rank(self) -> usize {
        match self {
            Layout::Nchw => 4,
            Layout::Ntd | Layout::Tnd => 3,
            Layout::Nd => 2,
        }
    }
}

/// How a tapped tensor is reduced to one value per unit and input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean over H and W of `[N, C, H, W]` (the Distill article's choice for RN50x4).
    SpatialMean,
    /// Mean over all tokens.
    TokenMean,
    /// The first token (the class token of a ViT).
    ClassToken,
    /// No pooling: the tensor is already `[N, D]`.
    None,
}

impl Pooling {
    const NAMES: [&'static str; 4] = ["spatial_mean", "token_mean", "class_token", "none"];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "spatial_mean" => Pooling::SpatialMean,
            "token_mean" => Pooling::TokenMean,
            "class_token" => Pooling::ClassToken,
            "none" => Pooling::None,
            _ => return None,
        })
    }

    /// The layout assumed when a tap gives none.
    fn default_layout(self) -> Layout {
        match self {
            Pooling::SpatialMean => Layout::Nchw,
            Pooling::TokenMean | Pooling::ClassToken => Layout::Ntd,
            Pooling::None => Layout::Nd,
        }
    }

    fn fits(self, layout: Layout) -> bool {
        matches!(
            (self, layout),
            (Pooling::SpatialMean, Layout::Nchw)
                | (Pooling::TokenMean | Pooling::ClassToken, Layout::Ntd | Layout::Tnd)
                | (Pooling::None, Layout::Nd)
        )
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
    }
}

/// One ONNX file of the bundle and its named input and output.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSpec {
    /// The `.onnx` file, resolved against the bundle folder.
    pub file: PathBuf,
    /// Name of the graph input (`pixel_values` `[N,3,S,S]` float32, or `input_ids` `[N,T]` int64).
    pub input: String,
    /// Name of the graph output holding the (unnormalized) embeddings `[N, D]`.
    pub output: String,
}

pub use crate::imaging::resize::{Crop, CropRounding, Interpolation, ResizeMode, ResizeRule};

/// Image preprocessing parameters: the family's rule for reaching `size` x `size`, then
/// the rescale and normalization. [`Default`] is OpenAI CLIP's at 224.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessSpec {
    /// Target side: the encoder takes `size` x `size` images.
    pub size: u32,
    /// How an image becomes `size` x `size` (resize, filter, crop); CLIP's by default.
    pub rule: ResizeRule,
    /// Multiplies the 8-bit values before normalization, in float64 then rounded to float32
    /// as transformers' `rescale` does (1/255 by default, which equals torchvision's `v / 255`).
    pub rescale_factor: f64,
    /// Per-channel mean subtracted after rescaling.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
}

impl PreprocessSpec {
    /// The rescale factor when model.yaml gives none: 8-bit values to [0, 1].
    pub const DEFAULT_RESCALE_FACTOR: f64 = 1.0 / 255.0;
}

impl Default for PreprocessSpec {
    fn default() -> Self {
        PreprocessSpec {
            size: 224,
            rule: ResizeRule::CLIP,
            rescale_factor: Self::DEFAULT_RESCALE_FACTOR,
            // OpenAI's, written as model.yaml writes them and rounded as the validator rounds.
            mean: [0.481_454_66_f64 as f32, 0.457_827_5_f64 as f32, 0.408_210_73_f64 as f32],
            std: [0.268_629_54_f64 as f32, 0.261_302_58_f64 as f32, 0.275_777_11_f64 as f32],
        }
    }
}

/// The number of ids of OpenAI CLIP's vocabulary, `clip_bpe`'s.
const CLIP_VOCAB_SIZE: i64 = 49408;

/// Which tokenizer turns a bundle's prompts into token ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// OpenAI CLIP's byte-level BPE with open_clip's clean-up, built into clip-audit.
    ClipBpe,
    /// A Hugging Face `tokenizer.json`, run by the `tokenizers` crate.
    HfTokenizer,
    /// A SentencePiece `spiece.model`, tokenized as SigLIP's tokenizer does.
    Sentencepiece,
}

impl TokenizerKind {
    /// The names `tokenizer.kind` takes.
    pub const NAMES: [&'static str; 3] = ["clip_bpe", "hf_tokenizer", "sentencepiece"];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "clip_bpe" => TokenizerKind::ClipBpe,
            "hf_tokenizer" => TokenizerKind::HfTokenizer,
            "sentencepiece" => TokenizerKind::Sentencepiece,
            _ => return None,
        })
    }
}

impl fmt::Display for TokenizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
    }
}

/// Tokenizer parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerSpec {
    /// Which tokenizer.
    pub kind: TokenizerKind,
    /// Its file (`tokenizer.json`, `spiece.model`), resolved against the bundle folder; `None`
    /// for the built-in `clip_bpe`.
    pub file: Option<PathBuf>,
    /// Number of token ids per text, padding included.
    pub context_length: usize,
    /// The id padding uses, when the manifest sets it; otherwise the kind's default (see
    /// [`crate::model::tokenizer::Tokenizer::load`]).
    pub pad_id: Option<i64>,
}

/// A named internal tensor whose units are audited, and how to pool it.
#[derive(Debug, Clone, PartialEq)]
pub struct TapSpec {
    /// The name users and reports refer to, e.g. `image.last_mlp`.
    pub name: String,
    /// Which encoder's graph holds the tensor.
    pub encoder: Encoder,
    /// The tensor's name in the ONNX graph.
    pub tensor: String,
    /// Its layout.
    pub layout: Layout,
    /// Its pooling.
    pub pooling: Pooling,
    /// Where the tensor name was written in the manifest, for later diagnostics.
    pub tensor_position: Option<Position>,
}

/// A validated model bundle manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelManifest {
    /// The manifest file.
    pub path: PathBuf,
    /// The bundle folder.
    pub dir: PathBuf,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The image tower.
    pub image: EncoderSpec,
    /// The text tower.
    pub text: EncoderSpec,
    /// Image preprocessing.
    pub preprocess: PreprocessSpec,
    /// Text tokenization.
    pub tokenizer: TokenizerSpec,
    /// CLIP's learned temperature (`logit_scale.exp()`), multiplied into zero-shot logits.
    pub logit_scale: f32,
    /// How zero-shot logits become probabilities (`head:`, with `logit_scale` and, for
    /// `sigmoid`, `logit_bias`).
    pub head: crate::vectors::Head,
    /// The shared embedding width, when stated; checked against the encoders' outputs.
    pub embedding_dim: Option<usize>,
    /// Named taps.
    pub taps: Vec<TapSpec>,
    /// The manifest text, kept so later diagnostics (e.g. a tap missing from the graph) can
    /// show a snippet.
    pub source: String,
}

impl ModelManifest {
    /// Reads `dir/model.yaml`, or the file itself when given a path to a `.yaml`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let path = if path.is_dir() { path.join(MANIFEST_FILE) } else { path.to_path_buf() };
        let source =
            std::fs::read_to_string(&path).map_err(|source| ManifestError::Read { path: path.clone(), source })?;
        Self::parse(&source, &path)
    }

    /// Parses and validates manifest text that was read from `path`.
    pub fn parse(source: &str, path: &Path) -> Result<Self, ManifestError> {
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! { max_aliases: 1_000, max_anchors: 1_000 },
        };
        let raw: RawManifest = serde_saphyr::from_str_with_options(source, options).map_err(|err| {
            let mut diagnostics = Diagnostics::default();
            diagnostics.push(crate::diagnostics::from_yaml_error(&err, path, source));
            ManifestError::Invalid { path: path.to_path_buf(), diagnostics }
        })?;
        Validator { path, source, problems: Diagnostics::default() }.validate(raw)
    }

    /// The tap called `name`, if any.
    pub fn tap(&self, name: &str) -> Option<&TapSpec> {
        self.taps.iter().find(|t| t.name == name)
    }

    /// The encoder spec of one tower.
    pub fn encoder(&self, which: Encoder) -> &EncoderSpec {
        match which {
            Encoder::Image => &self.image,
            Encoder::Text => &self.text,
        }
    }
}

struct Validator<'a> {
    path: &'a Path,
    source: &'a str,
    problems: Diagnostics,
}

impl Validator<'_> {
    fn at<T>(&mut self, code: Code, value: &Spanned<T>, message: String, help: Option<String>) {
        let d = Diagnostic::new(code, message, self.path, Some(self.source), Position::from_yaml(&value.referenced));
        self.problems.push(match help {
            Some(h) => d.with_help(h),
            None => d,
        });
    }

    /// Checks every part of the manifest, recording each problem, and builds it when there
    /// were none.
    fn validate(mut self, raw: RawManifest) -> Result<ModelManifest, ManifestError> {
        let dir = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let image = self.encoder(&dir, raw.image_encoder);
        let text = self.encoder(&dir, raw.text_encoder);
        let preprocess = self.preprocess(&raw.preprocess);
        let tokenizer = self.tokenizer(&raw.tokenizer);
        let scale = raw.logit_scale.value;
        if !(scale.is_finite() && scale > 0.0) {
            self.at(
                Code::M004,
                &raw.logit_scale,
                format!("logit_scale must be a positive number, not {scale}"),
                Some("it is exp() of the model's learned log-scale; 100 for OpenAI CLIP".into()),
            );
        }
        let head = self.head(scale, &raw.head, &raw.logit_bias);
        if let Some(dim) = &raw.embedding_dim
            && dim.value == 0
        {
            self.at(Code::M004, dim, "embedding_dim must be positive".into(), None);
        }
        let mut taps: Vec<TapSpec> = Vec::new();
        for tap in raw.taps {
            if let Some(t) = self.tap(tap, &taps) {
                taps.push(t);
            }
        }
        if raw.name.value.trim().is_empty() {
            self.at(Code::M004, &raw.name, "name must not be empty".into(), None);
        }
        if !self.problems.is_empty() {
            return Err(ManifestError::Invalid { path: self.path.to_path_buf(), diagnostics: self.problems });
        }
        Ok(ModelManifest {
            path: self.path.to_path_buf(),
            dir,
            name: raw.name.value,
            description: raw.description,
            image: image.expect("checked: no problems recorded"),
            text: text.expect("checked: no problems recorded"),
            preprocess: preprocess.expect("checked: no problems recorded"),
            tokenizer,
            logit_scale: scale as f32,
            head,
            embedding_dim: raw.embedding_dim.map(|d| d.value),
            taps,
            source: self.source.to_owned(),
        })
    }

    /// The zero-shot head: `softmax` (the default, CLIP's) at `logit_scale`, or `sigmoid`
    /// (SigLIP's) at `logit_scale` with `logit_bias`, which only the sigmoid head takes.
    fn head(&mut self, scale: f64, head: &Option<Spanned<String>>, bias: &Option<Spanned<f64>>) -> Head {
        let kind = head.as_ref().map_or("softmax", |h| h.value.as_str());
        match (kind, bias) {
            ("softmax", None) => Head::Softmax { scale },
            ("sigmoid", Some(b)) if b.value.is_finite() => Head::Sigmoid { scale, bias: b.value },
            ("sigmoid", Some(b)) => {
                self.at(Code::M004, b, format!("logit_bias must be a finite number, not {}", b.value), None);
                Head::Sigmoid { scale, bias: 0.0 }
            }
            ("sigmoid", None) => {
                let at = head.as_ref().expect("kind came from it");
                let help = "SigLIP's learned bias: the `logit_bias` initializer of its graph (`clip-audit model import` reads it)";
                self.at(Code::M007, at, "the sigmoid head needs `logit_bias`".into(), Some(help.into()));
                Head::Sigmoid { scale, bias: 0.0 }
            }
            ("softmax", Some(b)) => {
                let help = "write `head: sigmoid` for a SigLIP model, or remove `logit_bias`";
                self.at(Code::M007, b, "`logit_bias` applies to the sigmoid head only".into(), Some(help.into()));
                Head::Softmax { scale }
            }
            (other, _) => {
                let at = head.as_ref().expect("a name other than the default came from it");
                let help = "`softmax` (CLIP, the default) or `sigmoid` (SigLIP, with `logit_bias`)";
                self.at(Code::M007, at, format!("unknown head `{other}`"), Some(help.into()));
                Head::Softmax { scale }
            }
        }
    }

    /// Checks the image preprocessing: a size in range, a family's resize, filter and crop
    /// rules that end in a `size` square, a positive rescale factor, and three-channel mean
    /// and std. `None` when any of them cannot be used.
    fn preprocess(&mut self, p: &RawPreprocess) -> Option<PreprocessSpec> {
        /// The only rule before the families were described; it names the filter too.
        const LEGACY_RESIZE: &str = "shortest_side_bicubic";
        if p.size.value == 0 || p.size.value > 4096 {
            self.at(
                Code::M004,
                &p.size,
                format!("preprocess.size must be between 1 and 4096, not {}", p.size.value),
                None,
            );
        }
        let resize = match &p.resize {
            Some(r) if r.value == LEGACY_RESIZE => Some(ResizeMode::ShortestSide),
            r => {
                let [a, b] = ResizeMode::NAMES;
                self.choice(r.as_ref(), "resize", &[a, b, LEGACY_RESIZE], ResizeMode::parse)
            }
        };
        let interpolation =
            self.choice(p.interpolation.as_ref(), "interpolation", &Interpolation::NAMES, Interpolation::parse);
        if let (Some(r), Some(i)) = (&p.resize, &p.interpolation)
            && r.value == LEGACY_RESIZE
            && interpolation.is_some_and(|f| f != Interpolation::Bicubic)
        {
            self.at(
                Code::M007,
                i,
                format!("interpolation {:?} contradicts `resize: {LEGACY_RESIZE}`", i.value),
                Some("write `resize: shortest_side` to choose the filter with `interpolation`".into()),
            );
        }
        let crop = self.choice(p.crop.as_ref(), "crop", &Crop::NAMES, Crop::parse);
        let crop_rounding =
            self.choice(p.crop_rounding.as_ref(), "crop_rounding", &CropRounding::NAMES, CropRounding::parse);
        if let (Some(ResizeMode::ShortestSide), Some(Crop::None), Some(c)) = (resize, crop, &p.crop) {
            self.at(
                Code::M007,
                c,
                "`crop: none` needs `resize: squash`".into(),
                Some("`shortest_side` leaves the long side longer than size; use `crop: center`".into()),
            );
        }
        let rescale_factor = match &p.rescale_factor {
            Some(f) if !(f.value.is_finite() && f.value > 0.0) => {
                self.at(
                    Code::M004,
                    f,
                    format!("preprocess.rescale_factor must be a positive number, not {}", f.value),
                    Some("0.00392156862745098 (1/255, the default) scales 8-bit values to [0, 1]".into()),
                );
                None
            }
            Some(f) => Some(f.value),
            None => Some(PreprocessSpec::DEFAULT_RESCALE_FACTOR),
        };
        let mean = self.triple(&p.mean, "preprocess.mean", false);
        let std = self.triple(&p.std, "preprocess.std", true);
        Some(PreprocessSpec {
            size: p.size.value,
            rule: ResizeRule {
                resize: resize?,
                interpolation: interpolation?,
                crop: crop?,
                crop_rounding: crop_rounding?,
            },
            rescale_factor: rescale_factor?,
            mean: mean?,
            std: std?,
        })
    }

    /// One of the named choices of `preprocess`: its default when absent, `None` (and a
    /// diagnostic naming the allowed values) when unknown.
    fn choice<T: Default>(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let Some(v) = value else { return Some(T::default()) };
        let parsed = parse(&v.value);
        if parsed.is_none() {
            let hint = suggest(&v.value, names);
            self.at(Code::M007, v, format!("unsupported preprocess.{key} {:?}", v.value), Some(hint));
        }
        parsed
    }

    /// Checks the tokenizer: a known kind, the file it needs (present, relative to the
    /// bundle folder) or none for the built-in `clip_bpe`, a context length in range and a
    /// pad id that can be a token id. The file's content is read when the model loads.
    fn tokenizer(&mut self, t: &RawTokenizer) -> TokenizerSpec {
        let kind = TokenizerKind::parse(&t.kind.value);
        if kind.is_none() {
            let hint = suggest(&t.kind.value, &TokenizerKind::NAMES);
            self.at(Code::M007, &t.kind, format!("unsupported tokenizer kind {:?}", t.kind.value), Some(hint));
        }
        let dir = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let file = match (kind, &t.file) {
            (Some(TokenizerKind::ClipBpe), Some(f)) => {
                let help = "clip_bpe's vocabulary is built in; name a tokenizer.json with `kind: hf_tokenizer`, a spiece.model with `kind: sentencepiece`";
                self.at(Code::M007, f, "the `clip_bpe` tokenizer takes no `file`".into(), Some(help.into()));
                None
            }
            (Some(k), None) if k != TokenizerKind::ClipBpe => {
                let what = if k == TokenizerKind::HfTokenizer { "tokenizer.json" } else { "spiece.model" };
                let help = format!("`file: {what}`, the model's {what}, relative to the folder of model.yaml");
                self.at(Code::M007, &t.kind, format!("the `{k}` tokenizer needs `file`"), Some(help));
                None
            }
            (_, Some(f)) => {
                let path = dir.join(&f.value);
                if !path.is_file() {
                    self.at(
                        Code::M003,
                        f,
                        format!("tokenizer file {} does not exist", path.display()),
                        Some("paths are relative to the folder of model.yaml".into()),
                    );
                }
                Some(path)
            }
            (_, None) => None,
        };
        if let Some(p) = &t.pad_id {
            if p.value < 0 {
                let message = format!("tokenizer.pad_id must be a token id (0 or more), not {}", p.value);
                self.at(Code::M004, p, message, None);
            } else if kind == Some(TokenizerKind::ClipBpe) && p.value >= CLIP_VOCAB_SIZE {
                let message = format!("tokenizer.pad_id {} is not an id of CLIP's vocabulary (0 to 49407)", p.value);
                let help = "CLIP pads with 0 (open_clip) or 49407 (<|endoftext|>, Hugging Face)";
                self.at(Code::M004, p, message, Some(help.into()));
            }
        }
        let ctx = t.context_length.value;
        if !(3..=1024).contains(&ctx) {
            self.at(
                Code::M004,
                &t.context_length,
                format!("tokenizer.context_length must be between 3 and 1024, not {ctx}"),
                Some("CLIP models use 77, SigLIP models 64".into()),
            );
        }
        TokenizerSpec {
            kind: kind.unwrap_or(TokenizerKind::ClipBpe),
            file,
            context_length: ctx,
            pad_id: t.pad_id.as_ref().map(|p| p.value),
        }
    }

    fn encoder(&mut self, dir: &Path, raw: RawEncoder) -> Option<EncoderSpec> {
        let file = dir.join(&raw.file.value);
        if !file.is_file() {
            self.at(
                Code::M003,
                &raw.file,
                format!("model file {} does not exist", file.display()),
                Some("paths are relative to the folder of model.yaml".into()),
            );
            return None;
        }
        for (what, v) in [("input", &raw.input), ("output", &raw.output)] {
            if v.value.is_empty() {
                self.at(Code::M004, v, format!("encoder {what} name must not be empty"), None);
            }
        }
        Some(EncoderSpec { file, input: raw.input.value, output: raw.output.value })
    }

    fn triple(&mut self, v: &Spanned<Vec<f64>>, what: &str, positive: bool) -> Option<[f32; 3]> {
        if v.value.len() != 3 {
            self.at(Code::M004, v, format!("{what} needs 3 values (R, G, B), found {}", v.value.len()), None);
            return None;
        }
        if v.value.iter().any(|x| !x.is_finite() || (positive && *x <= 0.0)) {
            let need = if positive { "positive finite numbers" } else { "finite numbers" };
            self.at(Code::M004, v, format!("{what} must be {need}"), None);
            return None;
        }
        Some([v.value[0] as f32, v.value[1] as f32, v.value[2] as f32])
    }

    fn tap(&mut self, raw: RawTap, seen: &[TapSpec]) -> Option<TapSpec> {
        if seen.iter().any(|t| t.name == raw.name.value) {
            self.at(
                Code::M005,
                &raw.name,
                format!("tap {:?} is defined twice", raw.name.value),
                Some("tap names must be unique".into()),
            );
        }
        let encoder = match raw.encoder.value.as_str() {
            "image" => Some(Encoder::Image),
            "text" => Some(Encoder::Text),
            other => {
                self.at(
                    Code::M007,
                    &raw.encoder,
                    format!("unknown encoder {other:?}"),
                    Some("use `image` or `text`".into()),
                );
                None
            }
        };
        let pooling = Pooling::parse(&raw.pooling.value);
        if pooling.is_none() {
            let hint = suggest(&raw.pooling.value, &Pooling::NAMES);
            self.at(Code::M007, &raw.pooling, format!("unknown pooling {:?}", raw.pooling.value), Some(hint));
        }
        let layout = match &raw.layout {
            Some(l) => {
                let parsed = Layout::parse(&l.value);
                if parsed.is_none() {
                    let hint = suggest(&l.value, &Layout::NAMES);
                    self.at(Code::M007, l, format!("unknown layout {:?}", l.value), Some(hint));
                }
                parsed
            }
            None => pooling.map(Pooling::default_layout),
        };
        if let (Some(p), Some(l)) = (pooling, layout)
            && !p.fits(l)
        {
            let at = raw
                .layout
                .as_ref()
                .map(|l| Position::from_yaml(&l.referenced))
                .unwrap_or_else(|| Position::from_yaml(&raw.pooling.referenced));
            self.problems.push(
                Diagnostic::new(
                    Code::M006,
                    format!("pooling `{p}` does not apply to layout `{}`", Layout::NAMES[l as usize]),
                    self.path,
                    Some(self.source),
                    at,
                )
                .with_help("spatial_mean needs nchw; token_mean and class_token need ntd or tnd; none needs nd"),
            );
        }
        if raw.tensor.value.is_empty() {
            self.at(
                Code::M004,
                &raw.tensor,
                "tap tensor name must not be empty".into(),
                Some("`clip-audit model inspect` lists candidate tensors".into()),
            );
        }
        Some(TapSpec {
            name: raw.name.value,
            encoder: encoder?,
            tensor: raw.tensor.value,
            layout: layout?,
            pooling: pooling?,
            tensor_position: Position::from_yaml(&raw.tensor.referenced),
        })
    }
}

fn suggest(value: &str, names: &[&str]) -> String {
    match closest(value, names.iter().copied(), 1).first() {
        Some(best) => format!("did you mean `{best}`? one of: {}", names.join(", ")),
        None => format!("one of: {}", names.join(", ")),
    }
}
