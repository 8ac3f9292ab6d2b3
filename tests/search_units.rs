//! `search` finds units from words: on a glass-box bundle whose unit was planted to read the
//! word "red" (its weights are the mean rendering of "red" minus the mean rendering of the
//! background words), that unit ranks first for "red", and not for another word.

use clip_audit::model::manifest::ModelManifest;
use clip_audit::model::preprocess::preprocess;
use clip_audit::model::synthetic::write_matmul_bundle;
use clip_audit::stimuli::words;

use crate::common::{clip_audit, texts};

const SIDE: u32 = 64;
const UNITS: usize = 48;
const PLANTED: usize = 17;

/// The mean preprocessed rendering of `words`.
fn mean_rendering(m: &ModelManifest, list: &[&str]) -> Vec<f32> {
    let all: Vec<Vec<f32>> =
        list.iter().flat_map(|w| words::renderings(w, SIDE)).map(|img| preprocess(&img, &m.preprocess)).collect();
    (0..all[0].len()).map(|i| all.iter().map(|v| v[i]).sum::<f32>() / all.len() as f32).collect()
}

fn search(bundle: &std::path::Path, query: &str) -> serde_json::Value {
    let out = clip_audit(&[
        "search",
        query,
        "--model",
        bundle.to_str().unwrap(),
        "--tap",
        "image.relu",
        "--top",
        "5",
        "--json",
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", texts(&out).1);
    serde_json::from_str(&texts(&out).0).unwrap()
}

#[test]
fn a_unit_planted_to_read_a_word_ranks_first_for_that_word() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("glass-box");
    write_matmul_bundle(&bundle, SIDE, UNITS, None).unwrap();
    let m = ModelManifest::load(&bundle).unwrap();
    let inputs = (3 * SIDE * SIDE) as usize;
    // Small random weights everywhere (seeded), then the planted column.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut w: Vec<f32> = (0..inputs * UNITS)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.05
        })
        .collect();
    let red = mean_rendering(&m, &["red"]);
    let background = mean_rendering(&m, &words::background("red"));
    for i in 0..inputs {
        w[i * UNITS + PLANTED] = red[i] - background[i];
    }
    write_matmul_bundle(&bundle, SIDE, UNITS, Some(&w)).unwrap();

    let hits = search(&bundle, "red");
    assert_eq!(hits["encoder"], "image");
    assert_eq!(hits["query_items"], 6, "three sizes, as written and upper case");
    let first = &hits["units"][0];
    assert_eq!(first["unit"], PLANTED, "{hits}");
    let d = first["cohen_d"].as_f64().unwrap();
    assert!(d > 1.0 && first["ci"][0].as_f64().unwrap() > 0.0, "{first}");
    // With a report, the unit links to its card there (when the page has one).
    let page = dir.path().join("report.html");
    std::fs::write(&page, format!("<article class=\"card\" id=\"unit-image_relu-{PLANTED}\"></article>")).unwrap();
    let out = clip_audit(&[
        "search",
        "red",
        "--model",
        bundle.to_str().unwrap(),
        "--tap",
        "image.relu",
        "--top",
        "2",
        "--report",
        dir.path().to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let (table, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    let first = table.lines().find(|l| l.trim_start().starts_with("1 ")).unwrap();
    assert!(first.ends_with(&format!("report.html#unit-image_relu-{PLANTED}")), "{table}");
    let second = table.lines().find(|l| l.trim_start().starts_with("2 ")).unwrap();
    assert!(!second.contains("report.html#"), "only units with a card link: {table}");
    // Another word is not what the planted unit reads.
    let other = search(&bundle, "zebra");
    assert_ne!(other["units"][0]["unit"], PLANTED, "{other}");
}

#[test]
fn a_text_tap_is_searched_with_prompts_and_an_empty_query_is_refused() {
    let root = crate::common::root();
    let tiny = root.join("fixtures/models/tiny-clip");
    let out = clip_audit(&[
        "search",
        "France",
        "--model",
        tiny.to_str().unwrap(),
        "--tap",
        "text.block1.mlp",
        "--top",
        "3",
        "--device",
        "cpu",
    ]);
    let (stdout, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        stdout.contains("3 prompts of the query")
            && stdout.lines().filter(|l| l.trim_start().starts_with(char::is_numeric)).count() == 3,
        "{stdout}"
    );
    let out = clip_audit(&["search", "  ", "--model", tiny.to_str().unwrap(), "--tap", "text.block1.mlp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("the query is empty"));
}
