//! The tray icon of `Remoto.exe` while a session runs (the Windows
//! counterpart of the XEmbed tray in `crate::tray`).
//!
//! A thread of its own owns a hidden window and a notification-area icon
//! added with `Shell_NotifyIconW(NIM_ADD)`: the program's icon resource
//! (id 1, linked by `build.rs`; the stock application icon when it is
//! missing) with the tooltip "Remoto — <technician> — click for the menu".
//! A left or right click opens a popup menu at the pointer
//! (`TrackPopupMenu`): **Close Remoto** calls the close callback (the
//! session ends like with the panel's Close) and **Cancel** does nothing;
//! clicking the icon again closes the menu.
//! When Explorer restarts (`TaskbarCreated`) the icon is added again.
//!
//! The icon is removed (`NIM_DELETE`) when the window is destroyed, which
//! dropping the [`Tray`] does; [`remove_all`] removes any icon still shown
//! from any thread, for the program's last moments, so that no ghost icon
//! is left behind whichever way Remoto ends.

use std::cell::{Cell, RefCell};
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::sync::mpsc::{Sender, sync_channel};
use std::thread::JoinHandle;

use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, POINT, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Shell::{
    NIF_ICON, NIF_MESSAGE, NIF_TIP, NIM_ADD, NIM_DELETE, NOTIFYICONDATAW, Shell_NotifyIconW,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    AppendMenuW, CreatePopupMenu, CreateWindowExW, DefWindowProcW, DestroyMenu, DestroyWindow,
    DispatchMessageW, EndMenu, GetCursorPos, GetMessageW, GetSystemMetrics, HICON, IDI_APPLICATION,
    IMAGE_ICON, LR_SHARED, LoadIconW, LoadImageW, MF_SEPARATOR, MF_STRING, MSG, PostMessageW,
    PostQuitMessage, RegisterClassW, RegisterWindowMessageW, SM_CXSMICON, SM_CYSMICON,
    SetForegroundWindow, TPM_NONOTIFY, TPM_RETURNCMD, TPM_RIGHTBUTTON, TrackPopupMenu,
    TranslateMessage, WM_APP, WM_DESTROY, WM_LBUTTONUP, WM_NULL, WM_RBUTTONUP, WNDCLASSW,
};

use crate::platform::PlatformError;
use crate::ui::UiAction;

/// The icon's callback message (mouse events on the icon).
const WM_TRAY: u32 = WM_APP + 1;
/// Posted by [`Tray::drop`]: remove the icon and end the thread.
const WM_TRAY_STOP: u32 = WM_APP + 2;
/// The icon's id within our window.
const ICON_ID: u32 = 1;
/// Menu command ids.
const CMD_CLOSE: usize = 1;
const CMD_CANCEL: usize = 2;
/// Characters of `szTip`, the NUL included.
const TIP_LEN: usize = 128;

/// The tooltip for a session with `technician`.
pub fn tooltip(technician: &str) -> String {
    format!("Remoto \u{2014} {technician} \u{2014} click for the menu")
}

/// A shown tray icon; dropping it removes the icon and ends its thread.
#[derive(Debug)]
pub struct Tray {
    /// The hidden window (an `HWND` kept as an integer so that `Tray` is
    /// `Send`; window handles are valid process-wide).
    hwnd: usize,
    thread: Option<JoinHandle<()>>,
}

/// Windows of the icons being shown, for [`remove_all`].
static SHOWN: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// What the window procedure needs (lives on the tray thread).
struct State {
    on_close: Box<dyn Fn()>,
    /// The registered `TaskbarCreated` message (0: none).
    taskbar_created: u32,
    tip: [u16; TIP_LEN],
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    /// The popup menu is open (a click on the icon then closes it).
    static MENU_OPEN: Cell<bool> = const { Cell::new(false) };
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// `tip` as a NUL-terminated `szTip`, cut to fit.
fn tip_field(tip: &str) -> [u16; TIP_LEN] {
    let mut out = [0u16; TIP_LEN];
    for (dst, src) in out.iter_mut().take(TIP_LEN - 1).zip(tip.encode_utf16()) {
        *dst = src;
    }
    // Never end on half a surrogate pair.
    if (0xD800..0xDC00).contains(&out[TIP_LEN - 2]) {
        out[TIP_LEN - 2] = 0;
    }
    out
}

/// The notification data of our icon on `hwnd` (no flags set).
fn icon_data(hwnd: HWND) -> NOTIFYICONDATAW {
    // SAFETY: NOTIFYICONDATAW is plain data (integers, handles, arrays);
    // all zeroes is its documented empty state.
    let mut nid: NOTIFYICONDATAW = unsafe { std::mem::zeroed() };
    nid.cbSize = std::mem::size_of::<NOTIFYICONDATAW>() as u32;
    nid.hWnd = hwnd;
    nid.uID = ICON_ID;
    nid
}

/// The program's small icon (resource 1), else the stock application icon.
fn program_icon() -> HICON {
    // SAFETY: plain calls; a null module name means this program, the
    // resource id is passed as MAKEINTRESOURCE(1); LR_SHARED icons are
    // owned by the system (never destroyed by us).
    unsafe {
        let module = GetModuleHandleW(null());
        let icon = LoadImageW(
            module,
            1 as _,
            IMAGE_ICON,
            GetSystemMetrics(SM_CXSMICON),
            GetSystemMetrics(SM_CYSMICON),
            LR_SHARED,
        );
        if icon.is_null() {
            LoadIconW(null_mut(), IDI_APPLICATION)
        } else {
            icon
        }
    }
}

/// Adds our icon to the notification area; false when the shell refused
/// (no taskbar yet).
fn add_icon(hwnd: HWND, tip: &[u16; TIP_LEN]) -> bool {
    let mut nid = icon_data(hwnd);
    nid.uFlags = NIF_MESSAGE | NIF_ICON | NIF_TIP;
    nid.uCallbackMessage = WM_TRAY;
    nid.hIcon = program_icon();
    nid.szTip = *tip;
    // SAFETY: `nid` is a complete NOTIFYICONDATAW with its size set.
    unsafe { Shell_NotifyIconW(NIM_ADD, &nid) != 0 }
}

/// Removes our icon on `hwnd` (harmless when it is not shown).
fn delete_icon(hwnd: HWND) {
    let nid = icon_data(hwnd);
    // SAFETY: `nid` names the icon by window and id, as NIM_DELETE needs.
    unsafe { Shell_NotifyIconW(NIM_DELETE, &nid) };
}

/// Removes every tray icon this process still shows. Callable from any
/// thread (e.g. just before the program exits).
pub fn remove_all() {
    let shown = std::mem::take(&mut *SHOWN.lock().unwrap_or_else(|p| p.into_inner()));
    for hwnd in shown {
        delete_icon(hwnd as HWND);
    }
}

fn forget(hwnd: HWND) {
    SHOWN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|&h| h != hwnd as usize);
}

/// The popup menu at the pointer; returns the chosen command (0: none).
fn show_menu(hwnd: HWND) -> usize {
    let close = wide("Close Remoto");
    let cancel = wide("Cancel");
    let mut pt = POINT { x: 0, y: 0 };
    // SAFETY: the menu is created, used and destroyed here, on the thread
    // that owns `hwnd`; the strings outlive the calls that copy them. As
    // the documentation asks, the owner becomes the foreground window
    // before and gets a null message after TrackPopupMenu (so the menu
    // closes when the customer clicks elsewhere).
    unsafe {
        GetCursorPos(&mut pt);
        let menu = CreatePopupMenu();
        if menu.is_null() {
            return 0;
        }
        AppendMenuW(menu, MF_STRING, CMD_CLOSE, close.as_ptr());
        AppendMenuW(menu, MF_SEPARATOR, 0, null());
        AppendMenuW(menu, MF_STRING, CMD_CANCEL, cancel.as_ptr());
        SetForegroundWindow(hwnd);
        let cmd = TrackPopupMenu(
            menu,
            TPM_RETURNCMD | TPM_NONOTIFY | TPM_RIGHTBUTTON,
            pt.x,
            pt.y,
            0,
            hwnd,
            null(),
        );
        PostMessageW(hwnd, WM_NULL, 0, 0);
        DestroyMenu(menu);
        usize::try_from(cmd).unwrap_or(0)
    }
}

/// The hidden window's procedure (runs on the tray thread).
unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match msg {
        WM_TRAY => {
            // Version-0 icons: the mouse message is lParam itself.
            let mouse = (lparam & 0xffff) as u32;
            if mouse != WM_LBUTTONUP && mouse != WM_RBUTTONUP {
                return 0;
            }
            if MENU_OPEN.get() {
                // A click on the icon while the menu is open closes it.
                // SAFETY: ends this thread's menu.
                unsafe { EndMenu() };
                return 0;
            }
            MENU_OPEN.set(true);
            let cmd = show_menu(hwnd);
            MENU_OPEN.set(false);
            if cmd == CMD_CLOSE {
                STATE.with(|s| {
                    if let Some(s) = s.borrow().as_ref() {
                        (s.on_close)();
                    }
                });
            }
            0
        }
        WM_TRAY_STOP => {
            // SAFETY: both act on this thread's menu and window.
            unsafe {
                EndMenu();
                DestroyWindow(hwnd);
            }
            0
        }
        WM_DESTROY => {
            delete_icon(hwnd);
            forget(hwnd);
            // SAFETY: ends this thread's message loop.
            unsafe { PostQuitMessage(0) };
            0
        }
        _ => {
            let readd = STATE.with(|s| {
                s.borrow()
                    .as_ref()
                    .filter(|s| s.taskbar_created != 0 && s.taskbar_created == msg)
                    .map(|s| s.tip)
            });
            if let Some(tip) = readd {
                // Explorer restarted: show the icon again.
                add_icon(hwnd, &tip);
                return 0;
            }
            // SAFETY: the default handling of a message of our window.
            unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) }
        }
    }
}

/// Creates the hidden window of the tray thread.
fn create_window() -> Result<HWND, PlatformError> {
    let class = wide("RemotoTrayWindow");
    let title = wide("Remoto tray");
    // SAFETY: the class and window names are NUL-terminated and outlive
    // the calls; registering the class a second time (a later session)
    // fails harmlessly and the existing class is used.
    unsafe {
        let module = GetModuleHandleW(null());
        let wc = WNDCLASSW {
            style: 0,
            lpfnWndProc: Some(window_proc),
            cbClsExtra: 0,
            cbWndExtra: 0,
            hInstance: module,
            hIcon: null_mut(),
            hCursor: null_mut(),
            hbrBackground: null_mut(),
            lpszMenuName: null(),
            lpszClassName: class.as_ptr(),
        };
        RegisterClassW(&wc);
        // A hidden top-level window: never shown, it only receives the
        // icon's messages and owns the menu.
        let hwnd = CreateWindowExW(
            0,
            class.as_ptr(),
            title.as_ptr(),
            0,
            0,
            0,
            0,
            0,
            null_mut(),
            null_mut(),
            module,
            null(),
        );
        if hwnd.is_null() {
            return Err(super::last_error("CreateWindowExW"));
        }
        Ok(hwnd)
    }
}

impl Tray {
    /// Shows an icon with `tooltip`; `on_close` is called (on the tray's
    /// thread) when the customer picks "Close Remoto".
    pub fn start(
        tooltip: &str,
        on_close: impl Fn() + Send + 'static,
    ) -> Result<Tray, PlatformError> {
        let tip = tip_field(tooltip);
        let (tx, rx) = sync_channel::<Result<usize, PlatformError>>(1);
        let thread = std::thread::Builder::new()
            .name("tray".into())
            .spawn(move || {
                let hwnd = match create_window() {
                    Ok(h) => h,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let taskbar = wide("TaskbarCreated");
                STATE.with(|s| {
                    *s.borrow_mut() = Some(State {
                        on_close: Box::new(on_close),
                        // SAFETY: registers (or looks up) a message name.
                        taskbar_created: unsafe { RegisterWindowMessageW(taskbar.as_ptr()) },
                        tip,
                    })
                });
                SHOWN
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(hwnd as usize);
                if !add_icon(hwnd, &tip) {
                    // No taskbar (yet): the icon appears if Explorer
                    // starts and broadcasts TaskbarCreated.
                    tracing::debug!("Shell_NotifyIconW(NIM_ADD) refused");
                }
                let _ = tx.send(Ok(hwnd as usize));
                // SAFETY: MSG is plain data; the loop pumps this thread's
                // messages until WM_QUIT (0) or an error (-1).
                unsafe {
                    let mut msg: MSG = std::mem::zeroed();
                    while GetMessageW(&mut msg, null_mut(), 0, 0) > 0 {
                        TranslateMessage(&msg);
                        DispatchMessageW(&msg);
                    }
                }
                STATE.with(|s| s.borrow_mut().take());
            })?;
        match rx.recv() {
            Ok(Ok(hwnd)) => Ok(Tray {
                hwnd,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(PlatformError::Win32 {
                    call: "tray thread",
                    code: 0,
                })
            }
        }
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        let hwnd = self.hwnd as HWND;
        // SAFETY: posting to a window of this process; fails harmlessly
        // when the window is already gone.
        let posted = unsafe { PostMessageW(hwnd, WM_TRAY_STOP, 0, 0) } != 0;
        if posted && let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Whatever happened to the thread, the icon must go.
        delete_icon(hwnd);
        forget(hwnd);
    }
}

/// The session's tray icon: "Close Remoto" sends [`UiAction::Close`] like
/// the panel's Close button. `None` when it cannot be shown (logged at
/// debug level); the panel is there regardless.
pub fn for_session(technician: &str, actions: Sender<UiAction>) -> Option<Tray> {
    match Tray::start(&tooltip(technician), move || {
        let _ = actions.send(UiAction::Close);
    }) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::debug!("no tray icon: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tip_is_cut_and_terminated() {
        let t = tip_field(&"x".repeat(300));
        assert_eq!(t[TIP_LEN - 1], 0);
        assert_eq!(t[TIP_LEN - 2], u16::from(b'x'));
        let t = tip_field(&tooltip("Verde"));
        let len = t.iter().position(|&c| c == 0).unwrap();
        assert_eq!(
            String::from_utf16(&t[..len]).unwrap(),
            "Remoto \u{2014} Verde \u{2014} click for the menu"
        );
    }
}
