//! OpenAI CLIP's byte-level BPE tokenizer, reimplemented to give the same ids as
//! open_clip's `tokenize` (checked on the strings in `fixtures/tokenizer/`).
//!
//! Steps, as in open_clip's `SimpleTokenizer` with `clean="lower"`: text clean-up (the
//! parts of `ftfy.fix_text` that apply to well-formed text, then HTML unescaping twice),
//! whitespace collapsing, lower-casing, splitting with CLIP's regex, byte-to-unicode mapping,
//! BPE merges by rank, then `[SOT] ids [EOT]` truncated to the context length with EOT kept
//! last and zero padding. ftfy's mojibake repair (re-decoding text that was mis-decoded as
//! Latin-1/Windows-1252) is heuristic and not reproduced; such text tokenizes as written.
//! The vocabulary (`assets/tokenizer/bpe_simple_vocab_16e6.txt.gz`, MIT) is embedded.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

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
        ids.resize(context_length, 0);
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
