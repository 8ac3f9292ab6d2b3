//! Stimuli: deterministic expansion, stable ids, every kind, and faults recorded not fatal.

use std::collections::BTreeSet;

use clip_audit::spec::AuditSpec;
use clip_audit::stimuli::{Content, Modality, expand, materialize};

use crate::common::{clip_audit, root, texts};

fn spec_in(dir: &std::path::Path, body: &str) -> AuditSpec {
    let text = format!("audit: t\nmodel:\n  bundle: {}/fixtures/models/tiny-clip\n{body}", root().display())
        .replace("$ROOT", root().to_str().unwrap());
    let p = dir.join("s.yaml");
    std::fs::write(&p, text).unwrap();
    AuditSpec::load(&p, &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn expansion_is_deterministic_with_unique_stable_ids() {
    let spec = AuditSpec::load(&root().join("audits/typographic.yaml"), &[]).unwrap();
    let a = expand(&spec, 32);
    let b = expand(&spec, 32);
    assert_eq!(a, b);
    assert_eq!(a.list_hash(), b.list_hash());
    let ids: BTreeSet<&str> = a.stimuli.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), a.stimuli.len(), "ids are unique");
    // The id is a hash of what the model sees: pinned so that caches stay valid.
    let fr = a
        .stimuli
        .iter()
        .find(|s| matches!(&s.content, Content::Prompt { text } if text == "a photo of France."))
        .unwrap();
    assert_eq!(fr.id, "b463bbf5d413fd98d6ae6c2ad50fde9e");
}

#[test]
fn prompts_cover_templates_names_and_aliases_with_articles() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_in(
        dir.path(),
        "probes:\n  - library: $ROOT/probes/regions.yaml\n    family: countries\n    members: [nl, us]\n    stimuli:\n      prompts: {templates: [\"a photo of {name}.\", \"the flag of {name}.\"], aliases: true}\n",
    );
    let set = expand(&spec, 32);
    let texts: Vec<&str> = set
        .stimuli
        .iter()
        .filter_map(|s| if let Content::Prompt { text } = &s.content { Some(text.as_str()) } else { None })
        .collect();
    assert!(texts.contains(&"a photo of the Netherlands."), "{texts:?}");
    assert!(texts.contains(&"the flag of the United States."), "{texts:?}");
    let us = spec.selections[0].members.iter().find(|m| m.id == "us").unwrap();
    assert_eq!(texts.len(), 2 * (1 + us.aliases.len()) + 2 * (1 + spec.selections[0].members[0].aliases.len()));
}

#[test]
fn rendered_text_variants_multiply_and_pixels_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_in(
        dir.path(),
        "probes:\n  - library: $ROOT/probes/regions.yaml\n    family: regions\n    members: [africa]\n    stimuli:\n      rendered_text: {sizes: [24, 40], positions: [center, top-left], colors: [black, \"#aa0000\"], backgrounds: [white, black], cases: [as-is, upper]}\n",
    );
    let set = expand(&spec, 32);
    // 2 sizes x 2 positions x 2 cases x (2 colours x 2 backgrounds - black on black) = 24.
    assert_eq!(set.stimuli.len(), 24);
    let s = &set.stimuli[0];
    assert_eq!(s.modality, Modality::RenderedText);
    let (a, b) = (materialize(s).unwrap(), materialize(s).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.dimensions(), (224, 224));
    let upper = set
        .stimuli
        .iter()
        .find(|s| matches!(&s.content, Content::RenderedText { text, .. } if text == "AFRICA"))
        .unwrap();
    assert!(upper.variant.contains("upper"), "{}", upper.variant);
}

#[test]
fn fairface_manifest_rows_go_to_members_by_label_with_their_labels() {
    let spec = AuditSpec::load(&root().join("audits/denigration.yaml"), &[]).unwrap();
    let set = expand(&spec, 32);
    let faces: Vec<_> = set.stimuli.iter().filter(|s| s.selection == "faces").collect();
    assert_eq!(faces.len(), 56);
    let members: BTreeSet<&str> = faces.iter().map(|s| s.member.as_str()).collect();
    assert_eq!(members.len(), 7);
    let first = faces.iter().find(|s| s.member == "latino-hispanic").unwrap();
    assert_eq!(first.labels["race"], "Latino_Hispanic");
    assert!(first.labels.contains_key("age") && first.labels.contains_key("gender"));
    assert!(!first.labels.contains_key("service_test"), "only label_columns are kept");
}

#[test]
fn unreadable_and_corrupt_images_are_recorded_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("val")).unwrap();
    std::fs::copy(root().join("fixtures/fairface-standin/val/1.jpg"), data.join("val/1.jpg")).unwrap();
    std::fs::write(data.join("val/2.jpg"), b"\xff\xd8 not a jpeg").unwrap();
    std::fs::write(data.join("labels.csv"), "file,race\nval/1.jpg,Black\nval/2.jpg,Black\nval/3.jpg,White\n").unwrap();
    let spec = spec_in(
        dir.path(),
        "probes:\n  - library: $ROOT/probes/demographics.yaml\n    family: race\n    stimuli:\n      images:\n        - manifest: data/labels.csv\n          member_column: race\n          member_key: fairface_label\n",
    );
    let set = expand(&spec, 32);
    assert_eq!(set.stimuli.len(), 2, "the two readable files are stimuli");
    assert_eq!(set.skipped.len(), 1);
    assert!(
        set.skipped[0].source.ends_with("val/3.jpg") && set.skipped[0].reason.starts_with("cannot read"),
        "{:?}",
        set.skipped
    );
    let corrupt = set
        .stimuli
        .iter()
        .find(|s| matches!(&s.content, Content::Image { path } if path.ends_with("val/2.jpg")))
        .unwrap();
    let err = materialize(corrupt).unwrap_err().to_string();
    assert!(err.contains("cannot decode image") && err.contains("2.jpg"), "{err}");
    assert!(materialize(set.stimuli.iter().find(|s| s.id != corrupt.id).unwrap()).is_ok());
}

#[test]
fn typographic_composites_write_another_members_name_on_each_image() {
    let spec = AuditSpec::load(&root().join("audits/typographic.yaml"), &[]).unwrap();
    let set = expand(&spec, 32);
    let typo: Vec<_> = set.stimuli.iter().filter(|s| s.modality == Modality::Typographic).collect();
    // 30 flags x 2 texts x 2 sizes x 2 positions.
    assert_eq!(typo.len(), 240);
    for s in &typo {
        let Content::Typographic { base_member, text_member, image_size, .. } = &s.content else { panic!() };
        assert_eq!(base_member, &s.member);
        assert_ne!(text_member.as_deref(), Some(s.member.as_str()), "the attack names another member");
        assert_eq!(*image_size, 32);
    }
    let img = materialize(typo[0]).unwrap();
    assert_eq!(img.dimensions(), (32, 32));
}

#[test]
fn preview_writes_a_contact_sheet_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sheet.png");
    let run = clip_audit(&[
        "stimuli",
        "preview",
        "audits/typographic.yaml",
        "--out",
        out.to_str().unwrap(),
        "--per-family",
        "6",
    ]);
    assert!(run.status.success(), "{}", texts(&run).1);
    let sheet = image::open(&out).unwrap();
    assert!(sheet.width() >= 6 * 128 && sheet.height() > 128);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left: {leftovers:?}");
    let list = clip_audit(&["stimuli", "list", "audits/typographic.yaml"]);
    let stdout = texts(&list).0;
    assert!(stdout.contains("typographic") && stdout.contains("240"), "{stdout}");
}

/// Issue 15, case 1 (`fixtures/cases/manifest-member-key/`): a manifest whose member column
/// holds member ids, with `member_key: id`, gives every row: 12 images, 4 per member.
#[test]
fn member_key_id_selects_manifest_rows_by_member_id() {
    let case = root().join("fixtures/cases/manifest-member-key");
    let model = root().join("fixtures/models/tiny-clip");
    let set_model = [("model".to_owned(), model.display().to_string())];
    let spec = AuditSpec::load(&case.join("spec.yaml"), &set_model).unwrap_or_else(|e| panic!("{e}"));
    assert!(spec.warnings.is_empty(), "{}", spec.warnings);
    let set = expand(&spec, 32);
    assert_eq!(set.stimuli.len(), 12);
    for member in ["amber", "teal", "plum"] {
        assert_eq!(set.stimuli.iter().filter(|s| s.member == member).count(), 4, "{member}");
    }
    assert_eq!(set.sources.len(), 1);
    let account = &set.sources[0];
    assert_eq!((account.rows, account.images, account.skipped, account.excluded_rows()), (12, 12, 0, 0));
    // The CLI says the same.
    let out = clip_audit(&[
        "stimuli",
        "list",
        case.join("spec.yaml").to_str().unwrap(),
        "--set",
        &format!("model={}", model.display()),
    ]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("12 stimuli, 0 skipped") && stdout.contains("12 rows = 12 images + 0 skipped + 0 excluded"),
        "{stdout}"
    );
}

/// A manifest in `dir` (CSV or JSONL) of swatch rows, and a spec over it.
fn swatch_case(dir: &std::path::Path, rows: &[(&str, &str)], jsonl: bool, extra: &str) -> std::path::PathBuf {
    let case = root().join("fixtures/cases/manifest-member-key");
    std::fs::copy(case.join("library.yaml"), dir.join("library.yaml")).unwrap();
    let images = case.join("images");
    let manifest = if jsonl {
        let lines: Vec<String> =
            rows.iter().map(|(f, c)| serde_json::json!({"file": images.join(f), "colour": c}).to_string()).collect();
        std::fs::write(dir.join("labels.jsonl"), lines.join("\n") + "\n").unwrap();
        "labels.jsonl"
    } else {
        let mut text = "file,colour\n".to_owned();
        for (f, c) in rows {
            text.push_str(&format!("{},{c}\n", images.join(f).display()));
        }
        std::fs::write(dir.join("labels.csv"), text).unwrap();
        "labels.csv"
    };
    let spec = dir.join("spec.yaml");
    std::fs::write(
        &spec,
        format!(
            "audit: rows\nmodel:\n  bundle: {}/fixtures/models/tiny-clip\nprobes:\n  - library: library.yaml\n    family: swatches\n{extra}    stimuli:\n      images:\n        - manifest: {manifest}\n          member_column: colour\n",
            root().display()
        ),
    )
    .unwrap();
    spec
}

/// Every manifest row is an image, skipped with a reason, or excluded by the spec: a value
/// spelled differently from the library (as a FairFace export with `Latino Hispanic` for
/// `Latino_Hispanic`) is a warning at the spec's line when validating and a skipped row with
/// the nearest member when expanding, never a silent loss; in CSV and in JSONL.
#[test]
fn manifest_rows_that_name_no_member_are_skipped_with_a_reason_and_validate_warns() {
    let rows = [
        ("amber_0.png", "Amber yellow"),
        ("amber_1.png", "Amber Yellow"),
        ("amber_2.png", "Amber Yellow"),
        ("teal_0.png", "Deep teal"),
        ("teal_1.png", "Deep_teal"),
        ("plum_0.png", "Plum purple"),
        ("plum_1.png", "Plum purple"),
    ];
    for jsonl in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        // `plum` is left out by the spec's own member selection.
        let spec_path = swatch_case(dir.path(), &rows, jsonl, "    members: [amber, teal]\n");
        let spec = AuditSpec::load(&spec_path, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.warnings.0.len(), 1, "{}", spec.warnings);
        let warning = spec.warnings.0[0].to_string();
        assert!(warning.starts_with("warning[I008]"), "{warning}");
        assert!(warning.contains("3 of 7 rows"), "{warning}");
        // Lines as in the file: CSV has a header line, JSONL none.
        let header = usize::from(!jsonl);
        let (amber_line, teal_line) = (2 + header, 5 + header);
        assert!(
            warning.contains(&format!("\"Amber Yellow\" (2 rows, first at line {amber_line}, nearest `Amber yellow`)")),
            "{warning}"
        );
        assert!(
            warning.contains(&format!("\"Deep_teal\" (1 row, first at line {teal_line}, nearest `Deep teal`)")),
            "{warning}"
        );
        assert!(warning.contains(&format!("{}:11:", spec_path.display())), "points at `member_column`: {warning}");

        let set = expand(&spec, 32);
        let account = &set.sources[0];
        assert_eq!(account.rows, 7);
        assert_eq!(account.images, 2, "amber_0 and teal_0");
        assert_eq!(account.skipped, 3);
        assert_eq!(account.excluded_rows(), 2);
        assert_eq!(account.excluded.get("member `plum` not selected by the spec"), Some(&2));
        assert!(account.balances());
        assert_eq!(set.skipped.len(), 3);
        let reason = &set
            .skipped
            .iter()
            .find(|s| s.source.ends_with(&format!(":{teal_line}")))
            .expect("teal row skipped")
            .reason;
        assert!(
            reason.contains("\"Deep_teal\" is not the name or id of any member of `swatches` (nearest: \"Deep teal\")"),
            "{reason}"
        );

        // validate prints the warning and still passes.
        let out = clip_audit(&["validate", spec_path.to_str().unwrap()]);
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("1 warning") && stderr.contains("warning[I008]"), "{stdout}\n{stderr}");
    }
}

#[test]
fn limits_and_unknown_member_keys_are_accounted_for_or_refused() {
    let rows: Vec<(String, &str)> = (0..4).map(|i| (format!("amber_{i}.png"), "amber")).collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(f, c)| (f.as_str(), *c)).collect();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = swatch_case(dir.path(), &rows, false, "");
    let text = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(
        &spec_path,
        text.replace(
            "member_column: colour\n",
            "member_column: colour\n          member_key: id\n          limit: 3\n",
        ),
    )
    .unwrap();
    let set = expand(&AuditSpec::load(&spec_path, &[]).unwrap(), 32);
    let account = &set.sources[0];
    assert_eq!((account.rows, account.images, account.skipped), (4, 3, 0));
    assert_eq!(account.excluded.get("past `limit: 3`"), Some(&1));
    assert!(account.balances());
    // A member_key no member has is an error naming the keys that exist.
    std::fs::write(
        &spec_path,
        text.replace("member_column: colour\n", "member_column: colour\n          member_key: ids\n"),
    )
    .unwrap();
    match AuditSpec::load(&spec_path, &[]) {
        Err(clip_audit::spec::SpecError::Invalid(d)) => assert!(d.0.iter().any(|x| x.code == "I007"), "{d}"),
        other => panic!("an unknown member_key must be refused: {other:?}"),
    }
    let out = clip_audit(&["validate", spec_path.to_str().unwrap()]);
    let stderr = texts(&out).1;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("error[I007]") && stderr.contains("did you mean `id`?"), "{stderr}");
}

#[test]
fn every_shipped_audit_accounts_for_every_image_source_row() {
    for entry in std::fs::read_dir(root().join("audits")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let spec = AuditSpec::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let set = expand(&spec, 32);
        for account in &set.sources {
            assert!(account.balances(), "{}: {}", path.display(), account.line());
        }
        let images = set.stimuli.iter().filter(|s| s.modality == Modality::Image).count();
        assert_eq!(images, set.sources.iter().map(|a| a.images).sum::<usize>(), "{}", path.display());
    }
}

/// A record with the wrong number of fields costs that record, not the manifest: validate
/// warns (I009) naming its line, expansion skips it with the reason, and the rest are images.
#[test]
fn an_unreadable_manifest_record_is_skipped_alone() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [("amber_0.png", "amber"), ("teal_0.png", "teal"), ("plum_0.png", "plum")];
    let spec_path = swatch_case(dir.path(), &rows, false, "");
    let csv = std::fs::read_to_string(dir.path().join("labels.csv")).unwrap();
    let broken = csv.replacen(",teal\n", ",teal,extra\n", 1);
    std::fs::write(dir.path().join("labels.csv"), broken).unwrap();
    let spec = AuditSpec::load(&spec_path, &[]).unwrap_or_else(|e| panic!("{e}"));
    let warning = spec.warnings.0.iter().find(|w| w.code == "I009").expect("I009").to_string();
    assert!(
        warning.contains("1 of 3 records") && warning.contains("line 3: 3 fields where the header has 2"),
        "{warning}"
    );
    let set = expand(&spec, 32);
    let account = &set.sources[0];
    assert_eq!((account.rows, account.images, account.skipped), (3, 2, 1));
    assert!(account.balances());
    assert!(set.skipped[0].source.ends_with("labels.csv:3") && set.skipped[0].reason.contains("unreadable record"));
}
