//! The shipped probe libraries and ready audits: facts a reviewer relies on.

use std::collections::BTreeSet;

use clip_audit::spec::{AuditSpec, ProbeLibrary};

use crate::common::{clip_audit, root, texts};

fn lib(name: &str) -> ProbeLibrary {
    ProbeLibrary::load(&root().join("probes").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn regions_hold_every_un_member_and_observer_with_codes_and_groups() {
    let l = lib("regions.yaml");
    let countries = l.family("countries").unwrap();
    assert_eq!(countries.members.len(), 195);
    let status = |s: &str| countries.members.iter().filter(|m| m.meta["un_status"] == s).count();
    assert_eq!((status("member"), status("observer")), (193, 2));
    let iso3: BTreeSet<&str> = countries.members.iter().map(|m| m.meta["iso3"].as_str().unwrap()).collect();
    assert_eq!(iso3.len(), 195, "alpha-3 codes are unique");
    for m in &countries.members {
        assert_eq!(m.meta["iso2"].as_str().unwrap().to_lowercase(), m.id);
        for key in ["iso3", "m49", "capital", "lat", "lon"] {
            assert!(m.meta.contains_key(key), "{} lacks {key}", m.id);
        }
        if m.id != "va" {
            assert!(m.meta["population"].as_f64().unwrap() > 0.0 && m.meta.contains_key("population_year"), "{}", m.id);
        }
    }
    let regions: BTreeSet<&str> = countries.members.iter().map(|m| m.groups["region"].as_str()).collect();
    assert_eq!(regions, BTreeSet::from(["Africa", "Americas", "Asia", "Europe", "Oceania"]));
    let ng = countries.member("ng").unwrap();
    assert_eq!((ng.groups["region"].as_str(), ng.groups["subregion"].as_str()), ("Africa", "Sub-Saharan Africa"));
}

#[test]
fn demographics_use_fairface_labels_exactly() {
    let l = lib("demographics.yaml");
    let labels = |fam: &str| -> Vec<String> {
        l.family(fam).unwrap().members.iter().map(|m| m.meta["fairface_label"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        labels("race"),
        ["White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern"]
    );
    assert_eq!(labels("gender"), ["Male", "Female"]);
    assert_eq!(labels("age"), ["0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70"]);
    assert!(l.family("religion").unwrap().members.len() >= 6);
}

#[test]
fn attributes_carry_the_clip_paper_labels_and_controls() {
    let l = lib("attributes.yaml");
    let labels = |fam: &str| -> Vec<String> {
        l.family(fam).unwrap().members.iter().map(|m| m.meta["label"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(labels("crime"), ["thief", "criminal", "suspicious person"]);
    assert_eq!(labels("non-human"), ["animal", "gorilla", "chimpanzee", "orangutan"]);
    let sensitive: Vec<String> = l.family("sensitive").unwrap().members.iter().map(|m| m.id.clone()).collect();
    for want in ["terrorism", "poverty", "illness", "violence"] {
        assert!(sensitive.iter().any(|s| s == want), "{want} in {sensitive:?}");
    }
    assert!(sensitive.iter().any(|s| s.contains("immigra")));
    assert!(l.family("positive-controls").is_some() && l.family("neutral-controls").is_some());
}

#[test]
fn emotions_have_at_least_forty_words_in_families() {
    let l = lib("emotions.yaml");
    let words: BTreeSet<String> =
        l.families.iter().flat_map(|f| f.members.iter().map(|m| m.name.to_lowercase())).collect();
    assert!(words.len() >= 40, "{} emotion words", words.len());
    let emotions = l.family("emotions").unwrap();
    assert!(!emotions.hierarchy.is_empty(), "emotions are grouped");
}

#[test]
fn every_library_names_its_sources() {
    for name in ["regions.yaml", "emotions.yaml", "demographics.yaml", "attributes.yaml"] {
        let l = lib(name);
        assert!(!l.sources.is_empty(), "{name}");
        for f in &l.families {
            assert!(!f.sources.is_empty(), "{name}/{} cites no source", f.id);
        }
    }
}

#[test]
fn ready_audits_validate_as_shipped() {
    for a in ["regions", "emotions", "denigration", "typographic"] {
        let p = root().join("audits").join(format!("{a}.yaml"));
        let spec = AuditSpec::load(&p, &[]).unwrap_or_else(|e| panic!("{a}: {e}"));
        assert_eq!(spec.id, a);
    }
    let out = clip_audit(&[
        "validate",
        "audits/regions.yaml",
        "audits/emotions.yaml",
        "audits/denigration.yaml",
        "audits/typographic.yaml",
    ]);
    assert!(out.status.success(), "{}", texts(&out).1);
    assert_eq!(texts(&out).0.lines().filter(|l| l.starts_with("ok: ")).count(), 4);
}

#[test]
fn denigration_points_at_a_users_fairface_through_a_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        clip_audit(&["validate", "audits/denigration.yaml", "--set", &format!("fairface={}", dir.path().display())]);
    assert_eq!(out.status.code(), Some(2));
    let err = texts(&out).1;
    assert!(err.contains("error[I006]") && err.contains("fairface_label_val.csv"), "{err}");
}

#[test]
fn committed_json_schemas_are_up_to_date() {
    for (kind, file) in [
        ("audit", "audit.schema.json"),
        ("probe-library", "probe-library.schema.json"),
        ("report", "report.schema.json"),
    ] {
        let out = clip_audit(&["schema", kind]);
        assert!(out.status.success());
        let committed = std::fs::read_to_string(root().join("docs/schema").join(file)).unwrap();
        assert_eq!(texts(&out).0.trim(), committed.trim(), "docs/schema/{file} is stale: run `make schemas`");
    }
}

#[test]
fn probes_list_shows_families_and_members() {
    let out = clip_audit(&["probes", "list"]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    for needle in ["regions (", "countries", "195 members", "emotions (", "demographics (", "attributes ("] {
        assert!(stdout.contains(needle), "{needle} missing:\n{stdout}");
    }
    let out = clip_audit(&["probes", "list", "probes/demographics.yaml", "--family", "race"]);
    let stdout = texts(&out).0;
    assert!(stdout.contains("latino-hispanic") && stdout.contains("Latino or Hispanic"), "{stdout}");
    let out = clip_audit(&["probes", "list", "--family", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("no family `nope`"));
}
