//! The runner: `clip-audit run <spec>`. Expands the audit's stimuli, runs them through the
//! model with its taps, and streams embeddings and pooled activations into the activation
//! store ([`store`]), with cache and resume, progress, fault records and provenance.
//!
//! Images are materialized (decoded, rendered or composited) and preprocessed in parallel on a
//! producer thread, one batch ahead of inference, through a bounded channel; results go to
//! parquet part files of a few hundred rows, so memory stays bounded whatever the number of
//! stimuli. A stimulus that cannot be made, or whose outputs are not finite, is recorded as
//! skipped with its reason; the run fails only when skips exceed a threshold.

pub mod acts;
pub mod progress;
pub mod provenance;
pub mod store;
pub mod visualizations;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use ndarray::{Array2, Array4};
use polars::prelude::*;

use crate::model::pipeline::pipelined;
use crate::model::{ClipModel, Device, Encoded, Encoder, ModelError, ModelManifest, SessionConfig, TapSelection};
use crate::spec::AuditSpec;
use crate::stimuli::{
    Content, Modality, Skipped, SourceAccount, Stimulus, StimulusSet, expand, materialize_with_coverage,
};
use progress::{Progress, ProgressMode};
use store::{PartBuilder, StoreDir, StoreError, Table};

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The store could not be written or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A model file could not be hashed.
    #[error("cannot read {path} to hash it: {source}")]
    Hash {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The model and the spec do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// Too many stimuli were skipped for the results to stand.
    #[error(
        "{skipped} of {total} stimuli ({:.1}%) were skipped, more than the allowed {:.1}%; see {report} (results already stored stay valid; fix the inputs or raise --max-skipped)",
        100.0 * *.skipped as f64 / (*.total).max(1) as f64,
        100.0 * .threshold,
    )]
    TooManySkipped {
        /// Skipped stimuli.
        skipped: usize,
        /// All stimuli.
        total: usize,
        /// The allowed fraction.
        threshold: f64,
        /// The skipped table.
        report: PathBuf,
    },
}

/// A deterministic slice of the stimuli, by id: `--shard I/N` (I from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 0.
    pub index: u32,
    /// How many slices.
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("expected I/N (e.g. 0/4), got {s:?}"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("shard index {i:?} is not a number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("shard count {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: the index runs from 0 to count-1"));
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// True when this shard processes the stimulus with id `id` (a hex hash).
    pub fn owns(&self, id: &str) -> bool {
        let head = u64::from_str_radix(&id[..id.len().min(15)], 16).unwrap_or(0);
        head % u64::from(self.count) == u64::from(self.index)
    }

    /// Tag used in file names.
    pub fn tag(&self) -> String {
        format!("{}of{}", self.index, self.count)
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run folder.
    pub out: PathBuf,
    /// Device and threads.
    pub session: SessionConfig,
    /// Images per inference batch (None: chosen from the model's input size and device).
    pub batch: Option<usize>,
    /// Process only one slice.
    pub shard: Option<Shard>,
    /// Largest fraction of skipped stimuli that still passes.
    pub max_skipped: f64,
    /// Progress display.
    pub progress: ProgressMode,
    /// Rows per parquet part (and per resume step).
    pub part_rows: usize,
    /// Graph edits (null baseline, ablation); part of the store key.
    pub edit: crate::model::ModelEdit,
    /// Only these stimulus ids (ablation re-measures a subset); None: all.
    pub only: Option<std::collections::BTreeSet<String>>,
}

impl RunOptions {
    /// Defaults for a run folder.
    pub fn new(out: PathBuf) -> Self {
        Self {
            out,
            session: SessionConfig::default(),
            batch: None,
            shard: None,
            max_skipped: 0.05,
            progress: ProgressMode::Auto,
            part_rows: 512,
            edit: crate::model::ModelEdit::default(),
            only: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The store used.
    pub store_dir: PathBuf,
    /// Stimuli of this run (this shard).
    pub total: usize,
    /// Computed now.
    pub computed: usize,
    /// Found in the store.
    pub cached: usize,
    /// Skipped, with reasons in the skipped table.
    pub skipped: usize,
    /// Of which non-finite outputs.
    pub non_finite: usize,
    /// Image-source rows the spec itself leaves out (members not selected, past `limit`);
    /// not stimuli, not skipped. Per source in `provenance.stimuli.sources`.
    pub excluded: usize,
    /// Device used.
    pub device: String,
    /// Wall time in seconds.
    pub seconds: f64,
}

fn shard_tag(shard: Option<Shard>) -> String {
    shard.map_or_else(|| "all".to_owned(), |s| s.tag())
}

/// The batch size used when none is given.
pub fn auto_batch(image_size: u32, device: Device) -> usize {
    let gpu = matches!(device, Device::Cuda(_));
    match (image_size, gpu) {
        (0..=96, _) => 128,
        (_, true) => 64,
        (0..=256, false) => 16,
        _ => 8,
    }
}

/// Runs the audit's stimuli through the model into the store under `opts.out`.
///
/// About 100 lines, on purpose: the stages are functions of their own (`store_key`,
/// `expanded`, `todo`, `infer`, `source_accounts`); what stays is the provenance
/// record, one struct literal whose fields are gathered along the way and read best together.
pub fn run(spec: &AuditSpec, opts: &RunOptions) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let started_at = crate::clock::now_rfc3339();
    std::fs::create_dir_all(&opts.out).map_err(|source| StoreError::Io {
        action: "cannot create the run folder",
        path: opts.out.clone(),
        source,
    })?;
    let manifest = ModelManifest::load(&spec.bundle).map_err(ModelError::from)?;
    let t_hash = Instant::now();
    let model_files = provenance::hash_bundle(&manifest)?;
    let hash_seconds = t_hash.elapsed().as_secs_f64();
    let selection = if spec.taps.is_empty() { TapSelection::All } else { TapSelection::Named(spec.taps.clone()) };
    let mut model = ClipModel::load_edited(&spec.bundle, &opts.session, &selection, &opts.edit)?;
    let (dims, tap_units) = probe_dims(&mut model)?;
    let (key, key_json) = store_key(&manifest, &model_files, &model, &opts.edit);
    let store = StoreDir::create(&opts.out, &key, &key_json)?;

    let t_expand = Instant::now();
    let set = expanded(spec, opts, manifest.preprocess.size);
    let expand_seconds = t_expand.elapsed().as_secs_f64();
    let tag = shard_tag(opts.shard);
    store::write_parquet_atomic(
        &opts.out.join(format!("stimuli-{tag}.parquet")),
        &mut stimuli_frame(&set.stimuli, &tag),
    )?;

    let todo = todo(&set, &store)?;
    let (cached, unique) = (todo.cached, todo.unique);
    let mut skipped: Vec<Skipped> = set.skipped.clone();
    let batch = opts.batch.unwrap_or_else(|| auto_batch(manifest.preprocess.size, model.device())).max(1);
    let t_infer = Instant::now();
    let (computed, non_finite, failed) = infer(&mut model, &store, &tag, &todo, batch, opts)?;
    skipped.extend(failed);
    let infer_seconds = t_infer.elapsed().as_secs_f64();
    let skipped_path = opts.out.join(format!("skipped-{tag}.parquet"));
    store::write_parquet_atomic(&skipped_path, &mut skipped_frame(&skipped))?;

    let sources = source_accounts(&set, &skipped[set.skipped.len()..], opts);
    let total = unique + set.skipped.len();
    let summary = RunSummary {
        run_dir: opts.out.clone(),
        store_dir: store.root.clone(),
        total,
        computed,
        cached,
        skipped: skipped.len(),
        non_finite,
        excluded: sources.iter().map(SourceAccount::excluded_rows).sum(),
        device: model.device().to_string(),
        seconds: started.elapsed().as_secs_f64(),
    };
    let prov = provenance::Provenance {
        tool: format!("clip-audit {}", crate::VERSION),
        audit: spec.id.clone(),
        started_at,
        finished_at: crate::clock::now_rfc3339(),
        spec: spec.path.display().to_string(),
        spec_files: provenance::hash_files(&spec.files),
        model: provenance::ModelProvenance {
            bundle: spec.bundle.clone(),
            name: manifest.name.clone(),
            files: model_files,
            embedding_dim: dims,
            taps: tap_units,
            head: manifest.head,
            tokenizer: manifest.tokenizer.kind,
        },
        store_key: key,
        stimuli: provenance::StimuliProvenance {
            count: set.stimuli.len(),
            unique,
            list_sha256: set.list_hash(),
            by_modality: by_modality(&set),
            sources,
        },
        shard: opts.shard.map(|s| s.tag()),
        seed: spec.seed,
        vars: spec.vars.values.clone(),
        device: model.device().to_string(),
        onnxruntime: crate::model::Runtime::get().map(|r| r.build_info().to_owned()).unwrap_or_default(),
        batch,
        threads: opts.session.threads,
        timings: provenance::Timings {
            hash_s: hash_seconds,
            expand_s: expand_seconds,
            inference_s: infer_seconds,
            total_s: started.elapsed().as_secs_f64(),
        },
        summary: summary.clone(),
    };
    let prov_path = opts.out.join(format!("provenance-{tag}.json"));
    crate::files::write_atomic(&prov_path, serde_json::to_string_pretty(&prov).expect("json").as_bytes())
        .map_err(store::StoreError::from)?;
    if total > 0 && skipped.len() as f64 / total as f64 > opts.max_skipped {
        return Err(RunError::TooManySkipped {
            skipped: skipped.len(),
            total,
            threshold: opts.max_skipped,
            report: skipped_path,
        });
    }
    Ok(summary)
}

/// The spec's stimuli, less those of other shards, or only those asked for (`--only`, which
/// also drops the listing's skips: they belong to the whole run).
fn expanded(spec: &AuditSpec, opts: &RunOptions, image_size: u32) -> StimulusSet {
    let mut set = expand(spec, image_size);
    if let Some(shard) = opts.shard {
        set.stimuli.retain(|s| shard.owns(&s.id));
    }
    if let Some(only) = &opts.only {
        set.stimuli.retain(|s| only.contains(&s.id));
        set.skipped.clear();
    }
    set
}

/// Runs the prompts, then the images, still to compute into the store: (rows computed, rows
/// with non-finite outputs, what was skipped and why).
fn infer(
    model: &mut ClipModel,
    store: &StoreDir,
    tag: &str,
    todo: &Todo<'_>,
    batch: usize,
    opts: &RunOptions,
) -> Result<(usize, usize, Vec<Skipped>), RunError> {
    let (mut computed, mut non_finite, mut skipped) = (0, 0, Vec::new());
    if !todo.prompts.is_empty() {
        let text_taps: Vec<String> = model.taps(Encoder::Text).iter().map(|t| t.name.clone()).collect();
        let r = run_prompts(model, store, tag, &todo.prompts, &text_taps, opts)?;
        computed += r.0;
        non_finite += r.1.len();
        skipped.extend(r.1);
    }
    if !todo.images.is_empty() {
        let image_taps: Vec<String> = model.taps(Encoder::Image).iter().map(|t| t.name.clone()).collect();
        let r = run_images(model, store, tag, &todo.images, &image_taps, batch, opts)?;
        computed += r.0;
        non_finite += r.2;
        skipped.extend(r.1);
    }
    Ok((computed, non_finite, skipped))
}

/// The store key: a short hash of what determines the stored values (the manifest, the model
/// files' hashes, the taps, and any edit of the weights), and the JSON it hashes.
fn store_key(
    manifest: &ModelManifest,
    model_files: &[provenance::FileHash],
    model: &ClipModel,
    edit: &crate::model::ModelEdit,
) -> (String, serde_json::Value) {
    let mut key_json =
        provenance::store_key_json(manifest, model_files, model.taps(Encoder::Image), model.taps(Encoder::Text));
    if !edit.is_empty() {
        key_json["edit"] = serde_json::json!({
            "randomize": edit.randomize,
            "ablate": edit.ablate.iter().map(|a| serde_json::json!({"tap": a.tap, "unit": a.unit, "value": a.value})).collect::<Vec<_>>(),
        });
    }
    (crate::hashing::short_hash(key_json.to_string().as_bytes()), key_json)
}

/// What a run still has to compute: each distinct stimulus once, those already in the store
/// counted as cached.
struct Todo<'a> {
    images: Vec<&'a Stimulus>,
    prompts: Vec<&'a Stimulus>,
    cached: usize,
    unique: usize,
}

fn todo<'a>(set: &'a StimulusSet, store: &StoreDir) -> Result<Todo<'a>, RunError> {
    let done_images = store.done_ids(Table::Images)?;
    let done_prompts = store.done_ids(Table::Prompts)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut t = Todo { images: Vec::new(), prompts: Vec::new(), cached: 0, unique: 0 };
    for s in &set.stimuli {
        if !seen.insert(s.id.as_str()) {
            continue;
        }
        match s.modality {
            Modality::Prompt if done_prompts.contains(&s.id) => t.cached += 1,
            Modality::Prompt => t.prompts.push(s),
            _ if done_images.contains(&s.id) => t.cached += 1,
            _ => t.images.push(s),
        }
    }
    t.unique = seen.len();
    Ok(t)
}

/// The image sources' accounts of a whole run (a shard or an `--only` run sees part of each
/// source, so has none): the image files that failed at run time (`failed_now`) move from
/// images to skipped.
fn source_accounts(set: &StimulusSet, failed_now: &[Skipped], opts: &RunOptions) -> Vec<SourceAccount> {
    if opts.shard.is_some() || opts.only.is_some() {
        return Vec::new();
    }
    let mut sources = set.sources.clone();
    let failed: std::collections::BTreeSet<&str> = failed_now.iter().filter_map(|s| s.id.as_deref()).collect();
    for s in set.stimuli.iter().filter(|s| s.modality == Modality::Image && failed.contains(s.id.as_str())) {
        if let Some(account) = s.account.and_then(|a| sources.get_mut(a)) {
            account.decode_failed(1);
        }
    }
    sources
}

fn by_modality(set: &StimulusSet) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in &set.stimuli {
        *m.entry(s.modality.name().to_owned()).or_insert(0) += 1;
    }
    m
}

/// Runs one zero image and one text to learn the output widths, and checks that both towers
/// embed into one space.
fn probe_dims(model: &mut ClipModel) -> Result<(usize, BTreeMap<String, usize>), RunError> {
    let s = model.manifest().preprocess.size as usize;
    let img = model.encode_images(Array4::<f32>::zeros((1, 3, s, s)).view())?;
    let txt = model.encode_texts(&["a photo."])?;
    let (di, dt) = (img.embeddings.ncols(), txt.embeddings.ncols());
    if di != dt {
        return Err(RunError::Mismatch(format!(
            "the image tower embeds into {di} dimensions and the text tower into {dt}; a CLIP bundle's encoders must share one space (check image_encoder.output and text_encoder.output in {})",
            model.manifest().path.display()
        )));
    }
    if let Some(d) = model.manifest().embedding_dim
        && d != di
    {
        return Err(RunError::Mismatch(format!("model.yaml says embedding_dim {d}, the encoders give {di}")));
    }
    let units = img.taps.iter().chain(&txt.taps).map(|(n, a)| (n.clone(), a.ncols())).collect();
    Ok((di, units))
}

/// Rows of one encoded batch that are finite go to the part; the others are skipped.
fn take_rows(
    enc: &Encoded,
    stimuli: &[&Stimulus],
    coverage: &[Option<f32>],
    part: &mut PartBuilder,
    skipped: &mut Vec<Skipped>,
) -> usize {
    let mut bad = 0;
    for (i, s) in stimuli.iter().enumerate() {
        let emb = enc.embeddings.row(i);
        let taps: Vec<ndarray::ArrayView1<'_, f32>> = enc.taps.iter().map(|(_, a)| a.row(i)).collect();
        let offender = if emb.iter().any(|v| !v.is_finite()) {
            Some("the embedding".to_owned())
        } else {
            enc.taps
                .iter()
                .zip(&taps)
                .find(|(_, t)| t.iter().any(|v| !v.is_finite()))
                .map(|((n, _), _)| format!("tap {n}"))
        };
        if let Some(what) = offender {
            bad += 1;
            skipped.push(Skipped {
                id: Some(s.id.clone()),
                selection: s.selection.clone(),
                source: source_of(s),
                reason: format!("non-finite values (NaN or infinity) in {what}"),
            });
            continue;
        }
        let tap_rows: Vec<Vec<f32>> = taps.iter().map(|t| t.to_vec()).collect();
        let refs: Vec<&[f32]> = tap_rows.iter().map(Vec::as_slice).collect();
        part.push(&s.id, coverage.get(i).copied().flatten(), &emb.to_vec(), &refs);
    }
    bad
}

fn flush(store: &StoreDir, table: Table, tag: &str, part: &mut PartBuilder) -> Result<(), StoreError> {
    if part.is_empty() {
        return Ok(());
    }
    let path = store.next_part(table, tag)?;
    store::write_part(&path, part.take())
}

fn run_prompts(
    model: &mut ClipModel,
    store: &StoreDir,
    tag: &str,
    todo: &[&Stimulus],
    taps: &[String],
    opts: &RunOptions,
) -> Result<(usize, Vec<Skipped>), RunError> {
    let mut progress = Progress::new(opts.progress, "prompts", todo.len() as u64);
    let mut part = PartBuilder::new(taps, opts.part_rows);
    let mut skipped = Vec::new();
    let mut computed = 0;
    for chunk in todo.chunks(64) {
        let texts: Vec<&str> =
            chunk.iter().map(|s| if let Content::Prompt { text } = &s.content { text.as_str() } else { "" }).collect();
        let enc = model.encode_texts(&texts)?;
        let bad = take_rows(&enc, chunk, &[], &mut part, &mut skipped);
        computed += chunk.len() - bad;
        if part.len() >= opts.part_rows {
            flush(store, Table::Prompts, tag, &mut part)?;
        }
        progress.inc(chunk.len() as u64);
    }
    flush(store, Table::Prompts, tag, &mut part)?;
    progress.finish();
    Ok((computed, skipped))
}

fn run_images(
    model: &mut ClipModel,
    store: &StoreDir,
    tag: &str,
    todo: &[&Stimulus],
    taps: &[String],
    batch: usize,
    opts: &RunOptions,
) -> Result<(usize, Vec<Skipped>, usize), RunError> {
    let spec = model.manifest().preprocess;
    let mut progress = Progress::new(opts.progress, "images", todo.len() as u64);
    let mut part = PartBuilder::new(taps, opts.part_rows);
    let mut skipped = Vec::new();
    let (mut computed, mut non_finite) = (0, 0);
    let make = |st: &&Stimulus| materialize_with_coverage(st).map_err(|e| e.to_string());
    let result = pipelined(todo, batch, &spec, make, |b| -> Result<(), RunError> {
        let attempted = b.attempted() as u64;
        skipped.extend(b.failed.into_iter().map(|(st, reason)| Skipped {
            id: Some(st.id.clone()),
            selection: st.selection.clone(),
            source: source_of(st),
            reason,
        }));
        if !b.ok.is_empty() {
            let enc = model.encode_images(b.tensor.view())?;
            let (stimuli, coverage): (Vec<&Stimulus>, Vec<Option<f32>>) =
                b.ok.into_iter().map(|(st, c)| (*st, c.map(|c| c as f32))).unzip();
            let bad = take_rows(&enc, &stimuli, &coverage, &mut part, &mut skipped);
            non_finite += bad;
            computed += stimuli.len() - bad;
        }
        if part.len() >= opts.part_rows {
            flush(store, Table::Images, tag, &mut part)?;
        }
        progress.inc(attempted);
        Ok(())
    });
    // What was computed before a failure is kept: write it before reporting the error.
    let flushed = flush(store, Table::Images, tag, &mut part);
    progress.finish();
    result?;
    flushed?;
    Ok((computed, skipped, non_finite))
}

/// Where a stimulus comes from, in words (a prompt's text, a file).
pub fn source_of(s: &Stimulus) -> String {
    match &s.content {
        Content::Prompt { text } => text.clone(),
        Content::RenderedText { text, .. } => format!("rendered {text:?}"),
        Content::Image { path } => path.display().to_string(),
        Content::Typographic { base, text, .. } => format!("{text:?} on {}", base.display()),
    }
}

fn stimuli_frame(stimuli: &[Stimulus], tag: &str) -> DataFrame {
    let col = |name: &str, v: Vec<String>| Column::new(name.into(), v);
    let n = stimuli.len();
    let columns = vec![
        col("id", stimuli.iter().map(|s| s.id.clone()).collect()),
        col("selection", stimuli.iter().map(|s| s.selection.clone()).collect()),
        col("family", stimuli.iter().map(|s| s.family.clone()).collect()),
        col("member", stimuli.iter().map(|s| s.member.clone()).collect()),
        col("modality", stimuli.iter().map(|s| s.modality.name().to_owned()).collect()),
        col("variant", stimuli.iter().map(|s| s.variant.clone()).collect()),
        col("labels", stimuli.iter().map(|s| serde_json::to_string(&s.labels).expect("json")).collect()),
        col("content", stimuli.iter().map(|s| serde_json::to_string(&s.content).expect("json")).collect()),
        col("source", stimuli.iter().map(source_of).collect()),
        col("shard", vec![tag.to_owned(); n]),
    ];
    DataFrame::new(n, columns).expect("equal lengths")
}

fn skipped_frame(skipped: &[Skipped]) -> DataFrame {
    let n = skipped.len();
    let columns = vec![
        Column::new("id".into(), skipped.iter().map(|s| s.id.clone()).collect::<Vec<Option<String>>>()),
        Column::new("selection".into(), skipped.iter().map(|s| s.selection.clone()).collect::<Vec<_>>()),
        Column::new("source".into(), skipped.iter().map(|s| s.source.clone()).collect::<Vec<_>>()),
        Column::new("reason".into(), skipped.iter().map(|s| s.reason.clone()).collect::<Vec<_>>()),
    ];
    DataFrame::new(n, columns).expect("equal lengths")
}

/// One store table as matrices.
#[derive(Debug, Clone)]
pub struct TableMatrices {
    /// Stimulus ids, row order.
    pub ids: Vec<String>,
    /// `[N, D]` embeddings.
    pub embeddings: Array2<f32>,
    /// Tap name → `[N, units]` activations, in the store or in memory.
    pub taps: BTreeMap<String, acts::TapMatrix>,
}

/// The default run folder of an audit: `runs/<audit>`.
pub fn default_run_dir(spec: &AuditSpec) -> PathBuf {
    Path::new("runs").join(&spec.id)
}
