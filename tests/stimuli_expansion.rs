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
