//! The tray icon of the windowed `Remoto.exe` (remoto/src/platform/windows/tray.rs,
//! `Shell_NotifyIconW`) under wine on Xvfb with a real XEmbed tray host
//! (`trayer`): wine's explorer docks notification icons into the X system
//! tray, as a window of class `explorer.exe` reparented into the host.
//!
//! Picker → Connect: while the session runs an icon is docked; clicking it
//! opens Remoto's popup menu (an unnamed, small `remoto.exe` window) and its
//! first item "Close Remoto" ends the session like the panel's Close (the
//! viewer sees the customer close); the icon goes away with the session,
//! while the receipt is still shown; its Exit ends the process, and no
//! icon is left behind.
//!
//! Wine 8 now and then (one docking in three here) docks an icon window
//! that never paints nor answers clicks; restarting the tray host makes
//! wine dock the icon again, and that one works. Such a docking is logged
//! and the tray host restarted (3 dockings per Remoto.exe, 3 Remoto.exe
//! starts at most; the test fails after).
//! Under wine the icon also goes away when its owner window is destroyed
//! or the process ends, with or without `NIM_DELETE` (Windows Explorer
//! would leave a ghost icon): the test proves the icon leaves with the
//! session, not that `NIM_DELETE` was sent.
//!
//! Not checked here: the tooltip text (wine's docked icon window carries
//! no name; the tooltip only shows on hover) and the icon's pixels.
//!
//! Needs: wine, wine64, mingw (see tests/src/wine.rs), Xvfb, xdotool,
//! imagemagick, trayer, x11-utils (xwininfo).

mod gui_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gui_support::{centre_of, click, colour, window_shot, xdotool};
use tests::process::{require_tool, run_ok};
use tests::remoto::{Remoto, viewer_bin};
use tests::viewer::{TechnicianEntry, Viewer, ViewerOptions, demo_key, team_profile};
use tests::wine;
use tests::{Artifacts, TIMEOUT, XServer, wait_for};

/// How long a wine start may take on a loaded CI machine.
const WINE_TIMEOUT: Duration = Duration::from_secs(60);

/// The windows of wine's tray icons docked in the tray host `panel`
/// (`explorer.exe` windows among its descendants, from `xwininfo -tree`).
fn docked_icons(x: &XServer, panel: u64) -> Vec<u64> {
    let out = run_ok(
        x.command("xwininfo")
            .args(["-tree", "-id", &panel.to_string()]),
        TIMEOUT,
    )
    .stdout_text();
    out.lines()
        .filter(|l| l.contains("(\"explorer.exe\""))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|id| u64::from_str_radix(id.trim_start_matches("0x"), 16).ok())
        .collect()
}

/// The visible, unnamed, menu-sized (under 400×300) top-level windows of
/// class `remoto.exe` (wine names the class after the program): Remoto's
/// popup menu.
fn remoto_popups(x: &XServer) -> Vec<u64> {
    let visible: Vec<u64> = xdotool(x, &["search", "--onlyvisible", "--class", "."])
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let tree = run_ok(x.command("xwininfo").args(["-root", "-children"]), TIMEOUT).stdout_text();
    tree.lines()
        .filter(|l| l.contains("(has no name): (\"remoto.exe\""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let id = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
            let size = words.find(|w| w.contains('x') && w.contains('+'))?;
            let (w, rest) = size.split_once('x')?;
            let h = rest.split('+').next()?;
            let small = w.parse::<u32>().ok()? < 400 && h.parse::<u32>().ok()? < 300;
            (small && visible.contains(&id)).then_some(id)
        })
        .collect()
}

/// Waits for the window named `name` to show a button of `colour` (wine
/// maps a new window before its first frame is drawn, so a screenshot can
/// still hold what was below); saves the screenshot as `file` and returns
/// the window and the button's centre.
fn wait_button(
    art: &Artifacts,
    x: &XServer,
    name: &str,
    colour: u32,
    file: &str,
) -> (u64, (u32, u32)) {
    let id = x.wait_window(name);
    let (shot, at) = wait_for(&format!("a button in window {name:?}"), TIMEOUT, || {
        let shot = x.try_screenshot(&id.to_string()).ok()?;
        let at = centre_of(&shot, colour, 30)?;
        Some((shot, at))
    });
    shot.save(&art.path(file));
    (id, at)
}

#[test]
fn tray_icon_docks_menu_closes_no_ghost() {
    require_tool("xwininfo", "x11-utils");
    let art = Artifacts::new("wine_tray");
    let port = tests::net::free_port();
    let ep = format!("127.0.0.1:{port}");
    let toml = art.write(
        "Remoto.toml",
        team_profile(&[TechnicianEntry::clear("Win-Clear", &ep)], ""),
    );
    let exe = art.path("Remoto.exe");
    run_ok(
        Command::new(viewer_bin())
            .args(["profile", "pack", "--binary"])
            .arg(wine::remoto_exe())
            .arg("--profile")
            .arg(&toml)
            .arg("--out")
            .arg(&exe),
        TIMEOUT,
    );

    let x = XServer::xvfb(&art, 800, 600);
    let (mut host, mut panel) = x.tray_host(&art);
    let key = demo_key(&art);
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(port, &key));

    let _turn = wine::lock();
    let prefix = wine::prefix();
    // Wine 8 now and then (one docking in three here) docks an icon window
    // that never paints nor answers clicks (an empty grey square in
    // trayer), whatever the program. A new tray host makes wine dock the
    // icon again, which then works: each Remoto.exe gets up to DOCKINGS
    // dockings (the tray host restarted between them), and up to ATTEMPTS
    // Remoto.exe starts are made; every failed docking is logged, and the
    // test fails when none gives a menu.
    const ATTEMPTS: u64 = 3;
    const DOCKINGS: u32 = 3;
    let mut attempt = 0;
    let (mut remoto, menu) = 'attempts: loop {
        attempt += 1;
        // A fresh wineserver, so that wine's desktop and tray follow this
        // display.
        prefix.stop_server();
        let mut cmd = prefix.command(&exe, Some(&x.display()));
        let mut remoto = Remoto::spawn(&format!("remoto-gui-{attempt}"), &mut cmd, &art);
        let (picker, connect) = wait_button(&art, &x, "System test$", colour::ACCENT, "picker.png");
        assert!(
            docked_icons(&x, panel).is_empty(),
            "a tray icon before any session"
        );
        click(&x, picker, connect, 1);
        viewer.wait_event("connected", WINE_TIMEOUT, |e| {
            e["event"] == "connected" && e["session"] == attempt
        });
        window_shot(&art, &x, "Technician Win-Clear$", "panel.png");
        for docking in 1..=DOCKINGS {
            let icon = wait_for("the tray icon docked in trayer", TIMEOUT, || {
                docked_icons(&x, panel).into_iter().next()
            });
            wait_for("the docked icon to be mapped", TIMEOUT, || {
                let info = run_ok(
                    x.command("xwininfo").args(["-id", &icon.to_string()]),
                    TIMEOUT,
                );
                info.stdout_text().contains("IsViewable").then_some(())
            });
            x.screenshot_root().save(&art.path("tray-docked.png"));
            assert!(remoto_popups(&x).is_empty(), "a popup before the click");
            // Click the icon (again when no menu came: a click can be lost
            // while wine is still setting up the docked window).
            let menu = tests::wait::poll_until(Duration::from_secs(8), || {
                if let Some(m) = remoto_popups(&x).first() {
                    return Some(*m);
                }
                click(&x, icon, (8, 8), 1);
                std::thread::sleep(Duration::from_millis(1500));
                remoto_popups(&x).first().copied()
            });
            let waited = match menu {
                Ok(menu) => break 'attempts (remoto, menu),
                Err(waited) => waited,
            };
            let name = format!("tray-no-menu-{attempt}-{docking}");
            x.screenshot_root().save(&art.path(&format!("{name}.png")));
            let tree = run_ok(x.command("xwininfo").args(["-root", "-tree"]), TIMEOUT);
            art.write(&format!("{name}.txt"), tree.stdout_text());
            eprintln!(
                "Remoto.exe {attempt}, docking {docking}: the docked icon gave no menu \
                 within {waited:?} ({name}.png); restarting the tray host"
            );
            host.kill();
            (host, panel) = x.tray_host(&art);
        }
        assert!(
            attempt < ATTEMPTS,
            "no tray menu from {DOCKINGS} dockings of each of {ATTEMPTS} Remoto.exe starts \
             (tray-no-menu-N-M.png, tray-no-menu-N-M.txt)"
        );
        eprintln!("Remoto.exe {attempt}: no docking gave a menu; starting Remoto.exe again");
        remoto.guard().kill();
        viewer.wait_event("ended", TIMEOUT, |e| {
            e["event"] == "ended" && e["session"] == attempt
        });
    };
    x.screenshot_root().save(&art.path("tray-menu.png"));
    let tree = run_ok(x.command("xwininfo").args(["-root", "-tree"]), TIMEOUT);
    art.write("tray-menu.txt", tree.stdout_text());
    // The first item: Close Remoto.
    click(&x, menu, (30, 10), 1);
    let ended = viewer.wait_event("ended", TIMEOUT, |e| {
        e["event"] == "ended" && e["session"] == attempt
    });
    let reason = ended["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains("customer"),
        "the viewer did not see the customer close: {reason}"
    );

    // The icon goes with the session, while Remoto still runs.
    let (receipt, exit) = wait_button(&art, &x, "Session ended$", colour::ACCENT, "receipt.png");
    wait_for("the tray icon to go away", TIMEOUT, || {
        docked_icons(&x, panel).is_empty().then_some(())
    });
    remoto.guard().assert_running();
    x.screenshot_root().save(&art.path("tray-gone.png"));

    click(&x, receipt, exit, 1);
    let status = remoto
        .wait_exit(WINE_TIMEOUT)
        .expect("Remoto.exe exits after the receipt");
    assert_eq!(status.code(), Some(0), "exit status {status}");
    let pid = remoto.pid();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the wine process {pid} still exists"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        docked_icons(&x, panel).is_empty(),
        "a ghost tray icon after Remoto.exe ended"
    );
    prefix.stop_server();
}
