//! The tokio adapter end to end over in-memory pipes.

mod common;

use common::*;
use crypto::handshake::HandshakeError;
use crypto::tokio_io::{ChannelConfig, PeerHello};
use crypto::{
    ChannelError, ConnectError, ControlMessage, Decision, InitiatorConfig, KeyPair, Mode,
    PREAMBLE_LEN, Responder, ResponderConfig, SecureChannel, SessionCodes, TechnicianHello,
    TransportError, accept_responder, connect_initiator,
};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// A stream that records every byte written to it.
struct Recorder {
    inner: DuplexStream,
    log: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Recorder {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.log.lock().unwrap().extend_from_slice(&buf[..*n]);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn init_cfg(tech: &crypto::PublicKey) -> InitiatorConfig {
    InitiatorConfig {
        technician: *tech,
        hello: hello(),
        session_code: None,
        channel: ChannelConfig::default(),
    }
}

fn resp_cfg(kp: &KeyPair) -> ResponderConfig {
    ResponderConfig {
        keypair: kp.clone(),
        codes: None,
        channel: ChannelConfig::default(),
    }
}

async fn connect(
    tech: &KeyPair,
    icfg: InitiatorConfig,
    rcfg: ResponderConfig,
    decision: Decision,
) -> (
    Result<SecureChannel, ConnectError>,
    Result<SecureChannel, ConnectError>,
    Arc<Mutex<Vec<u8>>>,
) {
    let _ = tech;
    let (a, b) = tokio::io::duplex(1 << 20);
    let log = Arc::new(Mutex::new(Vec::new()));
    let rec = Recorder {
        inner: a,
        log: log.clone(),
    };
    let resp = tokio::spawn(async move {
        accept_responder(b, &[], &rcfg, move |h, _mode| {
            assert_eq!(h, &hello());
            TechnicianHello::new("Verde", decision)
        })
        .await
    });
    let i = connect_initiator(rec, icfg).await;
    let r = resp.await.unwrap();
    (i, r, log)
}

#[tokio::test]
async fn accepted_session_carries_rfb_and_control_both_ways() {
    let tech = KeyPair::generate().unwrap();
    let (i, r, _) = connect(
        &tech,
        init_cfg(&tech.public),
        resp_cfg(&tech),
        Decision::Accepted,
    )
    .await;
    let (mut i, mut r) = (i.unwrap(), r.unwrap());
    assert_eq!(i.info.sas, r.info.sas);
    assert_eq!(i.info.mode, Mode::Ik);
    assert!(
        matches!(&r.info.peer, PeerHello::Customer(h) if h.computer_name.as_deref() == Some("pc-anna"))
    );
    assert!(matches!(&i.info.peer, PeerHello::Technician(h) if h.technician_id == "Verde"));
    // RFB: server speaks first, then a large update from the client side.
    i.rfb.write_all(b"RFB 003.008\n").await.unwrap();
    let mut v = [0u8; 12];
    r.rfb.read_exact(&mut v).await.unwrap();
    assert_eq!(&v, b"RFB 003.008\n");
    let big: Vec<u8> = (0..300_000u32).map(|x| x as u8).collect();
    let big2 = big.clone();
    let mut rrfb = r.rfb;
    let w = tokio::spawn(async move {
        rrfb.write_all(&big2).await.unwrap();
        rrfb
    });
    let mut got = vec![0u8; big.len()];
    i.rfb.read_exact(&mut got).await.unwrap();
    assert_eq!(got, big);
    let _rrfb = w.await.unwrap();
    // Control both ways.
    i.control
        .send(ControlMessage::Chat {
            text: "ciao".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        r.events.recv().await.unwrap(),
        ControlMessage::Chat {
            text: "ciao".into()
        }
    );
    r.control
        .send(ControlMessage::ConsentChanged { control: true })
        .await
        .unwrap();
    assert_eq!(
        i.events.recv().await.unwrap(),
        ControlMessage::ConsentChanged { control: true }
    );
    // Invalid outgoing messages are refused locally.
    assert!(matches!(
        i.control
            .send(ControlMessage::Chat {
                text: "x".repeat(5000)
            })
            .await,
        Err(ChannelError::Control(_))
    ));
    // Ending: the responder drops everything, the initiator learns it.
    drop(_rrfb);
    drop(r.control);
    drop(r.events);
    assert!(matches!(i.events.recv().await, Err(ChannelError::Closed)));
}

#[tokio::test]
async fn pending_then_accept_holds_rfb_until_accept() {
    let tech = KeyPair::generate().unwrap();
    let (i, r, _) = connect(
        &tech,
        init_cfg(&tech.public),
        resp_cfg(&tech),
        Decision::Pending,
    )
    .await;
    let (mut i, mut r) = (i.unwrap(), r.unwrap());
    assert_eq!(i.info.decision, Decision::Pending);
    // Remoto already writes its version string: it must be held back.
    i.rfb.write_all(b"RFB 003.008\n").await.unwrap();
    let mut v = [0u8; 12];
    let early = tokio::time::timeout(Duration::from_millis(300), r.rfb.read_exact(&mut v)).await;
    assert!(early.is_err(), "RFB bytes left before Accept");
    r.control.send(ControlMessage::Accept).await.unwrap();
    i.events.wait_decision().await.unwrap();
    r.rfb.read_exact(&mut v).await.unwrap();
    assert_eq!(&v, b"RFB 003.008\n");
}

#[tokio::test]
async fn pending_then_refuse_sends_no_rfb_byte() {
    let tech = KeyPair::generate().unwrap();
    let (i, r, _) = connect(
        &tech,
        init_cfg(&tech.public),
        resp_cfg(&tech),
        Decision::Pending,
    )
    .await;
    let (mut i, mut r) = (i.unwrap(), r.unwrap());
    i.rfb.write_all(b"RFB 003.008\n").await.unwrap();
    r.control
        .send(ControlMessage::Refuse {
            reason: "wrong caller".into(),
        })
        .await
        .unwrap();
    match i.events.wait_decision().await {
        Err(ChannelError::Refused(reason)) => assert_eq!(reason, "wrong caller"),
        other => panic!("{other:?}"),
    }
    drop(i);
    // The viewer sees the connection end without one RFB byte.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), r.rfb.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn wrong_key_fails_on_both_sides_and_sends_no_rfb() {
    let tech = KeyPair::generate().unwrap();
    let other = KeyPair::generate().unwrap();
    // Remoto pins `other`; the listening viewer has `tech`.
    let (i, r, log) = connect(
        &tech,
        init_cfg(&other.public),
        resp_cfg(&tech),
        Decision::Accepted,
    )
    .await;
    assert!(
        matches!(i, Err(ConnectError::ClosedDuringHandshake)),
        "{i:?}"
    );
    assert!(
        matches!(r, Err(ConnectError::Handshake(HandshakeError::WrongKey))),
        "{r:?}"
    );
    let msg = i.unwrap_err().to_string();
    assert!(msg.contains("wrong technician key"), "{msg}");
    // Exactly the preamble and message 1 left the initiator.
    let wrote = log.lock().unwrap().clone();
    let len = u16::from_be_bytes([wrote[PREAMBLE_LEN], wrote[PREAMBLE_LEN + 1]]) as usize;
    assert_eq!(wrote.len(), PREAMBLE_LEN + 2 + len);
}

#[tokio::test]
async fn impostor_viewer_is_refused_by_the_initiator() {
    // A viewer that is not the technician answers with its own message 2.
    let tech = KeyPair::generate().unwrap();
    let impostor = KeyPair::generate().unwrap();
    let (a, mut b) = tokio::io::duplex(1 << 16);
    let log = Arc::new(Mutex::new(Vec::new()));
    let rec = Recorder {
        inner: a,
        log: log.clone(),
    };
    let imp = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        let n = b.read(&mut buf).await.unwrap();
        let mut resp = Responder::new(&impostor);
        // It cannot read message 1 ...
        assert_eq!(resp.receive(&buf[..n], None), Err(HandshakeError::WrongKey));
        // ... so it answers with message 2 of a handshake of its own.
        let (_x, m1) = crypto::Initiator::start(&impostor.public, &hello(), None).unwrap();
        let mut own = Responder::new(&impostor);
        own.receive(&m1, None).unwrap().unwrap();
        let (m2, _) = own
            .reply(&TechnicianHello::new("Verde", Decision::Accepted))
            .unwrap();
        b.write_all(&m2).await.unwrap();
        b
    });
    let i = connect_initiator(rec, init_cfg(&tech.public)).await;
    assert!(
        matches!(
            i,
            Err(ConnectError::Handshake(HandshakeError::NotTheTechnician))
        ),
        "{i:?}"
    );
    let _b = imp.await.unwrap();
    let wrote = log.lock().unwrap().clone();
    let len = u16::from_be_bytes([wrote[PREAMBLE_LEN], wrote[PREAMBLE_LEN + 1]]) as usize;
    assert_eq!(
        wrote.len(),
        PREAMBLE_LEN + 2 + len,
        "nothing after message 1"
    );
}

#[tokio::test]
async fn session_code_right_and_wrong() {
    let tech = KeyPair::generate().unwrap();
    let codes = Arc::new(Mutex::new(SessionCodes::new(tech.public)));
    let code = codes.lock().unwrap().issue().unwrap();
    let mut rcfg = resp_cfg(&tech);
    rcfg.codes = Some(codes.clone());
    let mut icfg = init_cfg(&tech.public);
    icfg.session_code = Some(code);
    let (i, r, _) = connect(&tech, icfg.clone(), rcfg.clone(), Decision::Accepted).await;
    let (i, r) = (i.unwrap(), r.unwrap());
    assert_eq!(i.info.mode, Mode::IkPsk1);
    assert_eq!(i.info.sas, r.info.sas);
    // Used up: the same code again fails on both sides.
    let (i, r, log) = connect(&tech, icfg.clone(), rcfg.clone(), Decision::Accepted).await;
    assert!(
        matches!(i, Err(ConnectError::ClosedDuringHandshake)),
        "{i:?}"
    );
    assert!(
        matches!(
            r,
            Err(ConnectError::Handshake(HandshakeError::WrongSessionCode))
        ),
        "{r:?}"
    );
    let wrote = log.lock().unwrap().clone();
    let len = u16::from_be_bytes([wrote[PREAMBLE_LEN], wrote[PREAMBLE_LEN + 1]]) as usize;
    assert_eq!(wrote.len(), PREAMBLE_LEN + 2 + len);
}

#[tokio::test]
async fn detection_bytes_are_passed_to_the_responder() {
    let tech = KeyPair::generate().unwrap();
    let (mut a, mut b) = tokio::io::duplex(1 << 16);
    let rcfg = resp_cfg(&tech);
    let resp = tokio::spawn(async move {
        // A listener reads the first bytes to tell clear from crypto.
        let mut first = vec![0u8; 5];
        b.read_exact(&mut first).await.unwrap();
        assert_eq!(crypto::detect(&first), crypto::Detection::NeedMore);
        let mut more = vec![0u8; 5];
        b.read_exact(&mut more).await.unwrap();
        first.extend_from_slice(&more);
        assert_eq!(crypto::detect(&first), crypto::Detection::Crypto(Mode::Ik));
        accept_responder(b, &first, &rcfg, |_, _| {
            TechnicianHello::new("Verde", Decision::Accepted)
        })
        .await
    });
    let (ini_end, _keep) = (&mut a, ());
    let _ = ini_end;
    let i = connect_initiator(a, init_cfg(&tech.public)).await.unwrap();
    let r = resp.await.unwrap().unwrap();
    assert_eq!(i.info.sas, r.info.sas);
}

#[tokio::test(start_paused = true)]
async fn stalled_initiator_is_dropped_at_the_deadline() {
    let tech = KeyPair::generate().unwrap();
    let (mut a, b) = tokio::io::duplex(1 << 16);
    // A valid preamble, then nothing (slowloris).
    a.write_all(&crypto::preamble(Mode::Ik)).await.unwrap();
    let mut cfg = resp_cfg(&tech);
    cfg.channel.handshake_timeout = Duration::from_secs(10);
    let start = tokio::time::Instant::now();
    let r = accept_responder(b, &[], &cfg, |_, _| {
        TechnicianHello::new("V", Decision::Accepted)
    })
    .await;
    assert!(
        matches!(r, Err(ConnectError::Timeout(d)) if d == Duration::from_secs(10)),
        "{r:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(10));
    drop(a);
}

#[tokio::test(start_paused = true)]
async fn one_byte_per_second_is_dropped_at_the_deadline() {
    let tech = KeyPair::generate().unwrap();
    let (mut a, b) = tokio::io::duplex(1 << 16);
    let (_init, m1) = crypto::Initiator::start(&tech.public, &hello(), None).unwrap();
    let drip = tokio::spawn(async move {
        for byte in m1 {
            if a.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let r = accept_responder(b, &[], &resp_cfg(&tech), |_, _| {
        TechnicianHello::new("V", Decision::Accepted)
    })
    .await;
    assert!(matches!(r, Err(ConnectError::Timeout(_))), "{r:?}");
    drip.abort();
}

#[tokio::test(start_paused = true)]
async fn silent_responder_times_out_the_initiator() {
    let tech = KeyPair::generate().unwrap();
    let (a, _b) = tokio::io::duplex(1 << 16);
    let i = connect_initiator(a, init_cfg(&tech.public)).await;
    assert!(matches!(i, Err(ConnectError::Timeout(_))), "{i:?}");
}

/// A hand-driven responder: completes the handshake over `b` and returns
/// the raw transport so the test can misbehave.
async fn raw_responder(tech: &KeyPair, mut b: DuplexStream) -> (DuplexStream, crypto::Established) {
    let mut resp = Responder::new(tech);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = b.read(&mut buf).await.unwrap();
        if resp.receive(&buf[..n], None).unwrap().is_some() {
            break;
        }
    }
    let (m2, est) = resp
        .reply(&TechnicianHello::new("Verde", Decision::Accepted))
        .unwrap();
    b.write_all(&m2).await.unwrap();
    (b, est)
}

#[tokio::test(start_paused = true)]
async fn idle_peer_is_dropped() {
    let tech = KeyPair::generate().unwrap();
    let (a, b) = tokio::io::duplex(1 << 16);
    let t2 = tech.clone();
    let resp = tokio::spawn(async move { raw_responder(&t2, b).await });
    let mut i = connect_initiator(a, init_cfg(&tech.public)).await.unwrap();
    let (_b, _est) = resp.await.unwrap();
    // The raw responder now sends nothing at all, not even keep-alives.
    let start = tokio::time::Instant::now();
    let e = i.events.recv().await.unwrap_err();
    assert!(
        matches!(e, ChannelError::IdleTimeout(d) if d == Duration::from_secs(15)),
        "{e:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(15));
}

#[tokio::test(start_paused = true)]
async fn keepalives_keep_an_idle_session_open() {
    let tech = KeyPair::generate().unwrap();
    let (i, r, _) = connect(
        &tech,
        init_cfg(&tech.public),
        resp_cfg(&tech),
        Decision::Accepted,
    )
    .await;
    let (mut i, r) = (i.unwrap(), r.unwrap());
    // A minute of silence from both applications: keep-alives flow.
    let quiet = tokio::time::timeout(Duration::from_secs(60), i.events.recv()).await;
    assert!(quiet.is_err(), "channel closed while idle: {quiet:?}");
    r.control.send(ControlMessage::KeepAlive).await.unwrap();
    r.control
        .send(ControlMessage::Chat {
            text: "still here".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        i.events.recv().await.unwrap(),
        ControlMessage::Chat {
            text: "still here".into()
        }
    );
}

#[tokio::test]
async fn tampered_frame_closes_with_a_typed_error() {
    let tech = KeyPair::generate().unwrap();
    let (a, b) = tokio::io::duplex(1 << 16);
    let t2 = tech.clone();
    let resp = tokio::spawn(async move { raw_responder(&t2, b).await });
    let mut i = connect_initiator(a, init_cfg(&tech.public)).await.unwrap();
    let (mut b, est) = resp.await.unwrap();
    let mut tx = est.transport.sender;
    let mut f = Vec::new();
    tx.seal_control(&ControlMessage::Chat { text: "hi".into() }, &mut f)
        .unwrap();
    let last = f.len() - 1;
    f[last] ^= 1;
    b.write_all(&f).await.unwrap();
    let e = i.events.recv().await.unwrap_err();
    assert!(
        matches!(e, ChannelError::Transport(TransportError::Decrypt)),
        "{e:?}"
    );
    // The initiator closed the connection: the raw side reads EOF.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), b.read_to_end(&mut rest))
        .await
        .unwrap();
}

#[tokio::test]
async fn refused_in_message_two() {
    let tech = KeyPair::generate().unwrap();
    let (i, r, _) = connect(
        &tech,
        init_cfg(&tech.public),
        resp_cfg(&tech),
        Decision::Refused {
            reason: "busy".into(),
        },
    )
    .await;
    assert!(
        matches!(i, Err(ConnectError::Handshake(HandshakeError::Refused { ref reason })) if reason == "busy"),
        "{i:?}"
    );
    assert!(matches!(
        r,
        Err(ConnectError::Handshake(HandshakeError::Refused { .. }))
    ));
}
