//! Bad audit specs and probe libraries: every problem is a diagnostic with file:line:column,
//! a code and a snippet, all reported together, exit code 2, never a panic. Snapshots fix
//! the wording.

use std::path::Path;

use crate::common::{clip_audit, root, texts};

/// Writes `files` into a temp dir and runs `validate` on `spec`; returns (exit code, stderr
/// with the temp dir and repository paths replaced).
fn validate(files: &[(&str, &str)], spec: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace("$ROOT", root().to_str().unwrap())).unwrap();
    }
    let spec_path = dir.path().join(spec);
    let mut args = vec!["validate", spec_path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = clip_audit(&args);
    let (_, err) = texts(&out);
    assert!(!err.contains("panicked"), "{err}");
    let cleaned = err.replace(dir.path().to_str().unwrap(), "<dir>").replace(root().to_str().unwrap(), "<repo>");
    (out.status.code().unwrap_or(-1), cleaned)
}

const GOOD_HEAD: &str = "audit: t\nmodel:\n  bundle: $ROOT/fixtures/models/tiny-clip\n";

#[test]
fn malformed_yaml_points_at_the_syntax_error() {
    let (code, err) = validate(&[("a.yaml", "audit: t\nprobes: [\n  - library: x\n")], "a.yaml", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("error[Y001]") && err.contains("<dir>/a.yaml:"), "{err}");
}

#[test]
fn every_problem_of_a_spec_is_reported_at_once() {
    let spec = format!(
        "{GOOD_HEAD}seeed: 3\nprobes:\n  - library: $ROOT/probes/regions.yaml\n    family: countrys\n  - library: $ROOT/probes/demographics.yaml\n    family: race\n    members: [white, purple]\n    stimuli:\n      prompts: {{templates: [\"a photo\"]}}\n      rendered_text: {{sizes: many}}\nanalyses:\n  selectivity: {{fdr: 1.5}}\n  resolution:\n    - family: race\n      level: continent\noutputs:\n  formats: [pdf]\n"
    );
    let (code, err) = validate(&[("s.yaml", &spec)], "s.yaml", &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn dangling_library_file_and_folder_and_variable_are_named() {
    let spec = format!(
        "{GOOD_HEAD}vars:\n  data: null\nprobes:\n  - library: no/such/library.yaml\n    family: x\n  - library: $ROOT/probes/regions.yaml\n    family: countries\n    members: [fr]\n    stimuli:\n      images:\n        - folder: ${{data}}/{{id}}\n        - folder: missing/{{id}}\n        - folder: ${{undeclared}}/{{id}}\n"
    );
    let (code, err) = validate(&[("s.yaml", &spec)], "s.yaml", &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

/// A folder source's glob that does not parse is an error at its line (I010), not a pattern
/// read literally.
#[test]
fn an_invalid_glob_is_reported_at_its_line() {
    let spec = format!(
        "{GOOD_HEAD}probes:\n  - library: $ROOT/probes/regions.yaml\n    family: countries\n    members: [fr]\n    stimuli:\n      images:\n        - folder: $ROOT/fixtures/images/flags/{{id}}\n          glob: \"[jpg\"\n"
    );
    let (code, err) = validate(&[("s.yaml", &spec)], "s.yaml", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[I010]") && err.contains("<dir>/s.yaml:11:"), "{err}");
}

#[test]
fn manifests_that_are_unreadable_or_lack_a_column_are_reported() {
    let spec = format!(
        "{GOOD_HEAD}probes:\n  - library: $ROOT/probes/demographics.yaml\n    family: race\n    stimuli:\n      images:\n        - manifest: labels.csv\n          member_column: ethnicity\n          member_key: fairface_label\n        - manifest: broken.jsonl\n          member_column: race\n"
    );
    let files = [
        ("s.yaml", spec.as_str()),
        ("labels.csv", "file,age,gender,race\nval/1.jpg,3-9,Male,Black\n"),
        ("broken.jsonl", "not json\n"),
    ];
    let (code, err) = validate(&files, "s.yaml", &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn library_problems_duplicate_ids_empty_families_and_groups() {
    let lib = "library: mini\ntemplates: [\"a photo of {name}.\"]\nsources:\n  - {id: s, title: S}\nfamilies:\n  - id: places\n    sources: [s, t]\n    hierarchy: [region]\n    members:\n      - {id: a, name: A, groups: {region: X}}\n      - {id: a, name: B, groups: {region: X}}\n      - {id: c, name: C, groups: {regoin: X}}\n  - id: places\n    members: []\n  - id: Bad_Id\n    templates: [\"no placeholder\"]\n    members:\n      - {id: x, name: X, colour: red}\n";
    let spec = format!("{GOOD_HEAD}probes:\n  - library: mini.yaml\n    family: places\n");
    let (code, err) = validate(&[("s.yaml", &spec), ("mini.yaml", lib)], "s.yaml", &[]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn alias_bomb_is_rejected_quickly_with_its_location() {
    let mut bomb = String::from("audit: t\na: &a [x,x,x,x,x,x,x,x,x,x]\n");
    for w in ["a", "b", "c", "d", "e", "f", "g", "h"].windows(2) {
        bomb.push_str(&format!("{}: &{} [{}]\n", w[1], w[1], vec![format!("*{}", w[0]); 10].join(",")));
    }
    let t = std::time::Instant::now();
    let (code, err) = validate(&[("bomb.yaml", &bomb)], "bomb.yaml", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("error[Y004]") && err.contains("<dir>/bomb.yaml:"), "{err}");
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
}

#[test]
fn set_of_an_undeclared_variable_is_an_error() {
    let spec = format!(
        "{GOOD_HEAD}vars: {{model: x}}\nprobes:\n  - library: $ROOT/probes/regions.yaml\n    family: regions\n    stimuli: {{prompts: {{}}}}\n"
    );
    let (code, err) = validate(&[("s.yaml", &spec)], "s.yaml", &["--set", "modle=y"]);
    assert_eq!(code, 2);
    assert!(err.contains("error[V004]") && err.contains("did you mean `model`?"), "{err}");
    let bad = clip_audit(&["validate", "x.yaml", "--set", "novalue"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(texts(&bad).1.contains("expected NAME=VALUE"));
}

#[test]
fn relative_paths_resolve_against_the_spec_folder() {
    // The spec lives in a sub-folder and names its library relative to itself.
    let lib = "library: mini\ntemplates: [\"a photo of {name}.\"]\nfamilies:\n  - id: things\n    members:\n      - {id: a, name: A}\n";
    let spec = format!(
        "{GOOD_HEAD}probes:\n  - library: ../libs/mini.yaml\n    family: things\n    stimuli: {{prompts: {{}}}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("specs")).unwrap();
    std::fs::create_dir_all(dir.path().join("libs")).unwrap();
    std::fs::write(dir.path().join("libs/mini.yaml"), lib).unwrap();
    std::fs::write(dir.path().join("specs/s.yaml"), spec.replace("$ROOT", root().to_str().unwrap())).unwrap();
    let out = clip_audit(&["validate", dir.path().join("specs/s.yaml").to_str().unwrap()]);
    assert!(out.status.success(), "{}", texts(&out).1);
    assert!(Path::new(&dir.path().join("libs/mini.yaml")).exists());
}

/// Issue 15, case 3: `outputs.fail_on` and `--fail-on` share one vocabulary, `never` included.
#[test]
fn fail_on_takes_the_same_values_in_a_spec_and_on_the_command_line() {
    use clap::Parser;
    use clip_audit::cli::{Cli, FailOn};
    for (name, value) in FailOn::NAMES.iter().zip(FailOn::ALL) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.yaml");
        std::fs::write(
            &p,
            format!(
                "audit: t\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: countries\n    members: [fr]\n    stimuli:\n      prompts: {{}}\noutputs:\n  fail_on: {name}\n",
                r = root().display()
            ),
        )
        .unwrap();
        let spec = clip_audit::spec::AuditSpec::load(&p, &[]).unwrap_or_else(|e| panic!("fail_on: {name}: {e}"));
        assert_eq!(spec.fail_on, value);
        for command in ["run", "analyze"] {
            let cli = Cli::try_parse_from(["clip-audit", command, "s.yaml", "--fail-on", name]);
            assert!(cli.is_ok(), "--fail-on {name} for {command}: {:?}", cli.err());
        }
    }
    assert_eq!(FailOn::Never.threshold(), None);
    let body = format!("{GOOD_HEAD}probes: []\noutputs:\n  fail_on: sometimes\n");
    let (code, err) = validate(&[("s.yaml", &body)], "s.yaml", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown fail_on \"sometimes\"") && err.contains("info, warning, error or never"), "{err}");
}

/// The diagnostic codes are one list (`Code` in src/diagnostics.rs): each has a row in
/// docs/spec.md with the same meaning, the docs list no code that does not exist, and no source
/// file writes a code as a string (so a code cannot be reused with another meaning).
#[test]
fn diagnostic_codes_are_one_documented_list() {
    use clip_audit::diagnostics::Code;
    let docs = std::fs::read_to_string(root().join("docs/spec.md")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for code in Code::ALL {
        assert!(seen.insert(code.as_str()), "{code} twice");
        let row = format!("| {} | {} |", code.as_str(), code.description());
        assert!(docs.contains(&row), "docs/spec.md lacks the row `{row}`");
    }
    let documented: Vec<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(' ').next())
        .filter(|c| c.len() == 4 && c.as_bytes()[0].is_ascii_uppercase() && c[1..].bytes().all(|b| b.is_ascii_digit()))
        .collect();
    for c in &documented {
        assert!(seen.contains(c), "docs/spec.md documents {c}, which does not exist");
    }
    assert_eq!(documented.len(), Code::ALL.len(), "each code documented once");
    let literal = regex::Regex::new(r#""[A-Z][0-9]{3}""#).unwrap();
    let mut stack = vec![root().join("src")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("diagnostics.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !literal.is_match(&text),
                    "{} writes a diagnostic code as a string; use `Code`",
                    path.display()
                );
            }
        }
    }
}

/// A bundle given by a variable without a value is one error (V002), not a second one about
/// a folder literally named `${model}`.
#[test]
fn a_missing_variable_is_reported_once() {
    let spec = "audit: t\nvars:\n  model: null\nmodel:\n  bundle: ${model}\nprobes:\n  - library: $ROOT/probes/regions.yaml\n    family: countries\n    stimuli: {prompts: {}}\n";
    let (code, err) = validate(&[("s.yaml", spec)], "s.yaml", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[V002]") && err.contains("<dir>/s.yaml:5:"), "{err}");
    assert!(!err.contains("A009"), "{err}");
}

/// A name given twice points at both places: the duplicate with a caret, and the first
/// definition ("first defined here"): a family id and a member id in a probe library (P001),
/// a selection name in a spec (A004), and a mapping key written twice (S004).
#[test]
fn a_duplicate_points_at_the_first_definition_too() {
    let lib = "library: mini\ntemplates: [\"a photo of {name}.\"]\nfamilies:\n  - id: places\n    members:\n      - {id: a, name: A}\n      - {id: a, name: B}\n  - id: places\n    members:\n      - {id: b, name: B}\n";
    let spec = format!("{GOOD_HEAD}probes:\n  - library: mini.yaml\n    family: places\n");
    let (code, err) = validate(&[("s.yaml", &spec), ("mini.yaml", lib)], "s.yaml", &[]);
    assert_eq!(code, 2, "{err}");
    let family = "error[P001]: family id `places` is defined twice\n --> <dir>/mini.yaml:8:9\n  |\n8 |   - id: places\n  |         ^\n  |\n ::: <dir>/mini.yaml:4:9\n  |\n4 |   - id: places\n  |         - first defined here\n";
    assert!(err.contains(family), "{err}");
    let member = "error[P001]: member id `a` appears twice in family `places`\n --> <dir>/mini.yaml:7:14\n  |\n7 |       - {id: a, name: B}\n  |              ^\n  |\n ::: <dir>/mini.yaml:6:14\n  |\n6 |       - {id: a, name: A}\n  |              - first defined here\n";
    assert!(err.contains(member), "{err}");

    let spec = format!(
        "{GOOD_HEAD}probes:\n  - library: $ROOT/probes/regions.yaml\n    family: countries\n    members: [fr]\n    stimuli: {{prompts: {{}}}}\n  - library: $ROOT/probes/regions.yaml\n    family: countries\n    members: [de]\n    stimuli: {{prompts: {{}}}}\n"
    );
    let (code, err) = validate(&[("s.yaml", &spec)], "s.yaml", &[]);
    assert_eq!(code, 2, "{err}");
    let selection = "error[A004]: two probe selections are named `countries`\n  --> <dir>/s.yaml:10:13\n   |\n10 |     family: countries\n   |             ^\n   |\n  ::: <dir>/s.yaml:6:13\n   |\n 6 |     family: countries\n   |             - first defined here\n   |\n   = help: give one of them `name:` so analyses can tell them apart\n";
    assert!(err.contains(selection), "{err}");

    let spec = format!(
        "{GOOD_HEAD}seed: 1\nprobes:\n  - library: $ROOT/probes/regions.yaml\n    family: countries\nseed: 2\n"
    );
    let (code, err) = validate(&[("s.yaml", &spec)], "s.yaml", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error[S004]") && err.contains("<dir>/s.yaml:8:1") && err.contains("first defined here"),
        "{err}"
    );
    assert!(err.contains("4 | seed: 1"), "{err}");

    // Inside `vars:` too, which is read before the rest of the spec.
    let spec = format!(
        "{GOOD_HEAD}vars:\n  thing: one\n  thing: two\nprobes:\n  - library: $ROOT/probes/regions.yaml\n    family: countries\n"
    );
    let (code, err) = validate(&[("s.yaml", &spec)], "s.yaml", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error[S004]: key `thing` appears twice in `vars`") && err.contains("<dir>/s.yaml:6:3"),
        "{err}"
    );
}
