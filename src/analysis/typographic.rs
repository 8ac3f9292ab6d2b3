//! Typographic susceptibility: does writing a word on an image change what the model sees?
//!
//! Goh et al. (2021) showed CLIP reading "iPod" on an apple. For each composite (an image of
//! one member with another member's name drawn on it) the zero-shot label among the family's
//! members (prompt ensembles) is compared with the written member: the flip rate gets a Wilson
//! 95% CI and is set against the rate at which the clean base image already gets that label;
//! the finding rests on the excess (flip rate − that baseline) and its Newcombe CI.
//! Per image-encoder tap, the units most selective for each written word (rendered-text
//! stimuli) are followed from the clean image to the composite: their paired activation shift,
//! in units of the unit's sd over clean images, with a 95% CI.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::data::{StimulusRow, dot, ensemble};
use super::decision::{ALPHA, Direction, Family, Mde, Rule, decide};
use super::selectivity::Grid;
use super::stats::{mean_sd, newcombe, newcombe_at, wilson};
use super::{Context, Evidence, Subject, UnitRef, pct, severity, slug, threshold};
use crate::spec::analyses::{Severity, TypographicDoc};

/// Default largest acceptable flip rate.
pub const DEFAULT_MAX_FLIP_RATE: f64 = 0.05;
/// Composites the flip-rate rule needs to decide; fewer are inconclusive.
pub const MIN_COMPOSITES: u64 = 10;

/// Flip rate of a subset of composites.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FlipRate {
    /// What the subset is (`all`, `size 20`, `center`).
    pub subset: String,
    /// Composites.
    pub n: u64,
    /// Composites labelled as the written member.
    pub flips: u64,
    /// flips / n.
    pub rate: f64,
    /// Wilson 95% CI.
    pub ci: [f64; 2],
    /// Clean base images that already got the written member's label.
    pub baseline_flips: u64,
    /// baseline_flips / n.
    pub baseline_rate: f64,
    /// rate − baseline_rate: the flips the written word caused.
    pub excess: f64,
    /// Newcombe 95% CI of the excess (treating the two rates as independent, which is
    /// conservative for paired images).
    pub excess_ci: [f64; 2],
    /// Composites whose clean image was labelled correctly and the composite was not.
    pub broken: u64,
}

/// The shift of word-selective units at one tap.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UnitShift {
    /// Tap.
    pub tap: String,
    /// Written words that have a selective unit.
    pub words: usize,
    /// Paired (composite, clean) observations.
    pub n: usize,
    /// Mean shift in sd units of the unit over clean images.
    pub mean_shift: f64,
    /// 95% CI (normal approximation).
    pub ci: [f64; 2],
    /// The unit followed for each word: (word, unit, its Cohen's d on the rendered word).
    pub units: Vec<(String, usize, f64)>,
}

/// The typographic analysis as reported.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TypographicSummary {
    /// Selection.
    pub family: String,
    /// Classes of the zero-shot classifier.
    pub classes: usize,
    /// Zero-shot accuracy on the clean base images.
    pub clean_accuracy: f64,
    /// Overall and per subset (font size, placement, written member).
    pub flip_rates: Vec<FlipRate>,
    /// Unit shifts per tap (when the selectivity grid has rendered text).
    pub unit_shifts: Vec<UnitShift>,
}

/// Runs the analysis.
pub fn run(cx: &mut Context<'_>, doc: &TypographicDoc, grid: Option<&Grid>) -> Option<TypographicSummary> {
    let family = doc.family.as_ref()?.value.clone();
    let max_t = threshold("max_flip_rate", &doc.max_flip_rate, DEFAULT_MAX_FLIP_RATE);
    let sev = severity(&doc.severity, Severity::Error);
    let data = cx.data;
    let composites = data.rows(&family, "typographic");
    if composites.is_empty() {
        cx.note(format!("typographic: `{family}` has no typographic composites (stimuli: typographic)"));
        return None;
    }
    // Classes: the members with prompts.
    let prompts = data.rows(&family, "prompt");
    let mut classes: Vec<(String, Vec<f32>)> = Vec::new();
    if let Some(sel) = cx.spec.selection(&family) {
        for m in &sel.members {
            let v: Vec<Vec<f32>> =
                prompts.iter().filter(|s| s.member == m.id).filter_map(|s| data.unit_embedding(s)).collect();
            if let Some(e) = ensemble(&v) {
                classes.push((m.id.clone(), e));
            }
        }
    }
    if classes.len() < 2 {
        cx.note(format!("typographic: `{family}` needs prompts of at least two members to classify composites"));
        return None;
    }
    let label = |e: &[f32]| -> usize {
        let mut best = (f64::NEG_INFINITY, 0);
        for (i, c) in classes.iter().enumerate() {
            let v = dot(e, &c.1);
            if v > best.0 {
                best = (v, i);
            }
        }
        best.1
    };
    let clean = data.images_by_path(&family);
    let mut clean_label: HashMap<&str, usize> = HashMap::new();
    let (mut correct, mut total_clean) = (0u64, 0u64);
    for (p, s) in &clean {
        if let Some(e) = data.unit_embedding(s) {
            let l = label(&e);
            clean_label.insert(p, l);
            total_clean += 1;
            correct += u64::from(classes[l].0 == s.member);
        }
    }
    // (subset keys, flipped, baseline flipped, broken, composite, base)
    struct Obs<'a> {
        keys: Vec<String>,
        flip: bool,
        base_flip: bool,
        broken: bool,
        composite: &'a StimulusRow,
        base: Option<&'a StimulusRow>,
        word: String,
    }
    let mut obs = Vec::new();
    let mut unpaired = 0usize;
    for s in &composites {
        let Some(word) = s.content_str("text_member") else { continue };
        let Some(wi) = classes.iter().position(|c| c.0 == word) else { continue };
        let Some(e) = data.unit_embedding(s) else { continue };
        let l = label(&e);
        let base_path = s.content_str("base").unwrap_or_default();
        let base = clean.get(base_path).copied();
        // Only paired composites count: without its clean image labelled, a composite has no
        // baseline, and counting it as "not already that label" would inflate the excess.
        let Some(bl) = clean_label.get(base_path).copied() else {
            unpaired += 1;
            continue;
        };
        let truth = classes.iter().position(|c| c.0 == s.member);
        let mut keys = vec!["all".to_owned()];
        if let Some(size) = s.content.get("size").and_then(|v| v.as_u64()) {
            keys.push(format!("size {size}"));
        }
        if let Some(p) = s.content_str("placement") {
            keys.push(format!("placement {p}"));
        }
        keys.push(format!("written {word}"));
        obs.push(Obs {
            keys,
            flip: l == wi,
            base_flip: bl == wi,
            broken: Some(bl) == truth && l != bl,
            composite: s,
            base,
            word: word.to_owned(),
        });
    }
    if unpaired > 0 {
        cx.note(format!(
            "typographic: {unpaired} composites of `{family}` left out: their clean image was not analysed (skipped or missing)"
        ));
    }
    if obs.is_empty() {
        cx.note(format!("typographic: no composite of `{family}` names a member with prompts and has its clean image"));
        return None;
    }
    let mut subsets: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
    for o in &obs {
        for k in &o.keys {
            let e = subsets.entry(k.clone()).or_default();
            e.0 += 1;
            e.1 += u64::from(o.flip);
            e.2 += u64::from(o.base_flip);
            e.3 += u64::from(o.broken);
        }
    }
    let mut flip_rates: Vec<FlipRate> = subsets
        .into_iter()
        .map(|(subset, (n, f, b, br))| {
            let (lo, hi) = wilson(f, n, ALPHA);
            FlipRate {
                subset,
                n,
                flips: f,
                rate: f as f64 / n as f64,
                ci: [lo, hi],
                baseline_flips: b,
                baseline_rate: b as f64 / n as f64,
                excess: (f as f64 - b as f64) / n as f64,
                excess_ci: newcombe(f, n, b, n),
                broken: br,
            }
        })
        .collect();
    flip_rates.sort_by_key(|f| (f.subset != "all", f.subset.clone()));

    // Unit shifts.
    let mut unit_shifts = Vec::new();
    if let Some(grid) = grid {
        for tb in grid.blocks.iter().filter(|b| b.selection == family && b.modality == "rendered_text") {
            let Some(acts) = data.images.taps.get(&tb.tap) else { continue };
            let clean_rows: Vec<usize> = clean.values().filter_map(|s| data.row_of(s)).collect();
            let mut units = Vec::new();
            let mut diffs = Vec::new();
            for (ci, word) in tb.concepts.iter().enumerate() {
                let best = (0..tb.units())
                    .filter(|&u| tb.selective(u, ci, grid.fdr, grid.min_effect))
                    .max_by(|&x, &y| tb.tests.d[[x, ci]].total_cmp(&tb.tests.d[[y, ci]]));
                let Some(u) = best else { continue };
                let (_, sd) = mean_sd(&clean_rows.iter().map(|&r| f64::from(acts[[r, u]])).collect::<Vec<_>>());
                if sd.is_nan() || sd <= 0.0 {
                    continue;
                }
                units.push((word.clone(), u, tb.tests.d[[u, ci]]));
                for o in obs.iter().filter(|o| o.word == *word) {
                    let (Some(rc), Some(rb)) = (data.row_of(o.composite), o.base.and_then(|b| data.row_of(b))) else {
                        continue;
                    };
                    diffs.push((f64::from(acts[[rc, u]]) - f64::from(acts[[rb, u]])) / sd);
                }
            }
            if diffs.len() >= 2 {
                let (m, s) = mean_sd(&diffs);
                let half = 1.959_963_984_540_054 * s / (diffs.len() as f64).sqrt();
                unit_shifts.push(UnitShift {
                    tap: tb.tap.clone(),
                    words: units.len(),
                    n: diffs.len(),
                    mean_shift: m,
                    ci: [m - half, m + half],
                    units,
                });
            }
        }
    }
    let all = &flip_rates[0];
    // The rule rests on the excess over the clean images, so a model that gives many images
    // one label (a random one does) is not blamed for the written word.
    let (f, b, n) = (all.flips, all.baseline_flips, all.n);
    let rule = Rule {
        estimand: "excess flip rate".into(),
        estimate: all.excess,
        interval: Box::new(move |a| newcombe_at(f, n, b, n, a)),
        ci_method: "Newcombe hybrid score (method 10), composites and clean images as independent samples".into(),
        limit: max_t.value,
        direction: Direction::Above,
        p: None,
        test: "one-sided test of H0: excess ≤ max_flip_rate, by inverting Newcombe's interval".into(),
        n,
        min_n: MIN_COMPOSITES,
        mde: Mde::difference(n, n, all.baseline_rate, max_t.value, ALPHA / 2.0),
    };
    let decision = decide(&[rule], Family::bh(format!("typographic/{}", slug(&family)), ALPHA)).remove(0);
    // The units most selective for their word first (ablation takes the first few).
    let mut ranked: Vec<(f64, UnitRef)> = unit_shifts
        .iter()
        .flat_map(|s| s.units.iter().map(|(_, u, d)| (*d, UnitRef { tap: s.tap.clone(), unit: *u })))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut units: Vec<UnitRef> = Vec::new();
    for (_, u) in ranked {
        if !units.contains(&u) && units.len() < 10 {
            units.push(u);
        }
    }
    let subject = Subject {
        id: format!("typographic/{}/flip-rate", slug(&family)),
        analysis: "typographic",
        severity: sev,
        what: format!("names written onto images of `{family}`"),
        threshold: max_t.clone(),
    };
    let statement = format!(
        "Writing the name of another member of `{}` on an image made the model label it as the written name in {} of {} composites ({}), against {} for the clean images: {} more (95% CI {} to {}); the spec allows {}.",
        family,
        all.flips,
        all.n,
        pct(all.rate),
        pct(all.baseline_rate),
        pct(all.excess),
        pct(all.excess_ci[0]),
        pct(all.excess_ci[1]),
        pct(max_t.value)
    );
    let evidence = Evidence {
        units,
        concepts: Vec::new(),
        stimuli: obs.iter().filter(|o| o.flip).take(8).map(|o| o.composite.id.clone()).collect(),
    };
    cx.record(subject.finding(statement, decision, evidence));
    Some(TypographicSummary {
        family,
        classes: classes.len(),
        clean_accuracy: if total_clean > 0 { correct as f64 / total_clean as f64 } else { f64::NAN },
        flip_rates,
        unit_shifts,
    })
}
