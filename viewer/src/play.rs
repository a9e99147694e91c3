//! `viewer play FILE.fbs`: replays a recording at its recorded pace
//! (times `--speed`), in a session window or headless.
//!
//! In the window (the same window as a live session, see
//! [`crate::window`]): Space pauses and resumes, Left / Right seek 10 s
//! back / forward, `+` / `-` double / halve the speed; closing the window
//! ends the program. The status bar shows the state, the position and the
//! speed.
//!
//! Headless (`--headless`): the recording is replayed at the same pace
//! without a window; JSON lines tell the progress (`{"event":"play",…}`
//! once the picture exists, `{"event":"end","at_ms":…}` at the end), and
//! with `--snapshot-dir DIR` the final picture is written as
//! `DIR/play.png`.
//!
//! Seeking back replays the file from the start without waiting (the RFB
//! stream can only be decoded from its beginning); seeking forward applies
//! the blocks up to the target at once.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use rfb::{Framebuffer, Rect};

use crate::headless::write_snapshot;
use crate::recording::{Block, FbsReader, RecordingError, ReplayClient, replay_client};
use crate::window::{SessionInput, SessionStatus, SharedFramebuffer, WindowHandle, WindowInput};

/// X keysyms of the arrow keys.
const XK_LEFT: u32 = 0xff51;
const XK_RIGHT: u32 = 0xff53;
/// How far the arrow keys seek.
pub const SEEK_STEP_MS: u32 = 10_000;
/// The window is refreshed at most this often.
const FRAME_EVERY: Duration = Duration::from_millis(40);
/// Slowest and fastest speed.
const SPEED_RANGE: (f64, f64) = (1.0 / 64.0, 1024.0);

/// What `viewer play` does.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// The recording.
    pub file: PathBuf,
    /// Playback speed (1 = recorded pace).
    pub speed: f64,
    /// Headless: write the final picture here as `play.png`.
    pub snapshot_dir: Option<PathBuf>,
}

/// Checks a `--speed` value.
pub fn check_speed(speed: f64) -> Result<f64, String> {
    if speed.is_finite() && (SPEED_RANGE.0..=SPEED_RANGE.1).contains(&speed) {
        Ok(speed)
    } else {
        Err(format!(
            "--speed must be between {} and {}",
            SPEED_RANGE.0, SPEED_RANGE.1
        ))
    }
}

/// A recording being decoded: the reader, the client and the position.
struct Decoder {
    path: PathBuf,
    reader: FbsReader<BufReader<File>>,
    client: rfb::ClientSession,
    position_ms: u32,
    next: Option<Block>,
}

impl Decoder {
    fn open(path: &Path) -> Result<Self, RecordingError> {
        let mut reader = FbsReader::open(path)?;
        let next = reader.next_block()?;
        Ok(Decoder {
            path: path.to_owned(),
            reader,
            client: replay_client(rfb::ClientConfig::default()),
            position_ms: 0,
            next,
        })
    }

    /// The timestamp of the next block (never before the position).
    fn next_at(&self) -> Option<u32> {
        self.next
            .as_ref()
            .map(|b| b.timestamp_ms.max(self.position_ms))
    }

    /// Applies the next block.
    fn step(&mut self) -> Result<bool, RecordingError> {
        let Some(block) = self.next.take() else {
            return Ok(false);
        };
        let at = block.timestamp_ms.max(self.position_ms);
        self.client
            .replay(&block.data)
            .map_err(|message| RecordingError::Replay { at_ms: at, message })?;
        self.position_ms = at;
        self.next = self.reader.next_block()?;
        Ok(true)
    }

    /// Applies every block up to `target_ms` (re-reading from the start
    /// when the target is behind).
    fn seek(&mut self, target_ms: u32) -> Result<(), RecordingError> {
        if target_ms < self.position_ms {
            *self = Decoder::open(&self.path.clone())?;
        }
        while self.next_at().is_some_and(|t| t <= target_ms) {
            self.step()?;
        }
        self.position_ms = self.position_ms.max(target_ms.min(self.last_known()));
        Ok(())
    }

    fn last_known(&self) -> u32 {
        self.next_at().unwrap_or(self.position_ms)
    }

    fn framebuffer(&self) -> Option<&Framebuffer> {
        self.client.replay_framebuffer()
    }
}

/// The recorded clock: maps recording time to wall time at a speed,
/// pausable.
struct Clock {
    /// Wall time at which recording time `base_ms` was (or is) shown.
    anchor: Instant,
    base_ms: u32,
    speed: f64,
    paused: bool,
}

impl Clock {
    fn new(speed: f64) -> Self {
        Clock {
            anchor: Instant::now(),
            base_ms: 0,
            speed,
            paused: false,
        }
    }

    /// The recording time now.
    fn now_ms(&self) -> u32 {
        if self.paused {
            return self.base_ms;
        }
        let ms = self.anchor.elapsed().as_secs_f64() * 1000.0 * self.speed;
        self.base_ms
            .saturating_add(ms.min(f64::from(u32::MAX)) as u32)
    }

    /// Restarts the clock at recording time `ms`.
    fn set(&mut self, ms: u32) {
        self.base_ms = ms;
        self.anchor = Instant::now();
    }

    /// The wall time until recording time `ms` (zero when due).
    fn until(&self, ms: u32) -> Duration {
        let now = self.now_ms();
        if ms <= now {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(f64::from(ms - now) / 1000.0 / self.speed)
    }
}

fn clock_text(ms: u32) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// Plays headless: at the recorded pace times `speed`, JSON progress on
/// stdout, the final picture in `snapshot_dir/play.png`.
pub fn play_headless(opts: &PlayOptions) -> Result<(), RecordingError> {
    let mut dec = Decoder::open(&opts.file)?;
    let clock = Clock::new(opts.speed);
    let mut announced = false;
    let mut out = std::io::stdout();
    while let Some(at) = dec.next_at() {
        std::thread::sleep(clock.until(at));
        dec.step()?;
        if !announced && let Some(fb) = dec.framebuffer() {
            announced = true;
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"event": "play", "width": fb.width(), "height": fb.height()})
            );
        }
    }
    let fb = dec.framebuffer().ok_or(RecordingError::NoFrame)?;
    if let Some(dir) = &opts.snapshot_dir {
        std::fs::create_dir_all(dir).map_err(|source| RecordingError::Io {
            path: dir.clone(),
            source,
        })?;
        write_snapshot(fb, &dir.join("play.png"))?;
    }
    let _ = writeln!(
        out,
        "{}",
        serde_json::json!({"event": "end", "at_ms": dec.position_ms})
    );
    let _ = out.flush();
    Ok(())
}

/// What the player thread is told by the window.
fn control(
    input: WindowInput,
    dec: &mut Decoder,
    clock: &mut Clock,
) -> Result<bool, RecordingError> {
    match input {
        WindowInput::Closed => return Ok(false),
        WindowInput::Key { keysym, down: true } => match keysym {
            0x20 => {
                let now = clock.now_ms();
                clock.paused = !clock.paused;
                clock.set(now);
            }
            XK_LEFT | XK_RIGHT => {
                let now = clock.now_ms().max(dec.position_ms);
                let target = if keysym == XK_LEFT {
                    now.saturating_sub(SEEK_STEP_MS)
                } else {
                    now.saturating_add(SEEK_STEP_MS)
                };
                dec.seek(target)?;
                clock.set(dec.position_ms);
            }
            0x2b | 0x3d | 0xffab => {
                let now = clock.now_ms();
                clock.speed = (clock.speed * 2.0).min(SPEED_RANGE.1);
                clock.set(now);
            }
            0x2d | 0xffad => {
                let now = clock.now_ms();
                clock.speed = (clock.speed / 2.0).max(SPEED_RANGE.0);
                clock.set(now);
            }
            _ => {}
        },
        _ => {}
    }
    Ok(true)
}

/// Plays in a session window: runs on its own thread, driving the window
/// through `window` and reading what the technician does from `inputs`.
/// Returns when the window is closed (the end of the recording keeps the
/// last picture on screen).
pub fn play_window(
    opts: &PlayOptions,
    window: &WindowHandle,
    inputs: &mpsc::Receiver<SessionInput>,
) -> Result<(), RecordingError> {
    const ID: u64 = 1;
    let title = format!(
        "viewer play — {}",
        opts.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut dec = Decoder::open(&opts.file)?;
    let mut clock = Clock::new(opts.speed);
    let mut shared: Option<SharedFramebuffer> = None;
    let mut last_frame = Instant::now() - FRAME_EVERY;
    let mut dirty = false;
    let mut last_status = None;
    loop {
        // The next thing to do: apply a due block, refresh, or wait.
        let due = if clock.paused { None } else { dec.next_at() };
        let wait = match due {
            Some(at) => clock.until(at),
            None => Duration::from_millis(200),
        };
        let wait = if dirty {
            wait.min(FRAME_EVERY.saturating_sub(last_frame.elapsed()))
        } else {
            wait
        };
        match inputs.recv_timeout(wait) {
            Ok(SessionInput { input, .. }) => {
                if !control(input, &mut dec, &mut clock)? {
                    return Ok(());
                }
                dirty = true;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(at) = due
            && clock.until(at).is_zero()
        {
            dec.step()?;
            dirty = true;
        }
        if dirty && last_frame.elapsed() >= FRAME_EVERY {
            let Some(fb) = dec.framebuffer() else {
                continue;
            };
            let full = Rect::new(0, 0, fb.width(), fb.height());
            match &shared {
                None => {
                    let s: SharedFramebuffer = Arc::new(Mutex::new(fb.clone()));
                    window
                        .open_session(ID, title.clone(), s.clone())
                        .map_err(|_| RecordingError::NoFrame)?;
                    shared = Some(s);
                }
                Some(s) => {
                    *s.lock().unwrap_or_else(|p| p.into_inner()) = fb.clone();
                    let _ = window.frame(ID, vec![full]);
                }
            }
            let state = if clock.paused {
                "paused"
            } else if dec.next_at().is_none() {
                "end of recording"
            } else {
                "playing"
            };
            let label = format!(
                "{state} {} · {}x · Space pause, ←/→ 10 s, +/− speed",
                clock_text(clock.now_ms().min(dec.last_known()).max(dec.position_ms)),
                clock.speed
            );
            if last_status.as_ref() != Some(&label) {
                let _ = window.session_state(
                    ID,
                    SessionStatus {
                        label: Some(label.clone()),
                        ..SessionStatus::default()
                    },
                );
                last_status = Some(label);
            }
            last_frame = Instant::now();
            dirty = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_are_checked() {
        assert!(check_speed(1.0).is_ok());
        assert!(check_speed(0.0).is_err());
        assert!(check_speed(f64::NAN).is_err());
        assert!(check_speed(1e9).is_err());
    }

    #[test]
    fn clock_pauses_and_scales() {
        let mut c = Clock::new(4.0);
        c.set(1_000);
        assert!(c.until(1_000).is_zero());
        let d = c.until(5_000);
        assert!(
            d <= Duration::from_secs(1) && d > Duration::from_millis(900),
            "{d:?}"
        );
        c.paused = true;
        c.set(2_000);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.now_ms(), 2_000);
        assert_eq!(clock_text(125_000), "02:05");
    }
}
