//! Soak: a long crypto session (10 minutes by default) from Remoto to
//! `viewer listen --headless` while the customer's screen changes all the
//! time (an xterm scrolling text, and the background changing colour).
//! The RSS of both programs is sampled every 10 s and printed as a curve
//! (also `rss.csv` in the artifacts); memory must stay bounded and, once
//! the changes stop, the viewer's picture must catch up within 10 s (no
//! frame backlog).
//!
//! Not in the default run (it takes minutes):
//!
//! ```text
//! cargo test -p tests --test soak -- --ignored --nocapture
//! REMOTO_SOAK_SECS=60 cargo test -p tests --test soak -- --ignored --nocapture   # shorter
//! ```

use std::time::{Duration, Instant};

use tests::process::{ChildGuard, require_tool};
use tests::remoto::{Remoto, connect_command, rss_kib};
use tests::viewer::{Viewer, ViewerOptions, demo_key, shared_remoto};
use tests::{Artifacts, TIMEOUT, XServer, test_picture};

#[test]
#[ignore = "soak (10 minutes): cargo test -p tests --test soak -- --ignored --nocapture"]
fn soak_ten_minutes() {
    let secs: u64 = std::env::var("REMOTO_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let art = Artifacts::new("soak");
    let key = demo_key(&art);
    let (bin, slot) = shared_remoto();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(slot.port, &key));
    let x = XServer::xvfb(&art, 800, 600);
    x.show_picture(&art, "start", &test_picture(800, 600, 0));
    let mut remoto = Remoto::spawn(
        "remoto",
        &mut connect_command(&bin, &slot.crypto_id, &x.display(), &[], None),
        &art,
    );
    let connected = viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let session = connected["session"].as_u64().expect("session");

    // Continuously changing content: scrolling text in an xterm.
    require_tool("xterm", "xterm");
    let mut cmd = x.command("xterm");
    cmd.args([
        "-geometry",
        "80x24+10+10",
        "-fa",
        "",
        "-fn",
        "fixed",
        "+sb",
        "-e",
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo \"line $i $(date +%T.%N) abcdefghijklmnopqrstuvwxyz\"; sleep 0.02; done",
    ]);
    let mut xterm = ChildGuard::spawn_logged("xterm", &mut cmd, art.dir());

    let start = Instant::now();
    let viewer_pid = viewer.process().pid();
    let mut curve = String::from("seconds,remoto_rss_kib,viewer_rss_kib\n");
    let mut samples: Vec<(u64, u64, u64)> = Vec::new();
    let mut colour = 0u32;
    while start.elapsed() < Duration::from_secs(secs) {
        let t = start.elapsed().as_secs();
        let r = rss_kib(remoto.pid())
            .unwrap_or_else(|| panic!("remoto died during the soak: {}", remoto.stderr_text()));
        let v = rss_kib(viewer_pid).expect("the viewer died during the soak");
        eprintln!("soak t={t:>4}s remoto {r:>7} KiB viewer {v:>7} KiB");
        curve.push_str(&format!("{t},{r},{v}\n"));
        art.write("rss.csv", &curve);
        samples.push((t, r, v));
        colour = (colour + 0x10_2030) & 0xFF_FFFF;
        x.set_root_colour(colour);
        xterm.assert_running();
        std::thread::sleep(Duration::from_secs(10));
    }
    drop(xterm);

    // No backlog: once the screen is still, the viewer catches up quickly.
    x.show_picture(&art, "end", &test_picture(800, 600, 1));
    let end = x.stable_screenshot();
    let t = Instant::now();
    viewer.wait_snapshot(&art, "end", session, &end, Duration::from_secs(10));
    eprintln!(
        "soak: picture caught up {:?} after the changes stopped",
        t.elapsed()
    );

    // Bounded memory: the last sample within 1.5× (+32 MiB) of the one
    // after the first minute (start-up allocations excluded).
    let base = samples
        .iter()
        .find(|s| s.0 >= 60.min(secs / 2))
        .copied()
        .unwrap_or(samples[0]);
    let last = *samples.last().expect("samples");
    for (who, b, l) in [("remoto", base.1, last.1), ("viewer", base.2, last.2)] {
        assert!(
            l <= b * 3 / 2 + 32 * 1024,
            "{who} RSS grew from {b} KiB (t={}s) to {l} KiB (t={}s): see rss.csv",
            base.0,
            last.0
        );
    }
    remoto.send("close");
    let status = remoto.wait_exit(TIMEOUT).expect("remoto did not exit");
    assert_eq!(status.code(), Some(0));
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    viewer.verify_logs(1);
}
