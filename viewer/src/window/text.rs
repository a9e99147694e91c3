//! Status-bar text drawn with fontdue and the bundled DejaVu Sans Mono
//! (licence in `font/LICENSE-DejaVu.txt`).

use std::collections::HashMap;

const FONT: &[u8] = include_bytes!("font/DejaVuSansMono.ttf");

/// A rasterising text drawer with a glyph cache.
pub struct TextDrawer {
    font: Option<fontdue::Font>,
    px: f32,
    cache: HashMap<char, (fontdue::Metrics, Vec<u8>)>,
}

impl std::fmt::Debug for TextDrawer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextDrawer({}px)", self.px)
    }
}

impl TextDrawer {
    /// A drawer at `px` pixels a line; without a usable font it draws nothing.
    pub fn new(px: f32) -> Self {
        let font = fontdue::Font::from_bytes(FONT, fontdue::FontSettings::default()).ok();
        Self {
            font,
            px,
            cache: HashMap::new(),
        }
    }

    fn glyph(&mut self, c: char) -> Option<&(fontdue::Metrics, Vec<u8>)> {
        let font = self.font.as_ref()?;
        let px = self.px;
        Some(self.cache.entry(c).or_insert_with(|| font.rasterize(c, px)))
    }

    /// Width in pixels of `text`.
    pub fn width(&mut self, text: &str) -> i64 {
        text.chars()
            .map(|c| {
                self.glyph(c)
                    .map(|g| g.0.advance_width.round() as i64)
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Draws `text` with its baseline at `baseline` starting at `x`, blending
    /// `colour` over what is in `buf` (`stride` pixels a row, `rows` rows),
    /// clipped to columns `..clip_right`. Returns the x after the text.
    #[allow(clippy::too_many_arguments)]
    pub fn draw(
        &mut self,
        buf: &mut [u32],
        stride: usize,
        rows: usize,
        clip_right: usize,
        mut x: i64,
        baseline: i64,
        text: &str,
        colour: u32,
    ) -> i64 {
        for c in text.chars() {
            let Some((m, bitmap)) = self.glyph(c) else {
                continue;
            };
            let left = x + i64::from(m.xmin);
            let top = baseline - i64::from(m.ymin) - m.height as i64;
            for gy in 0..m.height {
                let y = top + gy as i64;
                if y < 0 || y as usize >= rows {
                    continue;
                }
                for gx in 0..m.width {
                    let px = left + gx as i64;
                    if px < 0 || px as usize >= clip_right.min(stride) {
                        continue;
                    }
                    let cov = u32::from(bitmap[gy * m.width + gx]);
                    if cov == 0 {
                        continue;
                    }
                    let idx = y as usize * stride + px as usize;
                    if let Some(p) = buf.get_mut(idx) {
                        *p = blend(*p, colour, cov);
                    }
                }
            }
            x += m.advance_width.round() as i64;
        }
        x
    }
}

fn blend(bg: u32, fg: u32, a: u32) -> u32 {
    let ch = |shift: u32| {
        let b = (bg >> shift) & 0xff;
        let f = (fg >> shift) & 0xff;
        ((f * a + b * (255 - a)) / 255) << shift
    };
    ch(16) | ch(8) | ch(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_inside_the_buffer_only() {
        let mut t = TextDrawer::new(14.0);
        assert!(t.width("control granted") > 50);
        let mut buf = vec![0u32; 40 * 20];
        let end = t.draw(&mut buf, 40, 20, 40, -5, 15, "Wide text beyond", 0xffffff);
        assert!(end > 40);
        assert!(buf.iter().any(|&p| p != 0));
    }
}
