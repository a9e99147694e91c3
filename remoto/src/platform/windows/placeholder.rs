//! The frame sent while the customer's screen cannot be captured because
//! Windows shows the secure desktop (an administrator / UAC prompt, the
//! Ctrl+Alt+Del screen, the lock screen): a dark blue screen with a short
//! explanation for the technician, drawn with GDI into a memory bitmap.

use windows_sys::Win32::Foundation::RECT;
use windows_sys::Win32::Graphics::Gdi::{
    CLEARTYPE_QUALITY, CLIP_DEFAULT_PRECIS, CreateFontW, CreateSolidBrush, DEFAULT_CHARSET,
    DEFAULT_PITCH, DT_CENTER, DT_NOPREFIX, DT_WORDBREAK, DeleteObject, DrawTextW, FW_SEMIBOLD,
    FillRect, OUT_DEFAULT_PRECIS, SelectObject, SetBkMode, SetTextColor, TRANSPARENT,
};

use super::dib::Dib;

/// What the technician reads while the secure desktop is shown.
pub const SECURE_DESKTOP_TEXT: &str = "The customer's screen is showing an administrator prompt \
(User Account Control) or another secure Windows screen, which Remoto cannot see.\n\n\
Ask the customer to answer it: the picture comes back by itself.";

/// Background colour (`0x00RRGGBB`).
pub const BACKGROUND: u32 = 0x00_1f_3a_5f;
/// Text colour (`0x00RRGGBB`).
pub const FOREGROUND: u32 = 0x00_ff_ff_ff;

/// A `width`×`height` frame (`0x00RRGGBB` pixels) showing `text` centred
/// on [`BACKGROUND`]. When GDI cannot draw (out of resources), the frame
/// is the plain background colour: never black, never an error.
pub fn render(width: u16, height: u16, text: &str) -> Vec<u32> {
    let plain = || vec![BACKGROUND; usize::from(width) * usize::from(height)];
    let Ok(dib) = Dib::new(width, height) else {
        return plain();
    };
    let colorref = |rgb: u32| ((rgb & 0xff) << 16) | (rgb & 0xff00) | ((rgb >> 16) & 0xff);
    let wide: Vec<u16> = text.encode_utf16().collect();
    let full = RECT {
        left: 0,
        top: 0,
        right: i32::from(width),
        bottom: i32::from(height),
    };
    // Text in the middle half of the screen, a readable size for it.
    let margin = i32::from(width) / 6;
    let mut area = RECT {
        left: margin,
        top: i32::from(height) / 3,
        right: i32::from(width) - margin,
        bottom: i32::from(height),
    };
    let font_px = (i32::from(height) / 24).clamp(12, 40);
    let face: Vec<u16> = "Segoe UI\0".encode_utf16().collect();
    // SAFETY: every handle is created here, checked, and released before
    // returning; the DIB's DC stays valid while `dib` lives.
    unsafe {
        let brush = CreateSolidBrush(colorref(BACKGROUND));
        if brush.is_null() {
            return plain();
        }
        FillRect(dib.dc(), &full, brush);
        DeleteObject(brush);
        let font = CreateFontW(
            -font_px,
            0,
            0,
            0,
            FW_SEMIBOLD as i32,
            0,
            0,
            0,
            u32::from(DEFAULT_CHARSET),
            u32::from(OUT_DEFAULT_PRECIS),
            u32::from(CLIP_DEFAULT_PRECIS),
            u32::from(CLEARTYPE_QUALITY),
            u32::from(DEFAULT_PITCH),
            face.as_ptr(),
        );
        let old_font = if font.is_null() {
            None
        } else {
            Some(SelectObject(dib.dc(), font))
        };
        SetBkMode(dib.dc(), TRANSPARENT as i32);
        SetTextColor(dib.dc(), colorref(FOREGROUND));
        DrawTextW(
            dib.dc(),
            wide.as_ptr(),
            wide.len() as i32,
            &mut area,
            DT_CENTER | DT_WORDBREAK | DT_NOPREFIX,
        );
        if let Some(old) = old_font {
            SelectObject(dib.dc(), old);
            DeleteObject(font);
        }
    }
    dib.pixels().iter().map(|p| p & 0x00ff_ffff).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs under wine (`cargo test --target x86_64-pc-windows-gnu`).
    #[test]
    fn placeholder_has_background_and_text() {
        let px = render(400, 300, SECURE_DESKTOP_TEXT);
        assert_eq!(px.len(), 400 * 300);
        assert_eq!(px[0], BACKGROUND);
        let text = px.iter().filter(|&&p| p != BACKGROUND).count();
        assert!(text > 500, "only {text} text pixels");
    }
}
