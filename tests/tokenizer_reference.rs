//! The tokenizers give their references' ids (fixtures/tokenizer, made by
//! scripts/make_tokenizer_fixture.py): every id and mask of every case, exactly. `clip_bpe`
//! against open_clip; `hf_tokenizer` against transformers on a CLIP and a SigLIP
//! tokenizer.json; `sentencepiece` against transformers' SiglipTokenizer. Also the manifest's
//! tokenizer section: its mistakes and unreadable files are named.

use clip_audit::model::manifest::{ModelManifest, TokenizerKind, TokenizerSpec};
use clip_audit::model::tokenizer::clean_lower;
use clip_audit::model::{ClipModel, ClipTokenizer, ModelError, SessionConfig, TapSelection, Tokenizer};
use serde::Deserialize;

use crate::common::fixture;

#[derive(Deserialize)]
struct Fixture {
    context_length: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<i64>,
    cleaned: String,
    category: String,
}

fn load() -> Fixture {
    let text = std::fs::read_to_string(fixture("tokenizer/open_clip_ids.json")).expect("fixture");
    serde_json::from_str(&text).expect("parses")
}

#[test]
fn clean_up_matches_open_clip() {
    let f = load();
    let bad: Vec<String> = f
        .cases
        .iter()
        .filter(|c| clean_lower(&c.text) != c.cleaned)
        .map(|c| format!("[{}] {:?}: ours {:?}, open_clip {:?}", c.category, c.text, clean_lower(&c.text), c.cleaned))
        .collect();
    assert!(bad.is_empty(), "{} of {} cases differ:\n{}", bad.len(), f.cases.len(), bad.join("\n"));
}

#[test]
fn ids_match_open_clip_for_every_case() {
    let f = load();
    assert!(f.cases.len() >= 200, "at least 200 strings");
    let tok = ClipTokenizer::shared();
    let bad: Vec<String> = f
        .cases
        .iter()
        .filter(|c| tok.tokenize(&c.text, f.context_length) != c.ids)
        .map(|c| format!("[{}] {:?}", c.category, c.text))
        .collect();
    assert!(bad.is_empty(), "{} of {} cases differ:\n{}", bad.len(), f.cases.len(), bad.join("\n"));
}

// ---- Tokenizers from the model's own files (hf_tokenizer, sentencepiece) ----
//
// References from scripts/make_tokenizer_fixture.py: transformers' CLIPTokenizer on
// fixtures/models/hf-clip-tiny, and SiglipTokenizer (sentencepiece) and the converted
// tokenizer.json (tokenizers) on the SigLIP stand-in, each with padding="max_length",
// truncation=True, on the open_clip strings plus special-token text.

#[derive(Deserialize)]
struct Encoded {
    ids: Vec<i64>,
    mask: Vec<i64>,
}

#[derive(Deserialize)]
struct HfCase {
    text: String,
    category: String,
    #[serde(flatten)]
    reference: Encoded,
}

#[derive(Deserialize)]
struct HfFixture {
    context_length: usize,
    pad_id: i64,
    cases: Vec<HfCase>,
}

#[derive(Deserialize)]
struct SiglipCase {
    text: String,
    category: String,
    sentencepiece: Encoded,
    tokenizer_json: Encoded,
}

#[derive(Deserialize)]
struct SiglipFixture {
    context_length: usize,
    pad_id: i64,
    cases: Vec<SiglipCase>,
}

fn read_json<T: serde::de::DeserializeOwned>(rel: &str) -> T {
    let text = std::fs::read_to_string(fixture(rel)).expect("fixture");
    serde_json::from_str(&text).expect("parses")
}

fn load_tokenizer(kind: TokenizerKind, file: &str, context_length: usize) -> Tokenizer {
    let spec = TokenizerSpec { kind, file: Some(fixture(file)), context_length, pad_id: None };
    Tokenizer::load(&spec).unwrap_or_else(|e| panic!("{file} loads: {e}"))
}

/// Every case's ids and mask, exactly; the differing cases listed with both sides.
fn check<'a>(tokenizer: &Tokenizer, cases: impl Iterator<Item = (&'a str, &'a str, &'a Encoded)>) {
    let cases: Vec<_> = cases.collect();
    let texts: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let (ids, mask) = tokenizer.encode(&texts).expect("encodes");
    let bad: Vec<String> = cases
        .iter()
        .enumerate()
        .filter(|(i, c)| ids.row(*i).to_vec() != c.2.ids || mask.row(*i).to_vec() != c.2.mask)
        .map(|(i, c)| {
            let n = c.2.mask.iter().sum::<i64>().max(mask.row(i).sum()) as usize;
            format!("[{}] {:?}\n  ours {:?}\n  ref  {:?}", c.1, c.0, &ids.row(i).to_vec()[..n], &c.2.ids[..n])
        })
        .collect();
    assert!(cases.len() >= 400, "the open_clip strings and the special-token text");
    assert!(bad.is_empty(), "{} of {} cases differ:\n{}", bad.len(), cases.len(), bad.join("\n"));
}

#[test]
fn hf_tokenizer_matches_transformers_clip_tokenizer() {
    let f: HfFixture = read_json("tokenizer/hf_clip_ids.json");
    let tok = load_tokenizer(TokenizerKind::HfTokenizer, "models/hf-clip-tiny/tokenizer.json", f.context_length);
    // The pad id comes from tokenizer_config.json's pad_token (<|endoftext|>).
    let (ids, mask) = tok.encode(&["a photo of a dog"]).unwrap();
    assert_eq!(ids[[0, 76]], f.pad_id);
    assert_eq!(mask.row(0).sum(), 7);
    check(&tok, f.cases.iter().map(|c| (c.text.as_str(), c.category.as_str(), &c.reference)));
}

#[test]
fn hf_tokenizer_matches_transformers_on_the_converted_siglip_tokenizer_json() {
    let f: SiglipFixture = read_json("tokenizer/siglip_standin_ids.json");
    let tok = load_tokenizer(TokenizerKind::HfTokenizer, "tokenizer/siglip-standin/tokenizer.json", f.context_length);
    assert_eq!(tok.encode(&[""]).unwrap().0[[0, 1]], f.pad_id, "pads with </s>, from tokenizer_config.json");
    check(&tok, f.cases.iter().map(|c| (c.text.as_str(), c.category.as_str(), &c.tokenizer_json)));
}

#[test]
fn sentencepiece_matches_transformers_siglip_tokenizer() {
    let f: SiglipFixture = read_json("tokenizer/siglip_standin_ids.json");
    let tok = load_tokenizer(TokenizerKind::Sentencepiece, "tokenizer/siglip-standin/spiece.model", f.context_length);
    assert_eq!(tok.encode(&[""]).unwrap().0[[0, 1]], f.pad_id, "pads with </s> by default");
    check(&tok, f.cases.iter().map(|c| (c.text.as_str(), c.category.as_str(), &c.sentencepiece)));
}

#[test]
fn clip_bpe_masks_through_the_end_of_text_and_pads_as_told() {
    let tok = Tokenizer::load(&TokenizerSpec {
        kind: TokenizerKind::ClipBpe,
        file: None,
        context_length: 77,
        pad_id: Some(49407),
    })
    .unwrap();
    // Id 0 ("!" inside a word) is a real token: the mask covers it, and the padding after EOT.
    let (ids, mask) = tok.encode(&["println!(\"hi\")", "a photo of a dog"]).unwrap();
    let n = ids.row(0).iter().position(|&v| v == 49407).unwrap() + 1;
    assert!(ids.row(0).iter().take(n).any(|&v| v == 0), "{:?}", ids.row(0));
    assert!(mask.row(0).iter().take(n).all(|&m| m == 1) && mask.row(0).iter().skip(n).all(|&m| m == 0));
    assert!(ids.row(0).iter().skip(n).all(|&v| v == 49407));
    assert_eq!(mask.row(1).sum(), 7);
    assert_eq!(ids.row(1).to_vec(), {
        let mut want = ClipTokenizer::shared().tokenize("a photo of a dog", 77);
        want[7..].fill(49407);
        want
    });
}

/// The tiny bundle with its tokenizer section replaced by `tokenizer` (YAML lines).
fn bundle_with_tokenizer(tokenizer: &str) -> tempfile::TempDir {
    let dir = crate::common::tiny_copy();
    let p = dir.path().join("model.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    let old = "tokenizer:\n  kind: clip_bpe\n  context_length: 77\n";
    assert!(text.contains(old), "the tiny manifest's tokenizer section");
    std::fs::write(&p, text.replacen(old, &format!("tokenizer:\n{tokenizer}"), 1)).unwrap();
    dir
}

#[test]
fn manifest_tokenizer_files_resolve_against_the_bundle() {
    let dir =
        bundle_with_tokenizer("  kind: sentencepiece\n  file: spm/spiece.model\n  context_length: 64\n  pad_id: 1\n");
    std::fs::create_dir(dir.path().join("spm")).unwrap();
    std::fs::copy(fixture("tokenizer/siglip-standin/spiece.model"), dir.path().join("spm/spiece.model")).unwrap();
    let m = ModelManifest::load(dir.path()).expect("valid manifest");
    let want = TokenizerSpec {
        kind: TokenizerKind::Sentencepiece,
        file: Some(dir.path().join("spm/spiece.model")),
        context_length: 64,
        pad_id: Some(1),
    };
    assert_eq!(m.tokenizer, want);
    assert!(Tokenizer::load(&m.tokenizer).is_ok());
}

#[test]
fn manifest_tokenizer_mistakes_point_at_the_line() {
    let cases = [
        ("  kind: hf_tokenizer\n  file: tokenizer.json\n  context_length: 77\n", "tokenizer.json does not exist"),
        ("  kind: hf_tokenizer\n  context_length: 77\n", "the `hf_tokenizer` tokenizer needs `file`"),
        ("  kind: clip_bpe\n  file: vocab.json\n  context_length: 77\n", "takes no `file`"),
        ("  kind: sentencepeice\n  context_length: 64\n", "did you mean `sentencepiece`?"),
        ("  kind: clip_bpe\n  context_length: 77\n  pad_id: -1\n", "pad_id must be a token id"),
        ("  kind: clip_bpe\n  context_length: 77\n  pad_id: 49408\n", "not an id of CLIP's vocabulary"),
    ];
    for (tokenizer, want) in cases {
        let dir = bundle_with_tokenizer(tokenizer);
        let err = ModelManifest::load(dir.path()).expect_err(tokenizer).to_string();
        assert!(err.contains(want) && err.contains("model.yaml:"), "{tokenizer}: {err}");
    }
}

/// Loading fails on the tokenizer before any ONNX Runtime session is made.
fn load_error(dir: &std::path::Path) -> String {
    match ClipModel::load(dir, &SessionConfig::default(), &TapSelection::None) {
        Err(e @ ModelError::Tokenizer(_)) => e.to_string(),
        Err(e) => panic!("expected a tokenizer error, got {e}"),
        Ok(_) => panic!("expected a tokenizer error"),
    }
}

#[test]
fn unreadable_tokenizer_files_are_named_when_the_model_loads() {
    let dir = bundle_with_tokenizer("  kind: hf_tokenizer\n  file: tokenizer.json\n  context_length: 77\n");
    let file = dir.path().join("tokenizer.json");
    std::fs::write(&file, "{\"not\": \"a tokenizer\"}").unwrap();
    let err = load_error(dir.path());
    assert!(err.contains(&file.display().to_string()) && err.contains("not a Hugging Face tokenizer.json"), "{err}");

    // A real tokenizer.json that names no pad token, with no tokenizer_config.json beside it.
    std::fs::copy(fixture("models/hf-clip-tiny/tokenizer.json"), &file).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains(&file.display().to_string()) && err.contains("set `pad_id`"), "{err}");

    let dir = bundle_with_tokenizer("  kind: sentencepiece\n  file: spiece.model\n  context_length: 64\n");
    let file = dir.path().join("spiece.model");
    std::fs::copy(fixture("models/hf-clip-tiny/tokenizer.json"), &file).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains(&file.display().to_string()) && err.contains("not a SentencePiece model"), "{err}");
}
