//! Resolution: how finely a model's units separate the members of a family, group by group.
//!
//! The Distill study of CLIP's multimodal neurons found units for the USA and India alone but
//! only region-wide units for much of Africa. Here, per image-encoder tap: a member has a
//! *dedicated* unit when it is that unit's top concept (significant after FDR, Cohen's d at
//! least the minimum) and leads the unit's second concept by a margin in d; a unit is
//! *group-wide* when it responds to a whole group (the group's images against the rest) without
//! being dedicated to one member. Per group, coverage = members with a dedicated unit / members,
//! with a Wilson 95% CI (and population-weighted when the spec names the weight). Every pair of
//! groups with members is a check of the decision layer ([`super::decision`]): the coverage
//! difference against `max_disparity` on Newcombe's hybrid score interval (the one-sided p
//! found by inverting it), Benjamini-Hochberg at `fdr` over the pairs of one tap, groups under
//! [`MIN_MEMBERS`] members inconclusive. Fisher's exact p (a test against no difference) is
//! shown beside it.

use crate::stimuli::Modality;
use std::collections::BTreeMap;

use serde::Serialize;

use super::Analysis as _;
use super::decision::{ALPHA, Direction, Family, Mde, Rule, Verdict, decide};
use super::ids;
use super::present::{AnalysisResult, Cell, Chart, Check, Interval, Part, Section, Table, ci, code, num, t, text};
use super::selectivity::{Block, Grid, one_vs_rest};
use super::stats::{benjamini_hochberg, fisher_exact, newcombe, newcombe_at, wilson};
use super::{Context, Evidence, Subject, UnitRef, pct, r2, severity, threshold};
use crate::spec::analyses::{ResolutionDoc, SelectivityDoc, Severity};

/// Images a member needs to count in coverage.
pub const MIN_IMAGES: usize = 2;
/// Members each group of a pair needs for the pair to be decided; smaller groups are
/// inconclusive (a coverage of 1 of 2 says little).
pub const MIN_MEMBERS: u64 = 3;
/// Default margin in d over the second concept.
pub const DEFAULT_MARGIN: f64 = 0.5;
/// Default largest acceptable coverage difference.
pub const DEFAULT_MAX_DISPARITY: f64 = 0.25;

/// A unit dedicated to one member.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DedicatedUnit {
    /// Unit.
    pub unit: usize,
    /// The member.
    pub concept: String,
    /// Cohen's d of the member against the rest of the family.
    #[serde(deserialize_with = "crate::json::f64")]
    pub cohen_d: f64,
    /// Lead in d over the unit's second concept.
    #[serde(deserialize_with = "crate::json::f64")]
    pub margin: f64,
    /// q-value.
    #[serde(deserialize_with = "crate::json::f64")]
    pub q: f64,
}

/// Coverage of one group.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct GroupCoverage {
    /// Group name (e.g. `Africa`).
    pub group: String,
    /// Members with image stimuli.
    pub members: usize,
    /// Members with at least one dedicated unit.
    pub covered: usize,
    /// covered / members.
    #[serde(deserialize_with = "crate::json::f64")]
    pub coverage: f64,
    /// Wilson 95% CI.
    #[serde(deserialize_with = "crate::json::pair")]
    pub ci: [f64; 2],
    /// Weighted coverage (by the spec's `weight` metadata), when it applies.
    pub weighted_coverage: Option<f64>,
    /// Dedicated units of the group's members.
    pub dedicated_units: usize,
    /// Units responding to the group as a whole without a dedicated member.
    pub group_units: usize,
    /// Members without a dedicated unit.
    pub uncovered_members: Vec<String>,
}

/// A coverage difference between two groups.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Disparity {
    /// The better covered group.
    pub higher: String,
    /// The less covered group.
    pub lower: String,
    /// Coverage difference.
    #[serde(deserialize_with = "crate::json::f64")]
    pub difference: f64,
    /// Newcombe (hybrid Wilson score) 95% CI of the difference.
    #[serde(deserialize_with = "crate::json::pair")]
    pub ci: [f64; 2],
    /// Fisher's exact two-sided p (against no difference; for reference).
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
    /// One-sided p of H0: difference ≤ `max_disparity` (Newcombe interval inverted).
    #[serde(deserialize_with = "crate::json::f64")]
    pub p_limit: f64,
    /// `p_limit` corrected by Benjamini-Hochberg over the tap's pairs.
    #[serde(deserialize_with = "crate::json::f64")]
    pub q: f64,
    /// The decision's verdict.
    pub verdict: Verdict,
}

/// One member at one tap, for maps and tables.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MemberResolution {
    /// Member id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its group.
    pub group: String,
    /// Latitude from the probe metadata (`lat`), when present.
    pub lat: Option<f64>,
    /// Longitude (`lon`).
    pub lon: Option<f64>,
    /// Units dedicated to it.
    pub dedicated_units: usize,
    /// The largest Cohen's d of any unit for it.
    #[serde(deserialize_with = "crate::json::f64")]
    pub best_d: f64,
}

/// Resolution at one tap.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct TapResolution {
    /// Tap.
    pub tap: String,
    /// Members with images.
    pub members: Vec<MemberResolution>,
    /// Groups, in order of first member.
    pub groups: Vec<GroupCoverage>,
    /// Pairs of groups.
    pub disparities: Vec<Disparity>,
    /// Dedicated units (largest d first, at most 100).
    pub dedicated: Vec<DedicatedUnit>,
}

/// The resolution analysis of one family.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ResolutionSummary {
    /// Selection.
    pub family: String,
    /// Hierarchy level.
    pub level: String,
    /// Margin.
    #[serde(deserialize_with = "crate::json::f64")]
    pub margin: f64,
    /// FDR.
    #[serde(deserialize_with = "crate::json::f64")]
    pub fdr: f64,
    /// Per image-encoder tap.
    pub taps: Vec<TapResolution>,
}

/// Every pair of groups with members, the better covered first, each decided against
/// `limit` in the family `family_id` (Benjamini-Hochberg at `fdr`): the disparities (with
/// their verdicts) and the decisions, in the same order. Groups without an eligible member have
/// no coverage and are not compared.
pub fn compare_groups(
    covs: &[GroupCoverage],
    limit: f64,
    fdr: f64,
    family_id: &str,
) -> (Vec<Disparity>, Vec<super::decision::Decision>) {
    let mut disparities = Vec::new();
    let mut rules = Vec::new();
    let with_members: Vec<&GroupCoverage> = covs.iter().filter(|c| c.members > 0).collect();
    for (i, a) in with_members.iter().enumerate() {
        for (j, z) in with_members.iter().enumerate() {
            if i == j || a.coverage < z.coverage || (a.coverage == z.coverage && i > j) {
                continue;
            }
            let (k1, n1, k2, n2) = (a.covered as u64, a.members as u64, z.covered as u64, z.members as u64);
            let (_, p) = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]);
            disparities.push(Disparity {
                higher: a.group.clone(),
                lower: z.group.clone(),
                difference: a.coverage - z.coverage,
                ci: newcombe(k1, n1, k2, n2),
                p,
                p_limit: f64::NAN,
                q: f64::NAN,
                verdict: Verdict::Inconclusive,
            });
            rules.push(Rule {
                estimand: "coverage difference".into(),
                estimate: a.coverage - z.coverage,
                interval: Box::new(move |alpha| newcombe_at(k1, n1, k2, n2, alpha)),
                ci_method: "Newcombe hybrid score (method 10)".into(),
                limit,
                direction: Direction::Above,
                p: None,
                test: "one-sided test of H0: difference ≤ max_disparity, by inverting Newcombe's interval".into(),
                n: n1.min(n2),
                min_n: MIN_MEMBERS,
                mde: Mde::difference(n1, n2, z.coverage, limit, fdr / 2.0),
                refuse: None,
            });
        }
    }
    let decisions = decide(&rules, Family::bh(family_id, fdr));
    for (d, x) in disparities.iter_mut().zip(&decisions) {
        d.p_limit = x.p;
        d.q = x.p_adjusted;
        d.verdict = x.verdict;
    }
    (disparities, decisions)
}

/// The settings of one family's resolution analysis.
struct Setting<'a> {
    family: String,
    level: String,
    margin: f64,
    fdr: f64,
    min_d: f64,
    max_t: super::Threshold,
    severity: Severity,
    selection: &'a crate::spec::audit::Selection,
    group_of: BTreeMap<&'a str, &'a str>,
    weight_of: BTreeMap<&'a str, f64>,
}

/// The `level` groups of a block's concepts, in first-seen order, and each concept's group.
fn group_index(b: &Block, group_of: &BTreeMap<&str, &str>) -> (Vec<String>, Vec<Option<usize>>) {
    let mut groups: Vec<String> = Vec::new();
    let concept_group = b
        .concepts
        .iter()
        .map(|c| {
            let g = (*group_of.get(c.as_str())?).to_owned();
            Some(match groups.iter().position(|x| *x == g) {
                Some(i) => i,
                None => {
                    groups.push(g);
                    groups.len() - 1
                }
            })
        })
        .collect();
    (groups, concept_group)
}

/// Units dedicated to one concept: selective for it (q ≤ fdr, d ≥ min_d) and ahead of the
/// next concept by `margin`; and, per unit, the concept it is dedicated to.
fn dedicated_units(b: &Block, fdr: f64, min_d: f64, margin: f64) -> (Vec<DedicatedUnit>, Vec<Option<usize>>) {
    let k = b.concepts.len();
    let mut dedicated: Vec<DedicatedUnit> = Vec::new();
    let mut dedicated_of = vec![None; b.units()];
    for (u, slot) in dedicated_of.iter_mut().enumerate() {
        let mut order: Vec<usize> = (0..k).filter(|&c| b.tests.d[[u, c]].is_finite()).collect();
        order.sort_by(|&x, &y| b.tests.d[[u, y]].total_cmp(&b.tests.d[[u, x]]));
        let (Some(&c1), second) = (order.first(), order.get(1)) else { continue };
        let d1 = b.tests.d[[u, c1]];
        let lead = second.map_or(f64::INFINITY, |&c2| d1 - b.tests.d[[u, c2]]);
        if b.q[[u, c1]] <= fdr && d1 >= min_d && lead >= margin {
            *slot = Some(c1);
            dedicated.push(DedicatedUnit {
                unit: u,
                concept: b.concepts[c1].clone(),
                cohen_d: d1,
                margin: lead,
                q: b.q[[u, c1]],
            });
        }
    }
    (dedicated, dedicated_of)
}

/// Group-wide units per group: the group against the rest on the same stimuli, selective and
/// not dedicated to one member.
fn group_wide_units(
    cx: &Context<'_>,
    b: &Block,
    (ngroups, concept_group): (usize, &[Option<usize>]),
    dedicated_of: &[Option<usize>],
    (fdr, min_d): (f64, f64),
) -> Vec<usize> {
    let rows: Vec<usize> =
        b.rows.iter().zip(&b.labels).filter(|(_, l)| concept_group[**l].is_some()).map(|(r, _)| *r).collect();
    let glabels: Vec<usize> = b.labels.iter().filter_map(|l| concept_group[*l]).collect();
    let Some(acts) = cx.data.images.taps.get(&b.tap) else { return vec![0; ngroups] };
    let t = one_vs_rest(acts, &rows, &glabels, ngroups);
    let q = benjamini_hochberg(&t.p.iter().copied().collect::<Vec<_>>());
    (0..ngroups)
        .map(|g| {
            (0..b.units())
                .filter(|&u| dedicated_of[u].is_none() && q[u * ngroups + g] <= fdr && t.d[[u, g]] >= min_d)
                .count()
        })
        .collect()
}

/// Each group's coverage: the share of its members (with at least [`MIN_IMAGES`] images) that
/// have a dedicated unit, with its Wilson interval and, with a `weight`, the weighted share.
fn coverages(
    s: &Setting<'_>,
    b: &Block,
    (groups, concept_group): (&[String], &[Option<usize>]),
    dedicated_of: &[Option<usize>],
    group_units_of: &[usize],
) -> Vec<GroupCoverage> {
    let k = b.concepts.len();
    groups
        .iter()
        .enumerate()
        .map(|(g, name)| {
            // A member needs two images for a Cohen's d; with fewer it could never have a
            // dedicated unit, and image sparsity would pass for a disparity.
            let members: Vec<usize> =
                (0..k).filter(|&c| concept_group[c] == Some(g) && b.tests.n[c] >= MIN_IMAGES).collect();
            let covered: Vec<usize> = members.iter().copied().filter(|&c| dedicated_of.contains(&Some(c))).collect();
            let (n, kc) = (members.len() as u64, covered.len() as u64);
            let (lo, hi) = wilson(kc, n, ALPHA);
            let total_w: f64 = members.iter().filter_map(|&c| s.weight_of.get(b.concepts[c].as_str())).sum();
            let weighted = (!s.weight_of.is_empty() && total_w > 0.0).then(|| {
                covered.iter().filter_map(|&c| s.weight_of.get(b.concepts[c].as_str())).sum::<f64>() / total_w
            });
            GroupCoverage {
                group: name.clone(),
                members: members.len(),
                covered: covered.len(),
                coverage: if n > 0 { kc as f64 / n as f64 } else { f64::NAN },
                ci: [lo, hi],
                weighted_coverage: weighted,
                dedicated_units: dedicated_of.iter().filter(|d| d.is_some_and(|c| concept_group[c] == Some(g))).count(),
                group_units: group_units_of[g],
                uncovered_members: members
                    .iter()
                    .filter(|c| !covered.contains(c))
                    .map(|&c| b.concepts[c].clone())
                    .collect(),
            }
        })
        .collect()
}

/// Decides every pair of groups at one tap and files the findings; returns the pairs, the
/// largest difference first.
fn decide_disparities(
    cx: &mut Context<'_>,
    s: &Setting<'_>,
    b: &Block,
    covs: &[GroupCoverage],
    (groups, concept_group): (&[String], &[Option<usize>]),
    dedicated: &[DedicatedUnit],
) -> Vec<Disparity> {
    let family_id = ids::resolution_family(&s.family, &s.level, &b.tap);
    let (disparities, decisions) = compare_groups(covs, s.max_t.value, s.fdr, &family_id);
    let mut order: Vec<usize> = (0..disparities.len()).collect();
    order.sort_by(|&x, &y| disparities[y].difference.total_cmp(&disparities[x].difference));
    for (d, decision) in order.iter().map(|&i| (&disparities[i], decisions[i].clone())) {
        let hi = covs.iter().find(|c| c.group == d.higher).expect("group");
        let lo = covs.iter().find(|c| c.group == d.lower).expect("group");
        let higher = groups.iter().position(|g| *g == d.higher);
        let units: Vec<UnitRef> = dedicated
            .iter()
            .filter(|x| b.concept(&x.concept).and_then(|c| concept_group[c]) == higher)
            .take(20)
            .map(|x| UnitRef { tap: b.tap.clone(), unit: x.unit })
            .collect();
        let subject = Subject {
            id: ids::resolution(&s.family, &s.level, &b.tap, &d.higher, &d.lower),
            analysis: Resolution::NAME,
            severity: s.severity,
            what: format!("{} against {} at {}", d.higher, d.lower, b.tap),
            threshold: s.max_t.clone(),
        };
        let statement = format!(
            "At {}, {} of {} members of {} have a unit of their own ({}) against {} of {} in {} ({}): a coverage difference of {} (Newcombe 95% CI {} to {}), beyond the {} allowed.",
            b.tap,
            hi.covered,
            hi.members,
            d.higher,
            pct(hi.coverage),
            lo.covered,
            lo.members,
            d.lower,
            pct(lo.coverage),
            r2(d.difference),
            r2(d.ci[0]),
            r2(d.ci[1]),
            r2(s.max_t.value)
        );
        let evidence = Evidence { units, concepts: lo.uncovered_members.clone(), stimuli: Vec::new() };
        cx.record(subject.finding(statement, decision, evidence));
        // The same pair the other way round, so that a null copy that ranks the two groups
        // oppositely still gives this check an estimate (a negative difference).
        cx.observe(&ids::resolution(&s.family, &s.level, &b.tap, &d.lower, &d.higher), -d.difference, Direction::Above);
    }
    order.into_iter().map(|i| disparities[i].clone()).collect()
}

/// Each member at one tap, for maps and tables.
fn member_resolutions(
    s: &Setting<'_>,
    b: &Block,
    (groups, concept_group): (&[String], &[Option<usize>]),
    dedicated_of: &[Option<usize>],
) -> Vec<MemberResolution> {
    (0..b.concepts.len())
        .filter_map(|c| {
            let m = s.selection.members.iter().find(|m| m.id == b.concepts[c])?;
            let coord = |key: &str| m.meta.get(key).and_then(serde_json::Value::as_f64);
            Some(MemberResolution {
                id: m.id.clone(),
                name: m.name.clone(),
                group: concept_group[c].map(|g| groups[g].clone()).unwrap_or_default(),
                lat: coord("lat"),
                lon: coord("lon"),
                dedicated_units: dedicated_of.iter().filter(|d| **d == Some(c)).count(),
                best_d: (0..b.units()).map(|u| b.tests.d[[u, c]]).filter(|d| d.is_finite()).fold(f64::NAN, f64::max),
            })
        })
        .collect()
}

/// The analysis at one tap (a block of the family's images); `None` (with a note) when fewer
/// than two groups have images.
fn tap_resolution(cx: &mut Context<'_>, s: &Setting<'_>, b: &Block, first: bool) -> Option<TapResolution> {
    let (groups, concept_group) = group_index(b, &s.group_of);
    if groups.len() < 2 {
        cx.note(format!("resolution: `{}` at {}: fewer than two `{}` groups have images", s.family, b.tap, s.level));
        return None;
    }
    let sparse: Vec<&str> =
        (0..b.concepts.len()).filter(|&c| b.tests.n[c] < MIN_IMAGES).map(|c| b.concepts[c].as_str()).collect();
    if !sparse.is_empty() && first {
        cx.note(format!(
            "resolution: `{}`: {} members have fewer than {MIN_IMAGES} images and are left out of coverage: {}",
            s.family,
            sparse.len(),
            sparse.join(", ")
        ));
    }
    let (mut dedicated, dedicated_of) = dedicated_units(b, s.fdr, s.min_d, s.margin);
    let group_units_of = group_wide_units(cx, b, (groups.len(), &concept_group), &dedicated_of, (s.fdr, s.min_d));
    let index = (groups.as_slice(), concept_group.as_slice());
    let covs = coverages(s, b, index, &dedicated_of, &group_units_of);
    let disparities = decide_disparities(cx, s, b, &covs, index, &dedicated);
    let members = member_resolutions(s, b, index, &dedicated_of);
    dedicated.sort_by(|x, y| y.cohen_d.total_cmp(&x.cohen_d));
    dedicated.truncate(100);
    Some(TapResolution { tap: b.tap.clone(), members, groups: covs, disparities, dedicated })
}

/// Runs the analysis for one family.
pub fn run(cx: &mut Context<'_>, grid: &Grid, doc: &ResolutionDoc, sel: &SelectivityDoc) -> Option<ResolutionSummary> {
    let family = doc.family.as_ref()?.value.clone();
    let Some(selection) = cx.spec.selection(&family) else {
        cx.note(format!("resolution: no selection `{family}`"));
        return None;
    };
    let level = match (&doc.level, selection.family.hierarchy.first()) {
        (Some(l), _) => l.value.clone(),
        (None, Some(l)) => l.clone(),
        (None, None) => {
            cx.note(format!("resolution: family `{family}` has no hierarchy to group its members by"));
            return None;
        }
    };
    let weight_of: BTreeMap<&str, f64> = match &doc.weight {
        Some(w) => selection
            .members
            .iter()
            .filter_map(|m| m.meta.get(&w.value)?.as_f64().map(|x| (m.id.as_str(), x)))
            .collect(),
        None => BTreeMap::new(),
    };
    let setting = Setting {
        group_of: selection
            .members
            .iter()
            .filter_map(|m| m.groups.get(&level).map(|g| (m.id.as_str(), g.as_str())))
            .collect(),
        family,
        level,
        margin: doc.margin.as_ref().map_or(DEFAULT_MARGIN, |v| v.value),
        fdr: doc.fdr.as_ref().map_or(grid.fdr, |v| v.value),
        min_d: sel.min_effect_size.as_ref().map_or(grid.min_effect, |v| v.value),
        max_t: threshold("max_disparity", &doc.max_disparity, DEFAULT_MAX_DISPARITY),
        severity: severity(&doc.severity, Severity::Error),
        selection,
        weight_of,
    };
    let blocks: Vec<&Block> = grid
        .blocks
        .iter()
        .filter(|b| b.selection == setting.family && b.modality == Modality::Image && b.image_encoder)
        .collect();
    if blocks.is_empty() {
        let family = &setting.family;
        cx.note(format!("resolution: `{family}` has no image stimuli with at least two members; nothing to resolve"));
        return None;
    }
    let mut taps = Vec::new();
    for b in blocks {
        if let Some(t) = tap_resolution(cx, &setting, b, taps.is_empty()) {
            taps.push(t);
        }
    }
    let Setting { family, level, margin, fdr, .. } = setting;
    Some(ResolutionSummary { family, level, margin, fdr, taps })
}

/// Coverage differences between groups at one tap.
fn disparities_table(r: &TapResolution) -> Table {
    Table {
        head: vec![
            "higher",
            "lower",
            "difference",
            "Newcombe 95% CI",
            "p (vs limit)",
            "q",
            "verdict",
            "Fisher p (vs 0)",
        ],
        rows: r
            .disparities
            .iter()
            .map(|d| {
                vec![
                    t(&d.higher),
                    t(&d.lower),
                    Cell::Num(num(d.difference)),
                    Cell::Num(ci(d.ci)),
                    Cell::Num(num(d.p_limit)),
                    Cell::Num(num(d.q)),
                    Cell::Num(d.verdict.name().into()),
                    Cell::Num(num(d.p)),
                ]
            })
            .collect(),
    }
}

/// The resolution analysis, as registered with `analyze`.
pub struct Resolution;

impl super::Analysis for Resolution {
    const NAME: &'static str = "resolution";
    type Doc = ResolutionDoc;
    type Output = ResolutionSummary;
    fn run(
        cx: &mut Context<'_>,
        doc: &ResolutionDoc,
        base: &super::Base<'_>,
    ) -> Result<Option<Self::Output>, super::AnalysisError> {
        Ok(base.grid.and_then(|g| run(cx, g, doc, base.selectivity)))
    }
}

impl AnalysisResult for ResolutionSummary {
    fn checks(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for tap in &self.taps {
            for d in &tap.disparities {
                out.push(Check {
                    analysis: Resolution::NAME,
                    id: ids::resolution(&self.family, &self.level, &tap.tap, &d.higher, &d.lower),
                    what: format!("coverage of {} against {} at {}", d.higher, d.lower, tap.tap),
                });
            }
        }
        out
    }

    fn sections(&self) -> Vec<Section> {
        self.taps
            .iter()
            .map(|tap| {
                let rows: Vec<Interval> = tap
                    .groups
                    .iter()
                    .map(|g| Interval { label: g.group.clone(), value: g.coverage, lo: g.ci[0], hi: g.ci[1] })
                    .collect();
                let mut blocks = vec![Part::Chart(
                    vec![text("Coverage: members with a unit of their own, Wilson 95% CI.")],
                    Chart::Intervals { rows, max: 1.0 },
                )];
                if tap.members.iter().any(|m| m.lat.is_some()) {
                    blocks.push(Part::Chart(
                        vec![text("Members on the map, shaded by their best Cohen's d and marked when a unit is dedicated to them (a dot at the capital where the map has no outline).")],
                        Chart::Map(tap.members.clone()),
                    ));
                }
                blocks.push(Part::Table(Table {
                    head: vec![
                        "group",
                        "members",
                        "with a dedicated unit",
                        "coverage",
                        "95% CI",
                        "weighted",
                        "dedicated units",
                        "group-wide units",
                    ],
                    rows: tap
                        .groups
                        .iter()
                        .map(|g| {
                            vec![
                                t(&g.group),
                                Cell::Num(g.members.to_string()),
                                Cell::Num(g.covered.to_string()),
                                Cell::Num(num(g.coverage)),
                                Cell::Num(ci(g.ci)),
                                Cell::Num(g.weighted_coverage.map(num).unwrap_or_default()),
                                Cell::Num(g.dedicated_units.to_string()),
                                Cell::Num(g.group_units.to_string()),
                            ]
                        })
                        .collect(),
                }));
                blocks.push(Part::Table(disparities_table(tap)));
                Section {
                    title: vec![
                        text("Resolution: "),
                        code(&self.family),
                        text(" by "),
                        text(&self.level),
                        text(" at "),
                        code(&tap.tap),
                    ],
                    blocks,
                }
            })
            .collect()
    }
}
