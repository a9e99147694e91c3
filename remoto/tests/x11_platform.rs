//! The X11 platform layer against a real Xvfb: capture (SHM and plain),
//! damage, cursor, RANDR resize, XTEST pointer and keys, clipboard.
//!
//! Each test starts its own `Xvfb -displayfd` (a free display chosen by the
//! server itself), killed and reaped when the test ends. Tests are skipped
//! (with a message) when Xvfb is not installed.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use remoto::platform::x11::{CaptureOptions, X11Clipboard, X11Input, X11Screen};
use remoto::platform::{InputSink, ScreenSource};
use rfb::framebuffer::{Framebuffer, Rect};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, InputFocus, KeyButMask, Rectangle,
    WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// An Xvfb of our own; killed and reaped on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start(width: u16, height: u16) -> Option<Self> {
        if !std::path::Path::new("/usr/bin/Xvfb").exists() {
            eprintln!("Xvfb not installed: test skipped");
            return None;
        }
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-noreset",
                "-screen",
                "0",
            ])
            .arg(format!("{width}x{height}x24"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn Xvfb");
        let stdout = child.stdout.take().expect("Xvfb stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("Xvfb display number");
        let n: u32 = match line.trim().parse() {
            Ok(n) => n,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("Xvfb did not report a display: {line:?}");
            }
        };
        let xvfb = Self {
            child,
            display: format!(":{n}"),
        };
        // -displayfd is written once the server accepts connections.
        Some(xvfb)
    }

    fn connect(&self) -> RustConnection {
        x11rb::connect(Some(&self.display)).expect("connect").0
    }

    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let out = Command::new(program)
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fills `r` of the root window with `colour` (0xRRGGBB on a 24-bit visual).
fn fill_root(conn: &RustConnection, r: Rect, colour: u32) {
    let root = conn.setup().roots[0].root;
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new().foreground(colour))
        .unwrap();
    conn.poly_fill_rectangle(
        root,
        gc,
        &[Rectangle {
            x: r.x as i16,
            y: r.y as i16,
            width: r.w,
            height: r.h,
        }],
    )
    .unwrap();
    conn.free_gc(gc).unwrap();
    conn.sync().unwrap();
}

fn full(screen: &X11Screen) -> Rect {
    let (w, h) = screen.size();
    Rect::new(0, 0, w, h)
}

#[test]
fn solid_root_captures_as_that_colour_with_and_without_shm() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    x.run("xsetroot", &["-solid", "#336699"]);
    for use_shm in [true, false] {
        let mut screen =
            X11Screen::open_with(Some(&x.display), CaptureOptions { use_shm }).unwrap();
        assert_eq!(screen.uses_shm(), use_shm);
        assert_eq!(screen.size(), (640, 480));
        let mut fb = Framebuffer::new(1, 1).unwrap();
        screen.capture(&mut fb, full(&screen)).unwrap();
        assert_eq!((fb.width(), fb.height()), (640, 480));
        assert!(fb.pixels().iter().all(|&p| p == 0x336699), "shm={use_shm}");
    }
}

#[test]
fn pattern_matches_imagemagick_import() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    if !std::path::Path::new("/usr/bin/import").exists() {
        eprintln!("ImageMagick import not installed: test skipped");
        return;
    }
    x.run("xsetroot", &["-solid", "#102030"]);
    let conn = x.connect();
    // A pattern of coloured bars and a gradient of small squares.
    let colours = [
        0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x000000, 0x123456, 0xfedcba, 0x808080,
    ];
    for (i, &c) in colours.iter().enumerate() {
        fill_root(&conn, Rect::new(10 + 70 * i as u16, 20, 60, 200), c);
    }
    for i in 0..64u16 {
        let c = u32::from(i) * 0x040302;
        fill_root(
            &conn,
            Rect::new(10 + (i % 16) * 38, 250 + (i / 16) * 50, 30, 40),
            c,
        );
    }
    let out = x.run(
        "/usr/bin/import",
        &["-window", "root", "-depth", "8", "rgb:-"],
    );
    assert_eq!(out.stdout.len(), 640 * 480 * 3);
    let expected: Vec<u32> = out
        .stdout
        .chunks_exact(3)
        .map(|c| (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]))
        .collect();
    for use_shm in [true, false] {
        let mut screen =
            X11Screen::open_with(Some(&x.display), CaptureOptions { use_shm }).unwrap();
        let mut fb = Framebuffer::new(640, 480).unwrap();
        screen.capture(&mut fb, full(&screen)).unwrap();
        let differing = fb
            .pixels()
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 0, "shm={use_shm}");
        // A sub-rectangle lands in the same place.
        let mut part = Framebuffer::new(640, 480).unwrap();
        let r = Rect::new(37, 211, 123, 77);
        screen.capture(&mut part, r).unwrap();
        assert_eq!(part.read(r), fb.read(r));
        assert_eq!(part.get(0, 0), Some(0));
    }
}

#[test]
fn damage_reports_changes_and_nothing_when_idle() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    let conn = x.connect();
    let mut screen = X11Screen::open(Some(&x.display)).unwrap();
    // The first cursor() gives the current shape; then nothing is pending.
    assert!(screen.wait(Some(Duration::from_millis(100))).unwrap());
    assert!(screen.cursor().unwrap().is_some());
    let _ = screen.damage().unwrap();
    let t = Instant::now();
    assert!(
        !screen.wait(Some(Duration::from_millis(300))).unwrap(),
        "idle screen must not wake"
    );
    assert!(t.elapsed() >= Duration::from_millis(290));
    assert!(screen.damage().unwrap().is_empty());
    assert!(screen.cursor().unwrap().is_none());

    let changed = Rect::new(100, 120, 50, 30);
    fill_root(&conn, changed, 0xabcdef);
    assert!(screen.wait(Some(Duration::from_secs(5))).unwrap());
    let rects = screen.damage().unwrap();
    assert!(!rects.is_empty());
    let cover = rects.iter().fold(Rect::default(), |a, r| a.union(r));
    assert_eq!(cover.intersect(&changed), Some(changed), "{rects:?}");
    assert!(rects.iter().all(|r| r.fits_in(640, 480)));
    // Capturing the damage gives the new pixels.
    let mut fb = Framebuffer::new(640, 480).unwrap();
    for r in &rects {
        screen.capture(&mut fb, *r).unwrap();
    }
    assert_eq!(fb.get(120, 130), Some(0xabcdef));
    assert!(screen.damage().unwrap().is_empty());
    assert!(!screen.wait(Some(Duration::from_millis(200))).unwrap());

    // Two separate changes give separate rectangles covering both.
    fill_root(&conn, Rect::new(0, 0, 10, 10), 0x111111);
    fill_root(&conn, Rect::new(600, 400, 20, 20), 0x222222);
    assert!(screen.wait(Some(Duration::from_secs(5))).unwrap());
    std::thread::sleep(Duration::from_millis(50));
    let rects = screen.damage().unwrap();
    let covered = |px: u16, py: u16| {
        rects
            .iter()
            .any(|r| r.intersect(&Rect::new(px, py, 1, 1)).is_some())
    };
    assert!(covered(5, 5) && covered(610, 410), "{rects:?}");
    assert!(!covered(300, 200), "{rects:?}");
}

#[test]
fn damage_from_a_child_window_is_seen() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    let conn = x.connect();
    let mut screen = X11Screen::open(Some(&x.display)).unwrap();
    let _ = screen.cursor().unwrap();
    let _ = screen.damage().unwrap();
    let root = conn.setup().roots[0].root;
    let win = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        win,
        root,
        200,
        150,
        100,
        80,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new()
            .background_pixel(0x00ff00)
            .override_redirect(1),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.sync().unwrap();
    assert!(screen.wait(Some(Duration::from_secs(5))).unwrap());
    let rects = screen.damage().unwrap();
    let cover = rects.iter().fold(Rect::default(), |a, r| a.union(r));
    let win_rect = Rect::new(200, 150, 100, 80);
    assert_eq!(cover.intersect(&win_rect), Some(win_rect), "{rects:?}");
    let mut fb = Framebuffer::new(640, 480).unwrap();
    screen.capture(&mut fb, win_rect).unwrap();
    assert!(fb.read(win_rect).unwrap().iter().all(|&p| p == 0x00ff00));
}

#[test]
fn randr_resize_is_noticed_and_resizes_the_framebuffer() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    let mut screen = X11Screen::open(Some(&x.display)).unwrap();
    let _ = screen.cursor().unwrap();
    assert_eq!(screen.resized().unwrap(), None);
    // Xvfb's one output knows only its start mode: add a smaller one.
    x.run(
        "xrandr",
        &[
            "--newmode",
            "320x240",
            "6.00",
            "320",
            "336",
            "360",
            "400",
            "240",
            "243",
            "247",
            "250",
        ],
    );
    x.run("xrandr", &["--addmode", "screen", "320x240"]);
    x.run(
        "xrandr",
        &["--output", "screen", "--mode", "320x240", "--fb", "320x240"],
    );
    assert!(screen.wait(Some(Duration::from_secs(5))).unwrap());
    assert_eq!(screen.resized().unwrap(), Some((320, 240)));
    assert_eq!(screen.resized().unwrap(), None);
    assert_eq!(screen.size(), (320, 240));
    assert_eq!(screen.damage().unwrap(), vec![Rect::new(0, 0, 320, 240)]);
    let mut fb = Framebuffer::new(640, 480).unwrap();
    screen.capture(&mut fb, Rect::new(0, 0, 640, 480)).unwrap();
    assert_eq!((fb.width(), fb.height()), (320, 240));

    x.run(
        "xrandr",
        &["--output", "screen", "--mode", "640x480", "--fb", "640x480"],
    );
    x.run("xsetroot", &["-solid", "#445566"]);
    assert!(screen.wait(Some(Duration::from_secs(5))).unwrap());
    // Capturing without looking at resized() first still adapts.
    screen.capture(&mut fb, Rect::new(0, 0, 640, 480)).unwrap();
    assert_eq!((fb.width(), fb.height()), (640, 480));
    assert_eq!(fb.get(639, 479), Some(0x445566));
    assert_eq!(screen.resized().unwrap(), Some((640, 480)));
}

#[test]
fn cursor_shape_change_is_reported() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    let conn = x.connect();
    let mut screen = X11Screen::open(Some(&x.display)).unwrap();
    let mut input = X11Input::open(Some(&x.display)).unwrap();
    let first = screen.cursor().unwrap().expect("initial cursor");
    assert_eq!(
        first.pixels.len(),
        usize::from(first.width) * usize::from(first.height)
    );
    first.to_shape().unwrap();
    assert!(screen.cursor().unwrap().is_none());

    // A window with the "cursor" font's crosshair (glyph 34).
    let root = conn.setup().roots[0].root;
    let font = conn.generate_id().unwrap();
    conn.open_font(font, b"cursor").unwrap();
    let cursor = conn.generate_id().unwrap();
    conn.create_glyph_cursor(cursor, font, font, 34, 35, 0, 0, 0, 0xffff, 0xffff, 0xffff)
        .unwrap();
    let win = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        win,
        root,
        0,
        0,
        200,
        200,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new().override_redirect(1).cursor(cursor),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.sync().unwrap();
    input.pointer(0, 300, 300).unwrap();
    input.pointer(0, 100, 100).unwrap();
    assert!(screen.wait(Some(Duration::from_secs(5))).unwrap());
    let mut next = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while next.is_none() && Instant::now() < deadline {
        next = screen.cursor().unwrap();
        let _ = screen.damage().unwrap();
        if next.is_none() {
            screen.wait(Some(Duration::from_millis(200))).unwrap();
        }
    }
    let next = next.expect("cursor change");
    assert_ne!(next.pixels, first.pixels);
    assert_eq!((next.x, next.y), (100, 100));
}

#[test]
fn pointer_moves_and_buttons() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    let conn = x.connect();
    let root = conn.setup().roots[0].root;
    let mut input = X11Input::open(Some(&x.display)).unwrap();
    input.pointer(0, 123, 45).unwrap();
    input.sync().unwrap();
    if std::path::Path::new("/usr/bin/xdotool").exists() {
        let out = x.run("xdotool", &["getmouselocation"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("x:123 y:45 "), "{text}");
    }
    input.pointer(0b101, 200, 100).unwrap();
    input.sync().unwrap();
    let q = conn.query_pointer(root).unwrap().reply().unwrap();
    assert_eq!((q.root_x, q.root_y), (200, 100));
    assert!(q.mask.contains(KeyButMask::BUTTON1) && q.mask.contains(KeyButMask::BUTTON3));
    assert!(!q.mask.contains(KeyButMask::BUTTON2));
    input.pointer(0, 200, 100).unwrap();
    input.sync().unwrap();
    let q = conn.query_pointer(root).unwrap().reply().unwrap();
    assert!(!q.mask.contains(KeyButMask::BUTTON1) && !q.mask.contains(KeyButMask::BUTTON3));
    // Coordinates beyond the screen are clamped by the server, not an error.
    input.pointer(0, 65535, 65535).unwrap();
    input.sync().unwrap();
    let q = conn.query_pointer(root).unwrap().reply().unwrap();
    assert_eq!((q.root_x, q.root_y), (639, 479));
    // Wheel: press and release of button 4 (bit 3).
    input.pointer(8, 10, 10).unwrap();
    input.pointer(0, 10, 10).unwrap();
}

/// Keysym of (keycode, shift) according to the server's mapping now.
fn keysym_of(conn: &RustConnection, keycode: u8, shift: bool) -> u32 {
    let r = conn
        .get_keyboard_mapping(keycode, 1)
        .unwrap()
        .reply()
        .unwrap();
    let level = usize::from(shift);
    match r.keysyms.get(level).copied() {
        Some(0) | None => r.keysyms.first().copied().unwrap_or(0),
        Some(s) => s,
    }
}

/// Next KeyPress of a non-modifier key on `conn`: (keycode, shift held).
fn next_key_press(conn: &RustConnection) -> (u8, bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match conn.poll_for_event().unwrap() {
            Some(Event::KeyPress(e))
                if (0xffe1..=0xffee).contains(&keysym_of(conn, e.detail, false)) => {}
            Some(Event::KeyPress(e)) => return (e.detail, e.state.contains(KeyButMask::SHIFT)),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    panic!("no KeyPress");
}

#[test]
fn keys_by_keysym_with_shift_and_spare_keycode() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    let conn = x.connect();
    let root = conn.setup().roots[0].root;
    let win = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        win,
        root,
        0,
        0,
        640,
        480,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new()
            .override_redirect(1)
            .event_mask(EventMask::KEY_PRESS),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.sync().unwrap();
    conn.set_input_focus(InputFocus::POINTER_ROOT, win, x11rb::CURRENT_TIME)
        .unwrap();
    conn.sync().unwrap();
    let mut input = X11Input::open(Some(&x.display)).unwrap();

    // Plain, Shift-level, and a Shift-level symbol with Shift already held.
    for (keysym, want_shift) in [
        (0x61u32, false),
        (0x41, true),
        (0x21, true),
        (0xff0d, false),
    ] {
        input.key(true, keysym).unwrap();
        input.key(false, keysym).unwrap();
        let (kc, shift) = next_key_press(&conn);
        assert_eq!(shift, want_shift, "keysym {keysym:#x}");
        assert_eq!(keysym_of(&conn, kc, shift), keysym);
    }
    input.key(true, 0xffe1).unwrap(); // Shift_L
    input.key(true, 0x41).unwrap();
    input.key(false, 0x41).unwrap();
    assert!(next_key_press(&conn).1);
    // A lower-case letter while the client holds Shift is typed without it.
    input.key(true, 0x62).unwrap();
    input.key(false, 0x62).unwrap();
    let (kc, shift) = next_key_press(&conn);
    assert!(!shift);
    assert_eq!(keysym_of(&conn, kc, false), 0x62);
    input.key(false, 0xffe1).unwrap();

    // The euro sign has no key in Xvfb's map: a spare keycode carries it
    // while pressed, and is restored after.
    assert!(input.keymap().lookup(0x20ac).is_none());
    input.key(true, 0x20ac).unwrap();
    let (kc, _) = next_key_press(&conn);
    assert_eq!(keysym_of(&conn, kc, false), 0x20ac);
    input.key(false, 0x20ac).unwrap();
    conn.sync().unwrap();
    assert_eq!(keysym_of(&conn, kc, false), 0);
}

#[test]
fn clipboard_both_ways() {
    let Some(x) = Xvfb::start(640, 480) else {
        return;
    };
    let mut ours = X11Input::open(Some(&x.display)).unwrap();
    let mut other = X11Clipboard::open(Some(&x.display)).unwrap();

    let wait_for = |f: &mut dyn FnMut() -> Option<String>| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(t) = f() {
                return Some(t);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    };

    ours.set_clipboard("héllo € world").unwrap();
    let got = wait_for(&mut || other.changes().unwrap());
    assert_eq!(got.as_deref(), Some("héllo € world"));
    // Our own set is not reported back as a change.
    assert_eq!(ours.clipboard_changes().unwrap(), None);

    other.set("from another program").unwrap();
    let got = wait_for(&mut || ours.clipboard_changes().unwrap());
    assert_eq!(got.as_deref(), Some("from another program"));

    // Large text (1 MiB) in one property.
    let big: String = "0123456789abcdef".repeat(65536);
    ours.set_clipboard(&big).unwrap();
    let got = wait_for(&mut || other.changes().unwrap());
    assert_eq!(got.map(|t| t.len()), Some(big.len()));
}

#[test]
fn capture_timing_shm_vs_getimage() {
    let Some(x) = Xvfb::start(1280, 800) else {
        return;
    };
    x.run("xsetroot", &["-solid", "#336699"]);
    let mut fb = Framebuffer::new(1280, 800).unwrap();
    for use_shm in [true, false] {
        let mut screen =
            X11Screen::open_with(Some(&x.display), CaptureOptions { use_shm }).unwrap();
        screen.capture(&mut fb, full(&screen)).unwrap();
        let n = 30;
        let t = Instant::now();
        for _ in 0..n {
            screen.capture(&mut fb, full(&screen)).unwrap();
        }
        let each = t.elapsed() / n;
        println!(
            "capture 1280x800 {}: {:.2} ms",
            if use_shm { "MIT-SHM " } else { "GetImage" },
            each.as_secs_f64() * 1e3
        );
        assert!(fb.pixels().iter().all(|&p| p == 0x336699));
        if use_shm {
            // The pixel conversion alone (what remains once the server has
            // written the shared memory).
            let layout = screen.layout();
            let raw = vec![0x5au8; layout.stride(1280) * 800];
            let t = Instant::now();
            for _ in 0..n {
                assert!(layout.convert(&raw, layout.stride(1280), &mut fb, full(&screen)));
            }
            let each = t.elapsed() / n;
            println!("convert 1280x800 only : {:.2} ms", each.as_secs_f64() * 1e3);
        }
    }
}
