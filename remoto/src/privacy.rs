//! Privacy controls: what part of the desktop the technician may see.
//!
//! [`PrivateScreen`] wraps the real [`ScreenSource`] in the capture thread,
//! so everything outside the shared area is blacked out (and a paused screen
//! replaced by a "paused" picture) *before* the session engine compares
//! tiles or encodes anything: hidden pixels never reach the encoder.
//!
//! Modes ([`ShareMode`]): the whole desktop, paused, one monitor (RANDR
//! monitors on X11), or one application window whose current geometry is
//! followed as it moves or resizes (looked up at most every
//! [`FOLLOW_EVERY`]). When the shared area changes, the whole screen is
//! reported as damaged so the technician's picture is redrawn at once.

use crate::platform::{CursorImage, PlatformError, ScreenSource};
use rfb::framebuffer::{Framebuffer, Rect};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the shared window's or monitor's geometry is looked up.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(100);
/// Background of the "paused" picture.
pub const PAUSED_BACKGROUND: u32 = 0x0030_3040;
/// Colour of the pause sign on it.
pub const PAUSED_SIGN: u32 = 0x00e0_e0e0;

/// What the customer shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareMode {
    /// The whole desktop.
    #[default]
    All,
    /// Nothing: the technician sees a "paused" picture.
    Paused,
    /// One monitor (index into the RANDR monitor list, from 0).
    Monitor(usize),
    /// One top-level window (X11 window id).
    Window(u32),
}

impl ShareMode {
    /// The word sent to the technician and logged: `all`, `paused`,
    /// `monitor N`, `window 0x…`.
    pub fn describe(&self) -> String {
        match self {
            ShareMode::All => "all".into(),
            ShareMode::Paused => "paused".into(),
            ShareMode::Monitor(n) => format!("monitor {n}"),
            ShareMode::Window(w) => format!("window {w:#x}"),
        }
    }
}

/// The customer's privacy setting, shared between the UI and the capture
/// thread; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Privacy(Arc<Mutex<ShareMode>>);

impl Privacy {
    /// Sharing everything.
    pub fn new() -> Self {
        Privacy::default()
    }

    /// Changes what is shared (takes effect at the next capture).
    pub fn set(&self, mode: ShareMode) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    /// What is shared now.
    pub fn get(&self) -> ShareMode {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Looks up where things are on the screen.
pub trait Geometry: Send {
    /// The window's rectangle on the screen (clipped), `None` when it does
    /// not exist or is not mapped.
    fn window(&mut self, xid: u32) -> Option<Rect>;
    /// The monitors, in RANDR order.
    fn monitors(&mut self) -> Vec<Rect>;
}

/// No window system to ask: windows are never found, one monitor covers
/// the screen (used by tests and where no lookup is available).
#[derive(Debug, Clone, Copy)]
pub struct NoGeometry(pub u16, pub u16);

impl Geometry for NoGeometry {
    fn window(&mut self, _xid: u32) -> Option<Rect> {
        None
    }
    fn monitors(&mut self) -> Vec<Rect> {
        vec![Rect::new(0, 0, self.0, self.1)]
    }
}

/// What the capture may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visible {
    All,
    Paused,
    /// Only this rectangle (empty: nothing).
    Only(Rect),
}

/// A [`ScreenSource`] that applies the customer's [`Privacy`] setting.
pub struct PrivateScreen {
    inner: Box<dyn ScreenSource>,
    privacy: Privacy,
    geometry: Box<dyn Geometry>,
    visible: Visible,
    mode: ShareMode,
    checked: Option<Instant>,
    changed: bool,
}

impl PrivateScreen {
    /// Wraps `inner`; `geometry` answers where windows and monitors are.
    pub fn new(
        inner: Box<dyn ScreenSource>,
        privacy: Privacy,
        geometry: Box<dyn Geometry>,
    ) -> Self {
        let mut s = PrivateScreen {
            inner,
            privacy,
            geometry,
            visible: Visible::All,
            mode: ShareMode::All,
            checked: None,
            changed: false,
        };
        s.refresh(true);
        s.changed = false;
        s
    }

    /// Looks at the setting (and, when due, the window's geometry); notes a
    /// change of the visible area.
    fn refresh(&mut self, force: bool) {
        let mode = self.privacy.get();
        let due = self.checked.is_none_or(|t| t.elapsed() >= FOLLOW_EVERY);
        if !force && mode == self.mode && !(due && self.follows()) {
            return;
        }
        self.checked = Some(Instant::now());
        self.mode = mode;
        let (w, h) = self.inner.size();
        let visible = match mode {
            ShareMode::All => Visible::All,
            ShareMode::Paused => Visible::Paused,
            ShareMode::Monitor(n) => Visible::Only(
                self.geometry
                    .monitors()
                    .get(n)
                    .map(|r| r.clip_to(w, h))
                    .unwrap_or_default(),
            ),
            ShareMode::Window(xid) => Visible::Only(
                self.geometry
                    .window(xid)
                    .map(|r| r.clip_to(w, h))
                    .unwrap_or_default(),
            ),
        };
        if visible != self.visible {
            self.visible = visible;
            self.changed = true;
        }
    }

    fn follows(&self) -> bool {
        matches!(self.mode, ShareMode::Window(_) | ShareMode::Monitor(_))
    }
}

/// Fills the parts of `region` outside `keep` with black.
pub fn black_outside(fb: &mut Framebuffer, region: Rect, keep: Rect) {
    let Some(k) = region.intersect(&keep) else {
        fb.fill(region, 0);
        return;
    };
    // Above, below, left and right of the kept part.
    let top = Rect::new(region.x, region.y, region.w, k.y - region.y);
    let bottom_y = k.bottom() as u16;
    let bottom = Rect::new(
        region.x,
        bottom_y,
        region.w,
        (region.bottom() - k.bottom()) as u16,
    );
    let left = Rect::new(region.x, k.y, k.x - region.x, k.h);
    let right = Rect::new(
        k.right() as u16,
        k.y,
        (region.right() - k.right()) as u16,
        k.h,
    );
    for r in [top, bottom, left, right] {
        if !r.is_empty() {
            fb.fill(r, 0);
        }
    }
}

/// Draws the "paused" picture (a pause sign on a dark background) into `region`.
pub fn paint_paused(fb: &mut Framebuffer, region: Rect) {
    fb.fill(region, PAUSED_BACKGROUND);
    let (w, h) = (fb.width(), fb.height());
    let side = (w.min(h) / 4).max(8);
    let bar = side / 3;
    let x0 = w / 2 - side / 2;
    let y0 = h / 2 - side / 2;
    for bx in [x0, x0 + side - bar] {
        if let Some(r) = Rect::new(bx, y0, bar, side).intersect(&region) {
            fb.fill(r, PAUSED_SIGN);
        }
    }
}

impl ScreenSource for PrivateScreen {
    fn size(&self) -> (u16, u16) {
        self.inner.size()
    }

    fn capture(&mut self, fb: &mut Framebuffer, region: Rect) -> Result<(), PlatformError> {
        match self.visible {
            Visible::Paused => {
                let (w, h) = self.inner.size();
                if (fb.width(), fb.height()) != (w, h) {
                    fb.resize(w, h)?;
                }
                paint_paused(fb, region.clip_to(w, h));
                Ok(())
            }
            Visible::All => self.inner.capture(fb, region),
            Visible::Only(keep) => {
                if region.intersect(&keep).is_some() {
                    self.inner.capture(fb, region)?;
                } else {
                    let (w, h) = self.inner.size();
                    if (fb.width(), fb.height()) != (w, h) {
                        fb.resize(w, h)?;
                    }
                }
                black_outside(fb, region.clip_to(fb.width(), fb.height()), keep);
                Ok(())
            }
        }
    }

    fn damage(&mut self) -> Result<Vec<Rect>, PlatformError> {
        let d = self.inner.damage()?;
        self.refresh(false);
        if std::mem::take(&mut self.changed) {
            let (w, h) = self.inner.size();
            return Ok(vec![Rect::new(0, 0, w, h)]);
        }
        Ok(match self.visible {
            Visible::Paused => Vec::new(),
            Visible::All => d,
            Visible::Only(keep) => d.iter().filter_map(|r| r.intersect(&keep)).collect(),
        })
    }

    fn cursor(&mut self) -> Result<Option<CursorImage>, PlatformError> {
        self.inner.cursor()
    }

    fn resized(&mut self) -> Result<Option<(u16, u16)>, PlatformError> {
        let r = self.inner.resized()?;
        if r.is_some() {
            self.refresh(true);
        }
        Ok(r)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, PlatformError> {
        self.refresh(false);
        if self.changed {
            return Ok(true);
        }
        // Wake up often enough to follow a moving window or a new setting.
        let t = timeout.map_or(FOLLOW_EVERY, |t| t.min(FOLLOW_EVERY));
        let pending = self.inner.wait(Some(t))?;
        self.refresh(false);
        Ok(pending || self.changed)
    }
}

/// The lookups for this desktop: X11 on Unix (own connection to `display`),
/// else (or when X11 cannot be reached) one monitor and no windows.
pub fn open_geometry(display: Option<&str>, size: (u16, u16)) -> Box<dyn Geometry> {
    #[cfg(unix)]
    if let Ok(g) = X11Geometry::open(display) {
        return Box::new(g);
    }
    let _ = display;
    Box::new(NoGeometry(size.0, size.1))
}

/// Window and monitor lookups on an X11 display (own connection).
#[cfg(unix)]
pub struct X11Geometry {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
}

#[cfg(unix)]
impl X11Geometry {
    /// Connects to `display` (default `$DISPLAY`).
    pub fn open(display: Option<&str>) -> Result<Self, PlatformError> {
        let (conn, n) = x11rb::connect(display)?;
        let root = conn.setup().roots.get(n).map(|s| s.root).unwrap_or(0);
        Ok(X11Geometry { conn, root })
    }
}

#[cfg(unix)]
use x11rb::connection::Connection as _;

#[cfg(unix)]
impl Geometry for X11Geometry {
    fn window(&mut self, xid: u32) -> Option<Rect> {
        use x11rb::protocol::xproto::{ConnectionExt as _, MapState};
        let attrs = self.conn.get_window_attributes(xid).ok()?.reply().ok()?;
        if attrs.map_state != MapState::VIEWABLE {
            return None;
        }
        let g = self.conn.get_geometry(xid).ok()?.reply().ok()?;
        let t = self
            .conn
            .translate_coordinates(xid, self.root, 0, 0)
            .ok()?
            .reply()
            .ok()?;
        let border = i32::from(g.border_width);
        let x = i32::from(t.dst_x) - border;
        let y = i32::from(t.dst_y) - border;
        let w = i32::from(g.width) + 2 * border;
        let h = i32::from(g.height) + 2 * border;
        // Clip the left/top edges that are off screen.
        let (x0, y0) = (x.max(0), y.max(0));
        let (x1, y1) = (x + w, y + h);
        if x1 <= x0 || y1 <= y0 {
            return Some(Rect::default());
        }
        let c = |v: i32| v.clamp(0, i32::from(u16::MAX)) as u16;
        Some(Rect::new(c(x0), c(y0), c(x1 - x0), c(y1 - y0)))
    }

    fn monitors(&mut self) -> Vec<Rect> {
        monitors_of(&self.conn, self.root)
    }
}

/// The RANDR monitors of the screen whose root is `root` (empty when RANDR
/// is missing).
#[cfg(unix)]
pub fn monitors_of(conn: &impl x11rb::connection::Connection, root: u32) -> Vec<Rect> {
    use x11rb::protocol::randr::ConnectionExt as _;
    let Ok(cookie) = conn.randr_get_monitors(root, true) else {
        return Vec::new();
    };
    let Ok(reply) = cookie.reply() else {
        return Vec::new();
    };
    reply
        .monitors
        .iter()
        .map(|m| Rect::new(m.x.max(0) as u16, m.y.max(0) as u16, m.width, m.height))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Solid {
        w: u16,
        h: u16,
    }

    impl ScreenSource for Solid {
        fn size(&self) -> (u16, u16) {
            (self.w, self.h)
        }
        fn capture(&mut self, fb: &mut Framebuffer, region: Rect) -> Result<(), PlatformError> {
            fb.fill(region, 0x00ff_ffff);
            Ok(())
        }
        fn damage(&mut self) -> Result<Vec<Rect>, PlatformError> {
            Ok(vec![Rect::new(0, 0, 4, 4)])
        }
        fn cursor(&mut self) -> Result<Option<CursorImage>, PlatformError> {
            Ok(None)
        }
        fn resized(&mut self) -> Result<Option<(u16, u16)>, PlatformError> {
            Ok(None)
        }
        fn wait(&mut self, _t: Option<Duration>) -> Result<bool, PlatformError> {
            Ok(false)
        }
    }

    struct Fixed(Rect);
    impl Geometry for Fixed {
        fn window(&mut self, _xid: u32) -> Option<Rect> {
            Some(self.0)
        }
        fn monitors(&mut self) -> Vec<Rect> {
            vec![Rect::new(0, 0, 10, 20), Rect::new(10, 0, 10, 20)]
        }
    }

    fn count(fb: &Framebuffer, colour: u32) -> usize {
        let px = fb.read(fb.bounds()).unwrap();
        px.iter().filter(|&&p| p == colour).count()
    }

    #[test]
    fn window_mode_blacks_out_the_rest_and_reports_changes() {
        let privacy = Privacy::new();
        let mut s = PrivateScreen::new(
            Box::new(Solid { w: 20, h: 20 }),
            privacy.clone(),
            Box::new(Fixed(Rect::new(2, 3, 5, 4))),
        );
        let mut fb = Framebuffer::new(20, 20).unwrap();
        let all = fb.bounds();
        s.capture(&mut fb, all).unwrap();
        assert_eq!(count(&fb, 0x00ff_ffff), 400);
        privacy.set(ShareMode::Window(7));
        assert!(s.wait(Some(Duration::from_millis(1))).unwrap());
        assert_eq!(s.damage().unwrap(), vec![Rect::new(0, 0, 20, 20)]);
        let all = fb.bounds();
        s.capture(&mut fb, all).unwrap();
        assert_eq!(count(&fb, 0x00ff_ffff), 20);
        assert_eq!(count(&fb, 0), 380);
        // Damage outside the window is not reported.
        assert_eq!(s.damage().unwrap(), vec![Rect::new(2, 3, 2, 1)]);
        privacy.set(ShareMode::Monitor(1));
        s.damage().unwrap();
        let all = fb.bounds();
        s.capture(&mut fb, all).unwrap();
        assert_eq!(count(&fb, 0x00ff_ffff), 200);
        assert_eq!(fb.read(Rect::new(0, 0, 1, 1)).unwrap(), vec![0]);
        privacy.set(ShareMode::Monitor(5));
        s.damage().unwrap();
        let all = fb.bounds();
        s.capture(&mut fb, all).unwrap();
        assert_eq!(count(&fb, 0), 400);
        privacy.set(ShareMode::Paused);
        s.damage().unwrap();
        let all = fb.bounds();
        s.capture(&mut fb, all).unwrap();
        assert_eq!(count(&fb, 0x00ff_ffff), 0);
        assert!(count(&fb, PAUSED_SIGN) > 0);
        assert!(s.damage().unwrap().is_empty());
    }

    #[test]
    fn black_outside_partial_regions() {
        let mut fb = Framebuffer::new(8, 8).unwrap();
        fb.fill(fb.bounds(), 1);
        black_outside(&mut fb, Rect::new(2, 2, 4, 4), Rect::new(3, 3, 10, 10));
        assert_eq!(count(&fb, 0), 7);
        assert_eq!(fb.read(Rect::new(3, 3, 1, 1)).unwrap(), vec![1]);
        assert_eq!(fb.read(Rect::new(0, 0, 1, 1)).unwrap(), vec![1]);
    }
}
