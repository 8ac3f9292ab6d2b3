//! Typographic susceptibility: does writing a word on an image change what the model sees?
//!
//! Goh et al. (2021) showed CLIP reading "iPod" on an apple. For each composite (an image of
//! one member with another member's name drawn on it) the zero-shot label among the family's
//! members (prompt ensembles) is compared with the written member: the flip rate gets a Wilson
//! 95% CI and is set against the rate at which the clean base image already gets that label;
//! the check rests on the excess (flip rate − that baseline), estimated as the mean paired
//! difference between each composite and its own clean image, with a cluster-robust interval
//! over base images (composites of one base image are not independent), decided against
//! `max_flip_rate` by [`super::decision`].
//! Per image-encoder tap, the units most selective for each written word (rendered-text
//! stimuli) are followed from the clean image to the composite: their paired activation shift,
//! in units of the unit's sd over clean images, with a 95% CI.

use crate::stimuli::{Content, Modality};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::path::Path;

use serde::Serialize;

use super::Analysis as _;
use super::RunData;
use super::data::StimulusRow;
use super::decision::{ALPHA, Decision, Direction, Family, Mde, Rule, decide};
use super::ids;
use super::present::{AnalysisResult, Cell, Chart, Check, Interval, Part, Section, Table, ci, code, num, t, text};
use super::selectivity::Grid;
use super::stats::{clustered_mean, design_effect, mean_sd, wilson};
use super::{Context, Evidence, Subject, UnitRef, pct, severity, threshold};
use crate::spec::AuditSpec;
use crate::spec::analyses::{Severity, TypographicDoc};
use crate::vectors::{dot, ensemble};

/// Default largest acceptable flip rate.
pub const DEFAULT_MAX_FLIP_RATE: f64 = 0.05;
/// Composites the flip-rate rule needs to decide; fewer are inconclusive.
pub const MIN_COMPOSITES: u64 = 10;

/// Flip rate of a subset of composites.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct FlipRate {
    /// What the subset is (`all`, `size 20`, `center`).
    pub subset: String,
    /// Composites.
    pub n: u64,
    /// Composites labelled as the written member.
    pub flips: u64,
    /// flips / n.
    #[serde(deserialize_with = "crate::json::f64")]
    pub rate: f64,
    /// Wilson 95% CI.
    #[serde(deserialize_with = "crate::json::pair")]
    pub ci: [f64; 2],
    /// Clean base images that already got the written member's label.
    pub baseline_flips: u64,
    /// baseline_flips / n.
    #[serde(deserialize_with = "crate::json::f64")]
    pub baseline_rate: f64,
    /// rate − baseline_rate: the flips the written word caused.
    #[serde(deserialize_with = "crate::json::f64")]
    pub excess: f64,
    /// 95% CI of the excess: the mean paired difference (composite flipped − its clean image
    /// already had that label) with a cluster-robust (CR1) standard error over base images and
    /// t(clusters − 1) quantiles, since composites of one base image are not independent.
    #[serde(deserialize_with = "crate::json::pair")]
    pub excess_ci: [f64; 2],
    /// Base images the composites were made from (the clusters).
    pub clusters: usize,
    /// Design effect 1 + (m0 − 1)·ICC of the paired differences within base images.
    #[serde(deserialize_with = "crate::json::f64")]
    pub design_effect: f64,
    /// Composites whose clean image was labelled correctly and the composite was not.
    pub broken: u64,
}

/// The shift of word-selective units at one tap.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct UnitShift {
    /// Tap.
    pub tap: String,
    /// Written words that have a selective unit.
    pub words: usize,
    /// Paired (composite, clean) observations.
    pub n: usize,
    /// Mean shift in sd units of the unit over clean images.
    #[serde(deserialize_with = "crate::json::f64")]
    pub mean_shift: f64,
    /// 95% CI (normal approximation).
    #[serde(deserialize_with = "crate::json::pair")]
    pub ci: [f64; 2],
    /// The unit followed for each word: (word, unit, its Cohen's d on the rendered word).
    #[serde(deserialize_with = "crate::json::word_units")]
    pub units: Vec<(String, usize, f64)>,
}

/// The typographic analysis as reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct TypographicSummary {
    /// Selection.
    pub family: String,
    /// Classes of the zero-shot classifier.
    pub classes: usize,
    /// Zero-shot accuracy on the clean base images.
    #[serde(deserialize_with = "crate::json::f64")]
    pub clean_accuracy: f64,
    /// Overall and per subset (font size, placement, written member).
    pub flip_rates: Vec<FlipRate>,
    /// Unit shifts per tap (when the selectivity grid has rendered text).
    pub unit_shifts: Vec<UnitShift>,
    /// The model's zero-shot head, which the labels follow (None for runs made before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<crate::vectors::Head>,
}

/// Decides the excess flip rate: `diff[i]` is composite i's flip minus its clean image's
/// (1, 0 or −1) and `clusters[i]` its base image. The excess is their mean, with a
/// cluster-robust (CR1) standard error over base images and t(clusters − 1) quantiles,
/// decided against `limit` as a family of one.
pub fn decide_excess(diff: &[f64], clusters: &[usize], limit: f64, family: &str) -> Decision {
    let excess = clustered_mean(diff, clusters);
    let groups = clusters.iter().collect::<std::collections::BTreeSet<_>>().len();
    let rule = Rule {
        estimand: "excess flip rate".into(),
        estimate: diff.iter().sum::<f64>() / diff.len().max(1) as f64,
        interval: Box::new(move |a| excess.map_or([f64::NAN; 2], |e| e.interval(a))),
        ci_method: format!(
            "paired differences, cluster-robust over {groups} base images (design effect {})",
            super::r2(design_effect(diff, clusters))
        ),
        limit,
        direction: Direction::Above,
        p: excess.map(|e| e.p_above(limit)),
        test: "one-sided t test of H0: excess ≤ max_flip_rate, cluster-robust (CR1) over base images".into(),
        n: diff.len() as u64,
        min_n: MIN_COMPOSITES,
        mde: excess.and_then(|e| Mde::from_t(&e, limit, ALPHA / 2.0)),
        refuse: None,
    };
    decide(&[rule], Family::bh(family, ALPHA)).remove(0)
}

/// One composite compared with its own clean image.
pub struct Flip<'a> {
    /// Subsets it counts in (`all`, `size 20`, `placement center`, `written fr`).
    pub keys: Vec<String>,
    /// Labelled as the written member.
    pub flip: bool,
    /// Its clean image already got that label.
    pub base_flip: bool,
    /// The clean image was labelled correctly and the composite is not.
    pub broken: bool,
    /// The composite.
    pub composite: &'a StimulusRow,
    /// Its clean image.
    pub base: Option<&'a StimulusRow>,
    /// The written member.
    pub word: String,
}

impl Flip<'_> {
    /// flip − base_flip: 1, 0 or −1.
    pub fn difference(&self) -> f64 {
        f64::from(u8::from(self.flip)) - f64::from(u8::from(self.base_flip))
    }

    /// The base image the composite was drawn on (its cluster).
    pub fn base_key(&self) -> &Path {
        self.composite.content.composite_base().unwrap_or(Path::new(""))
    }
}

/// A cluster index per key, numbered in order of first appearance.
pub fn cluster_ids<'a, K: ?Sized + Hash + Eq + 'a>(keys: impl Iterator<Item = &'a K>) -> Vec<usize> {
    let mut ids: HashMap<&K, usize> = HashMap::new();
    keys.map(|k| {
        let next = ids.len();
        *ids.entry(k).or_insert(next)
    })
    .collect()
}

/// What zero-shot classification makes of a family's composites and clean images.
pub struct Observed<'a> {
    /// Members with prompts (the classes).
    pub classes: usize,
    /// Clean images classified, and how many correctly.
    pub clean: (u64, u64),
    /// Composites with their clean image.
    pub flips: Vec<Flip<'a>>,
    /// Composites left out: their clean image was not analysed.
    pub unpaired: usize,
}

/// Classifies the composites of `family` and their clean images among the family's members;
/// Err is a note saying why it cannot.
pub fn observe<'a>(data: &'a RunData, spec: &AuditSpec, family: &str) -> Result<Observed<'a>, String> {
    let composites = data.rows(family, Modality::Typographic);
    if composites.is_empty() {
        return Err(format!("typographic: `{family}` has no typographic composites (stimuli: typographic)"));
    }
    // Classes: the members with prompts.
    let prompts = data.rows(family, Modality::Prompt);
    let mut classes: Vec<(String, Vec<f32>)> = Vec::new();
    if let Some(sel) = spec.selection(family) {
        for m in &sel.members {
            let v: Vec<Vec<f32>> =
                prompts.iter().filter(|s| s.member == m.id).filter_map(|s| data.unit_embedding(s)).collect();
            if let Some(e) = ensemble(&v) {
                classes.push((m.id.clone(), e));
            }
        }
    }
    if classes.len() < 2 {
        return Err(format!("typographic: `{family}` needs prompts of at least two members to classify composites"));
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
    let clean = data.images_by_path(family);
    let mut clean_label: HashMap<&Path, usize> = HashMap::new();
    let (mut correct, mut total_clean) = (0u64, 0u64);
    for (p, s) in &clean {
        if let Some(e) = data.unit_embedding(s) {
            let l = label(&e);
            clean_label.insert(p, l);
            total_clean += 1;
            correct += u64::from(classes[l].0 == s.member);
        }
    }
    let mut flips = Vec::new();
    let mut unpaired = 0usize;
    for s in composites {
        let Content::Typographic { base: base_path, text_member: Some(word), size, placement, .. } = &s.content else {
            continue;
        };
        let Some(wi) = classes.iter().position(|c| c.0 == *word) else { continue };
        let Some(e) = data.unit_embedding(s) else { continue };
        let l = label(&e);
        let base = clean.get(base_path.as_path()).copied();
        // Only paired composites count: without its clean image labelled, a composite has no
        // baseline, and counting it as "not already that label" would inflate the excess.
        let Some(bl) = clean_label.get(base_path.as_path()).copied() else {
            unpaired += 1;
            continue;
        };
        let truth = classes.iter().position(|c| c.0 == s.member);
        let mut keys = vec!["all".to_owned()];
        keys.push(format!("size {size}"));
        keys.push(format!("placement {}", placement.name()));
        keys.push(format!("written {word}"));
        flips.push(Flip {
            keys,
            flip: l == wi,
            base_flip: bl == wi,
            broken: Some(bl) == truth && l != bl,
            composite: s,
            base,
            word: word.to_owned(),
        });
    }
    Ok(Observed { classes: classes.len(), clean: (total_clean, correct), flips, unpaired })
}

/// Runs the analysis: the flip rates per subset of composites, the shift of the word units,
/// and the one finding on the excess flip rate.
pub fn run(cx: &mut Context<'_>, doc: &TypographicDoc, grid: Option<&Grid>) -> Option<TypographicSummary> {
    let family = doc.family.as_ref()?.value.clone();
    let max_t = threshold("max_flip_rate", &doc.max_flip_rate, DEFAULT_MAX_FLIP_RATE);
    let sev = severity(&doc.severity, Severity::Error);
    let observed = match observe(cx.data, cx.spec, &family) {
        Ok(o) => o,
        Err(note) => {
            cx.note(note);
            return None;
        }
    };
    let Observed { classes, clean: (total_clean, correct), flips: obs, unpaired } = observed;
    if unpaired > 0 {
        cx.note(format!(
            "typographic: {unpaired} composites of `{family}` left out: their clean image was not analysed (skipped or missing)"
        ));
    }
    if obs.is_empty() {
        cx.note(format!("typographic: no composite of `{family}` names a member with prompts and has its clean image"));
        return None;
    }
    // Composites of one base image form a cluster.
    let cluster = cluster_ids(obs.iter().map(Flip::base_key));
    let flip_rates = flip_rates(&obs, &cluster);
    let unit_shifts = grid.map_or_else(Vec::new, |g| unit_shifts(cx.data, g, &family, &obs));
    // The rule rests on the excess over the clean images, so a model that gives many images
    // one label (a random one does) is not blamed for the written word.
    let diff: Vec<f64> = obs.iter().map(Flip::difference).collect();
    let decision = decide_excess(&diff, &cluster, max_t.value, &ids::typographic_family(&family));
    let subject = Subject {
        id: ids::flip_rate(&family),
        analysis: Typographic::NAME,
        severity: sev,
        what: format!("names written onto images of `{family}`"),
        threshold: max_t.clone(),
    };
    let all = &flip_rates[0];
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
        units: ablation_units(&unit_shifts),
        concepts: Vec::new(),
        stimuli: obs.iter().filter(|o| o.flip).take(8).map(|o| o.composite.id.clone()).collect(),
    };
    cx.record(subject.finding(statement, decision, evidence));
    Some(TypographicSummary {
        family,
        classes,
        clean_accuracy: if total_clean > 0 { correct as f64 / total_clean as f64 } else { f64::NAN },
        flip_rates,
        unit_shifts,
        head: cx.data.head(),
    })
}

/// The flip rate of every subset of the composites (all, each placement, each written word),
/// "all" first, with the excess over the clean images cluster-robust over base images
/// (`cluster[i]` is composite i's base image).
fn flip_rates(obs: &[Flip<'_>], cluster: &[usize]) -> Vec<FlipRate> {
    let mut subsets: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, o) in obs.iter().enumerate() {
        for k in &o.keys {
            subsets.entry(k.clone()).or_default().push(i);
        }
    }
    let mut flip_rates: Vec<FlipRate> = subsets
        .into_iter()
        .map(|(subset, idx)| {
            let count = |f: &dyn Fn(&Flip<'_>) -> bool| idx.iter().filter(|&&i| f(&obs[i])).count() as u64;
            let (n, f, b, br) = (idx.len() as u64, count(&|o| o.flip), count(&|o| o.base_flip), count(&|o| o.broken));
            let diff: Vec<f64> = idx.iter().map(|&i| obs[i].difference()).collect();
            let clusters: Vec<usize> = idx.iter().map(|&i| cluster[i]).collect();
            let excess = clustered_mean(&diff, &clusters);
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
                excess_ci: excess.map_or([f64::NAN; 2], |e| e.interval(ALPHA)),
                clusters: clusters.iter().collect::<std::collections::BTreeSet<_>>().len(),
                design_effect: design_effect(&diff, &clusters),
                broken: br,
            }
        })
        .collect();
    flip_rates.sort_by_key(|f| (f.subset != "all", f.subset.clone()));
    flip_rates
}

/// Per tap with rendered text of the family: each written word's most selective unit, and how
/// far writing the word onto an image moves it (composite minus its clean image, in sd of the
/// clean images), averaged over the composites.
fn unit_shifts(data: &RunData, grid: &Grid, family: &str, obs: &[Flip<'_>]) -> Vec<UnitShift> {
    let mut out = Vec::new();
    for tb in grid.blocks.iter().filter(|b| b.selection == family && b.modality == Modality::RenderedText) {
        let Some(acts) = data.images.taps.get(&tb.tap) else { continue };
        let clean_rows: Vec<usize> = data.images_by_path(family).values().filter_map(|s| data.row_of(s)).collect();
        let mut units = Vec::new();
        let mut diffs = Vec::new();
        for (ci, word) in tb.concepts.iter().enumerate() {
            let best = (0..tb.units())
                .filter(|&u| tb.selective(u, ci, grid.fdr, grid.min_effect))
                .max_by(|&x, &y| tb.tests.d[[x, ci]].total_cmp(&tb.tests.d[[y, ci]]));
            let Some(u) = best else { continue };
            let column = acts.column(u);
            let (_, sd) = mean_sd(&clean_rows.iter().map(|&r| f64::from(column[r])).collect::<Vec<_>>());
            if sd.is_nan() || sd <= 0.0 {
                continue;
            }
            units.push((word.clone(), u, tb.tests.d[[u, ci]]));
            for o in obs.iter().filter(|o| o.word == *word) {
                let (Some(rc), Some(rb)) = (data.row_of(o.composite), o.base.and_then(|b| data.row_of(b))) else {
                    continue;
                };
                diffs.push((f64::from(column[rc]) - f64::from(column[rb])) / sd);
            }
        }
        if diffs.len() >= 2 {
            let (m, s) = mean_sd(&diffs);
            let half = 1.959_963_984_540_054 * s / (diffs.len() as f64).sqrt();
            out.push(UnitShift {
                tap: tb.tap.clone(),
                words: units.len(),
                n: diffs.len(),
                mean_shift: m,
                ci: [m - half, m + half],
                units,
            });
        }
    }
    out
}

/// The finding's units: the ten most selective for their word, most selective first (ablation
/// takes the first few).
fn ablation_units(unit_shifts: &[UnitShift]) -> Vec<UnitRef> {
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
    units
}

/// The typographic analysis, as registered with `analyze`.
pub struct Typographic;

impl super::Analysis for Typographic {
    const NAME: &'static str = "typographic";
    type Doc = TypographicDoc;
    type Output = TypographicSummary;
    fn run(
        cx: &mut Context<'_>,
        doc: &TypographicDoc,
        base: &super::Base<'_>,
    ) -> Result<Option<Self::Output>, super::AnalysisError> {
        Ok(run(cx, doc, base.grid))
    }
}

impl AnalysisResult for TypographicSummary {
    fn checks(&self) -> Vec<Check> {
        vec![Check {
            analysis: Typographic::NAME,
            id: ids::flip_rate(&self.family),
            what: format!("label flips caused by names written on {} images", self.family),
        }]
    }

    fn sections(&self) -> Vec<Section> {
        let mut blocks = vec![
            Part::Text(vec![
                text(format!(
                    "{} classes; zero-shot accuracy on the clean images {}. ",
                    self.classes,
                    num(self.clean_accuracy)
                )),
                text(super::denigration::labelling_rule(self.head.as_ref(), None, 0)),
            ]),
            Part::Table(Table {
                head: vec!["composites", "n", "flip rate", "95% CI", "clean baseline", "excess", "95% CI", "broken"],
                rows: self
                    .flip_rates
                    .iter()
                    .map(|f| {
                        vec![
                            t(&f.subset),
                            Cell::Num(f.n.to_string()),
                            Cell::Num(num(f.rate)),
                            Cell::Num(ci(f.ci)),
                            Cell::Num(num(f.baseline_rate)),
                            Cell::Num(num(f.excess)),
                            Cell::Num(ci(f.excess_ci)),
                            Cell::Num(f.broken.to_string()),
                        ]
                    })
                    .collect(),
            }),
        ];
        if !self.unit_shifts.is_empty() {
            blocks.push(Part::Table(Table {
                head: vec!["tap", "words with a unit", "pairs", "mean shift (sd)", "95% CI"],
                rows: self
                    .unit_shifts
                    .iter()
                    .map(|u| {
                        vec![
                            t(&u.tap),
                            Cell::Num(u.words.to_string()),
                            Cell::Num(u.n.to_string()),
                            Cell::Num(num(u.mean_shift)),
                            Cell::Num(ci(u.ci)),
                        ]
                    })
                    .collect(),
            }));
        }
        let rows: Vec<Interval> = self
            .flip_rates
            .iter()
            .map(|f| Interval { label: f.subset.clone(), value: f.excess, lo: f.excess_ci[0], hi: f.excess_ci[1] })
            .collect();
        let max = rows.iter().map(|r| r.hi).fold(0.05, f64::max);
        blocks.push(Part::Chart(
            vec![text(
                "Excess flip rate (composites labelled as the written name, minus the clean images' rate), 95% CI.",
            )],
            Chart::Intervals { rows, max },
        ));
        vec![Section { title: vec![text("Typographic susceptibility: "), code(&self.family)], blocks }]
    }
}
