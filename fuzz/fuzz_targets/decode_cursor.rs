//! The Cursor pseudo-encoding payload (pixels + bitmask) alone.
#![no_main]
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::{Input, codec, pixel_format};
use rfb::{CursorShape, Reader, Rect};

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let format = pixel_format(&mut inp, false);
    let codec = codec(format);
    let x = inp.u16();
    let y = inp.u16();
    // Small sides most of the time, any u16 now and then.
    let (w, h) = if inp.u8() & 1 == 0 {
        (u16::from(inp.u8()), u16::from(inp.u8()))
    } else {
        (inp.u16(), inp.u16())
    };
    let rect = Rect::new(x, y, w, h);
    let payload = inp.rest();
    let mut r = Reader::new(payload);
    if let Ok(c) = CursorShape::read(rect, &codec, &mut r) {
        assert!(r.position() <= payload.len());
        // What we parsed can be written back and parsed again.
        let mut out = Vec::new();
        c.write(&codec, &mut out);
        // `write` puts the 12-byte rectangle header first.
        let mut r2 = Reader::new(&out[12..]);
        let again = CursorShape::read(rect, &codec, &mut r2).expect("re-read of a written cursor");
        // Pixel values may differ when the client's format has overlapping
        // channels (legal for `PixelFormat::validate`); sizes and mask may not.
        assert_eq!((again.width, again.height), (c.width, c.height));
        assert_eq!(again.mask, c.mask);
        assert_eq!(again.pixels.len(), c.pixels.len());
        for yy in 0..h.min(8) {
            for xx in 0..w.min(8) {
                let _ = c.visible(xx, yy);
            }
        }
    }
});
