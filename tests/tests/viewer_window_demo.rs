//! The viewer's session window (`viewer/examples/window_demo`) on a private
//! Xvfb (moved here from `viewer/tests/window_xvfb.rs`): the 1:1 screenshot
//! equals the test picture, xdotool input comes out as the expected
//! `WindowInput` lines, and a scaled window maps the pointer back to the
//! framebuffer.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use tests::artifacts::target_dir;
use tests::process::{require_tool, run_ok};
use tests::remoto::{Remoto, workspace_root};
use tests::{Artifacts, Image, TIMEOUT, XServer, assert_same};

/// Builds `viewer/examples/window_demo` (once per process) with the tests'
/// cargo and target directory.
fn demo_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = target_dir();
        let out = Command::new(cargo)
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "-p", "viewer", "--example", "window_demo"])
            .output()
            .expect("run cargo");
        assert!(
            out.status.success(),
            "building window_demo failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug/examples/window_demo")
    })
    .clone()
}

struct Demo {
    proc: Remoto,
    wid: String,
}

fn start_demo(art: &Artifacts, x: &XServer, args: &[&str]) -> Demo {
    require_tool("xdotool", "xdotool");
    let runtime = art.path("xdg");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let mut cmd = x.command(demo_binary());
    cmd.args(args)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("WAYLAND_DISPLAY");
    let proc = Remoto::spawn("window_demo", &mut cmd, art);
    let wid = x.wait_window("test picture").to_string();
    Demo { proc, wid }
}

impl Demo {
    fn xdotool(&self, x: &XServer, args: &[&str]) {
        run_ok(x.command("xdotool").args(args), TIMEOUT);
    }

    fn wait_for(&mut self, line: &str) {
        self.proc.wait_line(line, TIMEOUT, |l| l == line);
    }
}

#[test]
fn window_shows_picture_at_one_to_one_and_reports_input() {
    let art = Artifacts::new("viewer_window_demo_one_to_one");
    let x = XServer::xvfb(&art, 1024, 768);
    let expect = art.path("expect.png");
    let mut demo = start_demo(
        &art,
        &x,
        &["--size", "320x240", "--expect", &expect.to_string_lossy()],
    );
    let expected = tests::wait_for("the demo's expected picture", TIMEOUT, || {
        Image::load(&expect).ok()
    });
    assert_eq!((expected.width, expected.height), (320, 240));

    // Screenshot until the first frame is on screen; then 0 differing pixels.
    let mut last = None;
    let ok = tests::wait::poll_until(TIMEOUT, || {
        let shot = x.try_screenshot(&demo.wid).ok()?;
        let same =
            shot.width == 320 && shot.height == 240 + 20 && shot.crop(0, 0, 320, 240) == expected;
        last = Some(shot);
        same.then_some(())
    });
    if ok.is_err() {
        let shot = last.expect("a screenshot of the window");
        assert_eq!(
            (shot.width, shot.height),
            (320, 260),
            "window is picture + status bar"
        );
        assert_same(&art, "window", &expected, &shot.crop(0, 0, 320, 240));
    }

    // Mouse: move, click, wheel.
    demo.xdotool(&x, &["mousemove", "--window", &demo.wid, "10", "20"]);
    demo.wait_for("1 pointer 10 20 0");
    demo.xdotool(&x, &["click", "1"]);
    demo.wait_for("1 pointer 10 20 1");
    demo.xdotool(&x, &["click", "3"]);
    demo.wait_for("1 pointer 10 20 4");
    demo.xdotool(&x, &["click", "4"]);
    demo.wait_for("1 pointer 10 20 8");
    demo.xdotool(&x, &["click", "5"]);
    demo.wait_for("1 pointer 10 20 16");

    // Keyboard: letters, shift, named keys, a shortcut.
    demo.xdotool(&x, &["windowfocus", "--sync", &demo.wid]);
    demo.xdotool(&x, &["type", "aZ"]);
    demo.wait_for("1 key 0x61 down");
    demo.wait_for("1 key 0x61 up");
    demo.wait_for("1 key 0xffe1 down");
    demo.wait_for("1 key 0x5a down");
    demo.xdotool(&x, &["key", "Return", "F5", "KP_7"]);
    demo.wait_for("1 key 0xff0d down");
    demo.wait_for("1 key 0xffc2 down");
    demo.xdotool(&x, &["key", "ctrl+alt+shift+c"]);
    demo.wait_for("1 request-control");
    demo.xdotool(&x, &["key", "ctrl+alt+shift+End"]);
    demo.wait_for("1 key 0xffff down");

    // Disconnect shortcut: closed, and the demo exits.
    demo.xdotool(&x, &["key", "ctrl+alt+shift+q"]);
    demo.wait_for("1 closed");
    assert!(
        demo.proc.wait_exit(TIMEOUT).is_some(),
        "demo did not exit after disconnect"
    );
}

#[test]
fn scaled_window_maps_pointer_back_to_the_framebuffer() {
    let art = Artifacts::new("viewer_window_demo_scaled");
    let x = XServer::xvfb(&art, 1024, 768);
    let mut demo = start_demo(&art, &x, &["--size", "640x480", "--fit", "--control"]);
    // Half size: content 320x240 + status bar.
    demo.xdotool(&x, &["windowsize", "--sync", &demo.wid, "320", "260"]);
    tests::wait_for("the window to be 320x260", TIMEOUT, || {
        let shot = x.try_screenshot(&demo.wid).ok()?;
        (shot.width == 320 && shot.height == 260).then_some(())
    });
    demo.xdotool(&x, &["mousemove", "--window", &demo.wid, "160", "120"]);
    demo.wait_for("1 pointer 320 240 0");
    demo.xdotool(&x, &["mousemove", "--window", &demo.wid, "319", "239"]);
    demo.wait_for("1 pointer 638 478 0");
    // Scaled picture: top-left bar is white, bottom-right is checkerboard.
    let shot = tests::wait_for("the scaled picture", TIMEOUT, || {
        let shot = x.try_screenshot(&demo.wid).ok()?;
        (shot.get(5, 5) == 0xFF_FFFF && shot.get(315, 5) == 0).then_some(shot)
    });
    shot.save(&art.path("scaled.png"));
    assert_eq!((shot.width, shot.height), (320, 260));
}
