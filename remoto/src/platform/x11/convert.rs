//! ZPixmap images of a TrueColor visual → native pixels (`0x00RRGGBB`).

use rfb::framebuffer::{Framebuffer, Rect};
use x11rb::protocol::xproto::{ImageOrder, Setup, VisualClass};

use crate::platform::PlatformError;

/// How the screen's pixels are laid out in a ZPixmap image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLayout {
    /// Bits per pixel in the image: 16, 24 or 32.
    pub bits_per_pixel: u8,
    /// Rows are padded to a multiple of this many bits.
    pub scanline_pad: u8,
    /// Multi-byte pixels are most-significant byte first.
    pub big_endian: bool,
    /// Red bits in a pixel value.
    pub red_mask: u32,
    /// Green bits in a pixel value.
    pub green_mask: u32,
    /// Blue bits in a pixel value.
    pub blue_mask: u32,
}

impl PixelLayout {
    /// The layout of screen `screen` of a display, from the connection setup.
    pub fn from_setup(setup: &Setup, screen: usize) -> Result<Self, PlatformError> {
        let root = setup
            .roots
            .get(screen)
            .ok_or_else(|| PlatformError::UnsupportedFormat(format!("no screen {screen}")))?;
        let visual = root
            .allowed_depths
            .iter()
            .flat_map(|d| d.visuals.iter())
            .find(|v| v.visual_id == root.root_visual)
            .ok_or_else(|| PlatformError::UnsupportedFormat("root visual not listed".into()))?;
        if visual.class != VisualClass::TRUE_COLOR && visual.class != VisualClass::DIRECT_COLOR {
            return Err(PlatformError::UnsupportedFormat(format!(
                "visual class {:?} (only TrueColor/DirectColor)",
                visual.class
            )));
        }
        let format = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == root.root_depth)
            .ok_or_else(|| {
                PlatformError::UnsupportedFormat(format!(
                    "no pixmap format for depth {}",
                    root.root_depth
                ))
            })?;
        let layout = Self {
            bits_per_pixel: format.bits_per_pixel,
            scanline_pad: format.scanline_pad,
            big_endian: setup.image_byte_order == ImageOrder::MSB_FIRST,
            red_mask: visual.red_mask,
            green_mask: visual.green_mask,
            blue_mask: visual.blue_mask,
        };
        layout.check()?;
        Ok(layout)
    }

    fn check(&self) -> Result<(), PlatformError> {
        let bpp_ok = matches!(self.bits_per_pixel, 16 | 24 | 32);
        let pad_ok = matches!(self.scanline_pad, 8 | 16 | 32);
        let masks_ok = [self.red_mask, self.green_mask, self.blue_mask]
            .iter()
            .all(|&m| m != 0 && (self.bits_per_pixel == 32 || m >> self.bits_per_pixel == 0));
        if bpp_ok && pad_ok && masks_ok {
            Ok(())
        } else {
            Err(PlatformError::UnsupportedFormat(format!("{self:?}")))
        }
    }

    /// Bytes of one image row `width` pixels wide.
    pub fn stride(&self, width: u16) -> usize {
        let bits = usize::from(width) * usize::from(self.bits_per_pixel);
        let pad = usize::from(self.scanline_pad);
        bits.div_ceil(pad) * pad / 8
    }

    /// True for the common 32-bit little-endian `xRGB` layout (Xorg, Xvfb).
    fn is_bgrx(&self) -> bool {
        self.bits_per_pixel == 32
            && !self.big_endian
            && self.red_mask == 0x00ff_0000
            && self.green_mask == 0x0000_ff00
            && self.blue_mask == 0x0000_00ff
    }

    /// Converts an image of `r.w`×`r.h` pixels (rows `stride` bytes apart)
    /// into rectangle `r` of `fb`. Returns false (changing nothing) when the
    /// image is too short or `r` does not fit.
    pub fn convert(&self, src: &[u8], stride: usize, fb: &mut Framebuffer, r: Rect) -> bool {
        let bytes_pp = usize::from(self.bits_per_pixel / 8);
        let row_bytes = usize::from(r.w) * bytes_pp;
        let needed = if r.h == 0 {
            0
        } else {
            stride * (usize::from(r.h) - 1) + row_bytes
        };
        if src.len() < needed || stride < row_bytes || !r.fits_in(fb.width(), fb.height()) {
            return false;
        }
        let fast = self.is_bgrx();
        let chans = [
            Channel::new(self.red_mask),
            Channel::new(self.green_mask),
            Channel::new(self.blue_mask),
        ];
        for dy in 0..r.h {
            let start = usize::from(dy) * stride;
            let line = &src[start..start + row_bytes];
            let out = fb.row_mut(&r, dy);
            if fast {
                for (o, c) in out.iter_mut().zip(line.chunks_exact(4)) {
                    *o = u32::from_le_bytes([c[0], c[1], c[2], 0]);
                }
            } else {
                for (o, c) in out.iter_mut().zip(line.chunks_exact(bytes_pp)) {
                    let v = self.read_pixel(c);
                    *o = (chans[0].get(v) << 16) | (chans[1].get(v) << 8) | chans[2].get(v);
                }
            }
        }
        true
    }

    fn read_pixel(&self, c: &[u8]) -> u32 {
        if self.big_endian {
            c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
        } else {
            c.iter()
                .rev()
                .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
        }
    }
}

/// One colour channel of a pixel value, scaled to 8 bits.
#[derive(Debug, Clone, Copy)]
struct Channel {
    mask: u32,
    shift: u32,
    bits: u32,
}

impl Channel {
    fn new(mask: u32) -> Self {
        Self {
            mask,
            shift: mask.trailing_zeros().min(31),
            bits: mask.count_ones(),
        }
    }

    fn get(&self, v: u32) -> u32 {
        let c = (v & self.mask) >> self.shift;
        match self.bits {
            0 => 0,
            b if b >= 8 => c >> (b - 8),
            // Replicate the high bits into the low ones: 5-bit 31 → 255.
            b => {
                let mut out = c << (8 - b);
                let mut have = b;
                while have < 8 {
                    out |= out >> have;
                    have *= 2;
                }
                out & 0xff
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(bpp: u8, big_endian: bool, r: u32, g: u32, b: u32) -> PixelLayout {
        PixelLayout {
            bits_per_pixel: bpp,
            scanline_pad: 32,
            big_endian,
            red_mask: r,
            green_mask: g,
            blue_mask: b,
        }
    }

    #[test]
    fn bgrx_fast_path() {
        let l = layout(32, false, 0xff0000, 0xff00, 0xff);
        let mut fb = Framebuffer::new(2, 2).unwrap();
        let src = [0x33, 0x66, 0x99, 0xaa, 1, 2, 3, 4];
        assert!(!l.convert(&src, 8, &mut fb, Rect::new(1, 1, 2, 1)));
        assert!(l.convert(&src, 8, &mut fb, Rect::new(0, 1, 2, 1)));
        assert_eq!(fb.pixels(), &[0, 0, 0x996633, 0x030201]);
    }

    #[test]
    fn big_endian_and_swapped_masks() {
        let l = layout(32, true, 0xff, 0xff00, 0xff0000);
        let mut fb = Framebuffer::new(1, 1).unwrap();
        assert!(l.convert(&[0, 0x10, 0x20, 0x30], 4, &mut fb, Rect::new(0, 0, 1, 1)));
        assert_eq!(fb.pixels(), &[0x302010]);
    }

    #[test]
    fn rgb565_scales_to_full_range() {
        let l = layout(16, false, 0xf800, 0x07e0, 0x001f);
        assert_eq!(l.stride(3), 8);
        let mut fb = Framebuffer::new(2, 1).unwrap();
        let src = 0xffffu16
            .to_le_bytes()
            .into_iter()
            .chain(0xf800u16.to_le_bytes())
            .collect::<Vec<_>>();
        assert!(l.convert(&src, 4, &mut fb, Rect::new(0, 0, 2, 1)));
        assert_eq!(fb.pixels(), &[0xffffff, 0xff0000]);
    }

    #[test]
    fn packed_24_bit() {
        let l = layout(24, false, 0xff0000, 0xff00, 0xff);
        assert_eq!(l.stride(2), 8);
        let mut fb = Framebuffer::new(2, 1).unwrap();
        assert!(l.convert(&[1, 2, 3, 4, 5, 6, 0, 0], 8, &mut fb, Rect::new(0, 0, 2, 1)));
        assert_eq!(fb.pixels(), &[0x030201, 0x060504]);
    }

    #[test]
    fn short_input_is_refused() {
        let l = layout(32, false, 0xff0000, 0xff00, 0xff);
        let mut fb = Framebuffer::new(2, 2).unwrap();
        assert!(!l.convert(&[0; 12], 8, &mut fb, Rect::new(0, 0, 2, 2)));
        assert_eq!(fb.pixels(), &[0, 0, 0, 0]);
    }
}
