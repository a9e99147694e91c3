//! Files both ways through Remoto's own file chooser, driven as a customer
//! would under Xvfb with xdotool: the windowed Remoto runs with `HOME` set to
//! a temporary folder (Desktop, Documents with `report.txt`, Downloads) and
//! connects to a headless `viewer listen` (crypto, demo key).
//!
//! - "Send file…" in the panel opens the chooser at home; typing `Doc` and
//!   Enter opens Documents, the Send button picks `report.txt`; the viewer
//!   shows the offer, accepts it (`accept-file`) and its copy has the same
//!   bytes.
//! - The viewer sends `manual.pdf` (`send N PATH`): Accept in the panel
//!   opens the folder chooser at Downloads; `~/Desktop` and Enter, then
//!   "Save here": the file lands in Desktop with equal bytes. Sent again
//!   with other bytes, the same choice asks "Replace?"; Replace overwrites.
//! - Chat: the technician's long line wraps in the panel's chat box
//!   (`panel-chat.png`); the customer's line typed in the panel reaches the
//!   viewer.
//! - Close, then the receipt's "Save log" chooser: "Save here" writes the
//!   log into Documents, and `viewer log verify` accepts it.
//!
//! Screenshots of every chooser step are kept as artifacts
//! (`chooser-*.png`). Needs: Xvfb, xdotool, imagemagick.

mod gui_support;

use std::path::{Path, PathBuf};

use gui_support::{
    TECHNICIAN, centre_of, click, colour, colour_runs, viewer_and_remoto, window_shot, xdotool,
};
use tests::remoto::{Remoto, viewer_bin, workspace_root};
use tests::{Artifacts, Image, TIMEOUT, XServer};

/// Colours of remoto's UI (remoto/src/ui/render.rs) this test looks for.
mod more_colour {
    /// A warning button (Replace).
    pub const WARNING: u32 = 0xD9480F;
    /// The body of a folder icon in the chooser's list.
    pub const FOLDER: u32 = 0xE8B84E;
}

/// A filled box of one colour found on a screenshot.
#[derive(Debug, Clone, Copy)]
struct Region {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Region {
    fn centre(&self) -> (u32, u32) {
        ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)
    }
}

/// The separate boxes of `colour` made of horizontal runs of at least
/// `min_run` pixels, top to bottom.
fn regions(img: &Image, colour: u32, min_run: u32) -> Vec<Region> {
    let mut out: Vec<Region> = Vec::new();
    for (y, a, b) in colour_runs(img, colour, min_run) {
        match out
            .iter_mut()
            .find(|r| r.y1 + 1 >= y && r.x0 <= b && a <= r.x1)
        {
            Some(r) => {
                r.x0 = r.x0.min(a);
                r.x1 = r.x1.max(b);
                r.y1 = y;
            }
            None => out.push(Region {
                x0: a,
                y0: y,
                x1: b,
                y1: y,
            }),
        }
    }
    out.sort_by_key(|r| (r.y0, r.x0));
    out
}

/// Starts the windowed Remoto with `HOME` = `home`.
fn start_gui(art: &Artifacts, x: &XServer, bin: &Path, home: &Path) -> Remoto {
    let runtime = art.path("xdg-runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod runtime dir");
    let mut cmd = x.command(bin);
    cmd.env("XDG_RUNTIME_DIR", runtime)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .current_dir(workspace_root());
    Remoto::spawn("remoto-gui", &mut cmd, art)
}

fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut r = tests::image::Rng::new(seed);
    (0..len).map(|_| r.next_u32() as u8).collect()
}

/// The chat box's border colour (remoto/src/ui/render.rs, `panel_extras`).
const CHAT_BORDER: u32 = 0xD5DCE5;

/// How many rows of text the panel's chat box shows: bands of rows with
/// dark (text) pixels between the box's top and bottom borders.
fn chat_text_rows(panel: &Image) -> Option<usize> {
    let edges = colour_runs(panel, CHAT_BORDER, 150);
    let (top, x0, x1) = *edges.first()?;
    let (bottom, _, _) = *edges.last()?;
    let mut bands = 0;
    let mut in_band = false;
    for y in top + 2..bottom.saturating_sub(1) {
        let dark = (x0 + 4..x1.saturating_sub(4)).any(|x| {
            let c = panel.get(x, y);
            let luma = ((c >> 16 & 0xFF) * 3 + (c >> 8 & 0xFF) * 6 + (c & 0xFF)) / 10;
            luma < 160
        });
        if dark && !in_band {
            bands += 1;
        }
        in_band = dark;
    }
    Some(bands)
}

/// Moves the pointer into `win`, gives it the keyboard focus, types
/// `text` and presses Return.
fn type_and_enter(x: &XServer, win: u64, text: &str) {
    xdotool(x, &["mousemove", "--window", &win.to_string(), "20", "140"]);
    // The picker had the focus; once it closed, nothing has it.
    xdotool(x, &["windowfocus", "--sync", &win.to_string()]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    xdotool(x, &["type", "--delay", "60", text]);
    xdotool(x, &["key", "Return"]);
}

/// Moves the pointer off every Remoto window (no hover colours).
fn pointer_away(x: &XServer) {
    xdotool(x, &["mousemove", "0", "700"]);
}

/// Waits until the chooser in `win` shows a listing with (or without)
/// folder rows and one enabled primary button; returns that button.
fn wait_listing(art: &Artifacts, x: &XServer, win: u64, file: &str, folders: bool) -> Region {
    let mut last = None;
    let found = tests::wait::poll_until(TIMEOUT, || {
        let img = x.try_screenshot(&win.to_string()).ok()?;
        let has_folders = !regions(&img, more_colour::FOLDER, 8).is_empty();
        let accents = regions(&img, colour::ACCENT, 30);
        last = Some(img.clone());
        (has_folders == folders && accents.len() == 1).then_some((img, accents[0]))
    });
    match found {
        Ok((img, r)) => {
            img.save(&art.path(file));
            r
        }
        Err(_) => {
            if let Some(img) = last {
                img.save(&art.path(file));
            }
            panic!("window {win}: the expected listing did not appear (see {file})");
        }
    }
}

/// Waits until `win`'s screenshot shows the ACCENT boxes `pred` wants.
fn wait_accent(
    art: &Artifacts,
    x: &XServer,
    win: u64,
    file: &str,
    pred: impl Fn(&[Region]) -> bool,
) -> (Image, Vec<Region>) {
    let mut last = None;
    let found = tests::wait::poll_until(TIMEOUT, || {
        let img = x.try_screenshot(&win.to_string()).ok()?;
        let r = regions(&img, colour::ACCENT, 30);
        let ok = pred(&r);
        last = Some(img.clone());
        ok.then_some((img, r))
    });
    match found {
        Ok((img, r)) => {
            img.save(&art.path(file));
            (img, r)
        }
        Err(_) => {
            if let Some(img) = last {
                img.save(&art.path(file));
            }
            panic!("window {win}: the expected buttons did not appear (see {file})");
        }
    }
}

#[test]
fn files_both_ways_through_the_chooser() {
    let art = Artifacts::new("remoto_gui_files");
    let x = XServer::xvfb(&art, 1024, 768);
    x.set_root_colour(0x303030);

    // The customer's home.
    let home = art.path("home");
    for d in ["Desktop", "Documents", "Downloads/Old", ".config"] {
        std::fs::create_dir_all(home.join(d)).expect("home folders");
    }
    std::fs::write(home.join(".hidden-secret"), b"not listed").expect("hidden");
    let report = bytes(120_000, 21);
    std::fs::write(home.join("Documents/report.txt"), &report).expect("report");

    let (mut viewer, bin) = viewer_and_remoto(&art);
    let mut remoto = start_gui(&art, &x, &bin, &home);

    // Picker: double-click the technician.
    let (picker, shot) = window_shot(&art, &x, "System test$", "picker.png");
    let row = centre_of(&shot, colour::SELECTED, 40).expect("a selected technician row");
    click(&x, picker, row, 2);
    viewer.wait_event("connected", TIMEOUT, |e| e["event"] == "connected");
    let panel_name = format!("Technician {TECHNICIAN}$");
    let panel = x.wait_window(&panel_name);
    pointer_away(&x);

    // Chat both ways. The technician's long line wraps in the panel's chat
    // box (it is not cut short); the customer types in the panel + Enter.
    let long = "Please open the printer settings and read me the driver version \
                that is listed under Advanced, then press OK";
    viewer.send(&format!("chat 1 {long}"));
    type_and_enter(&x, panel, "It says 3.2.1");
    let said = viewer.wait_event("the customer's chat line", TIMEOUT, |e| {
        e["event"] == "chat" && e["from"] == "customer"
    });
    assert_eq!(said["text"], "It says 3.2.1");
    pointer_away(&x);
    let rows = tests::wait_for("the chat in the panel", TIMEOUT, || {
        let img = x.try_screenshot(&panel.to_string()).ok()?;
        let rows = chat_text_rows(&img)?;
        (rows >= 4).then(|| {
            img.save(&art.path("panel-chat.png"));
            rows
        })
    });
    // Three or more rows for the technician's line, one for the customer's.
    assert!(rows <= 6, "{rows} rows of chat text");

    // Customer → technician: "Send file…" (the topmost primary button).
    let (_, accents) = wait_accent(&art, &x, panel, "panel.png", |r| r.len() >= 2);
    click(&x, panel, accents[0].centre(), 1);
    let (chooser, _) = window_shot(&art, &x, "Choose a file to send", "chooser-send-home.png");
    assert_eq!(chooser, panel, "the chooser takes over the panel's window");
    wait_listing(&art, &x, chooser, "chooser-send-home.png", true);
    type_and_enter(&x, chooser, "Doc");
    pointer_away(&x);
    // In Documents (no folder), report.txt is selected: the button is "Send".
    let send = wait_listing(&art, &x, chooser, "chooser-send-documents.png", false);
    let shot = x.screenshot(&chooser.to_string());
    assert!(
        centre_of(&shot, colour::SELECTED, 100).is_some(),
        "a selected row in Documents"
    );
    click(&x, chooser, send.centre(), 1);
    let offer = viewer.wait_event("file_offered", TIMEOUT, |e| {
        e["event"] == "file_offered" && e["name"] == "report.txt"
    });
    assert_eq!(offer["size"], report.len());
    let id = offer["id"].as_u64().expect("offer id");
    viewer.send(&format!("accept-file 1 {id}"));
    let fin = viewer.wait_event("file_finished", TIMEOUT, |e| {
        e["event"] == "file_finished" && e["id"] == id
    });
    assert_eq!(fin["outcome"], "done", "{fin}");
    let copy = PathBuf::from(fin["path"].as_str().expect("saved path"));
    assert_eq!(std::fs::read(&copy).expect("viewer's copy"), report);
    x.wait_window(&panel_name);

    // Technician → customer: Accept, choose Desktop, Save here.
    let outbox = art.path("outbox");
    std::fs::create_dir_all(&outbox).expect("outbox");
    let manual = bytes(80_000, 22);
    let src = outbox.join("manual.pdf");
    std::fs::write(&src, &manual).expect("manual");
    let accept_and_choose = |viewer: &mut tests::viewer::Viewer, n: usize, content: &[u8]| {
        std::fs::write(&src, content).expect("source");
        viewer.send(&format!("send 1 {}", src.display()));
        pointer_away(&x);
        // Send file…, Accept, chat Send: Accept is the second.
        let (_, accents) = wait_accent(&art, &x, panel, &format!("panel-offer-{n}.png"), |r| {
            r.len() >= 3
        });
        click(&x, panel, accents[1].centre(), 1);
        let (win, _) = window_shot(
            &art,
            &x,
            "Where to save manual.pdf",
            &format!("chooser-save-downloads-{n}.png"),
        );
        assert!(
            home.join("Desktop").read_dir().expect("desktop").count() < n,
            "written before the customer chose"
        );
        // Downloads shows its folder "Old"; Desktop has no folder.
        wait_listing(
            &art,
            &x,
            win,
            &format!("chooser-save-downloads-{n}.png"),
            true,
        );
        type_and_enter(&x, win, "~/Desktop");
        pointer_away(&x);
        let save = wait_listing(
            &art,
            &x,
            win,
            &format!("chooser-save-desktop-{n}.png"),
            false,
        );
        click(&x, win, save.centre(), 1);
        win
    };
    accept_and_choose(&mut viewer, 1, &manual);
    let saved = home.join("Desktop/manual.pdf");
    let fin = viewer.wait_event("file_finished to customer", TIMEOUT, |e| {
        e["event"] == "file_finished" && e["name"] == "manual.pdf"
    });
    assert_eq!(fin["outcome"], "done", "{fin}");
    tests::wait_for("manual.pdf saved", TIMEOUT, || {
        (std::fs::read(&saved).ok()? == manual).then_some(())
    });

    // Again with other bytes: "Replace?" first, then Replace.
    let newer = bytes(60_000, 23);
    let win = accept_and_choose(&mut viewer, 2, &newer);
    let replace = tests::wait_for("the Replace button", TIMEOUT, || {
        let img = x.try_screenshot(&win.to_string()).ok()?;
        let r = regions(&img, more_colour::WARNING, 30);
        r.first().map(|r| (img, r.centre()))
    });
    replace.0.save(&art.path("chooser-replace.png"));
    assert_eq!(
        std::fs::read(&saved).expect("kept until Replace"),
        manual,
        "replaced before the customer confirmed"
    );
    click(&x, win, replace.1, 1);
    tests::wait_for("manual.pdf replaced", TIMEOUT, || {
        (std::fs::read(&saved).ok()? == newer).then_some(())
    });
    let done = viewer
        .events()
        .iter()
        .filter(|e| e["event"] == "file_finished" && e["name"] == "manual.pdf")
        .count();
    assert!(done >= 1);
    let on_desktop: Vec<_> = std::fs::read_dir(home.join("Desktop"))
        .expect("desktop")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        on_desktop.len(),
        1,
        "one file on the desktop: {on_desktop:?}"
    );

    // Close; the receipt's Save log goes through the chooser (Documents).
    pointer_away(&x);
    let shot = x.screenshot(&panel.to_string());
    let close = centre_of(&shot, colour::RED, 30).expect("the Close button");
    click(&x, panel, close, 1);
    viewer.wait_event("ended", TIMEOUT, |e| e["event"] == "ended");
    let (receipt, _) = window_shot(&art, &x, "Session ended$", "receipt.png");
    // Save log: the only secondary button at the bottom left; find it as
    // the left part of the last row of buttons (Exit is the ACCENT one).
    pointer_away(&x);
    let shot = x.screenshot(&receipt.to_string());
    let exit = regions(&shot, colour::ACCENT, 30)
        .last()
        .copied()
        .expect("Exit");
    let save = (20 + 85, exit.centre().1);
    click(&x, receipt, save, 1);
    let (logwin, _) = window_shot(&art, &x, "Where to save the log", "chooser-log.png");
    pointer_away(&x);
    let save_here = wait_listing(&art, &x, logwin, "chooser-log-documents.png", false);
    let before: Vec<_> = std::fs::read_dir(home.join("Documents"))
        .expect("documents")
        .flatten()
        .collect();
    assert_eq!(before.len(), 1, "only report.txt before Save log");
    click(&x, logwin, save_here.centre(), 1);
    let log = tests::wait_for("the saved log", TIMEOUT, || {
        std::fs::read_dir(home.join("Documents"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("remoto-session-"))
            })
    });
    let out = tests::process::run_ok(
        std::process::Command::new(viewer_bin())
            .args(["log", "verify"])
            .arg(&log),
        TIMEOUT,
    );
    let verify = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(verify.contains(": OK: "), "{verify}");
    std::fs::copy(&log, art.path("customer-log.jsonl")).expect("keep the log");

    // Exit.
    let (receipt, shot) = window_shot(&art, &x, "Session ended$", "receipt-saved.png");
    let exit = regions(&shot, colour::ACCENT, 30)
        .last()
        .copied()
        .expect("Exit");
    click(&x, receipt, exit.centre(), 1);
    let status = remoto
        .wait_exit(TIMEOUT)
        .expect("remoto exits after the receipt");
    assert_eq!(status.code(), Some(0), "{}", remoto.stderr_text());
    // Nothing else was written in the home folder.
    let mut all = Vec::new();
    for d in ["", "Desktop", "Documents", "Downloads"] {
        for e in std::fs::read_dir(home.join(d)).expect("home").flatten() {
            all.push(e.path());
        }
    }
    all.sort();
    eprintln!("home after the session: {all:?}");
    // Home: 3 folders, .config, .hidden-secret; Desktop: manual.pdf;
    // Documents: report.txt and the log; Downloads: Old.
    assert_eq!(all.len(), 5 + 1 + 2 + 1, "{all:?}");
}
