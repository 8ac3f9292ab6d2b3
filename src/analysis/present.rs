//! What an analysis shows, as data: its checks and its report sections (titles, text, tables,
//! charts), so that the Markdown and HTML renderers draw every analysis the same way without
//! knowing it, and an analysis's presentation lives in its own module next to its numbers.
//!
//! Every string from the outside world (probe names, manifest labels, paths) is carried as
//! [`Span::Text`] or [`Cell::Text`] and escaped by the renderer for its format; numbers are
//! formatted here once ([`num`], [`ci`]) so that all formats agree.

use serde::Serialize;

use super::resolution::MemberResolution;
use super::selectivity::Heatmap;
use crate::spec::analyses::Severity;

/// A number for tables and statements: three decimals, scientific below 0.001, `n/a` when
/// undefined.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.3}")
    }
}

/// A CI for tables: `[lo, hi]`.
pub fn ci(c: [f64; 2]) -> String {
    format!("[{}, {}]", num(c[0]), num(c[1]))
}

/// A piece of running text.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Span {
    /// Text (escaped by the renderer).
    Text(String),
    /// An identifier shown as code (escaped by the renderer).
    Code(String),
    /// Made here from numbers (`0.125`, `[0.1, 0.2]`): shown as is.
    Num(String),
}

/// Text from `&str`.
pub fn text(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

/// Code from `&str`.
pub fn code(s: impl Into<String>) -> Span {
    Span::Code(s.into())
}

/// One table cell.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Cell {
    /// Untrusted text: escaped.
    Text(String),
    /// An identifier shown as code: escaped.
    Code(String),
    /// An identifier as code, then a line break, then text: both escaped.
    CodeThenText(String, String),
    /// Made here from numbers: shown as is.
    Num(String),
    /// A finding's severity, and whether it is structural.
    Severity(Severity, bool),
}

/// A text cell.
pub fn t(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// A table: its header and rows.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Table {
    /// Column names.
    pub head: Vec<&'static str>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

/// One bar of an interval chart: an estimate with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Interval {
    /// Row label (untrusted text).
    pub label: String,
    /// The estimate.
    pub value: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// A figure; renderers that cannot draw it show nothing (Markdown).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Chart {
    /// Estimates with whiskers on a 0 to `max` axis.
    Intervals {
        /// The bars.
        rows: Vec<Interval>,
        /// Right end of the axis.
        max: f64,
    },
    /// A family's members at their capitals, filled when a unit of their own resolves them.
    /// In `report.json` only the number of members: the members are in the summary.
    #[serde(serialize_with = "count")]
    #[schemars(with = "usize")]
    Map(Vec<MemberResolution>),
    /// A family's members on the world map, shaded by a rate (the denigration analysis's
    /// harmful rate per member). In `report.json` only the number of members.
    #[serde(serialize_with = "count_rates")]
    #[schemars(with = "usize")]
    RateMap(Vec<MemberRate>),
    /// Cohen's d of the most selective units per concept. In `report.json` only where it is
    /// and its size: the grid is in the summary's `selectivity.heatmaps`.
    #[serde(serialize_with = "heatmap_shape")]
    #[schemars(with = "HeatmapShape")]
    Heatmap(Heatmap),
}

fn count<S: serde::Serializer>(members: &[MemberResolution], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(members.len() as u64)
}

fn count_rates<S: serde::Serializer>(members: &[MemberRate], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(members.len() as u64)
}

/// One member on a rate map: where it is and its rate with the 95% CI.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRate {
    /// Member id (an ISO code for countries: how the map finds the outline).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Latitude and longitude from the probe metadata.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// The rate, 0 to 1.
    pub rate: f64,
    /// Its 95% CI.
    pub ci: [f64; 2],
    /// Events (harmful labels).
    pub events: u64,
    /// Trials (images).
    pub n: u64,
}

/// Where a heat map is, and its size (what `report.json`'s sections say of one).
#[derive(Serialize, schemars::JsonSchema)]
pub struct HeatmapShape {
    /// Tap.
    pub tap: String,
    /// Selection.
    pub selection: String,
    /// Modality.
    pub modality: String,
    /// Units (rows).
    pub units: usize,
    /// Concepts (columns).
    pub concepts: usize,
}

fn heatmap_shape<S: serde::Serializer>(h: &Heatmap, s: S) -> Result<S::Ok, S::Error> {
    HeatmapShape {
        tap: h.tap.clone(),
        selection: h.selection.clone(),
        modality: h.modality.clone(),
        units: h.units.len(),
        concepts: h.concepts.len(),
    }
    .serialize(s)
}

/// A part of a section.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Part {
    /// A paragraph.
    Text(Vec<Span>),
    /// A table.
    Table(Table),
    /// A figure with its caption.
    Chart(Vec<Span>, Chart),
}

/// One section of a report: a title and its blocks.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Section {
    /// The heading.
    pub title: Vec<Span>,
    /// Paragraphs, tables and figures, in order.
    pub blocks: Vec<Part>,
}

/// A check an analysis made: its finding id, whatever the verdict (JUnit lists passing checks
/// as test cases too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The analysis.
    pub analysis: &'static str,
    /// The finding id it would have ([`super::ids`]).
    pub id: String,
    /// What was checked, in words.
    pub what: String,
}

/// The part of the summary an analysis produced, as the reports show it: every check it made
/// and its sections. The Markdown and HTML reports and JUnit go through this and nothing else;
/// [`super::Summary::results`] lists the analyses in report order.
pub trait AnalysisResult {
    /// Every check made, in report order, passing ones included.
    fn checks(&self) -> Vec<Check> {
        Vec::new()
    }

    /// The report sections.
    fn sections(&self) -> Vec<Section>;
}
