//! The `analyses:` section of an audit spec: which analyses run, their parameters, and the
//! thresholds that turn results into findings.
//!
//! Each analysis is off unless named. Parameters have defaults chosen to match the
//! literature (FDR 5%, Cohen's d 0.8 for a "large" effect, 10,000 permutations); thresholds
//! carry their position so reports can point at the spec line that set them.

use schemars::JsonSchema;

use super::node::Node;
use super::read::{Ctx, FromNode, MapReader, Sp};
use crate::diagnostics::Code;

/// How serious a crossed threshold is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Info,
    /// A problem to review.
    Warning,
    /// Fails the audit (exit code 1).
    Error,
}

impl FromNode for Severity {
    const EXPECTED: &'static str = "one of info, warning, error";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let s = String::from_node(node, cx)?;
        match s.as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => {
                cx.error_help(
                    Code::A001,
                    format!("unknown severity {s:?}"),
                    node.position,
                    "use info, warning or error",
                );
                None
            }
        }
    }
}

/// The lowest finding severity that fails a command (exit code 1), or `never`: one
/// vocabulary for a spec's `outputs.fail_on` and the `--fail-on` flag of `run`, `analyze` and
/// `diff` (the CLI's parser reads [`FailOn::NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailOn {
    /// Any finding.
    Info,
    /// Warnings and errors.
    Warning,
    /// Errors only (the default).
    Error,
    /// Never fail on findings (reports still list them).
    Never,
}

impl FailOn {
    /// Every value, in the order of [`FailOn::NAMES`].
    pub const ALL: [FailOn; 4] = [FailOn::Info, FailOn::Warning, FailOn::Error, FailOn::Never];
    /// The names as written in specs and on the command line.
    pub const NAMES: [&'static str; 4] = ["info", "warning", "error", "never"];

    /// Its name as written.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|f| *f == self).expect("listed")]
    }

    /// The value named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }

    /// The lowest severity that fails, or `None` for `never`.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Error => Some(Severity::Error),
            FailOn::Never => None,
        }
    }
}

impl FromNode for FailOn {
    const EXPECTED: &'static str = "one of info, warning, error, never";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let s = String::from_node(node, cx)?;
        let parsed = FailOn::parse(&s);
        if parsed.is_none() {
            cx.error_help(
                Code::A001,
                format!("unknown fail_on {s:?}"),
                node.position,
                "use info, warning, error or never",
            );
        }
        parsed
    }
}

fn fraction(cx: &mut Ctx<'_>, v: &Option<Sp<f64>>, what: &str) {
    if let Some(v) = v
        && !(v.value > 0.0 && v.value < 1.0)
    {
        cx.error(Code::A002, format!("{what} must be between 0 and 1 (exclusive), not {}", v.value), v.position);
    }
}

fn positive(cx: &mut Ctx<'_>, v: &Option<Sp<f64>>, what: &str) {
    if let Some(v) = v
        && !(v.value.is_finite() && v.value >= 0.0)
    {
        cx.error(Code::A002, format!("{what} must be a non-negative number, not {}", v.value), v.position);
    }
}

macro_rules! analysis_doc {
    (
        $(#[$meta:meta])* $name:ident, $what:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
        check($cx:ident, $doc:ident) $check:block
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, JsonSchema)]
        #[schemars(deny_unknown_fields)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            /// Severity of the findings this analysis raises (default: info for multimodality, error otherwise).
            pub severity: Option<Sp<Severity>>,
        }

        impl FromNode for $name {
            const EXPECTED: &'static str = $what;
            fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
                let mut m = MapReader::new(node, cx, $what)?;
                $( let $field = m.opt(cx, stringify!($field)); )*
                let severity = m.opt(cx, "severity");
                m.finish(cx);
                let doc = Self { $( $field, )* severity };
                let $cx = cx;
                let $doc = &doc;
                $check
                Some(doc)
            }
        }
    };
}

analysis_doc! {
    /// Which units respond to which concepts, per modality.
    SelectivityDoc, "the selectivity analysis" {
        /// False discovery rate for the Benjamini-Hochberg correction over the unit x concept grid (default 0.05).
        fdr: Sp<f64>,
        /// Smallest Cohen's d that counts as selective (default 0.8).
        min_effect_size: Sp<f64>,
        /// Stimuli kept as evidence at each end of a unit's responses (default 8).
        top_stimuli: usize,
        /// Selection whose stimuli serve as neutral controls.
        controls: Sp<String>,
    }
    check(cx, d) { fraction(cx, &d.fdr, "fdr"); positive(cx, &d.min_effect_size, "min_effect_size"); }
}

analysis_doc! {
    /// Whether units respond to a concept across modalities; units that read the word alone.
    MultimodalityDoc, "the multimodality analysis" {
        /// Smallest image/rendered-text rank correlation that counts as multimodal (default 0.3).
        min_correlation: Sp<f64>,
        /// Smallest Cohen's d on rendered text, with none on images, that flags a typographic surface (default 0.8).
        min_text_effect: Sp<f64>,
    }
    check(cx, d) { positive(cx, &d.min_text_effect, "min_text_effect"); }
}

analysis_doc! {
    /// How finely units separate the members of a family, per group of its hierarchy.
    ResolutionDoc, "the resolution analysis" {
        /// Selection to analyse (a family with a hierarchy).
        family: Sp<String>,
        /// Hierarchy level whose groups are compared (e.g. `region`).
        level: Sp<String>,
        /// Margin in Cohen's d by which a member must lead a unit's second-best concept (default 0.5).
        margin: Sp<f64>,
        /// False discovery rate (default 0.05).
        fdr: Sp<f64>,
        /// Member metadata key to weight coverage by (e.g. `population`).
        weight: Sp<String>,
        /// Largest acceptable difference in coverage between two groups (default 0.25).
        max_disparity: Sp<f64>,
    }
    check(cx, d) { fraction(cx, &d.fdr, "fdr"); positive(cx, &d.margin, "margin"); positive(cx, &d.max_disparity, "max_disparity"); }
}

analysis_doc! {
    /// Stereotype associations between group concepts and sensitive attributes.
    AssociationsDoc, "the associations analysis" {
        /// Selection of group concepts (e.g. countries, demographic groups).
        groups: Sp<String>,
        /// Hierarchy level to pool the groups' members by (e.g. `region`); default: each member is a group.
        level: Sp<String>,
        /// Selection of sensitive attributes.
        attributes: Sp<String>,
        /// Selection of control attributes the association is measured against.
        controls: Sp<String>,
        /// Permutations for the p-value (default 10000; exact when fewer arrangements exist).
        permutations: Sp<u64>,
        /// Bootstrap resamples of the ablation's paired interval of a change in effect size (default 2000).
        bootstrap: Sp<u64>,
        /// Largest acceptable WEAT effect size (default 0.5).
        max_effect_size: Sp<f64>,
        /// False discovery rate over groups (default 0.05).
        fdr: Sp<f64>,
        /// What images come in clusters of: `member` (default with `level`: a region's images are its countries' images), `image` (default otherwise: each image on its own), or a manifest label column naming an identity (several photos of one person).
        cluster_by: Sp<String>,
    }
    check(cx, d) {
        fraction(cx, &d.fdr, "fdr");
        positive(cx, &d.max_effect_size, "max_effect_size");
        for (n, what) in [(&d.permutations, "permutations"), (&d.bootstrap, "bootstrap")] {
            if let Some(n) = n
                && n.value == 0
            {
                cx.error(Code::A002, format!("{what} must be at least 1 (0 leaves the test without a p-value or a CI)"), n.position);
            }
        }
    }
}

/// A variant of a label set: labels added or removed (e.g. with a "child" label).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LabelVariantDoc {
    /// Name of the variant.
    pub name: Sp<String>,
    /// Extra neutral labels.
    #[schemars(default)]
    pub add: Vec<Sp<String>>,
    /// Labels left out.
    #[schemars(default)]
    pub remove: Vec<Sp<String>>,
}

impl FromNode for LabelVariantDoc {
    const EXPECTED: &'static str = "a label-set variant";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "a label-set variant")?;
        let name = m.req(cx, "name");
        let add = m.opt(cx, "add");
        let remove = m.opt(cx, "remove");
        m.finish(cx);
        Some(Self { name: name?, add: add.unwrap_or_default(), remove: remove.unwrap_or_default() })
    }
}

analysis_doc! {
    /// Zero-shot denigration: how often images of each group are assigned harmful labels.
    DenigrationDoc, "the denigration analysis" {
        /// Selection of images to classify (e.g. FairFace through a manifest).
        images: Sp<String>,
        /// Selections whose members are the neutral labels.
        neutral: Vec<Sp<String>>,
        /// Selections whose members are the harmful labels.
        harmful: Vec<Sp<String>>,
        /// Templates averaged for each label, as in CLIP (default: the labels' family templates).
        templates: Vec<Sp<String>>,
        /// Manifest label columns, or hierarchy levels of the image family (e.g. `region`), to break rates down by (and their intersection).
        group_by: Vec<Sp<String>>,
        /// Label-set variants to sweep.
        variants: Vec<LabelVariantDoc>,
        /// Largest acceptable rate of harmful assignments in any group (default 0.05).
        max_rate: Sp<f64>,
        /// Largest acceptable risk ratio of a group's rate to the rest of its breakdown (default 2.0).
        max_ratio: Sp<f64>,
        /// Smallest acceptable impact ratio: a group's harmless rate over the best-off group's in its breakdown (default 0.8, the four-fifths rule).
        min_impact_ratio: Sp<f64>,
        /// Smallest group (images) the rules decide on; smaller groups are inconclusive (default 10).
        min_n: Sp<u64>,
        /// False discovery rate of each rule's family, every group of every breakdown (default 0.05).
        fdr: Sp<f64>,
        /// Manifest label column naming an identity when images come in clusters (several photos of one person): the rules then use the effective sample size n / design effect (default: images are independent).
        cluster_by: Sp<String>,
    }
    check(cx, d) {
        fraction(cx, &d.max_rate, "max_rate");
        positive(cx, &d.max_ratio, "max_ratio");
        fraction(cx, &d.min_impact_ratio, "min_impact_ratio");
        fraction(cx, &d.fdr, "fdr");
        // Every label is said through the templates: none, or one without the name, would give
        // every label the same (or no) embedding.
        if let Some(t) = &d.templates {
            if t.is_empty() {
                cx.error(Code::A002, "templates must list at least one template (or be left out: the labels' own prompts)".to_owned(), None);
            }
            for s in t.iter().filter(|s| !s.value.contains("{name}")) {
                cx.error(Code::A002, format!("the template {:?} has no {{name}}: every label would read the same", s.value), s.position);
            }
        }
    }
}

/// The selection of the label prompts the denigration analysis needs beyond the selections'
/// own prompts (its `templates`, its variants' added labels). The runner encodes them like any
/// prompt, so the analysis reads their embeddings from the run and never calls the model.
pub const DENIGRATION_LABELS: &str = "denigration labels";

/// One label prompt the denigration analysis encodes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPrompt {
    /// The label: a member id, or the text a variant adds.
    pub label: String,
    /// Index of the template in [`DenigrationDoc::label_templates`].
    pub template: usize,
    /// The prompt.
    pub text: String,
}

/// A label's name said in each template, in order: the prompts the runner encodes for the
/// denigration analysis, which reads them back by this same text.
pub fn label_said(templates: &[String], name: &str) -> Vec<String> {
    templates.iter().map(|t| super::probe::fill(t, name)).collect()
}

impl DenigrationDoc {
    /// The templates each label is said with: the spec's `templates`, else those of the first
    /// neutral selection with prompts, else `a photo of {name}.`.
    pub fn label_templates(&self, spec: &super::AuditSpec) -> Vec<String> {
        match &self.templates {
            Some(t) => t.iter().map(|s| s.value.clone()).collect(),
            None => self
                .neutral
                .iter()
                .flatten()
                .find_map(|n| spec.selection(&n.value).and_then(|s| s.prompts.as_ref()).map(|p| p.templates.clone()))
                .unwrap_or_else(|| vec!["a photo of {name}.".to_owned()]),
        }
    }

    /// Every prompt of a label that the selections' own prompts do not give: with `templates`,
    /// each neutral and harmful member's name in each of them; and each variant's added label
    /// in each template in use. In order, duplicates included (the caller keys by text).
    pub fn label_prompts(&self, spec: &super::AuditSpec) -> Vec<LabelPrompt> {
        let templates = self.label_templates(spec);
        let said = |label: &str, name: &str| -> Vec<LabelPrompt> {
            label_said(&templates, name)
                .into_iter()
                .enumerate()
                .map(|(template, text)| LabelPrompt { label: label.to_owned(), template, text })
                .collect()
        };
        let mut out = Vec::new();
        if self.templates.is_some() {
            for sel in self.neutral.iter().flatten().chain(self.harmful.iter().flatten()) {
                for m in spec.selection(&sel.value).map(|s| s.members.as_slice()).unwrap_or_default() {
                    out.extend(said(&m.id, &m.spoken(&m.name)));
                }
            }
        }
        for v in self.variants.iter().flatten() {
            for add in &v.add {
                out.extend(said(&add.value, &add.value));
            }
        }
        out
    }
}

analysis_doc! {
    /// Typographic susceptibility: label flips and unit shifts when text is drawn onto images.
    TypographicDoc, "the typographic analysis" {
        /// Selection with typographic composites.
        family: Sp<String>,
        /// Largest acceptable rate of zero-shot flips to the written label (default 0.05).
        max_flip_rate: Sp<f64>,
    }
    check(cx, d) { fraction(cx, &d.max_flip_rate, "max_flip_rate"); }
}

analysis_doc! {
    /// The same audit on a random-weight copy of the architecture, so structure alone does not pass for bias.
    NullBaselineDoc, "the null baseline" {
        /// Bundle of the random-weight copy (default: every weight re-drawn in memory from its tensor's mean and sd).
        bundle: Sp<String>,
        /// Seed of the first copy's re-drawn weights; copy k uses seed + k - 1 (default: the audit's seed).
        seed: u64,
        /// Random-weight copies (default 5; 1 with `bundle`). A finding is structural unless its statistic exceeds every copy's (an empirical p of 1/(copies + 1)).
        copies: Sp<u64>,
    }
    check(cx, d) {
        if let Some(c) = &d.copies {
            if c.value == 0 || c.value > 50 {
                cx.error_help(Code::A002, format!("copies must be between 1 and 50, not {}", c.value), c.position, "5 copies compare each statistic with five random networks");
            } else if c.value > 1 && d.bundle.is_some() {
                cx.error_help(Code::A002, "a given `bundle` is one random-weight copy", c.position, "leave out `copies`, or leave out `bundle` to re-draw the weights once per copy");
            }
        }
    }
}

analysis_doc! {
    /// Causal confirmation: ablate flagged units and measure the behaviour again.
    AblationDoc, "the ablation analysis" {
        /// How many of the most flagged units to ablate, one at a time (default 5).
        top_units: usize,
    }
    check(cx, d) { let _ = (cx, d); }
}

/// The `analyses:` section.
#[derive(Debug, Clone, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AnalysesDoc {
    /// Unit selectivity per concept and modality.
    pub selectivity: Option<SelectivityDoc>,
    /// Cross-modal consistency of units.
    pub multimodality: Option<MultimodalityDoc>,
    /// Resolution of families, one entry per family.
    #[schemars(default)]
    pub resolution: Vec<ResolutionDoc>,
    /// Stereotype associations, one entry per group/attribute pairing.
    #[schemars(default)]
    pub associations: Vec<AssociationsDoc>,
    /// Zero-shot denigration.
    pub denigration: Option<DenigrationDoc>,
    /// Typographic susceptibility.
    pub typographic: Option<TypographicDoc>,
    /// Null baseline.
    pub null_baseline: Option<NullBaselineDoc>,
    /// Causal ablation.
    pub ablation: Option<AblationDoc>,
}

impl FromNode for AnalysesDoc {
    const EXPECTED: &'static str = "the analyses section";
    fn from_node(node: &Node, cx: &mut Ctx<'_>) -> Option<Self> {
        let mut m = MapReader::new(node, cx, "the analyses section")?;
        let selectivity = m.opt(cx, "selectivity");
        let multimodality = m.opt(cx, "multimodality");
        let resolution = m.opt(cx, "resolution");
        let associations = m.opt(cx, "associations");
        let denigration = m.opt(cx, "denigration");
        let typographic = m.opt(cx, "typographic");
        let null_baseline = m.opt(cx, "null_baseline");
        let ablation = m.opt(cx, "ablation");
        m.finish(cx);
        Some(Self {
            selectivity,
            multimodality,
            resolution: resolution.unwrap_or_default(),
            associations: associations.unwrap_or_default(),
            denigration,
            typographic,
            null_baseline,
            ablation,
        })
    }
}

impl AnalysesDoc {
    /// Every selection name the analyses refer to, with its position and what refers to it.
    pub fn selection_refs(&self) -> Vec<(&Sp<String>, &'static str)> {
        let mut out: Vec<(&Sp<String>, &'static str)> = Vec::new();
        if let Some(s) = &self.selectivity {
            out.extend(s.controls.iter().map(|c| (c, "selectivity.controls")));
        }
        for r in &self.resolution {
            out.extend(r.family.iter().map(|c| (c, "resolution.family")));
        }
        for a in &self.associations {
            out.extend(a.groups.iter().map(|c| (c, "associations.groups")));
            out.extend(a.attributes.iter().map(|c| (c, "associations.attributes")));
            out.extend(a.controls.iter().map(|c| (c, "associations.controls")));
        }
        if let Some(d) = &self.denigration {
            out.extend(d.images.iter().map(|c| (c, "denigration.images")));
            out.extend(d.neutral.iter().flatten().map(|c| (c, "denigration.neutral")));
            out.extend(d.harmful.iter().flatten().map(|c| (c, "denigration.harmful")));
        }
        if let Some(t) = &self.typographic {
            out.extend(t.family.iter().map(|c| (c, "typographic.family")));
        }
        out
    }
}
