//! Stimuli: the concrete inputs the model sees, expanded deterministically from an audit spec.
//!
//! Each probe selection turns into prompt texts (templates x names and aliases), rendered
//! text (the name drawn on a canvas, in size/position/colour/background/case variants),
//! images from folders and manifests, and typographic composites (another member's name drawn
//! onto an image). Every stimulus has a stable id, a hash of exactly what determines the
//! model's input: the prompt text; the rendering parameters and the embedded font; the image
//! file's bytes; the base image's bytes and the overlay parameters. Images are not decoded
//! here: a file that cannot be read is recorded as skipped, and decoding failures are
//! recorded by whoever decodes (`materialize`), never fatal.

pub mod preview;
pub mod render;
pub mod words;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::hashing::hex;

use crate::imaging::{decode, resize};
use crate::spec::analyses::DENIGRATION_LABELS;
use crate::spec::audit::{AssignedSource, AuditSpec, Placement, Selection};
use crate::spec::images::{ImageSource, MemberKey};
use crate::spec::manifest;

/// File extensions read as images.
pub const IMAGE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "jfif"];

/// How the concept is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// A text prompt for the text tower.
    Prompt,
    /// The concept's name drawn as text in an image.
    RenderedText,
    /// A photo or drawing of the concept.
    Image,
    /// An image of one concept with another concept's name drawn on it.
    Typographic,
}

impl Modality {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Prompt => "prompt",
            Modality::RenderedText => "rendered_text",
            Modality::Image => "image",
            Modality::Typographic => "typographic",
        }
    }

    /// The modality a name in reports and the stimulus table stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        [Modality::Prompt, Modality::RenderedText, Modality::Image, Modality::Typographic]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// Whether the text tower encodes it (a prompt); every other modality is an image.
    pub fn is_text(self) -> bool {
        self == Modality::Prompt
    }
}

/// What a stimulus is made of (the stimulus table's `content` column holds it as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// Text for the text tower.
    Prompt {
        /// The prompt.
        text: String,
    },
    /// Text drawn on a plain canvas.
    RenderedText {
        /// The text drawn.
        text: String,
        /// Canvas side.
        canvas: u32,
        /// Font size in pixels (before fitting).
        size: u32,
        /// Where.
        placement: Placement,
        /// Text colour.
        color: [u8; 3],
        /// Background.
        background: [u8; 3],
    },
    /// An image file.
    Image {
        /// The file.
        path: PathBuf,
    },
    /// Text drawn onto an image.
    Typographic {
        /// The base image file.
        base: PathBuf,
        /// The member the base image shows.
        base_member: String,
        /// The attack text.
        text: String,
        /// The member the attack text names, when it names one.
        text_member: Option<String>,
        /// Font size at the model's input size.
        size: u32,
        /// Where.
        placement: Placement,
        /// Text colour.
        color: [u8; 3],
        /// Dark/light outline.
        outline: bool,
        /// Opacity.
        opacity: f64,
        /// The model's input size the base is resized to before drawing.
        image_size: u32,
    },
}

/// One stimulus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stimulus {
    /// Stable id (128-bit hex of SHA-256 over what the model sees).
    pub id: String,
    /// The audit's selection.
    pub selection: String,
    /// Family id.
    pub family: String,
    /// Member id (for typographic composites: the member the base image shows).
    pub member: String,
    /// Modality.
    pub modality: Modality,
    /// The variant, in words (`template 2, alias "USA"`; `size 32, center, black on white, upper`).
    pub variant: String,
    /// What it is made of.
    pub content: Content,
    /// Labels from a manifest row (e.g. FairFace's age, gender, race).
    pub labels: BTreeMap<String, String>,
    /// For an image stimulus, the index of its source's account in [`StimulusSet::sources`]
    /// (so that a file that fails to decode at run time moves from images to skipped there).
    #[serde(skip)]
    pub account: Option<usize>,
}

/// A stimulus that could not be made, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The stimulus id, when it got one.
    pub id: Option<String>,
    /// The selection.
    pub selection: String,
    /// Where it came from (a file, a manifest line).
    pub source: String,
    /// Why it was skipped.
    pub reason: String,
}

/// The expanded stimuli of an audit, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StimulusSet {
    /// The stimuli, in a deterministic order.
    pub stimuli: Vec<Stimulus>,
    /// Skipped ones.
    pub skipped: Vec<Skipped>,
    /// Every image source with what became of its rows (or files).
    pub sources: Vec<SourceAccount>,
}

/// What became of every row of a manifest (every file of a folder): each is an image
/// stimulus, skipped with a reason, or excluded by the spec's own selection, so that
/// `rows == images + skipped + excluded` always holds ([`SourceAccount::balances`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceAccount {
    /// The selection.
    pub selection: String,
    /// `manifest` or `folder`.
    pub kind: &'static str,
    /// The manifest file or folder.
    pub source: String,
    /// Rows of the manifest (image files of the folder).
    pub rows: usize,
    /// Rows that became image stimuli.
    pub images: usize,
    /// Rows skipped, each with its reason in [`StimulusSet::skipped`].
    pub skipped: usize,
    /// Rows the spec leaves out, per reason (members not selected, past `limit`).
    pub excluded: BTreeMap<String, usize>,
}

impl SourceAccount {
    /// Moves rows that became image stimuli but failed when decoded (at run time) to skipped.
    pub fn decode_failed(&mut self, rows: usize) {
        let rows = rows.min(self.images);
        self.images -= rows;
        self.skipped += rows;
    }

    fn exclude_rows(&mut self, n: usize, reason: String) {
        if n > 0 {
            *self.excluded.entry(reason).or_insert(0) += n;
        }
    }

    /// Rows excluded by the spec, for every reason.
    pub fn excluded_rows(&self) -> usize {
        self.excluded.values().sum()
    }

    /// Whether every row is accounted for (a source that could not be read has no rows and
    /// one skip).
    pub fn balances(&self) -> bool {
        self.rows == self.images + self.skipped + self.excluded_rows() || (self.rows == 0 && self.skipped == 1)
    }

    /// One line: "manifest labels.csv: 12 rows = 12 images + 0 skipped + 0 excluded".
    pub fn line(&self) -> String {
        let mut text = format!(
            "{} {}: {} rows = {} images + {} skipped + {} excluded",
            self.kind,
            self.source,
            self.rows,
            self.images,
            self.skipped,
            self.excluded_rows()
        );
        if !self.excluded.is_empty() {
            let why: Vec<String> = self.excluded.iter().map(|(r, n)| format!("{n} {r}")).collect();
            text.push_str(&format!(" ({})", why.join("; ")));
        }
        text
    }
}

impl StimulusSet {
    /// Records a row (or file) of source `account` as skipped, with where it is and why: the
    /// one way a source's row is skipped, so its account stays balanced.
    fn skip_row(&mut self, account: usize, selection: &str, source: String, reason: String) {
        self.sources[account].skipped += 1;
        self.skipped.push(Skipped { id: None, selection: selection.to_owned(), source, reason });
    }

    /// Counts per (selection, modality).
    pub fn counts(&self) -> BTreeMap<(String, Modality), usize> {
        let mut out = BTreeMap::new();
        for s in &self.stimuli {
            *out.entry((s.selection.clone(), s.modality)).or_insert(0) += 1;
        }
        out
    }

    /// A hash of the whole list (ids in order), for provenance.
    pub fn list_hash(&self) -> String {
        let mut h = Sha256::new();
        for s in &self.stimuli {
            h.update(s.id.as_bytes());
            h.update(b"\n");
        }
        hex(&h.finalize())
    }
}

/// 128-bit hex id of the parts, separated unambiguously.
fn stable_id(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize()[..16])
}

/// Identity of the embedded font, part of every rendered stimulus' id.
fn font_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| stable_id(&[include_bytes!("../../assets/fonts/DejaVuSans.ttf")]))
}

fn color_name(c: [u8; 3]) -> String {
    crate::spec::audit::NAMED_COLORS
        .iter()
        .find(|(_, rgb)| *rgb == c)
        .map_or_else(|| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]), |(n, _)| (*n).to_owned())
}

/// A small deterministic generator (SplitMix64) for seeded choices.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Expands every selection of `spec` into stimuli. `image_size` is the model's input size
/// (typographic composites are drawn at it).
pub fn expand(spec: &AuditSpec, image_size: u32) -> StimulusSet {
    let mut set = StimulusSet::default();
    for sel in &spec.selections {
        expand_selection(sel, spec.seed, image_size, &mut set);
    }
    expand_label_prompts(spec, &mut set);
    set
}

/// The denigration analysis's own label prompts ([`crate::spec::analyses::DenigrationDoc::label_prompts`])
/// that no selection's prompts already give, as prompts of the selection
/// [`DENIGRATION_LABELS`], so the runner encodes them and the analysis never calls the model.
fn expand_label_prompts(spec: &AuditSpec, set: &mut StimulusSet) {
    let Some(doc) = &spec.doc.analyses.denigration else { return };
    let mut seen: std::collections::HashSet<String> = set.stimuli.iter().map(|s| s.id.clone()).collect();
    for p in doc.label_prompts(spec) {
        let id = stable_id(&[b"prompt", p.text.as_bytes()]);
        if !seen.insert(id.clone()) {
            continue;
        }
        set.stimuli.push(Stimulus {
            id,
            selection: DENIGRATION_LABELS.to_owned(),
            family: DENIGRATION_LABELS.to_owned(),
            member: p.label,
            modality: Modality::Prompt,
            variant: format!("template {}", p.template),
            content: Content::Prompt { text: p.text },
            labels: BTreeMap::new(),
            account: None,
        });
    }
}

fn expand_selection(sel: &Selection, seed: u64, image_size: u32, set: &mut StimulusSet) {
    if let Some(p) = &sel.prompts {
        expand_prompts(sel, p, set);
    }
    if let Some(r) = &sel.rendered_text {
        expand_rendered_text(sel, r, set);
    }
    let images = expand_images(sel, set);
    if let Some(t) = &sel.typographic {
        expand_typographic(sel, t, &images, (seed, image_size), set);
    }
    set.stimuli.extend(images);
}

/// A stimulus of `sel` with no labels and no source account.
fn stimulus(
    sel: &Selection,
    member: &str,
    modality: Modality,
    variant: String,
    content: Content,
    id: String,
) -> Stimulus {
    Stimulus {
        id,
        selection: sel.name.clone(),
        family: sel.family_id.clone(),
        member: member.to_owned(),
        modality,
        variant,
        content,
        labels: BTreeMap::new(),
        account: None,
    }
}

/// A member's name and, with `aliases`, its aliases, each with how the variant names it.
fn names_of(m: &crate::spec::probe::Member, aliases: bool) -> Vec<(String, String)> {
    let mut names = vec![("name".to_owned(), m.name.clone())];
    if aliases {
        names.extend(m.aliases.iter().map(|a| (format!("alias {a:?}"), a.clone())));
    }
    names.dedup_by(|a, b| a.1 == b.1);
    names
}

/// Each member's name (and aliases) in each prompt template, each text once.
fn expand_prompts(sel: &Selection, p: &crate::spec::audit::PromptPlan, set: &mut StimulusSet) {
    for m in &sel.members {
        let mut seen = std::collections::BTreeSet::new();
        for (kind, name) in names_of(m, p.aliases) {
            // Names that English uses with an article ("the Netherlands") carry it in
            // meta.article; prompts read better with it.
            let spoken = m.spoken(&name);
            for (ti, t) in p.templates.iter().enumerate() {
                let text = crate::spec::probe::fill(t, &spoken);
                if !seen.insert(text.clone()) {
                    continue;
                }
                let id = stable_id(&[b"prompt", text.as_bytes()]);
                set.stimuli.push(stimulus(
                    sel,
                    &m.id,
                    Modality::Prompt,
                    format!("template {ti}, {kind}"),
                    Content::Prompt { text },
                    id,
                ));
            }
        }
    }
}

/// Each member's name (and aliases) drawn in every case, size, position and colour pair.
fn expand_rendered_text(sel: &Selection, r: &crate::spec::audit::RenderPlan, set: &mut StimulusSet) {
    for m in &sel.members {
        for (kind, name) in names_of(m, r.aliases) {
            for case in &r.cases {
                let text = case.apply(&name);
                for size in &r.sizes {
                    for placement in &r.positions {
                        for color in &r.colors {
                            for bg in &r.backgrounds {
                                if color.rgb == bg.rgb {
                                    continue;
                                }
                                let id = stable_id(&[
                                    b"rendered",
                                    font_id().as_bytes(),
                                    text.as_bytes(),
                                    &r.canvas.to_le_bytes(),
                                    &size.to_le_bytes(),
                                    placement.name().as_bytes(),
                                    &color.rgb,
                                    &bg.rgb,
                                ]);
                                let variant = format!(
                                    "{kind}, {}, size {size}, {}, {} on {}",
                                    case.name(),
                                    placement.name(),
                                    color.name,
                                    bg.name
                                );
                                let content = Content::RenderedText {
                                    text: text.clone(),
                                    canvas: r.canvas,
                                    size: *size,
                                    placement: *placement,
                                    color: color.rgb,
                                    background: bg.rgb,
                                };
                                set.stimuli.push(stimulus(sel, &m.id, Modality::RenderedText, variant, content, id));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The images of every source, listed in order and hashed in parallel; every row accounted for.
fn expand_images(sel: &Selection, set: &mut StimulusSet) -> Vec<Stimulus> {
    let mut listed: Vec<Listed> = Vec::new();
    for src in &sel.images {
        list_source(sel, src, &mut listed, set);
    }
    let hashed: Vec<Result<String, String>> = listed
        .par_iter()
        .map(|(_, path, ..)| std::fs::read(path).map(|b| stable_id(&[b"image", &b])).map_err(|e| e.to_string()))
        .collect();
    let mut images = Vec::new();
    for ((member, path, labels, origin, account), hash) in listed.into_iter().zip(hashed) {
        match hash {
            Ok(id) => {
                set.sources[account].images += 1;
                let mut s = stimulus(sel, &member, Modality::Image, origin, Content::Image { path: path.clone() }, id);
                s.labels = labels;
                s.account = Some(account);
                images.push(s);
            }
            Err(reason) => {
                set.skip_row(account, &sel.name, path.display().to_string(), format!("cannot read: {reason}"))
            }
        }
    }
    images
}

/// Another member's name (or the spec's texts) drawn onto each image, a seeded choice per image.
fn expand_typographic(
    sel: &Selection,
    t: &crate::spec::audit::TypographicPlan,
    images: &[Stimulus],
    (seed, image_size): (u64, u32),
    set: &mut StimulusSet,
) {
    let mut rng = SplitMix(seed ^ 0x5459_504f);
    for img in images {
        let Content::Image { path } = &img.content else { continue };
        // Attack texts: explicit ones, or the names of other members, a seeded choice per image.
        let mut candidates: Vec<(String, Option<String>)> = match &t.texts {
            Some(texts) => texts.iter().map(|x| (x.clone(), None)).collect(),
            None => sel
                .members
                .iter()
                .filter(|m| m.id != img.member)
                .map(|m| (m.name.clone(), Some(m.id.clone())))
                .collect(),
        };
        for i in (1..candidates.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            candidates.swap(i, j);
        }
        candidates.truncate(t.per_image);
        for (text, text_member) in candidates {
            for size in &t.sizes {
                for placement in &t.positions {
                    for color in &t.colors {
                        for opacity in &t.opacities {
                            let id = stable_id(&[
                                b"typographic",
                                font_id().as_bytes(),
                                img.id.as_bytes(),
                                text.as_bytes(),
                                &size.to_le_bytes(),
                                placement.name().as_bytes(),
                                &color.rgb,
                                &[u8::from(t.outline)],
                                &opacity.to_le_bytes(),
                                &image_size.to_le_bytes(),
                            ]);
                            let variant = format!(
                                "{text:?} on {}, size {size}, {}, {}{}, opacity {opacity}",
                                img.member,
                                placement.name(),
                                color_name(color.rgb),
                                if t.outline { " outlined" } else { "" }
                            );
                            let content = Content::Typographic {
                                base: path.clone(),
                                base_member: img.member.clone(),
                                text: text.clone(),
                                text_member: text_member.clone(),
                                size: *size,
                                placement: *placement,
                                color: color.rgb,
                                outline: t.outline,
                                opacity: *opacity,
                                image_size,
                            };
                            let mut s = stimulus(sel, &img.member, Modality::Typographic, variant, content, id);
                            s.labels = img.labels.clone();
                            set.stimuli.push(s);
                        }
                    }
                }
            }
        }
    }
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Image files of a folder (and its sub-folders when `recursive`), sorted by path: those whose
/// file name matches `glob` ([`crate::spec::images::file_name_glob`]), or without one those
/// with an image extension. Symbolic links are listed, not followed.
pub fn list_folder(dir: &Path, glob: Option<&str>, recursive: bool) -> std::io::Result<Vec<PathBuf>> {
    let matcher = glob
        .map(crate::spec::images::file_name_glob)
        .transpose()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(dir).min_depth(1).max_depth(if recursive { usize::MAX } else { 1 });
    for entry in walk {
        let entry = entry?;
        if entry.file_type().is_dir() {
            continue;
        }
        let wanted = match &matcher {
            Some(m) => m.is_match(entry.file_name()),
            None => is_image(entry.path()),
        };
        if wanted {
            out.push(entry.into_path());
        }
    }
    out.sort();
    Ok(out)
}

/// One listed image: member, file, labels, origin ("manifest labels.csv:5"), and the index
/// of its source's account.
type Listed = (String, PathBuf, BTreeMap<String, String>, String, usize);

/// Lists the images of one source, recording for its account every row (or file) as listed,
/// skipped with a reason, or excluded by the spec's own selection.
fn list_source(sel: &Selection, src: &AssignedSource, out: &mut Vec<Listed>, set: &mut StimulusSet) {
    let index = set.sources.len();
    let (kind, path) = match &src.source {
        ImageSource::Folder { path, .. } => ("folder", path),
        ImageSource::Manifest { file, .. } => ("manifest", file),
    };
    set.sources.push(SourceAccount {
        selection: sel.name.clone(),
        kind,
        source: path.display().to_string(),
        ..SourceAccount::default()
    });
    match &src.source {
        ImageSource::Folder { path, glob, recursive, limit } => {
            let member = src.member.clone().unwrap_or_default();
            match list_folder(path, glob.as_deref(), *recursive) {
                Ok(files) => {
                    let limit = limit.unwrap_or(usize::MAX);
                    set.sources[index].rows = files.len();
                    set.sources[index]
                        .exclude_rows(files.len().saturating_sub(limit), format!("past `limit: {limit}`"));
                    for f in files.into_iter().take(limit) {
                        let origin = format!("folder {}", path.display());
                        out.push((member.clone(), f, BTreeMap::new(), origin, index));
                    }
                }
                Err(e) => {
                    set.skip_row(index, &sel.name, path.display().to_string(), format!("cannot list folder: {e}"))
                }
            }
        }
        ImageSource::Manifest { .. } => list_manifest(sel, src, index, out, set),
    }
}

/// A manifest source's rows: each listed, skipped with a reason, or excluded (see
/// [`list_source`]).
fn list_manifest(sel: &Selection, src: &AssignedSource, index: usize, out: &mut Vec<Listed>, set: &mut StimulusSet) {
    let ImageSource::Manifest { file, root, file_column, member_column, member_key, label_columns, limit } =
        &src.source
    else {
        return;
    };
    let skip = |set: &mut StimulusSet, source: String, reason: String| set.skip_row(index, &sel.name, source, reason);
    let manifest::Rows { rows, bad } = match manifest::read_rows(file) {
        Ok(rows) => rows,
        Err(e) => return skip(set, file.display().to_string(), format!("cannot read manifest: {e}")),
    };
    set.sources[index].rows = rows.len() + bad.len();
    for (line, reason) in bad {
        skip(set, format!("{}:{line}", file.display()), format!("unreadable record: {reason}"));
    }
    let mut matcher = RowMember { sel, key: MemberKey::new(member_key.as_deref()), unmatched: HashMap::new() };
    let limit = limit.unwrap_or(usize::MAX);
    let mut taken = 0;
    for (line, row) in rows {
        let at = format!("{}:{line}", file.display());
        if taken >= limit {
            set.sources[index].exclude_rows(1, format!("past `limit: {limit}`"));
            continue;
        }
        let member = match (member_column, &src.member) {
            (_, Some(m)) => m.clone(),
            (Some(col), None) => match matcher.member(col, row.get(col).map(String::as_str).unwrap_or_default()) {
                RowMatch::Selected(m) => m,
                RowMatch::NotSelected(m) => {
                    set.sources[index].exclude_rows(1, format!("member `{m}` not selected by the spec"));
                    continue;
                }
                RowMatch::NoMember(reason) => {
                    skip(set, at, reason);
                    continue;
                }
            },
            // Checked by validation: a family-wide manifest has a member column.
            (None, None) => {
                skip(set, at, "the source names no member and has no `member_column`".to_owned());
                continue;
            }
        };
        let Some(rel) = row.get(file_column).filter(|f| !f.is_empty()) else {
            skip(set, at, format!("empty `{file_column}`"));
            continue;
        };
        let labels: BTreeMap<String, String> = match label_columns {
            Some(cols) => cols.iter().filter_map(|c| row.get(c).map(|v| (c.clone(), v.clone()))).collect(),
            None => row.iter().filter(|(k, _)| *k != file_column).map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        out.push((member, root.join(rel), labels, format!("manifest {at}"), index));
        taken += 1;
    }
}

/// What a manifest row's member value names.
enum RowMatch {
    /// A member the spec selects.
    Selected(String),
    /// A member of the family the spec does not select.
    NotSelected(String),
    /// No member: why, in words.
    NoMember(String),
}

/// Matches manifest member values to members, making the reason for each distinct value
/// that names no member once.
struct RowMember<'a> {
    sel: &'a Selection,
    key: MemberKey<'a>,
    unmatched: HashMap<String, String>,
}

impl RowMember<'_> {
    fn member(&mut self, column: &str, value: &str) -> RowMatch {
        // A selected member first, so that a value two members answer to goes to the one the
        // spec selects.
        if let Some(m) = self.key.find(&self.sel.members, value) {
            return RowMatch::Selected(m.id.clone());
        }
        if let Some(m) = self.key.find(&self.sel.family.members, value) {
            return RowMatch::NotSelected(m.id.clone());
        }
        let (key, sel) = (&self.key, self.sel);
        let reason = self.unmatched.entry(value.to_owned()).or_insert_with(|| {
            let near = key.nearest(&sel.family.members, value).map_or(String::new(), |n| format!(" (nearest: {n:?})"));
            format!("`{column}` value {value:?} is not {} of any member of `{}`{near}", key.describe(), sel.family_id)
        });
        RowMatch::NoMember(reason.clone())
    }
}

/// Problems making a stimulus' image.
#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    /// The image (or base image) could not be read or decoded.
    #[error(transparent)]
    Image(#[from] decode::ImageError),
    /// Prompts are text, not images.
    #[error("stimulus {0} is a prompt, not an image")]
    NotAnImage(String),
}

/// The RGB image of an image-modality stimulus, as it goes into preprocessing.
pub fn materialize(stimulus: &Stimulus) -> Result<RgbImage, MaterializeError> {
    materialize_with_coverage(stimulus).map(|(img, _)| img)
}

/// The image and, for typographic composites, the fraction of its pixels the attack text
/// (with its outline) covers, which the store records with the activations.
pub fn materialize_with_coverage(stimulus: &Stimulus) -> Result<(RgbImage, Option<f64>), MaterializeError> {
    stimulus.content.image()?.ok_or_else(|| MaterializeError::NotAnImage(stimulus.id.clone()))
}

impl Content {
    /// The text of a prompt.
    pub fn prompt_text(&self) -> Option<&str> {
        match self {
            Content::Prompt { text } => Some(text),
            _ => None,
        }
    }

    /// The file of an image stimulus.
    pub fn image_path(&self) -> Option<&Path> {
        match self {
            Content::Image { path } => Some(path),
            _ => None,
        }
    }

    /// The clean image a typographic composite was drawn on.
    pub fn composite_base(&self) -> Option<&Path> {
        match self {
            Content::Typographic { base, .. } => Some(base),
            _ => None,
        }
    }

    /// The member a typographic composite's text names, when it names one.
    pub fn text_member(&self) -> Option<&str> {
        match self {
            Content::Typographic { text_member, .. } => text_member.as_deref(),
            _ => None,
        }
    }

    /// The image this content stands for and, for typographic composites, the fraction of its
    /// pixels the text covers; `None` for prompts. Also used to show stored stimuli again
    /// (the TUI's thumbnails), from the `content` column of a run's stimulus table.
    pub fn image(&self) -> Result<Option<(RgbImage, Option<f64>)>, decode::ImageError> {
        Ok(Some(match self {
            Content::Prompt { .. } => return Ok(None),
            Content::RenderedText { text, canvas, size, placement, color, background } => {
                (render::render_text(text, *canvas, *size, *placement, *color, *background).0, None)
            }
            Content::Image { path } => (decode::load_rgb(path)?, None),
            Content::Typographic { base, text, size, placement, color, outline, opacity, image_size, .. } => {
                let img = resize::resize_and_crop(&decode::load_rgb(base)?, *image_size);
                let (out, coverage) =
                    render::composite(&img, text, *size, *placement, *color, *outline, *opacity as f32);
                (out, Some(coverage))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modality_names_read_back_as_the_modality_they_name() {
        for m in [Modality::Prompt, Modality::RenderedText, Modality::Image, Modality::Typographic] {
            assert_eq!(Modality::from_name(m.name()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        assert_eq!(Modality::from_name("photo"), None);
        let c = Content::Image { path: "a/b.png".into() };
        let back: Content = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!((back.image_path(), back.prompt_text()), (Some(Path::new("a/b.png")), None));
    }

    #[test]
    fn glob_matches_file_names_like_a_shell() {
        let m = |p: &str, n: &str| crate::spec::images::file_name_glob(p).unwrap().is_match(n);
        assert!(m("*.jpg", "a.JPG"));
        assert!(m("img_??.png", "img_07.png"));
        assert!(!m("*.jpg", "a.png"));
        assert!(m("*.{jpg,png}", "b.png") && m("[ab]*.jpg", "b1.jpg") && !m("[ab]*.jpg", "c1.jpg"));
        // A pattern that took the hand-written backtracking matcher exponential time (2^30
        // steps here); the test would not finish with it.
        assert!(!m(&format!("{}b", "*a".repeat(30)), &"a".repeat(60)));
    }

    #[test]
    fn ids_separate_their_parts() {
        assert_ne!(stable_id(&[b"ab", b"c"]), stable_id(&[b"a", b"bc"]));
        assert_eq!(stable_id(&[b"x"]).len(), 32);
    }
}
