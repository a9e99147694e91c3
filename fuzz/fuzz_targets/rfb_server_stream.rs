//! Client→server byte stream into `rfb::ServerSession` (what Remoto
//! decodes). Half the inputs start with a valid handshake so the fuzzer
//! spends its time on SetPixelFormat, SetEncodings, requests, input and cut
//! text; after a chunk (each of the first 16, then every 16th) the server
//! encodes an update with whatever the client asked for (pixel format,
//! encoding, levels), so hostile settings reach the encoders too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::Input;
use rfb::{CursorShape, Framebuffer, Rect, ServerConfig, ServerSession};

fn picture(w: u16, h: u16, seed: u8) -> Framebuffer {
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h));
    for y in 0..h {
        for x in 0..w {
            let v = match (x / 8 + y / 8 + u16::from(seed)) % 4 {
                0 => 0x00ff_0000,
                1 => u32::from(x) * 0x0001_0203 ^ u32::from(y) << 8,
                2 => 0x0000_00ff,
                _ => 0x00ff_ffff,
            };
            px.push(v);
        }
    }
    Framebuffer::from_pixels(w, h, px).expect("valid size")
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let chunk = usize::from(inp.u8());
    let mut s = ServerSession::new(ServerConfig::new(64, 48, "fuzz"));
    let fb = picture(64, 48, flags);
    let small = picture(40, 24, flags.wrapping_add(1));
    let cursor = CursorShape::default();
    let mut stream = Vec::new();
    if flags & 1 != 0 {
        stream.extend_from_slice(b"RFB 003.008\n");
        stream.push(1); // security None
        stream.push(1); // ClientInit shared
    }
    stream.extend_from_slice(inp.rest());
    let chunk = if chunk == 0 {
        stream.len().max(1)
    } else {
        chunk
    };
    for (i, part) in stream.chunks(chunk).enumerate() {
        let res = s.receive(part);
        while s.poll_event().is_some() {}
        let _ = s.take_output();
        if res.is_err() {
            assert!(s.receive(b"x").is_err());
            break;
        }
        // Encoding is the slow part (the encoders have their own target):
        // after the first 16 chunks, only every 16th chunk encodes.
        if s.is_ready() && (i < 16 || i % 16 == 0) {
            let pic = if flags & 2 != 0 && i % 2 == 1 {
                &small
            } else {
                &fb
            };
            let dirty = [Rect::new(3, 2, 20, 17), pic.bounds()];
            let cur = if flags & 4 != 0 { Some(&cursor) } else { None };
            // Encoding never fails on our own framebuffer, whatever the client asked.
            s.write_update(pic, &dirty, &[], cur, false)
                .expect("encoding our own framebuffer");
            let _ = s.take_output();
        }
    }
});
