//! Hostile peers against the real binaries (cases of
//! ../shared/hostile-inputs.md):
//!
//! - `hostile_servers_against_viewer`: a scripted malicious RFB server
//!   connects to `viewer listen --headless` once per case (huge
//!   framebuffer, rectangles outside it, overflowing sizes, bogus
//!   encodings, decompression bombs, endless rectangles, giant announced
//!   lengths, a truncated stream that stalls…), while a well-behaved
//!   session (the `rfb` crate's server driver) keeps streaming. Each hostile
//!   session must end with a typed reason in the viewer's JSON events, the
//!   viewer must never panic, its peak memory must stay within
//!   [`VIEWER_MEMORY_BOUND_MIB`] of where it started, and the good session
//!   must keep receiving updates throughout.
//! - `hostile_viewer_against_remoto`: `remoto connect ID --yes` (a clear
//!   technician) connects to a scripted malicious viewer that sends bad
//!   SetPixelFormat, SetEncodings with 65535 entries, a 2³¹−1-byte
//!   ClientCutText, 10⁵ update requests, unknown message types. Each run
//!   must end with a typed error on stderr and a non-zero exit (or a clean
//!   exit when the case is legal), never a panic, and remoto's peak memory
//!   must stay under [`REMOTO_MEMORY_BOUND_MIB`].

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rfb::PixelFormat;
use rfb::encoding::id;
use tests::hostile::{
    HostileClient, HostileServer, Junk, cut_text_header, peak_rss_mib, put_u16, put_u32,
    rect_header, server_init, set_encodings, set_pixel_format, update_header, update_request,
    zlib_bomb,
};
use tests::remoto::{Remoto, workspace_root};
use tests::rfb_io::ServerDriver;
use tests::viewer::{
    TechnicianEntry, Viewer, ViewerOptions, demo_key, packed_remoto, team_profile,
};
use tests::{Artifacts, TIMEOUT, XServer, test_picture};

/// Peak memory the viewer may gain over the whole hostile run (MiB).
const VIEWER_MEMORY_BOUND_MIB: u64 = 64;
/// Peak memory of `remoto` (debug build, 320×240 screen) in any hostile run (MiB).
const REMOTO_MEMORY_BOUND_MIB: u64 = 96;

/// How a hostile case must end in the viewer's events.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `ended` with a protocol error (the viewer closes the connection).
    ProtocolError,
    /// `rejected` before a session exists.
    Rejected,
    /// Legal but abusive: the session lives until we close, then ends
    /// because the customer closed.
    CleanClose,
}

type Script = fn(&mut HostileServer) -> std::io::Result<()>;

fn raw_rect_bytes(x: u16, y: u16, w: u16, h: u16) -> Vec<u8> {
    let mut v = update_header(1);
    v.extend_from_slice(&rect_header(x, y, w, h, id::RAW));
    v
}

fn cases() -> Vec<(&'static str, Expect, Script)> {
    vec![
        (
            "twelve zero bytes as ProtocolVersion",
            Expect::Rejected,
            |s| s.send(&[0; 12]),
        ),
        ("RFB 004.001 then garbage", Expect::ProtocolError, |s| {
            s.send(b"RFB 004.001\n")?;
            let mut v = [0u8; 12];
            std::io::Read::read_exact(&mut s.stream, &mut v)?;
            // 255 security types, none of them None.
            s.send(&[0xff; 300])
        }),
        (
            "empty security list with a 4 GiB reason",
            Expect::ProtocolError,
            |s| {
                s.send(b"RFB 003.008\n")?;
                let mut v = [0u8; 12];
                std::io::Read::read_exact(&mut s.stream, &mut v)?;
                let mut m = vec![0];
                put_u32(&mut m, u32::MAX);
                m.extend_from_slice(b"no");
                s.send(&m)
            },
        ),
        ("ServerInit 65535x65535", Expect::ProtocolError, |s| {
            s.handshake_until_init()?;
            s.send(&server_init(65535, 65535, b"huge", None))
        }),
        ("ServerInit name of 4 GiB", Expect::ProtocolError, |s| {
            s.handshake_until_init()?;
            s.send(&server_init(64, 48, b"name", Some(u32::MAX)))
        }),
        (
            "rectangle outside the framebuffer",
            Expect::ProtocolError,
            |s| {
                s.handshake(64, 48)?;
                s.send(&raw_rect_bytes(60, 0, 10, 10))
            },
        ),
        ("x + w overflowing u16", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            s.send(&raw_rect_bytes(65535, 0, 2, 1))
        }),
        ("w*h*bpp of 65535x65535", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            s.send(&raw_rect_bytes(0, 0, 65535, 65535))
        }),
        ("bogus encoding number", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let mut m = update_header(1);
            m.extend_from_slice(&rect_header(0, 0, 8, 8, 0x7fff_0000));
            m.extend_from_slice(&[0; 256]);
            s.send(&m)
        }),
        (
            "CopyRect from outside the framebuffer",
            Expect::ProtocolError,
            |s| {
                s.handshake(64, 48)?;
                let mut m = update_header(1);
                m.extend_from_slice(&rect_header(0, 0, 8, 8, id::COPY_RECT));
                put_u16(&mut m, 60);
                put_u16(&mut m, 45);
                s.send(&m)
            },
        ),
        (
            "RRE with 2^32-1 subrectangles",
            Expect::ProtocolError,
            |s| {
                s.handshake(64, 48)?;
                let mut m = update_header(1);
                m.extend_from_slice(&rect_header(0, 0, 8, 8, id::RRE));
                put_u32(&mut m, u32::MAX);
                m.extend_from_slice(&[0; 4]);
                s.send(&m)
            },
        ),
        (
            "RRE subrectangle outside its rectangle",
            Expect::ProtocolError,
            |s| {
                s.handshake(64, 48)?;
                let mut m = update_header(1);
                m.extend_from_slice(&rect_header(0, 0, 8, 8, id::RRE));
                put_u32(&mut m, 1);
                m.extend_from_slice(&[0; 4]);
                m.extend_from_slice(&[0; 4]);
                for v in [4u16, 4, 10, 10] {
                    put_u16(&mut m, v);
                }
                s.send(&m)
            },
        ),
        (
            "Hextile subrectangle outside its tile",
            Expect::ProtocolError,
            |s| {
                s.handshake(64, 48)?;
                let mut m = update_header(1);
                m.extend_from_slice(&rect_header(0, 0, 8, 8, id::HEXTILE));
                // Background + any subrects, 1 subrect at (7,7) sized 16x16.
                m.push(2 | 8);
                m.extend_from_slice(&[0; 4]);
                m.push(1);
                m.push(0x77);
                m.push(0xff);
                s.send(&m)
            },
        ),
        ("ZRLE decompression bomb", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let bomb = zlib_bomb(64 << 20);
            let mut m = update_header(1);
            m.extend_from_slice(&rect_header(0, 0, 64, 48, id::ZRLE));
            put_u32(&mut m, bomb.len() as u32);
            m.extend_from_slice(&bomb);
            s.send(&m)
        }),
        ("ZRLE corrupt zlib", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let mut m = update_header(1);
            m.extend_from_slice(&rect_header(0, 0, 64, 48, id::ZRLE));
            put_u32(&mut m, 64);
            m.extend_from_slice(&[0xde; 64]);
            s.send(&m)
        }),
        ("Tight invalid filter id", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let mut m = update_header(1);
            m.extend_from_slice(&rect_header(0, 0, 16, 16, id::TIGHT));
            m.push(0x40);
            m.push(9);
            m.extend_from_slice(&[0; 64]);
            s.send(&m)
        }),
        (
            "Tight compact length with a 4th byte",
            Expect::ProtocolError,
            |s| {
                s.handshake(64, 48)?;
                let mut m = update_header(1);
                m.extend_from_slice(&rect_header(0, 0, 16, 16, id::TIGHT));
                m.push(0x00);
                m.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
                m.extend_from_slice(&[0; 64]);
                s.send(&m)
            },
        ),
        (
            "Tight JPEG that is not a JPEG",
            Expect::ProtocolError,
            |s| {
                s.handshake(64, 48)?;
                let mut m = update_header(1);
                m.extend_from_slice(&rect_header(0, 0, 16, 16, id::TIGHT));
                m.push(0x90);
                m.push(100);
                m.extend_from_slice(&[0xff, 0xd8, 0xff]);
                m.extend_from_slice(&[0x11; 97]);
                s.send(&m)
            },
        ),
        ("Cursor of 65535x65535", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let mut m = update_header(1);
            m.extend_from_slice(&rect_header(0, 0, 65535, 65535, id::CURSOR));
            m.extend_from_slice(&[0; 1024]);
            s.send(&m)
        }),
        ("DesktopSize 65535x65535", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let mut m = update_header(1);
            m.extend_from_slice(&rect_header(0, 0, 65535, 65535, id::DESKTOP_SIZE));
            s.send(&m)
        }),
        ("DesktopName of 4 GiB", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let mut m = update_header(1);
            m.extend_from_slice(&rect_header(0, 0, 0, 0, id::DESKTOP_NAME));
            put_u32(&mut m, u32::MAX);
            m.extend_from_slice(b"name");
            s.send(&m)
        }),
        ("unknown message type", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            s.send(&[0x7f; 16])
        }),
        ("ServerCutText of 2^31-1 bytes", Expect::CleanClose, |s| {
            s.handshake(64, 48)?;
            s.send(&cut_text_header(3, i32::MAX))?;
            // A few MiB of it: the viewer must skip it, not store it.
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..8 {
                s.send(&chunk)?;
            }
            Ok(())
        }),
        (
            "ExtendedClipboard with bad flags, then a zlib bomb",
            Expect::CleanClose,
            |s| {
                s.handshake(64, 48)?;
                let mut m = cut_text_header(3, -8);
                put_u32(&mut m, 0xffff_ffff);
                put_u32(&mut m, 0);
                s.send(&m)?;
                let bomb = zlib_bomb(64 << 20);
                let mut m = cut_text_header(3, -(4 + bomb.len() as i32));
                put_u32(&mut m, (1 << 28) | 1);
                m.extend_from_slice(&bomb);
                s.send(&m)
            },
        ),
        (
            "65535 rectangles per update, 20 updates",
            Expect::CleanClose,
            |s| {
                s.handshake(64, 48)?;
                let mut m = update_header(65535);
                for i in 0..65535u32 {
                    let x = (i % 64) as u16;
                    let y = ((i / 64) % 48) as u16;
                    m.extend_from_slice(&rect_header(x, y, 1, 1, id::RAW));
                    m.extend_from_slice(&i.to_be_bytes());
                }
                for _ in 0..20 {
                    s.send(&m)?;
                }
                Ok(())
            },
        ),
        (
            "raw rectangle truncated, then a stall",
            Expect::CleanClose,
            |s| {
                s.handshake(64, 48)?;
                let mut m = raw_rect_bytes(0, 0, 64, 48);
                m.extend_from_slice(&vec![0x55; 64 * 48 * 4 / 2]);
                s.send(&m)?;
                std::thread::sleep(Duration::from_secs(3));
                Ok(())
            },
        ),
        ("junk after a good handshake", Expect::ProtocolError, |s| {
            s.handshake(64, 48)?;
            let mut junk = vec![0u8; 64 * 1024];
            Junk::new(11).fill(&mut junk);
            // Start with a bad message type so the outcome is deterministic.
            junk[0] = 0xee;
            s.send(&junk)
        }),
    ]
}

/// The viewer's session number for the connection from `peer`, if any.
fn session_of(viewer: &Viewer, peer: &str) -> Option<u64> {
    viewer
        .events()
        .iter()
        .find(|e| e["event"] == "incoming" && e["peer"] == peer)
        .and_then(|e| e["session"].as_u64())
}

/// Count of `update` events of `session` so far.
fn updates_of(viewer: &Viewer, session: u64) -> usize {
    viewer
        .events()
        .iter()
        .filter(|e| e["event"] == "update" && e["session"] == session)
        .count()
}

#[test]
fn hostile_servers_against_viewer() {
    let art = Artifacts::new("hostile_servers_against_viewer");
    let key = demo_key(&art);
    let port = tests::net::free_port();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(port, &key));
    let pid = viewer.process().pid();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");

    // The good session: the rfb crate's server, animated every 50 ms.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let stream = rt
        .block_on(tokio::net::TcpStream::connect(addr))
        .expect("good session connects");
    let good_peer = stream.local_addr().expect("local addr").to_string();
    let pictures = [test_picture(160, 120, 1), test_picture(160, 120, 2)];
    let driver = {
        let _enter = rt.enter();
        ServerDriver::start(stream, &pictures[0], "good")
    };
    let good = viewer.wait_event("the good session", TIMEOUT, |e| {
        e["event"] == "incoming" && e["peer"] == good_peer.as_str()
    })["session"]
        .as_u64()
        .expect("session number");
    viewer.wait_event("the good session's first update", TIMEOUT, |e| {
        e["event"] == "update" && e["session"] == good
    });
    let stop = Arc::new(AtomicBool::new(false));
    let animator = {
        let stop = stop.clone();
        let driver = Arc::new(driver);
        let d = driver.clone();
        let pictures = pictures.clone();
        let h = std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let p = &pictures[i % 2];
                d.show(p, vec![rfb::Rect::new(0, 0, 160, 120)]);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        (h, driver)
    };
    std::thread::sleep(Duration::from_millis(500));
    let baseline = peak_rss_mib(pid);
    eprintln!("viewer peak RSS with the good session: {baseline} MiB");

    let mut report = Vec::new();
    for (name, expect, script) in cases() {
        let started = Instant::now();
        let before = updates_of(&viewer, good);
        let mut s = HostileServer::connect(addr);
        let peer = s.stream.local_addr().expect("local addr").to_string();
        let sent = script(&mut s);
        let reason = match expect {
            Expect::ProtocolError | Expect::Rejected => {
                // The viewer hangs up by itself.
                if let Err(e) = s.wait_closed(Duration::from_secs(20)) {
                    panic!("{name}: the viewer kept the connection ({e}); script: {sent:?}");
                }
                outcome(&mut viewer, name, &peer)
            }
            Expect::CleanClose => {
                let id = session_of(&viewer, &peer)
                    .unwrap_or_else(|| panic!("{name}: no session for {peer}"));
                assert!(
                    !viewer
                        .events()
                        .iter()
                        .any(|e| e["event"] == "ended" && e["session"] == id),
                    "{name}: a legal (if abusive) session was ended: {:?}; script: {sent:?}",
                    viewer.events().last()
                );
                drop(s);
                outcome(&mut viewer, name, &peer)
            }
        };
        match expect {
            Expect::ProtocolError => assert!(
                reason.contains("protocol error"),
                "{name}: ended without a protocol error: {reason}"
            ),
            Expect::Rejected => assert!(!reason.is_empty()),
            // The test drops its socket with the viewer's update requests
            // still unread, so the kernel may answer with a reset.
            Expect::CleanClose => assert!(
                reason.contains("closed the connection") || reason.contains("reset by peer"),
                "{name}: unexpected end: {reason}"
            ),
        }
        // Another live session keeps streaming meanwhile.
        viewer.wait_event("the good session's updates", TIMEOUT, |e| {
            e["event"] == "update" && e["session"] == good
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while updates_of(&viewer, good) <= before {
            assert!(
                Instant::now() < deadline,
                "{name}: the good session stopped receiving updates"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let peak = peak_rss_mib(pid);
        report.push(format!(
            "{name}: {reason} ({:?}, viewer peak {peak} MiB)",
            started.elapsed()
        ));
        viewer.process().guard().assert_running();
    }
    stop.store(true, Ordering::Relaxed);
    let (h, driver) = animator;
    h.join().expect("animator");
    let peak = peak_rss_mib(pid);
    let log = driver.log();
    art.write("report.txt", report.join("\n"));
    for line in &report {
        eprintln!("{line}");
    }
    eprintln!(
        "viewer peak RSS {peak} MiB (baseline {baseline} MiB); good session: {} updates sent, {} update events",
        log.updates_sent,
        updates_of(&viewer, good)
    );
    assert!(
        log.ended.is_none(),
        "the good session ended: {:?}",
        log.ended
    );
    assert!(
        !viewer
            .events()
            .iter()
            .any(|e| e["event"] == "ended" && e["session"] == good),
        "the viewer ended the good session"
    );
    assert!(
        peak <= baseline + VIEWER_MEMORY_BOUND_MIB,
        "viewer peak RSS {peak} MiB exceeds {baseline} + {VIEWER_MEMORY_BOUND_MIB} MiB"
    );
    let stderr = viewer.process().stderr_text();
    assert!(
        !stderr.contains("panicked"),
        "the viewer panicked:\n{stderr}"
    );
    viewer.process().guard().assert_running();
}

/// Waits for the `ended` (or `rejected`) event of the connection from
/// `peer`; returns its reason.
fn outcome(viewer: &mut Viewer, name: &str, peer: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let events = viewer.events();
        if let Some(e) = events
            .iter()
            .find(|e| e["event"] == "rejected" && e["peer"] == peer)
        {
            return e["reason"].as_str().unwrap_or_default().to_string();
        }
        if let Some(id) = session_of(viewer, peer)
            && let Some(e) = events
                .iter()
                .find(|e| e["event"] == "ended" && e["session"] == id)
        {
            return e["reason"].as_str().unwrap_or_default().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{name}: no ended/rejected event for {peer}; stderr:\n{}",
            viewer.process().stderr_text()
        );
        viewer.process().guard().assert_running();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a hostile viewer does to remoto, and how remoto must end.
struct ClientCase {
    name: &'static str,
    /// `true`: remoto must fail with a protocol error (exit 1); `false`: the
    /// input is legal but abusive, and remoto must survive it and exit 0
    /// when we hang up.
    error: bool,
    script: fn(&mut HostileClient) -> std::io::Result<()>,
}

fn client_cases() -> Vec<ClientCase> {
    vec![
        ClientCase {
            name: "SetPixelFormat with 7 bits per pixel",
            error: true,
            script: |c| {
                c.send(&set_pixel_format(&PixelFormat {
                    bits_per_pixel: 7,
                    ..PixelFormat::RGB888
                }))
            },
        },
        ClientCase {
            name: "SetPixelFormat with depth 0, max 0, shift 40",
            error: true,
            script: |c| {
                c.send(&set_pixel_format(&PixelFormat {
                    depth: 0,
                    red_max: 0,
                    red_shift: 40,
                    ..PixelFormat::RGB888
                }))
            },
        },
        ClientCase {
            name: "SetEncodings with 65535 entries",
            error: true,
            script: |c| c.send(&set_encodings(65535, &[id::RAW, 12345, id::TIGHT])),
        },
        ClientCase {
            name: "unknown message type",
            error: true,
            script: |c| c.send(&[0x7f; 32]),
        },
        ClientCase {
            name: "garbage",
            error: true,
            script: |c| {
                let mut junk = vec![0u8; 4096];
                Junk::new(7).fill(&mut junk);
                junk[0] = 0xaa;
                c.send(&junk)
            },
        },
        ClientCase {
            name: "ClientCutText of 2^31-1 bytes (8 MiB sent)",
            error: false,
            script: |c| {
                c.send(&cut_text_header(6, i32::MAX))?;
                let chunk = vec![b'z'; 1 << 20];
                for _ in 0..8 {
                    c.send(&chunk)?;
                }
                Ok(())
            },
        },
        ClientCase {
            name: "10^5 update requests outside the screen, SetEncodings repeated",
            error: false,
            script: |c| {
                let mut m = Vec::new();
                for i in 0..100_000u32 {
                    if i % 10_000 == 0 {
                        m.extend_from_slice(&set_encodings(3, &[id::ZRLE, id::RAW, -999]));
                    }
                    m.extend_from_slice(&update_request(i % 2 == 0, 60_000, 60_000, 65535, 65535));
                }
                c.send(&m)?;
                // Keep reading what remoto sends for a moment.
                let _ = c.wait_closed(Duration::from_secs(2));
                Ok(())
            },
        },
        ClientCase {
            name: "pointer outside the screen and keys without control",
            error: false,
            script: |c| {
                let mut m = Vec::new();
                for i in 0..1000u16 {
                    m.extend_from_slice(&[5, 1]);
                    put_u16(&mut m, 60_000 + i);
                    put_u16(&mut m, 65535);
                    m.extend_from_slice(&[4, 1, 0, 0]);
                    put_u32(&mut m, 0xffff_0000 | u32::from(i));
                }
                c.send(&m)
            },
        },
    ]
}

#[test]
fn hostile_viewer_against_remoto() {
    let art = Artifacts::new("hostile_viewer_against_remoto");
    let x = XServer::xvfb(&art, 320, 240);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the hostile viewer");
    let port = listener.local_addr().expect("addr").port();
    let profile = team_profile(
        &[TechnicianEntry::clear(
            "Chiaro",
            &format!("127.0.0.1:{port}"),
        )],
        "",
    );
    let remoto = packed_remoto(&art, "remoto-hostile", &profile);
    let mut report = Vec::new();
    for case in client_cases() {
        let mut cmd = Command::new(&remoto);
        cmd.args(["connect", "Chiaro", "--yes", "--display", &x.display()])
            .env_remove("DISPLAY")
            .current_dir(workspace_root());
        let label = case.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let mut proc = Remoto::spawn(&label, &mut cmd, &art);
        let pid = proc.pid();
        let mut client = HostileClient::accept(&listener, TIMEOUT);
        assert_eq!(client.size, (320, 240), "{}: ServerInit size", case.name);
        let mut peak = 0;
        let sent = (case.script)(&mut client);
        peak = peak.max(peak_rss_mib_if_alive(pid));
        if case.error {
            if let Err(e) = client.wait_closed(Duration::from_secs(20)) {
                panic!(
                    "{}: remoto kept the connection ({e}); script {sent:?}",
                    case.name
                );
            }
        } else {
            // Legal input: remoto is still there; then we hang up.
            assert!(
                proc.guard().is_running(),
                "{}: remoto ended on legal input; stderr:\n{}",
                case.name,
                proc.stderr_text()
            );
            drop(client);
        }
        let end = Instant::now() + TIMEOUT;
        let status = loop {
            peak = peak.max(peak_rss_mib_if_alive(pid));
            if let Some(st) = proc.guard().try_status() {
                break st;
            }
            assert!(Instant::now() < end, "{}: remoto did not exit", case.name);
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = proc.stderr_text();
        let stdout = proc.stdout_text();
        assert!(
            !stderr.contains("panicked"),
            "{}: remoto panicked:\n{stderr}",
            case.name
        );
        if case.error {
            assert_eq!(
                status.code(),
                Some(1),
                "{}: exit status {status}; stderr:\n{stderr}",
                case.name
            );
            assert!(
                stderr.contains("the viewer sent something invalid"),
                "{}: no typed error on stderr:\n{stderr}",
                case.name
            );
        } else {
            assert_eq!(
                status.code(),
                Some(0),
                "{}: exit status {status}; stderr:\n{stderr}",
                case.name
            );
            assert!(
                stdout.contains("Remoto is closed"),
                "{}: no receipt:\n{stdout}",
                case.name
            );
        }
        assert!(
            peak <= REMOTO_MEMORY_BOUND_MIB,
            "{}: remoto peak RSS {peak} MiB > {REMOTO_MEMORY_BOUND_MIB} MiB",
            case.name
        );
        let last = stderr.lines().last().unwrap_or_default().to_string();
        report.push(format!(
            "{}: exit {:?}, peak {peak} MiB, {}",
            case.name,
            status.code(),
            if case.error {
                last
            } else {
                "clean exit".into()
            }
        ));
    }
    art.write("report.txt", report.join("\n"));
    for line in &report {
        eprintln!("{line}");
    }
}

/// Peak RSS of `pid` in MiB, or 0 once it has exited.
fn peak_rss_mib_if_alive(pid: u32) -> u64 {
    tests::hostile::proc_status_kib(pid, "VmHWM").unwrap_or(0) / 1024
}

/// Downgrade attempt: a MITM at a *crypto* technician's address answers
/// with `RFB 003.008\n` as a stock VNC viewer would. Remoto must refuse
/// with a clear message, and on the wire (captured here, by the MITM
/// itself) nothing but the Noise preamble and message 1 may ever leave it:
/// not one RFB byte.
#[test]
fn downgrade_mitm_against_remoto() {
    let art = Artifacts::new("downgrade_mitm_against_remoto");
    let x = XServer::xvfb(&art, 320, 240);
    let (_key, public) = tests::viewer::keygen(&art, "technician");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the MITM");
    let port = listener.local_addr().expect("addr").port();
    let profile = team_profile(
        &[TechnicianEntry::crypto(
            "Cripto",
            &format!("127.0.0.1:{port}"),
            &public,
        )],
        "",
    );
    let remoto = packed_remoto(&art, "remoto-crypto", &profile);
    let mut cmd = Command::new(&remoto);
    cmd.args(["connect", "Cripto", "--yes", "--display", &x.display()])
        .env_remove("DISPLAY")
        .current_dir(workspace_root());
    let mut proc = Remoto::spawn("remoto", &mut cmd, &art);
    listener.set_nonblocking(false).expect("blocking");
    let (mut stream, _) = listener.accept().expect("remoto connects to the MITM");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut captured = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the preamble and message 1, then answer as plain VNC.
    let end = Instant::now() + TIMEOUT;
    while captured.len() < 10 && Instant::now() < end {
        if let Ok(n) = std::io::Read::read(&mut stream, &mut buf) {
            if n == 0 {
                break;
            }
            captured.extend_from_slice(&buf[..n]);
        }
    }
    let _ = std::io::Write::write_all(&mut stream, b"RFB 003.008\n");
    // Capture everything remoto sends until it hangs up.
    let end = Instant::now() + TIMEOUT;
    loop {
        match std::io::Read::read(&mut stream, &mut buf) {
            Ok(0) => break,
            Ok(n) => captured.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
        assert!(
            Instant::now() < end,
            "remoto kept the connection to the MITM open"
        );
    }
    let status = proc.wait_exit(TIMEOUT).expect("remoto exits");
    art.write("captured.bin", &captured);
    let stderr = proc.stderr_text();
    assert!(!stderr.contains("panicked"), "remoto panicked:\n{stderr}");
    assert_ne!(status.code(), Some(0), "remoto succeeded against a MITM");
    assert!(
        stderr.contains("unencrypted VNC"),
        "no clear downgrade message on stderr:\n{stderr}"
    );
    // Exactly the preamble and one framed handshake message left remoto.
    let preamble = crypto::preamble(crypto::Mode::Ik);
    assert_eq!(&captured[..8], &preamble, "not a Noise preamble");
    let len = usize::from(u16::from_be_bytes([captured[8], captured[9]]));
    assert_eq!(
        captured.len(),
        10 + len,
        "remoto sent {} bytes beyond its handshake message",
        captured.len().saturating_sub(10 + len)
    );
    assert!(
        !captured.windows(4).any(|w| w == b"RFB "),
        "an RFB ProtocolVersion left remoto"
    );
    eprintln!(
        "remoto exit {:?}, {} bytes on the wire (preamble + message 1), stderr: {}",
        status.code(),
        captured.len(),
        stderr.trim()
    );
}
