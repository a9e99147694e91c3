//! Pictures as native pixels (`0x00RRGGBB`, the layout of `rfb`), PNG in
//! and out, pixel comparison, and deterministic test pictures.

use std::path::Path;

use crate::artifacts::Artifacts;

/// A picture: `width`×`height` native `0x00RRGGBB` pixels, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major pixels, `0x00RRGGBB`.
    pub pixels: Vec<u32>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}x{})", self.width, self.height)
    }
}

/// Where two pictures first differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
    /// Pixel in the expected picture.
    pub expected: u32,
    /// Pixel in the actual picture.
    pub actual: u32,
}

impl Image {
    /// A picture filled with one colour.
    pub fn filled(width: u32, height: u32, colour: u32) -> Self {
        Self {
            width,
            height,
            pixels: vec![colour & 0xFF_FFFF; (width * height) as usize],
        }
    }

    /// The pixel at (x, y).
    pub fn get(&self, x: u32, y: u32) -> u32 {
        self.pixels[(y * self.width + x) as usize]
    }

    /// Sets the pixel at (x, y) (ignored outside).
    pub fn set(&mut self, x: u32, y: u32, colour: u32) {
        if x < self.width && y < self.height {
            self.pixels[(y * self.width + x) as usize] = colour & 0xFF_FFFF;
        }
    }

    /// Fills a rectangle (clipped).
    pub fn fill_rect(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u32) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.set(xx, yy, colour);
            }
        }
    }

    /// The part of the picture at (x, y) of size w×h (must fit).
    pub fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> Image {
        assert!(
            x + w <= self.width && y + h <= self.height,
            "crop {w}x{h}+{x}+{y} outside {}x{}",
            self.width,
            self.height
        );
        let mut pixels = Vec::with_capacity((w * h) as usize);
        for yy in y..y + h {
            let start = (yy * self.width + x) as usize;
            pixels.extend_from_slice(&self.pixels[start..start + w as usize]);
        }
        Image {
            width: w,
            height: h,
            pixels,
        }
    }

    /// Decodes a PNG of any colour type and bit depth (palette, grey,
    /// 16-bit… are expanded; alpha is dropped).
    pub fn from_png(bytes: &[u8]) -> Result<Image, String> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder
            .read_info()
            .map_err(|e| format!("PNG header: {e}"))?;
        let mut buf = vec![
            0;
            reader
                .output_buffer_size()
                .ok_or("PNG output buffer size overflows")?
        ];
        let info = reader
            .next_frame(&mut buf)
            .map_err(|e| format!("PNG data: {e}"))?;
        let channels = match info.color_type {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Indexed => return Err("palette not expanded".into()),
        };
        if info.bit_depth != png::BitDepth::Eight {
            return Err(format!("unexpected bit depth {:?}", info.bit_depth));
        }
        let (w, h) = (info.width, info.height);
        let mut pixels = Vec::with_capacity((w * h) as usize);
        for y in 0..h as usize {
            let row = &buf[y * info.line_size..][..w as usize * channels];
            for px in row.chunks_exact(channels) {
                let (r, g, b) = if channels < 3 {
                    (px[0], px[0], px[0])
                } else {
                    (px[0], px[1], px[2])
                };
                pixels.push(u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b));
            }
        }
        Ok(Image {
            width: w,
            height: h,
            pixels,
        })
    }

    /// Reads a PNG file.
    pub fn load(path: &Path) -> Result<Image, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Image::from_png(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Encodes as an 8-bit RGB PNG.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().expect("PNG header");
            let mut data = Vec::with_capacity(self.pixels.len() * 3);
            for p in &self.pixels {
                data.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, *p as u8]);
            }
            writer.write_image_data(&data).expect("PNG data");
        }
        out
    }

    /// Writes an 8-bit RGB PNG file.
    pub fn save(&self, path: &Path) {
        std::fs::write(path, self.to_png())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// Number of differing pixels (a size mismatch counts every pixel of the larger).
pub fn count_differences(expected: &Image, actual: &Image) -> usize {
    if (expected.width, expected.height) != (actual.width, actual.height) {
        return expected.pixels.len().max(actual.pixels.len());
    }
    expected
        .pixels
        .iter()
        .zip(&actual.pixels)
        .filter(|(a, b)| (**a ^ **b) & 0xFF_FFFF != 0)
        .count()
}

/// The first differing pixel in row-major order (same sizes assumed).
pub fn first_difference(expected: &Image, actual: &Image) -> Option<Difference> {
    if (expected.width, expected.height) != (actual.width, actual.height) {
        return Some(Difference {
            x: 0,
            y: 0,
            expected: expected.pixels.first().copied().unwrap_or(0),
            actual: actual.pixels.first().copied().unwrap_or(0),
        });
    }
    expected
        .pixels
        .iter()
        .zip(&actual.pixels)
        .position(|(a, b)| (a ^ b) & 0xFF_FFFF != 0)
        .map(|i| Difference {
            x: i as u32 % expected.width,
            y: i as u32 / expected.width,
            expected: expected.pixels[i],
            actual: actual.pixels[i],
        })
}

/// A mask: white where the pictures are equal, red where they differ.
pub fn diff_mask(expected: &Image, actual: &Image) -> Image {
    let w = expected.width.min(actual.width);
    let h = expected.height.min(actual.height);
    let mut out = Image::filled(w, h, 0xFF_FFFF);
    for y in 0..h {
        for x in 0..w {
            if expected.get(x, y) != actual.get(x, y) {
                out.set(x, y, 0xFF_0000);
            }
        }
    }
    out
}

/// A one-line description of how two pictures differ, or `None` if equal.
pub fn describe_difference(expected: &Image, actual: &Image) -> Option<String> {
    if (expected.width, expected.height) != (actual.width, actual.height) {
        return Some(format!(
            "size differs: expected {}x{}, got {}x{}",
            expected.width, expected.height, actual.width, actual.height
        ));
    }
    let n = count_differences(expected, actual);
    first_difference(expected, actual).map(|d| {
        format!(
            "{n} of {} pixels differ; first at ({}, {}): expected #{:06x}, got #{:06x}",
            expected.pixels.len(),
            d.x,
            d.y,
            d.expected,
            d.actual
        )
    })
}

/// Saves `<label>.expected.png`, `<label>.actual.png` (and on a mismatch
/// `<label>.diff.png`) in the artifacts, then panics unless the pictures
/// are identical.
pub fn assert_same(artifacts: &Artifacts, label: &str, expected: &Image, actual: &Image) {
    expected.save(&artifacts.path(&format!("{label}.expected.png")));
    actual.save(&artifacts.path(&format!("{label}.actual.png")));
    if let Some(why) = describe_difference(expected, actual) {
        if (expected.width, expected.height) == (actual.width, actual.height) {
            diff_mask(expected, actual).save(&artifacts.path(&format!("{label}.diff.png")));
        }
        panic!(
            "{label}: pictures differ: {why} (see {})",
            artifacts.dir().display()
        );
    }
}

/// Peak signal-to-noise ratio in dB over the R, G and B channels (for
/// lossy encodings such as Tight JPEG); `f64::INFINITY` when equal, 0 when
/// the sizes differ.
pub fn psnr(expected: &Image, actual: &Image) -> f64 {
    if (expected.width, expected.height) != (actual.width, actual.height) {
        return 0.0;
    }
    let mut sum = 0f64;
    for (a, b) in expected.pixels.iter().zip(&actual.pixels) {
        for shift in [16, 8, 0] {
            let d = f64::from((a >> shift) & 0xFF) - f64::from((b >> shift) & 0xFF);
            sum += d * d;
        }
    }
    let mse = sum / (expected.pixels.len().max(1) * 3) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// A small deterministic pseudo-random generator (xorshift32).
#[derive(Debug, Clone)]
pub struct Rng(u32);

impl Rng {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u32) -> Self {
        Self(if seed == 0 { 0x9E37_79B9 } else { seed })
    }

    /// Next value.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n.max(1)
    }
}

/// A deterministic test picture that exercises every encoder path:
/// - top: 8 pure colour bars (large solid areas: RRE/Hextile background,
///   Tight fill, ZRLE solid tiles);
/// - a two-colour stroke area that looks like text (Hextile subrects,
///   ZRLE/Tight palettes);
/// - horizontal/vertical gradients (many colours: raw-like tiles, Tight
///   basic zlib);
/// - a 1-pixel checkerboard and a 4-pixel one in 3 colours (packed palettes);
/// - a noise block (incompressible).
///
/// `variant` changes the stroke text and a coloured box, so that two
/// variants differ in part of the picture only.
pub fn test_picture(width: u32, height: u32, variant: u32) -> Image {
    let mut img = Image::filled(width, height, 0xFF_FFFF);
    let bars = [
        0xFF_FFFF, 0xFF_FF00, 0x00_FFFF, 0x00_FF00, 0xFF_00FF, 0xFF_0000, 0x00_00FF, 0x00_0000,
    ];
    let band = (height / 6).max(1);
    for (i, c) in bars.iter().enumerate() {
        let x0 = width * i as u32 / 8;
        let x1 = width * (i as u32 + 1) / 8;
        img.fill_rect(x0, 0, x1 - x0, band, *c);
    }
    // Text-like strokes: dark strokes on a light background, row of "glyphs".
    let text_top = band;
    let text_h = (height / 4).max(1);
    img.fill_rect(0, text_top, width, text_h, 0xF0_F0E8);
    let mut rng = Rng::new(0x5EED_0000 + variant);
    let mut y = text_top + 3;
    while y + 9 < text_top + text_h {
        let mut x = 4;
        while x + 6 < width {
            if rng.below(6) == 0 {
                x += 6; // a space
                continue;
            }
            // a 5x8 glyph made of 2-3 strokes
            for _ in 0..3 {
                if rng.below(2) == 0 {
                    let sy = y + rng.below(8);
                    img.fill_rect(x, sy, 5, 1, 0x20_2030);
                } else {
                    let sx = x + rng.below(5);
                    img.fill_rect(sx, y, 1, 8, 0x20_2030);
                }
            }
            x += 7;
        }
        y += 11;
    }
    // Gradients.
    let grad_top = text_top + text_h;
    let grad_h = (height / 4).max(1);
    for yy in grad_top..(grad_top + grad_h).min(height) {
        for xx in 0..width {
            let r = xx * 255 / width.max(1);
            let g = (yy - grad_top) * 255 / grad_h;
            let b = (xx + yy) & 0xFF;
            img.set(xx, yy, r << 16 | g << 8 | b);
        }
    }
    // Checkerboards and noise along the bottom.
    let bottom_top = grad_top + grad_h;
    let third = width / 3;
    for yy in bottom_top..height {
        for xx in 0..third {
            let c = if (xx + yy) % 2 == 0 {
                0x00_0000
            } else {
                0xFF_FFFF
            };
            img.set(xx, yy, c);
        }
        for xx in third..2 * third {
            let c = [0xC0_3030, 0x30_C030, 0x30_30C0][(((xx / 4) + (yy / 4)) % 3) as usize];
            img.set(xx, yy, c);
        }
    }
    let mut noise = Rng::new(0xC0FF_EE00);
    for yy in bottom_top..height {
        for xx in 2 * third..width {
            img.set(xx, yy, noise.next_u32() & 0xFF_FFFF);
        }
    }
    // A variant box in the middle of the gradient.
    let box_colour = [0x80_4000, 0x00_8080, 0x60_00A0, 0xA0_A000][(variant % 4) as usize];
    img.fill_rect(
        width / 2 - width / 8,
        grad_top + grad_h / 4,
        width / 4,
        grad_h / 2,
        box_colour,
    );
    img
}

/// A picture made of few-coloured flat shapes only (no gradient, no noise):
/// colour bars, text-like strokes, boxes and a 4-pixel checkerboard. Servers
/// that fall back to Raw when an encoding would be larger (libvncserver's
/// RRE does) still use the asked encoding for it.
pub fn flat_picture(width: u32, height: u32, variant: u32) -> Image {
    let mut img = test_picture(width, height, variant);
    let band = (height / 6).max(1);
    let text_h = (height / 4).max(1);
    let top = band + text_h;
    img.fill_rect(0, top, width, height - top, 0x40_6080);
    let mut rng = Rng::new(0xB0C5_0000 + variant);
    for _ in 0..12 {
        let (x, y) = (rng.below(width), top + rng.below(height - top));
        let (w, h) = (4 + rng.below(width / 4), 4 + rng.below((height - top) / 3));
        img.fill_rect(
            x,
            y,
            w,
            h,
            [0xE0_E0E0, 0x20_2020, 0xF0_C000, 0x00_A050][rng.below(4) as usize],
        );
    }
    let cy = top + (height - top) * 2 / 3;
    for yy in cy..height {
        for xx in 0..width / 3 {
            let c = [0xC0_3030, 0x30_C030, 0x30_30C0][(((xx / 4) + (yy / 4)) % 3) as usize];
            img.set(xx, yy, c);
        }
    }
    img
}
