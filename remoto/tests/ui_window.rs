//! The real windows under Xvfb: runs `examples/ui_demo`, checks that the
//! picker window shows exactly what the renderer draws, double-clicks a row
//! with xdotool, and walks through panel and receipt, taking screenshots to
//! `<target>/test-artifacts/ui/{picker,panel,receipt}.png`.
//!
//! Needs `Xvfb`, `xdotool` and ImageMagick's `import`; the example must be
//! built (`cargo test -p remoto` builds examples; otherwise run
//! `cargo build -p remoto --example ui_demo` first).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use remoto::ui::render::{Renderer, find_target, render_to_vec};
use remoto::ui::{
    ButtonId, EndReason, Key, Language, PickerData, SessionUpdate, Target, UiInput, UiModel,
};

/// Kills and reaps the child on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    exe.ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

fn example_path() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    // <target>/<profile>/deps/ui_window-… → <target>/<profile>/examples/ui_demo
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    profile_dir.join("examples").join("ui_demo")
}

fn tools_present() -> bool {
    ["Xvfb", "xdotool", "import"].iter().all(|t| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn start_xvfb() -> (Guard, String) {
    for n in 140..240 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let child = Command::new("Xvfb")
            .arg(format!(":{n}"))
            .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn Xvfb");
        let mut guard = Guard(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (guard, format!(":{n}"));
            }
            if let Ok(Some(_)) = guard.0.try_wait() {
                break; // lost a race for this display number
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("could not start Xvfb");
}

struct Env {
    display: String,
    xdg: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.xdg);
    }
}

impl Env {
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.display)
            .env("XDG_RUNTIME_DIR", &self.xdg);
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .cmd(program)
            .args(args)
            .stderr(Stdio::piped())
            .output()
            .expect("run tool");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits for a window whose name matches `name`. xdotool matches the
    /// legacy `WM_NAME`, where winit stores the UTF-8 title as Latin-1 (the
    /// "—" of our titles is mangled there), so tests search the ASCII part.
    fn find_window(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = self.run("xdotool", &["search", "--name", name]);
            if let Some(id) = out.lines().next() {
                // Let the first frame be presented.
                std::thread::sleep(Duration::from_millis(500));
                return id.trim().to_string();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no window named {name:?}");
    }

    fn screenshot(&self, id: &str, path: &Path) {
        let status = self
            .cmd("import")
            .args(["-window", id])
            .arg(path)
            .status()
            .expect("import");
        assert!(status.success(), "import {path:?}");
    }

    /// The window's pixels as 0x00RRGGBB.
    fn grab(&self, id: &str) -> (Vec<u32>, u32, u32) {
        let geo = self.run("xdotool", &["getwindowgeometry", id]);
        let size = geo
            .lines()
            .find_map(|l| l.trim().strip_prefix("Geometry: "))
            .expect("geometry")
            .to_string();
        let (w, h) = size.split_once('x').expect("WxH");
        let (w, h): (u32, u32) = (w.parse().expect("w"), h.parse().expect("h"));
        let out = self
            .cmd("import")
            .args(["-window", id, "-depth", "8", "rgb:-"])
            .output()
            .expect("import rgb");
        let px = out
            .stdout
            .chunks_exact(3)
            .map(|c| (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]))
            .collect();
        (px, w, h)
    }

    fn click(&self, id: &str, (x, y): (i32, i32), repeat: u32) {
        let (xs, ys, rs) = (x.to_string(), y.to_string(), repeat.to_string());
        let status = self
            .cmd("xdotool")
            .args(["mousemove", "--window", id, &xs, &ys, "sleep", "0.2"])
            .args(["click", "--repeat", &rs, "--delay", "90", "1"])
            .status()
            .expect("xdotool");
        assert!(status.success());
    }
}

fn expect_line(rx: &mpsc::Receiver<String>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l == want => return,
            Ok(l) => seen.push(l),
            Err(_) => break,
        }
    }
    panic!("expected {want:?} on stdout, saw {seen:?}");
}

#[test]
fn picker_panel_and_receipt_in_real_windows() {
    if !tools_present() {
        panic!("Xvfb, xdotool and ImageMagick import are required");
    }
    let demo = example_path();
    assert!(
        demo.exists(),
        "{} is missing: run `cargo build -p remoto --example ui_demo` (plain `cargo test` builds it)",
        demo.display()
    );
    let art = target_dir().join("test-artifacts").join("ui");
    std::fs::create_dir_all(&art).expect("artifacts");
    let xdg = art.join(format!("xdg-{}", std::process::id()));
    std::fs::create_dir_all(&xdg).expect("xdg dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700));
    }

    // A known, empty home: where the log chooser starts.
    let home = art.join(format!("home-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("home dir");

    let (_xvfb, display) = start_xvfb();
    let env = Env { display, xdg };

    let mut child = env
        .cmd(demo.to_str().expect("path"))
        .env("HOME", &home)
        .args(["--lang", "it"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ui_demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let mut demo_guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // The same models the demo shows, to know where things are drawn.
    let mut renderer = Renderer::new().expect("fonts");
    let mut model = UiModel::new(PickerData::sample(Language::It));
    let (expected, ew, eh, hits) = render_to_vec(&mut renderer, &model, 1.0);

    // Picker: the window shows exactly our buffer.
    let picker = env.find_window("Assistenza remota");
    env.screenshot(&picker, &art.join("picker.png"));
    let (got, w, h) = env.grab(&picker);
    assert_eq!((w, h), (ew, eh), "window size");
    let differing = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert!(
        got.len() == expected.len() && differing == 0,
        "{differing} pixels differ from the renderer"
    );

    // Keyboard: Down, Up, then double-click the first row.
    // (no window manager: keyboard focus follows the pointer)
    env.run(
        "xdotool",
        &[
            "mousemove",
            "--window",
            &picker,
            "5",
            "5",
            "key",
            "Down",
            "Up",
        ],
    );
    let row0 = find_target(&hits, Target::Row(0)).expect("row 0");
    env.click(&picker, row0.center(), 2);
    expect_line(
        &rx,
        "action: Connect { technician_index: 0, session_code: None }",
    );

    // Panel.
    model.handle(UiInput::Key(Key::Enter));
    model.update(
        SessionUpdate::Connected {
            technician: "Verde".into(),
            sas: Some("123456".into()),
            encrypted: true,
            control: false,
        },
        0,
    );
    let (_, _, _, panel_hits) = render_to_vec(&mut renderer, &model, 1.0);
    let panel = env.find_window("Tecnico Verde");
    std::thread::sleep(Duration::from_millis(1200)); // let the clock tick once
    env.screenshot(&panel, &art.join("panel.png"));
    let toggle = find_target(&panel_hits, Target::Button(ButtonId::ToggleControl)).expect("t");
    env.click(&panel, toggle.center(), 1);
    expect_line(&rx, "action: AllowControl(true)");
    std::thread::sleep(Duration::from_millis(300));
    env.screenshot(&panel, &art.join("panel-control.png"));
    let close = find_target(&panel_hits, Target::Button(ButtonId::Close)).expect("close");
    env.click(&panel, close.center(), 1);
    expect_line(&rx, "action: Close");

    // Receipt, then Exit ends the program cleanly.
    let receipt = env.find_window("Sessione terminata");
    env.screenshot(&receipt, &art.join("receipt.png"));
    model.handle(UiInput::CloseRequested);
    model.update(
        SessionUpdate::Ended {
            reason: EndReason::CustomerClosed,
        },
        2_000,
    );
    let (_, _, _, receipt_hits) = render_to_vec(&mut renderer, &model, 1.0);
    let save = find_target(&receipt_hits, Target::Button(ButtonId::SaveLog)).expect("save");
    env.click(&receipt, save.center(), 1);
    // Save log opens the folder chooser in the same window, at home.
    model.handle(UiInput::Press {
        target: Some(Target::Button(ButtonId::SaveLog)),
        time_ms: 0,
    });
    let dir = model.take_listing_request().expect("listing");
    model.set_listing(dir, remoto::ui::Listing::Dir(Vec::new()));
    let (_, cw, ch, chooser_hits) = render_to_vec(&mut renderer, &model, 1.0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.grab(&receipt).1 != cw || env.grab(&receipt).2 != ch {
        assert!(Instant::now() < deadline, "the chooser did not open");
        std::thread::sleep(Duration::from_millis(200));
    }
    env.screenshot(&receipt, &art.join("receipt-chooser.png"));
    let choose =
        find_target(&chooser_hits, Target::Button(ButtonId::ChooserChoose)).expect("choose");
    env.click(&receipt, choose.center(), 1);
    expect_line(&rx, &format!("action: SaveLog({home:?})"));
    model.handle(UiInput::Press {
        target: Some(Target::Button(ButtonId::ChooserChoose)),
        time_ms: 0,
    });
    model.update(
        SessionUpdate::LogSaved {
            path: "(demo: nothing written)".into(),
        },
        3_000,
    );
    let (expected, ew, eh, receipt_hits) = render_to_vec(&mut renderer, &model, 1.0);
    // Generous: on a loaded CI machine the redraw can take seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let (got, w, h) = env.grab(&receipt);
        if (w, h) == (ew, eh) && got == expected {
            break;
        }
        if Instant::now() >= deadline {
            env.screenshot(&receipt, &art.join("receipt-saved-got.png"));
            let differing = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
            let first = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .map(|i| (i as u32 % ew.max(1), i as u32 / ew.max(1)));
            panic!(
                "receipt after save: window {w}x{h}, expected {ew}x{eh}; \
                 {differing} differing pixels, first at {first:?} (see receipt-saved-got.png)"
            );
        }
    }
    env.screenshot(&receipt, &art.join("receipt-saved.png"));
    let exit = find_target(&receipt_hits, Target::Button(ButtonId::Exit)).expect("exit");
    env.click(&receipt, exit.center(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = demo_guard.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "ui_demo did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    assert!(status.success(), "ui_demo failed: {status:?}\n{err}");
}
