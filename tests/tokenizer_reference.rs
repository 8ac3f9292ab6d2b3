//! The tokenizer gives open_clip's ids (fixtures/tokenizer, made by
//! scripts/make_tokenizer_fixture.py): every id of every case, exactly.

use clip_audit::model::ClipTokenizer;
use clip_audit::model::tokenizer::clean_lower;
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
