//! The workloads: one X client (x11rb) that draws a desktop-like scene on
//! the display under test, then runs a deterministic script on it while a
//! small "probe" square flips colour every [`PROBE_PERIOD`], logging the
//! monotonic time of each flip.
//!
//! Everything a script draws is decided by fixed seeds, so every contestant
//! sees the same pixels in the same order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConfigureWindowAux, ConnectionExt as _, CreateGCAux,
    CreateWindowAux, ImageFormat, Rectangle, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;

/// How often the probe square changes colour.
pub const PROBE_PERIOD: Duration = Duration::from_millis(100);
/// Side of the probe square.
pub const PROBE_SIZE: u16 = 64;
/// The probe's colours (native `0x00RRGGBB`), used in turn: with eight
/// distinct colours a flip seen up to 700 ms late is still told apart from
/// the flips around it.
pub const PROBE_COLOURS: [u32; 8] = [
    0x00D0_2020,
    0x0020_40D0,
    0x0020_B040,
    0x00E0_C020,
    0x0090_20C0,
    0x0020_C0C0,
    0x0070_4010,
    0x00F0_80A0,
];

/// Width and height of a fixed-font glyph cell (`fixed` is 6×13).
const CELL: (i16, i16) = (6, 13);

/// The scripts of bench.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Only the probe square flips.
    Probe,
    /// Glyphs typed one by one into a terminal-like window at 30 chars/s.
    Typing,
    /// A terminal-like window scrolls by one text line 30 times a second.
    Scrolling,
    /// A 600×400 window moves across the desktop 30 times a second.
    WindowDrag,
    /// Full-screen photo-like pictures switched every 250 ms.
    Photos,
    /// A 640×360 region animates at 30 frames a second.
    Video,
    /// Nothing changes (no probe either).
    Idle,
    /// Typing, and half-way through a 50 MB file goes technician →
    /// customer over the same secure session (remoto-crypto only; not in
    /// [`Workload::ALL`]: `--workload transfer`).
    Transfer,
}

impl Workload {
    /// All workloads, in table order.
    pub const ALL: [Workload; 7] = [
        Workload::Probe,
        Workload::Typing,
        Workload::Scrolling,
        Workload::WindowDrag,
        Workload::Photos,
        Workload::Video,
        Workload::Idle,
    ];

    /// The name used on the command line and in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Probe => "probe",
            Workload::Typing => "typing",
            Workload::Scrolling => "scrolling",
            Workload::WindowDrag => "window-drag",
            Workload::Photos => "photos",
            Workload::Video => "video",
            Workload::Idle => "idle",
            Workload::Transfer => "transfer",
        }
    }

    /// Parses a name of [`Workload::name`].
    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .chain([Workload::Transfer])
            .find(|w| w.name() == s)
    }

    /// Whether the probe square runs during this workload.
    pub fn has_probe(self) -> bool {
        self != Workload::Idle
    }
}

/// One probe flip: when it was sent to the X server and the colour it set.
#[derive(Debug, Clone, Copy)]
pub struct Flip {
    /// Monotonic time just before the fill request was written.
    pub at: Instant,
    /// The new colour (native).
    pub colour: u32,
}

/// Where the probe square is on a `width`×`height` screen (top-left corner).
pub fn probe_origin(width: u16, height: u16) -> (u16, u16) {
    (width - PROBE_SIZE - 16, height - PROBE_SIZE - 16)
}

/// Why the workload client failed.
#[derive(Debug)]
pub struct XError(pub String);

impl std::fmt::Display for XError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XError {}

fn xerr(e: impl std::fmt::Display) -> XError {
    XError(format!("X workload client: {e}"))
}

/// A connected workload client with its scene drawn, ready to run.
pub struct Generator {
    conn: RustConnection,
    root: Window,
    width: u16,
    height: u16,
    workload: Workload,
    gc: u32,
    text_gc: u32,
    probe_gc: u32,
    probe: Window,
    term: Window,
    term_size: (u16, u16),
    drag: Window,
    photos: Vec<Vec<u8>>,
    video: Vec<Vec<u8>>,
    rng: Rng,
}

/// A tiny deterministic generator (xorshift32).
#[derive(Debug, Clone)]
pub struct Rng(u32);

impl Rng {
    /// Seeded (0 is mapped to 1).
    pub fn new(seed: u32) -> Self {
        Rng(seed.max(1))
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
    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "the",
    "remote",
    "session",
    "viewer",
    "customer",
    "screen",
    "update",
    "frame",
    "pixel",
    "encoder",
    "tile",
    "zlib",
    "copy",
    "rect",
    "latency",
    "bytes",
    "server",
    "client",
    "fn",
    "let",
    "mut",
    "match",
    "struct",
    "impl",
    "return",
    "Ok(())",
    "error",
    "=>",
    "{",
    "}",
    "0x7f",
    "42",
    "cargo",
    "build",
    "release",
    "assistance",
    "telefono",
    "tecnico",
];

/// A line of text-like words, at most `cols` characters.
fn text_line(rng: &mut Rng, cols: usize) -> String {
    let mut s = String::new();
    let indent = rng.below(4) as usize * 2;
    s.extend(std::iter::repeat_n(' ', indent));
    loop {
        let w = WORDS[rng.below(WORDS.len() as u32) as usize];
        if s.len() + w.len() + 1 > cols {
            break;
        }
        s.push_str(w);
        s.push(' ');
        if rng.below(9) == 0 {
            break;
        }
    }
    s
}

/// Native pixels to the X server's 32-bit ZPixmap bytes (little-endian BGRX).
fn to_zpixmap(px: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(px.len() * 4);
    for p in px {
        out.extend_from_slice(&p.to_le_bytes());
    }
    out
}

/// Smooth multi-octave value noise with fine grain: a photo-like picture.
pub fn photo(width: u16, height: u16, seed: u32) -> Vec<u32> {
    let (w, h) = (usize::from(width), usize::from(height));
    let mut rng = Rng::new(seed.wrapping_mul(2_654_435_761).wrapping_add(7));
    // Lattices per octave and channel.
    let octaves: [(usize, f32); 4] = [(8, 0.5), (24, 0.25), (64, 0.15), (160, 0.1)];
    let mut lattices = Vec::new();
    for &(cells, _) in &octaves {
        let gw = cells + 2;
        let gh = cells * h / w.max(1) + 2;
        let mut grid = vec![[0f32; 3]; gw * gh];
        for g in &mut grid {
            for c in g.iter_mut() {
                *c = (rng.below(1000) as f32) / 1000.0;
            }
        }
        lattices.push((gw, gh, grid));
    }
    let mut px = vec![0u32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut rgb = [0f32; 3];
            for (i, &(cells, amp)) in octaves.iter().enumerate() {
                let (gw, gh, grid) = &lattices[i];
                let fx = x as f32 * cells as f32 / w as f32;
                let fy = y as f32 * cells as f32 / w as f32;
                let (ix, iy) = (fx as usize, fy as usize);
                let (tx, ty) = (fx - ix as f32, fy - iy as f32);
                let ix1 = (ix + 1).min(gw - 1);
                let iy1 = (iy + 1).min(gh - 1);
                let iy = iy.min(gh - 1);
                for (c, v) in rgb.iter_mut().enumerate() {
                    let a = grid[iy * gw + ix][c];
                    let b = grid[iy * gw + ix1][c];
                    let d = grid[iy1 * gw + ix][c];
                    let e = grid[iy1 * gw + ix1][c];
                    let top = a + (b - a) * tx;
                    let bottom = d + (e - d) * tx;
                    *v += (top + (bottom - top) * ty) * amp;
                }
            }
            let grain = rng.below(17) as f32 - 8.0;
            let ch = |v: f32| (v * 255.0 + grain).clamp(0.0, 255.0) as u32;
            px[y * w + x] = (ch(rgb[0]) << 16) | (ch(rgb[1]) << 8) | ch(rgb[2]);
        }
    }
    px
}

/// One frame of the video-like animation (plasma plus a moving box).
pub fn video_frame(width: u16, height: u16, n: u32) -> Vec<u32> {
    let (w, h) = (usize::from(width), usize::from(height));
    let t = n as f32 * 0.21;
    let mut px = vec![0u32; w * h];
    let bx = ((n * 11) % (width as u32 - 80)) as usize;
    let by = ((n * 5) % (height as u32 - 60)) as usize;
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / 40.0, y as f32 / 30.0);
            let v = (fx + t).sin() + (fy - t * 0.7).sin() + ((fx + fy) * 0.5 + t * 1.3).sin();
            let r = ((v * 0.33 + 1.0) * 110.0) as u32;
            let g = (((v + t).cos() * 0.5 + 0.5) * 180.0) as u32;
            let b = ((1.0 - (v * 0.33 + 1.0) * 0.5) * 230.0).max(0.0) as u32;
            let mut p = (r.min(255) << 16) | (g.min(255) << 8) | b.min(255);
            if (bx..bx + 80).contains(&x) && (by..by + 60).contains(&y) {
                p = 0x00F0_F0F0;
            }
            px[y * w + x] = p;
        }
    }
    px
}

/// The desktop background: a vertical gradient with a few flat panels.
fn desktop(width: u16, height: u16) -> Vec<u32> {
    let (w, h) = (usize::from(width), usize::from(height));
    let mut px = vec![0u32; w * h];
    for y in 0..h {
        let g = 60 + (y * 80 / h) as u32;
        let row = (0x10 << 16) | (g << 8) | (g + 40);
        px[y * w..(y + 1) * w].fill(row);
    }
    // A task bar.
    for y in h - 28..h {
        px[y * w..(y + 1) * w].fill(0x0030_3038);
    }
    px
}

/// The script's geometry.
pub const VIDEO_SIZE: (u16, u16) = (640, 360);
/// Size of the dragged window.
pub const DRAG_SIZE: (u16, u16) = (600, 400);

impl Generator {
    /// Connects to `display`, draws the common scene and the workload's
    /// starting state, and pre-computes its pictures. Returns once the X
    /// server has drawn everything.
    pub fn prepare(display: &str, workload: Workload) -> Result<Generator, XError> {
        let (conn, screen_num) = x11rb::connect(Some(display)).map_err(xerr)?;
        let screen = conn.setup().roots[screen_num].clone();
        let (root, width, height, depth, visual) = (
            screen.root,
            screen.width_in_pixels,
            screen.height_in_pixels,
            screen.root_depth,
            screen.root_visual,
        );
        if depth != 24 {
            return Err(XError(format!("the display has depth {depth}, not 24")));
        }
        let id = |c: &RustConnection| c.generate_id().map_err(xerr);
        // Invisible pointer: a blank cursor on the root window, so that no
        // server draws a pointer into the pictures it sends.
        let blank = id(&conn)?;
        conn.create_pixmap(1, blank, root, 1, 1).map_err(xerr)?;
        let clear_gc = id(&conn)?;
        conn.create_gc(clear_gc, blank, &CreateGCAux::new().foreground(0))
            .map_err(xerr)?;
        conn.poly_fill_rectangle(blank, clear_gc, &[rect(0, 0, 1, 1)])
            .map_err(xerr)?;
        let cursor = id(&conn)?;
        conn.create_cursor(cursor, blank, blank, 0, 0, 0, 0, 0, 0, 0, 0)
            .map_err(xerr)?;
        // Desktop background as the root's background pixmap (so windows
        // moving over it are repainted by the X server).
        let bg = id(&conn)?;
        conn.create_pixmap(depth, bg, root, width, height)
            .map_err(xerr)?;
        let gc = id(&conn)?;
        conn.create_gc(gc, root, &CreateGCAux::new().graphics_exposures(0))
            .map_err(xerr)?;
        let mut generator = Generator {
            conn,
            root,
            width,
            height,
            workload,
            gc,
            text_gc: 0,
            probe_gc: 0,
            probe: 0,
            term: 0,
            term_size: (0, 0),
            drag: 0,
            photos: Vec::new(),
            video: Vec::new(),
            rng: Rng::new(0x5eed_0000 ^ workload as u32),
        };
        generator.put_pixels(
            bg,
            0,
            0,
            width,
            height,
            &to_zpixmap(&desktop(width, height)),
        )?;
        let conn = &generator.conn;
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new()
                .background_pixmap(bg)
                .cursor(cursor),
        )
        .map_err(xerr)?;
        conn.clear_area(false, root, 0, 0, 0, 0).map_err(xerr)?;
        let font = id(conn)?;
        conn.open_font(font, b"fixed").map_err(xerr)?;
        let text_gc = id(conn)?;
        conn.create_gc(
            text_gc,
            root,
            &CreateGCAux::new()
                .foreground(0x0010_1010)
                .background(0x00FF_FFFF)
                .font(font)
                .graphics_exposures(0),
        )
        .map_err(xerr)?;
        generator.text_gc = text_gc;
        // The terminal-like window (typing, scrolling) and the desktop's
        // static text windows.
        let term_size = (100 * CELL.0 as u16 + 8, 40 * CELL.1 as u16 + 8);
        let term_size = (
            term_size.0.min(width / 2 - 60),
            term_size.1.min(height - 120),
        );
        let term = id(conn)?;
        conn.create_window(
            depth,
            term,
            root,
            40,
            40,
            term_size.0,
            term_size.1,
            0,
            WindowClass::INPUT_OUTPUT,
            visual,
            &CreateWindowAux::new()
                .background_pixel(0x00FF_FFFF)
                .override_redirect(1),
        )
        .map_err(xerr)?;
        if workload != Workload::Photos {
            conn.map_window(term).map_err(xerr)?;
        }
        generator.term = term;
        generator.term_size = term_size;
        // The draggable window: its picture is its background pixmap.
        let drag_pix = id(conn)?;
        conn.create_pixmap(depth, drag_pix, root, DRAG_SIZE.0, DRAG_SIZE.1)
            .map_err(xerr)?;
        let drag = id(conn)?;
        conn.create_window(
            depth,
            drag,
            root,
            (width / 2) as i16,
            60,
            DRAG_SIZE.0,
            DRAG_SIZE.1,
            0,
            WindowClass::INPUT_OUTPUT,
            visual,
            &CreateWindowAux::new()
                .background_pixmap(drag_pix)
                .override_redirect(1),
        )
        .map_err(xerr)?;
        generator.drag = drag;
        // The probe window, on top of everything.
        let probe = id(conn)?;
        let (px, py) = probe_origin(width, height);
        conn.create_window(
            depth,
            probe,
            root,
            px as i16,
            py as i16,
            PROBE_SIZE,
            PROBE_SIZE,
            0,
            WindowClass::INPUT_OUTPUT,
            visual,
            &CreateWindowAux::new()
                .background_pixel(PROBE_COLOURS[0])
                .override_redirect(1),
        )
        .map_err(xerr)?;
        let probe_gc = id(conn)?;
        conn.create_gc(probe_gc, root, &CreateGCAux::new().graphics_exposures(0))
            .map_err(xerr)?;
        generator.probe = probe;
        generator.probe_gc = probe_gc;
        // Contents.
        generator.draw_drag_picture(drag_pix)?;
        generator.fill_terminal()?;
        if workload == Workload::WindowDrag {
            generator.conn.map_window(drag).map_err(xerr)?;
        }
        generator.conn.map_window(probe).map_err(xerr)?;
        match workload {
            Workload::Photos => {
                generator.photos = (0..4)
                    .map(|i| to_zpixmap(&photo(width, height, 100 + i)))
                    .collect();
            }
            Workload::Video => {
                generator.video = (0..30)
                    .map(|i| to_zpixmap(&video_frame(VIDEO_SIZE.0, VIDEO_SIZE.1, i)))
                    .collect();
                let first = generator.video[0].clone();
                generator.put_pixels(
                    root,
                    Self::video_origin(width).0,
                    Self::video_origin(width).1,
                    VIDEO_SIZE.0,
                    VIDEO_SIZE.1,
                    &first,
                )?;
            }
            _ => {}
        }
        generator.sync()?;
        Ok(generator)
    }

    fn video_origin(width: u16) -> (i16, i16) {
        ((width - VIDEO_SIZE.0 - 16) as i16, 80)
    }

    /// Waits until the X server has handled every request so far.
    pub fn sync(&self) -> Result<(), XError> {
        self.conn
            .get_input_focus()
            .map_err(xerr)?
            .reply()
            .map_err(xerr)?;
        Ok(())
    }

    /// PutImage split into requests the server accepts.
    fn put_pixels(
        &self,
        drawable: u32,
        x: i16,
        y: i16,
        w: u16,
        h: u16,
        data: &[u8],
    ) -> Result<(), XError> {
        let row = usize::from(w) * 4;
        let max = RequestConnection::maximum_request_bytes(&self.conn).saturating_sub(64);
        let rows = (max / row).clamp(1, usize::from(h.max(1)));
        let mut y0 = 0usize;
        while y0 < usize::from(h) {
            let n = rows.min(usize::from(h) - y0);
            self.conn
                .put_image(
                    ImageFormat::Z_PIXMAP,
                    drawable,
                    self.gc,
                    w,
                    n as u16,
                    x,
                    y + y0 as i16,
                    0,
                    24,
                    &data[y0 * row..(y0 + n) * row],
                )
                .map_err(xerr)?;
            y0 += n;
        }
        Ok(())
    }

    fn draw_drag_picture(&mut self, pix: u32) -> Result<(), XError> {
        let (w, h) = DRAG_SIZE;
        let mut px = vec![0x00F4_F4F0u32; usize::from(w) * usize::from(h)];
        for y in 0..24usize {
            px[y * usize::from(w)..(y + 1) * usize::from(w)].fill(0x0040_5070);
        }
        // A small photo-like panel inside the window.
        let panel = photo(200, 150, 7);
        for y in 0..150usize {
            let dst = (40 + y) * usize::from(w) + 380;
            px[dst..dst + 200].copy_from_slice(&panel[y * 200..(y + 1) * 200]);
        }
        self.put_pixels(pix, 0, 0, w, h, &to_zpixmap(&px))?;
        for line in 0..26 {
            let text = text_line(&mut self.rng, 58);
            self.conn
                .image_text8(pix, self.text_gc, 8, 44 + line * CELL.1, text.as_bytes())
                .map_err(xerr)?;
        }
        Ok(())
    }

    fn fill_terminal(&mut self) -> Result<(), XError> {
        let rows = (self.term_size.1 as i16 - 8) / CELL.1;
        let cols = (self.term_size.0 as usize - 8) / CELL.0 as usize;
        if matches!(self.workload, Workload::Typing | Workload::Transfer) {
            return Ok(());
        }
        for r in 0..rows {
            let text = text_line(&mut self.rng, cols);
            self.conn
                .image_text8(
                    self.term,
                    self.text_gc,
                    4,
                    4 + (r + 1) * CELL.1 - 3,
                    text.as_bytes(),
                )
                .map_err(xerr)?;
        }
        Ok(())
    }

    /// Runs the script for `duration`, logging probe flips into `flips`.
    pub fn run(mut self, duration: Duration, flips: Arc<Mutex<Vec<Flip>>>) -> Result<(), XError> {
        let start = Instant::now();
        let end = start + duration;
        let step = match self.workload {
            Workload::Typing
            | Workload::Transfer
            | Workload::Scrolling
            | Workload::WindowDrag
            | Workload::Video => Some(Duration::from_micros(33_333)),
            Workload::Photos => Some(Duration::from_millis(250)),
            Workload::Probe | Workload::Idle => None,
        };
        let mut next_probe = start + PROBE_PERIOD;
        let mut next_step = start + step.unwrap_or(Duration::ZERO);
        let mut probe_state = 0usize;
        let mut n = 0u32;
        let cols = (self.term_size.0 as usize - 8) / CELL.0 as usize;
        let rows = (self.term_size.1 as i16 - 8) / CELL.1;
        let (mut cx, mut cy) = (0usize, 0i16);
        let mut line = text_line(&mut self.rng, cols);
        let (mut dx, mut dy, mut wx, mut wy) = (9i32, 5i32, i32::from(self.width / 2), 60i32);
        loop {
            let probe_due = self.workload.has_probe().then_some(next_probe);
            let step_due = step.map(|_| next_step);
            let due = match (probe_due, step_due) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(end),
            };
            if due >= end {
                std::thread::sleep(end.saturating_duration_since(Instant::now()));
                break;
            }
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if probe_due == Some(due) {
                probe_state = (probe_state + 1) % PROBE_COLOURS.len();
                let colour = PROBE_COLOURS[probe_state];
                self.conn
                    .change_gc(
                        self.probe_gc,
                        &x11rb::protocol::xproto::ChangeGCAux::new().foreground(colour),
                    )
                    .map_err(xerr)?;
                let at = Instant::now();
                self.conn
                    .poly_fill_rectangle(
                        self.probe,
                        self.probe_gc,
                        &[rect(0, 0, PROBE_SIZE, PROBE_SIZE)],
                    )
                    .map_err(xerr)?;
                self.conn.flush().map_err(xerr)?;
                flips
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Flip { at, colour });
                next_probe += PROBE_PERIOD;
                continue;
            }
            next_step += step.unwrap_or(Duration::from_secs(1));
            n += 1;
            match self.workload {
                Workload::Typing | Workload::Transfer => {
                    if cx >= line.len() || cx >= cols {
                        cx = 0;
                        cy += 1;
                        line = text_line(&mut self.rng, cols);
                        if cy >= rows {
                            cy = 0;
                            self.conn
                                .clear_area(false, self.term, 0, 0, 0, 0)
                                .map_err(xerr)?;
                        }
                    }
                    let ch = &line.as_bytes()[cx..cx + 1];
                    self.conn
                        .image_text8(
                            self.term,
                            self.text_gc,
                            4 + (cx as i16) * CELL.0,
                            4 + (cy + 1) * CELL.1 - 3,
                            ch,
                        )
                        .map_err(xerr)?;
                    cx += 1;
                }
                Workload::Scrolling => {
                    let (w, h) = self.term_size;
                    let lh = CELL.1 as u16;
                    let bottom = 4 + (rows - 1) * CELL.1;
                    self.conn
                        .copy_area(
                            self.term,
                            self.term,
                            self.gc,
                            0,
                            4 + CELL.1,
                            0,
                            4,
                            w,
                            h - 8 - lh,
                        )
                        .map_err(xerr)?;
                    self.conn
                        .clear_area(false, self.term, 0, bottom, w, lh)
                        .map_err(xerr)?;
                    let text = text_line(&mut self.rng, cols);
                    self.conn
                        .image_text8(
                            self.term,
                            self.text_gc,
                            4,
                            bottom + CELL.1 - 3,
                            text.as_bytes(),
                        )
                        .map_err(xerr)?;
                }
                Workload::WindowDrag => {
                    let maxx = i32::from(self.width) - i32::from(DRAG_SIZE.0);
                    let maxy = i32::from(self.height) - i32::from(DRAG_SIZE.1) - 100;
                    if wx + dx < 0 || wx + dx > maxx {
                        dx = -dx;
                    }
                    if wy + dy < 0 || wy + dy > maxy {
                        dy = -dy;
                    }
                    wx += dx;
                    wy += dy;
                    self.conn
                        .configure_window(self.drag, &ConfigureWindowAux::new().x(wx).y(wy))
                        .map_err(xerr)?;
                }
                Workload::Photos => {
                    let i = n as usize % self.photos.len();
                    let data = std::mem::take(&mut self.photos[i]);
                    self.put_pixels(self.root, 0, 0, self.width, self.height, &data)?;
                    self.photos[i] = data;
                }
                Workload::Video => {
                    let i = n as usize % self.video.len();
                    let data = std::mem::take(&mut self.video[i]);
                    let (x, y) = Self::video_origin(self.width);
                    self.put_pixels(self.root, x, y, VIDEO_SIZE.0, VIDEO_SIZE.1, &data)?;
                    self.video[i] = data;
                }
                Workload::Probe | Workload::Idle => {}
            }
            self.conn.flush().map_err(xerr)?;
        }
        self.sync()
    }
}

fn rect(x: i16, y: i16, width: u16, height: u16) -> Rectangle {
    Rectangle {
        x,
        y,
        width,
        height,
    }
}

/// The whole screen of `display` as native pixels (GetImage on the root).
pub fn grab_screen(display: &str) -> Result<(u16, u16, Vec<u32>), XError> {
    let (conn, screen_num) = x11rb::connect(Some(display)).map_err(xerr)?;
    let screen = &conn.setup().roots[screen_num];
    let (root, w, h) = (screen.root, screen.width_in_pixels, screen.height_in_pixels);
    let img = conn
        .get_image(ImageFormat::Z_PIXMAP, root, 0, 0, w, h, !0)
        .map_err(xerr)?
        .reply()
        .map_err(xerr)?;
    if img.data.len() != usize::from(w) * usize::from(h) * 4 {
        return Err(XError(format!(
            "GetImage returned {} bytes for {w}x{h}",
            img.data.len()
        )));
    }
    let px = img
        .data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], 0]))
        .collect();
    Ok((w, h, px))
}
