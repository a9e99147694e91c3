//! Stock VNC peers (x11vnc, TigerVNC and TightVNC viewers, socat relay,
//! vncdotool and its listening helper `tests/python/vnc_listen.py`),
//! started the way `shared/interop.md` describes, each under a [`ChildGuard`].

use std::path::Path;
use std::time::Duration;

use crate::artifacts::Artifacts;
use crate::net;
use crate::process::{ChildGuard, require_tool, run_with_timeout};
use crate::wait::TIMEOUT;
use crate::x11::XServer;

/// Starts `x11vnc` on `display`, connecting out (reverse) to
/// `127.0.0.1:port`, listening on nothing, without cursor or damage
/// tricks (it polls the screen, so background changes are seen).
pub fn x11vnc_connect(artifacts: &Artifacts, display: &XServer, port: u16) -> ChildGuard {
    let x11vnc = require_tool("x11vnc", "x11vnc");
    let mut cmd = std::process::Command::new(x11vnc);
    cmd.args([
        "-display",
        &display.display(),
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-rfbport",
        "0",
        "-rfbportv6",
        "-1",
        "-nolookup",
        "-nopw",
        "-nocursor",
        "-noxdamage",
        "-noxfixes",
        "-nowf",
        "-noscr",
        "-nowcr",
        "-nobell",
        "-nosel",
        "-noprimary",
        "-nosetclipboard",
        "-noclipboard",
        "-once",
        "-norc",
        "-quiet",
        "-noipv6",
    ]);
    ChildGuard::spawn_logged("x11vnc", &mut cmd, artifacts.dir())
}

/// The encodings TigerVNC's viewer can be told to prefer.
pub const TIGER_PREFERRED: [&str; 4] = ["raw", "hextile", "zrle", "tight"];

/// Starts `xtigervncviewer -listen port` on `display` (one reverse session,
/// exits when it ends), preferring `encoding`, full colour, no JPEG, no
/// auto-selection; waits until it listens.
pub fn tigervnc_listen(
    artifacts: &Artifacts,
    display: &XServer,
    port: u16,
    encoding: &str,
) -> ChildGuard {
    tigervnc_listen_with(
        artifacts,
        display,
        port,
        &[
            "-AutoSelect=0",
            "-FullColor=1",
            "-NoJPEG=1",
            &format!("-PreferredEncoding={encoding}"),
        ],
    )
}

/// Starts `xtigervncviewer -listen port` on `display` with the common
/// options (no reconnect, no alerts, no menu key, shared, no dot cursor)
/// plus `options` (encoding, JPEG, quality…); waits until it listens.
pub fn tigervnc_listen_with(
    artifacts: &Artifacts,
    display: &XServer,
    port: u16,
    options: &[&str],
) -> ChildGuard {
    let viewer = require_tool("xtigervncviewer", "tigervnc-viewer");
    let mut cmd = display.command(viewer);
    cmd.args([
        "-listen",
        &port.to_string(),
        "-ReconnectOnError=0",
        "-AlertOnFatalError=0",
        "-MenuKey=",
        "-Shared=1",
        "-DotWhenNoCursor=0",
    ])
    .args(options);
    let mut guard = ChildGuard::spawn_logged("xtigervncviewer", &mut cmd, artifacts.dir());
    crate::wait::wait_for(
        &format!("xtigervncviewer to listen on {port}"),
        TIMEOUT,
        || {
            guard.assert_running();
            net::is_listening(port).then_some(())
        },
    );
    guard
}

/// A `socat` relay between two loopback listening ports (for stock clients
/// that cannot listen: our server connects to `server_port`, the client to
/// `client_port`).
pub struct Relay {
    /// Where the RFB server connects.
    pub server_port: u16,
    /// Where the RFB client connects.
    pub client_port: u16,
    /// The socat process.
    pub guard: ChildGuard,
}

/// Starts a one-shot socat relay between two free loopback ports and waits
/// until the first one listens (socat opens the second after the first
/// connection arrives).
pub fn socat_relay(artifacts: &Artifacts) -> Relay {
    socat_relay_on(artifacts, net::free_port())
}

/// Like [`socat_relay`], with the server side on `server_port`.
pub fn socat_relay_on(artifacts: &Artifacts, server_port: u16) -> Relay {
    let socat = require_tool("socat", "socat");
    let client_port = loop {
        let p = net::free_port();
        if p != server_port {
            break p;
        }
    };
    let mut cmd = std::process::Command::new(socat);
    cmd.args([
        "-d",
        "-d",
        &format!("TCP-LISTEN:{server_port},bind=127.0.0.1,reuseaddr"),
        &format!("TCP-LISTEN:{client_port},bind=127.0.0.1,reuseaddr"),
    ]);
    let mut guard = ChildGuard::spawn_logged("socat", &mut cmd, artifacts.dir());
    crate::wait::wait_for(
        &format!("socat to listen on {server_port}"),
        TIMEOUT,
        || {
            guard.assert_running();
            net::is_listening(server_port).then_some(())
        },
    );
    Relay {
        server_port,
        client_port,
        guard,
    }
}

/// Runs `vncdo -s 127.0.0.1::port capture out` and returns once the PNG is
/// written (panics with vncdo's stderr when it fails or times out).
pub fn vncdo_capture(port: u16, out: &Path) {
    let vncdo = require_tool("vncdo", "python3 package vncdotool (pip install vncdotool)");
    let mut cmd = std::process::Command::new(vncdo);
    cmd.args(["-s", &format!("127.0.0.1::{port}"), "capture"])
        .arg(out);
    let output =
        run_with_timeout(&mut cmd, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        output.status.success(),
        "vncdo capture failed with {}: {}",
        output.status,
        output.stderr_text()
    );
}

/// Starts `xtightvncviewer -listen N` (TightVNC's viewer listens on
/// 5500+N, so `port` must be above 5500) on `display`, asking only for
/// `encodings` (e.g. `"hextile"`), without JPEG or cursor-shape updates;
/// waits until it listens. It forks one child per connection: the
/// returned [`crate::process::ChildGuard`] is the listener; kill the
/// children with [`kill_descendants`].
pub fn tightvnc_listen(
    artifacts: &Artifacts,
    display: &XServer,
    port: u16,
    encodings: &str,
) -> ChildGuard {
    assert!(
        port > 5500,
        "xtightvncviewer listens on 5500+N: port {port}"
    );
    let viewer = require_tool("xtightvncviewer", "xtightvncviewer");
    let mut cmd = display.command(viewer);
    cmd.args([
        "-encodings",
        encodings,
        "-nojpeg",
        "-truecolour",
        "-nocursorshape",
        "-listen",
        &(port - 5500).to_string(),
    ]);
    let mut guard = ChildGuard::spawn_logged("xtightvncviewer", &mut cmd, artifacts.dir());
    crate::wait::wait_for(
        &format!("xtightvncviewer to listen on {port}"),
        TIMEOUT,
        || {
            guard.assert_running();
            net::is_listening(port).then_some(())
        },
    );
    guard
}

/// Kills (SIGKILL) every descendant of `pid`: processes a peer we started
/// forked (e.g. `xtightvncviewer -listen`), found by parent PID.
pub fn kill_descendants(pid: u32) {
    for child in crate::remoto::descendants_of(pid) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &child.to_string()])
            .status();
    }
}

/// The listening vncdotool helper (`tests/python/vnc_listen.py`) on
/// `127.0.0.1:port`, asking for `encoding`, playing `steps` (see the
/// script's doc); its stdout lines are collected ("listening", "connected",
/// and the `say` lines). Waits until it listens.
pub fn vncdotool_listen(
    artifacts: &Artifacts,
    port: u16,
    encoding: &str,
    steps: &[&str],
) -> crate::remoto::Remoto {
    let python = require_tool("python3", "python3");
    let check = run_with_timeout(
        std::process::Command::new(&python).args(["-c", "import vncdotool, twisted, PIL"]),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        check.status.success(),
        "the Python package vncdotool is not installed (pip install vncdotool): {}",
        check.stderr_text()
    );
    let script = crate::remoto::workspace_root().join("tests/python/vnc_listen.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg("-u")
        .arg(script)
        .args(["--port", &port.to_string(), "--encoding", encoding])
        .args(["--timeout", "90", "--"])
        .args(steps);
    let mut helper = crate::remoto::Remoto::spawn("vnc_listen", &mut cmd, artifacts);
    helper.wait_line("listening", TIMEOUT, |l| l.starts_with("listening "));
    helper
}
