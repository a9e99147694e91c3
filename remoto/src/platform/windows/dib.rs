//! A top-down 32-bit DIB section selected into its own memory DC: the
//! target of screen `BitBlt`s and of placeholder drawing, readable as
//! `0x00RRGGBB` rows without `GetDIBits` copies.

use std::ptr::null_mut;

use windows_sys::Win32::Graphics::Gdi::{
    BI_RGB, BITMAPINFO, BITMAPINFOHEADER, CreateCompatibleDC, CreateDIBSection, DIB_RGB_COLORS,
    DeleteDC, DeleteObject, GdiFlush, HBITMAP, HDC, HGDIOBJ, SelectObject,
};

use super::last_error;
use crate::platform::PlatformError;

/// A `width`×`height` 32-bit DIB section in a memory DC.
pub(crate) struct Dib {
    dc: HDC,
    bitmap: HBITMAP,
    old: HGDIOBJ,
    bits: *mut u32,
    width: u16,
    height: u16,
}

// SAFETY: the DC, bitmap and bits belong to this value only; GDI objects
// may be used from any thread as long as one thread at a time does.
unsafe impl Send for Dib {}

impl Dib {
    /// Allocates the DIB section (zeroed by GDI) and its DC.
    pub(crate) fn new(width: u16, height: u16) -> Result<Self, PlatformError> {
        if width == 0 || height == 0 {
            return Err(PlatformError::UnsupportedFormat(format!(
                "empty screen {width}x{height}"
            )));
        }
        // SAFETY: a memory DC compatible with the screen; checked below.
        let dc = unsafe { CreateCompatibleDC(null_mut()) };
        if dc.is_null() {
            return Err(last_error("CreateCompatibleDC"));
        }
        let info = bitmap_info(width, height);
        let mut bits: *mut core::ffi::c_void = null_mut();
        // SAFETY: `info` describes a 32-bit top-down bitmap; GDI writes the
        // pointer to its pixels into `bits`.
        let bitmap =
            unsafe { CreateDIBSection(dc, &info, DIB_RGB_COLORS, &mut bits, null_mut(), 0) };
        if bitmap.is_null() || bits.is_null() {
            let err = last_error("CreateDIBSection");
            // SAFETY: the DC was created above and is not used after.
            unsafe { DeleteDC(dc) };
            return Err(err);
        }
        // SAFETY: both handles are valid; the old object is restored on drop.
        let old = unsafe { SelectObject(dc, bitmap) };
        Ok(Self {
            dc,
            bitmap,
            old,
            bits: bits.cast(),
            width,
            height,
        })
    }

    /// The memory DC (the DIB section is selected into it).
    pub(crate) fn dc(&self) -> HDC {
        self.dc
    }

    /// Width in pixels.
    pub(crate) fn width(&self) -> u16 {
        self.width
    }

    /// Height in pixels.
    pub(crate) fn height(&self) -> u16 {
        self.height
    }

    /// The pixels (BGRA in memory: `0xAARRGGBB` as `u32`, alpha undefined),
    /// row-major, `width` per row, once GDI has finished drawing.
    pub(crate) fn pixels(&self) -> &[u32] {
        // SAFETY: flushes the GDI batch so that drawing is complete.
        unsafe { GdiFlush() };
        // SAFETY: the DIB section holds width*height 32-bit pixels (rows of
        // 32-bit pixels need no padding) and lives as long as `self`.
        unsafe {
            std::slice::from_raw_parts(
                self.bits,
                usize::from(self.width) * usize::from(self.height),
            )
        }
    }
}

impl Drop for Dib {
    fn drop(&mut self) {
        // SAFETY: the handles were created in `new` and are released once.
        unsafe {
            SelectObject(self.dc, self.old);
            DeleteObject(self.bitmap);
            DeleteDC(self.dc);
        }
    }
}

/// A `BITMAPINFO` for a top-down 32-bit BI_RGB bitmap.
pub(crate) fn bitmap_info(width: u16, height: u16) -> BITMAPINFO {
    // SAFETY: BITMAPINFO is plain data; all-zero is a valid value.
    let mut info: BITMAPINFO = unsafe { std::mem::zeroed() };
    info.bmiHeader = BITMAPINFOHEADER {
        biSize: size_of::<BITMAPINFOHEADER>() as u32,
        biWidth: i32::from(width),
        biHeight: -i32::from(height),
        biPlanes: 1,
        biBitCount: 32,
        biCompression: BI_RGB,
        biSizeImage: 0,
        biXPelsPerMeter: 0,
        biYPelsPerMeter: 0,
        biClrUsed: 0,
        biClrImportant: 0,
    };
    info
}
