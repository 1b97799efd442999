//! Progress of long runs (imports, generators): a bar on a terminal, else a line in the log
//! every ten seconds, so a run in a CI log or behind `nohup` says how far it got.

use std::time::{Duration, Instant};

/// A progress report over a known number of items.
pub struct Progress {
    bar: indicatif::ProgressBar,
    terminal: bool,
    what: &'static str,
    done: u64,
    total: u64,
    started: Instant,
    last_line: Instant,
}

/// Starts a report over `total` items called `what`.
pub fn bar(total: u64, what: &'static str) -> Progress {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = if terminal {
        let b = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({per_sec}, {eta} left)")
        {
            b.set_style(style);
        }
        b.set_message(what);
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let now = Instant::now();
    Progress { bar, terminal, what, done: 0, total, started: now, last_line: now }
}

impl Progress {
    /// Counts `n` more items done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        self.bar.inc(n);
        if !self.terminal && self.last_line.elapsed() >= Duration::from_secs(10) {
            self.last_line = Instant::now();
            let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            tracing::info!(
                done = self.done,
                total = self.total,
                per_second = rate.round(),
                "{} in progress",
                self.what
            );
        }
    }

    /// Ends the report.
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}
