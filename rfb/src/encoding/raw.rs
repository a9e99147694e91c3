//! Raw encoding (0): pixels row by row in the client's pixel format.

use super::{
    DecodeError, Decoder, EncodeContext, EncodeError, Encoder, Step, check_fits, id,
    write_rect_header,
};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelCodec;
use crate::reader::Reader;

/// Raw encoder.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

impl Encoder for RawEncoder {
    fn encoding(&self) -> i32 {
        id::RAW
    }

    fn encode(
        &mut self,
        fb: &Framebuffer,
        rect: Rect,
        ctx: &EncodeContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<u16, EncodeError> {
        check_fits(fb, rect)?;
        write_rect_header(out, rect, id::RAW);
        out.reserve(rect.area() * ctx.codec.bytes_per_pixel());
        for dy in 0..rect.h {
            ctx.codec.write_pixels(fb.row(&rect, dy), out);
        }
        Ok(1)
    }
}

/// Raw decoder: resumable at any whole pixel.
#[derive(Debug, Clone, Default)]
pub struct RawDecoder {
    rect: Rect,
    done: usize,
}

impl Decoder for RawDecoder {
    fn encoding(&self) -> i32 {
        id::RAW
    }

    fn begin(&mut self, rect: Rect) {
        self.rect = rect;
        self.done = 0;
    }

    fn decode(
        &mut self,
        input: &mut Reader<'_>,
        codec: &PixelCodec,
        fb: &mut Framebuffer,
    ) -> Result<Step, DecodeError> {
        let rect = self.rect;
        if !rect.fits_in(fb.width(), fb.height()) {
            return Err(DecodeError::Outside {
                what: "Raw rectangle",
                rect,
                bounds: fb.bounds(),
            });
        }
        let total = rect.area();
        let w = usize::from(rect.w);
        let bpp = codec.bytes_per_pixel().max(1);
        while self.done < total {
            let avail = input.remaining() / bpp;
            if avail == 0 {
                return Ok(Step::NeedMore);
            }
            let x = self.done % w;
            let y = self.done / w;
            let n = avail.min(w - x);
            let bytes = input.take(n * bpp).map_err(|_| DecodeError::Invalid {
                what: "Raw",
                detail: "input shorter than counted".into(),
            })?;
            // x, y and n are within the rectangle, which fits in u16 space.
            let row = Rect::new(rect.x + x as u16, rect.y + y as u16, n as u16, 1);
            for (p, b) in fb.row_mut(&row, 0).iter_mut().zip(bytes.chunks_exact(bpp)) {
                *p = codec.read_pixel(b);
            }
            self.done += n;
        }
        Ok(Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixel::PixelFormat;

    #[test]
    fn round_trip_in_chunks() {
        let fb = Framebuffer::from_pixels(7, 5, (0..35).map(|i| i * 0x010203).collect()).unwrap();
        for format in [
            PixelFormat::RGB888,
            PixelFormat::RGB565,
            PixelFormat::BGR233,
        ] {
            let codec = PixelCodec::new(format).unwrap();
            let ctx = EncodeContext {
                codec: &codec,
                settings: Default::default(),
            };
            let rect = Rect::new(1, 1, 5, 3);
            let mut out = Vec::new();
            assert_eq!(RawEncoder.encode(&fb, rect, &ctx, &mut out), Ok(1));
            let data = &out[12..];
            let mut dst = Framebuffer::new(7, 5).unwrap();
            let mut dec = RawDecoder::default();
            dec.begin(rect);
            let mut fed = 0;
            loop {
                let end = (fed + 5).min(data.len());
                let mut r = Reader::new(&data[fed..end]);
                let step = dec.decode(&mut r, &codec, &mut dst).unwrap();
                fed += r.position();
                if step == Step::Done {
                    break;
                }
                assert!(end < data.len(), "decoder wants more than was encoded");
            }
            assert_eq!(fed, data.len());
            for y in 1..4 {
                for x in 1..6 {
                    let mut o = Vec::new();
                    codec.write_pixel(fb.get(x, y).unwrap(), &mut o);
                    assert_eq!(dst.get(x, y).unwrap(), codec.read_pixel(&o));
                }
            }
        }
    }

    #[test]
    fn empty_and_outside() {
        let mut fb = Framebuffer::new(4, 4).unwrap();
        let codec = PixelCodec::native();
        let mut dec = RawDecoder::default();
        dec.begin(Rect::new(4, 4, 0, 0));
        assert_eq!(
            dec.decode(&mut Reader::new(&[]), &codec, &mut fb),
            Ok(Step::Done)
        );
        dec.begin(Rect::new(3, 3, 2, 2));
        assert!(
            dec.decode(&mut Reader::new(&[0; 16]), &codec, &mut fb)
                .is_err()
        );
        dec.begin(Rect::new(0, 0, 2, 2));
        assert_eq!(
            dec.decode(&mut Reader::new(&[0; 7]), &codec, &mut fb),
            Ok(Step::NeedMore)
        );
    }
}
