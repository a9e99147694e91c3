//! Checks of the shared helpers themselves against a real Xvfb.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use tests::image::{count_differences, describe_difference, first_difference};
use tests::process::{ChildGuard, run_ok};
use tests::{Artifacts, Image, TIMEOUT, XServer, test_picture};

#[test]
fn png_round_trip_and_comparison() {
    let a = test_picture(64, 48, 0);
    let b = Image::from_png(&a.to_png()).expect("decode our own PNG");
    assert_eq!(a, b);
    let c = test_picture(64, 48, 1);
    assert!(count_differences(&a, &c) > 0, "variants must differ");
    let d = first_difference(&a, &c).expect("a difference");
    assert_ne!(a.get(d.x, d.y), c.get(d.x, d.y));
    let mut e = a.clone();
    e.set(5, 7, a.get(5, 7) ^ 1);
    assert_eq!(count_differences(&a, &e), 1);
    let d = first_difference(&a, &e).expect("one difference");
    assert_eq!((d.x, d.y), (5, 7));
    assert!(describe_difference(&a, &a).is_none());
    // The picture is deterministic and has many colours.
    assert_eq!(test_picture(64, 48, 0), a);
    let mut colours = a.pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 256, "only {} colours", colours.len());
}

#[test]
fn xvfb_shows_pictures_exactly() {
    let art = Artifacts::new("helpers_xvfb_shows_pictures_exactly");
    let x = XServer::xvfb(&art, 320, 200);
    x.set_root_colour(0x12_3456);
    let shot = x.screenshot_root();
    assert_eq!((shot.width, shot.height), (320, 200));
    assert!(
        shot.pixels.iter().all(|&p| p == 0x12_3456),
        "xsetroot -solid"
    );
    let pic = test_picture(320, 200, 2);
    x.show_picture(&art, "picture", &pic);
    tests::assert_same(&art, "root", &pic, &x.screenshot_root());
}

#[test]
fn xterm_window_is_found_and_captured() {
    let art = Artifacts::new("helpers_xterm_window_is_found_and_captured");
    let x = XServer::xvfb(&art, 640, 400);
    x.set_root_colour(0x00_0000);
    let mut term = x.xterm(&art, "helper-term", "30x5+10+10", "hello remoto");
    let wid = x.wait_window("helper-term");
    let shot = x.screenshot(&wid.to_string());
    assert!(shot.width > 100 && shot.height > 30, "{shot:?}");
    // Text drawn: black glyph pixels on the white background.
    let dark = shot.pixels.iter().filter(|&&p| p == 0).count();
    assert!(dark > 20, "no text pixels in the xterm ({dark})");
    term.assert_running();
}

#[test]
fn child_guard_kills_and_reaps_on_drop() {
    let art = Artifacts::new("helpers_child_guard_kills_and_reaps_on_drop");
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("600");
    let guard = ChildGuard::spawn_logged("sleeper", &mut cmd, art.dir());
    let pid = guard.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(guard);
    // Reaped: no zombie left under that pid (it is gone or reused by another process).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(!stat.contains("(sleep)"), "sleep {pid} still there: {stat}");
    // A command that runs too long is killed.
    let start = Instant::now();
    let err = tests::process::run_with_timeout(
        std::process::Command::new("sleep").arg("600"),
        Duration::from_millis(300),
    )
    .expect_err("must time out");
    assert!(err.contains("did not finish"), "{err}");
    assert!(start.elapsed() < TIMEOUT);
    let out = run_ok(std::process::Command::new("echo").arg("ok"), TIMEOUT);
    assert_eq!(out.stdout_text().trim(), "ok");
}

/// The guard asks first (SIGTERM), so peers can free what they hold
/// (x11vnc's System V shared memory), and kills a process that ignores it.
#[test]
fn child_guard_terminates_before_killing() {
    let art = Artifacts::new("helpers_child_guard_terminates_before_killing");
    let mark = art.path("terminated");
    let mut polite = std::process::Command::new("sh");
    polite.arg("-c").arg(format!(
        "trap 'echo clean > {}; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
        mark.display()
    ));
    let guard = ChildGuard::spawn_logged("polite", &mut polite, art.dir());
    tests::wait_for("the polite child to start", TIMEOUT, || {
        std::fs::read_to_string(art.path("polite.stdout.log"))
            .ok()
            .filter(|s| s.contains("ready"))
    });
    drop(guard);
    assert_eq!(
        std::fs::read_to_string(&mark).unwrap_or_default().trim(),
        "clean",
        "the child did not get SIGTERM before the guard let go"
    );

    let mut stubborn = std::process::Command::new("sh");
    stubborn
        .arg("-c")
        .arg("trap '' TERM; echo ready; while :; do sleep 0.05; done");
    let guard = ChildGuard::spawn_logged("stubborn", &mut stubborn, art.dir());
    let pid = guard.pid();
    tests::wait_for("the stubborn child to start", TIMEOUT, || {
        std::fs::read_to_string(art.path("stubborn.stdout.log"))
            .ok()
            .filter(|s| s.contains("ready"))
    });
    drop(guard);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        !stat.contains("(sh)"),
        "sh {pid} ignoring SIGTERM is still there: {stat}"
    );
}

#[test]
#[should_panic(expected = "install the Debian package `no-such-package`")]
fn missing_tool_fails_naming_the_package() {
    tests::require_tool("remoto-no-such-tool", "no-such-package");
}
