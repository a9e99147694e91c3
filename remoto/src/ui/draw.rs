//! A tiny software painter: filled (rounded) rectangles, circles, a padlock
//! and anti-aliased text with the bundled DejaVu Sans, into a `u32` buffer
//! of `0x00RRGGBB` pixels (the format softbuffer presents).

use std::collections::HashMap;

/// DejaVu Sans (subset; licence in `remoto/assets/`).
const REGULAR_TTF: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// DejaVu Sans Bold (subset).
const BOLD_TTF: &[u8] = include_bytes!("../../assets/DejaVuSans-Bold.ttf");

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

impl Rect {
    /// A rectangle from position and size.
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Self {
        Self { x, y, w, h }
    }

    /// `true` if the pixel `(px, py)` lies inside.
    pub fn contains(&self, px: i32, py: i32) -> bool {
        px >= self.x && py >= self.y && px < self.x + self.w && py < self.y + self.h
    }

    /// The centre point.
    pub fn center(&self) -> (i32, i32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }
}

/// Blends `color` over `dst` with coverage `alpha` (0..=255).
pub fn blend(dst: u32, color: u32, alpha: u32) -> u32 {
    if alpha >= 255 {
        return color & 0x00ff_ffff;
    }
    if alpha == 0 {
        return dst;
    }
    let mix = |shift: u32| {
        let d = (dst >> shift) & 0xff;
        let c = (color >> shift) & 0xff;
        ((c * alpha + d * (255 - alpha) + 127) / 255) << shift
    };
    mix(16) | mix(8) | mix(0)
}

/// A pixel buffer to draw into.
pub struct Canvas<'a> {
    buf: &'a mut [u32],
    width: i32,
    height: i32,
}

impl<'a> Canvas<'a> {
    /// Wraps `buf`, which holds `width × height` pixels row by row. A buffer
    /// that is too short is used only as far as it goes.
    pub fn new(buf: &'a mut [u32], width: u32, height: u32) -> Self {
        let width = i32::try_from(width).unwrap_or(0);
        let rows = if width > 0 {
            buf.len() / width as usize
        } else {
            0
        };
        let height = i32::try_from(height)
            .unwrap_or(0)
            .min(i32::try_from(rows).unwrap_or(i32::MAX));
        Self { buf, width, height }
    }

    /// Width in pixels.
    pub fn width(&self) -> i32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> i32 {
        self.height
    }

    /// The pixel at `(x, y)`, if inside.
    pub fn pixel(&self, x: i32, y: i32) -> Option<u32> {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return None;
        }
        self.buf.get((y * self.width + x) as usize).copied()
    }

    fn put(&mut self, x: i32, y: i32, color: u32, alpha: u32) {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return;
        }
        if let Some(p) = self.buf.get_mut((y * self.width + x) as usize) {
            *p = blend(*p, color, alpha);
        }
    }

    /// Fills the whole buffer.
    pub fn clear(&mut self, color: u32) {
        self.buf.fill(color & 0x00ff_ffff);
    }

    /// Fills a rectangle.
    pub fn fill_rect(&mut self, r: Rect, color: u32) {
        let x0 = r.x.max(0);
        let x1 = (r.x + r.w).min(self.width);
        let y0 = r.y.max(0);
        let y1 = (r.y + r.h).min(self.height);
        for y in y0..y1 {
            for x in x0..x1 {
                self.put(x, y, color, 255);
            }
        }
    }

    /// Fills a rectangle with anti-aliased rounded corners of `radius`.
    pub fn fill_rounded(&mut self, r: Rect, radius: i32, color: u32) {
        let rad = radius.min(r.w / 2).min(r.h / 2).max(0);
        if rad == 0 {
            self.fill_rect(r, color);
            return;
        }
        let radf = rad as f32;
        for y in r.y.max(0)..(r.y + r.h).min(self.height) {
            for x in r.x.max(0)..(r.x + r.w).min(self.width) {
                // Distance into a corner region, if any.
                let cx = if x < r.x + rad {
                    Some((r.x + rad) as f32)
                } else if x >= r.x + r.w - rad {
                    Some((r.x + r.w - rad) as f32)
                } else {
                    None
                };
                let cy = if y < r.y + rad {
                    Some((r.y + rad) as f32)
                } else if y >= r.y + r.h - rad {
                    Some((r.y + r.h - rad) as f32)
                } else {
                    None
                };
                let alpha = match (cx, cy) {
                    (Some(cx), Some(cy)) => {
                        let dx = x as f32 + 0.5 - cx;
                        let dy = y as f32 + 0.5 - cy;
                        let d = (dx * dx + dy * dy).sqrt();
                        ((radf - d + 0.5).clamp(0.0, 1.0) * 255.0) as u32
                    }
                    _ => 255,
                };
                self.put(x, y, color, alpha);
            }
        }
    }

    /// A rounded rectangle with a `border`-pixel outline of `line` around a
    /// `fill` inside.
    pub fn outlined(&mut self, r: Rect, radius: i32, border: i32, line: u32, fill: u32) {
        self.fill_rounded(r, radius, line);
        let inner = Rect::new(
            r.x + border,
            r.y + border,
            r.w - 2 * border,
            r.h - 2 * border,
        );
        self.fill_rounded(inner, (radius - border).max(0), fill);
    }

    /// A filled anti-aliased circle of diameter `d` in the square at `(x, y)`.
    pub fn fill_circle(&mut self, x: i32, y: i32, d: i32, color: u32) {
        self.fill_rounded(Rect::new(x, y, d, d), d / 2, color);
    }

    /// A padlock icon of height `h` with its top-left corner at `(x, y)`.
    pub fn padlock(&mut self, x: i32, y: i32, h: i32, color: u32) {
        let w = (h as f32 * 0.8).round() as i32;
        let body_h = (h as f32 * 0.55).round() as i32;
        let body = Rect::new(x, y + h - body_h, w, body_h);
        // Shackle: the upper half of a ring, then two legs down to the body.
        let cx = x as f32 + w as f32 / 2.0;
        let outer = w as f32 * 0.38;
        let thick = (h as f32 * 0.13).max(1.5);
        let inner = outer - thick;
        let cy = y as f32 + outer;
        for py in y..(y + h - body_h + 1) {
            for px in x..(x + w) {
                let fx = px as f32 + 0.5;
                let fy = py as f32 + 0.5;
                let cov = if fy <= cy {
                    let d = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
                    (outer - d + 0.5).clamp(0.0, 1.0) * (d - inner + 0.5).clamp(0.0, 1.0)
                } else {
                    let dx = (fx - cx).abs();
                    (outer - dx + 0.5).clamp(0.0, 1.0) * (dx - inner + 0.5).clamp(0.0, 1.0)
                };
                self.put(px, py, color, (cov * 255.0) as u32);
            }
        }
        self.fill_rounded(body, (h / 8).max(1), color);
    }
}

/// Text style: size in pixels and weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Font size in pixels.
    pub px: f32,
    /// Bold face.
    pub bold: bool,
}

impl Style {
    /// Regular text of `px` pixels.
    pub const fn regular(px: f32) -> Self {
        Self { px, bold: false }
    }

    /// Bold text of `px` pixels.
    pub const fn bold(px: f32) -> Self {
        Self { px, bold: true }
    }
}

struct Glyph {
    metrics: fontdue::Metrics,
    coverage: Vec<u8>,
}

/// The bundled fonts with a glyph cache.
pub struct Fonts {
    regular: fontdue::Font,
    bold: fontdue::Font,
    cache: HashMap<(bool, char, u32), Glyph>,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fonts")
            .field("cached_glyphs", &self.cache.len())
            .finish()
    }
}

impl Fonts {
    /// Loads the bundled fonts.
    pub fn new() -> Result<Self, String> {
        let settings = fontdue::FontSettings::default;
        let regular = fontdue::Font::from_bytes(REGULAR_TTF, settings())?;
        let bold = fontdue::Font::from_bytes(BOLD_TTF, settings())?;
        Ok(Self {
            regular,
            bold,
            cache: HashMap::new(),
        })
    }

    fn font(&self, bold: bool) -> &fontdue::Font {
        if bold { &self.bold } else { &self.regular }
    }

    /// Distance from the baseline to the top of capitals-with-accents.
    pub fn ascent(&self, style: Style) -> f32 {
        self.font(style.bold)
            .horizontal_line_metrics(style.px)
            .map_or(style.px * 0.76, |m| m.ascent)
    }

    /// Recommended distance between baselines.
    pub fn line_height(&self, style: Style) -> f32 {
        self.font(style.bold)
            .horizontal_line_metrics(style.px)
            .map_or(style.px * 1.2, |m| m.new_line_size)
    }

    /// Width of `text` in pixels.
    pub fn measure(&self, text: &str, style: Style) -> f32 {
        let font = self.font(style.bold);
        text.chars()
            .map(|c| font.metrics(c, style.px).advance_width)
            .sum()
    }

    /// Draws `text` with its baseline at `y` starting at `x`; returns the
    /// x after the last glyph.
    pub fn draw(
        &mut self,
        canvas: &mut Canvas<'_>,
        text: &str,
        x: f32,
        y: f32,
        style: Style,
        color: u32,
    ) -> f32 {
        let mut pen = x;
        let key_px = style.px.to_bits();
        for c in text.chars() {
            let key = (style.bold, c, key_px);
            if !self.cache.contains_key(&key) {
                let (metrics, coverage) = self.font(style.bold).rasterize(c, style.px);
                self.cache.insert(key, Glyph { metrics, coverage });
            }
            let Some(g) = self.cache.get(&key) else {
                continue;
            };
            let m = g.metrics;
            let gx = (pen + m.xmin as f32).round() as i32;
            let gy = y.round() as i32 - m.height as i32 - m.ymin;
            for row in 0..m.height {
                for col in 0..m.width {
                    let a = g.coverage.get(row * m.width + col).copied().unwrap_or(0);
                    if a > 0 {
                        canvas.put(gx + col as i32, gy + row as i32, color, u32::from(a));
                    }
                }
            }
            pen += m.advance_width;
        }
        pen
    }

    /// Splits `text` into lines no wider than `width` (words longer than a
    /// line are cut with an ellipsis).
    pub fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            // Only plain spaces break lines: U+00A0 keeps phone numbers whole.
            for word in para.split([' ', '\t']).filter(|w| !w.is_empty()) {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.measure(&candidate, style) <= width || line.is_empty() {
                    line = candidate;
                } else {
                    lines.push(std::mem::take(&mut line));
                    line = word.to_string();
                }
            }
            lines.push(line);
        }
        lines
            .into_iter()
            .map(|l| self.ellipsize(&l, style, width))
            .collect()
    }

    /// `text`, shortened with "…" to fit in `width`.
    pub fn ellipsize(&self, text: &str, style: Style, width: f32) -> String {
        if self.measure(text, style) <= width {
            return text.to_string();
        }
        let mut out: String = text.to_string();
        while !out.is_empty() {
            out.pop();
            let candidate = format!("{}…", out.trim_end());
            if self.measure(&candidate, style) <= width {
                return candidate;
            }
        }
        "…".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_extremes_and_middle() {
        assert_eq!(blend(0xffffff, 0x000000, 255), 0);
        assert_eq!(blend(0x123456, 0xabcdef, 0), 0x123456);
        assert_eq!(blend(0x000000, 0xffffff, 128), 0x808080);
    }

    #[test]
    fn drawing_is_clipped_to_the_buffer() {
        let mut buf = vec![0u32; 10 * 10];
        let mut c = Canvas::new(&mut buf, 10, 10);
        c.fill_rounded(Rect::new(-5, -5, 30, 30), 6, 0xff0000);
        assert_eq!(c.pixel(5, 5), Some(0xff0000));
        c.padlock(-3, 7, 20, 0x00ff00);
        let mut f = Fonts::new().expect("fonts");
        f.draw(
            &mut c,
            "Wrapped text ÀÈ…",
            -4.0,
            12.0,
            Style::bold(20.0),
            0xff,
        );
        assert_eq!(c.pixel(10, 0), None);
        // A buffer shorter than claimed is not overrun.
        let mut short = vec![0u32; 15];
        let mut c = Canvas::new(&mut short, 10, 10);
        assert_eq!(c.height(), 1);
        c.fill_rect(Rect::new(0, 0, 10, 10), 1);
    }

    #[test]
    fn wrap_and_ellipsize() {
        let f = Fonts::new().expect("fonts");
        let s = Style::regular(14.0);
        let lines = f.wrap("uno due tre quattro cinque sei sette otto", s, 80.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| f.measure(l, s) <= 80.0));
        let e = f.ellipsize("supercalifragilistichespiralidoso", s, 60.0);
        assert!(e.ends_with('…') && f.measure(&e, s) <= 60.0);
    }
}
