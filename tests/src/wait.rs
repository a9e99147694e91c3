//! Polling with deadlines: tests wait for a condition, never for a fixed time.

use std::time::{Duration, Instant};

/// The default deadline for anything a peer has to do (generous: the tests
/// run on loaded 2-core machines).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Polls `probe` until it returns `Some`, backing off from 20 ms to 250 ms;
/// returns `Err` with the elapsed time once `timeout` has passed.
pub fn poll_until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, Duration> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(start.elapsed());
        }
        std::thread::sleep(pause.min(timeout.saturating_sub(start.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Like [`poll_until`], but panics with "timed out waiting for `what`".
pub fn wait_for<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Option<T>) -> T {
    poll_until(timeout, probe)
        .unwrap_or_else(|waited| panic!("timed out after {waited:?} waiting for {what}"))
}

/// Async variant of [`poll_until`] for tokio tests (the probe must not block long).
pub async fn poll_until_async<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, Duration> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(start.elapsed());
        }
        tokio::time::sleep(pause.min(timeout.saturating_sub(start.elapsed()))).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
