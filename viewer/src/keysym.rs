//! Keyboard mapping: winit keys → X11 keysyms, as RFB KeyEvent carries them.
//!
//! - Named keys (Enter, arrows, F1–F35, modifiers…) map to their X keysym;
//!   left/right modifiers are told apart by [`KeyLocation`].
//! - Keys on the numeric keypad map to the `KP_*` keysyms.
//! - Character keys map from the character winit produced (so AltGr, Shift
//!   and dead-key compositions give the right symbol): Latin-1 characters
//!   are their own keysym, other Unicode characters are `0x0100_0000 + code
//!   point` (the X convention).

use winit::keyboard::{Key, KeyLocation, NamedKey};

/// An X11 keysym.
pub type Keysym = u32;

/// X keysyms used by the shortcuts and tests.
pub mod xk {
    use super::Keysym;
    /// BackSpace.
    pub const BACKSPACE: Keysym = 0xff08;
    /// Tab.
    pub const TAB: Keysym = 0xff09;
    /// Return.
    pub const RETURN: Keysym = 0xff0d;
    /// Escape.
    pub const ESCAPE: Keysym = 0xff1b;
    /// Delete.
    pub const DELETE: Keysym = 0xffff;
    /// Left Shift.
    pub const SHIFT_L: Keysym = 0xffe1;
    /// Right Shift.
    pub const SHIFT_R: Keysym = 0xffe2;
    /// Left Control.
    pub const CONTROL_L: Keysym = 0xffe3;
    /// Right Control.
    pub const CONTROL_R: Keysym = 0xffe4;
    /// Left Alt.
    pub const ALT_L: Keysym = 0xffe9;
    /// Right Alt.
    pub const ALT_R: Keysym = 0xffea;
    /// Left Super (Windows key).
    pub const SUPER_L: Keysym = 0xffeb;
    /// Right Super.
    pub const SUPER_R: Keysym = 0xffec;
    /// AltGr (ISO_Level3_Shift).
    pub const ISO_LEVEL3_SHIFT: Keysym = 0xfe03;
    /// F1 (F2… follow).
    pub const F1: Keysym = 0xffbe;
}

/// The keysym of one character: Latin-1 maps to itself, other code points
/// to `0x0100_0000 + cp`; control characters have none.
pub fn char_keysym(c: char) -> Option<Keysym> {
    let cp = u32::from(c);
    match cp {
        0x20..=0x7e | 0xa0..=0xff => Some(cp),
        0x08 => Some(xk::BACKSPACE),
        0x09 => Some(xk::TAB),
        0x0d | 0x0a => Some(xk::RETURN),
        0x1b => Some(xk::ESCAPE),
        0x7f => Some(xk::DELETE),
        0..=0x1f | 0x80..=0x9f => None,
        _ => Some(0x0100_0000 + cp),
    }
}

fn keypad(key: &Key) -> Option<Keysym> {
    let ks = match key {
        Key::Character(s) => match s.as_str() {
            "0" => 0xffb0,
            "1" => 0xffb1,
            "2" => 0xffb2,
            "3" => 0xffb3,
            "4" => 0xffb4,
            "5" => 0xffb5,
            "6" => 0xffb6,
            "7" => 0xffb7,
            "8" => 0xffb8,
            "9" => 0xffb9,
            "*" => 0xffaa,
            "+" => 0xffab,
            "," => 0xffac,
            "-" => 0xffad,
            "." => 0xffae,
            "/" => 0xffaf,
            "=" => 0xffbd,
            _ => return None,
        },
        Key::Named(n) => match n {
            NamedKey::Enter => 0xff8d,
            NamedKey::Home => 0xff95,
            NamedKey::ArrowLeft => 0xff96,
            NamedKey::ArrowUp => 0xff97,
            NamedKey::ArrowRight => 0xff98,
            NamedKey::ArrowDown => 0xff99,
            NamedKey::PageUp => 0xff9a,
            NamedKey::PageDown => 0xff9b,
            NamedKey::End => 0xff9c,
            NamedKey::Clear => 0xff9d,
            NamedKey::Insert => 0xff9e,
            NamedKey::Delete => 0xff9f,
            _ => return None,
        },
        _ => return None,
    };
    Some(ks)
}

/// The keysym of a named key (`right` selects the right-hand modifier).
pub fn named_keysym(key: NamedKey, right: bool) -> Option<Keysym> {
    use NamedKey as N;
    let pick = |l: Keysym, r: Keysym| if right { r } else { l };
    let ks = match key {
        N::Backspace => xk::BACKSPACE,
        N::Tab => xk::TAB,
        N::Enter => xk::RETURN,
        N::Escape => xk::ESCAPE,
        N::Space => 0x20,
        N::Delete => xk::DELETE,
        N::Insert => 0xff63,
        N::Home => 0xff50,
        N::ArrowLeft => 0xff51,
        N::ArrowUp => 0xff52,
        N::ArrowRight => 0xff53,
        N::ArrowDown => 0xff54,
        N::PageUp => 0xff55,
        N::PageDown => 0xff56,
        N::End => 0xff57,
        N::Clear => 0xff0b,
        N::Pause => 0xff13,
        N::ScrollLock => 0xff14,
        N::PrintScreen => 0xff61,
        N::ContextMenu => 0xff67,
        N::Help => 0xff6a,
        N::NumLock => 0xff7f,
        N::CapsLock => 0xffe5,
        N::Shift => pick(xk::SHIFT_L, xk::SHIFT_R),
        N::Control => pick(xk::CONTROL_L, xk::CONTROL_R),
        N::Alt => pick(xk::ALT_L, xk::ALT_R),
        N::Meta => pick(0xffe7, 0xffe8),
        N::Super => pick(xk::SUPER_L, xk::SUPER_R),
        N::Hyper => pick(0xffed, 0xffee),
        N::AltGraph => xk::ISO_LEVEL3_SHIFT,
        N::F1 => xk::F1,
        N::F2 => xk::F1 + 1,
        N::F3 => xk::F1 + 2,
        N::F4 => xk::F1 + 3,
        N::F5 => xk::F1 + 4,
        N::F6 => xk::F1 + 5,
        N::F7 => xk::F1 + 6,
        N::F8 => xk::F1 + 7,
        N::F9 => xk::F1 + 8,
        N::F10 => xk::F1 + 9,
        N::F11 => xk::F1 + 10,
        N::F12 => xk::F1 + 11,
        N::F13 => xk::F1 + 12,
        N::F14 => xk::F1 + 13,
        N::F15 => xk::F1 + 14,
        N::F16 => xk::F1 + 15,
        N::F17 => xk::F1 + 16,
        N::F18 => xk::F1 + 17,
        N::F19 => xk::F1 + 18,
        N::F20 => xk::F1 + 19,
        N::F21 => xk::F1 + 20,
        N::F22 => xk::F1 + 21,
        N::F23 => xk::F1 + 22,
        N::F24 => xk::F1 + 23,
        N::F25 => xk::F1 + 24,
        N::F26 => xk::F1 + 25,
        N::F27 => xk::F1 + 26,
        N::F28 => xk::F1 + 27,
        N::F29 => xk::F1 + 28,
        N::F30 => xk::F1 + 29,
        N::F31 => xk::F1 + 30,
        N::F32 => xk::F1 + 31,
        N::F33 => xk::F1 + 32,
        N::F34 => xk::F1 + 33,
        N::F35 => xk::F1 + 34,
        _ => return None,
    };
    Some(ks)
}

/// Maps a winit key event (logical key, location, produced text) to a
/// keysym, or `None` for keys X has no symbol for.
pub fn keysym(key: &Key, location: KeyLocation, text: Option<&str>) -> Option<Keysym> {
    if location == KeyLocation::Numpad
        && let Some(ks) = keypad(key)
    {
        return Some(ks);
    }
    match key {
        Key::Named(n) => named_keysym(*n, location == KeyLocation::Right),
        Key::Character(s) => single_char(s),
        Key::Dead(Some(c)) => dead_keysym(*c),
        _ => text.and_then(single_char),
    }
}

fn single_char(s: &str) -> Option<Keysym> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    char_keysym(c)
}

fn dead_keysym(c: char) -> Option<Keysym> {
    Some(match c {
        '`' => 0xfe50,
        '´' | '\'' => 0xfe51,
        '^' => 0xfe52,
        '~' => 0xfe53,
        '¯' => 0xfe54,
        '˘' => 0xfe55,
        '˙' => 0xfe56,
        '¨' | '"' => 0xfe57,
        '˚' => 0xfe58,
        '˝' => 0xfe59,
        'ˇ' => 0xfe5a,
        '¸' => 0xfe5b,
        '˛' => 0xfe5c,
        _ => return char_keysym(c),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> Key {
        Key::Character(s.into())
    }

    #[test]
    fn characters() {
        assert_eq!(
            keysym(&ch("a"), KeyLocation::Standard, Some("a")),
            Some(0x61)
        );
        assert_eq!(keysym(&ch("A"), KeyLocation::Standard, None), Some(0x41));
        assert_eq!(keysym(&ch("é"), KeyLocation::Standard, None), Some(0xe9));
        // AltGr+e on an Italian keyboard gives €.
        assert_eq!(
            keysym(&ch("€"), KeyLocation::Standard, Some("€")),
            Some(0x0100_20ac)
        );
        assert_eq!(keysym(&ch("ab"), KeyLocation::Standard, None), None);
    }

    #[test]
    fn named_and_modifiers() {
        let n = |k| Key::Named(k);
        assert_eq!(
            keysym(&n(NamedKey::Enter), KeyLocation::Standard, None),
            Some(0xff0d)
        );
        assert_eq!(
            keysym(&n(NamedKey::F11), KeyLocation::Standard, None),
            Some(0xffc8)
        );
        assert_eq!(
            keysym(&n(NamedKey::Shift), KeyLocation::Left, None),
            Some(0xffe1)
        );
        assert_eq!(
            keysym(&n(NamedKey::Shift), KeyLocation::Right, None),
            Some(0xffe2)
        );
        assert_eq!(
            keysym(&n(NamedKey::AltGraph), KeyLocation::Right, None),
            Some(0xfe03)
        );
        assert_eq!(
            keysym(&n(NamedKey::Space), KeyLocation::Standard, None),
            Some(0x20)
        );
    }

    #[test]
    fn keypad_keys() {
        assert_eq!(
            keysym(&ch("7"), KeyLocation::Numpad, Some("7")),
            Some(0xffb7)
        );
        assert_eq!(keysym(&ch("+"), KeyLocation::Numpad, None), Some(0xffab));
        assert_eq!(
            keysym(&Key::Named(NamedKey::Enter), KeyLocation::Numpad, None),
            Some(0xff8d)
        );
        assert_eq!(
            keysym(&Key::Named(NamedKey::ArrowUp), KeyLocation::Numpad, None),
            Some(0xff97)
        );
    }

    #[test]
    fn unidentified_uses_text() {
        assert_eq!(
            keysym(
                &Key::Unidentified(winit::keyboard::NativeKey::Unidentified),
                KeyLocation::Standard,
                Some("ß")
            ),
            Some(0xdf)
        );
    }
}
