//! The terminal UI for fairness reviews: `clip-audit tui` opens a report and lets a reviewer
//! walk from each finding to its evidence (units, families, the map, every analysis's report
//! sections) and record a decision (confirmed or dismissed, with a note) into `review.json` beside the report.
//!
//! The app is a state machine ([`App`]) over the report, read into the writer's own types by
//! [`crate::report::read::load`] (one version check, older formats upgraded), drawn by pure functions of that
//! state, so tests drive it with key events and render it on ratatui's `TestBackend`. The
//! terminal is restored on exit, on error and on panic (ratatui's init installs the hook);
//! Ctrl-C quits like `q`. Nothing slow runs on the UI thread: the report is read once, and
//! stimulus thumbnails and units' feature visualizations (from the run folder's cache) are
//! decoded and encoded by workers ([`thumbs`], [`visualizations`]) for the terminal's
//! graphics protocol ([`graphics`]: kitty, Sixel, iTerm2 or half blocks, asked of the terminal
//! once, or forced with `CLIP_AUDIT_GRAPHICS=kitty|sixel|iterm2|halfblocks`), then drawn as
//! `ratatui-image` widgets; tests start the worker in half blocks, which ask nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analysis::resolution::MemberResolution;
use crate::analysis::selectivity::{ConceptResponses, Heatmap, SelectiveUnit};
use crate::analysis::{Finding, Summary};
use crate::report::read::ReportFile;
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Map, MapResolution, Points};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState, Tabs, Wrap};
use ratatui_image::Image;

use crate::report::review::{Review, Verdict, verdict_name};

pub mod graphics;
pub mod sections;
pub mod thumbs;
pub mod visualizations;

/// The views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// All findings.
    Findings,
    /// One unit's evidence.
    Unit,
    /// A family's units × concepts and its resolution.
    Family,
    /// Members on a world map.
    Map,
    /// Every analysis's report sections (tables, charts, text), as the reports show them.
    Analyses,
}

const VIEWS: [(View, &str); 5] = [
    (View::Findings, "1 Findings"),
    (View::Unit, "2 Unit"),
    (View::Family, "3 Family"),
    (View::Map, "4 Map"),
    (View::Analyses, "5 Analyses"),
];

/// How findings are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Most severe first (the report's order).
    Severity,
    /// Largest statistic first.
    Effect,
    /// Smallest q first.
    Q,
}

/// What the keyboard is typing into.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Input {
    None,
    Search(String),
    Note(Verdict, String),
}

/// The app state.
pub struct App {
    report: ReportFile,
    dir: PathBuf,
    /// The current view.
    pub view: View,
    sort: Sort,
    filter: Option<String>,
    search: String,
    input: Input,
    help: bool,
    finding: usize,
    unit: usize,
    family: usize,
    section: usize,
    /// Lines and columns the Analyses view is scrolled by.
    scroll: (u16, u16),
    review: Review,
    /// The last status message (saved, errors).
    pub status: String,
    /// Set when the user quits.
    pub quit: bool,
    thumbs: std::cell::RefCell<thumbs::Thumbnails>,
    visualizations: std::cell::RefCell<visualizations::Visualizations>,
    /// Thumbnails the last frame drew.
    placements: std::cell::RefCell<Vec<graphics::Placement>>,
}

fn f(x: f64) -> String {
    crate::report::num(x)
}

/// Finds the report: a report.json, a report folder, or (none given) the newest
/// `reports/*/latest/report.json`.
pub fn locate(path: Option<&Path>) -> anyhow::Result<PathBuf> {
    match path {
        Some(p) if p.is_dir() => Ok(p.join("report.json")),
        Some(p) => Ok(p.to_path_buf()),
        None => {
            let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir("reports")
                .map_err(|_| anyhow::anyhow!("no reports/ folder here: give a report folder or report.json"))?
                .flatten()
                .map(|e| e.path().join("latest").join("report.json"))
                .filter(|p| p.is_file())
                .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
                .collect();
            found.sort();
            found
                .pop()
                .map(|x| x.1)
                .ok_or_else(|| anyhow::anyhow!("no report under reports/: run `clip-audit run SPEC` first"))
        }
    }
}

impl App {
    /// Opens a report.json.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        // One version check and the upgrades of older formats, shared with diff and model-card.
        let report = crate::report::read::load(path)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let review = Review::load(&dir)?;
        Ok(Self {
            report,
            dir,
            view: View::Findings,
            sort: Sort::Severity,
            filter: None,
            search: String::new(),
            input: Input::None,
            help: false,
            finding: 0,
            unit: 0,
            family: 0,
            section: 0,
            scroll: (0, 0),
            review,
            status: String::new(),
            quit: false,
            thumbs: std::cell::RefCell::new(thumbs::Thumbnails::default()),
            visualizations: std::cell::RefCell::default(),
            placements: std::cell::RefCell::default(),
        })
    }

    /// Starts the workers that decode the images of evidence stimuli and the units' feature
    /// visualizations (from the run folders the report names) for thumbnails in half blocks;
    /// without them, views show neither.
    pub fn start_thumbnails(&mut self) {
        self.start_thumbnails_with(graphics::Graphics::half_blocks());
    }

    /// [`App::start_thumbnails`], with thumbnails encoded for `graphics`.
    pub fn start_thumbnails_with(&mut self, graphics: graphics::Graphics) {
        let runs: Vec<PathBuf> = self.summary().runs.iter().map(PathBuf::from).collect();
        self.visualizations.borrow_mut().start(runs.clone(), graphics.clone());
        self.thumbs.borrow_mut().start(runs, graphics);
    }

    /// The thumbnails the last frame drew, and the cells each took.
    pub fn placements(&self) -> Vec<graphics::Placement> {
        self.placements.borrow().clone()
    }

    /// Waits up to `timeout` for the thumbnails and feature visualizations asked for so far
    /// (for tests and scripts).
    pub fn wait_thumbnails(&self, timeout: Duration) {
        let end = std::time::Instant::now() + timeout;
        self.thumbs.borrow_mut().wait(timeout);
        self.visualizations.borrow_mut().wait(end.saturating_duration_since(std::time::Instant::now()));
    }

    fn summary(&self) -> &Summary {
        &self.report.summary
    }

    /// The checks to review: the failed ones (`findings`), then the inconclusive ones (absent
    /// from reports of format 1).
    fn checks(&self) -> Vec<&Finding> {
        self.summary().findings.iter().chain(&self.summary().inconclusive).collect()
    }

    /// Indexes of the checks shown (into failed, then inconclusive), in display order.
    pub fn shown(&self) -> Vec<usize> {
        let all = self.checks();
        let needle = self.search.to_lowercase();
        let mut idx: Vec<usize> = (0..all.len())
            .filter(|&i| self.filter.as_deref().is_none_or(|a| all[i].analysis == a))
            .filter(|&i| {
                needle.is_empty()
                    || all[i].id.to_lowercase().contains(&needle)
                    || all[i].statement.to_lowercase().contains(&needle)
            })
            .collect();
        let value = |i: usize| all[i].statistic.value;
        // The p against the limit, corrected in its family: what decided the verdict.
        let q = |i: usize| all[i].decision.p_adjusted;
        match self.sort {
            Sort::Severity => {}
            Sort::Effect => idx.sort_by(|&a, &b| value(b).total_cmp(&value(a))),
            Sort::Q => idx.sort_by(|&a, &b| {
                let (x, y) = (q(a), q(b));
                x.is_nan().cmp(&y.is_nan()).then(x.total_cmp(&y))
            }),
        }
        idx
    }

    fn selected(&self) -> Option<&Finding> {
        let shown = self.shown();
        shown.get(self.finding.min(shown.len().saturating_sub(1))).map(|&i| self.checks()[i])
    }

    fn units(&self) -> &[SelectiveUnit] {
        self.summary().selectivity.as_ref().map_or(&[], |s| &s.units)
    }

    fn heatmaps(&self) -> &[Heatmap] {
        self.summary().selectivity.as_ref().map_or(&[], |s| &s.heatmaps)
    }

    fn analyses(&self) -> Vec<String> {
        let mut a: Vec<String> = self.checks().iter().map(|x| x.analysis.clone()).collect();
        a.sort();
        a.dedup();
        a
    }

    /// Handles one key: Ctrl-C quits whatever is going on, a line being typed takes every
    /// other key, the help closes on any key; then the keys of every view, then the current
    /// view's own.
    pub fn key(&mut self, k: KeyEvent) {
        if k.kind != KeyEventKind::Press {
            return;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.input != Input::None {
            self.key_typing(k.code);
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        if self.key_any_view(k.code) {
            return;
        }
        match self.view {
            View::Findings => self.key_findings(k.code),
            View::Family => self.key_family(k.code),
            View::Analyses => self.key_analyses(k.code),
            View::Unit | View::Map => {}
        }
    }

    /// A key while a line (search or note) is typed: the same editing keys for both.
    fn key_typing(&mut self, code: KeyCode) {
        let (Input::Search(text) | Input::Note(_, text)) = &mut self.input else { return };
        match code {
            KeyCode::Enter => match std::mem::replace(&mut self.input, Input::None) {
                Input::Search(t) => {
                    self.search = t;
                    self.finding = 0;
                }
                Input::Note(verdict, note) => self.decide(verdict, &note),
                Input::None => {}
            },
            KeyCode::Esc => self.input = Input::None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
    }

    /// The keys of every view (quit, help, switching views, moving); false for any other key.
    fn key_any_view(&mut self, code: KeyCode) -> bool {
        match code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char(c @ '1'..='5') => self.view = VIEWS[(c as u8 - b'1') as usize].0,
            KeyCode::Tab => {
                let i = VIEWS.iter().position(|v| v.0 == self.view).unwrap_or(0);
                self.view = VIEWS[(i + 1) % VIEWS.len()].0;
            }
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            _ => return false,
        }
        true
    }

    /// The Findings view's keys: sort, filter, search, confirm or dismiss, open the unit.
    fn key_findings(&mut self, code: KeyCode) {
        match code {
            KeyCode::Char('s') => {
                self.sort = match self.sort {
                    Sort::Severity => Sort::Effect,
                    Sort::Effect => Sort::Q,
                    Sort::Q => Sort::Severity,
                };
            }
            KeyCode::Char('f') => {
                let a = self.analyses();
                self.filter = match &self.filter {
                    None => a.first().cloned(),
                    Some(cur) => a.iter().position(|x| x == cur).and_then(|i| a.get(i + 1)).cloned(),
                };
                self.finding = 0;
            }
            KeyCode::Char('/') => self.input = Input::Search(String::new()),
            KeyCode::Char('c') if self.selected().is_some() => {
                self.input = Input::Note(Verdict::Confirmed, String::new());
            }
            KeyCode::Char('d') if self.selected().is_some() => {
                self.input = Input::Note(Verdict::Dismissed, String::new());
            }
            KeyCode::Enter => self.follow(),
            _ => {}
        }
    }

    /// The Family view's keys: the previous or next heat map.
    fn key_family(&mut self, code: KeyCode) {
        match code {
            KeyCode::Right | KeyCode::Char('l') => self.family += 1,
            KeyCode::Left | KeyCode::Char('h') => self.family = self.family.saturating_sub(1),
            _ => {}
        }
    }

    /// The Analyses view's keys: scroll the section down and up by 10 lines, sideways by 8
    /// columns.
    fn key_analyses(&mut self, code: KeyCode) {
        let (down, right) = &mut self.scroll;
        match code {
            KeyCode::PageDown | KeyCode::Char('J') => *down = down.saturating_add(10),
            KeyCode::PageUp | KeyCode::Char('K') => *down = down.saturating_sub(10),
            KeyCode::Right | KeyCode::Char('l') => *right = right.saturating_add(8),
            KeyCode::Left | KeyCode::Char('h') => *right = right.saturating_sub(8),
            _ => {}
        }
    }

    fn step(&mut self, d: isize) {
        let shown = self.shown().len();
        let (units, heatmaps, sections) = (self.units().len(), self.heatmaps().len(), self.report.sections.len());
        let (cur, len) = match self.view {
            View::Findings => (&mut self.finding, shown),
            View::Unit | View::Map => (&mut self.unit, units),
            View::Analyses => {
                self.scroll = (0, 0);
                (&mut self.section, sections)
            }
            View::Family => (&mut self.family, heatmaps),
        };
        if len > 0 {
            *cur = (*cur as isize + d).clamp(0, len as isize - 1) as usize;
        }
    }

    /// Enter on a finding: open the first unit it cites.
    fn follow(&mut self) {
        let Some(f) = self.selected() else { return };
        let Some(u) = f.evidence.units.first().cloned() else {
            self.status = "this finding cites no unit".into();
            return;
        };
        match self.units().iter().position(|x| x.tap == u.tap && x.unit == u.unit) {
            Some(i) => {
                self.unit = i;
                self.view = View::Unit;
            }
            None => self.status = format!("unit {} #{} is not among the summary's selective units", u.tap, u.unit),
        }
    }

    fn decide(&mut self, verdict: Verdict, note: &str) {
        let Some(id) = self.selected().map(|f| f.id.clone()) else { return };
        self.review.decide(&id, verdict, note);
        self.status = match self.review.save(&self.dir) {
            Ok(p) => format!("{} {id}; saved to {}", verdict_name(verdict), p.display()),
            Err(e) => format!("could not save the review: {e}"),
        };
    }

    /// Draws the whole screen.
    pub fn draw(&self, frame: &mut Frame<'_>) {
        self.placements.borrow_mut().clear();
        let [tabs, body, footer] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(5), Constraint::Length(2)]).areas(frame.area());
        let titles: Vec<&str> = VIEWS.iter().map(|v| v.1).collect();
        let sel = VIEWS.iter().position(|v| v.0 == self.view).unwrap_or(0);
        frame.render_widget(
            Tabs::new(titles).select(sel).highlight_style(Style::new().add_modifier(Modifier::REVERSED)).divider(" "),
            tabs,
        );
        match self.view {
            View::Findings => self.draw_findings(frame, body),
            View::Unit => self.draw_unit(frame, body),
            View::Family => self.draw_family(frame, body),
            View::Map => self.draw_map(frame, body),
            View::Analyses => self.draw_analyses(frame, body),
        }
        let keys = match (&self.input, self.view) {
            (Input::Search(t), _) => format!("search: {t}_   Enter apply · Esc cancel"),
            (Input::Note(v, t), _) => format!("{} — note: {t}_   Enter save · Esc cancel", verdict_name(*v)),
            (_, View::Findings) => {
                "j/k move · Enter unit · s sort · f filter · / search · c confirm · d dismiss · ? help · q quit".into()
            }
            (_, View::Family) => "h/l heat map · j/k heat map · 1-5 views · ? help · q quit".into(),
            (_, View::Map) => "j/k unit shown · 1-5 views · ? help · q quit".into(),
            (_, View::Analyses) => "j/k section · J/K scroll · h/l sideways · 1-5 views · ? help · q quit".into(),
            _ => "j/k move · 1-5 or Tab views · ? help · q quit".into(),
        };
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(self.status.clone()).style(Style::new().fg(Color::Yellow)),
                Line::from(keys),
            ]),
            footer,
        );
        if self.help {
            let area = centered(frame.area(), 64, 19);
            frame.render_widget(Clear, area);
            frame.render_widget(
                Paragraph::new(HELP)
                    .block(Block::bordered().title(" keys (any key closes) "))
                    .wrap(Wrap { trim: false }),
                area,
            );
        }
    }

    fn draw_findings(&self, frame: &mut Frame<'_>, area: Rect) {
        let [list, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(8)]).areas(area);
        let all = self.checks();
        let failed = self.summary().findings.len();
        let shown = self.shown();
        let title = format!(
            " {} shown · {} failed, {} inconclusive · sort {:?}{}{} ",
            shown.len(),
            failed,
            all.len() - failed,
            self.sort,
            self.filter.as_ref().map(|a| format!(" · {a}")).unwrap_or_default(),
            if self.search.is_empty() { String::new() } else { format!(" · /{}", self.search) }
        );
        let table = Table::new(
            self.finding_rows(&shown),
            [
                Constraint::Length(8),
                Constraint::Min(20),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(9),
            ],
        )
        .header(Row::new(["sev", "finding", "value", "q", "review"]).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(title));
        let mut state =
            TableState::default().with_selected((!shown.is_empty()).then(|| self.finding.min(shown.len() - 1)));
        frame.render_stateful_widget(table, list, &mut state);
        frame.render_widget(
            Paragraph::new(self.finding_detail()).wrap(Wrap { trim: true }).block(Block::bordered().title(" finding ")),
            detail,
        );
    }

    /// The findings list's rows for the checks `shown` (indexes into [`App::checks`]).
    fn finding_rows(&self, shown: &[usize]) -> Vec<Row<'static>> {
        let all = self.checks();
        let failed = self.summary().findings.len();
        shown
            .iter()
            .map(|&i| {
                let x = all[i];
                let sev = crate::report::severity_name(x.severity);
                // Inconclusive checks: "?" before the severity they would fail at, in grey.
                let (label, color) = match sev {
                    _ if i >= failed => (format!("?{sev}"), Color::DarkGray),
                    "error" => (sev.to_owned(), Color::Red),
                    "warning" => (sev.to_owned(), Color::Yellow),
                    _ => (sev.to_owned(), Color::Gray),
                };
                let review = self.review.get(&x.id).map_or("", |d| verdict_name(d.verdict));
                Row::new(vec![
                    Cell::from(label).style(Style::new().fg(color)),
                    Cell::from(x.id.clone()),
                    Cell::from(f(x.statistic.value)),
                    Cell::from(f(x.decision.p_adjusted)),
                    Cell::from(review),
                ])
            })
            .collect()
    }

    /// The selected finding: its statement, decision, units and review.
    fn finding_detail(&self) -> Vec<Line<'static>> {
        match self.selected() {
            None => vec![Line::from("no finding matches")],
            Some(x) => {
                let mut l = vec![Line::from(x.statement.clone())];
                // Reports of format 1 recorded no decision (its family has size 0).
                if x.decision.family.size > 0 {
                    l.push(Line::from(x.decision.line()));
                }
                let units: Vec<String> = x.evidence.units.iter().map(|u| format!("{} #{}", u.tap, u.unit)).collect();
                if !units.is_empty() {
                    l.push(Line::from(format!("units: {}", units.join(", "))));
                }
                if let Some(d) = self.review.get(&x.id) {
                    l.push(Line::from(format!("{} by {} at {}: {}", verdict_name(d.verdict), d.by, d.at, d.note)));
                }
                l
            }
        }
    }

    fn draw_unit(&self, frame: &mut Frame<'_>, area: Rect) {
        let units = self.units();
        let Some(u) = units.get(self.unit.min(units.len().saturating_sub(1))) else {
            frame
                .render_widget(Paragraph::new("the report has no selective units (is selectivity in the spec?)"), area);
            return;
        };
        let [left, right] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
        let mut lines = self.unit_lines(u);
        let inner = Block::bordered().inner(left);
        let visualization = self.unit_visualization(u, inner, &mut lines);
        let mut placed = self.unit_thumbnails(u, inner, &mut lines);
        frame.render_widget(
            Paragraph::new(lines).block(Block::bordered().title(format!(
                " unit {} of {} ",
                self.unit + 1,
                units.len()
            ))),
            left,
        );
        // A pixel image cannot be partly covered by the help overlay: none while it is open.
        if !self.help {
            let thumbs = self.thumbs.borrow();
            for p in &placed {
                if let Some(thumb) = thumbs.get(&p.id) {
                    frame.render_widget(Image::new(thumb), p.area);
                }
            }
            let visualizations = self.visualizations.borrow();
            if let Some(area) = visualization
                && let Some(visualizations::Lookup::Found(_, Some(picture))) = visualizations.get(&u.tap, u.unit)
            {
                frame.render_widget(Image::new(picture), area);
                let id = crate::report::cards::anchor(&u.tap, u.unit);
                placed.push(graphics::Placement { id, area });
            }
            *self.placements.borrow_mut() = placed;
        }
        let bars = unit_bars(u, right);
        frame.render_widget(
            Paragraph::new(bars).block(Block::bordered().title(" Cohen's d per concept: █ d ├─┤ 95% CI │ 0 ")),
            right,
        );
    }

    /// The selected unit's facts: what it is selective for, the checks citing it, its top and
    /// bottom stimuli.
    fn unit_lines(&self, u: &SelectiveUnit) -> Vec<Line<'static>> {
        let mut lines = vec![
            Line::from(Span::styled(format!("{} #{}", u.tap, u.unit), Style::new().add_modifier(Modifier::BOLD))),
            Line::from(format!("{} · {} · {}", u.selection, u.modality, u.concept)),
            Line::from(format!("Cohen's d {} · AUROC {} · q {}", f(u.cohen_d), f(u.auroc), f(u.q))),
            Line::from(format!("mean {} over {} stimuli", f(u.mean), u.n)),
        ];
        let also: Vec<&str> = u.also.iter().map(String::as_str).collect();
        if !also.is_empty() {
            lines.push(Line::from(format!("also: {}", also.join(", "))));
        }
        let cited: Vec<&str> = self
            .checks()
            .into_iter()
            .filter(|x| x.evidence.units.iter().any(|e| e.tap == u.tap && e.unit == u.unit))
            .map(|x| x.id.as_str())
            .collect();
        lines.push(Line::from(format!("cited by: {}", if cited.is_empty() { "-".into() } else { cited.join(", ") })));
        lines.push(Line::from(""));
        lines.push(Line::from("top stimuli").style(Style::new().add_modifier(Modifier::BOLD)));
        for x in u.top.iter().take(5) {
            let id: String = x.id.chars().take(8).collect();
            lines.push(Line::from(format!("  {:>8} {id} {} {}", f(f64::from(x.value)), x.member, x.modality)));
        }
        lines.push(Line::from("bottom stimuli").style(Style::new().add_modifier(Modifier::BOLD)));
        for x in u.bottom.iter().take(5) {
            let id: String = x.id.chars().take(8).collect();
            lines.push(Line::from(format!("  {:>8} {id} {} {}", f(f64::from(x.value)), x.member, x.modality)));
        }
        lines
    }

    /// The unit's feature visualization (asked of the worker on first sight), appended to
    /// `lines` (drawn inside `inner`), and where its picture goes; nothing without the worker
    /// or until it answers. A text-tower unit (its block's modality is prompts) has none.
    fn unit_visualization(&self, u: &SelectiveUnit, inner: Rect, lines: &mut Vec<Line<'static>>) -> Option<Rect> {
        let mut cache = self.visualizations.borrow_mut();
        if !cache.started() {
            return None;
        }
        if u.modality == "prompt" {
            let muted = Style::new().fg(Color::DarkGray);
            lines.push(Line::styled("no feature visualization (a text-tower unit)", muted));
            return None;
        }
        cache.ask(&u.tap, u.unit);
        let top = u.top.first().map(|x| x.value);
        visualizations::unit_lines(cache.get(&u.tap, u.unit)?, top, inner, lines)
    }

    /// Room for the thumbnails of the unit's top and bottom stimuli that the worker has made,
    /// under a heading each, appended to `lines` (drawn inside `inner`); where each one goes,
    /// for those wholly inside the panel (a pixel image cannot be cut).
    fn unit_thumbnails(
        &self,
        u: &SelectiveUnit,
        inner: Rect,
        lines: &mut Vec<Line<'static>>,
    ) -> Vec<graphics::Placement> {
        let mut placed = Vec::new();
        for (end, examples) in [("top", &u.top), ("bottom", &u.bottom)] {
            let ids: Vec<String> = examples.iter().take(4).map(|x| x.id.clone()).collect();
            let spots = self.thumbs.borrow_mut().row(&ids, 8);
            if spots.is_empty() {
                continue;
            }
            lines.push(Line::from(format!("{end} images")).style(Style::new().add_modifier(Modifier::BOLD)));
            let top = inner.y.saturating_add(u16::try_from(lines.len()).unwrap_or(u16::MAX));
            for spot in &spots {
                let area = Rect::new(inner.x.saturating_add(spot.column), top, spot.size.width, spot.size.height);
                if inner.intersection(area) == area && !area.is_empty() {
                    placed.push(graphics::Placement { id: spot.id.clone(), area });
                }
            }
            let rows = spots.iter().map(|s| s.size.height).max().unwrap_or(0);
            lines.extend((0..rows).map(|_| Line::default()));
        }
        placed
    }

    fn draw_family(&self, frame: &mut Frame<'_>, area: Rect) {
        let [top, bottom] = Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
        let heats = self.heatmaps();
        match heats.get(self.family.min(heats.len().saturating_sub(1))) {
            None => frame.render_widget(Paragraph::new("no heat maps in the report"), top),
            Some(h) => {
                let concepts = &h.concepts;
                let cols = ((top.width.saturating_sub(10)) / 2) as usize;
                let mut lines = vec![Line::from(format!(
                    "{:>8} {}",
                    "unit",
                    concepts
                        .iter()
                        .take(cols)
                        .map(|c| c.chars().next().unwrap_or(' ').to_string() + " ")
                        .collect::<String>()
                ))];
                for (r, unit) in h.units.iter().enumerate().take(top.height.saturating_sub(3) as usize) {
                    let mut spans = vec![Span::raw(format!("{:>8} ", format!("#{unit}")))];
                    for d in h.d.get(r).map(Vec::as_slice).unwrap_or_default().iter().take(cols) {
                        spans.push(Span::styled("  ", Style::new().bg(heat_color(*d))));
                    }
                    lines.push(Line::from(spans));
                }
                let title = format!(
                    " {} · {} · {} ({} of {}; h/l) ",
                    h.tap,
                    h.selection,
                    h.modality,
                    self.family.min(heats.len() - 1) + 1,
                    heats.len()
                );
                frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), top);
            }
        }
        frame.render_widget(self.resolution_table(), bottom);
    }

    /// Each group's coverage by units of its own, at the first tap of each resolution analysis.
    fn resolution_table(&self) -> Table<'static> {
        let mut rows = Vec::new();
        for r in &self.summary().resolution {
            for t in r.taps.iter().take(1) {
                for g in &t.groups {
                    rows.push(Row::new(vec![
                        format!("{} ({})", g.group, t.tap),
                        format!("{}/{}", g.covered, g.members),
                        f(g.coverage),
                        format!("[{}, {}]", f(g.ci[0]), f(g.ci[1])),
                        g.group_units.to_string(),
                    ]));
                }
            }
        }
        Table::new(
            rows,
            [
                Constraint::Min(18),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(16),
                Constraint::Length(11),
            ],
        )
        .header(
            Row::new(["group", "covered", "cover", "95% CI", "group-wide"])
                .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .block(Block::bordered().title(" resolution coverage "))
    }

    fn draw_map(&self, frame: &mut Frame<'_>, area: Rect) {
        let members: Vec<&MemberResolution> =
            self.summary().resolution.iter().flat_map(|r| r.taps.iter().take(1)).flat_map(|t| &t.members).collect();
        let point = |m: &MemberResolution| Some((m.lon?, m.lat?));
        // The selected unit's d for each member's images, when it was measured on them.
        let units = self.units();
        let unit = units.get(self.unit.min(units.len().saturating_sub(1)));
        let response = unit.and_then(|u| {
            u.responses
                .iter()
                .find(|b| b.modality == "image" && b.concepts.iter().any(|c| members.iter().any(|m| m.id == *c)))
        });
        let title;
        // (point, colour) of each member with coordinates.
        let mut points: Vec<((f64, f64), Color)> = Vec::new();
        if let (Some(u), Some(b)) = (unit, response) {
            for m in &members {
                let Some(p) = point(m) else { continue };
                let d =
                    b.concepts.iter().position(|c| *c == m.id).and_then(|k| b.d.get(k).copied()).unwrap_or(f64::NAN);
                // Members without a measured d in light grey (the map itself is dark grey).
                points.push((p, if d.is_finite() { heat_color(d) } else { Color::Gray }));
            }
            title = format!(
                " {} #{} (j/k unit): Cohen's d of each member's images, white 0 to red 3+, blue below 0, grey n/a ",
                u.tap, u.unit
            );
        } else {
            let mut with = 0;
            for m in &members {
                let Some(p) = point(m) else { continue };
                let dedicated = m.dedicated_units > 0;
                with += usize::from(dedicated);
                points.push((p, if dedicated { Color::Green } else { Color::Red }));
            }
            title = if members.is_empty() {
                " no resolution analysis with coordinates in this report ".to_owned()
            } else {
                format!(
                    " members: {with} with a unit of their own (green), {} without (red) · j/k to an image unit: its d ",
                    points.len() - with
                )
            };
        }
        let canvas = Canvas::default()
            .block(Block::bordered().title(title))
            .x_bounds([-180.0, 180.0])
            .y_bounds([-90.0, 90.0])
            .paint(|ctx| {
                ctx.draw(&Map { color: Color::DarkGray, resolution: MapResolution::High });
                for (p, color) in &points {
                    ctx.draw(&Points { coords: std::slice::from_ref(p), color: *color });
                }
            });
        frame.render_widget(canvas, area);
    }

    fn draw_analyses(&self, frame: &mut Frame<'_>, area: Rect) {
        let sections = &self.report.sections;
        if sections.is_empty() {
            let why = if !self.report.summary.results().is_empty() {
                "this report has no sections: a clip-audit from before they were written out made it; `clip-audit analyze RUN_DIR` writes a new report with them"
            } else {
                "no analysis produced a section"
            };
            frame.render_widget(Paragraph::new(why), area);
            return;
        }
        let [list, body] = Layout::horizontal([Constraint::Length(28), Constraint::Min(20)]).areas(area);
        let current = self.section.min(sections.len() - 1);
        let titles: Vec<Line> = sections
            .iter()
            .enumerate()
            .map(|(i, sec)| {
                let t = sections::title(sec);
                if i == current {
                    Line::styled(format!("▶ {t}"), Style::new().add_modifier(Modifier::REVERSED))
                } else {
                    Line::from(format!("  {t}"))
                }
            })
            .collect();
        let top = current.saturating_sub(list.height.saturating_sub(3) as usize);
        frame.render_widget(
            Paragraph::new(titles).scroll((top as u16, 0)).block(Block::bordered().title(" sections ")),
            list,
        );
        let section = &sections[current];
        let lines = sections::lines(section, body.width.saturating_sub(2));
        frame.render_widget(
            Paragraph::new(lines)
                .scroll(self.scroll)
                .block(Block::bordered().title(format!(" {} ", sections::title(section)))),
            body,
        );
    }
}

const HELP: &str = "1-5, Tab   views: findings, unit, family, map, analyses
j/k, ↑/↓   move
Enter      (findings) open the first unit the finding cites
s          (findings) sort: severity, value, q
f          (findings) filter by analysis (repeat to cycle, back to all)
/          (findings) search ids and statements
c / d      (findings) confirm / dismiss with a note (Enter saves to review.json)
h/l        (family) previous / next heat map
j/k        (unit, map) previous / next unit; the map colours members by its d
j/k        (analyses) previous / next section; J/K, PgDn/PgUp scroll; h/l sideways
?          this help
q, Esc, Ctrl-C  quit
thumbnails: CLIP_AUDIT_GRAPHICS=kitty|sixel|iterm2|halfblocks";

/// The unit's Cohen's d per concept with 95% CIs, as bars sized for `right`.
fn unit_bars(u: &SelectiveUnit, right: Rect) -> Vec<Line<'static>> {
    // Its Cohen's d per concept with 95% CIs: one line per concept and modality, concepts
    // in the order of its d in its own modality.
    let blocks = &u.responses;
    let own = blocks.iter().find(|b| b.modality == u.modality).or(blocks.first());
    let mut bars: Vec<Line> = Vec::new();
    if let Some(own) = own {
        let mut order: Vec<usize> = (0..own.concepts.len()).collect();
        let d_of = |b: &ConceptResponses, c: usize| b.d.get(c).copied().unwrap_or(f64::NAN);
        // Largest d first; undefined ones last.
        let key = |c: usize| Some(d_of(own, c)).filter(|d| d.is_finite()).unwrap_or(f64::NEG_INFINITY);
        order.sort_by(|&x, &y| key(y).total_cmp(&key(x)));
        let mut rest: Vec<&ConceptResponses> = blocks.iter().filter(|b| !std::ptr::eq(*b, own)).collect();
        rest.insert(0, own);
        let per = rest.len().max(1);
        let concepts = (right.height.saturating_sub(2) as usize / per).max(1);
        // Rows to draw: (label, modality, d, ci).
        let mut rows: Vec<(String, &str, f64, [f64; 2])> = Vec::new();
        for &c in order.iter().take(concepts) {
            let concept = own.concepts[c].as_str();
            for (i, b) in rest.iter().enumerate() {
                let Some(k) = b.concepts.iter().position(|x| x == concept) else { continue };
                let ci = b.ci.get(k).copied().unwrap_or([f64::NAN; 2]);
                let label = if i == 0 { concept.to_owned() } else { String::new() };
                rows.push((label, modality_short(&b.modality), d_of(b, k), ci));
            }
        }
        let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
        for (_, _, d, ci) in &rows {
            for x in [*d, ci[0], ci[1]].into_iter().filter(|x| x.is_finite()) {
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
        let width = right.width.saturating_sub(28) as usize;
        for (label, modality, d, ci) in rows {
            let label: String = label.chars().take(10).collect();
            bars.push(Line::from(format!("{label:>10} {modality} {:>6} {}", f(d), ci_bar(d, ci, lo, hi, width))));
        }
    } else {
        bars.push(Line::from("no per-concept responses for this unit in the report"));
    }
    bars
}

/// Three letters for a modality in the unit view.
fn modality_short(m: &str) -> &'static str {
    match m {
        "image" => "img",
        "rendered_text" => "txt",
        "typographic" => "typ",
        "prompt" => "prm",
        _ => "   ",
    }
}

/// A bar of `width` cells on the axis [`lo`, `hi`] (which contains 0): the bar from zero to
/// `d` (█ positive, ▒ negative), the CI as ├─┤ beyond it, `│` at zero.
fn ci_bar(d: f64, ci: [f64; 2], lo: f64, hi: f64, width: usize) -> String {
    if width < 3 || hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return String::new();
    }
    let pos = |x: f64| (((x - lo) / (hi - lo)).clamp(0.0, 1.0) * (width - 1) as f64).round() as usize;
    let mut cells = vec![' '; width];
    let zero = pos(0.0);
    if ci[0].is_finite() && ci[1].is_finite() {
        let (a, b) = (pos(ci[0].min(ci[1])), pos(ci[0].max(ci[1])));
        for c in &mut cells[a..=b] {
            *c = '─';
        }
        cells[a] = '├';
        cells[b] = '┤';
    }
    if d.is_finite() {
        let (a, b) = if d >= 0.0 { (zero, pos(d)) } else { (pos(d), zero) };
        let fill = if d >= 0.0 { '█' } else { '▒' };
        for c in &mut cells[a..=b] {
            *c = fill;
        }
    }
    if cells[zero] == ' ' || cells[zero] == '─' {
        cells[zero] = '│';
    }
    cells.into_iter().collect()
}

fn heat_color(d: f64) -> Color {
    if !d.is_finite() {
        return Color::DarkGray;
    }
    let t = (d / 3.0).clamp(-1.0, 1.0);
    if t >= 0.0 {
        Color::Rgb(255, (255.0 - 170.0 * t) as u8, (255.0 - 200.0 * t) as u8)
    } else {
        Color::Rgb((255.0 + 200.0 * t) as u8, (255.0 + 120.0 * t) as u8, 255)
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// Runs the UI on the terminal until the user quits.
pub fn run(path: Option<&Path>) -> anyhow::Result<()> {
    let report = locate(path)?;
    let mut app = App::load(&report)?;
    app.status = format!("{} · ? for keys", report.display());
    let mut terminal = ratatui::init();
    // In raw mode and the alternate screen, before the first key is read: the terminal's
    // answers to the graphics query must not be taken for keys.
    app.start_thumbnails_with(graphics::Graphics::detect());
    let result = (|| -> anyhow::Result<()> {
        while !app.quit {
            // Images are widgets: a resize redraws the whole screen, them included.
            terminal.draw(|f| app.draw(f))?;
            if event::poll(Duration::from_millis(250))?
                && let Event::Key(k) = event::read()?
            {
                app.key(k);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::ci_bar;

    #[test]
    fn a_ci_bar_draws_the_effect_its_interval_and_zero_on_one_axis() {
        // Axis -1..3 over 9 cells: 0.5 per cell, zero at cell 2.
        assert_eq!(ci_bar(2.0, [1.0, 3.0], -1.0, 3.0, 9), "  █████─┤");
        assert_eq!(ci_bar(0.5, [-0.5, 1.5], -1.0, 3.0, 9), " ├██─┤   ");
        assert_eq!(ci_bar(-1.0, [-1.0, 0.0], -1.0, 3.0, 9), "▒▒▒      ");
        // Undefined d: the axis alone.
        assert_eq!(ci_bar(f64::NAN, [f64::NAN; 2], -1.0, 3.0, 9), "  │      ");
        assert_eq!(ci_bar(1.0, [0.0, 2.0], 0.0, 0.0, 9), "", "no axis");
    }
}
