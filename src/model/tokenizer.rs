//! Token ids for a bundle's prompts, from the tokenizer its manifest names: [`Tokenizer`]
//! is what a [`crate::model::ClipModel`] loads once and encodes with, giving ids and the
//! attention mask the text graph is fed.
//!
//! Three kinds, because CLIP-family models ship three: OpenAI CLIP's BPE (`clip_bpe`, built
//! in, [`ClipTokenizer`]); a Hugging Face `tokenizer.json` (`hf_tokenizer`, run by the
//! `tokenizers` crate as transformers runs it); and SigLIP's SentencePiece `spiece.model`
//! (`sentencepiece`, [`sentencepiece::SentencePiece`]), whose folders ship no
//! `tokenizer.json`.
//!
//! `clip_bpe` is OpenAI CLIP's byte-level BPE tokenizer, reimplemented to give the same ids
//! as open_clip's `tokenize` (checked on the strings in `fixtures/tokenizer/`).
//!
//! Steps, as in open_clip's `SimpleTokenizer` with `clean="lower"`: text clean-up (the
//! parts of `ftfy.fix_text` that apply to well-formed text, then HTML unescaping twice),
//! whitespace collapsing, lower-casing, splitting with CLIP's regex, byte-to-unicode mapping,
//! BPE merges by rank, then `[SOT] ids [EOT]` truncated to the context length with EOT kept
//! last and zero padding. ftfy's mojibake repair (re-decoding text that was mis-decoded as
//! Latin-1/Windows-1252) is heuristic and not reproduced; such text tokenizes as written.
//! The vocabulary (`assets/tokenizer/bpe_simple_vocab_16e6.txt.gz`, MIT) is embedded.

pub mod sentencepiece;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::Array2;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::manifest::{TokenizerKind, TokenizerSpec};

/// Id of `<start_of_text>`.
pub const SOT: i64 = 49406;
/// Id of `<end_of_text>`.
pub const EOT: i64 = 49407;

static VOCAB_GZ: &[u8] = include_bytes!("../../assets/tokenizer/bpe_simple_vocab_16e6.txt.gz");

/// The CLIP BPE tokenizer. Building it decodes the embedded vocabulary (about 50 ms), so
/// use [`ClipTokenizer::shared`].
pub struct ClipTokenizer {
    encoder: HashMap<String, i64>,
    ranks: HashMap<(String, String), usize>,
    byte_encoder: [char; 256],
    pattern: Regex,
    cache: Mutex<HashMap<String, Vec<i64>>>,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer").field("vocab", &self.encoder.len()).finish_non_exhaustive()
    }
}

/// CLIP's reversible byte → character table, and the characters in the order the
/// vocabulary lists them (printable bytes first, as Python's dict keeps insertion order).
fn bytes_to_unicode() -> ([char; 256], Vec<char>) {
    let mut bs: Vec<u32> = (u32::from(b'!')..=u32::from(b'~')).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    let mut table = ['\0'; 256];
    let mut order = Vec::with_capacity(256);
    for (b, c) in bs.iter().zip(cs) {
        let ch = char::from_u32(c).expect("valid scalar");
        table[*b as usize] = ch;
        order.push(ch);
    }
    (table, order)
}

impl ClipTokenizer {
    /// The process-wide tokenizer.
    pub fn shared() -> &'static ClipTokenizer {
        static TOKENIZER: OnceLock<ClipTokenizer> = OnceLock::new();
        TOKENIZER.get_or_init(ClipTokenizer::new)
    }

    fn new() -> Self {
        let mut text = String::new();
        flate2::read::GzDecoder::new(VOCAB_GZ)
            .read_to_string(&mut text)
            .expect("the embedded BPE vocabulary is valid gzip UTF-8");
        let merges: Vec<(String, String)> = text
            .split('\n')
            .skip(1)
            .take(49152 - 256 - 2)
            .map(|line| {
                let (a, b) = line.split_once(' ').expect("merge lines hold two symbols");
                (a.to_owned(), b.to_owned())
            })
            .collect();
        let (byte_encoder, order) = bytes_to_unicode();
        let mut vocab: Vec<String> = order.iter().map(|c| c.to_string()).collect();
        vocab.extend(order.iter().map(|c| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<start_of_text>".into());
        vocab.push("<end_of_text>".into());
        let encoder = vocab.into_iter().enumerate().map(|(i, t)| (t, i as i64)).collect();
        let ranks = merges.into_iter().enumerate().map(|(i, m)| (m, i)).collect();
        let pattern =
            Regex::new(r"(?i)<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")
                .expect("static regex");
        Self { encoder, ranks, byte_encoder, pattern, cache: Mutex::new(HashMap::new()) }
    }

    /// Token ids of `text` without SOT/EOT or padding.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let cleaned = clean_lower(text);
        let mut ids = Vec::new();
        for m in self.pattern.find_iter(&cleaned) {
            let token = m.as_str();
            match token {
                "<start_of_text>" => ids.push(SOT),
                "<end_of_text>" => ids.push(EOT),
                _ => ids.extend(self.bpe(token)),
            }
        }
        ids
    }

    /// The `[context_length]` ids CLIP's text tower takes: SOT, tokens, EOT, zeros; when too
    /// long, truncated with EOT as the last id.
    pub fn tokenize(&self, text: &str, context_length: usize) -> Vec<i64> {
        let mut ids = self.tokenize_unpadded(text, context_length);
        ids.resize(context_length, 0);
        ids
    }

    /// [`ClipTokenizer::tokenize`] without the padding: SOT, tokens, EOT, at most
    /// `context_length` ids.
    pub fn tokenize_unpadded(&self, text: &str, context_length: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(context_length);
        ids.push(SOT);
        ids.extend(self.encode(text));
        ids.push(EOT);
        if ids.len() > context_length {
            ids.truncate(context_length);
            if let Some(last) = ids.last_mut() {
                *last = EOT;
            }
        }
        ids
    }

    fn bpe(&self, token: &str) -> Vec<i64> {
        if let Some(hit) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(token) {
            return hit.clone();
        }
        let mapped: Vec<String> = token.bytes().map(|b| self.byte_encoder[b as usize].to_string()).collect();
        let mut word: Vec<String> = mapped;
        if let Some(last) = word.last_mut() {
            last.push_str("</w>");
        }
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|p| self.ranks.get(&(p[0].clone(), p[1].clone())).map(|r| (*r, p[0].clone(), p[1].clone())))
                .min_by_key(|(r, _, _)| *r);
            let Some((_, first, second)) = best else { break };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
        }
        let ids: Vec<i64> = word.iter().map(|w| self.encoder[w.as_str()]).collect();
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(token.to_owned(), ids.clone());
        ids
    }
}

/// Problems loading or running a bundle's tokenizer; each names the tokenizer file.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The file could not be read.
    #[error("cannot read tokenizer file {}: {source}", .file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but cannot be used.
    #[error("tokenizer file {}: {message}", .file.display())]
    Invalid {
        /// The file (`clip_bpe` for the built-in tokenizer).
        file: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A text could not be tokenized.
    #[error("tokenizer {} cannot encode {text:?}: {message}", .file.display())]
    Encode {
        /// The file.
        file: PathBuf,
        /// The text.
        text: String,
        /// What the tokenizer said.
        message: String,
    },
}

/// The number of ids of CLIP's vocabulary (the BPE tokens, SOT and EOT).
const CLIP_VOCAB_SIZE: i64 = 49408;

/// The tokenizer of a model bundle, loaded from what its manifest names.
///
/// [`Tokenizer::encode`] gives `[N, context_length]` ids and attention masks: each text
/// tokenized with the model's special tokens, truncated to the context length with its end
/// token kept last, padded on the right with the pad id; the mask is 1 on the text's tokens
/// and 0 on the padding.
#[derive(Debug)]
pub enum Tokenizer {
    /// OpenAI CLIP's BPE ([`ClipTokenizer`]). Its mask is 1 through the first EOT, as it was
    /// before masks came from the tokenizer (a literal `<end_of_text>` in a prompt ends it).
    ClipBpe {
        /// Ids per text.
        context_length: usize,
        /// The id after EOT (0 by default).
        pad_id: i64,
    },
    /// A Hugging Face `tokenizer.json`, set to truncate and pad to the context length.
    Hf {
        /// The file.
        file: PathBuf,
        /// The tokenizer, with truncation and padding set.
        tokenizer: Box<tokenizers::Tokenizer>,
        /// Ids per text.
        context_length: usize,
    },
    /// SigLIP's SentencePiece model.
    SentencePiece {
        /// The file.
        file: PathBuf,
        /// The model.
        model: Box<sentencepiece::SentencePiece>,
        /// Ids per text.
        context_length: usize,
        /// The padding id (`</s>` by default).
        pad_id: u32,
    },
}

impl Tokenizer {
    /// Loads the tokenizer `spec` describes. The pad id is the manifest's `pad_id`, else:
    /// 0 for `clip_bpe`; for `hf_tokenizer`, `padding.pad_id` of the tokenizer.json, else the
    /// `pad_token` of the `tokenizer_config.json` beside it (an error asks for `pad_id` when
    /// neither names one); for `sentencepiece`, `</s>`, as SigLIP pads.
    pub fn load(spec: &TokenizerSpec) -> Result<Self, TokenizerError> {
        let context_length = spec.context_length;
        let file = || spec.file.clone().unwrap_or_default();
        match spec.kind {
            TokenizerKind::ClipBpe => {
                let pad_id = spec.pad_id.unwrap_or(0);
                if !(0..CLIP_VOCAB_SIZE).contains(&pad_id) {
                    return Err(TokenizerError::Invalid {
                        file: PathBuf::from("clip_bpe"),
                        message: format!("pad_id {pad_id} is not an id of CLIP's vocabulary (0 to 49407)"),
                    });
                }
                Ok(Tokenizer::ClipBpe { context_length, pad_id })
            }
            TokenizerKind::HfTokenizer => load_hf(&file(), context_length, spec.pad_id),
            TokenizerKind::Sentencepiece => {
                let file = file();
                let bytes =
                    std::fs::read(&file).map_err(|source| TokenizerError::Read { file: file.clone(), source })?;
                let model = sentencepiece::SentencePiece::from_bytes(&bytes)
                    .map_err(|message| TokenizerError::Invalid { file: file.clone(), message })?;
                let pad_id = match spec.pad_id {
                    None => model.eos_id(),
                    Some(p) => {
                        u32::try_from(p).ok().filter(|&p| (p as usize) < model.vocab_size()).ok_or_else(|| {
                            TokenizerError::Invalid {
                                file: file.clone(),
                                message: format!("pad_id {p} is not a piece of the model's {}", model.vocab_size()),
                            }
                        })?
                    }
                };
                Ok(Tokenizer::SentencePiece { file, model: Box::new(model), context_length, pad_id })
            }
        }
    }

    /// How many ids the tokenizer can produce (its vocabulary, special tokens included).
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::ClipBpe { .. } => CLIP_VOCAB_SIZE as usize,
            Tokenizer::Hf { tokenizer, .. } => tokenizer.get_vocab_size(true),
            Tokenizer::SentencePiece { model, .. } => model.vocab_size(),
        }
    }

    /// The kind in words, for errors.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Tokenizer::ClipBpe { .. } => "clip_bpe",
            Tokenizer::Hf { .. } => "hf_tokenizer",
            Tokenizer::SentencePiece { .. } => "sentencepiece",
        }
    }

    /// Ids per text.
    pub fn context_length(&self) -> usize {
        match self {
            Tokenizer::ClipBpe { context_length, .. }
            | Tokenizer::Hf { context_length, .. }
            | Tokenizer::SentencePiece { context_length, .. } => *context_length,
        }
    }

    /// The `[N, context_length]` token ids and attention masks of `texts`.
    pub fn encode<S: AsRef<str>>(&self, texts: &[S]) -> Result<(Array2<i64>, Array2<i64>), TokenizerError> {
        let ctx = self.context_length();
        let mut ids = Array2::<i64>::zeros((texts.len(), ctx));
        let mut mask = Array2::<i64>::zeros((texts.len(), ctx));
        for (i, text) in texts.iter().enumerate() {
            let text = text.as_ref();
            let (row, row_mask): (Vec<i64>, Vec<i64>) = match self {
                Tokenizer::ClipBpe { pad_id, .. } => {
                    let mut row = ClipTokenizer::shared().tokenize_unpadded(text, ctx);
                    let through_eot = row.iter().position(|&v| v == EOT).map_or(row.len(), |p| p + 1);
                    row.resize(ctx, *pad_id);
                    (row, ones_then_zeros(through_eot, ctx))
                }
                Tokenizer::Hf { file, tokenizer, .. } => {
                    let failed =
                        |message: String| TokenizerError::Encode { file: file.clone(), text: text.to_owned(), message };
                    let enc = tokenizer.encode(text, true).map_err(|e| failed(e.to_string()))?;
                    if enc.get_ids().len() != ctx {
                        let n = enc.get_ids().len();
                        return Err(failed(format!("{n} ids where the context length is {ctx}")));
                    }
                    let ids = enc.get_ids().iter().map(|&v| i64::from(v)).collect();
                    (ids, enc.get_attention_mask().iter().map(|&v| i64::from(v)).collect())
                }
                Tokenizer::SentencePiece { model, pad_id, .. } => {
                    let mut row: Vec<i64> = model.encode(text, ctx).into_iter().map(i64::from).collect();
                    let real = row.len();
                    row.resize(ctx, i64::from(*pad_id));
                    (row, ones_then_zeros(real, ctx))
                }
            };
            ids.row_mut(i).assign(&ndarray::Array1::from(row));
            mask.row_mut(i).assign(&ndarray::Array1::from(row_mask));
        }
        Ok((ids, mask))
    }
}

/// `n` ones then zeros, `len` in all.
fn ones_then_zeros(n: usize, len: usize) -> Vec<i64> {
    (0..len).map(|j| i64::from(j < n)).collect()
}

/// Loads a `tokenizer.json` and sets it to truncate to `context_length` (keeping the
/// special tokens its post-processor adds, as transformers' `truncation=True` does) and to
/// pad on the right to `context_length` with the pad id.
fn load_hf(file: &Path, context_length: usize, pad_id: Option<i64>) -> Result<Tokenizer, TokenizerError> {
    use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy, TruncationParams};
    let invalid = |message: String| TokenizerError::Invalid { file: file.to_path_buf(), message };
    let text =
        std::fs::read_to_string(file).map_err(|source| TokenizerError::Read { file: file.to_path_buf(), source })?;
    let mut tokenizer: tokenizers::Tokenizer = text.parse().map_err(|e| {
        invalid(format!(
            "not a Hugging Face tokenizer.json ({e}); `kind: hf_tokenizer` reads the tokenizer.json of a model's folder"
        ))
    })?;
    let pad_id = match pad_id {
        Some(p) => p,
        None => default_hf_pad(file, &tokenizer)?,
    };
    let vocab = tokenizer.get_vocab_size(true);
    let pad = u32::try_from(pad_id)
        .ok()
        .filter(|&p| (p as usize) < vocab)
        .ok_or_else(|| invalid(format!("pad_id {pad_id} is not an id of its vocabulary of {vocab}")))?;
    tokenizer
        .with_truncation(Some(TruncationParams { max_length: context_length, ..TruncationParams::default() }))
        .map_err(|e| invalid(format!("cannot truncate to context_length {context_length}: {e}")))?;
    let pad_token = tokenizer.id_to_token(pad).unwrap_or_default();
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::Fixed(context_length),
        direction: PaddingDirection::Right,
        pad_to_multiple_of: None,
        pad_id: pad,
        pad_type_id: 0,
        pad_token,
    }));
    // A context too short for the special tokens fails here, not at the first prompt.
    tokenizer
        .encode("", true)
        .map_err(|e| invalid(format!("cannot encode with context_length {context_length}: {e}")))?;
    Ok(Tokenizer::Hf { file: file.to_path_buf(), tokenizer: Box::new(tokenizer), context_length })
}

/// The pad id a `tokenizer.json` implies: its `padding.pad_id`, else the id of the
/// `pad_token` of the `tokenizer_config.json` beside it.
fn default_hf_pad(file: &Path, tokenizer: &tokenizers::Tokenizer) -> Result<i64, TokenizerError> {
    if let Some(p) = tokenizer.get_padding() {
        return Ok(i64::from(p.pad_id));
    }
    let config = file.with_file_name("tokenizer_config.json");
    let invalid = |message: String| TokenizerError::Invalid { file: file.to_path_buf(), message };
    let ask = "set `pad_id` under `tokenizer:` in model.yaml (CLIP pads with <|endoftext|>, SigLIP with </s>)";
    let Ok(text) = std::fs::read_to_string(&config) else {
        return Err(invalid(format!(
            "it sets no padding and there is no tokenizer_config.json beside it to name the pad token; {ask}"
        )));
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(format!("{} is not JSON ({e}); {ask}", config.display())))?;
    let token = match json.get("pad_token") {
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(serde_json::Value::Object(o)) => o.get("content").and_then(serde_json::Value::as_str),
        _ => None,
    };
    let Some(token) = token else {
        return Err(invalid(format!("neither it nor {} names a pad token; {ask}", config.display())));
    };
    tokenizer.token_to_id(token).map(i64::from).ok_or_else(|| {
        invalid(format!("the pad token {token:?} of {} is not in its vocabulary; {ask}", config.display()))
    })
}

/// open_clip's `_clean_lower`: `ftfy.fix_text`, HTML-unescape twice, strip, collapse
/// whitespace, lower-case.
pub fn clean_lower(text: &str) -> String {
    let fixed = fix_text(text);
    let once = htmlize::unescape(fixed.as_str()).into_owned();
    let twice = htmlize::unescape(once.as_str()).into_owned();
    twice.split(is_py_space).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Python's `str.isspace`: Unicode White_Space plus the ASCII separators 0x1C-0x1F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `ftfy.fix_text` with ftfy 6's defaults, less its mojibake repair (`fix_encoding`).
///
/// As ftfy does: the text is fixed line by line; HTML entities are decoded until a line
/// containing `<` is seen (from then on the text is taken for HTML); each line is fixed
/// repeatedly until nothing changes.
pub fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape = true;
    for segment in text.split_inclusive('\n') {
        if unescape && segment.contains('<') {
            unescape = false;
        }
        out.push_str(&fix_segment(segment, unescape));
    }
    out
}

fn fix_segment(segment: &str, unescape: bool) -> String {
    let mut s = segment.to_owned();
    loop {
        let before = s.clone();
        if unescape {
            s = unescape_entities(&s);
        }
        s = s.chars().map(fix_c1).collect();
        s = fix_ligatures(&s);
        s = fix_width(&s);
        s = s
            .chars()
            .map(|c| match c {
                '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
                '\u{201c}'..='\u{201f}' => '"',
                c => c,
            })
            .collect();
        s = s.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n");
        s = remove_terminal_escapes(&s);
        s.retain(|c| !is_removed_control(c));
        s = s.nfc().collect();
        if s == before {
            return s;
        }
    }
}

/// ftfy's `unescape_html`: entities ending in `;` that decode completely, plus all-caps
/// forms of lower-case entity names (`&EACUTE;` → `É`).
fn unescape_entities(s: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new("&#?[0-9A-Za-z]{1,24};").expect("static regex"));
    re.replace_all(s, |caps: &regex::Captures<'_>| {
        let m = &caps[0];
        let complete = |entity: &str| -> Option<String> {
            let decoded = htmlize::unescape(entity).into_owned();
            (decoded != entity && (!decoded.ends_with(';') || entity == "&semi;")).then_some(decoded)
        };
        if let Some(d) = complete(m) {
            return d;
        }
        let is_caps = !m.starts_with("&#") && !m.chars().any(|c| c.is_ascii_lowercase());
        if is_caps
            && htmlize::unescape(m) == m
            && let Some(d) = complete(&m.to_ascii_lowercase())
        {
            return d.to_uppercase();
        }
        m.to_owned()
    })
    .into_owned()
}

fn fix_ligatures(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'Ĳ' => out.push_str("IJ"),
            'ĳ' => out.push_str("ij"),
            'ŉ' => out.push_str("\u{2bc}n"),
            'Ǳ' => out.push_str("DZ"),
            'ǲ' => out.push_str("Dz"),
            'ǳ' => out.push_str("dz"),
            'Ǆ' => out.push_str("DŽ"),
            'ǅ' => out.push_str("Dž"),
            'ǆ' => out.push_str("dž"),
            'Ǉ' => out.push_str("LJ"),
            'ǈ' => out.push_str("Lj"),
            'ǉ' => out.push_str("lj"),
            'Ǌ' => out.push_str("NJ"),
            'ǋ' => out.push_str("Nj"),
            'ǌ' => out.push_str("nj"),
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' => out.push_str("ſt"),
            'ﬆ' => out.push_str("st"),
            c => out.push(c),
        }
    }
    out
}

/// ftfy's `fix_character_width`: half- and full-width forms to their NFKC form, and the
/// ideographic space to a space.
fn fix_width(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{3000}' => out.push(' '),
            '\u{ff01}'..='\u{ffef}' => out.extend(std::iter::once(c).nfkc()),
            c => out.push(c),
        }
    }
    out
}

fn remove_terminal_escapes(s: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new("\x1b\\[((?:\\d|;)*)([a-zA-Z])").expect("static regex"))
        .replace_all(s, "")
        .into_owned()
}

/// ftfy's `fix_c1_controls`: C1 control characters decoded as (sloppy) Windows-1252.
fn fix_c1(c: char) -> char {
    const CP1252: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘',
        '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];
    let u = c as u32;
    if (0x80..=0x9f).contains(&u) { CP1252[(u - 0x80) as usize] } else { c }
}

/// ftfy's `remove_control_chars`.
fn is_removed_control(c: char) -> bool {
    matches!(c as u32, 0x00..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f | 0x206a..=0x206f | 0xfeff | 0xfff9..=0xfffc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_for_a_photo_of_a_dog() {
        let ids = ClipTokenizer::shared().tokenize("a photo of a dog", 77);
        assert_eq!(&ids[..7], &[49406, 320, 1125, 539, 320, 1929, 49407]);
        assert!(ids[7..].iter().all(|&i| i == 0));
    }

    #[test]
    fn truncation_keeps_eot_last() {
        let long = "word ".repeat(200);
        let ids = ClipTokenizer::shared().tokenize(&long, 77);
        assert_eq!(ids.len(), 77);
        assert_eq!(ids[76], EOT);
        assert_eq!(ids[0], SOT);
    }
}
