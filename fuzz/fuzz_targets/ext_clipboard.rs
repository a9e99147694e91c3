//! ExtendedClipboard payloads (caps, request, peek, notify, provide with
//! zlib) and the clipboard state machine that answers them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rfb::msgs::ExtendedClipboard;
use rfb::msgs::clipboard::ClipboardState;

fuzz_target!(|data: &[u8]| {
    let (answer, payload) = match data.split_first() {
        Some((&b, rest)) => (b & 1 == 1, rest),
        None => return,
    };
    let mut state = ClipboardState::new(answer);
    // The payload may hold several messages: a 2-byte length before each.
    let mut rest = payload;
    let mut count = 0;
    while rest.len() >= 2 && count < 8 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let msg = &rest[2..2 + n];
        rest = &rest[2 + n..];
        count += 1;
        if let Ok(m) = ExtendedClipboard::parse(msg) {
            let mut out = Vec::new();
            m.write_payload(&mut out);
            let _ = ExtendedClipboard::parse(&out);
            let outcome = state.handle(m);
            if let Some(t) = outcome.text {
                assert!(t.len() <= rfb::limits::MAX_CLIPBOARD_LEN);
            }
        }
    }
    let _ = ExtendedClipboard::parse(payload);
    let _ = state.offer(&String::from_utf8_lossy(rest));
});
