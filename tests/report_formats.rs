//! Reports: every format for an audit on the tiny model (snapshots with timestamps and paths
//! filtered), untrusted strings escaped, the report folder and its `latest` link, and the
//! baseline diff with a planted regression.

use std::path::{Path, PathBuf};

use crate::common::{clip_audit, root, texts};

/// Runs the denigration audit on the tiny model with reports into `dir/reports`; `fairface`
/// overrides the manifest folder.
fn audit(dir: &Path, fairface: Option<&Path>, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let out = dir.join("run");
    let reports = dir.join("reports");
    let set = fairface.map(|f| format!("fairface={}", f.display()));
    let mut args = vec![
        "run",
        "audits/denigration.yaml",
        "--out",
        out.to_str().unwrap(),
        "--reports",
        reports.to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
    ];
    if let Some(s) = &set {
        args.extend(["--set", s.as_str()]);
    }
    args.extend_from_slice(extra);
    (clip_audit(&args), reports.join("denigration").join("latest"))
}

fn filtered(text: &str, dir: &Path) -> String {
    let re = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d[:-]\d\d[:-]\d\dZ").unwrap();
    let t = text.replace(&dir.display().to_string(), "[TMP]").replace(&root().display().to_string(), "[ROOT]");
    re.replace_all(&t, "[TIME]").replace(clip_audit::VERSION, "[VERSION]")
}

#[test]
fn every_format_is_written_whole_into_a_timestamped_folder_with_a_latest_link() {
    let dir = tempfile::tempdir().unwrap();
    let (r, latest) = audit(dir.path(), None, &[]);
    assert_eq!(r.status.code(), Some(1), "the tiny model has error findings: {}", texts(&r).1);
    let target = std::fs::read_link(&latest).unwrap();
    assert!(target.to_str().unwrap().ends_with('Z'), "{target:?}");
    for f in ["report.md", "report.html", "report.json", "junit.xml", "report.sarif"] {
        assert!(latest.join(f).is_file(), "{f}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&latest)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let read = |f: &str| filtered(&std::fs::read_to_string(latest.join(f)).unwrap(), dir.path());
    insta::assert_snapshot!("report_md", read("report.md"));
    insta::assert_snapshot!("report_junit", read("junit.xml"));
    insta::assert_snapshot!("report_sarif", read("report.sarif"));
    insta::assert_snapshot!("report_html", read("report.html"));

    // The JSON report carries the summary and its version; findings agree across formats.
    let json: serde_json::Value = serde_json::from_str(&read("report.json")).unwrap();
    assert_eq!(json["format_version"], 1);
    let findings = json["summary"]["findings"].as_array().unwrap();
    let errors = findings.iter().filter(|f| f["severity"] == "error").count();
    let junit = read("junit.xml");
    assert_eq!(junit.matches("<failure ").count(), errors);
    let sarif: serde_json::Value = serde_json::from_str(&read("report.sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    // Located at the line that set the threshold.
    let spec = std::fs::read_to_string(root().join("audits/denigration.yaml")).unwrap();
    for res in results {
        let line = res["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap() as usize;
        let name = res["properties"]["threshold"]["name"].as_str().unwrap();
        assert!(spec.lines().nth(line - 1).unwrap().contains(name), "{name} at line {line}");
    }
}

#[test]
fn untrusted_strings_are_escaped_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    // A FairFace-format manifest whose label values carry markup.
    let ff = dir.path().join("ff");
    std::fs::create_dir_all(&ff).unwrap();
    let src = root().join("fixtures/fairface-standin");
    let csv = std::fs::read_to_string(src.join("fairface_label_val.csv")).unwrap();
    let evil = "<script>alert(1)</script>|x&\"'";
    std::fs::write(ff.join("fairface_label_val.csv"), csv.replace(",Male,", &format!(",{evil},"))).unwrap();
    std::os::unix::fs::symlink(src.join("val"), ff.join("val")).unwrap();
    let (r, latest) = audit(dir.path(), Some(&ff), &["--fail-on", "never"]);
    assert!(r.status.success(), "{}", texts(&r).1);
    let html = std::fs::read_to_string(latest.join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;|x&amp;&quot;&#39;"), "the label is shown, escaped");
    assert!(!html.contains("<script>"), "no markup gets through");
    let md = std::fs::read_to_string(latest.join("report.md")).unwrap();
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\|x&amp;"), "markdown escapes markup and pipes");
    assert!(!md.contains("<script>"));
    let junit = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
    assert!(!junit.contains("<script>") && junit.contains("&lt;script&gt;"));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.sarif")).unwrap()).unwrap();
    assert!(sarif["runs"][0]["results"].is_array(), "SARIF stays valid JSON");
}

#[test]
fn diff_reports_new_worsened_and_resolved_findings_and_fails_only_on_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let (_, latest) = audit(dir.path(), None, &["--fail-on", "never"]);
    let old_path = latest.join("report.json");
    let old: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&old_path).unwrap()).unwrap();
    let same = clip_audit(&["diff", old_path.to_str().unwrap(), old_path.to_str().unwrap(), "--fail-on-regression"]);
    assert_eq!(same.status.code(), Some(0), "{}", texts(&same).0);
    assert!(texts(&same).0.starts_with("0 new, 0 worsened, 0 resolved"), "{}", texts(&same).0);

    // Plant: drop the first finding (resolved), worsen the second, add a new one.
    let mut new = old.clone();
    let findings = new["summary"]["findings"].as_array_mut().unwrap();
    assert!(findings.len() >= 3);
    let resolved = findings.remove(0)["id"].as_str().unwrap().to_owned();
    let worsened = findings[0]["id"].as_str().unwrap().to_owned();
    let v = findings[0]["statistic"]["value"].as_f64().unwrap();
    findings[0]["statistic"]["value"] = serde_json::json!(v + 0.5);
    findings[0]["statistic"]["ci"] = serde_json::json!([v + 0.4, v + 0.6]);
    let mut planted = findings[1].clone();
    planted["id"] = serde_json::json!("denigration/faces/race/planted/rate");
    findings.push(planted);
    let new_path = dir.path().join("new.json");
    std::fs::write(&new_path, serde_json::to_string(&new).unwrap()).unwrap();

    let r = clip_audit(&["diff", old_path.to_str().unwrap(), new_path.to_str().unwrap(), "--json"]);
    assert_eq!(r.status.code(), Some(0), "without --fail-on-regression a diff only reports");
    let d: serde_json::Value = serde_json::from_str(&texts(&r).0).unwrap();
    let ids = |k: &str| -> Vec<String> {
        d[k].as_array()
            .unwrap()
            .iter()
            .map(|x| if x.is_array() { x[1]["id"].clone() } else { x["id"].clone() })
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("new"), ["denigration/faces/race/planted/rate"]);
    assert_eq!(ids("resolved"), [resolved]);
    assert_eq!(ids("worsened"), [worsened]);
    let r = clip_audit(&["diff", old_path.to_str().unwrap(), new_path.to_str().unwrap(), "--fail-on-regression"]);
    assert_eq!(r.status.code(), Some(1), "{}", texts(&r).0);
    // Only the resolution: not a regression.
    let mut fixed = old.clone();
    fixed["summary"]["findings"].as_array_mut().unwrap().remove(0);
    std::fs::write(&new_path, serde_json::to_string(&fixed).unwrap()).unwrap();
    let r = clip_audit(&["diff", old_path.to_str().unwrap(), new_path.to_str().unwrap(), "--fail-on-regression"]);
    assert_eq!(r.status.code(), Some(0), "{}", texts(&r).0);

    // run --baseline --fail-on-regression: the same run against itself passes though it has
    // error findings.
    let again = dir.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    let (r, _) = audit(&again, None, &["--baseline", old_path.to_str().unwrap(), "--fail-on-regression"]);
    assert_eq!(r.status.code(), Some(0), "{}", texts(&r).1);
    // A report from a newer clip-audit is refused clearly.
    let mut future = old.clone();
    future["format_version"] = serde_json::json!(99);
    std::fs::write(&new_path, serde_json::to_string(&future).unwrap()).unwrap();
    let r = clip_audit(&["diff", old_path.to_str().unwrap(), new_path.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2));
    assert!(texts(&r).1.contains("newer than this clip-audit reads"), "{}", texts(&r).1);
}
