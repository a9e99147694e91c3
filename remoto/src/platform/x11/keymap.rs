//! The server's keysym table (GetKeyboardMapping) and keysym → keycode.

/// `NoSymbol`.
pub const NO_SYMBOL: u32 = 0;
/// `Shift_L`.
pub const XK_SHIFT_L: u32 = 0xffe1;
/// `Shift_R`.
pub const XK_SHIFT_R: u32 = 0xffe2;

/// Keysyms of each keycode, levels 0 (plain) and 1 (Shift) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    min_keycode: u8,
    per_keycode: u8,
    keysyms: Vec<u32>,
}

/// Where a keysym lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPlace {
    /// The key.
    pub keycode: u8,
    /// True when the keysym is on the Shift level.
    pub shift: bool,
}

impl Keymap {
    /// A table as GetKeyboardMapping returns it: `keysyms_per_keycode`
    /// entries for each keycode from `min_keycode` on.
    pub fn new(min_keycode: u8, keysyms_per_keycode: u8, keysyms: Vec<u32>) -> Self {
        Self {
            min_keycode,
            per_keycode: keysyms_per_keycode,
            keysyms,
        }
    }

    /// Keysyms per keycode.
    pub fn per_keycode(&self) -> u8 {
        self.per_keycode
    }

    fn keycodes(&self) -> impl Iterator<Item = (u8, &[u32])> {
        let per = usize::from(self.per_keycode.max(1));
        self.keysyms
            .chunks(per)
            .enumerate()
            .filter_map(move |(i, syms)| {
                let kc = usize::from(self.min_keycode) + i;
                u8::try_from(kc).ok().map(|kc| (kc, syms))
            })
    }

    /// The plain and Shift keysyms of a key, with the core protocol's rule
    /// for a single alphabetic keysym (lower case plain, upper case Shift).
    fn levels(syms: &[u32]) -> (u32, u32) {
        let l0 = syms.first().copied().unwrap_or(NO_SYMBOL);
        let l1 = syms.get(1).copied().unwrap_or(NO_SYMBOL);
        if l1 == NO_SYMBOL {
            let (lower, upper) = case_pair(l0);
            if lower != upper {
                return (lower, upper);
            }
            return (l0, NO_SYMBOL);
        }
        (l0, l1)
    }

    /// The key producing `keysym`, preferring the plain level.
    pub fn lookup(&self, keysym: u32) -> Option<KeyPlace> {
        if keysym == NO_SYMBOL {
            return None;
        }
        let mut shifted = None;
        for (keycode, syms) in self.keycodes() {
            let (l0, l1) = Self::levels(syms);
            if l0 == keysym {
                return Some(KeyPlace {
                    keycode,
                    shift: false,
                });
            }
            if l1 == keysym && shifted.is_none() {
                shifted = Some(KeyPlace {
                    keycode,
                    shift: true,
                });
            }
        }
        shifted
    }

    /// True when Shift changes what `keycode` produces (so a plain-level
    /// keysym must be typed without Shift).
    pub fn shift_matters(&self, keycode: u8) -> bool {
        self.keycodes()
            .find(|(kc, _)| *kc == keycode)
            .map(|(_, syms)| {
                let (l0, l1) = Self::levels(syms);
                l1 != NO_SYMBOL && l1 != l0
            })
            .unwrap_or(false)
    }

    /// Keycodes with no keysym at all: free to remap temporarily. Highest
    /// first (they are least likely to be physical keys).
    pub fn spare_keycodes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self
            .keycodes()
            .filter(|(_, syms)| syms.iter().all(|&s| s == NO_SYMBOL))
            .map(|(kc, _)| kc)
            .collect();
        out.reverse();
        out
    }

    /// Records that `keycode` now has `keysyms` (after ChangeKeyboardMapping).
    pub fn set(&mut self, keycode: u8, keysyms: &[u32]) {
        let per = usize::from(self.per_keycode);
        let Some(i) = usize::from(keycode).checked_sub(usize::from(self.min_keycode)) else {
            return;
        };
        if let Some(slot) = self.keysyms.get_mut(i * per..(i + 1) * per) {
            for (j, s) in slot.iter_mut().enumerate() {
                *s = keysyms.get(j).copied().unwrap_or(NO_SYMBOL);
            }
        }
    }
}

/// Lower and upper case of a Latin-1 letter keysym (the same keysym twice
/// for anything else).
fn case_pair(keysym: u32) -> (u32, u32) {
    match keysym {
        0x41..=0x5a | 0xc0..=0xd6 | 0xd8..=0xde => (keysym + 0x20, keysym),
        0x61..=0x7a | 0xe0..=0xf6 | 0xf8..=0xfe => (keysym, keysym - 0x20),
        _ => (keysym, keysym),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> Keymap {
        // keycode 8: a A; 9: 1 exclam; 10: nothing; 11: b (single); 12: Left
        Keymap::new(
            8,
            2,
            vec![0x61, 0x41, 0x31, 0x21, 0, 0, 0x62, 0, 0xff51, 0xff51],
        )
    }

    #[test]
    fn lookup_levels() {
        let m = map();
        assert_eq!(
            m.lookup(0x61),
            Some(KeyPlace {
                keycode: 8,
                shift: false
            })
        );
        assert_eq!(
            m.lookup(0x41),
            Some(KeyPlace {
                keycode: 8,
                shift: true
            })
        );
        assert_eq!(
            m.lookup(0x21),
            Some(KeyPlace {
                keycode: 9,
                shift: true
            })
        );
        assert_eq!(
            m.lookup(0x42),
            Some(KeyPlace {
                keycode: 11,
                shift: true
            })
        );
        assert_eq!(m.lookup(0x20ac), None);
        assert_eq!(m.lookup(0), None);
        assert!(m.shift_matters(8));
        assert!(!m.shift_matters(12));
    }

    #[test]
    fn spare_and_set() {
        let mut m = map();
        assert_eq!(m.spare_keycodes(), vec![10]);
        m.set(10, &[0x20ac, 0x20ac]);
        assert_eq!(
            m.lookup(0x20ac),
            Some(KeyPlace {
                keycode: 10,
                shift: false
            })
        );
        assert!(m.spare_keycodes().is_empty());
        m.set(7, &[1]);
        m.set(200, &[1]);
    }
}
