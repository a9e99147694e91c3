//! Runs `examples/window_demo` on a private Xvfb: the 1:1 screenshot must
//! equal the test picture, and xdotool input must come out as the expected
//! `WindowInput` lines. Skipped (with a message) when Xvfb, xdotool or
//! ImageMagick's `import` is missing.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let demo = debug.join("examples").join("window_demo");
    // Always (re)build: `cargo test --test window_xvfb` does not build examples.
    {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "viewer", "--example", "window_demo"])
            .status()
            .expect("run cargo")
            .success();
        assert!(ok, "building window_demo failed");
    }
    demo
}

fn start_xvfb() -> (Killer, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Xvfb");
    let mut out = child.stdout.take().expect("Xvfb stdout");
    let mut num = String::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).map(|n| n == 1).unwrap_or(false) && byte[0] != b'\n' {
        num.push(byte[0] as char);
    }
    assert!(!num.is_empty(), "Xvfb gave no display number");
    (Killer(child), format!(":{}", num.trim()))
}

struct Demo {
    _child: Killer,
    lines: Arc<Mutex<Vec<String>>>,
    display: String,
    wid: String,
    pid: u32,
}

fn start_demo(display: &str, dir: &Path, args: &[&str]) -> Demo {
    let runtime = dir.join("xdg");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let mut cmd = Command::new(demo_binary());
    cmd.args(args)
        .env("DISPLAY", display)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("start window_demo");
    let pid = child.id();
    let stdout = child.stdout.take().expect("demo stdout");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().expect("lines").push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let wid = loop {
        let out = Command::new("xdotool")
            .args(["search", "--name", "test picture"])
            .env("DISPLAY", display)
            .output()
            .expect("xdotool");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(id) = text.lines().next() {
            break id.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "demo window never appeared");
        std::thread::sleep(Duration::from_millis(100));
    };
    Demo {
        _child: Killer(child),
        lines,
        display: display.to_owned(),
        wid,
        pid,
    }
}

impl Demo {
    fn xdotool(&self, args: &[&str]) {
        let ok = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .status()
            .expect("xdotool")
            .success();
        assert!(ok, "xdotool {args:?} failed");
    }

    fn wait_for(&self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.lines.lock().expect("lines").iter().any(|l| l == line) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no line {line:?}; got {:?}",
                self.lines.lock().expect("lines")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// RGB8 pixels of a PNG.
fn read_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let mut decoder =
        png::Decoder::new(BufReader::new(std::fs::File::open(path).expect("open png")));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let (w, h) = (info.width, info.height);
    let channels = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| match channels {
            1 | 2 => [c[0], c[0], c[0]],
            _ => [c[0], c[1], c[2]],
        })
        .collect();
    (w, h, px)
}

#[test]
fn window_shows_picture_at_one_to_one_and_reports_input() {
    if !(have("Xvfb") && have("xdotool") && have("import")) {
        eprintln!("skipped: Xvfb, xdotool or import missing");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let expect = dir.path().join("expect.png");
    let (_xvfb, display) = start_xvfb();
    let demo = start_demo(
        &display,
        dir.path(),
        &[
            "--size",
            "320x240",
            "--expect",
            expect.to_str().expect("utf8"),
        ],
    );
    let (ew, eh, expected) = read_png(&expect);
    assert_eq!((ew, eh), (320, 240));

    // Screenshot until the first frame is on screen; then 0 differing pixels.
    let shot = dir.path().join("shot.png");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut diff;
    loop {
        let ok = Command::new("import")
            .args(["-window", &demo.wid, &format!("PNG24:{}", shot.display())])
            .env("DISPLAY", &display)
            .status()
            .expect("import")
            .success();
        assert!(ok, "import failed");
        let (w, h, got) = read_png(&shot);
        assert_eq!((w, h), (320, 240 + 20), "window is picture + status bar");
        diff = 0usize;
        for y in 0..eh as usize {
            for x in 0..ew as usize {
                if got[y * w as usize + x] != expected[y * ew as usize + x] {
                    diff += 1;
                }
            }
        }
        if diff == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::copy(
        &shot,
        std::env::temp_dir().join("remoto_window_xvfb_shot.png"),
    );
    assert_eq!(diff, 0, "differing pixels in the content area");

    // Mouse: move, click, wheel.
    demo.xdotool(&["mousemove", "--window", &demo.wid, "10", "20"]);
    demo.wait_for("1 pointer 10 20 0");
    demo.xdotool(&["click", "1"]);
    demo.wait_for("1 pointer 10 20 1");
    demo.xdotool(&["click", "3"]);
    demo.wait_for("1 pointer 10 20 4");
    demo.xdotool(&["click", "4"]);
    demo.wait_for("1 pointer 10 20 8");
    demo.xdotool(&["click", "5"]);
    demo.wait_for("1 pointer 10 20 16");

    // Keyboard: letters, shift, named keys, a shortcut.
    demo.xdotool(&["windowfocus", "--sync", &demo.wid]);
    demo.xdotool(&["type", "aZ"]);
    demo.wait_for("1 key 0x61 down");
    demo.wait_for("1 key 0x61 up");
    demo.wait_for("1 key 0xffe1 down");
    demo.wait_for("1 key 0x5a down");
    demo.xdotool(&["key", "Return", "F5", "KP_7"]);
    demo.wait_for("1 key 0xff0d down");
    demo.wait_for("1 key 0xffc2 down");
    demo.xdotool(&["key", "ctrl+alt+shift+c"]);
    demo.wait_for("1 request-control");
    demo.xdotool(&["key", "ctrl+alt+shift+End"]);
    demo.wait_for("1 key 0xffff down");

    // Disconnect shortcut: closed, and the demo exits.
    demo.xdotool(&["key", "ctrl+alt+shift+q"]);
    demo.wait_for("1 closed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{}/status", demo.pid)).exists()
        && !std::fs::read_to_string(format!("/proc/{}/status", demo.pid))
            .unwrap_or_default()
            .contains("State:\tZ")
    {
        assert!(
            Instant::now() < deadline,
            "demo did not exit after disconnect"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn scaled_window_maps_pointer_back_to_the_framebuffer() {
    if !(have("Xvfb") && have("xdotool") && have("import")) {
        eprintln!("skipped: Xvfb, xdotool or import missing");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_xvfb, display) = start_xvfb();
    let demo = start_demo(
        &display,
        dir.path(),
        &["--size", "640x480", "--fit", "--control"],
    );
    // Half size: content 320x240 + status bar.
    demo.xdotool(&["windowsize", "--sync", &demo.wid, "320", "260"]);
    std::thread::sleep(Duration::from_millis(300));
    demo.xdotool(&["mousemove", "--window", &demo.wid, "160", "120"]);
    demo.wait_for("1 pointer 320 240 0");
    demo.xdotool(&["mousemove", "--window", &demo.wid, "319", "239"]);
    demo.wait_for("1 pointer 638 478 0");
    // Scaled picture: top-left bar is white, bottom-right is checkerboard.
    let shot = dir.path().join("scaled.png");
    std::thread::sleep(Duration::from_millis(300));
    let ok = Command::new("import")
        .args(["-window", &demo.wid, &format!("PNG24:{}", shot.display())])
        .env("DISPLAY", &display)
        .status()
        .expect("import")
        .success();
    assert!(ok);
    let (w, h, px) = read_png(&shot);
    assert_eq!((w, h), (320, 260));
    assert_eq!(px[5 * 320 + 5], [255, 255, 255]);
    assert_eq!(px[5 * 320 + 315], [0, 0, 0]);
    let _ = std::fs::copy(
        &shot,
        std::env::temp_dir().join("remoto_window_xvfb_scaled.png"),
    );
}
