//! Screen layouts: the [`Screen`] structure shared by SetDesktopSize
//! (client → server, type 251) and the ExtendedDesktopSize pseudo-encoding.

use super::{Message, MsgError, expect_type};
use crate::framebuffer::Rect;
use crate::limits::MAX_SCREENS;
use crate::reader::Reader;

/// One screen of a desktop layout (16 bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Screen {
    /// Screen id.
    pub id: u32,
    /// Area of the framebuffer this screen shows.
    pub rect: Rect,
    /// Flags (unused, 0).
    pub flags: u32,
}

impl Screen {
    /// Appends the 16-byte structure.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_be_bytes());
        for v in [self.rect.x, self.rect.y, self.rect.w, self.rect.h] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.flags.to_be_bytes());
    }

    /// Parses the 16-byte structure.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        let id = r.u32()?;
        let rect = Rect::new(r.u16()?, r.u16()?, r.u16()?, r.u16()?);
        let flags = r.u32()?;
        Ok(Screen { id, rect, flags })
    }
}

/// Reads a screen count (u8) and then the screens, refusing more than
/// [`MAX_SCREENS`]; `pad` bytes sit between the count and the screens.
pub(crate) fn read_screens(r: &mut Reader<'_>, count: u8) -> Result<Vec<Screen>, MsgError> {
    let n = usize::from(count);
    if n > MAX_SCREENS {
        return Err(MsgError::limit("screen count", n, MAX_SCREENS));
    }
    // Wait for all the bytes before allocating.
    let bytes = r.take(n * 16)?;
    let mut sr = Reader::new(bytes);
    (0..n).map(|_| Screen::read(&mut sr)).collect()
}

/// SetDesktopSize (type 251): the client asks for a new size and layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDesktopSize {
    /// Requested width.
    pub width: u16,
    /// Requested height.
    pub height: u16,
    /// Requested layout, at most [`MAX_SCREENS`] screens.
    pub screens: Vec<Screen>,
}

impl Message for SetDesktopSize {
    const TYPE: u8 = 251;

    fn write(&self, out: &mut Vec<u8>) {
        let n = self.screens.len().min(MAX_SCREENS);
        out.extend_from_slice(&[Self::TYPE, 0]);
        out.extend_from_slice(&self.width.to_be_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&[n as u8, 0]);
        for s in &self.screens[..n] {
            s.write(out);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            r.skip(1)?;
            let width = r.u16()?;
            let height = r.u16()?;
            let count = r.u8()?;
            r.skip(1)?;
            let screens = read_screens(r, count)?;
            Ok(SetDesktopSize {
                width,
                height,
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
    fn too_many_screens_is_refused() {
        let buf = [251u8, 0, 0, 10, 0, 10, 255, 0];
        assert!(matches!(
            SetDesktopSize::read(&mut Reader::new(&buf)),
            Err(MsgError::Limit { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(width in any::<u16>(), height in any::<u16>(), screens in proptest::collection::vec(screen(), 0..=MAX_SCREENS)) {
            let m = SetDesktopSize { width, height, screens };
            prop_assert_eq!(SetDesktopSize::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }
    }
}
