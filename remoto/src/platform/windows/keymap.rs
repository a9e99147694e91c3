//! X11 keysyms (as in RFB KeyEvent) → Windows virtual keys or characters.
//!
//! Pure data, no Windows calls: function and editing keys, the keypad and
//! the modifiers become virtual-key codes (with the "extended key" flag
//! where the key is one of the duplicated navigation keys or right-hand
//! modifiers); everything that types a character becomes
//! [`WinKey::Char`], sent as `KEYEVENTF_UNICODE` (or as the virtual key the
//! keyboard layout gives it while Ctrl, Alt or Win is held, so shortcuts
//! such as Ctrl+C work).

/// What to send for one keysym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinKey {
    /// A virtual-key code.
    Vk {
        /// `VK_*` value.
        vk: u16,
        /// Send with `KEYEVENTF_EXTENDEDKEY`.
        extended: bool,
    },
    /// A character (Unicode scalar value).
    Char(char),
}

/// Virtual-key codes used here (values from WinUser.h).
pub mod vk {
    /// Backspace.
    pub const BACK: u16 = 0x08;
    /// Tab.
    pub const TAB: u16 = 0x09;
    /// Keypad 5 without Num Lock.
    pub const CLEAR: u16 = 0x0C;
    /// Enter.
    pub const RETURN: u16 = 0x0D;
    /// Pause.
    pub const PAUSE: u16 = 0x13;
    /// Caps Lock.
    pub const CAPITAL: u16 = 0x14;
    /// Escape.
    pub const ESCAPE: u16 = 0x1B;
    /// Page Up.
    pub const PRIOR: u16 = 0x21;
    /// Page Down.
    pub const NEXT: u16 = 0x22;
    /// End.
    pub const END: u16 = 0x23;
    /// Home.
    pub const HOME: u16 = 0x24;
    /// Left arrow.
    pub const LEFT: u16 = 0x25;
    /// Up arrow.
    pub const UP: u16 = 0x26;
    /// Right arrow.
    pub const RIGHT: u16 = 0x27;
    /// Down arrow.
    pub const DOWN: u16 = 0x28;
    /// Print Screen.
    pub const SNAPSHOT: u16 = 0x2C;
    /// Insert.
    pub const INSERT: u16 = 0x2D;
    /// Delete.
    pub const DELETE: u16 = 0x2E;
    /// Left Windows key.
    pub const LWIN: u16 = 0x5B;
    /// Right Windows key.
    pub const RWIN: u16 = 0x5C;
    /// Menu (application) key.
    pub const APPS: u16 = 0x5D;
    /// Keypad 0 (1–9 follow).
    pub const NUMPAD0: u16 = 0x60;
    /// Keypad *.
    pub const MULTIPLY: u16 = 0x6A;
    /// Keypad +.
    pub const ADD: u16 = 0x6B;
    /// Keypad separator.
    pub const SEPARATOR: u16 = 0x6C;
    /// Keypad -.
    pub const SUBTRACT: u16 = 0x6D;
    /// Keypad decimal point.
    pub const DECIMAL: u16 = 0x6E;
    /// Keypad /.
    pub const DIVIDE: u16 = 0x6F;
    /// F1 (F2–F24 follow).
    pub const F1: u16 = 0x70;
    /// Num Lock.
    pub const NUMLOCK: u16 = 0x90;
    /// Scroll Lock.
    pub const SCROLL: u16 = 0x91;
    /// Left Shift.
    pub const LSHIFT: u16 = 0xA0;
    /// Right Shift.
    pub const RSHIFT: u16 = 0xA1;
    /// Left Ctrl.
    pub const LCONTROL: u16 = 0xA2;
    /// Right Ctrl.
    pub const RCONTROL: u16 = 0xA3;
    /// Left Alt.
    pub const LMENU: u16 = 0xA4;
    /// Right Alt (AltGr).
    pub const RMENU: u16 = 0xA5;
}

const fn key(vk: u16) -> Option<WinKey> {
    Some(WinKey::Vk {
        vk,
        extended: false,
    })
}

const fn ext(vk: u16) -> Option<WinKey> {
    Some(WinKey::Vk { vk, extended: true })
}

/// What to send for `keysym`, or `None` for keysyms with no Windows
/// equivalent (dead keys, multimedia keys, …).
pub fn lookup(keysym: u32) -> Option<WinKey> {
    use vk::*;
    match keysym {
        0xff08 => key(BACK),
        0xff09 | 0xfe20 => key(TAB),
        0xff0d => key(RETURN),
        0xff13 => key(PAUSE),
        0xff14 => key(SCROLL),
        0xff15 | 0xff61 => key(SNAPSHOT),
        0xff1b => key(ESCAPE),
        0xffff => ext(DELETE),
        0xff50 => ext(HOME),
        0xff51 => ext(LEFT),
        0xff52 => ext(UP),
        0xff53 => ext(RIGHT),
        0xff54 => ext(DOWN),
        0xff55 => ext(PRIOR),
        0xff56 => ext(NEXT),
        0xff57 => ext(END),
        0xff63 => ext(INSERT),
        0xff67 => ext(APPS),
        0xff7f => key(NUMLOCK),
        0xff80 => Some(WinKey::Char(' ')),
        0xff8d => ext(RETURN),
        0xff95 => key(HOME),
        0xff96 => key(LEFT),
        0xff97 => key(UP),
        0xff98 => key(RIGHT),
        0xff99 => key(DOWN),
        0xff9a => key(PRIOR),
        0xff9b => key(NEXT),
        0xff9c => key(END),
        0xff9d => key(CLEAR),
        0xff9e => key(INSERT),
        0xff9f => key(DELETE),
        0xffaa => key(MULTIPLY),
        0xffab => key(ADD),
        0xffac => key(SEPARATOR),
        0xffad => key(SUBTRACT),
        0xffae => key(DECIMAL),
        0xffaf => ext(DIVIDE),
        0xffb0..=0xffb9 => key(NUMPAD0 + (keysym - 0xffb0) as u16),
        0xffbe..=0xffd5 => key(F1 + (keysym - 0xffbe) as u16),
        0xffe1 => key(LSHIFT),
        0xffe2 => key(RSHIFT),
        0xffe3 => key(LCONTROL),
        0xffe4 => ext(RCONTROL),
        0xffe5 => key(CAPITAL),
        0xffe7 | 0xffeb => ext(LWIN),
        0xffe8 | 0xffec => ext(RWIN),
        0xffe9 => key(LMENU),
        0xffea | 0xfe03 => ext(RMENU),
        // Latin-1 keysyms are their code points.
        0x20..=0x7e | 0xa0..=0xff => char::from_u32(keysym).map(WinKey::Char),
        // Unicode keysyms: 0x01000000 + code point.
        0x0100_0100..=0x0110_ffff => char::from_u32(keysym - 0x0100_0000).map(WinKey::Char),
        _ => None,
    }
}

/// True for the virtual keys of Ctrl, Alt and Win (either side): while one
/// is held, characters are sent as virtual keys so that shortcuts work.
pub fn is_shortcut_modifier(vk: u16) -> bool {
    matches!(
        vk,
        vk::LCONTROL | vk::RCONTROL | vk::LMENU | vk::RMENU | vk::LWIN | vk::RWIN
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_keys_are_virtual_keys() {
        assert_eq!(lookup(0xff0d), key(vk::RETURN));
        assert_eq!(lookup(0xff08), key(vk::BACK));
        assert_eq!(
            lookup(0xff51),
            Some(WinKey::Vk {
                vk: vk::LEFT,
                extended: true
            })
        );
        assert_eq!(lookup(0xffbe), key(vk::F1));
        assert_eq!(lookup(0xffc9), key(vk::F1 + 11));
        assert_eq!(lookup(0xffb7), key(vk::NUMPAD0 + 7));
        assert_eq!(lookup(0xffe3), key(vk::LCONTROL));
    }

    #[test]
    fn characters_are_unicode() {
        assert_eq!(lookup(u32::from('a')), Some(WinKey::Char('a')));
        assert_eq!(lookup(0xe9), Some(WinKey::Char('é')));
        assert_eq!(lookup(0x0100_20ac), Some(WinKey::Char('€')));
        assert_eq!(lookup(0x0101_f600), Some(WinKey::Char('😀')));
    }

    #[test]
    fn unknown_and_invalid_keysyms() {
        assert_eq!(lookup(0x1008_ff13), None); // XF86AudioRaiseVolume
        assert_eq!(lookup(0x0100_d800), None); // a surrogate is no character
        assert_eq!(lookup(0), None);
    }

    #[test]
    fn shortcut_modifiers() {
        assert!(is_shortcut_modifier(vk::LCONTROL));
        assert!(is_shortcut_modifier(vk::RMENU));
        assert!(!is_shortcut_modifier(vk::LSHIFT));
    }
}
