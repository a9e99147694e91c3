//! Pixel formats (RFC 6143 §7.4) and conversion from/to the native format.
//!
//! Inside this crate every framebuffer holds **native pixels**: a `u32`
//! `0x00RRGGBB` (8 bits a channel). On the wire pixels travel in the
//! [`PixelFormat`] the client asked for; [`PixelCodec`] converts both ways.

use crate::reader::{Incomplete, Reader};

/// A native pixel: `0x00RRGGBB`.
pub type Native = u32;

/// Why a pixel format sent by a peer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PixelFormatError {
    /// bits-per-pixel must be 8, 16 or 32.
    #[error("bits-per-pixel {0} is not 8, 16 or 32")]
    BitsPerPixel(u8),
    /// depth must be 1..=bits-per-pixel.
    #[error("depth {depth} does not fit bits-per-pixel {bpp}")]
    Depth {
        /// Announced depth.
        depth: u8,
        /// Announced bits per pixel.
        bpp: u8,
    },
    /// A true-colour channel has a zero maximum, a maximum that is not
    /// 2ⁿ−1, or a shift that puts it outside the pixel.
    #[error("{channel} channel (max {max}, shift {shift}) does not fit a {bpp}-bit pixel")]
    Channel {
        /// "red", "green" or "blue".
        channel: &'static str,
        /// Announced maximum.
        max: u16,
        /// Announced shift.
        shift: u8,
        /// Bits per pixel.
        bpp: u8,
    },
    /// Colour-map formats other than 8 bits per pixel are not supported.
    #[error("colour-map pixel formats need 8 bits per pixel, got {0}")]
    ColourMapDepth(u8),
    /// Two true-colour channels share bits of the pixel (as TigerVNC's
    /// `PixelFormat::isSane` rejects): such a format cannot carry a colour
    /// faithfully.
    #[error("the {first} and {second} channels overlap in the pixel")]
    OverlappingChannels {
        /// The first of the two channels ("red", "green" or "blue").
        first: &'static str,
        /// The second of the two channels.
        second: &'static str,
    },
}

/// The 16-byte PIXEL_FORMAT structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PixelFormat {
    /// 8, 16 or 32.
    pub bits_per_pixel: u8,
    /// Useful bits in a pixel.
    pub depth: u8,
    /// Multi-byte pixels are big-endian on the wire.
    pub big_endian: bool,
    /// True colour (channels) rather than a colour map.
    pub true_colour: bool,
    /// Maximum red value (2ⁿ−1).
    pub red_max: u16,
    /// Maximum green value (2ⁿ−1).
    pub green_max: u16,
    /// Maximum blue value (2ⁿ−1).
    pub blue_max: u16,
    /// Bit position of red.
    pub red_shift: u8,
    /// Bit position of green.
    pub green_shift: u8,
    /// Bit position of blue.
    pub blue_shift: u8,
}

impl PixelFormat {
    /// 32 bits, depth 24, little-endian, `0x00RRGGBB` — the native layout and
    /// what our server announces in ServerInit.
    pub const RGB888: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// 16 bits, RGB565, little-endian.
    pub const RGB565: PixelFormat = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };

    /// 8 bits, BGR233 true colour (what TigerVNC calls "low colour").
    pub const BGR233: PixelFormat = PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: true,
        red_max: 7,
        green_max: 7,
        blue_max: 3,
        red_shift: 0,
        green_shift: 3,
        blue_shift: 6,
    };

    /// Bytes a pixel takes on the wire (1, 2 or 4).
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Checks that the format is one we can convert to and from.
    pub fn validate(&self) -> Result<(), PixelFormatError> {
        let bpp = self.bits_per_pixel;
        if !matches!(bpp, 8 | 16 | 32) {
            return Err(PixelFormatError::BitsPerPixel(bpp));
        }
        if self.depth == 0 || self.depth > bpp {
            // Some clients announce depth 32 with bpp 32; tolerate it.
            if !(self.depth == 32 && bpp == 32) {
                return Err(PixelFormatError::Depth {
                    depth: self.depth,
                    bpp,
                });
            }
        }
        if !self.true_colour {
            if bpp != 8 {
                return Err(PixelFormatError::ColourMapDepth(bpp));
            }
            return Ok(());
        }
        for (channel, max, shift) in [
            ("red", self.red_max, self.red_shift),
            ("green", self.green_max, self.green_shift),
            ("blue", self.blue_max, self.blue_shift),
        ] {
            let bits = 16 - max.leading_zeros();
            let ok = max != 0
                && (u32::from(max) + 1).is_power_of_two()
                && u32::from(shift) + bits <= u32::from(bpp);
            if !ok {
                return Err(PixelFormatError::Channel {
                    channel,
                    max,
                    shift,
                    bpp,
                });
            }
        }
        let mask = |max: u16, shift: u8| u32::from(max) << shift;
        let channels = [
            ("red", mask(self.red_max, self.red_shift)),
            ("green", mask(self.green_max, self.green_shift)),
            ("blue", mask(self.blue_max, self.blue_shift)),
        ];
        for (i, &(first, a)) in channels.iter().enumerate() {
            for &(second, b) in &channels[i + 1..] {
                if a & b != 0 {
                    return Err(PixelFormatError::OverlappingChannels { first, second });
                }
            }
        }
        Ok(())
    }

    /// Encodes the 16-byte wire structure (3 padding bytes included).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[
            self.bits_per_pixel,
            self.depth,
            u8::from(self.big_endian),
            u8::from(self.true_colour),
        ]);
        out.extend_from_slice(&self.red_max.to_be_bytes());
        out.extend_from_slice(&self.green_max.to_be_bytes());
        out.extend_from_slice(&self.blue_max.to_be_bytes());
        out.extend_from_slice(&[self.red_shift, self.green_shift, self.blue_shift, 0, 0, 0]);
    }

    /// Decodes the 16-byte wire structure (not validated: call [`validate`](Self::validate)).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, Incomplete> {
        r.atomic(|r| {
            let b = r.array::<4>()?;
            let red_max = r.u16()?;
            let green_max = r.u16()?;
            let blue_max = r.u16()?;
            let s = r.array::<6>()?;
            Ok(PixelFormat {
                bits_per_pixel: b[0],
                depth: b[1],
                big_endian: b[2] != 0,
                true_colour: b[3] != 0,
                red_max,
                green_max,
                blue_max,
                red_shift: s[0],
                green_shift: s[1],
                blue_shift: s[2],
            })
        })
    }

    /// True when pixels of this format can travel as 3-byte CPIXELs
    /// (ZRLE, Tight): 32 bpp, depth ≤ 24, all channels 8 bits within
    /// either the low or the high three bytes.
    pub fn has_compact_pixels(&self) -> bool {
        self.true_colour
            && self.bits_per_pixel == 32
            && self.depth <= 24
            && self.red_max == 255
            && self.green_max == 255
            && self.blue_max == 255
            && (self.fits_low_3_bytes() || self.fits_high_3_bytes())
    }

    fn fits_low_3_bytes(&self) -> bool {
        [self.red_shift, self.green_shift, self.blue_shift]
            .iter()
            .all(|&s| s <= 16)
    }

    fn fits_high_3_bytes(&self) -> bool {
        [self.red_shift, self.green_shift, self.blue_shift]
            .iter()
            .all(|&s| s >= 8)
    }
}

/// Converts native pixels to and from one (validated) wire format.
///
/// Holds the colour map for colour-map formats (decode side: what
/// SetColourMapEntries delivered; encode side: a fixed 6×6×6 cube is not
/// offered, our server only speaks true colour).
#[derive(Debug, Clone)]
pub struct PixelCodec {
    format: PixelFormat,
    colour_map: Option<Box<[Native; 256]>>,
}

impl PixelCodec {
    /// A codec for `format`, which must have passed [`PixelFormat::validate`].
    pub fn new(format: PixelFormat) -> Result<Self, PixelFormatError> {
        format.validate()?;
        let colour_map = (!format.true_colour).then(|| Box::new([0; 256]));
        Ok(Self { format, colour_map })
    }

    /// The native format (RGB888); conversion is then a byte copy.
    pub fn native() -> Self {
        Self {
            format: PixelFormat::RGB888,
            colour_map: None,
        }
    }

    /// The wire format.
    pub fn format(&self) -> &PixelFormat {
        &self.format
    }

    /// Bytes of one wire pixel.
    pub fn bytes_per_pixel(&self) -> usize {
        self.format.bytes_per_pixel()
    }

    /// Bytes of one compact pixel (CPIXEL of ZRLE/Tight): 3 where the
    /// format allows it, else the full pixel size.
    pub fn cpixel_len(&self) -> usize {
        if self.format.has_compact_pixels() {
            3
        } else {
            self.bytes_per_pixel()
        }
    }

    /// Stores colour-map entries (SetColourMapEntries) from `first`; entries
    /// beyond 255 are ignored. Entries are 16-bit per channel.
    pub fn set_colour_map(&mut self, first: u16, colours: &[[u16; 3]]) {
        if let Some(map) = self.colour_map.as_mut() {
            for (i, c) in colours.iter().enumerate() {
                let Some(slot) = map.get_mut(usize::from(first) + i) else {
                    break;
                };
                *slot = (u32::from(c[0] >> 8) << 16)
                    | (u32::from(c[1] >> 8) << 8)
                    | u32::from(c[2] >> 8);
            }
        }
    }

    /// Native pixel → the integer value of the wire pixel (before byte order).
    #[inline]
    pub fn to_wire_value(&self, p: Native) -> u32 {
        let f = &self.format;
        if !f.true_colour {
            // We never serve colour maps; map to a grey level index.
            return ((p >> 16 & 0xff) * 30 + (p >> 8 & 0xff) * 59 + (p & 0xff) * 11) / 100;
        }
        let r = scale_down(p >> 16 & 0xff, f.red_max);
        let g = scale_down(p >> 8 & 0xff, f.green_max);
        let b = scale_down(p & 0xff, f.blue_max);
        (r << f.red_shift) | (g << f.green_shift) | (b << f.blue_shift)
    }

    /// The integer value of a wire pixel → native pixel.
    #[inline]
    pub fn from_wire_value(&self, v: u32) -> Native {
        let f = &self.format;
        if let Some(map) = &self.colour_map {
            return map[(v & 0xff) as usize];
        }
        let r = scale_up(
            v.checked_shr(u32::from(f.red_shift)).unwrap_or(0),
            f.red_max,
        );
        let g = scale_up(
            v.checked_shr(u32::from(f.green_shift)).unwrap_or(0),
            f.green_max,
        );
        let b = scale_up(
            v.checked_shr(u32::from(f.blue_shift)).unwrap_or(0),
            f.blue_max,
        );
        (r << 16) | (g << 8) | b
    }

    /// Appends one wire pixel.
    #[inline]
    pub fn write_pixel(&self, p: Native, out: &mut Vec<u8>) {
        let v = self.to_wire_value(p);
        match (self.format.bits_per_pixel, self.format.big_endian) {
            (8, _) => out.push(v as u8),
            (16, false) => out.extend_from_slice(&(v as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(v as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&v.to_le_bytes()),
            (_, true) => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// Reads one wire pixel from exactly [`bytes_per_pixel`](Self::bytes_per_pixel) bytes.
    #[inline]
    pub fn read_pixel(&self, b: &[u8]) -> Native {
        let v = match (b.len(), self.format.big_endian) {
            (1, _) => u32::from(b[0]),
            (2, false) => u32::from(u16::from_le_bytes([b[0], b[1]])),
            (2, true) => u32::from(u16::from_be_bytes([b[0], b[1]])),
            (4, false) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            (4, true) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            _ => 0,
        };
        self.from_wire_value(v)
    }

    /// Appends one compact pixel (CPIXEL), see [`cpixel_len`](Self::cpixel_len).
    #[inline]
    pub fn write_cpixel(&self, p: Native, out: &mut Vec<u8>) {
        if !self.format.has_compact_pixels() {
            return self.write_pixel(p, out);
        }
        let v = self.to_wire_value(p);
        let bytes = if self.format.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        // The three significant bytes, in wire order.
        let (lo, hi) = if self.format.fits_low_3_bytes() {
            (0, 3)
        } else {
            (1, 4)
        };
        let sig = if self.format.big_endian {
            &bytes[4 - hi..4 - lo]
        } else {
            &bytes[lo..hi]
        };
        out.extend_from_slice(sig);
    }

    /// Reads one compact pixel from exactly [`cpixel_len`](Self::cpixel_len) bytes.
    #[inline]
    pub fn read_cpixel(&self, b: &[u8]) -> Native {
        if !self.format.has_compact_pixels() || b.len() != 3 {
            return self.read_pixel(b);
        }
        let low = self.format.fits_low_3_bytes();
        let mut full = [0u8; 4];
        match (self.format.big_endian, low) {
            (false, true) => full[..3].copy_from_slice(b),
            (false, false) => full[1..].copy_from_slice(b),
            (true, true) => full[1..].copy_from_slice(b),
            (true, false) => full[..3].copy_from_slice(b),
        }
        self.read_pixel(&full)
    }

    /// Converts a row of native pixels to wire pixels.
    pub fn write_pixels(&self, pixels: &[Native], out: &mut Vec<u8>) {
        if self.format == PixelFormat::RGB888 {
            out.reserve(pixels.len() * 4);
            for p in pixels {
                out.extend_from_slice(&(p & 0x00ff_ffff).to_le_bytes());
            }
            return;
        }
        for &p in pixels {
            self.write_pixel(p, out);
        }
    }
}

#[inline]
fn scale_down(c: u32, max: u16) -> u32 {
    if max == 255 {
        c
    } else {
        (c * u32::from(max) + 127) / 255
    }
}

#[inline]
fn scale_up(v: u32, max: u16) -> u32 {
    let v = v & u32::from(max);
    if max == 255 {
        v
    } else if max == 0 {
        0
    } else {
        (v * 255 + u32::from(max) / 2) / u32::from(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_round_trips() {
        let c = PixelCodec::native();
        let mut out = Vec::new();
        c.write_pixel(0x123456, &mut out);
        assert_eq!(out, [0x56, 0x34, 0x12, 0]);
        assert_eq!(c.read_pixel(&out), 0x123456);
        out.clear();
        c.write_cpixel(0x123456, &mut out);
        assert_eq!(out, [0x56, 0x34, 0x12]);
        assert_eq!(c.read_cpixel(&out), 0x123456);
    }

    #[test]
    fn big_endian_cpixel() {
        let mut f = PixelFormat::RGB888;
        f.big_endian = true;
        let c = PixelCodec::new(f).unwrap();
        let mut out = Vec::new();
        c.write_cpixel(0xabcdef, &mut out);
        assert_eq!(out, [0xab, 0xcd, 0xef]);
        assert_eq!(c.read_cpixel(&out), 0xabcdef);
    }

    #[test]
    fn rgb565_keeps_extremes() {
        let c = PixelCodec::new(PixelFormat::RGB565).unwrap();
        for p in [0x000000, 0xffffff, 0xff0000, 0x00ff00, 0x0000ff] {
            let mut out = Vec::new();
            c.write_pixel(p, &mut out);
            assert_eq!(c.read_pixel(&out), p);
        }
    }

    #[test]
    fn rejects_bad_formats() {
        let mut f = PixelFormat::RGB888;
        f.bits_per_pixel = 7;
        assert!(f.validate().is_err());
        let mut f = PixelFormat::RGB888;
        f.red_shift = 40;
        assert!(f.validate().is_err());
        let mut f = PixelFormat::RGB888;
        f.green_max = 0;
        assert!(f.validate().is_err());
        let mut f = PixelFormat::RGB888;
        f.depth = 0;
        assert!(f.validate().is_err());
    }
}
