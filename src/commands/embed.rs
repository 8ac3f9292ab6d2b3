//! `clip-audit embed`: what the model computes for given images and texts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use ndarray::{Array2, Axis};
use serde::Serialize;

use super::{Outcome, session_config};
use crate::cli::EmbedArgs;
use crate::model::pipeline::encode_all;
use crate::model::{ClipModel, Encoded, TapSelection, preprocess};
use crate::vectors::Head;

/// Joins per-batch results into one.
fn concat(parts: Vec<Encoded>) -> Option<Encoded> {
    let mut iter = parts.into_iter();
    let mut acc = iter.next()?;
    for part in iter {
        acc.embeddings =
            ndarray::concatenate(Axis(0), &[acc.embeddings.view(), part.embeddings.view()]).expect("same width");
        for ((_, a), (_, b)) in acc.taps.iter_mut().zip(part.taps) {
            *a = ndarray::concatenate(Axis(0), &[a.view(), b.view()]).expect("same width");
        }
    }
    Some(acc)
}

#[derive(Serialize)]
struct ItemJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_ids: Option<Vec<i64>>,
    embedding: Vec<f32>,
    taps: BTreeMap<String, Vec<f32>>,
}

#[derive(Serialize)]
struct EmbedJson {
    model: String,
    device: String,
    embedding_dim: usize,
    logit_scale: f32,
    /// The zero-shot head the probabilities follow.
    head: Head,
    texts: Vec<ItemJson>,
    images: Vec<ItemJson>,
    /// `[image][text]` cosine similarity.
    similarity: Vec<Vec<f32>>,
    /// `[image][text]` zero-shot probability under the bundle's head (softmax over the texts
    /// for CLIP, a sigmoid per text for SigLIP).
    probabilities: Vec<Vec<f32>>,
}

/// What `embed` computed, ready to print.
struct Computed {
    model: String,
    device: String,
    logit_scale: f32,
    head: Head,
    /// Token ids of the texts, one row each.
    ids: Array2<i64>,
    /// Their attention masks: 1 on each text's tokens, 0 on the padding.
    mask: Array2<i64>,
    texts: Option<(Encoded, Array2<f32>)>,
    images: Option<(Encoded, Array2<f32>)>,
    /// `[image, text]` cosine similarity.
    similarity: Array2<f32>,
    /// Per image, the probability of each text under the bundle's head.
    probabilities: Vec<Vec<f32>>,
}

impl Computed {
    fn dim(&self) -> usize {
        self.texts.as_ref().or(self.images.as_ref()).map_or(0, |(_, n)| n.ncols())
    }
}

/// Runs `embed`.
pub fn run(args: &EmbedArgs) -> anyhow::Result<Outcome> {
    if args.images.is_empty() && args.texts.is_empty() {
        anyhow::bail!("nothing to embed: give at least one --image PATH or --text STR");
    }
    let selection = if args.taps.is_empty() { TapSelection::All } else { TapSelection::Named(args.taps.clone()) };
    let mut model = ClipModel::load(&args.model, &session_config(&args.runtime), &selection)
        .with_context(|| format!("cannot load model bundle {}", args.model.display()))?;
    let with_norm = |e: Encoded| {
        let n = e.normalized_embeddings();
        (e, n)
    };
    let texts = if args.texts.is_empty() { None } else { Some(with_norm(model.encode_texts(&args.texts)?)) };
    let images = concat(encode_all(&mut model, &args.images, args.batch, |p| preprocess::load_rgb(p))?).map(with_norm);
    let similarity: Array2<f32> = match (&images, &texts) {
        (Some((_, i)), Some((_, t))) => i.dot(&t.t()),
        _ => Array2::zeros((0, 0)),
    };
    let (logit_scale, head) = (model.manifest().logit_scale, model.manifest().head);
    let probabilities = similarity
        .rows()
        .into_iter()
        .map(|row| {
            let cos: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            head.probabilities(&cos).into_iter().map(|p| p as f32).collect()
        })
        .collect();
    let (ids, mask) = model.tokenize(&args.texts)?;
    let out = Computed {
        model: model.manifest().name.clone(),
        device: model.device().to_string(),
        logit_scale,
        head,
        ids,
        mask,
        texts,
        images,
        similarity,
        probabilities,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&as_json(args, out))?);
    } else {
        print!("{}", as_text(args, &out));
    }
    Ok(Outcome::Pass)
}

/// One item's normalised embedding and tap activations.
fn item(enc: &(Encoded, Array2<f32>), i: usize) -> (Vec<f32>, BTreeMap<String, Vec<f32>>) {
    (enc.1.row(i).to_vec(), enc.0.taps.iter().map(|(n, a)| (n.clone(), a.row(i).to_vec())).collect())
}

fn as_json(args: &EmbedArgs, c: Computed) -> EmbedJson {
    let texts = c.texts.as_ref().map_or_else(Vec::new, |enc| {
        let rows = args.texts.iter().enumerate();
        rows.map(|(i, t)| {
            let (embedding, taps) = item(enc, i);
            ItemJson { text: Some(t.clone()), path: None, input_ids: Some(c.ids.row(i).to_vec()), embedding, taps }
        })
        .collect()
    });
    let images = c.images.as_ref().map_or_else(Vec::new, |enc| {
        let rows = args.images.iter().enumerate();
        rows.map(|(i, p)| {
            let (embedding, taps) = item(enc, i);
            ItemJson { text: None, path: Some(p.clone()), input_ids: None, embedding, taps }
        })
        .collect()
    });
    EmbedJson {
        embedding_dim: c.dim(),
        model: c.model,
        device: c.device,
        logit_scale: c.logit_scale,
        head: c.head,
        texts,
        images,
        similarity: c.similarity.rows().into_iter().map(|r| r.to_vec()).collect(),
        probabilities: c.probabilities,
    }
}

fn as_text(args: &EmbedArgs, c: &Computed) -> String {
    let mut s = String::new();
    let (dim, scale) = (c.dim(), c.logit_scale);
    let _ = writeln!(s, "model {} on {} (embedding dim {dim}, logit scale {scale})", c.model, c.device);
    let section = |s: &mut String, label: &str, names: Vec<String>, (enc, norm): &(Encoded, Array2<f32>)| {
        let _ = writeln!(s, "\n{label}");
        for (i, name) in names.iter().enumerate() {
            let _ = writeln!(s, "  [{}{i}] {name}", &label[..1]);
            let _ = writeln!(s, "       embedding (normalized) {}", preview(norm.row(i).as_slice().unwrap_or(&[])));
            for (tap, acts) in &enc.taps {
                let row = acts.row(i);
                let top = top_units(row.as_slice().unwrap_or(&[]), 5);
                let _ = writeln!(s, "       tap {tap} ({} units): top {top}", row.len());
            }
        }
    };
    if let Some(enc) = &c.texts {
        let names = args.texts.iter().enumerate().map(|(i, t)| {
            let n = c.mask.row(i).iter().filter(|&&v| v != 0).count();
            format!("{t:?} ({n} tokens with the special tokens)")
        });
        section(&mut s, "texts", names.collect(), enc);
    }
    if let Some(enc) = &c.images {
        section(&mut s, "images", args.images.iter().map(|p| p.display().to_string()).collect(), enc);
    }
    if !c.similarity.is_empty() {
        let _ = writeln!(s, "\nzero-shot: cosine similarity, and probability ({})", c.head.describe());
        let header: String = (0..args.texts.len()).map(|j| format!("{:>16}", format!("t{j}"))).collect();
        let _ = writeln!(s, "        {header}");
        for (i, row) in c.similarity.rows().into_iter().enumerate() {
            let p = &c.probabilities[i];
            let cells: String =
                row.iter().zip(p).map(|(v, p)| format!("{:>16}", format!("{v:+.4} ({:.1}%)", p * 100.0))).collect();
            let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(j, _)| j);
            let _ = writeln!(s, "  i{i:<5}{cells}   → t{best}");
        }
    }
    s
}

fn preview(v: &[f32]) -> String {
    let shown: Vec<String> = v.iter().take(6).map(|x| format!("{x:+.4}")).collect();
    format!("[{}{}] ({} values)", shown.join(", "), if v.len() > 6 { ", …" } else { "" }, v.len())
}

fn top_units(v: &[f32], k: usize) -> String {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    idx.iter().take(k).map(|&i| format!("#{i} {:.3}", v[i])).collect::<Vec<_>>().join(", ")
}
