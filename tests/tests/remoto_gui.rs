//! The windowed Remoto driven as a customer would, under Xvfb: started
//! without arguments (a copy packed with a profile whose technician points
//! at a headless viewer on a free loopback port), a double-click on the
//! technician row of the picker connects; the always-on-top panel appears
//! and the viewer's snapshot equals the customer's screen; Close in the
//! panel ends the session (the viewer sees the end), the receipt appears,
//! and its Exit button ends the process with status 0.
//!
//! Screenshots of the picker, the panel and the receipt are kept as
//! artifacts (`picker.png`, `panel.png`, `receipt.png`). The test also prints
//! Remoto's RSS during the session and its CPU use over 3 s of a still
//! screen (from /proc).
//!
//! Needs: Xvfb (xvfb), xdotool, imagemagick.

mod gui_support;

use std::time::{Duration, Instant};

use gui_support::{
    TECHNICIAN, centre_of, click, colour, start_gui, viewer_and_remoto, window_shot,
};
use tests::remoto::rss_kib;
use tests::{Artifacts, Image, TIMEOUT, XServer, test_picture};

/// CPU time (user + system, clock ticks) of process `pid`.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[test]
fn picker_double_click_panel_close() {
    let art = Artifacts::new("remoto_gui");
    let x = XServer::xvfb(&art, 800, 600);
    x.show_picture(&art, "desktop", &test_picture(800, 600, 7));
    let (mut viewer, bin) = viewer_and_remoto(&art);
    let mut remoto = start_gui(&art, &x, &bin);

    let (picker, shot) = window_shot(&art, &x, "System test$", "picker.png");
    let row = centre_of(&shot, colour::SELECTED, 40).expect("a selected technician row");
    assert!(
        viewer.events().iter().all(|e| e["event"] != "incoming"),
        "connected before the double-click"
    );
    click(&x, picker, row, 2);

    viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let (panel, panel_shot) =
        window_shot(&art, &x, &format!("Technician {TECHNICIAN}$"), "panel.png");
    assert!(
        x.find_windows("System test$").is_empty(),
        "the picker is still open during the session"
    );

    // The viewer sees the customer's screen (panel included). The panel's
    // clock ticks every second: compare a fresh screenshot each time.
    let snap = viewer.snapshot_path(1);
    let mut last = None;
    let same = tests::wait::poll_until(TIMEOUT, || {
        let screen = x.screenshot_root();
        let img = Image::load(&snap).ok()?;
        let ok = img == screen;
        last = Some((screen, img));
        ok.then_some(())
    });
    if same.is_err() {
        let (screen, img) = last.expect("a snapshot");
        tests::assert_same(&art, "snapshot", &screen, &img);
    }

    let pid = remoto.pid();
    let rss = rss_kib(pid).expect("remoto's RSS");
    let t0 = cpu_ticks(pid).expect("remoto's CPU time");
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let t1 = cpu_ticks(pid).expect("remoto's CPU time");
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let cpu = (t1 - t0) as f64 / ticks_per_sec / started.elapsed().as_secs_f64() * 100.0;
    eprintln!(
        "remoto (debug build) during an 800x600 session: RSS {rss} KiB, CPU {cpu:.1}% over 3 s with a still screen"
    );

    // Close in the panel ends the session.
    let close = centre_of(&panel_shot, colour::RED, 30).expect("the Close button");
    click(&x, panel, close, 1);
    let ended = viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    let reason = ended["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains("customer"),
        "the viewer did not see the customer close: {reason}"
    );
    let (receipt, receipt_shot) = window_shot(&art, &x, "Session ended$", "receipt.png");
    assert!(
        x.find_windows(&format!("Technician {TECHNICIAN}$"))
            .is_empty(),
        "the panel is still open after Close"
    );
    let exit = centre_of(&receipt_shot, colour::ACCENT, 30).expect("the Exit button");
    click(&x, receipt, exit, 1);
    let status = remoto
        .wait_exit(TIMEOUT)
        .expect("remoto exits after the receipt");
    assert_eq!(
        status.code(),
        Some(0),
        "remoto exit status; stderr:\n{}",
        remoto.stderr_text()
    );
}
