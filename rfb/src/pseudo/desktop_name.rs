//! DesktopName pseudo-encoding (−307): a new desktop name (u32 length +
//! UTF-8), bounded by [`MAX_NAME_LEN`].

use crate::encoding::{id, write_rect_header};
use crate::framebuffer::Rect;
use crate::limits::MAX_NAME_LEN;
use crate::msgs::{MsgError, read_counted_bytes, text_from_wire};
use crate::reader::Reader;

/// Appends a DesktopName pseudo-rectangle (name truncated to the limit).
pub fn write_desktop_name(out: &mut Vec<u8>, name: &str) {
    let mut n = name.len().min(MAX_NAME_LEN);
    while !name.is_char_boundary(n) {
        n -= 1;
    }
    write_rect_header(out, Rect::default(), id::DESKTOP_NAME);
    out.extend_from_slice(&(n as u32).to_be_bytes());
    out.extend_from_slice(&name.as_bytes()[..n]);
}

/// Parses the payload of a −307 rectangle.
pub fn read_desktop_name(r: &mut Reader<'_>) -> Result<String, MsgError> {
    r.atomic(|r| {
        Ok(text_from_wire(read_counted_bytes(
            r,
            "desktop name length",
            MAX_NAME_LEN,
        )?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn four_gib_name_is_refused() {
        assert!(matches!(
            read_desktop_name(&mut Reader::new(&[0xff, 0xff, 0xff, 0xff])),
            Err(MsgError::Limit { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(name in ".{0,100}") {
            let mut out = Vec::new();
            write_desktop_name(&mut out, &name);
            prop_assert_eq!(read_desktop_name(&mut Reader::new(&out[12..])), Ok(name));
        }
    }
}
