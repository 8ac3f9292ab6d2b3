//! Feature visualizations in the unit view: the image the audit optimised to excite a unit,
//! shown beside its dataset examples with its activation, so a reviewer can see what the unit
//! reads as well as what the data made it fire on.
//!
//! The audit keeps them in the run folder's cache (`audit::visualizations`, in the format of [`crate::run::visualizations`]):
//! `RUN/visualizations/<card anchor>-<16 hex>.png`, with its [`Visualized`] record beside it as
//! `.json`. The TUI finds the run folders as the thumbnails do, through the runs the report's
//! summary names. A unit may have several (made with other settings); the one whose record is
//! newest is shown, and a PNG without a readable record is ignored. Looking one up reads a
//! folder and decodes a PNG, so a worker does it, once per unit, and encodes the picture for the
//! terminal ([`super::graphics`]) as the thumbnail worker does; the UI draws what has arrived.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant, SystemTime};

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui_image::protocol::Protocol as Encoded;

use super::graphics::Graphics;
use crate::run::visualizations::{CACHE_DIR, Visualized, unit_prefix};

/// The width of the picture in cells (its rows follow its shape: 5 for a square one).
pub const WIDTH: u16 = 10;

/// A unit: its tap and index.
type Unit = (String, usize);

/// What the run folders hold for a unit.
pub enum Lookup {
    /// Its newest visualization (`png` is the file beside its record) and the picture encoded
    /// for the terminal, `None` when the PNG could not be decoded.
    Found(Box<Visualized>, Option<Encoded>),
    /// The caches hold none of this unit (beyond the spec's budget, or its optimisation failed).
    Missing,
    /// No run folder has a cache: the audit was not asked for feature visualizations.
    NoCache,
}

/// The newest visualization of `unit` of `tap` in the caches of `runs` (by the modification
/// time of its record), with `png` set to the file beside the record; records that do not
/// parse, or whose PNG is gone, are skipped.
pub fn newest(runs: &[PathBuf], tap: &str, unit: usize) -> Option<Visualized> {
    let prefix = unit_prefix(tap, unit);
    let mut best: Option<(SystemTime, PathBuf, Visualized)> = None;
    for dir in runs.iter().map(|r| r.join(CACHE_DIR)) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if !is_record_of(&path, &prefix) {
                continue;
            }
            let png = path.with_extension("png");
            let Some((when, v)) = record(&path) else { continue };
            if !png.is_file() {
                continue;
            }
            // Ties (same mtime) go to the last path in order, so the choice does not depend on
            // the order the folder lists its files in.
            if best.as_ref().is_none_or(|(t, p, _)| (when, &path) > (*t, p)) {
                best = Some((when, path, Visualized { png, ..v }));
            }
        }
    }
    best.map(|(_, _, v)| v)
}

/// Whether `path` is `<prefix><16 hex digits>.json`, the unit's record: the prefix ends in a
/// dash, so unit 1's is not unit 12's, and the key must follow it alone, so tap `t`'s unit 1
/// (`unit-t-1-`) does not take tap `t-1`'s unit 5 (`unit-t-1-5-…`).
fn is_record_of(path: &Path, prefix: &str) -> bool {
    if path.extension().is_none_or(|e| e != "json") {
        return false;
    }
    let Some(key) = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.strip_prefix(prefix)) else {
        return false;
    };
    key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A record and its modification time, if it can be read and parsed.
fn record(path: &Path) -> Option<(SystemTime, Visualized)> {
    let when = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    let v = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some((when, v))
}

/// Looks a unit up in the caches of `runs` and, when found, decodes and encodes its picture
/// [`WIDTH`] cells wide.
pub fn look_up(runs: &[PathBuf], graphics: &Graphics, tap: &str, unit: usize) -> Lookup {
    match newest(runs, tap, unit) {
        Some(v) => {
            let picture = image::open(&v.png).ok().and_then(|img| graphics.thumbnail(img, WIDTH));
            Lookup::Found(Box::new(v), picture)
        }
        None if runs.iter().any(|r| r.join(CACHE_DIR).is_dir()) => Lookup::Missing,
        None => Lookup::NoCache,
    }
}

/// The cache of units' visualizations and its worker.
#[derive(Default)]
pub struct Visualizations {
    ask: Option<Sender<Unit>>,
    done: Option<Receiver<(Unit, Lookup)>>,
    ready: HashMap<Unit, Lookup>,
    asked: HashSet<Unit>,
}

impl Visualizations {
    /// Starts the worker over the run folders, encoding for `graphics`.
    pub fn start(&mut self, runs: Vec<PathBuf>, graphics: Graphics) {
        let (ask_tx, ask_rx) = channel::<Unit>();
        let (done_tx, done_rx) = channel();
        std::thread::spawn(move || {
            for (tap, unit) in ask_rx {
                let found = look_up(&runs, &graphics, &tap, unit);
                if done_tx.send(((tap, unit), found)).is_err() {
                    break;
                }
            }
        });
        self.ask = Some(ask_tx);
        self.done = Some(done_rx);
    }

    /// Whether the worker was started.
    pub fn started(&self) -> bool {
        self.ask.is_some()
    }

    fn drain(&mut self) {
        if let Some(rx) = &self.done {
            while let Ok((unit, found)) = rx.try_recv() {
                self.ready.insert(unit, found);
            }
        }
    }

    /// Asks the worker for a unit unless it was asked already, and takes in what has arrived.
    pub fn ask(&mut self, tap: &str, unit: usize) {
        self.drain();
        let key = (tap.to_owned(), unit);
        if let Some(tx) = &self.ask
            && !self.asked.contains(&key)
        {
            let _ = tx.send(key.clone());
            self.asked.insert(key);
        }
    }

    /// A unit's lookup, once the worker has answered.
    pub fn get(&self, tap: &str, unit: usize) -> Option<&Lookup> {
        self.ready.get(&(tap.to_owned(), unit))
    }

    /// Waits until every asked unit is in, or the timeout.
    pub fn wait(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end && self.asked.iter().any(|u| !self.ready.contains_key(u)) {
            if let Some(rx) = &self.done
                && let Ok((unit, found)) = rx.recv_timeout(Duration::from_millis(20))
            {
                self.ready.insert(unit, found);
            }
        }
    }
}

/// The unit view's lines about a unit's visualization, appended to `lines` (drawn from the top
/// of `inner`), and the cells its picture takes when it fits wholly inside `inner` (a pixel
/// image cannot be cut). Found: the picture with, to its right, its activation, its ratio to
/// `top` (the unit's top example's activation, when positive) and its steps; otherwise one
/// muted line saying why there is none.
pub fn unit_lines(lookup: &Lookup, top: Option<f32>, inner: Rect, lines: &mut Vec<Line<'static>>) -> Option<Rect> {
    let muted = Style::new().fg(Color::DarkGray);
    let (v, picture) = match lookup {
        Lookup::NoCache => {
            lines.push(Line::styled("no feature visualization (outputs.feature_visualization)", muted));
            return None;
        }
        Lookup::Missing => {
            lines.push(Line::styled("no feature visualization of this unit", muted));
            return None;
        }
        Lookup::Found(v, picture) => (v, picture),
    };
    let num = |x: f32| crate::report::num(f64::from(x));
    let mut text = vec![
        Line::styled("feature visualization", Style::new().add_modifier(Modifier::BOLD)),
        Line::from(format!("activation {}", num(v.activation))),
    ];
    if let Some(t) = top.filter(|t| *t > 0.0 && v.activation.is_finite()) {
        text.push(Line::from(format!("{:.1}x the top example's {}", v.activation / t, num(t))));
    }
    text.push(Line::styled(format!("{} steps · seed {}", v.steps, v.seed), muted));
    let Some(picture) = picture else {
        text.push(Line::styled(format!("(cannot decode {})", v.png.display()), muted));
        lines.extend(text);
        return None;
    };
    let size = picture.size();
    let row = inner.y.saturating_add(u16::try_from(lines.len()).unwrap_or(u16::MAX));
    let area = Rect::new(inner.x, row, size.width, size.height);
    // The text goes right of the picture, as many rows as the taller of the two.
    let indent = " ".repeat(usize::from(size.width) + 2);
    let rows = usize::from(size.height).max(text.len());
    let mut text = text.into_iter();
    for _ in 0..rows {
        let line = match text.next() {
            Some(mut l) => {
                l.spans.insert(0, indent.clone().into());
                l
            }
            None => Line::default(),
        };
        lines.push(line);
    }
    (inner.intersection(area) == area && !area.is_empty()).then_some(area)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_file(dir: &Path, stem: &str, activation: f32, age_s: u64) {
        let png = dir.join(format!("{stem}.png"));
        image::RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3])).save(&png).unwrap();
        let v = Visualized {
            png: PathBuf::from("elsewhere.png"),
            activation,
            initial: 0.0,
            steps: 64,
            seed: 1,
            seconds: 0.5,
            device: "cpu".into(),
        };
        let json = dir.join(format!("{stem}.json"));
        std::fs::write(&json, serde_json::to_vec(&v).unwrap()).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_s);
        std::fs::File::options().write(true).open(&json).unwrap().set_modified(when).unwrap();
    }

    #[test]
    fn the_newest_readable_record_of_exactly_the_unit_is_chosen() {
        let run = tempfile::tempdir().unwrap();
        let runs = vec![run.path().to_path_buf()];
        assert!(newest(&runs, "image.mlp", 1).is_none());
        assert!(matches!(look_up(&runs, &Graphics::half_blocks(), "image.mlp", 1), Lookup::NoCache));
        let dir = run.path().join(CACHE_DIR);
        std::fs::create_dir(&dir).unwrap();
        assert!(matches!(look_up(&runs, &Graphics::half_blocks(), "image.mlp", 1), Lookup::Missing));
        record_file(&dir, "unit-image_mlp-1-00000000000000aa", 1.0, 300);
        record_file(&dir, "unit-image_mlp-1-00000000000000bb", 2.0, 100);
        // Newer but not this unit's: unit 12, and a name that is not a cache key.
        record_file(&dir, "unit-image_mlp-12-00000000000000cc", 12.0, 10);
        record_file(&dir, "unit-image_mlp-1-notakey", 9.0, 10);
        // Newer, but its record does not parse; and one whose PNG is gone.
        record_file(&dir, "unit-image_mlp-1-00000000000000dd", 4.0, 10);
        std::fs::write(dir.join("unit-image_mlp-1-00000000000000dd.json"), "{").unwrap();
        record_file(&dir, "unit-image_mlp-1-00000000000000ee", 5.0, 10);
        std::fs::remove_file(dir.join("unit-image_mlp-1-00000000000000ee.png")).unwrap();
        // A PNG alone.
        std::fs::copy(
            dir.join("unit-image_mlp-1-00000000000000aa.png"),
            dir.join("unit-image_mlp-1-00000000000000ff.png"),
        )
        .unwrap();
        let v = newest(&runs, "image.mlp", 1).expect("one");
        assert_eq!(v.activation, 2.0);
        assert_eq!(v.png, dir.join("unit-image_mlp-1-00000000000000bb.png"), "the file beside the record");
        assert_eq!(newest(&runs, "image.mlp", 12).map(|v| v.activation), Some(12.0));
        match look_up(&runs, &Graphics::half_blocks(), "image.mlp", 1) {
            Lookup::Found(v, Some(picture)) => {
                assert_eq!(v.activation, 2.0);
                assert_eq!(picture.size().width, WIDTH);
            }
            _ => panic!("found, with a picture"),
        }
        assert!(matches!(look_up(&runs, &Graphics::half_blocks(), "image.mlp", 2), Lookup::Missing));
    }

    #[test]
    fn the_lines_put_the_activation_its_ratio_and_steps_beside_the_picture() {
        let v = Visualized {
            png: PathBuf::from("x.png"),
            activation: 0.9,
            initial: 0.1,
            steps: 256,
            seed: 7,
            seconds: 1.0,
            device: "cpu".into(),
        };
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8));
        let found = Lookup::Found(Box::new(v), Graphics::half_blocks().thumbnail(img, WIDTH));
        let inner = Rect::new(1, 2, 40, 20);
        let mut lines = vec![Line::from("before")];
        let area = unit_lines(&found, Some(0.3), inner, &mut lines).expect("it fits");
        assert_eq!(area, Rect::new(1, 3, WIDTH, 5));
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let pad = " ".repeat(usize::from(WIDTH) + 2);
        assert_eq!(
            text,
            [
                "before".to_owned(),
                format!("{pad}feature visualization"),
                format!("{pad}activation 0.900"),
                format!("{pad}3.0x the top example's 0.300"),
                format!("{pad}256 steps · seed 7"),
                String::new(),
            ]
        );
        // Without a positive top example, no ratio; a panel too small draws no picture.
        let mut lines = Vec::new();
        assert_eq!(unit_lines(&found, Some(-1.0), Rect::new(0, 0, 40, 3), &mut lines), None);
        assert!(!lines.iter().any(|l| l.to_string().contains("top example")));
        let mut lines = Vec::new();
        assert_eq!(unit_lines(&Lookup::NoCache, None, inner, &mut lines), None);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].to_string().starts_with("no feature visualization (outputs.feature_visualization)"));
    }
}
