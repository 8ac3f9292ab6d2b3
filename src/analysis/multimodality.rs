//! Multimodality: does a unit respond to a concept whether it is shown or written?
//!
//! Goh et al. (2021) found CLIP units that fire for a concept's photos, drawings and its name
//! alike, and others that fire for the written word alone: surfaces for typographic attacks.
//! Per image-encoder tap and selection with both image and rendered-text stimuli, each unit's
//! mean responses over the shared concepts are rank-correlated (Spearman) between the two
//! modalities; units whose rendered-text selectivity for a concept has no counterpart in its
//! images are flagged.

use serde::Serialize;

use super::selectivity::Grid;
use super::stats::{benjamini_hochberg, spearman};
use super::{Context, Evidence, Finding, Statistic, UnitRef, severity, slug, threshold};
use crate::spec::analyses::{MultimodalityDoc, Severity};

/// Default smallest rank correlation for a multimodal unit.
pub const DEFAULT_MIN_CORRELATION: f64 = 0.3;
/// Default smallest rendered-text d for a typographic surface.
pub const DEFAULT_MIN_TEXT_EFFECT: f64 = 0.8;

/// A unit that reads a word without seeing the concept.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WordUnit {
    /// Tap.
    pub tap: String,
    /// Unit.
    pub unit: usize,
    /// The concept whose written name it responds to.
    pub concept: String,
    /// Cohen's d on rendered text.
    pub cohen_d_text: f64,
    /// q on rendered text.
    pub q_text: f64,
    /// Cohen's d on images of the concept.
    pub cohen_d_image: f64,
}

/// One tap and selection.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MultimodalBlock {
    /// Tap.
    pub tap: String,
    /// Selection.
    pub selection: String,
    /// Concepts with both images and rendered text.
    pub concepts: usize,
    /// Units tested.
    pub units: usize,
    /// Units whose image and text responses correlate (rho at least the minimum, q within 5%).
    pub multimodal_units: usize,
    /// Median Spearman rho over units.
    pub median_rho: f64,
    /// The most correlated units: (unit, rho, q), at most 20.
    pub top_units: Vec<(usize, f64, f64)>,
    /// Units that respond to written names without the images.
    pub word_units: Vec<WordUnit>,
}

/// The multimodality analysis as reported.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MultimodalitySummary {
    /// Minimum rho.
    pub min_correlation: f64,
    /// Minimum text d.
    pub min_text_effect: f64,
    /// Per tap and selection.
    pub blocks: Vec<MultimodalBlock>,
}

/// Runs the analysis on the selectivity grid.
pub fn run(cx: &mut Context<'_>, grid: &Grid, doc: &MultimodalityDoc) -> MultimodalitySummary {
    let min_rho = doc.min_correlation.as_ref().map_or(DEFAULT_MIN_CORRELATION, |v| v.value);
    let text_t = threshold("min_text_effect", &doc.min_text_effect, DEFAULT_MIN_TEXT_EFFECT);
    let sev = severity(&doc.severity, Severity::Info);
    let mut blocks = Vec::new();
    for img in grid.blocks.iter().filter(|b| b.modality == "image") {
        let Some(txt) = grid.block(&img.tap, &img.selection, "rendered_text") else { continue };
        let shared: Vec<(usize, usize)> =
            img.concepts.iter().enumerate().filter_map(|(i, c)| txt.concept(c).map(|t| (i, t))).collect();
        if shared.len() < 3 {
            cx.note(format!(
                "multimodality: {} / {}: fewer than 3 concepts have both images and rendered text",
                img.tap, img.selection
            ));
            continue;
        }
        let units = img.units();
        let rho_p: Vec<(f64, f64)> = (0..units)
            .map(|u| {
                let a: Vec<f64> = shared.iter().map(|&(i, _)| img.tests.mean[[u, i]]).collect();
                let b: Vec<f64> = shared.iter().map(|&(_, t)| txt.tests.mean[[u, t]]).collect();
                spearman(&a, &b)
            })
            .collect();
        let q = benjamini_hochberg(&rho_p.iter().map(|x| x.1).collect::<Vec<_>>());
        let mut rhos: Vec<f64> = rho_p.iter().map(|x| x.0).filter(|r| r.is_finite()).collect();
        rhos.sort_by(f64::total_cmp);
        let median_rho = if rhos.is_empty() { f64::NAN } else { rhos[rhos.len() / 2] };
        let mut ranked: Vec<(usize, f64, f64)> =
            (0..units).filter(|&u| rho_p[u].0.is_finite()).map(|u| (u, rho_p[u].0, q[u])).collect();
        ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        let multimodal = ranked.iter().filter(|x| x.1 >= min_rho && x.2 <= 0.05).count();
        let mut word_units = Vec::new();
        for u in 0..units {
            for &(i, t) in &shared {
                let text_sel = txt.q[[u, t]] <= grid.fdr && txt.tests.d[[u, t]] >= text_t.value;
                // "Not on images" needs a measured image response: two images and a finite d.
                let image_known = img.tests.n[i] >= 2 && img.tests.d[[u, i]].is_finite();
                let image_sel = img.q[[u, i]] <= grid.fdr && img.tests.d[[u, i]] >= text_t.value / 2.0;
                if text_sel && image_known && !image_sel {
                    word_units.push(WordUnit {
                        tap: img.tap.clone(),
                        unit: u,
                        concept: img.concepts[i].clone(),
                        cohen_d_text: txt.tests.d[[u, t]],
                        q_text: txt.q[[u, t]],
                        cohen_d_image: img.tests.d[[u, i]],
                    });
                }
            }
        }
        word_units.sort_by(|x, y| y.cohen_d_text.total_cmp(&x.cohen_d_text));
        if !word_units.is_empty() {
            let mut unit_ids: Vec<usize> = word_units.iter().map(|w| w.unit).collect();
            unit_ids.sort_unstable();
            unit_ids.dedup();
            let mut concepts: Vec<String> = word_units.iter().map(|w| w.concept.clone()).collect();
            concepts.sort();
            concepts.dedup();
            let frac = unit_ids.len() as f64 / units as f64;
            cx.findings.push(Finding {
                id: format!("multimodality/{}/{}/word-units", slug(&img.tap), slug(&img.selection)),
                analysis: "multimodality".into(),
                severity: sev,
                statement: format!(
                    "{} of {} units of {} respond to the written names of {} {} concepts (Cohen's d ≥ {}) but not to their images: surfaces for typographic attacks.",
                    unit_ids.len(),
                    units,
                    img.tap,
                    concepts.len(),
                    img.selection,
                    text_t.value
                ),
                statistic: Statistic {
                    name: "fraction of units reading words only".into(),
                    value: frac,
                    ci: None,
                    p: None,
                    q: None,
                    n: Some(units as u64),
                },
                threshold: text_t.clone(),
                evidence: Evidence {
                    units: unit_ids.iter().take(20).map(|&u| UnitRef { tap: img.tap.clone(), unit: u }).collect(),
                    concepts,
                    stimuli: Vec::new(),
                }, structural: false });
        }
        word_units.truncate(50);
        blocks.push(MultimodalBlock {
            tap: img.tap.clone(),
            selection: img.selection.clone(),
            concepts: shared.len(),
            units,
            multimodal_units: multimodal,
            median_rho,
            top_units: ranked.into_iter().take(20).collect(),
            word_units,
        });
    }
    MultimodalitySummary { min_correlation: min_rho, min_text_effect: text_t.value, blocks }
}
