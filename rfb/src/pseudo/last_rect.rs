//! LastRect pseudo-encoding (−224): ends a FramebufferUpdate that announced
//! 65535 rectangles (a count the server did not know in advance).

use crate::encoding::{id, write_rect_header};
use crate::framebuffer::Rect;

/// Appends a LastRect pseudo-rectangle.
pub fn write_last_rect(out: &mut Vec<u8>) {
    write_rect_header(out, Rect::default(), id::LAST_RECT);
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_a_bare_header() {
        let mut out = Vec::new();
        super::write_last_rect(&mut out);
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x20]);
    }
}
