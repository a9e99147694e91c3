//! CopyRect encoding (1): the client copies an area of its own framebuffer.
//!
//! The server decides what moved, so the encoder side is
//! [`write_copy_rect`]; the decoder checks both source and destination.

use super::{DecodeError, Decoder, Step, id, write_rect_header};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelCodec;
use crate::reader::Reader;

/// A move the server wants the client to perform: the `dst`-sized area at
/// (`src_x`, `src_y`) of the client's current picture goes to `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CopyMove {
    /// Source left edge.
    pub src_x: u16,
    /// Source top edge.
    pub src_y: u16,
    /// Destination (also gives the size).
    pub dst: Rect,
}

impl CopyMove {
    /// The source area.
    pub fn src(&self) -> Rect {
        Rect::new(self.src_x, self.src_y, self.dst.w, self.dst.h)
    }
}

/// Appends a complete CopyRect rectangle (header included).
pub fn write_copy_rect(out: &mut Vec<u8>, src_x: u16, src_y: u16, dst: Rect) {
    write_rect_header(out, dst, id::COPY_RECT);
    out.extend_from_slice(&src_x.to_be_bytes());
    out.extend_from_slice(&src_y.to_be_bytes());
}

/// CopyRect decoder.
#[derive(Debug, Clone, Default)]
pub struct CopyRectDecoder {
    rect: Rect,
}

impl Decoder for CopyRectDecoder {
    fn encoding(&self) -> i32 {
        id::COPY_RECT
    }

    fn begin(&mut self, rect: Rect) {
        self.rect = rect;
    }

    fn decode(
        &mut self,
        input: &mut Reader<'_>,
        _codec: &PixelCodec,
        fb: &mut Framebuffer,
    ) -> Result<Step, DecodeError> {
        let Ok(b) = input.array::<4>() else {
            return Ok(Step::NeedMore);
        };
        let src_x = u16::from_be_bytes([b[0], b[1]]);
        let src_y = u16::from_be_bytes([b[2], b[3]]);
        let src = Rect::new(src_x, src_y, self.rect.w, self.rect.h);
        for (what, r) in [
            ("CopyRect source", src),
            ("CopyRect destination", self.rect),
        ] {
            if !r.fits_in(fb.width(), fb.height()) {
                return Err(DecodeError::Outside {
                    what,
                    rect: r,
                    bounds: fb.bounds(),
                });
            }
        }
        fb.copy_within(src_x, src_y, self.rect);
        Ok(Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_refuses_outside_sources() {
        let mut fb = Framebuffer::from_pixels(4, 4, (0..16).collect()).unwrap();
        let mut out = Vec::new();
        write_copy_rect(&mut out, 0, 0, Rect::new(2, 2, 2, 2));
        let mut dec = CopyRectDecoder::default();
        dec.begin(Rect::new(2, 2, 2, 2));
        let codec = PixelCodec::native();
        assert_eq!(
            dec.decode(&mut Reader::new(&out[12..14]), &codec, &mut fb),
            Ok(Step::NeedMore)
        );
        assert_eq!(
            dec.decode(&mut Reader::new(&out[12..]), &codec, &mut fb),
            Ok(Step::Done)
        );
        assert_eq!(fb.get(3, 3), Some(5));
        dec.begin(Rect::new(0, 0, 2, 2));
        assert!(matches!(
            dec.decode(&mut Reader::new(&[0xff, 0xff, 0, 0]), &codec, &mut fb),
            Err(DecodeError::Outside { .. })
        ));
    }
}
