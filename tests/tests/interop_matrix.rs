//! The interop matrix: Remoto and `viewer` against stock VNC programs, one
//! scripted session per pair (and per encoding where the peer lets us
//! choose), pixels compared exactly with the source display (PSNR for
//! Tight JPEG), one input round trip where the peer can send input.
//!
//! - Remoto (clear) → `xtigervncviewer -listen` (`tiger_*`), →
//!   `xtightvncviewer -listen` (`tightvnc_*`), → vncdotool as a listening
//!   client (`vncdotool_*`, `tests/python/vnc_listen.py`), → `vncdo`
//!   through a socat relay (`vncdo_socat_capture`);
//! - `Xtigervnc` + `vncconfig -connect` → `viewer listen`
//!   (`xtigervnc_to_viewer`; x11vnc → viewer is in `viewer_listen.rs`);
//! - Remoto (clear and crypto) → `viewer listen`
//!   (`remoto_{clear,crypto}_to_viewer`, with desktop resize through
//!   `xrandr`), and three Remotos at once (`three_remotos_one_viewer`).
//!
//! Every test uses its own port (a slot of the packed Remoto, see
//! `tests::viewer::shared_remoto`), never the shared 5500.

use tests::image::psnr;
use tests::peers;
use tests::process::{ChildGuard, require_tool, run_ok};
use tests::remoto::{Remoto, connect_command};
use tests::viewer::{Viewer, ViewerOptions, demo_key, keygen, shared_remoto};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same, test_picture};

/// The customer's screen size.
const W: u32 = 320;
const H: u32 = 240;
/// Tight JPEG must reach at least this PSNR (dB) at quality level 6.
const JPEG_MIN_PSNR: f64 = 25.0;

/// Shows test picture `variant` on `x` and returns the stable screen.
fn show_on(art: &Artifacts, x: &XServer, variant: u32) -> Image {
    x.show_picture(
        art,
        &format!("customer-{variant}"),
        &test_picture(x.width(), x.height(), variant),
    );
    x.stable_screenshot()
}

/// A customer display showing test picture `variant`.
fn customer(art: &Artifacts, variant: u32) -> (XServer, Image) {
    let x = XServer::xvfb(art, W, H);
    let shot = show_on(art, &x, variant);
    (x, shot)
}

/// Starts the packed Remoto on `x`, connecting to technician `id`.
fn start_remoto(
    art: &Artifacts,
    name: &str,
    bin: &std::path::Path,
    x: &XServer,
    id: &str,
    extra: &[&str],
) -> Remoto {
    Remoto::spawn(
        name,
        &mut connect_command(bin, id, &x.display(), extra, None),
        art,
    )
}

/// Waits until Remoto says it shares the screen.
fn wait_sharing(remoto: &mut Remoto) {
    remoto.wait_line("sharing the screen", TIMEOUT, |l| {
        l.starts_with("sharing the screen")
    });
}

/// Remoto exits 0 with its receipt within `TIMEOUT` (after `close` or
/// after the technician hung up).
fn assert_clean_exit(remoto: &mut Remoto) {
    let status = remoto
        .wait_exit(TIMEOUT)
        .unwrap_or_else(|| panic!("remoto still runs; stdout:\n{}", remoto.stdout_text()));
    assert_eq!(
        status.code(),
        Some(0),
        "remoto exit status; stdout:\n{}\nstderr:\n{}",
        remoto.stdout_text(),
        remoto.stderr_text()
    );
    assert!(
        remoto.stdout_text().contains("Remoto is closed"),
        "no receipt:\n{}",
        remoto.stdout_text()
    );
}

/// How a viewer window is judged against the customer's screen.
#[derive(Clone, Copy)]
enum Judge {
    Exact,
    Psnr(f64),
}

/// Waits until a window named `name` on `vx` shows `expected` (exactly,
/// or with at least the PSNR given); saves the pictures otherwise.
fn wait_window(
    art: &Artifacts,
    vx: &XServer,
    name: &str,
    label: &str,
    expected: &Image,
    judge: Judge,
) {
    let mut last: Option<Image> = None;
    let shown = tests::wait::poll_until(TIMEOUT, || {
        for wid in vx.find_windows(name) {
            if let Ok(shot) = vx.try_screenshot(&wid.to_string()) {
                // A window may carry a border: compare its top-left part.
                let shot = if shot.width >= expected.width && shot.height >= expected.height {
                    shot.crop(0, 0, expected.width, expected.height)
                } else {
                    shot
                };
                let ok = match judge {
                    Judge::Exact => &shot == expected,
                    Judge::Psnr(min) => psnr(expected, &shot) >= min,
                };
                last = Some(shot);
                if ok {
                    return Some(());
                }
            }
        }
        None
    });
    vx.screenshot_root()
        .save(&art.path(&format!("{label}.viewer-root.png")));
    match (shown, last) {
        (Ok(()), Some(shot)) => {
            if let Judge::Psnr(_) = judge {
                let p = psnr(expected, &shot);
                eprintln!("{label}: PSNR {p:.1} dB");
                shot.save(&art.path(&format!("{label}.actual.png")));
            }
        }
        (Ok(()), None) => unreachable!("a window matched"),
        (Err(_), Some(shot)) => match judge {
            Judge::Exact => assert_same(art, label, expected, &shot),
            Judge::Psnr(min) => {
                shot.save(&art.path(&format!("{label}.actual.png")));
                expected.save(&art.path(&format!("{label}.expected.png")));
                panic!(
                    "{label}: PSNR {:.1} dB < {min} dB (see {})",
                    psnr(expected, &shot),
                    art.dir().display()
                );
            }
        },
        (Err(_), None) => panic!(
            "{label}: no {name:?} window on {} within {TIMEOUT:?}",
            vx.display()
        ),
    }
}

/// Input round trip through a stock viewer: moves the real pointer over
/// the viewer's window `wid` (on `vx`) to `at` — wiggling by one pixel
/// between tries, since viewers send only motion — until the customer's
/// pointer (on `x`) is there.
fn move_over_window(vx: &XServer, wid: u64, x: &XServer, at: (u32, u32)) {
    let xdotool = require_tool("xdotool", "xdotool");
    let mut wiggle = 1;
    let reached = tests::wait::poll_until(TIMEOUT, || {
        for (dx, dy) in [(wiggle, wiggle), (0, 0)] {
            run_ok(
                vx.command(&xdotool).args([
                    "mousemove",
                    "--window",
                    &wid.to_string(),
                    &(at.0 + dx).to_string(),
                    &(at.1 + dy).to_string(),
                ]),
                TIMEOUT,
            );
        }
        wiggle = 3 - wiggle;
        (x.pointer() == at).then_some(())
    });
    assert!(
        reached.is_ok(),
        "the customer's pointer never reached {at:?} (it is at {:?})",
        x.pointer()
    );
}

// ---------------------------------------------------------------------------
// Remoto (clear) → xtigervncviewer -listen

/// Remoto → TigerVNC's listening viewer with `options` (the encoding it
/// prefers, JPEG or not); first picture and a change, judged by `judge`.
fn tiger(test: &str, options: &[&str], judge: Judge) {
    let art = Artifacts::new(test);
    let (x, first) = customer(&art, 0);
    let vart = art.sub("viewer-display");
    let vx = XServer::xvfb(&vart, 640, 480);
    let (bin, slot) = shared_remoto();
    let mut tiger = peers::tigervnc_listen_with(&vart, &vx, slot.port, options);
    let mut remoto = start_remoto(
        &art,
        "remoto",
        &bin,
        &x,
        &slot.clear_id,
        &["--allow-control"],
    );
    wait_sharing(&mut remoto);
    wait_window(&art, &vx, "TigerVNC", "first", &first, judge);
    let second = show_on(&art, &x, 1);
    wait_window(&art, &vx, "TigerVNC", "second", &second, judge);
    tiger.assert_running();
    remoto.send("close");
    assert_clean_exit(&mut remoto);
    assert!(
        tiger.wait_exit(TIMEOUT).is_some(),
        "xtigervncviewer did not see the session end"
    );
}

fn tiger_lossless(test: &str, encoding: &str) {
    let pref = format!("-PreferredEncoding={encoding}");
    tiger(
        test,
        &["-AutoSelect=0", "-FullColor=1", "-NoJPEG=1", &pref],
        Judge::Exact,
    );
}

#[test]
fn tiger_raw() {
    tiger_lossless("matrix_tiger_raw", "raw");
}

#[test]
fn tiger_hextile() {
    tiger_lossless("matrix_tiger_hextile", "hextile");
}

#[test]
fn tiger_zrle() {
    // No input round trip with this peer: xtigervncviewer did not turn
    // xdotool's pointer warps over its window into PointerEvents (see
    // tests/README.md); TightVNC's viewer and vncdotool do.
    tiger_lossless("matrix_tiger_zrle", "zrle");
}

#[test]
fn tiger_tight_lossless() {
    tiger_lossless("matrix_tiger_tight", "tight");
}

#[test]
fn tiger_tight_jpeg() {
    tiger(
        "matrix_tiger_tight_jpeg",
        &[
            "-AutoSelect=0",
            "-FullColor=1",
            "-NoJPEG=0",
            "-QualityLevel=6",
            "-PreferredEncoding=tight",
        ],
        Judge::Psnr(JPEG_MIN_PSNR),
    );
}

// ---------------------------------------------------------------------------
// Remoto (clear) → xtightvncviewer -listen

/// Kills the listener's forked session viewers when the test ends.
struct Descendants(u32);

impl Drop for Descendants {
    fn drop(&mut self) {
        peers::kill_descendants(self.0);
    }
}

fn tightvnc(test: &str, encodings: &str) {
    let art = Artifacts::new(test);
    let (x, first) = customer(&art, 0);
    let vart = art.sub("viewer-display");
    let vx = XServer::xvfb(&vart, 640, 480);
    let (bin, slot) = shared_remoto();
    let tight: ChildGuard = peers::tightvnc_listen(&vart, &vx, slot.port, encodings);
    let _children = Descendants(tight.pid());
    let mut remoto = start_remoto(
        &art,
        "remoto",
        &bin,
        &x,
        &slot.clear_id,
        &["--allow-control"],
    );
    wait_sharing(&mut remoto);
    wait_window(&art, &vx, "TightVNC", "first", &first, Judge::Exact);
    let second = show_on(&art, &x, 1);
    wait_window(&art, &vx, "TightVNC", "second", &second, Judge::Exact);
    let wid = vx.find_windows("TightVNC")[0];
    move_over_window(&vx, wid, &x, (70, 80));
    remoto.send("close");
    assert_clean_exit(&mut remoto);
}

#[test]
fn tightvnc_raw() {
    tightvnc("matrix_tightvnc_raw", "raw");
}

#[test]
fn tightvnc_rre() {
    tightvnc("matrix_tightvnc_rre", "rre raw");
}

#[test]
fn tightvnc_hextile() {
    tightvnc("matrix_tightvnc_hextile", "hextile raw");
}

#[test]
fn tightvnc_tight() {
    tightvnc("matrix_tightvnc_tight", "tight raw");
}

#[test]
fn tightvnc_copyrect() {
    tightvnc("matrix_tightvnc_copyrect", "copyrect raw");
}

// ---------------------------------------------------------------------------
// Remoto (clear) → vncdotool as a listening client

/// Remoto → the vncdotool helper asking for `encoding` only: first
/// picture, a pointer move (input round trip), a second picture; with
/// `resize`, the screen shrinks with xrandr and the new picture arrives at
/// the new size; with `cursor`, the root window's cursor arrives as a
/// cursor shape (Cursor pseudo-encoding).
fn vncdotool(test: &str, encoding: &str, resize: bool, cursor: bool) {
    let art = Artifacts::new(test);
    let (mut x, first) = customer(&art, 0);
    let second = test_picture(W, H, 1);
    let p = |f: &str| art.path(f).to_string_lossy().into_owned();
    first.save(&art.path("first.png"));
    second.save(&art.path("second.png"));
    let mut steps: Vec<String> = Vec::new();
    let mut add = |words: &[&str]| steps.extend(words.iter().map(|w| w.to_string()));
    add(&["expect", &p("first.png"), "say", "picture1"]);
    add(&["move", "50", "60", "say", "moved"]);
    add(&["expect", &p("second.png"), "say", "picture2"]);
    let third_size = (256, 192);
    if resize {
        test_picture(third_size.0, third_size.1, 2).save(&art.path("third.png"));
        add(&["expect", &p("third.png"), "say", "picture3"]);
    }
    if cursor {
        add(&["cursor", &p("cursor1.png"), "1", "say", "cursor1"]);
    }
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let (bin, slot) = shared_remoto();
    let mut helper = peers::vncdotool_listen(&art, slot.port, encoding, &steps);
    let mut remoto = start_remoto(
        &art,
        "remoto",
        &bin,
        &x,
        &slot.clear_id,
        &["--allow-control"],
    );
    let said = |helper: &mut Remoto, what: &'static str| {
        helper.wait_line(what, TIMEOUT, |l| l == what);
    };
    said(&mut helper, "picture1");
    said(&mut helper, "moved");
    x.wait_pointer((50, 60));
    show_on(&art, &x, 1);
    said(&mut helper, "picture2");
    if resize {
        x.resize(third_size.0, third_size.1);
        show_on(&art, &x, 2);
        said(&mut helper, "picture3");
    }
    if cursor {
        // The cursor shape arrives as the Cursor pseudo-encoding: the blank
        // 8×8 cursor `hide_pointer` set on the root window (all transparent).
        said(&mut helper, "cursor1");
        let shape = Image::load(&art.path("cursor1.png")).expect("cursor image");
        let mask = Image::load(&art.path("cursor1.png.mask.png")).expect("cursor mask");
        assert_eq!((shape.width, shape.height), (8, 8), "cursor size");
        assert!(
            mask.pixels.iter().all(|p| *p == 0),
            "the blank cursor arrived with visible pixels"
        );
    }
    let status = helper
        .wait_exit(TIMEOUT)
        .expect("vnc_listen did not finish");
    assert!(
        status.success(),
        "vnc_listen failed ({status}); stderr:\n{}",
        helper.stderr_text()
    );
    // The technician hung up: Remoto ends on its own.
    assert_clean_exit(&mut remoto);
}

#[test]
fn vncdotool_raw() {
    vncdotool("matrix_vncdotool_raw", "raw", false, false);
}

#[test]
fn vncdotool_copyrect() {
    vncdotool("matrix_vncdotool_copyrect", "copyrect", false, false);
}

#[test]
fn vncdotool_rre() {
    vncdotool("matrix_vncdotool_rre", "rre", false, false);
}

#[test]
fn vncdotool_hextile_cursor() {
    vncdotool("matrix_vncdotool_hextile_cursor", "hextile", false, true);
}

/// Resize with vncdotool, over RRE. Not over ZRLE: vncdotool 1.2's ZRLE
/// decoder ignores the per-row byte padding of packed-palette tiles (RFB
/// 7.7.6), so any partial update whose tile width is not a multiple of 8
/// breaks it (`StopIteration` in `_handleDecodeZRLEdata`); Remoto's ZRLE is
/// checked pixel-exact against TigerVNC's viewer and x11vnc captures instead.
#[test]
fn vncdotool_rre_resize() {
    vncdotool("matrix_vncdotool_rre_resize", "rre", true, false);
}

// ---------------------------------------------------------------------------
// Remoto (clear) → socat relay ← vncdo capture

#[test]
fn vncdo_socat_capture() {
    let art = Artifacts::new("matrix_vncdo_socat_capture");
    let (x, first) = customer(&art, 3);
    let (bin, slot) = shared_remoto();
    let relay = peers::socat_relay_on(&art, slot.port);
    let mut remoto = start_remoto(&art, "remoto", &bin, &x, &slot.clear_id, &[]);
    // socat opens the client side once Remoto has connected.
    tests::wait_for("socat's client side", TIMEOUT, || {
        tests::net::is_listening(relay.client_port).then_some(())
    });
    let out = art.path("vncdo.png");
    peers::vncdo_capture(relay.client_port, &out);
    let got = tests::x11::load_png(&out);
    assert_same(&art, "vncdo", &first, &got);
    assert_clean_exit(&mut remoto);
}

// ---------------------------------------------------------------------------
// Xtigervnc + vncconfig -connect → viewer listen

#[test]
fn xtigervnc_to_viewer() {
    let art = Artifacts::new("matrix_xtigervnc_to_viewer");
    let (key, _) = keygen(&art, "technician");
    let port = tests::net::free_port();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(port, &key));
    let x = XServer::xtigervnc(&art, W, H);
    let first = show_on(&art, &x, 0);
    x.vncconfig_connect(&art, port);
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let session = connected["session"].as_u64().expect("session number");
    assert_eq!(
        (connected["width"].as_u64(), connected["height"].as_u64()),
        (Some(W.into()), Some(H.into()))
    );
    viewer.wait_snapshot(&art, "first", session, &first, TIMEOUT);
    let second = show_on(&art, &x, 1);
    viewer.wait_snapshot(&art, "second", session, &second, TIMEOUT);
    viewer.send(&format!("pointer {session} 0 50 60"));
    x.wait_pointer((50, 60));
    viewer.send(&format!("close {session}"));
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    let logs = viewer.verify_logs(1);
    assert!(logs[0].contains(r#""mode":"clear""#), "{}", logs[0]);
}

// ---------------------------------------------------------------------------
// Remoto (clear, crypto) → viewer listen

/// Remoto → `viewer listen`: picture, change, desktop resize (xrandr),
/// input round trip, Close, the log verifies.
fn remoto_to_viewer(test: &str, crypto: bool) {
    let art = Artifacts::new(test);
    let key = demo_key(&art);
    let (bin, slot) = shared_remoto();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(slot.port, &key));
    let (mut x, first) = customer(&art, 0);
    let id = if crypto {
        &slot.crypto_id
    } else {
        &slot.clear_id
    };
    let mut remoto = start_remoto(&art, "remoto", &bin, &x, id, &["--allow-control"]);
    let incoming = viewer.wait_event("incoming", TIMEOUT, |e| e["event"] == "incoming");
    if crypto {
        let sas_line = remoto.wait_line("SAS", TIMEOUT, |l| l.starts_with("SAS: "));
        let sas = sas_line["SAS: ".len()..]
            .split("  ")
            .next()
            .expect("SAS")
            .trim()
            .to_string();
        assert_eq!(incoming["sas"].as_str(), Some(sas.as_str()), "{incoming}");
        assert_eq!(incoming["mode"], "crypto");
    } else {
        assert_eq!(incoming["mode"], "clear");
    }
    wait_sharing(&mut remoto);
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let session = connected["session"].as_u64().expect("session number");
    viewer.wait_snapshot(&art, "first", session, &first, TIMEOUT);
    let second = show_on(&art, &x, 1);
    viewer.wait_snapshot(&art, "second", session, &second, TIMEOUT);

    x.resize(256, 192);
    let third = show_on(&art, &x, 2);
    viewer.wait_event("resized", TIMEOUT, |e| {
        e["event"] == "resized" && e["width"] == 256 && e["height"] == 192
    });
    viewer.wait_snapshot(&art, "resized", session, &third, TIMEOUT);

    viewer.send(&format!("pointer {session} 0 40 30"));
    x.wait_pointer((40, 30));

    remoto.send("close");
    assert_clean_exit(&mut remoto);
    let ended = viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    assert_eq!(ended["session"].as_u64(), Some(session));
    let logs = viewer.verify_logs(1);
    let mode = if crypto { "crypto" } else { "clear" };
    assert!(
        logs[0].contains(&format!(r#""mode":"{mode}""#)),
        "{}",
        logs[0]
    );
}

#[test]
fn remoto_clear_to_viewer() {
    remoto_to_viewer("matrix_remoto_clear_to_viewer", false);
}

#[test]
fn remoto_crypto_to_viewer() {
    remoto_to_viewer("matrix_remoto_crypto_to_viewer", true);
}

/// Issue 7: three Remotos (clear, crypto, clear) in one `viewer listen` at
/// once; each snapshot equals its own display, before and after a change.
#[test]
fn three_remotos_one_viewer() {
    let art = Artifacts::new("matrix_three_remotos_one_viewer");
    let key = demo_key(&art);
    let (bin, slot) = shared_remoto();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(slot.port, &key));
    let mut customers = Vec::new();
    for (i, crypto) in [false, true, false].into_iter().enumerate() {
        let cart = art.sub(&format!("customer-{i}"));
        let x = XServer::xvfb(&cart, W, H);
        let shot = show_on(&cart, &x, i as u32);
        let id = if crypto {
            &slot.crypto_id
        } else {
            &slot.clear_id
        };
        let mut remoto = start_remoto(&cart, "remoto", &bin, &x, id, &[]);
        wait_sharing(&mut remoto);
        // Sessions are numbered in arrival order: wait for this one before
        // starting the next, so session i+1 is customer i.
        let n = i as u64 + 1;
        viewer.wait_event("connected", TIMEOUT, |e| {
            e["event"] == "connected" && e["session"] == n
        });
        customers.push((cart, x, shot, remoto));
    }
    for (i, (cart, _, shot, _)) in customers.iter().enumerate() {
        viewer.wait_snapshot(cart, "first", i as u64 + 1, shot, TIMEOUT);
    }
    for (i, (cart, x, shot, _)) in customers.iter_mut().enumerate() {
        *shot = show_on(cart, x, i as u32 + 3);
    }
    for (i, (cart, _, shot, _)) in customers.iter().enumerate() {
        viewer.wait_snapshot(cart, "second", i as u64 + 1, shot, TIMEOUT);
    }
    for (_, _, _, remoto) in customers.iter_mut() {
        remoto.send("close");
        assert_clean_exit(remoto);
    }
    for n in 1..=3u64 {
        viewer.wait_event("ended", TIMEOUT, |e| {
            e["event"] == "ended" && e["session"] == n
        });
    }
    viewer.verify_logs(3);
}
