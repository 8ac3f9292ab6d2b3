//! Progress of a run: a bar with stimuli per second and time left on a terminal, a plain
//! line every few seconds otherwise (CI logs), nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Nothing.
    Quiet,
}

/// A progress reporter for one phase.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<(Instant, Instant)>,
    label: String,
    total: u64,
    done: u64,
}

impl Progress {
    /// Starts reporting `total` items of `label`.
    pub fn new(mode: ProgressMode, label: &str, total: u64) -> Self {
        let (bar, plain) = match mode {
            ProgressMode::Quiet => (None, None),
            ProgressMode::Auto if std::io::stderr().is_terminal() => {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template("{msg:>8} [{bar:36}] {pos}/{len} {per_sec} eta {eta}")
                        .expect("static template")
                        .progress_chars("=> "),
                );
                bar.set_message(label.to_owned());
                (Some(bar), None)
            }
            ProgressMode::Auto => (None, Some((Instant::now(), Instant::now()))),
        };
        Self { bar, plain, label: label.to_owned(), total, done: 0 }
    }

    /// Records `n` more items done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some((start, last)) = &mut self.plain
            && last.elapsed() >= Duration::from_secs(5)
        {
            *last = Instant::now();
            let rate = self.done as f64 / start.elapsed().as_secs_f64().max(1e-9);
            let left = (self.total.saturating_sub(self.done)) as f64 / rate.max(1e-9);
            eprintln!("{}: {}/{} ({rate:.1}/s, {} left)", self.label, self.done, self.total, human(left));
        }
    }

    /// Ends the phase.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Seconds as `1h02m`, `3m05s` or `12s`.
pub fn human(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
