//! The mouse cursor's shape: `GetCursorInfo` for the current cursor handle
//! (a new handle means a new shape), `GetIconInfo` + `GetDIBits` for its
//! pixels, as premultiplied `0xAARRGGBB` for [`CursorImage`].

use std::ptr::null_mut;

use windows_sys::Win32::Foundation::POINT;
use windows_sys::Win32::Graphics::Gdi::{
    BITMAP, CreateCompatibleDC, DIB_RGB_COLORS, DeleteDC, DeleteObject, GetDIBits, GetObjectW,
    HBITMAP,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CURSOR_SHOWING, CURSORINFO, GetCursorInfo, GetIconInfo, HCURSOR, ICONINFO,
};

use super::dib::bitmap_info;
use super::last_error;
use crate::platform::{CursorImage, PlatformError};

/// The current cursor: its handle (null when hidden) and position.
pub(crate) fn current() -> Result<(HCURSOR, POINT), PlatformError> {
    let mut info = CURSORINFO {
        cbSize: size_of::<CURSORINFO>() as u32,
        flags: 0,
        hCursor: null_mut(),
        ptScreenPos: POINT { x: 0, y: 0 },
    };
    // SAFETY: `info` is a properly sized CURSORINFO.
    if unsafe { GetCursorInfo(&mut info) } == 0 {
        return Err(last_error("GetCursorInfo"));
    }
    let handle = if info.flags & CURSOR_SHOWING != 0 {
        info.hCursor
    } else {
        null_mut()
    };
    Ok((handle, info.ptScreenPos))
}

/// Reads the pixels of a bitmap as 32-bit top-down rows.
fn read_bitmap(bitmap: HBITMAP) -> Option<(u16, u16, Vec<u32>)> {
    // SAFETY: BITMAP is plain data; GetObjectW fills it for a bitmap handle.
    let mut bm: BITMAP = unsafe { std::mem::zeroed() };
    let n = unsafe {
        GetObjectW(
            bitmap,
            size_of::<BITMAP>() as i32,
            (&mut bm as *mut BITMAP).cast(),
        )
    };
    if n == 0 || bm.bmWidth <= 0 || bm.bmHeight <= 0 || bm.bmWidth > 1024 || bm.bmHeight > 2048 {
        return None;
    }
    let (w, h) = (bm.bmWidth as u16, bm.bmHeight as u16);
    let mut info = bitmap_info(w, h);
    let mut px = vec![0u32; usize::from(w) * usize::from(h)];
    // SAFETY: a memory DC for GetDIBits; `px` holds w*h 32-bit pixels as
    // `info` describes; the DC is deleted before returning.
    let lines = unsafe {
        let dc = CreateCompatibleDC(null_mut());
        if dc.is_null() {
            return None;
        }
        let lines = GetDIBits(
            dc,
            bitmap,
            0,
            u32::from(h),
            px.as_mut_ptr().cast(),
            &mut info,
            DIB_RGB_COLORS,
        );
        DeleteDC(dc);
        lines
    };
    (lines == i32::from(h)).then_some((w, h, px))
}

/// The shape of `cursor` at `pos` (screen coordinates, already relative to
/// the shared area), or `None` when Windows will not give it.
pub(crate) fn shape(cursor: HCURSOR, pos: (i32, i32)) -> Option<CursorImage> {
    let clamp = |v: i32| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    if cursor.is_null() {
        // Hidden cursor: a 1×1 transparent shape.
        return Some(CursorImage {
            width: 1,
            height: 1,
            hotspot_x: 0,
            hotspot_y: 0,
            x: clamp(pos.0),
            y: clamp(pos.1),
            pixels: vec![0],
        });
    }
    // SAFETY: ICONINFO is plain data, filled by GetIconInfo; the bitmaps it
    // returns are ours to delete.
    let mut ii: ICONINFO = unsafe { std::mem::zeroed() };
    if unsafe { GetIconInfo(cursor, &mut ii) } == 0 {
        return None;
    }
    let mask = if ii.hbmMask.is_null() {
        None
    } else {
        read_bitmap(ii.hbmMask)
    };
    let colour = if ii.hbmColor.is_null() {
        None
    } else {
        read_bitmap(ii.hbmColor)
    };
    // SAFETY: GetIconInfo created copies of the bitmaps for us.
    unsafe {
        if !ii.hbmMask.is_null() {
            DeleteObject(ii.hbmMask);
        }
        if !ii.hbmColor.is_null() {
            DeleteObject(ii.hbmColor);
        }
    }
    let (width, height, pixels) = compose(mask, colour)?;
    Some(CursorImage {
        width,
        height,
        hotspot_x: ii.xHotspot.min(u32::from(u16::MAX)) as u16,
        hotspot_y: ii.yHotspot.min(u32::from(u16::MAX)) as u16,
        x: clamp(pos.0),
        y: clamp(pos.1),
        pixels,
    })
}

/// Builds premultiplied ARGB pixels from a cursor's AND mask and colour
/// bitmap (both read as 32-bit rows: mask bits are black 0 / white 1).
///
/// - Colour bitmap with alpha: its alpha, premultiplied here.
/// - Colour bitmap without alpha: opaque where the AND mask is 0.
/// - Monochrome (mask twice as tall: AND then XOR): AND 0 → the XOR
///   colour, opaque; AND 1 + XOR 1 ("invert the screen", e.g. the text
///   I-beam) → opaque black so that it stays visible; AND 1 + XOR 0 →
///   transparent.
pub(crate) fn compose(
    mask: Option<(u16, u16, Vec<u32>)>,
    colour: Option<(u16, u16, Vec<u32>)>,
) -> Option<(u16, u16, Vec<u32>)> {
    let bit = |p: u32| p & 0x00ff_ffff != 0;
    match (mask, colour) {
        (mask, Some((w, h, px))) => {
            let has_alpha = px.iter().any(|p| p >> 24 != 0);
            let and = mask.filter(|(mw, mh, _)| *mw == w && *mh >= h);
            let out = px
                .iter()
                .enumerate()
                .map(|(i, &p)| {
                    if has_alpha {
                        let a = p >> 24;
                        let mul = |c: u32| (c * a + 127) / 255;
                        (a << 24)
                            | (mul((p >> 16) & 0xff) << 16)
                            | (mul((p >> 8) & 0xff) << 8)
                            | mul(p & 0xff)
                    } else {
                        let transparent = and.as_ref().is_some_and(|(_, _, m)| bit(m[i]));
                        if transparent {
                            0
                        } else {
                            0xff00_0000 | (p & 0x00ff_ffff)
                        }
                    }
                })
                .collect();
            Some((w, h, out))
        }
        (Some((w, h2, m)), None) => {
            if h2 < 2 {
                return None;
            }
            let h = h2 / 2;
            let n = usize::from(w) * usize::from(h);
            let (and, xor) = m.split_at(n);
            let out = and
                .iter()
                .zip(xor)
                .map(|(&a, &x)| match (bit(a), bit(x)) {
                    (false, false) => 0xff00_0000,
                    (false, true) => 0xffff_ffff,
                    (true, false) => 0,
                    (true, true) => 0xff00_0000,
                })
                .collect();
            Some((w, h, out))
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monochrome_cursor() {
        // 2×1 cursor: AND row [0, 1], XOR row [1, 0] → white opaque, transparent.
        let mask = (2, 2, vec![0, 0xffffff, 0xffffff, 0]);
        let (w, h, px) = compose(Some(mask), None).unwrap();
        assert_eq!((w, h), (2, 1));
        assert_eq!(px, vec![0xffff_ffff, 0]);
    }

    #[test]
    fn alpha_cursor_is_premultiplied() {
        let colour = (1, 1, vec![0x80ff_0000]);
        let (_, _, px) = compose(None, Some(colour)).unwrap();
        assert_eq!(px, vec![0x8080_0000]);
    }

    #[test]
    fn colour_cursor_without_alpha_uses_the_mask() {
        let mask = (2, 1, vec![0, 0xffffff]);
        let colour = (2, 1, vec![0x00_12_34_56, 0x00_ff_ff_ff]);
        let (_, _, px) = compose(Some(mask), Some(colour)).unwrap();
        assert_eq!(px, vec![0xff12_3456, 0]);
    }
}
