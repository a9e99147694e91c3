//! One customer session: the RFB client state machine over a byte stream
//! (a clear TCP connection or the RFB channel of the Noise tunnel), with its
//! log, recording, snapshots, events, window and the technician's input.
//!
//! [`run`] owns everything of one session and returns when it ends; the
//! listener spawns one task per session, so a slow or hostile peer only
//! ever delays itself.

use crate::admission::Permit;
use crate::headless::{Event, RateLimit, Reporter, snapshot_path, write_snapshot};
use crate::keysym;
use crate::log::{self, SessionLog};
use crate::quality::{AutoQuality, Quality};
use crate::recording::FbsWriter;
use crate::window::{
    PaneAction, PaneUpdate, SessionStatus, SharedFramebuffer, WindowHandle, session_title,
};
use crypto::control::ControlMessage;
use crypto::tokio_io::{ControlReceiver, ControlSender};
use rfb::{ClientEvent, ClientSession, Rect};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Size of the read buffer of one session (bounded: the RFB client keeps its
/// own bounded reassembly buffer).
const READ_BUF: usize = 64 * 1024;
/// At most this many `update` events a second per session.
const UPDATE_EVERY: Duration = Duration::from_millis(200);
/// At most this many snapshots a second per session.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// The chat line that asks the customer for control.
const ASK_CONTROL: &str =
    "The technician asks to control your computer: click \"Allow control\" to allow it.";

/// Settings shared by every session of a listener.
#[derive(Debug)]
pub struct SessionEnv {
    /// Where events go.
    pub reporter: Arc<Reporter>,
    /// Write `session-N.png` snapshots here.
    pub snapshot_dir: Option<PathBuf>,
    /// Record FBS files here.
    pub record_dir: Option<PathBuf>,
    /// Write session logs here.
    pub log_dir: PathBuf,
    /// The windows (window mode).
    pub window: Option<WindowHandle>,
    /// The RFB handshake must finish within this time.
    pub handshake_timeout: Duration,
    /// The picture quality sessions start with.
    pub quality: Quality,
}

/// Who and what a session is.
#[derive(Debug, Clone)]
pub struct SessionSetup {
    /// Session number (unique in this listener).
    pub id: u64,
    /// The peer's address.
    pub peer: SocketAddr,
    /// True for the Noise tunnel, false for clear RFB.
    pub crypto: bool,
    /// The SAS (crypto only).
    pub sas: Option<String>,
    /// What the customer's hello said (empty in clear mode).
    pub customer: BTreeMap<String, String>,
    /// The technician's ID.
    pub technician: String,
}

/// The technician's input for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// A key event (X keysym).
    Key {
        /// The keysym.
        keysym: u32,
        /// Pressed or released.
        down: bool,
    },
    /// A pointer event.
    Pointer {
        /// Buttons held (bit 0 = button 1).
        mask: u8,
        /// x.
        x: u16,
        /// y.
        y: u16,
    },
    /// Types text: press and release per character.
    Type(String),
    /// Clipboard text for the customer.
    CutText(String),
    /// Ask the customer for control (a chat line in the tunnel; nothing in
    /// clear mode, where stock servers apply input at once).
    RequestControl,
    /// Switch the picture quality (a new SetEncodings, then a full update).
    Quality(Quality),
    /// A chat line for the customer (crypto only).
    Chat(String),
    /// Offer this file to the customer (crypto only).
    SendFile(PathBuf),
    /// Accept a file the customer offered (saved under the log directory's `files/`).
    AcceptFile(u32),
    /// Refuse a file the customer offered.
    RefuseFile(u32),
    /// Stop a transfer in either direction.
    CancelFile(u32),
    /// A session note for the log (ticket number, outcome…).
    Note(String),
    /// End the session with this reason.
    Close(String),
}

impl From<PaneAction> for SessionCommand {
    /// The command of what the technician did in the window's side pane
    /// (the same as the headless `chat`, `send`, `accept-file`, … lines).
    fn from(a: PaneAction) -> Self {
        match a {
            PaneAction::Chat(t) => SessionCommand::Chat(t),
            PaneAction::SendFile(p) => SessionCommand::SendFile(p),
            PaneAction::AcceptFile(id) => SessionCommand::AcceptFile(id),
            PaneAction::RefuseFile(id) => SessionCommand::RefuseFile(id),
            PaneAction::CancelFile(id) => SessionCommand::CancelFile(id),
            PaneAction::Note(t) => SessionCommand::Note(t),
        }
    }
}

/// The control side of a Noise tunnel.
#[derive(Debug)]
pub struct Secure {
    /// Sends control messages.
    pub control: ControlSender,
    /// Receives control messages and the close reason.
    pub events: ControlReceiver,
    /// Control messages that arrived before the session was accepted
    /// (handled first).
    pub early: Vec<ControlMessage>,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Why.
    pub reason: String,
    /// Bytes received from the customer.
    pub from_customer: u64,
    /// Bytes sent to the customer.
    pub to_customer: u64,
    /// Whether the RFB handshake finished.
    pub connected: bool,
}

/// A file-name-safe unique stem for this session's log and recording.
pub fn file_stem(id: u64) -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "session-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}-{id}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        std::process::id()
    )
}

/// The customer's hello as the log's string map: the program version and
/// exactly the system information the customer was shown.
pub fn customer_map(hello: &crypto::hello::CustomerHello) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = hello
        .shared_fields()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    m.insert("program_version".into(), hello.program_version.clone());
    m
}

struct State {
    setup: SessionSetup,
    env: Arc<SessionEnv>,
    client: ClientSession,
    log: Option<SessionLog>,
    recording: Option<FbsWriter<BufWriter<File>>>,
    started: Instant,
    from_customer: u64,
    to_customer: u64,
    rate: crate::rate::RateMeter,
    connected: bool,
    shared: Option<SharedFramebuffer>,
    control: bool,
    update_limit: RateLimit,
    update_pending: bool,
    snapshot_limit: RateLimit,
    snapshot_pending: bool,
    extras: crate::features::Extras,
    internal_rx: Option<mpsc::UnboundedReceiver<crate::features::Internal>>,
    outbox: Vec<ControlMessage>,
    quality: Quality,
    auto: Option<AutoQuality>,
}

impl State {
    fn emit(&self, e: Event) {
        self.env.reporter.emit(&e);
        if let Some(w) = &self.env.window
            && PaneUpdate::wants(&e)
        {
            let _ = w.pane(self.setup.id, PaneUpdate::Event(e));
        }
    }

    /// Exactly what the customer was shown before connecting.
    fn system_info(&self) -> BTreeMap<String, String> {
        let mut info = self.setup.customer.clone();
        info.remove("program_version");
        info
    }

    fn log(&mut self, e: log::Event) {
        if let Some(l) = &mut self.log
            && let Err(err) = l.append(e)
        {
            self.env.reporter.emit(&Event::Error {
                message: format!("session {}: log: {err}", self.setup.id),
            });
            self.log = None;
        }
    }

    /// Applies what the chat/files/notes part asked for.
    fn effects(&mut self, out: Vec<crate::features::Effect>) {
        use crate::features::Effect;
        for e in out {
            match e {
                Effect::Send(m) => {
                    if let (Some(w), ControlMessage::FileOffer { id, name, size, .. }) =
                        (&self.env.window, &m)
                    {
                        let update = PaneUpdate::Offered {
                            id: *id,
                            name: name.as_str().to_string(),
                            size: *size,
                        };
                        let _ = w.pane(self.setup.id, update);
                    }
                    self.outbox.push(m);
                }
                Effect::Emit(ev) => self.emit(ev),
                Effect::Log(ev) => self.log(ev),
            }
        }
    }

    fn record(&mut self, data: &[u8]) {
        let elapsed = self.started.elapsed();
        if let Some(r) = &mut self.recording
            && let Err(err) = r.write(data, elapsed)
        {
            self.env.reporter.emit(&Event::Error {
                message: format!("session {}: recording stopped: {err}", self.setup.id),
            });
            self.recording = None;
        }
    }

    fn snapshot(&mut self) {
        self.snapshot_pending = false;
        if !self.connected {
            return;
        }
        if let Some(dir) = &self.env.snapshot_dir {
            let path = snapshot_path(dir, self.setup.id);
            if let Err(err) = write_snapshot(self.client.framebuffer(), &path) {
                self.env.reporter.emit(&Event::Error {
                    message: format!("session {}: snapshot: {err}", self.setup.id),
                });
            }
        }
    }

    fn customer_label(&self) -> String {
        let c = &self.setup.customer;
        c.get("computer_name")
            .or_else(|| c.get("user_name"))
            .cloned()
            .unwrap_or_else(|| self.setup.peer.to_string())
    }

    fn window_status(&self, message: Option<String>) {
        if let Some(w) = &self.env.window {
            let _ = w.session_state(
                self.setup.id,
                SessionStatus {
                    control: self.control,
                    bytes_in_per_sec: self.rate.rates().0,
                    bytes_out_per_sec: self.rate.rates().1,
                    message,
                    label: None,
                },
            );
        }
    }

    /// Copies changed pixels into the window's framebuffer.
    fn window_frame(&mut self, rects: Vec<Rect>) {
        let (Some(w), Some(shared)) = (&self.env.window, &self.shared) else {
            return;
        };
        {
            let fb = self.client.framebuffer();
            let mut dst = shared.lock().unwrap_or_else(|p| p.into_inner());
            if dst.width() != fb.width() || dst.height() != fb.height() {
                *dst = fb.clone();
            } else {
                for r in &rects {
                    if let Some(px) = fb.read(*r) {
                        dst.put(*r, &px);
                    }
                }
            }
        }
        let _ = w.frame(self.setup.id, rects);
    }

    /// Handles what the RFB client reports.
    fn handle_events(&mut self, now: Instant) {
        while let Some(ev) = self.client.poll_event() {
            match ev {
                ClientEvent::Connected {
                    name,
                    width,
                    height,
                    ..
                } => {
                    self.connected = true;
                    if let Some(a) = self.auto.as_mut() {
                        a.start(now);
                    }
                    self.emit(Event::Connected {
                        session: self.setup.id,
                        width,
                        height,
                        name: name.clone(),
                    });
                    if let Some(w) = &self.env.window {
                        let shared: SharedFramebuffer =
                            Arc::new(Mutex::new(self.client.framebuffer().clone()));
                        let title = session_title(
                            &self.setup.technician,
                            &format!("{} ({name})", self.customer_label()),
                            self.setup.sas.as_deref(),
                        );
                        if w.open_session(self.setup.id, title, shared.clone()).is_ok() {
                            self.shared = Some(shared);
                            let _ = w.session_quality(self.setup.id, self.quality);
                            let id = self.setup.id;
                            let _ = w.pane(id, PaneUpdate::Secure(self.setup.crypto));
                            if self.setup.crypto {
                                let info = self.system_info();
                                let e = Event::SystemInfo { session: id, info };
                                let _ = w.pane(id, PaneUpdate::Event(e));
                            }
                        }
                        self.window_status(None);
                    }
                }
                ClientEvent::Update { rects } => {
                    if let Some(q) = self.auto.as_mut().and_then(|a| a.update(now)) {
                        self.auto = None;
                        self.set_quality(q);
                    }
                    self.update_pending = true;
                    self.snapshot_pending = true;
                    self.window_frame(rects);
                }
                ClientEvent::Resized { width, height } => {
                    self.emit(Event::Resized {
                        session: self.setup.id,
                        width,
                        height,
                    });
                    self.snapshot_pending = true;
                    self.window_frame(vec![Rect::new(0, 0, width, height)]);
                }
                ClientEvent::CutText(text) => {
                    if let Some(w) = &self.env.window {
                        let _ = w.set_local_clipboard(text.clone());
                    }
                    self.emit(Event::Clipboard {
                        session: self.setup.id,
                        text,
                    });
                }
                _ => {}
            }
        }
        self.flush_limited(now);
    }

    /// Emits a pending `update` event / snapshot when its rate limit allows.
    fn flush_limited(&mut self, now: Instant) {
        if self.update_pending && self.update_limit.allow(now) {
            self.update_pending = false;
            self.emit(Event::Update {
                session: self.setup.id,
            });
        }
        if self.snapshot_pending
            && self.env.snapshot_dir.is_some()
            && self.snapshot_limit.allow(now)
        {
            self.snapshot();
        }
    }

    /// When a rate-limited flush is next due.
    fn next_flush(&self) -> Option<Instant> {
        let u = if self.update_pending {
            self.update_limit.next_allowed()
        } else {
            None
        };
        let s = if self.snapshot_pending && self.env.snapshot_dir.is_some() {
            self.snapshot_limit.next_allowed()
        } else {
            None
        };
        match (u, s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handles a control message from the customer; `Some(reason)` ends
    /// the session.
    fn control_message(&mut self, msg: ControlMessage) -> Option<String> {
        match msg {
            ControlMessage::ConsentChanged { control } => {
                self.control = control;
                self.emit(Event::Control {
                    session: self.setup.id,
                    allowed: control,
                });
                self.log(log::Event::Consent { control });
                self.window_status(None);
            }
            ControlMessage::SessionEnd { reason } => {
                return Some(format!("the customer ended the session: {reason}"));
            }
            other => {
                let mut out = Vec::new();
                self.extras.control(&other, &mut out);
                self.effects(out);
            }
        }
        None
    }

    fn apply(&mut self, cmd: SessionCommand) -> Option<String> {
        if !self.connected {
            return match cmd {
                SessionCommand::Close(reason) => Some(reason),
                _ => None,
            };
        }
        match cmd {
            SessionCommand::Key { keysym, down } => self.client.key(down, keysym),
            SessionCommand::Pointer { mask, x, y } => self.client.pointer(mask, x, y),
            SessionCommand::Type(text) => {
                for c in text.chars() {
                    if let Some(k) = keysym::char_keysym(c) {
                        self.client.key(true, k);
                        self.client.key(false, k);
                    }
                }
            }
            SessionCommand::CutText(text) => self.client.cut_text(&text),
            SessionCommand::Close(reason) => return Some(reason),
            SessionCommand::Quality(q) => {
                self.auto = (q == Quality::Auto).then(|| {
                    let mut a = AutoQuality::new();
                    a.start(Instant::now());
                    a
                });
                self.quality = q;
                self.set_quality(q);
            }
            SessionCommand::RequestControl => {}
            // Handled by `features::Extras` in `drive`.
            SessionCommand::Chat(_)
            | SessionCommand::SendFile(_)
            | SessionCommand::AcceptFile(_)
            | SessionCommand::RefuseFile(_)
            | SessionCommand::CancelFile(_)
            | SessionCommand::Note(_) => {}
        }
        None
    }

    /// Sends the encodings of `q` and asks for a full update so the whole
    /// screen comes at the new quality; tells the technician.
    fn set_quality(&mut self, q: Quality) {
        self.client.set_encodings(&q.encodings());
        let fb = self.client.framebuffer();
        let full = Rect::new(0, 0, fb.width(), fb.height());
        self.client.request_update(false, full);
        self.emit(Event::Quality {
            session: self.setup.id,
            quality: q.to_string(),
        });
        if let Some(w) = &self.env.window {
            let _ = w.session_quality(self.setup.id, q);
        }
    }
}

async fn write_out<S: AsyncWrite + Unpin>(stream: &mut S, st: &mut State) -> Result<(), String> {
    let out = st.client.take_output();
    if out.is_empty() {
        return Ok(());
    }
    stream
        .write_all(&out)
        .await
        .map_err(|e| format!("connection error: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("connection error: {e}"))?;
    st.to_customer += out.len() as u64;
    Ok(())
}

/// Runs one session to its end: `already` holds the bytes read while
/// detecting the protocol (clear mode), `permit` is released once the RFB
/// handshake finished. Returns how it ended (already logged and reported).
pub async fn run<S>(
    mut stream: S,
    already: Vec<u8>,
    setup: SessionSetup,
    env: Arc<SessionEnv>,
    mut commands: mpsc::Receiver<SessionCommand>,
    mut secure: Option<Secure>,
    mut permit: Option<Permit>,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let stem = file_stem(setup.id);
    let log = match SessionLog::create(&env.log_dir, &stem) {
        Ok(l) => Some(l),
        Err(err) => {
            env.reporter.emit(&Event::Error {
                message: format!("session {}: cannot write the session log: {err}", setup.id),
            });
            None
        }
    };
    let recording = match &env.record_dir {
        Some(dir) => match FbsWriter::create_in(dir, &stem) {
            Ok((w, _)) => Some(w),
            Err(err) => {
                env.reporter.emit(&Event::Error {
                    message: format!("session {}: cannot record: {err}", setup.id),
                });
                None
            }
        },
        None => None,
    };
    let quality = env.quality;
    let (extras, internal_rx) = crate::features::Extras::new(
        setup.id,
        &setup.technician,
        env.log_dir.join("files"),
        secure.as_ref().map(|s| s.control.clone()),
    );
    let mut st = State {
        extras,
        internal_rx: Some(internal_rx),
        outbox: Vec::new(),
        client: ClientSession::new(quality.client_config()),
        log,
        recording,
        started: Instant::now(),
        rate: crate::rate::RateMeter::new(Instant::now(), 0, 0),
        from_customer: 0,
        to_customer: 0,
        connected: false,
        shared: None,
        control: !setup.crypto,
        update_limit: RateLimit::new(UPDATE_EVERY),
        update_pending: false,
        snapshot_limit: RateLimit::new(SNAPSHOT_EVERY),
        snapshot_pending: false,
        quality,
        auto: (quality == Quality::Auto).then(AutoQuality::new),
        setup,
        env,
    };
    st.log(log::Event::SessionStart {
        technician: st.setup.technician.clone(),
        customer: st.setup.customer.clone(),
        sas: st.setup.sas.clone(),
        source: st.setup.peer.to_string(),
        mode: if st.setup.crypto { "crypto" } else { "clear" }.into(),
    });
    if st.setup.crypto {
        let info = st.system_info();
        st.emit(Event::SystemInfo {
            session: st.setup.id,
            info,
        });
    }

    let reason = drive(
        &mut stream,
        already,
        &mut st,
        &mut commands,
        &mut secure,
        &mut permit,
    )
    .await;

    // Tell the customer why, when the tunnel is still there.
    if let Some(sec) = &secure {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            sec.control.send(ControlMessage::SessionEnd {
                reason: reason.clone(),
            }),
        )
        .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    drop(secure);

    st.snapshot();
    if let Some(r) = st.recording.take()
        && let Err(err) = r.finish()
    {
        st.emit(Event::Error {
            message: format!("session {}: recording: {err}", st.setup.id),
        });
    }
    let mut out = Vec::new();
    st.extras.abort(&mut out);
    st.effects(out);
    if let Some(l) = &mut st.log {
        l.set_bytes(st.to_customer, st.from_customer);
        if let Err(err) = l.finish(&reason) {
            st.env.reporter.emit(&Event::Error {
                message: format!("session {}: log: {err}", st.setup.id),
            });
        }
    }
    if let Some(w) = &st.env.window {
        let _ = w.close_session(st.setup.id);
    }
    st.emit(Event::Ended {
        session: st.setup.id,
        reason: reason.clone(),
    });
    Outcome {
        reason,
        from_customer: st.from_customer,
        to_customer: st.to_customer,
        connected: st.connected,
    }
}

/// Why the customer's RFB stream ended. In crypto mode the secure channel
/// closes that stream after queueing its own reason (an altered, replayed
/// or cut frame, a lost link): that reason is the true one, so the control
/// messages still queued are handled and the channel's reason is returned.
async fn closed_reason(st: &mut State, secure: &mut Option<Secure>) -> String {
    const CLOSED: &str = "the customer closed the connection";
    let Some(sec) = secure.as_mut() else {
        return CLOSED.into();
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        match tokio::time::timeout_at(deadline, sec.events.recv()).await {
            Ok(Ok(m)) => {
                if let Some(reason) = st.control_message(m) {
                    secure.take();
                    return reason;
                }
            }
            Ok(Err(crypto::tokio_io::ChannelError::Closed)) | Err(_) => return CLOSED.into(),
            Ok(Err(e)) => return e.to_string(),
        }
    }
}

/// The session loop; returns the end reason.
async fn drive<S>(
    stream: &mut S,
    already: Vec<u8>,
    st: &mut State,
    commands: &mut mpsc::Receiver<SessionCommand>,
    secure: &mut Option<Secure>,
    permit: &mut Option<Permit>,
) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake_deadline = tokio::time::Instant::now() + st.env.handshake_timeout;
    if let Some(sec) = secure.as_mut() {
        for m in std::mem::take(&mut sec.early) {
            if let Some(reason) = st.control_message(m) {
                secure.take();
                return reason;
            }
        }
    }
    if !already.is_empty() {
        st.from_customer += already.len() as u64;
        st.record(&already);
        if let Err(e) = st.client.receive(&already) {
            return format!("protocol error from the customer: {e}");
        }
        st.handle_events(Instant::now());
        if let Err(e) = write_out(stream, st).await {
            return e;
        }
    }
    let mut buf = vec![0u8; READ_BUF];
    let mut commands_open = true;
    // The window's status bar shows the link's rates, refreshed each second.
    let mut rate_tick = tokio::time::interval(Duration::from_secs(1));
    rate_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let show_rates = st.env.window.is_some();
    let mut internal = st.internal_rx.take();
    loop {
        if st.connected {
            permit.take();
        }
        // Control messages from chat and file transfers (waits while the
        // control queue is full: file chunks never pile up).
        if !st.outbox.is_empty() {
            let out = std::mem::take(&mut st.outbox);
            if let Some(sec) = secure.as_ref() {
                for m in out {
                    if sec.control.send(m).await.is_err() {
                        break;
                    }
                }
            }
        }
        let flush_at = st.next_flush().map(tokio::time::Instant::from_std);
        let control_open = secure.is_some();
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(0) => return closed_reason(st, secure).await,
                    Ok(n) => n,
                    Err(e) => return format!("connection error: {e}"),
                };
                let data = &buf[..n];
                st.from_customer += n as u64;
                if let Some(a) = st.auto.as_mut() {
                    a.bytes(n as u64);
                }
                st.record(data);
                if let Err(e) = st.client.receive(data) {
                    return format!("protocol error from the customer: {e}");
                }
                st.handle_events(Instant::now());
                if let Err(e) = write_out(stream, st).await {
                    return e;
                }
            }
            cmd = commands.recv(), if commands_open => match cmd {
                Some(SessionCommand::RequestControl) => {
                    if let Some(sec) = secure.as_ref() {
                        let ask = ControlMessage::Chat { text: ASK_CONTROL.into() };
                        let _ = tokio::time::timeout(Duration::from_secs(1), sec.control.send(ask)).await;
                        st.log(log::Event::Chat { from: st.setup.technician.clone(), text: ASK_CONTROL.into() });
                    }
                }
                Some(
                    cmd @ (SessionCommand::Chat(_)
                    | SessionCommand::SendFile(_)
                    | SessionCommand::AcceptFile(_)
                    | SessionCommand::RefuseFile(_)
                    | SessionCommand::CancelFile(_)
                    | SessionCommand::Note(_)),
                ) => {
                    let mut out = Vec::new();
                    st.extras.command(cmd, &mut out);
                    st.effects(out);
                }
                Some(cmd) => {
                    if let Some(reason) = st.apply(cmd) {
                        return reason;
                    }
                    if let Err(e) = write_out(stream, st).await {
                        return e;
                    }
                }
                None => commands_open = false,
            },
            msg = async {
                match secure.as_mut() {
                    Some(s) => s.events.recv().await,
                    None => std::future::pending().await,
                }
            }, if control_open => match msg {
                Ok(m) => {
                    if let Some(reason) = st.control_message(m) {
                        secure.take();
                        return reason;
                    }
                }
                Err(e) => {
                    secure.take();
                    return e.to_string();
                }
            },
            Some(i) = async {
                match internal.as_mut() {
                    Some(r) => r.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let mut out = Vec::new();
                st.extras.internal(i, &mut out);
                st.effects(out);
            }
            _ = rate_tick.tick(), if show_rates => {
                if st.rate.sample(Instant::now(), st.from_customer, st.to_customer).is_some() {
                    st.window_status(None);
                }
            }
            _ = tokio::time::sleep_until(handshake_deadline), if !st.connected => {
                return format!(
                    "the RFB handshake did not finish within {:?}",
                    st.env.handshake_timeout
                );
            }
            _ = async {
                match flush_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            }, if flush_at.is_some() => {
                st.flush_limited(Instant::now());
            }
        }
    }
}
