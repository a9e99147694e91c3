//! The Windows clipboard, text only (`CF_UNICODETEXT`). Changes made by
//! other programs are seen through `GetClipboardSequenceNumber`; our own
//! [`WinClipboard::set`] is remembered so that it is not echoed back (by
//! its sequence number, read once the clipboard is closed, and by its
//! text: the system or a clipboard bridge such as wine's may renumber the
//! clipboard after we set it).

use std::ptr::null_mut;
use std::time::Duration;

use rfb::limits::MAX_CLIPBOARD_LEN;
use windows_sys::Win32::Foundation::GlobalFree;
use windows_sys::Win32::System::DataExchange::{
    CloseClipboard, EmptyClipboard, GetClipboardData, GetClipboardSequenceNumber, OpenClipboard,
    SetClipboardData,
};
use windows_sys::Win32::System::Memory::{
    GMEM_MOVEABLE, GlobalAlloc, GlobalLock, GlobalSize, GlobalUnlock,
};
use windows_sys::Win32::System::Ole::CF_UNICODETEXT;

use crate::platform::PlatformError;

/// The clipboard as text.
#[derive(Debug, Default)]
pub struct WinClipboard {
    /// The sequence number last looked at.
    seen: u32,
    /// The sequence number right after our own `set`.
    own: Option<u32>,
    /// The text of our own last `set`, as [`WinClipboard::get`] reads it.
    own_text: Option<String>,
}

/// The clipboard opened for this thread; closed on drop.
struct Open;

impl Open {
    /// Opens the clipboard, retrying for a while when another program
    /// holds it.
    fn new() -> Result<Self, PlatformError> {
        for _ in 0..20 {
            // SAFETY: no owner window; closed by Drop.
            if unsafe { OpenClipboard(null_mut()) } != 0 {
                return Ok(Open);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(PlatformError::Clipboard(
            "another program keeps the clipboard open",
        ))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        // SAFETY: the clipboard was opened by `Open::new` on this thread.
        unsafe { CloseClipboard() };
    }
}

impl WinClipboard {
    /// Starts watching from the current clipboard content (what is there
    /// now is not reported as a change).
    pub fn new() -> Self {
        Self {
            // SAFETY: reads a counter.
            seen: unsafe { GetClipboardSequenceNumber() },
            own: None,
            own_text: None,
        }
    }

    /// Makes `text` the clipboard content.
    pub fn set(&mut self, text: &str) -> Result<(), PlatformError> {
        if text.len() > MAX_CLIPBOARD_LEN {
            return Err(PlatformError::Clipboard("text too large"));
        }
        // CRLF line ends, as Windows programs expect; NUL-terminated.
        let wide: Vec<u16> = text
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .encode_utf16()
            .chain(std::iter::once(0))
            .collect();
        let open = Open::new()?;
        // SAFETY: the clipboard is open; the global block is filled while
        // locked and handed to the clipboard (which then owns it), or freed
        // when the clipboard refuses it.
        unsafe {
            if EmptyClipboard() == 0 {
                return Err(PlatformError::Clipboard("cannot empty the clipboard"));
            }
            let mem = GlobalAlloc(GMEM_MOVEABLE, wide.len() * 2);
            if mem.is_null() {
                return Err(PlatformError::Clipboard("out of memory"));
            }
            let dst = GlobalLock(mem).cast::<u16>();
            if dst.is_null() {
                GlobalFree(mem);
                return Err(PlatformError::Clipboard("cannot lock clipboard memory"));
            }
            std::ptr::copy_nonoverlapping(wide.as_ptr(), dst, wide.len());
            GlobalUnlock(mem);
            if SetClipboardData(u32::from(CF_UNICODETEXT), mem).is_null() {
                GlobalFree(mem);
                return Err(PlatformError::Clipboard("the clipboard refused the text"));
            }
        }
        // Closing may renumber the clipboard (synthesized formats).
        drop(open);
        // SAFETY: reads a counter.
        let seq = unsafe { GetClipboardSequenceNumber() };
        self.own = Some(seq);
        self.seen = seq;
        self.own_text = Some(text.replace("\r\n", "\n"));
        Ok(())
    }

    /// The clipboard text, or `None` when it holds no text.
    pub fn get(&self) -> Result<Option<String>, PlatformError> {
        let _open = Open::new()?;
        // SAFETY: the clipboard is open; the handle is locked while read
        // and never read past its size.
        unsafe {
            let h = GetClipboardData(u32::from(CF_UNICODETEXT));
            if h.is_null() {
                return Ok(None);
            }
            let size = GlobalSize(h) / 2;
            let src = GlobalLock(h).cast::<u16>().cast_const();
            if src.is_null() {
                return Ok(None);
            }
            let all = std::slice::from_raw_parts(src, size.min(MAX_CLIPBOARD_LEN));
            let len = all.iter().position(|&c| c == 0).unwrap_or(all.len());
            let text = String::from_utf16_lossy(&all[..len]).replace("\r\n", "\n");
            GlobalUnlock(h);
            Ok(Some(text))
        }
    }

    /// The clipboard text when another program changed it since the last
    /// call. When the clipboard is busy (another program holds it open) the
    /// change is reported by a later call.
    pub fn changes(&mut self) -> Result<Option<String>, PlatformError> {
        // SAFETY: reads a counter.
        let seq = unsafe { GetClipboardSequenceNumber() };
        if seq == self.seen {
            return Ok(None);
        }
        if self.own == Some(seq) {
            self.seen = seq;
            return Ok(None);
        }
        let text = self.get()?;
        self.seen = seq;
        if text.is_some() && text == self.own_text {
            // Our own text, renumbered: not a change by another program.
            return Ok(None);
        }
        self.own_text = None;
        Ok(text)
    }
}
