//! The spec and library parsers never panic, whatever the input: property tests over
//! arbitrary text and over random mutations of real specs.

use std::path::Path;

use clip_audit::spec::{AuditSpec, ProbeLibrary};
use proptest::prelude::*;

use crate::common::root;

fn seeds() -> Vec<String> {
    ["audits/denigration.yaml", "audits/typographic.yaml", "probes/demographics.yaml"]
        .iter()
        .map(|p| std::fs::read_to_string(root().join(p)).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let p = root().join("audits/fuzz.yaml");
        let _ = AuditSpec::parse(&text, &p, &[]);
        let _ = ProbeLibrary::parse(&text, Path::new("fuzz.yaml"));
    }

    #[test]
    fn mutated_specs_never_panic(which in 0usize..3, cuts in proptest::collection::vec((0usize..4000, 0usize..40, "[ :\\-\\[\\]{}#&*!|>'\"\\n\\ta-z0-9]{0,6}"), 1..6)) {
        let mut text = seeds()[which].clone();
        for (at, len, insert) in cuts {
            let start = text.char_indices().map(|(i, _)| i).nth(at % text.chars().count().max(1)).unwrap_or(0);
            let end = text[start..].char_indices().map(|(i, _)| start + i).nth(len).unwrap_or(text.len());
            text.replace_range(start..end, &insert);
        }
        // Parse as if the file were in the spec's own folder, so relative paths resolve.
        let p = root().join("audits/fuzz.yaml");
        let _ = AuditSpec::parse(&text, &p, &[]);
        let _ = ProbeLibrary::parse(&text, &p);
    }
}
