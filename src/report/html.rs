//! The HTML report: one self-contained file (no external assets, no scripts) with inline SVG
//! charts: per-group rates with CI whiskers, resolution coverage per group, heat maps of the
//! most selective units × concepts, and a world map of the members' resolution: each member
//! country filled on Natural Earth's 1:110m outlines (embedded, [`super::world`]), members the
//! outlines lack drawn as points at their coordinates (capitals from probes/regions.yaml,
//! GeoNames, CC BY 4.0).
//!
//! The page, charts included, is built with `maud` templates, which escape every value they
//! interpolate: no untrusted string (probe, member and stimulus names, finding messages, file
//! paths, model names, spec text) can reach the page unescaped, by construction rather than by
//! remembering to call an escape function. The only markup inserted as is is our own: the
//! doctype, the stylesheet constant (`PreEscaped`: a style element's text is not
//! entity-decoded) and the charts, themselves `maud` markup.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::tables::{self, Cell, Table};
use super::world;
use super::{ReportMeta, ci, num, severity_name};
use crate::analysis::Summary;
use crate::analysis::present::{Chart, Interval, MemberRate, Part, Span};
use crate::analysis::resolution::MemberResolution;
use crate::analysis::selectivity::Heatmap;
use crate::spec::analyses::Severity;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1d2330}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccd;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:13px}td,th{border:1px solid #d8dbe3;padding:3px 7px;text-align:left;vertical-align:top}\
th{background:#f1f3f7}.error{color:#b3261e;font-weight:600}.warning{color:#9a6700;font-weight:600}.info{color:#45556c}\
.verdict{padding:.7em 1em;border-radius:6px;background:#f6f7fa;border:1px solid #d8dbe3}code{font-size:12px}\
svg text{font:11px system-ui,sans-serif;fill:#1d2330}.muted{color:#667}";

/// A number with one decimal, for SVG coordinates.
fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// Horizontal bars with CI whiskers on a 0..`max` axis, with an optional threshold line.
pub fn interval_chart(rows: &[Interval], max: f64, threshold: Option<f64>) -> Markup {
    let (w, left, row_h) = (640.0, 190.0, 18.0);
    let h = rows.len() as f64 * row_h + 30.0;
    let max = if max > 0.0 && max.is_finite() { max } else { 1.0 };
    let x = |v: f64| left + (v.clamp(0.0, max) / max) * (w - left - 20.0);
    let axis_y = h - 14.0;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) role="img" {
            @for (i, r) in rows.iter().enumerate() {
                @let y = 10.0 + i as f64 * row_h;
                text x=(left - 6.0) y=(y + 12.0) text-anchor="end" { (r.label) }
                @if r.value.is_finite() {
                    rect x=(left) y=(y + 2.0) width=(f1(x(r.value) - left)) height="12" fill="#8fb3e0" {
                        title { (r.label) ": " (num(r.value)) " " (ci([r.lo, r.hi])) }
                    }
                }
                @if r.lo.is_finite() && r.hi.is_finite() {
                    @let (a, b, m) = (f1(x(r.lo)), f1(x(r.hi)), y + 8.0);
                    path d=(format!("M{a} {m}H{b}M{a} {}V{}M{b} {}V{}", m - 4.0, m + 4.0, m - 4.0, m + 4.0))
                        stroke="#1d2330" fill="none" {}
                }
            }
            path d=(format!("M{left} {axis_y}H{}", w - 20.0)) stroke="#99a" {}
            @for k in 0..=4 {
                @let v = max * f64::from(k) / 4.0;
                text x=(f1(x(v))) y=(h - 2.0) text-anchor="middle" { (num(v)) }
            }
            @if let Some(t) = threshold.filter(|t| t.is_finite() && *t <= max) {
                path d=(format!("M{} 4V{axis_y}", f1(x(t)))) stroke="#b3261e" stroke-dasharray="4 3" {
                    title { "threshold " (num(t)) }
                }
            }
        }
    }
}

fn color(d: f64) -> String {
    if !d.is_finite() {
        return "#eeeeee".into();
    }
    let t = (d / 3.0).clamp(-1.0, 1.0);
    let (r, g, b) = if t >= 0.0 {
        (255.0 - 80.0 * t, 255.0 - 170.0 * t, 255.0 - 200.0 * t)
    } else {
        (255.0 + 200.0 * t, 255.0 + 120.0 * t, 255.0)
    };
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, b as u8)
}

/// A heat map of Cohen's d, units × concepts.
pub fn heatmap(h: &Heatmap) -> Markup {
    let (cell, left, top) = (14.0, 70.0, 80.0);
    let w = left + h.concepts.len() as f64 * cell + 10.0;
    let ht = top + h.units.len() as f64 * cell + 10.0;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(ht) role="img" {
            @for (j, c) in h.concepts.iter().enumerate() {
                @let x = left + j as f64 * cell + 10.0;
                text transform=(format!("translate({x} {}) rotate(-60)", top - 4.0)) { (c) }
            }
            @for (i, u) in h.units.iter().enumerate() {
                @let y = top + i as f64 * cell;
                text x=(left - 4.0) y=(y + 11.0) text-anchor="end" { "#" (u) }
                @for (j, d) in h.d.get(i).into_iter().flatten().enumerate() {
                    rect x=(left + j as f64 * cell) y=(y) width=(cell) height=(cell) fill=(color(*d)) {
                        title { "unit " (u) ", " (h.concepts[j]) ": d = " (num(*d)) }
                    }
                }
            }
        }
    }
}

/// The sequential scale of a member's best Cohen's d on the map: the upper end of each class
/// but the last, and the class colours (ColorBrewer Blues, light to dark).
const D_CLASSES: [f64; 4] = [1.0, 2.0, 3.0, 4.0];
const D_COLOURS: [&str; 5] = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"];
/// A member with no finite d.
const NO_D: &str = "#ffffff";
/// The outline of a member with a dedicated unit, and of one without.
const DEDICATED: (&str, &str) = ("#1d2330", "1.2");
const NOT_DEDICATED: (&str, &str) = ("#8a93a6", "0.5");

fn d_colour(d: f64) -> &'static str {
    if !d.is_finite() {
        return NO_D;
    }
    D_COLOURS[D_CLASSES.iter().take_while(|&&upper| d >= upper).count()]
}

/// One member on a map: its id and coordinates (to find its outline), how it is drawn, and
/// its tooltip.
struct Placed<'a> {
    id: &'a str,
    lat: f64,
    lon: f64,
    fill: &'static str,
    stroke: (&'static str, &'static str),
    tooltip: String,
    /// Drawn last, so no neighbour's border covers its outline.
    on_top: bool,
}

/// A world map (equirectangular, Natural Earth's countries at 1:110m from [`super::world`]):
/// each member that is a country drawn as its outline, the others (islands and microstates
/// the scale leaves out, members that are not countries) as dots at their coordinates, each
/// with its fill, stroke and tooltip. Countries that are not members are the grey background;
/// `legend` is drawn below the map, then (when some member is a dot) a dot of `dot_fill`.
fn map_of(members: &[Placed<'_>], legend: Markup, dot_fill: &str) -> Markup {
    let (w, h) = world::size();
    let placed: Vec<(&Placed<'_>, (f64, f64), Option<&world::Country>)> =
        members.iter().map(|m| (m, world::project(m.lat, m.lon), world::country_at(m.id, m.lat, m.lon))).collect();
    let drawn: std::collections::BTreeSet<&str> =
        placed.iter().filter(|(_, _, c)| c.is_some()).map(|(m, _, _)| m.id).collect();
    let mut order: Vec<_> = placed.iter().collect();
    order.sort_by_key(|(m, _, _)| m.on_top);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h + 30.0) role="img" {
            rect width=(w) height=(h) fill="#f3f6fa" {}
            @for k in -2..=2 {
                path d=(format!("M0 {}H{w}", h / 2.0 - f64::from(k) * 30.0 / 180.0 * h)) stroke="#dde" {}
            }
            @for k in -5..=5 {
                path d=(format!("M{} 0V{h}", w / 2.0 + f64::from(k) * 30.0 / 360.0 * w)) stroke="#dde" {}
            }
            @for (id, d) in world::outlines() {
                @if !id.is_some_and(|id| drawn.contains(id)) {
                    path d=(d) fill="#dfe3ea" fill-rule="evenodd" stroke="#ffffff" stroke-width="0.5" {}
                }
            }
            @for (m, _, country) in &order {
                @if let Some(c) = country {
                    path d=(c.d) fill=(m.fill) fill-rule="evenodd" stroke=(m.stroke.0)
                        stroke-width=(m.stroke.1) stroke-linejoin="round" { title { (m.tooltip) } }
                }
            }
            @for (m, (x, y), country) in &order {
                @if country.is_none() {
                    circle cx=(f1(*x)) cy=(f1(*y)) r="3.5" fill=(m.fill) stroke=(m.stroke.0)
                        stroke-width=(if m.on_top { "1.5" } else { "1" }) { title { (m.tooltip) } }
                }
            }
            g transform=(format!("translate(0 {})", h + 14.0)) {
                (legend)
                @if placed.iter().any(|(_, _, c)| c.is_none()) {
                    circle cx="492" cy="0" r="3.5" fill=(dot_fill) stroke=(NOT_DEDICATED.0) stroke-width="1" {}
                    text x="502" y="4" { "no outline at 1:110m" }
                }
            }
        }
    }
}

/// A legend of five colour classes split at `classes`, `step` pixels apart, labelled `title`.
fn class_legend(title: &str, colours: &[&str; 5], classes: &[String; 4], step: f64) -> Markup {
    html! {
        text x="4" y="4" { (title) }
        @for (i, colour) in colours.iter().enumerate() {
            @let x = 44.0 + i as f64 * step;
            rect x=(x) y="-6" width="16" height="12" fill=(colour) stroke=(NOT_DEDICATED.0)
                stroke-width=(NOT_DEDICATED.1) {}
            text x=(x + 20.0) y="4" {
                @match i {
                    0 => { "< " (classes[0]) },
                    4 => { "≥ " (classes[3]) },
                    _ => { (classes[i - 1]) "–" (classes[i]) },
                }
            }
        }
    }
}

/// The resolution map: members shaded by their best Cohen's d, outlined in dark when a unit
/// is dedicated to them.
pub fn world_map(members: &[MemberResolution]) -> Markup {
    let placed: Vec<Placed<'_>> = members
        .iter()
        .filter_map(|m| {
            Some(Placed {
                id: &m.id,
                lat: m.lat?,
                lon: m.lon?,
                fill: d_colour(m.best_d),
                stroke: if m.dedicated_units > 0 { DEDICATED } else { NOT_DEDICATED },
                tooltip: format!(
                    "{} ({}): {} dedicated units, best d {}",
                    m.name,
                    m.group,
                    m.dedicated_units,
                    num(m.best_d)
                ),
                on_top: m.dedicated_units > 0,
            })
        })
        .collect();
    let classes = D_CLASSES.map(|c| format!("{c}"));
    let legend = html! {
        (class_legend("best d", &D_COLOURS, &classes, 52.0))
        rect x="324" y="-6" width="16" height="12" fill=(D_COLOURS[2]) stroke=(DEDICATED.0) stroke-width=(DEDICATED.1) {}
        text x="346" y="4" { "with a dedicated unit" }
    };
    map_of(&placed, legend, D_COLOURS[2])
}

/// Upper ends of the rate map's first four colour classes.
const RATE_CLASSES: [f64; 4] = [0.05, 0.1, 0.2, 0.5];
/// Its colours, light to dark (ColorBrewer's Oranges).
const RATE_COLOURS: [&str; 5] = ["#feedde", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603"];

/// A rate map (the denigration analysis's harmful rate per member): members shaded by their
/// rate, the count and the 95% CI in each tooltip.
pub fn rate_map(members: &[MemberRate]) -> Markup {
    let placed: Vec<Placed<'_>> = members
        .iter()
        .map(|m| Placed {
            id: &m.id,
            lat: m.lat,
            lon: m.lon,
            fill: if m.rate.is_finite() {
                RATE_COLOURS[RATE_CLASSES.iter().take_while(|&&upper| m.rate >= upper).count()]
            } else {
                NO_D
            },
            stroke: NOT_DEDICATED,
            tooltip: format!("{}: {} of {} images ({}), 95% CI {}", m.name, m.events, m.n, num(m.rate), ci(m.ci)),
            on_top: false,
        })
        .collect();
    let classes = RATE_CLASSES.map(|c| format!("{c}"));
    map_of(&placed, class_legend("rate", &RATE_COLOURS, &classes, 72.0), RATE_COLOURS[2])
}

/// One cell of a shared table.
fn cell(c: &Cell) -> Markup {
    html! {
        @match c {
            Cell::Text(s) | Cell::Num(s) => (s),
            Cell::Code(s) => code { (s) },
            Cell::CodeThenText(a, b) => { code { (a) } br; (b) },
            Cell::Severity(sev, structural) => {
                span class=(severity_name(*sev)) { (severity_name(*sev)) }
                @if *structural { " " span.muted { "(structural)" } }
            },
        }
    }
}

/// A table: a header row, then one row per entry.
fn table(t: &Table) -> Markup {
    html! {
        table {
            tr { @for h in &t.head { th { (h) } } }
            @for r in &t.rows {
                tr { @for c in r { td { (cell(c)) } } }
            }
        }
    }
}

/// Running text: text, numbers and code all escaped, code in `<code>`.
fn spans(list: &[Span]) -> Markup {
    html! {
        @for s in list {
            @match s {
                Span::Text(t) | Span::Num(t) => (t),
                Span::Code(c) => code { (c) },
            }
        }
    }
}

/// The title, the description and the verdict line.
fn header(s: &Summary) -> Markup {
    let count = |sev: Severity| s.findings.iter().filter(|f| f.severity == sev).count();
    html! {
        h1 { "clip-audit report: " code { (s.audit) } }
        @if let Some(d) = &s.description { p { (d) } }
        p.verdict {
            b { (s.findings.len()) " findings" } ": "
            span.error { (count(Severity::Error)) " error" } ", "
            span.warning { (count(Severity::Warning)) " warning" } ", "
            span.info { (count(Severity::Info)) " info" } "; "
            b { (s.inconclusive.len()) " inconclusive" }
            @if let Some(n) = &s.null_baseline { (super::null_clause(n)) }
            ". Model " code { (s.model) } "; " (s.stimuli.analysed) " stimuli analysed ("
            (s.stimuli.missing) " missing, " (s.stimuli.skipped) " skipped)."
        }
    }
}

/// The findings and the inconclusive checks, each section only when it has rows.
fn decided(s: &Summary, meta: &ReportMeta) -> Markup {
    html! {
        @if !s.findings.is_empty() {
            h2 { "Findings" }
            (table(&tables::findings(s, &meta.reviews)))
        }
        @if !s.inconclusive.is_empty() {
            h2 { "Inconclusive" }
            p { "Checks the data could not decide: more observations, or a larger effect, would be needed." }
            (table(&tables::inconclusive(s)))
        }
    }
}

/// What each analysis shows: its sections' paragraphs, tables and charts, in report order.
fn analyses(s: &Summary) -> Markup {
    html! {
        @for section in s.results().iter().flat_map(|r| r.sections()) {
            h2 { (spans(&section.title)) }
            @for part in &section.blocks {
                @match part {
                    Part::Text(text) => p { (spans(text)) },
                    Part::Table(t) => (table(t)),
                    Part::Chart(caption, chart) => {
                        p { (spans(caption)) }
                        @match chart {
                            Chart::Intervals { rows, max } => (interval_chart(rows, *max, None)),
                            Chart::Map(members) => (world_map(members)),
                            Chart::RateMap(members) => (rate_map(members)),
                            Chart::Heatmap(h) => (heatmap(h)),
                        }
                    },
                }
            }
        }
    }
}

/// The notes, and where the report came from.
fn notes_and_provenance(s: &Summary, meta: &ReportMeta) -> Markup {
    html! {
        @if !s.notes.is_empty() {
            h2 { "Notes" }
            ul { @for n in &s.notes { li { (n) } } }
        }
        h2 { "Provenance" }
        ul {
            li { "spec: " code { (meta.spec) } }
            li { "model: " code { (s.model) } }
            li {
                "runs: "
                @for (i, r) in s.runs.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (r) }
                }
            }
            li { "seed: " (s.seed) }
            li { "made by " (meta.tool) " at " (meta.generated_at) }
        }
    }
}

/// Renders the report.
pub fn render(s: &Summary, meta: &ReportMeta) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { "clip-audit: " (s.audit) }
                // Our own constant; a style element's text is not entity-decoded.
                style { (PreEscaped(STYLE)) }
                @if !meta.cards.is_empty() {
                    style { (PreEscaped(super::cards::style(&meta.cards))) }
                }
            }
            body {
                (header(s))
                (decided(s, meta))
                (analyses(s))
                (super::cards::section(&meta.cards))
                (notes_and_provenance(s, meta))
            }
        }
    };
    let mut o = page.into_string();
    o.push('\n');
    // One block per line, so the file reads and diffs well (escaped text holds no `<`, so
    // these only ever match our own tags).
    for tag in ["</tr>", "</table>", "</p>", "</svg>", "</h1>", "</h2>", "</li>"] {
        o = o.replace(tag, &format!("{tag}\n"));
    }
    o
}
