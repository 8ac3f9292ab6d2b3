//! Selectivity: which units respond to which concepts, per modality.
//!
//! For every tap, selection and modality (images, rendered text, prompts) the stimuli form a
//! block; each unit's responses in a block are ranked once, and each concept (member) is
//! compared with the rest of its family: mean and sd, Cohen's d, AUROC and the Mann-Whitney U
//! test (exact permutation p, ties included, when the concept has at most eight stimuli; the
//! tie-corrected normal approximation otherwise), plus
//! Cohen's d against the neutral controls when the spec names them. Benjamini-Hochberg
//! q-values run over the whole unit × concept grid of all blocks. The grid feeds the
//! multimodality, resolution and typographic analyses; the summary keeps the selective units
//! with their top and bottom stimuli as evidence.

use ndarray::Array2;
use polars::prelude::{Column, DataFrame};
use rayon::prelude::*;
use serde::Serialize;

use super::present::{AnalysisResult, Cell, Chart, Part, Section, Span, Table, code, num, t, text};
use super::stats::{
    RankSumNull, average_ranks, benjamini_hochberg, cohen_d_ci, cohen_d_from, mann_whitney_p_asymptotic,
};
use super::{Context, RunData, UnitRef};
use crate::run::acts::TapMatrix;
use crate::spec::analyses::SelectivityDoc;
use crate::spec::audit::Selection;
use crate::stimuli::Modality;

/// Default false discovery rate.
pub const DEFAULT_FDR: f64 = 0.05;
/// Default smallest Cohen's d that counts as selective ("large", Cohen 1988).
pub const DEFAULT_MIN_EFFECT: f64 = 0.8;
/// Largest group (a concept's stimuli, or the rest) whose Mann-Whitney p is exact: counted over
/// every split of the block's stimuli, ties included ([`RankSumNull`]), as scipy's
/// `permutation_test` would; larger groups use the tie-corrected normal approximation.
pub const EXACT_MAX_GROUP: usize = 8;
/// Default evidence stimuli per end.
pub const DEFAULT_TOP: usize = 8;
/// Selective units listed per block in the summary (the parquet grid has all).
pub const UNITS_PER_BLOCK: usize = 50;

/// One-versus-rest tests of every unit and group, `[units, groups]` arrays.
#[derive(Debug, Clone)]
pub struct Tests {
    /// Stimuli per group.
    pub n: Vec<usize>,
    /// Mean response of the group.
    pub mean: Array2<f64>,
    /// Sample sd of the group.
    pub sd: Array2<f64>,
    /// Cohen's d of the group against the rest (NaN when undefined).
    pub d: Array2<f64>,
    /// AUROC of the group against the rest.
    pub auroc: Array2<f64>,
    /// Mann-Whitney U1 of the group.
    pub u: Array2<f64>,
    /// Two-sided p.
    pub p: Array2<f64>,
    /// Tests of a group of at most [`EXACT_MAX_GROUP`] whose exact null was too large to count
    /// (about 3·10⁷ cells, see [`RankSumNull`]): their p is the normal approximation, and the
    /// analyses say so in a note.
    pub approximate: usize,
}

/// Compares each group with the rest, for every unit (column) of `acts` over `rows`.
/// `labels[i]` is the group of `rows[i]`, in `0..k`.
///
/// The units are read a block at a time ([`TapMatrix::blocks`]), so memory is bounded by a
/// block and the `[units, k]` results, whatever the number of stimuli; the units of a block
/// are tested in parallel.
pub fn one_vs_rest(acts: &TapMatrix, rows: &[usize], labels: &[usize], k: usize) -> Tests {
    let one = Comparison { rows, labels, k, controls: None };
    one_vs_rest_each(acts, std::slice::from_ref(&one)).remove(0).0
}

/// The controls' mean and sample sd of each unit.
pub type ControlStats = Vec<(f64, f64)>;

/// One group comparison over a tap: `rows` in groups `labels` (in `0..k`), and optionally the
/// rows of neutral controls whose mean and sd are wanted per unit.
#[derive(Debug, Clone, Copy)]
pub struct Comparison<'a> {
    /// Rows of the tap's table.
    pub rows: &'a [usize],
    /// Group of each row.
    pub labels: &'a [usize],
    /// Groups.
    pub k: usize,
    /// Rows of the controls.
    pub controls: Option<&'a [usize]>,
}

/// [`one_vs_rest`] for several comparisons over one tap, reading each block of units once for
/// all of them (a stored tap is read from disk once, not once per comparison). Returns each
/// comparison's tests and, when it has controls, their mean and sample sd per unit.
pub fn one_vs_rest_each(acts: &TapMatrix, comparisons: &[Comparison<'_>]) -> Vec<(Tests, Option<ControlStats>)> {
    let units = acts.units();
    let sizes: Vec<Vec<usize>> = comparisons
        .iter()
        .map(|c| {
            let mut n = vec![0usize; c.k];
            for &l in c.labels {
                n[l] += 1;
            }
            n
        })
        .collect();
    let mut per_unit: Vec<Vec<([Vec<f64>; 6], usize)>> =
        comparisons.iter().map(|_| Vec::with_capacity(units)).collect();
    let mut controls: Vec<Vec<(f64, f64)>> = comparisons.iter().map(|_| Vec::new()).collect();
    for range in acts.blocks() {
        let block = acts.block(range.clone());
        for (i, c) in comparisons.iter().enumerate() {
            per_unit[i].par_extend((0..range.len()).into_par_iter().map(|j| {
                let v: Vec<f64> = c.rows.iter().map(|&r| f64::from(block[[r, j]])).collect();
                unit_tests(&v, c.labels, &sizes[i])
            }));
            if let Some(rows) = c.controls {
                controls[i].extend((0..range.len()).map(|j| {
                    super::stats::mean_sd(&rows.iter().map(|&r| f64::from(block[[r, j]])).collect::<Vec<_>>())
                }));
            }
        }
    }
    per_unit
        .into_iter()
        .zip(sizes)
        .zip(controls)
        .zip(comparisons)
        .map(|(((per_unit, n), ctrl), c)| (assemble(per_unit, n, units), c.controls.map(|_| ctrl)))
        .collect()
}

/// The `[units, k]` arrays of the per-unit test results.
fn assemble(per_unit: Vec<([Vec<f64>; 6], usize)>, n: Vec<usize>, units: usize) -> Tests {
    let k = n.len();
    let mut t = Tests {
        n,
        mean: Array2::from_elem((units, k), f64::NAN),
        sd: Array2::from_elem((units, k), f64::NAN),
        d: Array2::from_elem((units, k), f64::NAN),
        auroc: Array2::from_elem((units, k), f64::NAN),
        u: Array2::from_elem((units, k), f64::NAN),
        p: Array2::from_elem((units, k), f64::NAN),
        approximate: per_unit.iter().map(|x| x.1).sum(),
    };
    for (u, (o, _)) in per_unit.into_iter().enumerate() {
        for (dst, src) in [&mut t.mean, &mut t.sd, &mut t.d, &mut t.auroc, &mut t.u, &mut t.p].into_iter().zip(o) {
            dst.row_mut(u).assign(&ndarray::Array1::from(src));
        }
    }
    t
}

/// One unit's tests: mean, sd, Cohen's d, AUROC, U1 and p of each group against the rest
/// (rows of the array, in that order, one value per group), and how many p used the normal
/// approximation where the exact null was too large. `v` is the unit's response to each
/// stimulus, `labels` their groups, `n` the group sizes.
fn unit_tests(v: &[f64], labels: &[usize], n: &[usize]) -> ([Vec<f64>; 6], usize) {
    let (k, total) = (n.len(), v.len());
    let (ranks, tie) = average_ranks(v);
    let mut sum = vec![0f64; k];
    let mut rsum = vec![0f64; k];
    for (i, &l) in labels.iter().enumerate() {
        sum[l] += v[i];
        rsum[l] += ranks[i];
    }
    let mean: Vec<f64> = (0..k).map(|c| if n[c] > 0 { sum[c] / n[c] as f64 } else { f64::NAN }).collect();
    let mut ss = vec![0f64; k];
    for (i, &l) in labels.iter().enumerate() {
        ss[l] += (v[i] - mean[l]).powi(2);
    }
    let grand = sum.iter().sum::<f64>() / total.max(1) as f64;
    let ss_total: f64 = (0..k).filter(|&c| n[c] > 0).map(|c| ss[c] + n[c] as f64 * (mean[c] - grand).powi(2)).sum();
    let mut out: [Vec<f64>; 6] = std::array::from_fn(|_| vec![f64::NAN; k]);
    let mut approximate = 0;
    let rank_total = (total * (total + 1)) as f64 / 2.0;
    let mut nulls: Vec<(usize, Option<RankSumNull>)> = Vec::new();
    for c in 0..k {
        let (n1, n2) = (n[c], total - n[c]);
        out[0][c] = mean[c];
        out[1][c] = if n1 > 1 { (ss[c] / (n1 - 1) as f64).sqrt() } else { f64::NAN };
        if n1 == 0 || n2 == 0 {
            continue;
        }
        let m2 = (grand * total as f64 - sum[c]) / n2 as f64;
        // Parallel-axis: the rest's sum of squares from the total's.
        let ss2 =
            (ss_total - ss[c] - n1 as f64 * (mean[c] - grand).powi(2) - n2 as f64 * (m2 - grand).powi(2)).max(0.0);
        let s2 = if n2 > 1 { (ss2 / (n2 - 1) as f64).sqrt() } else { f64::NAN };
        out[2][c] = cohen_d_from(mean[c], out[1][c], n1, m2, s2, n2).unwrap_or(f64::NAN);
        let u1 = rsum[c] - (n1 * (n1 + 1)) as f64 / 2.0;
        out[3][c] = u1 / (n1 * n2) as f64;
        out[4][c] = u1;
        // The smaller side's rank sum against its exact null (conditional on ties) when
        // that side is small; the normal approximation otherwise.
        let small = n1.min(n2);
        let exact = (small <= EXACT_MAX_GROUP).then(|| {
            let i = nulls.iter().position(|(m, _)| *m == small).unwrap_or_else(|| {
                nulls.push((small, RankSumNull::new(&ranks, small)));
                nulls.len() - 1
            });
            let rank_sum = if n1 <= n2 { rsum[c] } else { rank_total - rsum[c] };
            nulls[i].1.as_ref().map(|null| null.p_two_sided(rank_sum))
        });
        if exact == Some(None) {
            approximate += 1;
        }
        out[5][c] = exact.flatten().unwrap_or_else(|| mann_whitney_p_asymptotic(u1, n1, n2, tie));
    }
    (out, approximate)
}

/// The stimuli of one tap, selection and modality, and the tests of their concepts.
#[derive(Debug, Clone)]
pub struct Block {
    /// Tap name.
    pub tap: String,
    /// Whether the tap is in the image encoder.
    pub image_encoder: bool,
    /// Selection name.
    pub selection: String,
    /// Modality.
    pub modality: Modality,
    /// Concepts (member ids), in the selection's member order.
    pub concepts: Vec<String>,
    /// Indexes into [`RunData::stimuli`].
    pub stimuli: Vec<usize>,
    /// Rows in the tap's table.
    pub rows: Vec<usize>,
    /// Concept index of each stimulus.
    pub labels: Vec<usize>,
    /// Each concept against the rest of the family.
    pub tests: Tests,
    /// Cohen's d of each concept against the neutral controls.
    pub d_controls: Option<Array2<f64>>,
    /// Benjamini-Hochberg q-values over the whole grid.
    pub q: Array2<f64>,
}

impl Block {
    /// Number of units.
    pub fn units(&self) -> usize {
        self.tests.d.nrows()
    }

    /// Index of a concept.
    pub fn concept(&self, id: &str) -> Option<usize> {
        self.concepts.iter().position(|c| c == id)
    }

    /// Whether (unit, concept) is selective: q within the FDR and d at least the minimum.
    pub fn selective(&self, u: usize, c: usize, fdr: f64, min_d: f64) -> bool {
        self.q[[u, c]] <= fdr && self.tests.d[[u, c]] >= min_d
    }
}

/// The unit × concept grid of an audit.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Blocks, by tap, selection and modality.
    pub blocks: Vec<Block>,
    /// FDR in effect.
    pub fdr: f64,
    /// Minimum effect size in effect.
    pub min_effect: f64,
}

impl Grid {
    /// The block of a tap, selection and modality.
    pub fn block(&self, tap: &str, selection: &str, modality: Modality) -> Option<&Block> {
        self.blocks.iter().find(|b| b.tap == tap && b.selection == selection && b.modality == modality)
    }

    /// The long table: one row per (tap, selection, modality, concept, unit).
    pub fn to_frame(&self) -> polars::prelude::PolarsResult<DataFrame> {
        let mut cols: [Vec<String>; 4] = Default::default();
        let (mut unit, mut n) = (Vec::new(), Vec::new());
        let mut nums: [Vec<f64>; 8] = Default::default();
        for b in &self.blocks {
            for u in 0..b.units() {
                for (c, concept) in b.concepts.iter().enumerate() {
                    cols[0].push(b.tap.clone());
                    cols[1].push(b.selection.clone());
                    cols[2].push(b.modality.name().to_owned());
                    cols[3].push(concept.clone());
                    unit.push(u as u32);
                    n.push(b.tests.n[c] as u32);
                    let dc = b.d_controls.as_ref().map_or(f64::NAN, |m| m[[u, c]]);
                    let vals = [
                        b.tests.mean[[u, c]],
                        b.tests.sd[[u, c]],
                        b.tests.d[[u, c]],
                        dc,
                        b.tests.auroc[[u, c]],
                        b.tests.u[[u, c]],
                        b.tests.p[[u, c]],
                        b.q[[u, c]],
                    ];
                    for (dst, v) in nums.iter_mut().zip(vals) {
                        dst.push(v);
                    }
                }
            }
        }
        let height = unit.len();
        let mut columns: Vec<Column> = ["tap", "selection", "modality", "concept"]
            .iter()
            .zip(cols)
            .map(|(name, v)| Column::new((*name).into(), v))
            .collect();
        columns.push(Column::new("unit".into(), unit));
        columns.push(Column::new("n".into(), n));
        for (name, v) in ["mean", "sd", "cohen_d", "cohen_d_controls", "auroc", "u", "p", "q"].iter().zip(nums) {
            columns.push(Column::new((*name).into(), v));
        }
        DataFrame::new(height, columns)
    }
}

fn block_modalities(image_encoder: bool) -> &'static [Modality] {
    if image_encoder { &[Modality::Image, Modality::RenderedText] } else { &[Modality::Prompt] }
}

/// Computes the grid for every tap, selection and modality with at least two concepts.
pub fn compute(cx: &mut Context<'_>, doc: &SelectivityDoc) -> Grid {
    let data = cx.data;
    let fdr = doc.fdr.as_ref().map_or(DEFAULT_FDR, |v| v.value);
    let min_effect = doc.min_effect_size.as_ref().map_or(DEFAULT_MIN_EFFECT, |v| v.value);
    let controls = doc.controls.as_ref().map(|c| c.value.clone());
    let mut blocks = Vec::new();
    for (tap, image_encoder) in data.taps() {
        let table = if image_encoder { &data.images } else { &data.prompts };
        let Some(acts) = table.taps.get(&tap) else { continue };
        // Every block of the tap, tested in one pass over its units.
        let mut gathered = Vec::new();
        for &modality in block_modalities(image_encoder) {
            for sel in &cx.spec.selections {
                let Some(g) = gather(data, sel, modality) else { continue };
                let control_rows = controls
                    .as_deref()
                    .filter(|c| *c != sel.name)
                    .map(|c| data.rows(c, modality).iter().filter_map(|s| data.row_of(s)).collect::<Vec<usize>>())
                    .filter(|rows| rows.len() >= 2);
                gathered.push((modality, sel, g, control_rows));
            }
        }
        let comparisons: Vec<Comparison<'_>> = gathered
            .iter()
            .map(|(_, _, g, c)| Comparison {
                rows: &g.rows,
                labels: &g.labels,
                k: g.concepts.len(),
                controls: c.as_deref(),
            })
            .collect();
        let results = one_vs_rest_each(acts, &comparisons);
        for ((modality, sel, g, control_rows), (tests, control_stats)) in gathered.into_iter().zip(results) {
            if tests.approximate > 0 {
                cx.note(format!(
                    "selectivity: {tap} / {} / {}: {} unit-concept tests of small groups used the normal approximation of Mann-Whitney's p, because the exact null (conditional on ties) would exceed its table limit",
                    sel.name,
                    modality.name(),
                    tests.approximate
                ));
            }
            let d_controls = control_stats.zip(control_rows).map(|(stats, rows)| control_d(&tests, &stats, rows.len()));
            blocks.push(Block {
                tap: tap.clone(),
                image_encoder,
                selection: sel.name.clone(),
                modality,
                concepts: g.concepts,
                stimuli: g.stimuli,
                rows: g.rows,
                labels: g.labels,
                q: Array2::from_elem(tests.p.raw_dim(), f64::NAN),
                tests,
                d_controls,
            });
        }
    }
    if let Some(c) = &controls
        && !blocks.iter().any(|b| b.d_controls.is_some())
    {
        cx.note(format!("selectivity: the controls selection `{c}` has no stimuli in a modality shared with another selection; no effect sizes against controls"));
    }
    // One Benjamini-Hochberg correction over the whole grid.
    let all: Vec<f64> = blocks.iter().flat_map(|b| b.tests.p.iter().copied()).collect();
    let q = benjamini_hochberg(&all);
    let mut at = 0;
    for b in &mut blocks {
        let len = b.tests.p.len();
        for (dst, v) in b.q.iter_mut().zip(&q[at..at + len]) {
            *dst = *v;
        }
        at += len;
    }
    Grid { blocks, fdr, min_effect }
}

/// The stimuli of one block: those of a selection in one modality that have activations, in
/// the selection's member order, with their rows and concept labels.
struct Gathered {
    concepts: Vec<String>,
    stimuli: Vec<usize>,
    rows: Vec<usize>,
    labels: Vec<usize>,
}

/// Gathers a block's stimuli; None with fewer than two concepts (nothing to compare).
fn gather(data: &RunData, sel: &Selection, modality: Modality) -> Option<Gathered> {
    let mut g = Gathered { concepts: Vec::new(), stimuli: Vec::new(), rows: Vec::new(), labels: Vec::new() };
    let order: Vec<&str> = sel.members.iter().map(|m| m.id.as_str()).collect();
    let mut idx: Vec<(usize, usize)> = data
        .stimuli
        .iter()
        .enumerate()
        .filter(|(_, s)| s.selection == sel.name && s.modality == modality)
        .filter_map(|(i, s)| order.iter().position(|m| *m == s.member).map(|c| (c, i)))
        .collect();
    idx.sort();
    for (c, i) in idx {
        let Some(row) = data.row_of(&data.stimuli[i]) else { continue };
        let id = order[c];
        let l = match g.concepts.iter().position(|x| x == id) {
            Some(l) => l,
            None => {
                g.concepts.push(id.to_owned());
                g.concepts.len() - 1
            }
        };
        g.stimuli.push(i);
        g.rows.push(row);
        g.labels.push(l);
    }
    (g.concepts.len() >= 2).then_some(g)
}

/// Cohen's d of each concept against the neutral controls, from the concepts' means and sds
/// and the controls' (`stats[u]`: mean and sd of unit `u` over `n` control stimuli).
fn control_d(tests: &Tests, stats: &[(f64, f64)], n: usize) -> Array2<f64> {
    let (units, k) = tests.d.dim();
    let mut out = Array2::from_elem((units, k), f64::NAN);
    for (u, &(m, s)) in stats.iter().enumerate().take(units) {
        for c in 0..k {
            out[[u, c]] = cohen_d_from(tests.mean[[u, c]], tests.sd[[u, c]], tests.n[c], m, s, n).unwrap_or(f64::NAN);
        }
    }
    out
}

/// A stimulus shown as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Example {
    /// Stimulus id.
    pub id: String,
    /// Its member.
    pub member: String,
    /// Its modality.
    pub modality: String,
    /// The unit's pooled activation.
    #[serde(deserialize_with = "crate::json::f32")]
    pub value: f32,
}

/// A unit selective for a concept.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SelectiveUnit {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// Selection.
    pub selection: String,
    /// Modality.
    pub modality: String,
    /// The concept it responds to most (largest d).
    pub concept: String,
    /// Stimuli of the concept.
    pub n: usize,
    /// Mean response to the concept.
    #[serde(deserialize_with = "crate::json::f64")]
    pub mean: f64,
    /// Cohen's d against the rest of the family.
    #[serde(deserialize_with = "crate::json::f64")]
    pub cohen_d: f64,
    /// Cohen's d against the neutral controls.
    pub cohen_d_controls: Option<f64>,
    /// AUROC against the rest.
    #[serde(deserialize_with = "crate::json::f64")]
    pub auroc: f64,
    /// Mann-Whitney p.
    #[serde(deserialize_with = "crate::json::f64")]
    pub p: f64,
    /// Benjamini-Hochberg q.
    #[serde(deserialize_with = "crate::json::f64")]
    pub q: f64,
    /// Other concepts it is also selective for.
    pub also: Vec<String>,
    /// Its highest-responding stimuli (all of the tap's table).
    pub top: Vec<Example>,
    /// Its lowest-responding stimuli.
    pub bottom: Vec<Example>,
    /// Its response to every concept, per modality of its tap and selection (beyond 64
    /// concepts: its own and the 63 with the largest |d|), for the unit view's bar chart with
    /// CIs and the map.
    pub responses: Vec<ConceptResponses>,
}

/// A unit's response to each concept of one modality, each concept against the rest of that
/// modality's stimuli.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ConceptResponses {
    /// Modality.
    pub modality: String,
    /// Concepts (member ids), in the selection's order.
    pub concepts: Vec<String>,
    /// Stimuli of each concept.
    pub n: Vec<usize>,
    /// Mean response to each concept.
    #[serde(deserialize_with = "crate::json::vec")]
    pub mean: Vec<f64>,
    /// Cohen's d of each concept against the rest; null where undefined.
    #[serde(deserialize_with = "crate::json::vec")]
    pub d: Vec<f64>,
    /// 95% CI of each d (Hedges & Olkin's standard error, t quantile).
    #[serde(deserialize_with = "crate::json::pairs")]
    pub ci: Vec<[f64; 2]>,
}

/// Concepts kept per modality in a unit's responses.
const RESPONSES_KEPT: usize = 64;

/// Unit `u`'s responses in every block of `tap` and `selection`: every concept when there are
/// at most [`RESPONSES_KEPT`], otherwise `concept` (the unit's own) and those with the largest
/// |d|, in the selection's order.
fn responses(grid: &Grid, tap: &str, selection: &str, u: usize, concept: &str) -> Vec<ConceptResponses> {
    grid.blocks
        .iter()
        .filter(|b| b.tap == tap && b.selection == selection && u < b.units())
        .map(|b| {
            let mut cols: Vec<usize> = (0..b.concepts.len()).collect();
            if cols.len() > RESPONSES_KEPT {
                let size = |c: usize| {
                    let d = b.tests.d[[u, c]].abs();
                    if b.concepts[c] == concept {
                        f64::INFINITY
                    } else if d.is_nan() {
                        -1.0
                    } else {
                        d
                    }
                };
                cols.sort_by(|&x, &y| size(y).total_cmp(&size(x)).then(x.cmp(&y)));
                cols.truncate(RESPONSES_KEPT);
                cols.sort_unstable();
            }
            let n: Vec<usize> = cols.iter().map(|&c| b.tests.n[c]).collect();
            let d: Vec<f64> = cols.iter().map(|&c| b.tests.d[[u, c]]).collect();
            ConceptResponses {
                modality: b.modality.name().to_owned(),
                concepts: cols.iter().map(|&c| b.concepts[c].clone()).collect(),
                mean: cols.iter().map(|&c| b.tests.mean[[u, c]]).collect(),
                ci: d.iter().zip(&n).map(|(&d, &n)| cohen_d_ci(d, n, b.rows.len().saturating_sub(n), 0.05)).collect(),
                n,
                d,
            }
        })
        .collect()
}

/// Counts of one block.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct BlockSummary {
    /// Tap.
    pub tap: String,
    /// Selection.
    pub selection: String,
    /// Modality.
    pub modality: String,
    /// Units of the tap.
    pub units: usize,
    /// Concepts with stimuli.
    pub concepts: usize,
    /// Stimuli.
    pub stimuli: usize,
    /// Units selective for at least one concept.
    pub selective_units: usize,
    /// Selective (unit, concept) pairs.
    pub selective_pairs: usize,
}

/// Cohen's d of a block's most selective units for every concept, for heat maps.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Heatmap {
    /// Tap.
    pub tap: String,
    /// Selection.
    pub selection: String,
    /// Modality.
    pub modality: String,
    /// Units (rows), most selective first (at most 24).
    pub units: Vec<usize>,
    /// Concepts (columns, at most 64).
    pub concepts: Vec<String>,
    /// `d[row][column]`; null where undefined.
    #[serde(deserialize_with = "crate::json::matrix")]
    pub d: Vec<Vec<f64>>,
}

/// The selectivity analysis as reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SelectivitySummary {
    /// FDR.
    #[serde(deserialize_with = "crate::json::f64")]
    pub fdr: f64,
    /// Minimum Cohen's d.
    #[serde(deserialize_with = "crate::json::f64")]
    pub min_effect_size: f64,
    /// Tests in the grid.
    pub tests: usize,
    /// Per block.
    pub blocks: Vec<BlockSummary>,
    /// The most selective units of each block (at most 50 per block, largest d first), then
    /// every other unit a finding cites, by its most selective concept.
    pub units: Vec<SelectiveUnit>,
    /// Heat maps of each block's most selective units.
    pub heatmaps: Vec<Heatmap>,
}

/// The top and bottom `n` stimuli of a unit in a tap's table (images and rendered text).
pub fn extremes(data: &RunData, tap: &str, image_encoder: bool, unit: usize, n: usize) -> (Vec<Example>, Vec<Example>) {
    let table = if image_encoder { &data.images } else { &data.prompts };
    let Some(acts) = table.taps.get(tap) else { return (Vec::new(), Vec::new()) };
    let acts = acts.column(unit);
    // A stimulus shared by two selections is one row: list it once.
    let mut seen = std::collections::HashSet::new();
    let mut v: Vec<(f32, usize)> = data
        .stimuli
        .iter()
        .enumerate()
        .filter(|(_, s)| s.modality.is_text() != image_encoder)
        .filter_map(|(i, s)| data.row_of(s).map(|r| (r, i)))
        .filter(|(r, _)| seen.insert(*r))
        .map(|(r, i)| (acts[r], i))
        .collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let ex = |&(value, i): &(f32, usize)| {
        let s = &data.stimuli[i];
        Example { id: s.id.clone(), member: s.member.clone(), modality: s.modality.name().to_owned(), value }
    };
    let top = v.iter().take(n).map(ex).collect();
    let bottom = v.iter().rev().take(n).map(ex).collect();
    (top, bottom)
}

/// Summarises the grid: counts per block and the selective units with evidence: each block's
/// most selective, then every unit in `cited` (the findings' evidence) not listed yet, by its
/// most selective concept in any block of its tap (its largest d when none passes the grid's
/// bar), so that a reviewer can open every unit a finding names.
pub fn summarize(cx: &Context<'_>, grid: &Grid, doc: &SelectivityDoc, cited: &[UnitRef]) -> SelectivitySummary {
    let top_n = doc.top_stimuli.unwrap_or(DEFAULT_TOP);
    let (fdr, min_d) = (grid.fdr, grid.min_effect);
    let mut blocks = Vec::new();
    let mut units = Vec::new();
    let mut heatmaps = Vec::new();
    for b in &grid.blocks {
        let mut pairs = 0;
        let mut best: Vec<(f64, usize, usize)> = Vec::new();
        for u in 0..b.units() {
            let sel: Vec<usize> = (0..b.concepts.len()).filter(|&c| b.selective(u, c, fdr, min_d)).collect();
            pairs += sel.len();
            if let Some(&c) = sel.iter().max_by(|&&x, &&y| b.tests.d[[u, x]].total_cmp(&b.tests.d[[u, y]])) {
                best.push((b.tests.d[[u, c]], u, c));
            }
        }
        blocks.push(BlockSummary {
            tap: b.tap.clone(),
            selection: b.selection.clone(),
            modality: b.modality.name().to_owned(),
            units: b.units(),
            concepts: b.concepts.len(),
            stimuli: b.rows.len(),
            selective_units: best.len(),
            selective_pairs: pairs,
        });
        best.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        if !best.is_empty() {
            let rows: Vec<usize> = best.iter().take(24).map(|x| x.1).collect();
            let cols = b.concepts.len().min(64);
            heatmaps.push(Heatmap {
                tap: b.tap.clone(),
                selection: b.selection.clone(),
                modality: b.modality.name().to_owned(),
                units: rows.clone(),
                concepts: b.concepts[..cols].to_vec(),
                d: rows.iter().map(|&u| (0..cols).map(|c| b.tests.d[[u, c]]).collect()).collect(),
            });
        }
        for &(_, u, c) in best.iter().take(UNITS_PER_BLOCK) {
            units.push(selective_unit(cx, grid, b, u, c, top_n));
        }
    }
    for r in cited {
        if units.iter().any(|x| x.tap == r.tap && x.unit == r.unit) {
            continue;
        }
        // Its most selective concept; a unit cited under a lower bar than the grid's (an
        // analysis's own min effect) by its largest d.
        let key = |b: &Block, c: usize| (b.selective(r.unit, c, fdr, min_d), b.tests.d[[r.unit, c]]);
        let best = grid
            .blocks
            .iter()
            .filter(|b| b.tap == r.tap && r.unit < b.units())
            .flat_map(|b| (0..b.concepts.len()).map(move |c| (b, c)))
            .filter(|(b, c)| b.tests.d[[r.unit, *c]].is_finite())
            .max_by(|x, y| {
                let (kx, ky) = (key(x.0, x.1), key(y.0, y.1));
                kx.0.cmp(&ky.0).then(kx.1.total_cmp(&ky.1))
            });
        if let Some((b, c)) = best {
            units.push(selective_unit(cx, grid, b, r.unit, c, top_n));
        }
    }
    SelectivitySummary {
        fdr,
        min_effect_size: min_d,
        tests: grid.blocks.iter().map(|b| b.tests.p.len()).sum(),
        blocks,
        units,
        heatmaps,
    }
}

/// One unit's entry in the summary: its concept `c` in block `b`, with evidence stimuli and its
/// responses to every concept.
fn selective_unit(cx: &Context<'_>, grid: &Grid, b: &Block, u: usize, c: usize, top_n: usize) -> SelectiveUnit {
    let (fdr, min_d) = (grid.fdr, grid.min_effect);
    let (top, bottom) = extremes(cx.data, &b.tap, b.image_encoder, u, top_n);
    SelectiveUnit {
        tap: b.tap.clone(),
        unit: u,
        selection: b.selection.clone(),
        modality: b.modality.name().to_owned(),
        concept: b.concepts[c].clone(),
        n: b.tests.n[c],
        mean: b.tests.mean[[u, c]],
        cohen_d: b.tests.d[[u, c]],
        cohen_d_controls: b.d_controls.as_ref().map(|m| m[[u, c]]),
        auroc: b.tests.auroc[[u, c]],
        p: b.tests.p[[u, c]],
        q: b.q[[u, c]],
        also: (0..b.concepts.len())
            .filter(|&o| o != c && b.selective(u, o, fdr, min_d))
            .map(|o| b.concepts[o].clone())
            .collect(),
        top,
        bottom,
        responses: responses(grid, &b.tap, &b.selection, u, &b.concepts[c]),
    }
}

impl AnalysisResult for SelectivitySummary {
    fn sections(&self) -> Vec<Section> {
        let mut blocks = vec![
            Part::Text(vec![
                text(format!("{} tests; selective = q ≤ ", self.tests)),
                Span::Num(num(self.fdr)),
                text(" and Cohen's d ≥ "),
                Span::Num(num(self.min_effect_size)),
                text("."),
            ]),
            Part::Table(Table {
                head: vec![
                    "tap",
                    "selection",
                    "modality",
                    "units",
                    "concepts",
                    "stimuli",
                    "selective units",
                    "selective pairs",
                ],
                rows: self
                    .blocks
                    .iter()
                    .map(|b| {
                        vec![
                            t(&b.tap),
                            t(&b.selection),
                            t(&b.modality),
                            Cell::Num(b.units.to_string()),
                            Cell::Num(b.concepts.to_string()),
                            Cell::Num(b.stimuli.to_string()),
                            Cell::Num(b.selective_units.to_string()),
                            Cell::Num(b.selective_pairs.to_string()),
                        ]
                    })
                    .collect(),
            }),
        ];
        for h in self.heatmaps.iter().filter(|h| h.modality != "prompt").take(6) {
            blocks.push(Part::Chart(
                vec![
                    text("Cohen's d of the most selective units of "),
                    code(&h.tap),
                    text(" for "),
                    code(&h.selection),
                    text(format!(" ({}).", h.modality)),
                ],
                Chart::Heatmap(h.clone()),
            ));
        }
        vec![Section { title: vec![text("Selectivity")], blocks }]
    }
}
