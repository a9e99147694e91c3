//! Input injection with XTEST: pointer, keys by keysym, clipboard.

use std::collections::HashMap;

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, ConnectionExt as _, KEY_PRESS_EVENT,
    KEY_RELEASE_EVENT, MOTION_NOTIFY_EVENT, Mapping, Window,
};
use x11rb::protocol::xtest;
use x11rb::rust_connection::RustConnection;

use super::clipboard::X11Clipboard;
use super::keymap::{Keymap, NO_SYMBOL, XK_SHIFT_L, XK_SHIFT_R};
use super::require_extension;
use crate::platform::{InputSink, PlatformError};

/// A key we pressed and have not released yet.
#[derive(Debug, Clone, Copy)]
struct Held {
    keycode: u8,
    /// The keycode was remapped to this keysym for the press: restore it
    /// to NoSymbol on release.
    remapped: bool,
}

/// XTEST input into an X display, as an [`InputSink`].
pub struct X11Input {
    conn: RustConnection,
    root: Window,
    buttons: u8,
    position: Option<(u16, u16)>,
    keymap: Keymap,
    spares: Vec<u8>,
    held: HashMap<u32, Held>,
    clipboard: Option<X11Clipboard>,
}

impl std::fmt::Debug for X11Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Input")
            .field("buttons", &self.buttons)
            .field("held", &self.held.len())
            .field("spares", &self.spares.len())
            .finish_non_exhaustive()
    }
}

impl X11Input {
    /// Opens `display` (`None`: `$DISPLAY`); needs XTEST. The clipboard
    /// worker is started too; when it cannot start, the clipboard methods
    /// fail but input works.
    pub fn open(display: Option<&str>) -> Result<Self, PlatformError> {
        let (conn, screen_num) = x11rb::connect(display)?;
        require_extension(&conn, xtest::X11_EXTENSION_NAME)?;
        xtest::get_version(&conn, 2, 2)?.reply()?;
        let root = super::screen_of(&conn, screen_num)?.root;
        let keymap = read_keymap(&conn)?;
        let spares = keymap.spare_keycodes();
        let clipboard = match X11Clipboard::open(display) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("clipboard unavailable: {e}");
                None
            }
        };
        Ok(Self {
            conn,
            root,
            buttons: 0,
            position: None,
            keymap,
            spares,
            held: HashMap::new(),
            clipboard,
        })
    }

    /// The keysym table in use (refreshed when the server's mapping changes).
    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }

    /// Waits until the server has processed everything sent so far (one
    /// round trip): afterwards other clients see the injected input.
    pub fn sync(&self) -> Result<(), PlatformError> {
        self.conn.get_input_focus()?.reply()?;
        Ok(())
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> Result<(), PlatformError> {
        xtest::fake_input(
            &self.conn,
            kind,
            detail,
            x11rb::CURRENT_TIME,
            self.root,
            x,
            y,
            0,
        )?;
        Ok(())
    }

    fn fake_key(&self, down: bool, keycode: u8) -> Result<(), PlatformError> {
        let kind = if down {
            KEY_PRESS_EVENT
        } else {
            KEY_RELEASE_EVENT
        };
        self.fake(kind, keycode, 0, 0)
    }

    /// Re-reads the keyboard mapping when another client changed it.
    fn refresh_keymap(&mut self) -> Result<(), PlatformError> {
        let mut changed = false;
        while let Some(event) = self.conn.poll_for_event()? {
            if let Event::MappingNotify(m) = event {
                changed |= m.request == Mapping::KEYBOARD;
            }
        }
        if changed {
            self.keymap = read_keymap(&self.conn)?;
        }
        Ok(())
    }

    fn shift_held(&self) -> Vec<u8> {
        [XK_SHIFT_L, XK_SHIFT_R]
            .iter()
            .filter_map(|s| self.held.get(s).map(|h| h.keycode))
            .collect()
    }

    fn remap(&mut self, keycode: u8, keysym: u32) -> Result<(), PlatformError> {
        let syms = vec![keysym; usize::from(self.keymap.per_keycode().max(1))];
        self.conn
            .change_keyboard_mapping(1, keycode, self.keymap.per_keycode().max(1), &syms)?
            .check()?;
        self.keymap.set(keycode, &syms);
        Ok(())
    }

    fn press(&mut self, keysym: u32) -> Result<(), PlatformError> {
        if let Some(h) = self.held.get(&keysym) {
            // Auto-repeat from the client: press the same key again.
            return self.fake_key(true, h.keycode);
        }
        if let Some(place) = self.keymap.lookup(keysym) {
            let shifts = self.shift_held();
            let is_shift = keysym == XK_SHIFT_L || keysym == XK_SHIFT_R;
            if place.shift && shifts.is_empty() && !is_shift {
                let shift = self
                    .keymap
                    .lookup(XK_SHIFT_L)
                    .or_else(|| self.keymap.lookup(XK_SHIFT_R));
                if let Some(shift) = shift {
                    self.fake_key(true, shift.keycode)?;
                    self.fake_key(true, place.keycode)?;
                    self.fake_key(false, shift.keycode)?;
                } else {
                    self.fake_key(true, place.keycode)?;
                }
            } else if !place.shift
                && !shifts.is_empty()
                && keysym < 0xff00
                && self.keymap.shift_matters(place.keycode)
            {
                // A plain-level character while the client holds Shift
                // (e.g. Caps Lock on its side): type it without Shift.
                for &s in &shifts {
                    self.fake_key(false, s)?;
                }
                self.fake_key(true, place.keycode)?;
                for &s in &shifts {
                    self.fake_key(true, s)?;
                }
            } else {
                self.fake_key(true, place.keycode)?;
            }
            self.held.insert(
                keysym,
                Held {
                    keycode: place.keycode,
                    remapped: false,
                },
            );
            return Ok(());
        }
        let in_use: Vec<u8> = self.held.values().map(|h| h.keycode).collect();
        let Some(&spare) = self.spares.iter().find(|k| !in_use.contains(k)) else {
            return Err(PlatformError::NoKeycode(keysym));
        };
        self.remap(spare, keysym)?;
        self.fake_key(true, spare)?;
        self.held.insert(
            keysym,
            Held {
                keycode: spare,
                remapped: true,
            },
        );
        Ok(())
    }

    fn release(&mut self, keysym: u32) -> Result<(), PlatformError> {
        match self.held.remove(&keysym) {
            Some(h) => {
                self.fake_key(false, h.keycode)?;
                if h.remapped {
                    self.remap(h.keycode, NO_SYMBOL)?;
                }
                Ok(())
            }
            // A release we did not see pressed: release the key anyway.
            None => match self.keymap.lookup(keysym) {
                Some(place) => self.fake_key(false, place.keycode),
                None => Ok(()),
            },
        }
    }

    /// Releases every key and button still held and restores remapped
    /// keycodes (end of a session, control revoked).
    pub fn release_all(&mut self) -> Result<(), PlatformError> {
        let keysyms: Vec<u32> = self.held.keys().copied().collect();
        for keysym in keysyms {
            self.release(keysym)?;
        }
        if self.buttons != 0 {
            let (x, y) = self.position.unwrap_or((0, 0));
            self.pointer(0, x, y)?;
        }
        self.conn.flush()?;
        Ok(())
    }

    fn clipboard(&mut self) -> Result<&mut X11Clipboard, PlatformError> {
        self.clipboard
            .as_mut()
            .ok_or(PlatformError::Clipboard("no clipboard on this display"))
    }
}

impl Drop for X11Input {
    fn drop(&mut self) {
        if let Err(e) = self.release_all() {
            tracing::debug!("releasing held input failed: {e}");
        }
    }
}

fn read_keymap(conn: &RustConnection) -> Result<Keymap, PlatformError> {
    let setup = conn.setup();
    let (min, max) = (setup.min_keycode, setup.max_keycode);
    let count = max.saturating_sub(min).saturating_add(1);
    let reply = conn.get_keyboard_mapping(min, count)?.reply()?;
    Ok(Keymap::new(min, reply.keysyms_per_keycode, reply.keysyms))
}

fn clamp_i16(v: u16) -> i16 {
    i16::try_from(v).unwrap_or(i16::MAX)
}

impl InputSink for X11Input {
    fn pointer(&mut self, mask: u8, x: u16, y: u16) -> Result<(), PlatformError> {
        let (px, py) = (clamp_i16(x), clamp_i16(y));
        if self.position != Some((x, y)) {
            self.fake(MOTION_NOTIFY_EVENT, 0, px, py)?;
            self.position = Some((x, y));
        }
        let changed = mask ^ self.buttons;
        for bit in 0..8u8 {
            if changed & (1 << bit) != 0 {
                let kind = if mask & (1 << bit) != 0 {
                    BUTTON_PRESS_EVENT
                } else {
                    BUTTON_RELEASE_EVENT
                };
                self.fake(kind, bit + 1, px, py)?;
            }
        }
        self.buttons = mask;
        self.conn.flush()?;
        Ok(())
    }

    fn key(&mut self, down: bool, keysym: u32) -> Result<(), PlatformError> {
        self.refresh_keymap()?;
        if down {
            self.press(keysym)?;
        } else {
            self.release(keysym)?;
        }
        self.conn.flush()?;
        Ok(())
    }

    fn set_clipboard(&mut self, text: &str) -> Result<(), PlatformError> {
        self.clipboard()?.set(text)
    }

    fn clipboard_changes(&mut self) -> Result<Option<String>, PlatformError> {
        self.clipboard()?.changes()
    }
}
