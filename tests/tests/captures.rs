//! Captured real sessions (tests/data/*.rfb) replayed into
//! `rfb::ClientSession`: no X server or peer needed.
//!
//! Regenerate the captures (needs Xvfb, x11vnc, Xtigervnc, vncconfig):
//!
//! ```text
//! cargo test -p tests --test captures -- --ignored regenerate_captures
//! ```
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rfb::encoding::id;
use tests::capture::{
    Direction, RECORD_PIXEL_FORMAT, Transcript, first_rect_encoding, record_session,
};
use tests::image::flat_picture;
use tests::rfb_io::{client_config, framebuffer_image};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same, peers, test_picture};

/// Size of the captured displays (keeps the files small).
const W: u32 = 256;
const H: u32 = 160;

/// Every capture: file stem, encoding asked for.
const CAPTURES: &[(&str, i32)] = &[
    ("x11vnc-raw", id::RAW),
    ("x11vnc-rre", id::RRE),
    ("x11vnc-hextile", id::HEXTILE),
    ("x11vnc-zrle", id::ZRLE),
    ("x11vnc-tight", id::TIGHT),
    ("xtigervnc-rre", id::RRE),
    ("xtigervnc-hextile", id::HEXTILE),
    ("xtigervnc-zrle", id::ZRLE),
    ("xtigervnc-tight", id::TIGHT),
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn load(stem: &str) -> (Transcript, Image) {
    let dir = data_dir();
    let t = Transcript::load(&dir.join(format!("{stem}.rfb"))).unwrap_or_else(|e| {
        panic!(
            "{e} (regenerate: cargo test -p tests --test captures -- --ignored regenerate_captures)"
        )
    });
    let png = Image::load(&dir.join(format!("{stem}.png"))).unwrap_or_else(|e| panic!("{e}"));
    (t, png)
}

/// The server bytes of a capture fed to a ClientSession configured like the
/// recorder (same pixel format, same single encoding); the final picture
/// must equal the screenshot taken while recording. The bytes are fed in
/// small, uneven pieces to exercise resumable decoding.
fn replay(stem: &str, encoding: i32) {
    let art = Artifacts::new(&format!("replay_{stem}"));
    let (t, expected) = load(stem);
    let client = t.client_bytes();
    // The recording asked for exactly this encoding in this pixel format.
    let mut set_encodings = vec![2, 0, 0, 1];
    set_encodings.extend_from_slice(&encoding.to_be_bytes());
    assert!(
        client.windows(8).any(|w| w == set_encodings.as_slice()),
        "{stem}: the capture did not ask for encoding {encoding} alone"
    );
    assert!(
        client.windows(16).any(|w| w == RECORD_PIXEL_FORMAT),
        "{stem}: the capture did not set the recorder's pixel format"
    );
    let server = t.server_bytes();
    let mut session = rfb::ClientSession::new(client_config(&[encoding]));
    let mut updates = 0;
    let mut pos = 0;
    let mut step = 1;
    while pos < server.len() {
        let end = (pos + step).min(server.len());
        if let Err(e) = session.receive(&server[pos..end]) {
            framebuffer_image(session.framebuffer()).save(&art.path("decoded.png"));
            panic!(
                "{stem}: session failed at byte {pos}..{end} of {}: {e}",
                server.len()
            );
        }
        while let Some(ev) = session.poll_event() {
            if matches!(ev, rfb::ClientEvent::Update { .. }) {
                updates += 1;
            }
        }
        let _ = session.take_output();
        pos = end;
        step = step % 4093 * 7 + 1;
    }
    assert!(session.is_connected(), "{stem}: handshake did not finish");
    assert!(updates >= 1, "{stem}: no complete FramebufferUpdate");
    assert_same(
        &art,
        stem,
        &expected,
        &framebuffer_image(session.framebuffer()),
    );
}

macro_rules! replay_tests {
    ($($name:ident: $stem:expr, $enc:expr;)*) => {$(
        #[test]
        fn $name() {
            replay($stem, $enc);
        }
    )*};
}

replay_tests! {
    replay_x11vnc_raw: "x11vnc-raw", id::RAW;
    replay_x11vnc_rre: "x11vnc-rre", id::RRE;
    replay_x11vnc_hextile: "x11vnc-hextile", id::HEXTILE;
    replay_x11vnc_zrle: "x11vnc-zrle", id::ZRLE;
    replay_x11vnc_tight: "x11vnc-tight", id::TIGHT;
    replay_xtigervnc_rre: "xtigervnc-rre", id::RRE;
    replay_xtigervnc_hextile: "xtigervnc-hextile", id::HEXTILE;
    replay_xtigervnc_zrle: "xtigervnc-zrle", id::ZRLE;
    replay_xtigervnc_tight: "xtigervnc-tight", id::TIGHT;
}

/// The picture shown for a capture: flat shapes for RRE (libvncserver
/// falls back to Raw when RRE is larger), the full test picture otherwise.
fn picture_for(encoding: i32) -> Image {
    if encoding == id::RRE {
        flat_picture(W, H, 0)
    } else {
        test_picture(W, H, 0)
    }
}

/// Every listed capture exists, parses, starts like an RFB 3.8 session,
/// really uses the encoding it asked for, and carries a picture of the
/// announced size.
#[test]
fn captures_are_well_formed() {
    for (stem, encoding) in CAPTURES {
        let (t, png) = load(stem);
        let server = t.server_bytes();
        assert!(
            server.starts_with(b"RFB 003.00"),
            "{stem}: no ProtocolVersion"
        );
        assert_eq!(
            t.chunks[0].0,
            Direction::Server,
            "{stem}: server speaks first"
        );
        assert!(t.client_bytes().starts_with(b"RFB 003.008\n"), "{stem}");
        assert_eq!((png.width, png.height), (W, H), "{stem}: picture size");
        assert_eq!(
            first_rect_encoding(&server),
            Ok(*encoding),
            "{stem}: the server did not use the encoding asked for"
        );
        let reparsed = Transcript::from_bytes(&t.to_bytes()).expect("round trip");
        assert_eq!(reparsed, t);
    }
}

/// Records every capture again from real servers into tests/data/.
#[test]
#[ignore = "regenerates tests/data from real servers; run explicitly"]
fn regenerate_captures() {
    let art = Artifacts::new("regenerate_captures");
    for (stem, encoding) in CAPTURES {
        let picture = picture_for(*encoding);
        let sub = art.sub(stem);
        let tiger = stem.starts_with("xtigervnc");
        let x = if tiger {
            XServer::xtigervnc(&sub, W, H)
        } else {
            XServer::xvfb(&sub, W, H)
        };
        x.show_picture(&sub, "picture", &picture);
        let expected = x.stable_screenshot();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let _server = if tiger {
            x.vncconfig_connect(&sub, port);
            None
        } else {
            Some(peers::x11vnc_connect(&sub, &x, port))
        };
        let (init, transcript) =
            record_session(&listener, *encoding, Duration::from_secs(3), TIMEOUT)
                .unwrap_or_else(|e| panic!("{stem}: recording failed: {e}"));
        assert_eq!((u32::from(init.width), u32::from(init.height)), (W, H));
        // The screen must not have changed while recording.
        assert_same(&sub, "stable", &expected, &x.screenshot_root());
        assert_eq!(
            first_rect_encoding(&transcript.server_bytes()),
            Ok(*encoding),
            "{stem}: the server did not use the encoding asked for"
        );
        transcript.save(&data_dir().join(format!("{stem}.rfb")));
        expected.save(&data_dir().join(format!("{stem}.png")));
        eprintln!(
            "{stem}: {} server bytes, {} client bytes",
            transcript.server_bytes().len(),
            transcript.client_bytes().len()
        );
    }
}
