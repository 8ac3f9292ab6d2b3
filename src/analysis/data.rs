//! What the analyses read from a run: the stimulus table and the activation matrices of one
//! or more run folders (the shards of one run, or a run and its reruns), indexed by stimulus
//! id, so that every analysis sees the same rows whether the run was sharded or not.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use super::AnalysisError;
use crate::run::TableMatrices;
use crate::run::store::{Table, find_stores, read_matrices, read_run_tables};
use crate::stimuli::{Content, Modality};

/// One stimulus as recorded by the runner.
#[derive(Debug, Clone, PartialEq)]
pub struct StimulusRow {
    /// Stable id.
    pub id: String,
    /// The audit's selection.
    pub selection: String,
    /// Family id.
    pub family: String,
    /// Member id.
    pub member: String,
    /// How the concept is presented.
    pub modality: Modality,
    /// The variant in words (`template 2`).
    pub variant: String,
    /// Manifest labels (e.g. FairFace's age, gender, race).
    pub labels: BTreeMap<String, String>,
    /// What the stimulus is made of, as the runner wrote it.
    pub content: Content,
}

/// A run's stimuli and activations, merged over run folders.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The folders read.
    pub run_dirs: Vec<PathBuf>,
    /// Stimuli that have stored activations, one per (selection, id), sorted by selection and id.
    pub stimuli: Vec<StimulusRow>,
    /// Image-encoder table (images, rendered text, composites).
    pub images: TableMatrices,
    /// Text-encoder table (prompts).
    pub prompts: TableMatrices,
    /// Stimuli listed by the runner but without activations (skipped or not yet run).
    pub missing: usize,
    /// Rows of the runner's skip records.
    pub skipped: usize,
    /// The provenance records of the folders (`provenance-*.json`), as written.
    pub provenance: Vec<serde_json::Value>,
    image_row: HashMap<String, usize>,
    prompt_row: HashMap<String, usize>,
}

fn col_strings(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<String>, AnalysisError> {
    let c = df.column(name).and_then(|c| c.str().cloned()).map_err(|e| AnalysisError::Data {
        path: path.to_path_buf(),
        message: format!("the stimulus table has no text column `{name}` ({e})"),
    })?;
    Ok(c.iter().map(|v| v.unwrap_or_default().to_owned()).collect())
}

impl RunData {
    /// Reads run folders (each a `clip-audit run` output folder, or a store folder). All must
    /// hold stores of the same model and taps.
    pub fn load(run_dirs: &[PathBuf]) -> Result<Self, AnalysisError> {
        let first = run_dirs.first().cloned().unwrap_or_default();
        let stores = find_stores(run_dirs)?;
        let images = read_matrices(&stores, Table::Images)?;
        let prompts = read_matrices(&stores, Table::Prompts)?;
        let table = read_run_tables(run_dirs, "stimuli")?;
        if table.height() == 0 {
            return Err(AnalysisError::Data {
                path: first,
                message: "no stimulus table (stimuli-*.parquet): is this the folder `clip-audit run` wrote?".into(),
            });
        }
        let ids = col_strings(&table, "id", &first)?;
        let selection = col_strings(&table, "selection", &first)?;
        let family = col_strings(&table, "family", &first)?;
        let member = col_strings(&table, "member", &first)?;
        let modality = col_strings(&table, "modality", &first)?;
        let variant = col_strings(&table, "variant", &first)?;
        let labels = col_strings(&table, "labels", &first)?;
        let content = col_strings(&table, "content", &first)?;
        // Older tables have no shard column; every table this version writes has one.
        let shard = col_strings(&table, "shard", &first).unwrap_or_else(|_| vec![String::new(); ids.len()]);
        let bad = |i: usize, what: String| AnalysisError::Data {
            path: first.clone(),
            message: format!(
                "stimulus {} ({} / {}) in stimuli-{}.parquet: {what}; that table was written by another version of clip-audit: run the audit again into the same folder (`clip-audit run SPEC --out FOLDER`; stored activations are reused) and delete stimulus tables of a different sharding",
                ids[i], selection[i], member[i], shard[i]
            ),
        };
        let listed: Vec<StimulusRow> = (0..ids.len())
            .map(|i| {
                Ok(StimulusRow {
                    id: ids[i].clone(),
                    selection: selection[i].clone(),
                    family: family[i].clone(),
                    member: member[i].clone(),
                    modality: Modality::from_name(&modality[i])
                        .ok_or_else(|| bad(i, format!("unknown modality `{}`", modality[i])))?,
                    variant: variant[i].clone(),
                    labels: serde_json::from_str(&labels[i])
                        .map_err(|e| bad(i, format!("its labels do not read ({e})")))?,
                    content: serde_json::from_str(&content[i])
                        .map_err(|e| bad(i, format!("its content does not read ({e})")))?,
                })
            })
            .collect::<Result<_, AnalysisError>>()?;
        let mut data = Self::in_memory(listed, images, prompts);
        data.run_dirs = run_dirs.to_vec();
        data.skipped = read_run_tables(run_dirs, "skipped")?.height();
        for d in run_dirs {
            let mut files: Vec<PathBuf> =
                std::fs::read_dir(d).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
            files.retain(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("provenance") && n.ends_with(".json"))
            });
            files.sort();
            for f in files {
                if let Ok(v) = std::fs::read_to_string(&f).map(|t| serde_json::from_str(&t)) {
                    data.provenance.push(v.unwrap_or(serde_json::Value::Null));
                }
            }
        }
        Ok(data)
    }

    /// Run data made in memory: the stimuli the runner listed and the activation tables, as
    /// [`RunData::load`] reads them from a run folder, so that analyses can be tested on data
    /// whose right answer is known by construction, without running a model or reading parquet
    /// files. Listed ids without a row in their table count as missing; one stimulus is kept per
    /// (selection, id), the first listed.
    pub fn in_memory(listed: Vec<StimulusRow>, images: TableMatrices, prompts: TableMatrices) -> Self {
        let image_row: HashMap<String, usize> = images.ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        let prompt_row: HashMap<String, usize> =
            prompts.ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        // One row per (selection, id): ids are content hashes, so the same prompt or image can
        // belong to two selections (a label set and the controls), and each needs it.
        let mut by_id: BTreeMap<(String, String), StimulusRow> = BTreeMap::new();
        let mut all_ids = std::collections::BTreeSet::new();
        let mut stored_ids = std::collections::BTreeSet::new();
        for s in listed {
            all_ids.insert(s.id.clone());
            let stored =
                if s.modality.is_text() { prompt_row.contains_key(&s.id) } else { image_row.contains_key(&s.id) };
            let key = (s.selection.clone(), s.id.clone());
            if !stored || by_id.contains_key(&key) {
                continue;
            }
            stored_ids.insert(s.id.clone());
            by_id.insert(key, s);
        }
        Self {
            run_dirs: Vec::new(),
            stimuli: by_id.into_values().collect(),
            images,
            prompts,
            missing: all_ids.len() - stored_ids.len(),
            skipped: 0,
            provenance: Vec::new(),
            image_row,
            prompt_row,
        }
    }

    /// The first error reading activations from the store during the analyses, if any (the
    /// values it concerned read as NaN).
    pub fn io_error(&self) -> Option<String> {
        self.images.taps.values().chain(self.prompts.taps.values()).find_map(|t| t.io_error())
    }

    /// The table a stimulus's activations are in.
    pub fn table_of(&self, s: &StimulusRow) -> &TableMatrices {
        if s.modality.is_text() { &self.prompts } else { &self.images }
    }

    /// Row of a stimulus in its table.
    pub fn row_of(&self, s: &StimulusRow) -> Option<usize> {
        if s.modality.is_text() { self.prompt_row.get(&s.id).copied() } else { self.image_row.get(&s.id).copied() }
    }

    /// Row of an image-table stimulus by id.
    pub fn image_row(&self, id: &str) -> Option<usize> {
        self.image_row.get(id).copied()
    }

    /// The stimuli of a selection in a modality.
    pub fn rows(&self, selection: &str, modality: Modality) -> Vec<&StimulusRow> {
        self.stimuli.iter().filter(|s| s.selection == selection && s.modality == modality).collect()
    }

    /// A selection's images by file path: the clean image a typographic composite's `base`
    /// names.
    pub fn images_by_path(&self, selection: &str) -> HashMap<&Path, &StimulusRow> {
        self.rows(selection, Modality::Image)
            .into_iter()
            .filter_map(|s| s.content.image_path().map(|p| (p, s)))
            .collect()
    }

    /// Every prompt by its text, whatever its selection (a label prompt the denigration
    /// analysis needs may be a selection's own prompt).
    pub fn prompts_by_text(&self) -> HashMap<&str, &StimulusRow> {
        self.stimuli.iter().filter_map(|s| s.content.prompt_text().map(|t| (t, s))).collect()
    }

    /// A stimulus's embedding, L2-normalised.
    pub fn unit_embedding(&self, s: &StimulusRow) -> Option<Vec<f32>> {
        let row = self.row_of(s)?;
        Some(crate::vectors::l2_normalized(self.table_of(s).embeddings.row(row)))
    }

    /// Taps of the image and text encoders, in name order.
    pub fn taps(&self) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = self.images.taps.keys().map(|k| (k.clone(), true)).collect();
        out.extend(self.prompts.taps.keys().map(|k| (k.clone(), false)));
        out
    }

    /// The zero-shot head of the model the run used (from its provenance); None for runs
    /// made before it was recorded (those models were CLIP's, with a softmax head).
    pub fn head(&self) -> Option<crate::vectors::Head> {
        self.provenance.iter().find_map(|p| serde_json::from_value(p.get("model")?.get("head")?.clone()).ok())
    }

    /// The spec file and `--set` values the run was made with (from its provenance).
    pub fn recorded_spec(&self) -> Option<(PathBuf, Vec<(String, String)>)> {
        let p = self.provenance.iter().find(|p| p.get("spec").is_some() || p.get("spec_files").is_some())?;
        // Runs from before `spec` was recorded list it among `spec_files` (sorted by path with
        // its libraries and manifests): the file that declares the run's audit id.
        let spec = match p.get("spec") {
            Some(s) => s.as_str()?,
            None => {
                let audit = format!("audit: {}", p.get("audit")?.as_str()?);
                p.get("spec_files")?.as_array()?.iter().filter_map(|f| f.get("path")?.as_str()).find(|path| {
                    std::fs::read_to_string(path).is_ok_and(|t| t.lines().any(|l| l.trim_end() == audit))
                })?
            }
        };
        let vars = p
            .get("vars")
            .and_then(|v| v.as_object())
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
            .unwrap_or_default();
        Some((PathBuf::from(spec), vars))
    }
}
