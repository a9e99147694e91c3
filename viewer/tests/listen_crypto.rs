//! The real `viewer listen --headless` (without `--accept-all`) against a
//! scripted Remoto customer over loopback: Noise handshake, `pending` then
//! `accept N`, SAS and hello in the `incoming` event, RFB inside the tunnel
//! (snapshot pixels), consent event, input from stdin reaching the
//! customer, customer-side `SessionEnd`, and a log that verifies.

use crypto::control::ControlMessage;
use crypto::hello::{CustomerHello, Decision};
use crypto::tokio_io::{ChannelConfig, InitiatorConfig, PeerHello, connect_initiator};
use rfb::{Framebuffer, Rect, ServerConfig, ServerEvent, ServerSession};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VIEWER: &str = env!("CARGO_BIN_EXE_viewer");

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Lines = Arc<Mutex<Vec<serde_json::Value>>>;

fn wait_event(
    lines: &Lines,
    timeout: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let end = Instant::now() + timeout;
    loop {
        if let Some(e) = lines.lock().unwrap().iter().find(|e| pred(e)) {
            return e.clone();
        }
        assert!(
            Instant::now() < end,
            "event not seen in {timeout:?}; events: {:#?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn snapshot_is(path: &Path, rgb: [u8; 3]) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut r) = png::Decoder::new(std::io::BufReader::new(file)).read_info() else {
        return false;
    };
    let Some(size) = r.output_buffer_size() else {
        return false;
    };
    let mut buf = vec![0; size];
    let Ok(info) = r.next_frame(&mut buf) else {
        return false;
    };
    buf.truncate(info.buffer_size());
    info.width == 64 && info.height == 48 && buf.chunks_exact(3).all(|p| p == rgb)
}

#[test]
fn crypto_customer_pending_accept_session() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = tmp.path().join("technician.key");
    let out = Command::new(VIEWER)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .expect("keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = crypto::KeyPair::load(&key).expect("load key").public;
    let snaps = tmp.path().join("snaps");
    let logs = tmp.path().join("logs");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(VIEWER)
        .args([
            "listen",
            "--headless",
            "--bind",
            "127.0.0.1",
            "--id",
            "Verde",
        ])
        .args(["--port", &port.to_string()])
        .arg("--snapshot-dir")
        .arg(&snaps)
        .arg("--log")
        .arg(&logs)
        .arg("--key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start viewer");
    let stdout = child.stdout.take().expect("stdout");
    let mut stdin = child.stdin.take().expect("stdin");
    let _guard = Killer(child);
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            sink.lock().unwrap().push(v);
        }
    });
    wait_event(&lines, Duration::from_secs(20), |e| {
        e["event"] == "listening"
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tcp = rt
        .block_on(tokio::net::TcpStream::connect(("127.0.0.1", port)))
        .expect("connect");
    let mut hello = CustomerHello::new("0.1.0", "linux");
    hello.computer_name = Some("pc-anna".into());
    let mut channel = rt
        .block_on(connect_initiator(
            tcp,
            InitiatorConfig {
                technician: public,
                hello,
                session_code: None,
                channel: ChannelConfig::default(),
            },
        ))
        .expect("handshake");
    assert_eq!(channel.info.decision, Decision::Pending);
    match &channel.info.peer {
        PeerHello::Technician(t) => assert_eq!(t.technician_id, "Verde"),
        PeerHello::Customer(_) => panic!("wrong peer hello"),
    }
    let incoming = wait_event(&lines, Duration::from_secs(10), |e| {
        e["event"] == "incoming"
    });
    assert_eq!(incoming["mode"], "crypto");
    assert_eq!(incoming["sas"], channel.info.sas.to_string());
    assert_eq!(incoming["customer"]["computer_name"], "pc-anna");
    let session = incoming["session"].as_u64().expect("session");
    wait_event(&lines, Duration::from_secs(10), |e| {
        e["event"] == "pending" && e["session"] == session
    });
    writeln!(stdin, "accept {session}").expect("stdin");
    stdin.flush().expect("flush");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), channel.events.wait_decision()).await
    })
    .expect("decision in time")
    .expect("accepted");

    // The customer: an RFB server with a solid 64×48 screen, inside the tunnel.
    let mut fb = Framebuffer::new(64, 48).expect("fb");
    fb.fill(Rect::new(0, 0, 64, 48), 0x0033_66cc);
    let mut server = ServerSession::new(ServerConfig::new(64, 48, "scripted"));
    let control = channel.control.clone();
    let mut rfb = channel.rfb;
    let keys = rt.block_on(async {
        rfb.write_all(&server.take_output()).await.expect("version");
        control
            .send(ControlMessage::ConsentChanged { control: true })
            .await
            .expect("consent");
        let mut keys = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let end = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut asked = false;
        while keys.len() < 2 {
            let n = tokio::time::timeout_at(end, rfb.read(&mut buf))
                .await
                .expect("keys from the viewer in time")
                .expect("read");
            assert!(n > 0, "viewer closed the tunnel");
            server.receive(&buf[..n]).expect("server receive");
            while let Some(ev) = server.poll_event() {
                if let ServerEvent::Key { down, keysym } = ev {
                    keys.push((down, keysym));
                }
            }
            if server.must_update() {
                server
                    .write_update(&fb, &[], &[], None, false)
                    .expect("update");
            }
            rfb.write_all(&server.take_output()).await.expect("write");
            if !asked && server.is_ready() {
                asked = true;
                let snap = snaps.join(format!("session-{session}.png"));
                let snap_end = Instant::now() + Duration::from_secs(10);
                // Wait for the picture on the technician's side, then type.
                while !snapshot_is(&snap, [0x33, 0x66, 0xcc]) {
                    assert!(
                        Instant::now() < snap_end,
                        "snapshot never showed the screen"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    // Keep answering the viewer meanwhile.
                    if let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_millis(10), rfb.read(&mut buf)).await
                    {
                        server.receive(&buf[..n]).expect("server receive");
                        if server.must_update() {
                            server
                                .write_update(&fb, &[], &[], None, false)
                                .expect("update");
                        }
                        rfb.write_all(&server.take_output()).await.expect("write");
                    }
                }
                writeln!(stdin, "key {session} 0x61").expect("stdin");
                stdin.flush().expect("flush");
            }
        }
        control
            .send(ControlMessage::SessionEnd {
                reason: "customer closed".into(),
            })
            .await
            .expect("end");
        keys
    });
    assert_eq!(keys, vec![(true, 0x61), (false, 0x61)]);

    let control_ev = wait_event(&lines, Duration::from_secs(5), |e| e["event"] == "control");
    assert_eq!(control_ev["allowed"], true);
    let connected = wait_event(&lines, Duration::from_secs(5), |e| {
        e["event"] == "connected"
    });
    assert_eq!(connected["name"], "scripted");
    let ended = wait_event(&lines, Duration::from_secs(10), |e| e["event"] == "ended");
    assert!(
        ended["reason"]
            .as_str()
            .is_some_and(|r| r.contains("customer closed")),
        "{ended}"
    );

    let log = std::fs::read_dir(&logs)
        .expect("logs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .next()
        .expect("a log");
    let out = Command::new(VIEWER)
        .args(["log", "verify"])
        .arg(&log)
        .output()
        .expect("verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&log).expect("read log");
    assert!(
        text.contains(&format!(r#""sas":"{}""#, channel.info.sas)),
        "{text}"
    );
    assert!(text.contains(r#""technician":"Verde""#), "{text}");
    assert!(
        text.contains(r#""kind":"consent","control":true"#),
        "{text}"
    );
    assert!(text.contains(r#""computer_name":"pc-anna""#), "{text}");
}
