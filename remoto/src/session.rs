//! The streaming engine: Remoto's RFB server side over any byte stream
//! (clear TCP or the secure channel's RFB stream).
//!
//! Three parts, each where it belongs:
//! - a **capture thread** owns the [`ScreenSource`]; it sleeps in the
//!   kernel until the screen changes (idle screen ⇒ no CPU), then tells the
//!   session that damage is pending — it captures pixels only when the
//!   session asks, i.e. when the client has asked for an update, so a slow
//!   link gets fewer, coalesced updates instead of a growing queue;
//! - an **input thread** owns the [`InputSink`]; technician input reaches it
//!   only while the customer allows control (else it is dropped and counted),
//!   and the customer's clipboard changes go to the technician only then too;
//! - the **session task** (async) runs [`rfb::server::ServerSession`]: bytes
//!   in, events out; it compares captured tiles with what the client already
//!   has, so unchanged tiles are never resent.

use crate::platform::{InputSink, PlatformError, ScreenSource};
use rfb::encoding::copyrect::CopyMove;
use rfb::pseudo::cursor::CursorShape;
use rfb::server::{ServerConfig, ServerEvent, ServerSession};
use rfb::{Framebuffer, Rect};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// Side of the square tiles compared against the last sent picture.
const TILE: u16 = 64;
/// How long the capture thread sleeps in the kernel before looking at requests.
const IDLE_WAIT: Duration = Duration::from_millis(40);

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed or closed.
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    /// The viewer broke the protocol.
    #[error("the viewer sent something invalid: {0}")]
    Protocol(#[from] rfb::server::ServerError),
    /// Screen capture or input injection failed.
    #[error("screen access failed: {0}")]
    Platform(#[from] PlatformError),
    /// The capture thread stopped.
    #[error("screen capture stopped")]
    CaptureStopped,
    /// The streaming task ended abnormally (a bug: it panicked).
    #[error("the screen streaming stopped unexpectedly: {0}")]
    EngineStopped(String),
}

/// How a session ended without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The viewer closed the connection.
    ViewerClosed,
    /// The customer pressed Close.
    CustomerClosed,
}

/// Figures of one session, for the receipt and the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Bytes sent to the viewer.
    pub bytes_sent: u64,
    /// Bytes received from the viewer.
    pub bytes_received: u64,
    /// Framebuffer updates sent.
    pub updates: u64,
    /// Input events applied (control allowed).
    pub input_applied: u64,
    /// Input events dropped because control was not allowed.
    pub input_dropped: u64,
}

/// What the session tells the rest of the program while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionNotice {
    /// The viewer finished the RFB handshake.
    ViewerReady,
    /// Input arrived while control is not allowed (count so far).
    InputDropped(u64),
}

/// Everything the engine needs.
pub struct EngineParts {
    /// The screen (moved to the capture thread).
    pub screen: Box<dyn ScreenSource>,
    /// Where technician input goes (moved to the input thread).
    pub input: Box<dyn InputSink>,
    /// Desktop name announced to the viewer.
    pub name: String,
    /// Whether technician input is applied now; the UI changes it.
    pub control: watch::Receiver<bool>,
    /// Resolves when the customer presses Close.
    pub close: oneshot::Receiver<()>,
    /// Notices for the UI (best effort).
    pub notices: Option<mpsc::UnboundedSender<SessionNotice>>,
}

/// A capture request from the session to the capture thread.
struct CaptureRequest {
    /// Capture the whole screen (a non-incremental request).
    full: bool,
    reply: oneshot::Sender<Result<Captured, PlatformError>>,
}

/// What the capture thread hands back.
struct Captured {
    /// The screen size now.
    size: (u16, u16),
    /// Areas captured, with their pixels.
    areas: Vec<(Rect, Vec<u32>)>,
    /// A new cursor shape.
    cursor: Option<CursorShape>,
}

/// Runs one RFB session over `stream` until the viewer leaves, the
/// customer closes, or something fails.
pub async fn run<S>(
    stream: S,
    parts: EngineParts,
) -> (Result<EndReason, SessionError>, SessionStats)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let EngineParts {
        screen,
        input,
        name,
        control,
        close,
        notices,
    } = parts;
    let mut stats = SessionStats::default();
    let (width, height) = screen.size();
    let stop = Arc::new(AtomicBool::new(false));
    let damage = Arc::new(Notify::new());
    let (req_tx, req_rx) = std_mpsc::channel::<CaptureRequest>();
    let capture = {
        let stop = stop.clone();
        let damage = damage.clone();
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || capture_loop(screen, req_rx, damage, stop))
    };
    let (input_tx, input_rx) = std_mpsc::channel::<InputEvent>();
    let (clip_tx, mut clip_rx) = mpsc::unbounded_channel::<String>();
    let input_thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || input_loop(input, input_rx, clip_tx, stop))
    };
    let result = match (capture, input_thread) {
        (Ok(c), Ok(i)) => {
            let r = serve(
                stream,
                ServerConfig::new(width, height, name),
                &req_tx,
                &damage,
                &input_tx,
                &mut clip_rx,
                control,
                close,
                notices,
                &mut stats,
            )
            .await;
            stop.store(true, Ordering::SeqCst);
            drop(req_tx);
            drop(input_tx);
            // Both threads look at `stop` at least every IDLE_WAIT.
            let _ = tokio::task::spawn_blocking(move || {
                let _ = c.join();
                let _ = i.join();
            })
            .await;
            r
        }
        (Err(e), _) | (_, Err(e)) => {
            stop.store(true, Ordering::SeqCst);
            Err(SessionError::Io(e))
        }
    };
    (result, stats)
}

#[allow(clippy::too_many_arguments)]
async fn serve<S>(
    mut stream: S,
    config: ServerConfig,
    req_tx: &std_mpsc::Sender<CaptureRequest>,
    damage: &Notify,
    input_tx: &std_mpsc::Sender<InputEvent>,
    clip_rx: &mut mpsc::UnboundedReceiver<String>,
    control: watch::Receiver<bool>,
    mut close: oneshot::Receiver<()>,
    notices: Option<mpsc::UnboundedSender<SessionNotice>>,
    stats: &mut SessionStats,
) -> Result<EndReason, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut server = ServerSession::new(config.clone());
    let mut fb = Framebuffer::new(config.width, config.height)
        .map_err(|e| SessionError::Platform(PlatformError::Size(e)))?;
    // What the viewer has: nothing yet, so the first capture is all new.
    let mut known = false;
    let mut damage_pending = true;
    let mut move_search = MoveSearch::default();
    let mut buf = vec![0u8; 64 * 1024];
    let notify = |n: SessionNotice| {
        if let Some(tx) = &notices {
            let _ = tx.send(n);
        }
    };
    flush(&mut stream, &mut server, stats).await?;
    loop {
        // Send an update whenever the viewer wants one and we have something.
        if server.wants_update() && (damage_pending || server.must_update() || !known) {
            let full = !known || server.must_update();
            let captured = request_capture(req_tx, full).await?;
            damage_pending = false;
            let (dirty, moves, resized) = apply_capture(
                &mut fb,
                captured.size,
                &captured.areas,
                known,
                &mut move_search,
            )?;
            known = true;
            let sent =
                server.write_update(&fb, &dirty, &moves, captured.cursor.as_ref(), resized)?;
            if sent {
                stats.updates += 1;
            }
            flush(&mut stream, &mut server, stats).await?;
        }
        tokio::select! {
            biased;
            _ = &mut close => {
                close_gracefully(&mut stream, &mut buf).await;
                return Ok(EndReason::CustomerClosed);
            }
            n = stream.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Ok(EndReason::ViewerClosed);
                }
                stats.bytes_received += n as u64;
                server.receive(&buf[..n])?;
                while let Some(ev) = server.poll_event() {
                    handle_event(ev, &control, input_tx, stats, &notify);
                }
                flush(&mut stream, &mut server, stats).await?;
            }
            _ = damage.notified(), if !damage_pending => {
                damage_pending = true;
            }
            Some(text) = clip_rx.recv() => {
                // The customer's clipboard is theirs: it goes to the
                // technician only while control is allowed.
                if server.is_ready() && *control.borrow() {
                    server.cut_text(&text);
                    flush(&mut stream, &mut server, stats).await?;
                }
            }
        }
    }
}

/// Ends the connection with a FIN rather than a reset: stop sending, then
/// read and discard what the viewer still had in flight (briefly).
async fn close_gracefully<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, buf: &mut [u8]) {
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Ok(n) = stream.read(buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

fn handle_event(
    ev: ServerEvent,
    control: &watch::Receiver<bool>,
    input_tx: &std_mpsc::Sender<InputEvent>,
    stats: &mut SessionStats,
    notify: &impl Fn(SessionNotice),
) {
    let input = match ev {
        ServerEvent::ClientReady { .. } => {
            notify(SessionNotice::ViewerReady);
            return;
        }
        ServerEvent::Key { down, keysym } => InputEvent::Key { down, keysym },
        ServerEvent::QemuKey { down, keysym, .. } => InputEvent::Key { down, keysym },
        ServerEvent::Pointer { mask, x, y } => InputEvent::Pointer { mask, x, y },
        ServerEvent::CutText(text) => InputEvent::Clipboard(text),
        _ => return,
    };
    if *control.borrow() {
        stats.input_applied += 1;
        let _ = input_tx.send(input);
    } else {
        stats.input_dropped += 1;
        notify(SessionNotice::InputDropped(stats.input_dropped));
    }
}

async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    server: &mut ServerSession,
    stats: &mut SessionStats,
) -> Result<(), SessionError> {
    let out = server.take_output();
    if !out.is_empty() {
        stream.write_all(&out).await?;
        stream.flush().await?;
        stats.bytes_sent += out.len() as u64;
    }
    Ok(())
}

async fn request_capture(
    req_tx: &std_mpsc::Sender<CaptureRequest>,
    full: bool,
) -> Result<Captured, SessionError> {
    let (reply, rx) = oneshot::channel();
    req_tx
        .send(CaptureRequest { full, reply })
        .map_err(|_| SessionError::CaptureStopped)?;
    Ok(rx.await.map_err(|_| SessionError::CaptureStopped)??)
}

/// Writes captured areas into `fb` and returns the tiles that really
/// changed (all of them when the viewer has nothing yet or the size
/// changed), at most one detected move (scrolling: sent as CopyRect and
/// already applied to `fb`), and whether the size changed.
fn apply_capture(
    fb: &mut Framebuffer,
    size: (u16, u16),
    areas: &[(Rect, Vec<u32>)],
    known: bool,
    move_search: &mut MoveSearch,
) -> Result<(Vec<Rect>, Vec<CopyMove>, bool), SessionError> {
    let resized = size != (fb.width(), fb.height());
    if resized {
        fb.resize(size.0, size.1)
            .map_err(|e| SessionError::Platform(PlatformError::Size(e)))?;
    }
    let compare = known && !resized;
    let (fw, fh) = (fb.width(), fb.height());
    let valid =
        |area: &Rect, pixels: &Vec<u32>| area.fits_in(fw, fh) && pixels.len() == area.area();
    // Look for a scroll in the largest area against the picture the viewer
    // has now (before any of this capture is written), and make the same
    // copy the viewer will make: the tile comparison below then finds only
    // what the copy did not already fix.
    let mut moves = Vec::new();
    if compare
        && let Some((area, pixels)) = areas
            .iter()
            .filter(|(a, p)| valid(a, p))
            .max_by_key(|(a, _)| a.area())
        && move_search.should_try(*area)
    {
        let found = detect_vertical_move(fb, *area, pixels)
            .or_else(|| detect_move_2d(fb, *area, pixels))
            .filter(|m| fb.copy_within(m.src_x, m.src_y, m.dst));
        move_search.record(found.is_some());
        moves.extend(found);
    }
    let mut dirty = Vec::new();
    for (area, pixels) in areas {
        if !valid(area, pixels) {
            continue;
        }
        if compare {
            changed_tiles(fb, *area, pixels, &mut dirty);
        } else {
            dirty.push(*area);
        }
        fb.put(*area, pixels);
    }
    if resized {
        dirty = vec![fb.bounds()];
    } else {
        dirty = coalesce(dirty);
    }
    Ok((dirty, moves, resized))
}

/// Backs off the move search on an area where it keeps finding nothing (a
/// video or an animation changes the same rectangle every frame and never
/// moves): after [`MoveSearch::MISSES_BEFORE_BACKOFF`] misses in a row on
/// the same area, only every [`MoveSearch::BACKOFF_EVERY`]th capture of it
/// is searched. A different area, or a move found, searches every capture
/// again; a scroll that starts inside a backed-off area is caught within a
/// few frames (the frames before are sent as tiles, still exactly).
#[derive(Debug, Default)]
struct MoveSearch {
    area: Option<Rect>,
    misses: u32,
    skipped: u32,
}

impl MoveSearch {
    const MISSES_BEFORE_BACKOFF: u32 = 3;
    const BACKOFF_EVERY: u32 = 4;

    /// Whether to search `area` for a move in this capture.
    fn should_try(&mut self, area: Rect) -> bool {
        if self.area != Some(area) {
            self.area = Some(area);
            self.misses = 0;
            self.skipped = 0;
            return true;
        }
        if self.misses < Self::MISSES_BEFORE_BACKOFF {
            return true;
        }
        self.skipped += 1;
        if self.skipped >= Self::BACKOFF_EVERY {
            self.skipped = 0;
            return true;
        }
        false
    }

    /// The outcome of a search of the area `should_try` approved.
    fn record(&mut self, found: bool) {
        if found {
            self.misses = 0;
            self.skipped = 0;
        } else {
            self.misses = self.misses.saturating_add(1);
        }
    }
}

/// Smallest area worth looking for a scroll in.
const MOVE_MIN_W: u16 = 64;
/// Fewest rows a detected move must carry.
const MOVE_MIN_ROWS: u16 = 16;

/// A hash of one row of pixels.
fn row_hash(row: &[u32]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ row.len() as u64;
    for &p in row {
        h = (h.rotate_left(5) ^ u64::from(p)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    h
}

/// Finds a vertical scroll inside `area`: the band of new rows that equal
/// the old rows of `fb` (same columns) shifted by one common offset. Row
/// hashes vote for the offset (rows of one colour do not vote: they match
/// anywhere), then the longest band of exactly equal rows is taken.
fn detect_vertical_move(fb: &Framebuffer, area: Rect, pixels: &[u32]) -> Option<CopyMove> {
    if area.w < MOVE_MIN_W || area.h < MOVE_MIN_ROWS * 2 {
        return None;
    }
    let (w, h) = (usize::from(area.w), usize::from(area.h));
    let uniform = |row: &[u32]| row.iter().all(|&p| p == row[0]);
    let new_row = |y: usize| &pixels[y * w..(y + 1) * w];
    let old_row = |y: usize| fb.row(&area, y as u16);
    // Old rows by hash (u16::MAX: the hash is on several rows).
    let mut old: std::collections::HashMap<u64, u16> = std::collections::HashMap::with_capacity(h);
    for y in 0..h {
        let r = old_row(y);
        if uniform(r) {
            continue;
        }
        old.entry(row_hash(r))
            .and_modify(|v| *v = u16::MAX)
            .or_insert(y as u16);
    }
    if old.len() < usize::from(MOVE_MIN_ROWS) {
        return None;
    }
    let mut votes: std::collections::HashMap<i32, u32> = std::collections::HashMap::new();
    let mut unchanged = 0u32;
    for y in 0..h {
        let r = new_row(y);
        if uniform(r) {
            continue;
        }
        if let Some(&oy) = old.get(&row_hash(r))
            && oy != u16::MAX
        {
            let off = i32::from(oy) - y as i32;
            if off == 0 {
                unchanged += 1;
            } else {
                *votes.entry(off).or_default() += 1;
            }
        }
    }
    let (&off, &n) = votes.iter().max_by_key(|&(_, n)| *n)?;
    if n < u32::from(MOVE_MIN_ROWS) || n < unchanged {
        return None;
    }
    // Longest band of new rows y with new[y] == old[y + off] exactly.
    let ys = (0i32.max(-off) as usize)..((h as i32).min(h as i32 - off) as usize);
    let (mut best, mut run_start) = ((0usize, 0usize), None);
    for y in ys.clone().chain(std::iter::once(ys.end)) {
        let same = y < ys.end && new_row(y) == old_row((y as i32 + off) as usize);
        match (same, run_start) {
            (true, None) => run_start = Some(y),
            (false, Some(s)) => {
                if y - s > best.1 - best.0 {
                    best = (s, y);
                }
                run_start = None;
            }
            _ => {}
        }
    }
    let (y0, y1) = best;
    if y1 - y0 < usize::from(MOVE_MIN_ROWS) {
        return None;
    }
    Some(CopyMove {
        src_x: area.x,
        src_y: (i32::from(area.y) + y0 as i32 + off) as u16,
        dst: Rect::new(area.x, area.y + y0 as u16, area.w, (y1 - y0) as u16),
    })
}

/// Joins dirty rectangles that touch into larger ones when the union
/// wastes few pixels: first along tile rows (same top and height, or a
/// small overhang), then bands of equal columns stacked on each other.
/// Each rectangle costs a header and, in Tight or ZRLE, a zlib flush and
/// its own palette, so a changed area sent as 64×64 tiles costs several
/// times what the same area costs as a few large rectangles (a gradient
/// background exposed by a closing window: 7.2 KB as tiles, ~1.9 KB as
/// bands). Small far-apart changes stay separate.
fn coalesce(rects: Vec<Rect>) -> Vec<Rect> {
    /// Whether joining `a` and `b` wastes at most an eighth of their area
    /// (or 64 pixels) in unchanged pixels.
    fn cheap(a: &Rect, b: &Rect) -> bool {
        let u = a.union(b);
        let used = a.area() + b.area();
        u.area() <= used + (used / 8).max(64)
    }
    let touches = |a: &Rect, b: &Rect| {
        u32::from(b.x) <= a.right()
            && u32::from(a.x) <= b.right()
            && u32::from(b.y) <= a.bottom()
            && u32::from(a.y) <= b.bottom()
    };
    // Along rows: `rects` come tile row by tile row, left to right.
    let mut rows: Vec<Rect> = Vec::with_capacity(rects.len());
    for r in rects {
        match rows.last_mut() {
            Some(last) if touches(last, &r) && cheap(last, &r) => *last = last.union(&r),
            _ => rows.push(r),
        }
    }
    // Bands with the same columns, one on top of the next.
    rows.sort_by_key(|r| (r.x, r.w, r.y));
    let mut out: Vec<Rect> = Vec::with_capacity(rows.len());
    for r in rows {
        match out.last_mut() {
            Some(last) if last.x == r.x && last.w == r.w && last.bottom() >= u32::from(r.y) => {
                *last = last.union(&r)
            }
            _ => out.push(r),
        }
    }
    out
}

/// Width of the pixel runs hashed to find a 2-D move.
const SAMPLE_W: usize = 32;
/// Rows of the new picture sampled for a 2-D move.
const SAMPLE_ROWS: usize = 12;
/// Runs sampled on each of those rows.
const SAMPLES_PER_ROW: usize = 4;
/// A sample found at more places than this is ambiguous and does not vote.
const MAX_HITS_PER_SAMPLE: usize = 8;
/// Most hash-table lookups (positions whose hash prefix matches a sample)
/// one search may make before giving up.
const MOVE_LOOKUP_BUDGET: usize = 1 << 16;
/// Largest area (pixels) searched for the source of a 2-D move; bigger
/// areas are not searched (bounded CPU for full-screen changes).
const MOVE_SEARCH_MAX: usize = 1 << 20;

/// Finds a 2-D move inside `area` (a window dragged by (dx, dy)): a
/// rectangle of the new `pixels` that equals the old picture in `fb`
/// shifted by one offset. Runs of [`SAMPLE_W`] pixels sampled from the new
/// picture are looked up (rolling hash) in the old picture of `area`; the
/// offset most samples agree on is then verified pixel by pixel, and the
/// largest rectangle of exactly equal pixels around the samples that voted
/// for it is returned. Uniform runs do not vote (they match anywhere).
fn detect_move_2d(fb: &Framebuffer, area: Rect, pixels: &[u32]) -> Option<CopyMove> {
    use std::collections::HashMap;
    if area.w < MOVE_MIN_W || area.h < MOVE_MIN_ROWS * 2 || area.area() > MOVE_SEARCH_MAX {
        return None;
    }
    let (w, h) = (usize::from(area.w), usize::from(area.h));
    if w < SAMPLE_W * 2 || pixels.len() != w * h {
        return None;
    }
    const B: u64 = 0x0000_0100_0000_01B3;
    let hash = |run: &[u32]| {
        run.iter()
            .fold(0u64, |h, &p| h.wrapping_mul(B).wrapping_add(u64::from(p)))
    };
    // Samples: hash → index in `at` of non-uniform runs of the new picture;
    // runs that occur twice among the samples are ambiguous and dropped.
    let mut samples: HashMap<u64, usize> = HashMap::new();
    let mut at: Vec<(usize, usize)> = Vec::new();
    let mut twice = Vec::new();
    for i in 0..SAMPLE_ROWS {
        let y = (2 * i + 1) * h / (2 * SAMPLE_ROWS);
        for j in 0..SAMPLES_PER_ROW {
            let x = (2 * j + 1) * (w - SAMPLE_W) / (2 * SAMPLES_PER_ROW);
            let run = &pixels[y * w + x..y * w + x + SAMPLE_W];
            if run.iter().all(|&p| p == run[0]) {
                continue;
            }
            let hv = hash(run);
            if samples.insert(hv, at.len()).is_some() {
                twice.push(hv);
            }
            at.push((x, y));
        }
    }
    for hv in twice {
        samples.remove(&hv);
    }
    if samples.len() < 3 {
        return None;
    }
    // A bit per 16-bit hash prefix: most positions are refused without a
    // map lookup.
    let mut filter = vec![0u64; 1024];
    let slot = |hv: u64| ((hv >> 48) as usize >> 6, 1u64 << ((hv >> 48) & 63));
    for &hv in samples.keys() {
        let (i, bit) = slot(hv);
        filter[i] |= bit;
    }
    // B^(SAMPLE_W-1), to roll the hash.
    let top = (1..SAMPLE_W).fold(1u64, |a, _| a.wrapping_mul(B));
    let mut hits: Vec<Vec<(usize, usize)>> = vec![Vec::new(); at.len()];
    let mut lookups = 0usize;
    for oy in 0..h {
        let row = fb.row(&area, oy as u16);
        let mut hv = hash(&row[..SAMPLE_W]);
        for ox in 0..=w - SAMPLE_W {
            if ox > 0 {
                hv = hv
                    .wrapping_sub(u64::from(row[ox - 1]).wrapping_mul(top))
                    .wrapping_mul(B)
                    .wrapping_add(u64::from(row[ox + SAMPLE_W - 1]));
            }
            let (i, bit) = slot(hv);
            if filter[i] & bit == 0 {
                continue;
            }
            // A picture where the samples' prefixes are everywhere (a
            // dithered pattern) is not searched further.
            lookups += 1;
            if lookups > MOVE_LOOKUP_BUDGET {
                return None;
            }
            if let Some(&i) = samples.get(&hv) {
                let (x, y) = at[i];
                let v = &mut hits[i];
                if v.len() <= MAX_HITS_PER_SAMPLE
                    && row[ox..ox + SAMPLE_W] == pixels[y * w + x..y * w + x + SAMPLE_W]
                {
                    v.push((ox, oy));
                }
            }
        }
    }
    // Votes for offsets (new − old); unambiguous samples only.
    let mut votes: HashMap<(i32, i32), Vec<(usize, usize)>> = HashMap::new();
    let mut unchanged = 0usize;
    for (&(x, y), found) in at.iter().zip(&hits) {
        if found.len() > MAX_HITS_PER_SAMPLE {
            continue;
        }
        for &(ox, oy) in found {
            let off = (x as i32 - ox as i32, y as i32 - oy as i32);
            if off == (0, 0) {
                unchanged += 1;
            } else {
                votes.entry(off).or_default().push((x, y));
            }
        }
    }
    let ((dx, dy), seeds) = votes
        .into_iter()
        .max_by_key(|(off, v)| (v.len(), std::cmp::Reverse(*off)))?;
    if seeds.len() < 2 || seeds.len() < unchanged {
        return None;
    }
    // For each row, the run of columns around the seed column where the new
    // pixel equals the old one at (x − dx, y − dy).
    let same = |x: usize, y: usize| {
        let (ox, oy) = (x as i32 - dx, y as i32 - dy);
        ox >= 0
            && oy >= 0
            && (ox as usize) < w
            && (oy as usize) < h
            && pixels[y * w + x] == fb.row(&area, oy as u16)[ox as usize]
    };
    let run_at = |y: usize, c: usize| -> Option<(usize, usize)> {
        if !same(c, y) {
            return None;
        }
        let (mut l, mut r) = (c, c + 1);
        while l > 0 && same(l - 1, y) {
            l -= 1;
        }
        while r < w && same(r, y) {
            r += 1;
        }
        Some((l, r))
    };
    let mut best: Option<(usize, Rect)> = None;
    for &(sx, sy) in &seeds {
        let c = sx + SAMPLE_W / 2;
        let Some(seed_run) = run_at(sy, c) else {
            continue;
        };
        // The columns most rows near the seed share: the seed row's run,
        // narrowed to what the rows above and below keep while the
        // rectangle grows.
        let (mut lo, mut hi) = seed_run;
        let (mut top_y, mut bot_y) = (sy, sy + 1);
        let mut best_here = (hi - lo, Rect::default());
        loop {
            let mut grew = false;
            for next in [bot_y, top_y.wrapping_sub(1)] {
                if next >= h {
                    continue;
                }
                let Some((l, r)) = run_at(next, c) else {
                    continue;
                };
                let (nl, nh) = (lo.max(l), hi.min(r));
                let rows = bot_y - top_y + 1;
                // Grow while the rectangle's area does not shrink.
                if (nh - nl) * rows >= (hi - lo) * (rows - 1) {
                    (lo, hi) = (nl, nh);
                    if next == bot_y {
                        bot_y += 1;
                    } else {
                        top_y -= 1;
                    }
                    grew = true;
                }
            }
            let a = (hi - lo) * (bot_y - top_y);
            if a >= best_here.0 {
                best_here = (
                    a,
                    Rect::new(
                        area.x + lo as u16,
                        area.y + top_y as u16,
                        (hi - lo) as u16,
                        (bot_y - top_y) as u16,
                    ),
                );
            }
            if !grew {
                break;
            }
        }
        if best.as_ref().is_none_or(|(a, _)| best_here.0 > *a) {
            best = Some(best_here);
        }
    }
    let (_, dst) = best?;
    if dst.w < MOVE_MIN_W || dst.h < MOVE_MIN_ROWS {
        return None;
    }
    Some(CopyMove {
        src_x: (i32::from(dst.x) - dx) as u16,
        src_y: (i32::from(dst.y) - dy) as u16,
        dst,
    })
}

/// Appends the tiles of `area` whose new pixels differ from `fb`, each
/// shrunk to the rows and columns that changed (so that a small change is
/// sent as a small, often one-colour, rectangle).
fn changed_tiles(fb: &Framebuffer, area: Rect, pixels: &[u32], dirty: &mut Vec<Rect>) {
    let stride = usize::from(area.w);
    let mut ty = 0u16;
    while ty < area.h {
        let th = TILE.min(area.h - ty);
        let mut tx = 0u16;
        while tx < area.w {
            let tw = TILE.min(area.w - tx);
            let tile = Rect::new(area.x + tx, area.y + ty, tw, th);
            let mut first = None;
            let mut last = 0;
            let (mut left, mut right) = (usize::from(tw), 0usize);
            for dy in 0..th {
                let start = usize::from(ty + dy) * stride + usize::from(tx);
                let new = &pixels[start..start + usize::from(tw)];
                let old = fb.row(&tile, dy);
                if old != new {
                    first.get_or_insert(dy);
                    last = dy;
                    let l = old.iter().zip(new).position(|(a, b)| a != b).unwrap_or(0);
                    let r = old
                        .iter()
                        .zip(new)
                        .rposition(|(a, b)| a != b)
                        .unwrap_or(usize::from(tw) - 1);
                    left = left.min(l);
                    right = right.max(r);
                }
            }
            if let Some(f) = first {
                dirty.push(Rect::new(
                    tile.x + left as u16,
                    tile.y + f,
                    (right - left + 1) as u16,
                    last - f + 1,
                ));
            }
            tx += tw;
        }
        ty += th;
    }
}

fn capture_loop(
    mut screen: Box<dyn ScreenSource>,
    requests: std_mpsc::Receiver<CaptureRequest>,
    damage: Arc<Notify>,
    stop: Arc<AtomicBool>,
) {
    let mut pending: Vec<Rect> = Vec::new();
    let mut scratch = match Framebuffer::new(screen.size().0, screen.size().1) {
        Ok(fb) => fb,
        Err(_) => return,
    };
    let mut cursor_dirty = true;
    while !stop.load(Ordering::SeqCst) {
        // Serve requests first; while damage is pending the session will ask
        // soon, so wait on the request channel rather than on the screen.
        let req = if pending.is_empty() && !cursor_dirty {
            match requests.try_recv() {
                Ok(r) => Some(r),
                Err(std_mpsc::TryRecvError::Disconnected) => return,
                Err(std_mpsc::TryRecvError::Empty) => {
                    match screen.wait(Some(IDLE_WAIT)) {
                        Ok(true) => {
                            if let Ok(d) = screen.damage() {
                                pending.extend(d);
                            }
                            cursor_dirty = true;
                            damage.notify_one();
                        }
                        Ok(false) => {}
                        Err(_) => std::thread::sleep(IDLE_WAIT),
                    }
                    continue;
                }
            }
        } else {
            match requests.recv_timeout(IDLE_WAIT) {
                Ok(r) => Some(r),
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    damage.notify_one();
                    None
                }
            }
        };
        let Some(req) = req else { continue };
        let result = capture_now(
            &mut *screen,
            &mut scratch,
            &mut pending,
            req.full,
            cursor_dirty,
        );
        cursor_dirty = false;
        let _ = req.reply.send(result);
    }
}

fn capture_now(
    screen: &mut dyn ScreenSource,
    scratch: &mut Framebuffer,
    pending: &mut Vec<Rect>,
    full: bool,
    check_cursor: bool,
) -> Result<Captured, PlatformError> {
    let mut resized = false;
    if let Some((w, h)) = screen.resized()? {
        resized = (w, h) != (scratch.width(), scratch.height());
    }
    pending.extend(screen.damage()?);
    let (w, h) = screen.size();
    if (w, h) != (scratch.width(), scratch.height()) {
        scratch.resize(w, h)?;
        resized = true;
    }
    let regions = if full || resized {
        pending.clear();
        vec![Rect::new(0, 0, w, h)]
    } else {
        merge_rects(std::mem::take(pending), w, h)
    };
    let mut areas = Vec::with_capacity(regions.len());
    for r in regions {
        let r = r.clip_to(w, h);
        if r.is_empty() {
            continue;
        }
        screen.capture(scratch, r)?;
        if let Some(px) = scratch.read(r) {
            areas.push((r, px));
        }
    }
    // The cursor is cosmetic: if the display will not give its image (XFIXES
    // may answer BadAccess while the pointer is grabbed or blank), keep the
    // old one rather than end the session.
    let cursor = if check_cursor {
        screen
            .cursor()
            .ok()
            .flatten()
            .and_then(|c| c.to_shape().ok())
    } else {
        None
    };
    Ok(Captured {
        size: (w, h),
        areas,
        cursor,
    })
}

/// Merges overlapping or many small rectangles so that each pixel is
/// captured once and the number of X requests stays small.
fn merge_rects(mut rects: Vec<Rect>, w: u16, h: u16) -> Vec<Rect> {
    rects.retain(|r| !r.is_empty());
    if rects.len() > 64 {
        let all = rects.iter().fold(Rect::default(), |a, r| a.union(r));
        return vec![all.clip_to(w, h)];
    }
    let mut out: Vec<Rect> = Vec::with_capacity(rects.len());
    for r in rects {
        let mut cur = r;
        loop {
            let hit = out.iter().position(|o| {
                o.intersect(&cur).is_some() || {
                    // Merge when the union wastes little.
                    let u = o.union(&cur);
                    u.area() <= (o.area() + cur.area()) * 5 / 4
                }
            });
            match hit {
                Some(i) => {
                    let o = out.swap_remove(i);
                    cur = o.union(&cur);
                }
                None => break,
            }
        }
        out.push(cur);
    }
    out
}

/// Technician input for the input thread.
enum InputEvent {
    Key { down: bool, keysym: u32 },
    Pointer { mask: u8, x: u16, y: u16 },
    Clipboard(String),
}

fn input_loop(
    mut sink: Box<dyn InputSink>,
    events: std_mpsc::Receiver<InputEvent>,
    clipboard_out: mpsc::UnboundedSender<String>,
    stop: Arc<AtomicBool>,
) {
    let poll = Duration::from_millis(250);
    while !stop.load(Ordering::SeqCst) {
        match events.recv_timeout(poll) {
            Ok(InputEvent::Key { down, keysym }) => {
                let _ = sink.key(down, keysym);
            }
            Ok(InputEvent::Pointer { mask, x, y }) => {
                let _ = sink.pointer(mask, x, y);
            }
            Ok(InputEvent::Clipboard(text)) => {
                let _ = sink.set_clipboard(&text);
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(text)) = sink.clipboard_changes() {
                    let _ = clipboard_out.send(text);
                }
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_search_backs_off_an_area_without_moves() {
        let video = Rect::new(100, 100, 320, 240);
        let mut m = MoveSearch::default();
        // Every capture is searched until three misses in a row.
        for _ in 0..MoveSearch::MISSES_BEFORE_BACKOFF {
            assert!(m.should_try(video));
            m.record(false);
        }
        // Then one capture in four.
        let tried: Vec<bool> = (0..8)
            .map(|_| {
                let t = m.should_try(video);
                if t {
                    m.record(false);
                }
                t
            })
            .collect();
        assert_eq!(
            tried,
            [false, false, false, true, false, false, false, true]
        );
        // A move found there (at the next search): every capture again.
        for _ in 0..MoveSearch::BACKOFF_EVERY {
            if m.should_try(video) {
                m.record(true);
                break;
            }
        }
        assert!(m.should_try(video));
        assert!(m.should_try(video));
        // Another area (a window being dragged) is searched at once.
        for _ in 0..MoveSearch::MISSES_BEFORE_BACKOFF {
            m.should_try(video);
            m.record(false);
        }
        assert!(!m.should_try(video));
        assert!(m.should_try(Rect::new(0, 0, 64, 64)));
    }

    #[test]
    fn changed_tiles_finds_only_changed_rows_and_columns() {
        let fb = Framebuffer::new(130, 70).unwrap();
        let area = Rect::new(0, 0, 130, 70);
        let mut px = vec![0u32; area.area()];
        px[5 * 130 + 70] = 1; // tile (1,0), row 5
        px[7 * 130 + 90] = 1; // tile (1,0), row 7
        px[66 * 130 + 129] = 2; // tile (2,1), row 66
        let mut dirty = Vec::new();
        changed_tiles(&fb, area, &px, &mut dirty);
        assert_eq!(
            dirty,
            vec![Rect::new(70, 5, 21, 3), Rect::new(129, 66, 1, 1)]
        );
    }

    /// A text-like picture: every row differs from its neighbours.
    fn text_rows(w: u16, h: u16, seed: u32) -> Vec<u32> {
        let mut v = Vec::with_capacity(usize::from(w) * usize::from(h));
        for y in 0..u32::from(h) {
            for x in 0..u32::from(w) {
                let k = (y + seed).wrapping_mul(2_654_435_761) ^ (x / 3).wrapping_mul(40_503);
                v.push(if k % 7 < 2 { 0 } else { 0x00FF_FFFF });
            }
        }
        v
    }

    #[test]
    fn scroll_becomes_one_copy_and_a_small_dirty_band() {
        let (w, h) = (200u16, 120u16);
        let old = text_rows(w, h, 0);
        let mut fb = Framebuffer::from_pixels(w, h, old.clone()).unwrap();
        // Scroll the area (20..180, 10..110) up by 13 rows; new text enters
        // at the bottom.
        let area = Rect::new(20, 10, 160, 100);
        let fresh = text_rows(w, h, 999);
        let mut px = Vec::new();
        for y in 0..area.h {
            for x in 0..area.w {
                let (sx, sy) = (usize::from(area.x + x), usize::from(area.y + y));
                px.push(if y + 13 < area.h {
                    old[(sy + 13) * usize::from(w) + sx]
                } else {
                    fresh[sy * usize::from(w) + sx]
                });
            }
        }
        let mut expected = fb.clone();
        expected.put(area, &px);
        let (dirty, moves, resized) = apply_capture(
            &mut fb,
            (w, h),
            &[(area, px.clone())],
            true,
            &mut MoveSearch::default(),
        )
        .unwrap();
        assert!(!resized);
        assert_eq!(
            moves,
            vec![CopyMove {
                src_x: 20,
                src_y: 23,
                dst: Rect::new(20, 10, 160, 87)
            }]
        );
        assert_eq!(fb.pixels(), expected.pixels());
        // Only the 13 new rows are left to encode.
        assert!(dirty.iter().all(|d| d.y >= 97), "{dirty:?}");
        // What a client does (copy, then the dirty rects) gives the picture.
        let mut client = Framebuffer::from_pixels(w, h, old).unwrap();
        assert!(client.copy_within(moves[0].src_x, moves[0].src_y, moves[0].dst));
        for d in &dirty {
            client.put(*d, &fb.read(*d).unwrap());
        }
        assert_eq!(client.pixels(), expected.pixels());
    }

    #[test]
    fn no_move_for_unrelated_pictures() {
        let (w, h) = (200u16, 120u16);
        let fb = Framebuffer::from_pixels(w, h, text_rows(w, h, 0)).unwrap();
        let area = Rect::new(0, 0, w, h);
        assert_eq!(
            detect_vertical_move(&fb, area, &text_rows(w, h, 5000)),
            None
        );
        assert_eq!(detect_vertical_move(&fb, area, fb.pixels()), None);
    }

    /// Deterministic noise.
    fn noise(n: usize, seed: u64) -> Vec<u32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as u32 & 0x00FF_FFFF
            })
            .collect()
    }

    /// A screen `w`×`h` with a vertical gradient and a `bw`×`bh` block of
    /// noise (a window) at (`bx`, `by`).
    fn desktop_with_block(w: u16, h: u16, block: Rect, content: &[u32]) -> Vec<u32> {
        let mut px: Vec<u32> = (0..usize::from(h))
            .flat_map(|y| std::iter::repeat_n(0x0010_4060 + (y as u32 / 4), usize::from(w)))
            .collect();
        for dy in 0..usize::from(block.h) {
            for dx in 0..usize::from(block.w) {
                px[(usize::from(block.y) + dy) * usize::from(w) + usize::from(block.x) + dx] =
                    content[dy * usize::from(block.w) + dx];
            }
        }
        px
    }

    /// What a client does with an update: the copies, then the dirty rects.
    fn replay(
        old: &[u32],
        w: u16,
        h: u16,
        fb: &Framebuffer,
        moves: &[CopyMove],
        dirty: &[Rect],
    ) -> Vec<u32> {
        let mut client = Framebuffer::from_pixels(w, h, old.to_vec()).unwrap();
        for m in moves {
            assert!(client.copy_within(m.src_x, m.src_y, m.dst));
        }
        for d in dirty {
            client.put(*d, &fb.read(*d).unwrap());
        }
        client.pixels().to_vec()
    }

    #[test]
    fn window_move_becomes_one_copy_and_a_small_remainder() {
        let (w, h) = (400u16, 300u16);
        let content = noise(120 * 80, 7);
        let before = Rect::new(100, 60, 120, 80);
        let after = Rect::new(109, 65, 120, 80);
        let old = desktop_with_block(w, h, before, &content);
        let new = desktop_with_block(w, h, after, &content);
        let mut fb = Framebuffer::from_pixels(w, h, old.clone()).unwrap();
        // The damage: old ∪ new window position.
        let area = before.union(&after);
        let next = Framebuffer::from_pixels(w, h, new.clone()).unwrap();
        let px = next.read(area).unwrap();
        let (dirty, moves, _) = apply_capture(
            &mut fb,
            (w, h),
            &[(area, px)],
            true,
            &mut MoveSearch::default(),
        )
        .unwrap();
        assert_eq!(
            moves,
            vec![CopyMove {
                src_x: 100,
                src_y: 60,
                dst: after
            }]
        );
        // Left to send: the strips the window uncovered (9 + 5 px wide;
        // a tile where they meet goes as its bounding box).
        let rest: usize = dirty.iter().map(Rect::area).sum();
        assert!(rest <= 9 * 85 + 5 * 129 + 64 * 64, "{dirty:?}");
        assert!(
            dirty
                .iter()
                .all(|d| d.intersect(&after).is_none_or(|i| i.area() < 64 * 64))
        );
        assert_eq!(fb.pixels(), &new[..]);
        assert_eq!(replay(&old, w, h, &fb, &moves, &dirty), new);
    }

    #[test]
    fn window_move_over_noise_and_left_up() {
        // A window on a noisy background moves left and up.
        let (w, h) = (320u16, 240u16);
        let content = noise(100 * 70, 3);
        let before = Rect::new(150, 100, 100, 70);
        let after = Rect::new(131, 88, 100, 70);
        let mut old = noise(usize::from(w) * usize::from(h), 11);
        let mut new = old.clone();
        for dy in 0..70usize {
            for dx in 0..100usize {
                old[(100 + dy) * 320 + 150 + dx] = content[dy * 100 + dx];
                new[(88 + dy) * 320 + 131 + dx] = content[dy * 100 + dx];
            }
        }
        // What the window uncovered shows fresh noise.
        let fresh = noise(usize::from(w) * usize::from(h), 12);
        for y in 0..240usize {
            for x in 0..320usize {
                let inside = |r: Rect| {
                    x >= usize::from(r.x)
                        && x < r.right() as usize
                        && y >= usize::from(r.y)
                        && y < r.bottom() as usize
                };
                if inside(before) && !inside(after) {
                    new[y * 320 + x] = fresh[y * 320 + x];
                }
            }
        }
        let area = before.union(&after);
        let next = Framebuffer::from_pixels(w, h, new.clone()).unwrap();
        let mut fb = Framebuffer::from_pixels(w, h, old.clone()).unwrap();
        let (dirty, moves, _) = apply_capture(
            &mut fb,
            (w, h),
            &[(area, next.read(area).unwrap())],
            true,
            &mut MoveSearch::default(),
        )
        .unwrap();
        assert_eq!(moves.len(), 1, "{moves:?}");
        assert_eq!(moves[0].dst, after);
        assert_eq!((moves[0].src_x, moves[0].src_y), (150, 100));
        let rest: usize = dirty.iter().map(Rect::area).sum();
        assert!(rest < before.area() / 2, "{dirty:?}");
        assert_eq!(replay(&old, w, h, &fb, &moves, &dirty), new);
    }

    #[test]
    fn no_2d_move_in_unrelated_or_unchanged_pictures() {
        let (w, h) = (256u16, 192u16);
        let area = Rect::new(0, 0, w, h);
        let n = usize::from(w) * usize::from(h);
        let fb = Framebuffer::from_pixels(w, h, noise(n, 1)).unwrap();
        assert_eq!(detect_move_2d(&fb, area, &noise(n, 2)), None);
        assert_eq!(detect_move_2d(&fb, area, fb.pixels()), None);
        // A dithered pattern (every run found everywhere): no move.
        let checker: Vec<u32> = (0..n)
            .map(|i| ((i % usize::from(w)) + i / usize::from(w)) as u32 % 2 * 0xFF_FFFF)
            .collect();
        let old = Framebuffer::from_pixels(w, h, checker.clone()).unwrap();
        let shifted: Vec<u32> = checker.iter().map(|p| p ^ 0xFF_FFFF).collect();
        assert_eq!(detect_move_2d(&old, area, &shifted), None);
        // Few colours (text-like): runs repeat everywhere, none may vote for
        // a wrong offset.
        let text = Framebuffer::from_pixels(w, h, text_rows(w, h, 0)).unwrap();
        if let Some(m) = detect_move_2d(&text, area, &text_rows(w, h, 4000)) {
            let new = text_rows(w, h, 4000);
            for dy in 0..m.dst.h {
                let y = usize::from(m.dst.y + dy);
                let row = &new[y * usize::from(w) + usize::from(m.dst.x)..][..usize::from(m.dst.w)];
                assert_eq!(row, text.row(&m.src(), dy), "{m:?} copies wrong pixels");
            }
        }
    }

    #[test]
    fn coalesce_joins_full_tiles_and_keeps_small_changes_apart() {
        let tiles: Vec<Rect> = (0..3u16)
            .flat_map(|ty| (0..4u16).map(move |tx| Rect::new(40 + tx * 64, 40 + ty * 64, 64, 64)))
            .collect();
        assert_eq!(coalesce(tiles), vec![Rect::new(40, 40, 256, 192)]);
        let glyphs = vec![Rect::new(10, 10, 6, 11), Rect::new(300, 200, 6, 11)];
        assert_eq!(coalesce(glyphs.clone()), glyphs);
        // Two glyphs in neighbouring tiles on one text line: one rectangle.
        let line = vec![Rect::new(60, 10, 4, 11), Rect::new(64, 10, 3, 11)];
        assert_eq!(coalesce(line), vec![Rect::new(60, 10, 7, 11)]);
    }

    #[test]
    fn merge_joins_overlaps_and_keeps_far_apart() {
        let m = merge_rects(
            vec![
                Rect::new(0, 0, 10, 10),
                Rect::new(5, 5, 10, 10),
                Rect::new(500, 500, 5, 5),
            ],
            1000,
            1000,
        );
        assert_eq!(m.len(), 2);
        assert!(m.contains(&Rect::new(0, 0, 15, 15)));
        let many: Vec<Rect> = (0..100).map(|i| Rect::new(i * 3, 0, 1, 1)).collect();
        assert_eq!(merge_rects(many, 1000, 1000), vec![Rect::new(0, 0, 298, 1)]);
    }
}
