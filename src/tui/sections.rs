//! The Analyses view draws every analysis's report sections (`report.json`'s `sections`, the
//! same titles, paragraphs, tables and charts the Markdown and HTML reports draw; see
//! [`crate::analysis::present`]) as terminal lines, knowing the section vocabulary but no
//! analysis. A new analysis appears here with no change to the TUI.
//!
//! Wide tables are laid out at their natural width and the view scrolls both ways, so no
//! column is squeezed into illegibility; charts of intervals become one bar per row on a shared
//! axis; the map and heat maps, which need the Map and Family views' space, are named with a
//! pointer to those views.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use serde_json::Value;

/// Widest a table column is drawn (longer cells end in `…`).
const MAX_COLUMN: usize = 32;

/// The text of a span list (`[{kind, value}]`).
pub fn plain(spans: &Value) -> String {
    spans.as_array().map(|a| a.iter().map(|s| s["value"].as_str().unwrap_or_default()).collect()).unwrap_or_default()
}

/// A section's title.
pub fn title(section: &Value) -> String {
    plain(&section["title"])
}

/// A paragraph wrapped at `width` columns (the view scrolls sideways for tables, so it cannot
/// let the terminal wrap): code in cyan, the rest plain.
fn paragraph(spans: &Value, width: usize) -> Vec<Line<'static>> {
    let width = width.max(20);
    let mut lines: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut used = 0;
    for s in spans.as_array().map(Vec::as_slice).unwrap_or_default() {
        let style = if s["kind"] == "code" { Style::new().fg(Color::Cyan) } else { Style::new() };
        let text = s["value"].as_str().unwrap_or_default();
        // Words keep the space before them, so spans join as they were written.
        let mut word = String::new();
        let flush = |word: &mut String, lines: &mut Vec<Vec<Span<'static>>>, used: &mut usize| {
            let n = word.chars().count();
            if *used > 0 && *used + n > width {
                lines.push(Vec::new());
                *used = 0;
                *word = word.trim_start().to_owned();
            }
            *used += word.chars().count();
            lines.last_mut().expect("a line").push(Span::styled(std::mem::take(word), style));
        };
        for c in text.chars() {
            if c == ' ' && !word.trim().is_empty() {
                flush(&mut word, &mut lines, &mut used);
            }
            word.push(c);
        }
        if !word.is_empty() {
            flush(&mut word, &mut lines, &mut used);
        }
    }
    lines.into_iter().map(Line::from).collect()
}

/// A table cell as text.
fn cell(c: &Value) -> String {
    let v = &c["value"];
    match c["kind"].as_str() {
        Some("code_then_text") => {
            format!("{}: {}", v[0].as_str().unwrap_or_default(), v[1].as_str().unwrap_or_default())
        }
        Some("severity") => {
            let sev = v[0].as_str().unwrap_or_default();
            if v[1].as_bool() == Some(true) { format!("{sev} (structural)") } else { sev.to_owned() }
        }
        _ => v.as_str().unwrap_or_default().to_owned(),
    }
}

fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{s}{}", " ".repeat(width - n))
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A table: the header in bold, columns as wide as their widest cell (at most [`MAX_COLUMN`]).
fn table(t: &Value) -> Vec<Line<'static>> {
    let head: Vec<String> = t["head"]
        .as_array()
        .map(|a| a.iter().map(|h| h.as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = t["rows"]
        .as_array()
        .map(|r| r.iter().map(|row| row.as_array().map(|c| c.iter().map(cell).collect()).unwrap_or_default()).collect())
        .unwrap_or_default();
    let columns = head.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            std::iter::once(head.get(i))
                .chain(rows.iter().map(|r| r.get(i)))
                .flatten()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
                .min(MAX_COLUMN)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| fit(cells.get(i).map_or("", String::as_str), *w))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![Line::styled(line(&head), Style::new().add_modifier(Modifier::BOLD))];
    out.extend(rows.iter().map(|r| Line::from(line(r))));
    if rows.is_empty() {
        out.push(Line::styled("(no rows)", Style::new().fg(Color::DarkGray)));
    }
    out
}

/// Bars of estimates with their intervals on a 0 to `max` axis, `width` cells wide.
fn intervals(chart: &Value, width: usize) -> Vec<Line<'static>> {
    let rows = chart["rows"].as_array().map(Vec::as_slice).unwrap_or_default();
    let max = chart["max"].as_f64().filter(|m| *m > 0.0).unwrap_or(1.0);
    let label_w =
        rows.iter().map(|r| r["label"].as_str().unwrap_or_default().chars().count()).max().unwrap_or(0).min(24);
    let bar_w = width.saturating_sub(label_w + 10).max(10);
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut out: Vec<Line<'static>> = rows
        .iter()
        .map(|r| {
            let (v, lo, hi) = (num(&r["value"]), num(&r["lo"]), num(&r["hi"]));
            let bar = interval_bar(v, [lo, hi], max, bar_w);
            Line::from(format!(
                "{} {:>7} {bar}",
                fit(r["label"].as_str().unwrap_or_default(), label_w),
                crate::report::num(v)
            ))
        })
        .collect();
    let legend = format!("axis 0 to {} · █ estimate · ├─┤ 95% CI", crate::report::num(max));
    out.extend(
        paragraph(&serde_json::json!([{"kind": "text", "value": legend}]), width)
            .into_iter()
            .map(|l| l.style(Style::new().fg(Color::DarkGray))),
    );
    out
}

/// One row of an interval chart on a 0 to `max` axis: the estimate filled from 0, the interval
/// drawn over it, so both ends stay visible.
fn interval_bar(value: f64, [lo, hi]: [f64; 2], max: f64, width: usize) -> String {
    let pos = |x: f64| ((x / max).clamp(0.0, 1.0) * (width - 1) as f64).round() as usize;
    let mut cells = vec![' '; width];
    if value.is_finite() {
        cells[..=pos(value)].iter_mut().for_each(|c| *c = '█');
    }
    if lo.is_finite() && hi.is_finite() && lo <= hi {
        let (a, b) = (pos(lo), pos(hi));
        for c in &mut cells[a..=b] {
            if *c == ' ' {
                *c = '─';
            }
        }
        cells[a] = '├';
        cells[b] = '┤';
    }
    cells.into_iter().collect()
}

/// Every block of a section as lines, `width` the pane's inner width (for charts).
pub fn lines(section: &Value, width: u16) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for block in section["blocks"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let v = &block["value"];
        match block["kind"].as_str() {
            Some("text") => out.extend(paragraph(v, usize::from(width))),
            Some("table") => out.extend(table(v)),
            Some("chart") => {
                out.extend(
                    paragraph(&v[0], usize::from(width))
                        .into_iter()
                        .map(|l| l.style(Style::new().add_modifier(Modifier::ITALIC))),
                );
                let chart = &v[1];
                match chart["kind"].as_str() {
                    Some("intervals") => out.extend(intervals(&chart["value"], usize::from(width))),
                    Some("map") => out.push(Line::styled(
                        format!("(a world map of {} members: view 4, Map)", chart["value"].as_u64().unwrap_or(0)),
                        Style::new().fg(Color::DarkGray),
                    )),
                    Some("rate_map") => out.push(Line::styled(
                        format!(
                            "(a world map of {} members' rates: in the HTML report; the rates are in the table)",
                            chart["value"].as_u64().unwrap_or(0)
                        ),
                        Style::new().fg(Color::DarkGray),
                    )),
                    Some("heatmap") => {
                        let h = &chart["value"];
                        out.push(Line::styled(
                            format!(
                                "(a heat map of Cohen's d, {} units × {} concepts at {}: view 3, Family)",
                                h["units"],
                                h["concepts"],
                                h["tap"].as_str().unwrap_or_default()
                            ),
                            Style::new().fg(Color::DarkGray),
                        ))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        out.push(Line::default());
    }
    out
}
