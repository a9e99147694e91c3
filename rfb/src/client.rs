//! The client role (what the technician's viewer runs), sans-IO.
//!
//! Feed received bytes to [`ClientSession::receive`], send what
//! [`ClientSession::take_output`] returns, and handle
//! [`ClientSession::poll_event`]. The session runs the handshake (security
//! None), then sends SetPixelFormat (if configured), SetEncodings and a
//! first full FramebufferUpdateRequest, decodes rectangles into its own
//! [`Framebuffer`] (native pixels whatever the wire format), asks for the
//! next incremental update after each one (unless continuous updates are
//! on), answers Fence requests and runs the ExtendedClipboard conversation.

use std::collections::{HashMap, VecDeque};

use crate::encoding::copyrect::CopyRectDecoder;
use crate::encoding::hextile::HextileDecoder;
use crate::encoding::raw::RawDecoder;
use crate::encoding::rre::RreDecoder;
use crate::encoding::tight::TightDecoder;
use crate::encoding::zrle::ZrleDecoder;
use crate::encoding::{DecodeError, Decoder, Step, id};
use crate::framebuffer::{Framebuffer, Rect, SizeError};
use crate::handshake::{self, ClientInit, HandshakeError, SECURITY_NONE, ServerInit, Version};
use crate::limits::MAX_BUFFERED_INPUT;
use crate::msgs::clipboard::ClipboardState;
use crate::msgs::cut_text::CutTextFrame;
use crate::msgs::update::RectHeader;
use crate::msgs::{
    BELL, CLIENT_CUT_TEXT, CutText, CutTextPayload, EnableContinuousUpdates, ExtendedClipboard,
    Fence, FramebufferUpdate, FramebufferUpdateRequest, KeyEvent, Message, MsgError, PointerEvent,
    QemuKeyEvent, SERVER_CUT_TEXT, Screen, SetColourMapEntries, SetDesktopSize, SetEncodings,
    SetPixelFormat, string_to_latin1, text_from_wire,
};
use crate::pixel::{PixelCodec, PixelFormat, PixelFormatError};
use crate::pseudo::cursor::CursorShape;
use crate::pseudo::desktop_name::read_desktop_name;
use crate::pseudo::desktop_size::{ExtendedDesktopSize, reason};
use crate::reader::Reader;

/// What the client asks the server for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Encodings and pseudo-encodings, preferred first (compress and
    /// quality levels are appended from the fields below).
    pub encodings: Vec<i32>,
    /// The wire pixel format to ask for; `None` keeps the server's.
    pub pixel_format: Option<PixelFormat>,
    /// Share the desktop with other clients (ClientInit).
    pub shared: bool,
    /// CompressLevel 0–9 to announce.
    pub compress_level: Option<u8>,
    /// QualityLevel 0–9 to announce (`None`: lossless only).
    pub quality_level: Option<u8>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            encodings: default_encodings(),
            pixel_format: Some(PixelFormat::RGB888),
            shared: true,
            compress_level: Some(2),
            quality_level: None,
        }
    }
}

/// Our preferred list: the decoders this build has, best first, then the
/// pseudo-encodings the session handles.
pub fn default_encodings() -> Vec<i32> {
    let supported = ClientSession::supported_encodings();
    let mut v: Vec<i32> = [
        id::COPY_RECT,
        id::TIGHT,
        id::ZRLE,
        id::HEXTILE,
        id::RRE,
        id::RAW,
    ]
    .into_iter()
    .filter(|e| supported.contains(e))
    .collect();
    v.extend_from_slice(&[
        id::CURSOR,
        id::DESKTOP_SIZE,
        id::EXTENDED_DESKTOP_SIZE,
        id::DESKTOP_NAME,
        id::LAST_RECT,
        id::EXTENDED_CLIPBOARD,
        id::CONTINUOUS_UPDATES,
        id::FENCE,
    ]);
    v
}

impl ClientConfig {
    /// The list sent in SetEncodings: `encodings` plus the level pseudo-encodings.
    pub fn effective_encodings(&self) -> Vec<i32> {
        let mut v = self.encodings.clone();
        if let Some(c) = self.compress_level {
            v.push(id::COMPRESS_LEVEL_0 + i32::from(c.min(9)));
        }
        if let Some(q) = self.quality_level {
            v.push(id::QUALITY_LEVEL_0 + i32::from(q.min(9)));
        }
        v
    }
}

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The handshake finished.
    Connected {
        /// Desktop name.
        name: String,
        /// Framebuffer width.
        width: u16,
        /// Framebuffer height.
        height: u16,
        /// The server's pixel format.
        pixel_format: PixelFormat,
    },
    /// A FramebufferUpdate finished; these areas changed.
    Update {
        /// Changed areas (empty rectangles left out).
        rects: Vec<Rect>,
    },
    /// The framebuffer changed size.
    Resized {
        /// New width.
        width: u16,
        /// New height.
        height: u16,
    },
    /// The server answered our SetDesktopSize (ExtendedDesktopSize status).
    DesktopSizeResult {
        /// 0 = done; see [`crate::pseudo::desktop_size::status`].
        status: u16,
    },
    /// A new cursor shape (0×0 = hidden).
    CursorShape(CursorShape),
    /// A new desktop name.
    DesktopName(String),
    /// Bell.
    Bell,
    /// Clipboard text from the server.
    CutText(String),
    /// The server speaks ExtendedClipboard.
    ClipboardCaps {
        /// Format bits.
        formats: u32,
        /// Action bits.
        actions: u32,
    },
    /// A Fence arrived (requests have already been answered).
    Fence(Fence),
    /// Continuous updates ended (or, the first time, are supported).
    EndOfContinuousUpdates,
    /// Colour-map entries were set.
    ColourMap {
        /// First entry.
        first: u16,
        /// Number of entries.
        count: u16,
    },
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// A malformed message.
    #[error("message: {0}")]
    Message(MsgError),
    /// A rectangle could not be decoded.
    #[error("rectangle: {0}")]
    Decode(#[from] DecodeError),
    /// The server announced a framebuffer beyond the limits.
    #[error("framebuffer: {0}")]
    Size(#[from] SizeError),
    /// A rectangle in an encoding we did not ask for.
    #[error("rectangle in unsupported encoding {0}")]
    UnsupportedEncoding(i32),
    /// A pixel format we cannot use.
    #[error("pixel format: {0}")]
    PixelFormat(#[from] PixelFormatError),
    /// Too many bytes buffered while waiting for a message to complete.
    #[error("more than {0} bytes buffered")]
    BufferLimit(usize),
    /// The session already failed.
    #[error("the session has already failed")]
    Failed,
}

impl From<MsgError> for ClientError {
    fn from(e: MsgError) -> Self {
        ClientError::Message(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Version,
    Security33,
    SecurityTypes,
    SecurityResult,
    ServerInit,
    Normal,
    /// Inside a FramebufferUpdate, `remaining` rectangles to go.
    Update {
        remaining: u16,
    },
    /// Inside a rectangle handled by the decoder for `encoding`.
    Rect {
        remaining: u16,
        encoding: i32,
    },
    /// Skipping an oversized CutText.
    Discard {
        remaining: u64,
    },
    Failed,
}

/// The client side of one RFB connection.
pub struct ClientSession {
    config: ClientConfig,
    state: State,
    version: Version,
    input: Vec<u8>,
    output: Vec<u8>,
    events: VecDeque<ClientEvent>,
    fb: Framebuffer,
    codec: PixelCodec,
    server_format: PixelFormat,
    name: String,
    decoders: HashMap<i32, Box<dyn Decoder>>,
    update_rects: Vec<Rect>,
    awaiting_update: bool,
    pending_format: Option<PixelFormat>,
    continuous_supported: bool,
    continuous: bool,
    clipboard: ClipboardState,
    connected: bool,
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSession")
            .field("state", &self.state)
            .field("fb", &self.fb)
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// Encodings this build can decode.
    pub fn supported_encodings() -> Vec<i32> {
        Self::decoder_registry().keys().copied().collect()
    }

    fn decoder_registry() -> HashMap<i32, Box<dyn Decoder>> {
        let list: Vec<Box<dyn Decoder>> = vec![
            Box::new(RawDecoder::default()),
            Box::new(CopyRectDecoder::default()),
            Box::new(RreDecoder::default()),
            Box::new(HextileDecoder::default()),
            Box::new(ZrleDecoder::default()),
            Box::new(TightDecoder::default()),
        ];
        list.into_iter().map(|d| (d.encoding(), d)).collect()
    }

    /// A session waiting for the server's ProtocolVersion.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            state: State::Version,
            version: Version::V3_8,
            input: Vec::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            fb: empty_fb(),
            codec: PixelCodec::native(),
            server_format: PixelFormat::RGB888,
            name: String::new(),
            decoders: Self::decoder_registry(),
            update_rects: Vec::new(),
            awaiting_update: false,
            pending_format: None,
            continuous_supported: false,
            continuous: false,
            clipboard: ClipboardState::new(true),
            connected: false,
        }
    }

    /// The picture as decoded so far (native pixels).
    pub fn framebuffer(&self) -> &Framebuffer {
        &self.fb
    }

    /// The desktop name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pixel format rectangles currently arrive in.
    pub fn pixel_format(&self) -> &PixelFormat {
        self.codec.format()
    }

    /// True once ServerInit arrived.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// True when the server announced continuous-updates support.
    pub fn supports_continuous_updates(&self) -> bool {
        self.continuous_supported
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Bytes to send to the server (and forgets them).
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

    /// Processes received bytes. After an error the session is dead.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        if self.state == State::Failed {
            return Err(ClientError::Failed);
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
            Err(ClientError::BufferLimit(MAX_BUFFERED_INPUT))
        } else {
            res
        };
        if res.is_err() {
            self.state = State::Failed;
            self.input = Vec::new();
        }
        res
    }

    /// One unit of work; `Ok(false)` when more input is needed.
    fn step(&mut self, r: &mut Reader<'_>) -> Result<bool, ClientError> {
        macro_rules! need {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) if is_incomplete(&e) => return Ok(false),
                    Err(e) => return Err(e.into()),
                }
            };
        }
        match self.state {
            State::Failed => Err(ClientError::Failed),
            State::Version => {
                let v = need!(Version::read_server(r));
                self.version = v;
                v.write(&mut self.output);
                self.state = if v == Version::V3_3 {
                    State::Security33
                } else {
                    State::SecurityTypes
                };
                Ok(true)
            }
            State::Security33 => {
                let ty = need!(handshake::read_security_33(r));
                if ty != u32::from(SECURITY_NONE) {
                    return Err(HandshakeError::NoCommonSecurity(vec![
                        u8::try_from(ty).unwrap_or(u8::MAX),
                    ])
                    .into());
                }
                self.send_client_init();
                Ok(true)
            }
            State::SecurityTypes => {
                let types = need!(handshake::read_security_types(r));
                if !types.contains(&SECURITY_NONE) {
                    return Err(HandshakeError::NoCommonSecurity(types).into());
                }
                self.output.push(SECURITY_NONE);
                if self.version == Version::V3_8 {
                    self.state = State::SecurityResult;
                } else {
                    self.send_client_init();
                }
                Ok(true)
            }
            State::SecurityResult => {
                need!(handshake::read_security_result(r, self.version));
                self.send_client_init();
                Ok(true)
            }
            State::ServerInit => {
                let init = need!(ServerInit::read(r));
                self.on_server_init(init)?;
                Ok(true)
            }
            State::Normal => self.read_message(r),
            State::Update { remaining } => self.read_rect_header(r, remaining),
            State::Rect {
                remaining,
                encoding,
            } => {
                let dec = self
                    .decoders
                    .get_mut(&encoding)
                    .ok_or(ClientError::UnsupportedEncoding(encoding))?;
                let before = r.position();
                match dec.decode(r, &self.codec, &mut self.fb)? {
                    Step::Done => {
                        self.state = State::Update { remaining };
                        Ok(true)
                    }
                    Step::NeedMore => Ok(r.position() != before && r.remaining() > 0),
                }
            }
            State::Discard { remaining } => {
                if r.remaining() == 0 {
                    return Ok(false);
                }
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(r.remaining());
                r.skip(n).map_err(|_| MsgError::Incomplete)?;
                let left = remaining - n as u64;
                self.state = if left == 0 {
                    State::Normal
                } else {
                    State::Discard { remaining: left }
                };
                Ok(left == 0)
            }
        }
    }

    fn send_client_init(&mut self) {
        ClientInit {
            shared: self.config.shared,
        }
        .write(&mut self.output);
        self.state = State::ServerInit;
    }

    fn on_server_init(&mut self, init: ServerInit) -> Result<(), ClientError> {
        self.fb = Framebuffer::new(init.width, init.height)?;
        self.server_format = init.format;
        self.name = init.name.clone();
        self.codec = PixelCodec::new(init.format)?;
        self.state = State::Normal;
        self.connected = true;
        if let Some(f) = self.config.pixel_format {
            f.validate()?;
            if f != init.format {
                SetPixelFormat { format: f }.write(&mut self.output);
                self.codec = PixelCodec::new(f)?;
            }
        }
        SetEncodings {
            encodings: self.config.effective_encodings(),
        }
        .write(&mut self.output);
        self.events.push_back(ClientEvent::Connected {
            name: init.name,
            width: init.width,
            height: init.height,
            pixel_format: init.format,
        });
        self.request_update(false, self.fb.bounds());
        Ok(())
    }

    fn read_message(&mut self, r: &mut Reader<'_>) -> Result<bool, ClientError> {
        let Some(&ty) = r.rest().first() else {
            return Ok(false);
        };
        macro_rules! need {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(MsgError::Incomplete) => return Ok(false),
                    Err(e) => return Err(e.into()),
                }
            };
        }
        match ty {
            FramebufferUpdate::TYPE => {
                let h = need!(FramebufferUpdate::read(r));
                self.update_rects.clear();
                self.state = State::Update { remaining: h.rects };
            }
            SetColourMapEntries::TYPE => {
                let m = need!(SetColourMapEntries::read(r));
                self.codec.set_colour_map(m.first, &m.colours);
                self.events.push_back(ClientEvent::ColourMap {
                    first: m.first,
                    count: m.colours.len() as u16,
                });
            }
            BELL => {
                r.skip(1).map_err(|_| MsgError::Incomplete)?;
                self.events.push_back(ClientEvent::Bell);
            }
            SERVER_CUT_TEXT => {
                let mut peek = r.clone();
                if let CutTextFrame::TooLong(n) =
                    need!(CutText::read_frame(SERVER_CUT_TEXT, &mut peek))
                {
                    r.set_position(peek.position());
                    self.state = State::Discard { remaining: n };
                    return Ok(true);
                }
                // A bad ExtendedClipboard payload is skipped: its length is known.
                if let Ok(m) = need!(CutText::read_lenient(SERVER_CUT_TEXT, r)) {
                    self.on_cut_text(m);
                }
            }
            150 => {
                r.skip(1).map_err(|_| MsgError::Incomplete)?;
                self.continuous_supported = true;
                let was = self.continuous;
                self.continuous = false;
                self.events.push_back(ClientEvent::EndOfContinuousUpdates);
                if was && !self.awaiting_update {
                    self.request_update(true, self.fb.bounds());
                }
            }
            Fence::TYPE => {
                let f = need!(Fence::read(r));
                if f.is_request() {
                    f.reply().write(&mut self.output);
                }
                self.events.push_back(ClientEvent::Fence(f));
            }
            other => return Err(MsgError::UnknownType(other).into()),
        }
        Ok(true)
    }

    fn on_cut_text(&mut self, m: CutText) {
        match m.payload {
            CutTextPayload::Text(t) => self
                .events
                .push_back(ClientEvent::CutText(text_from_wire(&t))),
            CutTextPayload::Extended(ext) => {
                let o = self.clipboard.handle(ext);
                if let Some((formats, actions)) = o.caps {
                    self.events
                        .push_back(ClientEvent::ClipboardCaps { formats, actions });
                }
                for reply in o.replies {
                    self.send_extended(reply);
                }
                if let Some(t) = o.text {
                    self.events.push_back(ClientEvent::CutText(t));
                }
            }
        }
    }

    fn send_extended(&mut self, m: ExtendedClipboard) {
        CutText {
            payload: CutTextPayload::Extended(m),
        }
        .write(CLIENT_CUT_TEXT, &mut self.output);
    }

    fn read_rect_header(
        &mut self,
        r: &mut Reader<'_>,
        remaining: u16,
    ) -> Result<bool, ClientError> {
        if remaining == 0 {
            self.finish_update();
            return Ok(true);
        }
        let start = r.position();
        let h = match RectHeader::read(r) {
            Ok(h) => h,
            Err(MsgError::Incomplete) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let remaining = remaining - 1;
        let rect = h.rect;
        // Pseudo-rectangles with a payload are parsed whole; if it is not all
        // there yet, rewind to the header.
        macro_rules! whole {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(MsgError::Incomplete) => {
                        r.set_position(start);
                        return Ok(false);
                    }
                    Err(e) => return Err(e.into()),
                }
            };
        }
        match h.encoding {
            id::LAST_RECT => {
                self.finish_update();
                return Ok(true);
            }
            id::DESKTOP_SIZE => self.resize(rect.w, rect.h)?,
            id::EXTENDED_DESKTOP_SIZE => {
                let m = whole!(ExtendedDesktopSize::read(rect, r));
                if m.reason == reason::CLIENT {
                    self.events
                        .push_back(ClientEvent::DesktopSizeResult { status: m.status });
                }
                if m.reason != reason::CLIENT || m.status == 0 {
                    self.resize(m.width, m.height)?;
                }
            }
            id::CURSOR => {
                let c = whole!(CursorShape::read(rect, &self.codec, r));
                self.events.push_back(ClientEvent::CursorShape(c));
            }
            id::DESKTOP_NAME => {
                let name = whole!(read_desktop_name(r));
                self.name = name.clone();
                self.events.push_back(ClientEvent::DesktopName(name));
            }
            encoding => {
                let Some(dec) = self.decoders.get_mut(&encoding) else {
                    return Err(ClientError::UnsupportedEncoding(encoding));
                };
                if !rect.fits_in(self.fb.width(), self.fb.height()) {
                    return Err(DecodeError::Outside {
                        what: "rectangle",
                        rect,
                        bounds: self.fb.bounds(),
                    }
                    .into());
                }
                dec.begin(rect);
                if !rect.is_empty() {
                    self.update_rects.push(rect);
                }
                self.state = State::Rect {
                    remaining,
                    encoding,
                };
                return Ok(true);
            }
        }
        self.state = State::Update { remaining };
        Ok(true)
    }

    fn resize(&mut self, width: u16, height: u16) -> Result<(), ClientError> {
        if (width, height) != (self.fb.width(), self.fb.height()) {
            self.fb.resize(width, height)?;
        }
        self.events
            .push_back(ClientEvent::Resized { width, height });
        Ok(())
    }

    fn finish_update(&mut self) {
        self.state = State::Normal;
        self.awaiting_update = false;
        let rects = std::mem::take(&mut self.update_rects);
        self.events.push_back(ClientEvent::Update { rects });
        if let Some(f) = self.pending_format.take() {
            self.apply_format(f);
        } else if !self.continuous {
            self.request_update(true, self.fb.bounds());
        }
    }

    fn apply_format(&mut self, f: PixelFormat) {
        if let Ok(codec) = PixelCodec::new(f) {
            SetPixelFormat { format: f }.write(&mut self.output);
            self.codec = codec;
            self.request_update(false, self.fb.bounds());
        }
    }

    /// Sends a FramebufferUpdateRequest (ignored before the handshake ends).
    pub fn request_update(&mut self, incremental: bool, rect: Rect) {
        if self.connected {
            FramebufferUpdateRequest { incremental, rect }.write(&mut self.output);
            self.awaiting_update = true;
        }
    }

    /// Sends a KeyEvent.
    pub fn key(&mut self, down: bool, keysym: u32) {
        if self.connected {
            KeyEvent { down, keysym }.write(&mut self.output);
        }
    }

    /// Sends a QEMU extended key event (keysym and XT scancode).
    pub fn qemu_key(&mut self, down: bool, keysym: u32, keycode: u32) {
        if self.connected {
            QemuKeyEvent {
                down,
                keysym,
                keycode,
            }
            .write(&mut self.output);
        }
    }

    /// Sends a PointerEvent.
    pub fn pointer(&mut self, mask: u8, x: u16, y: u16) {
        if self.connected {
            PointerEvent { mask, x, y }.write(&mut self.output);
        }
    }

    /// Offers clipboard text: through ExtendedClipboard when the server
    /// speaks it, else as Latin-1 ClientCutText.
    pub fn cut_text(&mut self, text: &str) {
        if !self.connected {
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
            .write(CLIENT_CUT_TEXT, &mut self.output),
        }
    }

    /// Sends a new SetEncodings list (as given, levels not appended).
    pub fn set_encodings(&mut self, encodings: &[i32]) {
        self.config.encodings = encodings.to_vec();
        if self.connected {
            SetEncodings {
                encodings: encodings.to_vec(),
            }
            .write(&mut self.output);
        }
    }

    /// Switches the wire pixel format. Applied at once when no update is
    /// outstanding, else when the current update ends (so that no
    /// rectangle is decoded with the wrong format); a full update is then
    /// requested. The framebuffer stays native.
    pub fn set_pixel_format(&mut self, format: PixelFormat) -> Result<(), PixelFormatError> {
        format.validate()?;
        self.config.pixel_format = Some(format);
        if !self.connected {
            return Ok(());
        }
        if self.awaiting_update || self.state != State::Normal {
            self.pending_format = Some(format);
        } else {
            self.apply_format(format);
        }
        Ok(())
    }

    /// Turns continuous updates on or off for `rect`; returns false (and
    /// sends nothing) when the server has not announced support.
    pub fn enable_continuous_updates(&mut self, enable: bool, rect: Rect) -> bool {
        if !self.connected || !self.continuous_supported {
            return false;
        }
        EnableContinuousUpdates { enable, rect }.write(&mut self.output);
        if enable {
            self.continuous = true;
        }
        true
    }

    /// Sends a Fence.
    pub fn fence(&mut self, flags: u32, payload: &[u8]) {
        if self.connected {
            Fence {
                flags,
                payload: payload.to_vec(),
            }
            .write(&mut self.output);
        }
    }

    /// Asks the server for a new desktop size (single screen when
    /// `screens` is empty).
    pub fn set_desktop_size(&mut self, width: u16, height: u16, screens: &[Screen]) {
        if !self.connected {
            return;
        }
        let screens = if screens.is_empty() {
            vec![Screen {
                id: 0,
                rect: Rect::new(0, 0, width, height),
                flags: 0,
            }]
        } else {
            screens.to_vec()
        };
        SetDesktopSize {
            width,
            height,
            screens,
        }
        .write(&mut self.output);
    }
}

fn is_incomplete(e: &HandshakeError) -> bool {
    matches!(e, HandshakeError::Incomplete)
}

fn empty_fb() -> Framebuffer {
    Framebuffer::new(0, 0).unwrap_or_else(|_| unreachable!("0x0 is within every limit"))
}
