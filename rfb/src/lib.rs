//! The RFB (VNC) protocol of RFC 6143 and its common extensions, sans-IO.
//!
//! Bytes go in, typed events come out; typed messages go in, bytes come out.
//! No sockets, no async runtime: the binaries wire this crate to TCP or to
//! the secure channel of the `crypto` crate.
//!
//! Layout:
//! - [`pixel`]: pixel formats and conversion from/to the native 32-bit format;
//! - [`framebuffer`]: the pixel store both roles draw into, and [`Rect`];
//! - [`reader`]: a bounds-checked cursor over received bytes;
//! - [`encoding`]: one module per encoding, each with an encoder and a decoder;
//! - [`limits`]: the bounds every length and count from the wire is checked against.
#![forbid(unsafe_code)]

pub mod client;
pub mod encoding;
pub mod framebuffer;
pub mod handshake;
pub mod limits;
pub mod msgs;
pub mod pixel;
pub mod pseudo;
pub mod reader;
pub mod server;

pub use client::{ClientConfig, ClientError, ClientEvent, ClientSession};
pub use encoding::copyrect::CopyMove;
pub use framebuffer::{Framebuffer, Rect};
pub use pixel::{PixelCodec, PixelFormat};
pub use pseudo::cursor::CursorShape;
pub use reader::{Incomplete, Reader};
pub use server::{ServerConfig, ServerError, ServerEvent, ServerSession};
