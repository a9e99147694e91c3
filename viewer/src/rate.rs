//! Bytes-per-second figures for the session window's status bar.

use std::time::{Duration, Instant};

/// Turns two growing byte counters (received, sent) into per-second rates,
/// measured over the interval between two [`RateMeter::sample`] calls.
#[derive(Debug, Clone)]
pub struct RateMeter {
    at: Instant,
    received: u64,
    sent: u64,
    rates: (u64, u64),
}

impl RateMeter {
    /// A meter whose first interval starts at `now` with the given totals.
    pub fn new(now: Instant, received: u64, sent: u64) -> Self {
        Self {
            at: now,
            received,
            sent,
            rates: (0, 0),
        }
    }

    /// Takes the totals at `now`; returns the new (received, sent) rates
    /// when they differ from the last ones shown, `None` otherwise (also
    /// when less than a tenth of a second has passed).
    pub fn sample(&mut self, now: Instant, received: u64, sent: u64) -> Option<(u64, u64)> {
        let elapsed = now.saturating_duration_since(self.at);
        if elapsed < Duration::from_millis(100) {
            return None;
        }
        let per_second = |now_total: u64, then: u64| {
            let bytes = u128::from(now_total.saturating_sub(then));
            u64::try_from(bytes * 1000 / elapsed.as_millis().max(1)).unwrap_or(u64::MAX)
        };
        let rates = (
            per_second(received, self.received),
            per_second(sent, self.sent),
        );
        self.at = now;
        self.received = received;
        self.sent = sent;
        if rates == self.rates {
            return None;
        }
        self.rates = rates;
        Some(rates)
    }

    /// The last (received, sent) rates.
    pub fn rates(&self) -> (u64, u64) {
        self.rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_counters() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(t0, 1000, 50);
        // Too soon: nothing.
        assert_eq!(m.sample(t0 + Duration::from_millis(10), 9_000, 60), None);
        // 2 s, 200 kB in, 400 B out.
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(m.sample(t1, 201_000, 450), Some((100_000, 200)));
        assert_eq!(m.rates(), (100_000, 200));
        // Same rates again: no redraw needed.
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(m.sample(t2, 301_000, 650), None);
        // Idle: back to zero, once.
        let t3 = t2 + Duration::from_secs(1);
        assert_eq!(m.sample(t3, 301_000, 650), Some((0, 0)));
        assert_eq!(m.sample(t3 + Duration::from_secs(1), 301_000, 650), None);
        // A counter that went backwards (never expected) reads as zero.
        assert_eq!(
            m.sample(t3 + Duration::from_secs(2), 0, 650),
            None,
            "backwards counter must not produce a huge rate"
        );
    }
}
