//! Encodings: one module per encoding, each with an encoder and a decoder.
//!
//! Contracts shared by every encoding:
//! - **Encoders** ([`Encoder`]) read native pixels from a [`Framebuffer`] and
//!   append *complete* rectangles — the 12-byte rectangle header included —
//!   to `out`, returning how many rectangles they wrote (an encoder may
//!   split a rectangle, e.g. Tight's size limits). They never fail on a
//!   rectangle that fits the framebuffer.
//! - **Decoders** ([`Decoder`]) are resumable: [`Decoder::begin`] starts a
//!   rectangle (whose header the caller has already read and checked
//!   against the framebuffer), then [`Decoder::decode`] is called with
//!   whatever bytes have arrived. It consumes only whole units (a tile, a
//!   compressed block…), draws them into the framebuffer, and returns
//!   [`Step::NeedMore`] with the reader positioned after the last whole unit
//!   when the input runs out, or [`Step::Done`] when the rectangle is
//!   complete. Per-connection state (zlib streams) lives in the decoder and
//!   survives across rectangles.
//! - Every count and length is checked before allocating (see
//!   [`crate::limits`]); inflation is bounded by what the rectangle needs.

pub mod copyrect;
pub mod hextile;
pub mod raw;
pub mod rre;
pub mod tight;
pub mod zrle;

use crate::framebuffer::{Framebuffer, Rect};
use crate::pixel::PixelCodec;
use crate::reader::Reader;

/// Encoding numbers (RFC 6143 §7.7 and the community registry).
pub mod id {
    /// Raw.
    pub const RAW: i32 = 0;
    /// CopyRect.
    pub const COPY_RECT: i32 = 1;
    /// RRE.
    pub const RRE: i32 = 2;
    /// Hextile.
    pub const HEXTILE: i32 = 5;
    /// Tight.
    pub const TIGHT: i32 = 7;
    /// ZRLE.
    pub const ZRLE: i32 = 16;
    /// JPEG quality level 0 (−32); level n is `QUALITY_LEVEL_0 + n`, n ≤ 9.
    pub const QUALITY_LEVEL_0: i32 = -32;
    /// Compression level 0 (−256); level n is `COMPRESS_LEVEL_0 + n`, n ≤ 9.
    pub const COMPRESS_LEVEL_0: i32 = -256;
    /// DesktopSize pseudo-encoding.
    pub const DESKTOP_SIZE: i32 = -223;
    /// LastRect pseudo-encoding.
    pub const LAST_RECT: i32 = -224;
    /// Cursor pseudo-encoding (rich cursor with bitmask).
    pub const CURSOR: i32 = -239;
    /// X cursor pseudo-encoding.
    pub const X_CURSOR: i32 = -240;
    /// QEMU extended key event pseudo-encoding.
    pub const QEMU_EXTENDED_KEY: i32 = -258;
    /// DesktopName pseudo-encoding.
    pub const DESKTOP_NAME: i32 = -307;
    /// ExtendedDesktopSize pseudo-encoding.
    pub const EXTENDED_DESKTOP_SIZE: i32 = -308;
    /// Fence pseudo-encoding.
    pub const FENCE: i32 = -312;
    /// ContinuousUpdates pseudo-encoding.
    pub const CONTINUOUS_UPDATES: i32 = -313;
    /// ExtendedClipboard pseudo-encoding (0xC0A1E5CE as i32).
    pub const EXTENDED_CLIPBOARD: i32 = 0xC0A1_E5CE_u32 as i32;
}

/// Whether a decoder finished its rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The rectangle is complete.
    Done,
    /// More bytes are needed; call [`Decoder::decode`] again when they arrive.
    NeedMore,
}

/// Why a rectangle could not be decoded. The connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The rectangle (or a part of it, e.g. a subrectangle or a CopyRect
    /// source) lies outside the framebuffer or its enclosing tile.
    #[error("{what} {rect:?} lies outside {bounds:?}")]
    Outside {
        /// What was out of bounds.
        what: &'static str,
        /// The offending rectangle.
        rect: Rect,
        /// What it had to fit in.
        bounds: Rect,
    },
    /// A count or length beyond a limit of [`crate::limits`] or of the rectangle.
    #[error("{what}: {value} exceeds the limit of {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// Announced value.
        value: u64,
        /// Allowed maximum.
        limit: u64,
    },
    /// A value that the encoding does not allow.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// Corrupt zlib data, or data that inflates beyond what the rectangle needs.
    #[error("zlib data is corrupt: {0}")]
    Zlib(String),
    /// Corrupt JPEG data, or a picture of another size than the rectangle.
    #[error("JPEG data is corrupt: {0}")]
    Jpeg(String),
    /// The pixel format cannot be used with this encoding.
    #[error("pixel format not usable with {encoding}: {detail}")]
    PixelFormat {
        /// The encoding.
        encoding: &'static str,
        /// Why.
        detail: String,
    },
}

/// Why a rectangle could not be encoded (a bug or a misuse, never peer input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The rectangle does not fit the framebuffer.
    #[error("rectangle {rect:?} does not fit the {width}x{height} framebuffer")]
    Outside {
        /// The rectangle.
        rect: Rect,
        /// Framebuffer width.
        width: u16,
        /// Framebuffer height.
        height: u16,
    },
    /// Compression failed.
    #[error("compression failed: {0}")]
    Compress(String),
}

/// What the client asked for through pseudo-encodings, for encoders to honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeSettings {
    /// CompressLevel 0–9, if the client sent one.
    pub compress_level: Option<u8>,
    /// QualityLevel 0–9, if the client sent one; `None` = lossless only.
    pub quality_level: Option<u8>,
}

/// Everything an encoder needs besides the pixels.
#[derive(Debug, Clone)]
pub struct EncodeContext<'a> {
    /// The client's pixel format.
    pub codec: &'a PixelCodec,
    /// Compression and quality levels.
    pub settings: EncodeSettings,
}

/// An encoding's server side. One instance lives per connection (zlib
/// streams must persist across rectangles).
pub trait Encoder: Send {
    /// The encoding number written in rectangle headers.
    fn encoding(&self) -> i32;
    /// Appends the rectangle(s) for `rect` (headers included) to `out`;
    /// returns how many rectangle headers were written.
    fn encode(
        &mut self,
        fb: &Framebuffer,
        rect: Rect,
        ctx: &EncodeContext<'_>,
        out: &mut Vec<u8>,
    ) -> Result<u16, EncodeError>;
}

/// An encoding's client side. One instance lives per connection.
pub trait Decoder: Send {
    /// The encoding number this decoder handles.
    fn encoding(&self) -> i32;
    /// Starts a new rectangle (already checked to fit the framebuffer).
    fn begin(&mut self, rect: Rect);
    /// Decodes what `input` holds of the current rectangle into `fb`.
    fn decode(
        &mut self,
        input: &mut Reader<'_>,
        codec: &PixelCodec,
        fb: &mut Framebuffer,
    ) -> Result<Step, DecodeError>;
}

/// Writes a 12-byte rectangle header.
pub fn write_rect_header(out: &mut Vec<u8>, rect: Rect, encoding: i32) {
    out.extend_from_slice(&rect.x.to_be_bytes());
    out.extend_from_slice(&rect.y.to_be_bytes());
    out.extend_from_slice(&rect.w.to_be_bytes());
    out.extend_from_slice(&rect.h.to_be_bytes());
    out.extend_from_slice(&encoding.to_be_bytes());
}

/// Checks that `rect` fits `fb` (for encoders).
pub fn check_fits(fb: &Framebuffer, rect: Rect) -> Result<(), EncodeError> {
    if rect.fits_in(fb.width(), fb.height()) {
        Ok(())
    } else {
        Err(EncodeError::Outside {
            rect,
            width: fb.width(),
            height: fb.height(),
        })
    }
}
