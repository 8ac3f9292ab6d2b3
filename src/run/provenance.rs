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
use crate::model::manifest::{PreprocessSpec, ResizeRule, TapSpec, TokenizerKind};

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

/// Every file the activations depend on, with its path from the manifest's folder, sorted.
///
/// A flat bundle (its graphs in the manifest's folder) hashes every file of that folder, as
/// earlier versions did, so the store keys of existing runs stay the same. Any other layout
/// (a Hugging Face folder's `onnx/*.onnx`, a manifest written beside a hub folder by `model
/// import --out`) hashes only what the manifest names: itself, each graph with its external
/// data (the files beside it whose names extend the graph's), the tokenizer file and the
/// `tokenizer_config.json` beside it (its pad token decides padding); a hub snapshot's other
/// weights (safetensors, bin) and documents never enter the key.
pub fn hash_bundle(manifest: &ModelManifest) -> Result<Vec<FileHash>, RunError> {
    let dir = if manifest.dir.as_os_str().is_empty() { Path::new(".") } else { manifest.dir.as_path() };
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Hash { path, source }
    };
    let listing = |folder: &Path| -> Result<Vec<PathBuf>, RunError> {
        let hidden = |p: &Path| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let entries = std::fs::read_dir(folder).map_err(err(folder))?.flatten().map(|e| e.path());
        Ok(entries.filter(|p| p.is_file() && !hidden(p)).collect())
    };
    let graphs = [&manifest.image.file, &manifest.text.file];
    let flat = graphs.iter().all(|f| f.parent().is_some_and(|p| same_dir(p, dir)));
    let mut files: std::collections::BTreeSet<PathBuf> = std::collections::BTreeSet::new();
    if flat {
        files.extend(listing(dir)?);
    }
    files.insert(manifest.path.clone());
    for graph in graphs {
        let (Some(folder), Some(name)) = (graph.parent(), graph.file_name()) else { continue };
        let name = name.to_string_lossy().into_owned();
        let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
        files.extend(listing(folder)?.into_iter().filter(|p| {
            let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            n == name || (n.starts_with(&name) && !n.ends_with('~') && !n.ends_with(".lock") && !n.ends_with(".tmp"))
        }));
    }
    if let Some(t) = &manifest.tokenizer.file {
        files.insert(t.clone());
        let config = t.with_file_name("tokenizer_config.json");
        if manifest.tokenizer.kind == TokenizerKind::HfTokenizer && config.is_file() {
            files.insert(config);
        }
    }
    files
        .into_iter()
        .map(|p| {
            let (sha256, bytes) = sha256_file(&p).map_err(|source| RunError::Hash { path: p.clone(), source })?;
            Ok(FileHash { path: relative_name(&p, dir), sha256, bytes })
        })
        .collect()
}

/// Whether two folder paths name the same folder (as written, or once resolved).
fn same_dir(a: &Path, b: &Path) -> bool {
    let clean = |p: &Path| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() };
    let (a, b) = (clean(a), clean(b));
    a == b || matches!((std::fs::canonicalize(&a), std::fs::canonicalize(&b)), (Ok(x), Ok(y)) if x == y)
}

/// A file's path from `dir`, written with `/` and `..` (`onnx/text_model.onnx`,
/// `../hub/model.onnx`), the same whether the bundle was reached by a relative or an absolute
/// path; a flat bundle's files keep the bare names earlier store keys were made of.
fn relative_name(file: &Path, dir: &Path) -> String {
    let resolved = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (file, dir) = (resolved(file), resolved(dir));
    let (f, d): (Vec<_>, Vec<_>) = (file.components().collect(), dir.components().collect());
    let common = f.iter().zip(&d).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); d.len() - common];
    parts.extend(f[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
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
    let p = &manifest.preprocess;
    let mut key = serde_json::json!({
        "store_format": STORE_FORMAT,
        "model_files": files.iter().map(|f| serde_json::json!({"name": f.path, "sha256": f.sha256})).collect::<Vec<_>>(),
        "taps": taps,
        "preprocess": {"size": p.size, "mean": p.mean, "std": p.std},
        "context_length": manifest.tokenizer.context_length,
    });
    // What else decides the activations, named only when it differs from CLIP's defaults, so
    // the keys of existing stores stay as they were.
    if p.rule != ResizeRule::CLIP || p.rescale_factor != PreprocessSpec::DEFAULT_RESCALE_FACTOR {
        key["preprocess"]["rule"] = p.rule.to_json();
        key["preprocess"]["rescale_factor"] = serde_json::json!(p.rescale_factor);
    }
    let t = &manifest.tokenizer;
    if t.kind != TokenizerKind::ClipBpe || t.pad_id.is_some_and(|id| id != 0) {
        key["tokenizer"] = serde_json::json!({"kind": t.kind, "pad_id": t.pad_id});
    }
    key
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
    /// The zero-shot head (the analyses that label images say which one their labels follow).
    pub head: crate::vectors::Head,
    /// Which tokenizer made the prompts' ids (its file is among `files`).
    pub tokenizer: TokenizerKind,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models").join(rel)
    }

    #[test]
    fn a_hugging_face_layout_hashes_its_graphs_and_tokenizer_wherever_they_lie() {
        let m = ModelManifest::load(&fixture("hf-siglip-tiny/model.yaml")).unwrap();
        let names: Vec<String> = hash_bundle(&m).unwrap().into_iter().map(|f| f.path).collect();
        for want in ["model.yaml", "onnx/vision_model.onnx", "onnx/text_model.onnx", "spiece.model"] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        // A flat bundle's names are bare, as the store keys of earlier runs were made of.
        let flat = ModelManifest::load(&fixture("tiny-clip")).unwrap();
        let names: Vec<String> = hash_bundle(&flat).unwrap().into_iter().map(|f| f.path).collect();
        assert!(names.contains(&"image.onnx".to_owned()) && names.iter().all(|n| !n.contains('/')), "{names:?}");
    }

    /// The key of a flat CLIP bundle is what earlier versions made (every file of the folder
    /// by bare name; preprocessing as size, mean and std; the context length), so their stores
    /// are found again.
    #[test]
    fn a_flat_bundles_store_key_is_the_one_earlier_versions_made() {
        let m = ModelManifest::load(&fixture("tiny-clip")).unwrap();
        let files = hash_bundle(&m).unwrap();
        let mut listed: Vec<String> = std::fs::read_dir(fixture("tiny-clip"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        listed.sort();
        assert_eq!(files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), listed);
        let earlier = serde_json::json!({
            "store_format": STORE_FORMAT,
            "model_files": files.iter().map(|f| serde_json::json!({"name": f.path, "sha256": f.sha256})).collect::<Vec<_>>(),
            "taps": [],
            "preprocess": {"size": m.preprocess.size, "mean": m.preprocess.mean, "std": m.preprocess.std},
            "context_length": m.tokenizer.context_length,
        });
        assert_eq!(store_key_json(&m, &files, &[], &[]), earlier);
    }

    #[test]
    fn a_manifest_beside_a_hub_folder_names_its_files_relative_to_itself() {
        let hub = fixture("hf-siglip-tiny");
        let out = tempfile::tempdir().unwrap();
        let rel = |p: &str| format!("{}/{p}", relative_name(&hub, out.path()));
        let text = std::fs::read_to_string(hub.join("model.yaml"))
            .unwrap()
            .replace("file: onnx/", &format!("file: {}", rel("onnx/")))
            .replace("file: spiece.model", &format!("file: {}", rel("spiece.model")));
        std::fs::write(out.path().join("model.yaml"), &text).unwrap();
        std::fs::write(out.path().join("unrelated.bin"), b"not the model").unwrap();
        let m = ModelManifest::load(out.path()).unwrap();
        let names: Vec<String> = hash_bundle(&m).unwrap().into_iter().map(|f| f.path).collect();
        assert!(names.contains(&rel("onnx/text_model.onnx")) && names.contains(&rel("spiece.model")), "{names:?}");
        assert!(!names.iter().any(|n| n == "unrelated.bin"), "only what the manifest names: {names:?}");
    }

    #[test]
    fn the_store_key_changes_with_the_preprocessing_rule_and_the_tokenizer() {
        let dir = fixture("hf-clip-tiny");
        let base = ModelManifest::load(&dir.join("model.yaml")).unwrap();
        let key = |m: &ModelManifest| store_key_json(m, &[], &[], &[]).to_string();
        let text = std::fs::read_to_string(dir.join("model.yaml")).unwrap();
        let other = |from: &str, to: &str| {
            ModelManifest::parse(&text.replacen(from, to, 1), &dir.join("model.yaml")).expect("valid edit")
        };
        let torchvision = other("crop_rounding: hf", "crop_rounding: torchvision");
        assert_ne!(key(&base), key(&torchvision));
        let padded = other("context_length: 77", "context_length: 77\n  pad_id: 49407");
        assert_ne!(key(&base), key(&padded));
    }
}
