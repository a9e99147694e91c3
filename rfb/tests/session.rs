//! A ServerSession and a ClientSession wired together byte for byte, fed in
//! random-sized chunks, for several pixel formats.

use rfb::encoding::id;
use rfb::pixel::{PixelCodec, PixelFormat};
use rfb::{
    ClientConfig, ClientEvent, ClientSession, CopyMove, CursorShape, Framebuffer, Rect,
    ServerConfig, ServerEvent, ServerSession,
};

/// A tiny deterministic generator (no dependency needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Pair {
    server: ServerSession,
    client: ClientSession,
    rng: Lcg,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
}

impl Pair {
    fn new(w: u16, h: u16, config: ClientConfig, seed: u64) -> Self {
        let mut p = Pair {
            server: ServerSession::new(ServerConfig::new(w, h, "test desktop")),
            client: ClientSession::new(config),
            rng: Lcg(seed),
            client_events: Vec::new(),
            server_events: Vec::new(),
        };
        p.pump();
        p
    }

    /// Moves bytes both ways, in random chunks, until both are quiet.
    fn pump(&mut self) {
        loop {
            let s = self.server.take_output();
            let c = self.client.take_output();
            if s.is_empty() && c.is_empty() {
                break;
            }
            let mut i = 0;
            while i < s.len() {
                let n = 1 + self.rng.below(4000) as usize;
                let end = (i + n).min(s.len());
                self.client.receive(&s[i..end]).expect("client receive");
                i = end;
            }
            let mut i = 0;
            while i < c.len() {
                let n = 1 + self.rng.below(50) as usize;
                let end = (i + n).min(c.len());
                self.server.receive(&c[i..end]).expect("server receive");
                i = end;
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
        }
    }

    fn update(&mut self, fb: &Framebuffer, dirty: &[Rect], moves: &[CopyMove]) -> bool {
        let sent = self
            .server
            .write_update(fb, dirty, moves, None, false)
            .unwrap();
        self.pump();
        sent
    }
}

fn quantised(fb: &Framebuffer, format: PixelFormat) -> Vec<u32> {
    let codec = PixelCodec::new(format).unwrap();
    fb.pixels()
        .iter()
        .map(|&p| {
            let mut b = Vec::new();
            codec.write_pixel(p, &mut b);
            codec.read_pixel(&b)
        })
        .collect()
}

fn picture(w: u16, h: u16, seed: u64) -> Framebuffer {
    let mut rng = Lcg(seed);
    let mut fb = Framebuffer::new(w, h).unwrap();
    for _ in 0..20 {
        let x = rng.below(u64::from(w)) as u16;
        let y = rng.below(u64::from(h)) as u16;
        let r = Rect::new(x, y, 1 + rng.below(40) as u16, 1 + rng.below(30) as u16);
        fb.fill(r, (rng.next() as u32) & 0xffffff);
    }
    fb
}

fn bgr888_big_endian() -> PixelFormat {
    PixelFormat {
        big_endian: true,
        red_shift: 0,
        green_shift: 8,
        blue_shift: 16,
        ..PixelFormat::RGB888
    }
}

fn run_format(format: PixelFormat, seed: u64) {
    run_with(format, seed, id::RAW);
}

fn run_with(format: PixelFormat, seed: u64, preferred: i32) {
    let (w, h) = (97, 61);
    let config = ClientConfig {
        encodings: vec![
            id::COPY_RECT,
            preferred,
            id::RAW,
            id::CURSOR,
            id::DESKTOP_SIZE,
            id::LAST_RECT,
        ],
        pixel_format: Some(format),
        ..ClientConfig::default()
    };
    let mut p = Pair::new(w, h, config, seed);
    assert!(matches!(
        p.server_events[0],
        ServerEvent::ClientReady { shared: true }
    ));
    assert!(matches!(
        p.client_events[0],
        ClientEvent::Connected {
            width: 97,
            height: 61,
            ..
        }
    ));
    assert_eq!(p.server.pixel_format(), &format);
    assert_eq!(p.server.chosen_encoding(), preferred);
    let mut fb = picture(w, h, seed);
    // First request was non-incremental: the whole screen goes even with no dirty list.
    assert!(p.server.must_update());
    assert!(p.update(&fb, &[], &[]));
    assert_eq!(p.client.framebuffer().pixels(), quantised(&fb, format));
    // Incremental: nothing dirty, nothing sent.
    assert!(p.server.wants_update());
    assert!(!p.update(&fb, &[], &[]));
    // A move (scroll up by 10 rows) plus a dirty strip.
    for round in 0..5u64 {
        let mv = CopyMove {
            src_x: 0,
            src_y: 10,
            dst: Rect::new(0, 0, w, h - 10),
        };
        let snapshot = fb.clone();
        fb.put(mv.dst, &snapshot.read(mv.src()).unwrap());
        let strip = Rect::new(0, h - 10, w, 10);
        fb.fill(strip, 0x102030 * (round as u32 + 1));
        fb.fill(Rect::new(5, 5, 3, 3), 0xabcdef);
        assert!(p.update(&fb, &[strip, Rect::new(5, 5, 3, 3)], &[mv]));
        assert_eq!(
            p.client.framebuffer().pixels(),
            quantised(&fb, format),
            "round {round}"
        );
    }
    let updates = p
        .client_events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Update { .. }))
        .count();
    assert_eq!(updates, 6);
}

#[test]
fn rgb888() {
    run_format(PixelFormat::RGB888, 1);
}

#[test]
fn bgr888_big_endian_format() {
    run_format(bgr888_big_endian(), 2);
}

#[test]
fn rgb565() {
    run_format(PixelFormat::RGB565, 3);
}

#[test]
fn bgr233() {
    run_format(PixelFormat::BGR233, 4);
}

#[test]
fn resize_and_cursor() {
    let config = ClientConfig {
        encodings: vec![
            id::RAW,
            id::CURSOR,
            id::EXTENDED_DESKTOP_SIZE,
            id::DESKTOP_SIZE,
        ],
        ..ClientConfig::default()
    };
    let mut p = Pair::new(40, 30, config, 9);
    let fb = picture(40, 30, 5);
    assert!(p.update(&fb, &[], &[]));
    let big = picture(64, 48, 6);
    let cursor = CursorShape::new(1, 2, 3, 2, vec![0xff0000; 6], vec![0xe0, 0x40]).unwrap();
    assert!(
        p.server
            .write_update(&big, &[], &[], Some(&cursor), true)
            .unwrap()
    );
    p.pump();
    assert_eq!(p.client.framebuffer(), &big);
    assert!(p.client_events.iter().any(|e| matches!(
        e,
        ClientEvent::Resized {
            width: 64,
            height: 48
        }
    )));
    assert!(
        p.client_events
            .iter()
            .any(|e| e == &ClientEvent::CursorShape(cursor.clone()))
    );
}

#[test]
fn input_clipboard_fence_and_request_merging() {
    let mut config = ClientConfig::default();
    config.encodings.push(id::EXTENDED_CLIPBOARD);
    let mut p = Pair::new(20, 10, config, 11);
    let fb = picture(20, 10, 1);
    assert!(p.update(&fb, &[], &[]));
    p.client.key(true, 0xff0d);
    p.client.pointer(1, 500, 3);
    p.client.cut_text("ciao\nmondo ☃");
    p.server.cut_text("dal server ✓");
    p.server.bell();
    p.pump();
    assert!(p.server_events.contains(&ServerEvent::Key {
        down: true,
        keysym: 0xff0d
    }));
    assert!(p.server_events.contains(&ServerEvent::Pointer {
        mask: 1,
        x: 19,
        y: 3
    }));
    assert!(
        p.server_events
            .contains(&ServerEvent::CutText("ciao\nmondo ☃".into()))
    );
    assert!(
        p.client_events
            .contains(&ClientEvent::CutText("dal server ✓".into()))
    );
    assert!(p.client_events.contains(&ClientEvent::Bell));
    // The server's first fence request was answered.
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Fence(f) if !f.is_request()))
    );
    // Many requests merge into one pending update.
    for _ in 0..10_000 {
        p.client.request_update(true, Rect::new(0, 0, 5, 5));
    }
    p.pump();
    let mut fb2 = fb.clone();
    fb2.fill(Rect::new(0, 0, 2, 2), 0x123456);
    assert!(
        p.server
            .write_update(&fb2, &[Rect::new(0, 0, 2, 2)], &[], None, false)
            .unwrap()
    );
    assert!(
        !p.server
            .write_update(&fb2, &[Rect::new(0, 0, 2, 2)], &[], None, false)
            .unwrap()
            || p.server.wants_update()
    );
    p.pump();
    assert_eq!(p.client.framebuffer(), &fb2);
    // Continuous updates were announced by the server.
    assert!(p.client.supports_continuous_updates());
}

#[test]
fn hostile_server_bytes_are_clean_errors() {
    // Garbage version.
    let mut c = ClientSession::new(ClientConfig::default());
    assert!(c.receive(&[0; 12]).is_err());
    assert!(c.receive(b"x").is_err());
    // Empty security list with a 4 GiB reason.
    let mut c = ClientSession::new(ClientConfig::default());
    c.receive(b"RFB 003.008\n").unwrap();
    assert!(c.receive(&[0, 0xff, 0xff, 0xff, 0xff]).is_err());
    // Huge ServerInit.
    let mut c = ClientSession::new(ClientConfig::default());
    c.receive(b"RFB 003.008\n\x01\x01\0\0\0\0").unwrap();
    let mut init = vec![0xff, 0xff, 0xff, 0xff];
    PixelFormat::RGB888.write(&mut init);
    init.extend_from_slice(&[0, 0, 0, 1, b'x']);
    assert!(c.receive(&init).is_err());
}

fn connected_client(w: u16, h: u16) -> ClientSession {
    let mut c = ClientSession::new(ClientConfig::default());
    let mut b = b"RFB 003.008\n\x01\x01\0\0\0\0".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    PixelFormat::RGB888.write(&mut b);
    b.extend_from_slice(&[0, 0, 0, 0]);
    c.receive(&b).unwrap();
    c
}

#[test]
fn hostile_updates() {
    // 65535 empty rectangles: processed without allocation per count.
    let mut c = connected_client(10, 10);
    let mut b = vec![0, 0, 0xff, 0xff];
    for _ in 0..65535 {
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    c.receive(&b).unwrap();
    // Rectangle outside the framebuffer.
    let mut c = connected_client(10, 10);
    assert!(
        c.receive(&[0, 0, 0, 1, 0, 5, 0, 5, 0, 6, 0, 6, 0, 0, 0, 0])
            .is_err()
    );
    // x + w overflowing u16.
    let mut c = connected_client(10, 10);
    assert!(
        c.receive(&[0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0])
            .is_err()
    );
    // DesktopSize 65535×65535.
    let mut c = connected_client(10, 10);
    assert!(
        c.receive(&[
            0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x21
        ])
        .is_err()
    );
    // Unknown server message type.
    let mut c = connected_client(10, 10);
    assert!(c.receive(&[77]).is_err());
    // ServerCutText of 2^31−1 bytes: skipped without buffering.
    let mut c = connected_client(10, 10);
    c.receive(&[3, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]).unwrap();
    c.receive(&vec![b'a'; 1 << 20]).unwrap();
    // x11vnc's caps with length −8.
    let mut c = connected_client(10, 10);
    c.receive(&[
        3, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8, 1, 0, 0, 1, 0, 0x10, 0, 0,
    ])
    .unwrap();
    while let Some(e) = c.poll_event() {
        if let ClientEvent::ClipboardCaps { formats, .. } = e {
            assert_eq!(formats, 1);
        }
    }
    // Fence request answered with the request bit cleared.
    let mut c = connected_client(10, 10);
    c.take_output();
    c.receive(&[248, 0, 0, 0, 0x80, 0, 0, 3, 2, 9, 8]).unwrap();
    assert_eq!(c.take_output(), [248, 0, 0, 0, 0, 0, 0, 3, 2, 9, 8]);
}

#[test]
fn hostile_client_bytes_are_clean_errors() {
    let ready = || {
        let mut s = ServerSession::new(ServerConfig::new(10, 10, "x"));
        s.receive(b"RFB 003.008\n\x01\x01").unwrap();
        s
    };
    let mut s = ServerSession::new(ServerConfig::new(10, 10, "x"));
    assert!(s.receive(b"RFB 004.001\n").is_err());
    let mut s = ServerSession::new(ServerConfig::new(10, 10, "x"));
    assert!(s.receive(&[0; 12]).is_err());
    let mut s = ready();
    assert!(s.receive(&[2, 0, 0xff, 0xff]).is_err());
    let mut s = ready();
    let mut m = vec![0, 0, 0, 0];
    let mut f = PixelFormat::RGB888;
    f.bits_per_pixel = 7;
    f.write(&mut m);
    assert!(s.receive(&m).is_err());
    let mut s = ready();
    assert!(s.receive(&[99]).is_err());
    // ClientCutText 2^31−1: skipped.
    let mut s = ready();
    s.receive(&[6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]).unwrap();
    s.receive(&[0; 4096]).unwrap();
    // Pointer far outside: clamped.
    let mut s = ready();
    s.receive(&[5, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
    let mut last = None;
    while let Some(e) = s.poll_event() {
        last = Some(e);
    }
    assert_eq!(
        last,
        Some(ServerEvent::Pointer {
            mask: 0,
            x: 9,
            y: 9
        })
    );
    // Request outside the screen: nothing pending.
    let mut s = ready();
    s.receive(&[3, 0, 0, 100, 0, 100, 0, 10, 0, 10]).unwrap();
    assert!(!s.wants_update());
}

#[test]
fn old_protocol_versions() {
    for v in [&b"RFB 003.003\n"[..], b"RFB 003.007\n", b"RFB 003.889\n"] {
        let mut s = ServerSession::new(ServerConfig::new(8, 8, "x"));
        s.take_output();
        s.receive(v).unwrap();
        let out = s.take_output();
        if v == b"RFB 003.003\n" {
            assert_eq!(out, [0, 0, 0, 1]);
            s.receive(&[1]).unwrap();
        } else {
            assert_eq!(out, [1, 1]);
            s.receive(&[1, 1]).unwrap();
        }
        assert!(s.is_ready());
    }
}

#[test]
fn every_supported_encoding_round_trips() {
    for (i, &enc) in ServerSession::supported_encodings().iter().enumerate() {
        if ClientSession::supported_encodings().contains(&enc) {
            for format in [
                PixelFormat::RGB888,
                PixelFormat::RGB565,
                bgr888_big_endian(),
            ] {
                run_with(format, 100 + i as u64, enc);
            }
        }
    }
}
