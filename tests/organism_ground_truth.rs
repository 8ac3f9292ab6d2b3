//! The demo audit finds every bias injected into the model organism, and nothing where none
//! was injected: fixtures/models/organism/ground_truth.yaml is the answer key, the control
//! organism (same seed, association switched off) and the null baseline the negatives.

use std::collections::BTreeSet;
use std::path::Path;

use clip_audit::analysis::slug;

use crate::common::{clip_audit, root, texts};

/// The summary of the demo audit on `model`, and those of its five null copies (an array);
/// reports go to `out/reports` (checked for neuron cards).
fn audit(model: &str, out: &Path) -> (serde_json::Value, serde_json::Value) {
    let reports = out.join("reports");
    let r = clip_audit(&[
        "run",
        "audits/demo.yaml",
        "--set",
        &format!("model=../fixtures/models/{model}"),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
        "--fail-on",
        "never",
        "--reports",
        reports.to_str().unwrap(),
        // The demo visualizes every card; six keep this debug-build test quick.
        "--visualize-units",
        "6",
    ]);
    assert!(r.status.success(), "{}", texts(&r).1);
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("analysis").join(f)).unwrap()).unwrap()
    };
    let copies: Vec<serde_json::Value> = (1..=5).map(|k| read(&format!("null-summary-{k}.json"))).collect();
    (read("summary.json"), serde_json::Value::Array(copies))
}

fn ids(summary: &serde_json::Value, min_severity: &[&str]) -> BTreeSet<String> {
    summary["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| min_severity.contains(&f["severity"].as_str().unwrap()))
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_demo_audit_recovers_the_injected_biases_and_nothing_else() {
    let truth: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join("fixtures/models/organism/ground_truth.yaml")).unwrap(),
    )
    .unwrap();
    let bias = |kind: &str| truth["biases"].as_array().unwrap().iter().find(|b| b["kind"] == kind).unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let (biased, null) = audit("organism", &dir.path().join("biased"));
    // Every unit the findings cite has its neuron card in the HTML report.
    let cited = crate::report_cards::assert_cited_units_have_cards(&dir.path().join("biased/reports/demo/latest"));
    assert!(cited > 0, "the organism's findings cite units");
    // The demo's budget of feature visualizations, each beating its top example, cached: a
    // second analysis of the run reads them back instead of making them again.
    let latest = dir.path().join("biased/reports/demo/latest");
    let made = crate::report_cards::assert_feature_visualizations(&latest, &dir.path().join("biased"), 6);
    let again = clip_audit(&[
        "analyze",
        dir.path().join("biased").to_str().unwrap(),
        "--quiet",
        "--device",
        "cpu",
        "--fail-on",
        "never",
        "--reports",
        dir.path().join("biased/reports").to_str().unwrap(),
        "--visualize-units",
        "6",
    ]);
    assert!(again.status.success(), "{}", texts(&again).1);
    assert_eq!(crate::report_cards::assert_feature_visualizations(&latest, &dir.path().join("biased"), 6), made);
    // And a browser renders them: the cards' feature visualizations are in its DOM.
    match crate::report_formats::which_chromium() {
        Err(()) => eprintln!("SKIPPED: chromium is not installed (make test-tools)"),
        Ok(chromium) => {
            let dom = std::process::Command::new(chromium)
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
                .arg(format!("file://{}", latest.join("report.html").display()))
                .output()
                .unwrap();
            let dom = String::from_utf8_lossy(&dom.stdout);
            assert_eq!(dom.matches("class=\"fv\"").count(), 6, "feature visualizations in the rendered DOM");
            assert!(dom.contains("Harmful rate per member on the map"), "the denigration map");
        }
    }
    let (control, control_null) = audit("organism-control", &dir.path().join("control"));
    let errors = ids(&biased, &["error", "warning"]);
    let control_errors = ids(&control, &["error", "warning"]);

    // 1. Resolution: at the tap the ground truth names, the region captioned by region name only
    //    is covered less than every region whose countries were named, and the disparity is a
    //    finding for each named region with as many countries as it (Europe: 10 against
    //    Africa's 10, the two regions). A region of six countries can fall short of FDR
    //    5% (Asia, 3 of 6 covered against 0 of 10: Fisher q 0.054), so for those the test asks
    //    for the ordering and not for the finding.
    let res = bias("resolution");
    let rates = res["injected"]["region_only_caption_rate"].as_object().unwrap();
    let lumped = rates.iter().max_by(|a, b| a.1.as_f64().unwrap().total_cmp(&b.1.as_f64().unwrap())).unwrap().0;
    let countries = |region: &str| truth["world"]["countries"]["by_region"][region].as_array().unwrap().len();
    let tap = slug(res["tap"].as_str().unwrap());
    let coverage = |summary: &serde_json::Value, region: &str| -> f64 {
        let family = summary["resolution"].as_array().unwrap().iter().find(|r| r["family"] == "countries").unwrap();
        let t = family["taps"].as_array().unwrap().iter().find(|t| t["tap"] == res["tap"]).unwrap();
        t["groups"].as_array().unwrap().iter().find(|g| g["group"] == region).unwrap()["coverage"].as_f64().unwrap()
    };
    let mut found = 0;
    for named in truth["controls"]["resolution"]["regions_named"].as_array().unwrap() {
        let named = named.as_str().unwrap();
        for (name, summary) in [("biased", &biased), ("control", &control)] {
            let (c, l) = (coverage(summary, named), coverage(summary, lumped));
            assert!(c > l, "{name}: {named} covered {c}, not more than {lumped} ({l})");
        }
        if countries(named) >= countries(lumped) {
            let id = format!("resolution/countries/region/{tap}/{}-vs-{}", slug(named), slug(lumped));
            assert!(errors.contains(&id), "missing {id}: {errors:?}");
            // The control learned the same disparity, less starkly (Europe 10 of 10 against
            // Africa 2 of 10 at image.mlp, where the biased organism has 0 of 10): its 95%
            // interval lies beyond the limit, but after Benjamini-Hochberg over the tap's six
            // pairs the data cannot decide. Failed or inconclusive, never passed, and its
            // interval must exclude the limit.
            if !control_errors.contains(&id) {
                let check = control["inconclusive"].as_array().unwrap().iter().find(|f| f["id"] == id.as_str());
                let d = &check.unwrap_or_else(|| panic!("control: {id} neither failed nor inconclusive"))["decision"];
                assert!(d["ci"][0].as_f64().unwrap() > d["limit"].as_f64().unwrap(), "control: {id}: {d}");
            }
            found += 1;
        }
    }
    assert!(found > 0, "no named region as large as {lumped}: nothing to find");
    // ... and no disparity between two named regions.
    for id in errors.iter().filter(|i| i.starts_with("resolution/")) {
        assert!(id.ends_with(&format!("-vs-{}", slug(lumped))), "a disparity between named regions: {id}");
    }

    // 2. The stereotype association: in the biased organism, not in the control, and no other
    //    region or attribute.
    let assoc = bias("association");
    // The demo measures associations on the countries' people (its `people` selection).
    let id = format!(
        "associations/people/{}/{}",
        slug(assoc["group"]["region"].as_str().unwrap()),
        slug(assoc["attribute"]["id"].as_str().unwrap())
    );
    assert!(errors.contains(&id), "missing {id}: {errors:?}");
    assert!(!control_errors.contains(&id), "the control organism has no association, yet: {id}");
    let others: Vec<&String> = errors.iter().filter(|i| i.starts_with("associations/") && **i != id).collect();
    assert!(others.is_empty(), "associations on controls: {others:?}");
    assert!(!control_errors.iter().any(|i| i.starts_with("associations/")), "control: {control_errors:?}");

    // 3. The typographic shortcut, injected in both organisms.
    let typo = format!("typographic/{}/flip-rate", slug(bias("typographic")["family"].as_str().unwrap()));
    assert!(errors.contains(&typo) && control_errors.contains(&typo), "missing {typo}");

    //    The organisms learned to read: at the tap the ground truth names, units respond to
    //    country names written on a blank canvas and onto other countries' images, not to
    //    the countries' images (info-level word-unit findings, confirmed on composites).
    let word_units = format!("multimodality/{tap}/countries/word-units");
    for (name, summary) in [("biased", &biased), ("control", &control)] {
        assert!(ids(summary, &["info"]).contains(&word_units), "{name}: missing {word_units}");
        let block = summary["multimodality"]["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["tap"] == res["tap"] && b["selection"] == "countries")
            .unwrap();
        assert!(block["composites"].as_u64().unwrap() > 0, "{name}: no composites measured");
        for w in block["word_units"].as_array().unwrap() {
            assert!(w["cohen_d_written"].as_f64().is_some_and(|d| d >= 0.8), "{name}: unconfirmed {w}");
        }
    }

    // Nothing else at warning or error level.
    let expected: Vec<&str> = vec!["resolution/", "associations/", "typographic/"];
    for i in &errors {
        assert!(expected.iter().any(|p| i.starts_with(p)), "unexpected finding {i}");
    }

    // The null baseline (every weight re-drawn) raises nothing at all: not even word units,
    // whose glyph-matching candidates fail to respond to the names written onto images.
    for (name, copies, s) in [("biased", &null, &biased), ("control", &control_null, &control)] {
        for n in copies.as_array().unwrap() {
            let all = ids(n, &["error", "warning", "info"]);
            assert!(all.is_empty(), "{name} null findings: {all:?}");
        }
        assert_eq!(s["null_baseline"]["findings"], 0, "{name}");
        assert_eq!(s["null_baseline"]["copies"].as_array().unwrap().len(), 5, "{name}");
        // Every compared finding exceeds all five copies' statistics: empirical p = 1/6.
        for f in s["findings"].as_array().unwrap() {
            assert_eq!(f["structural"], false, "{name}: {}", f["id"]);
            if !["denigration", "typographic"].contains(&f["analysis"].as_str().unwrap()) {
                assert_eq!(f["null"]["values"].as_array().unwrap().len(), 5, "{name}: {}", f["id"]);
                assert_eq!(f["null"]["exceeded"], 5, "{name}: {}", f["id"]);
            }
        }
    }
    // Every analysis's part of the summary follows the committed report schema.
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/schema/report.schema.json")).unwrap()).unwrap();
    for s in [&biased, &control].into_iter().chain(null.as_array().unwrap()) {
        let mut out = Vec::new();
        crate::report_formats::violations(s, &schema["$defs"]["Summary"], &schema, "summary", &mut out);
        assert!(out.is_empty(), "{}", out.join("\n"));
    }
    // The ablation re-measured the typographic finding's units. Before and after are the same
    // composites, so the change's interval is paired: far narrower than the excess's own
    // interval (treating them as independent made it wider, sqrt(2) times at equal widths).
    let ab = biased["ablation"]["results"].as_array().unwrap();
    assert!(!ab.is_empty() && ab.iter().all(|r| r["finding"] == typo.as_str()), "{ab:?}");
    let finding = biased["findings"].as_array().unwrap().iter().find(|f| f["id"] == typo.as_str()).unwrap();
    let half = |ci: &serde_json::Value| (ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap()) / 2.0;
    for r in ab {
        assert!(half(&r["ci"]) < half(&finding["statistic"]["ci"]) / 2.0, "not paired: {r} vs {finding}");
        assert!(r["ci"][0].as_f64().unwrap() <= r["change"].as_f64().unwrap(), "{r}");
    }
}
