//! Encode → decode round trips of RRE, Hextile, ZRLE and Tight on random
//! framebuffers, pixel formats and rectangles, fed to the resumable
//! decoders in random-sized chunks, several rectangles per connection.

use proptest::prelude::*;
use rfb::encoding::hextile::{HextileDecoder, HextileEncoder};
use rfb::encoding::rre::{RreDecoder, RreEncoder};
use rfb::encoding::tight::{TightDecoder, TightEncoder};
use rfb::encoding::zrle::{ZrleDecoder, ZrleEncoder};
use rfb::encoding::{Decoder, EncodeContext, EncodeSettings, Encoder, Step};
use rfb::{Framebuffer, PixelCodec, PixelFormat, Reader, Rect};

/// Tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn formats() -> Vec<PixelFormat> {
    let mut be = PixelFormat::RGB888;
    be.big_endian = true;
    let mut bgr = PixelFormat::RGB888;
    bgr.red_shift = 0;
    bgr.blue_shift = 16;
    let mut bgr_high = PixelFormat::RGB888;
    (
        bgr_high.red_shift,
        bgr_high.green_shift,
        bgr_high.blue_shift,
    ) = (8, 16, 24);
    let mut rgb565_be = PixelFormat::RGB565;
    rgb565_be.big_endian = true;
    vec![
        PixelFormat::RGB888,
        be,
        bgr,
        bgr_high,
        PixelFormat::RGB565,
        rgb565_be,
        PixelFormat::BGR233,
    ]
}

/// What a native pixel becomes after a trip through `codec`'s format.
fn quantised(codec: &PixelCodec, p: u32) -> u32 {
    let mut b = Vec::new();
    codec.write_pixel(p, &mut b);
    codec.read_pixel(&b)
}

/// A framebuffer with `colours` colours laid out in runs and blocks.
fn picture(w: u16, h: u16, seed: u64, colours: usize, block: u16) -> Framebuffer {
    let mut rng = Rng(seed | 1);
    let palette: Vec<u32> = (0..colours.max(1))
        .map(|_| rng.next() as u32 & 0xff_ffff)
        .collect();
    let mut fb = Framebuffer::new(w, h).unwrap();
    let block = block.max(1);
    for by in (0..h).step_by(usize::from(block)) {
        for bx in (0..w).step_by(usize::from(block)) {
            let c = palette[rng.below(palette.len() as u64) as usize];
            fb.fill(Rect::new(bx, by, block, block), c);
        }
    }
    // Some single-pixel noise on top.
    for _ in 0..(usize::from(w) * usize::from(h) / 16) {
        let (x, y) = (
            rng.below(u64::from(w)) as u16,
            rng.below(u64::from(h)) as u16,
        );
        let c = palette[rng.below(palette.len() as u64) as usize];
        fb.fill(Rect::new(x, y, 1, 1), c);
    }
    fb
}

/// A smooth picture (sums of sines), photo-like and with many colours.
fn smooth(w: u16, h: u16, phase: f32) -> Framebuffer {
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h));
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (f32::from(x), f32::from(y));
            let c = |a: f32, b: f32, p: f32| {
                ((((fx * a + fy * b) / 23.0 + p).sin() * 0.5 + 0.5) * 255.0) as u32
            };
            px.push(
                (c(1.0, 0.3, phase) << 16) | (c(0.2, 1.1, phase * 2.0) << 8) | c(0.7, 0.7, 1.0),
            );
        }
    }
    Framebuffer::from_pixels(w, h, px).unwrap()
}

/// Reads rectangle headers and drives `dec` over `stream`, fed in chunks
/// of random size, the way a session buffers network input.
fn decode_stream(
    dec: &mut dyn Decoder,
    stream: &[u8],
    n_rects: usize,
    codec: &PixelCodec,
    fb: &mut Framebuffer,
    chunk_seed: u64,
) -> Vec<Rect> {
    let mut rng = Rng(chunk_seed | 1);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut rects = Vec::new();
    let mut in_rect = false;
    while rects.len() < n_rects || in_rect {
        let mut r = Reader::new(&buf);
        loop {
            if !in_rect {
                if rects.len() == n_rects || r.remaining() < 12 {
                    break;
                }
                let x = r.u16().unwrap();
                let y = r.u16().unwrap();
                let w = r.u16().unwrap();
                let h = r.u16().unwrap();
                assert_eq!(r.i32().unwrap(), dec.encoding());
                let rect = Rect::new(x, y, w, h);
                dec.begin(rect);
                rects.push(rect);
                in_rect = true;
            }
            let before = r.position();
            match dec.decode(&mut r, codec, fb).expect("decode") {
                Step::Done => in_rect = false,
                Step::NeedMore if r.position() == before => break,
                Step::NeedMore => {}
            }
        }
        let used = r.position();
        buf.drain(..used);
        if fed == stream.len() {
            assert!(
                rects.len() == n_rects && !in_rect,
                "decoder wants more than was encoded"
            );
            break;
        }
        let n = (1 + rng.below(300) as usize).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    rects
}

fn pair(kind: usize) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
    match kind {
        0 => (
            Box::new(RreEncoder::default()),
            Box::new(RreDecoder::default()),
        ),
        1 => (
            Box::new(HextileEncoder::default()),
            Box::new(HextileDecoder::default()),
        ),
        2 => (
            Box::new(ZrleEncoder::default()),
            Box::new(ZrleDecoder::default()),
        ),
        _ => (
            Box::new(TightEncoder::default()),
            Box::new(TightDecoder::default()),
        ),
    }
}

/// Encodes `rects` of `src` in order on one connection, decodes them into
/// a black framebuffer, and checks every pixel of every rectangle.
fn round_trip(
    kind: usize,
    src: &Framebuffer,
    rects: &[Rect],
    format: PixelFormat,
    settings: EncodeSettings,
    chunk_seed: u64,
) {
    let codec = PixelCodec::new(format).unwrap();
    let ctx = EncodeContext {
        codec: &codec,
        settings,
    };
    let (mut enc, mut dec) = pair(kind);
    let mut stream = Vec::new();
    let mut n = 0;
    for &r in rects {
        n += usize::from(enc.encode(src, r, &ctx, &mut stream).unwrap());
    }
    let mut dst = Framebuffer::new(src.width(), src.height()).unwrap();
    let got = decode_stream(dec.as_mut(), &stream, n, &codec, &mut dst, chunk_seed);
    let covered: usize = got.iter().map(Rect::area).sum();
    assert_eq!(covered, rects.iter().map(Rect::area).sum::<usize>());
    for r in rects {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                let want = quantised(&codec, src.get(x, y).unwrap());
                assert_eq!(
                    dst.get(x, y).unwrap(),
                    want,
                    "kind {kind} format {format:?} at ({x},{y}) in {r:?}"
                );
            }
        }
    }
}

fn arb_rect(w: u16, h: u16) -> impl Strategy<Value = Rect> {
    (0..w, 0..h)
        .prop_flat_map(move |(x, y)| (Just(x), Just(y), 0..=w - x, 0..=h - y))
        .prop_map(|(x, y, w, h)| Rect::new(x, y, w, h))
}

fn arb_case() -> impl Strategy<Value = (Framebuffer, Vec<Rect>, usize, u64, Option<u8>)> {
    (1u16..140, 1u16..100, any::<u64>(), 1usize..300, 1u16..20).prop_flat_map(
        |(w, h, seed, colours, block)| {
            (
                Just(picture(w, h, seed, colours, block)),
                prop::collection::vec(arb_rect(w, h), 1..4),
                0..formats().len(),
                any::<u64>(),
                prop::option::of(0u8..10),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn rre_round_trips((fb, rects, f, seed, _l) in arb_case()) {
        round_trip(0, &fb, &rects, formats()[f], EncodeSettings::default(), seed);
    }

    #[test]
    fn hextile_round_trips((fb, rects, f, seed, _l) in arb_case()) {
        round_trip(1, &fb, &rects, formats()[f], EncodeSettings::default(), seed);
    }

    #[test]
    fn zrle_round_trips((fb, rects, f, seed, level) in arb_case()) {
        let settings = EncodeSettings { compress_level: level, quality_level: None };
        round_trip(2, &fb, &rects, formats()[f], settings, seed);
    }

    #[test]
    fn tight_round_trips((fb, rects, f, seed, level) in arb_case()) {
        let settings = EncodeSettings { compress_level: level, quality_level: None };
        round_trip(3, &fb, &rects, formats()[f], settings, seed);
    }
}

#[test]
fn smooth_pictures_round_trip_in_every_format() {
    let fb = smooth(300, 90, 0.5);
    let rects = [
        Rect::new(0, 0, 300, 90),
        Rect::new(7, 3, 250, 60),
        Rect::new(290, 80, 10, 10),
    ];
    for format in formats() {
        for kind in 0..4 {
            for level in [None, Some(0), Some(9)] {
                let settings = EncodeSettings {
                    compress_level: level,
                    quality_level: None,
                };
                round_trip(kind, &fb, &rects, format, settings, 7);
            }
        }
    }
}

#[test]
fn tight_splits_large_rectangles() {
    let fb = smooth(2100, 70, 1.0);
    let codec = PixelCodec::native();
    let ctx = EncodeContext {
        codec: &codec,
        settings: EncodeSettings::default(),
    };
    let mut out = Vec::new();
    let n = TightEncoder::default()
        .encode(&fb, fb.bounds(), &ctx, &mut out)
        .unwrap();
    assert!(n >= 3, "{n} rectangles");
    round_trip(
        3,
        &fb,
        &[fb.bounds()],
        PixelFormat::RGB888,
        EncodeSettings::default(),
        3,
    );
}

#[test]
fn tight_uses_gradient_for_smooth_areas() {
    let fb = smooth(64, 64, 0.0);
    let codec = PixelCodec::native();
    let ctx = EncodeContext {
        codec: &codec,
        settings: EncodeSettings {
            compress_level: Some(6),
            quality_level: None,
        },
    };
    let mut out = Vec::new();
    TightEncoder::default()
        .encode(&fb, fb.bounds(), &ctx, &mut out)
        .unwrap();
    assert_eq!(out[12], 0x70, "basic, stream 3, explicit filter");
    assert_eq!(out[13], 2, "gradient filter");
}

fn psnr(a: &Framebuffer, b: &Framebuffer) -> f64 {
    let mut se = 0f64;
    for (&p, &q) in a.pixels().iter().zip(b.pixels()) {
        for s in [0, 8, 16] {
            let d = f64::from((p >> s) & 0xff) - f64::from((q >> s) & 0xff);
            se += d * d;
        }
    }
    let mse = se / (a.pixels().len() * 3) as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn tight_jpeg_meets_psnr() {
    let fb = smooth(256, 128, 2.0);
    for (quality, min_psnr) in [(8u8, 35.0), (5, 30.0), (0, 24.0)] {
        let codec = PixelCodec::native();
        let settings = EncodeSettings {
            compress_level: Some(6),
            quality_level: Some(quality),
        };
        let ctx = EncodeContext {
            codec: &codec,
            settings,
        };
        let mut out = Vec::new();
        let n = TightEncoder::default()
            .encode(&fb, fb.bounds(), &ctx, &mut out)
            .unwrap();
        assert_eq!(out[12], 0x90, "JPEG chosen");
        let mut dst = Framebuffer::new(256, 128).unwrap();
        let mut dec = TightDecoder::default();
        decode_stream(&mut dec, &out, usize::from(n), &codec, &mut dst, 11);
        let p = psnr(&fb, &dst);
        assert!(p > min_psnr, "quality {quality}: PSNR {p:.1} dB");
        assert!(
            out.len() < 256 * 128 * 3 / 4,
            "quality {quality}: {} bytes",
            out.len()
        );
    }
}

#[test]
fn tight_jpeg_in_16_bit_format_and_palette_with_jpeg_allowed() {
    // Few colours stay lossless even when JPEG is allowed.
    let fb = picture(100, 80, 5, 4, 6);
    let settings = EncodeSettings {
        compress_level: Some(3),
        quality_level: Some(6),
    };
    round_trip(3, &fb, &[fb.bounds()], PixelFormat::RGB888, settings, 5);
    // JPEG into an RGB565 client: close, not exact.
    let fb = smooth(128, 64, 0.3);
    let codec = PixelCodec::new(PixelFormat::RGB565).unwrap();
    let ctx = EncodeContext {
        codec: &codec,
        settings: EncodeSettings {
            compress_level: None,
            quality_level: Some(9),
        },
    };
    let mut out = Vec::new();
    let n = TightEncoder::default()
        .encode(&fb, fb.bounds(), &ctx, &mut out)
        .unwrap();
    let mut dst = Framebuffer::new(128, 64).unwrap();
    decode_stream(
        &mut TightDecoder::default(),
        &out,
        usize::from(n),
        &codec,
        &mut dst,
        2,
    );
    assert!(psnr(&fb, &dst) > 35.0);
}
