//! The transport phase, sans-IO: framing, encryption, channel tags.
//!
//! ```text
//! frame     = length (u16 BE, 17..=65535) ‖ ChaChaPoly(ciphertext ‖ 16-byte tag)
//! plaintext = channel tag (u8) ‖ payload (0..=65518 bytes)
//!   tag 0: RFB stream bytes (RFB 3.8, security type None inside the tunnel)
//!   tag 1: one control message (see [`crate::control`])
//! ```
//!
//! Nonces are implicit: each direction counts frames from 0. A replayed,
//! reordered, dropped, truncated or altered frame therefore fails
//! authentication ([`TransportError::Decrypt`]); after any error the receiver
//! refuses everything ([`TransportError::Poisoned`]) and the connection
//! must be closed.

use crate::control::{ControlError, ControlMessage};
use crate::wire::{Deframer, FrameError, LEN_PREFIX, MAX_FRAME, TAG_LEN};
use snow::StatelessTransportState;
use std::collections::VecDeque;
use std::sync::Arc;

/// Largest plaintext in one frame (65535 − 16).
pub const MAX_PLAINTEXT: usize = MAX_FRAME - TAG_LEN;
/// Largest payload after the channel tag.
pub const MAX_PAYLOAD: usize = MAX_PLAINTEXT - 1;
/// Smallest valid transport frame: a tag byte plus the authentication tag.
pub const MIN_FRAME: usize = 1 + TAG_LEN;

/// The two logical channels inside the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// RFB stream bytes.
    Rfb,
    /// Control messages.
    Control,
}

impl Channel {
    /// The tag byte.
    pub fn tag(self) -> u8 {
        match self {
            Channel::Rfb => 0,
            Channel::Control => 1,
        }
    }
}

/// Why the transport failed. Every variant means: close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Framing failed (empty frame, buffer overflow).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame shorter than a tag byte plus the authentication tag.
    #[error("the peer sent a {0}-byte frame, too short to be valid")]
    TooShort(usize),
    /// Authentication failed: altered, replayed, reordered or truncated frame.
    #[error("a frame failed authentication (altered, replayed, reordered or lost data): closing")]
    Decrypt,
    /// Unknown channel tag.
    #[error("unknown channel tag {0}")]
    UnknownChannel(u8),
    /// A bad control message.
    #[error("bad control message: {0}")]
    Control(#[from] ControlError),
    /// A payload too large for one frame.
    #[error("payload of {0} bytes does not fit in a frame (at most {MAX_PAYLOAD})")]
    TooLarge(usize),
    /// 2^64 frames: never in practice.
    #[error("nonce space exhausted")]
    NonceExhausted,
    /// A previous error closed this direction.
    #[error("the secure channel already failed and is closed")]
    Poisoned,
    /// Encryption failed locally.
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// What one frame carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// RFB stream bytes.
    Rfb(Vec<u8>),
    /// A control message.
    Control(ControlMessage),
}

/// Both directions of an established session.
#[derive(Debug)]
pub struct Transport {
    /// Encrypts outgoing frames.
    pub sender: TransportSender,
    /// Decrypts incoming frames.
    pub receiver: TransportReceiver,
}

impl Transport {
    pub(crate) fn new(
        state: StatelessTransportState,
        leftover: &[u8],
    ) -> Result<Self, TransportError> {
        let state = Arc::new(state);
        let mut receiver = TransportReceiver {
            state: state.clone(),
            nonce: 0,
            deframer: Deframer::default(),
            scratch: vec![0u8; MAX_FRAME],
            poisoned: false,
        };
        receiver.push(leftover)?;
        Ok(Transport {
            sender: TransportSender {
                state,
                nonce: 0,
                scratch: Vec::with_capacity(MAX_FRAME),
            },
            receiver,
        })
    }
}

/// The sending direction.
pub struct TransportSender {
    state: Arc<StatelessTransportState>,
    nonce: u64,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for TransportSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TransportSender(nonce {})", self.nonce)
    }
}

impl TransportSender {
    /// Appends one frame carrying `payload` on `channel` to `out`.
    pub fn seal(
        &mut self,
        channel: Channel,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), TransportError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(TransportError::TooLarge(payload.len()));
        }
        self.scratch.clear();
        self.scratch.push(channel.tag());
        self.scratch.extend_from_slice(payload);
        let pt = std::mem::take(&mut self.scratch);
        let r = self.seal_plaintext(&pt, out);
        self.scratch = pt;
        r
    }

    /// Appends one frame with a raw plaintext (channel tag included) to `out`.
    /// For tests and diagnostics: peers only accept the tags of [`Channel`].
    pub fn seal_plaintext(
        &mut self,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), TransportError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(TransportError::TooLarge(plaintext.len()));
        }
        if self.nonce == u64::MAX {
            return Err(TransportError::NonceExhausted);
        }
        let len = plaintext.len() + TAG_LEN;
        let at = out.len();
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.resize(at + LEN_PREFIX + len, 0);
        match self
            .state
            .write_message(self.nonce, plaintext, &mut out[at + LEN_PREFIX..])
        {
            Ok(n) if n == len => {
                self.nonce += 1;
                Ok(())
            }
            Ok(n) => {
                out.truncate(at);
                Err(TransportError::Encrypt(format!("wrote {n} of {len} bytes")))
            }
            Err(e) => {
                out.truncate(at);
                Err(TransportError::Encrypt(e.to_string()))
            }
        }
    }

    /// Appends RFB bytes to `out`, in as many frames as needed.
    pub fn seal_rfb(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), TransportError> {
        while !data.is_empty() {
            let n = data.len().min(MAX_PAYLOAD);
            self.seal(Channel::Rfb, &data[..n], out)?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Appends one control message frame to `out`.
    pub fn seal_control(
        &mut self,
        msg: &ControlMessage,
        out: &mut Vec<u8>,
    ) -> Result<(), TransportError> {
        let bytes = msg.to_bytes()?;
        self.seal(Channel::Control, &bytes, out)
    }

    /// Frames sent so far.
    pub fn frames_sent(&self) -> u64 {
        self.nonce
    }
}

/// The receiving direction.
pub struct TransportReceiver {
    state: Arc<StatelessTransportState>,
    nonce: u64,
    deframer: Deframer,
    scratch: Vec<u8>,
    poisoned: bool,
}

impl std::fmt::Debug for TransportReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TransportReceiver(nonce {})", self.nonce)
    }
}

impl TransportReceiver {
    /// Adds bytes read from the connection. Call [`next_incoming`](Self::next_incoming) until it
    /// gives `None` before pushing more: at most two frames are buffered.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if self.poisoned {
            return Err(TransportError::Poisoned);
        }
        self.deframer.push(bytes).map_err(|e| self.poison(e.into()))
    }

    fn poison(&mut self, e: TransportError) -> TransportError {
        self.poisoned = true;
        e
    }

    /// The next frame's content, if a whole frame is buffered.
    pub fn next_incoming(&mut self) -> Result<Option<Incoming>, TransportError> {
        if self.poisoned {
            return Err(TransportError::Poisoned);
        }
        let frame = match self.deframer.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.poisoned = true;
                return Err(e.into());
            }
        };
        if frame.len() < MIN_FRAME {
            let len = frame.len();
            return Err(self.poison(TransportError::TooShort(len)));
        }
        if self.nonce == u64::MAX {
            return Err(self.poison(TransportError::NonceExhausted));
        }
        let n = match self
            .state
            .read_message(self.nonce, frame, &mut self.scratch)
        {
            Ok(n) => n,
            Err(_) => return Err(self.poison(TransportError::Decrypt)),
        };
        self.nonce += 1;
        let pt = &self.scratch[..n];
        let Some((&tag, payload)) = pt.split_first() else {
            return Err(self.poison(TransportError::TooShort(0)));
        };
        let out = match tag {
            0 => Incoming::Rfb(payload.to_vec()),
            1 => match ControlMessage::decode(payload) {
                Ok(m) => Incoming::Control(m),
                Err(e) => return Err(self.poison(e.into())),
            },
            t => return Err(self.poison(TransportError::UnknownChannel(t))),
        };
        Ok(Some(out))
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.deframer.buffered()
    }

    /// Frames received so far.
    pub fn frames_received(&self) -> u64 {
        self.nonce
    }
}

/// FUZZING ONLY (cargo feature `fuzzing`, never enabled by the product's
/// crates): copies of one established direction starting again at nonce 0,
/// so a fuzz target does the handshake once per process instead of once per
/// input. Restarting a nonce reuses it, which breaks the cipher.
#[cfg(feature = "fuzzing")]
impl TransportSender {
    /// A sender on the same keys, at nonce 0.
    pub fn rewound(&self) -> Self {
        TransportSender {
            state: self.state.clone(),
            nonce: 0,
            scratch: Vec::with_capacity(MAX_FRAME),
        }
    }
}

/// FUZZING ONLY: see [`TransportSender::rewound`].
#[cfg(feature = "fuzzing")]
impl TransportReceiver {
    /// A receiver on the same keys, at nonce 0, with nothing buffered.
    pub fn rewound(&self) -> Self {
        TransportReceiver {
            state: self.state.clone(),
            nonce: 0,
            deframer: Deframer::default(),
            scratch: vec![0u8; MAX_FRAME],
            poisoned: false,
        }
    }
}

/// How many RFB frames may go in a row while control messages wait.
pub const RFB_BURST: u32 = 4;

/// Orders outgoing payloads: RFB first, control messages in between.
///
/// RFB bytes have priority, so the screen stream waits behind at most one
/// control frame (≤ 16 KiB, see [`crate::control::MAX_CONTROL_LEN`]); and
/// after [`RFB_BURST`] RFB frames a waiting control message goes next, so a
/// busy screen never starves chat, consent or keep-alives.
///
/// RFB bytes can be held back ([`set_rfb_open`](Self::set_rfb_open)`(false)`)
/// until the session is accepted: they stay queued and are not returned.
#[derive(Debug)]
pub struct Scheduler {
    rfb: VecDeque<u8>,
    control: VecDeque<Vec<u8>>,
    streak: u32,
    rfb_open: bool,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            rfb: VecDeque::new(),
            control: VecDeque::new(),
            streak: 0,
            rfb_open: true,
        }
    }
}

impl Scheduler {
    /// An empty scheduler with RFB open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets RFB bytes out (`true`) or holds them back (`false`).
    pub fn set_rfb_open(&mut self, open: bool) {
        self.rfb_open = open;
    }

    /// Whether [`pop`](Self::pop) would return something now.
    pub fn has_sendable(&self) -> bool {
        !self.control.is_empty() || (self.rfb_open && !self.rfb.is_empty())
    }

    /// Queues RFB stream bytes.
    pub fn push_rfb(&mut self, data: &[u8]) {
        self.rfb.extend(data);
    }

    /// Queues a control message (validated and encoded now).
    pub fn push_control(&mut self, msg: &ControlMessage) -> Result<(), ControlError> {
        self.control.push_back(msg.to_bytes()?);
        Ok(())
    }

    /// RFB bytes waiting.
    pub fn rfb_pending(&self) -> usize {
        self.rfb.len()
    }

    /// Control messages waiting.
    pub fn control_pending(&self) -> usize {
        self.control.len()
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.rfb.is_empty() && self.control.is_empty()
    }

    /// The next payload to seal, with its channel.
    pub fn pop(&mut self) -> Option<(Channel, Vec<u8>)> {
        let rfb_ready = self.rfb_open && !self.rfb.is_empty();
        let control_turn = !self.control.is_empty() && (!rfb_ready || self.streak >= RFB_BURST);
        if control_turn {
            self.streak = 0;
            return self.control.pop_front().map(|c| (Channel::Control, c));
        }
        if !rfb_ready {
            return None;
        }
        self.streak += 1;
        let n = self.rfb.len().min(MAX_PAYLOAD);
        Some((Channel::Rfb, self.rfb.drain(..n).collect()))
    }

    /// Seals everything sendable into `out`, in scheduling order.
    pub fn drain_into(
        &mut self,
        tx: &mut TransportSender,
        out: &mut Vec<u8>,
    ) -> Result<(), TransportError> {
        while let Some((ch, p)) = self.pop() {
            tx.seal(ch, &p, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_interleaves() {
        let mut s = Scheduler::new();
        s.push_rfb(&vec![0u8; MAX_PAYLOAD * 10]);
        for i in 0..3 {
            s.push_control(&ControlMessage::Chat {
                text: format!("{i}"),
            })
            .unwrap();
        }
        let order: Vec<Channel> = std::iter::from_fn(|| s.pop().map(|(c, _)| c)).collect();
        assert_eq!(order.len(), 13);
        // RFB first, and never more than RFB_BURST in a row while control waits.
        assert_eq!(order[0], Channel::Rfb);
        assert_eq!(order[4], Channel::Control);
        assert_eq!(order[9], Channel::Control);
        assert_eq!(order[12], Channel::Control);
        assert!(s.is_empty());
        // Held RFB bytes stay queued; control still flows.
        s.set_rfb_open(false);
        s.push_rfb(b"RFB 003.008\n");
        s.push_control(&ControlMessage::KeepAlive).unwrap();
        assert_eq!(s.pop().map(|(c, _)| c), Some(Channel::Control));
        assert!(s.pop().is_none() && !s.has_sendable() && !s.is_empty());
        s.set_rfb_open(true);
        assert_eq!(s.pop(), Some((Channel::Rfb, b"RFB 003.008\n".to_vec())));
    }
}
