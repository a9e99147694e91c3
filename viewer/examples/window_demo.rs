//! Shows a generated test picture in a session window and prints every
//! [`WindowInput`] as one line on stdout (`<id> <input>`), for the Xvfb test.
//!
//! ```text
//! cargo run -p viewer --example window_demo -- [--size WxH] [--expect FILE.png] [--fit] [--control]
//! ```
//!
//! `--expect` writes the picture as PNG (what a 1:1 screenshot must show).

use std::io::Write;
use std::sync::{Arc, Mutex, mpsc};

use rfb::Framebuffer;
use viewer::window::{self, ScaleMode, SessionStatus, WindowHandle, WindowInput, WindowManager};

/// Colour bars, a gradient and a checkerboard: every scaling or offset error shows.
fn test_picture(w: u16, h: u16) -> Result<Framebuffer, rfb::framebuffer::SizeError> {
    let bars = [
        0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000,
    ];
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h));
    for y in 0..u32::from(h) {
        for x in 0..u32::from(w) {
            let third = u32::from(h) / 3;
            let p = if y < third {
                bars[(x * 8 / u32::from(w).max(1)) as usize % 8]
            } else if y < 2 * third {
                let v = x * 255 / u32::from(w).max(1);
                (v << 16) | ((255 - v) << 8) | (y & 0xff)
            } else if ((x / 8) + (y / 8)) % 2 == 0 {
                0x202020
            } else {
                0xe0e0e0
            };
            px.push(p);
        }
    }
    Framebuffer::from_pixels(w, h, px)
}

fn write_png(fb: &Framebuffer, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, u32::from(fb.width()), u32::from(fb.height()));
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header()?;
    let data: Vec<u8> = fb
        .pixels()
        .iter()
        .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
        .collect();
    w.write_image_data(&data)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut size = (320u16, 240u16);
    let mut expect = None;
    let mut fit = false;
    let mut control = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--size" => {
                let v = args.next().ok_or("--size needs WxH")?;
                let (w, h) = v.split_once('x').ok_or("--size needs WxH")?;
                size = (w.parse()?, h.parse()?);
            }
            "--expect" => expect = Some(args.next().ok_or("--expect needs a file")?),
            "--fit" => fit = true,
            "--control" => control = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let fb = test_picture(size.0, size.1)?;
    if let Some(path) = &expect {
        write_png(&fb, path)?;
    }
    let event_loop = window::event_loop()?;
    let handle = WindowHandle::new(&event_loop);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stdout = std::io::stdout();
        for input in rx {
            let input: window::SessionInput = input;
            let mut out = stdout.lock();
            let _ = writeln!(out, "{} {}", input.id, input.input);
            let _ = out.flush();
            if input.input == WindowInput::Closed {
                break;
            }
        }
    });
    let shared = Arc::new(Mutex::new(fb));
    handle.open_session(
        1,
        window::session_title("Demo", "test picture", Some("123 456")),
        shared,
    )?;
    handle.session_state(
        1,
        SessionStatus {
            control,
            bytes_in_per_sec: 123_400,
            bytes_out_per_sec: 560,
            message: None,
            label: None,
        },
    )?;
    let mut manager = WindowManager::with_sender(tx).exit_when_last_closed(true);
    if fit {
        manager = manager.initial_scale(ScaleMode::Fit);
    }
    window::run(event_loop, &mut manager)?;
    Ok(())
}
