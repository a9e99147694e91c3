//! The window layer: a winit event loop that turns window events into
//! [`UiInput`], session updates into [`UiModel::update`] calls, and presents
//! the rendered buffer with softbuffer.
//!
//! One window is open at a time: the picker, then the always-on-top panel,
//! then the receipt. If a window cannot be created while a session runs,
//! the UI asks the session to close (there is never a session without its
//! visible panel).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use winit::application::ApplicationHandler;
use winit::dpi::{LogicalSize, PhysicalPosition, PhysicalSize};
use winit::event::{
    ElementState, KeyEvent, MouseButton, MouseScrollDelta, StartCause, WindowEvent,
};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop, EventLoopProxy};
use winit::keyboard::{Key as WKey, NamedKey};
use winit::window::{Window, WindowButtons, WindowId, WindowLevel};

use super::model::{Key, Screen, Target, UiInput, UiModel};
use super::render::{Hit, Renderer, hit_test, window_title};
use super::{PickerData, SessionUpdate, UiAction};

/// Why the UI could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No display, or the event loop failed.
    #[error("cannot open the display: {0}")]
    EventLoop(#[from] winit::error::EventLoopError),
    /// A window could not be created.
    #[error("cannot create a window: {0}")]
    Window(#[from] winit::error::OsError),
    /// The pixel surface failed.
    #[error("cannot draw the window: {0}")]
    Surface(String),
    /// The bundled font is unreadable.
    #[error("cannot load the bundled font: {0}")]
    Font(String),
}

/// Sends [`SessionUpdate`]s to the UI from any thread. Cheap to clone.
#[derive(Clone)]
pub struct UpdateSender {
    proxy: EventLoopProxy<SessionUpdate>,
}

impl std::fmt::Debug for UpdateSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpdateSender")
    }
}

impl UpdateSender {
    /// Delivers `update` to the UI; `false` once the UI has closed.
    pub fn send(&self, update: SessionUpdate) -> bool {
        self.proxy.send_event(update).is_ok()
    }
}

/// The customer's UI, created on the main thread.
pub struct Ui {
    event_loop: EventLoop<SessionUpdate>,
    data: PickerData,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui").field("data", &self.data).finish()
    }
}

impl Ui {
    /// Connects to the display. Must be called on the main thread.
    pub fn new(data: PickerData) -> Result<Self, UiError> {
        let event_loop = EventLoop::<SessionUpdate>::with_user_event().build()?;
        Ok(Self { event_loop, data })
    }

    /// A sender for the session glue (give it to the session before [`Ui::run`]).
    pub fn updates(&self) -> UpdateSender {
        UpdateSender {
            proxy: self.event_loop.create_proxy(),
        }
    }

    /// Shows the picker and runs until the customer closes the picker or
    /// dismisses the receipt. Every [`UiAction`] is passed to `on_action` on
    /// the UI thread (keep it quick: send it to a channel).
    pub fn run(self, on_action: impl FnMut(UiAction)) -> Result<(), UiError> {
        let renderer = Renderer::new().map_err(UiError::Font)?;
        let mut app = App {
            model: UiModel::new(self.data).with_places(super::chooser::Places::detect()),
            renderer,
            on_action,
            win: None,
            kind: None,
            hits: Vec::new(),
            cursor: None,
            start: Instant::now(),
            error: None,
        };
        self.event_loop.run_app(&mut app)?;
        match app.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Which screen a window was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Picker,
    Panel,
    Receipt,
}

fn kind_of(model: &UiModel) -> Kind {
    match model.screen {
        Screen::Picker(_) => Kind::Picker,
        Screen::Panel(_) => Kind::Panel,
        Screen::Receipt(_) => Kind::Receipt,
    }
}

struct Win {
    window: Arc<Window>,
    surface: softbuffer::Surface<Arc<Window>, Arc<Window>>,
    _context: softbuffer::Context<Arc<Window>>,
}

struct App<F: FnMut(UiAction)> {
    model: UiModel,
    renderer: Renderer,
    on_action: F,
    win: Option<Win>,
    kind: Option<Kind>,
    hits: Vec<Hit>,
    cursor: Option<(i32, i32)>,
    start: Instant,
    error: Option<UiError>,
}

impl<F: FnMut(UiAction)> App<F> {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn fail(&mut self, el: &ActiveEventLoop, e: UiError) {
        // Never leave a session (or an attempt) running without a window.
        if self.error.is_none() {
            (self.on_action)(UiAction::Close);
        }
        self.error = Some(e);
        el.exit();
    }

    fn input(&mut self, el: &ActiveEventLoop, input: UiInput) {
        if let Some(action) = self.model.handle(input) {
            (self.on_action)(action);
        }
        self.serve_listings();
        self.after_change(el);
    }

    /// Reads the folders the file chooser asks for (the model does no IO).
    fn serve_listings(&mut self) {
        // A file path may lead to its folder: a few rounds at most.
        for _ in 0..4 {
            let Some(path) = self.model.take_listing_request() else {
                return;
            };
            let listing = super::chooser::list_dir(&path);
            if let Some(action) = self.model.set_listing(path, listing) {
                (self.on_action)(action);
            }
        }
    }

    /// Opens the right window for the current screen, redraws, or exits.
    fn after_change(&mut self, el: &ActiveEventLoop) {
        if self.model.finished() {
            self.win = None;
            el.exit();
            return;
        }
        let kind = kind_of(&self.model);
        if self.kind != Some(kind) {
            self.win = None;
            self.hits.clear();
            self.cursor = None;
            if let Err(e) = self.open(el, kind) {
                self.fail(el, e);
                return;
            }
        }
        if let Some(w) = &self.win {
            // The file chooser changes the title of the window it takes over.
            let title = window_title(&self.model);
            if w.window.title() != title {
                w.window.set_title(&title);
            }
            // Content can grow (e.g. a longer receipt text): follow it.
            let scale = w.window.scale_factor() as f32;
            let (pw, ph) = self.renderer.size(&self.model, scale);
            if w.window.inner_size() != PhysicalSize::new(pw, ph) {
                let _ = w.window.request_inner_size(PhysicalSize::new(pw, ph));
            }
            w.window.request_redraw();
        }
    }

    fn open(&mut self, el: &ActiveEventLoop, kind: Kind) -> Result<(), UiError> {
        let (w, h) = self.renderer.size(&self.model, 1.0);
        let mut attrs = Window::default_attributes()
            .with_title(window_title(&self.model))
            .with_inner_size(LogicalSize::new(f64::from(w), f64::from(h)))
            .with_resizable(false)
            .with_enabled_buttons(WindowButtons::CLOSE);
        let monitor = el
            .primary_monitor()
            .or_else(|| el.available_monitors().next());
        if let Some(m) = monitor {
            let ms = m.size();
            let mp = m.position();
            let sf = m.scale_factor();
            let pw = (f64::from(w) * sf) as i32;
            let ph = (f64::from(h) * sf) as i32;
            let (mw, mh) = (
                i32::try_from(ms.width).unwrap_or(0),
                i32::try_from(ms.height).unwrap_or(0),
            );
            let pos = match kind {
                // Top-right corner, clear of the screen edge.
                Kind::Panel => PhysicalPosition::new(mp.x + (mw - pw - 24).max(0), mp.y + 24),
                _ => PhysicalPosition::new(
                    mp.x + ((mw - pw) / 2).max(0),
                    mp.y + ((mh - ph) / 3).max(0),
                ),
            };
            attrs = attrs.with_position(pos);
        }
        if kind == Kind::Panel {
            attrs = attrs.with_window_level(WindowLevel::AlwaysOnTop);
        }
        let window = Arc::new(el.create_window(attrs)?);
        let context = softbuffer::Context::new(window.clone())
            .map_err(|e| UiError::Surface(e.to_string()))?;
        let surface = softbuffer::Surface::new(&context, window.clone())
            .map_err(|e| UiError::Surface(e.to_string()))?;
        window.request_redraw();
        self.win = Some(Win {
            window,
            surface,
            _context: context,
        });
        self.kind = Some(kind);
        Ok(())
    }

    fn redraw(&mut self) -> Result<(), UiError> {
        let Some(win) = self.win.as_mut() else {
            return Ok(());
        };
        let size = win.window.inner_size();
        let (Some(w), Some(h)) = (NonZeroU32::new(size.width), NonZeroU32::new(size.height)) else {
            return Ok(());
        };
        let scale = win.window.scale_factor() as f32;
        let err = |e: softbuffer::SoftBufferError| UiError::Surface(e.to_string());
        win.surface.resize(w, h).map_err(err)?;
        let mut buffer = win.surface.buffer_mut().map_err(err)?;
        self.hits = self
            .renderer
            .render(&self.model, scale, &mut buffer, w.get(), h.get());
        buffer.present().map_err(err)?;
        Ok(())
    }

    fn target_at_cursor(&self) -> Option<Target> {
        self.cursor.and_then(|(x, y)| hit_test(&self.hits, x, y))
    }
}

/// The UI keys of one key press: a named key, or the characters it typed
/// (the text winit composed, so space, dead keys and layouts work).
fn map_key(event: &KeyEvent) -> Vec<Key> {
    let named = match &event.logical_key {
        WKey::Named(NamedKey::ArrowUp) => Key::Up,
        WKey::Named(NamedKey::ArrowDown) => Key::Down,
        WKey::Named(NamedKey::PageUp) => Key::PageUp,
        WKey::Named(NamedKey::PageDown) => Key::PageDown,
        WKey::Named(NamedKey::Home) => Key::Home,
        WKey::Named(NamedKey::End) => Key::End,
        WKey::Named(NamedKey::Enter) => Key::Enter,
        WKey::Named(NamedKey::Escape) => Key::Escape,
        WKey::Named(NamedKey::Backspace) => Key::Backspace,
        _ => {
            return event
                .text
                .as_deref()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .map(Key::Char)
                .collect();
        }
    };
    vec![named]
}

impl<F: FnMut(UiAction)> ApplicationHandler<SessionUpdate> for App<F> {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.win.is_none() {
            self.after_change(el);
        }
    }

    fn new_events(&mut self, el: &ActiveEventLoop, cause: StartCause) {
        if let StartCause::ResumeTimeReached { .. } = cause {
            let now = self.now_ms();
            self.input(el, UiInput::Tick { time_ms: now });
        }
    }

    fn user_event(&mut self, el: &ActiveEventLoop, update: SessionUpdate) {
        let now = self.now_ms();
        self.model.update(update, now);
        self.after_change(el);
    }

    fn window_event(&mut self, el: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => self.input(el, UiInput::CloseRequested),
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw() {
                    self.fail(el, e);
                }
            }
            WindowEvent::Resized(_) | WindowEvent::ScaleFactorChanged { .. } => {
                if let Some(w) = &self.win {
                    w.window.request_redraw();
                }
            }
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                for k in map_key(&event) {
                    self.input(el, UiInput::Key(k));
                }
            }
            WindowEvent::CursorMoved { position, .. } => {
                let before = self.target_at_cursor();
                self.cursor = Some((position.x as i32, position.y as i32));
                let now = self.target_at_cursor();
                if now != before {
                    self.input(el, UiInput::Hover(now));
                }
            }
            WindowEvent::CursorLeft { .. } => {
                self.cursor = None;
                self.input(el, UiInput::Hover(None));
            }
            WindowEvent::MouseInput {
                state: ElementState::Pressed,
                button: MouseButton::Left,
                ..
            } => {
                let target = self.target_at_cursor();
                let time_ms = self.now_ms();
                self.input(el, UiInput::Press { target, time_ms });
            }
            WindowEvent::MouseWheel { delta, .. } => {
                let rows = match delta {
                    MouseScrollDelta::LineDelta(_, y) => -y.round() as i32,
                    MouseScrollDelta::PixelDelta(PhysicalPosition { y, .. }) => {
                        -(y / 40.0).round() as i32
                    }
                };
                if rows != 0 {
                    self.input(el, UiInput::Scroll(rows));
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, el: &ActiveEventLoop) {
        // The panel's clock: wake at each new second of the session.
        if let Screen::Panel(p) = &self.model.screen {
            let now = self.now_ms();
            let since = now.saturating_sub(p.started_ms);
            let wait = 1000 - since % 1000;
            el.set_control_flow(ControlFlow::WaitUntil(
                Instant::now() + Duration::from_millis(wait),
            ));
        } else {
            el.set_control_flow(ControlFlow::Wait);
        }
    }
}
