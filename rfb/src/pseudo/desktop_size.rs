//! DesktopSize (−223) and ExtendedDesktopSize (−308) pseudo-encodings.
//!
//! DesktopSize: the rectangle's width and height are the new size, no
//! payload. ExtendedDesktopSize: x = reason, y = status, w/h = size, then a
//! screen count (u8), 3 padding bytes and the screens.

use crate::encoding::{id, write_rect_header};
use crate::framebuffer::Rect;
use crate::limits::MAX_SCREENS;
use crate::msgs::MsgError;
use crate::msgs::desktop_size::{Screen, read_screens};
use crate::reader::Reader;

/// Appends a DesktopSize pseudo-rectangle.
pub fn write_desktop_size(out: &mut Vec<u8>, width: u16, height: u16) {
    write_rect_header(out, Rect::new(0, 0, width, height), id::DESKTOP_SIZE);
}

/// Why the size changed (ExtendedDesktopSize x).
pub mod reason {
    /// The server changed it.
    pub const SERVER: u16 = 0;
    /// This client asked for it.
    pub const CLIENT: u16 = 1;
    /// Another client asked for it.
    pub const OTHER_CLIENT: u16 = 2;
}

/// Result of a SetDesktopSize (ExtendedDesktopSize y).
pub mod status {
    /// No error.
    pub const OK: u16 = 0;
    /// Resizing is prohibited.
    pub const PROHIBITED: u16 = 1;
    /// Out of resources.
    pub const OUT_OF_RESOURCES: u16 = 2;
    /// Invalid screen layout.
    pub const INVALID_LAYOUT: u16 = 3;
}

/// An ExtendedDesktopSize rectangle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedDesktopSize {
    /// See [`reason`].
    pub reason: u16,
    /// See [`status`].
    pub status: u16,
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// Screen layout, at most [`MAX_SCREENS`].
    pub screens: Vec<Screen>,
}

impl ExtendedDesktopSize {
    /// The single-screen layout of a `width`×`height` desktop.
    pub fn single(reason: u16, status: u16, width: u16, height: u16) -> Self {
        Self {
            reason,
            status,
            width,
            height,
            screens: vec![Screen {
                id: 0,
                rect: Rect::new(0, 0, width, height),
                flags: 0,
            }],
        }
    }

    /// Appends the pseudo-rectangle (header included).
    pub fn write(&self, out: &mut Vec<u8>) {
        let n = self.screens.len().min(MAX_SCREENS);
        write_rect_header(
            out,
            Rect::new(self.reason, self.status, self.width, self.height),
            id::EXTENDED_DESKTOP_SIZE,
        );
        out.extend_from_slice(&[n as u8, 0, 0, 0]);
        for s in &self.screens[..n] {
            s.write(out);
        }
    }

    /// Parses the payload of a −308 rectangle whose header was `rect`.
    pub fn read(rect: Rect, r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            let count = r.u8()?;
            r.skip(3)?;
            let screens = read_screens(r, count)?;
            Ok(ExtendedDesktopSize {
                reason: rect.x,
                status: rect.y,
                width: rect.w,
                height: rect.h,
                screens,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::tests_support::screen;
    use proptest::prelude::*;

    #[test]
    fn too_many_screens() {
        let mut r = Reader::new(&[200, 0, 0, 0]);
        assert!(matches!(
            ExtendedDesktopSize::read(Rect::new(0, 0, 10, 10), &mut r),
            Err(MsgError::Limit { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(reason in any::<u16>(), st in any::<u16>(), width in any::<u16>(), height in any::<u16>(), screens in proptest::collection::vec(screen(), 0..=8)) {
            let m = ExtendedDesktopSize { reason, status: st, width, height, screens };
            let mut out = Vec::new();
            m.write(&mut out);
            let v = |i: usize| u16::from_be_bytes([out[i], out[i + 1]]);
            let rect = Rect::new(v(0), v(2), v(4), v(6));
            prop_assert_eq!(i32::from_be_bytes([out[8], out[9], out[10], out[11]]), id::EXTENDED_DESKTOP_SIZE);
            prop_assert_eq!(ExtendedDesktopSize::read(rect, &mut Reader::new(&out[12..])), Ok(m));
        }
    }
}
