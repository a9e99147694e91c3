//! Framebuffer update messages: FramebufferUpdateRequest and
//! EnableContinuousUpdates (client → server), the FramebufferUpdate header
//! and EndOfContinuousUpdates (server → client).

use super::{Message, MsgError, expect_type};
use crate::framebuffer::Rect;
use crate::reader::Reader;

fn write_rect(out: &mut Vec<u8>, r: &Rect) {
    for v in [r.x, r.y, r.w, r.h] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn read_rect(r: &mut Reader<'_>) -> Result<Rect, MsgError> {
    Ok(Rect::new(r.u16()?, r.u16()?, r.u16()?, r.u16()?))
}

/// FramebufferUpdateRequest (type 3). The area is not checked against the
/// screen here: the server clips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramebufferUpdateRequest {
    /// Only changes are wanted (else the whole area).
    pub incremental: bool,
    /// The area of interest.
    pub rect: Rect,
}

impl Message for FramebufferUpdateRequest {
    const TYPE: u8 = 3;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[Self::TYPE, u8::from(self.incremental)]);
        write_rect(out, &self.rect);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            let incremental = r.u8()? != 0;
            let rect = read_rect(r)?;
            Ok(FramebufferUpdateRequest { incremental, rect })
        })
    }
}

/// EnableContinuousUpdates (client type 150).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnableContinuousUpdates {
    /// Turn continuous updates on (or off).
    pub enable: bool,
    /// The area to keep updated.
    pub rect: Rect,
}

impl Message for EnableContinuousUpdates {
    const TYPE: u8 = 150;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[Self::TYPE, u8::from(self.enable)]);
        write_rect(out, &self.rect);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            let enable = r.u8()? != 0;
            let rect = read_rect(r)?;
            Ok(EnableContinuousUpdates { enable, rect })
        })
    }
}

/// EndOfContinuousUpdates (server type 150): continuous updates stopped,
/// or (sent once, first) the server supports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndOfContinuousUpdates;

impl Message for EndOfContinuousUpdates {
    const TYPE: u8 = 150;

    fn write(&self, out: &mut Vec<u8>) {
        out.push(Self::TYPE);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| expect_type(r, Self::TYPE).map(|()| EndOfContinuousUpdates))
    }
}

/// FramebufferUpdate (type 0) header; `rects` rectangles follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramebufferUpdate {
    /// Number of rectangles (65535 = unknown, ended by a LastRect).
    pub rects: u16,
}

impl Message for FramebufferUpdate {
    const TYPE: u8 = 0;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[Self::TYPE, 0]);
        out.extend_from_slice(&self.rects.to_be_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            r.skip(1)?;
            Ok(FramebufferUpdate { rects: r.u16()? })
        })
    }
}

/// A rectangle header inside a FramebufferUpdate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RectHeader {
    /// Position and size (for pseudo-encodings: encoding-specific values).
    pub rect: Rect,
    /// Encoding or pseudo-encoding number.
    pub encoding: i32,
}

impl RectHeader {
    /// Appends the 12-byte header.
    pub fn write(&self, out: &mut Vec<u8>) {
        crate::encoding::write_rect_header(out, self.rect, self.encoding);
    }

    /// Parses the 12-byte header.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            let rect = read_rect(r)?;
            let encoding = r.i32()?;
            Ok(RectHeader { rect, encoding })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::tests_support::rect;
    use proptest::prelude::*;

    #[test]
    fn incomplete_rewinds() {
        let buf = FramebufferUpdateRequest {
            incremental: true,
            rect: Rect::new(1, 2, 3, 4),
        }
        .to_bytes();
        for n in 0..buf.len() {
            let mut r = Reader::new(&buf[..n]);
            assert_eq!(
                FramebufferUpdateRequest::read(&mut r),
                Err(MsgError::Incomplete)
            );
            assert_eq!(r.position(), 0);
        }
    }

    proptest! {
        #[test]
        fn request_round_trips(incremental in any::<bool>(), rect in rect()) {
            let m = FramebufferUpdateRequest { incremental, rect };
            prop_assert_eq!(FramebufferUpdateRequest::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }

        #[test]
        fn continuous_round_trips(enable in any::<bool>(), rect in rect()) {
            let m = EnableContinuousUpdates { enable, rect };
            prop_assert_eq!(EnableContinuousUpdates::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }

        #[test]
        fn update_header_round_trips(rects in any::<u16>()) {
            let m = FramebufferUpdate { rects };
            prop_assert_eq!(FramebufferUpdate::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }

        #[test]
        fn rect_header_round_trips(rect in rect(), encoding in any::<i32>()) {
            let m = RectHeader { rect, encoding };
            let mut out = Vec::new();
            m.write(&mut out);
            prop_assert_eq!(RectHeader::read(&mut Reader::new(&out)), Ok(m));
        }
    }

    #[test]
    fn end_of_continuous_round_trips() {
        let b = EndOfContinuousUpdates.to_bytes();
        assert_eq!(b, [150]);
        assert_eq!(
            EndOfContinuousUpdates::read(&mut Reader::new(&b)),
            Ok(EndOfContinuousUpdates)
        );
    }
}
