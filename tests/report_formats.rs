//! Reports: every format for an audit on the tiny model (snapshots with timestamps and paths
//! filtered), untrusted strings escaped, the report folder and its `latest` link, and the
//! baseline diff with a planted regression.

use std::path::{Path, PathBuf};

use crate::common::{check_ci_output, clip_audit, root, run_with_reports, texts};

/// Runs the denigration audit on the tiny model with reports into `dir/reports`; `fairface`
/// overrides the manifest folder.
fn audit(dir: &Path, fairface: Option<&Path>, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let set = fairface.map(|f| format!("fairface={}", f.display()));
    let mut args: Vec<&str> = Vec::new();
    if let Some(s) = &set {
        args.extend(["--set", s.as_str()]);
    }
    args.extend_from_slice(extra);
    (run_with_reports("audits/denigration.yaml", dir, &args), dir.join("reports/denigration/latest"))
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
    check_ci_output("sarif", &[&latest.join("report.sarif")]);
    check_ci_output("junit", &[&latest.join("junit.xml")]);
    insta::assert_snapshot!("report_md", read("report.md"));
    insta::assert_snapshot!("report_junit", read("junit.xml"));
    insta::assert_snapshot!("report_sarif", read("report.sarif"));
    insta::assert_snapshot!("report_html", read("report.html"));

    // The JSON report carries the summary and its version; findings agree across formats.
    let json: serde_json::Value = serde_json::from_str(&read("report.json")).unwrap();
    assert_eq!(json["format_version"], 2);
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
    // maud leaves `'` as is: every attribute value is double-quoted, so it cannot end one.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;|x&amp;&quot;'"), "the label is shown, escaped");
    assert!(!html.contains("<script>"), "no markup gets through");
    let md = std::fs::read_to_string(latest.join("report.md")).unwrap();
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\|x&amp;"), "markdown escapes markup and pipes");
    assert!(!md.contains("<script>"));
    let junit = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
    assert!(!junit.contains("<script>") && junit.contains("&lt;script&gt;"));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.sarif")).unwrap()).unwrap();
    assert!(sarif["runs"][0]["results"].is_array(), "SARIF stays valid JSON");
    check_ci_output("sarif", &[&latest.join("report.sarif")]);
    check_ci_output("junit", &[&latest.join("junit.xml")]);
}

/// Issue 15, case 4: a spec at `my audits/denigration audit.yaml` gets a SARIF location that
/// GitHub accepts: a percent-encoded reference relative to the repository root inside a git
/// work tree, relative to a `SPECDIR` base (an absolute `file:` URI) outside one.
#[test]
fn sarif_locations_are_uri_references_relative_to_the_repository_root() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("my audits");
    std::fs::create_dir_all(&folder).unwrap();
    let text = std::fs::read_to_string(root().join("audits/denigration.yaml"))
        .unwrap()
        .replace("../probes", &root().join("probes").display().to_string())
        .replace("../fixtures", &root().join("fixtures").display().to_string());
    let spec = folder.join("denigration audit.yaml");
    std::fs::write(&spec, text).unwrap();
    for in_repo in [false, true] {
        if in_repo {
            std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        }
        let case = dir.path().join(format!("case-{in_repo}"));
        let reports = case.join("reports");
        let r = run_with_reports(spec.to_str().unwrap(), &case, &["--fail-on", "never"]);
        assert!(r.status.success(), "{}", texts(&r).1);
        let path = reports.join("denigration/latest/report.sarif");
        let sarif: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let run = &sarif["runs"][0];
        let artifact = &run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        if in_repo {
            assert_eq!(artifact["uri"], "my%20audits/denigration%20audit.yaml");
            assert!(artifact.get("uriBaseId").is_none() && run.get("originalUriBaseIds").is_none());
        } else {
            assert_eq!(artifact["uri"], "denigration%20audit.yaml");
            assert_eq!(artifact["uriBaseId"], "SPECDIR");
            let base = run["originalUriBaseIds"]["SPECDIR"]["uri"].as_str().unwrap();
            assert!(base.starts_with("file:///") && base.ends_with("/my%20audits/"), "{base}");
        }
        // run_with_reports has checked both files with the SARIF schema, GitHub's rules and
        // the JUnit XSD.
    }
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
    assert!(findings.len() >= 2);
    let resolved = findings.remove(0)["id"].as_str().unwrap().to_owned();
    let worsened = findings[0]["id"].as_str().unwrap().to_owned();
    let mut planted = findings[0].clone();
    let v = findings[0]["statistic"]["value"].as_f64().unwrap();
    findings[0]["statistic"]["value"] = serde_json::json!(v + 0.5);
    findings[0]["statistic"]["ci"] = serde_json::json!([v + 0.4, v + 0.6]);
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

#[test]
fn the_model_card_section_goes_between_markers_idempotently_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (_, latest) = audit(dir.path(), None, &["--fail-on", "never"]);
    let report = latest.join("report.json");
    let card = dir.path().join("README.md");
    let before = "---\nlicense: mit\ntags: [clip]\n---\n# My CLIP\n\nIntro  with  odd   spacing\r\nand CRLF.\n";
    std::fs::write(&card, before).unwrap();
    let into = |c: &Path| clip_audit(&["model-card", report.to_str().unwrap(), "--into", c.to_str().unwrap()]);
    let r = into(&card);
    assert!(r.status.success(), "{}", texts(&r).1);
    let once = std::fs::read_to_string(&card).unwrap();
    assert!(
        once.starts_with("---\nlicense: mit\ntags: [clip]\n# clip-audit:model-index:start\nmodel-index:\n"),
        "{once}"
    );
    assert!(
        once.contains("\n---\n# My CLIP\n\nIntro  with  odd   spacing\r\nand CRLF.\n"),
        "the rest is kept byte for byte"
    );
    assert!(once.contains("## Bias, Risks, and Limitations") && once.contains("### Results"));
    assert!(
        once.contains("<!-- clip-audit:model-card:start -->") && once.ends_with("<!-- clip-audit:model-card:end -->\n")
    );
    // Idempotent.
    let r = into(&card);
    assert!(texts(&r).1.contains("up to date"), "{}", texts(&r).1);
    assert_eq!(std::fs::read_to_string(&card).unwrap(), once);
    // Text after the section survives a rerun.
    std::fs::write(&card, format!("{once}\n## Training\n\nmore text\n")).unwrap();
    into(&card);
    assert!(
        std::fs::read_to_string(&card)
            .unwrap()
            .ends_with("<!-- clip-audit:model-card:end -->\n\n## Training\n\nmore text\n")
    );
    // A card without front matter gets one; printing works without --into.
    let bare = dir.path().join("bare.md");
    into(&bare);
    assert!(
        std::fs::read_to_string(&bare)
            .unwrap()
            .starts_with("---\n# clip-audit:model-index:start\nmodel-index:\n  - name: \"tiny-clip\"")
    );
    let out = clip_audit(&["model-card", report.to_str().unwrap()]);
    assert!(out.status.success() && texts(&out).0.contains("## Bias, Risks, and Limitations"));
}

#[test]
fn the_html_report_renders_in_a_headless_browser() {
    let Ok(chromium) = which_chromium() else {
        eprintln!("SKIPPED: chromium is not installed (make test-tools)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, latest) = audit(dir.path(), None, &["--fail-on", "never"]);
    let html = latest.join("report.html");
    let shot = dir.path().join("shot.png");
    let url = format!("file://{}", html.display());
    let run = |extra: &[&str]| {
        std::process::Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    // The browser's DOM holds every chart and table the file has: nothing was dropped by a
    // parse error.
    let dom = String::from_utf8_lossy(&run(&["--dump-dom"]).stdout).into_owned();
    let source = std::fs::read_to_string(&html).unwrap();
    for tag in ["<svg", "<table", "<h2"] {
        assert_eq!(dom.matches(tag).count(), source.matches(tag).count(), "{tag} in the rendered DOM");
    }
    assert!(dom.contains("Denigration"), "{}", &dom[..dom.len().min(500)]);
    // And it paints: a screenshot with ink on it (kept beside the report for a look).
    let out = run(&[&format!("--screenshot={}", shot.display())]);
    assert!(shot.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
    let img = image::open(&shot).unwrap().to_luma8();
    let dark = img.pixels().filter(|p| p.0[0] < 128).count();
    assert!(dark > 2_000, "the page is blank ({dark} dark pixels)");
    std::fs::copy(&shot, latest.join("screenshot.png")).unwrap();
}

pub fn which_chromium() -> Result<PathBuf, ()> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = std::process::Command::new("which").arg(name).output()
            && out.status.success()
        {
            return Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    Err(())
}

/// A small JSON Schema (2020-12 subset that schemars emits) validator: returns the paths that
/// break the schema.
pub fn violations(
    v: &serde_json::Value,
    s: &serde_json::Value,
    root: &serde_json::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return violations(v, &root["$defs"][name], root, at, out);
    }
    if let Some(types) = s.get("type") {
        let ok = |t: &str| match t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        };
        let fits = match types {
            Value::String(t) => ok(t),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(ok),
            _ => true,
        };
        if !fits {
            out.push(format!("{at}: {v} is not {types}"));
            return;
        }
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        out.push(format!("{at}: {v} is not {c}"));
    }
    for (key, need) in [("oneOf", 1usize), ("anyOf", 0)] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            let passing = alts
                .iter()
                .filter(|a| {
                    let mut o = Vec::new();
                    violations(v, a, root, at, &mut o);
                    o.is_empty()
                })
                .count();
            if (need == 1 && passing != 1) || (need == 0 && passing == 0) {
                out.push(format!("{at}: {passing} alternatives of {key} fit {v}"));
            }
        }
    }
    if let Some(m) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !m.contains_key(r.as_str().unwrap()) {
                out.push(format!("{at}: missing {r}"));
            }
        }
        for (k, x) in m {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => violations(x, ps, root, &format!("{at}.{k}"), out),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!("{at}: unexpected key {k}")),
                    Some(ap @ Value::Object(_)) => violations(x, ap, root, &format!("{at}.{k}"), out),
                    _ if props.is_some() => out.push(format!("{at}: key {k} is not in the schema")),
                    _ => {}
                },
            }
        }
    }
    if let Some(a) = v.as_array() {
        let prefix = s.get("prefixItems").and_then(Value::as_array);
        for (i, x) in a.iter().enumerate() {
            let item = prefix.and_then(|p| p.get(i)).or_else(|| s.get("items"));
            if let Some(item) = item.filter(|i| i.is_object()) {
                violations(x, item, root, &format!("{at}[{i}]"), out);
            }
        }
        let n = a.len() as u64;
        if s.get("minItems").and_then(Value::as_u64).is_some_and(|m| n < m)
            || s.get("maxItems").and_then(Value::as_u64).is_some_and(|m| n > m)
        {
            out.push(format!("{at}: {n} items"));
        }
    }
}

#[test]
fn report_json_follows_the_committed_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/schema/report.schema.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, latest) = audit(dir.path(), None, &["--fail-on", "never"]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    violations(&report, &schema, &schema, "report", &mut out);
    assert!(out.is_empty(), "{}", out.join("\n"));
    // The validator can fail: a wrong type and a missing key are caught.
    let mut broken = report.clone();
    broken["summary"]["findings"][0]["severity"] = serde_json::json!("fatal");
    broken["summary"].as_object_mut().unwrap().remove("seed");
    let mut out = Vec::new();
    violations(&broken, &schema, &schema, "report", &mut out);
    assert!(
        out.iter().any(|o| o.contains("severity")) && out.iter().any(|o| o.contains("missing \"seed\"")),
        "{out:?}"
    );
}

/// Issue 15, case 5: every card clip-audit writes loads with `huggingface_hub.ModelCard` with
/// one front matter holding the README's own metadata and the model-index: for the user's
/// CRLF README and its LF twin, a README without front matter, an empty one; for a report
/// with findings, one without, and one with review decisions; and again after a rerun.
#[test]
fn model_cards_load_in_huggingface_hub_with_their_own_metadata_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (_, latest) = audit(dir.path(), None, &["--fail-on", "never"]);
    let report = latest.join("report.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let first_id = json["summary"]["findings"][0]["id"].as_str().unwrap().to_owned();
    // A report without findings, in a folder of its own.
    let clean_dir = dir.path().join("clean");
    std::fs::create_dir_all(&clean_dir).unwrap();
    let mut clean = json.clone();
    clean["summary"]["findings"] = serde_json::json!([]);
    let clean_report = clean_dir.join("report.json");
    std::fs::write(&clean_report, clean.to_string()).unwrap();
    // A report with a review decision beside it.
    let reviewed_dir = dir.path().join("reviewed");
    std::fs::create_dir_all(&reviewed_dir).unwrap();
    let reviewed_report = reviewed_dir.join("report.json");
    std::fs::copy(&report, &reviewed_report).unwrap();
    let mut review = clip_audit::report::review::Review::load(&reviewed_dir).unwrap();
    review.decide(&first_id, clip_audit::report::review::Verdict::Dismissed, "a note: with \"quotes\"\nand --- lines");
    review.save(&reviewed_dir).unwrap();

    let cases = root().join("fixtures/cases/model-card-crlf");
    let lf = std::fs::read_to_string(cases.join("README.lf.md")).unwrap();
    let readmes: Vec<(&str, Option<String>)> = vec![
        ("README.crlf.md", Some(std::fs::read_to_string(cases.join("README.crlf.md")).unwrap())),
        ("README.lf.md", Some(lf.clone())),
        // The Hub allows spaces after the closing `---`; a `---` rule later in the body is
        // Markdown, not front matter.
        ("README.space.md", Some(lf.replacen("\n---\n", "\n---  \n", 1))),
        ("README.rule.md", Some(format!("{lf}\n---\n\nMore text after a rule.\n"))),
        // clip-audit's markers quoted in prose are not markers.
        ("README.quoted.md", Some(format!("{lf}\nWe use `{}` markers.\n", clip_audit::report::model_card::START))),
        ("README.docend.md", Some(lf.replacen("library_name: open_clip\n---", "library_name: open_clip\n...\n---", 1))),
        ("no-front-matter.md", Some("# A model\r\n\r\nNo metadata yet.\r\n".to_owned())),
        ("empty.md", Some(String::new())),
        ("absent.md", None),
    ];
    for report in [&report, &clean_report, &reviewed_report] {
        for (name, text) in &readmes {
            let card = dir.path().join(format!("card-{}", name));
            let _ = std::fs::remove_file(&card);
            if let Some(t) = text {
                std::fs::write(&card, t).unwrap();
            }
            let mut first = String::new();
            for pass in 0..2 {
                let r = clip_audit(&["model-card", report.to_str().unwrap(), "--into", card.to_str().unwrap()]);
                assert!(r.status.success(), "{name}: {}", texts(&r).1);
                let written = std::fs::read_to_string(&card).unwrap();
                let at = format!("{name}, {}, pass {pass}", report.display());
                assert_eq!(written.matches(clip_audit::report::model_card::YAML_START).count(), 1, "{at}:\n{written}");
                if pass == 0 {
                    first = written;
                } else {
                    assert!(texts(&r).1.contains("up to date"), "{at}: a rerun changes nothing");
                    assert_eq!(written, first, "{at}");
                }
                if let Some(t) = text {
                    // The README's own text stays, byte for byte, after the front matter.
                    let body = t.splitn(3, "---").nth(2).filter(|_| t.starts_with("---")).unwrap_or(t);
                    let body = body.split(clip_audit::report::model_card::START).next().unwrap();
                    assert!(
                        first.contains(body.trim_start_matches(['\r', '\n', ' '])),
                        "{at}: the README's text is kept"
                    );
                }
                let Some(out) = check_ci_output("card", &[&card]) else { continue };
                let loaded: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
                let data = &loaded["data"];
                let at = format!("{at}: {loaded}");
                assert!(data["model-index"][0]["results"].is_array(), "model-index in the front matter: {at}");
                assert!(
                    !loaded["text_start"].as_str().unwrap().trim_start().starts_with("---"),
                    "one front matter: {at}"
                );
                if name.starts_with("README") {
                    assert_eq!(data["license"], "mit", "{at}");
                    assert_eq!(data["language"], serde_json::json!(["en"]), "{at}");
                    assert_eq!(data["library_name"], "open_clip", "{at}");
                    assert_eq!(data["tags"], serde_json::json!(["clip", "zero-shot-image-classification"]), "{at}");
                }
            }
            if name.ends_with("crlf.md") {
                let written = std::fs::read_to_string(&card).unwrap();
                assert_eq!(written.matches('\n').count(), written.matches("\r\n").count(), "a CRLF card stays CRLF");
            }
        }
    }
}

/// Every reader reads a report into the writer's own types (`report::read`): a fresh report of
/// each kind reads back whole (re-serialising its summary gives the same JSON, undefined
/// numbers included), older formats are upgraded, and anything else is refused saying why.
#[test]
fn reports_read_back_into_the_writers_types_and_older_formats_are_upgraded() {
    use clip_audit::report::read::{ReadError, load, load_summary};
    let dir = tempfile::tempdir().unwrap();
    let (r, latest) = audit(&dir.path().join("den"), None, &["--fail-on", "never"]);
    assert!(r.status.success(), "{}", texts(&r).1);
    let demo_like = root().join("audits/typographic.yaml");
    let t = run_with_reports(demo_like.to_str().unwrap(), &dir.path().join("typo"), &["--fail-on", "never"]);
    assert!(t.status.success(), "{}", texts(&t).1);
    for path in [latest.join("report.json"), dir.path().join("typo/reports/typographic/latest/report.json")] {
        let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let report = load(&path).unwrap_or_else(|e| panic!("{e}"));
        // Through text, as a reader would see it written again (f32 values print as f32).
        let back: serde_json::Value = serde_json::from_str(&serde_json::to_string(&report.summary).unwrap()).unwrap();
        assert_eq!(first_difference(&back, &written["summary"], "summary"), None, "{} round trip", path.display());
        assert_eq!(report.meta.spec, written["meta"]["spec"].as_str().unwrap());
        assert_eq!(report.sections.len(), written["sections"].as_array().unwrap().len());
    }
    // A summary.json reads the same way, without report metadata.
    let summary_json = dir.path().join("den/run/analysis/summary.json");
    let (summary, meta) = load_summary(&summary_json).unwrap_or_else(|e| panic!("{e}"));
    assert!(meta.is_none() && summary.denigration.is_some());
    // Format 1 (before the decision layer): findings kept with the decision they state, the
    // analysis details whose layout changed left out with a note.
    let v1 = load(&root().join("fixtures/reports/format-1/report.json")).unwrap();
    assert_eq!(v1.summary.findings.len(), 22);
    assert!(v1.summary.findings.iter().all(|f| f.decision.verdict == clip_audit::analysis::decision::Verdict::Fail));
    assert!(
        v1.summary.findings.iter().all(|f| f.decision.estimate == f.statistic.value || f.decision.estimate.is_nan())
    );
    let note = v1.summary.notes.iter().find(|n| n.contains("format 1")).expect("a note on what was left out");
    assert!(note.contains("the details of denigration are not shown"), "{note}");
    assert!(v1.summary.denigration.is_none());
    let v2 = load(&root().join("fixtures/reports/format-2/report.json")).unwrap();
    assert_eq!((v2.summary.findings.len(), v2.summary.inconclusive.len()), (2, 199));
    assert!(v2.summary.denigration.is_some() && v2.sections.is_empty());
    // Within format 2, analyses gained fields: a report written before that still opens, its
    // findings whole and the details that no longer read left out with a note.
    let mut earlier: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("fixtures/reports/format-2/report.json")).unwrap())
            .unwrap();
    for g in earlier["summary"]["denigration"]["groups"].as_array_mut().unwrap() {
        g.as_object_mut().unwrap().remove("impact_ratio_ci");
    }
    let earlier_path = dir.path().join("earlier.json");
    std::fs::write(&earlier_path, earlier.to_string()).unwrap();
    let e = load(&earlier_path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((e.summary.findings.len(), e.summary.inconclusive.len()), (2, 199));
    assert!(e.summary.denigration.is_none());
    assert!(
        e.summary.notes.iter().any(|n| n.contains("format 2") && n.contains("details of denigration")),
        "{:?}",
        e.summary.notes
    );
    // A newer format, and a file that is not a report, are refused with what to do.
    let future = dir.path().join("future.json");
    let mut text: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.json")).unwrap()).unwrap();
    text["format_version"] = 99.into();
    std::fs::write(&future, text.to_string()).unwrap();
    let err = load(&future).unwrap_err();
    assert!(matches!(err, ReadError::Version { version: 99, .. }), "{err}");
    assert!(
        err.to_string().contains("newer than this clip-audit reads") && err.to_string().contains("update clip-audit"),
        "{err}"
    );
    let not = dir.path().join("not.json");
    std::fs::write(&not, "{\"hello\": 1}").unwrap();
    assert!(load(&not).unwrap_err().to_string().contains("is not a clip-audit report.json"));
}

/// The first place two JSON values differ, as a path (`summary.selectivity.units[3].p`).
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{at}.{k}")),
                (p, q) => Some(format!("{at}.{k}: {p:?} vs {q:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{at}: {a} vs {b}")),
    }
}

/// Issue 16: the HTML page is built with `maud`, which escapes every value it interpolates.
/// A report whose every kind of name (audit, model, spec, runs, notes, finding ids and
/// messages, group and label names in the analysis sections, chart labels) carries markup
/// renders with no tag but the page's own, no raw `&`, and no raw `"` in text; `'` needs no
/// escape since every attribute value is double-quoted.
#[test]
fn the_html_page_escapes_every_name_by_construction() {
    use clip_audit::analysis::present::Interval;
    use clip_audit::analysis::resolution::MemberResolution;
    use clip_audit::analysis::selectivity::Heatmap;
    use clip_audit::report::html;
    let evil = "<script>alert(1)</script>&\"'";
    let shown = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;'";
    let dir = tempfile::tempdir().unwrap();
    let (_, latest) = audit(dir.path(), None, &["--fail-on", "never"]);
    // Group and label names everywhere in the summary, through the JSON report.
    let json = std::fs::read_to_string(latest.join("report.json")).unwrap();
    let quoted = serde_json::to_string(evil).unwrap();
    let inner = &quoted[1..quoted.len() - 1];
    let (female, orangutan) = (format!("Female{inner}"), format!("orangutan{inner}"));
    let json = json.replace("Female", &female).replace("orangutan", &orangutan);
    let path = dir.path().join("evil.json");
    std::fs::write(&path, json).unwrap();
    let (mut s, meta) = clip_audit::report::read::load_summary(&path).unwrap();
    let mut meta = meta.unwrap();
    let e = || evil.to_string();
    (s.audit, s.description, s.model, s.runs, s.notes) = (e(), Some(e()), e(), vec![e(), e()], vec![e()]);
    (meta.spec, meta.tool, meta.generated_at) = (e(), e(), e());
    for f in s.findings.iter_mut().chain(&mut s.inconclusive) {
        (f.id, f.statement) = (e(), e());
    }
    assert!(!s.findings.is_empty() && !s.inconclusive.is_empty());
    let page = html::render(&s, &meta);
    assert!(page.matches(&format!("Female{shown}")).count() > 0, "group names are shown, escaped");
    assert!(page.matches(shown).count() > 10, "every name is shown, escaped");
    // The charts on their own.
    let bar = Interval { label: e(), value: 0.5, lo: 0.25, hi: 0.75 };
    let member = MemberResolution {
        id: e(),
        name: e(),
        group: e(),
        lat: Some(1.0),
        lon: Some(2.0),
        dedicated_units: 1,
        best_d: 1.0,
    };
    let map =
        Heatmap { tap: e(), selection: e(), modality: e(), units: vec![3], concepts: vec![e()], d: vec![vec![1.0]] };
    let charts = [
        html::interval_chart(&[bar], 1.0, Some(0.5)).into_string(),
        html::world_map(&[member]).into_string(),
        html::heatmap(&map).into_string(),
        html::rate_map(&[clip_audit::analysis::present::MemberRate {
            id: e(),
            name: e(),
            lat: 1.0,
            lon: 2.0,
            rate: 0.3,
            ci: [0.1, 0.5],
            events: 3,
            n: 10,
        }])
        .into_string(),
    ];
    for (i, chart) in charts.iter().enumerate() {
        // The rate map names a member once (its tooltip); the others twice (name and group).
        let at_least = if i == 3 { 1 } else { 2 };
        assert!(chart.matches(shown).count() >= at_least, "chart {i} shows its labels, escaped: {chart}");
    }
    let own = [
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "span", "code", "br", "table", "tr",
        "th", "td", "ul", "li", "svg", "text", "rect", "path", "circle", "g",
    ];
    for text in charts.iter().chain([&page]) {
        assert!(!text.contains("<script") && !text.contains(evil));
        let mut rest = text.as_str();
        while let Some(at) = rest.find('<') {
            let end = rest[at..].find('>').map(|n| at + n).expect("a tag is closed");
            let tag = &rest[at + 1..end];
            let name = tag.trim_start_matches('/').split([' ', '/']).next().unwrap();
            assert!(own.contains(&name) || tag == "!DOCTYPE html", "a tag not the page's own: <{tag}>");
            assert!(!tag.contains('\''), "attribute values are double-quoted and hold no markup: <{tag}>");
            let between = &rest[..at];
            assert!(!between.contains('"'), "a raw quote in text: {between}");
            rest = &rest[end + 1..];
        }
        for (at, _) in text.match_indices('&') {
            let entity = &text[at..text.len().min(at + 6)];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;"].iter().any(|x| entity.starts_with(x)),
                "a raw ampersand at {at}: {entity}"
            );
        }
    }
}
