//! Hostile inputs (../../shared/hostile-inputs.md) and fuzz findings fed to
//! both session state machines: each must end in a typed error (or be
//! skipped when legal), never a panic, a hang or a large allocation.

use rfb::encoding::id;
use rfb::handshake::ServerInit;
use rfb::{ClientConfig, ClientError, ClientSession, PixelFormat, ServerConfig, ServerSession};

/// A client session past the handshake with a 64×48 RGB888 server.
fn client() -> ClientSession {
    let mut s = ClientSession::new(ClientConfig::default());
    let mut b = b"RFB 003.008\n".to_vec();
    b.extend_from_slice(&[1, 1, 0, 0, 0, 0]);
    ServerInit {
        width: 64,
        height: 48,
        format: PixelFormat::RGB888,
        name: "t".into(),
    }
    .write(&mut b);
    s.receive(&b).expect("handshake");
    assert!(s.is_connected());
    s
}

fn rect(x: u16, y: u16, w: u16, h: u16, enc: i32) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 1];
    for n in [x, y, w, h] {
        v.extend_from_slice(&n.to_be_bytes());
    }
    v.extend_from_slice(&enc.to_be_bytes());
    v
}

fn client_err(bytes: &[u8]) -> ClientError {
    client().receive(bytes).expect_err("hostile input accepted")
}

/// Hand-built zlib stream inflating to `len` zero bytes (fixed Huffman,
/// length-258 back-references): the decompression bomb.
fn zlib_bomb(len: usize) -> Vec<u8> {
    let mut bits: Vec<u8> = Vec::new();
    let put_rev = |bits: &mut Vec<u8>, v: u32, n: u32| {
        for i in (0..n).rev() {
            bits.push(((v >> i) & 1) as u8);
        }
    };
    bits.extend_from_slice(&[1, 1, 0]);
    put_rev(&mut bits, 0x30, 8);
    let mut produced = 1;
    while produced < len {
        put_rev(&mut bits, 0b1100_0101, 8);
        put_rev(&mut bits, 0, 5);
        produced += 258;
    }
    put_rev(&mut bits, 0, 7);
    let mut out = vec![0x78, 0x01];
    for chunk in bits.chunks(8) {
        out.push(chunk.iter().enumerate().map(|(i, &b)| b << i).sum());
    }
    out.extend_from_slice(&((((produced % 65521) as u32) << 16) | 1).to_be_bytes());
    out
}

#[test]
fn rectangle_outside_and_overflowing() {
    for (x, y, w, h) in [(60, 0, 10, 10), (65535, 0, 2, 1), (0, 0, 65535, 65535)] {
        let e = client_err(&rect(x, y, w, h, id::RAW));
        assert!(e.to_string().contains("outside"), "{e}");
    }
}

#[test]
fn huge_desktop_size_and_cursor() {
    client_err(&rect(0, 0, 65535, 65535, id::DESKTOP_SIZE));
    let mut c = rect(0, 0, 65535, 65535, id::CURSOR);
    c.extend_from_slice(&[0; 64]);
    client_err(&c);
}

#[test]
fn zrle_decompression_bomb_is_refused() {
    let bomb = zlib_bomb(64 << 20);
    assert!(bomb.len() < 512 * 1024);
    let mut m = rect(0, 0, 64, 48, id::ZRLE);
    m.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
    m.extend_from_slice(&bomb);
    let e = client_err(&m);
    assert!(e.to_string().contains("zlib"), "{e}");
}

#[test]
fn tight_bad_filter_compact_length_and_jpeg() {
    let mut m = rect(0, 0, 16, 16, id::TIGHT);
    m.extend_from_slice(&[0x40, 9]);
    m.extend_from_slice(&[0; 64]);
    client_err(&m);
    let mut m = rect(0, 0, 16, 16, id::TIGHT);
    m.extend_from_slice(&[0x00, 0xff, 0xff, 0xff, 0xff]);
    client_err(&m);
    let mut m = rect(0, 0, 16, 16, id::TIGHT);
    m.extend_from_slice(&[0x90, 100, 0xff, 0xd8, 0xff]);
    m.extend_from_slice(&[0x11; 97]);
    client_err(&m);
}

#[test]
fn rre_and_hextile_subrects() {
    let mut m = rect(0, 0, 8, 8, id::RRE);
    m.extend_from_slice(&u32::MAX.to_be_bytes());
    m.extend_from_slice(&[0; 4]);
    client_err(&m);
    let mut m = rect(0, 0, 8, 8, id::HEXTILE);
    m.extend_from_slice(&[2 | 8, 0, 0, 0, 0, 1, 0x77, 0xff]);
    client_err(&m);
}

#[test]
fn giant_cut_text_is_skipped_not_stored() {
    let mut s = client();
    let mut m = vec![3, 0, 0, 0];
    m.extend_from_slice(&i32::MAX.to_be_bytes());
    s.receive(&m).expect("header");
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..4 {
        s.receive(&chunk).expect("skipped");
    }
    // The text is not over: the session keeps skipping, and never hands
    // any of it out.
    while let Some(e) = s.poll_event() {
        assert!(!matches!(e, rfb::ClientEvent::CutText(_)), "{e:?}");
    }
}

#[test]
fn security_refusal_with_huge_reason() {
    let mut s = ClientSession::new(ClientConfig::default());
    let mut b = b"RFB 003.008\n".to_vec();
    b.push(0);
    b.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(s.receive(&b).is_err());
}

fn server() -> ServerSession {
    let mut s = ServerSession::new(ServerConfig::new(64, 48, "t"));
    s.receive(b"RFB 003.008\n\x01\x01").expect("handshake");
    assert!(s.is_ready());
    s
}

#[test]
fn server_refuses_bad_pixel_formats_and_encodings() {
    let bad = [
        PixelFormat {
            bits_per_pixel: 7,
            ..PixelFormat::RGB888
        },
        PixelFormat {
            depth: 0,
            ..PixelFormat::RGB888
        },
        PixelFormat {
            red_max: 0,
            ..PixelFormat::RGB888
        },
        PixelFormat {
            red_shift: 40,
            ..PixelFormat::RGB888
        },
    ];
    for f in bad {
        let mut m = vec![0, 0, 0, 0];
        f.write(&mut m);
        assert!(server().receive(&m).is_err(), "{f:?} accepted");
    }
    let mut m = vec![2, 0, 0xff, 0xff];
    m.extend(std::iter::repeat_n(0u8, 65535 * 4));
    assert!(server().receive(&m).is_err());
    assert!(server().receive(&[0x7f]).is_err());
}

#[test]
fn server_coalesces_update_requests() {
    let mut s = server();
    let mut m = Vec::new();
    for _ in 0..100_000 {
        m.extend_from_slice(&[3, 1]);
        for n in [60_000u16, 60_000, 65535, 65535] {
            m.extend_from_slice(&n.to_be_bytes());
        }
    }
    s.receive(&m).expect("requests are legal");
    let fb = rfb::Framebuffer::new(64, 48).expect("fb");
    let mut updates = 0;
    while s.wants_update() && updates < 10 {
        s.write_update(&fb, &[fb.bounds()], &[], None, false)
            .expect("update");
        updates += 1;
    }
    assert!(updates <= 1, "{updates} updates queued for 10^5 requests");
}

/// Fuzz finding (roundtrip_lossless, crash-39e1a0ba…): a 16-bpp true-colour
/// format whose three channels all sit at shift 0 was accepted, and
/// converting to and from it is not a round trip. Overlapping channel masks
/// are now refused with a typed error, by `validate` and by the server's
/// SetPixelFormat; a legal format with adjacent channels still passes.
#[test]
fn overlapping_channel_masks_are_refused() {
    let crash = include_bytes!(
        "../../fuzz/corpus/roundtrip_lossless/crash-39e1a0ba1c915fc7a14c8a338530412a0a66cb68"
    );
    // The fuzz input's first byte selects "16 raw bytes follow".
    assert!(crash[0] >= 0xf0);
    let format = PixelFormat::read(&mut rfb::Reader::new(&crash[1..17])).expect("16 bytes");
    assert_eq!(
        (format.red_shift, format.green_shift, format.blue_shift),
        (0, 0, 0)
    );
    assert!(matches!(
        format.validate(),
        Err(rfb::pixel::PixelFormatError::OverlappingChannels {
            first: "red",
            second: "green"
        })
    ));
    let mut m = vec![0, 0, 0, 0];
    format.write(&mut m);
    assert!(server().receive(&m).is_err(), "{format:?} accepted");

    let one_bit_overlap = PixelFormat {
        green_shift: 7,
        ..PixelFormat::RGB888
    };
    assert!(one_bit_overlap.validate().is_err());
    for legal in [PixelFormat::RGB888, PixelFormat::BGR233] {
        assert_eq!(legal.validate(), Ok(()));
    }
}
