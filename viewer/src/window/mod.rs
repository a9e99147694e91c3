//! Session windows: one winit window per session, drawn with softbuffer.
//!
//! One event loop (on the main thread) holds every session window. The
//! session glue drives it through a [`WindowHandle`] (an
//! [`EventLoopProxy<ViewerEvent>`]): [`ViewerEvent::OpenSession`] opens a
//! window on a shared framebuffer, [`ViewerEvent::Frame`] tells it that
//! pixels changed, [`ViewerEvent::SessionState`] updates the status bar,
//! [`ViewerEvent::CloseSession`] closes it. What the technician does comes
//! back as [`SessionInput`]s (key, pointer, clipboard, control request,
//! window closed) through the sink given to [`WindowManager::new`]. Closing a
//! window ends that session only.
//!
//! The content area shows the remote desktop at 1:1 (centred, or panned
//! with the pointer when larger than the window) or scaled to fit keeping the
//! aspect (our own nearest or bilinear scaler, black letterbox). Below it a
//! status bar says "view only — waiting for the customer to allow control"
//! or "control granted", and the bandwidth in each direction.
//!
//! # Shortcuts (no menus)
//!
//! | keys | action |
//! |---|---|
//! | F11, or Ctrl+Alt+Shift+F | full screen on/off |
//! | Ctrl+Alt+Shift+S | scale: fit ↔ 1:1 |
//! | Ctrl+Alt+Shift+B | scaler: bilinear ↔ nearest |
//! | Ctrl+Alt+Shift+End, or Ctrl+Alt+Shift+Delete | send Ctrl-Alt-Del to the customer |
//! | Ctrl+Alt+Shift+C | ask the customer for control |
//! | Ctrl+Alt+Shift+Q | disconnect (close this session's window) |
//! | Ctrl+Alt+Shift+L | picture quality: auto → lossless → high → medium → low |
//! | Ctrl+Alt+Shift+T | side pane on/off: chat, files, system information, notes |
//!
//! The side pane ([`pane`], issue 12) sits at the right of the remote
//! desktop (the window grows by [`pane::PANE_WIDTH`] when it opens, the
//! desktop keeps its size when the screen has room). While the pane is
//! hidden, chat lines and file offers from the customer show as an unread
//! badge in the status bar. While one of its fields has the focus (a click
//! on it; opening the pane focuses the chat line), keys go to the field,
//! not to the customer: Enter sends, Escape leaves the field (so does a
//! click on the desktop), Tab goes to the next field. A file dropped on the
//! window is offered to the customer. What the pane asks for comes back as
//! [`WindowInput::Pane`]; the session feeds it with
//! [`ViewerEvent::Pane`].
//!
//! A pending customer (window mode without `--accept-all`) gets a small
//! accept dialog ([`dialog`]): the customer's hello, the source address and
//! the SAS or "NOT ENCRYPTED", with Refuse / Accept (mouse, Escape / Enter);
//! the answer comes back as [`WindowInput::Accept`] / [`WindowInput::Refuse`].
//!
//! Every other key goes to the customer as an X keysym ([`crate::keysym`]).
//! The mouse goes as RFB pointer events: buttons 1–3 and the wheel as
//! buttons 4 (up), 5 (down), 6 (left), 7 (right), each a press then a
//! release. When the window loses focus, keys and buttons still held are
//! released on the customer's side. When a window gains focus and the local
//! clipboard text changed, it is sent as [`WindowInput::Clipboard`];
//! [`WindowHandle::set_local_clipboard`] puts the customer's clipboard text
//! on the local clipboard.

pub mod dialog;
pub mod pane;
pub mod scale;
pub mod text;

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use rfb::{Framebuffer, Rect};
use winit::application::ApplicationHandler;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, KeyEvent, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop, EventLoopProxy};
use winit::keyboard::{Key, ModifiersState, NamedKey, PhysicalKey};
use winit::window::{Fullscreen, Window, WindowId};

use crate::keysym::{self, Keysym, xk};
use crate::quality::Quality;
pub use dialog::IncomingInfo;
pub use pane::{PaneAction, PaneUpdate};
pub use scale::{Filter, Layout, ScaleMode};

/// Identifies a session (and its window).
pub type SessionId = u64;

/// The framebuffer a session decodes into and its window draws from.
pub type SharedFramebuffer = Arc<Mutex<Framebuffer>>;

/// Height of the status bar in pixels.
pub const STATUS_BAR_HEIGHT: u32 = 20;

const STATUS_BG: u32 = 0x0020_2428;
const VIEW_ONLY_FG: u32 = 0x00ff_c040;
const GRANTED_FG: u32 = 0x0070_e070;
const INFO_FG: u32 = 0x00c8_c8c8;

/// Errors of the window system.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// The event loop could not be created (no display?).
    #[error("cannot start the window system: {0}")]
    EventLoop(#[from] winit::error::EventLoopError),
    /// A window could not be created.
    #[error("cannot open a window: {0}")]
    Os(#[from] winit::error::OsError),
    /// The drawing surface failed.
    #[error("cannot draw the window: {0}")]
    Surface(#[from] softbuffer::SoftBufferError),
    /// The event loop has ended; nothing can be sent to it.
    #[error("the window event loop has ended")]
    Closed,
}

/// What a session tells the status bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStatus {
    /// True when the customer allowed control.
    pub control: bool,
    /// Bytes a second received from the customer.
    pub bytes_in_per_sec: u64,
    /// Bytes a second sent to the customer.
    pub bytes_out_per_sec: u64,
    /// An extra message (e.g. "session ended: customer closed").
    pub message: Option<String>,
    /// Replaces the control-state label (e.g. "playing 1x" in `viewer play`).
    pub label: Option<String>,
}

/// Events the session glue sends to the window event loop.
#[derive(Debug, Clone)]
pub enum ViewerEvent {
    /// Opens a window for a session.
    OpenSession {
        /// Session.
        id: SessionId,
        /// Window title (see [`session_title`]).
        title: String,
        /// The framebuffer to show.
        framebuffer: SharedFramebuffer,
    },
    /// Pixels changed (rectangles in framebuffer coordinates; the size may
    /// have changed too).
    Frame {
        /// Session.
        id: SessionId,
        /// Changed rectangles.
        damaged: Vec<Rect>,
    },
    /// New status-bar state.
    SessionState {
        /// Session.
        id: SessionId,
        /// The state.
        status: SessionStatus,
    },
    /// Puts text (from the customer) on the local clipboard.
    SetClipboard {
        /// The text.
        text: String,
    },
    /// Closes a session's window (no [`WindowInput::Closed`] is sent back).
    CloseSession {
        /// Session.
        id: SessionId,
    },
    /// The quality the session uses now (shown in the status bar).
    SessionQuality {
        /// Session.
        id: SessionId,
        /// The level.
        quality: Quality,
    },
    /// Opens the accept dialog of a pending customer.
    Incoming {
        /// Session.
        id: SessionId,
        /// What to show.
        info: IncomingInfo,
    },
    /// The pending customer went away or was decided elsewhere: closes its
    /// dialog (nothing is sent back).
    IncomingGone {
        /// Session.
        id: SessionId,
    },
    /// Something for the side pane of a session (chat, files, system
    /// information, notes).
    Pane {
        /// Session.
        id: SessionId,
        /// What happened.
        update: PaneUpdate,
    },
    /// Closes every window and ends the event loop.
    Shutdown,
}

/// What the technician did in a session window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowInput {
    /// A key went down or up (X keysym, as RFB KeyEvent).
    Key {
        /// The keysym.
        keysym: Keysym,
        /// Pressed (true) or released.
        down: bool,
    },
    /// Pointer position and button mask (RFB PointerEvent: bit 0 = button 1).
    Pointer {
        /// Framebuffer x.
        x: u16,
        /// Framebuffer y.
        y: u16,
        /// Buttons held.
        buttons: u8,
    },
    /// The local clipboard text changed (to send to the customer).
    Clipboard(String),
    /// The technician asks the customer for control.
    RequestControl,
    /// The technician picked another picture quality.
    Quality(Quality),
    /// The technician accepted the pending customer (accept dialog).
    Accept,
    /// The technician refused the pending customer (accept dialog).
    Refuse,
    /// Chat, files or a note from the side pane (or a dropped file).
    Pane(PaneAction),
    /// The window was closed: end this session.
    Closed,
}

impl fmt::Display for WindowInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowInput::Key { keysym, down } => {
                write!(f, "key {keysym:#x} {}", if *down { "down" } else { "up" })
            }
            WindowInput::Pointer { x, y, buttons } => write!(f, "pointer {x} {y} {buttons}"),
            WindowInput::Clipboard(t) => write!(f, "clipboard {t:?}"),
            WindowInput::RequestControl => write!(f, "request-control"),
            WindowInput::Quality(q) => write!(f, "quality {q}"),
            WindowInput::Accept => write!(f, "accept"),
            WindowInput::Refuse => write!(f, "refuse"),
            WindowInput::Pane(a) => match a {
                PaneAction::Chat(t) => write!(f, "chat {t:?}"),
                PaneAction::SendFile(p) => write!(f, "send {}", p.display()),
                PaneAction::AcceptFile(id) => write!(f, "accept-file {id}"),
                PaneAction::RefuseFile(id) => write!(f, "refuse-file {id}"),
                PaneAction::CancelFile(id) => write!(f, "cancel-file {id}"),
                PaneAction::Note(t) => write!(f, "note {t:?}"),
            },
            WindowInput::Closed => write!(f, "closed"),
        }
    }
}

/// A [`WindowInput`] with the session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInput {
    /// Session.
    pub id: SessionId,
    /// What happened.
    pub input: WindowInput,
}

/// The window title: "technician — customer — SAS …" (or "CLEAR, not
/// encrypted" without a SAS).
pub fn session_title(technician: &str, customer: &str, sas: Option<&str>) -> String {
    match sas {
        Some(sas) => format!("{technician} — {customer} — SAS {sas}"),
        None => format!("{technician} — {customer} — CLEAR, not encrypted"),
    }
}

/// Creates the event loop the windows run in (call on the main thread).
pub fn event_loop() -> Result<EventLoop<ViewerEvent>, WindowError> {
    Ok(EventLoop::<ViewerEvent>::with_user_event().build()?)
}

/// A cloneable, thread-safe way to drive the windows.
#[derive(Debug, Clone)]
pub struct WindowHandle(EventLoopProxy<ViewerEvent>);

impl WindowHandle {
    /// A handle for `event_loop`.
    pub fn new(event_loop: &EventLoop<ViewerEvent>) -> Self {
        Self(event_loop.create_proxy())
    }

    /// Sends any event.
    pub fn send(&self, event: ViewerEvent) -> Result<(), WindowError> {
        self.0.send_event(event).map_err(|_| WindowError::Closed)
    }

    /// Opens a window for a session.
    pub fn open_session(
        &self,
        id: SessionId,
        title: String,
        framebuffer: SharedFramebuffer,
    ) -> Result<(), WindowError> {
        self.send(ViewerEvent::OpenSession {
            id,
            title,
            framebuffer,
        })
    }

    /// Tells a window that pixels changed.
    pub fn frame(&self, id: SessionId, damaged: Vec<Rect>) -> Result<(), WindowError> {
        self.send(ViewerEvent::Frame { id, damaged })
    }

    /// Updates a window's status bar.
    pub fn session_state(&self, id: SessionId, status: SessionStatus) -> Result<(), WindowError> {
        self.send(ViewerEvent::SessionState { id, status })
    }

    /// Puts text on the local clipboard.
    pub fn set_local_clipboard(&self, text: String) -> Result<(), WindowError> {
        self.send(ViewerEvent::SetClipboard { text })
    }

    /// Closes a session's window.
    pub fn close_session(&self, id: SessionId) -> Result<(), WindowError> {
        self.send(ViewerEvent::CloseSession { id })
    }

    /// Shows the quality a session uses.
    pub fn session_quality(&self, id: SessionId, quality: Quality) -> Result<(), WindowError> {
        self.send(ViewerEvent::SessionQuality { id, quality })
    }

    /// Opens the accept dialog of a pending customer.
    pub fn incoming(&self, id: SessionId, info: IncomingInfo) -> Result<(), WindowError> {
        self.send(ViewerEvent::Incoming { id, info })
    }

    /// Closes the accept dialog of a customer that is no longer pending.
    pub fn incoming_gone(&self, id: SessionId) -> Result<(), WindowError> {
        self.send(ViewerEvent::IncomingGone { id })
    }

    /// Tells a session's side pane what happened.
    pub fn pane(&self, id: SessionId, update: PaneUpdate) -> Result<(), WindowError> {
        self.send(ViewerEvent::Pane { id, update })
    }

    /// Ends the event loop.
    pub fn shutdown(&self) -> Result<(), WindowError> {
        self.send(ViewerEvent::Shutdown)
    }
}

/// Runs `manager` on `event_loop` until [`ViewerEvent::Shutdown`] (or the
/// last window closes, see [`WindowManager::exit_when_last_closed`]).
pub fn run(
    event_loop: EventLoop<ViewerEvent>,
    manager: &mut WindowManager,
) -> Result<(), WindowError> {
    event_loop.run_app(manager)?;
    match manager.error.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct SessionWindow {
    window: Rc<Window>,
    surface: softbuffer::Surface<Rc<Window>, Rc<Window>>,
    framebuffer: SharedFramebuffer,
    status: SessionStatus,
    mode: ScaleMode,
    filter: Filter,
    layout: Layout,
    cursor: Option<(f64, f64)>,
    last_pointer: Option<(u16, u16, u8)>,
    buttons: u8,
    pressed: HashMap<PhysicalKey, Keysym>,
    modifiers: ModifiersState,
    wheel: (f64, f64),
    fb_size: (u16, u16),
    /// Where the side pane's fields and buttons were drawn last.
    pane_layout: pane::PaneLayout,
    quality: Option<Quality>,
}

struct DialogWindow {
    window: Rc<Window>,
    surface: softbuffer::Surface<Rc<Window>, Rc<Window>>,
    lines: Vec<(String, u32)>,
    layout: dialog::DialogLayout,
    cursor: Option<(f64, f64)>,
    hover: Option<dialog::Answer>,
}

/// Owns every session window; the [`ApplicationHandler`] of the event loop.
pub struct WindowManager {
    sink: Box<dyn FnMut(SessionInput)>,
    sessions: HashMap<SessionId, SessionWindow>,
    by_window: HashMap<WindowId, SessionId>,
    dialogs: HashMap<SessionId, DialogWindow>,
    dialog_by_window: HashMap<WindowId, SessionId>,
    panes: HashMap<SessionId, pane::Pane>,
    text: text::TextDrawer,
    clipboard: Option<arboard::Clipboard>,
    clipboard_failed: bool,
    last_clipboard: Option<String>,
    exit_when_last_closed: bool,
    default_mode: Option<ScaleMode>,
    error: Option<WindowError>,
}

impl fmt::Debug for WindowManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WindowManager({} windows)", self.sessions.len())
    }
}

impl WindowManager {
    /// A manager sending what the technician does to `sink` (e.g. a closure
    /// around an `mpsc::Sender` or a tokio `UnboundedSender`).
    pub fn new(sink: impl FnMut(SessionInput) + 'static) -> Self {
        Self {
            sink: Box::new(sink),
            sessions: HashMap::new(),
            by_window: HashMap::new(),
            dialogs: HashMap::new(),
            dialog_by_window: HashMap::new(),
            panes: HashMap::new(),
            text: text::TextDrawer::new(13.0),
            clipboard: None,
            clipboard_failed: false,
            last_clipboard: None,
            exit_when_last_closed: false,
            default_mode: None,
            error: None,
        }
    }

    /// A manager sending to a standard channel.
    pub fn with_sender(sender: std::sync::mpsc::Sender<SessionInput>) -> Self {
        Self::new(move |input| {
            let _ = sender.send(input);
        })
    }

    /// Ends the event loop when the last window closes (for one-window programs).
    pub fn exit_when_last_closed(mut self, yes: bool) -> Self {
        self.exit_when_last_closed = yes;
        self
    }

    /// Forces the initial scale mode of new windows (default: 1:1 when the
    /// desktop fits the monitor, fit otherwise).
    pub fn initial_scale(mut self, mode: ScaleMode) -> Self {
        self.default_mode = Some(mode);
        self
    }

    fn emit(&mut self, id: SessionId, input: WindowInput) {
        (self.sink)(SessionInput { id, input });
    }

    fn clipboard(&mut self) -> Option<&mut arboard::Clipboard> {
        if self.clipboard.is_none() && !self.clipboard_failed {
            match arboard::Clipboard::new() {
                Ok(c) => self.clipboard = Some(c),
                Err(e) => {
                    tracing::warn!("clipboard unavailable: {e}");
                    self.clipboard_failed = true;
                }
            }
        }
        self.clipboard.as_mut()
    }

    fn open(
        &mut self,
        event_loop: &ActiveEventLoop,
        id: SessionId,
        title: String,
        framebuffer: SharedFramebuffer,
    ) -> Result<(), WindowError> {
        if let Some(old) = self.sessions.remove(&id) {
            self.by_window.remove(&old.window.id());
        }
        let (w, h) = framebuffer
            .lock()
            .map(|fb| (fb.width(), fb.height()))
            .unwrap_or((0, 0));
        let (mut win_w, mut win_h) = (u32::from(w).max(160), u32::from(h) + STATUS_BAR_HEIGHT);
        let mut mode = self.default_mode.unwrap_or(ScaleMode::OneToOne);
        if let Some(monitor) = event_loop
            .primary_monitor()
            .or_else(|| event_loop.available_monitors().next())
        {
            let m = monitor.size();
            let (max_w, max_h) = (
                m.width.saturating_mul(9) / 10,
                m.height.saturating_mul(9) / 10,
            );
            if m.width > 0 && (win_w > max_w || win_h > max_h) {
                if self.default_mode.is_none() {
                    mode = ScaleMode::Fit;
                }
                let l = Layout::compute(
                    ScaleMode::Fit,
                    (max_w, max_h.saturating_sub(STATUS_BAR_HEIGHT)),
                    (u32::from(w), u32::from(h)),
                    None,
                );
                win_w = l.dst_w.max(160);
                win_h = l.dst_h + STATUS_BAR_HEIGHT;
            }
        }
        let attrs = Window::default_attributes()
            .with_title(title)
            .with_inner_size(PhysicalSize::new(win_w, win_h));
        let window = Rc::new(event_loop.create_window(attrs)?);
        let context = softbuffer::Context::new(window.clone())?;
        let surface = softbuffer::Surface::new(&context, window.clone())?;
        self.by_window.insert(window.id(), id);
        window.request_redraw();
        self.sessions.insert(
            id,
            SessionWindow {
                window,
                surface,
                framebuffer,
                status: SessionStatus::default(),
                mode,
                filter: Filter::default(),
                layout: Layout::default(),
                cursor: None,
                last_pointer: None,
                buttons: 0,
                pressed: HashMap::new(),
                modifiers: ModifiersState::empty(),
                wheel: (0.0, 0.0),
                fb_size: (w, h),
                quality: None,
                pane_layout: pane::PaneLayout::default(),
            },
        );
        Ok(())
    }

    fn close(&mut self, event_loop: &ActiveEventLoop, id: SessionId, notify: bool) {
        self.panes.remove(&id);
        if let Some(s) = self.sessions.remove(&id) {
            self.by_window.remove(&s.window.id());
            if notify {
                self.emit(id, WindowInput::Closed);
            }
        }
        if self.exit_when_last_closed && self.sessions.is_empty() {
            event_loop.exit();
        }
    }

    fn redraw(&mut self, id: SessionId) -> Result<(), WindowError> {
        let text = &mut self.text;
        let pane = self.panes.get(&id);
        let pane_open = pane.is_some_and(|p| p.is_open());
        let unread = pane.map_or(0, |p| p.unread());
        let Some(s) = self.sessions.get_mut(&id) else {
            return Ok(());
        };
        let size = s.window.inner_size();
        let (Some(ww), Some(wh)) = (NonZeroU32::new(size.width), NonZeroU32::new(size.height))
        else {
            return Ok(());
        };
        s.surface.resize(ww, wh)?;
        let mut buffer = s.surface.buffer_mut()?;
        let stride = size.width as usize;
        let rows = size.height as usize;
        let bar = STATUS_BAR_HEIGHT.min(size.height);
        let area_h = size.height - bar;
        let mut resized = None;
        {
            let fb = s.framebuffer.lock().unwrap_or_else(|e| e.into_inner());
            let src = (u32::from(fb.width()), u32::from(fb.height()));
            if (fb.width(), fb.height()) != s.fb_size {
                s.fb_size = (fb.width(), fb.height());
                resized = Some(src);
            }
            let content_w = content_width(size.width, pane_open);
            s.layout = Layout::compute(s.mode, (content_w, area_h), src, s.cursor);
            scale::draw(&mut buffer, stride, fb.pixels(), &s.layout, s.filter);
        }
        // Status bar.
        let bar_start = area_h as usize * stride;
        if let Some(bar_px) = buffer.get_mut(bar_start..rows * stride) {
            bar_px.fill(STATUS_BG);
            let (label, colour) = if let Some(l) = &s.status.label {
                (l.as_str(), INFO_FG)
            } else if s.status.control {
                ("control granted", GRANTED_FG)
            } else {
                (
                    "view only — waiting for the customer to allow control",
                    VIEW_ONLY_FG,
                )
            };
            let mut rate = format!(
                "in {}/s  out {}/s  {}",
                human_bytes(s.status.bytes_in_per_sec),
                human_bytes(s.status.bytes_out_per_sec),
                match s.mode {
                    ScaleMode::Fit => "fit",
                    ScaleMode::OneToOne => "1:1",
                }
            );
            if let Some(q) = s.quality {
                rate.push_str(&format!("  {q}"));
            }
            let bar_rows = bar as usize;
            let baseline = (bar_rows as i64 * 3) / 4 + 1;
            let mut rate_w = text.width(&rate);
            if 6 + text.width(label) + 16 + rate_w > content_width(size.width, pane_open) as i64 {
                // Narrow window: the control state matters more than the rates.
                rate.clear();
                rate_w = 0;
            }
            let bar_w = content_width(size.width, pane_open) as i64;
            let rate_x = (bar_w - rate_w - 6).max(0);
            let clip = rate_x.max(0) as usize;
            // The unread badge comes first: it must stay visible.
            let mut x = 6;
            if unread > 0 && !pane_open {
                let badge = format!("{unread} new: Ctrl+Alt+Shift+T");
                let bw = text.width(&badge) + 8;
                let right = ((x + bw).max(0) as usize).min(stride);
                let left = (x.max(0) as usize).min(right);
                for row in 2..bar_rows.saturating_sub(2) {
                    if let Some(px) = bar_px.get_mut(row * stride + left..row * stride + right) {
                        px.fill(pane::BADGE_BG);
                    }
                }
                text.draw(
                    bar_px,
                    stride,
                    bar_rows,
                    right,
                    x + 4,
                    baseline,
                    &badge,
                    pane::WHITE,
                );
                x += bw + 8;
            }
            x = text.draw(
                bar_px,
                stride,
                bar_rows,
                clip.saturating_sub(8),
                x,
                baseline,
                label,
                colour,
            );
            if let Some(msg) = &s.status.message {
                x = text.draw(
                    bar_px,
                    stride,
                    bar_rows,
                    clip.saturating_sub(8),
                    x,
                    baseline,
                    "  ·  ",
                    INFO_FG,
                );
                text.draw(
                    bar_px,
                    stride,
                    bar_rows,
                    clip.saturating_sub(8),
                    x,
                    baseline,
                    msg,
                    INFO_FG,
                );
            }
            text.draw(
                bar_px, stride, bar_rows, stride, rate_x, baseline, &rate, INFO_FG,
            );
        }
        // Side pane, right of the desktop and its status bar.
        s.pane_layout = pane::PaneLayout::default();
        if let Some(p) = pane.filter(|p| p.is_open()) {
            let x0 = content_width(size.width, true);
            let pw = size.width - x0;
            let layout = p.layout(pw, size.height, &mut |t| text.width(t));
            pane::draw(
                &mut buffer,
                stride,
                rows,
                x0 as usize,
                pw as usize,
                rows,
                text,
                &layout,
            );
            s.pane_layout = layout;
        }
        buffer.present()?;
        if let Some((w, h)) = resized
            && s.mode == ScaleMode::OneToOne
            && s.window.fullscreen().is_none()
        {
            let pane_w = if pane_open { pane::PANE_WIDTH } else { 0 };
            let _ = s.window.request_inner_size(PhysicalSize::new(
                w.max(160) + pane_w,
                h + STATUS_BAR_HEIGHT,
            ));
        }
        Ok(())
    }
}

/// Width of the desktop area of a window `width` wide.
fn content_width(width: u32, pane_open: bool) -> u32 {
    if pane_open {
        width.saturating_sub(pane::PANE_WIDTH)
    } else {
        width
    }
}

fn human_bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else {
        format!("{:.1} MB", n as f64 / 1e6)
    }
}

/// What a key press means for the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shortcut {
    FullScreen,
    ToggleScale,
    ToggleFilter,
    CtrlAltDel,
    RequestControl,
    Disconnect,
    CycleQuality,
    TogglePane,
}

fn shortcut(event: &KeyEvent, mods: ModifiersState) -> Option<Shortcut> {
    if event.logical_key == Key::Named(NamedKey::F11)
        && !mods.control_key()
        && !mods.alt_key()
        && !mods.shift_key()
    {
        return Some(Shortcut::FullScreen);
    }
    if !(mods.control_key() && mods.alt_key() && mods.shift_key()) {
        return None;
    }
    match &event.logical_key {
        Key::Named(NamedKey::End | NamedKey::Delete) => Some(Shortcut::CtrlAltDel),
        Key::Named(NamedKey::F11) => Some(Shortcut::FullScreen),
        Key::Character(s) => match s.to_lowercase().as_str() {
            "f" => Some(Shortcut::FullScreen),
            "s" => Some(Shortcut::ToggleScale),
            "b" => Some(Shortcut::ToggleFilter),
            "c" => Some(Shortcut::RequestControl),
            "q" => Some(Shortcut::Disconnect),
            "l" => Some(Shortcut::CycleQuality),
            "t" => Some(Shortcut::TogglePane),
            _ => None,
        },
        _ => None,
    }
}

impl WindowManager {
    fn pointer(&mut self, id: SessionId, force: bool) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some((cx, cy)) = s.cursor else {
            return;
        };
        let Some((x, y, inside)) = s.layout.to_framebuffer(cx, cy) else {
            return;
        };
        if !inside && s.buttons == 0 && !force {
            return;
        }
        let state = (x, y, s.buttons);
        if !force && s.last_pointer == Some(state) {
            return;
        }
        s.last_pointer = Some(state);
        let buttons = s.buttons;
        self.emit(id, WindowInput::Pointer { x, y, buttons });
    }

    fn wheel_click(&mut self, id: SessionId, bit: u8) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some((x, y)) = s.last_pointer.map(|p| (p.0, p.1)) else {
            return;
        };
        let held = s.buttons;
        self.emit(
            id,
            WindowInput::Pointer {
                x,
                y,
                buttons: held | bit,
            },
        );
        self.emit(
            id,
            WindowInput::Pointer {
                x,
                y,
                buttons: held,
            },
        );
    }

    fn release_all(&mut self, id: SessionId) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let keys: Vec<Keysym> = s.pressed.drain().map(|(_, k)| k).collect();
        let buttons = std::mem::take(&mut s.buttons);
        let last = s.last_pointer;
        for keysym in keys {
            self.emit(
                id,
                WindowInput::Key {
                    keysym,
                    down: false,
                },
            );
        }
        if buttons != 0
            && let Some((x, y, _)) = last
        {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.last_pointer = Some((x, y, 0));
            }
            self.emit(id, WindowInput::Pointer { x, y, buttons: 0 });
        }
    }

    fn key(&mut self, event_loop: &ActiveEventLoop, id: SessionId, event: KeyEvent) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if event.state == ElementState::Released {
            if let Some(keysym) = s.pressed.remove(&event.physical_key) {
                self.emit(
                    id,
                    WindowInput::Key {
                        keysym,
                        down: false,
                    },
                );
            }
            return;
        }
        let Some(sc) = shortcut(&event, s.modifiers) else {
            if self.panes.get(&id).is_some_and(|p| p.focus().is_some()) {
                let mods = s.modifiers;
                self.pane_key(id, &event, mods);
                return;
            }
            let Some(keysym) =
                keysym::keysym(&event.logical_key, event.location, event.text.as_deref())
            else {
                return;
            };
            s.pressed.insert(event.physical_key, keysym);
            self.emit(id, WindowInput::Key { keysym, down: true });
            return;
        };
        match sc {
            Shortcut::FullScreen => {
                let fs = if s.window.fullscreen().is_some() {
                    None
                } else {
                    Some(Fullscreen::Borderless(None))
                };
                s.window.set_fullscreen(fs);
            }
            Shortcut::ToggleScale => {
                s.mode = match s.mode {
                    ScaleMode::Fit => ScaleMode::OneToOne,
                    ScaleMode::OneToOne => ScaleMode::Fit,
                };
                s.window.request_redraw();
            }
            Shortcut::ToggleFilter => {
                s.filter = match s.filter {
                    Filter::Bilinear => Filter::Nearest,
                    Filter::Nearest => Filter::Bilinear,
                };
                s.window.request_redraw();
            }
            Shortcut::CtrlAltDel => {
                self.release_all(id);
                for (keysym, down) in [
                    (xk::CONTROL_L, true),
                    (xk::ALT_L, true),
                    (xk::DELETE, true),
                    (xk::DELETE, false),
                    (xk::ALT_L, false),
                    (xk::CONTROL_L, false),
                ] {
                    self.emit(id, WindowInput::Key { keysym, down });
                }
            }
            Shortcut::RequestControl => self.emit(id, WindowInput::RequestControl),
            Shortcut::CycleQuality => {
                let q = s.quality.unwrap_or_default().next();
                s.quality = Some(q);
                s.window.request_redraw();
                self.emit(id, WindowInput::Quality(q));
            }
            Shortcut::Disconnect => {
                self.release_all(id);
                self.close(event_loop, id, true);
            }
            Shortcut::TogglePane => {
                let p = self.panes.entry(id).or_default();
                p.toggle();
                let open = p.is_open();
                if s.window.fullscreen().is_none() {
                    let size = s.window.inner_size();
                    let w = if open {
                        size.width.saturating_add(pane::PANE_WIDTH)
                    } else {
                        size.width.saturating_sub(pane::PANE_WIDTH).max(160)
                    };
                    let _ = s
                        .window
                        .request_inner_size(PhysicalSize::new(w, size.height));
                }
                s.window.request_redraw();
            }
        }
    }

    /// A key pressed while a field of the side pane has the focus.
    fn pane_key(&mut self, id: SessionId, event: &KeyEvent, mods: ModifiersState) {
        let key = match &event.logical_key {
            Key::Named(NamedKey::Enter) => Some(pane::PaneKey::Enter),
            Key::Named(NamedKey::Escape) => Some(pane::PaneKey::Escape),
            Key::Named(NamedKey::Backspace) => Some(pane::PaneKey::Backspace),
            Key::Named(NamedKey::Tab) => Some(pane::PaneKey::Tab),
            Key::Character(c)
                if mods.control_key() && !mods.alt_key() && c.eq_ignore_ascii_case("v") =>
            {
                match self.clipboard().map(|c| c.get_text()) {
                    Some(Ok(t)) => Some(pane::PaneKey::Text(t)),
                    _ => None,
                }
            }
            _ if mods.control_key() => None,
            _ => event
                .text
                .as_ref()
                .map(|t| pane::PaneKey::Text(t.to_string())),
        };
        let Some(key) = key else {
            return;
        };
        let action = self.panes.get_mut(&id).and_then(|p| p.key(key));
        if let Some(s) = self.sessions.get(&id) {
            s.window.request_redraw();
        }
        if let Some(a) = action {
            self.emit(id, WindowInput::Pane(a));
        }
    }

    /// A left click at `(x, y)` on the side pane (window coordinates).
    fn pane_click(&mut self, id: SessionId, x: f64, y: f64) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let hit = s.pane_layout.hit(x - f64::from(s.layout.area_w), y);
        s.window.request_redraw();
        let action = hit.and_then(|h| self.panes.get_mut(&id)?.click(h));
        if let Some(a) = action {
            self.emit(id, WindowInput::Pane(a));
        }
    }

    fn focused(&mut self, id: SessionId, focused: bool) {
        if !focused {
            self.release_all(id);
            return;
        }
        let text = match self.clipboard().map(|c| c.get_text()) {
            Some(Ok(t)) => t,
            _ => return,
        };
        if text.is_empty() || self.last_clipboard.as_deref() == Some(text.as_str()) {
            return;
        }
        self.last_clipboard = Some(text.clone());
        self.emit(id, WindowInput::Clipboard(text));
    }

    fn handle(&mut self, event_loop: &ActiveEventLoop, id: SessionId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested | WindowEvent::Destroyed => {
                self.release_all(id);
                self.close(event_loop, id, true);
            }
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw(id) {
                    tracing::warn!("session {id}: cannot draw: {e}");
                }
            }
            WindowEvent::Resized(_) => {
                if let Some(s) = self.sessions.get(&id) {
                    s.window.request_redraw();
                }
            }
            WindowEvent::Focused(f) => self.focused(id, f),
            WindowEvent::DroppedFile(path) => {
                self.emit(id, WindowInput::Pane(PaneAction::SendFile(path)));
            }
            WindowEvent::ModifiersChanged(m) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.modifiers = m.state();
                }
            }
            WindowEvent::KeyboardInput { event, .. } => self.key(event_loop, id, event),
            WindowEvent::CursorMoved { position, .. } => {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                s.cursor = Some((position.x, position.y));
                if s.mode == ScaleMode::OneToOne {
                    let before = s.layout;
                    let size = s.window.inner_size();
                    let pane_open = self.panes.get(&id).is_some_and(|p| p.is_open());
                    let area = (
                        content_width(size.width, pane_open),
                        size.height.saturating_sub(STATUS_BAR_HEIGHT),
                    );
                    s.layout =
                        Layout::compute(s.mode, area, (before.src_w, before.src_h), s.cursor);
                    if s.layout != before {
                        s.window.request_redraw();
                    }
                }
                self.pointer(id, false);
            }
            WindowEvent::CursorLeft { .. } => {
                if let Some(s) = self.sessions.get_mut(&id)
                    && s.buttons == 0
                {
                    s.cursor = None;
                }
            }
            WindowEvent::MouseInput { state, button, .. } => {
                let bit = match button {
                    MouseButton::Left => 1,
                    MouseButton::Middle => 2,
                    MouseButton::Right => 4,
                    _ => return,
                };
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                let pane = self.panes.get_mut(&id);
                if let (Some(p), Some((cx, cy))) = (pane, s.cursor)
                    && p.is_open()
                {
                    let on_pane = cx >= f64::from(s.layout.area_w);
                    if on_pane && s.buttons == 0 {
                        if state == ElementState::Pressed && bit == 1 {
                            self.pane_click(id, cx, cy);
                        }
                        return;
                    }
                    if state == ElementState::Pressed && p.focus().is_some() {
                        // A click on the desktop leaves the pane's field.
                        p.unfocus();
                        s.window.request_redraw();
                    }
                }
                if state == ElementState::Pressed {
                    s.buttons |= bit;
                } else {
                    s.buttons &= !bit;
                }
                self.pointer(id, true);
            }
            WindowEvent::MouseWheel { delta, .. } => {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                if let (Some(p), Some((cx, _))) = (self.panes.get_mut(&id), s.cursor)
                    && p.is_open()
                    && cx >= f64::from(s.layout.area_w)
                {
                    // Over the pane: scrolls the chat, nothing for the customer.
                    let lines = match delta {
                        MouseScrollDelta::LineDelta(_, y) => y.round() as i32,
                        MouseScrollDelta::PixelDelta(PhysicalPosition { y, .. }) => {
                            (y / 40.0).round() as i32
                        }
                    };
                    if p.scroll(lines) {
                        s.window.request_redraw();
                    }
                    return;
                }
                let (dx, dy) = match delta {
                    MouseScrollDelta::LineDelta(x, y) => (f64::from(x), f64::from(y)),
                    MouseScrollDelta::PixelDelta(PhysicalPosition { x, y }) => (x / 40.0, y / 40.0),
                };
                s.wheel.0 += dx;
                s.wheel.1 += dy;
                let mut clicks = Vec::new();
                while s.wheel.1 >= 1.0 {
                    s.wheel.1 -= 1.0;
                    clicks.push(8u8); // button 4: up
                }
                while s.wheel.1 <= -1.0 {
                    s.wheel.1 += 1.0;
                    clicks.push(16); // button 5: down
                }
                while s.wheel.0 <= -1.0 {
                    s.wheel.0 += 1.0;
                    clicks.push(32); // button 6: left
                }
                while s.wheel.0 >= 1.0 {
                    s.wheel.0 -= 1.0;
                    clicks.push(64); // button 7: right
                }
                for bit in clicks {
                    self.wheel_click(id, bit);
                }
            }
            _ => {}
        }
    }
}

impl WindowManager {
    fn open_dialog(
        &mut self,
        event_loop: &ActiveEventLoop,
        id: SessionId,
        info: &IncomingInfo,
    ) -> Result<(), WindowError> {
        self.close_dialog(id);
        let lines = dialog::lines(id, info);
        let widest = lines
            .iter()
            .map(|(line, _)| self.text.width(line))
            .max()
            .unwrap_or(0);
        let layout = dialog::DialogLayout::new(lines.len(), u32::try_from(widest).unwrap_or(0));
        let attrs = Window::default_attributes()
            .with_title(dialog::dialog_title(id))
            .with_resizable(false)
            .with_inner_size(PhysicalSize::new(layout.width, layout.height));
        let window = Rc::new(event_loop.create_window(attrs)?);
        let context = softbuffer::Context::new(window.clone())?;
        let surface = softbuffer::Surface::new(&context, window.clone())?;
        self.dialog_by_window.insert(window.id(), id);
        window.request_redraw();
        window.focus_window();
        self.dialogs.insert(
            id,
            DialogWindow {
                window,
                surface,
                lines,
                layout,
                cursor: None,
                hover: None,
            },
        );
        Ok(())
    }

    fn close_dialog(&mut self, id: SessionId) {
        if let Some(d) = self.dialogs.remove(&id) {
            self.dialog_by_window.remove(&d.window.id());
        }
    }

    fn answer(&mut self, id: SessionId, answer: dialog::Answer) {
        if self.dialogs.contains_key(&id) {
            self.close_dialog(id);
            self.emit(
                id,
                match answer {
                    dialog::Answer::Accept => WindowInput::Accept,
                    dialog::Answer::Refuse => WindowInput::Refuse,
                },
            );
        }
    }

    fn redraw_dialog(&mut self, id: SessionId) -> Result<(), WindowError> {
        let text = &mut self.text;
        let Some(d) = self.dialogs.get_mut(&id) else {
            return Ok(());
        };
        let size = d.window.inner_size();
        let (Some(ww), Some(wh)) = (NonZeroU32::new(size.width), NonZeroU32::new(size.height))
        else {
            return Ok(());
        };
        d.surface.resize(ww, wh)?;
        let mut buffer = d.surface.buffer_mut()?;
        dialog::draw(
            &mut buffer,
            size.width as usize,
            size.height as usize,
            text,
            &d.lines,
            &d.layout,
            d.hover,
        );
        buffer.present()?;
        Ok(())
    }

    fn dialog_event(&mut self, id: SessionId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => self.answer(id, dialog::Answer::Refuse),
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw_dialog(id) {
                    tracing::warn!("session {id}: cannot draw the accept dialog: {e}");
                }
            }
            WindowEvent::Resized(_) => {
                if let Some(d) = self.dialogs.get(&id) {
                    d.window.request_redraw();
                }
            }
            WindowEvent::CursorMoved { position, .. } => {
                if let Some(d) = self.dialogs.get_mut(&id) {
                    d.cursor = Some((position.x, position.y));
                    let hover = d.layout.hit(position.x, position.y);
                    if hover != d.hover {
                        d.hover = hover;
                        d.window.request_redraw();
                    }
                }
            }
            WindowEvent::MouseInput {
                state: ElementState::Released,
                button: MouseButton::Left,
                ..
            } => {
                let hit = self
                    .dialogs
                    .get(&id)
                    .and_then(|d| d.cursor.and_then(|(x, y)| d.layout.hit(x, y)));
                if let Some(answer) = hit {
                    self.answer(id, answer);
                }
            }
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                match event.logical_key {
                    Key::Named(NamedKey::Enter) => self.answer(id, dialog::Answer::Accept),
                    Key::Named(NamedKey::Escape) => self.answer(id, dialog::Answer::Refuse),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

impl ApplicationHandler<ViewerEvent> for WindowManager {
    fn resumed(&mut self, _event_loop: &ActiveEventLoop) {}

    fn user_event(&mut self, event_loop: &ActiveEventLoop, event: ViewerEvent) {
        match event {
            ViewerEvent::OpenSession {
                id,
                title,
                framebuffer,
            } => {
                if let Err(e) = self.open(event_loop, id, title, framebuffer) {
                    tracing::warn!("session {id}: {e}");
                    self.emit(id, WindowInput::Closed);
                }
            }
            ViewerEvent::Frame { id, .. } => {
                if let Some(s) = self.sessions.get(&id) {
                    s.window.request_redraw();
                }
            }
            ViewerEvent::SessionState { id, status } => {
                if let Some(s) = self.sessions.get_mut(&id)
                    && s.status != status
                {
                    s.status = status;
                    s.window.request_redraw();
                }
            }
            ViewerEvent::SetClipboard { text } => {
                if let Some(c) = self.clipboard()
                    && let Err(e) = c.set_text(text.clone())
                {
                    tracing::warn!("cannot set the clipboard: {e}");
                }
                self.last_clipboard = Some(text);
            }
            ViewerEvent::CloseSession { id } => self.close(event_loop, id, false),
            ViewerEvent::SessionQuality { id, quality } => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.quality = Some(quality);
                    s.window.request_redraw();
                }
            }
            ViewerEvent::Incoming { id, info } => {
                if let Err(e) = self.open_dialog(event_loop, id, &info) {
                    tracing::warn!("session {id}: cannot show the accept dialog: {e}");
                }
            }
            ViewerEvent::IncomingGone { id } => self.close_dialog(id),
            ViewerEvent::Pane { id, update } => {
                let changed = self.panes.entry(id).or_default().apply(update);
                if changed && let Some(s) = self.sessions.get(&id) {
                    s.window.request_redraw();
                }
            }
            ViewerEvent::Shutdown => {
                self.sessions.clear();
                self.by_window.clear();
                self.dialogs.clear();
                self.dialog_by_window.clear();
                self.panes.clear();
                event_loop.exit();
            }
        }
    }

    fn window_event(
        &mut self,
        event_loop: &ActiveEventLoop,
        window_id: WindowId,
        event: WindowEvent,
    ) {
        if let Some(&id) = self.by_window.get(&window_id) {
            self.handle(event_loop, id, event);
        } else if let Some(&id) = self.dialog_by_window.get(&window_id) {
            self.dialog_event(id, event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_say_sas_or_clear() {
        assert_eq!(
            session_title("Verde", "pc1", Some("123 456")),
            "Verde — pc1 — SAS 123 456"
        );
        assert!(session_title("Viola", "pc2", None).contains("CLEAR"));
    }

    #[test]
    fn input_lines_are_stable() {
        assert_eq!(
            WindowInput::Pointer {
                x: 1,
                y: 2,
                buttons: 4
            }
            .to_string(),
            "pointer 1 2 4"
        );
        assert_eq!(
            WindowInput::Key {
                keysym: 0x61,
                down: true
            }
            .to_string(),
            "key 0x61 down"
        );
        assert_eq!(human_bytes(1_500), "1.5 kB");
    }
}
