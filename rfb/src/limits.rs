//! Limits applied to every length and count read from the wire.
//!
//! Everything a peer announces is checked against one of these before any
//! allocation, so that a hostile peer cannot make us allocate or loop
//! without bound. The binaries may lower them; they must not be raised
//! without reading ../SECURITY.md.

/// Largest framebuffer width or height accepted (ServerInit, DesktopSize).
pub const MAX_FRAMEBUFFER_SIDE: u16 = 16384;
/// Largest framebuffer area in pixels (8192×8192 = 256 MiB at 4 bytes a pixel).
pub const MAX_FRAMEBUFFER_PIXELS: usize = 8192 * 8192;
/// Largest desktop name accepted (ServerInit, DesktopName pseudo-encoding).
pub const MAX_NAME_LEN: usize = 4096;
/// Largest reason string accepted (security failure).
pub const MAX_REASON_LEN: usize = 4096;
/// Largest clipboard text accepted (CutText and ExtendedClipboard, after inflation).
pub const MAX_CLIPBOARD_LEN: usize = 16 * 1024 * 1024;
/// Largest number of entries in SetEncodings.
pub const MAX_ENCODINGS: usize = 1024;
/// Largest cursor side in pixels.
pub const MAX_CURSOR_SIDE: u16 = 256;
/// Largest compressed payload of one zlib-carrying rectangle (ZRLE, Tight).
pub const MAX_COMPRESSED_LEN: usize = 64 * 1024 * 1024;
/// Largest inflated size of one rectangle's zlib data, beyond what its area needs.
pub const MAX_INFLATE_SLACK: usize = 64 * 1024;
/// Largest Fence payload (the protocol caps it at 64).
pub const MAX_FENCE_PAYLOAD: usize = 64;
/// Largest number of screens in ExtendedDesktopSize / SetDesktopSize.
pub const MAX_SCREENS: usize = 64;
/// Largest number of received bytes a session keeps while waiting for the
/// rest of a message (the largest unit any parser waits for whole, plus slack).
pub const MAX_BUFFERED_INPUT: usize = MAX_COMPRESSED_LEN + 1024 * 1024;
