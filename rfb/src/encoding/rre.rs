//! RRE encoding (2): a background colour and a list of solid subrectangles.
//!
//! Wire format (RFC 6143 §7.7.3): `u32` subrectangle count, background
//! pixel, then for each subrectangle a pixel and `x, y, w, h` (`u16`,
//! relative to the rectangle).
//!
//! The decoder refuses counts beyond the rectangle's area and
//! subrectangles that leave the rectangle; it is resumable at every whole
//! subrectangle.

use super::{
    DecodeError, Decoder, EncodeContext, EncodeError, Encoder, Step, check_fits, id,
    write_rect_header,
};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::{Native, PixelCodec};
use crate::reader::{Incomplete, Reader};

/// A solid subrectangle found by [`find_subrects`], relative to its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subrect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    pub colour: Native,
}

/// Covers every pixel of `pixels` (`w`×`h`, row-major) that is not `bg`
/// with solid subrectangles, greedily (extend right, then down).
/// Returns false as soon as more than `limit` subrectangles would be needed.
pub(crate) fn find_subrects(
    pixels: &[Native],
    w: usize,
    h: usize,
    bg: Native,
    covered: &mut Vec<bool>,
    limit: usize,
    out: &mut Vec<Subrect>,
) -> bool {
    out.clear();
    covered.clear();
    covered.resize(w * h, false);
    for y in 0..h {
        let row = y * w;
        let mut x = 0;
        while x < w {
            let c = pixels[row + x];
            if c == bg || covered[row + x] {
                x += 1;
                continue;
            }
            let mut x2 = x + 1;
            while x2 < w && pixels[row + x2] == c && !covered[row + x2] {
                x2 += 1;
            }
            let mut y2 = y + 1;
            'down: while y2 < h {
                let r = y2 * w;
                for i in x..x2 {
                    if pixels[r + i] != c || covered[r + i] {
                        break 'down;
                    }
                }
                y2 += 1;
            }
            for yy in y + 1..y2 {
                covered[yy * w + x..yy * w + x2].fill(true);
            }
            if out.len() >= limit {
                return false;
            }
            // w and h come from a Rect, so every coordinate fits in u16.
            out.push(Subrect {
                x: x as u16,
                y: y as u16,
                w: (x2 - x) as u16,
                h: (y2 - y) as u16,
                colour: c,
            });
            x = x2;
        }
    }
    true
}

/// The most frequent colour of `pixels` (counting runs, so flat areas are cheap).
pub(crate) fn dominant_colour(pixels: &[Native]) -> Native {
    let Some(&first) = pixels.first() else {
        return 0;
    };
    let mut counts: std::collections::HashMap<Native, usize> = std::collections::HashMap::new();
    let mut run_colour = first;
    let mut run = 0usize;
    for &p in pixels {
        if p == run_colour {
            run += 1;
        } else {
            *counts.entry(run_colour).or_default() += run;
            run_colour = p;
            run = 1;
        }
    }
    *counts.entry(run_colour).or_default() += run;
    counts
        .into_iter()
        .max_by_key(|&(c, n)| (n, std::cmp::Reverse(c)))
        .map_or(first, |(c, _)| c)
}

/// Maps native pixels to what they become after a trip through the
/// client's pixel format, so that colours equal on the wire compare equal.
pub(crate) fn quantise(codec: &PixelCodec, mut pixels: Vec<Native>) -> Vec<Native> {
    if *codec.format() == crate::pixel::PixelFormat::RGB888 {
        pixels.iter_mut().for_each(|p| *p &= 0x00ff_ffff);
    } else {
        pixels
            .iter_mut()
            .for_each(|p| *p = codec.from_wire_value(codec.to_wire_value(*p)));
    }
    pixels
}

/// RRE encoder.
#[derive(Debug, Default)]
pub struct RreEncoder {
    covered: Vec<bool>,
    subrects: Vec<Subrect>,
}

impl Encoder for RreEncoder {
    fn encoding(&self) -> i32 {
        id::RRE
    }

    fn encode(
        &mut self,
        fb: &Framebuffer,
        rect: Rect,
        ctx: &EncodeContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<u16, EncodeError> {
        check_fits(fb, rect)?;
        let pixels = fb.read(rect).unwrap_or_default();
        // Quantise to the client's format first, so that colours that look
        // the same on the wire merge into the same subrectangle.
        let codec = ctx.codec;
        let pixels = quantise(codec, pixels);
        let bg = dominant_colour(&pixels);
        let (w, h) = (usize::from(rect.w), usize::from(rect.h));
        find_subrects(
            &pixels,
            w,
            h,
            bg,
            &mut self.covered,
            usize::MAX,
            &mut self.subrects,
        );
        write_rect_header(out, rect, id::RRE);
        // At most w*h ≤ 65535² < 2³² subrectangles.
        out.extend_from_slice(&(self.subrects.len() as u32).to_be_bytes());
        codec.write_pixel(bg, out);
        out.reserve(self.subrects.len() * (8 + codec.bytes_per_pixel()));
        for s in &self.subrects {
            codec.write_pixel(s.colour, out);
            for v in [s.x, s.y, s.w, s.h] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        Ok(1)
    }
}

/// RRE decoder: resumable at every whole subrectangle.
#[derive(Debug, Clone, Default)]
pub struct RreDecoder {
    rect: Rect,
    /// Subrectangles still to read, once the header has been read.
    remaining: Option<u32>,
}

impl Decoder for RreDecoder {
    fn encoding(&self) -> i32 {
        id::RRE
    }

    fn begin(&mut self, rect: Rect) {
        self.rect = rect;
        self.remaining = None;
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
                what: "RRE rectangle",
                rect,
                bounds: fb.bounds(),
            });
        }
        let bpp = codec.bytes_per_pixel();
        let mut remaining = match self.remaining {
            Some(n) => n,
            None => {
                let Ok((count, bg)) = input.atomic(|r| -> Result<_, Incomplete> {
                    let count = r.u32()?;
                    let bg = codec.read_pixel(r.take(bpp)?);
                    Ok((count, bg))
                }) else {
                    return Ok(Step::NeedMore);
                };
                if u64::from(count) > rect.area() as u64 {
                    return Err(DecodeError::Limit {
                        what: "RRE subrectangle count",
                        value: u64::from(count),
                        limit: rect.area() as u64,
                    });
                }
                fb.fill(rect, bg);
                count
            }
        };
        while remaining > 0 {
            let Ok(b) = input.take(bpp + 8) else {
                self.remaining = Some(remaining);
                return Ok(Step::NeedMore);
            };
            let (px, geo) = b.split_at(bpp);
            let colour = codec.read_pixel(px);
            let v = |i: usize| u16::from_be_bytes([geo[i], geo[i + 1]]);
            let sub = Rect::new(v(0), v(2), v(4), v(6));
            if !sub.fits_in(rect.w, rect.h) {
                return Err(DecodeError::Outside {
                    what: "RRE subrectangle",
                    rect: sub,
                    bounds: Rect::new(0, 0, rect.w, rect.h),
                });
            }
            // Fits in the rectangle, which fits in the framebuffer: no overflow.
            fb.fill(
                Rect::new(rect.x + sub.x, rect.y + sub.y, sub.w, sub.h),
                colour,
            );
            remaining -= 1;
        }
        self.remaining = Some(0);
        Ok(Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(data: &[u8], rect: Rect, fb: &mut Framebuffer) -> Result<Step, DecodeError> {
        let mut dec = RreDecoder::default();
        dec.begin(rect);
        dec.decode(&mut Reader::new(data), &PixelCodec::native(), fb)
    }

    #[test]
    fn round_trip() {
        let mut fb = Framebuffer::new(20, 10).unwrap();
        fb.fill(Rect::new(0, 0, 20, 10), 0xffffff);
        fb.fill(Rect::new(3, 2, 5, 4), 0x112233);
        fb.fill(Rect::new(10, 1, 1, 8), 0x445566);
        let codec = PixelCodec::native();
        let ctx = EncodeContext {
            codec: &codec,
            settings: Default::default(),
        };
        let mut out = Vec::new();
        RreEncoder::default()
            .encode(&fb, fb.bounds(), &ctx, &mut out)
            .unwrap();
        assert_eq!(u32::from_be_bytes([out[12], out[13], out[14], out[15]]), 2);
        let mut dst = Framebuffer::new(20, 10).unwrap();
        assert_eq!(
            decode_all(&out[12..], fb.bounds(), &mut dst),
            Ok(Step::Done)
        );
        assert_eq!(dst, fb);
    }

    #[test]
    fn refuses_count_beyond_area() {
        let mut fb = Framebuffer::new(4, 4).unwrap();
        let mut data = 17u32.to_be_bytes().to_vec();
        data.extend_from_slice(&[0; 4]);
        assert!(matches!(
            decode_all(&data, Rect::new(0, 0, 4, 4), &mut fb),
            Err(DecodeError::Limit { .. })
        ));
    }

    #[test]
    fn refuses_subrect_outside() {
        let mut fb = Framebuffer::new(8, 8).unwrap();
        let mut data = 1u32.to_be_bytes().to_vec();
        data.extend_from_slice(&[0; 4]);
        data.extend_from_slice(&[1, 2, 3, 0]);
        for v in [2u16, 2, 3, 1] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        assert!(matches!(
            decode_all(&data, Rect::new(0, 0, 4, 4), &mut fb),
            Err(DecodeError::Outside { .. })
        ));
        // x + w overflowing u16 must not wrap.
        let mut data = 1u32.to_be_bytes().to_vec();
        data.extend_from_slice(&[0; 8]);
        for v in [65535u16, 0, 2, 1] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        assert!(decode_all(&data, Rect::new(0, 0, 4, 4), &mut fb).is_err());
    }
}
