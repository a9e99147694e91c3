//! The ExtendedClipboard message family (pseudo-encoding 0xC0A1E5CE).
//!
//! These messages travel inside ClientCutText/ServerCutText with a
//! *negative* length (its absolute value is the payload size). The payload
//! starts with a u32 of flags: formats in bits 0–15, one action in bits
//! 24–31. Caps lists a maximum size per announced format; Provide carries
//! a zlib stream of `u32 length + data` per format. Text is UTF-8 with CRLF
//! line ends and a terminating NUL.
//!
//! Inflation is bounded: only the text item is inflated, and never beyond
//! its announced length, itself bounded by [`MAX_CLIPBOARD_LEN`].

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

use super::MsgError;
use crate::limits::MAX_CLIPBOARD_LEN;
use crate::reader::Reader;

/// Format bits.
pub mod format {
    /// UTF-8 text.
    pub const TEXT: u32 = 1;
    /// Rich text.
    pub const RTF: u32 = 1 << 1;
    /// HTML.
    pub const HTML: u32 = 1 << 2;
    /// Device-independent bitmap.
    pub const DIB: u32 = 1 << 3;
    /// Files (reserved).
    pub const FILES: u32 = 1 << 4;
    /// All format bits.
    pub const MASK: u32 = 0xffff;
}

/// Action bits.
pub mod action {
    /// Capabilities.
    pub const CAPS: u32 = 1 << 24;
    /// Request data.
    pub const REQUEST: u32 = 1 << 25;
    /// Ask which formats are available.
    pub const PEEK: u32 = 1 << 26;
    /// Announce available formats.
    pub const NOTIFY: u32 = 1 << 27;
    /// Carry data.
    pub const PROVIDE: u32 = 1 << 28;
    /// All action bits.
    pub const MASK: u32 = 0xff00_0000;
}

/// One ExtendedClipboard message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendedClipboard {
    /// Supported actions and formats, with a maximum size per format.
    Caps {
        /// Action bits ([`action`]).
        actions: u32,
        /// Format bits ([`format`]).
        formats: u32,
        /// One maximum size per set format bit, lowest bit first.
        sizes: Vec<u32>,
    },
    /// Ask the peer for its data in these formats.
    Request {
        /// Format bits.
        formats: u32,
    },
    /// Ask the peer which formats it has.
    Peek {
        /// Format bits.
        formats: u32,
    },
    /// Tell the peer which formats we have.
    Notify {
        /// Format bits.
        formats: u32,
    },
    /// Data; only text is carried (other formats are skipped on read).
    Provide {
        /// The text, if provided.
        text: Option<String>,
    },
}

impl ExtendedClipboard {
    /// Appends the payload (flags and data; not the CutText header).
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        match self {
            ExtendedClipboard::Caps {
                actions,
                formats,
                sizes,
            } => {
                let formats = formats & format::MASK;
                out.extend_from_slice(&((actions & action::MASK) | formats).to_be_bytes());
                let n = formats.count_ones() as usize;
                for i in 0..n {
                    out.extend_from_slice(&sizes.get(i).copied().unwrap_or(0).to_be_bytes());
                }
            }
            ExtendedClipboard::Request { formats } => {
                out.extend_from_slice(&(action::REQUEST | (formats & format::MASK)).to_be_bytes())
            }
            ExtendedClipboard::Peek { formats } => {
                out.extend_from_slice(&(action::PEEK | (formats & format::MASK)).to_be_bytes())
            }
            ExtendedClipboard::Notify { formats } => {
                out.extend_from_slice(&(action::NOTIFY | (formats & format::MASK)).to_be_bytes())
            }
            ExtendedClipboard::Provide { text } => {
                let formats = if text.is_some() { format::TEXT } else { 0 };
                out.extend_from_slice(&(action::PROVIDE | formats).to_be_bytes());
                let mut plain = Vec::new();
                if let Some(t) = text {
                    let wire = text_to_wire(t);
                    plain.extend_from_slice(&(wire.len() as u32).to_be_bytes());
                    plain.extend_from_slice(&wire);
                }
                deflate_sync(&plain, out);
            }
        }
    }

    /// Parses a payload of exactly `payload.len()` bytes.
    pub fn parse(payload: &[u8]) -> Result<Self, MsgError> {
        let mut r = Reader::new(payload);
        let flags = r.u32().map_err(|_| {
            MsgError::invalid("ExtendedClipboard", "payload shorter than its flags")
        })?;
        let formats = flags & format::MASK;
        let actions = flags & action::MASK;
        if actions & action::CAPS != 0 {
            let n = formats.count_ones() as usize;
            let mut sizes = Vec::with_capacity(n);
            for _ in 0..n {
                sizes.push(r.u32().map_err(|_| {
                    MsgError::invalid("ExtendedClipboard caps", "fewer sizes than formats")
                })?);
            }
            return Ok(ExtendedClipboard::Caps {
                actions,
                formats,
                sizes,
            });
        }
        match actions {
            action::REQUEST => Ok(ExtendedClipboard::Request { formats }),
            action::PEEK => Ok(ExtendedClipboard::Peek { formats }),
            action::NOTIFY => Ok(ExtendedClipboard::Notify { formats }),
            action::PROVIDE => {
                let text = if formats & format::TEXT != 0 {
                    Some(inflate_text(r.rest())?)
                } else {
                    None
                };
                Ok(ExtendedClipboard::Provide { text })
            }
            other => Err(MsgError::invalid(
                "ExtendedClipboard flags",
                format!("action bits {other:#010x} are not exactly one known action"),
            )),
        }
    }
}

/// Text → wire form: LF → CRLF, NUL-terminated.
fn text_to_wire(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 1);
    for b in text.bytes() {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out.push(0);
    out
}

/// Wire text → text: up to the first NUL, CRLF → LF, invalid UTF-8 replaced.
fn text_from_wire(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).replace("\r\n", "\n")
}

/// Compresses `data` into a complete zlib stream ending with a sync flush
/// (what TigerVNC writes and reads).
fn deflate_sync(data: &[u8], out: &mut Vec<u8>) {
    let mut c = Compress::new(Compression::default(), true);
    let mut consumed = 0usize;
    loop {
        out.reserve(data.len().saturating_sub(consumed) + 1024);
        let before = c.total_in();
        let input = data.get(consumed..).unwrap_or(&[]);
        if c.compress_vec(input, out, FlushCompress::Sync).is_err() {
            return;
        }
        consumed += usize::try_from(c.total_in() - before).unwrap_or(0);
        // The flush is complete once all input is in and room is left over.
        if consumed >= data.len() && out.len() < out.capacity() {
            return;
        }
    }
}

/// Inflates the first item (u32 length + text) of a Provide stream,
/// never producing more than it announces (≤ [`MAX_CLIPBOARD_LEN`]).
fn inflate_text(data: &[u8]) -> Result<String, MsgError> {
    let mut d = Decompress::new(true);
    let mut out: Vec<u8> = Vec::new();
    let mut need = 4usize;
    loop {
        if out.len() >= 4 && need == 4 {
            let len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]);
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > MAX_CLIPBOARD_LEN {
                return Err(MsgError::limit(
                    "ExtendedClipboard text",
                    len,
                    MAX_CLIPBOARD_LEN,
                ));
            }
            need = 4 + len;
        }
        if out.len() >= need {
            let end = need.min(out.len());
            return Ok(text_from_wire(out.get(4..end).unwrap_or(&[])));
        }
        let want = (need - out.len()).min(64 * 1024);
        // Spare capacity bounds what inflate may write in this round.
        out.reserve_exact(want);
        let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let before = d.total_out();
        let input = data.get(consumed..).unwrap_or(&[]);
        d.decompress_vec(input, &mut out, FlushDecompress::Sync)
            .map_err(|e| MsgError::invalid("ExtendedClipboard zlib", e.to_string()))?;
        if d.total_out() == before && out.len() < need {
            return Err(MsgError::invalid(
                "ExtendedClipboard provide",
                "zlib data ends before the announced text",
            ));
        }
    }
}

/// What an incoming ExtendedClipboard message produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClipboardOutcome {
    /// Text the peer provided.
    pub text: Option<String>,
    /// Messages to send back.
    pub replies: Vec<ExtendedClipboard>,
    /// The peer's capabilities arrived (formats, actions).
    pub caps: Option<(u32, u32)>,
}

/// The ExtendedClipboard conversation of one connection, shared by both roles.
///
/// Our side announces text only, with every action, and a maximum of
/// [`MAX_CLIPBOARD_LEN`]. Local text is announced with Notify and sent when
/// requested; a peer's Notify of text is answered with a Request.
#[derive(Debug, Clone, Default)]
pub struct ClipboardState {
    answer_caps: bool,
    peer: Option<(u32, u32, Vec<u32>)>,
    local_text: Option<String>,
}

impl ClipboardState {
    /// A conversation; `answer_caps` is true for the client role (it answers
    /// the server's Caps with its own).
    pub fn new(answer_caps: bool) -> Self {
        Self {
            answer_caps,
            ..Self::default()
        }
    }

    /// Our capabilities.
    pub fn our_caps() -> ExtendedClipboard {
        ExtendedClipboard::Caps {
            actions: action::CAPS
                | action::REQUEST
                | action::PEEK
                | action::NOTIFY
                | action::PROVIDE,
            formats: format::TEXT,
            sizes: vec![MAX_CLIPBOARD_LEN as u32],
        }
    }

    /// True once the peer announced its capabilities.
    pub fn peer_supports(&self) -> bool {
        self.peer.is_some()
    }

    /// Handles one incoming message.
    pub fn handle(&mut self, msg: ExtendedClipboard) -> ClipboardOutcome {
        let mut o = ClipboardOutcome::default();
        match msg {
            ExtendedClipboard::Caps {
                actions,
                formats,
                sizes,
            } => {
                let first = self.peer.is_none();
                self.peer = Some((actions, formats, sizes));
                o.caps = Some((formats, actions));
                if self.answer_caps && first {
                    o.replies.push(Self::our_caps());
                }
            }
            ExtendedClipboard::Request { formats } => {
                let text = if formats & format::TEXT != 0 {
                    self.local_text.clone()
                } else {
                    None
                };
                o.replies.push(ExtendedClipboard::Provide { text });
            }
            ExtendedClipboard::Peek { .. } => {
                let formats = if self.local_text.is_some() {
                    format::TEXT
                } else {
                    0
                };
                o.replies.push(ExtendedClipboard::Notify { formats });
            }
            ExtendedClipboard::Notify { formats } => {
                if formats & format::TEXT != 0 {
                    o.replies.push(ExtendedClipboard::Request {
                        formats: format::TEXT,
                    });
                }
            }
            ExtendedClipboard::Provide { text } => o.text = text,
        }
        o
    }

    /// Offers local text. Returns the messages to send, or `None` when the
    /// peer does not speak ExtendedClipboard (send plain Latin-1 CutText).
    pub fn offer(&mut self, text: &str) -> Option<Vec<ExtendedClipboard>> {
        let (actions, formats, sizes) = self.peer.as_ref()?;
        if formats & format::TEXT == 0 {
            return Some(Vec::new());
        }
        let max = sizes.first().copied().unwrap_or(0);
        if max != 0 && text.len() > max as usize {
            return Some(Vec::new());
        }
        self.local_text = Some(text.to_owned());
        if actions & action::NOTIFY != 0 {
            Some(vec![ExtendedClipboard::Notify {
                formats: format::TEXT,
            }])
        } else if actions & action::PROVIDE != 0 {
            Some(vec![ExtendedClipboard::Provide {
                text: Some(text.to_owned()),
            }])
        } else {
            Some(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round(m: &ExtendedClipboard) -> Result<ExtendedClipboard, MsgError> {
        let mut out = Vec::new();
        m.write_payload(&mut out);
        ExtendedClipboard::parse(&out)
    }

    #[test]
    fn x11vnc_caps_of_8_bytes() {
        // x11vnc: ServerCutText length −8 = flags (caps|text) + one size.
        let payload = [0x01, 0, 0, 0x01, 0, 0x10, 0, 0];
        assert_eq!(
            ExtendedClipboard::parse(&payload),
            Ok(ExtendedClipboard::Caps {
                actions: action::CAPS,
                formats: format::TEXT,
                sizes: vec![0x0010_0000]
            })
        );
    }

    #[test]
    fn bad_flags_are_refused() {
        for flags in [0u32, 0x0300_0001, 0x8000_0000, format::TEXT] {
            assert!(ExtendedClipboard::parse(&flags.to_be_bytes()).is_err());
        }
        assert!(ExtendedClipboard::parse(&[1, 2]).is_err());
        // Caps announcing 3 formats but one size.
        assert!(ExtendedClipboard::parse(&[1, 0, 0, 7, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn zlib_bomb_is_bounded() {
        // Text length announced as 4 GiB − 1, then lots of zeros.
        let mut plain = vec![0xff, 0xff, 0xff, 0xff];
        plain.extend(std::iter::repeat_n(b'a', 1 << 20));
        let mut payload = (action::PROVIDE | format::TEXT).to_be_bytes().to_vec();
        deflate_sync(&plain, &mut payload);
        assert!(matches!(
            ExtendedClipboard::parse(&payload),
            Err(MsgError::Limit { .. })
        ));
        // Length within bounds but the data stops early.
        let mut plain = 1000u32.to_be_bytes().to_vec();
        plain.extend_from_slice(b"short");
        let mut payload = (action::PROVIDE | format::TEXT).to_be_bytes().to_vec();
        deflate_sync(&plain, &mut payload);
        assert!(ExtendedClipboard::parse(&payload).is_err());
        // Corrupt zlib.
        let payload = [0x10, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        assert!(ExtendedClipboard::parse(&payload).is_err());
    }

    #[test]
    fn provide_reads_text_followed_by_other_formats() {
        let mut plain = Vec::new();
        plain.extend_from_slice(&6u32.to_be_bytes());
        plain.extend_from_slice(b"a\r\nb\0\0");
        plain.extend_from_slice(&3u32.to_be_bytes());
        plain.extend_from_slice(b"rtf");
        let mut payload = (action::PROVIDE | format::TEXT | format::RTF)
            .to_be_bytes()
            .to_vec();
        let mut c = flate2::write::ZlibEncoder::new(Vec::new(), Compression::fast());
        std::io::Write::write_all(&mut c, &plain).unwrap();
        payload.extend(c.finish().unwrap());
        assert_eq!(
            ExtendedClipboard::parse(&payload),
            Ok(ExtendedClipboard::Provide {
                text: Some("a\nb".into())
            })
        );
    }

    #[test]
    fn conversation() {
        let mut server = ClipboardState::new(false);
        let mut client = ClipboardState::new(true);
        let o = client.handle(ClipboardState::our_caps());
        assert_eq!(o.replies, vec![ClipboardState::our_caps()]);
        assert!(server.handle(ClipboardState::our_caps()).replies.is_empty());
        let notify = server.offer("héllo\nworld").unwrap();
        let o = client.handle(notify[0].clone());
        let o = server.handle(o.replies[0].clone());
        let o = client.handle(o.replies[0].clone());
        assert_eq!(o.text.as_deref(), Some("héllo\nworld"));
        assert!(ClipboardState::default().offer("x").is_none());
    }

    proptest! {
        #[test]
        fn round_trips(kind in 0..5u8, formats in 0u32..0x10000, text in "[^\0\r]{0,200}", some in any::<bool>()) {
            let m = match kind {
                0 => ExtendedClipboard::Caps {
                    actions: action::CAPS | action::NOTIFY,
                    formats,
                    sizes: (0..formats.count_ones()).collect(),
                },
                1 => ExtendedClipboard::Request { formats },
                2 => ExtendedClipboard::Peek { formats },
                3 => ExtendedClipboard::Notify { formats },
                _ => ExtendedClipboard::Provide { text: some.then_some(text) },
            };
            prop_assert_eq!(round(&m), Ok(m));
        }
    }
}
