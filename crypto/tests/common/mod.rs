//! Helpers shared by the integration tests.
#![allow(dead_code)]

use crypto::{
    CustomerHello, Decision, Established, Initiator, KeyPair, Responder, SessionCodes,
    TechnicianHello,
};

pub fn hello() -> CustomerHello {
    let mut h = CustomerHello::new("0.1.0", "linux");
    h.computer_name = Some("pc-anna".into());
    h
}

pub fn tech_hello(decision: Decision) -> TechnicianHello {
    TechnicianHello::new("Verde", decision)
}

/// Runs a whole sans-IO handshake; returns (initiator, responder) sessions.
pub fn handshake(
    tech: &KeyPair,
    pinned: &crypto::PublicKey,
    psk: Option<&[u8; 32]>,
    codes: Option<&mut SessionCodes>,
) -> Result<(Established, Established), String> {
    let (mut init, m1) =
        Initiator::start(pinned, &hello(), psk).map_err(|e| format!("init start: {e}"))?;
    let mut resp = Responder::new(tech);
    let got = resp
        .receive(&m1, codes)
        .map_err(|e| format!("responder: {e}"))?;
    assert_eq!(got, Some(hello()));
    let (m2, r) = resp
        .reply(&tech_hello(Decision::Accepted))
        .map_err(|e| format!("reply: {e}"))?;
    let (i, th) = init
        .receive(&m2)
        .map_err(|e| format!("initiator: {e}"))?
        .ok_or("initiator wants more")?;
    assert_eq!(th.technician_id, "Verde");
    Ok((i, r))
}
