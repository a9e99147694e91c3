//! Interoperability of the `rfb` crate with stock VNC peers, both roles.
//!
//! - Client role: x11vnc and Xtigervnc connect out (reverse) to a test
//!   listener on 127.0.0.1; `rfb::ClientSession` asks for ONE encoding and
//!   its decoded framebuffer must equal a screenshot of the display exactly.
//! - Server role: `rfb::ServerSession` serves a known picture (then a change
//!   to part of it) to a listening TigerVNC viewer (once per encoding it can
//!   be told to prefer) and to vncdotool through a socat relay; the viewer's
//!   window / vncdo's capture must equal the picture exactly.
//!
//! Needs Xvfb, x11vnc, tigervnc-standalone-server, tigervnc-tools,
//! tigervnc-viewer, imagemagick, xdotool, socat, vncdotool (see README).
#![forbid(unsafe_code)]

use rfb::Rect;
use rfb::encoding::id;
use tests::capture::{first_rect_encoding, raw_copyrect_encodings};
use tests::image::{count_differences, describe_difference, flat_picture};
use tests::rfb_io::{ClientDriver, ServerDriver, accept, client_config};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same, peers, test_picture};
use tokio::net::{TcpListener, TcpStream};

const W: u32 = 320;
const H: u32 = 200;

/// Which stock server connects to our client.
#[derive(Debug, Clone, Copy)]
enum Peer {
    X11vnc,
    Xtigervnc,
}

/// Runs the client role against `peer` asking for `encodings` only, after
/// showing the test picture on its display; the decoded framebuffer must
/// become identical to the display's screenshot.
async fn client_role(test: &str, peer: Peer, encodings: &[i32]) {
    let art = Artifacts::new(test);
    let x = match peer {
        Peer::X11vnc => XServer::xvfb(&art, W, H),
        Peer::Xtigervnc => XServer::xtigervnc(&art, W, H),
    };
    let picture = if encodings[0] == id::RRE {
        flat_picture(W, H, 0)
    } else {
        test_picture(W, H, 0)
    };
    x.show_picture(&art, "picture", &picture);
    let _term = x.xterm(&art, "remoto-term", "24x3+100+60", "Remoto 0123 ABC xyz");
    let expected = x.stable_screenshot();
    expected.save(&art.path("display.png"));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _server = match peer {
        Peer::X11vnc => Some(peers::x11vnc_connect(&art, &x, port)),
        Peer::Xtigervnc => {
            x.vncconfig_connect(&art, port);
            None
        }
    };
    let stream = accept(&listener, TIMEOUT).await;
    let mut client = ClientDriver::new(stream, client_config(encodings));
    let result = client
        .run_until(TIMEOUT, |s, events| {
            s.is_connected()
                && events
                    .iter()
                    .any(|e| matches!(e, rfb::ClientEvent::Update { .. }))
                && count_differences(
                    &expected,
                    &tests::rfb_io::framebuffer_image(s.framebuffer()),
                ) == 0
        })
        .await;
    client.transcript.save(&art.path("session.rfb"));
    art.write("events.txt", format!("{:#?}", client.events));
    let decoded = client.picture();
    if let Err(e) = result {
        let why = describe_difference(&expected, &decoded).unwrap_or_default();
        decoded.save(&art.path("decoded.png"));
        panic!(
            "{test}: {e}; decoded framebuffer vs display: {why} (artifacts in {})",
            art.dir().display()
        );
    }
    assert_same(&art, "framebuffer", &expected, &decoded);
    // The peer really used the encoding asked for (no silent Raw fallback).
    assert_eq!(
        first_rect_encoding(&client.transcript.server_bytes()),
        Ok(encodings[0]),
        "{test}: the server did not use the encoding asked for"
    );
    // The display must still show the same picture (the comparison was
    // against a stable screen, not a moving target).
    assert_same(&art, "display-after", &expected, &x.screenshot_root());
}

macro_rules! client_tests {
    ($($name:ident: $peer:expr, [$($enc:expr),+];)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            client_role(stringify!($name), $peer, &[$($enc),+]).await;
        }
    )*};
}

client_tests! {
    client_x11vnc_raw: Peer::X11vnc, [id::RAW];
    client_x11vnc_rre: Peer::X11vnc, [id::RRE];
    client_x11vnc_hextile: Peer::X11vnc, [id::HEXTILE];
    client_x11vnc_zrle: Peer::X11vnc, [id::ZRLE];
    client_x11vnc_tight: Peer::X11vnc, [id::TIGHT];
    client_xtigervnc_raw: Peer::Xtigervnc, [id::RAW];
    client_xtigervnc_rre: Peer::Xtigervnc, [id::RRE];
    client_xtigervnc_hextile: Peer::Xtigervnc, [id::HEXTILE];
    client_xtigervnc_zrle: Peer::Xtigervnc, [id::ZRLE];
    client_xtigervnc_tight: Peer::Xtigervnc, [id::TIGHT];
}

/// Runs `client` until its framebuffer equals `expected`; on failure saves
/// the session and the decoded picture and panics.
async fn until_equal(art: &Artifacts, client: &mut ClientDriver, expected: &Image, label: &str) {
    let result = client
        .run_until(TIMEOUT, |s, _| {
            s.is_connected()
                && count_differences(expected, &tests::rfb_io::framebuffer_image(s.framebuffer()))
                    == 0
        })
        .await;
    client.transcript.save(&art.path("session.rfb"));
    if let Err(e) = result {
        let decoded = client.picture();
        decoded.save(&art.path(&format!("{label}.decoded.png")));
        expected.save(&art.path(&format!("{label}.expected.png")));
        panic!(
            "{label}: {e}; {} (artifacts in {})",
            describe_difference(expected, &decoded).unwrap_or_default(),
            art.dir().display()
        );
    }
}

/// Xtigervnc moves a window's pixels with CopyRect when asked for
/// CopyRect and Raw: the client must apply the copy exactly, and the
/// stream must really contain CopyRect rectangles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_xtigervnc_copyrect() {
    let art = Artifacts::new("client_xtigervnc_copyrect");
    let x = XServer::xtigervnc(&art, W, H);
    x.show_picture(&art, "picture", &test_picture(W, H, 0));
    let _term = x.xterm(&art, "remoto-move", "20x3+10+40", "a window that moves");
    let wid = x.wait_window("remoto-move");
    let before = x.stable_screenshot();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    x.vncconfig_connect(&art, port);
    let stream = accept(&listener, TIMEOUT).await;
    let mut client = ClientDriver::new(stream, client_config(&[id::COPY_RECT, id::RAW]));
    until_equal(&art, &mut client, &before, "before").await;
    tests::process::run_ok(
        x.command("xdotool")
            .args(["windowmove", &wid.to_string(), "150", "110"]),
        TIMEOUT,
    );
    let after = x.stable_screenshot();
    assert!(
        count_differences(&before, &after) > 0,
        "the window did not move"
    );
    until_equal(&art, &mut client, &after, "after").await;
    let encodings = raw_copyrect_encodings(&client.transcript.server_bytes(), 4)
        .unwrap_or_else(|e| panic!("cannot parse the session: {e}"));
    assert!(
        encodings.contains(&id::COPY_RECT),
        "Xtigervnc sent no CopyRect: {encodings:?}"
    );
    assert_same(&art, "display-after", &after, &x.screenshot_root());
}

/// The bounding box of the pixels where `a` and `b` differ.
fn changed_area(a: &Image, b: &Image) -> Rect {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..a.height {
        for x in 0..a.width {
            if a.get(x, y) != b.get(x, y) {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    assert!(x0 < x1, "the two pictures are identical");
    Rect::new(x0 as u16, y0 as u16, (x1 - x0) as u16, (y1 - y0) as u16)
}

/// Polls screenshots of the viewer window (named after the desktop) until
/// one equals `expected`; on timeout saves the last one and fails.
async fn wait_viewer_shows(
    art: &Artifacts,
    viewer: &XServer,
    title: &str,
    label: &str,
    expected: &Image,
) {
    let display = viewer.display();
    let (title_owned, expected_owned) = (title.to_string(), expected.clone());
    let last = std::sync::Arc::new(std::sync::Mutex::new(None::<Image>));
    let last2 = last.clone();
    let display2 = display.clone();
    let found = tokio::task::spawn_blocking(move || {
        tests::wait::poll_until(TIMEOUT, || {
            for wid in tests::x11::find_windows(&display2, &title_owned) {
                if let Ok(shot) = tests::x11::screenshot(&display2, &wid.to_string()) {
                    let same = shot == expected_owned;
                    *last2.lock().expect("last") = Some(shot);
                    if same {
                        return Some(());
                    }
                }
            }
            None
        })
    })
    .await
    .expect("poll task");
    if found.is_err() {
        let shot = last.lock().expect("last").clone();
        let root = viewer.screenshot_root();
        root.save(&art.path(&format!("{label}.viewer-root.png")));
        match shot {
            Some(shot) => assert_same(art, label, expected, &shot),
            None => panic!(
                "{label}: no window named {title:?} appeared on {display} within {TIMEOUT:?}"
            ),
        }
    }
}

/// Serves the test picture, then a change to part of it, to a listening
/// TigerVNC viewer told to prefer `encoding`; the viewer window must show
/// both exactly, and our server must have used `expected_id`.
async fn server_role_tigervnc(test: &str, encoding: &str, expected_id: i32) {
    let art = Artifacts::new(test);
    let viewer_x = XServer::xvfb(&art, 640, 480);
    let port = tests::net::free_port();
    let mut viewer = peers::tigervnc_listen(&art, &viewer_x, port, encoding);
    let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect timeout")
        .expect("connect to the listening viewer");
    let title = format!("remoto-{encoding}");
    let first = test_picture(W, H, 0);
    let server = ServerDriver::start(stream, &first, &title);
    wait_viewer_shows(&art, &viewer_x, &title, "first", &first).await;
    let second = test_picture(W, H, 1);
    server.show(&second, vec![changed_area(&first, &second)]);
    wait_viewer_shows(&art, &viewer_x, &title, "second", &second).await;
    let log = server.log();
    art.write("server-log.txt", format!("{log:#?}"));
    log.transcript.save(&art.path("session.rfb"));
    viewer.assert_running();
    assert!(log.ended.is_none(), "server session ended: {:?}", log.ended);
    let real: Vec<i32> = log
        .client_encodings
        .iter()
        .copied()
        .filter(|e| [id::RAW, id::RRE, id::HEXTILE, id::TIGHT, id::ZRLE].contains(e))
        .collect();
    assert_eq!(
        real.first(),
        Some(&expected_id),
        "viewer did not prefer {encoding}: {:?}",
        log.client_encodings
    );
    assert_eq!(
        log.chosen_encoding,
        Some(expected_id),
        "our server did not encode with {encoding} (client list {:?})",
        log.client_encodings
    );
    assert!(
        log.updates_sent >= 2,
        "only {} updates sent",
        log.updates_sent
    );
}

macro_rules! server_tests {
    ($($name:ident: $enc:expr, $id:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            server_role_tigervnc(stringify!($name), $enc, $id).await;
        }
    )*};
}

server_tests! {
    server_tigervnc_raw: "raw", id::RAW;
    server_tigervnc_hextile: "hextile", id::HEXTILE;
    server_tigervnc_zrle: "zrle", id::ZRLE;
    server_tigervnc_tight: "tight", id::TIGHT;
}

/// Serves the test picture through a socat relay to `vncdo capture`; the
/// captured PNG must equal the picture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_vncdo_capture() {
    let art = Artifacts::new("server_vncdo_capture");
    let relay = peers::socat_relay(&art);
    let stream = tokio::time::timeout(
        TIMEOUT,
        TcpStream::connect(("127.0.0.1", relay.server_port)),
    )
    .await
    .expect("connect timeout")
    .expect("connect to socat");
    let picture = test_picture(W, H, 3);
    let server = ServerDriver::start(stream, &picture, "remoto-vncdo");
    let client_port = relay.client_port;
    tokio::task::spawn_blocking(move || tests::net::wait_listening(client_port, TIMEOUT))
        .await
        .expect("wait task");
    let out = art.path("vncdo.png");
    let out2 = out.clone();
    tokio::task::spawn_blocking(move || peers::vncdo_capture(client_port, &out2))
        .await
        .expect("vncdo task");
    let log = server.log();
    art.write("server-log.txt", format!("{log:#?}"));
    log.transcript.save(&art.path("session.rfb"));
    let captured = Image::load(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_same(&art, "vncdo", &picture, &captured);
    assert!(log.updates_sent >= 1);
    drop(relay);
}
