//! Noise transport framing after a real handshake: authenticated frames with
//! arbitrary plaintexts (unknown channel tags, malformed control messages,
//! empty and maximum-size payloads), raw garbage, truncation, and replays.
//! Checks that a replayed frame is never accepted twice. The handshake is
//! done once per process (crypto's `fuzzing` feature rewinds the nonces).
#![no_main]
use crypto::{
    ControlMessage, CustomerHello, Decision, Incoming, Initiator, KeyPair, PrivateKey, Responder,
    TechnicianHello, TransportReceiver, TransportSender,
};
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::Input;
use std::sync::OnceLock;

/// One real handshake per process: the customer's sender and the
/// technician's receiver, rewound to nonce 0 for every input.
fn established() -> &'static (TransportSender, TransportReceiver) {
    static PAIR: OnceLock<(TransportSender, TransportReceiver)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let technician = KeyPair::from_private(PrivateKey::from_bytes([5; 32]));
        let hello = CustomerHello::new("fuzz", "linux");
        let (mut init, msg1) = Initiator::start(&technician.public, &hello, None).expect("start");
        let mut resp = Responder::new(&technician);
        resp.receive(&msg1, None)
            .expect("msg1")
            .expect("whole msg1");
        let (msg2, tech) = resp
            .reply(&TechnicianHello::new("fuzz", Decision::Accepted))
            .expect("reply");
        let (cust, _) = init.receive(&msg2).expect("msg2").expect("whole msg2");
        (cust.transport.sender, tech.transport.receiver)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let (s, r) = established();
    let (mut sender, mut receiver) = (s.rewound(), r.rewound());
    let sender = &mut sender;
    let receiver = &mut receiver;
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut steps = 0;
    while !inp.is_empty() && steps < 64 {
        steps += 1;
        let op = inp.u8();
        let mut wire = Vec::new();
        match op % 5 {
            0 | 1 => {
                // An authenticated frame: a channel tag then the payload.
                let mut pt = vec![if op % 5 == 0 { 1 } else { op >> 3 }];
                pt.extend_from_slice(inp.chunk());
                if sender.seal_plaintext(&pt, &mut wire).is_err() {
                    continue;
                }
                sent.push(wire.clone());
            }
            2 => wire.extend_from_slice(inp.chunk()),
            3 => {
                // Replay an earlier frame.
                if sent.is_empty() {
                    continue;
                }
                let i = usize::from(inp.u8()) % sent.len();
                wire = sent[i].clone();
            }
            _ => {
                // Part of a frame: truncation (the rest may never come).
                let mut pt = vec![0];
                pt.extend_from_slice(inp.chunk());
                let mut full = Vec::new();
                if sender.seal_plaintext(&pt, &mut full).is_err() {
                    continue;
                }
                let cut = usize::from(inp.u8()) % full.len();
                wire.extend_from_slice(&full[..cut]);
            }
        }
        let before = receiver.frames_received();
        if receiver.push(&wire).is_err() {
            return;
        }
        loop {
            match receiver.next_incoming() {
                Ok(Some(m)) => {
                    match m {
                        // A hostile file name decodes to a refusal, never
                        // to something this side would send itself.
                        Incoming::Control(c @ ControlMessage::UnsafeFileOffer { .. }) => {
                            assert!(c.validate().is_err() && c.to_bytes().is_err());
                        }
                        Incoming::Control(c) => {
                            c.validate().expect("a decoded control message is valid")
                        }
                        Incoming::Rfb(_) => {}
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        if op % 5 == 3 {
            // A replay can never be accepted.
            assert_eq!(
                receiver.frames_received(),
                before,
                "replayed frame accepted"
            );
        }
    }
    // No check that every accepted frame was sealed here: with the keys and
    // nonces the same for every input, a frame sealed in an earlier input is
    // valid again, and libFuzzer can learn its bytes.
});
