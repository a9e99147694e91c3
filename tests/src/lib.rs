//! Shared helpers for Remoto's system tests: real X servers (Xvfb,
//! Xtigervnc), stock VNC peers, screenshots, pixel comparison, artifacts,
//! deadlines, and captured RFB streams.
//!
//! Every helper fails the test (panics with the Debian package to install)
//! when a tool is missing: nothing is skipped silently. Every process is
//! owned by a [`process::ChildGuard`] that kills and reaps it on drop.
#![forbid(unsafe_code)]

pub mod artifacts;
pub mod capture;
pub mod hostile;
pub mod image;
pub mod net;
pub mod netns;
pub mod peers;
pub mod process;
pub mod remoto;
pub mod rfb_io;
pub mod viewer;
pub mod wait;
pub mod wine;
pub mod x11;
pub mod xdnd;

pub use artifacts::Artifacts;
pub use image::{Image, assert_same, test_picture};
pub use process::{ChildGuard, require_tool};
pub use wait::{TIMEOUT, wait_for};
pub use x11::XServer;
