//! `clip-audit search`: finding units from words, the way Goh et al. (2021) found many of
//! theirs from text alone.
//!
//! The query is rendered as text on a blank canvas (image taps) or written into prompts (text
//! taps), and so is every word of a fixed background (`stimuli::words`). Each unit of the tap
//! is ranked by Cohen's d of its responses to the query's renderings against its responses to
//! the background's (pooled sd; 95% CI from Hedges & Olkin's standard error and the t
//! quantile, `analysis::stats::cohen_d_ci`), so a unit that answers any ink does not rank: only
//! one that answers this word more than others. The renderings of one word are not independent
//! samples (they are its sizes and cases), so the CI describes the spread over renderings, not
//! over words; it ranks units, it does not decide anything. With `--report`, each unit is
//! linked to its neuron card in that report when it has one.

use std::path::Path;

use anyhow::Context;
use ndarray::Array2;

use super::{Outcome, session_config};
use crate::analysis::stats::{cohen_d_ci, cohen_d_from, mean_sd};
use crate::cli::SearchArgs;
use crate::model::pipeline::stack;
use crate::model::{ClipModel, Encoder, TapSelection, preprocess};
use crate::stimuli::words;

/// One unit's result.
#[derive(Debug, Clone, serde::Serialize)]
struct Hit {
    unit: usize,
    cohen_d: f64,
    ci: [f64; 2],
    query_mean: f64,
    background_mean: f64,
    card: Option<String>,
}

/// The tap's activations for each item, `[items, units]`, encoded in batches.
fn activations(model: &mut ClipModel, tap: &str, encoder: Encoder, word: &[&str]) -> anyhow::Result<Array2<f32>> {
    let size = model.manifest().preprocess.size;
    let spec = model.manifest().preprocess;
    let mut rows: Vec<Vec<f32>> = Vec::new();
    for chunk in word.chunks(8) {
        let enc = match encoder {
            Encoder::Image => {
                let tensors: Vec<Vec<f32>> = chunk
                    .iter()
                    .flat_map(|w| words::renderings(w, size))
                    .map(|img| preprocess::preprocess(&img, &spec))
                    .collect();
                model.encode_images(stack(&tensors, size).view())?
            }
            Encoder::Text => {
                let texts: Vec<String> = chunk.iter().flat_map(|w| words::prompts(w)).collect();
                model.encode_texts(&texts)?
            }
        };
        let acts = &enc.taps.iter().find(|(n, _)| n == tap).context("the model did not return the tap")?.1;
        rows.extend(acts.rows().into_iter().map(|r| r.to_vec()));
    }
    let units = rows.first().map_or(0, Vec::len);
    Ok(Array2::from_shape_vec((rows.len(), units), rows.concat())?)
}

/// Ranks the units of `tap` for a query against the background; `report` is a report page's
/// path and the card anchors on it, to link each unit to its card there.
fn rank(
    query: &Array2<f32>,
    background: &Array2<f32>,
    tap: &str,
    report: Option<&(String, std::collections::HashSet<String>)>,
) -> Vec<Hit> {
    let (n1, n2) = (query.nrows(), background.nrows());
    let mut hits: Vec<Hit> = (0..query.ncols())
        .map(|u| {
            let q: Vec<f64> = query.column(u).iter().map(|&v| f64::from(v)).collect();
            let b: Vec<f64> = background.column(u).iter().map(|&v| f64::from(v)).collect();
            let ((m1, s1), (m2, s2)) = (mean_sd(&q), mean_sd(&b));
            let d = cohen_d_from(m1, s1, n1, m2, s2, n2).unwrap_or(f64::NAN);
            let card = report.and_then(|(page, anchors)| {
                let id = crate::report::cards::anchor(tap, u);
                anchors.contains(&id).then(|| format!("{page}#{id}"))
            });
            Hit { unit: u, cohen_d: d, ci: cohen_d_ci(d, n1, n2, 0.05), query_mean: m1, background_mean: m2, card }
        })
        .collect();
    // Largest d first; units whose d is undefined (silent or constant on every word) last.
    let key = |h: &Hit| if h.cohen_d.is_nan() { f64::NEG_INFINITY } else { h.cohen_d };
    hits.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.unit.cmp(&b.unit)));
    hits
}

/// `clip-audit search QUERY --model BUNDLE --tap TAP`.
pub fn run(args: &SearchArgs) -> anyhow::Result<Outcome> {
    let query = args.query.trim();
    if query.is_empty() {
        anyhow::bail!("the query is empty: give a word or phrase, e.g. `clip-audit search \"red\" --model M --tap T`");
    }
    let mut model =
        ClipModel::load(&args.model, &session_config(&args.runtime), &TapSelection::Named(vec![args.tap.clone()]))
            .with_context(|| format!("cannot load {}", args.model.display()))?;
    let encoder =
        if model.taps(Encoder::Image).iter().any(|t| t.name == args.tap) { Encoder::Image } else { Encoder::Text };
    let background = words::background(query);
    let q = activations(&mut model, &args.tap, encoder, &[query])?;
    let b = activations(&mut model, &args.tap, encoder, &background)?;
    let report = match &args.report {
        Some(dir) => Some(read_report_page(dir)?),
        None => None,
    };
    let mut hits = rank(&q, &b, &args.tap, report.as_ref());
    hits.truncate(args.top.max(1));
    if args.json {
        let out = serde_json::json!({
            "query": query,
            "tap": args.tap,
            "encoder": if encoder == Encoder::Image { "image" } else { "text" },
            "query_items": q.nrows(),
            "background_words": background.len(),
            "background_items": b.nrows(),
            "units": hits,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Outcome::Pass);
    }
    let what = if encoder == Encoder::Image { "renderings" } else { "prompts" };
    println!(
        "{query:?} at {} ({} {what} of the query against {} of {} background words): units by Cohen's d",
        args.tap,
        q.nrows(),
        b.nrows(),
        background.len()
    );
    println!("{:>4}  {:>6}  {:>7}  {:>17}  {:>10}  {:>10}  card", "rank", "unit", "d", "95% CI", "query", "background");
    for (i, h) in hits.iter().enumerate() {
        println!(
            "{:>4}  {:>6}  {:>7.2}  [{:>7.2}, {:>7.2}]  {:>10.4}  {:>10.4}  {}",
            i + 1,
            h.unit,
            h.cohen_d,
            h.ci[0],
            h.ci[1],
            h.query_mean,
            h.background_mean,
            h.card.as_deref().unwrap_or("")
        );
    }
    Ok(Outcome::Pass)
}

/// A report folder's (or file's) `report.html`: its path and the anchors of its neuron cards.
fn read_report_page(dir: &Path) -> anyhow::Result<(String, std::collections::HashSet<String>)> {
    let page = if dir.is_dir() { dir.join("report.html") } else { dir.to_path_buf() };
    let html = std::fs::read_to_string(&page).with_context(|| {
        format!("cannot read {} (give a report folder such as reports/AUDIT/latest)", page.display())
    })?;
    let marker = "<article class=\"card\" id=\"";
    let anchors = html
        .match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect();
    Ok((page.display().to_string(), anchors))
}
