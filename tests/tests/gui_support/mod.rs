//! What `remoto_gui.rs` and `remoto_tray.rs` share: the windowed Remoto
//! (packed with a one-technician profile pointing at a headless viewer on a
//! free loopback port), finding buttons on screenshots by their colour, and
//! clicking with xdotool.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

use tests::process::{require_tool, run_ok};
use tests::remoto::{Remoto, workspace_root};
use tests::viewer::{
    TechnicianEntry, Viewer, ViewerOptions, demo_key, demo_public_key, packed_remoto, team_profile,
};
use tests::{Artifacts, Image, TIMEOUT, XServer};

/// Colours of remoto's UI (remoto/src/ui/render.rs).
pub mod colour {
    /// A selected picker row.
    pub const SELECTED: u32 = 0xE1ECFA;
    /// A danger button (the panel's Close).
    pub const RED: u32 = 0xC62828;
    /// A primary button (the receipt's Exit).
    pub const ACCENT: u32 = 0x2563A8;
}

/// The technician's ID in the test profile.
pub const TECHNICIAN: &str = "Verde";

/// A headless viewer (demo key, `--accept-all`) on a free port and a
/// Remoto packed with one crypto technician [`TECHNICIAN`] pointing at it.
pub fn viewer_and_remoto(art: &Artifacts) -> (Viewer, PathBuf) {
    let port = tests::net::free_port();
    let key = demo_key(art);
    let viewer = Viewer::start(art, "viewer", &ViewerOptions::loopback(port, &key));
    let ep = format!("127.0.0.1:{port}");
    let bin = packed_remoto(
        art,
        "Remoto",
        &team_profile(
            &[TechnicianEntry::crypto(TECHNICIAN, &ep, &demo_public_key())],
            "",
        ),
    );
    (viewer, bin)
}

/// Starts the windowed Remoto (no arguments) on `display`.
pub fn start_gui(art: &Artifacts, display: &XServer, bin: &PathBuf) -> Remoto {
    let runtime = art.path("xdg-runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod runtime dir");
    let mut cmd = display.command(bin);
    cmd.env("XDG_RUNTIME_DIR", runtime)
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .current_dir(workspace_root());
    Remoto::spawn("remoto-gui", &mut cmd, art)
}

/// Runs xdotool on `display`.
pub fn xdotool(display: &XServer, args: &[&str]) -> String {
    require_tool("xdotool", "xdotool");
    run_ok(display.command("xdotool").args(args), TIMEOUT).stdout_text()
}

/// The horizontal runs of `colour` at least `min_run` pixels long, as
/// `(y, first x, last x)`, top to bottom and left to right.
pub fn colour_runs(img: &Image, colour: u32, min_run: u32) -> Vec<(u32, u32, u32)> {
    let mut runs = Vec::new();
    for y in 0..img.height {
        let mut x = 0;
        while x < img.width {
            if img.get(x, y) != colour {
                x += 1;
                continue;
            }
            let start = x;
            while x < img.width && img.get(x, y) == colour {
                x += 1;
            }
            if x - start >= min_run {
                runs.push((y, start, x - 1));
            }
        }
    }
    runs
}

/// The centre of the pixels of `colour` that lie in horizontal runs of at
/// least `min_run` pixels (a filled area, not text), or `None`.
pub fn centre_of(img: &Image, colour: u32, min_run: u32) -> Option<(u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (y, a, b) in colour_runs(img, colour, min_run) {
        x0 = x0.min(a);
        x1 = x1.max(b);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    (x0 <= x1).then(|| ((x0 + x1) / 2, (y0 + y1) / 2))
}

/// Waits for a window named `name` (regex) on `display`, screenshots it
/// into `<file>` and returns its id and the picture.
pub fn window_shot(art: &Artifacts, display: &XServer, name: &str, file: &str) -> (u64, Image) {
    let id = display.wait_window(name);
    // Let it draw its first frame.
    let shot = tests::wait_for(&format!("window {name:?} drawn"), TIMEOUT, || {
        let a = display.try_screenshot(&id.to_string()).ok()?;
        std::thread::sleep(std::time::Duration::from_millis(300));
        let b = display.try_screenshot(&id.to_string()).ok()?;
        (a == b && a.pixels.iter().any(|&p| p != 0)).then_some(b)
    });
    shot.save(&art.path(file));
    (id, shot)
}

/// Moves the pointer into window `id` at `(x, y)` and clicks button 1
/// `clicks` times.
pub fn click(display: &XServer, id: u64, (x, y): (u32, u32), clicks: u32) {
    xdotool(
        display,
        &[
            "mousemove",
            "--window",
            &id.to_string(),
            &x.to_string(),
            &y.to_string(),
        ],
    );
    xdotool(
        display,
        &[
            "click",
            "--repeat",
            &clicks.to_string(),
            "--delay",
            "120",
            "1",
        ],
    );
}
