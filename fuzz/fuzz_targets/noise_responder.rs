//! The technician's side of the Noise handshake (`crypto::Responder`):
//! arbitrary bytes, a valid preamble followed by arbitrary bytes, or a real
//! message 1 with a byte flipped; when a handshake completes, the rest of the
//! input goes to the transport receiver.
#![no_main]
use crypto::{
    CustomerHello, Decision, Initiator, KeyPair, Mode, PrivateKey, Responder, TechnicianHello,
    preamble,
};
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::Input;
use std::sync::OnceLock;

/// The technician's key pair and a real message 1 to it, made once per
/// process (each costs Curve25519 work that is not what is fuzzed here).
fn fixtures() -> &'static (KeyPair, Vec<u8>) {
    static FIXTURES: OnceLock<(KeyPair, Vec<u8>)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let technician = KeyPair::from_private(PrivateKey::from_bytes([7; 32]));
        let hello = CustomerHello::new("fuzz", "linux");
        let (_, msg1) = Initiator::start(&technician.public, &hello, None).expect("start");
        (technician, msg1)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let (technician, msg1) = fixtures();
    let mode = inp.u8();
    let chunk = usize::from(inp.u8()).max(1);
    let mut stream = Vec::new();
    match mode % 3 {
        0 => {}
        1 => stream.extend_from_slice(&preamble(if mode & 4 == 0 {
            Mode::Ik
        } else {
            Mode::IkPsk1
        })),
        _ => {
            stream.extend_from_slice(msg1);
            if mode & 8 != 0 {
                let at = usize::from(inp.u16()) % stream.len();
                stream[at] ^= inp.u8().max(1);
            }
        }
    }
    stream.extend_from_slice(inp.rest());
    let mut r = Responder::new(technician);
    let mut fed = 0;
    let mut hello = None;
    while fed < stream.len() {
        let end = (fed + chunk).min(stream.len());
        match r.receive(&stream[fed..end], None) {
            Ok(Some(h)) => {
                fed = end;
                hello = Some(h);
                break;
            }
            Ok(None) => fed = end,
            Err(_) => return,
        }
    }
    let Some(_) = hello else { return };
    let Ok((_msg2, mut est)) = r.reply(&TechnicianHello::new("fuzz", Decision::Accepted)) else {
        return;
    };
    for part in stream[fed..].chunks(chunk) {
        if est.transport.receiver.push(part).is_err() {
            return;
        }
        loop {
            match est.transport.receiver.next_incoming() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
