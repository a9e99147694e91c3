//! Pseudo-encodings: rectangles of a FramebufferUpdate that carry something
//! other than pixels. One module each.
//!
//! ContinuousUpdates (−313) and Fence (−312) carry no rectangle: they only
//! announce support in SetEncodings; the server answers with an
//! EndOfContinuousUpdates and a Fence request, and the sessions
//! ([`crate::client`], [`crate::server`]) run the rest of the negotiation.

pub mod cursor;
pub mod desktop_name;
pub mod desktop_size;
pub mod last_rect;

pub use cursor::CursorShape;
pub use desktop_size::ExtendedDesktopSize;
