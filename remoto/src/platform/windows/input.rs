//! The technician's input with `SendInput`: absolute pointer moves over the
//! virtual desktop, buttons, wheels, keys; and the text clipboard.

use windows_sys::Win32::UI::Input::KeyboardAndMouse::{
    INPUT, INPUT_0, INPUT_KEYBOARD, INPUT_MOUSE, KEYBDINPUT, KEYEVENTF_EXTENDEDKEY,
    KEYEVENTF_KEYUP, KEYEVENTF_UNICODE, MAPVK_VK_TO_VSC, MOUSEEVENTF_ABSOLUTE, MOUSEEVENTF_HWHEEL,
    MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP, MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP,
    MOUSEEVENTF_MOVE, MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP, MOUSEEVENTF_VIRTUALDESK,
    MOUSEEVENTF_WHEEL, MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, MOUSEINPUT, MapVirtualKeyW, SendInput,
    VkKeyScanW,
};

use super::clipboard::WinClipboard;
use super::keymap::{self, WinKey};
use super::last_error;
use super::screen::VirtualScreen;
use crate::platform::{InputSink, PlatformError};

/// One wheel notch.
const WHEEL_DELTA: i32 = 120;
/// `XBUTTON1` (the "back" button, RFB button 8).
const XBUTTON1: u32 = 1;

/// `SendInput` and the clipboard as an [`InputSink`].
#[derive(Debug)]
pub struct WinInput {
    buttons: u8,
    /// Ctrl, Alt or Win keys the technician holds (virtual keys).
    shortcut_mods: Vec<u16>,
    clipboard: WinClipboard,
}

impl WinInput {
    /// Ready to inject into the current desktop.
    pub fn open() -> Result<Self, PlatformError> {
        super::set_dpi_aware();
        Ok(Self {
            buttons: 0,
            shortcut_mods: Vec::new(),
            clipboard: WinClipboard::new(),
        })
    }
}

/// Normalised absolute coordinate (0..=65535 over `size` pixels) that
/// Windows maps back to pixel `p` (it computes `n * size / 65536`).
pub fn normalise(p: u16, size: u16) -> i32 {
    let size = i64::from(size.max(1));
    let p = i64::from(p).min(size - 1);
    ((p * 65536 + size - 1) / size).min(65535) as i32
}

fn mouse(dx: i32, dy: i32, data: i32, flags: u32) -> INPUT {
    INPUT {
        r#type: INPUT_MOUSE,
        Anonymous: INPUT_0 {
            mi: MOUSEINPUT {
                dx,
                dy,
                mouseData: data as u32,
                dwFlags: flags,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    }
}

fn keyboard(vk: u16, scan: u16, flags: u32) -> INPUT {
    INPUT {
        r#type: INPUT_KEYBOARD,
        Anonymous: INPUT_0 {
            ki: KEYBDINPUT {
                wVk: vk,
                wScan: scan,
                dwFlags: flags,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    }
}

fn send(inputs: &[INPUT]) -> Result<(), PlatformError> {
    if inputs.is_empty() {
        return Ok(());
    }
    // SAFETY: `inputs` is a valid array of INPUT structures.
    let sent = unsafe {
        SendInput(
            inputs.len() as u32,
            inputs.as_ptr(),
            size_of::<INPUT>() as i32,
        )
    };
    if sent as usize == inputs.len() {
        Ok(())
    } else {
        Err(last_error("SendInput"))
    }
}

fn vk_input(vk: u16, extended: bool, down: bool) -> INPUT {
    // SAFETY: a pure table lookup.
    let scan = unsafe { MapVirtualKeyW(u32::from(vk), MAPVK_VK_TO_VSC) } as u16;
    let mut flags = if down { 0 } else { KEYEVENTF_KEYUP };
    if extended {
        flags |= KEYEVENTF_EXTENDEDKEY;
    }
    keyboard(vk, scan, flags)
}

impl InputSink for WinInput {
    fn pointer(&mut self, mask: u8, x: u16, y: u16) -> Result<(), PlatformError> {
        let screen = VirtualScreen::current()?;
        let flags = MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK;
        let mut inputs = vec![mouse(
            normalise(x, screen.width),
            normalise(y, screen.height),
            0,
            flags,
        )];
        let pressed = mask & !self.buttons;
        let released = self.buttons & !mask;
        let buttons = [
            (0x01, MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP),
            (0x02, MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP),
            (0x04, MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP),
        ];
        for (bit, down, up) in buttons {
            if pressed & bit != 0 {
                inputs.push(mouse(0, 0, 0, down));
            }
            if released & bit != 0 {
                inputs.push(mouse(0, 0, 0, up));
            }
        }
        // Wheel buttons: each press is one notch.
        let wheels = [
            (0x08, MOUSEEVENTF_WHEEL, WHEEL_DELTA),
            (0x10, MOUSEEVENTF_WHEEL, -WHEEL_DELTA),
            (0x20, MOUSEEVENTF_HWHEEL, -WHEEL_DELTA),
            (0x40, MOUSEEVENTF_HWHEEL, WHEEL_DELTA),
        ];
        for (bit, flag, delta) in wheels {
            if pressed & bit != 0 {
                inputs.push(mouse(0, 0, delta, flag));
            }
        }
        if pressed & 0x80 != 0 {
            inputs.push(mouse(0, 0, XBUTTON1 as i32, MOUSEEVENTF_XDOWN));
        }
        if released & 0x80 != 0 {
            inputs.push(mouse(0, 0, XBUTTON1 as i32, MOUSEEVENTF_XUP));
        }
        self.buttons = mask;
        send(&inputs)
    }

    fn key(&mut self, down: bool, keysym: u32) -> Result<(), PlatformError> {
        match keymap::lookup(keysym).ok_or(PlatformError::NoKeycode(keysym))? {
            WinKey::Vk { vk, extended } => {
                if keymap::is_shortcut_modifier(vk) {
                    self.shortcut_mods.retain(|&m| m != vk);
                    if down {
                        self.shortcut_mods.push(vk);
                    }
                }
                send(&[vk_input(vk, extended, down)])
            }
            WinKey::Char(c) => {
                let mut units = [0u16; 2];
                let units = c.encode_utf16(&mut units);
                if !self.shortcut_mods.is_empty() && units.len() == 1 {
                    // SAFETY: a pure layout lookup.
                    let scan = unsafe { VkKeyScanW(units[0]) };
                    if scan != -1 {
                        // Ctrl+C and friends: the key that types `c`.
                        return send(&[vk_input((scan as u16) & 0xff, false, down)]);
                    }
                }
                let flags = KEYEVENTF_UNICODE | if down { 0 } else { KEYEVENTF_KEYUP };
                let inputs: Vec<INPUT> = units.iter().map(|&u| keyboard(0, u, flags)).collect();
                send(&inputs)
            }
        }
    }

    fn set_clipboard(&mut self, text: &str) -> Result<(), PlatformError> {
        self.clipboard.set(text)
    }

    fn clipboard_changes(&mut self) -> Result<Option<String>, PlatformError> {
        self.clipboard.changes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_coordinates_map_back_exactly() {
        for size in [1u16, 2, 320, 1080, 1920, 7680] {
            for p in [0, 1, size / 2, size.saturating_sub(1)] {
                let n = normalise(p, size);
                assert!((0..=65535).contains(&n));
                let back = (i64::from(n) * i64::from(size)) >> 16;
                assert_eq!(back, i64::from(p.min(size - 1)), "size {size} p {p}");
            }
        }
    }
}
