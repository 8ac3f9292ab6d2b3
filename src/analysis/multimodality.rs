//! Multimodality: does a unit respond to a concept whether it is shown or written?
//!
//! Goh et al. (2021) found CLIP units that fire for a concept's photos, drawings and its name
//! alike, and others that fire for the written word alone: surfaces for typographic attacks.
//! Per image-encoder tap and selection with both image and rendered-text stimuli, each unit's
//! mean responses over the shared concepts are rank-correlated (Spearman) between the two
//! modalities (exact permutation p for up to ten concepts, the t approximation beyond;
//! Benjamini-Hochberg over the block's units at the selectivity `fdr`); units whose rendered-text selectivity for a concept has no counterpart in its
//! images are word-unit candidates. A random network has those too: some unit's pattern of
//! weights matches the glyphs of one long name on a blank canvas. Reading means the response
//! survives the word being written onto other pictures, so where the selection has typographic
//! composites a candidate must also respond to its concept's name written onto images of
//! other members (each composite against its own clean image), or it is not reported.

use crate::run::acts::TapMatrix;
use crate::stimuli::Modality;
use serde::Serialize;

use super::Analysis as _;
use super::data::RunData;
use super::decision::{Direction, Family, Screen};
use super::ids;
use super::present::{AnalysisResult, Cell, Check, Part, Section, Table, num, t, text};
use super::selectivity::{Block, Grid, Tests, one_vs_rest};
use super::stats::{SPEARMAN_EXACT_MAX_N, benjamini_hochberg, median, spearman_test};
use super::{Context, Evidence, Subject, UnitRef, severity, threshold};
use crate::spec::analyses::{MultimodalityDoc, Severity};

/// Default smallest rank correlation for a multimodal unit.
pub const DEFAULT_MIN_CORRELATION: f64 = 0.3;
/// Default smallest rendered-text d for a typographic surface.
pub const DEFAULT_MIN_TEXT_EFFECT: f64 = 0.8;

/// A unit that reads a word without seeing the concept.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct WordUnit {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// The concept whose written name it responds to.
    pub concept: String,
    /// Cohen's d on rendered text.
    #[serde(deserialize_with = "crate::json::f64")]
    pub cohen_d_text: f64,
    /// q on rendered text.
    #[serde(deserialize_with = "crate::json::f64")]
    pub q_text: f64,
    /// Cohen's d on images of the concept.
    #[serde(deserialize_with = "crate::json::f64")]
    pub cohen_d_image: f64,
    /// Cohen's d of the shift the concept's name causes when written onto other images
    /// (composite minus its clean image, against composites naming other members); None when
    /// the selection has no composites to test it on (the blank-canvas rule alone).
    pub cohen_d_written: Option<f64>,
    /// q of that shift (Benjamini-Hochberg over the block's candidates that could be tested).
    pub q_written: Option<f64>,
}

/// The shift that writing each concept's name onto other images causes in every unit.
#[derive(Debug, Clone)]
pub struct Written {
    /// The concepts, in the order of `tests`' groups.
    pub concepts: Vec<String>,
    /// Composites paired with their clean image and naming one of the concepts.
    pub composites: usize,
    /// Per unit and concept: the shifts of composites naming it against those naming the others.
    pub tests: Tests,
}

impl Written {
    /// Measures the shifts on the selection's typographic composites at one tap: each
    /// composite's response minus its clean image's, grouped by the member its text names
    /// (composites naming none of `concepts`, or whose clean image has no activations, are left
    /// out). None when fewer than two concepts are written.
    pub fn measure(data: &RunData, acts: &TapMatrix, selection: &str, concepts: &[String]) -> Option<Self> {
        let clean = data.images_by_path(selection);
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut labels = Vec::new();
        for s in data.rows(selection, Modality::Typographic) {
            let Some(c) = s.content.text_member().and_then(|m| concepts.iter().position(|x| x == m)) else {
                continue;
            };
            let base = s.content.composite_base().and_then(|p| clean.get(p)).and_then(|b| data.row_of(b));
            let (Some(rc), Some(rb)) = (data.row_of(s), base) else { continue };
            pairs.push((rc, rb));
            labels.push(c);
        }
        // Fewer than two concepts written: nothing to compare, and no need to read the tap.
        let mut written = labels.clone();
        written.sort_unstable();
        written.dedup();
        if written.len() < 2 {
            return None;
        }
        // Composites and their clean images in one pass over the tap.
        let both: Vec<usize> = pairs.iter().map(|p| p.0).chain(pairs.iter().map(|p| p.1)).collect();
        let read = acts.select_rows(&both);
        let (composites, bases) = read.view().split_at(ndarray::Axis(0), pairs.len());
        let shifts = TapMatrix::from(&composites - &bases);
        let rows: Vec<usize> = (0..labels.len()).collect();
        let tests = one_vs_rest(&shifts, &rows, &labels, concepts.len());
        if tests.n.iter().filter(|&&n| n > 0).count() < 2 {
            return None;
        }
        Some(Self { concepts: concepts.to_vec(), composites: labels.len(), tests })
    }
}

/// What the composites made of the word-unit candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// The word units: confirmed on composites, or every candidate when there are none.
    pub kept: Vec<WordUnit>,
    /// Candidates tested on composites whose shift was too small or not significant.
    pub unconfirmed: usize,
    /// Candidates whose concept fewer than two composites write, so they could not be tested.
    pub untested: usize,
}

/// Keeps the word-unit candidates that reading explains. With `written`, a candidate is kept
/// when its concept is written on at least two composites and its shift there is large
/// (d ≥ `min_d`) and significant (Benjamini-Hochberg q ≤ `fdr` over the candidates tested);
/// the others are counted, not kept. Without composites every candidate is kept
/// (`cohen_d_written` None): the blank-canvas rule alone.
pub fn confirm(mut candidates: Vec<WordUnit>, written: Option<&Written>, fdr: f64, min_d: f64) -> Confirmation {
    let Some(w) = written else { return Confirmation { kept: candidates, unconfirmed: 0, untested: 0 } };
    let at = |c: &WordUnit| -> Option<usize> {
        let k = w.concepts.iter().position(|x| *x == c.concept)?;
        (w.tests.n[k] >= 2 && w.tests.p[[c.unit, k]].is_finite()).then_some(k)
    };
    let tested: Vec<(usize, usize)> =
        candidates.iter().enumerate().filter_map(|(i, c)| at(c).map(|k| (i, k))).collect();
    let untested = candidates.len() - tested.len();
    let q = benjamini_hochberg(&tested.iter().map(|&(i, k)| w.tests.p[[candidates[i].unit, k]]).collect::<Vec<_>>());
    for (&(i, k), q) in tested.iter().zip(q) {
        let c = &mut candidates[i];
        c.cohen_d_written = Some(w.tests.d[[c.unit, k]]);
        c.q_written = Some(q);
    }
    let kept: Vec<WordUnit> = candidates
        .into_iter()
        .filter(|c| matches!((c.cohen_d_written, c.q_written), (Some(d), Some(q)) if q <= fdr && d >= min_d))
        .collect();
    Confirmation { unconfirmed: tested.len() - kept.len(), untested, kept }
}

/// One tap and selection.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MultimodalBlock {
    /// Tap.
    pub tap: String,
    /// Selection.
    pub selection: String,
    /// Concepts with both images and rendered text.
    pub concepts: usize,
    /// Units tested.
    pub units: usize,
    /// Units whose image and text responses correlate (rho at least the minimum, q within the
    /// selectivity `fdr`).
    pub multimodal_units: usize,
    /// Median Spearman rho over units (the mean of the middle two for an even count).
    #[serde(deserialize_with = "crate::json::f64")]
    pub median_rho: f64,
    /// How the rank correlations' p-values were computed: `exact permutation` (up to ten
    /// concepts) or `t approximation`.
    pub rho_p_method: String,
    /// The most correlated units: (unit, rho, q), at most 20.
    #[serde(deserialize_with = "crate::json::unit_pairs")]
    pub top_units: Vec<(usize, f64, f64)>,
    /// Typographic composites that measured the names written onto other images (0: the word
    /// units rest on blank renderings alone).
    pub composites: usize,
    /// Candidate unit-concept pairs (selective for a rendered name on a blank canvas, not for
    /// the images) that the composites could not confirm: left out of `word_units`.
    pub unconfirmed: usize,
    /// Candidate pairs whose concept fewer than two composites write: untested, left out.
    pub untested: usize,
    /// Units that respond to written names without the images (at most 50, largest text d first).
    pub word_units: Vec<WordUnit>,
}

/// The multimodality analysis as reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MultimodalitySummary {
    /// Minimum rho.
    #[serde(deserialize_with = "crate::json::f64")]
    pub min_correlation: f64,
    /// Minimum text d.
    #[serde(deserialize_with = "crate::json::f64")]
    pub min_text_effect: f64,
    /// Per tap and selection.
    pub blocks: Vec<MultimodalBlock>,
}

/// Each unit's Spearman correlation between its mean response to the concepts' images and to
/// their rendered names, with its p (exact up to [`SPEARMAN_EXACT_MAX_N`] concepts).
fn correlations(img: &Block, txt: &Block, shared: &[(usize, usize)]) -> Vec<(f64, f64)> {
    (0..img.units())
        .map(|u| {
            let a: Vec<f64> = shared.iter().map(|&(i, _)| img.tests.mean[[u, i]]).collect();
            let b: Vec<f64> = shared.iter().map(|&(_, t)| txt.tests.mean[[u, t]]).collect();
            let (rho, p, _) = spearman_test(&a, &b);
            (rho, p)
        })
        .collect()
}

/// Unit-concept pairs that respond to the rendered name (q ≤ fdr, d ≥ min_d) and measurably not
/// to the images (two images, a finite d, not selective at half the effect).
fn word_unit_candidates(img: &Block, txt: &Block, shared: &[(usize, usize)], fdr: f64, min_d: f64) -> Vec<WordUnit> {
    let mut candidates = Vec::new();
    for u in 0..img.units() {
        for &(i, t) in shared {
            let text_sel = txt.q[[u, t]] <= fdr && txt.tests.d[[u, t]] >= min_d;
            // "Not on images" needs a measured image response: two images and a finite d.
            let image_known = img.tests.n[i] >= 2 && img.tests.d[[u, i]].is_finite();
            let image_sel = img.q[[u, i]] <= fdr && img.tests.d[[u, i]] >= min_d / 2.0;
            if text_sel && image_known && !image_sel {
                candidates.push(WordUnit {
                    tap: img.tap.clone(),
                    unit: u,
                    concept: img.concepts[i].clone(),
                    cohen_d_text: txt.tests.d[[u, t]],
                    q_text: txt.q[[u, t]],
                    cohen_d_image: img.tests.d[[u, i]],
                    cohen_d_written: None,
                    q_written: None,
                });
            }
        }
    }
    candidates
}

/// The settings of the analysis.
struct Setting {
    min_rho: f64,
    text_t: super::Threshold,
    severity: Severity,
    fdr: f64,
}

/// Files the word-unit check of one block: a screen over its units (or, with none, its
/// estimate of 0 for the null baseline).
fn record_word_units(
    cx: &mut Context<'_>,
    s: &Setting,
    img: &Block,
    word_units: &[WordUnit],
    (unconfirmed, written): (usize, bool),
) {
    let id = ids::word_units(&img.tap, &img.selection);
    if word_units.is_empty() {
        // No unit reads words: the check's estimate is a fraction of 0 (the null baseline
        // compares it).
        cx.observe(&id, 0.0, Direction::Above);
        return;
    }
    let mut unit_ids: Vec<usize> = word_units.iter().map(|w| w.unit).collect();
    unit_ids.sort_unstable();
    unit_ids.dedup();
    let mut concepts: Vec<String> = word_units.iter().map(|w| w.concept.clone()).collect();
    concepts.sort();
    concepts.dedup();
    let how = if written {
        "on a blank canvas and written onto other images"
    } else {
        "on a blank canvas; no composites tested them written onto other images"
    };
    let subject = Subject {
        id,
        analysis: Multimodality::NAME,
        severity: s.severity,
        what: format!("units of {} reading names of {}", img.tap, img.selection),
        threshold: s.text_t.clone(),
    };
    let tested = word_units.len() + unconfirmed;
    let decision = Screen {
        estimand: "fraction of units reading words only".into(),
        confirmed: unit_ids.len() as u64,
        n: img.units() as u64,
        test: if written {
            "Mann-Whitney U of each candidate unit-concept pair's shift when the name is written onto other images, Benjamini-Hochberg over the block's tested pairs; confirmed when q ≤ fdr and d ≥ min_text_effect".into()
        } else {
            "Mann-Whitney U of each unit-concept pair on rendered text (selectivity grid, Benjamini-Hochberg over the grid); d ≥ min_text_effect, no image response".into()
        },
        p_adjusted: word_units.iter().map(|w| w.q_written.unwrap_or(w.q_text)).fold(f64::INFINITY, f64::min),
        family: Family { size: tested, ..Family::bh(subject.id.clone(), s.fdr) },
    }
    .decide();
    let statement = format!(
        "{} of {} units of {} respond to the written names of {} {} concepts ({how}, Cohen's d ≥ {}) but not to their images: surfaces for typographic attacks.",
        unit_ids.len(),
        img.units(),
        img.tap,
        concepts.len(),
        img.selection,
        s.text_t.value
    );
    let evidence = Evidence {
        units: unit_ids.iter().take(20).map(|&u| UnitRef { tap: img.tap.clone(), unit: u }).collect(),
        concepts,
        stimuli: Vec::new(),
    };
    cx.record(subject.finding(statement, decision, evidence));
}

/// The analysis of one image block and its rendered-text twin; `None` (with a note) when fewer
/// than 3 concepts have both.
fn block(cx: &mut Context<'_>, s: &Setting, img: &Block, txt: &Block) -> Option<MultimodalBlock> {
    let shared: Vec<(usize, usize)> =
        img.concepts.iter().enumerate().filter_map(|(i, c)| txt.concept(c).map(|t| (i, t))).collect();
    if shared.len() < 3 {
        cx.note(format!(
            "multimodality: {} / {}: fewer than 3 concepts have both images and rendered text",
            img.tap, img.selection
        ));
        return None;
    }
    let units = img.units();
    let rho_p = correlations(img, txt, &shared);
    let q = benjamini_hochberg(&rho_p.iter().map(|x| x.1).collect::<Vec<_>>());
    let median_rho = median(&rho_p.iter().map(|x| x.0).filter(|r| r.is_finite()).collect::<Vec<_>>());
    let mut ranked: Vec<(usize, f64, f64)> =
        (0..units).filter(|&u| rho_p[u].0.is_finite()).map(|u| (u, rho_p[u].0, q[u])).collect();
    ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    let multimodal = ranked.iter().filter(|x| x.1 >= s.min_rho && x.2 <= s.fdr).count();
    let rho_p_method =
        if shared.len() <= SPEARMAN_EXACT_MAX_N { "exact permutation" } else { "t approximation" }.to_owned();
    let candidates = word_unit_candidates(img, txt, &shared, s.fdr, s.text_t.value);
    let shared_concepts: Vec<String> = shared.iter().map(|&(i, _)| img.concepts[i].clone()).collect();
    let written = cx
        .data
        .images
        .taps
        .get(&img.tap)
        .and_then(|acts| Written::measure(cx.data, acts, &img.selection, &shared_concepts));
    if written.is_none() && !candidates.is_empty() {
        cx.note(format!(
            "multimodality: {} / {}: no typographic composites write two or more of its concepts' names, so word units rest on blank renderings alone (a random network's glyph detectors pass that test too); add `typographic:` stimuli to confirm them",
            img.tap, img.selection
        ));
    }
    let Confirmation { kept: mut word_units, unconfirmed, untested } =
        confirm(candidates, written.as_ref(), s.fdr, s.text_t.value);
    if unconfirmed > 0 {
        cx.note(format!(
            "multimodality: {} / {}: {unconfirmed} unit-concept pairs respond to a name on a blank canvas but could not be confirmed written onto other images (shift d < {} or q > {}); not counted as word units",
            img.tap, img.selection, s.text_t.value, s.fdr
        ));
    }
    if untested > 0 {
        cx.note(format!(
            "multimodality: {} / {}: {untested} unit-concept pairs respond to a name on a blank canvas, but fewer than two composites write it, so they were not tested and are not counted as word units; write every name (typographic `per_image`) to test them",
            img.tap, img.selection
        ));
    }
    word_units.sort_by(|x, y| y.cohen_d_text.total_cmp(&x.cohen_d_text));
    record_word_units(cx, s, img, &word_units, (unconfirmed, written.is_some()));
    word_units.truncate(50);
    Some(MultimodalBlock {
        tap: img.tap.clone(),
        selection: img.selection.clone(),
        concepts: shared.len(),
        units,
        multimodal_units: multimodal,
        median_rho,
        rho_p_method,
        top_units: ranked.into_iter().take(20).collect(),
        composites: written.as_ref().map_or(0, |w| w.composites),
        unconfirmed,
        untested,
        word_units,
    })
}

/// Runs the analysis on the selectivity grid: every image block with a rendered-text twin.
pub fn run(cx: &mut Context<'_>, grid: &Grid, doc: &MultimodalityDoc) -> MultimodalitySummary {
    let s = Setting {
        min_rho: doc.min_correlation.as_ref().map_or(DEFAULT_MIN_CORRELATION, |v| v.value),
        text_t: threshold("min_text_effect", &doc.min_text_effect, DEFAULT_MIN_TEXT_EFFECT),
        severity: severity(&doc.severity, Severity::Info),
        fdr: grid.fdr,
    };
    let mut blocks = Vec::new();
    for img in grid.blocks.iter().filter(|b| b.modality == Modality::Image) {
        let Some(txt) = grid.block(&img.tap, &img.selection, Modality::RenderedText) else { continue };
        blocks.extend(block(cx, &s, img, txt));
    }
    MultimodalitySummary { min_correlation: s.min_rho, min_text_effect: s.text_t.value, blocks }
}

/// The multimodality analysis, as registered with `analyze`.
pub struct Multimodality;

impl super::Analysis for Multimodality {
    const NAME: &'static str = "multimodality";
    type Doc = MultimodalityDoc;
    type Output = MultimodalitySummary;
    fn run(
        cx: &mut Context<'_>,
        doc: &MultimodalityDoc,
        base: &super::Base<'_>,
    ) -> Result<Option<Self::Output>, super::AnalysisError> {
        Ok(base.grid.map(|g| run(cx, g, doc)))
    }
}

impl AnalysisResult for MultimodalitySummary {
    fn checks(&self) -> Vec<Check> {
        self.blocks
            .iter()
            .map(|b| Check {
                analysis: Multimodality::NAME,
                id: ids::word_units(&b.tap, &b.selection),
                what: format!("units of {} that read names of {} without their images", b.tap, b.selection),
            })
            .collect()
    }

    fn sections(&self) -> Vec<Section> {
        vec![Section {
            title: vec![text("Multimodality")],
            blocks: vec![
                Part::Text(vec![text(format!(
                    "Spearman's rho between each unit's mean response to a concept's images and to its rendered name, over the concepts with both; its p is the exact permutation p over every pairing up to {SPEARMAN_EXACT_MAX_N} concepts, the t approximation beyond (the column says which), Benjamini-Hochberg over the block's units."
                ))]),
                Part::Table(Table {
                    head: vec![
                        "tap",
                        "selection",
                        "concepts",
                        "units",
                        "multimodal units",
                        "median rho",
                        "p of rho",
                        "word units",
                    ],
                    rows: self
                        .blocks
                        .iter()
                        .map(|b| {
                            vec![
                                t(&b.tap),
                                t(&b.selection),
                                Cell::Num(b.concepts.to_string()),
                                Cell::Num(b.units.to_string()),
                                Cell::Num(b.multimodal_units.to_string()),
                                Cell::Num(num(b.median_rho)),
                                t(&b.rho_p_method),
                                Cell::Num(b.word_units.len().to_string()),
                            ]
                        })
                        .collect(),
                }),
            ],
        }]
    }
}
