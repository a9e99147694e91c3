//! Tight encoding (7): fill, JPEG, or "basic" zlib data with a filter.
//!
//! Wire format (the community RFB specification, "Tight Encoding"): a
//! compression-control byte whose low four bits reset zlib streams 0–3
//! and whose high four bits pick fill (8), JPEG (9) or basic (0–7: stream
//! id in bits 4–5, an explicit filter byte if bit 6 is set). Basic data
//! goes through filter copy (0), palette (1: 2–256 colours, 1 bit a pixel
//! for two colours) or gradient (2); data shorter than 12 bytes is sent
//! as is, longer data as a compact length (1–3 bytes) and zlib data.
//! Colours travel as TPIXELs: R, G, B bytes where the pixel format allows
//! (see [`PixelFormat::has_compact_pixels`]), else full pixels.
//!
//! The encoder splits rectangles beyond [`MAX_WIDTH`] or [`MAX_AREA`]
//! (the limits of TigerVNC, TurboVNC and libvncserver), and picks fill,
//! palette, JPEG (when the client gave a quality level and the area has
//! many colours) or zlib with the copy or gradient filter.
//!
//! The decoder waits for each rectangle's whole data, inflates with the
//! exact bound the rectangle needs, and checks JPEG pictures' sizes.

use flate2::{Compress, Decompress};

use super::zrle::{Palette, compressor, deflate_sync, inflate_bounded, read_quantised};
use super::{
    DecodeError, Decoder, EncodeContext, EncodeError, Encoder, Step, check_fits, id,
    write_rect_header,
};
use crate::framebuffer::{Framebuffer, Rect};
use crate::limits::MAX_COMPRESSED_LEN;
use crate::pixel::{Native, PixelCodec, PixelFormat};
use crate::reader::{Incomplete, Reader};

/// Widest rectangle the encoder sends (wider ones are split).
pub const MAX_WIDTH: u16 = 2048;
/// Largest number of pixels in a rectangle the encoder sends.
pub const MAX_AREA: usize = 65536;
/// Data shorter than this is sent without zlib.
pub const MIN_TO_COMPRESS: usize = 12;
/// Largest value a compact length (three bytes, 7+7+7 bits) may carry.
pub const MAX_COMPACT_LEN: usize = (1 << 21) - 1;

/// Compression type (high nibble of the control byte): fill.
const FILL: u8 = 8;
/// Compression type: JPEG.
const JPEG: u8 = 9;
/// Control-byte bit: an explicit filter byte follows.
const EXPLICIT_FILTER: u8 = 0x40;
/// Filter: copy.
const FILTER_COPY: u8 = 0;
/// Filter: palette.
const FILTER_PALETTE: u8 = 1;
/// Filter: gradient.
const FILTER_GRADIENT: u8 = 2;

/// zlib streams the encoder uses for each kind of data.
const STREAM_COPY: usize = 0;
const STREAM_MONO: usize = 1;
const STREAM_INDEXED: usize = 2;
const STREAM_GRADIENT: usize = 3;

/// Default compression level when the client sent none.
const DEFAULT_LEVEL: u8 = 6;

/// JPEG quality for Tight quality levels 0–9 (TigerVNC's mapping).
const JPEG_QUALITY: [u8; 10] = [15, 29, 41, 42, 62, 77, 79, 86, 92, 100];
/// Palette size limit = area / this, per compression level (libvncserver's idea).
const PALETTE_DIVISOR: [usize; 10] = [4, 8, 24, 32, 32, 32, 48, 64, 64, 96];
/// Largest palette when JPEG is allowed, per compression level.
const PALETTE_MAX_WITH_JPEG: [usize; 10] = [5, 10, 15, 25, 37, 50, 60, 70, 75, 80];
/// Rectangles with fewer pixels never go as JPEG (its headers cost ~600 bytes).
const JPEG_MIN_AREA: usize = 1024;
/// Average per-channel gradient residual below which the gradient filter is used.
const GRADIENT_THRESHOLD: u32 = 20;

/// Bytes of a TPIXEL in `codec`'s format.
fn tpixel_len(codec: &PixelCodec) -> usize {
    if codec.format().has_compact_pixels() {
        3
    } else {
        codec.bytes_per_pixel()
    }
}

/// Appends a TPIXEL.
fn write_tpixel(codec: &PixelCodec, p: Native, out: &mut Vec<u8>) {
    if codec.format().has_compact_pixels() {
        out.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
    } else {
        codec.write_pixel(p, out);
    }
}

/// Reads a TPIXEL from exactly [`tpixel_len`] bytes.
fn read_tpixel(codec: &PixelCodec, b: &[u8]) -> Native {
    match b {
        [r, g, bl] if codec.format().has_compact_pixels() => {
            (u32::from(*r) << 16) | (u32::from(*g) << 8) | u32::from(*bl)
        }
        _ => codec.read_pixel(b),
    }
}

/// Appends a compact length (1–3 bytes); `n` ≤ [`MAX_COMPACT_LEN`].
fn write_compact_len(n: usize, out: &mut Vec<u8>) {
    let n = n.min(MAX_COMPACT_LEN);
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x4000 {
        out.extend_from_slice(&[(n as u8) | 0x80, (n >> 7) as u8]);
    } else {
        out.extend_from_slice(&[(n as u8) | 0x80, ((n >> 7) as u8) | 0x80, (n >> 14) as u8]);
    }
}

/// Why parsing stopped: more input is needed, or the data is invalid.
enum ParseError {
    More,
    Bad(DecodeError),
}

impl From<Incomplete> for ParseError {
    fn from(_: Incomplete) -> Self {
        ParseError::More
    }
}

impl From<DecodeError> for ParseError {
    fn from(e: DecodeError) -> Self {
        ParseError::Bad(e)
    }
}

/// Reads a compact length; a set continuation bit in the third byte
/// (a fourth byte) is refused.
fn read_compact_len(r: &mut Reader<'_>) -> Result<usize, ParseError> {
    let b0 = r.u8()?;
    let mut n = usize::from(b0 & 0x7f);
    if b0 & 0x80 != 0 {
        let b1 = r.u8()?;
        n |= usize::from(b1 & 0x7f) << 7;
        if b1 & 0x80 != 0 {
            let b2 = r.u8()?;
            if b2 & 0x80 != 0 {
                return Err(DecodeError::Invalid {
                    what: "Tight compact length",
                    detail: "a fourth byte is announced".into(),
                }
                .into());
            }
            n |= usize::from(b2) << 14;
        }
    }
    Ok(n)
}

/// The colour channels of a true-colour wire format: (shift, max) for R, G, B.
fn channels(f: &PixelFormat) -> [(u32, u32); 3] {
    [
        (u32::from(f.red_shift), u32::from(f.red_max)),
        (u32::from(f.green_shift), u32::from(f.green_max)),
        (u32::from(f.blue_shift), u32::from(f.blue_max)),
    ]
}

/// Splits a wire value into channel values.
fn split_value(v: u32, ch: &[(u32, u32); 3]) -> [u32; 3] {
    ch.map(|(s, m)| v.checked_shr(s).unwrap_or(0) & m)
}

/// The gradient predictor of one channel: left + up − up-left, clamped to 0..=max.
fn predict(left: u32, up: u32, up_left: u32, max: u32) -> u32 {
    (i64::from(left) + i64::from(up) - i64::from(up_left)).clamp(0, i64::from(max)) as u32
}

/// Writes a wire value (not a native pixel) as a TPIXEL.
fn write_tpixel_value(codec: &PixelCodec, v: u32, out: &mut Vec<u8>) {
    let f = codec.format();
    if f.has_compact_pixels() {
        let [r, g, b] = split_value(v, &channels(f));
        out.extend_from_slice(&[r as u8, g as u8, b as u8]);
        return;
    }
    match (f.bits_per_pixel, f.big_endian) {
        (8, _) => out.push(v as u8),
        (16, false) => out.extend_from_slice(&(v as u16).to_le_bytes()),
        (16, true) => out.extend_from_slice(&(v as u16).to_be_bytes()),
        (_, false) => out.extend_from_slice(&v.to_le_bytes()),
        (_, true) => out.extend_from_slice(&v.to_be_bytes()),
    }
}

/// Reads a TPIXEL as a wire value (channels at their wire shifts).
fn read_tpixel_value(codec: &PixelCodec, b: &[u8]) -> u32 {
    let f = codec.format();
    match (b, f.big_endian) {
        ([r, g, bl], _) if f.has_compact_pixels() => {
            (u32::from(*r) << f.red_shift)
                | (u32::from(*g) << f.green_shift)
                | (u32::from(*bl) << f.blue_shift)
        }
        ([x], _) => u32::from(*x),
        ([a, b], false) => u32::from(u16::from_le_bytes([*a, *b])),
        ([a, b], true) => u32::from(u16::from_be_bytes([*a, *b])),
        ([a, b, c, d], false) => u32::from_le_bytes([*a, *b, *c, *d]),
        ([a, b, c, d], true) => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Applies the gradient filter to `pixels` (w wide), appending TPIXEL residuals.
fn gradient_encode(codec: &PixelCodec, pixels: &[Native], w: usize, out: &mut Vec<u8>) {
    if codec.format().has_compact_pixels() {
        gradient_encode_compact(pixels, w, out);
    } else {
        gradient_encode_general(codec, pixels, w, out);
    }
}

/// [`gradient_encode`] for any format: each pixel converted to its wire
/// value and split into channels.
fn gradient_encode_general(codec: &PixelCodec, pixels: &[Native], w: usize, out: &mut Vec<u8>) {
    let ch = channels(codec.format());
    let mut prev: Vec<[u32; 3]> = vec![[0; 3]; w];
    let mut cur: Vec<[u32; 3]> = vec![[0; 3]; w];
    for row in pixels.chunks(w.max(1)) {
        for (x, &p) in row.iter().enumerate() {
            let c = split_value(codec.to_wire_value(p), &ch);
            cur[x] = c;
            let mut v = 0u32;
            for i in 0..3 {
                let (left, up_left) = if x > 0 {
                    (cur[x - 1][i], prev[x - 1][i])
                } else {
                    (0, 0)
                };
                let pred = predict(left, prev[x][i], up_left, ch[i].1);
                v |= (c[i].wrapping_sub(pred) & ch[i].1) << ch[i].0;
            }
            write_tpixel_value(codec, v, out);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
}

/// [`gradient_encode`] for compact (8 bits a channel, 3-byte TPIXEL)
/// formats, the common case: the channels are the native pixel's bytes, so
/// no wire conversion is needed. Same output as the general code.
fn gradient_encode_compact(pixels: &[Native], w: usize, out: &mut Vec<u8>) {
    let w = w.max(1);
    out.reserve(pixels.len() * 3);
    let channel = |v: Native, shift: u32| ((v >> shift) & 0xff) as i32;
    for (y, row) in pixels.chunks(w).enumerate() {
        let up_row = if y > 0 {
            &pixels[(y - 1) * w..y * w]
        } else {
            &[][..]
        };
        for (x, &p) in row.iter().enumerate() {
            let up = up_row.get(x).copied().unwrap_or(0);
            let (left, up_left) = if x > 0 {
                (row[x - 1], up_row.get(x - 1).copied().unwrap_or(0))
            } else {
                (0, 0)
            };
            let residual = |shift: u32| {
                let pred = (channel(left, shift) + channel(up, shift) - channel(up_left, shift))
                    .clamp(0, 255);
                // Modulo 256, as the decoder adds it back.
                (channel(p, shift) - pred) as u8
            };
            out.extend_from_slice(&[residual(16), residual(8), residual(0)]);
        }
    }
}

/// True when the gradient filter is likely to beat plain copy: the
/// average per-channel prediction residual over sampled rows is small.
fn looks_smooth(pixels: &[Native], w: usize, h: usize) -> bool {
    if w < 16 || h < 16 {
        return false;
    }
    let step = (h / 16).max(1);
    let (mut sum, mut count) = (0u64, 0u64);
    let mut y = 1;
    while y < h {
        let row = &pixels[y * w..(y + 1) * w];
        let up = &pixels[(y - 1) * w..y * w];
        for x in 1..w {
            for s in [16u32, 8, 0] {
                let c = |p: Native| (p >> s) & 0xff;
                let pred = predict(c(row[x - 1]), c(up[x]), c(up[x - 1]), 255);
                sum += u64::from(c(row[x]).abs_diff(pred));
            }
            count += 3;
        }
        y += step;
    }
    count > 0 && sum < u64::from(GRADIENT_THRESHOLD) * count
}

/// Tight encoder (four zlib streams per connection).
#[derive(Default)]
pub struct TightEncoder {
    streams: [Option<(Compress, u8)>; 4],
    pixels: Vec<Native>,
    data: Vec<u8>,
    palette: Option<Palette>,
}

impl std::fmt::Debug for TightEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TightEncoder")
    }
}

/// The pieces of a rectangle that fit Tight's size limits, in order.
fn split(rect: Rect) -> impl Iterator<Item = Rect> {
    let cw = u32::from(rect.w.clamp(1, MAX_WIDTH));
    let ch = (MAX_AREA as u32 / cw).max(1);
    let (w, h) = (u32::from(rect.w), u32::from(rect.h).max(1));
    let cols = w.div_ceil(cw).max(1);
    (0..h.div_ceil(ch)).flat_map(move |ty| {
        (0..cols).map(move |tx| {
            let (dx, dy) = (tx * cw, ty * ch);
            // dx ≤ w, dy < h (or both 0): within the rectangle's u16 space.
            Rect::new(
                rect.x + dx as u16,
                rect.y + dy as u16,
                w.saturating_sub(dx).min(cw) as u16,
                u32::from(rect.h).saturating_sub(dy).min(ch) as u16,
            )
        })
    })
}

impl TightEncoder {
    /// Appends `self.data` as basic data on `stream` (raw when short).
    fn put_basic(
        &mut self,
        stream: usize,
        level: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        if self.data.len() < MIN_TO_COMPRESS {
            out.extend_from_slice(&self.data);
            return Ok(());
        }
        let z = compressor(&mut self.streams[stream], level);
        let mut packed = Vec::with_capacity(self.data.len() / 2 + 64);
        deflate_sync(z, &self.data, &mut packed)?;
        if packed.len() > MAX_COMPACT_LEN {
            return Err(EncodeError::Compress(format!(
                "{} bytes of zlib data exceed a compact length",
                packed.len()
            )));
        }
        write_compact_len(packed.len(), out);
        out.extend_from_slice(&packed);
        Ok(())
    }

    fn encode_piece(
        &mut self,
        fb: &Framebuffer,
        r: Rect,
        ctx: &EncodeContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let codec = ctx.codec;
        let level = ctx.settings.compress_level.unwrap_or(DEFAULT_LEVEL).min(9);
        write_rect_header(out, r, id::TIGHT);
        let mut pixels = std::mem::take(&mut self.pixels);
        read_quantised(fb, r, codec, &mut pixels);
        let (w, h) = (usize::from(r.w), usize::from(r.h));
        let area = pixels.len();
        let true_colour = codec.format().true_colour;
        let jpeg_ok =
            ctx.settings.quality_level.is_some() && true_colour && codec.bytes_per_pixel() >= 2;
        let mut max_colours = (area / PALETTE_DIVISOR[usize::from(level)]).clamp(2, 256);
        if jpeg_ok {
            max_colours = max_colours.min(PALETTE_MAX_WITH_JPEG[usize::from(level)]);
        }
        let palette = self.palette.get_or_insert_with(|| Palette::new(256));
        palette.reset(max_colours);
        let mut fits = true;
        let mut last = None;
        for &p in &pixels {
            if last != Some(p) {
                last = Some(p);
                if !palette.insert(p) {
                    fits = false;
                    break;
                }
            }
        }
        let n = palette.len();
        let res = if area == 0 || (fits && n == 1) {
            out.push(FILL << 4);
            write_tpixel(codec, pixels.first().copied().unwrap_or(0), out);
            Ok(())
        } else if fits {
            out.push(
                ((if n == 2 { STREAM_MONO } else { STREAM_INDEXED } as u8) << 4) | EXPLICIT_FILTER,
            );
            out.push(FILTER_PALETTE);
            // 2 ≤ n ≤ 256.
            out.push((n - 1) as u8);
            for &c in palette.colours() {
                write_tpixel(codec, c, out);
            }
            self.data.clear();
            if n == 2 {
                for row in pixels.chunks(w.max(1)) {
                    let (mut acc, mut used) = (0u8, 0);
                    for &p in row {
                        acc = (acc << 1) | palette.index(p);
                        used += 1;
                        if used == 8 {
                            self.data.push(acc);
                            (acc, used) = (0, 0);
                        }
                    }
                    if used > 0 {
                        self.data.push(acc << (8 - used));
                    }
                }
            } else {
                self.data.extend(pixels.iter().map(|&p| palette.index(p)));
            }
            let stream = if n == 2 { STREAM_MONO } else { STREAM_INDEXED };
            self.put_basic(stream, level, out)
        } else if jpeg_ok && area >= JPEG_MIN_AREA {
            self.put_jpeg(fb, r, ctx.settings.quality_level.unwrap_or(9), out)
        } else if true_colour && level >= 2 && looks_smooth(&pixels, w, h) {
            out.push(((STREAM_GRADIENT as u8) << 4) | EXPLICIT_FILTER);
            out.push(FILTER_GRADIENT);
            self.data.clear();
            gradient_encode(codec, &pixels, w, &mut self.data);
            self.put_basic(STREAM_GRADIENT, level, out)
        } else {
            out.push((STREAM_COPY as u8) << 4);
            self.data.clear();
            self.data.reserve(area * tpixel_len(codec));
            if codec.format().has_compact_pixels() {
                for &p in &pixels {
                    self.data
                        .extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
                }
            } else {
                codec.write_pixels(&pixels, &mut self.data);
            }
            self.put_basic(STREAM_COPY, level, out)
        };
        self.pixels = pixels;
        res
    }

    /// Appends a JPEG rectangle body of the (unquantised) pixels of `r`.
    fn put_jpeg(
        &mut self,
        fb: &Framebuffer,
        r: Rect,
        quality: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let q = usize::from(quality.min(9));
        let mut rgb = Vec::with_capacity(r.area() * 3);
        for dy in 0..r.h {
            for &p in fb.row(&r, dy) {
                rgb.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
            }
        }
        let mut jpeg = Vec::with_capacity(r.area() / 2 + 1024);
        let mut enc = jpeg_encoder::Encoder::new(&mut jpeg, JPEG_QUALITY[q]);
        enc.set_sampling_factor(match q {
            0..=2 => jpeg_encoder::SamplingFactor::R_4_2_0,
            3..=5 => jpeg_encoder::SamplingFactor::R_4_2_2,
            _ => jpeg_encoder::SamplingFactor::R_4_4_4,
        });
        enc.encode(&rgb, r.w, r.h, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| EncodeError::Compress(format!("JPEG: {e}")))?;
        if jpeg.len() > MAX_COMPACT_LEN {
            return Err(EncodeError::Compress(format!(
                "{} bytes of JPEG exceed a compact length",
                jpeg.len()
            )));
        }
        out.push(JPEG << 4);
        write_compact_len(jpeg.len(), out);
        out.extend_from_slice(&jpeg);
        Ok(())
    }
}

impl Encoder for TightEncoder {
    fn encoding(&self) -> i32 {
        id::TIGHT
    }

    fn encode(
        &mut self,
        fb: &Framebuffer,
        rect: Rect,
        ctx: &EncodeContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<u16, EncodeError> {
        check_fits(fb, rect)?;
        let mut count = 0u16;
        for piece in split(rect) {
            self.encode_piece(fb, piece, ctx, out)?;
            count = count.saturating_add(1);
        }
        Ok(count)
    }
}

/// The filter of a basic rectangle.
enum Filter {
    Copy,
    Palette {
        colours: Box<[Native; 256]>,
        n: usize,
    },
    Gradient,
}

/// A whole Tight rectangle, parsed but not yet decoded.
enum Body<'a> {
    Fill(Native),
    Jpeg(&'a [u8]),
    Basic {
        stream: usize,
        filter: Filter,
        /// Bytes the filter needs.
        size: usize,
        /// Raw (short) or zlib data.
        data: &'a [u8],
        compressed: bool,
    },
}

/// Tight decoder (four zlib streams per connection); a rectangle is
/// decoded once its whole data has arrived.
pub struct TightDecoder {
    rect: Rect,
    streams: [Decompress; 4],
    inflated: Vec<u8>,
    pixels: Vec<Native>,
}

impl Default for TightDecoder {
    fn default() -> Self {
        Self {
            rect: Rect::default(),
            streams: std::array::from_fn(|_| Decompress::new(true)),
            inflated: Vec::new(),
            pixels: Vec::new(),
        }
    }
}

impl std::fmt::Debug for TightDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TightDecoder")
            .field("rect", &self.rect)
            .finish()
    }
}

fn invalid(what: &'static str, detail: String) -> DecodeError {
    DecodeError::Invalid { what, detail }
}

/// Parses a whole rectangle: (reset bits, body).
fn parse<'a>(
    r: &mut Reader<'a>,
    rect: Rect,
    codec: &PixelCodec,
) -> Result<(u8, Body<'a>), ParseError> {
    let ctl = r.u8()?;
    let resets = ctl & 0x0f;
    let kind = ctl >> 4;
    let tp = tpixel_len(codec);
    let body = match kind {
        FILL => Body::Fill(read_tpixel(codec, r.take(tp)?)),
        JPEG => {
            let len = read_compact_len(r)?;
            Body::Jpeg(r.take(len)?)
        }
        0..=7 => {
            let stream = usize::from(kind & 3);
            let filter_id = if kind & 4 != 0 { r.u8()? } else { FILTER_COPY };
            let (w, h) = (usize::from(rect.w), usize::from(rect.h));
            let (filter, size) = match filter_id {
                FILTER_COPY => (Filter::Copy, rect.area() * tp),
                FILTER_PALETTE => {
                    let n = usize::from(r.u8()?) + 1;
                    let bytes = r.take(n * tp)?;
                    let mut colours = Box::new([0; 256]);
                    for (c, b) in colours.iter_mut().zip(bytes.chunks_exact(tp)) {
                        *c = read_tpixel(codec, b);
                    }
                    let size = if n == 2 {
                        w.div_ceil(8) * h
                    } else {
                        rect.area()
                    };
                    (Filter::Palette { colours, n }, size)
                }
                FILTER_GRADIENT => {
                    if !codec.format().true_colour {
                        return Err(DecodeError::PixelFormat {
                            encoding: "Tight gradient filter",
                            detail: "needs a true-colour pixel format".into(),
                        }
                        .into());
                    }
                    (Filter::Gradient, rect.area() * tp)
                }
                other => {
                    return Err(invalid(
                        "Tight filter",
                        format!("{other} is not copy, palette or gradient"),
                    )
                    .into());
                }
            };
            if size < MIN_TO_COMPRESS {
                Body::Basic {
                    stream,
                    filter,
                    size,
                    data: r.take(size)?,
                    compressed: false,
                }
            } else {
                let len = read_compact_len(r)?;
                if len > MAX_COMPRESSED_LEN {
                    return Err(DecodeError::Limit {
                        what: "Tight compressed length",
                        value: len as u64,
                        limit: MAX_COMPRESSED_LEN as u64,
                    }
                    .into());
                }
                Body::Basic {
                    stream,
                    filter,
                    size,
                    data: r.take(len)?,
                    compressed: true,
                }
            }
        }
        other => {
            return Err(invalid(
                "Tight compression type",
                format!("{other} (PNG or undefined) is not supported"),
            )
            .into());
        }
    };
    Ok((resets, body))
}

/// Decodes a JPEG that must be exactly `rect`'s size into native pixels.
fn decode_jpeg(data: &[u8], rect: Rect, out: &mut Vec<Native>) -> Result<(), DecodeError> {
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    // Decoders pad a truncated entropy segment; a whole JPEG ends with EOI.
    if !data.ends_with(&[0xff, 0xd9]) {
        return Err(DecodeError::Jpeg(
            "truncated: no end-of-image marker".into(),
        ));
    }
    let opts = DecoderOptions::default()
        .set_max_width(usize::from(rect.w).max(1))
        .set_max_height(usize::from(rect.h).max(1))
        .set_strict_mode(true)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(data), opts);
    dec.decode_headers()
        .map_err(|e| DecodeError::Jpeg(e.to_string()))?;
    let (w, h) = dec.dimensions().unwrap_or((0, 0));
    if (w, h) != (usize::from(rect.w), usize::from(rect.h)) {
        return Err(DecodeError::Jpeg(format!(
            "picture is {w}x{h}, the rectangle {}x{}",
            rect.w, rect.h
        )));
    }
    let rgb = dec.decode().map_err(|e| DecodeError::Jpeg(e.to_string()))?;
    if rgb.len() != rect.area() * 3 {
        return Err(DecodeError::Jpeg(format!(
            "{} bytes decoded for {} pixels",
            rgb.len(),
            rect.area()
        )));
    }
    out.clear();
    out.extend(
        rgb.chunks_exact(3)
            .map(|c| (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2])),
    );
    Ok(())
}

/// Turns filtered bytes into native pixels.
fn unfilter(
    filter: &Filter,
    bytes: &[u8],
    rect: Rect,
    codec: &PixelCodec,
    out: &mut Vec<Native>,
) -> Result<(), DecodeError> {
    let tp = tpixel_len(codec);
    let w = usize::from(rect.w);
    out.clear();
    match filter {
        Filter::Copy => out.extend(bytes.chunks_exact(tp).map(|b| read_tpixel(codec, b))),
        Filter::Palette { colours, n } => {
            if *n == 2 {
                for row in bytes.chunks_exact(w.div_ceil(8).max(1)) {
                    out.extend(
                        (0..w).map(|x| colours[usize::from((row[x / 8] >> (7 - x % 8)) & 1)]),
                    );
                }
            } else {
                for &i in bytes {
                    let i = usize::from(i);
                    if i >= *n {
                        return Err(invalid(
                            "Tight palette index",
                            format!("{i} with a palette of {n}"),
                        ));
                    }
                    out.push(colours[i]);
                }
            }
        }
        Filter::Gradient => {
            let ch = channels(codec.format());
            let mut prev: Vec<[u32; 3]> = vec![[0; 3]; w];
            let mut cur: Vec<[u32; 3]> = vec![[0; 3]; w];
            for row in bytes.chunks_exact((w * tp).max(1)) {
                for (x, b) in row.chunks_exact(tp).enumerate() {
                    let d = split_value(read_tpixel_value(codec, b), &ch);
                    let mut v = 0u32;
                    for i in 0..3 {
                        let (left, up_left) = if x > 0 {
                            (cur[x - 1][i], prev[x - 1][i])
                        } else {
                            (0, 0)
                        };
                        let c = (predict(left, prev[x][i], up_left, ch[i].1) + d[i]) & ch[i].1;
                        cur[x][i] = c;
                        v |= c << ch[i].0;
                    }
                    out.push(codec.from_wire_value(v));
                }
                std::mem::swap(&mut prev, &mut cur);
            }
        }
    }
    Ok(())
}

impl Decoder for TightDecoder {
    fn encoding(&self) -> i32 {
        id::TIGHT
    }

    fn begin(&mut self, rect: Rect) {
        self.rect = rect;
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
                what: "Tight rectangle",
                rect,
                bounds: fb.bounds(),
            });
        }
        let (resets, body) = match input.atomic(|r| parse(r, rect, codec)) {
            Ok(v) => v,
            Err(ParseError::More) => return Ok(Step::NeedMore),
            Err(ParseError::Bad(e)) => return Err(e),
        };
        for (i, z) in self.streams.iter_mut().enumerate() {
            if resets & (1 << i) != 0 {
                z.reset(true);
            }
        }
        let mut pixels = std::mem::take(&mut self.pixels);
        let res = match body {
            Body::Fill(c) => {
                fb.fill(rect, c);
                Ok(())
            }
            Body::Jpeg(data) => decode_jpeg(data, rect, &mut pixels).map(|()| {
                fb.put(rect, &pixels);
            }),
            Body::Basic {
                stream,
                filter,
                size,
                data,
                compressed,
            } => {
                let mut inflated = std::mem::take(&mut self.inflated);
                let bytes = if compressed {
                    let z = &mut self.streams[stream];
                    inflate_bounded(z, data, size, &mut inflated).and_then(|()| {
                        if inflated.len() == size {
                            Ok(&inflated[..])
                        } else {
                            Err(DecodeError::Zlib(format!(
                                "{} bytes inflated, {size} needed",
                                inflated.len()
                            )))
                        }
                    })
                } else {
                    Ok(data)
                };
                let res = bytes
                    .and_then(|b| unfilter(&filter, b, rect, codec, &mut pixels))
                    .map(|()| {
                        fb.put(rect, &pixels);
                    });
                self.inflated = inflated;
                res
            }
        };
        self.pixels = pixels;
        res.map(|()| Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_length_round_trips_and_refuses_fourth_byte() {
        for n in [0usize, 1, 127, 128, 16383, 16384, MAX_COMPACT_LEN] {
            let mut out = Vec::new();
            write_compact_len(n, &mut out);
            let mut r = Reader::new(&out);
            assert!(matches!(read_compact_len(&mut r), Ok(m) if m == n));
            assert_eq!(r.remaining(), 0);
        }
        let mut r = Reader::new(&[0xff, 0xff, 0x80, 0x01]);
        assert!(matches!(read_compact_len(&mut r), Err(ParseError::Bad(_))));
    }

    #[test]
    fn compact_gradient_matches_the_general_filter() {
        // The general code, forced: the same format seen as non-compact
        // gives the same channel values, so compare the residual bytes.
        let (w, h) = (37usize, 11usize);
        let mut x = 0x1234_5678u32;
        let pixels: Vec<Native> = (0..w * h)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Smooth ramps plus noise: residuals of both signs.
                (((i as u32 * 3) & 0xff) << 16) | ((x & 0x1f) << 8) | (((i / w) as u32 * 20) & 0xff)
            })
            .collect();
        let codec = PixelCodec::new(PixelFormat::RGB888).expect("rgb888");
        assert!(codec.format().has_compact_pixels());
        let mut fast = Vec::new();
        gradient_encode(&codec, &pixels, w, &mut fast);
        let mut slow = Vec::new();
        gradient_encode_general(&codec, &pixels, w, &mut slow);
        assert_eq!(fast, slow);
    }

    #[test]
    fn split_respects_limits() {
        let pieces: Vec<Rect> = split(Rect::new(0, 0, 5000, 100)).collect();
        assert!(
            pieces
                .iter()
                .all(|p| p.w <= MAX_WIDTH && p.area() <= MAX_AREA)
        );
        assert_eq!(pieces.iter().map(Rect::area).sum::<usize>(), 500_000);
        assert_eq!(split(Rect::new(3, 3, 0, 0)).count(), 1);
    }
}
