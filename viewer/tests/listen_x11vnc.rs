//! The real `viewer listen --headless` against real peers: x11vnc connecting
//! out of a private Xvfb (snapshot pixels, JSON events, 50 junk connections
//! during the session, input, close, log verification), and a clear
//! connection refused by `--require-crypto`. Skipped (with a message) when
//! Xvfb, x11vnc or xsetroot is missing. Loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const VIEWER: &str = env!("CARGO_BIN_EXE_viewer");

/// Kills and reaps a child we started (by its handle, never by name).
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn start_xvfb() -> (Killer, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "640x480x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Xvfb");
    let mut out = child.stdout.take().expect("Xvfb stdout");
    let guard = Killer(child);
    let mut num = String::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).map(|n| n == 1).unwrap_or(false) && byte[0] != b'\n' {
        num.push(byte[0] as char);
    }
    assert!(!num.trim().is_empty(), "Xvfb gave no display number");
    (guard, format!(":{}", num.trim()))
}

fn xsetroot(display: &str, colour: &str) {
    let ok = Command::new("xsetroot")
        .args(["-solid", colour])
        .env("DISPLAY", display)
        .status()
        .expect("run xsetroot")
        .success();
    assert!(ok, "xsetroot failed");
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("technician.key");
    let out = Command::new(VIEWER)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .expect("run viewer keygen");
    assert!(
        out.status.success(),
        "keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

/// A running `viewer listen --headless` with its stdout lines collected.
struct Viewer {
    _child: Killer,
    stdin: ChildStdin,
    lines: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Viewer {
    fn start(args: &[&str]) -> Viewer {
        let mut child = Command::new(VIEWER)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start viewer");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        let v = Viewer {
            _child: Killer(child),
            stdin,
            lines,
        };
        v.wait_event(Duration::from_secs(20), |e| e["event"] == "listening");
        v
    }

    fn wait_event(
        &self,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let end = Instant::now() + timeout;
        loop {
            if let Some(e) = self.lines.lock().unwrap().iter().find(|e| pred(e)) {
                return e.clone();
            }
            assert!(
                Instant::now() < end,
                "event not seen in {timeout:?}; events: {:#?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write viewer stdin");
        self.stdin.flush().expect("flush viewer stdin");
    }
}

/// Reads an RGB PNG; `None` while it cannot be read.
fn read_png(path: &Path) -> Option<(u32, u32, Vec<u8>)> {
    let file = std::fs::File::open(path).ok()?;
    let dec = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = dec.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    if info.color_type != png::ColorType::Rgb {
        return None;
    }
    buf.truncate(info.buffer_size());
    Some((info.width, info.height, buf))
}

/// Share of pixels equal to `rgb`.
fn share_of(pixels: &[u8], rgb: [u8; 3]) -> f64 {
    let n = pixels.len() / 3;
    let same = pixels.chunks_exact(3).filter(|p| *p == rgb).count();
    same as f64 / n.max(1) as f64
}

fn wait_snapshot_colour(path: &Path, rgb: [u8; 3], timeout: Duration) -> (u32, u32) {
    let end = Instant::now() + timeout;
    let mut last = 0.0;
    loop {
        if let Some((w, h, px)) = read_png(path) {
            last = share_of(&px, rgb);
            if last > 0.99 {
                return (w, h);
            }
        }
        assert!(
            Instant::now() < end,
            "snapshot {} never showed {rgb:02x?} (last share {last:.3})",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tools_present(tools: &[&str]) -> bool {
    for t in tools {
        if !have(t) {
            eprintln!("skipped: {t} is not installed");
            return false;
        }
    }
    true
}

#[test]
fn x11vnc_session_snapshot_junk_close_and_log() {
    if !tools_present(&["Xvfb", "x11vnc", "xsetroot"]) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = keygen(tmp.path());
    let snaps = tmp.path().join("snaps");
    let logs = tmp.path().join("logs");
    let recs = tmp.path().join("recs");
    let port = free_port();
    let port_s = port.to_string();
    let mut viewer = Viewer::start(&[
        "listen",
        "--headless",
        "--accept-all",
        "--port",
        &port_s,
        "--bind",
        "127.0.0.1",
        "--snapshot-dir",
        snaps.to_str().expect("utf-8 path"),
        "--log",
        logs.to_str().expect("utf-8 path"),
        "--record",
        recs.to_str().expect("utf-8 path"),
        "--key",
        key.to_str().expect("utf-8 path"),
    ]);
    let listening = viewer.wait_event(Duration::from_secs(1), |e| e["event"] == "listening");
    assert_eq!(listening["addr"], format!("127.0.0.1:{port}"));

    let (_xvfb, display) = start_xvfb();
    xsetroot(&display, "#3366cc");
    let _x11vnc = Killer(
        Command::new("x11vnc")
            .args([
                "-display",
                &display,
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-rfbport",
                "0",
                "-rfbportv6",
                "-1",
                "-nolookup",
                "-nopw",
                "-nocursor",
                "-quiet",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start x11vnc"),
    );

    let incoming = viewer.wait_event(Duration::from_secs(20), |e| e["event"] == "incoming");
    assert_eq!(incoming["mode"], "clear");
    assert!(incoming["sas"].is_null());
    let session = incoming["session"].as_u64().expect("session number");
    let connected = viewer.wait_event(Duration::from_secs(20), |e| e["event"] == "connected");
    assert_eq!(connected["session"], session);
    assert_eq!(connected["width"], 640);
    assert_eq!(connected["height"], 480);
    assert!(connected["name"].is_string());

    let snap = snaps.join(format!("session-{session}.png"));
    assert_eq!(
        wait_snapshot_colour(&snap, [0x33, 0x66, 0xcc], Duration::from_secs(20)),
        (640, 480)
    );
    viewer.wait_event(Duration::from_secs(5), |e| e["event"] == "update");

    // 50 junk connections: half send random bytes, half stay idle.
    let mut junk = Vec::new();
    let mut seed: u32 = 0x1234_5678;
    for i in 0..50 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        if i % 2 == 0 {
            let bytes: Vec<u8> = (0..256)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed >> 24) as u8
                })
                .collect();
            let _ = s.write_all(&bytes);
        }
        junk.push(s);
    }
    // The real session keeps streaming meanwhile.
    xsetroot(&display, "#cc6633");
    wait_snapshot_colour(&snap, [0xcc, 0x66, 0x33], Duration::from_secs(10));
    viewer.wait_event(Duration::from_secs(5), |e| e["event"] == "rejected");
    drop(junk);

    // Input through the viewer is accepted while the session runs.
    viewer.send(&format!("pointer {session} 0 10 10"));
    viewer.send(&format!("type {session} hi"));

    viewer.send(&format!("close {session}"));
    let ended = viewer.wait_event(Duration::from_secs(10), |e| {
        e["event"] == "ended" && e["session"] == session
    });
    assert_eq!(ended["reason"], "closed by the technician");

    let log = std::fs::read_dir(&logs)
        .expect("log dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a session log");
    let out = Command::new(VIEWER)
        .args(["log", "verify"])
        .arg(&log)
        .output()
        .expect("run viewer log verify");
    assert!(
        out.status.success(),
        "log verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).expect("read log");
    assert!(text.contains(r#""kind":"session_start""#), "{text}");
    assert!(text.contains(r#""mode":"clear""#), "{text}");
    assert!(
        text.contains(r#""reason":"closed by the technician""#),
        "{text}"
    );

    // The recording exports to PNG frames whose last one is the new colour.
    let rec = std::fs::read_dir(&recs)
        .expect("recording dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "fbs"))
        .expect("a recording");
    let frames = tmp.path().join("frames");
    let out = Command::new(VIEWER)
        .arg("export")
        .arg(&rec)
        .arg("--png")
        .arg(&frames)
        .output()
        .expect("run viewer export");
    assert!(
        out.status.success(),
        "export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pngs: Vec<_> = std::fs::read_dir(&frames)
        .expect("frames dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    pngs.sort();
    let last = pngs.last().expect("at least one frame");
    let (_, _, px) = read_png(last).expect("readable frame");
    assert!(share_of(&px, [0xcc, 0x66, 0x33]) > 0.99);
}

#[test]
fn require_crypto_refuses_clear() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = keygen(tmp.path());
    let port = free_port();
    let port_s = port.to_string();
    let logs = tmp.path().join("logs");
    let viewer = Viewer::start(&[
        "listen",
        "--headless",
        "--accept-all",
        "--require-crypto",
        "--port",
        &port_s,
        "--bind",
        "127.0.0.1",
        "--log",
        logs.to_str().expect("utf-8 path"),
        "--key",
        key.to_str().expect("utf-8 path"),
    ]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    s.write_all(b"RFB 003.008\n").expect("send version");
    let mut buf = [0u8; 64];
    // Closed without a byte of RFB from the viewer.
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the viewer answered a clear connection");
    let rejected = viewer.wait_event(Duration::from_secs(5), |e| e["event"] == "rejected");
    assert!(
        rejected["reason"]
            .as_str()
            .is_some_and(|r| r.contains("requires crypto")),
        "{rejected}"
    );
    assert!(
        !viewer
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "incoming"),
        "a refused connection became a session"
    );
}

#[test]
fn missing_key_is_explained() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(VIEWER)
        .args([
            "listen",
            "--headless",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--key",
        ])
        .arg(tmp.path().join("nope.key"))
        .output()
        .expect("run viewer");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run `viewer keygen`"), "{err}");
}
