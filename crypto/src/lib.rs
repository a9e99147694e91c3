//! Remoto's secure channel (see README.md beside this crate).
//!
//! Sans-IO core: [`wire`] (preamble, frames), [`detect`] (clear vs crypto),
//! [`handshake`] (Noise IK / IKpsk1), [`transport`] (channels, scheduler),
//! [`control`] (control messages, file transfers), [`sas`], [`session_code`],
//! [`keys`]. tokio glue: [`tokio_io`].
#![forbid(unsafe_code)]

pub mod control;
pub mod detect;
pub mod handshake;
pub mod hello;
pub mod keys;
pub mod log;
pub mod sas;
pub mod session_code;
pub mod tokio_io;
pub mod transfer;
pub mod transport;
pub mod wire;

pub use control::{ControlError, ControlMessage, FileName};
pub use detect::{Detection, detect};
pub use handshake::{Established, HandshakeError, Initiator, Responder};
pub use hello::{CustomerHello, Decision, HelloError, ScreenSize, TechnicianHello};
pub use keys::{KeyError, KeyFileError, KeyPair, PrivateKey, PublicKey, RandomError};
pub use sas::Sas;
pub use session_code::{SessionCode, SessionCodeError, SessionCodes};
pub use tokio_io::{
    ChannelConfig, ChannelError, ConnectError, ControlReceiver, ControlSender, InitiatorConfig,
    ResponderConfig, RfbStream, SecureChannel, SessionInfo, accept_responder, connect_initiator,
};
pub use transport::{
    Channel, Incoming, Transport, TransportError, TransportReceiver, TransportSender,
};
pub use wire::{Mode, PREAMBLE_LEN, preamble};
