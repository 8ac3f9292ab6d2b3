//! Thumbnails of evidence stimuli. Stimuli are found through the run's stimulus table (the
//! report names its run folders) and made again from their stored content (image files
//! decoded, rendered text and typographic composites redrawn) on a worker thread, which also
//! scales and encodes them for the terminal's protocol ([`super::graphics`]), so the UI never
//! waits on the disk, the decoder or an encoder: it draws what has arrived.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use ratatui::layout::Size;
use ratatui_image::protocol::Protocol as Encoded;

use super::graphics::Graphics;
use crate::stimuli::Content;

/// Where a thumbnail sits in a row of them ([`Thumbnails::row`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Spot {
    /// Stimulus id.
    pub id: String,
    /// First column (from the start of the row).
    pub column: u16,
    /// Its size in cells.
    pub size: Size,
}

/// The thumbnail cache and its worker.
#[derive(Default)]
pub struct Thumbnails {
    ask: Option<Sender<(String, u16)>>,
    done: Option<Receiver<(String, Option<Encoded>)>>,
    /// Each id's thumbnail, or `None` when it has no image.
    ready: HashMap<String, Option<Encoded>>,
    asked: HashSet<String>,
}

impl Thumbnails {
    /// Starts the worker over the run folders, encoding for `graphics`.
    pub fn start(&mut self, runs: Vec<PathBuf>, graphics: Graphics) {
        let (ask_tx, ask_rx) = channel::<(String, u16)>();
        let (done_tx, done_rx) = channel();
        std::thread::spawn(move || {
            // The stimulus table: id -> content (prompts have no image to show).
            let contents: HashMap<String, Content> = crate::run::store::read_image_contents(&runs).unwrap_or_default();
            for (id, width) in ask_rx {
                let thumb = contents
                    .get(&id)
                    .and_then(|c| c.image().ok().flatten())
                    .and_then(|(img, _)| graphics.thumbnail(image::DynamicImage::ImageRgb8(img), width));
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
            while let Ok((id, thumb)) = rx.try_recv() {
                self.ready.insert(id, thumb);
            }
        }
    }

    /// Waits until every asked thumbnail is in, or the timeout.
    pub fn wait(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end && self.asked.iter().any(|id| !self.ready.contains_key(id)) {
            if let Some(rx) = &self.done
                && let Ok((id, thumb)) = rx.recv_timeout(Duration::from_millis(20))
            {
                self.ready.insert(id, thumb);
            }
        }
    }

    /// A thumbnail that has arrived, encoded for the terminal.
    pub fn get(&self, id: &str) -> Option<&Encoded> {
        self.ready.get(id)?.as_ref()
    }

    /// The thumbnails of `ids` that have arrived, side by side `width` cells wide with a
    /// blank column between them; asks the worker for those it has not been asked for yet.
    /// Empty without a worker or images.
    pub fn row(&mut self, ids: &[String], width: u16) -> Vec<Spot> {
        if self.ask.is_none() {
            return Vec::new();
        }
        self.drain();
        for id in ids {
            if self.asked.insert(id.clone())
                && let Some(tx) = &self.ask
            {
                let _ = tx.send((id.clone(), width));
            }
        }
        let mut column = 0u16;
        let mut spots = Vec::new();
        for id in ids {
            if let Some(thumb) = self.get(id) {
                let size = thumb.size();
                spots.push(Spot { id: id.clone(), column, size });
                column = column.saturating_add(size.width + 1);
            }
        }
        spots
    }
}
