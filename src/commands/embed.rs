//! `clip-audit embed`: what the model computes for given images and texts.

use std::fmt::Write as _;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::Context;
use ndarray::{Array2, Array4, Axis};
use rayon::prelude::*;
use serde::Serialize;

use super::{Outcome, session_config};
use crate::cli::EmbedArgs;
use crate::model::manifest::PreprocessSpec;
use crate::model::{ClipModel, Encoded, ImageError, ModelError, TapSelection, preprocess};

/// Where an image comes from: a file, or bytes already in memory (benchmarks, tests).
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// A file on disk.
    File(PathBuf),
    /// Encoded image bytes with a name for messages.
    Bytes(String, std::sync::Arc<Vec<u8>>),
}

impl ImageSource {
    fn decode(&self, spec: &PreprocessSpec) -> Result<Vec<f32>, ImageError> {
        let rgb = match self {
            ImageSource::File(p) => preprocess::load_rgb(p)?,
            ImageSource::Bytes(name, bytes) => preprocess::decode_rgb(Cursor::new(bytes.as_slice()), Path::new(name))?,
        };
        Ok(preprocess::preprocess(&rgb, spec))
    }
}

/// Errors of the pipelined image encoder.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// An image could not be read or decoded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Encodes images in batches, preprocessing the next batch (in parallel) while the model
/// runs the current one. Results are in input order.
pub fn encode_images_pipelined(
    model: &mut ClipModel,
    sources: &[ImageSource],
    batch: usize,
) -> Result<Vec<Encoded>, PipelineError> {
    let spec = model.manifest().preprocess;
    let s = spec.size as usize;
    let batch = batch.max(1);
    let (tx, rx) = mpsc::sync_channel::<Result<Array4<f32>, ImageError>>(2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for chunk in sources.chunks(batch) {
                let tensors: Result<Vec<Vec<f32>>, ImageError> =
                    chunk.par_iter().map(|src| src.decode(&spec)).collect();
                let msg = tensors.map(|ts| {
                    let mut arr = Array4::<f32>::zeros((ts.len(), 3, s, s));
                    for (mut slot, t) in arr.axis_iter_mut(Axis(0)).zip(ts) {
                        slot.as_slice_mut().expect("contiguous").copy_from_slice(&t);
                    }
                    arr
                });
                let failed = msg.is_err();
                if tx.send(msg).is_err() || failed {
                    break;
                }
            }
        });
        let mut out = Vec::new();
        for msg in rx {
            out.push(model.encode_images(msg?.view())?);
        }
        Ok(out)
    })
}

/// Joins per-batch results into one.
pub fn concat(parts: Vec<Encoded>) -> Option<Encoded> {
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
    taps: std::collections::BTreeMap<String, Vec<f32>>,
}

#[derive(Serialize)]
struct EmbedJson {
    model: String,
    device: String,
    embedding_dim: usize,
    logit_scale: f32,
    texts: Vec<ItemJson>,
    images: Vec<ItemJson>,
    /// `[image][text]` cosine similarity.
    similarity: Vec<Vec<f32>>,
    /// `[image][text]` zero-shot probability (softmax over texts at the logit scale).
    probabilities: Vec<Vec<f32>>,
}

/// Runs `embed`.
pub fn run(args: &EmbedArgs) -> anyhow::Result<Outcome> {
    if args.images.is_empty() && args.texts.is_empty() {
        anyhow::bail!("nothing to embed: give at least one --image PATH or --text STR");
    }
    let selection = if args.taps.is_empty() { TapSelection::All } else { TapSelection::Named(args.taps.clone()) };
    let mut model = ClipModel::load(&args.model, &session_config(&args.runtime), &selection)
        .with_context(|| format!("cannot load model bundle {}", args.model.display()))?;
    let text_out = if args.texts.is_empty() { None } else { Some(model.encode_texts(&args.texts)?) };
    let ids = model.tokenize(&args.texts);
    let sources: Vec<ImageSource> = args.images.iter().cloned().map(ImageSource::File).collect();
    let image_out = concat(encode_images_pipelined(&mut model, &sources, args.batch)?);

    let tn = text_out.as_ref().map(Encoded::normalized_embeddings);
    let im = image_out.as_ref().map(Encoded::normalized_embeddings);
    let similarity: Array2<f32> = match (&im, &tn) {
        (Some(i), Some(t)) => i.dot(&t.t()),
        _ => Array2::zeros((0, 0)),
    };
    let scale = model.manifest().logit_scale;
    let probabilities = similarity.map_axis(Axis(1), |row| softmax(&row.iter().map(|v| v * scale).collect::<Vec<_>>()));

    let item =
        |enc: &Encoded, norm: &Array2<f32>, i: usize| -> (Vec<f32>, std::collections::BTreeMap<String, Vec<f32>>) {
            (norm.row(i).to_vec(), enc.taps.iter().map(|(n, a)| (n.clone(), a.row(i).to_vec())).collect())
        };
    if args.json {
        let texts = args
            .texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (embedding, taps) =
                    item(text_out.as_ref().expect("texts given"), tn.as_ref().expect("texts given"), i);
                ItemJson { text: Some(t.clone()), path: None, input_ids: Some(ids.row(i).to_vec()), embedding, taps }
            })
            .collect();
        let images = args
            .images
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (embedding, taps) =
                    item(image_out.as_ref().expect("images given"), im.as_ref().expect("images given"), i);
                ItemJson { text: None, path: Some(p.clone()), input_ids: None, embedding, taps }
            })
            .collect();
        let out = EmbedJson {
            model: model.manifest().name.clone(),
            device: model.device().to_string(),
            embedding_dim: tn.as_ref().or(im.as_ref()).map_or(0, |a| a.ncols()),
            logit_scale: scale,
            texts,
            images,
            similarity: similarity.rows().into_iter().map(|r| r.to_vec()).collect(),
            probabilities: probabilities.into_iter().collect(),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Outcome::Pass);
    }

    let mut s = String::new();
    let dim = tn.as_ref().or(im.as_ref()).map_or(0, |a| a.ncols());
    let _ =
        writeln!(s, "model {} on {} (embedding dim {dim}, logit scale {scale})", model.manifest().name, model.device());
    let section = |s: &mut String, label: &str, names: Vec<String>, enc: &Encoded, norm: &Array2<f32>| {
        let _ = writeln!(s, "\n{label}");
        for (i, name) in names.iter().enumerate() {
            let _ = writeln!(s, "  [{}{i}] {name}", &label[..1]);
            let _ = writeln!(s, "       embedding (normalized) {}", preview(norm.row(i).as_slice().unwrap_or(&[])));
            for (tap, acts) in &enc.taps {
                let row = acts.row(i);
                let _ = writeln!(
                    s,
                    "       tap {tap} ({} units): top {}",
                    row.len(),
                    top_units(row.as_slice().unwrap_or(&[]), 5)
                );
            }
        }
    };
    if let (Some(enc), Some(norm)) = (&text_out, &tn) {
        let names = args.texts.iter().enumerate().map(|(i, t)| {
            let n = ids.row(i).iter().filter(|&&v| v != 0).count();
            format!("{t:?} ({n} tokens with SOT/EOT)")
        });
        section(&mut s, "texts", names.collect(), enc, norm);
    }
    if let (Some(enc), Some(norm)) = (&image_out, &im) {
        section(&mut s, "images", args.images.iter().map(|p| p.display().to_string()).collect(), enc, norm);
    }
    if !similarity.is_empty() {
        let _ = writeln!(
            s,
            "\nzero-shot: cosine similarity, and probability over the texts (softmax at logit scale {scale})"
        );
        let header: String = (0..args.texts.len()).map(|j| format!("{:>16}", format!("t{j}"))).collect();
        let _ = writeln!(s, "        {header}");
        for (i, row) in similarity.rows().into_iter().enumerate() {
            let cells: String = row
                .iter()
                .zip(&probabilities[i])
                .map(|(c, p)| format!("{:>16}", format!("{c:+.4} ({:.1}%)", p * 100.0)))
                .collect();
            let best = probabilities[i].iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(j, _)| j);
            let _ = writeln!(s, "  i{i:<5}{cells}   → t{best}");
        }
    }
    print!("{s}");
    Ok(Outcome::Pass)
}

fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = x.iter().map(|v| (v - m).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
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
