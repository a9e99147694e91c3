//! Hostile file names, end to end, on the customer's receiving side: a
//! scripted malicious technician (written here with the `crypto` crate: the
//! Noise responder with the demo key, then raw sealed frames) listens on a
//! free loopback port and lets the real packed `remoto connect Demo --yes`
//! connect. It offers files named `../../x`, `/tmp/abs`, `a\0b`, `..`, ``,
//! `con\x`, a 10 000-character name, names with control characters, a
//! bidirectional override and bytes that are not UTF-8 — frames that its own
//! `ControlSender` would refuse to send.
//!
//! Each offer must be refused with a typed error (`FileRefuse` on the wire
//! and a `notice: … refused file name "…": why` line on remoto's stdout),
//! accepting it afterwards must find no offer, and nothing may be written:
//! the save folder, its parent, `/tmp/abs`, the working directory's `x`
//! stay as they were. A good name in the same session still arrives with
//! equal bytes (the session survives), and Close ends remoto with status 0.

mod features_common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crypto::control::{ControlMessage, FileName, file_chunks, file_digest};
use crypto::handshake::Responder;
use crypto::hello::{Decision, TechnicianHello};
use crypto::keys::KeyPair;
use crypto::transport::{Channel, Incoming, TransportSender};
use features_common::{connect, demo_key, packed_remoto};
use tests::remoto::{Remoto, workspace_root};
use tests::{Artifacts, TIMEOUT, XServer};

/// The sending half of the malicious technician's secure channel.
#[derive(Clone)]
struct Sender(Arc<Mutex<(TcpStream, TransportSender)>>);

impl Sender {
    /// Seals `payload` on `channel` and writes it.
    fn try_raw(&self, channel: Channel, payload: &[u8]) -> std::io::Result<()> {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (stream, tx) = &mut *g;
        let mut out = Vec::new();
        tx.seal(channel, payload, &mut out)
            .map_err(std::io::Error::other)?;
        stream.write_all(&out)
    }

    fn raw(&self, channel: Channel, payload: &[u8]) {
        self.try_raw(channel, payload).expect("write a frame");
    }

    fn control(&self, m: &ControlMessage) {
        self.raw(Channel::Control, &m.to_bytes().expect("encode"));
    }
}

/// A `FileOffer` encoded by hand: any name bytes.
fn raw_offer(id: u32, name: &[u8], size: u64) -> Vec<u8> {
    let mut v = vec![1, 0x05];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&u16::try_from(name.len()).expect("u16 name").to_be_bytes());
    v.extend_from_slice(name);
    v.extend_from_slice(&size.to_be_bytes());
    v.extend_from_slice(&[0x5a; 32]);
    v
}

/// Accepts remoto's connection, runs the handshake (Accepted), and starts
/// a reader thread (control messages to the channel) and keep-alives.
fn technician(listener: &TcpListener, key: &Path) -> (Sender, mpsc::Receiver<ControlMessage>) {
    let keypair = KeyPair::load(key).expect("demo key");
    listener.set_nonblocking(false).expect("blocking");
    let (mut stream, _) = listener.accept().expect("remoto connects");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    let mut resp = Responder::new(&keypair);
    let mut buf = vec![0u8; 64 * 1024];
    let hello = loop {
        let n = stream.read(&mut buf).expect("read message 1");
        assert!(n > 0, "remoto closed during the handshake");
        if let Some(h) = resp.receive(&buf[..n], None).expect("message 1") {
            break h;
        }
    };
    eprintln!("customer hello: {hello:?}");
    let (reply, est) = resp
        .reply(&TechnicianHello::new("Demo", Decision::Accepted))
        .expect("message 2");
    stream.write_all(&reply).expect("write message 2");
    let mut rx_transport = est.transport.receiver;
    let sender = Sender(Arc::new(Mutex::new((
        stream.try_clone().expect("clone"),
        est.transport.sender,
    ))));
    let (tx, rx) = mpsc::channel();
    stream.set_read_timeout(None).expect("no read timeout");
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if rx_transport.push(&buf[..n]).is_err() {
                return;
            }
            while let Ok(Some(i)) = rx_transport.next_incoming() {
                if let Incoming::Control(m) = i
                    && m != ControlMessage::KeepAlive
                    && tx.send(m).is_err()
                {
                    return;
                }
            }
        }
    });
    // remoto drops a channel that stays silent for 15 s.
    let keep = sender.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(2));
            let ping = ControlMessage::KeepAlive.to_bytes().expect("encode");
            if keep.try_raw(Channel::Control, &ping).is_err() {
                return;
            }
        }
    });
    (sender, rx)
}

/// Waits for a control message matching `pred`; the others are kept.
fn wait_control(
    rx: &mpsc::Receiver<ControlMessage>,
    seen: &mut Vec<ControlMessage>,
    what: &str,
    pred: impl Fn(&ControlMessage) -> bool,
) -> ControlMessage {
    if let Some(i) = seen.iter().position(&pred) {
        return seen.remove(i);
    }
    let deadline = Instant::now() + TIMEOUT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(m) if pred(&m) => return m,
            Ok(m) => seen.push(m),
            Err(_) => break,
        }
    }
    panic!("no {what} from remoto; saw {seen:?}");
}

/// Names (recursively) and sizes under `dir`, sorted.
fn tree(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            if p.is_dir() {
                out.extend(tree(&p));
            }
            out.push((p, len));
        }
    }
    out.sort();
    out
}

/// Whether `p` exists, and its content when it is a file.
fn state(p: &Path) -> (bool, Option<Vec<u8>>) {
    (p.symlink_metadata().is_ok(), std::fs::read(p).ok())
}

#[test]
fn hostile_names_are_refused_and_the_session_survives() {
    let art = Artifacts::new("features_hostile_files");
    let x = XServer::xvfb(&art, 320, 240);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let bin = packed_remoto(&art, port, &["os"]);
    let key = demo_key(&art);

    // The customer's chosen folder, alone in its parent.
    let sandbox = art.path("sandbox");
    let inbox = sandbox.join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let watched = [
        PathBuf::from("/tmp/abs"),
        sandbox.join("x"),
        art.path("x"),
        workspace_root().join("x"),
        workspace_root().join("..").join("x"),
    ];
    let before: Vec<_> = watched.iter().map(|p| state(p)).collect();
    let sandbox_before = tree(&sandbox);

    let mut remoto = Remoto::spawn("remoto", &mut connect(&bin, &x.display(), &[]), &art);
    let (tech, rx) = technician(&listener, &key);
    remoto.wait_line("sharing … encrypted", TIMEOUT, |l| {
        l.starts_with("sharing the screen (encrypted)")
    });
    let mut seen = Vec::new();

    let long = "n".repeat(10_000);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("dot-dot path", b"../../x".to_vec(), "path separator"),
        ("absolute path", b"/tmp/abs".to_vec(), "path separator"),
        ("NUL", b"a\0b".to_vec(), "NUL"),
        ("dot-dot", b"..".to_vec(), "'..'"),
        ("empty", Vec::new(), "empty"),
        ("backslash", b"con\\x".to_vec(), "path separator"),
        (
            "10 000 characters",
            long.into_bytes(),
            "longer than 255 bytes",
        ),
        ("newline", b"report\n.txt".to_vec(), "control character"),
        (
            "escape sequence",
            b"a\x1b[2Jb".to_vec(),
            "control character",
        ),
        ("bell and DEL", b"x\x07\x7f".to_vec(), "control character"),
        (
            "bidirectional override",
            "invoice\u{202e}fdp.exe".as_bytes().to_vec(),
            "bidirectional",
        ),
        ("not UTF-8", b"\xff\xfeboom".to_vec(), "not UTF-8"),
    ];
    for (i, (label, name, why)) in cases.iter().enumerate() {
        let id = 100 + i as u32;
        tech.raw(Channel::Control, &raw_offer(id, name, 5));
        // Refused on the wire...
        wait_control(&rx, &mut seen, &format!("FileRefuse for {label}"), |m| {
            *m == ControlMessage::FileRefuse { id }
        });
        // ...with a typed reason for the customer.
        let line = remoto.wait_line(&format!("refusal notice for {label}"), TIMEOUT, |l| {
            l.starts_with("notice: a file from the technician was refused")
                && l.contains(&format!("file transfer {id}:"))
        });
        assert!(
            line.contains("refused file name") && line.contains(why),
            "{label}: {line}"
        );
        assert!(line.len() < 400, "{label}: the notice is bounded: {line}");
        // Accepting it anyway finds no offer: nothing to write.
        remoto.send(&format!("accept-file {id} {}", inbox.display()));
        remoto.wait_line(&format!("no offer {id}"), TIMEOUT, |l| {
            l.contains(&format!("no file offer {id} is waiting"))
        });
        eprintln!("{label}: {line}");
    }
    assert!(
        !remoto.lines().iter().any(|l| l.starts_with("file offer ")),
        "a hostile name reached the customer as an offer"
    );
    assert_eq!(tree(&sandbox), sandbox_before, "something was written");
    for (p, b) in watched.iter().zip(&before) {
        assert_eq!(&state(p), b, "{} changed", p.display());
    }

    // The session survives: a good name still arrives, bytes equal.
    let content: Vec<u8> = (0..50_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let id = 500;
    tech.control(&ControlMessage::FileOffer {
        id,
        name: FileName::new("good.txt").expect("name"),
        size: content.len() as u64,
        blake2s: file_digest(&content),
    });
    remoto.wait_line("offer of good.txt", TIMEOUT, |l| {
        l.starts_with(&format!("file offer {id}: good.txt ("))
    });
    remoto.send(&format!("accept-file {id} {}", inbox.display()));
    wait_control(&rx, &mut seen, "FileAccept", |m| {
        *m == ControlMessage::FileAccept { id }
    });
    for chunk in file_chunks(id, &content) {
        tech.control(&chunk);
    }
    tech.control(&ControlMessage::FileDone { id });
    let done = remoto.wait_line("good.txt done", TIMEOUT, |l| {
        l.starts_with(&format!("file {id} from technician "))
    });
    assert!(done.contains("good.txt: done"), "{done}");
    assert_eq!(
        std::fs::read(inbox.join("good.txt")).expect("good.txt saved"),
        content
    );
    assert_eq!(
        tree(&sandbox).len(),
        sandbox_before.len() + 1,
        "only good.txt was added"
    );

    remoto.send("close");
    wait_control(&rx, &mut seen, "SessionEnd", |m| {
        matches!(m, ControlMessage::SessionEnd { .. })
    });
    let status = remoto.wait_exit(TIMEOUT).expect("remoto exits after close");
    assert!(
        status.success(),
        "remoto exit: {status:?}\n{}",
        remoto.stderr_text()
    );
}
