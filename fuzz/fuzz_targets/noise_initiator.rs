//! The customer's side of the Noise handshake (`crypto::Initiator`): arbitrary
//! replies, or the real technician's message 2 with a byte flipped and
//! arbitrary bytes after it (which go to the transport receiver).
#![no_main]
use crypto::{CustomerHello, Decision, Initiator, KeyPair, PrivateKey, Responder, TechnicianHello};
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::Input;
use std::sync::OnceLock;

/// The technician's key pair, made once per process.
fn technician() -> &'static KeyPair {
    static TECHNICIAN: OnceLock<KeyPair> = OnceLock::new();
    TECHNICIAN.get_or_init(|| KeyPair::from_private(PrivateKey::from_bytes([9; 32])))
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let technician = technician();
    let mode = inp.u8();
    let chunk = usize::from(inp.u8()).max(1);
    let hello = CustomerHello::new("fuzz", "linux");
    let Ok((mut init, msg1)) = Initiator::start(&technician.public, &hello, None) else {
        return;
    };
    let mut stream = Vec::new();
    if mode & 1 != 0 {
        let mut r = Responder::new(technician);
        r.receive(&msg1, None)
            .expect("msg1")
            .expect("complete msg1");
        let decision = match mode & 6 {
            0 => Decision::Accepted,
            2 => Decision::Pending,
            _ => Decision::Refused {
                reason: String::from_utf8_lossy(inp.chunk()).into_owned(),
            },
        };
        let tech_id = String::from_utf8_lossy(inp.chunk()).into_owned();
        if let Ok((msg2, _)) = r.reply(&TechnicianHello::new(&tech_id, decision)) {
            stream.extend_from_slice(&msg2);
            if mode & 8 != 0 && !stream.is_empty() {
                let at = usize::from(inp.u16()) % stream.len();
                stream[at] ^= inp.u8().max(1);
            }
        }
    }
    stream.extend_from_slice(inp.rest());
    let mut fed = 0;
    let mut est = None;
    while fed < stream.len() {
        let end = (fed + chunk).min(stream.len());
        match init.receive(&stream[fed..end]) {
            Ok(Some((e, _))) => {
                fed = end;
                est = Some(e);
                break;
            }
            Ok(None) => fed = end,
            Err(_) => {
                // Once failed, the handshake stays failed.
                assert!(init.receive(b"").is_err());
                return;
            }
        }
    }
    let Some(mut est) = est else { return };
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
