//! ZRLE encoding (16): zlib-compressed 64×64 tiles of run-length/palette data.
//!
//! Wire format (RFC 6143 §7.7.6): `u32` length, then that many bytes of
//! one zlib stream that lives as long as the connection. Inflated, the
//! data is the rectangle's tiles left to right, top to bottom, each a
//! subencoding byte followed by its data: 0 raw CPIXELs, 1 solid, 2–16
//! packed palette, 128 plain RLE, 130–255 palette RLE (2–127 colours).
//!
//! The decoder waits for the whole length-prefixed block, inflates it
//! with a bound computed from the rectangle (bombs are refused), and
//! refuses palette indices beyond the palette and runs past the tile end.
//!
//! This module also holds the zlib and palette helpers Tight shares.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{
    DecodeError, Decoder, EncodeContext, EncodeError, Encoder, Step, check_fits, id,
    write_rect_header,
};
use crate::framebuffer::{Framebuffer, Rect};
use crate::limits::MAX_COMPRESSED_LEN;
use crate::pixel::{Native, PixelCodec, PixelFormat};
use crate::reader::Reader;

/// Side of a ZRLE tile.
const TILE: u32 = 64;
/// Largest palette of a ZRLE tile.
const MAX_PALETTE: usize = 127;
/// Default zlib level when the client sent no CompressLevel.
const DEFAULT_LEVEL: u8 = 6;

/// Inflates all of `input` through the persistent stream `z` into `out`
/// (cleared first), refusing to produce more than `limit` bytes.
pub(crate) fn inflate_bounded(
    z: &mut Decompress,
    mut input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    out.clear();
    let bomb = || {
        DecodeError::Zlib(format!(
            "data inflates beyond the {limit} bytes the rectangle needs"
        ))
    };
    loop {
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(bomb());
            }
            let room = (limit + 1 - out.len()).min(out.len().max(16 * 1024));
            out.reserve_exact(room);
        }
        let (in0, out0) = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(input, out, FlushDecompress::Sync)
            .map_err(|e| DecodeError::Zlib(e.to_string()))?;
        let used = usize::try_from(z.total_in() - in0).unwrap_or(usize::MAX);
        input = input.get(used..).unwrap_or_default();
        if out.len() > limit {
            return Err(bomb());
        }
        if status == Status::StreamEnd {
            if !input.is_empty() {
                return Err(DecodeError::Zlib(
                    "data after the end of the zlib stream".into(),
                ));
            }
            return Ok(());
        }
        let room_left = out.len() < out.capacity();
        if input.is_empty() && room_left {
            return Ok(());
        }
        if used == 0 && z.total_out() == out0 && room_left {
            return Err(DecodeError::Zlib("zlib stream makes no progress".into()));
        }
    }
}

/// Compresses `input` through the persistent stream `z` with a sync flush,
/// appending to `out`.
pub(crate) fn deflate_sync(
    z: &mut Compress,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let start = z.total_in();
    loop {
        let consumed = usize::try_from(z.total_in() - start)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let rest = &input[consumed..];
        out.reserve(rest.len() + rest.len() / 256 + 64);
        z.compress_vec(rest, out, FlushCompress::Sync)
            .map_err(|e| EncodeError::Compress(e.to_string()))?;
        let consumed = usize::try_from(z.total_in() - start).unwrap_or(usize::MAX);
        if consumed >= input.len() && out.len() < out.capacity() {
            return Ok(());
        }
    }
}

/// A zlib compressor at `level` (0–9), made on first use, re-levelled on change.
pub(crate) fn compressor(slot: &mut Option<(Compress, u8)>, level: u8) -> &mut Compress {
    let level = level.min(9);
    match slot {
        Some((z, l)) => {
            if *l != level && z.set_level(Compression::new(u32::from(level))).is_ok() {
                *l = level;
            }
        }
        None => {
            *slot = Some((
                Compress::new(Compression::new(u32::from(level)), true),
                level,
            ))
        }
    }
    match slot {
        Some((z, _)) => z,
        None => unreachable!("just filled"),
    }
}

/// Copies the pixels of `r` (which fits `fb`) into `buf`, quantised to the
/// client's format so that colours equal on the wire compare equal.
pub(crate) fn read_quantised(fb: &Framebuffer, r: Rect, codec: &PixelCodec, buf: &mut Vec<Native>) {
    buf.clear();
    for dy in 0..r.h {
        buf.extend_from_slice(fb.row(&r, dy));
    }
    if *codec.format() == PixelFormat::RGB888 {
        buf.iter_mut().for_each(|p| *p &= 0x00ff_ffff);
    } else {
        buf.iter_mut()
            .for_each(|p| *p = codec.from_wire_value(codec.to_wire_value(*p)));
    }
}

/// A small colour → index table (open addressing), for palette encodings.
#[derive(Debug, Clone)]
pub(crate) struct Palette {
    colours: Vec<Native>,
    keys: Vec<Native>,
    /// 0 = empty slot, else index + 1.
    slots: Vec<u16>,
    max: usize,
}

const PALETTE_SLOTS: usize = 1024;

impl Palette {
    /// An empty palette holding at most `max` (≤ 256) colours.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            colours: Vec::with_capacity(max),
            keys: vec![0; PALETTE_SLOTS],
            slots: vec![0; PALETTE_SLOTS],
            max: max.min(256),
        }
    }

    /// Empties the palette and sets its capacity (≤ 256).
    pub(crate) fn reset(&mut self, max: usize) {
        for &c in &self.colours {
            let mut h = Self::hash(c);
            while self.slots[h] != 0 {
                self.slots[h] = 0;
                h = (h + 1) % PALETTE_SLOTS;
            }
        }
        self.colours.clear();
        self.max = max.min(256);
    }

    fn hash(c: Native) -> usize {
        (c.wrapping_mul(0x9e37_79b1) >> 22) as usize % PALETTE_SLOTS
    }

    /// Adds `c`; false when the palette is full and `c` is new.
    pub(crate) fn insert(&mut self, c: Native) -> bool {
        let mut h = Self::hash(c);
        loop {
            match self.slots[h] {
                0 => break,
                _ if self.keys[h] == c => return true,
                _ => h = (h + 1) % PALETTE_SLOTS,
            }
        }
        if self.colours.len() >= self.max {
            return false;
        }
        self.colours.push(c);
        self.keys[h] = c;
        // len ≤ 256, so it fits in u16.
        self.slots[h] = self.colours.len() as u16;
        true
    }

    /// The index of a colour that was inserted (0 otherwise).
    pub(crate) fn index(&self, c: Native) -> u8 {
        let mut h = Self::hash(c);
        while self.slots[h] != 0 {
            if self.keys[h] == c {
                return (self.slots[h] - 1) as u8;
            }
            h = (h + 1) % PALETTE_SLOTS;
        }
        0
    }

    /// The colours, in index order.
    pub(crate) fn colours(&self) -> &[Native] {
        &self.colours
    }

    /// Number of colours.
    pub(crate) fn len(&self) -> usize {
        self.colours.len()
    }
}

/// The tiles of `rect` for a tile side, in wire order.
pub(crate) fn tiles(rect: Rect, side: u32) -> impl Iterator<Item = Rect> {
    let (w, h) = (u32::from(rect.w), u32::from(rect.h));
    (0..h.div_ceil(side)).flat_map(move |ty| {
        (0..w.div_ceil(side)).map(move |tx| {
            let (dx, dy) = (tx * side, ty * side);
            // dx < w and dy < h: all within the rectangle's u16 space.
            Rect::new(
                rect.x + dx as u16,
                rect.y + dy as u16,
                (w - dx).min(side) as u16,
                (h - dy).min(side) as u16,
            )
        })
    })
}

/// Bytes of the run-length encoding of a run of `n` ≥ 1 pixels.
fn run_len_bytes(n: usize) -> usize {
    (n - 1) / 255 + 1
}

fn push_run_len(n: usize, out: &mut Vec<u8>) {
    let mut rest = n - 1;
    while rest >= 255 {
        out.push(255);
        rest -= 255;
    }
    // rest < 255.
    out.push(rest as u8);
}

/// Calls `f(colour, length)` for every run of equal pixels.
fn for_each_run(pixels: &[Native], mut f: impl FnMut(Native, usize)) {
    let mut iter = pixels.iter();
    let Some(&first) = iter.next() else { return };
    let (mut colour, mut n) = (first, 1usize);
    for &p in iter {
        if p == colour {
            n += 1;
        } else {
            f(colour, n);
            colour = p;
            n = 1;
        }
    }
    f(colour, n);
}

/// Bits a packed-palette index takes for a palette of `n` colours.
fn packed_bits(n: usize) -> usize {
    match n {
        0..=2 => 1,
        3..=4 => 2,
        _ => 4,
    }
}

/// ZRLE encoder (one zlib stream per connection).
#[derive(Default)]
pub struct ZrleEncoder {
    z: Option<(Compress, u8)>,
    raw: Vec<u8>,
    tile: Vec<Native>,
    palette: Option<Palette>,
}

impl std::fmt::Debug for ZrleEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ZrleEncoder")
    }
}

impl ZrleEncoder {
    fn encode_tile(&mut self, tw: usize, codec: &PixelCodec) {
        let pixels = &self.tile;
        let out = &mut self.raw;
        let palette = self
            .palette
            .get_or_insert_with(|| Palette::new(MAX_PALETTE));
        palette.reset(MAX_PALETTE);
        let cp = codec.cpixel_len();
        let (mut runs, mut run_bytes, mut single_runs) = (0usize, 0usize, 0usize);
        let mut fits = true;
        for_each_run(pixels, |c, n| {
            runs += 1;
            run_bytes += run_len_bytes(n);
            if n == 1 {
                single_runs += 1;
            }
            if fits {
                fits = palette.insert(c);
            }
        });
        let n_colours = palette.len();
        if fits && n_colours == 1 {
            out.push(1);
            codec.write_cpixel(palette.colours()[0], out);
            return;
        }
        let raw_size = pixels.len() * cp;
        let plain_rle = runs * cp + run_bytes;
        let mut best = (raw_size, 0u8);
        if plain_rle < best.0 {
            best = (plain_rle, 128);
        }
        if fits {
            let pal = n_colours * cp;
            // Runs of 1 take 1 byte; longer ones 1 + their length bytes.
            let pal_rle = pal + runs + (run_bytes - single_runs);
            if pal_rle < best.0 {
                best = (pal_rle, 128 + n_colours as u8);
            }
            if n_colours <= 16 {
                let th = pixels.len() / tw.max(1);
                let packed = pal + th * (tw * packed_bits(n_colours)).div_ceil(8);
                if packed < best.0 {
                    best = (packed, n_colours as u8);
                }
            }
        }
        let sub = best.1;
        out.push(sub);
        match sub {
            0 => {
                for &p in pixels {
                    codec.write_cpixel(p, out);
                }
            }
            128 => for_each_run(pixels, |c, n| {
                codec.write_cpixel(c, out);
                push_run_len(n, out);
            }),
            2..=16 => {
                for &c in palette.colours() {
                    codec.write_cpixel(c, out);
                }
                let bits = packed_bits(n_colours);
                for row in pixels.chunks(tw.max(1)) {
                    let (mut acc, mut used) = (0u8, 0usize);
                    for &p in row {
                        acc = (acc << bits) | palette.index(p);
                        used += bits;
                        if used == 8 {
                            out.push(acc);
                            (acc, used) = (0, 0);
                        }
                    }
                    if used > 0 {
                        out.push(acc << (8 - used));
                    }
                }
            }
            _ => {
                for &c in palette.colours() {
                    codec.write_cpixel(c, out);
                }
                for_each_run(pixels, |c, n| {
                    let i = palette.index(c);
                    if n == 1 {
                        out.push(i);
                    } else {
                        out.push(i | 128);
                        push_run_len(n, out);
                    }
                });
            }
        }
    }
}

impl Encoder for ZrleEncoder {
    fn encoding(&self) -> i32 {
        id::ZRLE
    }

    fn encode(
        &mut self,
        fb: &Framebuffer,
        rect: Rect,
        ctx: &EncodeContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<u16, EncodeError> {
        check_fits(fb, rect)?;
        let codec = ctx.codec;
        self.raw.clear();
        for tile in tiles(rect, TILE) {
            let mut buf = std::mem::take(&mut self.tile);
            read_quantised(fb, tile, codec, &mut buf);
            self.tile = buf;
            self.encode_tile(usize::from(tile.w), codec);
        }
        let level = ctx.settings.compress_level.unwrap_or(DEFAULT_LEVEL);
        write_rect_header(out, rect, id::ZRLE);
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let z = compressor(&mut self.z, level);
        deflate_sync(z, &self.raw, out)?;
        let len = out.len() - len_at - 4;
        let len = u32::try_from(len)
            .map_err(|_| EncodeError::Compress("ZRLE block over 4 GiB".into()))?;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(1)
    }
}

/// ZRLE decoder (one zlib stream per connection); a rectangle is decoded
/// once its whole length-prefixed block has arrived.
pub struct ZrleDecoder {
    rect: Rect,
    z: Decompress,
    inflated: Vec<u8>,
    tile: Vec<Native>,
}

impl Default for ZrleDecoder {
    fn default() -> Self {
        Self {
            rect: Rect::default(),
            z: Decompress::new(true),
            inflated: Vec::new(),
            tile: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ZrleDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZrleDecoder")
            .field("rect", &self.rect)
            .finish()
    }
}

/// Largest inflated size a valid ZRLE rectangle can have.
fn inflate_limit(rect: Rect, cp: usize) -> usize {
    let n_tiles =
        u32::from(rect.w).div_ceil(TILE) as usize * u32::from(rect.h).div_ceil(TILE) as usize;
    n_tiles * (1 + MAX_PALETTE * cp) + rect.area() * (cp + 1)
}

fn short() -> DecodeError {
    DecodeError::Invalid {
        what: "ZRLE data",
        detail: "ends inside a tile".into(),
    }
}

/// Reads a run length (1 + sum of bytes up to the first non-255) that must
/// not exceed `max`.
pub(crate) fn read_run_len(r: &mut Reader<'_>, max: usize) -> Result<usize, DecodeError> {
    let mut n = 1usize;
    loop {
        let b = r.u8().map_err(|_| short())?;
        n += usize::from(b);
        if n > max {
            return Err(DecodeError::Invalid {
                what: "ZRLE run length",
                detail: format!("run of at least {n} pixels goes past the tile end ({max} left)"),
            });
        }
        if b != 255 {
            return Ok(n);
        }
    }
}

fn decode_tile(
    r: &mut Reader<'_>,
    codec: &PixelCodec,
    tw: usize,
    tile: &mut [Native],
) -> Result<(), DecodeError> {
    let cp = codec.cpixel_len();
    let area = tile.len();
    let sub = r.u8().map_err(|_| short())?;
    let mut palette = [0 as Native; MAX_PALETTE];
    let mut read_palette = |r: &mut Reader<'_>, n: usize| -> Result<(), DecodeError> {
        let bytes = r.take(n * cp).map_err(|_| short())?;
        for (slot, b) in palette.iter_mut().zip(bytes.chunks_exact(cp)) {
            *slot = codec.read_cpixel(b);
        }
        Ok(())
    };
    let bad_index = |i: usize, n: usize| DecodeError::Invalid {
        what: "ZRLE palette index",
        detail: format!("{i} with a palette of {n}"),
    };
    match sub {
        0 => {
            let bytes = r.take(area * cp).map_err(|_| short())?;
            for (p, b) in tile.iter_mut().zip(bytes.chunks_exact(cp)) {
                *p = codec.read_cpixel(b);
            }
        }
        1 => {
            let c = codec.read_cpixel(r.take(cp).map_err(|_| short())?);
            tile.fill(c);
        }
        2..=16 => {
            let n = usize::from(sub);
            read_palette(r, n)?;
            let bits = packed_bits(n);
            let row_bytes = (tw * bits).div_ceil(8);
            let mask = (1u8 << bits) - 1;
            for row in tile.chunks_mut(tw.max(1)) {
                let bytes = r.take(row_bytes).map_err(|_| short())?;
                for (x, p) in row.iter_mut().enumerate() {
                    let bit = x * bits;
                    let byte = bytes.get(bit / 8).copied().unwrap_or(0);
                    let i = usize::from((byte >> (8 - bits - bit % 8)) & mask);
                    if i >= n {
                        return Err(bad_index(i, n));
                    }
                    *p = palette[i];
                }
            }
        }
        128 => {
            let mut at = 0;
            while at < area {
                let c = codec.read_cpixel(r.take(cp).map_err(|_| short())?);
                let n = read_run_len(r, area - at)?;
                tile[at..at + n].fill(c);
                at += n;
            }
        }
        130..=255 => {
            let n = usize::from(sub - 128);
            read_palette(r, n)?;
            let mut at = 0;
            while at < area {
                let b = r.u8().map_err(|_| short())?;
                let i = usize::from(b & 127);
                if i >= n {
                    return Err(bad_index(i, n));
                }
                let len = if b & 128 != 0 {
                    read_run_len(r, area - at)?
                } else {
                    1
                };
                tile[at..at + len].fill(palette[i]);
                at += len;
            }
        }
        _ => {
            return Err(DecodeError::Invalid {
                what: "ZRLE subencoding",
                detail: format!("{sub} is not defined"),
            });
        }
    }
    Ok(())
}

impl Decoder for ZrleDecoder {
    fn encoding(&self) -> i32 {
        id::ZRLE
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
                what: "ZRLE rectangle",
                rect,
                bounds: fb.bounds(),
            });
        }
        let start = input.position();
        let Ok(len) = input.u32() else {
            return Ok(Step::NeedMore);
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > MAX_COMPRESSED_LEN {
            return Err(DecodeError::Limit {
                what: "ZRLE compressed length",
                value: len as u64,
                limit: MAX_COMPRESSED_LEN as u64,
            });
        }
        let Ok(data) = input.take(len) else {
            input.set_position(start);
            return Ok(Step::NeedMore);
        };
        let limit = inflate_limit(rect, codec.cpixel_len());
        let mut inflated = std::mem::take(&mut self.inflated);
        let res = inflate_bounded(&mut self.z, data, limit, &mut inflated).and_then(|()| {
            let mut r = Reader::new(&inflated);
            for tile in tiles(rect, TILE) {
                self.tile.clear();
                self.tile.resize(tile.area(), 0);
                decode_tile(&mut r, codec, usize::from(tile.w), &mut self.tile)?;
                fb.put(tile, &self.tile);
            }
            if r.remaining() > 0 {
                return Err(DecodeError::Invalid {
                    what: "ZRLE data",
                    detail: format!("{} bytes left after the last tile", r.remaining()),
                });
            }
            Ok(Step::Done)
        });
        self.inflated = inflated;
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut z = Compress::new(Compression::new(6), true);
        let mut out = Vec::new();
        deflate_sync(&mut z, data, &mut out).unwrap();
        out
    }

    fn block(inflated: &[u8]) -> Vec<u8> {
        let c = zlib(inflated);
        let mut out = (c.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&c);
        out
    }

    fn decode(data: &[u8], rect: Rect) -> Result<Step, DecodeError> {
        let mut fb = Framebuffer::new(128, 128).unwrap();
        let mut dec = ZrleDecoder::default();
        dec.begin(rect);
        dec.decode(&mut Reader::new(data), &PixelCodec::native(), &mut fb)
    }

    #[test]
    fn bomb_is_refused() {
        // A solid 4×4 tile followed by a megabyte of zeros.
        let mut inner = vec![1, 1, 2, 3];
        inner.extend_from_slice(&vec![0; 1 << 20]);
        let data = block(&inner);
        assert!(data.len() < 8192);
        assert!(matches!(
            decode(&data, Rect::new(0, 0, 4, 4)),
            Err(DecodeError::Zlib(_))
        ));
    }

    #[test]
    fn corrupt_zlib_is_refused() {
        let mut data = vec![0, 0, 0, 6];
        data.extend_from_slice(&[0x78, 0x9c, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            decode(&data, Rect::new(0, 0, 4, 4)),
            Err(DecodeError::Zlib(_))
        ));
    }

    #[test]
    fn palette_index_beyond_size_is_refused() {
        // Packed palette of 3 colours (2 bits), index 3 used.
        let mut inner = vec![3];
        inner.extend_from_slice(&[0; 9]);
        inner.push(0b1100_0000);
        let data = block(&inner);
        assert!(matches!(
            decode(&data, Rect::new(0, 0, 1, 1)),
            Err(DecodeError::Invalid { .. })
        ));
        // Palette RLE of 2 colours, index 5.
        let mut inner = vec![130];
        inner.extend_from_slice(&[0; 6]);
        inner.push(5);
        assert!(matches!(
            decode(&block(&inner), Rect::new(0, 0, 1, 1)),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn run_past_tile_end_is_refused() {
        // Plain RLE: one colour, run of 17 in a 4×4 tile.
        let inner = [128, 1, 2, 3, 16];
        assert!(matches!(
            decode(&block(&inner), Rect::new(0, 0, 4, 4)),
            Err(DecodeError::Invalid { .. })
        ));
        let inner = [128, 1, 2, 3, 15];
        assert_eq!(
            decode(&block(&inner), Rect::new(0, 0, 4, 4)),
            Ok(Step::Done)
        );
        // A long chain of 255s stops at the tile end, not at the end of the data.
        let mut inner = vec![128, 1, 2, 3];
        inner.extend_from_slice(&[255; 100]);
        assert!(matches!(
            decode(&block(&inner), Rect::new(0, 0, 64, 64)),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn huge_length_is_refused_and_partial_waits() {
        assert!(matches!(
            decode(&[0xff, 0xff, 0xff, 0xff], Rect::new(0, 0, 4, 4)),
            Err(DecodeError::Limit { .. })
        ));
        assert_eq!(
            decode(&[0, 0, 1, 0, 1, 2], Rect::new(0, 0, 4, 4)),
            Ok(Step::NeedMore)
        );
    }

    #[test]
    fn undefined_subencodings_are_refused() {
        for sub in [17u8, 100, 127, 129] {
            let inner = [sub, 0, 0, 0, 0, 0, 0, 0];
            assert!(
                decode(&block(&inner), Rect::new(0, 0, 1, 1)).is_err(),
                "{sub}"
            );
        }
    }
}
