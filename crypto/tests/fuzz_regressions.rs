//! Regression tests for what the fuzz targets (../fuzz) and the hostile-peer
//! suite exercise on the crypto side: each input here once mattered or is a
//! case of ../../shared/hostile-inputs.md that must keep failing cleanly.

use crypto::{
    CustomerHello, Decision, HandshakeError, Initiator, KeyPair, PrivateKey, Responder,
    TechnicianHello, TransportError,
};

fn technician() -> KeyPair {
    KeyPair::from_private(PrivateKey::from_bytes([7; 32]))
}

fn pair() -> (crypto::Established, crypto::Established) {
    let tech = technician();
    let (mut init, msg1) =
        Initiator::start(&tech.public, &CustomerHello::new("t", "linux"), None).expect("start");
    let mut resp = Responder::new(&tech);
    resp.receive(&msg1, None)
        .expect("msg1")
        .expect("whole msg1");
    let (msg2, t) = resp
        .reply(&TechnicianHello::new("t", Decision::Accepted))
        .expect("reply");
    let (c, _) = init.receive(&msg2).expect("msg2").expect("whole msg2");
    (c, t)
}

/// Downgrade: a MITM (or a stock VNC viewer) answering the Noise preamble
/// with `RFB 003.008\n` is recognised at once, not after a 10 s timeout
/// waiting for a 21062-byte "frame".
#[test]
fn plain_rfb_answer_is_a_downgrade_error() {
    let tech = technician();
    let (mut init, _) =
        Initiator::start(&tech.public, &CustomerHello::new("t", "linux"), None).expect("start");
    assert!(matches!(
        init.receive(b"RFB 003.008\n"),
        Err(HandshakeError::PlainRfb)
    ));
    // Byte by byte too.
    let (mut init, _) =
        Initiator::start(&tech.public, &CustomerHello::new("t", "linux"), None).expect("start");
    assert!(matches!(init.receive(b"RF"), Ok(None)));
    assert!(matches!(init.receive(b"B"), Ok(None)));
    assert!(matches!(
        init.receive(b" 003.008\n"),
        Err(HandshakeError::PlainRfb)
    ));
    assert!(HandshakeError::PlainRfb.to_string().contains("unencrypted"));
}

/// A frame of length 0 after the handshake ends the session with a typed error.
#[test]
fn zero_length_frame_is_refused() {
    let (_c, mut t) = pair();
    t.transport.receiver.push(&[0, 0]).expect("push");
    assert!(t.transport.receiver.next_incoming().is_err());
    // Poisoned afterwards.
    assert_eq!(
        t.transport.receiver.next_incoming().unwrap_err(),
        TransportError::Poisoned
    );
}

/// A replayed frame never authenticates twice.
#[test]
fn replayed_frame_is_refused() {
    let (mut c, mut t) = pair();
    let mut wire = Vec::new();
    c.transport
        .sender
        .seal(crypto::Channel::Rfb, b"hello", &mut wire)
        .expect("seal");
    t.transport.receiver.push(&wire).expect("push");
    assert!(matches!(
        t.transport.receiver.next_incoming(),
        Ok(Some(crypto::Incoming::Rfb(_)))
    ));
    t.transport.receiver.push(&wire).expect("push replay");
    assert_eq!(
        t.transport.receiver.next_incoming().unwrap_err(),
        TransportError::Decrypt
    );
}

/// An authenticated frame with an unknown channel tag ends the session.
#[test]
fn unknown_channel_tag_is_refused() {
    let (mut c, mut t) = pair();
    let mut wire = Vec::new();
    c.transport
        .sender
        .seal_plaintext(&[9, 1, 2, 3], &mut wire)
        .expect("seal");
    t.transport.receiver.push(&wire).expect("push");
    assert_eq!(
        t.transport.receiver.next_incoming().unwrap_err(),
        TransportError::UnknownChannel(9)
    );
}

/// A truncated frame is simply incomplete (no error, nothing delivered).
#[test]
fn truncated_frame_waits() {
    let (mut c, mut t) = pair();
    let mut wire = Vec::new();
    c.transport
        .sender
        .seal(crypto::Channel::Rfb, &[1; 100], &mut wire)
        .expect("seal");
    t.transport.receiver.push(&wire[..50]).expect("push");
    assert_eq!(t.transport.receiver.next_incoming(), Ok(None));
}

/// Garbage where message 1 should be: the responder refuses it with a
/// typed error, whatever its length.
#[test]
fn garbage_message_one_is_refused() {
    let tech = technician();
    for len in [0usize, 1, 95, 96, 4000, 65535] {
        let mut r = Responder::new(&tech);
        let mut bytes = crypto::preamble(crypto::Mode::Ik).to_vec();
        bytes.extend_from_slice(&(len as u16).to_be_bytes());
        bytes.extend(std::iter::repeat_n(0xa5, len));
        let res = r.receive(&bytes, None);
        assert!(res.is_err() || res == Ok(None), "len {len}: {res:?}");
    }
}
