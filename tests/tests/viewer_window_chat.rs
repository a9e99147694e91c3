//! The side pane of the viewer's session window (issue 12, the technician's
//! side in window mode): `viewer listen` in window mode on its own Xvfb, a
//! real `remoto connect Demo --yes` (packed profile, crypto) on another:
//!
//! - with the pane closed the window shows the customer's screen pixel for
//!   pixel; a chat line from the customer prints on the viewer and shows an
//!   unread badge in the status bar;
//! - Ctrl+Alt+Shift+T (xdotool) opens the pane: the window grows by the
//!   pane, the desktop part still equals the customer's screen exactly, the
//!   pane (not the remote picture) shows the customer's line and system
//!   information (the profile shares `os`, `hostname`); a line typed
//!   in the window goes to the customer's chat, not to the customer's
//!   keyboard, although control is allowed and the customer's xterm has
//!   the focus (screenshot `viewer.chat-pane.png`); after Escape keys go
//!   to the customer again;
//! - a click on the chat field, Tab, and a path typed into the "send a
//!   file" field: the file is offered to the customer, who accepts it on
//!   the console: same bytes, and the BLAKE2s the viewer logged equals the
//!   hash of the received file;
//! - the customer offers a file: a click on the pane's Accept button saves
//!   it under the log directory's `files/`, same bytes;
//! - both chat lines and the files land in the viewer's session log
//!   (`viewer log show`), which verifies.
//!
//! `dropped_file_is_offered_to_the_customer`: a file dropped on the session
//! window (a real XDND version 5 drag from [`tests::xdnd`], with the pane
//! closed) is offered to the customer under its own name (a space, a `#`
//! and a non-ASCII letter, percent-encoded in the URI); accepted on the
//! console, the customer gets the same bytes and the viewer logs the
//! transfer done.
//!
//! `clear_session_pane_says_why`: a clear (unencrypted) session's pane
//! says that chat and files need an encrypted technician, and no field of
//! the pane takes the keyboard on opening (keys still go to the customer).
//!
//! Needs: Xvfb (xvfb), xdotool, imagemagick, x11-utils, xterm.

mod features_common;

use std::path::{Path, PathBuf};

use features_common::{connect, demo_key, packed_remoto, viewer_log};
use tests::process::{require_tool, run_ok};
use tests::remoto::{Remoto, viewer_bin, workspace_root};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same, test_picture, wait_for};

const W: u32 = 320;
const H: u32 = 400;
/// From viewer/src/window/mod.rs and pane.rs.
const STATUS_BAR_HEIGHT: u32 = 20;
const PANE_WIDTH: u32 = 320;
const PANE_BG: u32 = 0x262a30;
const BADGE_BG: u32 = 0xd04040;
const CUSTOMER_FG: u32 = 0x70c8ff;
const TECHNICIAN_FG: u32 = 0x70e070;
const DONE_FG: u32 = 0x40b060;
const ACCEPT_BG: u32 = 0x1b7a3a;
const WARN_FG: u32 = 0xff8060;
const INFO_FG: u32 = 0xf0d890;
const FOCUS_FG: u32 = 0x4a90e2;

/// A private runtime directory (winit wants one).
fn xdg_runtime(art: &Artifacts) -> PathBuf {
    let d = art.path("xdg-runtime");
    std::fs::create_dir_all(&d).expect("runtime dir");
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod runtime dir");
    d
}

/// `viewer listen --accept-all --quality lossless` in window mode on
/// `tech`'s display.
fn window_viewer(art: &Artifacts, tech: &XServer, port: u16, key: &Path, logs: &Path) -> Remoto {
    let mut cmd = tech.command(viewer_bin());
    cmd.args([
        "listen",
        "--accept-all",
        // Pixel-exact comparisons: `auto` may pick a lossy level on a busy machine.
        "--quality",
        "lossless",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ])
    .arg("--key")
    .arg(key)
    .arg("--log")
    .arg(logs)
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

fn xdotool(x: &XServer, args: &[&str]) {
    require_tool("xdotool", "xdotool");
    run_ok(x.command("xdotool").args(args), TIMEOUT);
}

/// Pixels of `colour` in the rectangle `x0..x1` × `y0..y1` of `img`.
fn count(img: &Image, (x0, y0, x1, y1): (u32, u32, u32, u32), colour: u32) -> usize {
    let mut n = 0;
    for y in y0..y1.min(img.height) {
        for x in x0..x1.min(img.width) {
            n += usize::from(img.get(x, y) == colour);
        }
    }
    n
}

/// Pixels within 32 per channel of `colour` in the rectangle (text: the
/// cores of anti-aliased glyphs; few are exactly the text colour).
fn count_near(img: &Image, (x0, y0, x1, y1): (u32, u32, u32, u32), colour: u32) -> usize {
    let close =
        |a: u32, b: u32, shift: u32| ((a >> shift) & 0xff).abs_diff((b >> shift) & 0xff) <= 32;
    let mut n = 0;
    for y in y0..y1.min(img.height) {
        for x in x0..x1.min(img.width) {
            let p = img.get(x, y);
            n += usize::from(close(p, colour, 16) && close(p, colour, 8) && close(p, colour, 0));
        }
    }
    n
}

/// Waits for a screenshot of `win` that satisfies `ok`; saves the last one
/// as `file` and returns it.
fn wait_shot(
    art: &Artifacts,
    tech: &XServer,
    win: &str,
    what: &str,
    file: &str,
    ok: impl Fn(&Image) -> bool,
) -> Image {
    let mut last: Option<Image> = None;
    let r = tests::wait::poll_until(TIMEOUT, || {
        let shot = tech.try_screenshot(win).ok()?;
        let good = ok(&shot);
        last = Some(shot);
        good.then_some(())
    });
    if let Some(l) = &last {
        l.save(&art.path(file));
    }
    match (r, last) {
        (Ok(()), Some(l)) => l,
        _ => panic!("{what}: not seen within {TIMEOUT:?} (last screenshot: {file})"),
    }
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

/// Waits for Remoto's console to show the offer of `name` (`size` bytes),
/// accepts it into `<artifacts>/<folder>/received.bin`, and waits until
/// Remoto reports it done; returns the offer's id and the saved path.
fn accept_offer(
    remoto: &mut Remoto,
    art: &Artifacts,
    name: &str,
    size: usize,
    folder: &str,
) -> (u32, PathBuf) {
    let want = format!(": {name} ({size} bytes)");
    let line = remoto.wait_line(&format!("the offer of {name}"), TIMEOUT, |l| {
        l.starts_with("file offer ") && l.contains(&want)
    });
    let id: u32 = line
        .trim_start_matches("file offer ")
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no id in {line:?}"));
    let inbox = art.path(folder);
    std::fs::create_dir_all(&inbox).expect("inbox");
    let dest = inbox.join("received.bin");
    remoto.send(&format!("accept-file {id} {}", dest.display()));
    let done = remoto.wait_line(&format!("{name} finished"), TIMEOUT, |l| {
        l.starts_with(&format!("file {id} from technician "))
    });
    assert!(done.contains(&format!("{name}: done")), "{done}");
    (id, dest)
}

/// Closes the session from the customer's side: Remoto exits cleanly and
/// the viewer reports session 1 ended.
fn close_session(remoto: &mut Remoto, viewer: &Remoto) {
    remoto.send("close");
    let status = remoto.wait_exit(TIMEOUT).expect("remoto exits after close");
    assert!(status.success(), "remoto exit: {status:?}");
    wait_for("the session to end", TIMEOUT, || {
        viewer
            .stderr_text()
            .contains("session 1: ended")
            .then_some(())
    });
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut r = tests::image::Rng::new(seed);
    (0..len).map(|_| r.next_u32() as u8).collect()
}

#[test]
fn chat_and_files_in_the_session_window() {
    let art = Artifacts::new("viewer_window_chat");
    let cust = XServer::xvfb(&art, W, H);
    cust.show_picture(&art, "customer", &test_picture(W, H, 4));
    let (_xterm, typed) = cust.typing_xterm(&art);
    let expected = cust.stable_screenshot();
    let tech = XServer::xvfb(&art, 1024, 600);
    let port = tests::net::free_port();
    let bin = packed_remoto(&art, port, &["os", "hostname"]);
    let key = demo_key(&art);
    let logs = art.path("viewer-logs");
    let mut viewer = window_viewer(&art, &tech, port, &key, &logs);
    let mut remoto = Remoto::spawn("remoto", &mut connect(&bin, &cust.display(), &[]), &art);
    remoto.wait_line("sharing … encrypted", TIMEOUT, |l| {
        l.starts_with("sharing the screen (encrypted)")
    });
    let win = tech.wait_window("SAS").to_string();

    // Pane closed: the customer's screen, pixel for pixel.
    let shot = wait_shot(&art, &tech, &win, "the desktop", "viewer.start.png", |s| {
        s.width >= W && s.height >= H && s.crop(0, 0, W, H) == expected
    });
    assert!(
        shot.width < W + PANE_WIDTH,
        "the pane is open from the start"
    );

    // Control allowed, the customer's xterm clicked: keys would reach it.
    remoto.send("allow");
    wait_for("control allowed", TIMEOUT, || {
        viewer
            .stderr_text()
            .contains("session 1: control allowed")
            .then_some(())
    });
    xdotool(
        &tech,
        &["mousemove", "--window", &win, "40", "20", "click", "1"],
    );
    cust.wait_pointer((40, 20));

    // The customer writes: the viewer prints it, the status bar shows a badge.
    remoto.send("chat Buongiorno dal cliente");
    wait_for("the customer's chat on the viewer", TIMEOUT, || {
        viewer.guard().assert_running();
        viewer
            .stderr_text()
            .contains("customer says \"Buongiorno dal cliente\"")
            .then_some(())
    });
    wait_shot(
        &art,
        &tech,
        &win,
        "the unread badge",
        "viewer.badge.png",
        |s| count(s, (0, H, s.width, H + STATUS_BAR_HEIGHT), BADGE_BG) > 100,
    );

    // Ctrl+Alt+Shift+T opens the pane right of the desktop.
    xdotool(&tech, &["windowfocus", "--sync", &win]);
    xdotool(&tech, &["key", "ctrl+alt+shift+t"]);
    let pane = |_: &Image| (W, 0, W + PANE_WIDTH, H);
    let shot = wait_shot(
        &art,
        &tech,
        &win,
        "the open pane",
        "viewer.pane-open.png",
        |s| {
            s.width >= W + PANE_WIDTH
                && count(s, pane(s), PANE_BG) > (PANE_WIDTH * H / 3) as usize
                && count_near(s, pane(s), CUSTOMER_FG) > 30
                && count_near(s, pane(s), INFO_FG) > 30
        },
    );
    assert_same(&art, "desktop-with-pane", &expected, &shot.crop(0, 0, W, H));
    assert_eq!(
        count(&shot, (0, H, shot.width, shot.height), BADGE_BG),
        0,
        "the badge stays after opening the pane"
    );

    // The chat field has the focus: typed text is a chat line.
    xdotool(&tech, &["type", "--delay", "30", "Ciao dal tecnico"]);
    xdotool(&tech, &["key", "Return"]);
    remoto.wait_line("the technician's chat", TIMEOUT, |l| {
        l.starts_with("chat ") && l.ends_with(": Ciao dal tecnico")
    });
    let shot = wait_shot(
        &art,
        &tech,
        &win,
        "the technician's line",
        "viewer.chat-pane.png",
        |s| count_near(s, pane(s), TECHNICIAN_FG) > 30 && count_near(s, pane(s), CUSTOMER_FG) > 30,
    );
    // The pane is not the remote picture.
    let remote_part = expected.crop(0, 0, PANE_WIDTH.min(W), H);
    assert_ne!(shot.crop(W, 0, PANE_WIDTH.min(W), H), remote_part);
    assert_same(
        &art,
        "desktop-after-chat",
        &expected,
        &shot.crop(0, 0, W, H),
    );
    // Escape leaves the field: keys go to the customer's xterm again, and
    // the chat line never went there.
    xdotool(&tech, &["key", "Escape"]);
    xdotool(&tech, &["type", "--delay", "30", "ok"]);
    xdotool(&tech, &["key", "Return"]);
    wait_for("the typed text on the customer's side", TIMEOUT, || {
        let t = std::fs::read_to_string(&typed).unwrap_or_default();
        (t == "ok\n").then_some(())
    });

    // Tab → the "send a file" field: type a path, Enter.
    let outbox = art.path("outbox");
    std::fs::create_dir_all(&outbox).expect("outbox");
    let content = pseudo_random(200_000, 12);
    let src = outbox.join("report-42.bin");
    std::fs::write(&src, &content).expect("write the file to send");
    // A click on the chat field (bottom of the pane), Tab to the path field.
    let h = shot.height;
    xdotool(
        &tech,
        &[
            "mousemove",
            "--window",
            &win,
            &(W + 100).to_string(),
            &(h - 19).to_string(),
            "click",
            "1",
        ],
    );
    xdotool(&tech, &["key", "Tab"]);
    xdotool(
        &tech,
        &["type", "--delay", "15", &src.display().to_string()],
    );
    xdotool(&tech, &["key", "Return"]);
    let (id, dest) = accept_offer(&mut remoto, &art, "report-42.bin", 200_000, "inbox");
    assert_eq!(std::fs::read(&dest).expect("received file"), content);
    wait_for("the viewer's file event", TIMEOUT, || {
        viewer
            .stderr_text()
            .contains(&format!("file {id} to_customer \"report-42.bin\": done"))
            .then_some(())
    });
    wait_shot(
        &art,
        &tech,
        &win,
        "the finished transfer",
        "viewer.file-done.png",
        |s| count(s, pane(s), DONE_FG) > 100,
    );

    // The customer offers a file: Accept in the pane.
    let cust_content = pseudo_random(100_000, 34);
    let cust_src = outbox.join("screenshot-7.bin");
    std::fs::write(&cust_src, &cust_content).expect("write the customer's file");
    remoto.send(&format!("send-file {}", cust_src.display()));
    let shot = wait_shot(
        &art,
        &tech,
        &win,
        "the Accept button",
        "viewer.offer.png",
        |s| centre_of(&s.crop(W, 0, PANE_WIDTH, s.height), ACCEPT_BG).is_some(),
    );
    let (bx, by) =
        centre_of(&shot.crop(W, 0, PANE_WIDTH, shot.height), ACCEPT_BG).expect("the Accept button");
    xdotool(
        &tech,
        &[
            "mousemove",
            "--window",
            &win,
            &(W + bx).to_string(),
            &by.to_string(),
            "click",
            "1",
        ],
    );
    let saved = wait_for("the customer's file saved", TIMEOUT, || {
        let text = viewer.stderr_text();
        text.contains("from_customer \"screenshot-7.bin\": done")
            .then(|| logs.join("files").join("screenshot-7.bin"))
    });
    assert_eq!(std::fs::read(&saved).expect("saved file"), cust_content);
    assert!(
        std::fs::read_to_string(&typed).unwrap_or_default() == "ok\n",
        "keys reached the customer while typing in the pane"
    );

    close_session(&mut remoto, &viewer);
    viewer.guard().assert_running();

    // The viewer's log: both lines and the file with the received bytes' hash.
    let logs: Vec<PathBuf> = std::fs::read_dir(&logs)
        .expect("log dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(logs.len(), 1, "one session log: {logs:?}");
    let verify = viewer_log(&["verify"], &logs[0]);
    assert!(verify.contains(": OK: "), "{verify}");
    let report = viewer_log(&["show"], &logs[0]);
    let hash = crypto::transfer::digest_hex(
        &crypto::transfer::prepare(&dest)
            .expect("hash the received file")
            .digest,
    );
    for want in [
        "chat customer: Buongiorno dal cliente".to_string(),
        "chat technician: Ciao dal tecnico".to_string(),
        "Chat:        2 lines".to_string(),
        format!("blake2s {hash}"),
        "screenshot-7.bin".to_string(),
    ] {
        assert!(report.contains(&want), "{want:?} missing in:\n{report}");
    }
}

#[test]
fn dropped_file_is_offered_to_the_customer() {
    let art = Artifacts::new("viewer_window_chat_drop");
    let cust = XServer::xvfb(&art, W, H);
    cust.show_picture(&art, "customer", &test_picture(W, H, 6));
    let expected = cust.stable_screenshot();
    let tech = XServer::xvfb(&art, 1024, 600);
    let port = tests::net::free_port();
    let bin = packed_remoto(&art, port, &[]);
    let key = demo_key(&art);
    let logs = art.path("viewer-logs");
    let mut viewer = window_viewer(&art, &tech, port, &key, &logs);
    let mut remoto = Remoto::spawn("remoto", &mut connect(&bin, &cust.display(), &[]), &art);
    remoto.wait_line("sharing … encrypted", TIMEOUT, |l| {
        l.starts_with("sharing the screen (encrypted)")
    });
    let win = tech.wait_window("SAS");
    let win_text = win.to_string();
    let shot = wait_shot(
        &art,
        &tech,
        &win_text,
        "the desktop",
        "viewer.drop-start.png",
        |s| s.width >= W && s.height >= H && s.crop(0, 0, W, H) == expected,
    );
    assert!(
        shot.width < W + PANE_WIDTH,
        "the pane is open from the start"
    );

    // A file with a name that needs percent-encoding in the URI.
    let outbox = art.path("drop-outbox");
    std::fs::create_dir_all(&outbox).expect("outbox");
    let name = "rapporto già #9.bin";
    let content = pseudo_random(300_000, 56);
    let src = outbox.join(name);
    std::fs::write(&src, &content).expect("write the file to drop");
    assert!(
        !remoto.stdout_text().contains("file offer "),
        "a file was offered before the drop"
    );

    // Drop it in the middle of the remote desktop.
    let target = u32::try_from(win).expect("an X window id fits 32 bits");
    tests::xdnd::drop_file(
        &tech.display(),
        target,
        (W / 2) as i16,
        (H / 2) as i16,
        &src,
    )
    .unwrap_or_else(|e| panic!("the drop on the session window: {e}"));

    let (id, dest) = accept_offer(&mut remoto, &art, name, 300_000, "drop-inbox");
    assert_eq!(std::fs::read(&dest).expect("received file"), content);
    wait_for("the viewer's file event", TIMEOUT, || {
        viewer.guard().assert_running();
        viewer
            .stderr_text()
            .contains(&format!("file {id} to_customer \"{name}\": done"))
            .then_some(())
    });
    let offers = remoto.stdout_text().matches("file offer ").count();
    assert_eq!(offers, 1, "one drop, one offer");

    close_session(&mut remoto, &viewer);
    viewer.guard().assert_running();
}

#[test]
fn clear_session_pane_says_why() {
    let art = Artifacts::new("viewer_window_chat_clear");
    let cust = XServer::xvfb(&art, W, H);
    cust.show_picture(&art, "customer", &test_picture(W, H, 5));
    let expected = cust.stable_screenshot();
    let tech = XServer::xvfb(&art, 1024, 600);
    let port = tests::net::free_port();
    let ep = format!("127.0.0.1:{port}");
    let bin = tests::viewer::packed_remoto(
        &art,
        "Remoto",
        &tests::viewer::team_profile(&[tests::viewer::TechnicianEntry::clear("Clear", &ep)], ""),
    );
    let key = demo_key(&art);
    let logs = art.path("viewer-logs");
    let mut viewer = window_viewer(&art, &tech, port, &key, &logs);
    let mut remoto = Remoto::spawn(
        "remoto",
        &mut tests::remoto::connect_command(&bin, "Clear", &cust.display(), &[], None),
        &art,
    );
    remoto.wait_line("sharing", TIMEOUT, |l| l.starts_with("sharing the screen"));
    let win = tech.wait_window("CLEAR").to_string();
    wait_shot(
        &art,
        &tech,
        &win,
        "the desktop",
        "viewer.clear-start.png",
        |s| s.width >= W && s.height >= H && s.crop(0, 0, W, H) == expected,
    );
    xdotool(&tech, &["windowfocus", "--sync", &win]);
    xdotool(&tech, &["key", "ctrl+alt+shift+t"]);
    let pane = (W, 0, W + PANE_WIDTH, H);
    let shot = wait_shot(
        &art,
        &tech,
        &win,
        "the clear-mode notice",
        "viewer.clear-pane.png",
        |s| {
            s.width >= W + PANE_WIDTH
                && count(s, pane, PANE_BG) > (PANE_WIDTH * H / 3) as usize
                && count_near(s, pane, WARN_FG) > 30
        },
    );
    assert_eq!(
        count(&shot, pane, FOCUS_FG),
        0,
        "a pane field has the focus"
    );
    assert_eq!(count(&shot, pane, CUSTOMER_FG), 0);
    viewer.guard().assert_running();
    assert_same(
        &art,
        "clear-desktop-with-pane",
        &expected,
        &shot.crop(0, 0, W, H),
    );
    close_session(&mut remoto, &viewer);
}
