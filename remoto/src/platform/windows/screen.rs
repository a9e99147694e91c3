//! Screen capture with GDI: the virtual screen (every monitor) copied with
//! `BitBlt` into a DIB section, changes found by comparing 64×64 tiles
//! with the previous copy, the cursor shape polled by handle.

use std::ptr::null_mut;
use std::time::{Duration, Instant};

use rfb::framebuffer::{Framebuffer, Rect};
use windows_sys::Win32::Foundation::ERROR_ACCESS_DENIED;
use windows_sys::Win32::Graphics::Gdi::{BitBlt, GetDC, ReleaseDC, SRCCOPY};
use windows_sys::Win32::System::StationsAndDesktops::{
    CloseDesktop, DESKTOP_READOBJECTS, OpenInputDesktop,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    GetSystemMetrics, HCURSOR, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN, SM_XVIRTUALSCREEN,
    SM_YVIRTUALSCREEN,
};

use super::dib::Dib;
use super::{cursor, last_error, placeholder};
use crate::platform::{CursorImage, PlatformError, ScreenSource};

/// How often the screen is copied and compared while the session waits for
/// changes (GDI cannot tell what changed: it has to look).
pub const POLL_INTERVAL: Duration = Duration::from_millis(40);

/// Side of the tiles compared to find changes.
pub const TILE: u16 = 64;

/// Beyond this many changed tiles, [`GdiScreen::damage`] reports their
/// bounding box.
const MAX_DAMAGE_RECTS: usize = 256;

/// The virtual screen: origin (may be negative) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualScreen {
    /// Left edge in desktop coordinates.
    pub x: i32,
    /// Top edge in desktop coordinates.
    pub y: i32,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

impl VirtualScreen {
    /// The bounding box of all monitors, as Windows reports it.
    pub fn current() -> Result<Self, PlatformError> {
        // SAFETY: GetSystemMetrics only reads.
        let (x, y, w, h) = unsafe {
            (
                GetSystemMetrics(SM_XVIRTUALSCREEN),
                GetSystemMetrics(SM_YVIRTUALSCREEN),
                GetSystemMetrics(SM_CXVIRTUALSCREEN),
                GetSystemMetrics(SM_CYVIRTUALSCREEN),
            )
        };
        let side = |v: i32| u16::try_from(v).ok().filter(|&v| v > 0);
        match (side(w), side(h)) {
            (Some(width), Some(height)) => {
                Framebuffer::check(width, height)?;
                Ok(Self {
                    x,
                    y,
                    width,
                    height,
                })
            }
            _ => Err(PlatformError::UnsupportedFormat(format!(
                "virtual screen of {w}x{h} pixels"
            ))),
        }
    }
}

/// The whole Windows desktop (all monitors) as a [`ScreenSource`].
pub struct GdiScreen {
    screen: VirtualScreen,
    /// The raw copy of the last `BitBlt`.
    dib: Dib,
    /// What was last captured, `0x00RRGGBB`: the base for change detection
    /// and what [`ScreenSource::capture`] hands out.
    frame: Vec<u32>,
    last_poll: Option<Instant>,
    damage: Vec<Rect>,
    full_damage: bool,
    resized: Option<(u16, u16)>,
    cursor: HCURSOR,
    cursor_pending: bool,
    /// The secure desktop is shown: `frame` holds the placeholder.
    blocked: bool,
}

// SAFETY: the cursor handle is only compared, never dereferenced; `Dib` is
// Send; everything else is plain data.
unsafe impl Send for GdiScreen {}

impl std::fmt::Debug for GdiScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GdiScreen")
            .field("screen", &self.screen)
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

impl GdiScreen {
    /// Opens the desktop and takes the first copy.
    pub fn open() -> Result<Self, PlatformError> {
        super::set_dpi_aware();
        let screen = VirtualScreen::current()?;
        let dib = Dib::new(screen.width, screen.height)?;
        let mut s = Self {
            screen,
            dib,
            frame: vec![0; usize::from(screen.width) * usize::from(screen.height)],
            last_poll: None,
            damage: Vec::new(),
            full_damage: false,
            resized: None,
            cursor: null_mut(),
            cursor_pending: true,
            blocked: false,
        };
        s.poll()?;
        s.damage.clear();
        s.full_damage = false;
        Ok(s)
    }

    /// The virtual screen being shared.
    pub fn virtual_screen(&self) -> VirtualScreen {
        self.screen
    }

    /// True while the secure desktop hides the screen (the placeholder is
    /// being sent).
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    fn pending(&self) -> bool {
        !self.damage.is_empty() || self.full_damage || self.cursor_pending || self.resized.is_some()
    }

    /// Copies the screen and records what changed since the last copy, the
    /// size and the cursor handle. Returns true when something is pending.
    fn poll(&mut self) -> Result<bool, PlatformError> {
        self.last_poll = Some(Instant::now());
        let now = VirtualScreen::current()?;
        if now != self.screen {
            if (now.width, now.height) != (self.screen.width, self.screen.height) {
                self.dib = Dib::new(now.width, now.height)?;
                self.frame = vec![0; usize::from(now.width) * usize::from(now.height)];
                self.resized = Some((now.width, now.height));
                tracing::debug!(
                    width = now.width,
                    height = now.height,
                    "screen size changed"
                );
            }
            self.screen = now;
            self.full_damage = true;
        }
        match cursor::current() {
            Ok((handle, _)) if handle != self.cursor => {
                self.cursor = handle;
                self.cursor_pending = true;
            }
            _ => {}
        }
        if self.blit() {
            if self.blocked {
                tracing::info!("the screen can be captured again");
                self.blocked = false;
                self.full_damage = true;
            }
            self.compare_tiles();
        } else if !self.blocked {
            tracing::info!("the secure desktop hides the screen: sending the placeholder");
            self.blocked = true;
            self.frame = placeholder::render(
                self.screen.width,
                self.screen.height,
                placeholder::SECURE_DESKTOP_TEXT,
            );
            self.full_damage = true;
        }
        Ok(self.pending())
    }

    /// `BitBlt` of the virtual screen into the DIB; false when Windows
    /// refuses (the secure desktop is the input desktop).
    fn blit(&mut self) -> bool {
        if secure_desktop_active() {
            return false;
        }
        // SAFETY: the screen DC is released right after the copy; the DIB's
        // DC and size match the virtual screen.
        unsafe {
            let screen_dc = GetDC(null_mut());
            if screen_dc.is_null() {
                return false;
            }
            let ok = BitBlt(
                self.dib.dc(),
                0,
                0,
                i32::from(self.dib.width()),
                i32::from(self.dib.height()),
                screen_dc,
                self.screen.x,
                self.screen.y,
                SRCCOPY,
            );
            ReleaseDC(null_mut(), screen_dc);
            ok != 0
        }
    }

    /// Compares the DIB with `frame` tile by tile, records changed tiles
    /// (shrunk to their changed rows) and updates `frame`.
    fn compare_tiles(&mut self) {
        let (w, h) = (self.dib.width(), self.dib.height());
        let width = usize::from(w);
        let raw = self.dib.pixels();
        let mut ty = 0u16;
        while ty < h {
            let th = TILE.min(h - ty);
            let mut tx = 0u16;
            while tx < w {
                let tw = TILE.min(w - tx);
                let mut first = None;
                let mut last = 0;
                for dy in 0..th {
                    let start = usize::from(ty + dy) * width + usize::from(tx);
                    let end = start + usize::from(tw);
                    let old = &mut self.frame[start..end];
                    let new = &raw[start..end];
                    let mut changed = false;
                    for (o, &n) in old.iter_mut().zip(new) {
                        let n = n & 0x00ff_ffff;
                        if *o != n {
                            *o = n;
                            changed = true;
                        }
                    }
                    if changed {
                        first.get_or_insert(dy);
                        last = dy;
                    }
                }
                if let Some(f) = first {
                    self.damage.push(Rect::new(tx, ty + f, tw, last - f + 1));
                }
                tx += tw;
            }
            ty += th;
        }
    }
}

/// True when the input desktop is one this process may not open (the
/// secure desktop of a UAC prompt or Ctrl+Alt+Del).
fn secure_desktop_active() -> bool {
    // SAFETY: the desktop handle, when opened, is closed at once.
    unsafe {
        let desk = OpenInputDesktop(0, 0, DESKTOP_READOBJECTS);
        if desk.is_null() {
            return last_error("OpenInputDesktop").is_access_denied();
        }
        CloseDesktop(desk);
        false
    }
}

impl PlatformError {
    /// True for a Win32 "access denied".
    fn is_access_denied(&self) -> bool {
        matches!(self, PlatformError::Win32 { code, .. } if *code == ERROR_ACCESS_DENIED)
    }
}

impl ScreenSource for GdiScreen {
    fn size(&self) -> (u16, u16) {
        (self.screen.width, self.screen.height)
    }

    fn capture(&mut self, fb: &mut Framebuffer, region: Rect) -> Result<(), PlatformError> {
        // A capture without a recent poll (the session's first picture)
        // copies the screen now; otherwise the last copy is what damage was
        // computed from, and changes since will show in the next poll.
        if self.last_poll.is_none_or(|t| t.elapsed() >= POLL_INTERVAL) {
            self.poll()?;
        }
        let (w, h) = self.size();
        if (fb.width(), fb.height()) != (w, h) {
            fb.resize(w, h)?;
        }
        let r = region.clip_to(w, h);
        for dy in 0..r.h {
            let start = usize::from(r.y + dy) * usize::from(w) + usize::from(r.x);
            let src = &self.frame[start..start + usize::from(r.w)];
            fb.row_mut(&r, dy).copy_from_slice(src);
        }
        Ok(())
    }

    fn damage(&mut self) -> Result<Vec<Rect>, PlatformError> {
        if self.full_damage {
            self.full_damage = false;
            self.damage.clear();
            return Ok(vec![Rect::new(0, 0, self.screen.width, self.screen.height)]);
        }
        let mut rects = std::mem::take(&mut self.damage);
        if rects.len() > MAX_DAMAGE_RECTS {
            let all = rects.iter().fold(Rect::default(), |acc, r| acc.union(r));
            rects = vec![all];
        }
        Ok(rects)
    }

    fn cursor(&mut self) -> Result<Option<CursorImage>, PlatformError> {
        if !self.cursor_pending {
            return Ok(None);
        }
        self.cursor_pending = false;
        let (handle, pos) = cursor::current()?;
        self.cursor = handle;
        Ok(cursor::shape(
            handle,
            (pos.x - self.screen.x, pos.y - self.screen.y),
        ))
    }

    fn resized(&mut self) -> Result<Option<(u16, u16)>, PlatformError> {
        Ok(self.resized.take())
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, PlatformError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.pending() {
                return Ok(true);
            }
            let next = self.last_poll.map_or(Instant::now(), |t| t + POLL_INTERVAL);
            let now = Instant::now();
            if let Some(d) = deadline
                && d <= now
            {
                return Ok(false);
            }
            let wake = deadline.map_or(next, |d| d.min(next));
            if wake > now {
                std::thread::sleep(wake - now);
            }
            if Instant::now() >= next && self.poll()? {
                return Ok(true);
            }
        }
    }
}
