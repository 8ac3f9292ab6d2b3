//! Provenance: what produced a run's results, so a report can be traced and reproduced
//! (tool version, file hashes, stimulus list hash, seed, device, ONNX Runtime build, timings),
//! and the store key derived from the parts of it that determine the activations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::hashing::sha256_file;
use serde::Serialize;

use super::RunError;
use super::store::STORE_FORMAT;
use crate::model::ModelManifest;
use crate::model::manifest::TapSpec;

/// A file and its SHA-256.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileHash {
    /// Path (or name inside the bundle).
    pub path: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Every file of the bundle folder (manifest, encoders, external data), sorted by name.
pub fn hash_bundle(dir: &Path) -> Result<Vec<FileHash>, RunError> {
    let err = |source| RunError::Hash { path: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(err)?.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .map(|p| {
            let (sha256, bytes) = sha256_file(&p).map_err(|source| RunError::Hash { path: p.clone(), source })?;
            Ok(FileHash {
                path: p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                sha256,
                bytes,
            })
        })
        .collect()
}

/// Hashes of the spec's files (spec, libraries, manifests); unreadable ones are listed
/// with an empty hash rather than failing the run.
pub fn hash_files(files: &[PathBuf]) -> Vec<FileHash> {
    files
        .iter()
        .map(|p| {
            let (sha256, bytes) = sha256_file(p).unwrap_or_default();
            FileHash { path: p.display().to_string(), sha256, bytes }
        })
        .collect()
}

/// What the store key is made of: everything that determines the stored values.
pub fn store_key_json(
    manifest: &ModelManifest,
    files: &[FileHash],
    image: &[TapSpec],
    text: &[TapSpec],
) -> serde_json::Value {
    let taps: Vec<serde_json::Value> = image
        .iter()
        .chain(text)
        .map(|t| serde_json::json!({"name": t.name, "encoder": t.encoder, "tensor": t.tensor, "layout": t.layout, "pooling": t.pooling}))
        .collect();
    serde_json::json!({
        "store_format": STORE_FORMAT,
        "model_files": files.iter().map(|f| serde_json::json!({"name": f.path, "sha256": f.sha256})).collect::<Vec<_>>(),
        "taps": taps,
        "preprocess": {"size": manifest.preprocess.size, "mean": manifest.preprocess.mean, "std": manifest.preprocess.std},
        "context_length": manifest.tokenizer.context_length,
    })
}

/// The model part of provenance.
#[derive(Debug, Clone, Serialize)]
pub struct ModelProvenance {
    /// Bundle folder.
    pub bundle: PathBuf,
    /// Bundle name.
    pub name: String,
    /// Its files and hashes.
    pub files: Vec<FileHash>,
    /// Embedding width.
    pub embedding_dim: usize,
    /// Units per tap.
    pub taps: BTreeMap<String, usize>,
}

/// The stimuli part of provenance.
#[derive(Debug, Clone, Serialize)]
pub struct StimuliProvenance {
    /// Stimuli of the run.
    pub count: usize,
    /// Distinct ids.
    pub unique: usize,
    /// Hash of the id list.
    pub list_sha256: String,
    /// Count per modality.
    pub by_modality: BTreeMap<String, usize>,
    /// Every image source and what became of its rows: images, skipped (reasons in the
    /// skipped table; files that failed to decode during the run included), excluded by the
    /// spec (reasons here). Whole runs only: empty for a shard or an `--only` run.
    pub sources: Vec<crate::stimuli::SourceAccount>,
}

/// Wall times of the phases.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    /// Hashing model files.
    pub hash_s: f64,
    /// Expanding stimuli.
    pub expand_s: f64,
    /// Preprocessing and inference.
    pub inference_s: f64,
    /// Everything.
    pub total_s: f64,
}

/// `provenance-<shard>.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// Tool and version.
    pub tool: String,
    /// Audit id.
    pub audit: String,
    /// Start (UTC, RFC 3339).
    pub started_at: String,
    /// End.
    pub finished_at: String,
    /// The audit spec's path, as given (what `analyze` reloads when no `--spec` is passed).
    pub spec: String,
    /// Spec, libraries, manifests and their hashes.
    pub spec_files: Vec<FileHash>,
    /// The model.
    pub model: ModelProvenance,
    /// The store key.
    pub store_key: String,
    /// The stimuli.
    pub stimuli: StimuliProvenance,
    /// The shard, if any.
    pub shard: Option<String>,
    /// The audit's seed.
    pub seed: u64,
    /// Variables in effect.
    pub vars: BTreeMap<String, Option<String>>,
    /// Device used.
    pub device: String,
    /// ONNX Runtime's build string.
    pub onnxruntime: String,
    /// Batch size.
    pub batch: usize,
    /// Threads (None: ONNX Runtime's choice).
    pub threads: Option<usize>,
    /// Timings.
    pub timings: Timings,
    /// Counts.
    pub summary: super::RunSummary,
}
