//! `Remoto.exe` (the Windows build, cross-built with mingw) under wine on
//! Xvfb, against the Linux `viewer listen --headless`:
//!
//! - `packed_list`: a packed `Remoto.exe --list` prints the packed
//!   technicians;
//! - `clear_session_input_close_writes_nothing`: clear mode, the viewer's
//!   snapshot equals the Xvfb display pixel-exact (GDI capture) before and
//!   after a change (xterms on a black root: wine's GDI sees X windows as
//!   drawn but the root window's background as black, so a picture set with
//!   `xsetroot`/`display -window root` cannot be used); the viewer's pointer moves the X pointer once the
//!   customer allows control (`SendInput`); the clipboard both ways through
//!   wine's bridge to the X `CLIPBOARD` selection (the technician's `clip`
//!   is dropped before `allow`, lands on the X clipboard after it; text the
//!   customer copies on X reaches the viewer, and the technician's own text
//!   is not echoed back); `close` ends the process with the receipt, and the
//!   wine prefix holds no new file or registry key;
//! - `crypto_session`: the same picture through the crypto channel (demo
//!   technician key), matching SAS on both sides;
//! - `signed_packed_exe`: pack, then `osslsigncode sign` with a test
//!   certificate made here: the signed exe still reads its packed profile
//!   under wine and `osslsigncode verify` accepts the signature; packing a
//!   signed exe is refused.
//!
//! The first run cross-builds `remoto.exe` (several minutes from scratch)
//! and initialises the private wine prefix (~20 s); see tests/src/wine.rs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::process::{require_tool, run_ok, run_with_timeout};
use tests::remoto::{Remoto, viewer_bin};
use tests::viewer::{
    TechnicianEntry, Viewer, ViewerOptions, demo_key, demo_public_key, team_profile,
};
use tests::wine::{self, WinePrefix};
use tests::{Artifacts, ChildGuard, TIMEOUT, XServer};

/// The customer's screen size.
const W: u32 = 320;
const H: u32 = 240;
/// How long a wine start may take on a loaded CI machine.
const WINE_TIMEOUT: Duration = Duration::from_secs(60);

/// The Windows build packed with a profile whose clear (`Win-Clear`) and
/// crypto (`Win-Demo`, demo key) technicians are at `127.0.0.1:port`.
fn packed_exe(art: &Artifacts, port: u16) -> PathBuf {
    let ep = format!("127.0.0.1:{port}");
    let profile = team_profile(
        &[
            TechnicianEntry::clear("Win-Clear", &ep),
            TechnicianEntry::crypto("Win-Demo", &ep, &demo_public_key()),
        ],
        "",
    );
    pack(art, &wine::remoto_exe(), &profile, "Remoto.exe")
}

/// `viewer profile pack --binary exe --profile … --out <art>/name`.
fn pack(art: &Artifacts, exe: &Path, profile: &str, name: &str) -> PathBuf {
    let toml = art.write(&format!("{name}.toml"), profile);
    let out = art.path(name);
    run_ok(
        Command::new(viewer_bin())
            .args(["profile", "pack", "--binary"])
            .arg(exe)
            .arg("--profile")
            .arg(&toml)
            .arg("--out")
            .arg(&out),
        TIMEOUT,
    );
    out
}

/// `wine Remoto.exe --list`: (success, stdout, stderr).
fn wine_list(prefix: &WinePrefix, exe: &Path) -> (bool, String, String) {
    let mut cmd = prefix.command(exe, None);
    cmd.arg("--list");
    let out = run_with_timeout(&mut cmd, WINE_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    (out.status.success(), out.stdout_text(), out.stderr_text())
}

fn assert_packed_list(out: &str) {
    assert!(
        out.contains("test team") && out.contains("(packed technician list)"),
        "not the packed list:\n{out}"
    );
    let line = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no line for {id} in:\n{out}"))
            .to_string()
    };
    assert!(line("Win-Demo").contains("\tcrypto\t"), "{out}");
    assert!(line("Win-Clear").contains("clear (NOT encrypted)"), "{out}");
    assert!(
        !out.contains("Demo-Chiaro"),
        "the built-in list shows:\n{out}"
    );
}

#[test]
fn packed_list() {
    let art = Artifacts::new("wine_packed_list");
    let exe = packed_exe(&art, 5599);
    let _turn = wine::lock();
    let prefix = wine::prefix();
    let t = Instant::now();
    let (ok, out, err) = wine_list(prefix, &exe);
    eprintln!("wine Remoto.exe --list took {:?}", t.elapsed());
    art.write("list.stdout.log", &out);
    art.write("list.stderr.log", &err);
    assert!(ok, "Remoto.exe --list failed:\n{err}");
    assert_packed_list(&out);
    assert!(out.contains("127.0.0.1:5599"), "{out}");
}

/// A customer display: a black root (wine's GDI reads the X root
/// window's background as black, only X windows as drawn) with an xterm
/// showing `text` in the top-left corner; its screenshot.
fn customer_display(art: &Artifacts, text: &str) -> (XServer, ChildGuard, tests::Image) {
    let x = XServer::xvfb(art, W, H);
    x.set_root_colour(0);
    x.hide_pointer(art);
    let term = x.xterm(art, "first", "30x6+0+0", text);
    let shot = x.stable_screenshot();
    (x, term, shot)
}

/// Shows a second xterm at the bottom right (the change during a
/// session) and returns the new screenshot, checked to differ from
/// `before`.
fn change_display(
    art: &Artifacts,
    x: &XServer,
    before: &tests::Image,
    text: &str,
) -> (ChildGuard, tests::Image) {
    let term = x.xterm(art, "second", "20x4-0-0", text);
    let shot = x.stable_screenshot();
    assert_ne!(before, &shot, "the change is not visible");
    (term, shot)
}

/// `wine Remoto.exe connect ID --yes` on display `x`.
fn start_remoto(art: &Artifacts, prefix: &WinePrefix, exe: &Path, x: &XServer, id: &str) -> Remoto {
    let mut cmd = prefix.command(exe, Some(&x.display()));
    cmd.args(["connect", id, "--yes"]);
    Remoto::spawn("remoto", &mut cmd, art)
}

/// The pointer position on `x` (`xdotool getmouselocation`).
fn pointer(x: &XServer) -> (u32, u32) {
    let out = run_ok(
        x.command(require_tool("xdotool", "xdotool"))
            .args(["getmouselocation", "--shell"]),
        TIMEOUT,
    )
    .stdout_text();
    let field = |name: &str| -> u32 {
        out.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in xdotool output {out:?}"))
    };
    (field("X"), field("Y"))
}

/// Waits for the receipt and exit status 0.
fn assert_clean_exit(remoto: &mut Remoto) {
    let status = remoto.wait_exit(WINE_TIMEOUT).unwrap_or_else(|| {
        panic!(
            "Remoto.exe still runs after close; stdout:\n{}",
            remoto.stdout_text()
        )
    });
    let out = remoto.stdout_text();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}; stdout:\n{out}\nstderr:\n{}",
        remoto.stderr_text()
    );
    assert!(
        out.contains("Remoto is closed: no connection is open, nothing was installed or written"),
        "no receipt:\n{out}"
    );
}

#[test]
fn clear_session_input_close_writes_nothing() {
    let art = Artifacts::new("wine_clear_session");
    let port = tests::net::free_port();
    let exe = packed_exe(&art, port);
    let (x, _term, first) = customer_display(&art, "Remoto under wine");
    let key = demo_key(&art);
    let _turn = wine::lock();
    let prefix = wine::prefix();
    prefix.stop_server();
    let before = prefix.snapshot();

    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(port, &key));
    let t = Instant::now();
    let mut remoto = start_remoto(&art, prefix, &exe, &x, "Win-Clear");
    remoto.wait_line("sharing … NOT ENCRYPTED", WINE_TIMEOUT, |l| {
        l.starts_with("sharing the screen (NOT ENCRYPTED)")
    });
    viewer.wait_snapshot(&art, "first", 1, &first, TIMEOUT);
    eprintln!("start → first picture in {:?}", t.elapsed());

    // A change during the session.
    let (_term2, second) = change_display(&art, &x, &first, "a change");
    let t = Instant::now();
    viewer.wait_snapshot(&art, "second", 1, &second, TIMEOUT);
    eprintln!("change → snapshot in {:?}", t.elapsed());

    // Input: dropped before `allow`, applied after it.
    let corner = pointer(&x);
    viewer.send("pointer 1 0 10 20");
    viewer.send("clip 1 before allow");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pointer(&x), corner, "the pointer moved before `allow`");
    assert_ne!(
        xclip::read(&x.display()).as_deref(),
        Some("before allow"),
        "the technician's clipboard landed before `allow`"
    );
    remoto.send("allow");
    remoto.wait_line("control allowed", TIMEOUT, |l| l == "control allowed");
    let moved = tests::wait::poll_until(TIMEOUT, || {
        viewer.send("pointer 1 0 50 60");
        std::thread::sleep(Duration::from_millis(100));
        (pointer(&x) == (50, 60)).then_some(())
    });
    assert!(
        moved.is_ok(),
        "the X pointer did not follow the technician (at {:?})",
        pointer(&x)
    );
    let moved = tests::wait::poll_until(TIMEOUT, || {
        viewer.send("pointer 1 0 301 7");
        std::thread::sleep(Duration::from_millis(100));
        (pointer(&x) == (301, 7)).then_some(())
    });
    assert!(moved.is_ok(), "second move: at {:?}", pointer(&x));

    // Clipboard, technician → customer: SetClipboardData, then wine owns
    // the X CLIPBOARD selection with the text.
    let t = Instant::now();
    viewer.send("clip 1 from the technician ✓");
    tests::wait_for("the technician's text on the X clipboard", TIMEOUT, || {
        (xclip::read(&x.display()).as_deref() == Some("from the technician ✓")).then_some(())
    });
    eprintln!("clip → X clipboard in {:?}", t.elapsed());
    // Remoto polls the clipboard every 250 ms: an echo of the technician's
    // own text would be in by now.
    std::thread::sleep(Duration::from_secs(1));
    let echoed = viewer
        .events()
        .into_iter()
        .find(|e| e["event"] == "clipboard");
    assert_eq!(echoed, None, "the technician's own text came back");
    // Customer → technician: an X program owns CLIPBOARD, wine imports it,
    // Remoto sees the new sequence number and sends it.
    let t = Instant::now();
    let owner = xclip::Owner::new(&x.display(), "copied by the customer");
    viewer.wait_event("the customer's clipboard", TIMEOUT, |e| {
        e["event"] == "clipboard" && e["text"] == "copied by the customer"
    });
    eprintln!("X clipboard → viewer in {:?}", t.elapsed());
    drop(owner);

    // Close: the process ends with the receipt.
    let t = Instant::now();
    remoto.send("close");
    assert_clean_exit(&mut remoto);
    eprintln!("close → exit in {:?}", t.elapsed());
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    let pid = remoto.pid();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the wine process {pid} still exists"
    );

    // Nothing was written to the prefix (files or registry).
    prefix.stop_server();
    let after = prefix.snapshot();
    let diff = before.diff(&after);
    art.write("prefix-diff.txt", diff.join("\n"));
    assert!(
        diff.is_empty(),
        "Remoto.exe changed the wine prefix:\n{}",
        diff.join("\n")
    );
}

#[test]
fn crypto_session() {
    let art = Artifacts::new("wine_crypto_session");
    let port = tests::net::free_port();
    let exe = packed_exe(&art, port);
    let (x, _term, first) = customer_display(&art, "crypto session");
    let key = demo_key(&art);
    let _turn = wine::lock();
    let prefix = wine::prefix();
    prefix.stop_server();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(port, &key));
    let mut remoto = start_remoto(&art, prefix, &exe, &x, "Win-Demo");
    let sas_line = remoto.wait_line("SAS", WINE_TIMEOUT, |l| l.starts_with("SAS: "));
    let sas = sas_line
        .strip_prefix("SAS: ")
        .and_then(|r| r.split("  ").next())
        .expect("SAS value")
        .trim()
        .to_string();
    remoto.wait_line("sharing … encrypted", TIMEOUT, |l| {
        l.starts_with("sharing the screen (encrypted)")
    });
    let incoming = viewer.wait_event("incoming", TIMEOUT, |e| e["event"] == "incoming");
    assert_eq!(incoming["sas"].as_str(), Some(sas.as_str()), "{incoming}");
    assert_eq!(incoming["mode"].as_str(), Some("crypto"));
    viewer.wait_snapshot(&art, "first", 1, &first, TIMEOUT);

    let (_term2, second) = change_display(&art, &x, &first, "encrypted change");
    viewer.wait_snapshot(&art, "second", 1, &second, TIMEOUT);

    remoto.send("close");
    assert_clean_exit(&mut remoto);
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    prefix.stop_server();
}

#[test]
fn signed_packed_exe() {
    let art = Artifacts::new("wine_signed_packed_exe");
    let openssl = require_tool("openssl", "openssl");
    let osslsigncode = require_tool("osslsigncode", "osslsigncode");
    let packed = packed_exe(&art, 5598);

    // A self-signed code-signing certificate made for this test.
    let key = art.path("test-signing.key");
    let cert = art.path("test-signing.crt");
    run_ok(
        Command::new(&openssl)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=Remoto test signing", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-addext", "extendedKeyUsage=codeSigning"]),
        TIMEOUT,
    );
    // Pack first (done above), then sign.
    let signed = art.path("Remoto-signed.exe");
    run_ok(
        Command::new(&osslsigncode)
            .args(["sign", "-certs"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(["-n", "Remoto", "-h", "sha256", "-in"])
            .arg(&packed)
            .arg("-out")
            .arg(&signed),
        TIMEOUT,
    );
    // The signature holds, with the test certificate as the trusted root.
    let verify = run_with_timeout(
        Command::new(&osslsigncode)
            .args(["verify", "-CAfile"])
            .arg(&cert)
            .arg("-in")
            .arg(&signed),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let vtext = format!("{}\n{}", verify.stdout_text(), verify.stderr_text());
    art.write("verify.log", &vtext);
    assert!(
        verify.status.success() && vtext.contains("Signature verification: ok"),
        "osslsigncode verify failed ({}):\n{vtext}",
        verify.status
    );
    // Packing a signed exe would break the signature: refused.
    let toml = art.write(
        "again.toml",
        team_profile(&[TechnicianEntry::clear("Other", "127.0.0.1:5597")], ""),
    );
    let again = run_with_timeout(
        Command::new(viewer_bin())
            .args(["profile", "pack", "--binary"])
            .arg(&signed)
            .arg("--profile")
            .arg(&toml)
            .arg("--out")
            .arg(art.path("Remoto-again.exe")),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !again.status.success() && again.stderr_text().contains("then sign"),
        "packing a signed exe was not refused: {}",
        again.stderr_text()
    );

    let _turn = wine::lock();
    let prefix = wine::prefix();
    let (ok, out, err) = wine_list(prefix, &signed);
    art.write("list.stdout.log", &out);
    assert!(ok, "signed Remoto.exe --list failed:\n{err}");
    assert_packed_list(&out);
}

/// The X `CLIPBOARD` selection as text (`UTF8_STRING`), read and owned with
/// x11rb: what a customer's X program would see and set.
mod xclip {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use x11rb::connection::Connection;
    use x11rb::protocol::Event;
    use x11rb::protocol::xproto::{
        AtomEnum, ConnectionExt as _, CreateWindowAux, EventMask, PropMode, SELECTION_NOTIFY_EVENT,
        SelectionNotifyEvent, Window, WindowClass,
    };
    use x11rb::rust_connection::RustConnection;
    use x11rb::wrapper::ConnectionExt as _;

    fn atom(conn: &RustConnection, name: &str) -> u32 {
        conn.intern_atom(false, name.as_bytes())
            .expect("intern_atom")
            .reply()
            .expect("intern_atom reply")
            .atom
    }

    fn window(conn: &RustConnection, screen: usize) -> Window {
        let win = conn.generate_id().expect("X id");
        let root = conn.setup().roots[screen].root;
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            win,
            root,
            0,
            0,
            1,
            1,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
        )
        .expect("create window");
        win
    }

    /// The selection's text, `None` when nobody owns it or the owner
    /// refuses `UTF8_STRING` (waits at most 5 s for the answer).
    pub fn read(display: &str) -> Option<String> {
        let (conn, screen) = RustConnection::connect(Some(display)).expect("connect to X");
        let win = window(&conn, screen);
        let clipboard = atom(&conn, "CLIPBOARD");
        let utf8 = atom(&conn, "UTF8_STRING");
        let prop = atom(&conn, "REMOTO_TEST_CLIP");
        conn.convert_selection(win, clipboard, utf8, prop, x11rb::CURRENT_TIME)
            .expect("convert_selection");
        conn.flush().expect("flush");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match conn.poll_for_event().expect("X events") {
                Some(Event::SelectionNotify(e)) if e.requestor == win => {
                    if e.property == x11rb::NONE {
                        return None;
                    }
                    let reply = conn
                        .get_property(true, win, prop, AtomEnum::ANY, 0, 1 << 20)
                        .expect("get_property")
                        .reply()
                        .expect("property");
                    return Some(String::from_utf8_lossy(&reply.value).into_owned());
                }
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        None
    }

    /// Owns the selection with a text (`UTF8_STRING`, `STRING`, `TARGETS`)
    /// until dropped.
    pub struct Owner {
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Owner {
        /// Takes the selection on `display`, serving `text`.
        pub fn new(display: &str, text: &str) -> Owner {
            let (conn, screen) = RustConnection::connect(Some(display)).expect("connect to X");
            let win = window(&conn, screen);
            let clipboard = atom(&conn, "CLIPBOARD");
            let utf8 = atom(&conn, "UTF8_STRING");
            let targets = atom(&conn, "TARGETS");
            conn.set_selection_owner(win, clipboard, x11rb::CURRENT_TIME)
                .expect("set_selection_owner");
            let owner = conn
                .get_selection_owner(clipboard)
                .expect("get_selection_owner")
                .reply()
                .expect("owner")
                .owner;
            assert_eq!(owner, win, "could not own the CLIPBOARD selection");
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            let text = text.as_bytes().to_vec();
            let thread = std::thread::spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let Ok(ev) = conn.poll_for_event() else {
                        return;
                    };
                    let Some(Event::SelectionRequest(r)) = ev else {
                        if ev.is_none() {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        continue;
                    };
                    let prop = if r.property == x11rb::NONE {
                        r.target
                    } else {
                        r.property
                    };
                    let served = if r.target == targets {
                        conn.change_property32(
                            PropMode::REPLACE,
                            r.requestor,
                            prop,
                            AtomEnum::ATOM,
                            &[targets, utf8, AtomEnum::STRING.into()],
                        )
                        .is_ok()
                    } else if r.target == utf8 || r.target == u32::from(AtomEnum::STRING) {
                        conn.change_property8(PropMode::REPLACE, r.requestor, prop, r.target, &text)
                            .is_ok()
                    } else {
                        false
                    };
                    let notify = SelectionNotifyEvent {
                        response_type: SELECTION_NOTIFY_EVENT,
                        sequence: 0,
                        time: r.time,
                        requestor: r.requestor,
                        selection: r.selection,
                        target: r.target,
                        property: if served { prop } else { x11rb::NONE },
                    };
                    let _ = conn.send_event(false, r.requestor, EventMask::NO_EVENT, notify);
                    let _ = conn.flush();
                }
            });
            Owner {
                stop,
                thread: Some(thread),
            }
        }
    }

    impl Drop for Owner {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}
