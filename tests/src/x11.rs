//! X servers on free display numbers, X clients that draw known content,
//! and screenshots read back as [`Image`]s.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::artifacts::Artifacts;
use crate::image::{self, Image};
use crate::process::{ChildGuard, require_tool, run_ok, run_with_timeout};
use crate::wait::{self, TIMEOUT};

/// ImageMagick's `import` (a stand-in `convert` may come first in PATH, so
/// ImageMagick tools are always called by their full path).
pub const IMPORT: &str = "/usr/bin/import";
/// ImageMagick's `display`.
pub const DISPLAY_TOOL: &str = "/usr/bin/display";

/// A running X server (Xvfb, or Xtigervnc) on its own display number;
/// killed on drop.
#[derive(Debug)]
pub struct XServer {
    number: u32,
    width: u32,
    height: u32,
    guard: ChildGuard,
    _drain: Option<std::thread::JoinHandle<()>>,
}

impl XServer {
    /// Starts `Xvfb` with a `width`×`height`×24 screen on a free display
    /// (`-displayfd` lets the server pick and report it), `-noreset`, and
    /// waits until clients can connect.
    pub fn xvfb(artifacts: &Artifacts, width: u32, height: u32) -> XServer {
        let xvfb = require_tool("Xvfb", "xvfb");
        let geometry = format!("{width}x{height}x24");
        XServer::start(
            artifacts,
            "Xvfb",
            xvfb.as_os_str(),
            &["-screen", "0", &geometry, "-noreset", "-nolisten", "tcp"],
            width,
            height,
        )
    }

    /// Starts TigerVNC's X server `Xtigervnc` (a `width`×`height` depth 24
    /// screen) that does not listen for VNC clients (`-rfbport -1`) and asks
    /// for no authentication; reverse connections are made with
    /// [`XServer::vncconfig_connect`].
    pub fn xtigervnc(artifacts: &Artifacts, width: u32, height: u32) -> XServer {
        let xtigervnc = require_tool("Xtigervnc", "tigervnc-standalone-server");
        let geometry = format!("{width}x{height}");
        XServer::start(
            artifacts,
            "Xtigervnc",
            xtigervnc.as_os_str(),
            &[
                "-geometry",
                &geometry,
                "-depth",
                "24",
                "-rfbport",
                "-1",
                "-SecurityTypes",
                "None",
                "-noreset",
                "-nolisten",
                "tcp",
                "-AlwaysShared",
            ],
            width,
            height,
        )
    }

    fn start(
        artifacts: &Artifacts,
        name: &str,
        program: &std::ffi::OsStr,
        args: &[&str],
        width: u32,
        height: u32,
    ) -> XServer {
        require_tool("xdpyinfo", "x11-utils");
        let err = std::fs::File::create(artifacts.path(&format!("{name}.stderr.log")))
            .expect("X server log");
        let mut cmd = Command::new(program);
        cmd.arg("-displayfd")
            .arg("1")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut guard = ChildGuard::new(name, child);
        let stdout = guard.child_mut().stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Read the display number, then keep draining stdout so the server
        // never blocks on a full pipe.
        let drain = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
            panic!("{name} did not report its display number within {TIMEOUT:?}")
        });
        let number: u32 = line.trim().parse().unwrap_or_else(|_| {
            let log = std::fs::read_to_string(artifacts.path(&format!("{name}.stderr.log")))
                .unwrap_or_default();
            panic!("{name} did not start (display fd said {line:?}); stderr:\n{log}")
        });
        let server = XServer {
            number,
            width,
            height,
            guard,
            _drain: Some(drain),
        };
        let display = server.display();
        wait::wait_for(
            &format!("{name} on {display} to accept clients"),
            TIMEOUT,
            || {
                let mut cmd = Command::new("xdpyinfo");
                cmd.args(["-display", &display]);
                matches!(run_with_timeout(&mut cmd, Duration::from_secs(10)), Ok(o) if o.status.success())
                .then_some(())
            },
        );
        server
    }

    /// The display number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The `DISPLAY` value, `:N`.
    pub fn display(&self) -> String {
        format!(":{}", self.number)
    }

    /// Screen width.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Screen height.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The server's process guard.
    pub fn guard(&mut self) -> &mut ChildGuard {
        &mut self.guard
    }

    /// A `Command` with `DISPLAY` set to this server.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DISPLAY", self.display());
        cmd
    }

    /// Paints the root window with one colour (`xsetroot -solid #rrggbb`).
    pub fn set_root_colour(&self, colour: u32) {
        require_tool("xsetroot", "x11-xserver-utils");
        run_ok(
            self.command("xsetroot")
                .args(["-solid", &format!("#{:06x}", colour & 0xFF_FFFF)]),
            TIMEOUT,
        );
    }

    /// Makes the mouse pointer invisible: a blank root-window cursor
    /// (`xsetroot -cursor`) and the pointer moved to the bottom-right corner,
    /// over the root window. Servers that draw the pointer into the pictures
    /// they send (Xtigervnc without the Cursor pseudo-encoding) then send
    /// exactly what a screenshot shows.
    pub fn hide_pointer(&self, artifacts: &Artifacts) {
        require_tool("xsetroot", "x11-xserver-utils");
        require_tool("xdotool", "xdotool");
        let blank = artifacts.write(
            "blank-cursor.xbm",
            "#define blank_width 8\n#define blank_height 8\n#define blank_x_hot 0\n\
             #define blank_y_hot 0\nstatic unsigned char blank_bits[] = {\n\
             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };\n",
        );
        run_ok(
            self.command("xsetroot")
                .arg("-cursor")
                .arg(&blank)
                .arg(&blank),
            TIMEOUT,
        );
        run_ok(
            self.command("xdotool").args([
                "mousemove",
                &(self.width - 1).to_string(),
                &(self.height - 1).to_string(),
            ]),
            TIMEOUT,
        );
    }

    /// Sets a picture as the root window's background (`display -window
    /// root`), hides the pointer ([`XServer::hide_pointer`]), then waits
    /// until a root screenshot shows the picture exactly (at the top-left;
    /// it must be no larger than the screen).
    pub fn show_picture(&self, artifacts: &Artifacts, label: &str, picture: &Image) {
        require_tool(DISPLAY_TOOL, "imagemagick");
        self.hide_pointer(artifacts);
        let path = artifacts.path(&format!("{label}.png"));
        let mut full = Image::filled(self.width, self.height, 0);
        for y in 0..picture.height.min(self.height) {
            for x in 0..picture.width.min(self.width) {
                full.set(x, y, picture.get(x, y));
            }
        }
        full.save(&path);
        // `display -window root` sets the background and exits (its exit
        // code is not meaningful without a window manager): check the pixels.
        let _ = run_with_timeout(
            self.command(DISPLAY_TOOL)
                .arg("-window")
                .arg("root")
                .arg(&path),
            TIMEOUT,
        );
        let mut last = None;
        let shown = wait::poll_until(TIMEOUT, || {
            let shot = self.screenshot_root();
            let same = image::count_differences(&full, &shot) == 0;
            last = Some(shot);
            same.then_some(())
        });
        if shown.is_err() {
            image::assert_same(
                artifacts,
                &format!("{label}.shown"),
                &full,
                &last.expect("shot"),
            );
        }
    }

    /// Starts an xterm at `geometry` (e.g. `"40x10+0+0"`) that prints `text`
    /// and stays open; killed when the guard drops.
    pub fn xterm(
        &self,
        artifacts: &Artifacts,
        name: &str,
        geometry: &str,
        text: &str,
    ) -> ChildGuard {
        // Hide the text cursor (ESC [?25l) so that the window is static.
        let script = format!(
            "printf '\\033[?25l%s' '{}'; exec sleep 3600",
            text.replace('\'', "")
        );
        self.xterm_running(artifacts, name, geometry, &script)
    }

    /// Starts a 20×2 xterm named "typed" at (10, 10) that writes what is
    /// typed into it to the returned file (no echo, no cursor: the screen
    /// stays still), and waits until it runs. Killed when the guard drops.
    pub fn typing_xterm(&self, artifacts: &Artifacts) -> (ChildGuard, PathBuf) {
        let typed = artifacts.path("typed.txt");
        let script = format!(
            "stty -echo; printf '\\033[?25l'; exec cat > '{}'",
            typed.display()
        );
        let guard = self.xterm_running(artifacts, "typed", "20x2+10+10", &script);
        // `cat` runs (the cursor is hidden) once the file exists.
        wait::wait_for("the typing xterm's shell", TIMEOUT, || {
            typed.exists().then_some(())
        });
        (guard, typed)
    }

    /// Starts an xterm titled `name` running `sh -c script` and waits for
    /// its window.
    fn xterm_running(
        &self,
        artifacts: &Artifacts,
        name: &str,
        geometry: &str,
        script: &str,
    ) -> ChildGuard {
        require_tool("xterm", "xterm");
        let mut cmd = self.command("xterm");
        cmd.args([
            "-geometry",
            geometry,
            "-fa",
            "",
            "-fn",
            "fixed",
            "-bg",
            "white",
            "-fg",
            "black",
            "+sb",
            "-title",
            name,
            "-e",
            "sh",
            "-c",
            script,
        ]);
        let guard = ChildGuard::spawn_logged(name, &mut cmd, artifacts.dir());
        self.wait_window(name);
        guard
    }

    /// Starts `trayer` as the desktop's system tray (top right, 24 px high)
    /// and waits until its window (named "panel", the owner of the tray
    /// selection once shown) is visible; returns the guard and its id.
    pub fn tray_host(&self, artifacts: &Artifacts) -> (ChildGuard, u64) {
        let trayer = require_tool("trayer", "trayer");
        let mut cmd = self.command(trayer);
        cmd.args([
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "request",
            "--height",
            "24",
            "--SetDockType",
            "false",
            "--SetPartialStrut",
            "false",
        ]);
        let guard = ChildGuard::spawn_logged("trayer", &mut cmd, artifacts.dir());
        let id = self.wait_window("^panel$");
        (guard, id)
    }

    /// Waits until a visible window whose name matches `name` exists and
    /// returns its id (`xdotool search --onlyvisible --name`).
    pub fn wait_window(&self, name: &str) -> u64 {
        wait::wait_for(
            &format!("window {name:?} on {}", self.display()),
            TIMEOUT,
            || self.find_windows(name).into_iter().next(),
        )
    }

    /// Ids of the visible windows whose name matches `name` (a regex).
    pub fn find_windows(&self, name: &str) -> Vec<u64> {
        find_windows(&self.display(), name)
    }

    /// A screenshot of the whole screen (`import -window root`).
    pub fn screenshot_root(&self) -> Image {
        self.screenshot("root")
    }

    /// A screenshot of the whole screen once two consecutive ones agree
    /// (clients have finished drawing).
    pub fn stable_screenshot(&self) -> Image {
        let mut last = self.screenshot_root();
        wait::wait_for(
            &format!("a stable screen on {}", self.display()),
            TIMEOUT,
            || {
                let next = self.screenshot_root();
                let same = next == last;
                last = next;
                same.then(|| last.clone())
            },
        )
    }

    /// A screenshot of one window (by id) or `"root"`.
    pub fn screenshot(&self, window: &str) -> Image {
        self.try_screenshot(window)
            .unwrap_or_else(|e| panic!("screenshot of {window} on {}: {e}", self.display()))
    }

    /// A screenshot, or why it failed (e.g. the window went away).
    pub fn try_screenshot(&self, window: &str) -> Result<Image, String> {
        screenshot(&self.display(), window)
    }

    /// The pointer position (`xdotool getmouselocation`).
    pub fn pointer(&self) -> (u32, u32) {
        require_tool("xdotool", "xdotool");
        let out = run_ok(
            self.command("xdotool")
                .args(["getmouselocation", "--shell"]),
            TIMEOUT,
        )
        .stdout_text();
        let field = |name: &str| -> u32 {
            out.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in xdotool output {out:?}"))
        };
        (field("X"), field("Y"))
    }

    /// Waits until the pointer is at `at` (input sent by a peer arrived).
    pub fn wait_pointer(&self, at: (u32, u32)) {
        let mut last = (0, 0);
        let ok = wait::poll_until(TIMEOUT, || {
            last = self.pointer();
            (last == at).then_some(())
        });
        assert!(
            ok.is_ok(),
            "the pointer on {} never reached {at:?} (it is at {last:?})",
            self.display()
        );
    }

    /// Changes the screen size with RandR (`xrandr --fb WxH`; Xvfb can
    /// only shrink below its start size and back) and waits until
    /// `xdpyinfo` reports it. The size is remembered for later helpers.
    pub fn resize(&mut self, width: u32, height: u32) {
        require_tool("xrandr", "x11-xserver-utils");
        // xrandr complains about the output's old mode when shrinking, yet
        // the screen is resized: the check below is what counts.
        let _ = run_with_timeout(
            self.command("xrandr")
                .args(["--fb", &format!("{width}x{height}")]),
            TIMEOUT,
        );
        let want = format!("dimensions:    {width}x{height} pixels");
        let display = self.display();
        wait::wait_for(
            &format!("{display} to be {width}x{height}"),
            TIMEOUT,
            || {
                let out = run_with_timeout(
                    Command::new("xdpyinfo").args(["-display", &display]),
                    TIMEOUT,
                )
                .ok()?;
                out.stdout_text().contains(&want).then_some(())
            },
        );
        self.width = width;
        self.height = height;
    }

    /// Sets the root window's cursor to a named cursor of the X cursor
    /// font (`xsetroot -cursor_name NAME`), e.g. `"watch"`.
    pub fn set_root_cursor(&self, name: &str) {
        require_tool("xsetroot", "x11-xserver-utils");
        run_ok(
            self.command("xsetroot").args(["-cursor_name", name]),
            TIMEOUT,
        );
    }

    /// Starts `vncconfig -connect 127.0.0.1:port` on this display (an
    /// Xtigervnc server), asking it to connect out to a listening viewer.
    pub fn vncconfig_connect(&self, artifacts: &Artifacts, port: u16) {
        require_tool("vncconfig", "tigervnc-tools");
        let mut cmd = self.command("vncconfig");
        cmd.args(["-connect", &format!("127.0.0.1:{port}")]);
        let out = run_with_timeout(&mut cmd, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        artifacts.write(
            "vncconfig.log",
            format!("{}\n{}", out.stdout_text(), out.stderr_text()),
        );
        assert!(
            out.status.success(),
            "vncconfig -connect failed: {}",
            out.stderr_text()
        );
    }
}

/// Ids of the visible windows on `display` (`:N`) whose name matches
/// `name` (a regex), via `xdotool search --onlyvisible --name`.
pub fn find_windows(display: &str, name: &str) -> Vec<u64> {
    require_tool("xdotool", "xdotool");
    let mut cmd = Command::new("xdotool");
    cmd.env("DISPLAY", display)
        .args(["search", "--onlyvisible", "--name", name]);
    match run_with_timeout(&mut cmd, Duration::from_secs(10)) {
        Ok(o) => o
            .stdout_text()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A screenshot of a window (id) or `"root"` on `display` (`:N`), taken
/// with `import -window … PNG24:-`, or why it failed.
pub fn screenshot(display: &str, window: &str) -> Result<Image, String> {
    require_tool(IMPORT, "imagemagick");
    let mut cmd = Command::new(IMPORT);
    cmd.args(["-display", display, "-window", window, "PNG24:-"]);
    let out = run_with_timeout(&mut cmd, TIMEOUT)?;
    if !out.status.success() {
        return Err(format!("import failed: {}", out.stderr_text()));
    }
    Image::from_png(&out.stdout)
}

/// Reads a whole pipe (helper for callers that spawn their own tools).
pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// Loads a PNG file written by a peer, panicking with the path on error.
pub fn load_png(path: &Path) -> Image {
    Image::load(path).unwrap_or_else(|e| panic!("{e}"))
}
