//! Shared helpers for Remoto's fuzz targets: a byte cursor over the fuzz
//! input, pixel formats chosen by the input, and the resumable-decoder
//! driver that mirrors how `rfb::ClientSession` feeds decoders.
#![forbid(unsafe_code)]

use rfb::encoding::{Decoder, Step};
use rfb::{Framebuffer, PixelCodec, PixelFormat, Reader, Rect};

/// A cursor over the fuzz input that never fails (missing bytes read as 0).
#[derive(Debug, Clone)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Wraps the fuzz input.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// One byte (0 when exhausted).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A big-endian u16 (missing bytes read as 0).
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }

    /// A chunk whose length is given by the next byte.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Valid pixel formats worth covering (true colour, both endians, all
/// depths, and an 8-bit colour map).
pub const FORMATS: [PixelFormat; 7] = [
    PixelFormat::RGB888,
    PixelFormat::RGB565,
    PixelFormat::BGR233,
    PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: true,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 0,
        green_shift: 8,
        blue_shift: 16,
    },
    PixelFormat {
        bits_per_pixel: 16,
        depth: 15,
        big_endian: true,
        true_colour: true,
        red_max: 31,
        green_max: 31,
        blue_max: 31,
        red_shift: 10,
        green_shift: 5,
        blue_shift: 0,
    },
    PixelFormat {
        bits_per_pixel: 32,
        depth: 32,
        big_endian: false,
        true_colour: true,
        red_max: 1023,
        green_max: 1023,
        blue_max: 1023,
        red_shift: 20,
        green_shift: 10,
        blue_shift: 0,
    },
    PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: false,
        red_max: 0,
        green_max: 0,
        blue_max: 0,
        red_shift: 0,
        green_shift: 0,
        blue_shift: 0,
    },
];

/// A pixel format chosen by the input: one of [`FORMATS`], or 16 raw bytes
/// parsed and validated (falling back to RGB888 when invalid).
pub fn pixel_format(inp: &mut Input<'_>, true_colour_only: bool) -> PixelFormat {
    let sel = inp.u8();
    let f = if usize::from(sel) < FORMATS.len() {
        FORMATS[usize::from(sel)]
    } else if sel >= 0xf0 {
        let raw = inp.take(16);
        let mut r = Reader::new(raw);
        match PixelFormat::read(&mut r) {
            Ok(f) if f.validate().is_ok() => f,
            _ => PixelFormat::RGB888,
        }
    } else {
        FORMATS[usize::from(sel) % FORMATS.len()]
    };
    if true_colour_only && !f.true_colour {
        PixelFormat::RGB888
    } else {
        f
    }
}

/// A codec for `format` (which must be valid).
pub fn codec(format: PixelFormat) -> PixelCodec {
    PixelCodec::new(format).unwrap_or_else(|_| PixelCodec::native())
}

/// Feeds `stream` to `dec` as a sequence of rectangles, delivering the bytes
/// in chunks of `chunk` (0 = all at once), exactly as the client session
/// does: keep the unconsumed tail, append what arrives, decode again.
/// Returns the number of rectangles completed.
pub fn drive_decoder(
    dec: &mut dyn Decoder,
    codec: &PixelCodec,
    fb: &mut Framebuffer,
    rects: &[Rect],
    stream: &[u8],
    chunk: usize,
) -> usize {
    let chunk = if chunk == 0 {
        stream.len().max(1)
    } else {
        chunk
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut done = 0;
    for &rect in rects {
        assert!(rect.fits_in(fb.width(), fb.height()));
        dec.begin(rect);
        loop {
            let mut r = Reader::new(&pending);
            let step = dec.decode(&mut r, codec, fb);
            let pos = r.position();
            assert!(pos <= pending.len(), "decoder consumed past its input");
            pending.drain(..pos);
            match step {
                Ok(Step::Done) => {
                    done += 1;
                    break;
                }
                Ok(Step::NeedMore) => {
                    if pos > 0 && !pending.is_empty() {
                        // Progress was made: decode what is still buffered.
                        continue;
                    }
                    if fed >= stream.len() {
                        return done;
                    }
                    let end = (fed + chunk).min(stream.len());
                    pending.extend_from_slice(&stream[fed..end]);
                    fed = end;
                }
                Err(_) => return done,
            }
        }
    }
    done
}

/// Runs one decoder on an input: pixel format, chunking, up to four
/// rectangles in a 128×128 framebuffer, then the encoded stream.
pub fn fuzz_decoder(dec: &mut dyn Decoder, data: &[u8], true_colour_only: bool) {
    let mut inp = Input::new(data);
    let format = pixel_format(&mut inp, true_colour_only);
    let codec = codec(format);
    let chunk = usize::from(inp.u8());
    let n = usize::from(inp.u8() % 4) + 1;
    let mut fb = match Framebuffer::new(128, 128) {
        Ok(fb) => fb,
        Err(_) => return,
    };
    let mut rects = Vec::with_capacity(n);
    for _ in 0..n {
        let x = u16::from(inp.u8() % 128);
        let y = u16::from(inp.u8() % 128);
        let w = u16::from(inp.u8()) % (129 - x);
        let h = u16::from(inp.u8()) % (129 - y);
        rects.push(Rect::new(x, y, w, h));
    }
    drive_decoder(dec, &codec, &mut fb, &rects, inp.rest(), chunk);
}
