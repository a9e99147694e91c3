//! Picture quality for slow links: what the viewer asks the customer's
//! server to send (RFB SetEncodings with the Tight QualityLevel and
//! CompressLevel pseudo-encodings).
//!
//! | level | encodings | JPEG (QualityLevel) | CompressLevel |
//! |---|---|---|---|
//! | `lossless` | our default order (CopyRect, Tight, ZRLE, …) | none: pixel-exact | 2 |
//! | `high` | same, Tight first | 8 | 2 |
//! | `medium` | same, Tight first | 5 | 6 |
//! | `low` | same, Tight first | 2 | 9 |
//! | `auto` | starts lossless, see below | | |
//!
//! Without a QualityLevel a server must not use lossy JPEG, so `lossless`
//! gives exactly the customer's pixels. With one, Tight servers (Remoto,
//! TigerVNC, x11vnc) send photo-like areas as JPEG.
//!
//! # `auto`
//!
//! Kept deliberately simple: the session starts lossless and measures the
//! first full-screen update — bytes received from the end of the handshake
//! to the first complete update, divided by the time it took. Below
//! [`AUTO_SLOW_BYTES_PER_SEC`] (1 MB/s, about 8 Mbit/s) the link is slow
//! and the session switches once to `medium` (JPEG); otherwise it stays
//! lossless. A first update smaller than [`AUTO_MIN_SAMPLE`] says nothing
//! about the link, and the next updates are measured instead. The
//! technician can always change the level by hand during the session
//! (window: Ctrl+Alt+Shift+L cycles; headless: `quality N LEVEL`).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rfb::ClientConfig;
use rfb::encoding::id;

/// Below this measured throughput `auto` turns JPEG on.
pub const AUTO_SLOW_BYTES_PER_SEC: f64 = 1_000_000.0;
/// An update must carry at least this many bytes to measure the link.
pub const AUTO_MIN_SAMPLE: u64 = 64 * 1024;

/// A quality setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quality {
    /// Lossless, switching to JPEG when the link measures slow.
    #[default]
    Auto,
    /// Pixel-exact.
    Lossless,
    /// JPEG quality level 8.
    High,
    /// JPEG quality level 5, more compression.
    Medium,
    /// JPEG quality level 2, most compression.
    Low,
}

/// A quality name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quality {0:?} (auto, lossless, high, medium, low)")]
pub struct QualityError(pub String);

impl FromStr for Quality {
    type Err = QualityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Quality::Auto),
            "lossless" => Ok(Quality::Lossless),
            "high" => Ok(Quality::High),
            "medium" => Ok(Quality::Medium),
            "low" => Ok(Quality::Low),
            _ => Err(QualityError(s.to_string())),
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quality::Auto => "auto",
            Quality::Lossless => "lossless",
            Quality::High => "high",
            Quality::Medium => "medium",
            Quality::Low => "low",
        })
    }
}

impl Quality {
    /// The next level in the window's cycle: auto → lossless → high →
    /// medium → low → auto.
    pub fn next(self) -> Quality {
        match self {
            Quality::Auto => Quality::Lossless,
            Quality::Lossless => Quality::High,
            Quality::High => Quality::Medium,
            Quality::Medium => Quality::Low,
            Quality::Low => Quality::Auto,
        }
    }

    /// `(QualityLevel, CompressLevel)` announced for this level (`auto`
    /// starts as lossless).
    pub fn levels(self) -> (Option<u8>, u8) {
        match self {
            Quality::Auto | Quality::Lossless => (None, 2),
            Quality::High => (Some(8), 2),
            Quality::Medium => (Some(5), 6),
            Quality::Low => (Some(2), 9),
        }
    }

    /// The client configuration for this level: our default encodings
    /// (Tight moved first when JPEG is wanted) and the level pseudo-encodings.
    pub fn client_config(self) -> ClientConfig {
        let mut cfg = ClientConfig::default();
        let (q, c) = self.levels();
        cfg.quality_level = q;
        cfg.compress_level = Some(c);
        if q.is_some()
            && let Some(pos) = cfg.encodings.iter().position(|&e| e == id::TIGHT)
        {
            let tight = cfg.encodings.remove(pos);
            // After CopyRect (cheap and exact), before everything else.
            let at = usize::from(cfg.encodings.first() == Some(&id::COPY_RECT));
            cfg.encodings.insert(at, tight);
        }
        cfg
    }

    /// The SetEncodings list for this level.
    pub fn encodings(self) -> Vec<i32> {
        self.client_config().effective_encodings()
    }
}

/// The `auto` decision: feed it the bytes received and the updates; it
/// answers once with the level to switch to.
#[derive(Debug, Clone)]
pub struct AutoQuality {
    since: Option<Instant>,
    bytes: u64,
    decided: bool,
}

impl AutoQuality {
    /// A fresh measurement (call [`AutoQuality::start`] when the handshake ends).
    pub fn new() -> Self {
        AutoQuality {
            since: None,
            bytes: 0,
            decided: false,
        }
    }

    /// The handshake finished at `now`: measuring starts.
    pub fn start(&mut self, now: Instant) {
        self.since = Some(now);
        self.bytes = 0;
    }

    /// `n` bytes arrived from the customer.
    pub fn bytes(&mut self, n: u64) {
        if self.since.is_some() && !self.decided {
            self.bytes = self.bytes.saturating_add(n);
        }
    }

    /// An update completed at `now`: `Some(level)` once, when enough was
    /// measured (`Medium` on a slow link, `Lossless` otherwise).
    pub fn update(&mut self, now: Instant) -> Option<Quality> {
        let since = self.since?;
        if self.decided || self.bytes < AUTO_MIN_SAMPLE {
            return None;
        }
        self.decided = true;
        let secs = now
            .saturating_duration_since(since)
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let rate = self.bytes as f64 / secs;
        Some(if rate < AUTO_SLOW_BYTES_PER_SEC {
            Quality::Medium
        } else {
            Quality::Lossless
        })
    }
}

impl Default for AutoQuality {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_cycle() {
        for q in [
            Quality::Auto,
            Quality::Lossless,
            Quality::High,
            Quality::Medium,
            Quality::Low,
        ] {
            assert_eq!(q.to_string().parse::<Quality>(), Ok(q));
        }
        assert!("ultra".parse::<Quality>().is_err());
        let mut q = Quality::Auto;
        for _ in 0..5 {
            q = q.next();
        }
        assert_eq!(q, Quality::Auto);
    }

    #[test]
    fn lossless_has_no_quality_level_and_low_puts_tight_first() {
        let lossless = Quality::Lossless.encodings();
        assert!(
            !lossless
                .iter()
                .any(|&e| (id::QUALITY_LEVEL_0..id::QUALITY_LEVEL_0 + 10).contains(&e))
        );
        let low = Quality::Low.encodings();
        assert!(low.contains(&(id::QUALITY_LEVEL_0 + 2)));
        assert!(low.contains(&(id::COMPRESS_LEVEL_0 + 9)));
        let tight = low.iter().position(|&e| e == id::TIGHT).expect("tight");
        let zrle = low.iter().position(|&e| e == id::ZRLE);
        assert!(zrle.is_none_or(|z| tight < z), "{low:?}");
    }

    #[test]
    fn auto_switches_on_slow_links_only() {
        let t = Instant::now();
        let mut slow = AutoQuality::new();
        slow.start(t);
        slow.bytes(100_000);
        assert_eq!(
            slow.update(t + Duration::from_secs(1)),
            Some(Quality::Medium)
        );
        assert_eq!(
            slow.update(t + Duration::from_secs(2)),
            None,
            "decides once"
        );

        let mut fast = AutoQuality::new();
        fast.start(t);
        fast.bytes(10_000);
        assert_eq!(fast.update(t + Duration::from_millis(5)), None, "too small");
        fast.bytes(2_000_000);
        assert_eq!(
            fast.update(t + Duration::from_millis(50)),
            Some(Quality::Lossless)
        );
    }
}
