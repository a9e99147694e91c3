//! Placing the remote framebuffer in the window, and our CPU scalers.
//!
//! [`Layout`] says where the image lies in the content area (window minus
//! status bar): at 1:1 it is centred when smaller than the area and panned
//! with the pointer when larger; in fit mode it is scaled keeping the aspect
//! ratio and letterboxed in black. [`draw`] fills the content area with
//! nearest-neighbour or bilinear sampling.

/// How the framebuffer is fitted into the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScaleMode {
    /// Scaled to fit the window, aspect kept, letterboxed.
    #[default]
    Fit,
    /// One remote pixel per window pixel (panned with the pointer when larger).
    OneToOne,
}

/// Sampling used when scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    /// Nearest neighbour: sharp, fastest.
    Nearest,
    /// Bilinear: smooth text when shrinking.
    #[default]
    Bilinear,
}

/// Where the image lies in the content area (window pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// Content area width.
    pub area_w: u32,
    /// Content area height.
    pub area_h: u32,
    /// Framebuffer width.
    pub src_w: u32,
    /// Framebuffer height.
    pub src_h: u32,
    /// Left edge of the image (negative when panned).
    pub dst_x: i64,
    /// Top edge of the image (negative when panned).
    pub dst_y: i64,
    /// Displayed image width.
    pub dst_w: u32,
    /// Displayed image height.
    pub dst_h: u32,
}

impl Layout {
    /// Computes the layout; `pointer` (window coordinates) pans a 1:1 image
    /// larger than the area.
    pub fn compute(
        mode: ScaleMode,
        area: (u32, u32),
        src: (u32, u32),
        pointer: Option<(f64, f64)>,
    ) -> Layout {
        let (area_w, area_h) = area;
        let (src_w, src_h) = src;
        let mut l = Layout {
            area_w,
            area_h,
            src_w,
            src_h,
            ..Layout::default()
        };
        if area_w == 0 || area_h == 0 || src_w == 0 || src_h == 0 {
            return l;
        }
        match mode {
            ScaleMode::OneToOne => {
                l.dst_w = src_w;
                l.dst_h = src_h;
                let place = |area: u32, src: u32, p: Option<f64>| -> i64 {
                    if src <= area {
                        i64::from((area - src) / 2)
                    } else {
                        let frac = p
                            .map(|p| (p / f64::from(area)).clamp(0.0, 1.0))
                            .unwrap_or(0.0);
                        -((f64::from(src - area) * frac).round() as i64)
                    }
                };
                l.dst_x = place(area_w, src_w, pointer.map(|p| p.0));
                l.dst_y = place(area_h, src_h, pointer.map(|p| p.1));
            }
            ScaleMode::Fit => {
                // Compare area_w/src_w with area_h/src_h in integers.
                if u64::from(area_w) * u64::from(src_h) <= u64::from(area_h) * u64::from(src_w) {
                    l.dst_w = area_w;
                    l.dst_h = ((u64::from(src_h) * u64::from(area_w) + u64::from(src_w) / 2)
                        / u64::from(src_w))
                    .max(1) as u32;
                } else {
                    l.dst_h = area_h;
                    l.dst_w = ((u64::from(src_w) * u64::from(area_h) + u64::from(src_h) / 2)
                        / u64::from(src_h))
                    .max(1) as u32;
                }
                l.dst_x = i64::from((area_w - l.dst_w.min(area_w)) / 2);
                l.dst_y = i64::from((area_h - l.dst_h.min(area_h)) / 2);
            }
        }
        l
    }

    /// Maps a window point to framebuffer coordinates (clamped to the
    /// framebuffer); `None` when the framebuffer is empty. The bool is true
    /// when the point lies on the image.
    pub fn to_framebuffer(&self, x: f64, y: f64) -> Option<(u16, u16, bool)> {
        if self.dst_w == 0 || self.dst_h == 0 || self.src_w == 0 || self.src_h == 0 {
            return None;
        }
        let fx = (x - self.dst_x as f64) * f64::from(self.src_w) / f64::from(self.dst_w);
        let fy = (y - self.dst_y as f64) * f64::from(self.src_h) / f64::from(self.dst_h);
        let inside = fx >= 0.0
            && fy >= 0.0
            && fx < f64::from(self.src_w)
            && fy < f64::from(self.src_h)
            && x < f64::from(self.area_w)
            && y < f64::from(self.area_h);
        let cx = fx.floor().clamp(0.0, f64::from(self.src_w - 1)) as u16;
        let cy = fy.floor().clamp(0.0, f64::from(self.src_h - 1)) as u16;
        Some((cx, cy, inside))
    }
}

/// Fills `out` (the content area, `layout.area_w` wide, `stride` pixels a
/// row, at least `area_h` rows) from `src` (`src_w`×`src_h`, row-major),
/// black outside the image.
pub fn draw(out: &mut [u32], stride: usize, src: &[u32], layout: &Layout, filter: Filter) {
    let aw = layout.area_w as usize;
    let ah = layout.area_h as usize;
    let sw = layout.src_w as usize;
    let sh = layout.src_h as usize;
    if stride < aw || out.len() < stride * ah {
        return;
    }
    let rows = out.chunks_mut(stride).take(ah);
    if sw == 0 || sh == 0 || src.len() < sw * sh || layout.dst_w == 0 || layout.dst_h == 0 {
        for row in rows {
            row[..aw].fill(0);
        }
        return;
    }
    let dw = layout.dst_w as i64;
    let dh = layout.dst_h as i64;
    // Visible span of the image in the area.
    let x0 = layout.dst_x.clamp(0, aw as i64) as usize;
    let x1 = (layout.dst_x + dw).clamp(0, aw as i64) as usize;
    let unscaled = dw as usize == sw && dh as usize == sh;
    let bilinear = filter == Filter::Bilinear && !unscaled;
    // Per-column source position in 16.16 fixed point (pixel centres).
    let xpos: Vec<i64> = (x0..x1)
        .map(|x| {
            let dx = x as i64 - layout.dst_x;
            if bilinear {
                ((2 * dx + 1) * sw as i64 * 65536 / (2 * dw) - 32768).max(0)
            } else {
                (dx * sw as i64 / dw) << 16
            }
        })
        .collect();
    for (y, row) in rows.enumerate() {
        let row = &mut row[..aw];
        let dy = y as i64 - layout.dst_y;
        if dy < 0 || dy >= dh || x0 >= x1 {
            row.fill(0);
            continue;
        }
        row[..x0].fill(0);
        row[x1..].fill(0);
        let target = &mut row[x0..x1];
        if unscaled {
            let sy = dy as usize;
            let sx = (x0 as i64 - layout.dst_x) as usize;
            target.copy_from_slice(&src[sy * sw + sx..sy * sw + sx + (x1 - x0)]);
        } else if bilinear {
            let fy = ((2 * dy + 1) * sh as i64 * 65536 / (2 * dh) - 32768).max(0);
            let sy0 = ((fy >> 16) as usize).min(sh - 1);
            let sy1 = (sy0 + 1).min(sh - 1);
            let wy = (fy & 0xffff) as u32 >> 8;
            let r0 = &src[sy0 * sw..sy0 * sw + sw];
            let r1 = &src[sy1 * sw..sy1 * sw + sw];
            for (t, &fx) in target.iter_mut().zip(&xpos) {
                let sx0 = ((fx >> 16) as usize).min(sw - 1);
                let sx1 = (sx0 + 1).min(sw - 1);
                let wx = (fx & 0xffff) as u32 >> 8;
                let top = lerp(r0[sx0], r0[sx1], wx);
                let bottom = lerp(r1[sx0], r1[sx1], wx);
                *t = lerp(top, bottom, wy);
            }
        } else {
            let sy = ((dy * sh as i64 / dh) as usize).min(sh - 1);
            let r = &src[sy * sw..sy * sw + sw];
            for (t, &fx) in target.iter_mut().zip(&xpos) {
                *t = r[((fx >> 16) as usize).min(sw - 1)];
            }
        }
    }
}

/// Blends two `0x00RRGGBB` pixels, `w` in 0..=256 being the weight of `b`.
fn lerp(a: u32, b: u32, w: u32) -> u32 {
    let ia = 256 - w;
    let rb = ((a & 0x00ff_00ff) * ia + (b & 0x00ff_00ff) * w) >> 8;
    let g = ((a & 0x0000_ff00) * ia + (b & 0x0000_ff00) * w) >> 8;
    (rb & 0x00ff_00ff) | (g & 0x0000_ff00)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_letterboxes() {
        let l = Layout::compute(ScaleMode::Fit, (400, 400), (200, 100), None);
        assert_eq!((l.dst_w, l.dst_h, l.dst_x, l.dst_y), (400, 200, 0, 100));
        assert_eq!(l.to_framebuffer(0.0, 100.0), Some((0, 0, true)));
        assert_eq!(l.to_framebuffer(399.0, 299.0), Some((199, 99, true)));
        assert_eq!(l.to_framebuffer(10.0, 10.0), Some((5, 0, false)));
    }

    #[test]
    fn one_to_one_copies_exactly() {
        let src: Vec<u32> = (0..12).collect();
        let l = Layout::compute(ScaleMode::OneToOne, (4, 3), (4, 3), None);
        let mut out = vec![7u32; 5 * 3];
        draw(&mut out, 5, &src, &l, Filter::Bilinear);
        assert_eq!(&out[..4], &[0, 1, 2, 3]);
        assert_eq!(out[4], 7, "stride padding untouched");
        assert_eq!(&out[10..14], &[8, 9, 10, 11]);
    }

    #[test]
    fn one_to_one_pans_with_pointer() {
        let l = Layout::compute(
            ScaleMode::OneToOne,
            (100, 100),
            (300, 100),
            Some((100.0, 0.0)),
        );
        assert_eq!(l.dst_x, -200);
        assert_eq!(l.to_framebuffer(99.0, 0.0), Some((299, 0, true)));
    }

    #[test]
    fn scalers_fill_the_area() {
        let src = vec![0x00ff_0000u32; 64 * 32];
        for filter in [Filter::Nearest, Filter::Bilinear] {
            let l = Layout::compute(ScaleMode::Fit, (50, 50), (64, 32), None);
            let mut out = vec![1u32; 50 * 50];
            draw(&mut out, 50, &src, &l, filter);
            let y = l.dst_y as usize;
            assert!(
                out[y * 50..(y + l.dst_h as usize) * 50]
                    .iter()
                    .all(|&p| p == 0x00ff_0000)
            );
            assert!(out[..y * 50].iter().all(|&p| p == 0));
        }
    }

    #[test]
    fn degenerate_sizes_do_not_panic() {
        let mut out = vec![1u32; 16];
        let l = Layout::compute(ScaleMode::Fit, (4, 4), (0, 0), None);
        draw(&mut out, 4, &[], &l, Filter::Bilinear);
        assert!(out.iter().all(|&p| p == 0));
        let l = Layout::compute(ScaleMode::Fit, (4, 4), (1, 1000), None);
        draw(&mut out, 4, &vec![5; 1000], &l, Filter::Bilinear);
        assert_eq!(l.to_framebuffer(2.0, 3.9).map(|p| p.1), Some(975));
    }
}
