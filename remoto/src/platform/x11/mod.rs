//! Linux/X11 implementation of the platform traits, over `x11rb`.
//!
//! - [`X11Screen`] ([`crate::platform::ScreenSource`]): MIT-SHM GetImage into
//!   a memfd shared with the server (plain GetImage when SHM is missing or
//!   fails, e.g. a remote display), DAMAGE for changed regions, XFIXES for
//!   the cursor shape, RANDR for size changes. Its own connection.
//! - [`X11Input`] ([`crate::platform::InputSink`]): XTEST pointer and keys
//!   (keysym → keycode from the server's keyboard mapping, Shift added or
//!   removed as the keysym needs, a spare keycode remapped for keysyms no key
//!   produces), clipboard through [`X11Clipboard`]. Its own connection.
//! - [`X11Clipboard`]: owns and reads the CLIPBOARD selection (UTF8_STRING)
//!   from a worker thread with a third connection, so that other programs'
//!   requests are answered at once.

pub mod clipboard;
pub mod convert;
pub mod input;
pub mod keymap;
pub mod screen;
pub mod shm;

pub use clipboard::X11Clipboard;
pub use input::X11Input;
pub use screen::{CaptureOptions, X11Screen};

use std::os::fd::AsFd;
use std::time::Duration;

use x11rb::connection::RequestConnection;

use crate::platform::PlatformError;

/// Fails with [`PlatformError::MissingExtension`] when the server lacks `name`.
fn require_extension(
    conn: &impl RequestConnection,
    name: &'static str,
) -> Result<(), PlatformError> {
    match conn.extension_information(name)? {
        Some(_) => Ok(()),
        None => Err(PlatformError::MissingExtension(name)),
    }
}

/// Screen `n` of the display, or [`PlatformError::UnsupportedFormat`].
fn screen_of(
    conn: &impl x11rb::connection::Connection,
    n: usize,
) -> Result<&x11rb::protocol::xproto::Screen, PlatformError> {
    conn.setup()
        .roots
        .get(n)
        .ok_or_else(|| PlatformError::UnsupportedFormat(format!("the display has no screen {n}")))
}

/// Blocks until `fd` is readable or `timeout` passes (`None`: no limit).
/// Returns true when readable. An interrupted wait counts as "not yet".
fn wait_readable(fd: impl AsFd, timeout: Option<Duration>) -> Result<bool, PlatformError> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let ts = timeout.map(|t| Timespec {
        tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    match poll(&mut fds, ts.as_ref()) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(PlatformError::Io(e.into())),
    }
}
