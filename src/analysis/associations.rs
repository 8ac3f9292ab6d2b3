//! Stereotype associations between group concepts and sensitive attributes.
//!
//! Two readings. At the embedding level, the image version of Caliskan et al.'s WEAT (Steed &
//! Caliskan's iEAT): for each group member g and attribute a, the images of g (X) against the
//! images of the other groups (Y), measured by their cosine to the prompts of a (A) against the
//! prompts of the control attributes (B); effect size, one-sided permutation p (exact when
//! the partitions are few, otherwise seeded random partitions) and Welch's interval over the
//! images (or, with clusters, the cluster means) in units of the scores' sd.
//! Each pair is a check of the decision layer ([`super::decision`]): the effect size against
//! `max_effect_size` on the bootstrap interval (its one-sided p found by inverting the
//! interval), Benjamini-Hochberg at `fdr` over the entry's group × attribute pairs, groups under
//! [`MIN_GROUP_UNITS`] sampling units inconclusive.
//!
//! Images are not always independent: with `level:` a region's images are its countries'
//! images, and a manifest may hold several photos of one person. Then (`cluster_by`, default
//! `member` with `level:`) the cluster is the unit: the permutation test moves whole clusters,
//! the interval is Welch's over cluster means (a bootstrap over a handful of clusters
//! understates the spread), the design effect 1 + (m0 − 1)·ICC is reported, and a group needs
//! five clusters to be decided. At the unit level, *bridge units*:
//! units selective both for a group concept and for an attribute, with both effect sizes.

use crate::stimuli::Modality;
use rayon::prelude::*;
use serde::Serialize;

use super::Analysis as _;
use super::RunData;
use super::decision::{ALPHA, Direction, Family, Mde, Rule, Verdict, decide};
use super::ids;
use super::present::{AnalysisResult, Cell, Chart, Check, Interval, Part, Section, Table, ci, code, num, t, text};
use super::selectivity::Grid;
use super::stats::{Rng, TInterval, percentile_interval, weat_clustered, weat_effect, weat_scores};
use super::{Context, Evidence, Subject, UnitRef, r2, severity, threshold};
use crate::spec::analyses::{AssociationsDoc, Severity};

/// Default permutations.
pub const DEFAULT_PERMUTATIONS: u64 = 10_000;
/// Default bootstrap resamples.
pub const DEFAULT_BOOTSTRAP: u64 = 2_000;
/// Default largest acceptable effect size.
pub const DEFAULT_MAX_EFFECT: f64 = 0.5;
/// Sampling units (images, or clusters of images) a group needs for its tests to be decided;
/// fewer are inconclusive.
pub const MIN_GROUP_UNITS: u64 = 5;

/// One group × attribute test.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
    #[serde(deserialize_with = "crate::json::f64")]
    pub effect_size: f64,
    /// 95% CI of the effect size: percentile bootstrap of images, or with clusters Welch's
    /// interval over cluster means (in units of the scores' sd).
    #[serde(deserialize_with = "crate::json::pair")]
    pub ci: [f64; 2],
    /// Test statistic Σ_X s − Σ_Y s.
    #[serde(deserialize_with = "crate::json::f64")]
    pub statistic: f64,
    /// One-sided permutation p (against no association; for reference); with clusters, whole
    /// clusters move and the statistic is the difference of the sides' mean cluster means.
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
    /// Whether p is exact (all partitions).
    pub exact: bool,
    /// Clusters of the group's images and of the rest's (equal to the image counts when
    /// images are independent).
    pub clusters: [usize; 2],
    /// Design effect 1 + (m0 − 1)·ICC of the scores within clusters (1 without clusters).
    #[serde(deserialize_with = "crate::json::f64")]
    pub design_effect: f64,
    /// One-sided p of H0: effect size ≤ `max_effect_size` (Welch's t over cluster means when
    /// clustered, otherwise the bootstrap interval inverted).
    #[serde(deserialize_with = "crate::json::f64")]
    pub p_limit: f64,
    /// `p_limit` corrected by Benjamini-Hochberg over the entry's group × attribute pairs.
    #[serde(deserialize_with = "crate::json::f64")]
    pub q: f64,
    /// The decision's verdict.
    pub verdict: Verdict,
}

/// A unit selective for a group and an attribute.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct BridgeUnit {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// Group member.
    pub group: String,
    /// Cohen's d for the group (images).
    #[serde(deserialize_with = "crate::json::f64")]
    pub group_d: f64,
    /// Attribute member.
    pub attribute: String,
    /// Modality of the attribute's stimuli.
    pub attribute_modality: String,
    /// Cohen's d for the attribute.
    #[serde(deserialize_with = "crate::json::f64")]
    pub attribute_d: f64,
}

/// One `associations:` entry as reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
    #[serde(deserialize_with = "crate::json::f64")]
    pub fdr: f64,
    /// Every test, largest effect first.
    pub tests: Vec<AssociationTest>,
    /// Bridge units (when the selectivity grid was computed), largest combined d first.
    pub bridge_units: Vec<BridgeUnit>,
}

/// The seed of one group × attribute test, from the audit seed: each test draws its own stream.
pub fn seed_for(seed: u64, group: &str, attribute: &str) -> u64 {
    crate::hashing::seed_from(&format!("{seed}\0{group}\0{attribute}"), seed)
}

/// Runs one entry: every group × attribute pair's WEAT, decided in one family, and the bridge
/// units that link a group and an attribute.
pub fn run(cx: &mut Context<'_>, doc: &AssociationsDoc, grid: Option<&Grid>) -> Option<AssociationSummary> {
    let (Some(groups), Some(attributes), Some(controls)) = (&doc.groups, &doc.attributes, &doc.controls) else {
        cx.note("associations: an entry needs groups, attributes and controls");
        return None;
    };
    let (groups, attributes, controls) = (groups.value.clone(), attributes.value.clone(), controls.value.clone());
    let how = Resampling {
        clustered: false,
        permutations: doc.permutations.as_ref().map_or(DEFAULT_PERMUTATIONS, |v| v.value),
        bootstrap: doc.bootstrap.as_ref().map_or(DEFAULT_BOOTSTRAP, |v| v.value),
    };
    let fdr = doc.fdr.as_ref().map_or(0.05, |v| v.value);
    let max_t = threshold("max_effect_size", &doc.max_effect_size, DEFAULT_MAX_EFFECT);
    let inputs = match inputs(cx.data, cx.spec, doc) {
        Ok((inputs, notes)) => {
            cx.notes.extend(notes);
            inputs
        }
        Err(note) => {
            cx.note(note);
            return None;
        }
    };
    let how = Resampling { clustered: is_clustered(&inputs.cluster_by), ..how };
    let Some((mut tests, spreads)) = pair_tests(&inputs, &how, cx.spec.seed) else {
        cx.note(format!("associations: `{attributes}` has no prompts"));
        return None;
    };
    let family = Family::bh(ids::associations_family(&groups, &attributes), fdr);
    let decisions = decide_pairs(&mut tests, &spreads, max_t.value, &inputs.cluster_by, family);
    let bridge_units = grid.map(|g| entry_bridges(cx.spec, doc, g, &groups, &attributes)).unwrap_or_default();
    let sev = severity(&doc.severity, Severity::Error);
    for (t, decision) in tests.iter().zip(decisions) {
        let subject = Subject {
            id: ids::association(&groups, &t.group, &t.attribute),
            analysis: Associations::NAME,
            severity: sev,
            what: format!("images of {} and \"{}\"", t.group, t.attribute),
            threshold: max_t.clone(),
        };
        let statement = format!(
            "Images of {} sit closer to \"{}\" than to the control attributes, compared with the other {}: WEAT effect size {} (95% CI {} to {}, {}); the spec allows {}.",
            t.group,
            t.attribute,
            groups,
            r2(decision.estimate),
            r2(decision.ci[0]),
            r2(decision.ci[1]),
            decision.ci_method,
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
            stimuli: inputs.targets.iter().filter(|x| x.1 == t.group).take(8).map(|x| x.0.id.clone()).collect(),
        };
        cx.record(subject.finding(statement, decision, evidence));
    }
    tests.sort_by(|x, y| y.effect_size.total_cmp(&x.effect_size).then_with(|| x.group.cmp(&y.group)));
    let Resampling { permutations, bootstrap, .. } = how;
    Some(AssociationSummary { groups, attributes, controls, permutations, bootstrap, fdr, tests, bridge_units })
}

/// Every group × attribute pair's test, undecided, with its spread (in parallel; each pair draws
/// its own seeded stream). None when no attribute has prompts.
fn pair_tests(inputs: &Inputs<'_>, how: &Resampling, seed: u64) -> Option<(Vec<AssociationTest>, Vec<Spread>)> {
    let Inputs { targets, scores: scores_of, .. } = inputs;
    let mut group_members: Vec<String> = targets.iter().map(|t| t.1.clone()).collect();
    group_members.sort();
    group_members.dedup();
    let jobs: Vec<(&String, &String, usize)> =
        scores_of.iter().enumerate().flat_map(|(k, (a, _))| group_members.iter().map(move |g| (g, a, k))).collect();
    if jobs.is_empty() {
        return None;
    }
    Some(
        jobs.par_iter()
            .map(|&(g, a, k)| {
                let (mut x, mut y) = (Scores::default(), Scores::default());
                for (t, s) in targets.iter().zip(&scores_of[k].1) {
                    let side = if t.1 == *g { &mut x } else { &mut y };
                    side.scores.push(*s);
                    side.clusters.push(t.2);
                }
                pair_test(g, a, &x, &y, how, &mut Rng::new(seed_for(seed, g, a)))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .unzip(),
    )
}

/// The entry's bridge units. They are found per member; with `level:` they count for the
/// member's group.
fn entry_bridges(
    spec: &crate::spec::AuditSpec,
    doc: &AssociationsDoc,
    grid: &Grid,
    groups: &str,
    attributes: &str,
) -> Vec<BridgeUnit> {
    let level = doc.level.as_ref().map(|l| &l.value);
    let members: std::collections::HashMap<&str, &crate::spec::probe::Member> =
        spec.selection(groups).map(|s| s.members.iter().map(|m| (m.id.as_str(), m)).collect()).unwrap_or_default();
    let group_of_member = |m: &str| -> Option<String> {
        match &level {
            None => Some(m.to_owned()),
            Some(l) => members.get(m)?.groups.get(l.as_str()).cloned(),
        }
    };
    bridges(grid, groups, attributes, &group_of_member)
}

/// The WEAT effect size before and after a change to the model, measured on the same images:
/// `x` and `y` hold, per cluster of each side, the (before, after) score of each image. The
/// paired bootstrap resamples clusters once for both measurements and returns (before, after,
/// the percentile 95% interval of after − before).
pub fn paired_change(
    x: &[Vec<(f64, f64)>],
    y: &[Vec<(f64, f64)>],
    bootstrap: u64,
    rng: &mut Rng,
) -> (f64, f64, [f64; 2]) {
    let effect = |x: &[&Vec<(f64, f64)>], y: &[&Vec<(f64, f64)>], pick: fn(&(f64, f64)) -> f64| {
        let sx: Vec<f64> = x.iter().flat_map(|c| c.iter().map(pick)).collect();
        let sy: Vec<f64> = y.iter().flat_map(|c| c.iter().map(pick)).collect();
        weat_effect(&sx, &sy)
    };
    if x.is_empty() || y.is_empty() {
        return (f64::NAN, f64::NAN, [f64::NAN; 2]);
    }
    let (all_x, all_y): (Vec<_>, Vec<_>) = (x.iter().collect(), y.iter().collect());
    let (before, after) = (effect(&all_x, &all_y, |p| p.0), effect(&all_x, &all_y, |p| p.1));
    let mut diffs = Vec::new();
    for _ in 0..bootstrap {
        let rx: Vec<&Vec<(f64, f64)>> = (0..x.len()).map(|_| &x[rng.below(x.len())]).collect();
        let ry: Vec<&Vec<(f64, f64)>> = (0..y.len()).map(|_| &y[rng.below(y.len())]).collect();
        let d = effect(&rx, &ry, |p| p.1) - effect(&rx, &ry, |p| p.0);
        if d.is_finite() {
            diffs.push(d);
        }
    }
    diffs.sort_by(f64::total_cmp);
    (before, after, percentile_interval(&diffs, ALPHA))
}

/// Whether `cluster_by` groups images (anything but `image`).
fn is_clustered(cluster_by: &str) -> bool {
    cluster_by != "image"
}

/// The WEAT scores of one side of a test, with the cluster of each.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    /// s(w) of each image.
    pub scores: Vec<f64>,
    /// Its cluster.
    pub clusters: Vec<usize>,
}

/// How a pair's test resamples.
#[derive(Debug, Clone, Copy)]
pub struct Resampling {
    /// Whether images come in clusters (then clusters are the unit).
    pub clustered: bool,
    /// Permutations of the p against no association.
    pub permutations: u64,
    /// Bootstrap resamples (independent images).
    pub bootstrap: u64,
}

/// The test of one group (X) × attribute against the rest (Y), without its decision.
pub fn pair_test(
    group: &str,
    attribute: &str,
    x: &Scores,
    y: &Scores,
    how: &Resampling,
    rng: &mut Rng,
) -> (AssociationTest, Spread) {
    // Without clusters every image is its own: the same Welch rule over single images (a
    // percentile bootstrap of a handful of images fails far more often than it says).
    let (cx, cy): (Vec<usize>, Vec<usize>) = if how.clustered {
        (x.clusters.clone(), y.clusters.clone())
    } else {
        ((0..x.scores.len()).collect(), (x.scores.len()..x.scores.len() + y.scores.len()).collect())
    };
    let w = weat_clustered(&x.scores, &cx, &y.scores, &cy, how.permutations, rng);
    let test = AssociationTest {
        group: group.to_owned(),
        attribute: attribute.to_owned(),
        n_group: x.scores.len(),
        n_rest: y.scores.len(),
        effect_size: w.effect_size,
        ci: w.cluster_level.map_or([f64::NAN; 2], |t| t.interval(ALPHA)),
        statistic: w.statistic,
        p: w.p,
        exact: w.exact,
        clusters: [w.clusters.0, w.clusters.1],
        design_effect: w.design_effect,
        p_limit: f64::NAN,
        q: f64::NAN,
        verdict: Verdict::Inconclusive,
    };
    (test, Spread(w.cluster_level))
}

/// Decides an entry's pairs against `limit` in one family, and records the verdicts in the
/// tests. `cluster_by` names the cluster in the estimand.
pub fn decide_pairs(
    tests: &mut [AssociationTest],
    spreads: &[Spread],
    limit: f64,
    cluster_by: &str,
    family: Family,
) -> Vec<super::decision::Decision> {
    let a = family.level / 2.0;
    let rules: Vec<Rule<'_>> = tests.iter().zip(spreads).map(|(t, s)| rule(t, s, limit, a, cluster_by)).collect();
    let decisions = decide(&rules, family);
    for (t, d) in tests.iter_mut().zip(&decisions) {
        t.p_limit = d.p;
        t.q = d.p_adjusted;
        t.verdict = d.verdict;
    }
    decisions
}

/// What an association's interval is made of: the effect over cluster (or image) means with
/// its Welch standard error; None with fewer than two units a side.
pub struct Spread(Option<TInterval>);

/// The decision rule of one group × attribute pair: Welch's t over the cluster means (single
/// images without clusters) of the scores, in units of the scores' sd.
fn rule<'a>(t: &AssociationTest, spread: &'a Spread, limit: f64, a: f64, cluster_by: &str) -> Rule<'a> {
    let c = spread.0;
    let unit = if is_clustered(cluster_by) { format!("{cluster_by} means") } else { "images".to_owned() };
    Rule {
        estimand: if is_clustered(cluster_by) {
            format!("WEAT effect size over {unit}")
        } else {
            "WEAT effect size".into()
        },
        estimate: c.map_or(f64::NAN, |c| c.estimate),
        interval: Box::new(move |alpha| c.map_or([f64::NAN; 2], |c| c.interval(alpha))),
        ci_method: format!("Welch t over {unit} ({} vs {})", t.clusters[0], t.clusters[1]),
        limit,
        direction: Direction::Above,
        p: c.map(|c| c.p_above(limit)),
        test: format!("one-sided Welch t test over {unit} of H0: effect size ≤ max_effect_size"),
        n: t.clusters[0] as u64,
        min_n: MIN_GROUP_UNITS,
        mde: c.and_then(|c| Mde::from_t(&c, limit, a)),
        refuse: None,
    }
}

/// What the tests of one entry are computed from.
pub struct Inputs<'a> {
    /// The target images: stimulus, group (member, or its group at `level`), cluster index.
    pub targets: Vec<(&'a super::data::StimulusRow, String, usize)>,
    /// Per attribute member with prompts: every target's WEAT score s(w).
    pub scores: Vec<(String, Vec<f64>)>,
    /// What images are clustered by (`member`, `image`, or a label column).
    pub cluster_by: String,
}

/// The images, groups, clusters and WEAT scores of one entry. Err is a note saying why the
/// entry cannot be computed; Ok carries notes about what was left out.
pub fn inputs<'a>(
    data: &'a RunData,
    spec: &crate::spec::AuditSpec,
    doc: &AssociationsDoc,
) -> Result<(Inputs<'a>, Vec<String>), String> {
    let (Some(groups), Some(attributes), Some(controls)) = (&doc.groups, &doc.attributes, &doc.controls) else {
        return Err("associations: an entry needs groups, attributes and controls".into());
    };
    let (groups, attributes, controls) = (&groups.value, &attributes.value, &controls.value);
    let images = data.rows(groups, Modality::Image);
    if images.is_empty() {
        return Err(format!(
            "associations: `{groups}` has no image stimuli; the embedding test needs images of the groups"
        ));
    }
    let emb = |s: &super::data::StimulusRow| data.row_of(s).map(|r| data.table_of(s).embeddings.row(r).to_vec());
    // The group of an image: its member, or the member's group at `level`.
    let level = doc.level.as_ref().map(|l| l.value.clone());
    let members: std::collections::HashMap<String, crate::spec::probe::Member> = spec
        .selection(groups)
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
        return Err(format!("associations: the members of `{groups}` have no `{l}` level"));
    }
    let kept: Vec<(&super::data::StimulusRow, String, Vec<f32>)> =
        images.iter().filter_map(|s| Some((*s, group_of(s)?, emb(s)?))).collect();
    let cluster_by = doc
        .cluster_by
        .as_ref()
        .map(|c| c.value.clone())
        .unwrap_or_else(|| if level.is_some() { "member".into() } else { "image".into() });
    let mut notes = Vec::new();
    let rows: Vec<&super::data::StimulusRow> = kept.iter().map(|k| k.0).collect();
    let cluster = clusters_of(&mut notes, &rows, &cluster_by)?;
    let control_vecs: Vec<Vec<f32>> = data.rows(controls, Modality::Prompt).iter().filter_map(|s| emb(s)).collect();
    if control_vecs.is_empty() {
        return Err(format!("associations: `{controls}` has no prompts to measure against"));
    }
    let attr_members: Vec<String> =
        spec.selection(attributes).map(|s| s.members.iter().map(|m| m.id.clone()).collect()).unwrap_or_default();
    let attr_prompts = data.rows(attributes, Modality::Prompt);
    let target_refs: Vec<&[f32]> = kept.iter().map(|t| t.2.as_slice()).collect();
    let b_refs: Vec<&[f32]> = control_vecs.iter().map(|v| v.as_slice()).collect();
    // Scores once per attribute; the tests index them.
    let mut scores = Vec::new();
    for a in &attr_members {
        let a_vecs: Vec<Vec<f32>> = attr_prompts.iter().filter(|s| s.member == *a).filter_map(|s| emb(s)).collect();
        if a_vecs.is_empty() {
            continue;
        }
        let a_refs: Vec<&[f32]> = a_vecs.iter().map(|v| v.as_slice()).collect();
        scores.push((a.clone(), weat_scores(&target_refs, &a_refs, &b_refs)));
    }
    let targets = kept.into_iter().zip(cluster).map(|((s, g, _), c)| (s, g, c)).collect();
    Ok((Inputs { targets, scores, cluster_by }, notes))
}

impl Inputs<'_> {
    /// The two sides of one group × attribute test (None when the attribute has no prompts),
    /// with each image's stimulus id.
    pub fn pair(&self, group: &str, attribute: &str) -> Option<(Scores, Scores, Vec<String>, Vec<String>)> {
        let scores = &self.scores.iter().find(|(a, _)| a == attribute)?.1;
        let (mut x, mut y, mut ix, mut iy) = (Scores::default(), Scores::default(), Vec::new(), Vec::new());
        for ((t, s), _) in self.targets.iter().zip(scores).zip(0..) {
            let (side, ids) = if t.1 == group { (&mut x, &mut ix) } else { (&mut y, &mut iy) };
            side.scores.push(*s);
            side.clusters.push(t.2);
            ids.push(t.0.id.clone());
        }
        Some((x, y, ix, iy))
    }
}

/// The cluster of each image, as an index: by member, by a manifest label column, or each
/// image its own (`image`). Err when the column is on no image.
fn clusters_of(notes: &mut Vec<String>, images: &[&super::data::StimulusRow], by: &str) -> Result<Vec<usize>, String> {
    let mut ids: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut unlabelled = 0;
    let mut key = |k: String| {
        let next = ids.len();
        *ids.entry(k).or_insert(next)
    };
    let out: Vec<usize> = images
        .iter()
        .enumerate()
        .map(|(i, s)| match by {
            "image" => key(format!("image\0{i}")),
            "member" => key(format!("member\0{}", s.member)),
            column => match s.labels.get(column).filter(|v| !v.is_empty()) {
                Some(v) => key(format!("label\0{v}")),
                None => {
                    unlabelled += 1;
                    key(format!("image\0{i}"))
                }
            },
        })
        .collect();
    if !matches!(by, "image" | "member") {
        if unlabelled == images.len() {
            return Err(format!(
                "associations: no image has a `{by}` label to cluster by; use a manifest label column, `member` or `image`"
            ));
        }
        if unlabelled > 0 {
            notes.push(format!(
                "associations: {unlabelled} images have no `{by}` value; each counts as a cluster of its own"
            ));
        }
    }
    Ok(out)
}

fn bridges(grid: &Grid, groups: &str, attributes: &str, group_of: &dyn Fn(&str) -> Option<String>) -> Vec<BridgeUnit> {
    let mut out = Vec::new();
    for gb in grid.blocks.iter().filter(|b| b.selection == groups && b.modality == Modality::Image) {
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
                                attribute_modality: ab.modality.name().to_owned(),
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

/// The associations analysis, as registered with `analyze`.
pub struct Associations;

impl super::Analysis for Associations {
    const NAME: &'static str = "associations";
    type Doc = AssociationsDoc;
    type Output = AssociationSummary;
    fn run(
        cx: &mut Context<'_>,
        doc: &AssociationsDoc,
        base: &super::Base<'_>,
    ) -> Result<Option<Self::Output>, super::AnalysisError> {
        Ok(run(cx, doc, base.grid))
    }
}

impl AnalysisResult for AssociationSummary {
    fn checks(&self) -> Vec<Check> {
        self.tests
            .iter()
            .map(|t| Check {
                analysis: Associations::NAME,
                id: ids::association(&self.groups, &t.group, &t.attribute),
                what: format!("association of {} with {}", t.group, t.attribute),
            })
            .collect()
    }

    fn sections(&self) -> Vec<Section> {
        let table = Table {
            head: vec![
                "group",
                "attribute",
                "images",
                "effect size",
                "95% CI",
                "p (vs limit)",
                "q",
                "verdict",
                "permutation p (vs 0)",
            ],
            rows: self
                .tests
                .iter()
                .take(20)
                .map(|x| {
                    vec![
                        t(&x.group),
                        t(&x.attribute),
                        Cell::Num(format!("{} vs {}", x.n_group, x.n_rest)),
                        Cell::Num(num(x.effect_size)),
                        Cell::Num(ci(x.ci)),
                        Cell::Num(num(x.p_limit)),
                        Cell::Num(num(x.q)),
                        Cell::Num(x.verdict.name().to_owned()),
                        Cell::Num(num(x.p)),
                    ]
                })
                .collect(),
        };
        let rows: Vec<Interval> = self
            .tests
            .iter()
            .take(15)
            .map(|x| Interval {
                label: format!("{} · {}", x.group, x.attribute),
                value: x.effect_size,
                lo: x.ci[0],
                hi: x.ci[1],
            })
            .collect();
        let max = rows.iter().map(|r| r.hi).fold(1.0, f64::max);
        vec![Section {
            title: vec![
                text("Associations: "),
                code(&self.groups),
                text(" × "),
                code(&self.attributes),
                text(" (controls "),
                code(&self.controls),
                text(")"),
            ],
            blocks: vec![
                Part::Text(vec![text(format!(
                    "WEAT effect sizes, {} permutations, {} bootstrap resamples; the 20 largest.",
                    self.permutations, self.bootstrap
                ))]),
                Part::Table(table),
                Part::Chart(
                    vec![text("WEAT effect size against the controls, bootstrap 95% CI; the 15 largest.")],
                    Chart::Intervals { rows, max },
                ),
            ],
        }]
    }
}
