//! Transfers judged by progress, not by their total time: a transfer fails when it moves less than
//! [`MIN_RATE`] for a whole stall period (nothing at all, or a trickle), never because it is long.
//!
//! [`Progress`] counts the bytes of one attempt in windows of the stall period. A window that moved
//! enough earns the transfer another window; one that did not is a stall. The first window of a
//! retry ends at the command's deadline when that is nearer: a retry must show life within the
//! `--timeout` budget, and a progressing transfer is never cut by it.

use std::time::{Duration, Instant};

/// The least average rate that counts as progress (bytes per second). One byte every few
/// seconds keeps a connection open but will never finish a session: that is a stall too.
pub(crate) const MIN_RATE: u64 = 1024;

/// Kernel buffers (ours and the receiver's) may hold this much of an upload that the body stream
/// already handed over: measured up to 8 MiB on Linux loopback.
const BUFFERED_AT_MOST: u64 = 16 << 20;
/// The rate assumed for draining those buffers when the attempt measured none (the whole body
/// went into buffers at once): a poor home uplink, 2 Mbit/s.
const DRAIN_RATE_FLOOR: u64 = 250_000;

/// The progress of one transfer attempt.
#[derive(Debug)]
pub(crate) struct Progress {
    period: Duration,
    started: Instant,
    window_start: Instant,
    window_end: Instant,
    window_bytes: u64,
    /// Bytes moved in this attempt.
    pub(crate) moved: u64,
    /// End of the last window that showed progress (what the budget is credited with).
    last_progress: Instant,
    /// Bytes moved by the end of the first window: the burst that filled kernel buffers.
    first_window: Option<(Instant, u64)>,
}

impl Progress {
    /// `budget_end`: the command's deadline, for a retry (its first window ends there if nearer;
    /// at least one second is given).
    pub(crate) fn new(period: Duration, budget_end: Option<Instant>) -> Self {
        let now = Instant::now();
        let mut window_end = now + period;
        if let Some(end) = budget_end {
            window_end = window_end.min(end.max(now + Duration::from_secs(1)));
        }
        Progress {
            period,
            started: now,
            window_start: now,
            window_end,
            window_bytes: 0,
            moved: 0,
            last_progress: now,
            first_window: None,
        }
    }

    /// When the current window closes.
    pub(crate) fn window_end(&self) -> Instant {
        self.window_end
    }

    /// Records `n` bytes moved. `false` when a window closed in between without enough progress.
    pub(crate) fn add(&mut self, n: u64) -> bool {
        let alive = Instant::now() < self.window_end || self.close_window();
        self.window_bytes += n;
        self.moved += n;
        alive
    }

    /// Closes the current window (its end has come): `true` and a new window when it moved at
    /// least [`MIN_RATE`] on average, `false` when it is a stall.
    pub(crate) fn close_window(&mut self) -> bool {
        let length = self.window_end.saturating_duration_since(self.window_start);
        let needed = (MIN_RATE as f64 * length.as_secs_f64()).ceil() as u64;
        if self.window_bytes < needed.max(1) {
            return false;
        }
        self.last_progress = self.window_end;
        self.first_window
            .get_or_insert((self.window_end, self.moved));
        self.window_start = self.window_end;
        self.window_end = self.window_start.max(Instant::now()) + self.period;
        self.window_bytes = 0;
        true
    }

    /// The time this attempt spent making progress: it does not count against `--timeout`.
    pub(crate) fn active(&self) -> Duration {
        self.last_progress.saturating_duration_since(self.started)
    }

    /// How long to wait for the answer once the whole upload body was handed over: a stall
    /// period, plus the time the bytes still in kernel buffers need at the rate seen so far.
    /// The rate is the one seen after the first window (whose burst only filled buffers).
    pub(crate) fn answer_wait_after_body(&self, period: Duration) -> Duration {
        let steady = self.first_window.and_then(|(at, moved)| {
            let secs = at.elapsed().as_secs_f64();
            (secs > 0.5 && self.moved > moved).then(|| (self.moved - moved) as f64 / secs)
        });
        let rate = steady
            .unwrap_or(DRAIN_RATE_FLOOR as f64)
            .max(MIN_RATE as f64);
        let buffered = self.moved.min(BUFFERED_AT_MOST);
        period + Duration::from_secs_f64(buffered as f64 / rate)
    }
}

/// `1.5 MiB`, `300 KiB`, `12 bytes`.
pub(crate) fn say_bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f >= KIB * KIB {
        format!("{:.1} MiB", f / KIB / KIB)
    } else if f >= KIB {
        format!("{:.0} KiB", f / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_with_enough_bytes_earns_another() {
        let mut p = Progress::new(Duration::from_millis(50), None);
        assert!(p.add(MIN_RATE));
        std::thread::sleep(Duration::from_millis(60));
        assert!(p.close_window());
        assert!(p.active() >= Duration::from_millis(50));
        // A trickle: one byte in the next window.
        assert!(p.add(1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!p.close_window());
    }

    #[test]
    fn a_retry_must_show_life_before_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(1500);
        let p = Progress::new(Duration::from_secs(10), Some(deadline));
        assert!(p.window_end() <= deadline);
        let late = Progress::new(Duration::from_secs(10), Some(Instant::now()));
        assert!(late.window_end() >= Instant::now() + Duration::from_millis(900));
    }

    #[test]
    fn bytes_are_said_in_units() {
        assert_eq!(say_bytes(12), "12 bytes");
        assert_eq!(say_bytes(300 * 1024), "300 KiB");
        assert_eq!(say_bytes(12 << 20), "12.0 MiB");
    }
}
