//! Audit specs (`audits/*.yaml`): which model and taps, which probe families and members,
//! which stimuli per family, which analyses with which thresholds, and where reports go.
//!
//! Loading resolves every reference: variables (`${name}`, overridable with `--set`), the
//! model bundle and its taps, probe libraries (paths relative to the spec), families,
//! members, group filters, image folders and manifests (their columns included), and the
//! selections that analyses name. Every problem is collected before failing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;

use super::analyses::{AnalysesDoc, FailOn};
use super::images::{ImageSource, ImageSourceDoc, MemberKey, read_image_sources, unmatched_values};
use super::node::{Node, Value};
use super::probe::{Family, Member, ProbeLibrary};
use super::read::{Ctx, FromNode, MapReader, Sp};
use super::vars::Vars;
use super::{SpecError, check_id, suggest_among};
use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostic, Diagnostics, Position};

/// An audit spec as written.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields, title = "clip-audit audit spec")]
pub struct AuditDoc {
    /// Audit id (lowercase letters, digits, dashes); reports go under `reports/<audit>/`.
    pub audit: Sp<String>,
    /// What the audit checks and why.
    pub description: Option<Sp<String>>,
    /// Variables used as `${name}` in any string; a null default must be given with `--set name=value`.
    #[schemars(default)]
    pub vars: BTreeMap<String, Option<String>>,
    /// The model to audit.
    pub model: ModelRefDoc,
    /// Seed for every random choice of the audit (default 0).
    pub seed: Option<u64>,
    /// The probe families to use and their stimuli.
    pub probes: Vec<ProbeUseDoc>,
    /// The analyses to run.
    #[schemars(default)]
    pub analyses: AnalysesDoc,
    /// Where and how reports are written.
    pub outputs: Option<OutputsDoc>,
}

/// The `model:` section.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ModelRefDoc {
    /// Model bundle folder (with model.yaml), relative to the spec.
    pub bundle: Sp<String>,
    /// Taps to read, by name (default: every tap of the bundle).
    pub taps: Option<Vec<Sp<String>>>,
}

/// One probe family used by the audit.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProbeUseDoc {
    /// Probe library file, relative to the spec.
    pub library: Sp<String>,
    /// Family id in that library.
    pub family: Sp<String>,
    /// Name of this selection in the audit, used by analyses (default: the family id).
    pub name: Option<Sp<String>>,
    /// Members to use, by id (default: all).
    pub members: Option<Vec<Sp<String>>>,
    /// Keep only members whose groups are among these, per hierarchy level (e.g. `{region: [Africa, Europe]}`).
    #[schemars(default, rename = "where")]
    pub where_: BTreeMap<String, Vec<Sp<String>>>,
    /// The stimuli to make for this family.
    #[schemars(default)]
    pub stimuli: StimuliDoc,
}

/// Stimuli for one family, by modality.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StimuliDoc {
    /// Prompt texts: templates x names (and aliases).
    pub prompts: Option<PromptsDoc>,
    /// Images of the member's name drawn as text.
    pub rendered_text: Option<RenderedTextDoc>,
    /// Image sources beyond the library's (folders, globs, manifests).
    #[schemars(default)]
    pub images: Vec<ImageSourceDoc>,
    /// Typographic composites: another member's name drawn onto this family's images.
    pub typographic: Option<TypographicStimuliDoc>,
}

/// Prompt stimuli.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PromptsDoc {
    /// Templates with `{name}` (default: the family's).
    pub templates: Option<Vec<Sp<String>>>,
    /// Also use each member's aliases (default true).
    pub aliases: Option<bool>,
}

/// Rendered-text stimuli: every combination of the lists is one variant.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RenderedTextDoc {
    /// Side of the square canvas in pixels (default 224).
    pub canvas: Option<u32>,
    /// Font sizes in pixels (default `[32]`).
    pub sizes: Option<Vec<u32>>,
    /// Positions: center, top, bottom, left, right, top-left, top-right, bottom-left, bottom-right (default `[center]`).
    pub positions: Option<Vec<Sp<String>>>,
    /// Text colours: a name (black, white, red, ...) or `#rrggbb` (default `[black]`).
    pub colors: Option<Vec<Sp<String>>>,
    /// Background colours (default `[white]`).
    pub backgrounds: Option<Vec<Sp<String>>>,
    /// Letter case: as-is, upper, lower, title (default `[as-is]`).
    pub cases: Option<Vec<Sp<String>>>,
    /// Also render aliases (default false).
    pub aliases: Option<bool>,
}

/// Typographic composites.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TypographicStimuliDoc {
    /// Attack texts (default: the names of the family's other members).
    pub texts: Option<Vec<Sp<String>>>,
    /// Attack texts per base image, chosen with the audit's seed (default 3).
    pub per_image: Option<usize>,
    /// Font sizes in pixels at the model's input size (default `[28]`).
    pub sizes: Option<Vec<u32>>,
    /// Positions as for rendered text (default `[center]`).
    pub positions: Option<Vec<Sp<String>>>,
    /// Text colours (default `[white]`).
    pub colors: Option<Vec<Sp<String>>>,
    /// Draw a dark outline around the text (default true).
    pub outline: Option<bool>,
    /// Opacities between 0 and 1 (default `[1.0]`).
    pub opacities: Option<Vec<f64>>,
}

/// The `outputs:` section.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OutputsDoc {
    /// Folder for reports, relative to the spec (default: `reports/` of the working directory).
    pub dir: Option<Sp<String>>,
    /// Formats: markdown, html, json, junit, sarif (default: all).
    pub formats: Option<Vec<Sp<String>>>,
    /// Lowest severity that fails the audit: info, warning, error (default), or never.
    pub fail_on: Option<Sp<FailOn>>,
    /// Feature visualizations on the HTML report's neuron cards (default: none).
    pub feature_visualization: Option<FeatureVisualizationDoc>,
}

/// The `outputs.feature_visualization:` section: which neuron cards get an image optimised to
/// excite their unit (`clip-audit visualize`), at what cost.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FeatureVisualizationDoc {
    /// How many cards get one, cited units first, then the most selective (default 4). Each
    /// costs `steps` forward and backward passes of the image tower: about 0.3 s on the
    /// organism, about 20 s for ViT-B/32 on a 2-core CPU (BENCHMARKS.md). Cached in the run
    /// folder, so a rerun pays only for new ones.
    pub units: Option<Sp<usize>>,
    /// Optimisation steps per unit (default 256).
    pub steps: Option<Sp<usize>>,
}

impl FromNode for FeatureVisualizationDoc {
    const EXPECTED: &'static str = "the feature_visualization section";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "the feature_visualization section")?;
        let units = m.opt(cx, "units");
        let steps: Option<Sp<usize>> = m.opt(cx, "steps");
        m.finish(cx);
        if let Some(s) = &steps
            && s.value == 0
        {
            cx.error(Code::A002, "steps must be at least 1 (0 steps would show the grey starting image)", s.position);
        }
        Some(Self { units, steps })
    }
}

impl FromNode for ModelRefDoc {
    const EXPECTED: &'static str = "the model section";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "the model section")?;
        let bundle = m.req(cx, "bundle");
        let taps = m.opt(cx, "taps");
        m.finish(cx);
        Some(Self { bundle: bundle?, taps })
    }
}

impl FromNode for PromptsDoc {
    const EXPECTED: &'static str = "prompt stimuli";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "prompt stimuli")?;
        let templates = m.opt(cx, "templates");
        let aliases = m.opt(cx, "aliases");
        m.finish(cx);
        Some(Self { templates, aliases })
    }
}

impl FromNode for RenderedTextDoc {
    const EXPECTED: &'static str = "rendered-text stimuli";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "rendered-text stimuli")?;
        let canvas = m.opt(cx, "canvas");
        let sizes = m.opt(cx, "sizes");
        let positions = m.opt(cx, "positions");
        let colors = m.opt(cx, "colors");
        let backgrounds = m.opt(cx, "backgrounds");
        let cases = m.opt(cx, "cases");
        let aliases = m.opt(cx, "aliases");
        m.finish(cx);
        Some(Self { canvas, sizes, positions, colors, backgrounds, cases, aliases })
    }
}

impl FromNode for TypographicStimuliDoc {
    const EXPECTED: &'static str = "typographic stimuli";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "typographic stimuli")?;
        let texts = m.opt(cx, "texts");
        let per_image = m.opt(cx, "per_image");
        let sizes = m.opt(cx, "sizes");
        let positions = m.opt(cx, "positions");
        let colors = m.opt(cx, "colors");
        let outline = m.opt(cx, "outline");
        let opacities = m.opt(cx, "opacities");
        m.finish(cx);
        Some(Self { texts, per_image, sizes, positions, colors, outline, opacities })
    }
}

impl FromNode for StimuliDoc {
    const EXPECTED: &'static str = "the stimuli of a family";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "the stimuli of a family")?;
        let prompts = m.opt(cx, "prompts");
        let rendered_text = m.opt(cx, "rendered_text");
        let images = read_image_sources(&mut m, cx);
        let typographic = m.opt(cx, "typographic");
        m.finish(cx);
        Some(Self { prompts, rendered_text, images: images?, typographic })
    }
}

impl FromNode for ProbeUseDoc {
    const EXPECTED: &'static str = "a probe selection";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "a probe selection")?;
        let library = m.req(cx, "library");
        let family = m.req(cx, "family");
        let name = m.opt(cx, "name");
        let members = m.opt(cx, "members");
        let where_ = m.opt(cx, "where");
        let stimuli = m.opt(cx, "stimuli");
        m.finish(cx);
        Some(Self {
            library: library?,
            family: family?,
            name,
            members,
            where_: where_.unwrap_or_default(),
            stimuli: stimuli.unwrap_or_default(),
        })
    }
}

impl FromNode for OutputsDoc {
    const EXPECTED: &'static str = "the outputs section";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "the outputs section")?;
        let dir = m.opt(cx, "dir");
        let formats = m.opt(cx, "formats");
        let fail_on = m.opt(cx, "fail_on");
        let feature_visualization = m.opt(cx, "feature_visualization");
        m.finish(cx);
        Some(Self { dir, formats, fail_on, feature_visualization })
    }
}

/// Reads an audit document; `vars` is read separately (before substitution).
fn read_audit(node: &Node, vars: BTreeMap<String, Option<String>>, cx: &mut Ctx<'_>) -> Option<AuditDoc> {
    let mut m = MapReader::new(node, cx, "the audit spec")?;
    let audit = m.req(cx, "audit");
    let description = m.opt(cx, "description");
    let _ = m.node("vars");
    let model = m.req(cx, "model");
    let seed = m.opt(cx, "seed");
    let probes = m.req(cx, "probes");
    let analyses = m.opt(cx, "analyses");
    let outputs = m.opt(cx, "outputs");
    m.finish(cx);
    Some(AuditDoc {
        audit: audit?,
        description,
        vars,
        model: model?,
        seed,
        probes: probes?,
        analyses: analyses.unwrap_or_default(),
        outputs,
    })
}

/// A text position on a canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Middle.
    Center,
    /// Top middle.
    Top,
    /// Bottom middle.
    Bottom,
    /// Left middle.
    Left,
    /// Right middle.
    Right,
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right.
    BottomRight,
}

impl Placement {
    const NAMES: [&'static str; 9] =
        ["center", "top", "bottom", "left", "right", "top-left", "top-right", "bottom-left", "bottom-right"];
    const ALL: [Placement; 9] = [
        Placement::Center,
        Placement::Top,
        Placement::Bottom,
        Placement::Left,
        Placement::Right,
        Placement::TopLeft,
        Placement::TopRight,
        Placement::BottomLeft,
        Placement::BottomRight,
    ];

    /// Its name in specs.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Letter case of rendered text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LetterCase {
    /// As written.
    AsIs,
    /// UPPER.
    Upper,
    /// lower.
    Lower,
    /// Title Case.
    Title,
}

impl LetterCase {
    const NAMES: [&'static str; 4] = ["as-is", "upper", "lower", "title"];
    const ALL: [LetterCase; 4] = [LetterCase::AsIs, LetterCase::Upper, LetterCase::Lower, LetterCase::Title];

    /// Its name in specs.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Applies the case to `text`.
    pub fn apply(self, text: &str) -> String {
        match self {
            LetterCase::AsIs => text.to_owned(),
            LetterCase::Upper => text.to_uppercase(),
            LetterCase::Lower => text.to_lowercase(),
            LetterCase::Title => text
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map_or(String::new(), |f| f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase())
                })
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// An RGB colour with the name it was written as.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Color {
    /// As written (`black`, `#ff8800`).
    pub name: String,
    /// Red, green, blue.
    pub rgb: [u8; 3],
}

/// Named colours accepted in specs.
pub const NAMED_COLORS: [(&str, [u8; 3]); 10] = [
    ("black", [0, 0, 0]),
    ("white", [255, 255, 255]),
    ("red", [220, 20, 20]),
    ("green", [20, 160, 40]),
    ("blue", [20, 60, 220]),
    ("yellow", [250, 220, 0]),
    ("gray", [128, 128, 128]),
    ("orange", [250, 140, 0]),
    ("purple", [130, 40, 170]),
    ("brown", [120, 70, 20]),
];

fn parse_color(cx: &mut Ctx<'_>, s: &Sp<String>) -> Option<Color> {
    let lower = s.to_ascii_lowercase();
    if let Some((_, rgb)) = NAMED_COLORS.iter().find(|(n, _)| *n == lower) {
        return Some(Color { name: lower, rgb: *rgb });
    }
    if let Some(hex) = lower.strip_prefix('#')
        && hex.len() == 6
        && let Ok(v) = u32::from_str_radix(hex, 16)
    {
        return Some(Color { name: lower.clone(), rgb: [(v >> 16) as u8, (v >> 8) as u8, v as u8] });
    }
    let names: Vec<&str> = NAMED_COLORS.iter().map(|(n, _)| *n).collect();
    cx.error_help(
        Code::A003,
        format!("unknown colour {:?}", **s),
        s.position,
        format!("use #rrggbb or a name; {}", suggest_among(s, &names)),
    );
    None
}

fn parse_named<T: Copy>(cx: &mut Ctx<'_>, s: &Sp<String>, names: &[&str], all: &[T], what: &str) -> Option<T> {
    match names.iter().position(|n| *n == s.as_str()) {
        Some(i) => Some(all[i]),
        None => {
            cx.error_help(Code::A003, format!("unknown {what} {:?}", **s), s.position, suggest_among(s, names));
            None
        }
    }
}

/// Checked prompt settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PromptPlan {
    /// Templates with `{name}`.
    pub templates: Vec<String>,
    /// Use aliases too.
    pub aliases: bool,
}

/// Checked rendered-text settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RenderPlan {
    /// Canvas side.
    pub canvas: u32,
    /// Font sizes.
    pub sizes: Vec<u32>,
    /// Positions.
    pub positions: Vec<Placement>,
    /// Text colours.
    pub colors: Vec<Color>,
    /// Backgrounds.
    pub backgrounds: Vec<Color>,
    /// Letter cases.
    pub cases: Vec<LetterCase>,
    /// Render aliases too.
    pub aliases: bool,
}

/// Checked typographic settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TypographicPlan {
    /// Explicit attack texts, or `None` for the other members' names.
    pub texts: Option<Vec<String>>,
    /// Attack texts per base image.
    pub per_image: usize,
    /// Font sizes at the model's input size.
    pub sizes: Vec<u32>,
    /// Positions.
    pub positions: Vec<Placement>,
    /// Colours.
    pub colors: Vec<Color>,
    /// Outline.
    pub outline: bool,
    /// Opacities.
    pub opacities: Vec<f64>,
}

/// An image source assigned to a member (or, for manifests with a member column, to the
/// family, with rows assigned to members when read).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AssignedSource {
    /// The member, when the source belongs to one.
    pub member: Option<String>,
    /// The source.
    pub source: ImageSource,
}

/// One probe family as used by the audit: the selected members and their stimuli settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Selection {
    /// Name in the audit.
    pub name: String,
    /// The library.
    #[serde(skip)]
    pub library: Arc<ProbeLibrary>,
    /// Library id.
    pub library_id: String,
    /// The family (with all its members).
    #[serde(skip)]
    pub family: Family,
    /// Family id.
    pub family_id: String,
    /// The selected members, in library order.
    pub members: Vec<Member>,
    /// Prompt stimuli, when asked for.
    pub prompts: Option<PromptPlan>,
    /// Rendered-text stimuli, when asked for.
    pub rendered_text: Option<RenderPlan>,
    /// Image sources (library's and spec's).
    pub images: Vec<AssignedSource>,
    /// Typographic composites, when asked for.
    pub typographic: Option<TypographicPlan>,
}

/// A validated audit spec, every reference resolved.
#[derive(Debug, Clone)]
pub struct AuditSpec {
    /// Audit id.
    pub id: String,
    /// The spec file.
    pub path: PathBuf,
    /// Description.
    pub description: Option<String>,
    /// The document as written (after variable substitution), with positions.
    pub doc: AuditDoc,
    /// Variables in effect.
    pub vars: Vars,
    /// The model bundle folder.
    pub bundle: PathBuf,
    /// Taps to read (empty: all of the bundle's).
    pub taps: Vec<String>,
    /// Seed.
    pub seed: u64,
    /// Probe selections, in spec order.
    pub selections: Vec<Selection>,
    /// Report folder.
    pub output_dir: PathBuf,
    /// Report formats.
    pub formats: Vec<String>,
    /// Lowest severity that fails the audit, or never.
    pub fail_on: FailOn,
    /// Feature visualizations for the neuron cards.
    pub feature_visualization: FeatureVisualization,
    /// Every file the spec depends on, for provenance: the spec first, then its libraries and
    /// manifests, sorted.
    pub files: Vec<PathBuf>,
    /// The spec text.
    pub source_text: String,
    /// What validation found that does not make the spec invalid (e.g. manifest values that
    /// name no member: their rows are skipped, with that reason, by every run).
    pub warnings: Diagnostics,
}

/// The neuron cards' feature visualizations: a budget of units and the steps each gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureVisualization {
    /// Cards given a visualization, cited units first (0: none).
    pub units: usize,
    /// Optimisation steps per unit.
    pub steps: usize,
}

impl FeatureVisualization {
    /// Units when the section is given without `units`.
    pub const DEFAULT_UNITS: usize = 4;
    /// Steps when not given: half of the 512 of Lucid's tutorials (on the glass-box and
    /// fixture models, 256 steps reach several times the best dataset example).
    pub const DEFAULT_STEPS: usize = 256;

    /// No visualizations: the default when the spec has no `feature_visualization` section.
    pub fn none() -> Self {
        Self { units: 0, steps: Self::DEFAULT_STEPS }
    }
}

/// The report formats, each with the file it is written to: what a spec's `outputs.formats`
/// may ask for and what the reports write, from this one list.
pub const FORMATS: [(&str, &str); 5] = [
    ("markdown", "report.md"),
    ("html", "report.html"),
    ("json", "report.json"),
    ("junit", "junit.xml"),
    ("sarif", "report.sarif"),
];

impl AuditSpec {
    /// Loads `path` with `--set` overrides.
    pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Self, SpecError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path, overrides)
    }

    /// Parses and validates spec text read from `path`.
    pub fn parse(text: &str, path: &Path, overrides: &[(String, String)]) -> Result<Self, SpecError> {
        let mut node = super::node::parse(text, path).map_err(|d| SpecError::Invalid(Diagnostics(vec![*d])))?;
        let mut cx = Ctx::new(path, text);
        let (declared, vars) = read_vars(&node, overrides, &mut cx);
        // Substitute everywhere except in `vars:` itself.
        if let Value::Map(entries) = &mut node.value {
            for (k, v) in entries.iter_mut() {
                if !matches!(&k.value, Value::Str(s) if s == "vars") {
                    vars.substitute(v, &mut cx);
                }
            }
        }
        let spec = read_audit(&node, declared, &mut cx)
            .and_then(|doc| Validator::new(path, &mut cx).validate(doc, vars, text));
        match spec {
            Some(mut spec) if cx.problems.is_empty() => {
                // The spec stays first; the files it names follow, sorted, once each.
                let first = spec.files.remove(0);
                spec.files.retain(|f| *f != first);
                spec.files.sort();
                spec.files.dedup();
                spec.files.insert(0, first);
                cx.warnings.sort();
                spec.warnings = cx.warnings;
                Ok(spec)
            }
            _ => {
                // Warnings go with the errors: the user fixes the file once.
                cx.problems.0.append(&mut cx.warnings.0);
                cx.problems.sort();
                Err(SpecError::Invalid(cx.problems))
            }
        }
    }

    /// The selection called `name`.
    pub fn selection(&self, name: &str) -> Option<&Selection> {
        self.selections.iter().find(|s| s.name == name)
    }
}

fn read_vars(
    node: &Node,
    overrides: &[(String, String)],
    cx: &mut Ctx<'_>,
) -> (BTreeMap<String, Option<String>>, Vars) {
    let mut vars = Vars::default();
    let mut declared = BTreeMap::new();
    if let Value::Map(entries) = &node.value
        && let Some((_, vnode)) = entries.iter().find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "vars"))
    {
        match &vnode.value {
            Value::Map(items) => {
                for (k, v) in items {
                    let Some(name) = String::from_node(k, cx) else { continue };
                    if let Some(first) = vars.declared_at.get(&name) {
                        let (message, first) = (format!("key `{name}` appears twice in `vars`"), *first);
                        cx.duplicate(Code::S004, message, k.position, first);
                        continue;
                    }
                    let value = match &v.value {
                        Value::Null => None,
                        _ => String::from_node(v, cx),
                    };
                    declared.insert(name.clone(), value.clone());
                    vars.values.insert(name.clone(), value);
                    vars.declared_at.insert(name, k.position);
                }
            }
            Value::Null => {}
            _ => {
                cx.error(Code::S002, format!("expected `vars` to be a mapping, found {}", vnode.kind()), vnode.position)
            }
        }
    }
    for (k, v) in overrides {
        if vars.values.contains_key(k) {
            vars.values.insert(k.clone(), Some(v.clone()));
        } else {
            let known: Vec<&str> = vars.values.keys().map(String::as_str).collect();
            cx.problems.push(
                Diagnostic::new(
                    Code::V004,
                    format!("--set {k}=...: the spec declares no variable `{k}`"),
                    cx.file,
                    None,
                    None,
                )
                .with_help(suggest_among(k, &known)),
            );
        }
    }
    (declared, vars)
}

struct Validator<'c, 'a> {
    base: PathBuf,
    cx: &'c mut Ctx<'a>,
    libraries: BTreeMap<PathBuf, Option<Arc<ProbeLibrary>>>,
    files: Vec<PathBuf>,
}

impl<'c, 'a> Validator<'c, 'a> {
    fn new(path: &Path, cx: &'c mut Ctx<'a>) -> Self {
        Self {
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            cx,
            libraries: BTreeMap::new(),
            files: vec![path.to_path_buf()],
        }
    }

    /// Checks the spec as a whole and builds it: the model and its taps, the probe selections,
    /// the analyses' references to them, and the outputs.
    fn validate(mut self, doc: AuditDoc, vars: Vars, text: &str) -> Option<AuditSpec> {
        check_id(self.cx, &doc.audit, "audit");
        let bundle = super::join_clean(&self.base, &doc.model.bundle);
        let taps = self.check_model(&doc.model, &bundle);
        let seed = doc.seed.unwrap_or(0);
        let selections = self.selections(&doc.probes, &vars);
        if doc.probes.is_empty() {
            self.cx.error(Code::A005, "the audit uses no probes", doc.audit.position);
        }
        self.check_selection_refs(&doc.analyses, &selections);
        self.check_levels(&doc.analyses, &selections);
        let outputs = doc.outputs.clone().unwrap_or_default();
        let output_dir =
            outputs.dir.as_ref().map_or_else(|| PathBuf::from("reports"), |d| super::join_clean(&self.base, d));
        let formats = self.formats(&outputs);
        Some(AuditSpec {
            id: doc.audit.value.clone(),
            path: self.files[0].clone(),
            description: doc.description.as_ref().map(|d| d.value.clone()),
            bundle,
            taps,
            seed,
            selections,
            output_dir,
            formats,
            fail_on: outputs.fail_on.map_or(FailOn::Error, |s| s.value),
            feature_visualization: outputs.feature_visualization.as_ref().map_or_else(
                FeatureVisualization::none,
                |f| FeatureVisualization {
                    units: f.units.as_ref().map_or(FeatureVisualization::DEFAULT_UNITS, |u| u.value),
                    steps: f.steps.as_ref().map_or(FeatureVisualization::DEFAULT_STEPS, |v| v.value),
                },
            ),
            files: self.files,
            source_text: text.to_owned(),
            warnings: Diagnostics::default(),
            vars,
            doc,
        })
    }

    /// The probe selections that resolve, in the spec's order; a name given to two of them is
    /// a problem (A004) that points at both.
    fn selections(&mut self, probes: &[ProbeUseDoc], vars: &Vars) -> Vec<Selection> {
        let mut first: BTreeMap<String, Option<Position>> = BTreeMap::new();
        let mut selections = Vec::new();
        for use_ in probes {
            if let Some(sel) = self.selection(use_, vars) {
                let pos = use_.name.as_ref().map_or(use_.family.position, |n| n.position);
                match first.get(&sel.name) {
                    Some(&first_at) => {
                        let d = Diagnostic::new(
                            Code::A004,
                            format!("two probe selections are named `{}`", sel.name),
                            self.cx.file,
                            Some(self.cx.source),
                            pos,
                        )
                        .with_related("first defined here", Some(self.cx.source), first_at)
                        .with_help("give one of them `name:` so analyses can tell them apart");
                        self.cx.problems.push(d);
                    }
                    None => {
                        first.insert(sel.name.clone(), pos);
                    }
                }
                selections.push(sel);
            }
        }
        selections
    }

    /// Every selection an analysis names must be one the audit defines (A006).
    fn check_selection_refs(&mut self, analyses: &AnalysesDoc, selections: &[Selection]) {
        let names: BTreeSet<&str> = selections.iter().map(|s| s.name.as_str()).collect();
        let known: Vec<&str> = names.iter().copied().collect();
        for (r, what) in analyses.selection_refs() {
            if !names.contains(r.as_str()) {
                self.cx.error_help(
                    Code::A006,
                    format!("{what} names selection `{}`, which the audit does not define", **r),
                    r.position,
                    suggest_among(r, &known),
                );
            }
        }
    }

    /// A `level` of the resolution or associations analysis must be a hierarchy level of the
    /// family of the selection it goes with (A007).
    fn check_levels(&mut self, analyses: &AnalysesDoc, selections: &[Selection]) {
        let levels_used = analyses
            .resolution
            .iter()
            .map(|r| ("resolution.level", &r.family, &r.level))
            .chain(analyses.associations.iter().map(|a| ("associations.level", &a.groups, &a.level)));
        for (what, fam, level) in levels_used {
            if let (Some(fam), Some(level)) = (fam, level)
                && let Some(sel) = selections.iter().find(|s| s.name == fam.as_str())
                && !sel.family.hierarchy.contains(&level.value)
            {
                let levels: Vec<&str> = sel.family.hierarchy.iter().map(String::as_str).collect();
                self.cx.error_help(
                    Code::A007,
                    format!("{what} `{}` is not a hierarchy level of `{}`", **level, **fam),
                    level.position,
                    suggest_among(level, &levels),
                );
            }
        }
    }

    /// The report formats to write: those listed that exist (an unknown one is A003), or all
    /// of them when `formats` is not given.
    fn formats(&mut self, outputs: &OutputsDoc) -> Vec<String> {
        let names: Vec<&str> = FORMATS.iter().map(|(name, _)| *name).collect();
        let Some(listed) = &outputs.formats else {
            return names.iter().map(|name| (*name).to_owned()).collect();
        };
        let mut formats = Vec::new();
        for f in listed {
            if names.contains(&f.as_str()) {
                formats.push(f.value.clone());
            } else {
                self.cx.error_help(
                    Code::A003,
                    format!("unknown report format {:?}", **f),
                    f.position,
                    suggest_among(f, &names),
                );
            }
        }
        formats
    }

    fn check_model(&mut self, model: &ModelRefDoc, bundle: &Path) -> Vec<String> {
        let wanted: Vec<&Sp<String>> = model.taps.iter().flatten().collect();
        // A variable without a value is already an error (V002); a bundle path still holding
        // `${...}` names no folder worth reporting a second time.
        if model.bundle.value.contains("${") {
            return wanted.iter().map(|t| t.value.clone()).collect();
        }
        match crate::model::ModelManifest::load(bundle) {
            Ok(manifest) => {
                self.files.push(manifest.path.clone());
                let known: Vec<&str> = manifest.taps.iter().map(|t| t.name.as_str()).collect();
                for t in &wanted {
                    if manifest.tap(t).is_none() {
                        self.cx.error_help(
                            Code::A008,
                            format!("the model bundle defines no tap `{}`", ***t),
                            t.position,
                            suggest_among(t, &known),
                        );
                    }
                }
            }
            Err(crate::model::ManifestError::Read { path, source }) => {
                self.cx.error_help(
                    Code::A009,
                    format!("cannot read the model bundle's manifest {}: {source}", path.display()),
                    model.bundle.position,
                    "`model.bundle` is a folder with model.yaml, relative to this spec",
                );
            }
            Err(crate::model::ManifestError::Invalid { diagnostics, .. }) => {
                self.cx.problems.0.extend(diagnostics.0);
            }
        }
        wanted.iter().map(|t| t.value.clone()).collect()
    }

    fn library(&mut self, written: &Sp<String>) -> Option<Arc<ProbeLibrary>> {
        let path = super::join_clean(&self.base, written);
        if let Some(lib) = self.libraries.get(&path) {
            return lib.clone();
        }
        let lib = match ProbeLibrary::load(&path) {
            Ok(lib) => Some(Arc::new(lib)),
            Err(SpecError::Read { source, .. }) => {
                self.cx.error_help(
                    Code::A010,
                    format!("cannot read probe library {}: {source}", path.display()),
                    written.position,
                    "library paths are relative to the spec's folder",
                );
                None
            }
            Err(SpecError::Invalid(d)) => {
                self.cx.problems.0.extend(d.0);
                None
            }
        };
        self.files.push(path.clone());
        self.libraries.insert(path, lib.clone());
        lib
    }

    fn selection(&mut self, u: &ProbeUseDoc, vars: &Vars) -> Option<Selection> {
        let lib = self.library(&u.library)?;
        let Some(family) = lib.family(&u.family).cloned() else {
            let known: Vec<&str> = lib.families.iter().map(|f| f.id.as_str()).collect();
            self.cx.error_help(
                Code::A011,
                format!("probe library `{}` has no family `{}`", lib.id, *u.family),
                u.family.position,
                suggest_among(&u.family, &known),
            );
            return None;
        };
        let name = u.name.as_ref().map_or_else(|| family.id.clone(), |n| n.value.clone());
        if let Some(n) = &u.name {
            check_id(self.cx, n, "selection");
        }
        let mut members = self.listed_members(&family, u.members.as_deref());
        self.keep_where(&family, &u.where_, &mut members);
        if members.is_empty() && self.cx.problems.is_empty() {
            self.cx.error(
                Code::A016,
                format!("the selection `{name}` keeps no members of `{}`", family.id),
                u.family.position,
            );
        }
        let st = &u.stimuli;
        let prompts = st.prompts.as_ref().map(|p| {
            let templates = match &p.templates {
                Some(ts) => {
                    ts.iter().for_each(|t| super::probe::check_template(self.cx, t));
                    ts.iter().map(|t| t.value.clone()).collect()
                }
                None => family.templates.clone(),
            };
            PromptPlan { templates, aliases: p.aliases.unwrap_or(true) }
        });
        let rendered_text = st.rendered_text.as_ref().and_then(|r| self.render_plan(r));
        let typographic = st.typographic.as_ref().and_then(|t| self.typographic_plan(t));
        let images = self.image_sources(&lib, &family, &members, &st.images, vars);
        if typographic.is_some() && images.is_empty() {
            self.cx.error_help(
                Code::A017,
                format!("typographic stimuli for `{name}` need base images, and the family has no image sources"),
                u.family.position,
                "add `stimuli.images` (a folder or manifest) to this selection",
            );
        }
        Some(Selection {
            name,
            library_id: lib.id.clone(),
            library: lib,
            family_id: family.id.clone(),
            family,
            members,
            prompts,
            rendered_text,
            images,
            typographic,
        })
    }

    /// The members a selection lists by id (all of the family's without a list), in the
    /// family's order; unknown and repeated ids are errors.
    fn listed_members(&mut self, family: &Family, ids: Option<&[Sp<String>]>) -> Vec<Member> {
        let Some(ids) = ids else { return family.members.clone() };
        let known: Vec<&str> = family.members.iter().map(|m| m.id.as_str()).collect();
        let mut seen = BTreeSet::new();
        for id in ids {
            if family.member(id).is_none() {
                self.cx.error_help(
                    Code::A012,
                    format!("family `{}` has no member `{}`", family.id, **id),
                    id.position,
                    suggest_among(id, &known),
                );
            } else if !seen.insert(id.value.clone()) {
                self.cx.error(Code::A013, format!("member `{}` is listed twice", **id), id.position);
            }
        }
        family.members.iter().filter(|m| seen.contains(&m.id)).cloned().collect()
    }

    /// Keeps the members whose group at each `where:` level is one of those wanted; unknown
    /// levels and groups are errors.
    fn keep_where(&mut self, family: &Family, where_: &BTreeMap<String, Vec<Sp<String>>>, members: &mut Vec<Member>) {
        for (level, wanted) in where_ {
            if !family.hierarchy.contains(level) {
                let levels: Vec<&str> = family.hierarchy.iter().map(String::as_str).collect();
                let pos = wanted.first().and_then(|w| w.position);
                self.cx.error_help(
                    Code::A014,
                    format!("family `{}` has no hierarchy level `{level}`", family.id),
                    pos,
                    suggest_among(level, &levels),
                );
                continue;
            }
            let groups: BTreeSet<&str> =
                family.members.iter().filter_map(|m| m.groups.get(level).map(String::as_str)).collect();
            let known: Vec<&str> = groups.iter().copied().collect();
            for w in wanted {
                if !groups.contains(w.as_str()) {
                    self.cx.error_help(
                        Code::A015,
                        format!("no member of `{}` has {level} `{}`", family.id, **w),
                        w.position,
                        suggest_among(w, &known),
                    );
                }
            }
            members.retain(|m| m.groups.get(level).is_some_and(|g| wanted.iter().any(|w| w.as_str() == g)));
        }
    }

    fn list<T>(
        &mut self,
        given: &Option<Vec<Sp<String>>>,
        default: &str,
        parse: impl Fn(&mut Ctx<'_>, &Sp<String>) -> Option<T>,
    ) -> Vec<T> {
        match given {
            Some(items) => items.iter().filter_map(|s| parse(self.cx, s)).collect(),
            None => parse(self.cx, &Sp::new(default.to_owned(), None)).into_iter().collect(),
        }
    }

    fn render_plan(&mut self, r: &RenderedTextDoc) -> Option<RenderPlan> {
        let canvas = r.canvas.unwrap_or(224);
        if !(16..=2048).contains(&canvas) {
            self.cx.error(Code::A002, format!("canvas must be between 16 and 2048 pixels, not {canvas}"), None);
        }
        let sizes = r.sizes.clone().unwrap_or_else(|| vec![32]);
        if sizes.iter().any(|s| *s == 0 || *s > canvas) {
            self.cx.error(Code::A002, format!("font sizes must be between 1 and the canvas ({canvas})"), None);
        }
        Some(RenderPlan {
            canvas,
            sizes,
            positions: self.list(&r.positions, "center", |cx, s| {
                parse_named(cx, s, &Placement::NAMES, &Placement::ALL, "position")
            }),
            colors: self.list(&r.colors, "black", parse_color),
            backgrounds: self.list(&r.backgrounds, "white", parse_color),
            cases: self.list(&r.cases, "as-is", |cx, s| {
                parse_named(cx, s, &LetterCase::NAMES, &LetterCase::ALL, "letter case")
            }),
            aliases: r.aliases.unwrap_or(false),
        })
    }

    fn typographic_plan(&mut self, t: &TypographicStimuliDoc) -> Option<TypographicPlan> {
        let opacities = t.opacities.clone().unwrap_or_else(|| vec![1.0]);
        if opacities.iter().any(|o| !(*o > 0.0 && *o <= 1.0)) {
            self.cx.error(Code::A002, "opacities must be in (0, 1]", None);
        }
        Some(TypographicPlan {
            texts: t.texts.as_ref().map(|v| v.iter().map(|s| s.value.clone()).collect()),
            per_image: t.per_image.unwrap_or(3).max(1),
            sizes: t.sizes.clone().unwrap_or_else(|| vec![28]),
            positions: self.list(&t.positions, "center", |cx, s| {
                parse_named(cx, s, &Placement::NAMES, &Placement::ALL, "position")
            }),
            colors: self.list(&t.colors, "white", parse_color),
            outline: t.outline.unwrap_or(true),
            opacities,
        })
    }

    fn image_sources(
        &mut self,
        lib: &ProbeLibrary,
        family: &Family,
        members: &[Member],
        spec_sources: &[ImageSourceDoc],
        vars: &Vars,
    ) -> Vec<AssignedSource> {
        let lib_base = lib.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut out = Vec::new();
        // Library sources are checked in the library's context, spec sources in the spec's.
        let mut family_sources: Vec<(&ImageSourceDoc, PathBuf, bool)> =
            family.images.iter().map(|d| (d, lib_base.clone(), false)).collect();
        family_sources.extend(spec_sources.iter().map(|d| (d, self.base.clone(), true)));
        for (doc, base, in_spec) in family_sources {
            let written = doc.folder.as_ref().or(doc.manifest.as_ref()).expect("checked");
            let per_member = written.contains("{id}") || written.contains("{name}");
            let substituted = substitute_source(doc, vars);
            if per_member {
                for m in members {
                    let source = substituted.resolve(&base, Some((&m.id, &m.name)));
                    self.check_source(&source, doc, in_spec, None);
                    out.push(AssignedSource { member: Some(m.id.clone()), source });
                }
            } else {
                let source = substituted.resolve(&base, None);
                if doc.member_column.is_none() {
                    if in_spec {
                        self.cx.error_help(
                            Code::I003,
                            format!("image source {:?} belongs to no member of `{}`", **written, family.id),
                            written.position,
                            "use {id} or {name} in the path (one folder per member), or a manifest with `member_column`",
                        );
                    }
                    continue;
                }
                self.check_source(&source, doc, in_spec, Some(family));
                out.push(AssignedSource { member: None, source });
            }
        }
        for m in members {
            for doc in &m.images {
                let source = substitute_source(doc, vars).resolve(&lib_base, Some((&m.id, &m.name)));
                self.check_source(&source, doc, false, None);
                out.push(AssignedSource { member: Some(m.id.clone()), source });
            }
        }
        out
    }

    /// Checks that a source exists and, for a manifest, that it has the columns named; with
    /// `family` (a manifest whose `member_column` picks the member of each row), also that
    /// `member_key` is a key members have and which values of the column name no member.
    fn check_source(&mut self, source: &ImageSource, doc: &ImageSourceDoc, in_spec: bool, family: Option<&Family>) {
        let position = if in_spec { doc.position() } else { None };
        let unresolved = |p: &Path| p.to_string_lossy().contains("${");
        if let ImageSource::Folder { path: p, .. } | ImageSource::Manifest { file: p, .. } = source
            && unresolved(p)
        {
            // The variable's own problem is already reported.
            return;
        }
        match source {
            ImageSource::Folder { path, .. } => {
                if !path.is_dir() {
                    self.cx.error_help(
                        Code::I004,
                        format!("image folder {} does not exist", path.display()),
                        position,
                        "paths are relative to the file that names them; variables can be set with --set",
                    );
                }
            }
            ImageSource::Manifest { file, file_column, member_column, label_columns, .. } => {
                match super::manifest::read_header(file) {
                    Ok(columns) => {
                        self.files.push(file.clone());
                        let mut wanted: Vec<&String> = vec![file_column];
                        wanted.extend(member_column.iter());
                        wanted.extend(label_columns.iter().flatten());
                        let known: Vec<&str> = columns.iter().map(String::as_str).collect();
                        let mut complete = true;
                        for c in wanted {
                            if !columns.contains(c) {
                                complete = false;
                                self.cx.error_help(
                                    Code::I005,
                                    format!("manifest {} has no column `{c}`", file.display()),
                                    position,
                                    suggest_among(c, &known),
                                );
                            }
                        }
                        if complete {
                            let member = family.zip(member_column.as_deref());
                            self.check_manifest_rows(source, doc, position, member);
                        }
                    }
                    Err(e) => self.cx.error_help(
                        Code::I006,
                        format!("cannot read manifest {}: {e}", file.display()),
                        position,
                        "a manifest is a CSV file with a header row, or JSONL with one object per line",
                    ),
                }
            }
        }
    }
}

impl Validator<'_, '_> {
    /// The manifest's rows: records that cannot be read are reported (a warning: runs skip
    /// them); with `member` (the family and the `member_column` that picks each row's member),
    /// `member_key` must be a key members have, and values that name no member are reported
    /// (value, rows, first line, nearest member value) as a warning at the source, since every
    /// run skips their rows with that reason.
    fn check_manifest_rows(
        &mut self,
        source: &ImageSource,
        doc: &ImageSourceDoc,
        position: Option<crate::diagnostics::Position>,
        member: Option<(&Family, &str)>,
    ) {
        let ImageSource::Manifest { file, member_key, .. } = source else { return };
        let key = MemberKey::new(member_key.as_deref());
        if let (Some((family, _)), MemberKey::Meta(k)) = (member, key)
            && !family.members.iter().any(|m| m.meta.contains_key(k))
        {
            let mut known: Vec<&str> = vec!["id", "name"];
            known.extend(family.members.iter().flat_map(|m| m.meta.keys().map(String::as_str)));
            known.sort_unstable();
            known.dedup();
            self.cx.error_help(
                Code::I007,
                format!("`member_key: {k}` is neither `id`, `name` nor a meta key of any member of `{}`", family.id),
                doc.member_key.as_ref().and_then(|k| k.position).or(position),
                suggest_among(k, &known),
            );
            return;
        }
        let rows = match super::manifest::read_rows(file) {
            Ok(rows) => rows,
            Err(e) => {
                return self.cx.error_help(
                    Code::I006,
                    format!("cannot read manifest {}: {e}", file.display()),
                    position,
                    "a manifest is a CSV file with a header row, or JSONL with one object per line",
                );
            }
        };
        let total = rows.rows.len() + rows.bad.len();
        if !rows.bad.is_empty() {
            let listed: Vec<String> =
                rows.bad.iter().take(5).map(|(line, why)| format!("line {line}: {why}")).collect();
            let more = if rows.bad.len() > 5 { format!(" and {} more", rows.bad.len() - 5) } else { String::new() };
            self.cx.warn_help(
                Code::I009,
                format!(
                    "{} of {total} records of manifest {} cannot be read; runs skip them: {}{more}",
                    rows.bad.len(),
                    file.display(),
                    listed.join("; ")
                ),
                position,
                "every CSV record needs as many fields as the header (quote fields that hold commas); every JSONL line one JSON object",
            );
        }
        let Some((family, column)) = member else { return };
        let unmatched = unmatched_values(&rows.rows, column, &family.members, key);
        if unmatched.is_empty() {
            return;
        }
        let rows_lost: usize = unmatched.iter().map(|u| u.rows).sum();
        let listed: Vec<String> = unmatched
            .iter()
            .take(8)
            .map(|u| {
                let near = u.nearest.as_ref().map_or(String::new(), |n| format!(", nearest `{n}`"));
                let plural = if u.rows == 1 { "" } else { "s" };
                format!("{:?} ({} row{plural}, first at line {}{near})", u.value, u.rows, u.first_line)
            })
            .collect();
        let more = if unmatched.len() > 8 { format!(" and {} more", unmatched.len() - 8) } else { String::new() };
        self.cx.warn_help(
            Code::I008,
            format!(
                "{rows_lost} of {total} rows of manifest {} have a `{column}` value that is not {} of any member of `{}`; runs skip them: {}{more}",
                file.display(),
                key.describe(),
                family.id,
                listed.join("; ")
            ),
            doc.member_column.as_ref().and_then(|c| c.position).or(position),
            "spell the values as the library does, or set `member_key` to the member field or meta key the column holds (`id`, `name`, or a meta key)",
        );
    }
}

fn substitute_source(doc: &ImageSourceDoc, vars: &Vars) -> ImageSourceDoc {
    // Library sources may use the audit's variables too; unknown ones stay as written and
    // fail as a missing path, which names the folder.
    let sub = |s: &Option<Sp<String>>| {
        s.as_ref().map(|v| {
            let mut text = v.value.clone();
            for (k, val) in &vars.values {
                if let Some(val) = val {
                    text = text.replace(&format!("${{{k}}}"), val);
                }
            }
            Sp::new(text, v.position)
        })
    };
    ImageSourceDoc { folder: sub(&doc.folder), manifest: sub(&doc.manifest), root: sub(&doc.root), ..doc.clone() }
}
