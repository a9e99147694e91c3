//! The server role (what the customer's Remoto runs), sans-IO.
//!
//! Feed received bytes to [`ServerSession::receive`], send what
//! [`ServerSession::take_output`] returns, handle
//! [`ServerSession::poll_event`]. When [`ServerSession::wants_update`] is
//! true and the screen changed (or [`ServerSession::must_update`] is true),
//! call [`ServerSession::write_update`].
//!
//! Update requests are merged into one pending region, so a client sending
//! 10⁵ requests a second gets at most one update per `write_update` call.

use std::collections::{HashMap, VecDeque};

use crate::encoding::copyrect::{CopyMove, write_copy_rect};
use crate::encoding::hextile::HextileEncoder;
use crate::encoding::raw::RawEncoder;
use crate::encoding::rre::RreEncoder;
use crate::encoding::tight::TightEncoder;
use crate::encoding::zrle::ZrleEncoder;
use crate::encoding::{EncodeContext, EncodeError, EncodeSettings, Encoder, id};
use crate::framebuffer::{Framebuffer, Rect};
use crate::handshake::{self, ClientInit, HandshakeError, SECURITY_NONE, ServerInit, Version};
use crate::limits::{MAX_BUFFERED_INPUT, MAX_NAME_LEN};
use crate::msgs::clipboard::ClipboardState;
use crate::msgs::cut_text::CutTextFrame;
use crate::msgs::{
    CLIENT_CUT_TEXT, ClientMessage, CutText, CutTextPayload, EndOfContinuousUpdates,
    ExtendedClipboard, Fence, FramebufferUpdate, Message, MsgError, SERVER_CUT_TEXT, Screen,
    ServerMessage, string_to_latin1, text_from_wire,
};
use crate::pixel::{PixelCodec, PixelFormat};
use crate::pseudo::cursor::CursorShape;
use crate::pseudo::desktop_name::write_desktop_name;
use crate::pseudo::desktop_size::{ExtendedDesktopSize, reason, status, write_desktop_size};
use crate::pseudo::last_rect::write_last_rect;
use crate::reader::Reader;

/// How the server session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Screen width.
    pub width: u16,
    /// Screen height.
    pub height: u16,
    /// Desktop name (truncated to [`MAX_NAME_LEN`]).
    pub name: String,
    /// Pixel format announced in ServerInit (normally RGB888).
    pub pixel_format: PixelFormat,
}

impl ServerConfig {
    /// A configuration with the native RGB888 format.
    pub fn new(width: u16, height: u16, name: impl Into<String>) -> Self {
        Self {
            width,
            height,
            name: name.into(),
            pixel_format: PixelFormat::RGB888,
        }
    }
}

/// Something the application should act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The handshake finished.
    ClientReady {
        /// The client's shared flag.
        shared: bool,
    },
    /// A key (keysym) went down or up.
    Key {
        /// Pressed.
        down: bool,
        /// X11 keysym.
        keysym: u32,
    },
    /// A QEMU extended key event.
    QemuKey {
        /// Pressed.
        down: bool,
        /// X11 keysym.
        keysym: u32,
        /// XT scancode.
        keycode: u32,
    },
    /// Pointer state, clamped to the screen.
    Pointer {
        /// Button mask.
        mask: u8,
        /// Column.
        x: u16,
        /// Row.
        y: u16,
    },
    /// Clipboard text from the client.
    CutText(String),
    /// An update request arrived while none was pending.
    UpdateRequested,
    /// The client asks for a new desktop size; answer with
    /// [`ServerSession::desktop_size_reply`].
    SetDesktopSize {
        /// Requested width.
        width: u16,
        /// Requested height.
        height: u16,
        /// Requested layout.
        screens: Vec<Screen>,
    },
    /// The client changed its pixel format.
    PixelFormat(PixelFormat),
    /// The client sent a new encodings list.
    Encodings(Vec<i32>),
    /// Continuous updates were turned on or off.
    ContinuousUpdates {
        /// Now on.
        enabled: bool,
    },
    /// A Fence arrived (requests have already been answered).
    Fence(Fence),
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// The handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// A malformed or hostile message (bad pixel format, unknown type…).
    #[error("message: {0}")]
    Message(MsgError),
    /// The client picked a security type we did not offer.
    #[error("client chose security type {0}, only None (1) is offered")]
    Security(u8),
    /// An encoder failed.
    #[error("encoding: {0}")]
    Encode(#[from] EncodeError),
    /// More rectangles than one update can carry.
    #[error("{0} rectangles do not fit one update")]
    TooManyRects(usize),
    /// Too many bytes buffered while waiting for a message to complete.
    #[error("more than {0} bytes buffered")]
    BufferLimit(usize),
    /// The session already failed.
    #[error("the session has already failed")]
    Failed,
}

impl From<MsgError> for ServerError {
    fn from(e: MsgError) -> Self {
        ServerError::Message(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Version,
    SecurityChoice,
    ClientInit,
    Normal,
    Discard { remaining: u64 },
    Failed,
}

/// What the client announced in SetEncodings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ClientCaps {
    copy_rect: bool,
    cursor: bool,
    desktop_size: bool,
    extended_desktop_size: bool,
    desktop_name: bool,
    last_rect: bool,
    extended_clipboard: bool,
    continuous_updates: bool,
    fence: bool,
    qemu_key: bool,
}

/// The server side of one RFB connection.
pub struct ServerSession {
    config: ServerConfig,
    state: State,
    version: Version,
    input: Vec<u8>,
    output: Vec<u8>,
    events: VecDeque<ServerEvent>,
    codec: PixelCodec,
    encodings: Vec<i32>,
    caps: ClientCaps,
    settings: EncodeSettings,
    encoders: HashMap<i32, Box<dyn Encoder>>,
    /// Size the client knows.
    width: u16,
    height: u16,
    pending: Option<Rect>,
    full: Option<Rect>,
    continuous: Option<Rect>,
    size_reply: Option<u16>,
    send_layout: bool,
    name_changed: bool,
    clipboard: ClipboardState,
    sent_fence: bool,
    sent_eocu: bool,
    sent_clip_caps: bool,
    ready: bool,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("state", &self.state)
            .field("encodings", &self.encodings)
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    /// Encodings this build can encode (besides CopyRect, which needs moves).
    pub fn supported_encodings() -> Vec<i32> {
        Self::encoder_registry().keys().copied().collect()
    }

    fn encoder_registry() -> HashMap<i32, Box<dyn Encoder>> {
        let list: Vec<Box<dyn Encoder>> = vec![
            Box::new(RawEncoder),
            Box::new(RreEncoder::default()),
            Box::new(HextileEncoder::default()),
            Box::new(ZrleEncoder::default()),
            Box::new(TightEncoder::default()),
        ];
        list.into_iter().map(|e| (e.encoding(), e)).collect()
    }

    /// A session that has queued the server's ProtocolVersion.
    pub fn new(config: ServerConfig) -> Self {
        let mut output = Vec::new();
        Version::V3_8.write(&mut output);
        let codec = PixelCodec::new(config.pixel_format).unwrap_or_else(|_| PixelCodec::native());
        Self {
            width: config.width,
            height: config.height,
            config,
            state: State::Version,
            version: Version::V3_8,
            input: Vec::new(),
            output,
            events: VecDeque::new(),
            codec,
            encodings: Vec::new(),
            caps: ClientCaps::default(),
            settings: EncodeSettings::default(),
            encoders: Self::encoder_registry(),
            pending: None,
            full: None,
            continuous: None,
            size_reply: None,
            send_layout: false,
            name_changed: false,
            clipboard: ClipboardState::new(false),
            sent_fence: false,
            sent_eocu: false,
            sent_clip_caps: false,
            ready: false,
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Bytes to send to the client (and forgets them).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Bytes to send, without taking them; see [`consume`](Self::consume).
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Forgets the first `n` bytes of [`output`](Self::output).
    pub fn consume(&mut self, n: usize) {
        self.output.drain(..n.min(self.output.len()));
    }

    /// True once ClientInit arrived.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The client's pixel format.
    pub fn pixel_format(&self) -> &PixelFormat {
        self.codec.format()
    }

    /// The client's encodings, in its order of preference.
    pub fn encodings(&self) -> &[i32] {
        &self.encodings
    }

    /// The encoding used for pixel rectangles: the first of the client's
    /// list that this build can encode, else Raw.
    pub fn chosen_encoding(&self) -> i32 {
        self.encodings
            .iter()
            .copied()
            .find(|e| self.encoders.contains_key(e))
            .unwrap_or(id::RAW)
    }

    /// Compression and quality levels the client asked for.
    pub fn settings(&self) -> EncodeSettings {
        self.settings
    }

    /// True when continuous updates are on.
    pub fn continuous_updates(&self) -> bool {
        self.continuous.is_some()
    }

    /// True when an update may be sent (a request is pending or continuous
    /// updates are on): send one as soon as something changed.
    pub fn wants_update(&self) -> bool {
        self.ready && (self.pending.is_some() || self.continuous.is_some())
    }

    /// True when an update must be sent even if nothing changed (a
    /// non-incremental request, a pending size reply or layout).
    pub fn must_update(&self) -> bool {
        self.wants_update()
            && (self.full.is_some()
                || self.size_reply.is_some()
                || (self.send_layout && self.caps.extended_desktop_size)
                || (self.name_changed && self.caps.desktop_name))
    }

    /// Processes received bytes. After an error the session is dead.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), ServerError> {
        if self.state == State::Failed {
            return Err(ServerError::Failed);
        }
        let mut buf = std::mem::take(&mut self.input);
        buf.extend_from_slice(bytes);
        let mut r = Reader::new(&buf);
        let res = loop {
            match self.step(&mut r) {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let pos = r.position();
        buf.drain(..pos);
        self.input = buf;
        let res = if res.is_ok() && self.input.len() > MAX_BUFFERED_INPUT {
            Err(ServerError::BufferLimit(MAX_BUFFERED_INPUT))
        } else {
            res
        };
        if res.is_err() {
            self.state = State::Failed;
            self.input = Vec::new();
        }
        res
    }

    fn step(&mut self, r: &mut Reader<'_>) -> Result<bool, ServerError> {
        if r.remaining() == 0 {
            return Ok(false);
        }
        macro_rules! need {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(HandshakeError::Incomplete) => return Ok(false),
                    Err(e) => return Err(e.into()),
                }
            };
        }
        match self.state {
            State::Failed => Err(ServerError::Failed),
            State::Version => {
                let v = need!(Version::read_client(r));
                self.version = v;
                if v == Version::V3_3 {
                    handshake::write_security_33(&mut self.output, SECURITY_NONE);
                    self.state = State::ClientInit;
                } else {
                    handshake::write_security_types(&mut self.output, &[SECURITY_NONE]);
                    self.state = State::SecurityChoice;
                }
                Ok(true)
            }
            State::SecurityChoice => {
                let choice = r.u8().map_err(MsgError::from)?;
                if choice != SECURITY_NONE {
                    handshake::write_security_result(
                        &mut self.output,
                        Some("only security type None is offered"),
                        self.version,
                    );
                    return Err(ServerError::Security(choice));
                }
                if self.version == Version::V3_8 {
                    handshake::write_security_result(&mut self.output, None, self.version);
                }
                self.state = State::ClientInit;
                Ok(true)
            }
            State::ClientInit => {
                let init = need!(ClientInit::read(r));
                ServerInit {
                    width: self.config.width,
                    height: self.config.height,
                    format: self.config.pixel_format,
                    name: self.config.name.clone(),
                }
                .write(&mut self.output);
                self.state = State::Normal;
                self.ready = true;
                self.events.push_back(ServerEvent::ClientReady {
                    shared: init.shared,
                });
                Ok(true)
            }
            State::Normal => self.read_message(r),
            State::Discard { remaining } => {
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(r.remaining());
                r.skip(n).map_err(MsgError::from)?;
                let left = remaining - n as u64;
                self.state = if left == 0 {
                    State::Normal
                } else {
                    State::Discard { remaining: left }
                };
                Ok(true)
            }
        }
    }

    fn read_message(&mut self, r: &mut Reader<'_>) -> Result<bool, ServerError> {
        if r.rest().first() == Some(&CLIENT_CUT_TEXT) {
            let mut peek = r.clone();
            match CutText::read_frame(CLIENT_CUT_TEXT, &mut peek) {
                Ok(CutTextFrame::TooLong(n)) => {
                    r.set_position(peek.position());
                    self.state = State::Discard { remaining: n };
                    return Ok(true);
                }
                Ok(_) => {}
                Err(MsgError::Incomplete) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
            match CutText::read_lenient(CLIENT_CUT_TEXT, r) {
                Ok(Ok(m)) => self.on_cut_text(m),
                Ok(Err(_)) => {} // bad ExtendedClipboard payload: skipped
                Err(MsgError::Incomplete) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
            return Ok(true);
        }
        let msg = match ClientMessage::read(r) {
            Ok(m) => m,
            Err(MsgError::Incomplete) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        match msg {
            ClientMessage::SetPixelFormat(m) => {
                self.codec = PixelCodec::new(m.format).map_err(MsgError::from)?;
                self.events.push_back(ServerEvent::PixelFormat(m.format));
            }
            ClientMessage::SetEncodings(m) => self.on_set_encodings(m.encodings),
            ClientMessage::FramebufferUpdateRequest(m) => {
                let rect = m.rect.clip_to(self.width, self.height);
                if !rect.is_empty() {
                    if self.pending.is_none() {
                        self.events.push_back(ServerEvent::UpdateRequested);
                    }
                    self.pending = Some(self.pending.map_or(rect, |p| p.union(&rect)));
                    if !m.incremental {
                        self.full = Some(self.full.map_or(rect, |p| p.union(&rect)));
                    }
                }
            }
            ClientMessage::KeyEvent(m) => self.events.push_back(ServerEvent::Key {
                down: m.down,
                keysym: m.keysym,
            }),
            ClientMessage::QemuKeyEvent(m) => self.events.push_back(ServerEvent::QemuKey {
                down: m.down,
                keysym: m.keysym,
                keycode: m.keycode,
            }),
            ClientMessage::PointerEvent(m) => self.events.push_back(ServerEvent::Pointer {
                mask: m.mask,
                x: m.x.min(self.width.saturating_sub(1)),
                y: m.y.min(self.height.saturating_sub(1)),
            }),
            ClientMessage::CutText(m) => self.on_cut_text(m),
            ClientMessage::EnableContinuousUpdates(m) => {
                if m.enable {
                    let rect = m.rect.clip_to(self.width, self.height);
                    self.continuous = Some(rect);
                } else {
                    self.continuous = None;
                    EndOfContinuousUpdates.write(&mut self.output);
                }
                self.events
                    .push_back(ServerEvent::ContinuousUpdates { enabled: m.enable });
            }
            ClientMessage::Fence(f) => {
                if f.is_request() {
                    f.reply().write(&mut self.output);
                }
                self.events.push_back(ServerEvent::Fence(f));
            }
            ClientMessage::SetDesktopSize(m) => {
                self.events.push_back(ServerEvent::SetDesktopSize {
                    width: m.width,
                    height: m.height,
                    screens: m.screens,
                })
            }
        }
        Ok(true)
    }

    fn on_set_encodings(&mut self, list: Vec<i32>) {
        let has = |e: i32| list.contains(&e);
        let caps = ClientCaps {
            copy_rect: has(id::COPY_RECT),
            cursor: has(id::CURSOR),
            desktop_size: has(id::DESKTOP_SIZE),
            extended_desktop_size: has(id::EXTENDED_DESKTOP_SIZE),
            desktop_name: has(id::DESKTOP_NAME),
            last_rect: has(id::LAST_RECT),
            extended_clipboard: has(id::EXTENDED_CLIPBOARD),
            continuous_updates: has(id::CONTINUOUS_UPDATES),
            fence: has(id::FENCE),
            qemu_key: has(id::QEMU_EXTENDED_KEY),
        };
        let level = |base: i32| {
            list.iter()
                .rev()
                .find(|&&e| (base..=base + 9).contains(&e))
                .map(|&e| (e - base) as u8)
        };
        self.settings = EncodeSettings {
            compress_level: level(id::COMPRESS_LEVEL_0),
            quality_level: level(id::QUALITY_LEVEL_0),
        };
        if caps.extended_desktop_size && !self.caps.extended_desktop_size {
            self.send_layout = true;
        }
        if caps.fence && !self.sent_fence {
            self.sent_fence = true;
            Fence {
                flags: Fence::REQUEST,
                payload: Vec::new(),
            }
            .write(&mut self.output);
        }
        if caps.continuous_updates && !self.sent_eocu {
            self.sent_eocu = true;
            EndOfContinuousUpdates.write(&mut self.output);
        }
        if caps.extended_clipboard && !self.sent_clip_caps {
            self.sent_clip_caps = true;
            self.send_extended(ClipboardState::our_caps());
        }
        self.caps = caps;
        self.encodings = list.clone();
        self.events.push_back(ServerEvent::Encodings(list));
    }

    fn on_cut_text(&mut self, m: CutText) {
        match m.payload {
            CutTextPayload::Text(t) => self
                .events
                .push_back(ServerEvent::CutText(text_from_wire(&t))),
            CutTextPayload::Extended(ext) => {
                let o = self.clipboard.handle(ext);
                for reply in o.replies {
                    self.send_extended(reply);
                }
                if let Some(t) = o.text {
                    self.events.push_back(ServerEvent::CutText(t));
                }
            }
        }
    }

    fn send_extended(&mut self, m: ExtendedClipboard) {
        ServerMessage::CutText(CutText {
            payload: CutTextPayload::Extended(m),
        })
        .write(&mut self.output);
    }

    /// Rings the client's bell.
    pub fn bell(&mut self) {
        if self.ready {
            ServerMessage::Bell.write(&mut self.output);
        }
    }

    /// Sends clipboard text: ExtendedClipboard when the client speaks it,
    /// else Latin-1 ServerCutText.
    pub fn cut_text(&mut self, text: &str) {
        if !self.ready {
            return;
        }
        match self.clipboard.offer(text) {
            Some(msgs) => {
                for m in msgs {
                    self.send_extended(m);
                }
            }
            None => CutText {
                payload: CutTextPayload::Text(string_to_latin1(text)),
            }
            .write(SERVER_CUT_TEXT, &mut self.output),
        }
    }

    /// Changes the desktop name (sent with the next update if the client
    /// supports DesktopName).
    pub fn set_name(&mut self, name: &str) {
        let mut n = name.len().min(MAX_NAME_LEN);
        while !name.is_char_boundary(n) {
            n -= 1;
        }
        self.config.name = name[..n].to_owned();
        self.name_changed = true;
    }

    /// Answers a [`ServerEvent::SetDesktopSize`] with a status (see
    /// [`crate::pseudo::desktop_size::status`]); sent with the next update.
    pub fn desktop_size_reply(&mut self, status: u16) {
        if self.caps.extended_desktop_size {
            self.size_reply = Some(status);
        }
    }

    /// Writes one FramebufferUpdate if one is wanted and there is something
    /// to send; returns whether it did.
    ///
    /// `fb` is the current screen; `dirty` the areas changed since the last
    /// update sent; `moves` CopyRect moves relative to the last picture sent
    /// (sent as CopyRect when the client listed it and both areas lie in the
    /// requested region, else as dirty areas); `cursor` a new cursor shape;
    /// `resized` whether the screen size changed (also detected from `fb`).
    /// A non-incremental request sends its whole area even if not dirty.
    pub fn write_update(
        &mut self,
        fb: &Framebuffer,
        dirty: &[Rect],
        moves: &[CopyMove],
        cursor: Option<&CursorShape>,
        resized: bool,
    ) -> Result<bool, ServerError> {
        if !self.wants_update() {
            return Ok(false);
        }
        let mut body = Vec::new();
        let mut count: usize = 0;
        let size_changed = resized || (fb.width(), fb.height()) != (self.width, self.height);
        if size_changed {
            let (w, h) = (fb.width(), fb.height());
            let announced = if self.caps.extended_desktop_size {
                ExtendedDesktopSize::single(reason::SERVER, status::OK, w, h).write(&mut body);
                self.send_layout = false;
                true
            } else if self.caps.desktop_size {
                write_desktop_size(&mut body, w, h);
                true
            } else {
                false
            };
            if announced {
                count += 1;
                self.width = w;
                self.height = h;
                let all = Rect::new(0, 0, w, h);
                self.pending = Some(all);
                self.full = Some(all);
                if self.continuous.is_some() {
                    self.continuous = Some(all);
                }
            }
        }
        if let Some(st) = self.size_reply.take() {
            ExtendedDesktopSize::single(reason::CLIENT, st, self.width, self.height)
                .write(&mut body);
            count += 1;
        }
        if self.send_layout && self.caps.extended_desktop_size {
            self.send_layout = false;
            ExtendedDesktopSize::single(reason::SERVER, status::OK, self.width, self.height)
                .write(&mut body);
            count += 1;
        }
        if self.name_changed && self.caps.desktop_name {
            self.name_changed = false;
            write_desktop_name(&mut body, &self.config.name);
            count += 1;
        }
        if let Some(c) = cursor.filter(|_| self.caps.cursor) {
            c.write(&self.codec, &mut body);
            count += 1;
        }
        // The area both sides agree on.
        let screen = Rect::new(
            0,
            0,
            self.width.min(fb.width()),
            self.height.min(fb.height()),
        );
        let region = match (self.pending, self.continuous) {
            (Some(p), Some(c)) => p.union(&c),
            (Some(p), None) => p,
            (None, Some(c)) => c,
            (None, None) => Rect::default(),
        };
        let region = region.intersect(&screen).unwrap_or_default();
        let mut areas: Vec<Rect> = Vec::new();
        let full = self.full.and_then(|f| f.intersect(&screen));
        for m in moves {
            let ok = full.is_none()
                && self.caps.copy_rect
                && contains(&region, &m.src())
                && contains(&region, &m.dst)
                && !m.dst.is_empty();
            if ok {
                write_copy_rect(&mut body, m.src_x, m.src_y, m.dst);
                count += 1;
            } else if let Some(d) = m.dst.intersect(&region) {
                areas.push(d);
            }
        }
        areas.extend(dirty.iter().filter_map(|d| d.intersect(&region)));
        if let Some(f) = full {
            areas.retain(|a| !contains(&f, a));
            areas.insert(0, f);
        }
        if areas.len() > 256 {
            // Many small areas: one bounding box is cheaper to describe.
            let bbox = areas.iter().fold(Rect::default(), |a, b| a.union(b));
            areas = vec![bbox];
        }
        areas.retain(|a| !a.is_empty());
        let encoding = self.chosen_encoding();
        let ctx = EncodeContext {
            codec: &self.codec,
            settings: self.settings,
        };
        if let Some(enc) = self.encoders.get_mut(&encoding) {
            for a in &areas {
                count += usize::from(enc.encode(fb, *a, &ctx, &mut body)?);
            }
        }
        if count == 0 {
            return Ok(false);
        }
        if count <= usize::from(u16::MAX) {
            FramebufferUpdate {
                rects: count as u16,
            }
            .write(&mut self.output);
            self.output.extend_from_slice(&body);
        } else if self.caps.last_rect {
            FramebufferUpdate { rects: u16::MAX }.write(&mut self.output);
            self.output.extend_from_slice(&body);
            write_last_rect(&mut self.output);
        } else {
            return Err(ServerError::TooManyRects(count));
        }
        self.pending = None;
        self.full = None;
        Ok(true)
    }
}

fn contains(outer: &Rect, inner: &Rect) -> bool {
    inner.x >= outer.x
        && inner.y >= outer.y
        && inner.right() <= outer.right()
        && inner.bottom() <= outer.bottom()
}
