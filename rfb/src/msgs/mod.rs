//! Typed RFB messages, one module per message family (the rustls `msgs/` idea).
//!
//! Every message implements [`Message`]: [`Message::write`] appends the
//! complete wire form (type byte included) and [`Message::read`] parses it
//! from a [`Reader`], rewinding and reporting [`MsgError::Incomplete`] when
//! the bytes are not all there yet, and validating every length and count
//! against [`crate::limits`] before allocating.
//!
//! [`ClientMessage`] and [`ServerMessage`] dispatch on the type byte.

pub mod clipboard;
pub mod cut_text;
pub mod desktop_size;
pub mod fence;
pub mod input;
pub mod setup;
pub mod update;

use crate::pixel::PixelFormatError;
use crate::reader::{Incomplete, Reader};

pub use clipboard::ExtendedClipboard;
pub use cut_text::{CutText, CutTextPayload};
pub use desktop_size::{Screen, SetDesktopSize};
pub use fence::Fence;
pub use input::{KeyEvent, PointerEvent, QemuKeyEvent};
pub use setup::{SetColourMapEntries, SetEncodings, SetPixelFormat};
pub use update::{
    EnableContinuousUpdates, EndOfContinuousUpdates, FramebufferUpdate, FramebufferUpdateRequest,
};

/// Why a message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    /// More bytes are needed (not an error of the peer: wait and retry).
    #[error("more input is needed")]
    Incomplete,
    /// A message type this side does not know; the connection must close
    /// because its length is unknown.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// A count or length beyond a limit of [`crate::limits`].
    #[error("{what}: {value} exceeds the limit of {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// Announced value.
        value: u64,
        /// Allowed maximum.
        limit: u64,
    },
    /// A value the protocol does not allow.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A pixel format that cannot be used.
    #[error("unusable pixel format: {0}")]
    PixelFormat(#[from] PixelFormatError),
}

impl From<Incomplete> for MsgError {
    fn from(_: Incomplete) -> Self {
        MsgError::Incomplete
    }
}

impl MsgError {
    /// A [`MsgError::Limit`] error.
    pub fn limit(what: &'static str, value: impl TryInto<u64>, limit: usize) -> Self {
        MsgError::Limit {
            what,
            value: value.try_into().unwrap_or(u64::MAX),
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        }
    }

    /// A [`MsgError::Invalid`] error.
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        MsgError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// A message with a fixed type byte, its wire encoding and its parser.
pub trait Message: Sized {
    /// The message-type byte.
    const TYPE: u8;
    /// Appends the complete message, type byte included.
    fn write(&self, out: &mut Vec<u8>);
    /// Parses the complete message, type byte included; on error the reader
    /// is left where it was.
    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError>;

    /// The complete message as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }
}

/// Reads and checks the type byte.
pub(crate) fn expect_type(r: &mut Reader<'_>, ty: u8) -> Result<(), MsgError> {
    let got = r.u8()?;
    if got == ty {
        Ok(())
    } else {
        Err(MsgError::invalid(
            "message type",
            format!("expected {ty}, got {got}"),
        ))
    }
}

/// Reads a `u32` length followed by that many bytes, refusing lengths above
/// `limit` before waiting for (or allocating) the bytes.
pub(crate) fn read_counted_bytes<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
    limit: usize,
) -> Result<&'a [u8], MsgError> {
    let len = r.u32()?;
    let n = usize::try_from(len).map_err(|_| MsgError::limit(what, len, limit))?;
    if n > limit {
        return Err(MsgError::limit(what, len, limit));
    }
    Ok(r.take(n)?)
}

/// Decodes bytes as UTF-8 where valid, else as Latin-1 (what old servers send).
pub fn text_from_wire(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => latin1_to_string(bytes),
    }
}

/// Decodes Latin-1 bytes.
pub fn latin1_to_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Encodes text as Latin-1; characters outside Latin-1 become `?`.
pub fn string_to_latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// Every message a client sends to a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// SetPixelFormat (0).
    SetPixelFormat(SetPixelFormat),
    /// SetEncodings (2).
    SetEncodings(SetEncodings),
    /// FramebufferUpdateRequest (3).
    FramebufferUpdateRequest(FramebufferUpdateRequest),
    /// KeyEvent (4).
    KeyEvent(KeyEvent),
    /// PointerEvent (5).
    PointerEvent(PointerEvent),
    /// ClientCutText (6), plain or ExtendedClipboard.
    CutText(CutText),
    /// EnableContinuousUpdates (150).
    EnableContinuousUpdates(EnableContinuousUpdates),
    /// Fence (248).
    Fence(Fence),
    /// SetDesktopSize (251).
    SetDesktopSize(SetDesktopSize),
    /// QEMU extended key event (255, subtype 0).
    QemuKeyEvent(QemuKeyEvent),
}

/// Type byte of ClientCutText.
pub const CLIENT_CUT_TEXT: u8 = 6;
/// Type byte of ServerCutText.
pub const SERVER_CUT_TEXT: u8 = 3;

impl ClientMessage {
    /// Appends the message.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            ClientMessage::SetPixelFormat(m) => m.write(out),
            ClientMessage::SetEncodings(m) => m.write(out),
            ClientMessage::FramebufferUpdateRequest(m) => m.write(out),
            ClientMessage::KeyEvent(m) => m.write(out),
            ClientMessage::PointerEvent(m) => m.write(out),
            ClientMessage::CutText(m) => m.write(CLIENT_CUT_TEXT, out),
            ClientMessage::EnableContinuousUpdates(m) => m.write(out),
            ClientMessage::Fence(m) => m.write(out),
            ClientMessage::SetDesktopSize(m) => m.write(out),
            ClientMessage::QemuKeyEvent(m) => m.write(out),
        }
    }

    /// Parses one message; the reader is left unchanged on error.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        let ty = *r.rest().first().ok_or(MsgError::Incomplete)?;
        Ok(match ty {
            SetPixelFormat::TYPE => ClientMessage::SetPixelFormat(SetPixelFormat::read(r)?),
            SetEncodings::TYPE => ClientMessage::SetEncodings(SetEncodings::read(r)?),
            FramebufferUpdateRequest::TYPE => {
                ClientMessage::FramebufferUpdateRequest(FramebufferUpdateRequest::read(r)?)
            }
            KeyEvent::TYPE => ClientMessage::KeyEvent(KeyEvent::read(r)?),
            PointerEvent::TYPE => ClientMessage::PointerEvent(PointerEvent::read(r)?),
            CLIENT_CUT_TEXT => ClientMessage::CutText(CutText::read(CLIENT_CUT_TEXT, r)?),
            EnableContinuousUpdates::TYPE => {
                ClientMessage::EnableContinuousUpdates(EnableContinuousUpdates::read(r)?)
            }
            Fence::TYPE => ClientMessage::Fence(Fence::read(r)?),
            SetDesktopSize::TYPE => ClientMessage::SetDesktopSize(SetDesktopSize::read(r)?),
            QemuKeyEvent::TYPE => ClientMessage::QemuKeyEvent(QemuKeyEvent::read(r)?),
            other => return Err(MsgError::UnknownType(other)),
        })
    }
}

/// Every message a server sends to a client. A FramebufferUpdate is only
/// its header: its rectangles follow and are parsed one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// FramebufferUpdate (0) header.
    FramebufferUpdate(FramebufferUpdate),
    /// SetColourMapEntries (1).
    SetColourMapEntries(SetColourMapEntries),
    /// Bell (2).
    Bell,
    /// ServerCutText (3), plain or ExtendedClipboard.
    CutText(CutText),
    /// EndOfContinuousUpdates (150).
    EndOfContinuousUpdates,
    /// Fence (248).
    Fence(Fence),
}

/// Type byte of Bell.
pub const BELL: u8 = 2;

impl ServerMessage {
    /// Appends the message.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            ServerMessage::FramebufferUpdate(m) => m.write(out),
            ServerMessage::SetColourMapEntries(m) => m.write(out),
            ServerMessage::Bell => out.push(BELL),
            ServerMessage::CutText(m) => m.write(SERVER_CUT_TEXT, out),
            ServerMessage::EndOfContinuousUpdates => EndOfContinuousUpdates.write(out),
            ServerMessage::Fence(m) => m.write(out),
        }
    }

    /// Parses one message; the reader is left unchanged on error.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        let ty = *r.rest().first().ok_or(MsgError::Incomplete)?;
        Ok(match ty {
            FramebufferUpdate::TYPE => {
                ServerMessage::FramebufferUpdate(FramebufferUpdate::read(r)?)
            }
            SetColourMapEntries::TYPE => {
                ServerMessage::SetColourMapEntries(SetColourMapEntries::read(r)?)
            }
            BELL => {
                r.skip(1)?;
                ServerMessage::Bell
            }
            SERVER_CUT_TEXT => ServerMessage::CutText(CutText::read(SERVER_CUT_TEXT, r)?),
            EndOfContinuousUpdates::TYPE => {
                EndOfContinuousUpdates::read(r)?;
                ServerMessage::EndOfContinuousUpdates
            }
            Fence::TYPE => ServerMessage::Fence(Fence::read(r)?),
            other => return Err(MsgError::UnknownType(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_clean_errors() {
        for ty in [1u8, 7, 100, 149, 200, 254] {
            let buf = [ty, 0, 0, 0];
            assert_eq!(
                ClientMessage::read(&mut Reader::new(&buf)),
                Err(MsgError::UnknownType(ty))
            );
        }
        for ty in [4u8, 5, 100, 249, 255] {
            let buf = [ty, 0, 0, 0];
            assert_eq!(
                ServerMessage::read(&mut Reader::new(&buf)),
                Err(MsgError::UnknownType(ty))
            );
        }
        assert_eq!(
            ClientMessage::read(&mut Reader::new(&[])),
            Err(MsgError::Incomplete)
        );
    }

    #[test]
    fn latin1_round_trip() {
        let s = "café ☃";
        assert_eq!(latin1_to_string(&string_to_latin1(s)), "café ?");
        assert_eq!(text_from_wire(&[0x63, 0xe9]), "cé");
        assert_eq!(text_from_wire("é".as_bytes()), "é");
    }
}

/// Proptest strategies shared by the message tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use crate::framebuffer::Rect;
    use crate::pixel::PixelFormat;
    use proptest::prelude::*;

    /// Any rectangle.
    pub fn rect() -> impl Strategy<Value = Rect> {
        (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>())
            .prop_map(|(x, y, w, h)| Rect::new(x, y, w, h))
    }

    /// Any screen.
    pub fn screen() -> impl Strategy<Value = super::Screen> {
        (any::<u32>(), rect(), any::<u32>()).prop_map(|(id, rect, flags)| super::Screen {
            id,
            rect,
            flags,
        })
    }

    /// Valid true-colour pixel formats.
    pub fn pixel_format() -> impl Strategy<Value = PixelFormat> {
        (
            prop_oneof![Just(8u8), Just(16u8), Just(32u8)],
            any::<bool>(),
            1u32..=8,
            1u32..=8,
            1u32..=8,
        )
            .prop_filter_map("channels must fit", |(bpp, be, rb, gb, bb)| {
                let total = rb + gb + bb;
                if total > u32::from(bpp) {
                    return None;
                }
                Some(PixelFormat {
                    bits_per_pixel: bpp,
                    depth: total as u8,
                    big_endian: be,
                    true_colour: true,
                    red_max: ((1u32 << rb) - 1) as u16,
                    green_max: ((1u32 << gb) - 1) as u16,
                    blue_max: ((1u32 << bb) - 1) as u16,
                    red_shift: (gb + bb) as u8,
                    green_shift: bb as u8,
                    blue_shift: 0,
                })
            })
    }
}
