//! Screen capture of an X display: SHM/plain GetImage, DAMAGE, XFIXES
//! cursor, RANDR size changes.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rfb::framebuffer::{Framebuffer, Rect};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::errors::ReplyError;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, Window};
use x11rb::protocol::{Event, damage, randr, shm, xfixes};
use x11rb::rust_connection::RustConnection;

use super::convert::PixelLayout;
use super::shm::ShmSegment;
use super::{require_extension, wait_readable};
use crate::platform::{CursorImage, PlatformError, ScreenSource};

/// Beyond this many changed rectangles, [`X11Screen::damage`] reports their
/// bounding box instead (one big read is cheaper than thousands of small).
pub const MAX_DAMAGE_RECTS: usize = 256;

/// How to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureOptions {
    /// Use MIT-SHM when the server offers it (default true).
    pub use_shm: bool,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self { use_shm: true }
    }
}

/// The root window of an X screen as a [`ScreenSource`].
pub struct X11Screen {
    conn: RustConnection,
    root: Window,
    layout: PixelLayout,
    width: u16,
    height: u16,
    shm: Option<ShmSegment>,
    damage: damage::Damage,
    region: xfixes::Region,
    damage_pending: bool,
    full_damage: bool,
    cursor_pending: bool,
    resized: Option<(u16, u16)>,
}

impl std::fmt::Debug for X11Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Screen")
            .field("size", &(self.width, self.height))
            .field("layout", &self.layout)
            .field("shm", &self.shm)
            .finish_non_exhaustive()
    }
}

impl X11Screen {
    /// Opens `display` (`None`: `$DISPLAY`) with the default options.
    pub fn open(display: Option<&str>) -> Result<Self, PlatformError> {
        Self::open_with(display, CaptureOptions::default())
    }

    /// Opens `display` (`None`: `$DISPLAY`). Needs DAMAGE and XFIXES ≥ 2;
    /// RANDR and MIT-SHM are used when present.
    pub fn open_with(
        display: Option<&str>,
        options: CaptureOptions,
    ) -> Result<Self, PlatformError> {
        let (conn, screen_num) = x11rb::connect(display)?;
        let layout = PixelLayout::from_setup(conn.setup(), screen_num)?;
        let (root, width, height) = {
            let s = super::screen_of(&conn, screen_num)?;
            (s.root, s.width_in_pixels, s.height_in_pixels)
        };
        Framebuffer::check(width, height)?;

        require_extension(&conn, xfixes::X11_EXTENSION_NAME)?;
        require_extension(&conn, damage::X11_EXTENSION_NAME)?;
        let xf = xfixes::query_version(&conn, 5, 0)?.reply()?;
        if xf.major_version < 2 {
            return Err(PlatformError::MissingExtension("XFIXES 2"));
        }
        damage::query_version(&conn, 1, 1)?.reply()?;

        let damage = conn.generate_id()?;
        damage::create(&conn, damage, root, damage::ReportLevel::NON_EMPTY)?;
        let region = conn.generate_id()?;
        xfixes::create_region(&conn, region, &[])?;
        xfixes::select_cursor_input(&conn, root, xfixes::CursorNotifyMask::DISPLAY_CURSOR)?;
        if conn
            .extension_information(randr::X11_EXTENSION_NAME)?
            .is_some()
        {
            randr::query_version(&conn, 1, 2)?.reply()?;
            randr::select_input(&conn, root, randr::NotifyMask::SCREEN_CHANGE)?;
        }
        conn.flush()?;

        let mut screen = Self {
            conn,
            root,
            layout,
            width,
            height,
            shm: None,
            damage,
            region,
            damage_pending: false,
            full_damage: false,
            cursor_pending: true,
            resized: None,
        };
        if options.use_shm {
            screen.shm = screen.try_shm();
        }
        // Sizes may have changed between the setup and our RANDR selection.
        screen.refresh_geometry()?;
        screen.resized = None;
        screen.full_damage = false;
        Ok(screen)
    }

    /// True when captures go through MIT-SHM.
    pub fn uses_shm(&self) -> bool {
        self.shm.is_some()
    }

    /// The pixel layout of the screen.
    pub fn layout(&self) -> PixelLayout {
        self.layout
    }

    /// Reads the events that arrived, without blocking. Returns true when
    /// damage, a cursor change or a size change is pending. Call it when the
    /// connection's file descriptor ([`AsFd`]) becomes readable, for callers
    /// that wait in their own event loop instead of [`ScreenSource::wait`].
    pub fn process_events(&mut self) -> Result<bool, PlatformError> {
        self.conn.flush()?;
        while let Some(event) = self.conn.poll_for_event()? {
            match event {
                Event::DamageNotify(_) => self.damage_pending = true,
                Event::XfixesCursorNotify(_) => self.cursor_pending = true,
                Event::RandrScreenChangeNotify(_) | Event::RandrNotify(_) => {
                    self.refresh_geometry()?;
                }
                _ => {}
            }
        }
        Ok(self.pending())
    }

    fn pending(&self) -> bool {
        self.damage_pending || self.full_damage || self.cursor_pending || self.resized.is_some()
    }

    /// Segment big enough for the whole screen, attached, and proven to work
    /// with a 1×1 ShmGetImage; `None` when SHM cannot be used here.
    fn try_shm(&self) -> Option<ShmSegment> {
        let local = rustix::net::sockopt::socket_domain(self.conn.stream().as_fd())
            .map(|d| d == rustix::net::AddressFamily::UNIX)
            .unwrap_or(false);
        if !local {
            tracing::info!("display is not on a local socket: capturing without MIT-SHM");
            return None;
        }
        let ok = self
            .conn
            .extension_information(shm::X11_EXTENSION_NAME)
            .ok()
            .flatten()
            .is_some();
        if !ok {
            tracing::info!("display lacks MIT-SHM: capturing with GetImage");
            return None;
        }
        let attempt = || -> Result<ShmSegment, PlatformError> {
            let v = shm::query_version(&self.conn)?.reply()?;
            if (v.major_version, v.minor_version) < (1, 2) {
                return Err(PlatformError::MissingExtension("MIT-SHM 1.2"));
            }
            let seg = ShmSegment::new(&self.conn, self.full_size())?;
            self.shm_get(&seg, Rect::new(0, 0, 1, 1))?;
            Ok(seg)
        };
        match attempt() {
            Ok(seg) => Some(seg),
            Err(e) => {
                tracing::info!("MIT-SHM unusable ({e}): capturing with GetImage");
                None
            }
        }
    }

    fn full_size(&self) -> usize {
        self.layout.stride(self.width) * usize::from(self.height)
    }

    /// Asks the server for the root's size; on a change records it (and
    /// full damage). Returns true when the size changed.
    fn refresh_geometry(&mut self) -> Result<bool, PlatformError> {
        let g = self.conn.get_geometry(self.root)?.reply()?;
        if (g.width, g.height) == (self.width, self.height) {
            return Ok(false);
        }
        Framebuffer::check(g.width, g.height)?;
        self.width = g.width;
        self.height = g.height;
        self.resized = Some((g.width, g.height));
        self.full_damage = true;
        tracing::debug!(width = g.width, height = g.height, "screen size changed");
        Ok(true)
    }

    fn sync_fb(&self, fb: &mut Framebuffer) -> Result<(), PlatformError> {
        if (fb.width(), fb.height()) != (self.width, self.height) {
            fb.resize(self.width, self.height)?;
        }
        Ok(())
    }

    /// ShmGetImage of `r` into `seg` (offset 0); the bytes are in `seg` after.
    fn shm_get(&self, seg: &ShmSegment, r: Rect) -> Result<(), ReplyError> {
        shm::get_image(
            &self.conn,
            self.root,
            r.x as i16,
            r.y as i16,
            r.w,
            r.h,
            !0,
            ImageFormat::Z_PIXMAP.into(),
            seg.seg(),
            0,
        )?
        .reply()?;
        Ok(())
    }

    /// Reads `r` (within the screen) into `fb`; X errors come back as
    /// [`PlatformError::Reply`] for the caller to re-check the geometry.
    fn grab(&mut self, fb: &mut Framebuffer, r: Rect) -> Result<(), PlatformError> {
        let stride = self.layout.stride(r.w);
        if self
            .shm
            .as_ref()
            .is_some_and(|s| s.len() < stride * usize::from(r.h))
        {
            // The screen grew: a bigger segment for the new size.
            if let Some(old) = self.shm.take() {
                old.detach(&self.conn)?;
            }
            match ShmSegment::new(&self.conn, self.full_size().max(stride * usize::from(r.h))) {
                Ok(seg) => self.shm = Some(seg),
                Err(e) => tracing::info!("MIT-SHM segment failed ({e}): capturing with GetImage"),
            }
        }
        if let Some(seg) = &self.shm {
            match self.shm_get(seg, r) {
                Ok(()) => {
                    return if self.layout.convert(seg.data(), stride, fb, r) {
                        Ok(())
                    } else {
                        Err(PlatformError::UnsupportedFormat("short SHM image".into()))
                    };
                }
                Err(ReplyError::X11Error(e)) => {
                    if self.refresh_geometry()? {
                        return Err(ReplyError::X11Error(e).into());
                    }
                    tracing::info!("ShmGetImage failed ({e:?}): capturing with GetImage");
                    if let Some(old) = self.shm.take() {
                        old.detach(&self.conn)?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        let reply = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                r.x as i16,
                r.y as i16,
                r.w,
                r.h,
                !0,
            )?
            .reply()?;
        if self.layout.convert(&reply.data, stride, fb, r) {
            Ok(())
        } else {
            Err(PlatformError::UnsupportedFormat(
                "short GetImage reply".into(),
            ))
        }
    }
}

impl AsFd for X11Screen {
    /// The X connection's socket: readable when events may be waiting
    /// (then call [`X11Screen::process_events`]).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.conn.stream().as_fd()
    }
}

impl ScreenSource for X11Screen {
    fn size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    fn capture(&mut self, fb: &mut Framebuffer, region: Rect) -> Result<(), PlatformError> {
        self.process_events()?;
        self.sync_fb(fb)?;
        let r = region.clip_to(self.width, self.height);
        if r.is_empty() {
            return Ok(());
        }
        match self.grab(fb, r) {
            Err(PlatformError::Reply(ReplyError::X11Error(e))) => {
                // The screen may have shrunk under us: re-read its size once.
                if !self.refresh_geometry()? {
                    return Err(ReplyError::X11Error(e).into());
                }
                self.sync_fb(fb)?;
                let r = region.clip_to(self.width, self.height);
                if r.is_empty() {
                    Ok(())
                } else {
                    self.grab(fb, r)
                }
            }
            other => other,
        }
    }

    fn damage(&mut self) -> Result<Vec<Rect>, PlatformError> {
        self.process_events()?;
        if self.full_damage {
            self.full_damage = false;
            self.damage_pending = false;
            damage::subtract(&self.conn, self.damage, x11rb::NONE, x11rb::NONE)?;
            self.conn.flush()?;
            return Ok(vec![Rect::new(0, 0, self.width, self.height)]);
        }
        if !self.damage_pending {
            return Ok(Vec::new());
        }
        self.damage_pending = false;
        damage::subtract(&self.conn, self.damage, x11rb::NONE, self.region)?;
        let reply = xfixes::fetch_region(&self.conn, self.region)?.reply()?;
        let (w, h) = (self.width, self.height);
        let mut rects: Vec<Rect> = reply
            .rectangles
            .iter()
            .filter_map(|r| {
                // Region rectangles may start left of / above the screen.
                let x0 = i32::from(r.x).max(0);
                let y0 = i32::from(r.y).max(0);
                let x1 = (i32::from(r.x) + i32::from(r.width)).min(i32::from(w));
                let y1 = (i32::from(r.y) + i32::from(r.height)).min(i32::from(h));
                (x1 > x0 && y1 > y0)
                    .then(|| Rect::new(x0 as u16, y0 as u16, (x1 - x0) as u16, (y1 - y0) as u16))
            })
            .collect();
        if rects.len() > MAX_DAMAGE_RECTS {
            let all = rects.iter().fold(Rect::default(), |acc, r| acc.union(r));
            rects = vec![all];
        }
        Ok(rects)
    }

    fn cursor(&mut self) -> Result<Option<CursorImage>, PlatformError> {
        self.process_events()?;
        if !self.cursor_pending {
            return Ok(None);
        }
        self.cursor_pending = false;
        let r = xfixes::get_cursor_image(&self.conn)?.reply()?;
        let mut pixels = r.cursor_image;
        pixels.resize(usize::from(r.width) * usize::from(r.height), 0);
        Ok(Some(CursorImage {
            width: r.width,
            height: r.height,
            hotspot_x: r.xhot,
            hotspot_y: r.yhot,
            x: r.x,
            y: r.y,
            pixels,
        }))
    }

    fn resized(&mut self) -> Result<Option<(u16, u16)>, PlatformError> {
        self.process_events()?;
        Ok(self.resized.take())
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, PlatformError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.process_events()? {
                return Ok(true);
            }
            let remaining = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(false);
                    }
                    Some(d - now)
                }
                None => None,
            };
            wait_readable(self.conn.stream(), remaining)?;
        }
    }
}
