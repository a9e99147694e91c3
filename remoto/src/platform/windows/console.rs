//! `Remoto.exe` is a GUI-subsystem program (no console window pops up on
//! a double-click), yet `remoto --list` and `remoto connect …` typed in a
//! console must print there and read commands from it: attach to the
//! parent's console when the standard handles are not already set.

use std::ptr::null;

use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::Console::{
    ATTACH_PARENT_PROCESS, AttachConsole, GetStdHandle, STD_ERROR_HANDLE, STD_HANDLE,
    STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, SetStdHandle,
};

fn missing(h: HANDLE) -> bool {
    h.is_null() || h == INVALID_HANDLE_VALUE
}

/// Opens the console device `name` (`CONOUT$` or `CONIN$`): a device of
/// the console, not a file; nothing is created.
fn open_console(name: &str) -> HANDLE {
    let wide: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
    // SAFETY: NUL-terminated name; OPEN_EXISTING never creates anything.
    unsafe {
        CreateFileW(
            wide.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            null(),
            OPEN_EXISTING,
            FILE_ATTRIBUTE_NORMAL,
            std::ptr::null_mut(),
        )
    }
}

/// When standard output is not set (started from a console, not
/// redirected), attaches to the parent process' console and points the
/// missing standard handles at it. Handles that are already set (pipes or
/// files of a script, wine's Unix stdio) are left alone. Does nothing when
/// the parent has no console (double-click from Explorer).
pub fn attach_parent_console() {
    let std_handle = |which: STD_HANDLE| {
        // SAFETY: reads a process handle slot.
        unsafe { GetStdHandle(which) }
    };
    let (stdin, stdout, stderr) = (
        std_handle(STD_INPUT_HANDLE),
        std_handle(STD_OUTPUT_HANDLE),
        std_handle(STD_ERROR_HANDLE),
    );
    if !missing(stdout) && !missing(stderr) {
        return;
    }
    // SAFETY: plain call; fails when there is no parent console.
    if unsafe { AttachConsole(ATTACH_PARENT_PROCESS) } == 0 {
        return;
    }
    let set = |which: STD_HANDLE, h: HANDLE| {
        if !missing(h) {
            // SAFETY: `h` is an open console handle, kept for the process.
            unsafe { SetStdHandle(which, h) };
        }
    };
    if missing(stdout) || missing(stderr) {
        let out = open_console("CONOUT$");
        if missing(stdout) {
            set(STD_OUTPUT_HANDLE, out);
        }
        if missing(stderr) {
            set(STD_ERROR_HANDLE, out);
        }
    }
    if missing(stdin) {
        set(STD_INPUT_HANDLE, open_console("CONIN$"));
    }
}
