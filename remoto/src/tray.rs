//! The tray icon (Linux/X11) with a "Close" menu, without GTK: the
//! freedesktop *System Tray* protocol over XEmbed, spoken with x11rb.
//!
//! 1. The tray host owns the selection `_NET_SYSTEM_TRAY_S<screen>`; when
//!    nobody owns it there is no tray and [`Tray::start`] returns `None`
//!    (the always-on-top panel is there regardless).
//! 2. We create a small icon window with `_XEMBED_INFO` (version 0,
//!    mapped) and send the owner a `_NET_SYSTEM_TRAY_OPCODE` client message
//!    `SYSTEM_TRAY_REQUEST_DOCK`; the host reparents and maps it.
//! 3. We draw the icon ourselves (a screen with a green "sharing" dot) on
//!    every Expose. A left or right click opens a tiny override-redirect
//!    menu at the pointer: **Close Remoto** (calls the close callback, which
//!    ends the session like the panel's Close) and **Cancel**.
//!
//! Desktops whose tray only speaks StatusNotifierItem over D-Bus (GNOME
//! with the AppIndicator extension, KDE Plasma without the XEmbed bridge)
//! own no `_NET_SYSTEM_TRAY_S<n>` selection: there the icon is simply
//! absent.
//!
//! The icon lives on its own X connection and thread; dropping the
//! [`Tray`] destroys the windows and ends the thread.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use crate::ui::UiAction;

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    AtomEnum, ButtonPressEvent, ChangeGCAux, ChangeWindowAttributesAux, ClientMessageEvent,
    ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, Gcontext, PropMode, Rectangle,
    Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Icon size requested from the host (hosts may resize it).
const ICON: u16 = 22;
/// `SYSTEM_TRAY_REQUEST_DOCK` opcode.
const REQUEST_DOCK: u32 = 0;
/// `_XEMBED_INFO` flag: map me.
const XEMBED_MAPPED: u32 = 1;
/// Menu geometry.
const MENU_W: u16 = 130;
const ITEM_H: u16 = 22;

const BG: u32 = 0x001d_4f91;
const SCREEN: u32 = 0x00e6_effa;
const DOT: u32 = 0x001b_b83a;
const MENU_BG: u32 = 0x00f4_f6f9;
const MENU_FG: u32 = 0x001f_2933;
const CLOSE_BG: u32 = 0x00c6_2828;
const WHITE: u32 = 0x00ff_ffff;

/// Why the tray could not be set up (the caller just goes without it).
#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    /// No X display.
    #[error("cannot connect to the display: {0}")]
    Connect(#[from] x11rb::errors::ConnectError),
    /// The X connection failed.
    #[error("X connection: {0}")]
    Connection(#[from] x11rb::errors::ConnectionError),
    /// An X request failed.
    #[error("X request: {0}")]
    Reply(#[from] x11rb::errors::ReplyError),
    /// An X id could not be allocated.
    #[error("X ids: {0}")]
    Id(#[from] x11rb::errors::ReplyOrIdError),
}

/// A docked tray icon; dropping it removes the icon.
#[derive(Debug)]
pub struct Tray {
    conn: Arc<RustConnection>,
    icon: Window,
    stop_atom: u32,
    thread: Option<JoinHandle<()>>,
}

struct Atoms {
    opcode: u32,
    xembed_info: u32,
    stop: u32,
}

fn intern(conn: &RustConnection, name: &str) -> Result<u32, TrayError> {
    Ok(conn.intern_atom(false, name.as_bytes())?.reply()?.atom)
}

impl Tray {
    /// Docks an icon titled `tooltip` in the tray of `display` (`None`:
    /// `$DISPLAY`) when a tray host runs; `on_close` is called (on the
    /// tray's thread) when the customer picks "Close Remoto". `Ok(None)`:
    /// no tray host.
    pub fn start(
        display: Option<&str>,
        tooltip: &str,
        on_close: impl Fn() + Send + 'static,
    ) -> Result<Option<Tray>, TrayError> {
        let (conn, screen_num) = RustConnection::connect(display)?;
        let conn = Arc::new(conn);
        let selection = intern(&conn, &format!("_NET_SYSTEM_TRAY_S{screen_num}"))?;
        let owner = conn.get_selection_owner(selection)?.reply()?.owner;
        if owner == x11rb::NONE {
            return Ok(None);
        }
        let atoms = Atoms {
            opcode: intern(&conn, "_NET_SYSTEM_TRAY_OPCODE")?,
            xembed_info: intern(&conn, "_XEMBED_INFO")?,
            stop: intern(&conn, "_REMOTO_TRAY_STOP")?,
        };
        let screen = &conn.setup().roots[screen_num];
        let root = screen.root;
        let icon = conn.generate_id()?;
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            icon,
            root,
            0,
            0,
            ICON,
            ICON,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new().background_pixel(BG).event_mask(
                EventMask::EXPOSURE | EventMask::BUTTON_RELEASE | EventMask::STRUCTURE_NOTIFY,
            ),
        )?;
        conn.change_property8(
            PropMode::REPLACE,
            icon,
            AtomEnum::WM_NAME,
            AtomEnum::STRING,
            tooltip.as_bytes(),
        )?;
        // Hosts size the icon from its size hints (GtkSocket otherwise
        // gives it 1×1).
        let mut hints = x11rb::properties::WmSizeHints::new();
        hints.min_size = Some((i32::from(ICON), i32::from(ICON)));
        hints.base_size = Some((i32::from(ICON), i32::from(ICON)));
        hints.set_normal_hints(&*conn, icon)?;
        conn.change_property32(
            PropMode::REPLACE,
            icon,
            atoms.xembed_info,
            atoms.xembed_info,
            &[0, XEMBED_MAPPED],
        )?;
        let dock = ClientMessageEvent::new(
            32,
            owner,
            atoms.opcode,
            [x11rb::CURRENT_TIME, REQUEST_DOCK, icon, 0, 0],
        );
        conn.send_event(false, owner, EventMask::NO_EVENT, dock)?;
        conn.flush()?;
        let stop_atom = atoms.stop;
        let thread_conn = conn.clone();
        let thread = std::thread::Builder::new()
            .name("tray".into())
            .spawn(move || {
                if let Err(e) = run(&thread_conn, screen_num, icon, &atoms, &on_close) {
                    tracing::warn!("tray icon stopped: {e}");
                }
            })
            .map_err(|e| TrayError::Connection(x11rb::errors::ConnectionError::IoError(e)))?;
        Ok(Some(Tray {
            conn,
            icon,
            stop_atom,
            thread: Some(thread),
        }))
    }

    /// The icon's X window (for tests and diagnostics).
    pub fn window(&self) -> Window {
        self.icon
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        // Wake the thread with a message to our own window, then wait.
        let stop = ClientMessageEvent::new(32, self.icon, self.stop_atom, [0u32; 5]);
        let sent = self
            .conn
            .send_event(false, self.icon, EventMask::NO_EVENT, stop)
            .is_ok()
            && self.conn.flush().is_ok();
        if sent && let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = self.conn.destroy_window(self.icon);
        let _ = self.conn.flush();
    }
}

struct Menu {
    window: Window,
    shown: bool,
}

fn fill(
    conn: &RustConnection,
    win: Window,
    gc: Gcontext,
    colour: u32,
    rects: &[Rectangle],
) -> Result<(), TrayError> {
    conn.change_gc(gc, &ChangeGCAux::new().foreground(colour))?;
    conn.poly_fill_rectangle(win, gc, rects)?;
    Ok(())
}

fn rect(x: i16, y: i16, width: u16, height: u16) -> Rectangle {
    Rectangle {
        x,
        y,
        width,
        height,
    }
}

/// Draws the icon scaled to the window's current size.
fn draw_icon(conn: &RustConnection, icon: Window, gc: Gcontext) -> Result<(), TrayError> {
    let g = conn.get_geometry(icon)?.reply()?;
    let (w, h) = (g.width.max(8), g.height.max(8));
    let s = w.min(h);
    let (ox, oy) = (((w - s) / 2) as i16, ((h - s) / 2) as i16);
    let u = |n: u16| (u32::from(s) * u32::from(n) / 22) as u16;
    fill(conn, icon, gc, BG, &[rect(0, 0, w, h)])?;
    // A screen, its stand, and a green "sharing" dot.
    fill(
        conn,
        icon,
        gc,
        SCREEN,
        &[
            rect(ox + u(3) as i16, oy + u(4) as i16, u(16), u(11)),
            rect(ox + u(9) as i16, oy + u(15) as i16, u(4), u(2)),
            rect(ox + u(6) as i16, oy + u(17) as i16, u(10), u(2)),
        ],
    )?;
    fill(
        conn,
        icon,
        gc,
        DOT,
        &[rect(ox + u(13) as i16, oy + u(10) as i16, u(5), u(5))],
    )?;
    conn.flush()?;
    Ok(())
}

fn draw_menu(
    conn: &RustConnection,
    menu: Window,
    gc: Gcontext,
    font_ok: bool,
) -> Result<(), TrayError> {
    fill(conn, menu, gc, CLOSE_BG, &[rect(0, 0, MENU_W, ITEM_H)])?;
    fill(
        conn,
        menu,
        gc,
        MENU_BG,
        &[rect(0, ITEM_H as i16, MENU_W, ITEM_H)],
    )?;
    if font_ok {
        conn.change_gc(
            gc,
            &ChangeGCAux::new().foreground(WHITE).background(CLOSE_BG),
        )?;
        conn.image_text8(menu, gc, 8, 15, b"Close Remoto")?;
        conn.change_gc(
            gc,
            &ChangeGCAux::new().foreground(MENU_FG).background(MENU_BG),
        )?;
        conn.image_text8(menu, gc, 8, ITEM_H as i16 + 15, b"Cancel")?;
    }
    conn.flush()?;
    Ok(())
}

/// The tray thread: events until the stop message or the connection ends.
fn run(
    conn: &RustConnection,
    screen_num: usize,
    icon: Window,
    atoms: &Atoms,
    on_close: &dyn Fn(),
) -> Result<(), TrayError> {
    let root = conn.setup().roots[screen_num].root;
    let gc = conn.generate_id()?;
    conn.create_gc(gc, icon, &CreateGCAux::new().foreground(BG))?;
    // The core "fixed" font is built into every X server; without it the
    // menu still works (red item: close, grey item: cancel).
    let font = conn.generate_id()?;
    let font_ok = conn.open_font(font, b"fixed")?.check().is_ok();
    if font_ok {
        conn.change_gc(gc, &ChangeGCAux::new().font(font))?;
    }
    let menu = Menu {
        window: conn.generate_id()?,
        shown: false,
    };
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        menu.window,
        root,
        0,
        0,
        MENU_W,
        ITEM_H * 2,
        1,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new()
            .background_pixel(MENU_BG)
            .override_redirect(1)
            .event_mask(EventMask::EXPOSURE | EventMask::BUTTON_RELEASE),
    )?;
    conn.change_property8(
        PropMode::REPLACE,
        menu.window,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        b"Remoto tray menu",
    )?;
    conn.flush()?;
    let mut menu = menu;
    loop {
        let event = conn.wait_for_event()?;
        match event {
            Event::Expose(e) if e.window == icon && e.count == 0 => draw_icon(conn, icon, gc)?,
            Event::Expose(e) if e.window == menu.window && e.count == 0 => {
                draw_menu(conn, menu.window, gc, font_ok)?
            }
            Event::ConfigureNotify(e) if e.window == icon => draw_icon(conn, icon, gc)?,
            Event::ButtonRelease(ButtonPressEvent {
                event,
                detail,
                root_x,
                root_y,
                event_x,
                event_y,
                ..
            }) => {
                if event == icon && (detail == 1 || detail == 3) {
                    if menu.shown {
                        conn.unmap_window(menu.window)?;
                        menu.shown = false;
                    } else {
                        let screen = &conn.setup().roots[screen_num];
                        let x = i32::from(root_x)
                            .min(i32::from(screen.width_in_pixels) - i32::from(MENU_W))
                            .max(0);
                        let y = (i32::from(root_y) + 4)
                            .min(i32::from(screen.height_in_pixels) - i32::from(ITEM_H) * 2)
                            .max(0);
                        conn.configure_window(
                            menu.window,
                            &x11rb::protocol::xproto::ConfigureWindowAux::new()
                                .x(x)
                                .y(y)
                                .stack_mode(x11rb::protocol::xproto::StackMode::ABOVE),
                        )?;
                        conn.map_window(menu.window)?;
                        menu.shown = true;
                    }
                    conn.flush()?;
                } else if event == menu.window {
                    conn.unmap_window(menu.window)?;
                    conn.flush()?;
                    menu.shown = false;
                    let inside_x = (0..MENU_W as i16).contains(&event_x);
                    if inside_x && (0..ITEM_H as i16).contains(&event_y) {
                        on_close();
                    }
                }
            }
            Event::ClientMessage(e) if e.type_ == atoms.stop && e.window == icon => break,
            Event::DestroyNotify(e) if e.window == icon => break,
            _ => {}
        }
    }
    let _ = conn.change_window_attributes(
        icon,
        &ChangeWindowAttributesAux::new().event_mask(EventMask::NO_EVENT),
    );
    let _ = conn.destroy_window(menu.window);
    let _ = conn.free_gc(gc);
    if font_ok {
        let _ = conn.close_font(font);
    }
    let _ = conn.flush();
    Ok(())
}

/// The session's tray icon on `$DISPLAY`: "Close Remoto" sends
/// [`UiAction::Close`] like the panel's Close button. `None` when there is
/// no tray host (or no X display); the reason is logged at debug level.
pub fn for_session(technician: &str, actions: Sender<UiAction>) -> Option<Tray> {
    let tooltip = format!("Remoto - sharing with {technician}");
    match Tray::start(None, &tooltip, move || {
        let _ = actions.send(UiAction::Close);
    }) {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!("no tray icon: {e}");
            None
        }
    }
}
