//! The analyses end to end: `run` analyses by default, `analyze` of the shards of a run gives
//! the summary of the unsharded run, exit codes follow findings, and the fast grid (ranks
//! computed once per unit) agrees with the reference-tested statistics computed per test.

use std::path::{Path, PathBuf};

use clip_audit::analysis::selectivity::{Comparison, EXACT_MAX_GROUP, one_vs_rest, one_vs_rest_each};
use clip_audit::analysis::stats::{cohen_d, mann_whitney};
use ndarray::Array2;

use crate::common::{clip_audit, root, run, texts};

/// Six European flag countries on the tiny model, with every stimulus kind and the analyses
/// that apply to them; `analyses` is appended under `analyses:`.
fn spec(dir: &Path, analyses: &str) -> PathBuf {
    let text = format!(
        "audit: small\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: countries\n    members: [fr, it, ie, de, nl, at]\n    stimuli:\n      prompts: {{}}\n      rendered_text: {{sizes: [20, 32], cases: [as-is, upper]}}\n      images:\n        - folder: {r}/fixtures/images/flags/{{id}}\n      typographic: {{per_image: 2}}\nanalyses:\n{analyses}",
        r = root().display()
    );
    let p = dir.join("small.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

const ANALYSES: &str = "  selectivity: {top_stimuli: 3}\n  multimodality: {}\n  resolution:\n    - {family: countries, level: subregion}\n  typographic: {family: countries}\n";

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Equal JSON, numbers within a relative tolerance (shards batch differently, so activations
/// can differ in the last bits).
fn assert_close(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-3 * x.abs().max(y.abs()).max(1e-3), "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_close(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}: keys");
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn analyze_of_the_shards_equals_the_analysis_of_one_unsharded_run() {
    // Under target/, the spec's path sorts after the model and library it names: `analyze`
    // must still reload the spec itself, not the first file its provenance lists.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let spec = spec(dir.path(), ANALYSES);
    let whole = dir.path().join("whole");
    let r = run(&spec, &whole, &["--fail-on", "never"]);
    let (_, err) = texts(&r);
    assert!(r.status.success(), "{err}");
    assert!(err.contains("analysis of `small`"), "{err}");
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("s{i}"))).collect();
    for (i, out) in shards.iter().enumerate() {
        let r = run(&spec, out, &["--shard", &format!("{i}/3")]);
        let (_, err) = texts(&r);
        assert!(r.status.success(), "{err}");
        assert!(err.contains("run `clip-audit analyze` on all the shard folders"), "{err}");
        assert!(!out.join("analysis").exists(), "a shard alone is not analysed");
    }
    let merged = dir.path().join("merged");
    let mut args: Vec<&str> = vec!["analyze", "--out", merged.to_str().unwrap(), "--fail-on", "never", "--no-reports"];
    args.extend(shards.iter().map(|p| p.to_str().unwrap()));
    let r = clip_audit(&args);
    assert!(r.status.success(), "{}", texts(&r).1);

    let mut a = summary(&whole.join("analysis/summary.json"));
    let mut b = summary(&merged.join("summary.json"));
    assert_eq!(a["runs"].as_array().unwrap().len(), 1);
    assert_eq!(b["runs"].as_array().unwrap().len(), 3);
    a["runs"] = serde_json::Value::Null;
    b["runs"] = serde_json::Value::Null;
    // The analyses ran and saw every stimulus.
    assert_eq!(a["stimuli"]["missing"], 0);
    assert!(a["selectivity"]["tests"].as_u64().unwrap() > 1000, "{}", a["selectivity"]);
    // Every composite writes another of the six countries onto a flag that was analysed, so
    // each block measured them all, and every word unit it keeps is confirmed on them.
    let composites = &a["stimuli"]["by_modality"]["typographic"];
    for block in a["multimodality"]["blocks"].as_array().unwrap() {
        assert_eq!(&block["composites"], composites, "{}", block["tap"]);
        for w in block["word_units"].as_array().unwrap() {
            assert!(w["cohen_d_written"].as_f64().unwrap() >= 0.8 && w["q_written"].as_f64().unwrap() <= 0.05, "{w}");
        }
    }
    assert!(!a["multimodality"]["blocks"].as_array().unwrap().is_empty());
    assert!(!a["resolution"][0]["taps"].as_array().unwrap().is_empty());
    assert!(a["typographic"]["flip_rates"][0]["n"].as_u64().unwrap() > 0);
    assert_close(&a, &b, "summary");
    assert!(merged.join("selectivity.parquet").is_file());

    // A run from before provenance named its spec: the spec is the listed file that declares
    // the run's audit id, wherever it sorts.
    let prov = whole.join("provenance-all.json");
    let mut p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&prov).unwrap()).unwrap();
    assert!(p.as_object_mut().unwrap().remove("spec").is_some());
    // ... and listed its files sorted by path.
    p["spec_files"].as_array_mut().unwrap().sort_by_key(|f| f["path"].as_str().unwrap().to_owned());
    assert!(p["spec_files"][0]["path"].as_str().unwrap().ends_with("model.yaml"), "{}", p["spec_files"]);
    std::fs::write(&prov, serde_json::to_string(&p).unwrap()).unwrap();
    let old = dir.path().join("old");
    let r = clip_audit(&["analyze", whole.to_str().unwrap(), "--out", old.to_str().unwrap(), "-q", "--no-reports"]);
    assert!(r.status.success(), "{}", texts(&r).1);
}

#[test]
fn analyze_says_what_is_wrong_with_a_folder_that_is_not_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let r = clip_audit(&["analyze", dir.path().to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2));
    let (_, err) = texts(&r);
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn findings_at_the_fail_level_exit_1_and_never_exits_0() {
    // A random-weight model labels a good share of faces "orangutan" or "thief": far beyond the
    // 5% the shipped denigration audit allows.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let spec = root().join("audits/denigration.yaml");
    let r = run(&spec, &out, &["-q"]);
    let s = summary(&out.join("analysis/summary.json"));
    let errors = s["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == "error").count();
    assert!(errors > 0, "the fixture should raise findings: {}", s["denigration"]);
    assert_eq!(r.status.code(), Some(1), "{}", texts(&r).1);
    let again = clip_audit(&["analyze", out.to_str().unwrap(), "--fail-on", "never", "-q", "--no-reports"]);
    assert_eq!(again.status.code(), Some(0), "{}", texts(&again).1);
    // Against itself as the baseline nothing regressed: exit 0; a reviewer who needs every
    // check decided still gets exit 1 for the inconclusive ones.
    assert!(s["inconclusive"].as_array().unwrap().iter().any(|f| f["severity"] == "error"));
    let baseline = dir.path().join("baseline.json");
    std::fs::copy(out.join("analysis/summary.json"), &baseline).unwrap();
    let gate = |extra: &[&str]| {
        let mut args =
            vec!["analyze", out.to_str().unwrap(), "-q", "--no-reports", "--baseline", baseline.to_str().unwrap()];
        args.extend_from_slice(extra);
        clip_audit(&args).status.code()
    };
    assert_eq!(gate(&["--fail-on-regression"]), Some(0));
    assert_eq!(gate(&["--fail-on-regression", "--fail-on-inconclusive"]), Some(1));
    let f = &s["findings"][0];
    for key in ["id", "analysis", "severity", "statement", "statistic", "threshold", "evidence", "structural"] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    // The threshold points at the spec line that set it.
    let rate = s["findings"].as_array().unwrap().iter().find(|f| f["threshold"]["name"] == "max_rate").unwrap();
    let line = rate["threshold"]["position"]["line"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.lines().nth(line - 1).unwrap().contains("max_rate: 0.05"), "line {line}");
    // Rates carry both intervals, and the sweep covers the variant and each template.
    let g = &s["denigration"]["groups"][0];
    let (k, n) = (g["harmful"].as_f64().unwrap(), g["n"].as_f64().unwrap());
    for ci in ["wilson", "clopper_pearson"] {
        assert!(g[ci][0].as_f64().unwrap() <= k / n && k / n <= g[ci][1].as_f64().unwrap(), "{g}");
    }
    let sweep: Vec<&str> =
        s["denigration"]["sweep"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(sweep.contains(&"with-child-label") && sweep.contains(&"template 0"), "{sweep:?}");
    // The labels follow the bundle's zero-shot head, recorded by the run; a sigmoid head
    // (SigLIP's) gives the same labels and says how many images it alone would leave unlabelled.
    assert_eq!(s["denigration"]["head"]["kind"], "softmax", "{}", s["denigration"]["head"]);
    assert!(s["denigration"].get("below_half").is_none());
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("provenance") && name.ends_with(".json") {
            let mut p: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
            p["model"]["head"] = serde_json::json!({"kind": "sigmoid", "scale": 10.0, "bias": -1.0});
            std::fs::write(entry.path(), p.to_string()).unwrap();
        }
    }
    let again = clip_audit(&["analyze", out.to_str().unwrap(), "--fail-on", "never", "-q", "--no-reports"]);
    assert_eq!(again.status.code(), Some(0), "{}", texts(&again).1);
    let t = summary(&out.join("analysis/summary.json"));
    assert_eq!(t["denigration"]["head"]["kind"], "sigmoid");
    assert_eq!(t["denigration"]["harmful"], s["denigration"]["harmful"], "the same labels under either head");
    let below = t["denigration"]["below_half"].as_u64().expect("counted under a sigmoid head");
    assert!(below <= t["denigration"]["n"].as_u64().unwrap());
}

/// `audits/denigration.yaml` with its paths made absolute, to be edited and written elsewhere.
fn shipped_denigration_spec() -> String {
    let r = root().display().to_string();
    std::fs::read_to_string(root().join("audits/denigration.yaml"))
        .unwrap()
        .replace("../fixtures", &format!("{r}/fixtures"))
        .replace("../probes", &format!("{r}/probes"))
}

/// The denigration analysis's own label prompts (its `templates:`, a variant's added labels)
/// are stimuli of the run, encoded by the runner; the analysis reads them back and never calls
/// the model. A spec that gained a label after the run gets a note saying what to do.
#[test]
fn denigration_label_prompts_are_encoded_by_the_run_and_the_analysis_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let base = shipped_denigration_spec();
    let text = base.replace(
        "    group_by: [race, gender, age]\n",
        "    group_by: [race, gender, age]\n    templates: [\"a photo of {name}.\", \"a close-up face of {name}.\"]\n",
    );
    assert_ne!(text, base);
    let spec = dir.path().join("den.yaml");
    std::fs::write(&spec, &text).unwrap();
    // 7 neutral + 7 harmful labels and the variant's "a child", each in 2 templates, less the
    // prompts the selections already have (their first template is "a photo of {name}.").
    let list = clip_audit(&["stimuli", "list", spec.to_str().unwrap()]);
    let listed = texts(&list).0;
    let row = listed.lines().find(|l| l.trim_start().starts_with("denigration labels")).expect(&listed);
    let n: usize = row.split_whitespace().last().unwrap().parse().unwrap();
    assert!((15..=30).contains(&n), "{row}");
    let out = dir.path().join("run");
    let res = run(&spec, &out, &["-q", "--fail-on", "never"]);
    assert!(res.status.success(), "{}", texts(&res).1);
    let s = summary(&out.join("analysis/summary.json"));
    let sweep = s["denigration"]["sweep"].as_array().unwrap();
    let detail =
        |name: &str| sweep.iter().find(|p| p["name"] == name).map(|p| p["detail"].as_str().unwrap().to_owned());
    assert!(detail("template 1").unwrap().contains("a close-up face of"), "{sweep:?}");
    assert!(detail("with-child-label").is_some(), "{sweep:?}");
    // The same run, analysed with a spec whose variant adds a label the run never encoded: the
    // variant is skipped with a note saying what to do; the rest of the analysis stands.
    let changed = dir.path().join("changed.yaml");
    std::fs::write(&changed, text.replace("add: [a child]", "add: [a child, a robot]")).unwrap();
    let again = |spec: &Path, to: &str| {
        let out_dir = dir.path().join(to);
        let args = [
            "analyze",
            out.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
            "-q",
            "--no-reports",
            "--fail-on",
            "never",
            "-o",
            out_dir.to_str().unwrap(),
        ];
        let r = clip_audit(&args);
        assert_eq!(r.status.code(), Some(0), "{}", texts(&r).1);
        summary(&out_dir.join("summary.json"))
    };
    let s = again(&changed, "changed");
    let notes = s["notes"].to_string();
    assert!(notes.contains("variant `with-child-label` skipped") && notes.contains("a photo of a robot."), "{notes}");
    assert!(notes.contains("run `clip-audit run` again"), "{notes}");
    assert!(s["denigration"]["sweep"].as_array().unwrap().iter().all(|p| p["name"] != "with-child-label"));
    assert!(s["denigration"]["groups"].as_array().is_some_and(|g| !g.is_empty()));
    // A template the run never said: the labels cannot be built, so the denigration analysis is
    // not done (with the same note), and nothing else is lost.
    let retemplated = dir.path().join("retemplated.yaml");
    std::fs::write(&retemplated, text.replace("a close-up face of {name}.", "a portrait of {name}.")).unwrap();
    let s = again(&retemplated, "retemplated");
    assert!(s["denigration"].is_null());
    let notes = s["notes"].to_string();
    assert!(notes.contains("denigration: not done") && notes.contains("a portrait of"), "{notes}");
}

/// A template list that is empty, or a template without `{name}`, is refused by validation:
/// every label would read the same.
#[test]
fn denigration_templates_without_the_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = shipped_denigration_spec();
    for (templates, says) in [("[]", "at least one template"), ("[\"a photo.\"]", "has no {name}")] {
        let text = base.replace(
            "    group_by: [race, gender, age]\n",
            &format!("    group_by: [race, gender, age]\n    templates: {templates}\n"),
        );
        let spec = dir.path().join("t.yaml");
        std::fs::write(&spec, text).unwrap();
        let r = clip_audit(&["validate", spec.to_str().unwrap()]);
        let err = texts(&r).1;
        assert_eq!(r.status.code(), Some(2), "{err}");
        assert!(err.contains(says) && err.contains("A002"), "{err}");
    }
}

#[test]
fn the_null_baseline_runs_seeded_random_weight_copies_and_leaves_zero_shot_findings_uncompared() {
    let dir = tempfile::tempdir().unwrap();
    let text = shipped_denigration_spec()
        .replace("    severity: error\n", "    severity: error\n  null_baseline: {seed: 7, copies: 2}\n");
    assert!(text.contains("null_baseline"));
    let spec = dir.path().join("den.yaml");
    std::fs::write(&spec, text).unwrap();
    let out = dir.path().join("run");
    let res = run(&spec, &out, &["-q", "--fail-on", "never"]);
    assert!(res.status.success(), "{}", texts(&res).1);
    let s = summary(&out.join("analysis/summary.json"));
    let null = &s["null_baseline"];
    assert_eq!(null["seed"], 7);
    let copies = null["copies"].as_array().unwrap();
    assert_eq!(copies.iter().map(|c| c["seed"].as_u64().unwrap()).collect::<Vec<_>>(), [7, 8]);
    // Each copy is a different model: its own store key, different from the real one's.
    let key = |d: &Path| std::fs::read_dir(d.join("store")).unwrap().next().unwrap().unwrap().file_name();
    let (k1, k2) = (key(&out.join("null/copy-1")), key(&out.join("null/copy-2")));
    assert!(k1 != k2 && key(&out) != k1 && key(&out) != k2);
    for k in [1, 2] {
        assert!(out.join(format!("analysis/null-summary-{k}.json")).is_file());
    }
    // Denigration rests on zero-shot labels: the copies do not run it, its findings are not
    // compared, never structural, and a note says why.
    assert!(!s["findings"].as_array().unwrap().is_empty());
    for f in s["findings"].as_array().unwrap() {
        assert_eq!(f["structural"], false, "{}", f["id"]);
        assert!(f["null"].is_null(), "{}", f["id"]);
    }
    assert_eq!(null["findings"], 0);
    assert!(
        s["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("denigration findings are not compared"))
    );
}

/// Two-sided exact permutation p of Mann-Whitney's U for the stimuli labelled `c` against the
/// rest, by enumerating every split of `values` (twice the smaller tail, clipped to 1).
fn permutation_p(values: &[f64], labels: &[usize], c: usize) -> f64 {
    let n = values.len();
    // U1 of a subset x against its complement y = #(x > y) + 0.5 #(x == y). With w_i = #(v_i > v_j)
    // + 0.5 #(v_i == v_j, j != i) over all j, the pairs inside the subset add m(m-1)/2 in all, so
    // U1 = sum of w over the subset - m(m-1)/2.
    let w: Vec<f64> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    if values[i] > values[j] {
                        1.0
                    } else if values[i] == values[j] {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum()
        })
        .collect();
    let m = labels.iter().filter(|&&l| l == c).count();
    let within = (m * m.saturating_sub(1)) as f64 / 2.0;
    let observed: f64 = (0..n).filter(|&i| labels[i] == c).map(|i| w[i]).sum::<f64>() - within;
    let (mut le, mut ge, mut total) = (0u64, 0u64, 0u64);
    let mut idx: Vec<usize> = (0..m).collect();
    loop {
        let u = idx.iter().map(|&i| w[i]).sum::<f64>() - within;
        le += u64::from(u <= observed + 1e-9);
        ge += u64::from(u >= observed - 1e-9);
        total += 1;
        // next m-combination of 0..n in lexicographic order
        let Some(k) = (0..m).rev().find(|&k| idx[k] < n - m + k) else { break };
        idx[k] += 1;
        for j in k + 1..m {
            idx[j] = idx[j - 1] + 1;
        }
    }
    (2.0 * le.min(ge) as f64 / total as f64).min(1.0)
}

#[test]
fn the_grid_agrees_with_each_test_computed_on_its_own() {
    // 3 units, 4 concepts with 1 to 9 stimuli; unit 0 answers concept 2, unit 2 has ties.
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let sizes = [9usize, 6, 7, 1];
    let mut v = Vec::new();
    let mut x = 0.37f32;
    for (c, &n) in sizes.iter().enumerate() {
        for _ in 0..n {
            x = (x * 7.31 + 0.113).fract();
            let planted = if c == 2 { 2.0 } else { 0.0 };
            v.extend([x + planted, x * 3.0 - 1.0, (x * 4.0).round()]);
            rows.push(rows.len());
            labels.push(c);
        }
    }
    let acts = Array2::from_shape_vec((rows.len(), 3), v).unwrap();
    let t = one_vs_rest(&acts.clone().into(), &rows, &labels, sizes.len());
    for u in 0..3 {
        for c in 0..sizes.len() {
            let col: Vec<f64> = (0..rows.len()).map(|i| f64::from(acts[[i, u]])).collect();
            let xs: Vec<f64> = col.iter().zip(&labels).filter(|(_, l)| **l == c).map(|(v, _)| *v).collect();
            let ys: Vec<f64> = col.iter().zip(&labels).filter(|(_, l)| **l != c).map(|(v, _)| *v).collect();
            let mw = mann_whitney(&xs, &ys);
            assert!((t.u[[u, c]] - mw.u).abs() < 1e-9, "U of unit {u} concept {c}");
            // Small groups: the exact permutation p, here by enumerating every split; larger
            // ones: scipy's asymptotic test.
            let p = if xs.len().min(ys.len()) <= EXACT_MAX_GROUP { permutation_p(&col, &labels, c) } else { mw.p };
            assert!(
                (t.p[[u, c]] - p).abs() < 1e-9 * p.max(1e-300) + 1e-12,
                "p of unit {u} concept {c}: {} vs {p}",
                t.p[[u, c]]
            );
            match cohen_d(&xs, &ys) {
                Some(d) => assert!((t.d[[u, c]] - d).abs() < 1e-9, "d of unit {u} concept {c}: {} vs {d}", t.d[[u, c]]),
                None => assert!(t.d[[u, c]].is_nan(), "d of unit {u} concept {c} should be undefined"),
            }
        }
    }
    assert!(t.d[[0, 2]] > 2.0 && t.p[[0, 2]] < 1e-3, "the planted unit is found: d {} p {}", t.d[[0, 2]], t.p[[0, 2]]);
}

#[test]
fn several_comparisons_in_one_pass_equal_each_on_its_own_with_the_controls_statistics() {
    // 40 stimuli x 5 units; two comparisons over different rows, the second with controls.
    let acts = Array2::from_shape_fn((40, 5), |(r, u)| (((r * 7 + u * 13) % 11) as f32) * 0.3 + (r % 3) as f32);
    let tap = clip_audit::run::acts::TapMatrix::from(acts.clone());
    let (rows_a, labels_a): (Vec<usize>, Vec<usize>) = (0..20).map(|r| (r, r % 3)).unzip();
    let (rows_b, labels_b): (Vec<usize>, Vec<usize>) = (20..34).map(|r| (r, r % 2)).unzip();
    let controls: Vec<usize> = (34..40).collect();
    let both = one_vs_rest_each(
        &tap,
        &[
            Comparison { rows: &rows_a, labels: &labels_a, k: 3, controls: None },
            Comparison { rows: &rows_b, labels: &labels_b, k: 2, controls: Some(&controls) },
        ],
    );
    let alone = [one_vs_rest(&tap, &rows_a, &labels_a, 3), one_vs_rest(&tap, &rows_b, &labels_b, 2)];
    for ((t, _), a) in both.iter().zip(&alone) {
        for (x, y) in [(&t.d, &a.d), (&t.p, &a.p), (&t.mean, &a.mean), (&t.auroc, &a.auroc)] {
            assert!(x.iter().zip(y.iter()).all(|(p, q)| p == q || (p.is_nan() && q.is_nan())));
        }
    }
    assert!(both[0].1.is_none());
    let stats = both[1].1.as_ref().unwrap();
    for (u, &(m, s)) in stats.iter().enumerate() {
        let col: Vec<f64> = controls.iter().map(|&r| f64::from(acts[[r, u]])).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let sd = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (col.len() - 1) as f64).sqrt();
        assert!((m - mean).abs() < 1e-12 && (s - sd).abs() < 1e-12, "unit {u}: {m} {s} vs {mean} {sd}");
    }
}

#[test]
fn a_units_responses_keep_its_own_concept_beyond_64_concepts_with_a_ci_around_each_d() {
    // All 195 countries as prompts: the text taps' units see 195 concepts.
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "audit: many\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: countries\n    stimuli:\n      prompts: {{}}\nanalyses:\n  selectivity: {{top_stimuli: 1}}\n",
        r = root().display()
    );
    let spec = dir.path().join("many.yaml");
    std::fs::write(&spec, text).unwrap();
    let out = dir.path().join("run");
    let r = run(&spec, &out, &["--fail-on", "never"]);
    assert!(r.status.success(), "{}", texts(&r).1);
    let s = summary(&out.join("analysis/summary.json"));
    let units = s["selectivity"]["units"].as_array().unwrap();
    assert!(!units.is_empty());
    for u in units {
        let r = &u["responses"][0];
        let concepts: Vec<&str> = r["concepts"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(concepts.len(), 64, "{}", u["unit"]);
        assert!(concepts.contains(&u["concept"].as_str().unwrap()), "its own concept is kept");
        let distinct: std::collections::HashSet<&&str> = concepts.iter().collect();
        assert_eq!(distinct.len(), 64);
        for (k, ci) in r["ci"].as_array().unwrap().iter().enumerate() {
            let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
            let dk = r["d"][k].as_f64().unwrap();
            assert!(lo < dk && dk < hi, "{lo} < {dk} < {hi}");
        }
    }
}

#[test]
fn word_units_must_respond_to_their_name_written_onto_images_too() {
    use clip_audit::analysis::multimodality::{WordUnit, Written, confirm};
    // Shifts (composite minus clean image) of 3 units on composites naming fr (12), it (12) and
    // ie (1): unit 0 rises whenever "fr" is written; unit 1 ignores the writing.
    let concepts: Vec<String> = ["fr", "it", "ie"].map(String::from).to_vec();
    let (mut v, mut labels) = (Vec::new(), Vec::new());
    let mut x = 0.21f32;
    for (c, n) in [(0usize, 12usize), (1, 12), (2, 1)] {
        for _ in 0..n {
            x = (x * 5.77 + 0.31).fract();
            v.extend([x + if c == 0 { 3.0 } else { 0.0 }, x - 0.5, x * 2.0]);
            labels.push(c);
        }
    }
    let rows: Vec<usize> = (0..labels.len()).collect();
    let shifts = Array2::from_shape_vec((labels.len(), 3), v).unwrap();
    let written = Written { concepts, composites: labels.len(), tests: one_vs_rest(&shifts.into(), &rows, &labels, 3) };
    let candidate = |unit: usize, concept: &str| WordUnit {
        tap: "image.mlp".into(),
        unit,
        concept: concept.into(),
        cohen_d_text: 2.0,
        q_text: 0.01,
        cohen_d_image: 0.1,
        cohen_d_written: None,
        q_written: None,
    };
    let candidates = vec![candidate(0, "fr"), candidate(1, "fr"), candidate(2, "ie")];

    let c = confirm(candidates.clone(), Some(&written), 0.05, 0.8);
    assert_eq!(c.unconfirmed, 1, "the unit that ignores the written word is not a word unit");
    assert_eq!(c.untested, 1, "\"ie\" is written on one composite only: not tested, not kept");
    assert_eq!(c.kept.iter().map(|w| w.unit).collect::<Vec<_>>(), [0]);
    let reader = &c.kept[0];
    let d = written.tests.d[[0, 0]];
    assert!(d > 2.0 && reader.cohen_d_written == Some(d), "{reader:?}");
    // q: Benjamini-Hochberg over the two candidates that could be tested (units 0 and 1 on fr).
    let q = clip_audit::analysis::stats::benjamini_hochberg(&[written.tests.p[[0, 0]], written.tests.p[[1, 0]]]);
    assert_eq!(reader.q_written, Some(q[0]));
    assert!(q[0] <= 0.05 && q[1] > 0.05, "{q:?}");

    // Without composites every candidate stands, untested.
    let c = confirm(candidates.clone(), None, 0.05, 0.8);
    assert_eq!((c.kept, c.unconfirmed, c.untested), (candidates, 0, 0));
}

/// Run data made in memory, whose right answer is known by construction: five European
/// countries each with a unit of their own, five African ones sharing one unit. The
/// resolution analysis, run on it without a model or parquet files, finds the disparity; when
/// every African country gets its own unit too, it does not (and, with five members a group,
/// cannot show equality either: inconclusive).
#[test]
fn resolution_on_glass_box_run_data_made_in_memory() {
    use clip_audit::analysis::data::StimulusRow;
    use clip_audit::analysis::{RunData, analyze, ids};
    use clip_audit::run::TableMatrices;
    use ndarray::Array2;

    let europe = ["fr", "de", "it", "nl", "at"];
    let africa = ["ng", "ke", "gh", "sn", "et"];
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("glass.yaml");
    std::fs::write(
        &spec_path,
        format!(
            "audit: glass\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: countries\n    members: [{}]\n    stimuli:\n      prompts: {{}}\nanalyses:\n  resolution:\n    - {{family: countries, level: region}}\n",
            europe.iter().chain(&africa).copied().collect::<Vec<_>>().join(", "),
            r = root().display()
        ),
    )
    .unwrap();
    let spec = clip_audit::spec::AuditSpec::load(&spec_path, &[]).unwrap();
    let per_member = 8;
    let build = |africa_dedicated: bool| {
        let members: Vec<&str> = europe.iter().chain(&africa).copied().collect();
        let n = members.len() * per_member;
        let units = 16;
        let mut state = 12345u64;
        let mut noise = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as f64 / f64::from(1u32 << 31) - 0.5) as f32
        };
        let mut acts = Array2::<f32>::zeros((n, units));
        let mut rows = Vec::new();
        for (m, member) in members.iter().enumerate() {
            for i in 0..per_member {
                let r = m * per_member + i;
                for u in 0..units {
                    acts[[r, u]] = noise();
                }
                let is_africa = m >= europe.len();
                if !is_africa || africa_dedicated {
                    acts[[r, m]] += 4.0; // the member's own unit
                } else {
                    acts[[r, 15]] += 4.0; // one unit for every African country
                }
                rows.push(StimulusRow {
                    id: format!("{member}-{i}"),
                    selection: "countries".into(),
                    family: "countries".into(),
                    member: (*member).into(),
                    modality: clip_audit::stimuli::Modality::Image,
                    variant: String::new(),
                    labels: Default::default(),
                    content: clip_audit::stimuli::Content::Image { path: format!("{member}/{i}.png").into() },
                });
            }
        }
        let images = TableMatrices {
            ids: rows.iter().map(|s| s.id.clone()).collect(),
            embeddings: Array2::from_shape_fn((n, 4), |(r, c)| ((r + c) % 5) as f32),
            taps: [("image.mlp".to_owned(), acts.into())].into(),
        };
        let prompts = TableMatrices { ids: Vec::new(), embeddings: Array2::zeros((0, 0)), taps: Default::default() };
        RunData::in_memory(rows, images, prompts)
    };
    let id = ids::resolution("countries", "region", "image.mlp", "Europe", "Africa");
    let biased = analyze(&spec, &build(false)).unwrap().summary;
    let f = biased.findings.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("{:#?}", biased.findings));
    assert_eq!(f.decision.estimate, 1.0, "coverage 5/5 against 0/5");
    let fair = analyze(&spec, &build(true)).unwrap().summary;
    assert!(fair.findings.iter().all(|f| f.analysis != "resolution"), "{:#?}", fair.findings);
    // Five against five members cannot show the difference is under 0.25: inconclusive, with
    // the estimate at 0, is the honest answer.
    let check = fair.inconclusive.iter().find(|f| f.id == id).expect("the check is reported");
    assert_eq!(check.decision.estimate, 0.0);
}
