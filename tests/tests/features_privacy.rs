//! Privacy controls end to end on a real X display: `share-window XID`
//! blacks out everything but one window *before* encoding (the technician's
//! snapshot is black outside the window, the window's pixels arrive), the
//! mask follows the window when it moves (`xdotool windowmove`); `pause`
//! shows the technician the "paused" picture; `resume` shares everything
//! again; the viewer reports each change (`sharing` event) and logs it.

mod features_common;

use features_common::*;
use tests::process::{require_tool, run_ok};
use tests::remoto::Remoto;
use tests::{Artifacts, Image, TIMEOUT, XServer};

const W: u32 = 320;
const H: u32 = 240;
const ROOT: u32 = 0x3366cc;
/// remoto::privacy::PAUSED_BACKGROUND.
const PAUSED: u32 = 0x303040;

/// (x, y, w, h) of the inside of window `id`, from `xwininfo`.
fn geometry(x: &XServer, id: u64) -> (u32, u32, u32, u32) {
    let out = run_ok(
        x.command("xwininfo").args(["-id", &id.to_string()]),
        TIMEOUT,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> u32 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in xwininfo:\n{text}"))
    };
    // xwininfo's upper-left corner is the outside of the window border;
    // the window's pixels start one border width further in.
    let border = field("Border width:");
    (
        field("Absolute upper-left X:") + border,
        field("Absolute upper-left Y:") + border,
        field("Width:"),
        field("Height:"),
    )
}

/// Counts (black outside, non-black outside, non-black inside, inside) of `img` for rect `r`.
fn census(img: &Image, r: (u32, u32, u32, u32)) -> (usize, usize, usize, usize) {
    let (rx, ry, rw, rh) = r;
    let (mut bo, mut no, mut ni, mut inside) = (0, 0, 0, 0);
    for y in 0..img.height {
        for x in 0..img.width {
            let p = img.get(x, y) & 0xff_ffff;
            let is_in = x >= rx && x < rx + rw && y >= ry && y < ry + rh;
            if is_in {
                inside += 1;
                if p != 0 {
                    ni += 1;
                }
            } else if p == 0 {
                bo += 1;
            } else {
                no += 1;
            }
        }
    }
    (bo, no, ni, inside)
}

/// Waits until the viewer's snapshot shows only the window at `r`.
fn wait_window_only(art: &Artifacts, snap: &std::path::Path, r: (u32, u32, u32, u32), label: &str) {
    let mut last = None;
    let ok = tests::wait::poll_until(TIMEOUT, || {
        let img = Image::load(snap).ok()?;
        let (_, non_black_outside, non_black_inside, inside) = census(&img, r);
        let good = non_black_outside == 0 && non_black_inside * 2 > inside;
        last = Some(img);
        good.then_some(())
    });
    if ok.is_err() {
        let img = last.expect("a snapshot");
        img.save(&art.path(&format!("{label}.png")));
        panic!(
            "{label}: snapshot is not 'window {r:?} only': {:?}",
            census(&img, r)
        );
    }
    if let Some(img) = last {
        img.save(&art.path(&format!("{label}.png")));
    }
}

#[test]
fn share_window_follows_it_and_pause() {
    require_tool("xwininfo", "x11-utils");
    require_tool("xdotool", "xdotool");
    let art = Artifacts::new("features_privacy_share_window");
    let x = XServer::xvfb(&art, W, H);
    x.set_root_colour(ROOT);
    x.hide_pointer(&art);
    let _term = x.xterm(&art, "shared-window", "16x4+30+20", "only this");
    let id = x.wait_window("shared-window");
    let r1 = geometry(&x, id);
    let port = tests::net::free_port();
    let bin = packed_remoto(&art, port, &["os"]);
    let mut viewer = start_viewer(&art, port);
    let mut remoto = Remoto::spawn("remoto", &mut connect(&bin, &x.display(), &[]), &art);
    wait_connected(&mut remoto, &mut viewer);
    let snap = viewer.snaps.join("session-1.png");

    // Everything is shared first: the blue root is visible.
    tests::wait::wait_for("full desktop at the technician", TIMEOUT, || {
        let img = Image::load(&snap).ok()?;
        (img.get(W - 5, H - 5) & 0xff_ffff == ROOT).then_some(())
    });

    remoto.send(&format!("share-window {id:#x}"));
    let ev = wait_event(&mut viewer, "sharing", |_| true);
    assert!(
        ev["state"]
            .as_str()
            .is_some_and(|s| s.starts_with("window ")),
        "{ev}"
    );
    wait_window_only(&art, &snap, r1, "window-only");

    // The window moves: the mask follows, the old place is black.
    run_ok(
        x.command("xdotool")
            .args(["windowmove", &id.to_string(), "170", "140"]),
        TIMEOUT,
    );
    let r2 = tests::wait::wait_for("the window to move", TIMEOUT, || {
        let g = geometry(&x, id);
        (g != r1).then_some(g)
    });
    wait_window_only(&art, &snap, r2, "window-moved");

    // Pause: the paused picture, nothing of the desktop.
    remoto.send("pause");
    wait_event(&mut viewer, "sharing", |v| v["state"] == "paused");
    tests::wait::wait_for("the paused picture", TIMEOUT, || {
        let img = Image::load(&snap).ok()?;
        let paused = (0..img.height)
            .flat_map(|y| (0..img.width).map(move |x| (x, y)))
            .filter(|&(px, py)| img.get(px, py) & 0xff_ffff == PAUSED)
            .count();
        (paused * 2 > (W * H) as usize).then_some(())
    });
    Image::load(&snap)
        .expect("snapshot")
        .save(&art.path("paused.png"));

    // Resume: everything again.
    remoto.send("resume");
    wait_event(&mut viewer, "sharing", |v| v["state"] == "all");
    tests::wait::wait_for("full desktop again", TIMEOUT, || {
        let img = Image::load(&snap).ok()?;
        (img.get(5, H - 5) & 0xff_ffff == ROOT).then_some(())
    });

    remoto.send("close");
    remoto.wait_exit(TIMEOUT).expect("remoto exits");
    wait_event(&mut viewer, "ended", |_| true);
    let logs = viewer_logs(&viewer);
    let report = viewer_log(&["show"], &logs[0]);
    assert!(report.contains("sharing: paused"), "{report}");
    assert!(report.contains("sharing: window 0x"), "{report}");
}
