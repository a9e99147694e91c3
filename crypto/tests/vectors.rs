//! Interoperability: snow, configured exactly as `crypto::handshake` does
//! (pattern name from `Mode::noise_name`, psk at the mode's position),
//! reproduces the cacophony test vectors byte for byte.
//! Vectors: tests/data/cacophony_ik.json (source noted inside).

use crypto::Mode;
use serde_json::Value;

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn vector(name: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cacophony_ik.json"
    ))
    .unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["protocol_name"] == name)
        .unwrap_or_else(|| panic!("no vector for {name}"))
        .clone()
}

fn run(name: &str, psk_location: Option<u8>) {
    let v = vector(name);
    let params: snow::params::NoiseParams = name.parse().unwrap();
    let (i_static, i_eph, i_rs, i_pro) = (
        hex(&v["init_static"]),
        hex(&v["init_ephemeral"]),
        hex(&v["init_remote_static"]),
        hex(&v["init_prologue"]),
    );
    let (r_static, r_eph, r_pro) = (
        hex(&v["resp_static"]),
        hex(&v["resp_ephemeral"]),
        hex(&v["resp_prologue"]),
    );
    let psks: Vec<[u8; 32]> = v
        .get("init_psks")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|p| hex(p).try_into().unwrap()).collect())
        .unwrap_or_default();
    let mut ib = snow::Builder::new(params.clone())
        .local_private_key(&i_static)
        .unwrap()
        .remote_public_key(&i_rs)
        .unwrap()
        .prologue(&i_pro)
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(&i_eph);
    let mut rb = snow::Builder::new(params)
        .local_private_key(&r_static)
        .unwrap()
        .prologue(&r_pro)
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(&r_eph);
    if let Some(loc) = psk_location {
        ib = ib.psk(loc, &psks[0]).unwrap();
        rb = rb.psk(loc, &psks[0]).unwrap();
    }
    let mut ini = ib.build_initiator().unwrap();
    let mut res = rb.build_responder().unwrap();
    let msgs = v["messages"].as_array().unwrap();
    let mut buf = vec![0u8; 65535];
    let mut pt = vec![0u8; 65535];
    // Handshake: two messages.
    for (k, m) in msgs.iter().take(2).enumerate() {
        let (payload, ct) = (hex(&m["payload"]), hex(&m["ciphertext"]));
        let (w, r) = if k == 0 {
            (&mut ini, &mut res)
        } else {
            (&mut res, &mut ini)
        };
        let n = w.write_message(&payload, &mut buf).unwrap();
        assert_eq!(&buf[..n], &ct[..], "{name} message {k}");
        let p = r.read_message(&ct, &mut pt).unwrap();
        assert_eq!(&pt[..p], &payload[..]);
    }
    assert_eq!(
        ini.get_handshake_hash(),
        &hex(&v["handshake_hash"])[..],
        "{name} handshake hash"
    );
    assert_eq!(res.get_handshake_hash(), &hex(&v["handshake_hash"])[..]);
    // Transport: alternating, starting with the initiator. Our transport
    // uses the stateless form with explicit sequential nonces.
    let ini = ini.into_stateless_transport_mode().unwrap();
    let res = res.into_stateless_transport_mode().unwrap();
    for (k, m) in msgs.iter().enumerate().skip(2) {
        let (payload, ct) = (hex(&m["payload"]), hex(&m["ciphertext"]));
        let nonce = ((k - 2) / 2) as u64;
        let (w, r) = if k % 2 == 0 {
            (&ini, &res)
        } else {
            (&res, &ini)
        };
        let n = w.write_message(nonce, &payload, &mut buf).unwrap();
        assert_eq!(&buf[..n], &ct[..], "{name} transport message {k}");
        let p = r.read_message(nonce, &ct, &mut pt).unwrap();
        assert_eq!(&pt[..p], &payload[..]);
    }
}

#[test]
fn ik_matches_cacophony() {
    run(Mode::Ik.noise_name(), None);
}

#[test]
fn ikpsk1_matches_cacophony() {
    run(Mode::IkPsk1.noise_name(), Some(1));
}

#[test]
fn ikpsk2_matches_cacophony() {
    run("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", Some(2));
}

#[test]
fn our_transport_frames_are_cacophony_transport_messages() {
    // The bytes after the 2-byte length in a transport frame are exactly a
    // Noise transport message over (channel tag ‖ payload).
    use crypto::{
        Channel, CustomerHello, Decision, Initiator, KeyPair, Responder, TechnicianHello,
    };
    let tech = KeyPair::generate().unwrap();
    let (mut init, m1) =
        Initiator::start(&tech.public, &CustomerHello::new("1", "x"), None).unwrap();
    let mut resp = Responder::new(&tech);
    resp.receive(&m1, None).unwrap().unwrap();
    let (m2, r) = resp
        .reply(&TechnicianHello::new("t", Decision::Accepted))
        .unwrap();
    let (i, _) = init.receive(&m2).unwrap().unwrap();
    let mut tx = i.transport.sender;
    let mut f = Vec::new();
    tx.seal(Channel::Control, &[1, 0x0c], &mut f).unwrap();
    assert_eq!(u16::from_be_bytes([f[0], f[1]]) as usize, f.len() - 2);
    assert_eq!(f.len() - 2, 3 + 16);
    let mut rx = r.transport.receiver;
    rx.push(&f).unwrap();
    assert!(rx.next_incoming().unwrap().is_some());
}
