//! Hostile transport frames: every one gives a typed error, never a panic.

mod common;

use common::*;
use crypto::control::ControlError;
use crypto::transport::{MAX_PAYLOAD, TransportReceiver, TransportSender};
use crypto::wire::FrameError;
use crypto::{Channel, ControlMessage, Incoming, KeyPair, TransportError};

fn pair() -> (TransportSender, TransportReceiver) {
    let tech = KeyPair::generate().unwrap();
    let (i, r) = handshake(&tech, &tech.public, None, None).unwrap();
    (i.transport.sender, r.transport.receiver)
}

fn frame(tx: &mut TransportSender, k: usize) -> Vec<u8> {
    let mut f = Vec::new();
    tx.seal(Channel::Rfb, format!("frame {k}").as_bytes(), &mut f)
        .unwrap();
    f
}

#[test]
fn every_flipped_bit_is_caught() {
    let len = {
        let (mut tx, _) = pair();
        frame(&mut tx, 0).len()
    };
    for at in 0..len {
        for bit in 0..8 {
            // A receiver is closed after its first error: one session per flip.
            let (mut tx, mut rx) = pair();
            let mut bad = frame(&mut tx, 0);
            bad[at] ^= 1 << bit;
            let r = rx.push(&bad).and_then(|_| rx.next_incoming());
            match r {
                // A flipped length bit that makes the frame longer: incomplete, waits.
                Ok(None) => assert!(at < 2, "byte {at} bit {bit}"),
                Ok(Some(x)) => panic!("tampered frame accepted at byte {at} bit {bit}: {x:?}"),
                Err(e) => {
                    if at >= 2 {
                        assert_eq!(e, TransportError::Decrypt, "byte {at} bit {bit}");
                    }
                }
            }
        }
    }
}

#[test]
fn truncated_replayed_reordered_dropped() {
    // Truncated: the frame stays incomplete; a shortened length fails.
    let (mut tx, mut rx) = pair();
    let f = frame(&mut tx, 0);
    rx.push(&f[..f.len() - 1]).unwrap();
    assert_eq!(rx.next_incoming().unwrap(), None);
    let (mut tx, mut rx) = pair();
    let mut f = frame(&mut tx, 0);
    let short = (f.len() - 3) as u16;
    f[..2].copy_from_slice(&short.to_be_bytes());
    f.pop();
    rx.push(&f).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::Decrypt));

    // Replayed.
    let (mut tx, mut rx) = pair();
    let f0 = frame(&mut tx, 0);
    rx.push(&f0).unwrap();
    assert!(rx.next_incoming().unwrap().is_some());
    rx.push(&f0).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::Decrypt));
    // Closed for good after an error.
    assert_eq!(rx.next_incoming(), Err(TransportError::Poisoned));
    assert_eq!(rx.push(b"x"), Err(TransportError::Poisoned));

    // Reordered.
    let (mut tx, mut rx) = pair();
    let f0 = frame(&mut tx, 0);
    let f1 = frame(&mut tx, 1);
    rx.push(&f1).unwrap();
    rx.push(&f0).unwrap_or(());
    assert_eq!(rx.next_incoming(), Err(TransportError::Decrypt));

    // Dropped.
    let (mut tx, mut rx) = pair();
    let _f0 = frame(&mut tx, 0);
    let f1 = frame(&mut tx, 1);
    rx.push(&f1).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::Decrypt));
}

#[test]
fn frame_lengths_0_1_and_65535() {
    let (_, mut rx) = pair();
    rx.push(&[0, 0]).unwrap();
    assert_eq!(
        rx.next_incoming(),
        Err(TransportError::Frame(FrameError::Empty))
    );
    let (_, mut rx) = pair();
    rx.push(&[0, 1, 0x00]).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::TooShort(1)));
    // 16 bytes: a valid tag over an empty plaintext would still lack the channel tag.
    let (_, mut rx) = pair();
    let mut sixteen = vec![0, 16];
    sixteen.extend_from_slice(&[0; 16]);
    rx.push(&sixteen).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::TooShort(16)));
    // 65535 bytes of junk: complete frame, authentication fails.
    let (_, mut rx) = pair();
    let mut big = vec![0xff, 0xff];
    big.extend_from_slice(&vec![0x5a; 65535]);
    rx.push(&big).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::Decrypt));
    // 65535 bytes, genuine: the largest payload goes through.
    let (mut tx, mut rx) = pair();
    let mut f = Vec::new();
    let data = vec![7u8; MAX_PAYLOAD];
    tx.seal(Channel::Rfb, &data, &mut f).unwrap();
    assert_eq!(&f[..2], &[0xff, 0xff]);
    rx.push(&f).unwrap();
    assert_eq!(rx.next_incoming().unwrap(), Some(Incoming::Rfb(data)));
    // One byte more is refused at the sender.
    assert_eq!(
        tx.seal(Channel::Rfb, &vec![0; MAX_PAYLOAD + 1], &mut f),
        Err(TransportError::TooLarge(MAX_PAYLOAD + 1))
    );
    // seal_rfb splits.
    let mut f = Vec::new();
    tx.seal_rfb(&vec![1u8; MAX_PAYLOAD + 10], &mut f).unwrap();
    rx.push(&f).unwrap();
    assert_eq!(
        rx.next_incoming().unwrap(),
        Some(Incoming::Rfb(vec![1u8; MAX_PAYLOAD]))
    );
    assert_eq!(
        rx.next_incoming().unwrap(),
        Some(Incoming::Rfb(vec![1u8; 10]))
    );
}

#[test]
fn unknown_tag_and_bad_control_messages() {
    let (mut tx, mut rx) = pair();
    let mut f = Vec::new();
    tx.seal_plaintext(&[2, 1, 2, 3], &mut f).unwrap();
    rx.push(&f).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::UnknownChannel(2)));

    let (mut tx, mut rx) = pair();
    let mut f = Vec::new();
    tx.seal_plaintext(&[], &mut f).unwrap();
    rx.push(&f).unwrap();
    assert_eq!(rx.next_incoming(), Err(TransportError::TooShort(16)));

    let (mut tx, mut rx) = pair();
    let mut f = Vec::new();
    tx.seal(Channel::Control, &[1, 0x7f], &mut f).unwrap();
    rx.push(&f).unwrap();
    assert_eq!(
        rx.next_incoming(),
        Err(TransportError::Control(ControlError::UnknownKind(0x7f)))
    );

    let (mut tx, mut rx) = pair();
    let mut f = Vec::new();
    let mut chat = vec![1, 4];
    chat.extend_from_slice(&20000u16.to_be_bytes());
    chat.extend_from_slice(&vec![b'a'; 20000]);
    tx.seal(Channel::Control, &chat, &mut f).unwrap();
    rx.push(&f).unwrap();
    assert!(matches!(
        rx.next_incoming(),
        Err(TransportError::Control(ControlError::TooLong {
            field: "text",
            ..
        }))
    ));

    let (mut tx, mut rx) = pair();
    let mut f = Vec::new();
    tx.seal(Channel::Control, &[], &mut f).unwrap();
    rx.push(&f).unwrap();
    assert_eq!(
        rx.next_incoming(),
        Err(TransportError::Control(ControlError::Empty))
    );

    // Invalid messages are refused at the sender too.
    let (mut tx, _) = pair();
    let bad = ControlMessage::Chat {
        text: "x".repeat(5000),
    };
    assert!(tx.seal_control(&bad, &mut Vec::new()).is_err());
}

#[test]
fn random_junk_never_panics() {
    let mut seed = 0x1234_5678_u64;
    for _ in 0..200 {
        let (_, mut rx) = pair();
        let mut junk = Vec::new();
        for _ in 0..(seed % 300) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push(seed as u8);
        }
        if rx.push(&junk).is_ok() {
            assert!(!matches!(rx.next_incoming(), Ok(Some(_))), "junk accepted");
        }
    }
}

#[test]
fn buffer_is_bounded() {
    let (_, mut rx) = pair();
    // A peer that announces a huge frame and keeps sending: at most two
    // frames are ever buffered.
    let mut total = 0;
    let chunk = vec![0xffu8; 32 * 1024];
    let mut failed = false;
    for _ in 0..10 {
        if rx.push(&chunk).is_err() {
            failed = true;
            break;
        }
        total += chunk.len();
        while let Ok(Some(_)) = rx.next_incoming() {}
    }
    assert!(failed || total <= 2 * 65537);
}
