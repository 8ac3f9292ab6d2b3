//! The activation store: what a run computed, in parquet, written so that a killed run can
//! resume and no partial file is ever read as complete.
//!
//! Layout under a run folder:
//!
//! ```text
//! store/<key>/key.json            what the key is made of (model file hashes, taps, preprocessing)
//! store/<key>/images/<part>.parquet   image-modality stimuli: id, text coverage (typographic), embedding
//! store/<key>/images/<part>.acts      their tapped activations, unit-major (see `run::acts`)
//! store/<key>/prompts/<part>.parquet  prompt stimuli: id, text coverage (null), embedding
//! store/<key>/prompts/<part>.acts     their text taps
//! stimuli[-<shard>].parquet        this run's stimuli: id, selection, family, member, modality, variant, labels, source
//! skipped[-<shard>].parquet        stimuli that could not be made or gave non-finite values, with reasons
//! provenance[-<shard>].json        versions, hashes, device, timings
//! ```
//!
//! Results are keyed by the store key and the stimulus id, so a rerun with unchanged model and
//! taps computes only what is missing, and runs of different shards (or machines) that share a
//! folder fill one store. Each part file holds one row group and is written to a temporary
//! name, then renamed: a part either exists whole or not at all. The activations file is
//! renamed first and the parquet file last, so a part is complete exactly when its parquet
//! file exists; an `.acts` file without one (a run killed between the two) is overwritten by
//! the next part of that name.
//!
//! Format 2 moved the taps out of parquet into the unit-major `.acts` files, so that analyses
//! read blocks of units in bounded memory (format 1 stored one list column per tap). A store of
//! another format is refused by name with the command that remakes it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::*;

/// Version of the store layout; part of the key, so a new layout never reads an old store.
pub const STORE_FORMAT: u32 = 2;

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
    /// A store file is damaged or not what its name says.
    #[error(
        "{path}: {message}; delete the run folder's store and run the audit again (`clip-audit run SPEC --out FOLDER`)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A store written by another version of clip-audit, in another layout.
    #[error(
        "{path} holds a store in format {found}; this version of clip-audit reads format {STORE_FORMAT} (activations stored unit-major for bounded-memory analysis); run the audit again into the same folder (`clip-audit run SPEC --out FOLDER`) to store them anew, then delete the old `store/<key>` folder"
    )]
    OldFormat {
        /// The store folder.
        path: PathBuf,
        /// Its format.
        found: u64,
    },
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

/// Builds a part: ids and embeddings (a `List[f32]` column) for the parquet file, taps
/// row-major for the activations file.
pub struct PartBuilder {
    ids: Vec<String>,
    coverage: Vec<Option<f32>>,
    embedding: ListPrimitiveChunkedBuilder<Float32Type>,
    taps: Vec<(String, usize, Vec<f32>)>,
}

/// A finished part: its parquet frame and its taps (name, units, values row-major).
pub struct Part {
    /// id, text_coverage, embedding.
    pub frame: DataFrame,
    /// Each tap's name, width and `rows × units` values.
    pub taps: Vec<(String, usize, Vec<f32>)>,
}

impl PartBuilder {
    /// A builder for rows with the given tap names.
    pub fn new(taps: &[String], capacity: usize) -> Self {
        Self {
            ids: Vec::with_capacity(capacity),
            coverage: Vec::with_capacity(capacity),
            embedding: ListPrimitiveChunkedBuilder::<Float32Type>::new(
                "embedding".into(),
                capacity,
                capacity * 64,
                DataType::Float32,
            ),
            taps: taps.iter().map(|t| (t.clone(), 0, Vec::new())).collect(),
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
    /// Every row of a part has the same width per tap (the first row's).
    pub fn push(&mut self, id: &str, coverage: Option<f32>, embedding: &[f32], taps: &[&[f32]]) {
        if self.ids.is_empty() {
            for ((_, units, _), t) in self.taps.iter_mut().zip(taps) {
                *units = t.len();
            }
        }
        self.ids.push(id.to_owned());
        self.coverage.push(coverage);
        self.embedding.append_slice(embedding);
        for ((_, units, values), t) in self.taps.iter_mut().zip(taps) {
            debug_assert_eq!(*units, t.len(), "a tap's width is fixed by the model");
            values.extend_from_slice(t);
        }
    }

    /// The part, leaving the builder empty.
    pub fn take(&mut self) -> Part {
        let tap_names: Vec<String> = self.taps.iter().map(|(n, _, _)| n.clone()).collect();
        let mut fresh = PartBuilder::new(&tap_names, self.ids.len().max(1));
        std::mem::swap(self, &mut fresh);
        let height = fresh.ids.len();
        let columns = vec![
            Column::new("id".into(), fresh.ids),
            Column::new("text_coverage".into(), fresh.coverage),
            fresh.embedding.finish().into_series().into_column(),
        ];
        Part { frame: DataFrame::new(height, columns).expect("columns of equal length"), taps: fresh.taps }
    }
}

/// Writes a part: its activations file, then its parquet file (the part's commit), each whole
/// or not at all.
pub fn write_part(path: &Path, mut part: Part) -> Result<(), StoreError> {
    super::acts::write_acts(&super::acts::acts_path(path), part.frame.height(), &part.taps)?;
    write_parquet_atomic(path, &mut part.frame)
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

/// Reads a table's ids, embeddings and taps from one or more store folders (e.g. the shards of
/// one run), keeping the first stored row of each id, sorted by id. Ids and embeddings are read
/// into memory; the taps stay on disk, read a block of units at a time ([`TapMatrix`]).
///
/// [`TapMatrix`]: super::acts::TapMatrix
pub fn read_matrices(stores: &[StoreDir], table: Table) -> Result<super::TableMatrices, StoreError> {
    use super::acts::{ActsFile, acts_path, stored_taps};
    let mut parts = Vec::new();
    for s in stores {
        parts.extend(s.parts(table)?);
    }
    let mut files = Vec::with_capacity(parts.len());
    // (id, part, row in part); sorted and deduplicated below, the first stored row kept.
    let mut entries: Vec<(String, u32, u32)> = Vec::new();
    for (pi, p) in parts.iter().enumerate() {
        let df = read_parquet(p, Some(vec!["id".into()]))?;
        let ids = df.column("id").and_then(|c| c.str().cloned()).map_err(|source| StoreError::Parquet {
            action: "cannot read ids of",
            path: p.clone(),
            source,
        })?;
        entries.extend(ids.iter().enumerate().map(|(r, id)| (id.unwrap_or_default().to_owned(), pi as u32, r as u32)));
        let acts = acts_path(p);
        if !acts.is_file() {
            return Err(StoreError::Corrupt {
                path: p.clone(),
                message: format!("this part has no activations file {}", acts.display()),
            });
        }
        let file = ActsFile::open(&acts)?;
        if file.header().rows != df.height() {
            return Err(StoreError::Corrupt {
                path: acts,
                message: format!("{} rows where its parquet part has {}", file.header().rows, df.height()),
            });
        }
        files.push(file);
    }
    entries.sort_unstable();
    entries.dedup_by(|later, first| later.0 == first.0);
    let n = entries.len();
    let mut maps: Vec<Vec<(u32, u32)>> = vec![Vec::new(); parts.len()];
    for (row, (_, part, at)) in entries.iter().enumerate() {
        maps[*part as usize].push((row as u32, *at));
    }
    let mut embeddings: Option<ndarray::Array2<f32>> = None;
    for (p, map) in parts.iter().zip(&maps).filter(|(_, m)| !m.is_empty()) {
        let df = read_parquet(p, Some(vec!["embedding".into()]))?;
        let bad = |message: String| StoreError::Corrupt { path: p.clone(), message };
        let list = df.column("embedding").and_then(|c| c.list().cloned()).map_err(|e| bad(e.to_string()))?;
        if list.null_count() > 0 {
            return Err(bad("null embeddings".into()));
        }
        let list = list.rechunk();
        let inner = list.get_inner();
        let values = inner.f32().map_err(|e| bad(e.to_string()))?;
        let values: Vec<f32> = values.into_no_null_iter().collect();
        let width = values.len() / df.height().max(1);
        if width * df.height() != values.len() {
            return Err(bad("embeddings of different lengths".into()));
        }
        let out = embeddings.get_or_insert_with(|| ndarray::Array2::zeros((n, width)));
        if out.ncols() != width {
            return Err(bad(format!("embeddings of {width} values where other parts have {}", out.ncols())));
        }
        for &(row, at) in map {
            let at = at as usize;
            out.row_mut(row as usize).assign(&ndarray::ArrayView1::from(&values[at * width..(at + 1) * width]));
        }
    }
    let (files, maps): (Vec<_>, Vec<_>) = files.into_iter().zip(maps).filter(|(_, m)| !m.is_empty()).unzip();
    Ok(super::TableMatrices {
        ids: entries.into_iter().map(|e| e.0).collect(),
        embeddings: embeddings.unwrap_or_else(|| ndarray::Array2::zeros((0, 0))),
        taps: stored_taps(files, maps, n)?.into_iter().collect(),
    })
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

/// The `store_format` a store's `key.json` records (None when it does not read).
fn store_format(store: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(store.join("key.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?.get("store_format")?.as_u64()
}

/// Finds the stores in run folders: each folder's `store/<key>` (a folder may be the store
/// itself). All must share one key.
pub fn find_stores(run_dirs: &[PathBuf]) -> Result<Vec<StoreDir>, StoreError> {
    let mut out = Vec::new();
    for d in run_dirs {
        let base = d.join("store");
        if d.join("key.json").is_file() {
            match store_format(d) {
                Some(f) if f == u64::from(STORE_FORMAT) => out.push(StoreDir { root: d.clone() }),
                found => return Err(StoreError::OldFormat { path: d.clone(), found: found.unwrap_or(0) }),
            }
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
        // Stores of another layout are not read; when they are all there is, say so.
        let (current, other): (Vec<PathBuf>, Vec<PathBuf>) =
            keys.into_iter().partition(|k| store_format(k) == Some(u64::from(STORE_FORMAT)));
        if current.is_empty() {
            let path = other.last().cloned().unwrap_or_else(|| d.clone());
            return Err(StoreError::OldFormat { found: store_format(&path).unwrap_or(0), path });
        }
        let mut keys = current;
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
