//! The HTML report: one self-contained file (no external assets, no scripts) with inline SVG
//! charts: per-group rates with CI whiskers, resolution coverage per group, heat maps of the
//! most selective units × concepts, and a world map of the members' resolution drawn as
//! points at their capitals (coordinates from probes/regions.yaml, GeoNames, CC BY 4.0).
//! Every untrusted string is escaped.

use std::fmt::Write as _;

use super::tables::{self, Cell, Table};
use super::{ReportMeta, ci, escape_xml as e, num, severity_name};
use crate::analysis::Summary;
use crate::analysis::present::{Chart, Interval, Part, Span};
use crate::analysis::resolution::MemberResolution;
use crate::analysis::selectivity::Heatmap;
use crate::spec::analyses::Severity;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1d2330}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccd;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:13px}td,th{border:1px solid #d8dbe3;padding:3px 7px;text-align:left;vertical-align:top}\
th{background:#f1f3f7}.error{color:#b3261e;font-weight:600}.warning{color:#9a6700;font-weight:600}.info{color:#45556c}\
.verdict{padding:.7em 1em;border-radius:6px;background:#f6f7fa;border:1px solid #d8dbe3}code{font-size:12px}\
svg text{font:11px system-ui,sans-serif;fill:#1d2330}.muted{color:#667}";

/// Horizontal bars with CI whiskers on a 0..`max` axis, with an optional threshold line.
pub fn interval_chart(rows: &[Interval], max: f64, threshold: Option<f64>) -> String {
    let (w, left, row_h) = (640.0, 190.0, 18.0);
    let h = rows.len() as f64 * row_h + 30.0;
    let max = if max > 0.0 && max.is_finite() { max } else { 1.0 };
    let x = |v: f64| left + (v.clamp(0.0, max) / max) * (w - left - 20.0);
    let mut o = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">");
    for (i, r) in rows.iter().enumerate() {
        let y = 10.0 + i as f64 * row_h;
        let _ = write!(o, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", left - 6.0, y + 12.0, e(&r.label));
        if r.value.is_finite() {
            let _ = write!(
                o,
                "<rect x=\"{left}\" y=\"{}\" width=\"{:.1}\" height=\"12\" fill=\"#8fb3e0\"><title>{}: {} {}</title></rect>",
                y + 2.0,
                x(r.value) - left,
                e(&r.label),
                num(r.value),
                ci([r.lo, r.hi])
            );
        }
        if r.lo.is_finite() && r.hi.is_finite() {
            let (a, b, m) = (x(r.lo), x(r.hi), y + 8.0);
            let _ = write!(
                o,
                "<path d=\"M{a:.1} {m}H{b:.1}M{a:.1} {}V{}M{b:.1} {}V{}\" stroke=\"#1d2330\" fill=\"none\"/>",
                m - 4.0,
                m + 4.0,
                m - 4.0,
                m + 4.0
            );
        }
    }
    let axis_y = h - 14.0;
    let _ = write!(o, "<path d=\"M{left} {axis_y}H{}\" stroke=\"#99a\"/>", w - 20.0);
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = write!(o, "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", x(v), h - 2.0, num(v));
    }
    if let Some(t) = threshold.filter(|t| t.is_finite() && *t <= max) {
        let _ = write!(
            o,
            "<path d=\"M{:.1} 4V{axis_y}\" stroke=\"#b3261e\" stroke-dasharray=\"4 3\"><title>threshold {}</title></path>",
            x(t),
            num(t)
        );
    }
    o.push_str("</svg>");
    o
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
pub fn heatmap(h: &Heatmap) -> String {
    let (cell, left, top) = (14.0, 70.0, 80.0);
    let w = left + h.concepts.len() as f64 * cell + 10.0;
    let ht = top + h.units.len() as f64 * cell + 10.0;
    let mut o = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{ht}\" role=\"img\">");
    for (j, c) in h.concepts.iter().enumerate() {
        let x = left + j as f64 * cell + 10.0;
        let _ = write!(o, "<text transform=\"translate({x} {}) rotate(-60)\">{}</text>", top - 4.0, e(c));
    }
    for (i, u) in h.units.iter().enumerate() {
        let y = top + i as f64 * cell;
        let _ = write!(o, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">#{u}</text>", left - 4.0, y + 11.0);
        for (j, d) in h.d.get(i).into_iter().flatten().enumerate() {
            let _ = write!(
                o,
                "<rect x=\"{}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"{}\"><title>unit {u}, {}: d = {}</title></rect>",
                left + j as f64 * cell,
                color(*d),
                e(&h.concepts[j]),
                num(*d)
            );
        }
    }
    o.push_str("</svg>");
    o
}

/// A world map (equirectangular) with each member at its coordinates: filled when it has a
/// dedicated unit, hollow when not.
pub fn world_map(members: &[MemberResolution]) -> String {
    let (w, h) = (720.0, 360.0);
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\"><rect width=\"{w}\" height=\"{h}\" fill=\"#f3f6fa\"/>"
    );
    for k in -2..=2 {
        let y = h / 2.0 - f64::from(k) * 30.0 / 180.0 * h;
        let _ = write!(o, "<path d=\"M0 {y}H{w}\" stroke=\"#dde\"/>");
    }
    for k in -5..=5 {
        let x = w / 2.0 + f64::from(k) * 30.0 / 360.0 * w;
        let _ = write!(o, "<path d=\"M{x} 0V{h}\" stroke=\"#dde\"/>");
    }
    for m in members {
        let (Some(lat), Some(lon)) = (m.lat, m.lon) else { continue };
        let (x, y) = ((lon + 180.0) / 360.0 * w, (90.0 - lat) / 180.0 * h);
        let fill = if m.dedicated_units > 0 { "#2f6fbf" } else { "none" };
        let _ = write!(
            o,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{fill}\" stroke=\"#2f6fbf\" stroke-width=\"1.5\"><title>{} ({}): {} dedicated units, best d {}</title></circle>",
            e(&m.name),
            e(&m.group),
            m.dedicated_units,
            num(m.best_d)
        );
    }
    o.push_str("</svg>");
    o
}

fn shared(o: &mut String, t: &Table) {
    let cell = |c: &Cell| match c {
        Cell::Text(s) => e(s),
        Cell::Code(s) => format!("<code>{}</code>", e(s)),
        Cell::CodeThenText(a, b) => format!("<code>{}</code><br>{}", e(a), e(b)),
        Cell::Num(s) => e(s),
        Cell::Severity(sev, structural) => format!(
            "<span class=\"{0}\">{0}</span>{1}",
            severity_name(*sev),
            if *structural { " <span class=\"muted\">(structural)</span>" } else { "" }
        ),
    };
    table(o, &t.head, t.rows.iter().map(|r| r.iter().map(cell).collect()));
}

/// Running text: text and numbers escaped, code in `<code>`.
fn spans(list: &[Span]) -> String {
    list.iter()
        .map(|s| match s {
            Span::Text(t) | Span::Num(t) => e(t),
            Span::Code(c) => format!("<code>{}</code>", e(c)),
        })
        .collect()
}

fn table(o: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    o.push_str("<table><tr>");
    for h in head {
        let _ = write!(o, "<th>{}</th>", e(h));
    }
    o.push_str("</tr>");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            let _ = write!(o, "<td>{c}</td>");
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
}

/// Renders the report.
pub fn render(s: &Summary, meta: &ReportMeta) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>clip-audit: {}</title><style>{STYLE}</style></head><body>",
        e(&s.audit)
    );
    let _ = write!(o, "<h1>clip-audit report: <code>{}</code></h1>", e(&s.audit));
    if let Some(d) = &s.description {
        let _ = write!(o, "<p>{}</p>", e(d));
    }
    let count = |sev: Severity| s.findings.iter().filter(|f| f.severity == sev).count();
    let _ = write!(
        o,
        "<p class=\"verdict\"><b>{} findings</b>: <span class=\"error\">{} error</span>, <span class=\"warning\">{} warning</span>, <span class=\"info\">{} info</span>; <b>{} inconclusive</b>{}. Model <code>{}</code>; {} stimuli analysed ({} missing, {} skipped).</p>",
        s.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
        s.inconclusive.len(),
        s.null_baseline.as_ref().map(super::null_clause).unwrap_or_default(),
        e(&s.model),
        s.stimuli.analysed,
        s.stimuli.missing,
        s.stimuli.skipped
    );
    if !s.findings.is_empty() {
        o.push_str("<h2>Findings</h2>");
        shared(&mut o, &tables::findings(s, &meta.reviews));
    }
    if !s.inconclusive.is_empty() {
        o.push_str("<h2>Inconclusive</h2><p>Checks the data could not decide: more observations, or a larger effect, would be needed.</p>");
        shared(&mut o, &tables::inconclusive(s));
    }
    for section in s.results().iter().flat_map(|r| r.sections()) {
        let _ = write!(o, "<h2>{}</h2>", spans(&section.title));
        for part in &section.blocks {
            match part {
                Part::Text(text) => {
                    let _ = write!(o, "<p>{}</p>", spans(text));
                }
                Part::Table(t) => shared(&mut o, t),
                Part::Chart(caption, chart) => {
                    let _ = write!(o, "<p>{}</p>", spans(caption));
                    o.push_str(&match chart {
                        Chart::Intervals { rows, max } => interval_chart(rows, *max, None),
                        Chart::Map(members) => world_map(members),
                        Chart::Heatmap(h) => heatmap(h),
                    });
                }
            }
        }
    }
    if !s.notes.is_empty() {
        o.push_str("<h2>Notes</h2><ul>");
        for n in &s.notes {
            let _ = write!(o, "<li>{}</li>", e(n));
        }
        o.push_str("</ul>");
    }
    let _ = writeln!(
        o,
        "<h2>Provenance</h2><ul><li>spec: <code>{}</code></li><li>model: <code>{}</code></li><li>runs: {}</li><li>seed: {}</li><li>made by {} at {}</li></ul></body></html>",
        e(&meta.spec),
        e(&s.model),
        s.runs.iter().map(|r| format!("<code>{}</code>", e(r))).collect::<Vec<_>>().join(", "),
        s.seed,
        e(&meta.tool),
        e(&meta.generated_at)
    );
    // One block per line, so the file reads and diffs well (escaped text holds no tags).
    for tag in ["</tr>", "</table>", "</p>", "</svg>", "</h1>", "</h2>", "</li>"] {
        o = o.replace(tag, &format!("{tag}\n"));
    }
    o
}
