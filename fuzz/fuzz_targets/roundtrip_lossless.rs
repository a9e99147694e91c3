//! Differential: every lossless encoder (Raw, RRE, Hextile, ZRLE, Tight
//! without JPEG) encodes an arbitrary framebuffer region in an arbitrary
//! true-colour pixel format; the matching decoder must rebuild exactly the
//! same pixels (as representable in that format). Two rectangles are sent
//! through the same encoder/decoder pair, so zlib stream state is checked too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::{Input, codec, drive_decoder, pixel_format};
use rfb::encoding::hextile::{HextileDecoder, HextileEncoder};
use rfb::encoding::raw::{RawDecoder, RawEncoder};
use rfb::encoding::rre::{RreDecoder, RreEncoder};
use rfb::encoding::tight::{TightDecoder, TightEncoder};
use rfb::encoding::zrle::{ZrleDecoder, ZrleEncoder};
use rfb::encoding::{Decoder, EncodeContext, EncodeSettings, Encoder};
use rfb::{Framebuffer, Rect};

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let format = pixel_format(&mut inp, true);
    let codec = codec(format);
    let which = inp.u8();
    let level = inp.u8() % 10;
    let w = u16::from(inp.u8() % 96) + 1;
    let h = u16::from(inp.u8() % 96) + 1;
    // A small palette makes runs, solid tiles and subrectangles likely; a
    // palette of 255 makes raw and gradient-like tiles.
    let ncolours = usize::from(inp.u8()).max(1);
    let mut palette = Vec::with_capacity(ncolours);
    for _ in 0..ncolours.min(32) {
        let c = u32::from_be_bytes([0, inp.u8(), inp.u8(), inp.u8()]);
        palette.push(codec.from_wire_value(codec.to_wire_value(c)));
    }
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h));
    let body = inp.rest();
    for i in 0..usize::from(w) * usize::from(h) {
        let b = body.get(i % body.len().max(1)).copied().unwrap_or(0);
        let b = if body.is_empty() {
            0
        } else {
            b ^ (i / body.len()) as u8
        };
        px.push(palette[usize::from(b) % palette.len()]);
    }
    let Ok(fb) = Framebuffer::from_pixels(w, h, px) else {
        return;
    };
    // Canonical pixels are fixed points of the format's conversion.
    for &p in fb.pixels() {
        assert_eq!(codec.from_wire_value(codec.to_wire_value(p)), p);
    }
    let (mut enc, mut dec): (Box<dyn Encoder>, Box<dyn Decoder>) = match which % 5 {
        0 => (Box::new(RawEncoder), Box::new(RawDecoder::default())),
        1 => (
            Box::<RreEncoder>::default(),
            Box::new(RreDecoder::default()),
        ),
        2 => (
            Box::<HextileEncoder>::default(),
            Box::new(HextileDecoder::default()),
        ),
        3 => (
            Box::<ZrleEncoder>::default(),
            Box::new(ZrleDecoder::default()),
        ),
        _ => (
            Box::<TightEncoder>::default(),
            Box::new(TightDecoder::default()),
        ),
    };
    let ctx = EncodeContext {
        codec: &codec,
        settings: EncodeSettings {
            compress_level: Some(level),
            quality_level: None,
        },
    };
    let halves = [
        Rect::new(0, 0, w, h / 2),
        Rect::new(0, h / 2, w, h - h / 2),
        Rect::new(w / 3, h / 4, w - w / 3, h - h / 4),
    ];
    let mut out = Vec::new();
    let mut rects = Vec::new();
    for r in halves {
        let start = out.len();
        let n = enc
            .encode(&fb, r, &ctx, &mut out)
            .expect("encoding a rectangle that fits");
        // Parse back the rectangle headers the encoder wrote.
        let mut pos = start;
        let mut body_start = Vec::new();
        for _ in 0..n {
            assert!(out.len() >= pos + 12, "short rectangle header");
            let hd = &out[pos..pos + 12];
            let rect = Rect::new(
                u16::from_be_bytes([hd[0], hd[1]]),
                u16::from_be_bytes([hd[2], hd[3]]),
                u16::from_be_bytes([hd[4], hd[5]]),
                u16::from_be_bytes([hd[6], hd[7]]),
            );
            let e = i32::from_be_bytes([hd[8], hd[9], hd[10], hd[11]]);
            assert_eq!(e, enc.encoding());
            body_start.push((rect, pos + 12));
            // Decode this rectangle alone to find where it ends.
            let mut probe = Framebuffer::new(w, h).expect("size");
            pos = pos + 12 + rect_len(&mut *dec, &codec, &mut probe, rect, &out[pos + 12..]);
        }
        assert_eq!(pos, out.len(), "encoder output has trailing bytes");
        rects.extend(body_start);
    }
    // Now decode every rectangle, in order, with one fresh decoder.
    let mut fresh: Box<dyn Decoder> = match which % 5 {
        0 => Box::new(RawDecoder::default()),
        1 => Box::new(RreDecoder::default()),
        2 => Box::new(HextileDecoder::default()),
        3 => Box::new(ZrleDecoder::default()),
        _ => Box::new(TightDecoder::default()),
    };
    let mut got = Framebuffer::new(w, h).expect("size");
    let mut stream = Vec::new();
    let mut list = Vec::new();
    for (i, &(rect, at)) in rects.iter().enumerate() {
        let end = rects
            .get(i + 1)
            .map(|&(_, next)| next - 12)
            .unwrap_or(out.len());
        stream.extend_from_slice(&out[at..end]);
        list.push(rect);
    }
    let done = drive_decoder(&mut *fresh, &codec, &mut got, &list, &stream, 0);
    assert_eq!(done, list.len(), "decoder failed on encoder output");
    for r in &list {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                assert_eq!(got.get(x, y), fb.get(x, y), "pixel ({x},{y}) differs");
            }
        }
    }
});

/// Decodes one rectangle from `bytes` with `dec` (whose stream state
/// advances, mirroring the real decoder) and returns how many bytes it took.
fn rect_len(
    dec: &mut dyn Decoder,
    codec: &rfb::PixelCodec,
    fb: &mut Framebuffer,
    rect: Rect,
    bytes: &[u8],
) -> usize {
    dec.begin(rect);
    let mut r = rfb::Reader::new(bytes);
    loop {
        let before = r.position();
        match dec.decode(&mut r, codec, fb) {
            Ok(rfb::encoding::Step::Done) => return r.position(),
            Ok(rfb::encoding::Step::NeedMore) if r.position() != before => {}
            other => panic!("decoder did not finish a whole rectangle: {other:?}"),
        }
    }
}
