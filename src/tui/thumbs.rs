//! Thumbnails of evidence stimuli, drawn with Unicode half blocks (two pixels per cell, the
//! upper as foreground and the lower as background colour), which every colour terminal shows.
//! Stimuli are found through the run's stimulus table (the report names its run folders) and
//! made again from their stored content (image files decoded, rendered text and typographic
//! composites redrawn) on a worker thread, so the UI never waits on the disk or the decoder.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use crate::stimuli::Content;

/// An image as rows of (upper, lower) pixel pairs.
type Cells = Vec<Vec<([u8; 3], [u8; 3])>>;

/// A decoded thumbnail: its half-block cells and its pixels (at most 128 a side) for
/// terminals with a graphics protocol.
pub struct Thumb {
    cells: Cells,
    /// The image, shrunk.
    pub image: image::RgbImage,
}

/// Largest side of the pixels kept for graphics protocols.
const PIXELS: u32 = 128;

/// Where a thumbnail sits among the lines [`Thumbnails::lines`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Spot {
    /// Stimulus id.
    pub id: String,
    /// First column (from the start of the lines).
    pub column: u16,
    /// Width in cells.
    pub width: u16,
    /// Height in lines.
    pub rows: u16,
}

/// The thumbnail cache and its worker.
#[derive(Default)]
pub struct Thumbnails {
    ask: Option<Sender<(String, u16)>>,
    done: Option<Receiver<(String, Option<Thumb>)>>,
    ready: HashMap<String, Option<Thumb>>,
    asked: HashSet<String>,
}

impl Thumbnails {
    /// Starts the worker over the run folders.
    pub fn start(&mut self, runs: Vec<PathBuf>) {
        let (ask_tx, ask_rx) = channel::<(String, u16)>();
        let (done_tx, done_rx) = channel();
        std::thread::spawn(move || {
            // The stimulus table: id -> content (prompts have no image to show).
            let contents: HashMap<String, Content> = crate::run::store::read_image_contents(&runs).unwrap_or_default();
            for (id, width) in ask_rx {
                let thumb = contents.get(&id).and_then(|c| c.image().ok().flatten()).map(|(img, _)| Thumb {
                    cells: cells(&img, width),
                    image: image::imageops::thumbnail(&img, PIXELS.min(img.width()), PIXELS.min(img.height())),
                });
                if done_tx.send((id, thumb)).is_err() {
                    break;
                }
            }
        });
        self.ask = Some(ask_tx);
        self.done = Some(done_rx);
    }

    fn drain(&mut self) {
        if let Some(rx) = &self.done {
            while let Ok((id, cells)) = rx.try_recv() {
                self.ready.insert(id, cells);
            }
        }
    }

    /// Waits until every asked thumbnail is in, or the timeout.
    pub fn wait(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end && self.asked.iter().any(|id| !self.ready.contains_key(id)) {
            if let Some(rx) = &self.done
                && let Ok((id, cells)) = rx.recv_timeout(Duration::from_millis(20))
            {
                self.ready.insert(id, cells);
            }
        }
    }

    /// The pixels of a decoded thumbnail.
    pub fn image(&self, id: &str) -> Option<&image::RgbImage> {
        self.ready.get(id)?.as_ref().map(|t| &t.image)
    }

    /// Lines showing the thumbnails of `ids` side by side, `width` cells each, and where each
    /// one sits; asks the worker for those it has not decoded yet. Empty without a worker or
    /// images.
    pub fn lines(&mut self, ids: &[String], width: u16) -> (Vec<Line<'static>>, Vec<Spot>) {
        if self.ask.is_none() {
            return (Vec::new(), Vec::new());
        }
        self.drain();
        for id in ids {
            if self.asked.insert(id.clone())
                && let Some(tx) = &self.ask
            {
                let _ = tx.send((id.clone(), width));
            }
        }
        let shown: Vec<(&String, &Cells)> =
            ids.iter().filter_map(|id| Some((id, &self.ready.get(id)?.as_ref()?.cells))).collect();
        let mut spots = Vec::new();
        let mut column = 0u16;
        for (id, cells) in &shown {
            let w = cells.first().map_or(0, Vec::len) as u16;
            spots.push(Spot { id: (*id).clone(), column, width: w, rows: cells.len() as u16 });
            column += w + 1;
        }
        let shown: Vec<&Cells> = shown.into_iter().map(|x| x.1).collect();
        let rows = shown.iter().map(|c| c.len()).max().unwrap_or(0);
        let lines = (0..rows)
            .map(|r| {
                let mut spans = Vec::new();
                for cells in &shown {
                    match cells.get(r) {
                        Some(row) => {
                            for &(top, bottom) in row {
                                spans.push(Span::styled("▀", Style::new().fg(rgb(top)).bg(rgb(bottom))));
                            }
                        }
                        // A shorter thumbnail: blank cells keep the next one in its column.
                        None => spans.push(Span::raw(" ".repeat(cells.first().map_or(0, Vec::len)))),
                    }
                    spans.push(Span::raw(" "));
                }
                Line::from(spans)
            })
            .collect();
        (lines, spots)
    }
}

fn rgb(p: [u8; 3]) -> Color {
    Color::Rgb(p[0], p[1], p[2])
}

/// Shrinks an image to `width` cells (and as many half-block rows as keep its shape).
fn cells(img: &image::RgbImage, width: u16) -> Cells {
    let w = u32::from(width.max(1));
    let h = ((img.height() as f64 / img.width().max(1) as f64) * f64::from(w)).round().max(2.0) as u32;
    let small = image::imageops::thumbnail(img, w, h + h % 2);
    let rows = small.height() / 2;
    (0..rows)
        .map(|r| (0..small.width()).map(|x| (small.get_pixel(x, 2 * r).0, small.get_pixel(x, 2 * r + 1).0)).collect())
        .collect()
}
