//! The secure channel under attack, end to end: a man in the middle between
//! the real `remoto connect` (crypto technician) and the real
//! `viewer listen --headless` alters, replays or cuts Noise frames in
//! either direction, or the customer's Remoto was made for another
//! technician key (cases of ../shared/hostile-inputs.md, "Noise framing and
//! handshake"). Every case must end with the typed reason on the side that
//! noticed, no panic on either side, no RFB byte leaving Remoto before the
//! technician is proven, and the viewer still serving the next customer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tests::net::free_port;
use tests::remoto::{Remoto, workspace_root};
use tests::viewer::{TechnicianEntry, Viewer, ViewerOptions, keygen, packed_remoto, team_profile};
use tests::{Artifacts, TIMEOUT, XServer};

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Remoto → viewer (frame 0 is handshake message 1).
    Up,
    /// Viewer → Remoto (frame 0 is handshake message 2).
    Down,
}

/// What the man in the middle does to frame `frame` of direction `dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    /// Forward everything unchanged.
    None,
    /// Flip one bit in the frame's body.
    Flip { dir: Dir, frame: usize },
    /// Forward the frame twice.
    Replay { dir: Dir, frame: usize },
    /// Forward half of the frame, then hang up on both sides.
    Truncate { dir: Dir, frame: usize },
}

impl Attack {
    fn hits(self, d: Dir, n: usize) -> Option<Attack> {
        match self {
            Attack::Flip { dir, frame }
            | Attack::Replay { dir, frame }
            | Attack::Truncate { dir, frame }
                if dir == d && frame == n =>
            {
                Some(self)
            }
            _ => None,
        }
    }
}

/// What one direction carried.
#[derive(Debug, Default)]
struct Carried {
    /// Bodies of the complete frames read from the sender (before the attack).
    frames: Vec<usize>,
    /// Bytes read after the last complete frame (a partial frame).
    trailing: usize,
}

/// Reads one frame (2-byte big-endian length, body); `None` at the end.
fn read_frame(src: &mut TcpStream, trailing: &mut usize) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    src.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    if src.read_exact(&mut body).is_err() {
        *trailing += 2;
        return None;
    }
    let mut frame = len.to_vec();
    frame.extend_from_slice(&body);
    Some(frame)
}

/// Copies frames from `src` to `dst`, applying `attack`; the preamble (8
/// bytes) goes first when `preamble`.
fn pump(
    mut src: TcpStream,
    mut dst: TcpStream,
    dir: Dir,
    attack: Attack,
    preamble: bool,
) -> Carried {
    let mut carried = Carried::default();
    if preamble {
        let mut p = [0u8; crypto::wire::PREAMBLE_LEN];
        if src.read_exact(&mut p).is_err() || dst.write_all(&p).is_err() {
            let _ = dst.shutdown(Shutdown::Write);
            return carried;
        }
    }
    let mut n = 0;
    while let Some(mut frame) = read_frame(&mut src, &mut carried.trailing) {
        carried.frames.push(frame.len() - 2);
        let sent = match attack.hits(dir, n) {
            Some(Attack::Flip { .. }) => {
                let i = 2 + (frame.len() - 2) / 2;
                frame[i] ^= 0x10;
                dst.write_all(&frame)
            }
            Some(Attack::Replay { .. }) => {
                dst.write_all(&frame).and_then(|_| dst.write_all(&frame))
            }
            Some(Attack::Truncate { .. }) => {
                let _ = dst.write_all(&frame[..frame.len() / 2]);
                let _ = dst.shutdown(Shutdown::Both);
                let _ = src.shutdown(Shutdown::Both);
                return carried;
            }
            _ => dst.write_all(&frame),
        };
        if sent.is_err() {
            break;
        }
        n += 1;
    }
    let _ = dst.shutdown(Shutdown::Write);
    carried
}

/// A one-connection man in the middle on a free loopback port.
struct Mitm {
    port: u16,
    /// The address the viewer sees the connection come from.
    viewer_side: mpsc::Receiver<SocketAddr>,
    done: thread::JoinHandle<(Carried, Carried)>,
}

impl Mitm {
    fn start(viewer: SocketAddr, attack: Attack) -> Mitm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the MITM");
        let port = listener.local_addr().expect("MITM address").port();
        let (tx, viewer_side) = mpsc::channel();
        let done = thread::spawn(move || {
            let (customer, _) = listener.accept().expect("remoto connects to the MITM");
            let upstream = TcpStream::connect(viewer).expect("MITM connects to the viewer");
            let _ = tx.send(upstream.local_addr().expect("local address"));
            for s in [&customer, &upstream] {
                s.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
                s.set_nodelay(true).expect("nodelay");
            }
            let (c2, u2) = (
                customer.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
            );
            let down = thread::spawn(move || pump(u2, c2, Dir::Down, attack, false));
            let up = pump(customer, upstream, Dir::Up, attack, true);
            let down = down.join().expect("downstream pump");
            (up, down)
        });
        Mitm {
            port,
            viewer_side,
            done,
        }
    }
}

/// How a case ended on each side.
struct Outcome {
    /// The viewer's reason (`ended` or `rejected`), if it reported one.
    viewer_reason: Option<String>,
    /// Whether the viewer reported the session as connected (RFB running).
    viewer_connected: bool,
    remoto_exit: Option<i32>,
    remoto_stderr: String,
    up: Carried,
    down: Carried,
}

/// The viewer's final word on the connection from `peer`.
fn viewer_reason(viewer: &Viewer, peer: &str) -> Option<String> {
    let events = viewer.events();
    let session = events
        .iter()
        .find(|e| e["event"] == "incoming" && e["peer"] == peer)
        .and_then(|e| e["session"].as_u64());
    events
        .iter()
        .find(|e| {
            (e["event"] == "rejected" && e["peer"] == peer)
                || (session.is_some() && e["event"] == "ended" && e["session"].as_u64() == session)
        })
        .and_then(|e| e["reason"].as_str().map(str::to_owned))
}

fn run_case(
    art: &Artifacts,
    x: &XServer,
    viewer: &mut Viewer,
    public: &str,
    name: &str,
    attack: Attack,
    linger: Duration,
) -> Outcome {
    let target: SocketAddr = viewer.addr.parse().expect("viewer address");
    let mitm = Mitm::start(target, attack);
    let profile = team_profile(
        &[TechnicianEntry::crypto(
            "Cripto",
            &format!("127.0.0.1:{}", mitm.port),
            public,
        )],
        "",
    );
    let bin = packed_remoto(art, &format!("remoto-{name}"), &profile);
    let mut cmd = Command::new(&bin);
    cmd.args(["connect", "Cripto", "--yes", "--display", &x.display()])
        .env_remove("DISPLAY")
        .current_dir(workspace_root());
    let mut proc = Remoto::spawn(&format!("remoto-{name}"), &mut cmd, art);
    let peer = mitm
        .viewer_side
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("{name}: remoto never reached the MITM"));
    let peer = peer.to_string();
    // A session that survives the attack is closed by the customer after a while.
    let status = match proc.wait_exit(linger) {
        Some(s) => Some(s),
        None => {
            proc.send("close");
            proc.wait_exit(TIMEOUT)
        }
    };
    let status = status.unwrap_or_else(|| panic!("{name}: remoto did not exit"));
    let (up, down) = mitm.done.join().expect("MITM thread");
    let deadline = Instant::now() + TIMEOUT;
    let mut reason = viewer_reason(viewer, &peer);
    while reason.is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        reason = viewer_reason(viewer, &peer);
    }
    let connected = viewer.events().iter().any(|e| {
        e["event"] == "connected"
            && viewer.events().iter().any(|i| {
                i["event"] == "incoming"
                    && i["peer"] == peer.as_str()
                    && i["session"] == e["session"]
            })
    });
    let stderr = proc.stderr_text();
    art.write(
        &format!("{name}.txt"),
        format!(
            "attack {attack:?}\nremoto exit {:?}\nremoto stderr:\n{stderr}\nviewer reason: {reason:?}\nup frames {:?} (+{} B)\ndown frames {:?} (+{} B)\n",
            status.code(),
            up.frames,
            up.trailing,
            down.frames,
            down.trailing
        ),
    );
    assert!(
        !stderr.contains("panicked"),
        "{name}: remoto panicked:\n{stderr}"
    );
    Outcome {
        viewer_reason: reason,
        viewer_connected: connected,
        remoto_exit: status.code(),
        remoto_stderr: stderr,
        up,
        down,
    }
}

#[test]
fn crypto_attacks_end_with_typed_errors() {
    let art = Artifacts::new("crypto_mitm");
    let x = XServer::xvfb(&art, 320, 240);
    let (key, public) = keygen(&art, "technician");
    let (_other_key, other_public) = keygen(&art, "other-technician");
    let port = free_port();
    let mut viewer = Viewer::start(&art, "viewer", &ViewerOptions::loopback(port, &key));
    let (right, wrong) = (public.as_str(), other_public.as_str());
    let short = Duration::from_secs(3);

    // 1. A Remoto made for another technician key: the viewer cannot read
    //    message 1 and says so; Remoto sent nothing but message 1.
    let o = run_case(
        &art,
        &x,
        &mut viewer,
        wrong,
        "wrong-key",
        Attack::None,
        short,
    );
    let r = o.viewer_reason.clone().unwrap_or_default();
    assert!(
        r.contains("another technician key"),
        "wrong-key: viewer reason {r:?}"
    );
    assert_eq!(
        o.up.frames.len(),
        1,
        "wrong-key: remoto sent {:?}",
        o.up.frames
    );
    assert_ne!(o.remoto_exit, Some(0), "wrong-key: remoto exit 0");

    // 2. Message 2 altered: Remoto refuses the impostor before any RFB byte.
    let o = run_case(
        &art,
        &x,
        &mut viewer,
        right,
        "flip-msg2",
        Attack::Flip {
            dir: Dir::Down,
            frame: 0,
        },
        short,
    );
    assert!(
        o.remoto_stderr.contains("not the technician"),
        "flip-msg2: remoto stderr:\n{}",
        o.remoto_stderr
    );
    assert_eq!(
        o.up.frames.len(),
        1,
        "flip-msg2: remoto sent {:?}",
        o.up.frames
    );
    assert_ne!(o.remoto_exit, Some(0), "flip-msg2: remoto exit 0");

    // 3–5. Transport frames from Remoto altered, replayed, cut: the viewer
    //      ends the session with the authentication error (or, for the cut,
    //      a closed connection) and never shows it as a working session.
    for (name, attack, want) in [
        (
            "flip-up",
            Attack::Flip {
                dir: Dir::Up,
                frame: 1,
            },
            "failed authentication",
        ),
        (
            "replay-up",
            Attack::Replay {
                dir: Dir::Up,
                frame: 1,
            },
            "failed authentication",
        ),
        (
            "cut-up",
            Attack::Truncate {
                dir: Dir::Up,
                frame: 1,
            },
            "closed",
        ),
    ] {
        let o = run_case(&art, &x, &mut viewer, right, name, attack, short);
        let r = o.viewer_reason.clone().unwrap_or_default();
        assert!(
            r.contains(want),
            "{name}: viewer reason {r:?} (want {want:?})"
        );
        assert!(
            !o.viewer_connected,
            "{name}: the viewer ran RFB over a broken channel"
        );
    }

    // 6. A transport frame from the viewer altered: Remoto stops with the
    //    authentication error.
    let o = run_case(
        &art,
        &x,
        &mut viewer,
        right,
        "flip-down",
        Attack::Flip {
            dir: Dir::Down,
            frame: 1,
        },
        short,
    );
    assert!(
        o.remoto_stderr.contains("failed authentication"),
        "flip-down: remoto stderr:\n{}",
        o.remoto_stderr
    );
    assert_ne!(o.remoto_exit, Some(0), "flip-down: remoto exit 0");

    // 7. After all that, an honest Remoto through the same (now passive)
    //    middle still gets a working session: nothing leaked between sessions.
    let o = run_case(&art, &x, &mut viewer, right, "honest", Attack::None, short);
    assert!(
        o.viewer_connected,
        "honest: no working session after the attacks"
    );
    assert!(
        o.down.frames.len() > 1 && o.up.frames.len() > 1,
        "honest: {:?} {:?}",
        o.up.frames,
        o.down.frames
    );
    let stderr = viewer.process().stderr_text();
    assert!(
        !stderr.contains("panicked"),
        "the viewer panicked:\n{stderr}"
    );
    viewer.process().guard().assert_running();
}
