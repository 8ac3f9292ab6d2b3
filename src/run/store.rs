//! The activation store: what a run computed, in parquet, written so that a killed run can
//! resume and no partial file is ever read as complete.
//!
//! Layout under a run folder:
//!
//! ```text
//! store/<key>/key.json            what the key is made of (model file hashes, taps, preprocessing)
//! store/<key>/images/<part>.parquet   image-modality stimuli: id, text coverage (typographic), embedding, one list column per tap
//! store/<key>/prompts/<part>.parquet  prompt stimuli: id, embedding, one list column per text tap
//! stimuli[-<shard>].parquet        this run's stimuli: id, selection, family, member, modality, variant, labels, source
//! skipped[-<shard>].parquet        stimuli that could not be made or gave non-finite values, with reasons
//! provenance[-<shard>].json        versions, hashes, device, timings
//! ```
//!
//! Results are keyed by the store key and the stimulus id, so a rerun with unchanged model and
//! taps computes only what is missing, and runs of different shards (or machines) that share a
//! folder fill one store. Each part file holds one row group and is written to a temporary
//! name, then renamed: a part either exists whole or not at all.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::*;

/// Version of the store layout; part of the key, so a new layout never reads an old store.
pub const STORE_FORMAT: u32 = 1;

/// Problems reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or folder could not be written or read.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A parquet file could not be written or read.
    #[error("{action} {path}: {source}")]
    Parquet {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What polars said.
        #[source]
        source: PolarsError,
    },
    /// A file could not be written whole.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// No store was found where one was expected.
    #[error("no activation store under {0}; run `clip-audit run SPEC --out DIR` first")]
    Missing(PathBuf),
    /// Several run folders hold stores of different models or taps.
    #[error("the run folders hold stores of different models or taps ({0}); analyse them separately")]
    KeyMismatch(String),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { action, path: path.to_path_buf(), source }
}

/// Which table of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Image-modality stimuli (rendered text, images, typographic composites).
    Images,
    /// Prompt stimuli.
    Prompts,
}

impl Table {
    /// Folder name.
    pub fn dir(self) -> &'static str {
        match self {
            Table::Images => "images",
            Table::Prompts => "prompts",
        }
    }
}

/// Writes `df` to `path` as parquet, whole or not at all.
pub fn write_parquet_atomic(path: &Path, df: &mut DataFrame) -> Result<(), StoreError> {
    crate::files::write_whole(path, |file| {
        ParquetWriter::new(file)
            .with_row_group_size(Some(df.height().max(1)))
            .finish(df)
            .map(|_| ())
            .map_err(|source| StoreError::Parquet { action: "cannot write", path: path.to_path_buf(), source })
    })
}

/// Reads a parquet file (optionally only some columns).
pub fn read_parquet(path: &Path, columns: Option<Vec<String>>) -> Result<DataFrame, StoreError> {
    let file = std::fs::File::open(path).map_err(io("cannot open", path))?;
    ParquetReader::new(file).with_columns(columns).finish().map_err(|source| StoreError::Parquet {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    })
}

/// One store (one key) inside one run folder.
#[derive(Debug, Clone)]
pub struct StoreDir {
    /// `store/<key>` of the run folder.
    pub root: PathBuf,
}

impl StoreDir {
    /// Opens or creates the store for `key` in `run_dir`, removing temporary files left by a
    /// killed run.
    pub fn create(run_dir: &Path, key: &str, key_json: &serde_json::Value) -> Result<Self, StoreError> {
        let root = run_dir.join("store").join(key);
        for t in [Table::Images, Table::Prompts] {
            let d = root.join(t.dir());
            std::fs::create_dir_all(&d).map_err(io("cannot create", &d))?;
            for entry in std::fs::read_dir(&d).map_err(io("cannot list", &d))?.flatten() {
                if entry.file_name().to_string_lossy().ends_with(".tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let kp = root.join("key.json");
        if !kp.exists() {
            let text = serde_json::to_string_pretty(key_json).expect("json");
            crate::files::write_atomic(&kp, text.as_bytes())?;
        }
        Ok(Self { root })
    }

    /// The complete part files of a table, sorted.
    pub fn parts(&self, table: Table) -> Result<Vec<PathBuf>, StoreError> {
        let d = self.root.join(table.dir());
        if !d.is_dir() {
            return Ok(Vec::new());
        }
        let mut parts: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(io("cannot list", &d))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        parts.sort();
        Ok(parts)
    }

    /// Ids already stored in a table.
    pub fn done_ids(&self, table: Table) -> Result<BTreeSet<String>, StoreError> {
        let mut out = BTreeSet::new();
        for p in self.parts(table)? {
            let df = read_parquet(&p, Some(vec!["id".into()]))?;
            let ids = df.column("id").and_then(|c| c.str().cloned()).map_err(|source| StoreError::Parquet {
                action: "cannot read ids of",
                path: p.clone(),
                source,
            })?;
            out.extend(ids.iter().flatten().map(str::to_owned));
        }
        Ok(out)
    }

    /// The next part file name for `shard_tag` (e.g. `all` or `2of8`).
    pub fn next_part(&self, table: Table, shard_tag: &str) -> Result<PathBuf, StoreError> {
        let existing = self.parts(table)?;
        let n = existing
            .iter()
            .filter_map(|p| p.file_stem()?.to_str()?.strip_prefix(&format!("{shard_tag}-"))?.parse::<u64>().ok())
            .max()
            .map_or(0, |m| m + 1);
        Ok(self.root.join(table.dir()).join(format!("{shard_tag}-{n:06}.parquet")))
    }
}

/// Builds a part: ids, embeddings and taps as `List[f32]` columns.
pub struct PartBuilder {
    ids: Vec<String>,
    coverage: Vec<Option<f32>>,
    embedding: ListPrimitiveChunkedBuilder<Float32Type>,
    taps: Vec<(String, ListPrimitiveChunkedBuilder<Float32Type>)>,
}

impl PartBuilder {
    /// A builder for rows with the given tap names.
    pub fn new(taps: &[String], capacity: usize) -> Self {
        let list = |name: &str| {
            ListPrimitiveChunkedBuilder::<Float32Type>::new(name.into(), capacity, capacity * 64, DataType::Float32)
        };
        Self {
            ids: Vec::with_capacity(capacity),
            coverage: Vec::with_capacity(capacity),
            embedding: list("embedding"),
            taps: taps.iter().map(|t| (t.clone(), list(&format!("tap:{t}")))).collect(),
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds one row; `coverage` is the fraction of a typographic composite covered by text.
    pub fn push(&mut self, id: &str, coverage: Option<f32>, embedding: &[f32], taps: &[&[f32]]) {
        self.ids.push(id.to_owned());
        self.coverage.push(coverage);
        self.embedding.append_slice(embedding);
        for ((_, b), t) in self.taps.iter_mut().zip(taps) {
            b.append_slice(t);
        }
    }

    /// The frame, leaving the builder empty.
    pub fn take(&mut self) -> DataFrame {
        let tap_names: Vec<String> = self.taps.iter().map(|(n, _)| n.clone()).collect();
        let mut fresh = PartBuilder::new(&tap_names, self.ids.len().max(1));
        std::mem::swap(self, &mut fresh);
        let height = fresh.ids.len();
        let mut columns = vec![
            Column::new("id".into(), fresh.ids),
            Column::new("text_coverage".into(), fresh.coverage),
            fresh.embedding.finish().into_series().into_column(),
        ];
        for (_, mut b) in fresh.taps {
            columns.push(b.finish().into_series().into_column());
        }
        DataFrame::new(height, columns).expect("columns of equal length")
    }
}

/// Reads a whole table from one or more store folders (e.g. the shards of one run),
/// keeping the first row of each id.
pub fn read_table(stores: &[StoreDir], table: Table) -> Result<DataFrame, StoreError> {
    let mut frames = Vec::new();
    for s in stores {
        for p in s.parts(table)? {
            frames.push(read_parquet(&p, None)?);
        }
    }
    if frames.is_empty() {
        return Ok(DataFrame::empty());
    }
    let path = stores.first().map(|s| s.root.clone()).unwrap_or_default();
    let err = |source| StoreError::Parquet { action: "cannot combine the parts of", path: path.clone(), source };
    stacked(frames)
        .and_then(|df| df.unique_stable(Some(&["id".to_owned()]), UniqueKeepStrategy::First, None))
        .and_then(|df| df.sort(["id"], SortMultipleOptions::default()))
        .map_err(err)
}

/// The frames one under the other (they share a schema: parts of one table).
fn stacked(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let mut frames = frames.into_iter();
    let mut all = frames.next().unwrap_or_default();
    for f in frames {
        all.vstack_mut_owned(f)?;
    }
    all.rechunk_mut();
    Ok(all)
}

/// Finds the stores in run folders: each folder's `store/<key>` (a folder may be the store
/// itself). All must share one key.
pub fn find_stores(run_dirs: &[PathBuf]) -> Result<Vec<StoreDir>, StoreError> {
    let mut out = Vec::new();
    for d in run_dirs {
        let base = d.join("store");
        if d.join("key.json").is_file() {
            out.push(StoreDir { root: d.clone() });
            continue;
        }
        if !base.is_dir() {
            return Err(StoreError::Missing(d.clone()));
        }
        let mut keys: Vec<PathBuf> = std::fs::read_dir(&base)
            .map_err(io("cannot list", &base))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("key.json").is_file())
            .collect();
        keys.sort();
        if keys.is_empty() {
            return Err(StoreError::Missing(d.clone()));
        }
        // The most recently written store is the one of the last run.
        keys.sort_by_key(|k| std::fs::metadata(k.join("key.json")).and_then(|m| m.modified()).ok());
        out.push(StoreDir { root: keys.pop().expect("non-empty") });
    }
    let names: BTreeSet<String> =
        out.iter().filter_map(|s| s.root.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    if names.len() > 1 {
        return Err(StoreError::KeyMismatch(names.into_iter().collect::<Vec<_>>().join(", ")));
    }
    Ok(out)
}

/// What every stimulus with an image is made of (`Content`, by id), from the stimuli tables of
/// run folders: how a reader remakes a stimulus's picture (the TUI's thumbnails) without
/// reading the tables itself. Prompts, which have no picture, are left out; a row whose
/// content does not parse is left out too.
pub fn read_image_contents(
    run_dirs: &[PathBuf],
) -> Result<std::collections::HashMap<String, crate::stimuli::Content>, StoreError> {
    use crate::stimuli::Content;
    let df = read_run_tables(run_dirs, "stimuli")?;
    let column = |name: &str| {
        df.column(name).and_then(|c| c.str().cloned()).map_err(|source| StoreError::Parquet {
            action: "cannot read the stimulus table of",
            path: run_dirs.first().cloned().unwrap_or_default(),
            source,
        })
    };
    let (ids, contents) = (column("id")?, column("content")?);
    Ok(ids
        .iter()
        .zip(contents.iter())
        .filter_map(|(id, c)| {
            let (id, content): (&str, Content) = (id?, serde_json::from_str(c?).ok()?);
            (!matches!(content, Content::Prompt { .. })).then(|| (id.to_owned(), content))
        })
        .collect())
}

/// Reads every stimuli or skipped table (`stimuli*.parquet`) of run folders, keeping the
/// first row per id.
pub fn read_run_tables(run_dirs: &[PathBuf], prefix: &str) -> Result<DataFrame, StoreError> {
    let mut frames = Vec::new();
    for d in run_dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(io("cannot list", d))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "parquet")
                    && p.file_stem()
                        .and_then(|s| s.to_str())
                        .is_some_and(|s| s == prefix || s.starts_with(&format!("{prefix}-")))
            })
            .collect();
        files.sort();
        for f in files {
            frames.push(read_parquet(&f, None)?);
        }
    }
    if frames.is_empty() {
        return Ok(DataFrame::empty());
    }
    let path = run_dirs.first().cloned().unwrap_or_default();
    stacked(frames)
        .and_then(|df| df.unique_stable(None, UniqueKeepStrategy::First, None))
        .map_err(|source| StoreError::Parquet { action: "cannot combine the tables of", path, source })
}
