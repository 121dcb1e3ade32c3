//! Progress of a long run on stderr: rows done, rows per second and, where the total is known
//! (Parquet), the share done and the time left. On a terminal one line redrawn a few times a
//! second; otherwise (a log) one line every ten seconds.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    total: Option<u64>,
    started: Instant,
    last: Instant,
    every: Duration,
    terminal: bool,
    quiet: bool,
    drawn: bool,
}

impl Progress {
    pub fn new(total: Option<u64>, quiet: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let every = if terminal { Duration::from_millis(200) } else { Duration::from_secs(10) };
        let now = Instant::now();
        Progress { total, started: now, last: now, every, terminal, quiet, drawn: false }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Reports `done` rows, unless the last report was too recent.
    pub fn update(&mut self, done: u64) {
        if self.quiet || self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        let line = self.line(done);
        let mut stderr = std::io::stderr().lock();
        let _ = if self.terminal { write!(stderr, "\r{line}\x1b[K") } else { writeln!(stderr, "{line}") };
        self.drawn = true;
    }

    /// Ends the redrawn line, if one was drawn.
    pub fn finish(&mut self) {
        if self.terminal && self.drawn && !self.quiet {
            let _ = writeln!(std::io::stderr());
        }
    }

    fn line(&self, done: u64) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / seconds.max(1e-9);
        let mut line = format!("scored {done} rows, {}", per_second(rate));
        if let Some(total) = self.total.filter(|&t| t > 0) {
            let left = total.saturating_sub(done) as f64 / rate.max(1e-9);
            line.push_str(&format!(
                ", {:.1}% of {total}, about {:.0} s left",
                100.0 * done as f64 / total as f64,
                left
            ));
        }
        line
    }
}

pub fn per_second(rate: f64) -> String {
    if rate >= 1e6 { format!("{:.2} M rows/s", rate / 1e6) } else { format!("{:.0} rows/s", rate) }
}
