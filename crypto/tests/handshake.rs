//! The sans-IO handshake: right key, wrong key, wrong code, impostor.

mod common;

use common::*;
use crypto::handshake::{HandshakeError, MSG1_OVERHEAD};
use crypto::session_code::ManualClock;
use crypto::{
    ControlMessage, Decision, Incoming, Initiator, KeyPair, Mode, Responder, SessionCode,
    SessionCodes, preamble,
};
use std::sync::Arc;

#[test]
fn right_key_same_sas_and_both_channels_both_ways() {
    let tech = KeyPair::generate().unwrap();
    let (i, r) = handshake(&tech, &tech.public, None, None).unwrap();
    assert_eq!(i.sas, r.sas);
    assert_eq!(i.handshake_hash, r.handshake_hash);
    assert_eq!(i.mode, Mode::Ik);
    assert_eq!(i.remote_static, tech.public);
    let sas = i.sas.to_string();
    assert_eq!(sas.len(), 7);
    let (mut itx, mut irx) = (i.transport.sender, i.transport.receiver);
    let (mut rtx, mut rrx) = (r.transport.sender, r.transport.receiver);
    let mut wire = Vec::new();
    itx.seal_rfb(b"RFB 003.008\n", &mut wire).unwrap();
    itx.seal_control(
        &ControlMessage::Chat {
            text: "ciao".into(),
        },
        &mut wire,
    )
    .unwrap();
    rrx.push(&wire).unwrap();
    assert_eq!(
        rrx.next_incoming().unwrap(),
        Some(Incoming::Rfb(b"RFB 003.008\n".to_vec()))
    );
    assert_eq!(
        rrx.next_incoming().unwrap(),
        Some(Incoming::Control(ControlMessage::Chat {
            text: "ciao".into()
        }))
    );
    assert_eq!(rrx.next_incoming().unwrap(), None);
    wire.clear();
    rtx.seal_rfb(b"RFB 003.008\n", &mut wire).unwrap();
    rtx.seal_control(&ControlMessage::Accept, &mut wire)
        .unwrap();
    irx.push(&wire).unwrap();
    assert_eq!(
        irx.next_incoming().unwrap(),
        Some(Incoming::Rfb(b"RFB 003.008\n".to_vec()))
    );
    assert_eq!(
        irx.next_incoming().unwrap(),
        Some(Incoming::Control(ControlMessage::Accept))
    );
}

#[test]
fn message_one_is_preamble_plus_one_frame() {
    let tech = KeyPair::generate().unwrap();
    let (_i, m1) = Initiator::start(&tech.public, &hello(), None).unwrap();
    assert_eq!(&m1[..8], &preamble(Mode::Ik));
    let len = u16::from_be_bytes([m1[8], m1[9]]) as usize;
    assert_eq!(m1.len(), 10 + len);
    assert_eq!(len, MSG1_OVERHEAD + hello().to_payload().unwrap().len());
}

#[test]
fn wrong_technician_key_fails_on_both_sides() {
    let tech = KeyPair::generate().unwrap();
    let other = KeyPair::generate().unwrap();
    // The Remoto pins `other`, the viewer holds `tech`.
    let (mut init, m1) = Initiator::start(&other.public, &hello(), None).unwrap();
    let mut resp = Responder::new(&tech);
    assert_eq!(resp.receive(&m1, None), Err(HandshakeError::WrongKey));
    // An impostor viewer (holding `tech`, not `other`) cannot answer either:
    // a forged message 2 is refused by the initiator.
    let mut forged = vec![0, 48];
    forged.extend_from_slice(&[0x42; 48]);
    assert_eq!(
        init.receive(&forged).unwrap_err(),
        HandshakeError::NotTheTechnician
    );
}

#[test]
fn impostor_that_completes_its_own_handshake_is_refused() {
    // The impostor gets message 1 meant for `tech`, cannot read it, and so
    // answers with a message 2 from a handshake of its own: refused.
    let tech = KeyPair::generate().unwrap();
    let impostor = KeyPair::generate().unwrap();
    let (mut init, _m1) = Initiator::start(&tech.public, &hello(), None).unwrap();
    let (_other, m1_for_impostor) = Initiator::start(&impostor.public, &hello(), None).unwrap();
    let mut resp = Responder::new(&impostor);
    resp.receive(&m1_for_impostor, None).unwrap().unwrap();
    let (m2, _) = resp.reply(&tech_hello(Decision::Accepted)).unwrap();
    assert_eq!(
        init.receive(&m2).unwrap_err(),
        HandshakeError::NotTheTechnician
    );
}

#[test]
fn refused_in_message_two() {
    let tech = KeyPair::generate().unwrap();
    let (mut init, m1) = Initiator::start(&tech.public, &hello(), None).unwrap();
    let mut resp = Responder::new(&tech);
    resp.receive(&m1, None).unwrap().unwrap();
    let (m2, _) = resp
        .reply(&tech_hello(Decision::Refused {
            reason: "busy".into(),
        }))
        .unwrap();
    assert_eq!(
        init.receive(&m2).unwrap_err(),
        HandshakeError::Refused {
            reason: "busy".into()
        }
    );
}

#[test]
fn session_code_right_wrong_used_expired() {
    let tech = KeyPair::generate().unwrap();
    let clock = Arc::new(ManualClock::new());
    let mut codes = SessionCodes::with_clock(tech.public, clock.clone());
    let code = codes.issue().unwrap();
    let psk = code.derive_psk(&tech.public).unwrap();
    let (i, r) = handshake(&tech, &tech.public, Some(&psk), Some(&mut codes)).unwrap();
    assert_eq!(i.mode, Mode::IkPsk1);
    assert_eq!(i.sas, r.sas);
    // Single use.
    let err = handshake(&tech, &tech.public, Some(&psk), Some(&mut codes)).unwrap_err();
    assert!(err.contains("session code"), "{err}");
    // Wrong code.
    codes.issue().unwrap();
    let wrong: SessionCode = "0000 0001".parse().unwrap();
    let wrong_psk = wrong.derive_psk(&tech.public).unwrap();
    let (_init, m1) = Initiator::start(&tech.public, &hello(), Some(&wrong_psk)).unwrap();
    let mut resp = Responder::new(&tech);
    assert_eq!(
        resp.receive(&m1, Some(&mut codes)),
        Err(HandshakeError::WrongSessionCode)
    );
    // Expired.
    let code2 = codes.issue().unwrap();
    clock.advance(crypto::session_code::CODE_VALIDITY);
    let psk2 = code2.derive_psk(&tech.public).unwrap();
    let (_init, m1) = Initiator::start(&tech.public, &hello(), Some(&psk2)).unwrap();
    let mut resp = Responder::new(&tech);
    assert_eq!(
        resp.receive(&m1, Some(&mut codes)),
        Err(HandshakeError::WrongSessionCode)
    );
    // A code-less viewer refuses a code connection.
    let (_init, m1) = Initiator::start(&tech.public, &hello(), Some(&psk2)).unwrap();
    assert_eq!(
        Responder::new(&tech).receive(&m1, None),
        Err(HandshakeError::WrongSessionCode)
    );
}

#[test]
fn mode_byte_is_bound_by_the_prologue() {
    let tech = KeyPair::generate().unwrap();
    let mut codes = SessionCodes::new(tech.public);
    let code = codes.issue().unwrap();
    let psk = code.derive_psk(&tech.public).unwrap();
    // Initiator uses psk, a middlebox rewrites the mode byte to plain IK.
    let (_init, mut m1) = Initiator::start(&tech.public, &hello(), Some(&psk)).unwrap();
    m1[6] = Mode::Ik.byte();
    assert_eq!(
        Responder::new(&tech).receive(&m1, Some(&mut codes)),
        Err(HandshakeError::WrongKey)
    );
    // And the other way round.
    let (_init, mut m1) = Initiator::start(&tech.public, &hello(), None).unwrap();
    m1[6] = Mode::IkPsk1.byte();
    assert_eq!(
        Responder::new(&tech).receive(&m1, Some(&mut codes)),
        Err(HandshakeError::WrongSessionCode)
    );
}

#[test]
fn hostile_message_one() {
    let tech = KeyPair::generate().unwrap();
    let (_init, m1) = Initiator::start(&tech.public, &hello(), None).unwrap();
    // Byte by byte is fine.
    let mut resp = Responder::new(&tech);
    for (k, b) in m1.iter().enumerate() {
        let r = resp.receive(std::slice::from_ref(b), None).unwrap();
        assert_eq!(r.is_some(), k == m1.len() - 1);
    }
    // Every single flipped bit after the preamble header is caught.
    for at in 10..m1.len() {
        let mut bad = m1.clone();
        bad[at] ^= 0x01;
        assert!(
            Responder::new(&tech).receive(&bad, None).is_err(),
            "flip at {at}"
        );
    }
    // Bad preamble, empty frame, tiny frame, frame too large for a hello.
    assert!(matches!(
        Responder::new(&tech).receive(b"RMTO\0\x09\0\0", None),
        Err(HandshakeError::Preamble(_))
    ));
    let mut empty = preamble(Mode::Ik).to_vec();
    empty.extend_from_slice(&[0, 0]);
    assert!(matches!(
        Responder::new(&tech).receive(&empty, None),
        Err(HandshakeError::Frame(_))
    ));
    let mut one = preamble(Mode::Ik).to_vec();
    one.extend_from_slice(&[0, 1, 0]);
    assert!(matches!(
        Responder::new(&tech).receive(&one, None),
        Err(HandshakeError::Size { len: 1, .. })
    ));
    let mut huge = preamble(Mode::Ik).to_vec();
    huge.extend_from_slice(&[0xff, 0xff]);
    huge.extend_from_slice(&vec![0u8; 65535]);
    assert!(matches!(
        Responder::new(&tech).receive(&huge, None),
        Err(HandshakeError::Size { len: 65535, .. })
    ));
    // Truncated: waits for more, never panics.
    assert_eq!(
        Responder::new(&tech).receive(&m1[..m1.len() - 1], None),
        Ok(None)
    );
    // Reply before message 1 is a state error.
    assert!(matches!(
        Responder::new(&tech).reply(&tech_hello(Decision::Accepted)),
        Err(HandshakeError::State(_))
    ));
}

#[test]
fn bytes_after_message_two_reach_the_transport() {
    let tech = KeyPair::generate().unwrap();
    let (mut init, m1) = Initiator::start(&tech.public, &hello(), None).unwrap();
    let mut resp = Responder::new(&tech);
    resp.receive(&m1, None).unwrap().unwrap();
    let (mut m2, r) = resp.reply(&tech_hello(Decision::Pending)).unwrap();
    let mut tx = r.transport.sender;
    tx.seal_control(&ControlMessage::Accept, &mut m2).unwrap();
    let (i, th) = init.receive(&m2).unwrap().unwrap();
    assert_eq!(th.decision, Decision::Pending);
    let mut rx = i.transport.receiver;
    assert_eq!(
        rx.next_incoming().unwrap(),
        Some(Incoming::Control(ControlMessage::Accept))
    );
}
