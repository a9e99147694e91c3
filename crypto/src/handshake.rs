//! The Noise handshake, sans-IO: [`Initiator`] (the customer's Remoto) and
//! [`Responder`] (the technician's viewer).
//!
//! ```text
//! initiator → responder: preamble (8 bytes, the Noise prologue)
//! initiator → responder: frame(Noise message 1 = e, es, s, ss [, psk] + CustomerHello)
//! responder → initiator: frame(Noise message 2 = e, ee, se + TechnicianHello)
//! then transport frames both ways (see crate::transport)
//! ```
//!
//! The initiator uses a fresh static key for every run and pins the
//! technician's static key from the profile. With a session code the
//! pattern is `IKpsk1` and the preamble's mode byte says so; the preamble is
//! the prologue, so a changed mode byte breaks the handshake.
//!
//! **Accept/refuse.** The technician usually wants to see the customer's
//! hello and the SAS before deciding, and the SAS comes from the *final*
//! handshake hash (after message 2, so it covers the responder's fresh
//! ephemeral key too). So the viewer answers message 2 at once with
//! [`Decision::Pending`]; both sides show the SAS; the viewer then sends the
//! control message `Accept` or `Refuse`. Until `Accept` is received no RFB
//! byte is sent by the customer's side (the tokio adapter enforces it).
//! A viewer may also answer `Accepted` (e.g. unattended) or `Refused` (e.g.
//! too many sessions) directly in message 2.

use crate::hello::{CustomerHello, Decision, HelloError, MAX_HELLO, TechnicianHello};
use crate::keys::{KeyPair, PublicKey};
use crate::sas::Sas;
use crate::session_code::SessionCodes;
use crate::transport::{Transport, TransportError};
use crate::wire::{self, Deframer, FrameError, MAX_FRAME, Mode, PREAMBLE_LEN, PreambleError};
use snow::{Builder, HandshakeState};

/// Fixed size of message 1 without its payload: e (32) + encrypted s (48) + payload tag (16).
pub const MSG1_OVERHEAD: usize = 32 + 48 + 16;
/// Fixed size of message 2 without its payload: e (32) + payload tag (16).
pub const MSG2_OVERHEAD: usize = 32 + 16;

/// Why a handshake failed. Every variant means: close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The first 8 bytes are not a preamble we speak.
    #[error(transparent)]
    Preamble(#[from] PreambleError),
    /// Framing failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A handshake message of impossible size.
    #[error("handshake message {msg} is {len} bytes, expected {min}..={max}")]
    Size {
        /// 1 or 2.
        msg: u8,
        /// Its length.
        len: usize,
        /// Smallest valid.
        min: usize,
        /// Largest accepted.
        max: usize,
    },
    /// Message 1 did not authenticate (plain IK).
    #[error(
        "the customer's first message did not authenticate: the Remoto was made for another technician key"
    )]
    WrongKey,
    /// Message 1 did not authenticate with any live session code (IKpsk1).
    #[error(
        "the customer's first message did not authenticate: wrong, expired or already used session code (or a Remoto made for another technician key)"
    )]
    WrongSessionCode,
    /// Message 2 did not authenticate: the peer is not the pinned technician.
    #[error(
        "the answer did not authenticate: the other side is not the technician whose key is in the profile (or the session code is wrong)"
    )]
    NotTheTechnician,
    /// The other side answered the Noise preamble with a plain RFB
    /// ProtocolVersion: a stock VNC viewer, or a downgrade attempt.
    #[error(
        "the other side answered with plain, unencrypted VNC instead of the encrypted handshake: nothing was sent; it is not the technician's viewer, or someone tried to downgrade the connection"
    )]
    PlainRfb,
    /// A hello was refused.
    #[error("bad hello: {0}")]
    Hello(#[from] HelloError),
    /// The technician refused the session in message 2.
    #[error("the technician refused the session: {reason}")]
    Refused {
        /// The reason given.
        reason: String,
    },
    /// Bytes after message 2 could not be handed to the transport.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A local Noise failure (random source, misuse).
    #[error("noise: {0}")]
    Noise(String),
    /// The state machine was used out of order.
    #[error("handshake used out of order: {0}")]
    State(&'static str),
}

fn noise(e: snow::Error) -> HandshakeError {
    HandshakeError::Noise(e.to_string())
}

/// The result of a finished handshake.
#[derive(Debug)]
pub struct Established {
    /// The encrypted transport (both directions).
    pub transport: Transport,
    /// The short authentication string to compare by voice.
    pub sas: Sas,
    /// The Noise handshake hash (channel binding).
    pub handshake_hash: [u8; 32],
    /// The pattern used.
    pub mode: Mode,
    /// The peer's static key: the technician's for the initiator, the
    /// customer's per-run key for the responder.
    pub remote_static: PublicKey,
}

fn finish(hs: HandshakeState, mode: Mode, leftover: &[u8]) -> Result<Established, HandshakeError> {
    let mut handshake_hash = [0u8; 32];
    handshake_hash.copy_from_slice(&hs.get_handshake_hash()[..32]);
    let mut rs = [0u8; 32];
    match hs.get_remote_static() {
        Some(k) if k.len() == 32 => rs.copy_from_slice(k),
        _ => return Err(HandshakeError::State("no remote static key")),
    }
    let state = hs.into_stateless_transport_mode().map_err(noise)?;
    Ok(Established {
        transport: Transport::new(state, leftover)?,
        sas: Sas::from_handshake_hash(&handshake_hash),
        handshake_hash,
        mode,
        remote_static: PublicKey(rs),
    })
}

/// The customer's side of the handshake.
pub struct Initiator {
    hs: Option<HandshakeState>,
    mode: Mode,
    deframer: Deframer,
    /// The first bytes received (up to 4), to recognise a plain RFB answer.
    first: Vec<u8>,
}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Initiator({:?})", self.mode)
    }
}

impl Initiator {
    /// Starts a handshake to `technician`: returns the state machine and the
    /// bytes to send (preamble + framed message 1). With `psk` (from
    /// [`SessionCode::derive_psk`](crate::SessionCode::derive_psk)) the mode is IKpsk1.
    pub fn start(
        technician: &PublicKey,
        hello: &CustomerHello,
        psk: Option<&[u8; 32]>,
    ) -> Result<(Initiator, Vec<u8>), HandshakeError> {
        let mode = if psk.is_some() {
            Mode::IkPsk1
        } else {
            Mode::Ik
        };
        let preamble = wire::preamble(mode);
        let builder = Builder::new(mode.params());
        let fresh = builder.generate_keypair().map_err(noise)?;
        let mut builder = builder
            .local_private_key(&fresh.private)
            .map_err(noise)?
            .remote_public_key(technician.as_bytes())
            .map_err(noise)?
            .prologue(&preamble)
            .map_err(noise)?;
        if let Some(psk) = psk {
            builder = builder.psk(1, psk).map_err(noise)?;
        }
        let mut hs = builder.build_initiator().map_err(noise)?;
        let payload = hello.to_payload()?;
        let mut msg = vec![0u8; MAX_FRAME];
        let n = hs.write_message(&payload, &mut msg).map_err(noise)?;
        let mut out = Vec::with_capacity(PREAMBLE_LEN + 2 + n);
        out.extend_from_slice(&preamble);
        wire::push_frame(&mut out, &msg[..n]);
        Ok((
            Initiator {
                hs: Some(hs),
                mode,
                deframer: Deframer::default(),
                first: Vec::with_capacity(4),
            },
            out,
        ))
    }

    /// The mode announced in the preamble.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Feeds bytes received from the technician. Returns the session once
    /// message 2 is complete; bytes after it are kept for the transport.
    /// A `Refused` decision is [`HandshakeError::Refused`].
    pub fn receive(
        &mut self,
        bytes: &[u8],
    ) -> Result<Option<(Established, TechnicianHello)>, HandshakeError> {
        let Some(mut hs) = self.hs.take() else {
            return Err(HandshakeError::State("the handshake is over"));
        };
        if self.first.len() < 4 {
            let take = (4 - self.first.len()).min(bytes.len());
            self.first.extend_from_slice(&bytes[..take]);
            // "RF" as a frame length (21062) exceeds any message 2, so a
            // real answer never starts like an RFB ProtocolVersion.
            if self.first.as_slice() == b"RFB " {
                return Err(HandshakeError::PlainRfb);
            }
        }
        self.deframer.push(bytes)?;
        let frame = match self.deframer.next_frame()? {
            Some(f) => f.to_vec(),
            None => {
                self.hs = Some(hs);
                return Ok(None);
            }
        };
        let max = MSG2_OVERHEAD + MAX_HELLO;
        if frame.len() < MSG2_OVERHEAD || frame.len() > max {
            return Err(HandshakeError::Size {
                msg: 2,
                len: frame.len(),
                min: MSG2_OVERHEAD,
                max,
            });
        }
        let mut payload = vec![0u8; frame.len()];
        let n = hs
            .read_message(&frame, &mut payload)
            .map_err(|_| HandshakeError::NotTheTechnician)?;
        let hello = TechnicianHello::from_payload(&payload[..n])?;
        if let Decision::Refused { reason } = &hello.decision {
            return Err(HandshakeError::Refused {
                reason: reason.clone(),
            });
        }
        let rest = self.deframer.take_rest();
        let est = finish(hs, self.mode, &rest)?;
        Ok(Some((est, hello)))
    }
}

enum Stage {
    Preamble(Vec<u8>),
    Message1(Mode),
    Reply(Box<HandshakeState>, Mode),
    Done,
}

/// The technician's side of the handshake.
pub struct Responder {
    keypair: KeyPair,
    stage: Stage,
    deframer: Deframer,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Responder({:?})", self.mode())
    }
}

impl Responder {
    /// A responder for the technician's key pair.
    pub fn new(keypair: &KeyPair) -> Self {
        Responder {
            keypair: keypair.clone(),
            stage: Stage::Preamble(Vec::with_capacity(PREAMBLE_LEN)),
            deframer: Deframer::default(),
        }
    }

    /// The mode, once the preamble was read.
    pub fn mode(&self) -> Option<Mode> {
        match &self.stage {
            Stage::Message1(m) | Stage::Reply(_, m) => Some(*m),
            _ => None,
        }
    }

    fn build(&self, mode: Mode, psk: Option<&[u8; 32]>) -> Result<HandshakeState, HandshakeError> {
        let preamble = wire::preamble(mode);
        let mut b = Builder::new(mode.params())
            .local_private_key(self.keypair.private.as_bytes())
            .map_err(noise)?
            .prologue(&preamble)
            .map_err(noise)?;
        if let Some(psk) = psk {
            b = b.psk(1, psk).map_err(noise)?;
        }
        b.build_responder().map_err(noise)
    }

    /// Feeds bytes received from the customer (starting with the preamble).
    /// Returns the customer's hello once message 1 authenticated; then call
    /// [`reply`](Self::reply). In IKpsk1 mode the live codes in `codes` are
    /// tried, and the one that matches is used up.
    pub fn receive(
        &mut self,
        mut bytes: &[u8],
        codes: Option<&mut SessionCodes>,
    ) -> Result<Option<CustomerHello>, HandshakeError> {
        if let Stage::Preamble(buf) = &mut self.stage {
            let take = (PREAMBLE_LEN - buf.len()).min(bytes.len());
            buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if buf.len() < PREAMBLE_LEN {
                return Ok(None);
            }
            let mut p = [0u8; PREAMBLE_LEN];
            p.copy_from_slice(buf);
            let mode = wire::parse_preamble(&p).inspect_err(|_| self.stage = Stage::Done)?;
            self.stage = Stage::Message1(mode);
        }
        let Stage::Message1(mode) = self.stage else {
            if let Stage::Reply(..) = self.stage {
                // Bytes before our reply: keep them for the transport (they can
                // only be valid transport frames, which they cannot be yet).
                self.deframer.push(bytes)?;
                return Ok(None);
            }
            return Err(HandshakeError::State("the handshake is over"));
        };
        self.deframer.push(bytes)?;
        let frame = match self.deframer.next_frame() {
            Ok(Some(f)) => f.to_vec(),
            Ok(None) => return Ok(None),
            Err(e) => {
                self.stage = Stage::Done;
                return Err(e.into());
            }
        };
        self.stage = Stage::Done;
        let max = MSG1_OVERHEAD + MAX_HELLO;
        if frame.len() < MSG1_OVERHEAD || frame.len() > max {
            return Err(HandshakeError::Size {
                msg: 1,
                len: frame.len(),
                min: MSG1_OVERHEAD,
                max,
            });
        }
        let mut payload = vec![0u8; frame.len()];
        let (hs, n) = match mode {
            Mode::Ik => {
                let mut hs = self.build(mode, None)?;
                let n = hs
                    .read_message(&frame, &mut payload)
                    .map_err(|_| HandshakeError::WrongKey)?;
                (hs, n)
            }
            Mode::IkPsk1 => {
                let Some(codes) = codes else {
                    return Err(HandshakeError::WrongSessionCode);
                };
                let mut found = None;
                for (id, psk) in codes.candidates() {
                    let mut hs = self.build(mode, Some(&psk))?;
                    if let Ok(n) = hs.read_message(&frame, &mut payload) {
                        codes.consume(id);
                        found = Some((hs, n));
                        break;
                    }
                }
                found.ok_or(HandshakeError::WrongSessionCode)?
            }
        };
        let hello = CustomerHello::from_payload(&payload[..n])?;
        self.stage = Stage::Reply(Box::new(hs), mode);
        Ok(Some(hello))
    }

    /// Answers message 2 with `hello` and finishes the handshake: returns the
    /// bytes to send (framed message 2) and the session. With a `Refused`
    /// decision, send the bytes and close.
    pub fn reply(
        mut self,
        hello: &TechnicianHello,
    ) -> Result<(Vec<u8>, Established), HandshakeError> {
        let Stage::Reply(mut hs, mode) = std::mem::replace(&mut self.stage, Stage::Done) else {
            return Err(HandshakeError::State("reply before message 1 was read"));
        };
        let payload = hello.to_payload()?;
        let mut msg = vec![0u8; MAX_FRAME];
        let n = hs.write_message(&payload, &mut msg).map_err(noise)?;
        let mut out = Vec::with_capacity(2 + n);
        wire::push_frame(&mut out, &msg[..n]);
        let rest = self.deframer.take_rest();
        let est = finish(*hs, mode, &rest)?;
        Ok((out, est))
    }
}
