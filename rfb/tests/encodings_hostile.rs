//! The decoder cases of hostile-inputs.md for RRE, Hextile, ZRLE and
//! Tight: each must end in a typed error (or a clean NeedMore), never a
//! panic or an unbounded allocation.

use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;
use rfb::encoding::hextile::HextileDecoder;
use rfb::encoding::rre::RreDecoder;
use rfb::encoding::tight::{TightDecoder, TightEncoder};
use rfb::encoding::zrle::ZrleDecoder;
use rfb::encoding::{DecodeError, Decoder, EncodeContext, EncodeSettings, Encoder, Step};
use rfb::{Framebuffer, PixelCodec, Reader, Rect};

fn zlib(z: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1024);
    z.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert_eq!(z.total_in() as usize, data.len());
    out
}

fn fresh() -> Compress {
    Compress::new(Compression::new(6), true)
}

fn compact(n: usize) -> Vec<u8> {
    if n < 128 {
        vec![n as u8]
    } else if n < 16384 {
        vec![(n as u8) | 0x80, (n >> 7) as u8]
    } else {
        vec![(n as u8) | 0x80, ((n >> 7) as u8) | 0x80, (n >> 14) as u8]
    }
}

fn run(dec: &mut dyn Decoder, rect: Rect, data: &[u8]) -> Result<Step, DecodeError> {
    let mut fb = Framebuffer::new(64, 64).unwrap();
    dec.begin(rect);
    dec.decode(&mut Reader::new(data), &PixelCodec::native(), &mut fb)
}

fn tight(rect: Rect, data: &[u8]) -> Result<Step, DecodeError> {
    run(&mut TightDecoder::default(), rect, data)
}

#[test]
fn rre_count_beyond_area() {
    let mut data = u32::MAX.to_be_bytes().to_vec();
    data.extend_from_slice(&[0; 4]);
    assert!(matches!(
        run(&mut RreDecoder::default(), Rect::new(0, 0, 8, 8), &data),
        Err(DecodeError::Limit { .. })
    ));
}

#[test]
fn hextile_reserved_bits_and_outside_subrect() {
    let r = Rect::new(0, 0, 16, 16);
    assert!(run(&mut HextileDecoder::default(), r, &[0x20]).is_err());
    // 8×8 tile, one mono subrect at (7,7) of 2×2.
    let r = Rect::new(0, 0, 8, 8);
    let data = [2 | 4 | 8, 0, 0, 0, 0, 9, 9, 9, 0, 1, 0x77, 0x11];
    assert!(matches!(
        run(&mut HextileDecoder::default(), r, &data),
        Err(DecodeError::Outside { .. })
    ));
}

#[test]
fn zrle_bomb_and_corrupt_stream() {
    let mut inner = vec![1u8, 0, 0, 0];
    inner.resize(4 << 20, 0);
    let c = zlib(&mut fresh(), &inner);
    let mut data = (c.len() as u32).to_be_bytes().to_vec();
    data.extend_from_slice(&c);
    assert!(matches!(
        run(&mut ZrleDecoder::default(), Rect::new(0, 0, 8, 8), &data),
        Err(DecodeError::Zlib(_))
    ));
    let data = [0, 0, 0, 4, 0x78, 0x9c, 0x13, 0x37];
    assert!(run(&mut ZrleDecoder::default(), Rect::new(0, 0, 8, 8), &data).is_err());
}

#[test]
fn tight_bomb() {
    // Copy filter on stream 0 for a 4×4 rectangle (48 bytes), inflating to 4 MiB.
    let c = zlib(&mut fresh(), &vec![0; 4 << 20]);
    let mut data = vec![0x00];
    data.extend_from_slice(&compact(c.len()));
    data.extend_from_slice(&c);
    assert!(matches!(
        tight(Rect::new(0, 0, 4, 4), &data),
        Err(DecodeError::Zlib(_))
    ));
}

#[test]
fn tight_short_inflation_is_refused() {
    let c = zlib(&mut fresh(), &[0; 20]);
    let mut data = vec![0x00];
    data.extend_from_slice(&compact(c.len()));
    data.extend_from_slice(&c);
    assert!(matches!(
        tight(Rect::new(0, 0, 4, 4), &data),
        Err(DecodeError::Zlib(_))
    ));
}

#[test]
fn tight_corrupt_zlib() {
    let data = [0x00, 6, 0x78, 0x9c, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        tight(Rect::new(0, 0, 4, 4), &data),
        Err(DecodeError::Zlib(_))
    ));
}

#[test]
fn tight_stream_reused_after_reset() {
    let mut fb = Framebuffer::new(32, 32).unwrap();
    let noise: Vec<u32> = (0..32 * 32u32)
        .map(|i| i.wrapping_mul(2_654_435_761) & 0xff_ffff)
        .collect();
    let src = Framebuffer::from_pixels(32, 32, noise).unwrap();
    let codec = PixelCodec::native();
    let ctx = EncodeContext {
        codec: &codec,
        settings: EncodeSettings {
            compress_level: Some(1),
            quality_level: None,
        },
    };
    let mut enc = TightEncoder::default();
    let mut first = Vec::new();
    enc.encode(&src, Rect::new(0, 0, 16, 16), &ctx, &mut first)
        .unwrap();
    let mut second = Vec::new();
    enc.encode(&src, Rect::new(16, 16, 16, 16), &ctx, &mut second)
        .unwrap();
    assert_eq!(first[12] >> 4, 0, "copy filter, stream 0");
    assert_eq!(second[12] >> 4, 0);
    let mut dec = TightDecoder::default();
    dec.begin(Rect::new(0, 0, 16, 16));
    assert_eq!(
        dec.decode(&mut Reader::new(&first[12..]), &codec, &mut fb),
        Ok(Step::Done)
    );
    // The server continues stream 0 but the control byte says "reset it".
    let mut bad = second[12..].to_vec();
    bad[0] |= 0x01;
    dec.begin(Rect::new(16, 16, 16, 16));
    assert!(matches!(
        dec.decode(&mut Reader::new(&bad), &codec, &mut fb),
        Err(DecodeError::Zlib(_))
    ));
    // Without the reset the continuation decodes.
    let mut dec = TightDecoder::default();
    dec.begin(Rect::new(0, 0, 16, 16));
    dec.decode(&mut Reader::new(&first[12..]), &codec, &mut fb)
        .unwrap();
    dec.begin(Rect::new(16, 16, 16, 16));
    assert_eq!(
        dec.decode(&mut Reader::new(&second[12..]), &codec, &mut fb),
        Ok(Step::Done)
    );
    assert_eq!(
        fb.read(Rect::new(16, 16, 16, 16)),
        src.read(Rect::new(16, 16, 16, 16))
    );
}

#[test]
fn tight_palette_index_beyond_size() {
    // Palette of 3 colours (8-bit indices) on a 4×4 rectangle: 16 bytes, zlib'd.
    let mut indices = [0u8; 16];
    indices[9] = 3;
    let c = zlib(&mut fresh(), &indices);
    let mut data = vec![0x60, 1, 2];
    data.extend_from_slice(&[0; 9]);
    data.extend_from_slice(&compact(c.len()));
    data.extend_from_slice(&c);
    assert!(matches!(
        tight(Rect::new(0, 0, 4, 4), &data),
        Err(DecodeError::Invalid { .. })
    ));
    // Short (raw) form: 2×2 with 3 colours = 4 bytes, index 200.
    let mut data = vec![0x60, 1, 2];
    data.extend_from_slice(&[0; 9]);
    data.extend_from_slice(&[0, 1, 2, 200]);
    assert!(matches!(
        tight(Rect::new(0, 0, 2, 2), &data),
        Err(DecodeError::Invalid { .. })
    ));
}

#[test]
fn tight_compact_length_fourth_byte() {
    let data = [0x90, 0xff, 0xff, 0xff, 0x7f];
    assert!(matches!(
        tight(Rect::new(0, 0, 4, 4), &data),
        Err(DecodeError::Invalid { .. })
    ));
}

#[test]
fn tight_invalid_filter_and_compression_type() {
    assert!(matches!(
        tight(Rect::new(0, 0, 4, 4), &[0x40, 3]),
        Err(DecodeError::Invalid { .. })
    ));
    assert!(matches!(
        tight(Rect::new(0, 0, 4, 4), &[0x40, 255]),
        Err(DecodeError::Invalid { .. })
    ));
    for ctl in [0xa0u8, 0xb0, 0xf0] {
        assert!(
            matches!(
                tight(Rect::new(0, 0, 4, 4), &[ctl, 0, 0, 0]),
                Err(DecodeError::Invalid { .. })
            ),
            "{ctl:#x}"
        );
    }
}

fn jpeg(w: u16, h: u16) -> Vec<u8> {
    let rgb: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn tight_jpeg(j: &[u8]) -> Vec<u8> {
    let mut data = vec![0x90];
    data.extend_from_slice(&compact(j.len()));
    data.extend_from_slice(j);
    data
}

#[test]
fn tight_jpeg_truncated_or_of_other_size() {
    let j = jpeg(32, 32);
    assert_eq!(
        tight(Rect::new(0, 0, 32, 32), &tight_jpeg(&j)),
        Ok(Step::Done)
    );
    for cut in [2, 20, j.len() / 2, j.len() - 2] {
        let r = tight(Rect::new(0, 0, 32, 32), &tight_jpeg(&j[..cut]));
        assert!(
            matches!(r, Err(DecodeError::Jpeg(_))),
            "cut at {cut}: {r:?}"
        );
    }
    assert!(matches!(
        tight(Rect::new(0, 0, 16, 16), &tight_jpeg(&j)),
        Err(DecodeError::Jpeg(_))
    ));
    assert!(matches!(
        tight(Rect::new(0, 0, 48, 32), &tight_jpeg(&j)),
        Err(DecodeError::Jpeg(_))
    ));
    assert!(matches!(
        tight(Rect::new(0, 0, 32, 32), &tight_jpeg(b"not a jpeg at all")),
        Err(DecodeError::Jpeg(_))
    ));
}

#[test]
fn tight_partial_input_waits() {
    let j = jpeg(32, 32);
    let data = tight_jpeg(&j);
    let mut fb = Framebuffer::new(64, 64).unwrap();
    let mut dec = TightDecoder::default();
    dec.begin(Rect::new(0, 0, 32, 32));
    let mut r = Reader::new(&data[..data.len() - 1]);
    assert_eq!(
        dec.decode(&mut r, &PixelCodec::native(), &mut fb),
        Ok(Step::NeedMore)
    );
    assert_eq!(r.position(), 0);
}

fn any_decoder() -> impl Strategy<Value = usize> {
    0usize..4
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random bytes never panic any decoder; they end in Done, NeedMore or an error.
    #[test]
    fn random_bytes_never_panic(kind in any_decoder(), data in prop::collection::vec(any::<u8>(), 0..600), w in 0u16..64, h in 0u16..64) {
        let mut dec: Box<dyn Decoder> = match kind {
            0 => Box::new(RreDecoder::default()),
            1 => Box::new(HextileDecoder::default()),
            2 => Box::new(ZrleDecoder::default()),
            _ => Box::new(TightDecoder::default()),
        };
        let _ = run(dec.as_mut(), Rect::new(0, 0, w, h), &data);
    }
}
