//! Control messages (chat, consent, file offers and chunks): decode, then
//! re-encode and decode again to the same message; a sequence of messages
//! drives the incoming file-transfer tracker.
#![no_main]
use crypto::ControlMessage;
use crypto::control::{IncomingTransfers, TransferEvent};
use libfuzzer_sys::fuzz_target;
use remoto_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    match ControlMessage::decode(data) {
        // An offer with an unsafe name decodes (to be refused) but is never sent.
        Ok(m @ ControlMessage::UnsafeFileOffer { .. }) => assert!(m.to_bytes().is_err()),
        Ok(m) => {
            let bytes = m.to_bytes().expect("a decoded message re-encodes");
            assert_eq!(ControlMessage::decode(&bytes).expect("re-decode"), m);
        }
        Err(_) => {}
    }
    let mut inp = Input::new(data);
    let max_size = u64::from(inp.u16());
    let mut transfers = IncomingTransfers::new(max_size, 4);
    let mut n = 0;
    while !inp.is_empty() && n < 32 {
        n += 1;
        let len = usize::from(inp.u16()) % (crypto::control::MAX_CONTROL_LEN + 1);
        let msg = inp.take(len);
        if let Ok(m) = ControlMessage::decode(msg) {
            if let ControlMessage::FileOffer { id, .. } = &m {
                let id = *id;
                let _ = transfers.handle(&m);
                if inp.u8() & 1 == 1 {
                    let _ = transfers.accept(id);
                }
                continue;
            }
            // Written data may be acknowledged (flow control): a valid message.
            if let Ok(Some(TransferEvent::Data { id, data })) = transfers.handle(&m)
                && let Some(ack) = transfers.written(id, data.len() as u64)
            {
                ack.to_bytes().expect("an ack encodes");
            }
        }
    }
});
