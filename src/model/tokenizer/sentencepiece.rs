//! SigLIP's tokenizer read from its `spiece.model`, giving the ids Hugging Face's
//! `SiglipTokenizer` gives (checked on every string of `fixtures/tokenizer/`).
//!
//! SigLIP's folders ship a SentencePiece model and no `tokenizer.json`, transformers has no
//! converter for it (its `SiglipTokenizer` runs the `sentencepiece` library), and a
//! `tokenizers` pipeline cannot say what it does exactly: Python's `str.lower()` (final
//! sigma), SentencePiece's own longest-match normalization (the `Precompiled` normalizer
//! matches per grapheme and drops the rest of one), and SiglipTokenizer's handling of special
//! tokens in the text. So this module follows SiglipTokenizer step by step and SentencePiece's
//! C++ where SiglipTokenizer calls it, with the model's pieces, scores and charsmap:
//!
//! 1. `"▁" + text` with `▁` in the text read as a space, split around the literal special
//!    tokens `</s>` and `<unk>` (kept as their ids);
//! 2. each other part canonicalized (`canonicalize_text`): lower-cased, ASCII punctuation
//!    removed, runs of whitespace made one space, stripped;
//! 3. each part encoded as SentencePiece encodes `"<unk>" + part` (normalization by the
//!    model's charsmap, whitespace clean-up, dummy prefix, `▁` for spaces; unigram Viterbi in
//!    float32; runs of unknown characters merged into one `<unk>`), less the pieces of
//!    `"<unk>"` alone; a part after a special token thus starts without `▁`;
//! 4. a leading lone `▁` before a special token dropped; truncated to `context_length - 1`;
//!    `</s>` appended unless the ids already end with it.
//!
//! Only this, SigLIP's, use of a unigram model is supported: BPE models, byte fallback,
//! user-defined pieces and whitespace-as-suffix models are refused when loading.

use std::collections::HashMap;

use prost::Message;

/// The longest piece accepted, in bytes (SentencePiece trains at most 16 characters, 64 bytes in UTF-8).
const MAX_PIECE_BYTES: usize = 256;

/// SentencePiece's model protobuf, generated from `proto/sentencepiece_model.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/sentencepiece.rs"));
}

use proto::model_proto::sentence_piece::Type as PieceType;
use proto::trainer_spec::ModelType;

/// SentencePiece's whitespace symbol.
const SPACE: char = '\u{2581}';
/// The score below the lowest piece's that an unknown character gets (`kUnkPenalty`).
const UNK_PENALTY: f32 = 10.0;

/// A SigLIP-style SentencePiece tokenizer.
pub struct SentencePiece {
    /// Pieces text can match (normal ones): id and score.
    pieces: HashMap<String, (u32, f32)>,
    /// Every piece's id, as `PieceToId` looks them up.
    ids: HashMap<String, u32>,
    /// The longest matchable piece, in bytes.
    max_piece_len: usize,
    unk_id: u32,
    unk_score: f32,
    unk_piece: String,
    eos_id: u32,
    eos_piece: String,
    /// How many pieces `"<unk>"` alone encodes to (SiglipTokenizer's `unk_token_length`).
    unk_prefix_pieces: usize,
    normalizer: Normalizer,
    vocab_size: usize,
}

impl std::fmt::Debug for SentencePiece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentencePiece").field("vocab", &self.vocab_size).finish_non_exhaustive()
    }
}

/// One token of SiglipTokenizer's `tokenize`: a special token's id, or a piece (an unknown
/// run is its surface text, looked up later as SentencePiece's `PieceToId` does).
#[derive(Debug, PartialEq)]
enum Token {
    Special(u32),
    Piece(String),
}

impl SentencePiece {
    /// Reads a serialized `ModelProto`; the error says what is wrong, in words.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let model = proto::ModelProto::decode(bytes)
            .map_err(|e| format!("not a SentencePiece model ({e}); SigLIP's is the spiece.model of its folder"))?;
        let trainer = model.trainer_spec.unwrap_or_default();
        if trainer.model_type() != ModelType::Unigram {
            return Err(format!(
                "a SentencePiece {:?} model; only SigLIP's tokenizer (a unigram model) is supported: give the model's tokenizer.json with `kind: hf_tokenizer` instead",
                trainer.model_type()
            ));
        }
        if trainer.byte_fallback() {
            return Err("a SentencePiece model with byte fallback, which SigLIP's is not; give the model's tokenizer.json with `kind: hf_tokenizer` instead".into());
        }
        if trainer.treat_whitespace_as_suffix() {
            return Err("a SentencePiece model that puts whitespace after pieces, which SigLIP's does not".into());
        }
        if model.pieces.is_empty() {
            return Err("a SentencePiece model without pieces".into());
        }
        let id_of = |what: &str, id: i32| -> Result<u32, String> {
            usize::try_from(id)
                .ok()
                .filter(|&i| i < model.pieces.len())
                .map(|i| i as u32)
                .ok_or_else(|| format!("its {what} id {id} is not a piece; SigLIP's tokenizer needs `{what}`"))
        };
        let unk_id = id_of("unk", trainer.unk_id())?;
        let eos_id = id_of("eos", trainer.eos_id())?;
        let mut pieces = HashMap::new();
        let mut ids = HashMap::new();
        let mut min_score = f32::MAX;
        let mut max_piece_len = 0;
        for (i, p) in model.pieces.iter().enumerate() {
            let text = p.piece().to_owned();
            match p.r#type() {
                PieceType::Normal => {
                    min_score = min_score.min(p.score());
                    max_piece_len = max_piece_len.max(text.len());
                    pieces.insert(text.clone(), (i as u32, p.score()));
                }
                PieceType::UserDefined | PieceType::Byte => {
                    return Err(format!(
                        "piece {i} ({text:?}) is user-defined or a byte piece, which SigLIP's model has none of"
                    ));
                }
                PieceType::Unknown | PieceType::Control | PieceType::Unused => {}
            }
            ids.entry(text).or_insert(i as u32);
        }
        // The segmentation splits the text at these pieces: empty ones would never advance it.
        for (what, id) in [("unk", unk_id), ("eos", eos_id)] {
            if model.pieces[id as usize].piece().is_empty() {
                return Err(format!("its {what} piece (id {id}) is empty"));
            }
        }
        // Viterbi costs grow with the longest piece: SentencePiece's own trainer caps pieces at
        // 16 characters by default; a model with far longer ones is no tokenizer to trust.
        if max_piece_len > MAX_PIECE_BYTES {
            return Err(format!("a piece is {max_piece_len} bytes long (at most {MAX_PIECE_BYTES} expected)"));
        }
        let spec = model.normalizer_spec.clone().unwrap_or_default();
        let normalizer = Normalizer::new(&spec)?;
        let mut sp = SentencePiece {
            pieces,
            ids,
            max_piece_len,
            unk_id,
            unk_score: min_score - UNK_PENALTY,
            unk_piece: model.pieces[unk_id as usize].piece().to_owned(),
            eos_id,
            eos_piece: model.pieces[eos_id as usize].piece().to_owned(),
            unk_prefix_pieces: 0,
            normalizer,
            vocab_size: model.pieces.len(),
        };
        sp.unk_prefix_pieces = sp.encode_pieces(&sp.unk_piece.clone()).len();
        Ok(sp)
    }

    /// The number of pieces (ids run from 0 to this, exclusive).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The id of `</s>`, which ends every text and pads by default.
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// The ids of `text` as SiglipTokenizer gives them with `truncation=True,
    /// max_length=context_length`: at most `context_length`, ending with `</s>`; unpadded.
    pub fn encode(&self, text: &str, context_length: usize) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .tokenize(text)
            .into_iter()
            .map(|t| match t {
                Token::Special(id) => id,
                Token::Piece(p) => self.ids.get(&p).copied().unwrap_or(self.unk_id),
            })
            .collect();
        // prepare_for_model: room for the one special token, then build_inputs_with_special_tokens.
        if ids.len() + 1 > context_length {
            ids.truncate(context_length.saturating_sub(1));
        }
        if ids.last() != Some(&self.eos_id) {
            ids.push(self.eos_id);
        }
        ids
    }

    /// SiglipTokenizer's `tokenize`.
    fn tokenize(&self, text: &str) -> Vec<Token> {
        let text = format!("{SPACE}{}", text.replace(SPACE, " "));
        let mut tokens = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let next = [(&self.eos_piece, self.eos_id), (&self.unk_piece, self.unk_id)]
                .into_iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), id)))
                .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)));
            let (part, special) = match next {
                Some((at, len, id)) => {
                    let part = &rest[..at];
                    rest = &rest[at + len..];
                    (part, Some(id))
                }
                None => (std::mem::take(&mut rest), None),
            };
            if !part.is_empty() {
                tokens.extend(self.tokenize_part(part).into_iter().map(Token::Piece));
            }
            tokens.extend(special.map(Token::Special));
        }
        if tokens.len() > 1 && tokens[0] == Token::Piece(SPACE.to_string()) && matches!(tokens[1], Token::Special(_)) {
            tokens.remove(0);
        }
        tokens
    }

    /// SiglipTokenizer's `_tokenize`: canonicalize, encode `"<unk>" + part`, drop the pieces of
    /// `"<unk>"`.
    fn tokenize_part(&self, part: &str) -> Vec<String> {
        let canonical = canonicalize(part);
        let mut pieces = self.encode_pieces(&format!("{}{canonical}", self.unk_piece));
        if pieces.len() >= self.unk_prefix_pieces {
            pieces.drain(..self.unk_prefix_pieces);
        }
        pieces
    }

    /// SentencePiece's `Encode` to pieces: normalize, Viterbi, merge runs of unknowns (an
    /// unknown piece is its normalized surface).
    fn encode_pieces(&self, text: &str) -> Vec<String> {
        let normalized = self.normalizer.normalize(text);
        let mut out: Vec<(String, bool)> = Vec::new();
        for (range, id) in self.viterbi(&normalized) {
            let surface = &normalized[range];
            let unk = id == self.unk_id;
            match out.last_mut() {
                Some((prev, true)) if unk => prev.push_str(surface),
                _ => out.push((surface.to_owned(), unk)),
            }
        }
        out.into_iter().map(|(p, _)| p).collect()
    }

    /// The best segmentation by summed piece scores (float32, first best kept on ties), as
    /// SentencePiece's `EncodeOptimized`: a character no piece starts with alone is unknown.
    fn viterbi(&self, s: &str) -> Vec<(std::ops::Range<usize>, u32)> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f32,
            start: Option<usize>,
        }
        let n = s.len();
        let mut best = vec![Best { id: 0, score: 0.0, start: None }; n + 1];
        let mut start = 0;
        while start < n {
            let here = best[start].score;
            let char_len = s[start..].chars().next().map_or(1, char::len_utf8);
            let mut single = false;
            let limit = n.min(start + self.max_piece_len);
            for end in (start + 1..=limit).filter(|&e| s.is_char_boundary(e)) {
                if let Some(&(id, score)) = self.pieces.get(&s[start..end]) {
                    let candidate = score + here;
                    let target = &mut best[end];
                    if target.start.is_none() || candidate > target.score {
                        *target = Best { id, score: candidate, start: Some(start) };
                    }
                    single |= end - start == char_len;
                }
            }
            if !single {
                let candidate = self.unk_score + here;
                let target = &mut best[start + char_len];
                if target.start.is_none() || candidate > target.score {
                    *target = Best { id: self.unk_id, score: candidate, start: Some(start) };
                }
            }
            start += char_len;
        }
        let mut path = Vec::new();
        let mut end = n;
        while end > 0 {
            let node = best[end];
            let Some(begin) = node.start else { break };
            path.push((begin..end, node.id));
            end = begin;
        }
        path.reverse();
        path
    }
}

/// SiglipTokenizer's `canonicalize_text` (with `do_lower_case`): Python's `str.lower()`,
/// `string.punctuation` removed, `\s+` to one space, `strip()`.
fn canonicalize(text: &str) -> String {
    let lowered = text.to_lowercase();
    let kept: String = lowered.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    let mut out = String::with_capacity(kept.len());
    let mut in_space = false;
    for c in kept.chars() {
        if super::is_py_space(c) {
            in_space = true;
        } else {
            if in_space && !out.is_empty() {
                out.push(' ');
            }
            in_space = false;
            out.push(c);
        }
    }
    out
}

/// SentencePiece's normalizer: the model's precompiled charsmap (a Darts double-array trie of
/// rewrite rules, longest match first), then its whitespace options.
struct Normalizer {
    /// The double array, in 32-bit units; empty when the model has no charsmap.
    trie: Vec<u32>,
    /// The NUL-separated replacements the trie's values point into.
    replacements: Vec<u8>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

impl Normalizer {
    fn new(spec: &proto::NormalizerSpec) -> Result<Self, String> {
        let blob = spec.precompiled_charsmap();
        let (trie, replacements) = if blob.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let broken = || "its normalization rules (precompiled_charsmap) are broken".to_owned();
            let size =
                blob.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).ok_or_else(broken)?;
            let body = blob.get(4..4 + size).filter(|_| size % 4 == 0 && size > 0).ok_or_else(broken)?;
            let trie = body.chunks_exact(4).map(|u| u32::from_le_bytes([u[0], u[1], u[2], u[3]])).collect();
            (trie, blob[4 + size..].to_vec())
        };
        Ok(Normalizer {
            trie,
            replacements,
            add_dummy_prefix: spec.add_dummy_prefix(),
            remove_extra_whitespaces: spec.remove_extra_whitespaces(),
            escape_whitespaces: spec.escape_whitespaces(),
        })
    }

    /// `Normalizer::NormalizePrefix`: the replacement of the longest rule matching the start of
    /// `input` and the bytes it consumes, or the first character unchanged.
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        let mut longest: Option<(usize, usize)> = None;
        if !self.trie.is_empty() {
            // Darts-clone's commonPrefixSearch over the input's bytes.
            let unit = |pos: usize| self.trie.get(pos).copied();
            let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
            let label = |u: u32| u & ((1 << 31) | 0xFF);
            let has_leaf = |u: u32| (u >> 8) & 1 == 1;
            if let Some(root) = unit(0) {
                let mut pos = offset(root);
                for (i, &b) in input.as_bytes().iter().enumerate() {
                    pos ^= usize::from(b);
                    let Some(u) = unit(pos) else { break };
                    if label(u) != u32::from(b) {
                        break;
                    }
                    pos ^= offset(u);
                    if has_leaf(u) {
                        let Some(value) = unit(pos) else { break };
                        longest = Some((i + 1, (value & ((1 << 31) - 1)) as usize));
                    }
                }
            }
        }
        if let Some((len, value)) = longest
            && value < self.replacements.len()
            && input.is_char_boundary(len)
        {
            let tail = &self.replacements[value..];
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            if let Ok(replacement) = std::str::from_utf8(&tail[..end]) {
                return (replacement, len);
            }
        }
        let len = input.chars().next().map_or(0, char::len_utf8);
        (&input[..len], len)
    }

    /// `Normalizer::Normalize`.
    fn normalize(&self, input: &str) -> String {
        let mut input = input;
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (rep, len) = self.normalize_prefix(input);
                if rep != " " {
                    break;
                }
                input = &input[len..];
            }
        }
        let mut out = String::with_capacity(input.len() * 3 / 2);
        if input.is_empty() {
            return out;
        }
        let space = if self.escape_whitespaces { SPACE } else { ' ' };
        if self.add_dummy_prefix {
            out.push(space);
        }
        let mut prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (rep, len) = self.normalize_prefix(input);
            let mut sp = rep;
            while prev_space && let Some(rest) = sp.strip_prefix(' ') {
                sp = rest;
            }
            if !sp.is_empty() {
                out.extend(sp.chars().map(|c| if c == ' ' { space } else { c }));
                prev_space = sp.ends_with(' ');
            }
            input = &input[len..];
            if !self.remove_extra_whitespaces {
                prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.pop();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalization_is_siglips() {
        assert_eq!(canonicalize("  A Photo, of  the\tDOG!  "), "a photo of the dog");
        // Python's lower(): the final sigma.
        assert_eq!(canonicalize("ΟΔΟΣ ΣΟΦΟΣ"), "οδος σοφος");
        // Python's \s includes the information separators; non-ASCII punctuation stays.
        assert_eq!(canonicalize("a\u{1c}b «c»"), "a b «c»");
    }

    #[test]
    fn a_model_that_is_not_sentencepiece_is_refused_in_words() {
        let err = SentencePiece::from_bytes(b"not a model at all").unwrap_err();
        assert!(err.contains("not a SentencePiece model"), "{err}");
    }
}
