//! Windows implementation of the platform traits, over `windows-sys`.
//!
//! - [`GdiScreen`] ([`crate::platform::ScreenSource`]): `BitBlt` of the
//!   screen DC into a top-down 32-bit DIB section (GDI has no DAMAGE: a
//!   full-screen shadow copy is taken every [`POLL_INTERVAL`] and compared
//!   in 64×64 tiles to find what changed), the cursor shape from
//!   `GetCursorInfo`/`GetIconInfo`, the virtual screen (all monitors) from
//!   `GetSystemMetrics(SM_*VIRTUALSCREEN)`, polled for size changes.
//! - [`WinInput`] ([`crate::platform::InputSink`]): `SendInput` for the
//!   pointer (absolute over the virtual desktop), wheel and keys (keysym →
//!   virtual key, or `KEYEVENTF_UNICODE` for text), and the text clipboard
//!   (`CF_UNICODETEXT`, changes seen through the clipboard sequence number).
//! - [`tray`]: the notification-area icon with its Close menu while a
//!   session runs (`Shell_NotifyIconW`).
//!
//! # The secure desktop (UAC prompts, Ctrl+Alt+Del)
//!
//! A Remoto started by a normal user cannot read the secure desktop that
//! Windows switches to for an administrator prompt: `BitBlt` fails (access
//! denied). Remoto then sends the technician a placeholder frame that says
//! so ([`placeholder`]) instead of a black or frozen screen, and goes back
//! to the real screen as soon as capture works again. Remoto changes no
//! system setting to get around it (it never disables UAC or the secure
//! desktop, as some older single-click tools asked customers to do); the
//! customer answers the prompt themselves.
#![allow(unsafe_code)]

pub mod clipboard;
pub mod console;
pub mod cursor;
mod dib;
pub mod input;
pub mod keymap;
pub mod placeholder;
pub mod screen;
pub mod tray;

pub use input::WinInput;
pub use screen::{GdiScreen, POLL_INTERVAL};

use windows_sys::Win32::Foundation::GetLastError;

use crate::platform::PlatformError;

/// `Err(PlatformError::Win32 { call, code })` with the thread's last error.
fn last_error(call: &'static str) -> PlatformError {
    // SAFETY: GetLastError only reads thread-local state.
    let code = unsafe { GetLastError() };
    PlatformError::Win32 { call, code }
}

/// Makes this process DPI-aware (per monitor) so that GDI and `SendInput`
/// work in real pixels rather than in scaled, blurred coordinates. A
/// process-wide setting of this program only (nothing system-wide); fails
/// harmlessly when the awareness was already set (e.g. by the window).
pub fn set_dpi_aware() {
    use windows_sys::Win32::UI::HiDpi::{
        DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2, SetProcessDpiAwarenessContext,
    };
    // SAFETY: plain call with a predefined constant.
    let _ = unsafe { SetProcessDpiAwarenessContext(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2) };
}
