//! Micro-benchmarks of every encoder and decoder on fixed 1280×800 frames
//! ("text desktop", "photo", "gradient"), then a Markdown table of MB/s
//! (of raw 32-bit input) and compression ratio (raw 32-bit size / encoded).
//!
//! `cargo bench -p rfb --bench codecs` (about two minutes). Set
//! `CODECS_TABLE_ONLY=1` to skip criterion and print only the table.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use rfb::encoding::hextile::{HextileDecoder, HextileEncoder};
use rfb::encoding::raw::{RawDecoder, RawEncoder};
use rfb::encoding::rre::{RreDecoder, RreEncoder};
use rfb::encoding::tight::{TightDecoder, TightEncoder};
use rfb::encoding::zrle::{ZrleDecoder, ZrleEncoder};
use rfb::encoding::{Decoder, EncodeContext, EncodeSettings, Encoder, Step};
use rfb::{Framebuffer, PixelCodec, Reader, Rect};

const W: u16 = 1280;
const H: u16 = 800;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// White desktop, a title bar, two window frames and lines of glyph-like strokes.
fn text_desktop() -> Framebuffer {
    let mut fb = Framebuffer::new(W, H).unwrap();
    fb.fill(fb.bounds(), 0xffffff);
    fb.fill(Rect::new(0, 0, W, 28), 0x2b4f81);
    fb.fill(Rect::new(W - 90, 6, 16, 16), 0xe0e0e0);
    fb.fill(Rect::new(W - 60, 6, 16, 16), 0xe0e0e0);
    fb.fill(Rect::new(W - 30, 6, 16, 16), 0xd04040);
    fb.fill(Rect::new(0, H - 32, W, 32), 0xdcdcdc);
    fb.fill(Rect::new(40, 60, 700, 2), 0x808080);
    fb.fill(Rect::new(760, 80, 480, 600), 0xf4f4f4);
    let mut rng = Rng(0x5eed);
    let glyphs =
        |fb: &mut Framebuffer, rng: &mut Rng, x0: u16, y0: u16, cols: u16, rows: u16, ink: u32| {
            for row in 0..rows {
                let y = y0 + row * 18;
                let len = (rng.next() % u64::from(cols)) as u16;
                for col in 0..len {
                    let x = x0 + col * 8;
                    let bits = rng.next();
                    if bits & 7 == 0 {
                        continue; // a space
                    }
                    // Strokes of a 6×12 glyph cell: verticals, horizontals, a dot.
                    if bits & 8 != 0 {
                        fb.fill(Rect::new(x + 1, y + 2, 1, 9), ink);
                    }
                    if bits & 16 != 0 {
                        fb.fill(Rect::new(x + 5, y + 2 + (bits >> 20) as u16 % 4, 1, 7), ink);
                    }
                    if bits & 32 != 0 {
                        fb.fill(Rect::new(x + 1, y + 2, 5, 1), ink);
                    }
                    if bits & 64 != 0 {
                        fb.fill(Rect::new(x + 1, y + 6, 5, 1), ink);
                    }
                    if bits & 128 != 0 {
                        fb.fill(Rect::new(x + 1, y + 10, 5, 1), ink);
                    }
                    if bits & 256 != 0 {
                        fb.fill(Rect::new(x + 3, y, 1, 1), ink);
                    }
                }
            }
        };
    glyphs(&mut fb, &mut rng, 8, 8, 40, 1, 0xffffff);
    glyphs(&mut fb, &mut rng, 40, 72, 85, 38, 0x202020);
    glyphs(&mut fb, &mut rng, 772, 92, 56, 32, 0x1a1a60);
    glyphs(&mut fb, &mut rng, 8, H - 26, 150, 1, 0x000000);
    fb
}

/// Plasma-like smooth colours with a little deterministic grain.
fn photo() -> Framebuffer {
    let mut rng = Rng(0xface);
    let mut px = Vec::with_capacity(usize::from(W) * usize::from(H));
    for y in 0..H {
        for x in 0..W {
            let (fx, fy) = (f32::from(x) / 97.0, f32::from(y) / 71.0);
            let v = (fx.sin()
                + (fy * 1.3).cos()
                + ((fx + fy) * 0.7).sin()
                + ((fx * fx + fy * fy).sqrt() * 1.9).sin())
                / 4.0;
            let grain = (rng.next() % 9) as f32 - 4.0;
            let ch = |phase: f32| {
                ((((v * std::f32::consts::PI + phase).sin() * 0.5 + 0.5) * 235.0 + 10.0 + grain)
                    .clamp(0.0, 255.0)) as u32
            };
            px.push((ch(0.0) << 16) | (ch(2.1) << 8) | ch(4.2));
        }
    }
    Framebuffer::from_pixels(W, H, px).unwrap()
}

/// A smooth diagonal gradient.
fn gradient() -> Framebuffer {
    let mut px = Vec::with_capacity(usize::from(W) * usize::from(H));
    for y in 0..u32::from(H) {
        for x in 0..u32::from(W) {
            let r = x * 255 / u32::from(W - 1);
            let g = y * 255 / u32::from(H - 1);
            let b = (x + y) * 255 / u32::from(W + H - 2);
            px.push((r << 16) | (g << 8) | b);
        }
    }
    Framebuffer::from_pixels(W, H, px).unwrap()
}

#[derive(Clone, Copy)]
enum Kind {
    Raw,
    Rre,
    Hextile,
    Zrle,
    Tight,
    TightJpeg,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Raw,
        Kind::Rre,
        Kind::Hextile,
        Kind::Zrle,
        Kind::Tight,
        Kind::TightJpeg,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Raw => "Raw",
            Kind::Rre => "RRE",
            Kind::Hextile => "Hextile",
            Kind::Zrle => "ZRLE",
            Kind::Tight => "Tight",
            Kind::TightJpeg => "Tight+JPEG q8",
        }
    }

    fn settings(self) -> EncodeSettings {
        EncodeSettings {
            compress_level: Some(6),
            quality_level: matches!(self, Kind::TightJpeg).then_some(8),
        }
    }

    fn encoder(self) -> Box<dyn Encoder> {
        match self {
            Kind::Raw => Box::new(RawEncoder),
            Kind::Rre => Box::new(RreEncoder::default()),
            Kind::Hextile => Box::new(HextileEncoder::default()),
            Kind::Zrle => Box::new(ZrleEncoder::default()),
            Kind::Tight | Kind::TightJpeg => Box::new(TightEncoder::default()),
        }
    }

    fn decoder(self) -> Box<dyn Decoder> {
        match self {
            Kind::Raw => Box::new(RawDecoder::default()),
            Kind::Rre => Box::new(RreDecoder::default()),
            Kind::Hextile => Box::new(HextileDecoder::default()),
            Kind::Zrle => Box::new(ZrleDecoder::default()),
            Kind::Tight | Kind::TightJpeg => Box::new(TightDecoder::default()),
        }
    }
}

/// Encodes the whole frame with a fresh encoder; returns (bytes, rectangle count).
fn encode(kind: Kind, fb: &Framebuffer) -> (Vec<u8>, usize) {
    let codec = PixelCodec::native();
    let ctx = EncodeContext {
        codec: &codec,
        settings: kind.settings(),
    };
    let mut out = Vec::new();
    let n = kind
        .encoder()
        .encode(fb, fb.bounds(), &ctx, &mut out)
        .unwrap();
    (out, usize::from(n))
}

/// Decodes an encoded frame with a fresh decoder.
fn decode(kind: Kind, data: &[u8], n: usize, fb: &mut Framebuffer) {
    let codec = PixelCodec::native();
    let mut dec = kind.decoder();
    let mut r = Reader::new(data);
    for _ in 0..n {
        let (x, y, w, h) = (
            r.u16().unwrap(),
            r.u16().unwrap(),
            r.u16().unwrap(),
            r.u16().unwrap(),
        );
        r.i32().unwrap();
        dec.begin(Rect::new(x, y, w, h));
        assert_eq!(dec.decode(&mut r, &codec, fb).unwrap(), Step::Done);
    }
}

/// Median seconds of `f` over a few runs (at least 3, about 0.6 s in all).
fn time(mut f: impl FnMut()) -> f64 {
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < 3 || (start.elapsed() < Duration::from_millis(600) && runs.len() < 20) {
        let t = Instant::now();
        f();
        runs.push(t.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let frames = [
        ("text desktop", text_desktop()),
        ("photo", photo()),
        ("gradient", gradient()),
    ];
    let raw_bytes = usize::from(W) * usize::from(H) * 4;
    if std::env::var_os("CODECS_TABLE_ONLY").is_none() {
        let mut c = Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(800))
            .configure_from_args();
        for (fname, fb) in &frames {
            let mut g = c.benchmark_group(*fname);
            g.throughput(Throughput::Bytes(raw_bytes as u64));
            for kind in Kind::ALL {
                g.bench_function(format!("encode/{}", kind.name()), |b| {
                    b.iter(|| black_box(encode(kind, fb)))
                });
                let (data, n) = encode(kind, fb);
                let mut dst = Framebuffer::new(W, H).unwrap();
                g.bench_function(format!("decode/{}", kind.name()), |b| {
                    b.iter(|| decode(kind, black_box(&data), n, &mut dst))
                });
            }
            g.finish();
        }
        c.final_summary();
    }
    println!();
    println!(
        "| frame (1280×800) | encoding | encoded bytes | ratio | encode MB/s | decode MB/s | exact |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
    for (fname, fb) in &frames {
        for kind in Kind::ALL {
            let (data, n) = encode(kind, fb);
            let mut dst = Framebuffer::new(W, H).unwrap();
            let te = time(|| {
                black_box(encode(kind, fb));
            });
            let td = time(|| decode(kind, &data, n, &mut dst));
            let mb = raw_bytes as f64 / 1e6;
            println!(
                "| {fname} | {} | {} | {:.1} | {:.0} | {:.0} | {} |",
                kind.name(),
                data.len(),
                raw_bytes as f64 / data.len() as f64,
                mb / te,
                mb / td,
                if dst == *fb { "yes" } else { "no (lossy)" },
            );
        }
    }
}
