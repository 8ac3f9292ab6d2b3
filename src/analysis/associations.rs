//! Stereotype associations between group concepts and sensitive attributes.
//!
//! Two readings. At the embedding level, the image version of Caliskan et al.'s WEAT (Steed &
//! Caliskan's iEAT): for each group member g and attribute a, the images of g (X) against the
//! images of the other groups (Y), measured by their cosine to the prompts of a (A) against the
//! prompts of the control attributes (B); effect size, one-sided permutation p (exact when
//! the partitions are few, otherwise seeded random partitions) and percentile bootstrap CI.
//! Each pair is a check of the decision layer ([`super::decision`]): the effect size against
//! `max_effect_size` on the bootstrap interval (its one-sided p found by inverting the
//! interval), Benjamini-Hochberg at `fdr` over the entry's group × attribute pairs, groups under
//! [`MIN_GROUP_IMAGES`] images inconclusive. Images are resampled one by one: images of one
//! member pooled into a `level` group are not independent, which this interval does not yet
//! model (docs/analyses.md). At the unit level, *bridge units*:
//! units selective both for a group concept and for an attribute, with both effect sizes.

use rayon::prelude::*;
use serde::Serialize;

use super::decision::{ALPHA, Direction, Family, Mde, Rule, Verdict, decide};
use super::selectivity::Grid;
use super::stats::{Rng, percentile_interval, weat, weat_scores};
use super::{Context, Evidence, Subject, UnitRef, r2, severity, slug, threshold};
use crate::spec::analyses::{AssociationsDoc, Severity};

/// Default permutations.
pub const DEFAULT_PERMUTATIONS: u64 = 10_000;
/// Default bootstrap resamples.
pub const DEFAULT_BOOTSTRAP: u64 = 2_000;
/// Default largest acceptable effect size.
pub const DEFAULT_MAX_EFFECT: f64 = 0.5;
/// Images a group needs for its tests to be decided; fewer are inconclusive.
pub const MIN_GROUP_IMAGES: u64 = 5;

/// One group × attribute test.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AssociationTest {
    /// Group member.
    pub group: String,
    /// Attribute member.
    pub attribute: String,
    /// Images of the group.
    pub n_group: usize,
    /// Images of the other groups.
    pub n_rest: usize,
    /// WEAT effect size.
    pub effect_size: f64,
    /// Bootstrap 95% CI of the effect size.
    pub ci: [f64; 2],
    /// Test statistic Σ_X s − Σ_Y s.
    pub statistic: f64,
    /// One-sided permutation p (against no association; for reference).
    pub p: f64,
    /// Whether p is exact (all partitions).
    pub exact: bool,
    /// One-sided p of H0: effect size ≤ `max_effect_size` (the bootstrap interval inverted).
    pub p_limit: f64,
    /// `p_limit` corrected by Benjamini-Hochberg over the entry's group × attribute pairs.
    pub q: f64,
    /// The decision's verdict.
    pub verdict: Verdict,
}

/// A unit selective for a group and an attribute.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct BridgeUnit {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// Group member.
    pub group: String,
    /// Cohen's d for the group (images).
    pub group_d: f64,
    /// Attribute member.
    pub attribute: String,
    /// Modality of the attribute's stimuli.
    pub attribute_modality: String,
    /// Cohen's d for the attribute.
    pub attribute_d: f64,
}

/// One `associations:` entry as reported.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AssociationSummary {
    /// Groups selection.
    pub groups: String,
    /// Attributes selection.
    pub attributes: String,
    /// Controls selection.
    pub controls: String,
    /// Permutations per test.
    pub permutations: u64,
    /// Bootstrap resamples per test.
    pub bootstrap: u64,
    /// FDR.
    pub fdr: f64,
    /// Every test, largest effect first.
    pub tests: Vec<AssociationTest>,
    /// Bridge units (when the selectivity grid was computed), largest combined d first.
    pub bridge_units: Vec<BridgeUnit>,
}

fn seed_for(seed: u64, group: &str, attribute: &str) -> u64 {
    let h = crate::run::provenance::short_hash(format!("{seed}\0{group}\0{attribute}").as_bytes());
    u64::from_str_radix(&h[..16.min(h.len())], 16).unwrap_or(seed)
}

/// Runs one entry.
pub fn run(cx: &mut Context<'_>, doc: &AssociationsDoc, grid: Option<&Grid>) -> Option<AssociationSummary> {
    let (Some(groups), Some(attributes), Some(controls)) = (&doc.groups, &doc.attributes, &doc.controls) else {
        cx.note("associations: an entry needs groups, attributes and controls");
        return None;
    };
    let (groups, attributes, controls) = (groups.value.clone(), attributes.value.clone(), controls.value.clone());
    let permutations = doc.permutations.as_ref().map_or(DEFAULT_PERMUTATIONS, |v| v.value);
    let bootstrap = doc.bootstrap.as_ref().map_or(DEFAULT_BOOTSTRAP, |v| v.value);
    let fdr = doc.fdr.as_ref().map_or(0.05, |v| v.value);
    let max_t = threshold("max_effect_size", &doc.max_effect_size, DEFAULT_MAX_EFFECT);
    let sev = severity(&doc.severity, Severity::Error);
    let data = cx.data;
    let images = data.rows(&groups, "image");
    if images.is_empty() {
        cx.note(format!(
            "associations: `{groups}` has no image stimuli; the embedding test needs images of the groups"
        ));
        return None;
    }
    let emb = |s: &super::data::StimulusRow| data.row_of(s).map(|r| data.table_of(s).embeddings.row(r).to_vec());
    // The group of an image: its member, or the member's group at `level`.
    let level = doc.level.as_ref().map(|l| l.value.clone());
    let members: std::collections::HashMap<String, crate::spec::probe::Member> = cx
        .spec
        .selection(&groups)
        .map(|s| s.members.iter().map(|m| (m.id.clone(), m.clone())).collect())
        .unwrap_or_default();
    let group_of = |s: &super::data::StimulusRow| -> Option<String> {
        match &level {
            None => Some(s.member.clone()),
            Some(l) => members.get(&s.member)?.groups.get(l).cloned(),
        }
    };
    if let Some(l) = &level
        && images.iter().all(|s| group_of(s).is_none())
    {
        cx.note(format!("associations: the members of `{groups}` have no `{l}` level"));
        return None;
    }
    let targets: Vec<(String, Vec<f32>)> = images.iter().filter_map(|s| Some((group_of(s)?, emb(s)?))).collect();
    let control_vecs: Vec<Vec<f32>> = data.rows(&controls, "prompt").iter().filter_map(|s| emb(s)).collect();
    if control_vecs.is_empty() {
        cx.note(format!("associations: `{controls}` has no prompts to measure against"));
        return None;
    }
    let attr_members: Vec<String> =
        cx.spec.selection(&attributes).map(|s| s.members.iter().map(|m| m.id.clone()).collect()).unwrap_or_default();
    let attr_prompts = data.rows(&attributes, "prompt");
    let mut group_members: Vec<String> = targets.iter().map(|t| t.0.clone()).collect();
    group_members.sort();
    group_members.dedup();
    let target_refs: Vec<&[f32]> = targets.iter().map(|t| t.1.as_slice()).collect();
    let b_refs: Vec<&[f32]> = control_vecs.iter().map(|v| v.as_slice()).collect();
    // Scores once per attribute; the tests index them.
    let mut scores_of: Vec<Vec<f64>> = Vec::new();
    let mut jobs: Vec<(String, String, usize)> = Vec::new();
    for a in &attr_members {
        let a_vecs: Vec<Vec<f32>> = attr_prompts.iter().filter(|s| s.member == *a).filter_map(|s| emb(s)).collect();
        if a_vecs.is_empty() {
            continue;
        }
        let a_refs: Vec<&[f32]> = a_vecs.iter().map(|v| v.as_slice()).collect();
        scores_of.push(weat_scores(&target_refs, &a_refs, &b_refs));
        for g in &group_members {
            jobs.push((g.clone(), a.clone(), scores_of.len() - 1));
        }
    }
    if jobs.is_empty() {
        cx.note(format!("associations: `{attributes}` has no prompts"));
        return None;
    }
    let seed = cx.spec.seed;
    let (mut tests, boots): (Vec<AssociationTest>, Vec<Vec<f64>>) = jobs
        .par_iter()
        .map(|(g, a, k)| {
            let (mut sx, mut sy) = (Vec::new(), Vec::new());
            for (t, s) in targets.iter().zip(&scores_of[*k]) {
                if t.0 == *g { sx.push(*s) } else { sy.push(*s) }
            }
            let mut rng = Rng::new(seed_for(seed, g, a));
            let w = weat(&sx, &sy, permutations, bootstrap, ALPHA, &mut rng);
            let test = AssociationTest {
                group: g.clone(),
                attribute: a.clone(),
                n_group: sx.len(),
                n_rest: sy.len(),
                effect_size: w.effect_size,
                ci: [w.ci.0, w.ci.1],
                statistic: w.statistic,
                p: w.p,
                exact: w.exact,
                p_limit: f64::NAN,
                q: f64::NAN,
                verdict: Verdict::Inconclusive,
            };
            (test, w.bootstrap)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .unzip();
    let rules: Vec<Rule<'_>> = tests
        .iter()
        .zip(&boots)
        .map(|(t, boot)| Rule {
            estimand: "WEAT effect size".into(),
            estimate: t.effect_size,
            interval: Box::new(move |a| percentile_interval(boot, a)),
            ci_method: format!("percentile bootstrap ({} resamples)", boot.len()),
            limit: max_t.value,
            direction: Direction::Above,
            p: None,
            test: "one-sided test of H0: effect size ≤ max_effect_size, by inverting the bootstrap interval".into(),
            n: t.n_group as u64,
            min_n: MIN_GROUP_IMAGES,
            mde: Mde::standardized(t.n_group as u64, t.n_rest as u64, max_t.value, fdr / 2.0),
        })
        .collect();
    let decisions = decide(&rules, Family::bh(format!("associations/{}", slug(&groups)), fdr));
    drop(rules);
    for (t, d) in tests.iter_mut().zip(&decisions) {
        t.p_limit = d.p;
        t.q = d.p_adjusted;
        t.verdict = d.verdict;
    }
    // Bridge units are found per member; with `level:` they count for the member's group.
    let group_of_member = |m: &str| -> Option<String> {
        match &level {
            None => Some(m.to_owned()),
            Some(l) => members.get(m)?.groups.get(l).cloned(),
        }
    };
    let bridge_units = grid.map(|g| bridges(g, &groups, &attributes, &group_of_member)).unwrap_or_default();
    for (t, decision) in tests.iter().zip(decisions) {
        let stimuli: Vec<String> = images
            .iter()
            .filter(|s| group_of(s).as_deref() == Some(t.group.as_str()))
            .take(8)
            .map(|s| s.id.clone())
            .collect();
        let subject = Subject {
            id: format!("associations/{}/{}/{}", slug(&groups), slug(&t.group), slug(&t.attribute)),
            analysis: "associations",
            severity: sev,
            what: format!("images of {} and \"{}\"", t.group, t.attribute),
            threshold: max_t.clone(),
        };
        let statement = format!(
            "Images of {} sit closer to \"{}\" than to the control attributes, compared with the other {}: WEAT effect size {} (bootstrap 95% CI {} to {}); the spec allows {}.",
            t.group,
            t.attribute,
            groups,
            r2(t.effect_size),
            r2(t.ci[0]),
            r2(t.ci[1]),
            r2(max_t.value)
        );
        let evidence = Evidence {
            // Bridge units that link the same pair, if any.
            units: bridge_units
                .iter()
                .filter(|b| b.group == t.group && b.attribute == t.attribute)
                .map(|b| UnitRef { tap: b.tap.clone(), unit: b.unit })
                .collect(),
            concepts: vec![t.group.clone(), t.attribute.clone()],
            stimuli,
        };
        cx.record(subject.finding(statement, decision, evidence));
    }
    let mut order: Vec<usize> = (0..tests.len()).collect();
    order.sort_by(|&x, &y| {
        tests[y].effect_size.total_cmp(&tests[x].effect_size).then_with(|| tests[x].group.cmp(&tests[y].group))
    });
    let tests: Vec<AssociationTest> = order.into_iter().map(|i| tests[i].clone()).collect();
    Some(AssociationSummary { groups, attributes, controls, permutations, bootstrap, fdr, tests, bridge_units })
}

fn bridges(grid: &Grid, groups: &str, attributes: &str, group_of: &dyn Fn(&str) -> Option<String>) -> Vec<BridgeUnit> {
    let mut out = Vec::new();
    for gb in grid.blocks.iter().filter(|b| b.selection == groups && b.modality == "image") {
        for ab in grid.blocks.iter().filter(|b| b.selection == attributes && b.tap == gb.tap) {
            for u in 0..gb.units() {
                for (gi, g) in gb.concepts.iter().enumerate() {
                    if !gb.selective(u, gi, grid.fdr, grid.min_effect) {
                        continue;
                    }
                    for (ai, a) in ab.concepts.iter().enumerate() {
                        if ab.selective(u, ai, grid.fdr, grid.min_effect) {
                            let Some(group) = group_of(g) else { continue };
                            out.push(BridgeUnit {
                                tap: gb.tap.clone(),
                                unit: u,
                                group,
                                group_d: gb.tests.d[[u, gi]],
                                attribute: a.clone(),
                                attribute_modality: ab.modality.clone(),
                                attribute_d: ab.tests.d[[u, ai]],
                            });
                        }
                    }
                }
            }
        }
    }
    out.sort_by(|x, y| (y.group_d + y.attribute_d).total_cmp(&(x.group_d + x.attribute_d)));
    // One entry per unit, group and attribute: the strongest member.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|b| seen.insert((b.tap.clone(), b.unit, b.group.clone(), b.attribute.clone())));
    out.truncate(100);
    out
}
