//! Analyses: from the activation store of a run to statistics with their uncertainty, and
//! from statistics to findings a reviewer can act on.
//!
//! [`analyze`] reads the run ([`data::RunData`], merged over shards), runs each analysis the
//! spec switches on, and returns a typed [`Summary`]: per-analysis results plus
//! [`Finding`]s, each with a stable id, a severity, a sentence, the statistic with its CI and
//! the evidence (units, stimulus ids). Statistics live in [`stats`], checked against scipy
//! and statsmodels (fixtures/stats). Nothing here touches the model: what an analysis needs
//! encoded (the denigration analysis's own label prompts too) the runner encoded and stored, and
//! the re-runs of edited models are the audit layer's ([`crate::audit`]).

pub mod ablation;
pub mod associations;
pub mod data;
pub mod decision;
pub mod denigration;
pub mod ids;
pub mod multimodality;
pub mod null;
pub mod present;
pub mod resolution;
pub mod selectivity;
pub mod stats;
pub mod typographic;

use std::path::PathBuf;

use serde::Serialize;

pub use data::RunData;

use crate::diagnostics::Position;
use crate::run::store::StoreError;
use crate::spec::AuditSpec;
use crate::spec::analyses::Severity;
use crate::spec::read::Sp;

/// Version of the summary's JSON layout; bumped on incompatible changes. Version 2: every
/// finding carries its [`decision::Decision`], `statistic.p`/`q` are the decision's one-sided
/// p against the limit and its family-corrected value, and `inconclusive` lists the checks the
/// data could not decide.
pub const SUMMARY_VERSION: u32 = 2;

/// Why an analysis could not be done.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store is there but not usable.
    #[error("{}: {message}", path.display())]
    Data {
        /// The run folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A run of an edited model (null baseline, ablation) failed.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
}

/// A unit: one channel of a tap.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct UnitRef {
    /// Tap name.
    pub tap: String,
    /// Channel index.
    pub unit: usize,
}

/// The number a finding rests on, with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Statistic {
    /// What it is (`coverage difference`, `WEAT effect size`, `flip rate`).
    pub name: String,
    /// Its value.
    #[serde(deserialize_with = "crate::json::f64")]
    pub value: f64,
    /// 95% confidence interval, when there is one.
    #[serde(deserialize_with = "crate::json::opt_pair", default)]
    pub ci: Option<[f64; 2]>,
    /// p-value of the test behind it.
    pub p: Option<f64>,
    /// The p-value adjusted for multiple comparisons (Benjamini-Hochberg).
    pub q: Option<f64>,
    /// Sample size.
    pub n: Option<u64>,
}

/// The spec threshold a finding crossed, and where it was set.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Threshold {
    /// Spec key (`max_disparity`).
    pub name: String,
    /// Its value.
    #[serde(deserialize_with = "crate::json::f64")]
    pub value: f64,
    /// Position in the spec, when it was written there (not a default).
    pub position: Option<Position>,
}

/// What a reviewer can look at to check a finding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// Units involved.
    pub units: Vec<UnitRef>,
    /// Concepts (member ids) involved.
    pub concepts: Vec<String>,
    /// Stimulus ids that show it.
    pub stimuli: Vec<String>,
}

/// A check the decision layer failed (in `findings`) or could not decide (in `inconclusive`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable id: the analysis and what it is about (`resolution/countries/region/africa-vs-europe`),
    /// so reruns and checkpoints can be compared.
    pub id: String,
    /// The analysis that raised it.
    pub analysis: String,
    /// How serious it is.
    pub severity: Severity,
    /// One sentence a reviewer can read aloud.
    pub statement: String,
    /// The statistic: the decision's estimate, 95% CI, one-sided p against the limit, its
    /// family-corrected value (`q`) and n.
    pub statistic: Statistic,
    /// The threshold it was decided against.
    pub threshold: Threshold,
    /// How the verdict was reached: estimand, estimate, CI, limit, direction, test, family,
    /// n, minimum detectable effect.
    pub decision: decision::Decision,
    /// The evidence.
    pub evidence: Evidence,
    /// Its statistic does not exceed every null copy's (random-weight copies reach it): it is
    /// not distinguishable from what the architecture and the stimuli give without training.
    pub structural: bool,
    /// The same check's statistic in each random-weight copy, when there is a null baseline
    /// and the analysis is compared with it.
    pub null: Option<null::NullComparison>,
}

/// What a check is about, before its decision: the finding's id, analysis, severity, the
/// subject in words (`images with race = Black`) and the spec threshold.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The finding id.
    pub id: String,
    /// The analysis.
    pub analysis: &'static str,
    /// Severity when it fails.
    pub severity: Severity,
    /// What the check is about, in words.
    pub what: String,
    /// The threshold.
    pub threshold: Threshold,
}

impl Subject {
    /// The finding for a decision. `statement` is the sentence for a failure; an inconclusive
    /// decision gets a sentence of its own, with the minimum detectable effect.
    pub fn finding(self, statement: String, decision: decision::Decision, evidence: Evidence) -> Finding {
        let d = &decision;
        let statement = if d.verdict == decision::Verdict::Inconclusive {
            format!(
                "Inconclusive: {} for {} is {} (95% CI {} to {}) against the limit {}: {}.{}",
                d.estimand,
                self.what,
                r2(d.estimate),
                r2(d.ci[0]),
                r2(d.ci[1]),
                r2(d.limit),
                d.reason,
                match d.mde {
                    Some(m) => format!(" At this n, an effect of {} would be detected with 80% power.", r2(m)),
                    None => " At this n, no effect in the possible range would be detected with 80% power.".into(),
                }
            )
        } else {
            statement
        };
        Finding {
            id: self.id,
            analysis: self.analysis.to_owned(),
            severity: self.severity,
            statement,
            statistic: Statistic {
                name: d.estimand.clone(),
                value: d.estimate,
                ci: Some(d.ci),
                p: Some(d.p),
                q: Some(d.p_adjusted),
                n: Some(d.n),
            },
            threshold: self.threshold,
            decision,
            evidence,
            structural: false,
            null: None,
        }
    }
}

impl Finding {
    /// The verdict (fail or inconclusive).
    pub fn verdict(&self) -> decision::Verdict {
        self.decision.verdict
    }
}

/// How many stimuli the analyses saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct StimulusCounts {
    /// With stored activations.
    pub analysed: usize,
    /// Listed by the runner without activations.
    pub missing: usize,
    /// Skip records of the runner.
    pub skipped: usize,
    /// Analysed, per modality.
    pub by_modality: std::collections::BTreeMap<String, usize>,
}

/// Everything an audit found: per-analysis results and findings.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Layout version ([`SUMMARY_VERSION`]).
    pub format_version: u32,
    /// Audit id.
    pub audit: String,
    /// Audit description.
    pub description: Option<String>,
    /// The spec file.
    pub spec: String,
    /// The model bundle.
    pub model: String,
    /// The run folders read.
    pub runs: Vec<String>,
    /// The audit's seed (permutations, bootstrap).
    pub seed: u64,
    /// Stimulus counts.
    pub stimuli: StimulusCounts,
    /// Unit selectivity.
    pub selectivity: Option<selectivity::SelectivitySummary>,
    /// Cross-modal units.
    pub multimodality: Option<multimodality::MultimodalitySummary>,
    /// Family resolution.
    pub resolution: Vec<resolution::ResolutionSummary>,
    /// Stereotype associations.
    pub associations: Vec<associations::AssociationSummary>,
    /// Zero-shot denigration.
    pub denigration: Option<denigration::DenigrationSummary>,
    /// Typographic susceptibility.
    pub typographic: Option<typographic::TypographicSummary>,
    /// The null baseline.
    pub null_baseline: Option<null::NullSummary>,
    /// Causal ablation of flagged units.
    pub ablation: Option<ablation::AblationSummary>,
    /// Failed checks, most severe first.
    pub findings: Vec<Finding>,
    /// Checks the data could not decide (too few observations, or an interval that straddles
    /// the limit), most severe first.
    pub inconclusive: Vec<Finding>,
    /// What could not be analysed, and why.
    pub notes: Vec<String>,
    /// Every decided check's estimate and harmful direction, passes included, by finding id:
    /// what the null baseline compares (not written out; each finding carries its comparison).
    #[serde(skip)]
    #[schemars(skip)]
    pub estimates: std::collections::BTreeMap<String, (f64, decision::Direction)>,
}

impl Summary {
    /// Every analysis's part, in report order: the one list the reports and JUnit go through
    /// (an analysis added to the summary is registered here).
    pub fn results(&self) -> Vec<&dyn present::AnalysisResult> {
        let mut out: Vec<&dyn present::AnalysisResult> = Vec::new();
        if let Some(t) = &self.typographic {
            out.push(t);
        }
        out.extend(self.resolution.iter().map(|r| r as &dyn present::AnalysisResult));
        out.extend(self.associations.iter().map(|a| a as &dyn present::AnalysisResult));
        if let Some(d) = &self.denigration {
            out.push(d);
        }
        if let Some(m) = &self.multimodality {
            out.push(m);
        }
        if let Some(s) = &self.selectivity {
            out.push(s);
        }
        if let Some(a) = &self.ablation {
            out.push(a);
        }
        out
    }

    /// Failed checks at or above a severity.
    pub fn count_at_least(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity >= severity).count()
    }

    /// Inconclusive checks at or above a severity.
    pub fn inconclusive_at_least(&self, severity: Severity) -> usize {
        self.inconclusive.iter().filter(|f| f.severity >= severity).count()
    }
}

/// What each analysis gets: the spec, the data, and somewhere to put findings and notes.
pub struct Context<'a> {
    /// The audit.
    pub spec: &'a AuditSpec,
    /// The run.
    pub data: &'a RunData,
    /// Failed checks so far.
    pub findings: Vec<Finding>,
    /// Inconclusive checks so far.
    pub inconclusive: Vec<Finding>,
    /// Notes.
    pub notes: Vec<String>,
    /// Every decided check's estimate and harmful direction, by id.
    pub estimates: std::collections::BTreeMap<String, (f64, decision::Direction)>,
}

impl Context<'_> {
    /// Files a decided check: failures and inconclusive checks are kept, passes are not (the
    /// analyses' tables carry every check's verdict); every check's estimate is kept for the
    /// null baseline's comparison.
    pub fn record(&mut self, finding: Finding) {
        self.observe(&finding.id, finding.decision.estimate, finding.decision.direction);
        match finding.verdict() {
            decision::Verdict::Fail => self.findings.push(finding),
            decision::Verdict::Inconclusive => self.inconclusive.push(finding),
            decision::Verdict::Pass => {}
        }
    }

    /// The estimate of a check that passed without a decision (nothing to test), for the
    /// null baseline's comparison.
    pub fn observe(&mut self, id: &str, estimate: f64, direction: decision::Direction) {
        if self.estimates.insert(id.to_owned(), (estimate, direction)).is_some() {
            // Two entries of the spec make the same check (e.g. the same family twice).
            self.notes.push(format!("{id}: two checks share this id; reports and the null baseline keep the last"));
        }
    }

    /// A note: something that could not be analysed.
    pub fn note(&mut self, message: impl Into<String>) {
        self.notes.push(message.into());
    }
}

/// One analysis: the spec section it reads, its computation from the run data (deciding each
/// check through the decision layer and [`Context::record`]), and its part of the summary,
/// which shows itself to the reports through [`present::AnalysisResult`]. `analyze` runs each
/// registered analysis over its spec sections the same way ([`run_each`]). Selectivity, the
/// grid the unit-level analyses share, is computed first and summarised last (it lists the
/// units the findings cite); the ablation re-runs models and belongs to the audit layer.
pub trait Analysis {
    /// Its name in specs (`analyses.<name>`) and finding ids.
    const NAME: &'static str;
    /// Its spec section.
    type Doc;
    /// Its part of the summary.
    type Output: present::AnalysisResult;
    /// Computes the analysis for one spec section; `None` when there is nothing to analyse
    /// (a note says why).
    fn run(cx: &mut Context<'_>, doc: &Self::Doc, base: &Base<'_>) -> Result<Option<Self::Output>, AnalysisError>;
}

/// What the analyses share: the selectivity grid (when a unit-level analysis needs it) and the
/// selectivity settings it was computed with.
pub struct Base<'a> {
    /// The unit × concept grid.
    pub grid: Option<&'a selectivity::Grid>,
    /// Its settings.
    pub selectivity: &'a crate::spec::analyses::SelectivityDoc,
}

/// Runs analysis `A` over each of its spec sections, in order.
pub fn run_each<'d, A: Analysis>(
    cx: &mut Context<'_>,
    docs: impl IntoIterator<Item = &'d A::Doc>,
    base: &Base<'_>,
) -> Result<Vec<A::Output>, AnalysisError>
where
    A::Doc: 'd,
{
    let mut out = Vec::new();
    for doc in docs {
        out.extend(A::run(cx, doc, base)?);
    }
    Ok(out)
}

/// A threshold from the spec, or its default.
pub fn threshold(name: &str, value: &Option<Sp<f64>>, default: f64) -> Threshold {
    match value {
        Some(v) => Threshold { name: name.to_owned(), value: v.value, position: v.position },
        None => Threshold { name: name.to_owned(), value: default, position: None },
    }
}

/// A spec severity, or the default.
pub fn severity(value: &Option<Sp<Severity>>, default: Severity) -> Severity {
    value.as_ref().map_or(default, |s| s.value)
}

/// Lower-case, dash-separated id part.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Rounds for display in statements.
pub fn r2(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "n/a".into() }
}

/// A percentage for display.
pub fn pct(x: f64) -> String {
    if x.is_finite() { format!("{:.1}%", 100.0 * x) } else { "n/a".into() }
}

/// The result of [`analyze`]: the summary, and the full selectivity grid (for the parquet
/// table) when one was computed.
pub struct Analyzed {
    /// The summary.
    pub summary: Summary,
    /// The unit × concept grid.
    pub grid: Option<selectivity::Grid>,
    /// The summaries of the null baseline's copies, when it ran.
    pub null: Vec<Summary>,
}

/// Runs every analysis the spec switches on over the run folders.
pub fn analyze(spec: &AuditSpec, data: &RunData) -> Result<Analyzed, AnalysisError> {
    let mut cx = Context {
        spec,
        data,
        findings: Vec::new(),
        inconclusive: Vec::new(),
        notes: Vec::new(),
        estimates: std::collections::BTreeMap::new(),
    };
    if data.stimuli.is_empty() {
        return Err(AnalysisError::Data {
            path: data.run_dirs.first().cloned().unwrap_or_default(),
            message: "the run has no stored activations; run `clip-audit run` first".into(),
        });
    }
    let a = &spec.doc.analyses;
    let sel_doc = a.selectivity.clone().unwrap_or_default();
    // Selectivity is the base of the unit-level analyses, so it is computed whenever one of
    // them is asked for; it is reported only when asked for.
    // Typographic (unit shifts) and associations (bridge units) cite units from it too.
    let need_grid = a.selectivity.is_some()
        || a.multimodality.is_some()
        || !a.resolution.is_empty()
        || a.typographic.is_some()
        || !a.associations.is_empty();
    let grid = if need_grid { Some(selectivity::compute(&mut cx, &sel_doc)) } else { None };
    let base = Base { grid: grid.as_ref(), selectivity: &sel_doc };
    // The registered analyses, each over its spec sections.
    let multimodality = run_each::<multimodality::Multimodality>(&mut cx, &a.multimodality, &base)?.pop();
    let resolution = run_each::<resolution::Resolution>(&mut cx, &a.resolution, &base)?;
    let associations = run_each::<associations::Associations>(&mut cx, &a.associations, &base)?;
    let denigration = run_each::<denigration::Denigration>(&mut cx, &a.denigration, &base)?.pop();
    let typographic = run_each::<typographic::Typographic>(&mut cx, &a.typographic, &base)?.pop();
    // Summarised last, so that it lists every unit a finding cites.
    let cited: Vec<UnitRef> = cx.findings.iter().flat_map(|f| f.evidence.units.iter().cloned()).collect();
    let selectivity = match (&grid, &a.selectivity) {
        (Some(g), Some(_)) => Some(selectivity::summarize(&cx, g, &sel_doc, &cited)),
        _ => None,
    };
    let mut findings = std::mem::take(&mut cx.findings);
    findings.sort_by(|x, y| y.severity.cmp(&x.severity).then_with(|| x.id.cmp(&y.id)));
    let mut inconclusive = std::mem::take(&mut cx.inconclusive);
    inconclusive.sort_by(|x, y| y.severity.cmp(&x.severity).then_with(|| x.id.cmp(&y.id)));
    let mut by_modality = std::collections::BTreeMap::new();
    for s in &data.stimuli {
        *by_modality.entry(s.modality.name().to_owned()).or_insert(0) += 1;
    }
    let summary = Summary {
        format_version: SUMMARY_VERSION,
        audit: spec.id.clone(),
        description: spec.description.clone(),
        spec: spec.path.display().to_string(),
        model: spec.bundle.display().to_string(),
        runs: data.run_dirs.iter().map(|p| p.display().to_string()).collect(),
        seed: spec.seed,
        stimuli: StimulusCounts {
            analysed: data.stimuli.len(),
            missing: data.missing,
            skipped: data.skipped,
            by_modality,
        },
        selectivity,
        multimodality,
        resolution,
        associations,
        denigration,
        typographic,
        null_baseline: None,
        ablation: None,
        findings,
        inconclusive,
        notes: cx.notes,
        estimates: cx.estimates,
    };
    Ok(Analyzed { summary, grid, null: Vec::new() })
}
