//! Input messages (client → server): KeyEvent, PointerEvent and the QEMU
//! extended key event.

use super::{Message, MsgError, expect_type};
use crate::reader::Reader;

/// KeyEvent (type 4): an X11 keysym pressed or released. Any keysym is
/// accepted; what to inject is the server application's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    /// Pressed (true) or released.
    pub down: bool,
    /// X11 keysym.
    pub keysym: u32,
}

impl Message for KeyEvent {
    const TYPE: u8 = 4;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[Self::TYPE, u8::from(self.down), 0, 0]);
        out.extend_from_slice(&self.keysym.to_be_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            let down = r.u8()? != 0;
            r.skip(2)?;
            Ok(KeyEvent {
                down,
                keysym: r.u32()?,
            })
        })
    }
}

/// PointerEvent (type 5): button mask and position (not clamped here; the
/// server session clamps to the screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointerEvent {
    /// Buttons 1–8 as bits 0–7 (bits 3/4 are the wheel).
    pub mask: u8,
    /// Horizontal position.
    pub x: u16,
    /// Vertical position.
    pub y: u16,
}

impl Message for PointerEvent {
    const TYPE: u8 = 5;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[Self::TYPE, self.mask]);
        out.extend_from_slice(&self.x.to_be_bytes());
        out.extend_from_slice(&self.y.to_be_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            Ok(PointerEvent {
                mask: r.u8()?,
                x: r.u16()?,
                y: r.u16()?,
            })
        })
    }
}

/// QEMU client message (type 255) subtype 0: extended key event carrying
/// both the keysym and the XT scancode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QemuKeyEvent {
    /// Pressed (true) or released.
    pub down: bool,
    /// X11 keysym (may be 0).
    pub keysym: u32,
    /// XT scancode (0xE0-prefixed codes as 0x80 | code).
    pub keycode: u32,
}

/// Subtype of the QEMU extended key event.
pub const QEMU_EXTENDED_KEY_SUBTYPE: u8 = 0;

impl Message for QemuKeyEvent {
    const TYPE: u8 = 255;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[Self::TYPE, QEMU_EXTENDED_KEY_SUBTYPE]);
        out.extend_from_slice(&u16::from(self.down).to_be_bytes());
        out.extend_from_slice(&self.keysym.to_be_bytes());
        out.extend_from_slice(&self.keycode.to_be_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            let sub = r.u8()?;
            if sub != QEMU_EXTENDED_KEY_SUBTYPE {
                return Err(MsgError::invalid(
                    "QEMU message subtype",
                    format!("{sub} is not supported"),
                ));
            }
            let down = r.u16()? != 0;
            Ok(QemuKeyEvent {
                down,
                keysym: r.u32()?,
                keycode: r.u32()?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn qemu_unknown_subtype_is_refused() {
        let buf = [255u8, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            QemuKeyEvent::read(&mut Reader::new(&buf)),
            Err(MsgError::Invalid { .. })
        ));
    }

    proptest! {
        #[test]
        fn key_round_trips(down in any::<bool>(), keysym in any::<u32>()) {
            let m = KeyEvent { down, keysym };
            prop_assert_eq!(KeyEvent::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }

        #[test]
        fn pointer_round_trips(mask in any::<u8>(), x in any::<u16>(), y in any::<u16>()) {
            let m = PointerEvent { mask, x, y };
            prop_assert_eq!(PointerEvent::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }

        #[test]
        fn qemu_round_trips(down in any::<bool>(), keysym in any::<u32>(), keycode in any::<u32>()) {
            let m = QemuKeyEvent { down, keysym, keycode };
            prop_assert_eq!(QemuKeyEvent::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }
    }
}
