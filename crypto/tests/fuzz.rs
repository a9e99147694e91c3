//! Property tests: no parser panics on arbitrary input.

use crypto::{ControlMessage, CustomerHello, KeyPair, Responder, TechnicianHello, detect};
use proptest::prelude::*;
use std::sync::OnceLock;

fn tech() -> &'static KeyPair {
    static K: OnceLock<KeyPair> = OnceLock::new();
    K.get_or_init(|| KeyPair::generate().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn control_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = ControlMessage::decode(&b) {
            // What decodes re-encodes to the same bytes.
            prop_assert_eq!(m.to_bytes().unwrap(), b);
        }
    }

    #[test]
    fn control_kinds_with_junk(kind in 0u8..16, rest in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut b = vec![1, kind];
        b.extend(rest);
        let _ = ControlMessage::decode(&b);
    }

    #[test]
    fn detect_never_panics(b in proptest::collection::vec(any::<u8>(), 0..32)) {
        let _ = detect(&b);
    }

    #[test]
    fn hellos_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = CustomerHello::from_payload(&b);
        let _ = TechnicianHello::from_payload(&b);
    }

    #[test]
    fn responder_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut pre = crypto::preamble(crypto::Mode::Ik).to_vec();
        pre.extend_from_slice(&b);
        let _ = Responder::new(tech()).receive(&pre, None);
        let _ = Responder::new(tech()).receive(&b, None);
    }

    #[test]
    fn key_file_text_never_panics(s in ".{0,200}") {
        let _ = KeyPair::from_file_text(&s, std::path::Path::new("k"));
        let _ = s.parse::<crypto::PublicKey>();
        let _ = s.parse::<crypto::SessionCode>();
    }
}
