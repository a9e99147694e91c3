//! The real `viewer listen --headless` (moved here from `viewer/tests` so
//! that X servers, processes and pictures use the shared helpers):
//!
//! - `x11vnc_session_snapshot_junk_close_and_log`: x11vnc connects out of
//!   an Xvfb; the snapshot equals the display pixel for pixel, before and
//!   after a change made while 50 junk connections hit the port; input
//!   reaches the display (pointer round trip); close; the log verifies;
//!   the FBS recording exports to PNG frames whose last one is the screen;
//! - `require_crypto_refuses_clear`, `missing_key_is_explained`;
//! - `crypto_customer_pending_accept_session`: a scripted Remoto customer
//!   (Noise handshake, `pending` then `accept N`, RFB in the tunnel, keys
//!   from the technician, customer-side SessionEnd, log contents).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crypto::control::ControlMessage;
use crypto::hello::{CustomerHello, Decision};
use crypto::tokio_io::{ChannelConfig, InitiatorConfig, PeerHello, connect_initiator};
use rfb::{Framebuffer, Rect, ServerConfig, ServerEvent, ServerSession};
use tests::process::run_ok;
use tests::remoto::viewer_bin;
use tests::viewer::{Viewer, ViewerOptions, keygen};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same, test_picture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn x11vnc_session_snapshot_junk_close_and_log() {
    let art = Artifacts::new("viewer_x11vnc_session");
    let (key, _) = keygen(&art, "technician");
    let recs = art.path("recordings");
    std::fs::create_dir_all(&recs).expect("recording dir");
    let port = tests::net::free_port();
    let mut opts = ViewerOptions::loopback(port, &key);
    opts.extra = vec!["--record".into(), recs.to_string_lossy().into_owned()];
    let mut viewer = Viewer::start(&art, "viewer", &opts);

    let x = XServer::xvfb(&art, 640, 480);
    x.show_picture(&art, "customer-0", &test_picture(640, 480, 0));
    let first = x.stable_screenshot();
    let _x11vnc = tests::peers::x11vnc_connect(&art, &x, port);

    let incoming = viewer.wait_event("incoming", TIMEOUT, |e| e["event"] == "incoming");
    assert_eq!(incoming["mode"], "clear");
    assert!(incoming["sas"].is_null());
    let session = incoming["session"].as_u64().expect("session number");
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    assert_eq!(connected["session"], session);
    assert_eq!(connected["width"], 640);
    assert_eq!(connected["height"], 480);
    assert!(connected["name"].is_string());
    viewer.wait_snapshot(&art, "first", session, &first, TIMEOUT);
    viewer.wait_event("update", TIMEOUT, |e| e["event"] == "update");

    // 50 junk connections: half send random bytes, half stay idle.
    let mut junk = Vec::new();
    let mut rng = tests::image::Rng::new(0x1234_5678);
    for i in 0..50 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        if i % 2 == 0 {
            let bytes: Vec<u8> = (0..256).map(|_| (rng.next_u32() >> 24) as u8).collect();
            let _ = s.write_all(&bytes);
        }
        junk.push(s);
    }
    // The real session keeps streaming meanwhile.
    x.show_picture(&art, "customer-1", &test_picture(640, 480, 1));
    let second = x.stable_screenshot();
    viewer.wait_snapshot(&art, "second", session, &second, TIMEOUT);
    viewer.wait_event("rejected", TIMEOUT, |e| e["event"] == "rejected");
    drop(junk);

    // Input round trip: the technician's pointer moves the display's.
    viewer.send(&format!("pointer {session} 0 10 20"));
    x.wait_pointer((10, 20));
    viewer.send(&format!("type {session} hi"));

    viewer.send(&format!("close {session}"));
    let ended = viewer.wait_event("ended", TIMEOUT, |e| {
        e["event"] == "ended" && e["session"] == session
    });
    assert_eq!(ended["reason"], "closed by the technician");
    let logs = viewer.verify_logs(1);
    let text = &logs[0];
    assert!(text.contains(r#""kind":"session_start""#), "{text}");
    assert!(text.contains(r#""mode":"clear""#), "{text}");
    assert!(
        text.contains(r#""reason":"closed by the technician""#),
        "{text}"
    );

    // The recording exports to PNG frames whose last one is the screen.
    let rec = std::fs::read_dir(&recs)
        .expect("recording dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "fbs"))
        .expect("a recording");
    let frames = art.path("frames");
    run_ok(
        Command::new(viewer_bin())
            .arg("export")
            .arg(&rec)
            .arg("--png")
            .arg(&frames),
        TIMEOUT,
    );
    let mut pngs: Vec<_> = std::fs::read_dir(&frames)
        .expect("frames dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    pngs.sort();
    let last = Image::load(pngs.last().expect("at least one frame")).expect("a PNG frame");
    assert_same(&art, "last-frame", &second, &last);
}

#[test]
fn require_crypto_refuses_clear() {
    let art = Artifacts::new("viewer_require_crypto_refuses_clear");
    let (key, _) = keygen(&art, "technician");
    let port = tests::net::free_port();
    let mut opts = ViewerOptions::loopback(port, &key);
    opts.extra = vec!["--require-crypto".into()];
    let mut viewer = Viewer::start(&art, "viewer", &opts);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    s.write_all(b"RFB 003.008\n").expect("send version");
    let mut buf = [0u8; 64];
    // Closed without a byte of RFB from the viewer.
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the viewer answered a clear connection");
    let rejected = viewer.wait_event("rejected", TIMEOUT, |e| e["event"] == "rejected");
    assert!(
        rejected["reason"]
            .as_str()
            .is_some_and(|r| r.contains("requires crypto")),
        "{rejected}"
    );
    assert!(
        !viewer.events().iter().any(|e| e["event"] == "incoming"),
        "a refused connection became a session"
    );
}

#[test]
fn missing_key_is_explained() {
    let art = Artifacts::new("viewer_missing_key_is_explained");
    let out = tests::process::run_with_timeout(
        Command::new(viewer_bin())
            .args([
                "listen",
                "--headless",
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--key",
            ])
            .arg(art.path("nope.key")),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = out.stderr_text();
    assert!(err.contains("run `viewer keygen`"), "{err}");
}

fn snapshot_is(path: &std::path::Path, colour: u32) -> bool {
    Image::load(path).is_ok_and(|img| {
        img.width == 64 && img.height == 48 && img.pixels.iter().all(|p| *p == colour)
    })
}

#[test]
fn crypto_customer_pending_accept_session() {
    let art = Artifacts::new("viewer_crypto_customer_pending_accept");
    let (key, _) = keygen(&art, "technician");
    let public = crypto::KeyPair::load(&key).expect("load key").public;
    let port = tests::net::free_port();
    let mut opts = ViewerOptions::loopback(port, &key);
    opts.accept_all = false;
    opts.extra = vec!["--id".into(), "Verde".into()];
    let mut viewer = Viewer::start(&art, "viewer", &opts);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tcp = rt
        .block_on(tokio::net::TcpStream::connect(("127.0.0.1", port)))
        .expect("connect");
    let mut hello = CustomerHello::new("0.1.0", "linux");
    hello.computer_name = Some("pc-anna".into());
    let mut channel = rt
        .block_on(connect_initiator(
            tcp,
            InitiatorConfig {
                technician: public,
                hello,
                session_code: None,
                channel: ChannelConfig::default(),
            },
        ))
        .expect("handshake");
    assert_eq!(channel.info.decision, Decision::Pending);
    match &channel.info.peer {
        PeerHello::Technician(t) => assert_eq!(t.technician_id, "Verde"),
        PeerHello::Customer(_) => panic!("wrong peer hello"),
    }
    let incoming = viewer.wait_event("incoming", TIMEOUT, |e| e["event"] == "incoming");
    assert_eq!(incoming["mode"], "crypto");
    assert_eq!(incoming["sas"], channel.info.sas.to_string());
    assert_eq!(incoming["customer"]["computer_name"], "pc-anna");
    let session = incoming["session"].as_u64().expect("session");
    viewer.wait_event("pending", TIMEOUT, |e| {
        e["event"] == "pending" && e["session"] == session
    });
    viewer.send(&format!("accept {session}"));
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), channel.events.wait_decision()).await
    })
    .expect("decision in time")
    .expect("accepted");

    // The customer: an RFB server with a solid 64×48 screen, inside the tunnel.
    let colour = 0x0033_66cc;
    let mut fb = Framebuffer::new(64, 48).expect("fb");
    fb.fill(Rect::new(0, 0, 64, 48), colour);
    let mut server = ServerSession::new(ServerConfig::new(64, 48, "scripted"));
    let control = channel.control.clone();
    let mut rfb = channel.rfb;
    let snap = viewer.snapshot_path(session);
    let mut typed = false;
    let keys = rt.block_on(async {
        rfb.write_all(&server.take_output()).await.expect("version");
        control
            .send(ControlMessage::ConsentChanged { control: true })
            .await
            .expect("consent");
        let mut keys = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let end = Instant::now() + TIMEOUT;
        while keys.len() < 2 {
            assert!(Instant::now() < end, "no keys from the viewer in time");
            // Short reads so that the snapshot is checked meanwhile.
            if let Ok(r) =
                tokio::time::timeout(Duration::from_millis(100), rfb.read(&mut buf)).await
            {
                let n = r.expect("read");
                assert!(n > 0, "viewer closed the tunnel");
                server.receive(&buf[..n]).expect("server receive");
                while let Some(ev) = server.poll_event() {
                    if let ServerEvent::Key { down, keysym } = ev {
                        keys.push((down, keysym));
                    }
                }
                if server.must_update() {
                    server
                        .write_update(&fb, &[], &[], None, false)
                        .expect("update");
                }
                rfb.write_all(&server.take_output()).await.expect("write");
            }
            // Once the technician sees the picture, the technician types.
            if !typed && server.is_ready() && snapshot_is(&snap, colour) {
                typed = true;
                viewer.send(&format!("key {session} 0x61"));
            }
        }
        control
            .send(ControlMessage::SessionEnd {
                reason: "customer closed".into(),
            })
            .await
            .expect("end");
        keys
    });
    assert_eq!(keys, vec![(true, 0x61), (false, 0x61)]);

    let control_ev = viewer.wait_event("control", TIMEOUT, |e| e["event"] == "control");
    assert_eq!(control_ev["allowed"], true);
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    assert_eq!(connected["name"], "scripted");
    let ended = viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    assert!(
        ended["reason"]
            .as_str()
            .is_some_and(|r| r.contains("customer closed")),
        "{ended}"
    );
    let logs = viewer.verify_logs(1);
    let text = &logs[0];
    assert!(
        text.contains(&format!(r#""sas":"{}""#, channel.info.sas)),
        "{text}"
    );
    assert!(text.contains(r#""technician":"Verde""#), "{text}");
    assert!(
        text.contains(r#""kind":"consent","control":true"#),
        "{text}"
    );
    assert!(text.contains(r#""computer_name":"pc-anna""#), "{text}");
}
