//! The pixel store both roles draw into, and rectangles.

use crate::limits::{MAX_FRAMEBUFFER_PIXELS, MAX_FRAMEBUFFER_SIDE};
use crate::pixel::Native;

/// A rectangle in framebuffer coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u16,
    /// Top edge.
    pub y: u16,
    /// Width.
    pub w: u16,
    /// Height.
    pub h: u16,
}

impl Rect {
    /// A rectangle.
    pub const fn new(x: u16, y: u16, w: u16, h: u16) -> Self {
        Self { x, y, w, h }
    }

    /// Number of pixels.
    pub fn area(&self) -> usize {
        usize::from(self.w) * usize::from(self.h)
    }

    /// True when it has no pixels.
    pub fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    /// Right edge (exclusive), without overflow.
    pub fn right(&self) -> u32 {
        u32::from(self.x) + u32::from(self.w)
    }

    /// Bottom edge (exclusive), without overflow.
    pub fn bottom(&self) -> u32 {
        u32::from(self.y) + u32::from(self.h)
    }

    /// True when the rectangle lies entirely within a `width`×`height` area.
    pub fn fits_in(&self, width: u16, height: u16) -> bool {
        self.right() <= u32::from(width) && self.bottom() <= u32::from(height)
    }

    /// The part of `self` that lies within a `width`×`height` area.
    pub fn clip_to(&self, width: u16, height: u16) -> Rect {
        let right = self.right().min(u32::from(width));
        let bottom = self.bottom().min(u32::from(height));
        let x = self.x.min(width);
        let y = self.y.min(height);
        Rect::new(
            x,
            y,
            (right.saturating_sub(u32::from(x))) as u16,
            (bottom.saturating_sub(u32::from(y))) as u16,
        )
    }

    /// Intersection, or `None` when they do not overlap.
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let x = self.x.max(other.x);
        let y = self.y.max(other.y);
        let r = self.right().min(other.right());
        let b = self.bottom().min(other.bottom());
        (r > u32::from(x) && b > u32::from(y))
            .then(|| Rect::new(x, y, (r - u32::from(x)) as u16, (b - u32::from(y)) as u16))
    }

    /// Smallest rectangle containing both.
    pub fn union(&self, other: &Rect) -> Rect {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        let r = self.right().max(other.right());
        let b = self.bottom().max(other.bottom());
        Rect::new(x, y, (r - u32::from(x)) as u16, (b - u32::from(y)) as u16)
    }
}

/// Why a framebuffer of some size cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "framebuffer size {width}x{height} is beyond the limit ({MAX_FRAMEBUFFER_SIDE} a side, {MAX_FRAMEBUFFER_PIXELS} pixels)"
)]
pub struct SizeError {
    /// Requested width.
    pub width: u16,
    /// Requested height.
    pub height: u16,
}

/// Native pixels (`0x00RRGGBB`), row-major, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct Framebuffer {
    width: u16,
    height: u16,
    pixels: Vec<Native>,
}

impl std::fmt::Debug for Framebuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Framebuffer({}x{})", self.width, self.height)
    }
}

impl Framebuffer {
    /// A black framebuffer, if the size is within the limits.
    pub fn new(width: u16, height: u16) -> Result<Self, SizeError> {
        check_size(width, height)?;
        Ok(Self {
            width,
            height,
            pixels: vec![0; usize::from(width) * usize::from(height)],
        })
    }

    /// A framebuffer from existing pixels (`pixels.len()` must be `width*height`).
    pub fn from_pixels(width: u16, height: u16, pixels: Vec<Native>) -> Result<Self, SizeError> {
        check_size(width, height)?;
        if pixels.len() != usize::from(width) * usize::from(height) {
            return Err(SizeError { width, height });
        }
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Checks that a framebuffer of this size may be made (the limits of
    /// [`crate::limits`]), without allocating.
    pub fn check(width: u16, height: u16) -> Result<(), SizeError> {
        check_size(width, height)
    }

    /// Width in pixels.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The whole framebuffer as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// All pixels, row-major.
    pub fn pixels(&self) -> &[Native] {
        &self.pixels
    }

    /// All pixels, mutable.
    pub fn pixels_mut(&mut self) -> &mut [Native] {
        &mut self.pixels
    }

    /// One row of a rectangle (the caller has checked that `r` fits).
    pub fn row(&self, r: &Rect, dy: u16) -> &[Native] {
        let start =
            (usize::from(r.y) + usize::from(dy)) * usize::from(self.width) + usize::from(r.x);
        &self.pixels[start..start + usize::from(r.w)]
    }

    /// One row of a rectangle, mutable (the caller has checked that `r` fits).
    pub fn row_mut(&mut self, r: &Rect, dy: u16) -> &mut [Native] {
        let start =
            (usize::from(r.y) + usize::from(dy)) * usize::from(self.width) + usize::from(r.x);
        &mut self.pixels[start..start + usize::from(r.w)]
    }

    /// The pixel at (x, y), or `None` outside.
    pub fn get(&self, x: u16, y: u16) -> Option<Native> {
        (x < self.width && y < self.height)
            .then(|| self.pixels[usize::from(y) * usize::from(self.width) + usize::from(x)])
    }

    /// Resizes, keeping the top-left content that still fits.
    pub fn resize(&mut self, width: u16, height: u16) -> Result<(), SizeError> {
        check_size(width, height)?;
        let mut next = vec![0; usize::from(width) * usize::from(height)];
        let w = usize::from(width.min(self.width));
        for y in 0..usize::from(height.min(self.height)) {
            let src = y * usize::from(self.width);
            let dst = y * usize::from(width);
            next[dst..dst + w].copy_from_slice(&self.pixels[src..src + w]);
        }
        self.width = width;
        self.height = height;
        self.pixels = next;
        Ok(())
    }

    /// Fills a rectangle (clipped to the framebuffer) with one colour.
    pub fn fill(&mut self, r: Rect, colour: Native) {
        let r = r.clip_to(self.width, self.height);
        for dy in 0..r.h {
            self.row_mut(&r, dy).fill(colour);
        }
    }

    /// Copies `pixels` (row-major, `r.w*r.h` of them) into a rectangle that
    /// must fit; returns false (and changes nothing) when it does not.
    pub fn put(&mut self, r: Rect, pixels: &[Native]) -> bool {
        if !r.fits_in(self.width, self.height) || pixels.len() != r.area() {
            return false;
        }
        for dy in 0..r.h {
            let src = usize::from(dy) * usize::from(r.w);
            self.row_mut(&r, dy)
                .copy_from_slice(&pixels[src..src + usize::from(r.w)]);
        }
        true
    }

    /// The pixels of a rectangle that must fit, row-major.
    pub fn read(&self, r: Rect) -> Option<Vec<Native>> {
        if !r.fits_in(self.width, self.height) {
            return None;
        }
        let mut out = Vec::with_capacity(r.area());
        for dy in 0..r.h {
            out.extend_from_slice(self.row(&r, dy));
        }
        Some(out)
    }

    /// Copies the `dst`-sized area whose top-left is (`src_x`, `src_y`) to
    /// `dst` (CopyRect semantics, overlapping allowed). Returns false (and
    /// changes nothing) when source or destination is outside.
    pub fn copy_within(&mut self, src_x: u16, src_y: u16, dst: Rect) -> bool {
        let src = Rect::new(src_x, src_y, dst.w, dst.h);
        if !src.fits_in(self.width, self.height) || !dst.fits_in(self.width, self.height) {
            return false;
        }
        let stride = usize::from(self.width);
        let w = usize::from(dst.w);
        let rows: Box<dyn Iterator<Item = u16>> = if dst.y > src_y {
            Box::new((0..dst.h).rev())
        } else {
            Box::new(0..dst.h)
        };
        for dy in rows {
            let s = (usize::from(src_y) + usize::from(dy)) * stride + usize::from(src_x);
            let d = (usize::from(dst.y) + usize::from(dy)) * stride + usize::from(dst.x);
            self.pixels.copy_within(s..s + w, d);
        }
        true
    }
}

fn check_size(width: u16, height: u16) -> Result<(), SizeError> {
    if width > MAX_FRAMEBUFFER_SIDE
        || height > MAX_FRAMEBUFFER_SIDE
        || usize::from(width) * usize::from(height) > MAX_FRAMEBUFFER_PIXELS
    {
        return Err(SizeError { width, height });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_edges_do_not_overflow() {
        let r = Rect::new(65535, 65535, 65535, 65535);
        assert!(!r.fits_in(100, 100));
        assert_eq!(r.clip_to(100, 100), Rect::new(100, 100, 0, 0));
    }

    #[test]
    fn copy_within_handles_overlap() {
        let mut fb = Framebuffer::from_pixels(3, 3, (0..9).collect()).unwrap();
        assert!(fb.copy_within(0, 0, Rect::new(0, 1, 3, 2)));
        assert_eq!(fb.pixels(), &[0, 1, 2, 0, 1, 2, 3, 4, 5]);
        assert!(!fb.copy_within(2, 2, Rect::new(0, 0, 2, 2)));
    }

    #[test]
    fn refuses_huge_sizes() {
        assert!(Framebuffer::new(65535, 65535).is_err());
        let mut fb = Framebuffer::new(2, 2).unwrap();
        assert!(fb.resize(65535, 65535).is_err());
        assert_eq!(fb.width(), 2);
    }
}
