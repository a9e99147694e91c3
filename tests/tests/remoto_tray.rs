//! Remoto's tray icon (XEmbed system tray, remoto/src/tray.rs) under Xvfb
//! with a real tray host (`trayer`, Debian package `trayer`): once a
//! session runs, the icon is docked in the tray (reparented into the host);
//! clicking it opens the menu, and "Close Remoto" ends the session like the
//! panel's Close. Without a tray host no icon window exists, while the
//! panel is there regardless.
//!
//! Needs: Xvfb (xvfb), xdotool, imagemagick, trayer, x11-utils (xwininfo).

mod gui_support;

use gui_support::{
    TECHNICIAN, centre_of, click, colour, start_gui, viewer_and_remoto, window_shot, xdotool,
};
use tests::process::{require_tool, run_ok};
use tests::{Artifacts, TIMEOUT, XServer, wait_for};

const ICON_NAME: &str = "sharing with";

/// The parent window of `id` (`xwininfo -tree`).
fn parent_of(x: &XServer, id: u64) -> u64 {
    require_tool("xwininfo", "x11-utils");
    let out = run_ok(
        x.command("xwininfo")
            .args(["-tree", "-id", &id.to_string()]),
        TIMEOUT,
    )
    .stdout_text();
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Parent window id: "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no parent in xwininfo output:\n{out}"))
}

fn root_of(x: &XServer) -> u64 {
    let out = run_ok(x.command("xwininfo").args(["-root"]), TIMEOUT).stdout_text();
    out.lines()
        .find_map(|l| l.split("Window id: ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no root id in:\n{out}"))
}

/// Double-clicks the selected technician and waits for the panel.
fn connect_by_picker(art: &Artifacts, x: &XServer) -> (u64, tests::Image) {
    let (picker, shot) = window_shot(art, x, "System test$", "picker.png");
    let row = centre_of(&shot, colour::SELECTED, 40).expect("a selected technician row");
    click(x, picker, row, 2);
    window_shot(art, x, &format!("Technician {TECHNICIAN}$"), "panel.png")
}

#[test]
fn tray_icon_docks_and_closes_the_session() {
    let art = Artifacts::new("remoto_tray");
    let x = XServer::xvfb(&art, 800, 600);
    x.set_root_colour(0x336699);
    let (_host, _) = x.tray_host(&art);
    let (mut viewer, bin) = viewer_and_remoto(&art);
    let mut remoto = start_gui(&art, &x, &bin);
    connect_by_picker(&art, &x);
    viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");

    let icon = x.wait_window(ICON_NAME);
    let root = root_of(&x);
    wait_for(
        "the icon to be docked (reparented by the host)",
        TIMEOUT,
        || (parent_of(&x, icon) != root).then_some(()),
    );
    x.screenshot_root().save(&art.path("tray-docked.png"));

    click(&x, icon, (6, 6), 1);
    let menu = x.wait_window("Remoto tray menu");
    x.screenshot_root().save(&art.path("tray-menu.png"));
    // First item: Close Remoto.
    click(&x, menu, (20, 10), 1);
    let ended = viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    let reason = ended["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains("customer"),
        "the viewer did not see the customer close: {reason}"
    );
    window_shot(&art, &x, "Session ended$", "receipt.png");
    wait_for("the icon to go away", TIMEOUT, || {
        x.find_windows(ICON_NAME).is_empty().then_some(())
    });
    xdotool(&x, &["key", "Escape"]);
    remoto.guard().kill();
}

#[test]
fn no_tray_host_no_icon_panel_regardless() {
    let art = Artifacts::new("remoto_tray_absent");
    let x = XServer::xvfb(&art, 640, 480);
    x.set_root_colour(0x336699);
    let (mut viewer, bin) = viewer_and_remoto(&art);
    let mut remoto = start_gui(&art, &x, &bin);
    let (panel, shot) = connect_by_picker(&art, &x);
    viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        x.find_windows(ICON_NAME).is_empty(),
        "a tray icon window exists without a tray host"
    );
    let close = centre_of(&shot, colour::RED, 30).expect("the Close button");
    click(&x, panel, close, 1);
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    remoto.guard().kill();
}
