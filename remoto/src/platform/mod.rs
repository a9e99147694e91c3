//! The customer's desktop: screen capture and input injection.
//!
//! Two small traits keep the session engine free of any windowing system:
//! [`ScreenSource`] (pixels, changed regions, cursor shape, size changes)
//! and [`InputSink`] (pointer, keys, clipboard). Linux/X11 implements them
//! in `x11`, Windows (GDI, `SendInput`) in `windows`; [`open`] picks the
//! one this program was built for.
//!
//! The intended use is damage-driven: one thread blocks in
//! [`ScreenSource::wait`] (no CPU while the screen is idle), then asks for
//! [`ScreenSource::damage`], [`ScreenSource::cursor`] and
//! [`ScreenSource::resized`], and captures only what changed.

#[cfg(windows)]
pub mod windows;
// The keysym table is plain data: its tests also run on Linux.
#[cfg(all(test, not(windows)))]
#[path = "windows/keymap.rs"]
mod windows_keymap;
#[cfg(unix)]
pub mod x11;

use std::time::Duration;

use rfb::framebuffer::{Framebuffer, Rect, SizeError};
use rfb::limits::MAX_CURSOR_SIDE;
use rfb::pseudo::cursor::{CursorError, CursorShape};

/// Why a platform operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The display could not be opened.
    #[cfg(unix)]
    #[error("cannot open the X display: {0}")]
    Connect(#[from] ::x11rb::errors::ConnectError),
    /// The connection to the display broke or a request could not be sent.
    #[cfg(unix)]
    #[error("X connection failed: {0}")]
    Connection(#[from] ::x11rb::errors::ConnectionError),
    /// The display answered a request with an error.
    #[cfg(unix)]
    #[error("X request failed: {0}")]
    Reply(#[from] ::x11rb::errors::ReplyError),
    /// The display ran out of resource ids or refused a request.
    #[cfg(unix)]
    #[error("X request failed: {0}")]
    ReplyOrId(#[from] ::x11rb::errors::ReplyOrIdError),
    /// Waiting on the display connection failed.
    #[error("waiting for display events failed: {0}")]
    Io(#[from] std::io::Error),
    /// A required extension is missing.
    #[error("the display lacks the {0} extension")]
    MissingExtension(&'static str),
    /// The screen's pixel layout is not one we can read.
    #[error("unsupported screen format: {0}")]
    UnsupportedFormat(String),
    /// The screen is larger than a framebuffer may be.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// No key produces this keysym and no spare key code is left to map it.
    #[error("no key code available for keysym {0:#x}")]
    NoKeycode(u32),
    /// The clipboard worker stopped or the text is too large.
    #[error("clipboard: {0}")]
    Clipboard(&'static str),
    /// A Windows API call failed (`code` from `GetLastError`).
    #[cfg(windows)]
    #[error("{call} failed (Windows error {code})")]
    Win32 {
        /// The function that failed.
        call: &'static str,
        /// Its `GetLastError` code.
        code: u32,
    },
}

/// Opens the desktop this program runs on: the X display `display`
/// (`None`: `$DISPLAY`) on Linux; the whole Windows desktop (every monitor)
/// on Windows, where `display` is ignored.
pub fn open(display: Option<&str>) -> Result<Platform, PlatformError> {
    #[cfg(unix)]
    {
        let screen = x11::X11Screen::open(display)?;
        let input = x11::X11Input::open(display)?;
        Ok((Box::new(screen), Box::new(input)))
    }
    #[cfg(windows)]
    {
        let _ = display;
        let screen = windows::GdiScreen::open()?;
        let input = windows::WinInput::open()?;
        Ok((Box::new(screen), Box::new(input)))
    }
}

/// The cursor's shape as the display reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorImage {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Hotspot column.
    pub hotspot_x: u16,
    /// Hotspot row.
    pub hotspot_y: u16,
    /// Pointer position on the screen when the shape was read.
    pub x: i16,
    /// Pointer position on the screen when the shape was read.
    pub y: i16,
    /// Pixels, row-major, `width*height`, `0xAARRGGBB` with premultiplied
    /// alpha (the XFIXES and Windows convention).
    pub pixels: Vec<u32>,
}

impl CursorImage {
    /// Converts to the RFB rich cursor (Cursor pseudo-encoding): colours are
    /// un-premultiplied, a pixel is opaque when its alpha is at least 128;
    /// shapes larger than [`MAX_CURSOR_SIDE`] are cropped (top-left part kept).
    pub fn to_shape(&self) -> Result<CursorShape, CursorError> {
        let w = self.width.min(MAX_CURSOR_SIDE);
        let h = self.height.min(MAX_CURSOR_SIDE);
        let stride = CursorShape::mask_stride(w);
        let mut pixels = Vec::with_capacity(usize::from(w) * usize::from(h));
        let mut mask = vec![0u8; stride * usize::from(h)];
        for y in 0..usize::from(h) {
            for x in 0..usize::from(w) {
                let p = self
                    .pixels
                    .get(y * usize::from(self.width) + x)
                    .copied()
                    .unwrap_or(0);
                let a = p >> 24;
                let unmul = |c: u32| (c * 255 + a / 2).checked_div(a).unwrap_or(0).min(255);
                let r = unmul((p >> 16) & 0xff);
                let g = unmul((p >> 8) & 0xff);
                let b = unmul(p & 0xff);
                pixels.push((r << 16) | (g << 8) | b);
                if a >= 128 {
                    mask[y * stride + x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        CursorShape::new(
            self.hotspot_x.min(w.saturating_sub(1)),
            self.hotspot_y.min(h.saturating_sub(1)),
            w,
            h,
            pixels,
            mask,
        )
    }
}

/// A screen source and an input sink for one desktop.
pub type Platform = (Box<dyn ScreenSource>, Box<dyn InputSink>);

/// The screen being shared.
pub trait ScreenSource: Send {
    /// Current size of the screen (width, height), as last seen.
    fn size(&self) -> (u16, u16);

    /// Reads `region` (clipped to the screen) into `fb` as native pixels.
    ///
    /// When `fb` does not have the screen's size it is resized first (the
    /// screen changed size: callers should then capture everything, which
    /// [`ScreenSource::damage`] also reports).
    fn capture(&mut self, fb: &mut Framebuffer, region: Rect) -> Result<(), PlatformError>;

    /// The regions changed since the last call, clipped to the screen; empty
    /// when nothing changed. Never blocks on new changes.
    fn damage(&mut self) -> Result<Vec<Rect>, PlatformError>;

    /// The new cursor shape when it changed since the last call (the first
    /// call always returns the current shape).
    fn cursor(&mut self) -> Result<Option<CursorImage>, PlatformError>;

    /// The new screen size when it changed since the last call.
    fn resized(&mut self) -> Result<Option<(u16, u16)>, PlatformError>;

    /// Blocks until damage, a cursor change or a size change is pending, or
    /// `timeout` passes (`None`: no limit). Returns true when something is
    /// pending. Sleeps in the kernel: an idle screen costs no CPU.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, PlatformError>;
}

/// Where the technician's input goes.
pub trait InputSink: Send {
    /// Moves the pointer to (`x`, `y`) and sets the buttons to `mask`
    /// (RFB PointerEvent: bit 0 left, 1 middle, 2 right, 3–6 wheel
    /// up/down/left/right, 7 button 8); changed bits become presses and
    /// releases.
    fn pointer(&mut self, mask: u8, x: u16, y: u16) -> Result<(), PlatformError>;

    /// Presses or releases the key that produces `keysym` (X11 keysym, as in
    /// RFB KeyEvent), adding or removing Shift around it when needed.
    fn key(&mut self, down: bool, keysym: u32) -> Result<(), PlatformError>;

    /// Makes `text` the desktop's clipboard content.
    fn set_clipboard(&mut self, text: &str) -> Result<(), PlatformError>;

    /// The desktop's clipboard text when another program changed it since
    /// the last call (never our own [`InputSink::set_clipboard`]).
    fn clipboard_changes(&mut self) -> Result<Option<String>, PlatformError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_to_shape_unpremultiplies_and_masks() {
        let img = CursorImage {
            width: 2,
            height: 1,
            hotspot_x: 5,
            hotspot_y: 0,
            x: 0,
            y: 0,
            pixels: vec![0x8040_2010, 0x0000_0000],
        };
        let shape = img.to_shape().unwrap();
        assert_eq!(shape.pixels, vec![0x0080_4020, 0]);
        assert_eq!(shape.mask, vec![0x80]);
        assert_eq!(shape.hotspot_x, 1);
    }

    #[test]
    fn huge_cursor_is_cropped() {
        let img = CursorImage {
            width: 300,
            height: 2,
            hotspot_x: 0,
            hotspot_y: 0,
            x: 0,
            y: 0,
            pixels: vec![0xff00_0000; 600],
        };
        let shape = img.to_shape().unwrap();
        assert_eq!(shape.width, MAX_CURSOR_SIDE);
    }
}
