//! Cursor pseudo-encoding (−239): a "rich" cursor, pixels in the client's
//! format followed by a 1-bit mask. The rectangle's x/y are the hotspot;
//! a 0×0 cursor hides the cursor.

use crate::encoding::{id, write_rect_header};
use crate::framebuffer::Rect;
use crate::limits::MAX_CURSOR_SIDE;
use crate::msgs::MsgError;
use crate::pixel::{Native, PixelCodec};
use crate::reader::Reader;

/// A cursor image with its hotspot and transparency mask.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CursorShape {
    /// Hotspot column.
    pub hotspot_x: u16,
    /// Hotspot row.
    pub hotspot_y: u16,
    /// Width in pixels (≤ [`MAX_CURSOR_SIDE`]).
    pub width: u16,
    /// Height in pixels (≤ [`MAX_CURSOR_SIDE`]).
    pub height: u16,
    /// Native pixels, row-major, `width*height`.
    pub pixels: Vec<Native>,
    /// 1 bit a pixel (most significant first), rows padded to whole bytes;
    /// a set bit is an opaque pixel.
    pub mask: Vec<u8>,
}

/// Why a cursor shape cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cursor {width}x{height} with {pixels} pixels and {mask} mask bytes is inconsistent or too large"
)]
pub struct CursorError {
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
    /// Pixel count given.
    pub pixels: usize,
    /// Mask bytes given.
    pub mask: usize,
}

impl CursorShape {
    /// Bytes of one mask row.
    pub fn mask_stride(width: u16) -> usize {
        usize::from(width).div_ceil(8)
    }

    /// A cursor, checked for consistent sizes and the side limit.
    pub fn new(
        hotspot_x: u16,
        hotspot_y: u16,
        width: u16,
        height: u16,
        pixels: Vec<Native>,
        mask: Vec<u8>,
    ) -> Result<Self, CursorError> {
        let ok = width <= MAX_CURSOR_SIDE
            && height <= MAX_CURSOR_SIDE
            && pixels.len() == usize::from(width) * usize::from(height)
            && mask.len() == Self::mask_stride(width) * usize::from(height);
        if !ok {
            return Err(CursorError {
                width,
                height,
                pixels: pixels.len(),
                mask: mask.len(),
            });
        }
        Ok(Self {
            hotspot_x,
            hotspot_y,
            width,
            height,
            pixels,
            mask,
        })
    }

    /// True when the pixel at (x, y) is opaque.
    pub fn visible(&self, x: u16, y: u16) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let i = usize::from(y) * Self::mask_stride(self.width) + usize::from(x / 8);
        self.mask.get(i).is_some_and(|b| b & (0x80 >> (x % 8)) != 0)
    }

    /// Appends the pseudo-rectangle (header included).
    pub fn write(&self, codec: &PixelCodec, out: &mut Vec<u8>) {
        let consistent = self.pixels.len() == usize::from(self.width) * usize::from(self.height)
            && self.mask.len() == Self::mask_stride(self.width) * usize::from(self.height);
        let (w, h) = if consistent {
            (self.width, self.height)
        } else {
            (0, 0)
        };
        write_rect_header(
            out,
            Rect::new(self.hotspot_x, self.hotspot_y, w, h),
            id::CURSOR,
        );
        if consistent {
            codec.write_pixels(&self.pixels, out);
            out.extend_from_slice(&self.mask);
        }
    }

    /// Parses the payload of a −239 rectangle whose header was `rect`.
    pub fn read(rect: Rect, codec: &PixelCodec, r: &mut Reader<'_>) -> Result<Self, MsgError> {
        if rect.w > MAX_CURSOR_SIDE || rect.h > MAX_CURSOR_SIDE {
            return Err(MsgError::limit(
                "cursor side",
                rect.w.max(rect.h),
                usize::from(MAX_CURSOR_SIDE),
            ));
        }
        r.atomic(|r| {
            let bpp = codec.bytes_per_pixel();
            let bytes = r.take(rect.area() * bpp)?;
            let mask = r.take(Self::mask_stride(rect.w) * usize::from(rect.h))?;
            let pixels = bytes
                .chunks_exact(bpp)
                .map(|b| codec.read_pixel(b))
                .collect();
            Ok(CursorShape {
                hotspot_x: rect.x,
                hotspot_y: rect.y,
                width: rect.w,
                height: rect.h,
                pixels,
                mask: mask.to_vec(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixel::PixelFormat;
    use proptest::prelude::*;

    fn header(out: &[u8]) -> Rect {
        let v = |i: usize| u16::from_be_bytes([out[i], out[i + 1]]);
        Rect::new(v(0), v(2), v(4), v(6))
    }

    #[test]
    fn hostile_sizes() {
        let codec = PixelCodec::native();
        assert!(matches!(
            CursorShape::read(Rect::new(0, 0, 65535, 65535), &codec, &mut Reader::new(&[])),
            Err(MsgError::Limit { .. })
        ));
        // Mask shorter than announced: incomplete, nothing consumed.
        let mut r = Reader::new(&[0; 4 * 4 + 1]);
        assert_eq!(
            CursorShape::read(Rect::new(0, 0, 2, 2), &codec, &mut r),
            Err(MsgError::Incomplete)
        );
        assert_eq!(r.position(), 0);
        // 0×0 hides the cursor.
        let hidden =
            CursorShape::read(Rect::new(0, 0, 0, 0), &codec, &mut Reader::new(&[])).unwrap();
        assert_eq!(hidden.width, 0);
        assert!(CursorShape::new(0, 0, 300, 1, vec![0; 300], vec![0; 38]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(w in 0u16..20, h in 0u16..20, hx in any::<u16>(), hy in any::<u16>(), seed in any::<u32>()) {
            let n = usize::from(w) * usize::from(h);
            let pixels = (0..n as u32).map(|i| (i.wrapping_mul(seed)) & 0xffffff).collect();
            let mask = (0..CursorShape::mask_stride(w) * usize::from(h)).map(|i| (i as u32 ^ seed) as u8).collect();
            let c = CursorShape::new(hx, hy, w, h, pixels, mask).unwrap();
            let codec = PixelCodec::new(PixelFormat::RGB888).unwrap();
            let mut out = Vec::new();
            c.write(&codec, &mut out);
            let got = CursorShape::read(header(&out), &codec, &mut Reader::new(&out[12..])).unwrap();
            prop_assert_eq!(got, c);
        }
    }
}
