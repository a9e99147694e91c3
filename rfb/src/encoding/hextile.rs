//! Hextile encoding (5): 16×16 tiles, each raw or background + subrectangles.
//!
//! Wire format (RFC 6143 §7.7.4): tiles left to right, top to bottom (the
//! last column and row may be smaller); each starts with a subencoding
//! byte of flags [`RAW`], [`BACKGROUND_SPECIFIED`], [`FOREGROUND_SPECIFIED`],
//! [`ANY_SUBRECTS`], [`SUBRECTS_COLOURED`]. Background and foreground carry
//! over from tile to tile within a rectangle.
//!
//! The decoder refuses reserved flag bits and subrectangles that leave
//! their tile, and is resumable at every whole tile.

use super::rre::{Subrect, find_subrects, quantise};
use super::{
    DecodeError, Decoder, EncodeContext, EncodeError, Encoder, Step, check_fits, id,
    write_rect_header,
};
use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::{Native, PixelCodec};
use crate::reader::{Incomplete, Reader};

/// Subencoding flag: the tile is raw pixels (other flags are ignored).
pub const RAW: u8 = 1;
/// Subencoding flag: a background pixel follows.
pub const BACKGROUND_SPECIFIED: u8 = 2;
/// Subencoding flag: a foreground pixel follows.
pub const FOREGROUND_SPECIFIED: u8 = 4;
/// Subencoding flag: a subrectangle count and subrectangles follow.
pub const ANY_SUBRECTS: u8 = 8;
/// Subencoding flag: every subrectangle carries its own pixel.
pub const SUBRECTS_COLOURED: u8 = 16;
/// Bits no Hextile tile may set (ZlibHex uses them; we do not speak it).
pub const RESERVED: u8 = 0xe0;

/// The tiles of `rect`, in wire order.
fn tiles(rect: Rect) -> impl Iterator<Item = Rect> {
    let (w, h) = (u32::from(rect.w), u32::from(rect.h));
    (0..h.div_ceil(16)).flat_map(move |ty| {
        (0..w.div_ceil(16)).map(move |tx| {
            let (dx, dy) = (tx * 16, ty * 16);
            // dx < w and dy < h, so everything fits in u16 within the rect.
            Rect::new(
                rect.x + dx as u16,
                rect.y + dy as u16,
                (w - dx).min(16) as u16,
                (h - dy).min(16) as u16,
            )
        })
    })
}

/// Hextile encoder: picks solid, mono subrectangles, coloured
/// subrectangles or raw for each tile, whichever is smallest.
#[derive(Debug, Default)]
pub struct HextileEncoder {
    covered: Vec<bool>,
    subrects: Vec<Subrect>,
}

impl Encoder for HextileEncoder {
    fn encoding(&self) -> i32 {
        id::HEXTILE
    }

    fn encode(
        &mut self,
        fb: &Framebuffer,
        rect: Rect,
        ctx: &EncodeContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<u16, EncodeError> {
        check_fits(fb, rect)?;
        write_rect_header(out, rect, id::HEXTILE);
        let codec = ctx.codec;
        let bpp = codec.bytes_per_pixel();
        let mut bg: Option<Native> = None;
        let mut fg: Option<Native> = None;
        for tile in tiles(rect) {
            let pixels = quantise(codec, fb.read(tile).unwrap_or_default());
            let (tw, th) = (usize::from(tile.w), usize::from(tile.h));
            let first = pixels.first().copied().unwrap_or(0);
            let second = pixels.iter().copied().find(|&p| p != first);
            let Some(second) = second else {
                // Solid tile.
                if bg == Some(first) {
                    out.push(0);
                } else {
                    out.push(BACKGROUND_SPECIFIED);
                    codec.write_pixel(first, out);
                    bg = Some(first);
                }
                continue;
            };
            let mono = pixels.iter().all(|&p| p == first || p == second);
            let tile_bg = if mono {
                let n_first = pixels.iter().filter(|&&p| p == first).count();
                if n_first * 2 >= pixels.len() {
                    first
                } else {
                    second
                }
            } else {
                super::rre::dominant_colour(&pixels)
            };
            let raw_size = 1 + pixels.len() * bpp;
            let fits = find_subrects(
                &pixels,
                tw,
                th,
                tile_bg,
                &mut self.covered,
                255,
                &mut self.subrects,
            );
            let n = self.subrects.len();
            let bg_cost = if bg == Some(tile_bg) { 0 } else { bpp };
            let size = if mono {
                let tile_fg = if tile_bg == first { second } else { first };
                let fg_cost = if fg == Some(tile_fg) { 0 } else { bpp };
                2 + bg_cost + fg_cost + 2 * n
            } else {
                2 + bg_cost + (bpp + 2) * n
            };
            if !fits || size >= raw_size {
                out.push(RAW);
                for &p in &pixels {
                    codec.write_pixel(p, out);
                }
                bg = None;
                fg = None;
                continue;
            }
            let mut flags = ANY_SUBRECTS;
            if bg != Some(tile_bg) {
                flags |= BACKGROUND_SPECIFIED;
            }
            let tile_fg = if tile_bg == first { second } else { first };
            if mono {
                if fg != Some(tile_fg) {
                    flags |= FOREGROUND_SPECIFIED;
                }
            } else {
                flags |= SUBRECTS_COLOURED;
            }
            out.push(flags);
            if flags & BACKGROUND_SPECIFIED != 0 {
                codec.write_pixel(tile_bg, out);
            }
            if flags & FOREGROUND_SPECIFIED != 0 {
                codec.write_pixel(tile_fg, out);
            }
            bg = Some(tile_bg);
            fg = if mono { Some(tile_fg) } else { None };
            // n ≤ 255 (the limit passed to find_subrects).
            out.push(n as u8);
            for s in &self.subrects {
                if !mono {
                    codec.write_pixel(s.colour, out);
                }
                // Coordinates are < 16 and sizes 1..=16 inside a tile.
                out.push(((s.x as u8) << 4) | s.y as u8);
                out.push((((s.w - 1) as u8) << 4) | (s.h - 1) as u8);
            }
        }
        Ok(1)
    }
}

/// Hextile decoder: resumable at every whole tile.
#[derive(Debug, Clone, Default)]
pub struct HextileDecoder {
    rect: Rect,
    /// Index of the next tile, in wire order.
    next: usize,
    bg: Native,
    fg: Native,
    subrects: Vec<(Rect, Native)>,
}

/// One parsed tile, before drawing.
enum Tile<'a> {
    Raw(&'a [u8]),
    Painted { bg: Native, fg: Native },
}

impl HextileDecoder {
    /// Parses one tile; `Ok(Err(_))` is a protocol error, `Err(Incomplete)` a short read.
    fn parse_tile<'a>(
        &mut self,
        r: &mut Reader<'a>,
        codec: &PixelCodec,
        tile: Rect,
    ) -> Result<Result<Tile<'a>, DecodeError>, Incomplete> {
        let bpp = codec.bytes_per_pixel();
        let flags = r.u8()?;
        if flags & RESERVED != 0 {
            return Ok(Err(DecodeError::Invalid {
                what: "Hextile subencoding",
                detail: format!("reserved bits set in {flags:#04x}"),
            }));
        }
        if flags & RAW != 0 {
            return Ok(Ok(Tile::Raw(r.take(tile.area() * bpp)?)));
        }
        let mut bg = self.bg;
        let mut fg = self.fg;
        if flags & BACKGROUND_SPECIFIED != 0 {
            bg = codec.read_pixel(r.take(bpp)?);
        }
        if flags & FOREGROUND_SPECIFIED != 0 {
            fg = codec.read_pixel(r.take(bpp)?);
        }
        self.subrects.clear();
        if flags & ANY_SUBRECTS != 0 {
            let n = r.u8()?;
            let coloured = flags & SUBRECTS_COLOURED != 0;
            for _ in 0..n {
                let colour = if coloured {
                    codec.read_pixel(r.take(bpp)?)
                } else {
                    fg
                };
                let [xy, wh] = r.array::<2>()?;
                let sub = Rect::new(
                    u16::from(xy >> 4),
                    u16::from(xy & 15),
                    u16::from(wh >> 4) + 1,
                    u16::from(wh & 15) + 1,
                );
                if !sub.fits_in(tile.w, tile.h) {
                    return Ok(Err(DecodeError::Outside {
                        what: "Hextile subrectangle",
                        rect: sub,
                        bounds: Rect::new(0, 0, tile.w, tile.h),
                    }));
                }
                self.subrects.push((
                    Rect::new(tile.x + sub.x, tile.y + sub.y, sub.w, sub.h),
                    colour,
                ));
            }
        }
        Ok(Ok(Tile::Painted { bg, fg }))
    }
}

impl Decoder for HextileDecoder {
    fn encoding(&self) -> i32 {
        id::HEXTILE
    }

    fn begin(&mut self, rect: Rect) {
        self.rect = rect;
        self.next = 0;
        self.bg = 0;
        self.fg = 0;
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
                what: "Hextile rectangle",
                rect,
                bounds: fb.bounds(),
            });
        }
        let bpp = codec.bytes_per_pixel();
        for tile in tiles(rect).skip(self.next) {
            let start = input.position();
            let parsed = match self.parse_tile(input, codec, tile) {
                Ok(p) => p?,
                Err(Incomplete) => {
                    input.set_position(start);
                    return Ok(Step::NeedMore);
                }
            };
            match parsed {
                Tile::Raw(bytes) => {
                    for (dy, row) in bytes.chunks_exact(usize::from(tile.w) * bpp).enumerate() {
                        // dy < tile.h ≤ 16.
                        let dst = fb.row_mut(&tile, dy as u16);
                        for (p, b) in dst.iter_mut().zip(row.chunks_exact(bpp)) {
                            *p = codec.read_pixel(b);
                        }
                    }
                }
                Tile::Painted { bg, fg } => {
                    self.bg = bg;
                    self.fg = fg;
                    fb.fill(tile, bg);
                    for &(r, c) in &self.subrects {
                        fb.fill(r, c);
                    }
                }
            }
            self.next += 1;
        }
        Ok(Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(data: &[u8], rect: Rect) -> Result<Step, DecodeError> {
        let mut fb = Framebuffer::new(32, 32).unwrap();
        let mut dec = HextileDecoder::default();
        dec.begin(rect);
        dec.decode(&mut Reader::new(data), &PixelCodec::native(), &mut fb)
    }

    #[test]
    fn reserved_bits_are_refused() {
        for bit in [0x20u8, 0x40, 0x80] {
            assert!(matches!(
                decode(&[bit], Rect::new(0, 0, 4, 4)),
                Err(DecodeError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn subrect_outside_tile_is_refused() {
        // A 4×4 tile with a foreground subrect at (3,3) of size 2×1.
        let data = [
            BACKGROUND_SPECIFIED | FOREGROUND_SPECIFIED | ANY_SUBRECTS,
            0,
            0,
            0,
            0,
            1,
            1,
            1,
            0,
            1,
            0x33,
            0x10,
        ];
        assert!(matches!(
            decode(&data, Rect::new(0, 0, 4, 4)),
            Err(DecodeError::Outside { .. })
        ));
        let mut ok = data;
        ok[11] = 0x00;
        assert_eq!(decode(&ok, Rect::new(0, 0, 4, 4)), Ok(Step::Done));
    }

    #[test]
    fn short_tile_needs_more() {
        assert_eq!(
            decode(&[RAW, 0, 0, 0], Rect::new(0, 0, 2, 2)),
            Ok(Step::NeedMore)
        );
    }

    #[test]
    fn tiles_cover_rect() {
        let t: Vec<Rect> = tiles(Rect::new(5, 5, 33, 17)).collect();
        assert_eq!(t.len(), 6);
        assert_eq!(t[2], Rect::new(37, 5, 1, 16));
        assert_eq!(t[5], Rect::new(37, 21, 1, 1));
        assert_eq!(t.iter().map(Rect::area).sum::<usize>(), 33 * 17);
    }
}
