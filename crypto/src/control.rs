//! Control messages: the typed, versioned messages of channel 1.
//!
//! Each control message travels in one transport frame (channel tag `1`) in
//! a compact binary form:
//!
//! ```text
//! version (u8 = 1) ‖ kind (u8) ‖ fields
//! integers: big-endian; bool: one byte 0/1;
//! string: u16 length ‖ UTF-8; bytes: u16 length ‖ bytes; digest: 32 bytes
//!
//! kind 0x01 Accept
//! kind 0x02 Refuse          { reason: string ≤ 512 }
//! kind 0x03 ConsentChanged  { control: bool }
//! kind 0x04 Chat            { text: string ≤ 4096 }
//! kind 0x05 FileOffer       { id: u32, name: string (FileName), size: u64, blake2s: digest }
//! kind 0x06 FileAccept      { id: u32 }
//! kind 0x07 FileRefuse      { id: u32 }
//! kind 0x08 FileChunk       { id: u32, offset: u64, data: bytes ≤ 16384 }
//! kind 0x09 FileCancel      { id: u32 }
//! kind 0x0a FileDone        { id: u32 }
//! kind 0x0b SessionEnd      { reason: string ≤ 512 }
//! kind 0x0c KeepAlive
//! kind 0x0d Sharing         { state: string ≤ 64 }  ("all", "paused", "window", "monitor N")
//! kind 0x0e FileAck         { id: u32, received: u64 }
//! ```
//!
//! Flow control of files: the receiver of a file sends `FileAck` with the
//! number of bytes it has written each time that count crosses a multiple of
//! [`ACK_EVERY`] and when the last byte is written
//! ([`IncomingTransfers::written`]); the sender keeps at most
//! [`WINDOW`](crate::transfer::WINDOW) bytes unacknowledged
//! ([`send_file`](crate::transfer::send_file)), so file chunks never queue
//! up megabytes ahead of the screen stream's update requests.
//!
//! Trailing bytes, unknown kinds, other versions, over-long fields and control
//! characters in text fields are refused with a typed [`ControlError`]. A
//! well-framed `FileOffer` whose name is unsafe (any length the `u16`
//! allows, not UTF-8, or failing [`FileName::new`]) decodes to
//! [`ControlMessage::UnsafeFileOffer`] instead, so that the receiver refuses
//! that one file and the session goes on; it is never encoded. The largest encoding is a `FileChunk` (16 400 bytes), so
//! a control frame never keeps the screen stream waiting for long.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The control-message format version.
pub const CONTROL_VERSION: u8 = 1;
/// Longest `Refuse`/`SessionEnd` reason, in bytes.
pub const MAX_REASON: usize = 512;
/// Longest chat text, in bytes.
pub const MAX_CHAT: usize = 4096;
/// Longest file name, in bytes.
pub const MAX_FILE_NAME: usize = 255;
/// Largest file-chunk payload, in bytes.
pub const MAX_FILE_CHUNK: usize = 16 * 1024;
/// Longest `Sharing` state, in bytes.
pub const MAX_SHARING: usize = 64;
/// The receiver of a file acknowledges (`FileAck`) each time its written
/// byte count crosses a multiple of this, and at the end of the file. A
/// quarter of the sender's window ([`WINDOW`](crate::transfer::WINDOW)),
/// so the sender never idles waiting for an ack while the pipe has room.
pub const ACK_EVERY: u64 = 64 * 1024;
/// Largest encoded control message, in bytes.
pub const MAX_CONTROL_LEN: usize = 1 + 1 + 4 + 8 + 2 + MAX_FILE_CHUNK;

/// A file name that is safe to create inside a chosen directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    /// Validates a bare file name: 1..=255 bytes, no `/`, `\`, `:`, NUL or other
    /// control character, no `..`, not `.`, no leading/trailing space, no trailing
    /// dot, and not a reserved Windows device name (`CON`, `NUL`, `COM1`, …).
    pub fn new(name: &str) -> Result<FileName, ControlError> {
        let bad = |why: &'static str| ControlError::FileName { why };
        if name.is_empty() {
            return Err(bad("empty"));
        }
        if name.len() > MAX_FILE_NAME {
            return Err(bad("longer than 255 bytes"));
        }
        if name.contains(['/', '\\']) {
            return Err(bad("contains a path separator"));
        }
        if name.contains('\0') {
            return Err(bad("contains NUL"));
        }
        if name.chars().any(char::is_control) {
            return Err(bad("contains a control character"));
        }
        // Bidirectional overrides and marks make "exe.pdf" look like "fdp.exe".
        if name
            .chars()
            .any(|c| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        {
            return Err(bad("contains a bidirectional text control"));
        }
        if name.contains(':') {
            return Err(bad("contains ':' (drive letter or stream)"));
        }
        if name.contains("..") || name == "." {
            return Err(bad("contains '..' or is '.'"));
        }
        if name.starts_with(' ') || name.ends_with(' ') || name.ends_with('.') {
            return Err(bad("starts or ends with a space, or ends with a dot"));
        }
        let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
        let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
            || ((stem.starts_with("COM") || stem.starts_with("LPT"))
                && stem.len() == 4
                && stem.as_bytes()[3].is_ascii_digit());
        if reserved {
            return Err(bad("a reserved device name on Windows"));
        }
        Ok(FileName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FileName {
    type Error = ControlError;
    fn try_from(s: String) -> Result<Self, ControlError> {
        FileName::new(&s)
    }
}

impl From<FileName> for String {
    fn from(f: FileName) -> String {
        f.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One control message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMessage {
    /// The technician accepts a pending session: RFB may start.
    Accept,
    /// The technician refuses a pending session.
    Refuse {
        /// Shown to the customer.
        reason: String,
    },
    /// The customer allowed (`true`) or revoked (`false`) remote control.
    ConsentChanged {
        /// Whether the technician's input is applied.
        control: bool,
    },
    /// A chat line.
    Chat {
        /// The text (no control characters except newline and tab).
        text: String,
    },
    /// Offer to send a file.
    FileOffer {
        /// Transfer id, chosen by the sender, unique per direction.
        id: u32,
        /// The file's name (no path).
        name: FileName,
        /// Size in bytes.
        size: u64,
        /// BLAKE2s-256 of the whole content.
        blake2s: [u8; 32],
    },
    /// The receiver wants the offered file.
    FileAccept {
        /// Transfer id.
        id: u32,
    },
    /// The receiver declines the offered file.
    FileRefuse {
        /// Transfer id.
        id: u32,
    },
    /// A piece of an accepted file.
    FileChunk {
        /// Transfer id.
        id: u32,
        /// Offset of `data` in the file.
        offset: u64,
        /// At most [`MAX_FILE_CHUNK`] bytes.
        data: Vec<u8>,
    },
    /// Either side stops a transfer.
    FileCancel {
        /// Transfer id.
        id: u32,
    },
    /// The sender has sent every chunk.
    FileDone {
        /// Transfer id.
        id: u32,
    },
    /// The session ends (shown to the other side).
    SessionEnd {
        /// Why.
        reason: String,
    },
    /// Nothing: keeps an idle connection alive.
    KeepAlive,
    /// Only produced by [`decode`](ControlMessage::decode): a well-framed
    /// `FileOffer` whose name is unsafe. The receiver refuses it
    /// (`FileRefuse`) and the session goes on; it is never encoded.
    UnsafeFileOffer {
        /// Transfer id.
        id: u32,
        /// The offered name, escaped for display and cut to 64 characters.
        name: String,
        /// Size in bytes.
        size: u64,
        /// Why the name was refused.
        why: String,
    },
    /// The customer changed what is shared (privacy controls): `all`,
    /// `paused`, `window` or `monitor N`.
    Sharing {
        /// The new state, shown to the technician and logged.
        state: String,
    },
    /// The receiver of a file has written `received` bytes of it (flow
    /// control: see [`ACK_EVERY`]).
    FileAck {
        /// Transfer id.
        id: u32,
        /// Bytes received and written so far.
        received: u64,
    },
}

/// Why a control message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Empty message.
    #[error("empty control message")]
    Empty,
    /// Another format version.
    #[error("control message version {0} is not supported (this program speaks {CONTROL_VERSION})")]
    Version(u8),
    /// Unknown message kind.
    #[error("unknown control message kind {0:#04x}")]
    UnknownKind(u8),
    /// The message ends early.
    #[error("control message truncated")]
    Truncated,
    /// Bytes after the last field.
    #[error("{0} unexpected bytes after a control message")]
    Trailing(usize),
    /// A field is longer than allowed.
    #[error("control field {field} is {len} bytes, at most {max} allowed")]
    TooLong {
        /// Field name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text field is not UTF-8 or has control characters.
    #[error("control field {field} is not clean UTF-8 text")]
    BadText {
        /// Field name.
        field: &'static str,
    },
    /// A bool is not 0 or 1.
    #[error("control field {field} is not a boolean")]
    BadBool {
        /// Field name.
        field: &'static str,
    },
    /// An unsafe file name.
    #[error("refused file name: {why}")]
    FileName {
        /// What is wrong.
        why: &'static str,
    },
}

fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    allow_newlines: bool,
) -> Result<(), ControlError> {
    if s.len() > max {
        return Err(ControlError::TooLong {
            field,
            len: s.len(),
            max,
        });
    }
    if s.chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t')))
    {
        return Err(ControlError::BadText { field });
    }
    Ok(())
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ControlError> {
        if self.rest.len() < n {
            return Err(ControlError::Truncated);
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ControlError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ControlError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ControlError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, ControlError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn bool(&mut self, field: &'static str) -> Result<bool, ControlError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ControlError::BadBool { field }),
        }
    }
    fn bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], ControlError> {
        let len = self.u16()? as usize;
        if len > max {
            return Err(ControlError::TooLong { field, len, max });
        }
        self.take(len)
    }
    fn text(
        &mut self,
        field: &'static str,
        max: usize,
        newlines: bool,
    ) -> Result<String, ControlError> {
        let b = self.bytes(field, max)?;
        let s = std::str::from_utf8(b).map_err(|_| ControlError::BadText { field })?;
        check_text(field, s, max, newlines)?;
        Ok(s.to_owned())
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Callers validate lengths (all limits are < 65536) before encoding.
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

impl ControlMessage {
    /// Checks the limits of every field (as `decode` does on receipt).
    pub fn validate(&self) -> Result<(), ControlError> {
        match self {
            ControlMessage::Refuse { reason } | ControlMessage::SessionEnd { reason } => {
                check_text("reason", reason, MAX_REASON, false)
            }
            ControlMessage::Chat { text } => check_text("text", text, MAX_CHAT, true),
            ControlMessage::Sharing { state } => check_text("state", state, MAX_SHARING, false),
            ControlMessage::FileOffer { name, .. } => FileName::new(name.as_str()).map(|_| ()),
            ControlMessage::UnsafeFileOffer { .. } => Err(ControlError::FileName {
                why: "an unsafe file offer is never sent",
            }),
            ControlMessage::FileChunk { data, .. } if data.len() > MAX_FILE_CHUNK => {
                Err(ControlError::TooLong {
                    field: "data",
                    len: data.len(),
                    max: MAX_FILE_CHUNK,
                })
            }
            _ => Ok(()),
        }
    }

    /// Appends the binary form to `out` after validating it.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ControlError> {
        self.validate()?;
        out.push(CONTROL_VERSION);
        match self {
            ControlMessage::Accept => out.push(0x01),
            ControlMessage::Refuse { reason } => {
                out.push(0x02);
                put_bytes(out, reason.as_bytes());
            }
            ControlMessage::ConsentChanged { control } => {
                out.push(0x03);
                out.push(u8::from(*control));
            }
            ControlMessage::Chat { text } => {
                out.push(0x04);
                put_bytes(out, text.as_bytes());
            }
            ControlMessage::FileOffer {
                id,
                name,
                size,
                blake2s,
            } => {
                out.push(0x05);
                out.extend_from_slice(&id.to_be_bytes());
                put_bytes(out, name.as_str().as_bytes());
                out.extend_from_slice(&size.to_be_bytes());
                out.extend_from_slice(blake2s);
            }
            ControlMessage::FileAccept { id } => {
                out.push(0x06);
                out.extend_from_slice(&id.to_be_bytes());
            }
            ControlMessage::FileRefuse { id } => {
                out.push(0x07);
                out.extend_from_slice(&id.to_be_bytes());
            }
            ControlMessage::FileChunk { id, offset, data } => {
                out.push(0x08);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                put_bytes(out, data);
            }
            ControlMessage::FileCancel { id } => {
                out.push(0x09);
                out.extend_from_slice(&id.to_be_bytes());
            }
            ControlMessage::FileDone { id } => {
                out.push(0x0a);
                out.extend_from_slice(&id.to_be_bytes());
            }
            ControlMessage::SessionEnd { reason } => {
                out.push(0x0b);
                put_bytes(out, reason.as_bytes());
            }
            ControlMessage::KeepAlive => out.push(0x0c),
            ControlMessage::Sharing { state } => {
                out.push(0x0d);
                put_bytes(out, state.as_bytes());
            }
            ControlMessage::FileAck { id, received } => {
                out.push(0x0e);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&received.to_be_bytes());
            }
            // Refused by `validate` above.
            ControlMessage::UnsafeFileOffer { .. } => {}
        }
        Ok(())
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ControlError> {
        let mut v = Vec::new();
        self.encode(&mut v)?;
        Ok(v)
    }

    /// Decodes one whole control message; never panics.
    pub fn decode(bytes: &[u8]) -> Result<ControlMessage, ControlError> {
        let mut r = Reader { rest: bytes };
        if bytes.is_empty() {
            return Err(ControlError::Empty);
        }
        let version = r.u8()?;
        if version != CONTROL_VERSION {
            return Err(ControlError::Version(version));
        }
        let msg = match r.u8()? {
            0x01 => ControlMessage::Accept,
            0x02 => ControlMessage::Refuse {
                reason: r.text("reason", MAX_REASON, false)?,
            },
            0x03 => ControlMessage::ConsentChanged {
                control: r.bool("control")?,
            },
            0x04 => ControlMessage::Chat {
                text: r.text("text", MAX_CHAT, true)?,
            },
            0x05 => {
                let id = r.u32()?;
                // Any length the u16 allows: a bad name refuses this file,
                // not the whole session.
                let raw = r.bytes("name", usize::from(u16::MAX))?;
                let name = std::str::from_utf8(raw)
                    .map_err(|_| ControlError::FileName { why: "not UTF-8" })
                    .and_then(FileName::new);
                let size = r.u64()?;
                let mut blake2s = [0u8; 32];
                blake2s.copy_from_slice(r.take(32)?);
                match name {
                    Ok(name) => ControlMessage::FileOffer {
                        id,
                        name,
                        size,
                        blake2s,
                    },
                    Err(ControlError::FileName { why }) => ControlMessage::UnsafeFileOffer {
                        id,
                        name: shown_name(raw),
                        size,
                        why: why.to_string(),
                    },
                    Err(e) => return Err(e),
                }
            }
            0x06 => ControlMessage::FileAccept { id: r.u32()? },
            0x07 => ControlMessage::FileRefuse { id: r.u32()? },
            0x08 => {
                let id = r.u32()?;
                let offset = r.u64()?;
                let data = r.bytes("data", MAX_FILE_CHUNK)?.to_vec();
                ControlMessage::FileChunk { id, offset, data }
            }
            0x09 => ControlMessage::FileCancel { id: r.u32()? },
            0x0a => ControlMessage::FileDone { id: r.u32()? },
            0x0b => ControlMessage::SessionEnd {
                reason: r.text("reason", MAX_REASON, false)?,
            },
            0x0c => ControlMessage::KeepAlive,
            0x0d => ControlMessage::Sharing {
                state: r.text("state", MAX_SHARING, false)?,
            },
            0x0e => ControlMessage::FileAck {
                id: r.u32()?,
                received: r.u64()?,
            },
            k => return Err(ControlError::UnknownKind(k)),
        };
        if !r.rest.is_empty() {
            return Err(ControlError::Trailing(r.rest.len()));
        }
        Ok(msg)
    }
}

/// Splits a file's content into `FileChunk` messages of at most [`MAX_FILE_CHUNK`] bytes.
pub fn file_chunks(id: u32, content: &[u8]) -> impl Iterator<Item = ControlMessage> + '_ {
    content
        .chunks(MAX_FILE_CHUNK)
        .enumerate()
        .map(move |(i, c)| ControlMessage::FileChunk {
            id,
            offset: (i * MAX_FILE_CHUNK) as u64,
            data: c.to_vec(),
        })
}

/// BLAKE2s-256 of a file's content, as carried in `FileOffer`.
pub fn file_digest(content: &[u8]) -> [u8; 32] {
    use blake2::{Blake2s256, Digest};
    Blake2s256::digest(content).into()
}

/// `raw` for display: lossy UTF-8, escaped, at most 64 characters.
fn shown_name(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out: String = text.escape_debug().take(64).collect();
    if text.escape_debug().nth(64).is_some() {
        out.push('…');
    }
    out
}

/// Why an incoming file-transfer message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// A message for a transfer that was never offered, or not accepted.
    #[error("file transfer {0}: unknown or not accepted")]
    Unknown(u32),
    /// An offer reuses a live id.
    #[error("file transfer {0}: id already in use")]
    DuplicateId(u32),
    /// Too many transfers at once.
    #[error("too many file transfers at once (at most {0})")]
    TooMany(usize),
    /// The offered file is larger than this receiver accepts.
    #[error("file transfer {id}: {size} bytes offered, at most {max} accepted")]
    TooLarge {
        /// Transfer id.
        id: u32,
        /// Offered size.
        size: u64,
        /// Limit.
        max: u64,
    },
    /// A chunk not at the next expected offset, or beyond the announced size.
    #[error(
        "file transfer {id}: chunk at offset {offset} (+{len}) does not continue at {expected} within {size} bytes"
    )]
    BadChunk {
        /// Transfer id.
        id: u32,
        /// Chunk offset.
        offset: u64,
        /// Chunk length.
        len: usize,
        /// Next expected offset.
        expected: u64,
        /// Announced size.
        size: u64,
    },
    /// `FileDone` before every byte arrived.
    #[error("file transfer {id}: done after {received} of {size} bytes")]
    Incomplete {
        /// Transfer id.
        id: u32,
        /// Bytes received.
        received: u64,
        /// Announced size.
        size: u64,
    },
    /// The content does not match the announced digest.
    #[error("file transfer {0}: content does not match the announced BLAKE2s digest")]
    Digest(u32),
    /// The offered name is unsafe ([`ControlMessage::UnsafeFileOffer`]).
    #[error("file transfer {id}: refused file name \"{name}\": {why}")]
    UnsafeName {
        /// Transfer id.
        id: u32,
        /// The name, escaped for display.
        name: String,
        /// What is wrong with it.
        why: String,
    },
}

#[derive(Debug)]
struct Incoming {
    name: FileName,
    size: u64,
    digest: [u8; 32],
    accepted: bool,
    received: u64,
    /// Bytes the caller reported written ([`IncomingTransfers::written`]).
    written: u64,
    hasher: blake2::Blake2s256,
}

/// What the receiving side of file transfers should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// A new offer: ask the user, then call [`IncomingTransfers::accept`] or drop it.
    Offered {
        /// Transfer id.
        id: u32,
        /// File name.
        name: FileName,
        /// Size in bytes.
        size: u64,
    },
    /// Append `data` to the file of `id`.
    Data {
        /// Transfer id.
        id: u32,
        /// The bytes (in order).
        data: Vec<u8>,
    },
    /// The file is complete and its digest verified.
    Complete {
        /// Transfer id.
        id: u32,
        /// File name.
        name: FileName,
    },
    /// The sender cancelled; discard what was written.
    Cancelled {
        /// Transfer id.
        id: u32,
    },
}

/// Bookkeeping for files received from the peer: refuses chunks for unknown
/// or unaccepted transfers, out-of-order or past-the-end chunks, early
/// `FileDone`, and digest mismatches. Sans-IO: the caller writes the data.
#[derive(Debug)]
pub struct IncomingTransfers {
    live: std::collections::HashMap<u32, Incoming>,
    max_size: u64,
    max_live: usize,
}

impl IncomingTransfers {
    /// A tracker accepting files up to `max_size` bytes, at most `max_live` at once.
    pub fn new(max_size: u64, max_live: usize) -> Self {
        IncomingTransfers {
            live: Default::default(),
            max_size,
            max_live,
        }
    }

    /// Marks an offered transfer as accepted (the caller then sends `FileAccept`).
    pub fn accept(&mut self, id: u32) -> Result<(), TransferError> {
        let t = self.live.get_mut(&id).ok_or(TransferError::Unknown(id))?;
        t.accepted = true;
        Ok(())
    }

    /// Forgets a transfer (refused or cancelled locally).
    pub fn forget(&mut self, id: u32) {
        self.live.remove(&id);
    }

    /// The caller wrote `n` more bytes of transfer `id` (the data of a
    /// [`TransferEvent::Data`]): returns the `FileAck` to send when the
    /// written count crossed a multiple of [`ACK_EVERY`] or reached the end
    /// of the file, else `None` (also for an unknown transfer). The count
    /// never goes beyond what was received.
    pub fn written(&mut self, id: u32, n: u64) -> Option<ControlMessage> {
        let t = self.live.get_mut(&id)?;
        let before = t.written;
        t.written = before.saturating_add(n).min(t.received);
        let after = t.written;
        let due = after > before && (after / ACK_EVERY > before / ACK_EVERY || after == t.size);
        due.then_some(ControlMessage::FileAck {
            id,
            received: after,
        })
    }

    /// Feeds one received file-transfer message; other messages give `Ok(None)`.
    /// On error the transfer is forgotten; the caller should send `FileCancel`.
    pub fn handle(&mut self, msg: &ControlMessage) -> Result<Option<TransferEvent>, TransferError> {
        use blake2::Digest;
        match msg {
            ControlMessage::FileOffer {
                id,
                name,
                size,
                blake2s,
            } => {
                if self.live.contains_key(id) {
                    return Err(TransferError::DuplicateId(*id));
                }
                if self.live.len() >= self.max_live {
                    return Err(TransferError::TooMany(self.max_live));
                }
                if *size > self.max_size {
                    return Err(TransferError::TooLarge {
                        id: *id,
                        size: *size,
                        max: self.max_size,
                    });
                }
                self.live.insert(
                    *id,
                    Incoming {
                        name: name.clone(),
                        size: *size,
                        digest: *blake2s,
                        accepted: false,
                        received: 0,
                        written: 0,
                        hasher: blake2::Blake2s256::new(),
                    },
                );
                Ok(Some(TransferEvent::Offered {
                    id: *id,
                    name: name.clone(),
                    size: *size,
                }))
            }
            ControlMessage::FileChunk { id, offset, data } => {
                let t = match self.live.get_mut(id) {
                    Some(t) if t.accepted => t,
                    _ => return Err(TransferError::Unknown(*id)),
                };
                let end = offset.checked_add(data.len() as u64);
                if *offset != t.received || end.is_none_or(|e| e > t.size) {
                    let err = TransferError::BadChunk {
                        id: *id,
                        offset: *offset,
                        len: data.len(),
                        expected: t.received,
                        size: t.size,
                    };
                    self.live.remove(id);
                    return Err(err);
                }
                t.received += data.len() as u64;
                t.hasher.update(data);
                Ok(Some(TransferEvent::Data {
                    id: *id,
                    data: data.clone(),
                }))
            }
            ControlMessage::FileDone { id } => {
                let t = match self.live.remove(id) {
                    Some(t) if t.accepted => t,
                    _ => return Err(TransferError::Unknown(*id)),
                };
                if t.received != t.size {
                    return Err(TransferError::Incomplete {
                        id: *id,
                        received: t.received,
                        size: t.size,
                    });
                }
                if <[u8; 32]>::from(t.hasher.finalize()) != t.digest {
                    return Err(TransferError::Digest(*id));
                }
                Ok(Some(TransferEvent::Complete {
                    id: *id,
                    name: t.name,
                }))
            }
            ControlMessage::FileCancel { id } => match self.live.remove(id) {
                Some(_) => Ok(Some(TransferEvent::Cancelled { id: *id })),
                None => Ok(None),
            },
            ControlMessage::UnsafeFileOffer { id, name, why, .. } => {
                Err(TransferError::UnsafeName {
                    id: *id,
                    name: name.clone(),
                    why: why.clone(),
                })
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<ControlMessage> {
        vec![
            ControlMessage::Accept,
            ControlMessage::Refuse {
                reason: "busy".into(),
            },
            ControlMessage::ConsentChanged { control: true },
            ControlMessage::Chat {
                text: "ciao\nè tutto ok?".into(),
            },
            ControlMessage::FileOffer {
                id: 7,
                name: FileName::new("report.pdf").unwrap(),
                size: 123,
                blake2s: [9; 32],
            },
            ControlMessage::FileAccept { id: 7 },
            ControlMessage::FileRefuse { id: 7 },
            ControlMessage::FileChunk {
                id: 7,
                offset: 16384,
                data: vec![1; MAX_FILE_CHUNK],
            },
            ControlMessage::FileCancel { id: 7 },
            ControlMessage::FileDone { id: 7 },
            ControlMessage::SessionEnd {
                reason: "bye".into(),
            },
            ControlMessage::KeepAlive,
            ControlMessage::Sharing {
                state: "paused".into(),
            },
            ControlMessage::FileAck {
                id: 7,
                received: u64::MAX,
            },
        ]
    }

    #[test]
    fn round_trip_every_kind_and_every_truncation() {
        for m in all() {
            let b = m.to_bytes().unwrap();
            assert!(b.len() <= MAX_CONTROL_LEN);
            assert_eq!(ControlMessage::decode(&b).unwrap(), m);
            for i in 0..b.len() {
                assert!(ControlMessage::decode(&b[..i]).is_err(), "{m:?} cut at {i}");
            }
            let mut long = b.clone();
            long.push(0);
            assert_eq!(
                ControlMessage::decode(&long),
                Err(ControlError::Trailing(1))
            );
        }
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(ControlMessage::decode(&[]), Err(ControlError::Empty));
        assert_eq!(
            ControlMessage::decode(&[2, 1]),
            Err(ControlError::Version(2))
        );
        assert_eq!(
            ControlMessage::decode(&[1, 0x7f]),
            Err(ControlError::UnknownKind(0x7f))
        );
        assert_eq!(
            ControlMessage::decode(&[1, 3, 2]),
            Err(ControlError::BadBool { field: "control" })
        );
        let mut chat = vec![1, 4];
        chat.extend_from_slice(&5000u16.to_be_bytes());
        chat.extend_from_slice(&[b'a'; 5000]);
        assert!(matches!(
            ControlMessage::decode(&chat),
            Err(ControlError::TooLong { .. })
        ));
        let mut esc = vec![1, 4, 0, 3];
        esc.extend_from_slice(b"\x1b[2");
        assert_eq!(
            ControlMessage::decode(&esc),
            Err(ControlError::BadText { field: "text" })
        );
        let mut chunk = vec![1, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        chunk.extend_from_slice(&(MAX_FILE_CHUNK as u16 + 1).to_be_bytes());
        chunk.extend_from_slice(&vec![0; MAX_FILE_CHUNK + 1]);
        assert!(matches!(
            ControlMessage::decode(&chunk),
            Err(ControlError::TooLong { .. })
        ));
        let big = ControlMessage::FileChunk {
            id: 1,
            offset: 0,
            data: vec![0; MAX_FILE_CHUNK + 1],
        };
        assert!(big.to_bytes().is_err());
    }

    #[test]
    fn file_ack_wire_form() {
        let m = ControlMessage::FileAck {
            id: 0x0102_0304,
            received: 0x0506_0708_090a_0b0c,
        };
        let b = m.to_bytes().unwrap();
        assert_eq!(b, [1, 0x0e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        // decode → encode gives the same bytes.
        assert_eq!(ControlMessage::decode(&b).unwrap().to_bytes().unwrap(), b);
        assert_eq!(
            ControlMessage::decode(&b[..13]),
            Err(ControlError::Truncated)
        );
    }

    #[test]
    fn acks_when_crossing_ack_every_and_at_the_end() {
        let size = ACK_EVERY * 2 + 20_000;
        let offer = ControlMessage::FileOffer {
            id: 3,
            name: FileName::new("f").unwrap(),
            size,
            blake2s: [0; 32],
        };
        let mut t = IncomingTransfers::new(1 << 20, 1);
        t.handle(&offer).unwrap();
        t.accept(3).unwrap();
        let mut acks = Vec::new();
        let mut offset = 0u64;
        while offset < size {
            let n = (size - offset).min(MAX_FILE_CHUNK as u64 - 1);
            let chunk = ControlMessage::FileChunk {
                id: 3,
                offset,
                data: vec![0; n as usize],
            };
            assert!(matches!(
                t.handle(&chunk),
                Ok(Some(TransferEvent::Data { .. }))
            ));
            offset += n;
            if let Some(a) = t.written(3, n) {
                acks.push(a);
            }
        }
        let received: Vec<u64> = acks
            .iter()
            .map(|a| match a {
                ControlMessage::FileAck { id: 3, received } => *received,
                other => panic!("{other:?}"),
            })
            .collect();
        // One ack past each multiple of ACK_EVERY, one at the end.
        assert_eq!(received.len(), 3, "{received:?}");
        assert!(received[0] >= ACK_EVERY && received[0] < ACK_EVERY + MAX_FILE_CHUNK as u64);
        assert!(received[1] >= 2 * ACK_EVERY);
        assert_eq!(received[2], size);
        // Nothing more, nothing for unknown ids, never beyond what was received.
        assert_eq!(t.written(3, 10), None);
        assert_eq!(t.written(99, ACK_EVERY), None);
        let mut u = IncomingTransfers::new(1 << 20, 1);
        u.handle(&offer).unwrap();
        u.accept(3).unwrap();
        assert_eq!(u.written(3, ACK_EVERY * 10), None);
    }

    #[test]
    fn file_names() {
        for ok in ["a", "report.pdf", "Già fatto.txt", "a.b.c", ".bashrc"] {
            FileName::new(ok).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "C:\\x",
            "c:x",
            "a\0b",
            "x..y",
            "NUL",
            "con.txt",
            "COM1",
            "lpt9.log",
            "trail.",
            " lead",
            "nl\n",
        ] {
            assert!(FileName::new(bad).is_err(), "{bad:?}");
        }
        assert!(FileName::new(&"a".repeat(256)).is_err());
        for bidi in ["abc\u{202e}fdp.exe", "a\u{2066}b", "x\u{200f}"] {
            assert!(FileName::new(bidi).is_err(), "{bidi:?}");
        }
        assert!(serde_json::from_str::<FileName>("\"../x\"").is_err());
    }

    fn raw_offer(id: u32, name: &[u8]) -> Vec<u8> {
        let mut v = vec![1, 5];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&(name.len() as u16).to_be_bytes());
        v.extend_from_slice(name);
        v.extend_from_slice(&7u64.to_be_bytes());
        v.extend_from_slice(&[0; 32]);
        v
    }

    #[test]
    fn unsafe_offers_decode_to_a_refusable_message() {
        let long = "n".repeat(10_000);
        let cases: [(&[u8], &str); 10] = [
            (b"../../x", "path separator"),
            (b"/tmp/abs", "path separator"),
            (b"a\0b", "NUL"),
            (b"..", "'..'"),
            (b"", "empty"),
            (b"con\\x", "path separator"),
            (long.as_bytes(), "longer than 255"),
            (b"bell\x07.txt", "control character"),
            (b"esc\x1b[2J", "control character"),
            (b"\xff\xfe.bin", "not UTF-8"),
        ];
        let mut t = IncomingTransfers::new(1 << 20, 4);
        for (i, (name, why)) in cases.iter().enumerate() {
            let id = i as u32 + 1;
            let msg = ControlMessage::decode(&raw_offer(id, name)).expect("framing is fine");
            let ControlMessage::UnsafeFileOffer {
                id: got,
                name: shown,
                size,
                why: w,
            } = &msg
            else {
                panic!("{name:?} decoded to {msg:?}")
            };
            assert_eq!((*got, *size), (id, 7));
            assert!(w.contains(why), "{name:?}: {w}");
            assert!(shown.chars().count() <= 65 && !shown.chars().any(char::is_control));
            // Never sent, and refused by the receiver's bookkeeping.
            assert!(msg.to_bytes().is_err());
            assert!(matches!(
                t.handle(&msg),
                Err(TransferError::UnsafeName { id: e, .. }) if e == id
            ));
        }
        // Nothing was registered: a good offer with a refused id still works.
        let good = ControlMessage::decode(&raw_offer(1, b"ok.txt")).unwrap();
        assert!(matches!(good, ControlMessage::FileOffer { .. }));
        assert!(t.handle(&good).unwrap().is_some());
        // Framing errors still fail the message.
        let mut short = raw_offer(9, b"../x");
        short.pop();
        assert_eq!(ControlMessage::decode(&short), Err(ControlError::Truncated));
        let mut long_frame = raw_offer(9, b"../x");
        long_frame.push(0);
        assert_eq!(
            ControlMessage::decode(&long_frame),
            Err(ControlError::Trailing(1))
        );
    }

    #[test]
    fn transfers_enforce_order_size_and_digest() {
        let content = vec![5u8; MAX_FILE_CHUNK * 2 + 10];
        let offer = ControlMessage::FileOffer {
            id: 1,
            name: FileName::new("f.bin").unwrap(),
            size: content.len() as u64,
            blake2s: file_digest(&content),
        };
        let mut t = IncomingTransfers::new(1 << 20, 4);
        let chunks: Vec<_> = file_chunks(1, &content).collect();
        // Chunk before the offer was accepted.
        t.handle(&offer).unwrap();
        assert_eq!(t.handle(&chunks[0]), Err(TransferError::Unknown(1)));
        assert_eq!(t.handle(&offer), Err(TransferError::DuplicateId(1)));
        t.accept(1).unwrap();
        let mut got = Vec::new();
        for c in &chunks {
            if let Some(TransferEvent::Data { data, .. }) = t.handle(c).unwrap() {
                got.extend(data);
            }
        }
        assert_eq!(got, content);
        assert!(matches!(
            t.handle(&ControlMessage::FileDone { id: 1 }),
            Ok(Some(TransferEvent::Complete { .. }))
        ));
        // Unknown transfer, beyond the announced size, wrong digest.
        assert_eq!(t.handle(&chunks[0]), Err(TransferError::Unknown(1)));
        t.handle(&offer).unwrap();
        t.accept(1).unwrap();
        let past = ControlMessage::FileChunk {
            id: 1,
            offset: 0,
            data: vec![0; 10],
        };
        t.handle(&past).unwrap();
        let beyond = ControlMessage::FileChunk {
            id: 1,
            offset: 10,
            data: vec![0; MAX_FILE_CHUNK * 2 + 1],
        };
        assert!(matches!(
            t.handle(&beyond),
            Err(TransferError::BadChunk { .. })
        ));
        let mut small = IncomingTransfers::new(10, 1);
        assert!(matches!(
            small.handle(&offer),
            Err(TransferError::TooLarge { .. })
        ));
        let tiny = ControlMessage::FileOffer {
            id: 2,
            name: FileName::new("t").unwrap(),
            size: 1,
            blake2s: [0; 32],
        };
        small.handle(&tiny).unwrap();
        small.accept(2).unwrap();
        small
            .handle(&ControlMessage::FileChunk {
                id: 2,
                offset: 0,
                data: vec![1],
            })
            .unwrap();
        assert_eq!(
            small.handle(&ControlMessage::FileDone { id: 2 }),
            Err(TransferError::Digest(2))
        );
        let tiny3 = ControlMessage::FileOffer {
            id: 3,
            name: FileName::new("t").unwrap(),
            size: 1,
            blake2s: [0; 32],
        };
        small.handle(&tiny3).unwrap();
        let tiny4 = ControlMessage::FileOffer {
            id: 4,
            name: FileName::new("t").unwrap(),
            size: 1,
            blake2s: [0; 32],
        };
        assert_eq!(small.handle(&tiny4), Err(TransferError::TooMany(1)));
    }
}
