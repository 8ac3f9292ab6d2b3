//! Neuron cards in the HTML report: every unit a finding cites and the most selective of each
//! block, with its top and bottom stimuli as embedded thumbnails (prompts as text) and its d per
//! concept; and a report that still comes out, saying why, when an image has moved.

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine as _;

use crate::common::{clip_audit, root, run_with_reports, texts};

/// The typographic audit on the tiny model, with its flags copied into `dir` (so a test may
/// move one), reports into `dir/reports`.
fn audit(dir: &Path) -> std::path::PathBuf {
    let flags = dir.join("flags");
    for entry in walk(&root().join("fixtures/images/flags")) {
        let rel = entry.strip_prefix(root().join("fixtures/images/flags")).unwrap();
        std::fs::create_dir_all(flags.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&entry, flags.join(rel)).unwrap();
    }
    let set = format!("flags={}", flags.display());
    let out = run_with_reports("audits/typographic.yaml", dir, &["--set", &set, "--fail-on", "never"]);
    assert!(out.status.success(), "{}", texts(&out).1);
    dir.join("reports/typographic/latest")
}

fn walk(d: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

fn anchor(tap: &str, unit: u64) -> String {
    clip_audit::report::cards::anchor(tap, unit as usize)
}

#[test]
fn cited_and_most_selective_units_get_cards_with_thumbnails_and_prompt_texts() {
    let dir = tempfile::tempdir().unwrap();
    let latest = audit(dir.path());
    let html = std::fs::read_to_string(latest.join("report.html")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.json")).unwrap()).unwrap();
    let summary = &json["summary"];
    assert!(html.contains("<h2 id=\"cards\">Neuron cards</h2>"));
    // One card per unit: its anchor is unique on the page.
    let ids: Vec<&str> = html
        .match_indices("<article class=\"card\" id=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(ids.len(), ids.iter().collect::<BTreeSet<_>>().len(), "duplicate cards: {ids:?}");
    // Styles are in the head.
    assert!(html.find("background-image:url(data:image/jpeg").unwrap() < html.find("<body>").unwrap());
    // Every unit a finding cites has its card (the tiny model's audit raises no finding that
    // cites one: the organism's ground-truth test checks cited units).
    assert_cited_units_have_cards(&latest);
    // The most selective unit of each block has its card too.
    for b in
        summary["selectivity"]["blocks"].as_array().unwrap().iter().filter(|b| b["selective_units"].as_u64() > Some(0))
    {
        let first = summary["selectivity"]["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["tap"] == b["tap"] && u["selection"] == b["selection"] && u["modality"] == b["modality"])
            .unwrap();
        let id = anchor(first["tap"].as_str().unwrap(), first["unit"].as_u64().unwrap());
        assert!(html.contains(&format!("id=\"{id}\"")), "no card for the first unit of {b}");
    }
    // Pictures are small JPEGs written once each, drawn by class.
    let css =
        regex::Regex::new(r"\.th(\d+)\{background-image:url\(data:image/jpeg;base64,([A-Za-z0-9+/=]+)\)\}").unwrap();
    let thumbs: Vec<_> = css.captures_iter(&html).collect();
    assert!(thumbs.len() > 5, "{} thumbnails", thumbs.len());
    let uris: BTreeSet<&str> = thumbs.iter().map(|c| c.get(2).unwrap().as_str()).collect();
    assert_eq!(uris.len(), thumbs.len(), "each thumbnail once");
    let bytes = base64::engine::general_purpose::STANDARD.decode(thumbs[0].get(2).unwrap().as_str()).unwrap();
    let img = image::load_from_memory(&bytes).unwrap();
    assert!(img.width() <= 64 && img.height() <= 64 && bytes.len() < 6_000);
    assert!(html.contains("class=\"thumb th0\""));
    // The text tower's cards show the prompts that excite their unit, as text.
    let u = summary["selectivity"]["units"].as_array().unwrap().iter().find(|u| u["modality"] == "prompt").unwrap();
    let card = card_of(&html, &anchor(u["tap"].as_str().unwrap(), u["unit"].as_u64().unwrap()));
    assert!(card.contains("<span class=\"prompt\">"), "{card}");
    assert!(!card.contains("class=\"thumb"), "prompts have no picture");
    // The report stays a file of reasonable size.
    assert!(html.len() < 3_000_000, "{} bytes", html.len());
}

/// Every unit a finding cites that the selectivity summary lists has its card in the report
/// under `latest` (called by the organism's ground-truth test, whose findings cite units;
/// the tiny model's audits raise none). Returns how many cited units were checked.
pub fn assert_cited_units_have_cards(latest: &Path) -> usize {
    let html = std::fs::read_to_string(latest.join("report.html")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.json")).unwrap()).unwrap();
    let summary = &json["summary"];
    let listed: BTreeSet<(String, u64)> = summary["selectivity"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["tap"].as_str().unwrap().to_owned(), u["unit"].as_u64().unwrap()))
        .collect();
    let mut cited = 0;
    for f in summary["findings"].as_array().unwrap() {
        for u in f["evidence"]["units"].as_array().unwrap() {
            let key = (u["tap"].as_str().unwrap().to_owned(), u["unit"].as_u64().unwrap());
            if listed.contains(&key) {
                cited += 1;
                let card = card_of(&html, &anchor(&key.0, key.1));
                assert!(card.contains(f["id"].as_str().unwrap()), "the card of {key:?} does not name {}", f["id"]);
            }
        }
    }
    cited
}

/// The feature visualizations of a report made with `outputs.feature_visualization` (budget
/// `units`): that many cards show one, each beating its top dataset example, each cached in
/// the run folder; returns the cached PNGs with their modification times.
pub fn assert_feature_visualizations(
    latest: &Path,
    run: &Path,
    units: usize,
) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let html = std::fs::read_to_string(latest.join("report.html")).unwrap();
    let shown = html.matches("class=\"fv\"").count();
    assert_eq!(shown, units, "cards with a feature visualization");
    for part in html.split("class=\"fv\"").skip(1) {
        let text = &part[..part.find("</div>").unwrap()];
        let ratio: f64 = text
            .split("x the top example")
            .next()
            .and_then(|t| t.rsplit(", ").next())
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or_else(|| panic!("no ratio to the top example in {text}"));
        assert!(ratio > 1.0, "a visualization excites its unit less than its top example: {text}");
    }
    let mut pngs: Vec<_> = std::fs::read_dir(run.join("visualizations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .map(|p| {
            let t = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, t)
        })
        .collect();
    pngs.sort();
    assert_eq!(pngs.len(), units, "{pngs:?}");
    pngs
}

/// The text of one card.
fn card_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no card {id}"));
    let end = html[start..].find("</article>").map_or(html.len(), |e| start + e);
    &html[start..end]
}

#[test]
fn a_moved_image_is_named_on_its_card_and_the_report_still_comes_out() {
    let dir = tempfile::tempdir().unwrap();
    audit(dir.path());
    // Two of each country's flags move away after the run.
    for country in std::fs::read_dir(dir.path().join("flags")).unwrap().flatten() {
        for f in ["0.png", "1.png"] {
            let _ = std::fs::remove_file(country.path().join(f));
        }
    }
    let reports = dir.path().join("again");
    let out = clip_audit(&[
        "analyze",
        dir.path().join("run").to_str().unwrap(),
        "--reports",
        reports.to_str().unwrap(),
        "--fail-on",
        "never",
        "--quiet",
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", texts(&out).1);
    let html = std::fs::read_to_string(reports.join("typographic/latest/report.html")).unwrap();
    assert!(html.contains("cannot be made again: cannot read image"), "a card names the picture it could not remake");
    assert!(html.contains("class=\"thumb th0\""), "the others are still drawn");
}
