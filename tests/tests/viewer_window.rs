//! The technician's viewer with its windows, under two Xvfb displays (the
//! customer's and the technician's), with real customers (`remoto` packed
//! with a profile pointing at a free loopback port):
//!
//! - `window_shows_screen_and_forwards_input`: `viewer listen` (window
//!   mode) opens a session window whose content equals the customer's screen
//!   pixel for pixel; the status bar says view-only until the customer
//!   allows control; xdotool pointer moves and typing in the viewer window
//!   arrive on the customer's display only after "allow";
//! - `accept_dialog`: without `--accept-all` each customer gets an accept
//!   dialog; Escape refuses (Remoto exits 5, "refused"), a click on Accept
//!   and Enter accept;
//! - `quality_low_is_jpeg_lossless_is_exact`: `--quality low` sends fewer
//!   bytes than lossless (recorded streams) and a lossy picture, lossless is
//!   pixel-exact; `quality N low` on stdin switches a running session;
//! - `play_recording`: `listen --record` then `viewer play --headless`: the
//!   last played picture equals the customer's screen.
//!
//! Needs: Xvfb (xvfb), xdotool, imagemagick, xterm, x11-xserver-utils.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tests::process::{require_tool, run_ok};
use tests::remoto::{Remoto, connect_command, viewer_bin, workspace_root};
use tests::viewer::{TechnicianEntry, demo_key, demo_public_key, packed_remoto, team_profile};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same, test_picture, wait_for};

const W: u32 = 320;
const H: u32 = 240;
/// The viewer's status bar colours (viewer/src/window/mod.rs).
const VIEW_ONLY_FG: u32 = 0xffc040;
const GRANTED_FG: u32 = 0x70e070;
/// The accept dialog's Accept button (viewer/src/window/dialog.rs).
const ACCEPT_BG: u32 = 0x1b7a3a;

/// A private runtime directory (winit wants one).
fn xdg_runtime(art: &Artifacts) -> PathBuf {
    let d = art.path("xdg-runtime");
    std::fs::create_dir_all(&d).expect("runtime dir");
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod runtime dir");
    d
}

/// `viewer listen` in window mode on `tech`'s display, listening on
/// 127.0.0.1:`port` with `key`; waits until it listens.
fn window_viewer(art: &Artifacts, tech: &XServer, port: u16, key: &Path, extra: &[&str]) -> Remoto {
    let mut cmd = tech.command(viewer_bin());
    cmd.args(["listen", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--key")
        .arg(key)
        .arg("--log")
        .arg(art.path("viewer-logs"))
        // Pixel-exact checks: `auto` (the default) may pick JPEG on a busy machine.
        .args(["--quality", "lossless"])
        .args(extra)
        .env("XDG_RUNTIME_DIR", xdg_runtime(art))
        .current_dir(workspace_root());
    let mut v = Remoto::spawn("viewer", &mut cmd, art);
    let want = format!("listening on 127.0.0.1:{port}");
    wait_for("the viewer to listen", TIMEOUT, || {
        v.guard().assert_running();
        v.stderr_text().contains(&want).then_some(())
    });
    v
}

/// A Remoto packed with a crypto technician `Win` (demo key) and a clear
/// one `WinC`, both at 127.0.0.1:`port`.
fn customer_remoto(art: &Artifacts, port: u16) -> PathBuf {
    let ep = format!("127.0.0.1:{port}");
    packed_remoto(
        art,
        "Remoto",
        &team_profile(
            &[
                TechnicianEntry::crypto("Win", &ep, &demo_public_key()),
                TechnicianEntry::clear("WinC", &ep),
            ],
            "",
        ),
    )
}

fn xdotool(x: &XServer, args: &[&str]) -> String {
    require_tool("xdotool", "xdotool");
    run_ok(x.command("xdotool").args(args), TIMEOUT).stdout_text()
}

/// The pointer position on `x`.
fn pointer(x: &XServer) -> (u32, u32) {
    let out = xdotool(x, &["getmouselocation"]);
    let field = |name: &str| -> u32 {
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {out:?}"))
    };
    (field("x:"), field("y:"))
}

/// The customer's display: test picture `variant`, pointer hidden.
fn customer_display(art: &Artifacts, variant: u32) -> XServer {
    let x = XServer::xvfb(art, W, H);
    x.show_picture(
        art,
        &format!("customer-{variant}"),
        &test_picture(W, H, variant),
    );
    x
}

/// Waits until the top-left W×H of window `win` on `tech` equals
/// `expected`; saves the last screenshot as `<label>.window.png`.
fn wait_window_shows(art: &Artifacts, tech: &XServer, win: u64, expected: &Image, label: &str) {
    let mut last: Option<Image> = None;
    let ok = tests::wait::poll_until(TIMEOUT, || {
        let shot = tech.try_screenshot(&win.to_string()).ok()?;
        let same = shot.width >= W && shot.height >= H && shot.crop(0, 0, W, H) == *expected;
        last = Some(shot);
        same.then_some(())
    });
    let last = last.unwrap_or_else(|| panic!("{label}: no screenshot of window {win}"));
    last.save(&art.path(&format!("{label}.window.png")));
    if ok.is_err() {
        assert!(
            last.width >= W && last.height >= H,
            "{label}: window is {}x{}",
            last.width,
            last.height
        );
        assert_same(art, label, expected, &last.crop(0, 0, W, H));
    }
}

/// How many pixels of the status bar (below the desktop) have `colour`.
fn bar_pixels(shot: &Image, colour: u32) -> usize {
    let mut n = 0;
    for y in H..shot.height {
        for x in 0..shot.width {
            n += usize::from(shot.get(x, y) == colour);
        }
    }
    n
}

fn wait_bar(tech: &XServer, win: u64, colour: u32, what: &str) {
    wait_for(what, TIMEOUT, || {
        let shot = tech.try_screenshot(&win.to_string()).ok()?;
        (bar_pixels(&shot, colour) > 10).then_some(())
    });
}

#[test]
fn window_shows_screen_and_forwards_input() {
    require_tool("xterm", "xterm");
    let art = Artifacts::new("viewer_window_session");
    let cust = customer_display(&art, 2);
    let (_xterm, typed) = cust.typing_xterm(&art);
    let expected = cust.stable_screenshot();

    let tech = XServer::xvfb(&art, 640, 480);
    let port = tests::net::free_port();
    let bin = customer_remoto(&art, port);
    let key = demo_key(&art);
    let mut viewer = window_viewer(&art, &tech, port, &key, &["--accept-all"]);
    let mut remoto = Remoto::spawn(
        "remoto",
        &mut connect_command(&bin, "Win", &cust.display(), &[], None),
        &art,
    );
    remoto.wait_line("sharing", TIMEOUT, |l| l.starts_with("sharing the screen"));
    let win = tech.wait_window("SAS");
    wait_window_shows(&art, &tech, win, &expected, "session");
    wait_bar(&tech, win, VIEW_ONLY_FG, "the view-only status");

    // Before "allow": the pointer does not move on the customer's side.
    let before = pointer(&cust);
    xdotool(
        &tech,
        &["mousemove", "--window", &win.to_string(), "50", "60"],
    );
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        pointer(&cust),
        before,
        "input reached the customer before allow"
    );

    remoto.send("allow");
    wait_for("control allowed", TIMEOUT, || {
        viewer
            .stderr_text()
            .contains("session 1: control allowed")
            .then_some(())
    });
    wait_bar(&tech, win, GRANTED_FG, "the control-granted status");
    xdotool(
        &tech,
        &["mousemove", "--window", &win.to_string(), "70", "90"],
    );
    wait_for("the customer's pointer at 70,90", TIMEOUT, || {
        (pointer(&cust) == (70, 90)).then_some(())
    });
    // Click into the customer's xterm, then type in the viewer window.
    xdotool(
        &tech,
        &[
            "mousemove",
            "--window",
            &win.to_string(),
            "40",
            "20",
            "click",
            "1",
        ],
    );
    wait_for("the customer's pointer in the xterm", TIMEOUT, || {
        (pointer(&cust) == (40, 20)).then_some(())
    });
    // Without a window manager nobody gives the viewer window the keyboard
    // focus on a click: do what a window manager would.
    xdotool(&tech, &["windowfocus", "--sync", &win.to_string()]);
    xdotool(&tech, &["type", "--delay", "40", "remoto42"]);
    xdotool(&tech, &["key", "Return"]);
    wait_for("the typed text on the customer's side", TIMEOUT, || {
        let t = std::fs::read_to_string(&typed).unwrap_or_default();
        (t == "remoto42\n").then_some(())
    });

    remoto.send("close");
    let status = remoto.wait_exit(TIMEOUT).expect("remoto exits after close");
    assert_eq!(status.code(), Some(0), "{}", remoto.stdout_text());
    wait_for("the session window to close", TIMEOUT, || {
        tech.find_windows("SAS").is_empty().then_some(())
    });
    viewer.guard().assert_running();
}

/// The centre of the pixels of `colour` in `img` that lie in horizontal
/// runs of at least 30 pixels (a button, not text of the same colour).
fn centre_of(img: &Image, colour: u32) -> Option<(u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..img.height {
        let mut x = 0;
        while x < img.width {
            let start = x;
            while x < img.width && img.get(x, y) == colour {
                x += 1;
            }
            if x - start >= 30 {
                x0 = x0.min(start);
                x1 = x1.max(x - 1);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
            x += 1;
        }
    }
    (x0 <= x1).then(|| ((x0 + x1) / 2, (y0 + y1) / 2))
}

#[test]
fn accept_dialog() {
    let art = Artifacts::new("viewer_window_accept_dialog");
    let cust = customer_display(&art, 3);
    let expected = cust.stable_screenshot();
    let tech = XServer::xvfb(&art, 640, 480);
    let port = tests::net::free_port();
    let bin = customer_remoto(&art, port);
    let key = demo_key(&art);
    let mut viewer = window_viewer(&art, &tech, port, &key, &[]);
    let connect = |name: &str| {
        Remoto::spawn(
            name,
            &mut connect_command(&bin, "Win", &cust.display(), &[], None),
            &art,
        )
    };

    // 1: Escape refuses.
    let mut first = connect("remoto-refused");
    first.wait_line("SAS", TIMEOUT, |l| l.starts_with("SAS: "));
    let dlg = tech.wait_window("Incoming customer .* session 1$");
    let shot = tech.screenshot(&dlg.to_string());
    shot.save(&art.path("dialog-session-1.png"));
    assert!(
        centre_of(&shot, ACCEPT_BG).is_some(),
        "no Accept button in the dialog"
    );
    assert!(
        !first.lines().iter().any(|l| l.starts_with("sharing")),
        "sharing before the technician accepted"
    );
    xdotool(&tech, &["windowfocus", "--sync", &dlg.to_string()]);
    xdotool(&tech, &["key", "Escape"]);
    let status = first.wait_exit(TIMEOUT).expect("refused remoto exits");
    let all = format!("{}\n{}", first.stdout_text(), first.stderr_text());
    assert_eq!(status.code(), Some(5), "{all}");
    assert!(all.to_lowercase().contains("refused"), "{all}");
    wait_for("the dialog to close", TIMEOUT, || {
        tech.find_windows("session 1").is_empty().then_some(())
    });

    // 2: a click on Accept.
    let mut second = connect("remoto-clicked");
    let dlg = tech.wait_window("Incoming customer .* session 2$");
    let shot = tech.screenshot(&dlg.to_string());
    let (bx, by) = centre_of(&shot, ACCEPT_BG).expect("the Accept button");
    xdotool(
        &tech,
        &[
            "mousemove",
            "--window",
            &dlg.to_string(),
            &bx.to_string(),
            &by.to_string(),
        ],
    );
    xdotool(&tech, &["click", "1"]);
    second.wait_line("sharing", TIMEOUT, |l| l.starts_with("sharing the screen"));
    let win = tech.wait_window("SAS");
    wait_window_shows(&art, &tech, win, &expected, "accepted-by-click");
    second.send("close");
    assert_eq!(second.wait_exit(TIMEOUT).and_then(|s| s.code()), Some(0));
    wait_for("the session window to close", TIMEOUT, || {
        tech.find_windows("SAS").is_empty().then_some(())
    });

    // 3: Enter accepts.
    let mut third = connect("remoto-enter");
    let dlg = tech.wait_window("Incoming customer .* session 3$");
    xdotool(&tech, &["windowfocus", "--sync", &dlg.to_string()]);
    xdotool(&tech, &["key", "Return"]);
    third.wait_line("sharing", TIMEOUT, |l| l.starts_with("sharing the screen"));
    third.send("close");
    assert_eq!(third.wait_exit(TIMEOUT).and_then(|s| s.code()), Some(0));
    viewer.guard().assert_running();
}

/// A headless viewer on a free port recording into `<label>-rec`.
fn headless_viewer(art: &Artifacts, label: &str, port: u16, key: &Path, quality: &str) -> Remoto {
    let mut cmd = Command::new(viewer_bin());
    cmd.args([
        "listen",
        "--headless",
        "--accept-all",
        "--bind",
        "127.0.0.1",
    ])
    .args(["--port", &port.to_string(), "--quality", quality])
    .arg("--key")
    .arg(key)
    .arg("--log")
    .arg(art.path(&format!("{label}-logs")))
    .arg("--record")
    .arg(art.path(&format!("{label}-rec")))
    .arg("--snapshot-dir")
    .arg(art.path(&format!("{label}-snaps")))
    .current_dir(workspace_root());
    let mut v = Remoto::spawn(label, &mut cmd, art);
    v.wait_line("listening", TIMEOUT, |l| l.contains("\"listening\""));
    v
}

/// The only recording in `<label>-rec`.
fn recording(art: &Artifacts, label: &str) -> PathBuf {
    let dir = art.path(&format!("{label}-rec"));
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("recording dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "fbs"))
        .collect();
    assert_eq!(files.len(), 1, "recordings in {}: {files:?}", dir.display());
    files[0].clone()
}

/// Runs one clear session (Remoto `WinC`) into a headless viewer at
/// `quality`; returns the viewer (still running) after the snapshot
/// stopped changing, and the last snapshot.
fn quality_session(
    art: &Artifacts,
    cust: &XServer,
    label: &str,
    quality: &str,
) -> (Remoto, Remoto, Image) {
    let port = tests::net::free_port();
    let bin = customer_remoto(art, port);
    let key = demo_key(art);
    let mut viewer = headless_viewer(art, label, port, &key, quality);
    let remoto = Remoto::spawn(
        &format!("{label}-remoto"),
        &mut connect_command(&bin, "WinC", &cust.display(), &[], None),
        art,
    );
    viewer.wait_line("connected", TIMEOUT, |l| l.contains("\"connected\""));
    let snap = art.path(&format!("{label}-snaps/session-1.png"));
    let img = stable_image(&snap);
    (viewer, remoto, img)
}

/// The image at `path` once it stays the same for a second.
fn stable_image(path: &Path) -> Image {
    let mut last: Option<Image> = None;
    wait_for(&format!("{} to settle", path.display()), TIMEOUT, || {
        std::thread::sleep(Duration::from_millis(1000));
        let img = Image::load(path).ok()?;
        let same = last.as_ref() == Some(&img);
        last = Some(img);
        same.then(|| last.clone()).flatten()
    })
}

fn end_session(viewer: &mut Remoto, mut remoto: Remoto) {
    remoto.send("close");
    remoto.wait_exit(TIMEOUT).expect("remoto exits after close");
    viewer.wait_line("ended", TIMEOUT, |l| l.contains("\"ended\""));
}

#[test]
fn quality_low_is_jpeg_lossless_is_exact() {
    let art = Artifacts::new("viewer_quality");
    let cust = customer_display(&art, 4);
    let expected = cust.stable_screenshot();

    let (mut lossless, r1, exact) = quality_session(&art, &cust, "lossless", "lossless");
    assert_same(&art, "lossless", &expected, &exact);
    end_session(&mut lossless, r1);
    let lossless_bytes = std::fs::metadata(recording(&art, "lossless"))
        .expect("recording")
        .len();

    let (mut low, r2, lossy) = quality_session(&art, &cust, "low", "low");
    let differing = tests::image::count_differences(&expected, &lossy);
    lossy.save(&art.path("low.snapshot.png"));
    assert!(differing > 0, "quality low gave a pixel-exact picture");
    // JPEG is close: mean channel error small.
    let err: u64 = expected
        .pixels
        .iter()
        .zip(&lossy.pixels)
        .map(|(a, b)| {
            (0..3)
                .map(|i| {
                    (((a >> (8 * i)) & 0xff) as i64 - ((b >> (8 * i)) & 0xff) as i64).unsigned_abs()
                })
                .sum::<u64>()
        })
        .sum();
    let mean = err as f64 / (expected.pixels.len() as f64 * 3.0);
    assert!(
        mean < 24.0,
        "low quality is too far from the screen: mean error {mean:.1}"
    );
    end_session(&mut low, r2);
    let low_bytes = std::fs::metadata(recording(&art, "low"))
        .expect("recording")
        .len();
    eprintln!(
        "recorded bytes: lossless {lossless_bytes}, low {low_bytes}; low mean error {mean:.2}"
    );
    assert!(
        low_bytes * 10 < lossless_bytes * 9,
        "low quality did not send fewer bytes: {low_bytes} vs {lossless_bytes}"
    );

    // Switching a running lossless session to low re-sends the screen as JPEG.
    let (mut switch, r3, exact) = quality_session(&art, &cust, "switch", "lossless");
    assert_same(&art, "switch-before", &expected, &exact);
    switch.send("quality 1 low");
    switch.wait_line("quality event", TIMEOUT, |l| {
        l.contains("\"quality\"") && l.contains("\"low\"")
    });
    let snap = art.path("switch-snaps/session-1.png");
    wait_for(
        "the switched session to show a JPEG picture",
        TIMEOUT,
        || {
            let img = Image::load(&snap).ok()?;
            (tests::image::count_differences(&expected, &img) > 0).then_some(())
        },
    );
    switch.send("quality 1 lossless");
    wait_for("the session to be exact again", TIMEOUT, || {
        let img = Image::load(&snap).ok()?;
        (img == expected).then_some(())
    });
    end_session(&mut switch, r3);
}

#[test]
fn play_recording() {
    let art = Artifacts::new("viewer_play");
    let cust = customer_display(&art, 5);
    let (mut viewer, remoto, _) = quality_session(&art, &cust, "rec", "lossless");
    // A change during the session, so the recording has more than one picture.
    let second = test_picture(W, H, 6);
    cust.show_picture(&art, "customer-6", &second);
    let expected = cust.stable_screenshot();
    viewer.wait_line("update", TIMEOUT, |l| l.contains("\"update\""));
    let snap = art.path("rec-snaps/session-1.png");
    wait_for("the viewer to show the change", TIMEOUT, || {
        (Image::load(&snap).ok()? == expected).then_some(())
    });
    end_session(&mut viewer, remoto);
    let fbs = recording(&art, "rec");

    let out_dir = art.path("played");
    let out = run_ok(
        Command::new(viewer_bin())
            .args(["play", "--headless", "--speed", "8", "--snapshot-dir"])
            .arg(&out_dir)
            .arg(&fbs),
        TIMEOUT,
    );
    let text = out.stdout_text();
    art.write("play.stdout.log", &text);
    assert!(text.contains("\"end\""), "no end event: {text}");
    let played = tests::x11::load_png(&out_dir.join("play.png"));
    assert_same(&art, "played-last-frame", &expected, &played);

    // A damaged file is a clear error, not a panic.
    let bad = art.write("bad.fbs", b"FBS 001.000\n\x7f\xff\xff\xff");
    let res = tests::process::run_with_timeout(
        Command::new(viewer_bin())
            .args(["play", "--headless"])
            .arg(&bad),
        TIMEOUT,
    )
    .expect("viewer play runs");
    assert!(!res.status.success(), "a damaged recording played");
    assert!(
        res.stderr_text().starts_with("viewer: "),
        "{}",
        res.stderr_text()
    );
}
