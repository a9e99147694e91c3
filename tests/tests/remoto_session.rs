//! The customer's program `remoto` end to end, headless (`remoto connect ID
//! --yes`), against a real X display (Xvfb):
//!
//! - `list`: `remoto --list` shows both built-in technicians and their modes;
//! - `clear_harness_{raw,hextile,zrle}`: clear mode into our own listener
//!   running `rfb::ClientSession` asking for one encoding; the decoded
//!   framebuffer equals the display, then follows a change;
//! - `clear_tigervnc_viewer`: clear mode into stock `xtigervncviewer -listen`;
//! - `consent_pointer`: technician input is dropped until `allow`, applied
//!   after it, dropped again after `stop`;
//! - `close_command` / `technician_disconnect`: how a session ends;
//! - `never_listens_writes_nothing`: a whole session under `strace`, `ss`
//!   sampled during it, nothing left after it;
//! - `unreachable_technician`: exit code 4 with the reason;
//! - `crypto_viewer` / `crypto_wrong_key`: crypto mode into the real `viewer`.
//!
//! The example profile fixes the technicians' endpoint to 127.0.0.1:5500, so
//! every test that listens there holds [`PORT_5500`] (tests of this file run
//! in parallel threads otherwise). Nothing else may use port 5500 meanwhile.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rfb::encoding::id;
use tests::capture::first_rect_encoding;
use tests::process::{command, require_tool, run_ok, run_with_timeout};
use tests::remoto::{
    Remoto, children_of, forbidden_syscall, json_event, remoto_bin, viewer_bin, workspace_root,
};
use tests::rfb_io::{ClientDriver, accept, client_config};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same, test_picture, wait_for};
use tokio::net::TcpListener;

/// The customer's screen size.
const W: u32 = 320;
const H: u32 = 240;
/// Where the example profile sends every technician.
const PORT: u16 = 5500;

/// Serialises the tests that listen on 127.0.0.1:5500.
static PORT_5500: Mutex<()> = Mutex::new(());

fn lock_port() -> MutexGuard<'static, ()> {
    let guard = PORT_5500.lock().unwrap_or_else(|e| e.into_inner());
    // Another test of this file may just have closed its listener: wait
    // until the port is really free (a leftover listener of someone else
    // would make the test talk to the wrong peer).
    wait_for("port 5500 to be free", TIMEOUT, || {
        (!tests::net::is_listening(PORT)).then_some(())
    });
    guard
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `remoto connect ID --yes --display :N [extra]`.
fn remoto_connect(display: &XServer, technician: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(remoto_bin());
    cmd.args([
        "connect",
        technician,
        "--yes",
        "--display",
        &display.display(),
    ])
    .args(extra)
    .env_remove("DISPLAY")
    .current_dir(workspace_root());
    cmd
}

/// A customer display showing test picture `variant`; returns the screen.
fn customer_display(art: &Artifacts, variant: u32) -> (XServer, Image) {
    let x = XServer::xvfb(art, W, H);
    x.show_picture(
        art,
        &format!("customer-{variant}"),
        &test_picture(W, H, variant),
    );
    let shot = x.stable_screenshot();
    (x, shot)
}

/// Runs the client session until its framebuffer equals `expected`;
/// saves the transcript and fails with a picture diff otherwise.
fn wait_framebuffer(
    rt: &tokio::runtime::Runtime,
    art: &Artifacts,
    driver: &mut ClientDriver,
    label: &str,
    expected: &Image,
) {
    let want = expected.clone();
    let r = rt.block_on(driver.run_until(TIMEOUT, |s, _| {
        s.is_connected() && tests::rfb_io::framebuffer_image(s.framebuffer()) == want
    }));
    if let Err(e) = r {
        driver.transcript.save(&art.path("session.rfb"));
        let actual = driver.picture();
        if actual.width == expected.width && actual.height == expected.height {
            assert_same(art, label, expected, &actual);
        }
        actual.save(&art.path(&format!("{label}.actual.png")));
        panic!(
            "{label}: framebuffer never equalled the display ({e}); framebuffer {}x{}, events {:?}",
            actual.width,
            actual.height,
            driver.events.len()
        );
    }
}

/// Lets the client session run for `time` (it answers updates), failing if
/// the server closes.
fn pump(rt: &tokio::runtime::Runtime, driver: &mut ClientDriver, time: Duration) {
    match rt.block_on(driver.run_until(time, |_, _| false)) {
        Err(e) if e.starts_with("timed out") => {}
        other => panic!("client session ended while pumping: {other:?}"),
    }
}

/// Sends whatever the client session has queued.
fn flush(rt: &tokio::runtime::Runtime, driver: &mut ClientDriver) {
    rt.block_on(driver.run_until(TIMEOUT, |_, _| true))
        .expect("send to remoto");
}

/// Reads the session until the server closes it (within `timeout`).
fn wait_server_closed(rt: &tokio::runtime::Runtime, driver: &mut ClientDriver, timeout: Duration) {
    let r = rt.block_on(driver.run_until(timeout, |_, _| false));
    assert!(
        driver.is_closed(),
        "remoto did not close the connection within {timeout:?}: {r:?}"
    );
}

/// Listens on 5500, starts remoto (clear technician) and accepts it with a
/// client session asking for `encodings`.
fn start_clear(
    rt: &tokio::runtime::Runtime,
    art: &Artifacts,
    x: &XServer,
    encodings: &[i32],
    extra: &[&str],
) -> (Remoto, ClientDriver) {
    let listener = rt
        .block_on(TcpListener::bind(("127.0.0.1", PORT)))
        .expect("bind 127.0.0.1:5500 (is something else using it?)");
    let mut remoto = Remoto::spawn("remoto", &mut remoto_connect(x, "Demo-Chiaro", extra), art);
    let stream = rt.block_on(accept(&listener, TIMEOUT));
    drop(listener);
    let driver = ClientDriver::new(stream, client_config(encodings));
    remoto.guard().assert_running();
    (remoto, driver)
}

/// Checks remoto's exit: status 0 within `timeout` and the receipt printed.
fn assert_clean_exit(remoto: &mut Remoto, timeout: Duration) {
    let started = Instant::now();
    let status = remoto.wait_exit(timeout).unwrap_or_else(|| {
        panic!(
            "remoto still runs {timeout:?} after the session ended; stdout:\n{}",
            remoto.stdout_text()
        )
    });
    let out = remoto.stdout_text();
    assert_eq!(
        status.code(),
        Some(0),
        "remoto exit status {status}; stdout:\n{out}\nstderr:\n{}",
        remoto.stderr_text()
    );
    assert!(
        out.contains("Remoto is closed: no connection is open, nothing was installed or written"),
        "no receipt; stdout:\n{out}"
    );
    eprintln!("remoto exited {:?} after the end", started.elapsed());
}

#[test]
fn list() {
    let art = Artifacts::new("remoto_list");
    let out = run_ok(&mut command(remoto_bin(), ["--list"]), TIMEOUT);
    let text = out.stdout_text();
    art.write("remoto.stdout.log", &text);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.split('\t').next().and_then(|f| f.split(' ').next()) == Some(id))
            .unwrap_or_else(|| panic!("no line for technician {id} in:\n{text}"))
            .to_string()
    };
    let demo = line("Demo");
    assert!(demo.contains("\tcrypto\t"), "Demo is not crypto: {demo}");
    assert!(demo.contains("127.0.0.1:5500"), "Demo endpoint: {demo}");
    let chiaro = line("Demo-Chiaro");
    assert!(
        chiaro.contains("clear (NOT encrypted)"),
        "Demo-Chiaro is not shown as clear: {chiaro}"
    );
    assert!(
        chiaro.contains("127.0.0.1:5500"),
        "Demo-Chiaro endpoint: {chiaro}"
    );
}

/// Clear session into our harness asking for `encoding` only: the first
/// picture, then a change, must arrive exactly; then `close`.
fn clear_harness(test: &str, encoding: i32) {
    let art = Artifacts::new(test);
    let (x, first) = customer_display(&art, 0);
    let _port = lock_port();
    let rt = runtime();
    let (mut remoto, mut driver) = start_clear(&rt, &art, &x, &[encoding], &[]);
    wait_framebuffer(&rt, &art, &mut driver, "first", &first);
    remoto.wait_line("sharing … NOT ENCRYPTED", TIMEOUT, |l| {
        l.starts_with("sharing the screen (NOT ENCRYPTED)")
    });
    remoto.wait_line("connected to 127.0.0.1:5500", TIMEOUT, |l| {
        l == "connected to 127.0.0.1:5500"
    });
    assert_same(&art, "first", &first, &driver.picture());

    x.show_picture(&art, "customer-1", &test_picture(W, H, 1));
    let second = x.stable_screenshot();
    assert_ne!(first, second, "the two pictures are identical");
    wait_framebuffer(&rt, &art, &mut driver, "second", &second);
    driver.transcript.save(&art.path("session.rfb"));
    let used = first_rect_encoding(&driver.transcript.server_bytes());
    assert_eq!(
        used,
        Ok(encoding),
        "remoto did not use the only encoding asked for"
    );

    remoto.send("close");
    wait_server_closed(&rt, &mut driver, TIMEOUT);
    assert_clean_exit(&mut remoto, TIMEOUT);
}

#[test]
fn clear_harness_raw() {
    clear_harness("remoto_clear_harness_raw", id::RAW);
}

#[test]
fn clear_harness_hextile() {
    clear_harness("remoto_clear_harness_hextile", id::HEXTILE);
}

#[test]
fn clear_harness_zrle() {
    clear_harness("remoto_clear_harness_zrle", id::ZRLE);
}

#[test]
fn clear_tigervnc_viewer() {
    let art = Artifacts::new("remoto_clear_tigervnc_viewer");
    let (x, first) = customer_display(&art, 2);
    let viewer_art = art.sub("viewer-display");
    let viewer_x = XServer::xvfb(&viewer_art, 640, 480);
    let _port = lock_port();
    let mut tiger = tests::peers::tigervnc_listen(&viewer_art, &viewer_x, PORT, "zrle");
    let mut remoto = Remoto::spawn("remoto", &mut remoto_connect(&x, "Demo-Chiaro", &[]), &art);
    remoto.wait_line("sharing … NOT ENCRYPTED", TIMEOUT, |l| {
        l.starts_with("sharing the screen (NOT ENCRYPTED)")
    });
    let mut last: Option<Image> = None;
    let shown = tests::wait::poll_until(TIMEOUT, || {
        for wid in viewer_x.find_windows("TigerVNC") {
            if let Ok(shot) = viewer_x.try_screenshot(&wid.to_string()) {
                let same = shot == first;
                last = Some(shot);
                if same {
                    return Some(());
                }
            }
        }
        None
    });
    viewer_x
        .screenshot_root()
        .save(&art.path("viewer-root.png"));
    if shown.is_err() {
        match last {
            Some(shot) => assert_same(&art, "viewer-window", &first, &shot),
            None => panic!("no TigerVNC window on the viewer display within {TIMEOUT:?}"),
        }
    }
    tiger.assert_running();
    remoto.send("close");
    assert_clean_exit(&mut remoto, TIMEOUT);
    // The viewer sees the session end and exits on its own.
    assert!(
        tiger.wait_exit(TIMEOUT).is_some(),
        "xtigervncviewer did not see the session end"
    );
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

/// Sends pointer moves to `(px, py)` for `time` while checking that the
/// customer's pointer stays at `at`. Proving that something does *not*
/// happen needs a bounded observation window; the receipt's "dropped"
/// count proves afterwards that the events did arrive.
fn assert_pointer_stays(
    rt: &tokio::runtime::Runtime,
    driver: &mut ClientDriver,
    x: &XServer,
    at: (u32, u32),
    (px, py): (u16, u16),
    time: Duration,
) {
    let end = Instant::now() + time;
    while Instant::now() < end {
        driver.session.pointer(0, px, py);
        flush(rt, driver);
        pump(rt, driver, Duration::from_millis(200));
        assert_eq!(
            pointer(x),
            at,
            "the pointer moved while control was not allowed"
        );
    }
}

/// Parses "input applied A, dropped D" from the receipt.
fn input_counts(out: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains("input applied"))
        .unwrap_or_else(|| panic!("no receipt line with input counts in:\n{out}"));
    let num = |key: &str| -> u64 {
        line.split(key)
            .nth(1)
            .and_then(|r| r.trim().split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number after {key:?} in {line:?}"))
    };
    (num("input applied"), num("dropped"))
}

#[test]
fn consent_pointer() {
    let art = Artifacts::new("remoto_consent_pointer");
    let (x, first) = customer_display(&art, 0);
    let corner = pointer(&x);
    assert_eq!(
        corner,
        (W - 1, H - 1),
        "hide_pointer parks the pointer in the corner"
    );
    let _port = lock_port();
    let rt = runtime();
    let (mut remoto, mut driver) = start_clear(&rt, &art, &x, &[id::RAW], &[]);
    wait_framebuffer(&rt, &art, &mut driver, "first", &first);
    remoto.wait_line("control not allowed", TIMEOUT, |l| {
        l.starts_with("sharing the screen") && l.ends_with("control not allowed")
    });

    // 1. Before `allow`: moves are dropped.
    assert_pointer_stays(
        &rt,
        &mut driver,
        &x,
        corner,
        (10, 20),
        Duration::from_secs(2),
    );

    // 2. After `allow`: the pointer follows (re-sent until applied: the
    // console line and the input gate are updated by different tasks).
    remoto.send("allow");
    remoto.wait_line("control allowed", TIMEOUT, |l| l == "control allowed");
    let moved = tests::wait::poll_until(TIMEOUT, || {
        driver.session.pointer(0, 50, 60);
        flush(&rt, &mut driver);
        pump(&rt, &mut driver, Duration::from_millis(100));
        (pointer(&x) == (50, 60)).then_some(())
    });
    assert!(
        moved.is_ok(),
        "the pointer did not follow after `allow` (at {:?})",
        pointer(&x)
    );

    // 3. After `stop`: dropped again.
    remoto.send("stop");
    remoto.wait_line("control stopped", TIMEOUT, |l| l == "control stopped");
    assert_pointer_stays(
        &rt,
        &mut driver,
        &x,
        (50, 60),
        (100, 110),
        Duration::from_secs(2),
    );

    remoto.send("close");
    wait_server_closed(&rt, &mut driver, TIMEOUT);
    assert_clean_exit(&mut remoto, TIMEOUT);
    let (applied, dropped) = input_counts(&remoto.stdout_text());
    assert!(
        applied >= 1,
        "receipt counts {applied} applied input events"
    );
    assert!(
        dropped >= 2,
        "receipt counts {dropped} dropped input events"
    );
}

#[test]
fn close_command() {
    let art = Artifacts::new("remoto_close_command");
    let (x, first) = customer_display(&art, 0);
    let _port = lock_port();
    let rt = runtime();
    let (mut remoto, mut driver) = start_clear(&rt, &art, &x, &[id::ZRLE], &[]);
    wait_framebuffer(&rt, &art, &mut driver, "first", &first);
    let pid = remoto.pid();
    let t = Instant::now();
    remoto.send("close");
    wait_server_closed(&rt, &mut driver, Duration::from_secs(5));
    assert_clean_exit(&mut remoto, Duration::from_secs(5));
    eprintln!("close → exit in {:?}", t.elapsed());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "remoto (pid {pid}) still exists after exiting"
    );
    let out = remoto.stdout_text();
    assert!(
        out.contains("session with Demo-Chiaro ended"),
        "the receipt does not name the technician:\n{out}"
    );
}

#[test]
fn technician_disconnect() {
    let art = Artifacts::new("remoto_technician_disconnect");
    let (x, first) = customer_display(&art, 0);
    let _port = lock_port();
    let rt = runtime();
    let (mut remoto, mut driver) = start_clear(&rt, &art, &x, &[id::RAW], &[]);
    wait_framebuffer(&rt, &art, &mut driver, "first", &first);
    let t = Instant::now();
    // Dropping the driver closes the socket (inside the runtime that owns it).
    rt.block_on(async move { drop(driver) });
    assert_clean_exit(&mut remoto, Duration::from_secs(10));
    eprintln!("disconnect → exit in {:?}", t.elapsed());
}

#[test]
fn never_listens_writes_nothing() {
    let art = Artifacts::new("remoto_never_listens_writes_nothing");
    let strace = require_tool("strace", "strace");
    let ss = require_tool("ss", "iproute2");
    let (x, first) = customer_display(&art, 0);
    let _port = lock_port();
    let rt = runtime();
    let listener = rt
        .block_on(TcpListener::bind(("127.0.0.1", PORT)))
        .expect("bind 127.0.0.1:5500");
    let trace = art.path("trace.txt");
    let mut cmd = Command::new(strace);
    cmd.args([
        "-f",
        "-e",
        "trace=socket,bind,listen,accept,accept4,connect,openat,creat,rename,unlink",
        "-o",
    ])
    .arg(&trace)
    .arg(remoto_bin())
    .args(["connect", "Demo-Chiaro", "--yes", "--display", &x.display()])
    .env_remove("DISPLAY")
    .current_dir(workspace_root());
    let mut traced = Remoto::spawn("remoto", &mut cmd, &art);
    let stream = rt.block_on(accept(&listener, TIMEOUT));
    drop(listener);
    let mut driver = ClientDriver::new(stream, client_config(&[id::ZRLE]));
    let remoto_pid = wait_for("remoto under strace", TIMEOUT, || {
        children_of(traced.pid()).into_iter().next()
    });
    wait_framebuffer(&rt, &art, &mut driver, "first", &first);

    // `ss` during the session (several samples, with updates flowing).
    let mut samples = String::new();
    let needle = format!("pid={remoto_pid},");
    for i in 0..5 {
        if i == 2 {
            x.show_picture(&art, "customer-1", &test_picture(W, H, 1));
        }
        pump(&rt, &mut driver, Duration::from_millis(200));
        let out = run_ok(Command::new(&ss).arg("-ltnupH"), TIMEOUT).stdout_text();
        samples.push_str(&format!("--- sample {i}\n{out}"));
        let own: Vec<&str> = out.lines().filter(|l| l.contains(&needle)).collect();
        assert!(own.is_empty(), "remoto listens: {own:?}");
    }
    // Sanity check of the method: ss does show our process' sockets.
    let est = run_ok(Command::new(&ss).arg("-tanpH"), TIMEOUT).stdout_text();
    samples.push_str(&format!("--- established\n{est}"));
    art.write("ss.txt", &samples);
    assert!(
        est.lines()
            .any(|l| l.contains(&needle) && l.contains(":5500")),
        "ss -tanp does not show remoto's connection to 5500 (cannot see its pid?):\n{est}"
    );

    traced.send("close");
    wait_server_closed(&rt, &mut driver, TIMEOUT);
    assert_clean_exit(&mut traced, TIMEOUT);
    assert!(
        !std::path::Path::new(&format!("/proc/{remoto_pid}")).exists(),
        "remoto (pid {remoto_pid}) still exists"
    );
    let left = children_of(remoto_pid);
    assert!(left.is_empty(), "remoto left children: {left:?}");
    let after = run_ok(Command::new(&ss).arg("-tanpH"), TIMEOUT).stdout_text();
    art.write("ss-after.txt", &after);
    assert!(
        !after.contains(&needle),
        "sockets of remoto remain:\n{after}"
    );

    let text = std::fs::read_to_string(&trace).expect("strace output");
    assert!(
        text.contains("connect("),
        "the trace shows no connect: strace did not trace remoto?"
    );
    let bad: Vec<String> = text
        .lines()
        .filter_map(|l| forbidden_syscall(l).map(|why| format!("{why}: {l}")))
        .collect();
    assert!(
        bad.is_empty(),
        "remoto listened or wrote files (trace in {}):\n{}",
        trace.display(),
        bad.join("\n")
    );
}

#[test]
fn unreachable_technician() {
    let art = Artifacts::new("remoto_unreachable_technician");
    let x = XServer::xvfb(&art, W, H);
    let _port = lock_port();
    assert!(!tests::net::is_listening(PORT), "something listens on 5500");
    let t = Instant::now();
    let out = run_with_timeout(
        &mut remoto_connect(&x, "Demo-Chiaro", &[]),
        Duration::from_secs(15),
    )
    .unwrap_or_else(|e| panic!("remoto did not give up within 15 s: {e}"));
    art.write("remoto.stdout.log", out.stdout_text());
    art.write("remoto.stderr.log", out.stderr_text());
    eprintln!("unreachable → exit in {:?}", t.elapsed());
    let err = out.stderr_text();
    assert_eq!(out.status.code(), Some(4), "exit status; stderr:\n{err}");
    assert!(err.contains("not reachable"), "stderr:\n{err}");
    assert!(
        err.to_lowercase().contains("connection refused"),
        "stderr:\n{err}"
    );
}

/// `viewer listen --headless --accept-all` on 127.0.0.1:5500 with `key`.
fn start_viewer(art: &Artifacts, key: &std::path::Path) -> (Remoto, std::path::PathBuf) {
    let snaps = art.path("snapshots");
    let logs = art.path("viewer-logs");
    std::fs::create_dir_all(&snaps).expect("snapshot dir");
    std::fs::create_dir_all(&logs).expect("log dir");
    let mut cmd = Command::new(viewer_bin());
    cmd.args([
        "listen",
        "--headless",
        "--accept-all",
        "--quality",
        "lossless",
        "--bind",
        "127.0.0.1",
        "--port",
        &PORT.to_string(),
        "--key",
    ])
    .arg(key)
    .arg("--snapshot-dir")
    .arg(&snaps)
    .arg("--log")
    .arg(&logs)
    .current_dir(workspace_root());
    let mut viewer = Remoto::spawn("viewer", &mut cmd, art);
    wait_for("the viewer to listen on 5500", TIMEOUT, || {
        viewer.guard().assert_running();
        tests::net::is_listening(PORT).then_some(())
    });
    (viewer, snaps)
}

#[test]
fn crypto_viewer() {
    let art = Artifacts::new("remoto_crypto_viewer");
    let (x, first) = customer_display(&art, 0);
    let _port = lock_port();
    // Git does not keep the key file's 0600 mode, and the viewer (rightly)
    // refuses a key that others can read: use a private copy.
    let key = art.path("demo-technician.key");
    std::fs::copy(workspace_root().join("profiles/demo-technician.key"), &key)
        .expect("copy the demo key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600 the demo key");
    let (mut viewer, snaps) = start_viewer(&art, &key);
    let mut remoto = Remoto::spawn("remoto", &mut remoto_connect(&x, "Demo", &[]), &art);
    let sas_line = remoto.wait_line("SAS", TIMEOUT, |l| l.starts_with("SAS: "));
    let sas = sas_line
        .strip_prefix("SAS: ")
        .and_then(|r| r.split("  ").next())
        .expect("SAS value")
        .trim()
        .to_string();
    remoto.wait_line("sharing … encrypted", TIMEOUT, |l| {
        l.starts_with("sharing the screen (encrypted)")
    });
    viewer.wait_line("connected event", TIMEOUT, |l| l.contains("\"connected\""));
    let incoming = json_event(&viewer.lines(), "incoming").expect("incoming event");
    assert_eq!(
        incoming.get("sas").and_then(|s| s.as_str()),
        Some(sas.as_str()),
        "the viewer shows another SAS: {incoming}"
    );
    assert_eq!(
        incoming.get("mode").and_then(|s| s.as_str()),
        Some("crypto")
    );

    let snap = snaps.join("session-1.png");
    let mut last = None;
    let ok = tests::wait::poll_until(TIMEOUT, || {
        let img = Image::load(&snap).ok()?;
        let same = img == first;
        last = Some(img);
        same.then_some(())
    });
    if ok.is_err() {
        match last {
            Some(img) => assert_same(&art, "snapshot", &first, &img),
            None => panic!("no snapshot {} within {TIMEOUT:?}", snap.display()),
        }
    }
    remoto.send("close");
    assert_clean_exit(&mut remoto, TIMEOUT);
    viewer.wait_line("ended event", TIMEOUT, |l| l.contains("\"ended\""));
}

#[test]
fn crypto_wrong_key() {
    let art = Artifacts::new("remoto_crypto_wrong_key");
    let (x, _first) = customer_display(&art, 0);
    let key = art.path("other-technician.key");
    run_ok(
        Command::new(viewer_bin())
            .args(["keygen", "--out"])
            .arg(&key),
        TIMEOUT,
    );
    let _port = lock_port();
    let (mut viewer, snaps) = start_viewer(&art, &key);
    let mut remoto = Remoto::spawn("remoto", &mut remoto_connect(&x, "Demo", &[]), &art);
    let status = remoto
        .wait_exit(TIMEOUT)
        .expect("remoto did not give up on the wrong technician key");
    assert_eq!(
        status.code(),
        Some(5),
        "exit status; stdout:\n{}\nstderr:\n{}",
        remoto.stdout_text(),
        remoto.stderr_text()
    );
    assert!(
        !remoto
            .lines()
            .iter()
            .any(|l| l.starts_with("sharing the screen")),
        "remoto claims to share the screen with the wrong technician"
    );
    viewer.guard().assert_running();
    let snapshots: Vec<_> = std::fs::read_dir(&snaps)
        .expect("snapshot dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(
        snapshots.is_empty(),
        "the viewer wrote snapshots: {snapshots:?}"
    );
    assert!(
        json_event(&viewer.lines(), "connected").is_none(),
        "the viewer reports a connected session"
    );
}
