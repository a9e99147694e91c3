//! Server→client byte stream into `rfb::ClientSession` (what the viewer
//! decodes), every encoding advertised. Half the inputs start with a valid
//! handshake (RFB 3.8, security None, a small ServerInit in a chosen pixel
//! format) so the fuzzer spends its time on updates and messages.
#![no_main]
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::{Input, pixel_format};
use rfb::encoding::id;
use rfb::handshake::ServerInit;
use rfb::{ClientConfig, ClientSession};

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let chunk = usize::from(inp.u8());
    let server_format = pixel_format(&mut inp, false);
    let asked = pixel_format(&mut inp, false);
    let mut encodings = ClientSession::supported_encodings();
    encodings.extend_from_slice(&[
        id::CURSOR,
        id::DESKTOP_SIZE,
        id::EXTENDED_DESKTOP_SIZE,
        id::DESKTOP_NAME,
        id::LAST_RECT,
        id::EXTENDED_CLIPBOARD,
        id::CONTINUOUS_UPDATES,
        id::FENCE,
    ]);
    let config = ClientConfig {
        encodings,
        pixel_format: if flags & 2 != 0 { Some(asked) } else { None },
        shared: true,
        compress_level: Some(6),
        quality_level: if flags & 4 != 0 { Some(5) } else { None },
    };
    let mut s = ClientSession::new(config);
    let mut stream = Vec::new();
    if flags & 1 != 0 {
        stream.extend_from_slice(b"RFB 003.008\n");
        stream.extend_from_slice(&[1, 1]); // one security type: None
        stream.extend_from_slice(&0u32.to_be_bytes()); // SecurityResult OK
        ServerInit {
            width: 64,
            height: 48,
            format: server_format,
            name: "fuzz".into(),
        }
        .write(&mut stream);
    }
    stream.extend_from_slice(inp.rest());
    let chunk = if chunk == 0 {
        stream.len().max(1)
    } else {
        chunk
    };
    for part in stream.chunks(chunk) {
        let res = s.receive(part);
        while s.poll_event().is_some() {}
        let _ = s.take_output();
        if res.is_err() {
            // A dead session stays dead.
            assert!(s.receive(b"x").is_err());
            break;
        }
        let fb = s.framebuffer();
        assert_eq!(
            fb.pixels().len(),
            usize::from(fb.width()) * usize::from(fb.height())
        );
    }
});
