//! The technician's TCP listener: accepts many customers at once.
//!
//! Every connection gets an admission [`Permit`] (caps on unauthenticated
//! connections, in all and per address) and its own task, which reads the
//! first bytes within a deadline, tells clear RFB from the Noise preamble
//! ([`crypto::detect`]), runs the handshake within its deadline, waits for
//! the technician's decision (unless `accept_all`), then runs the
//! [`session`](crate::session). Junk, idle or slow peers only ever hold their
//! own task and their own permit.
//!
//! The technician drives the listener through [`Input`]s: commands typed on
//! stdin ([`Command`]) and what happens in the session windows.

use crate::admission::{Admission, DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_PER_IP, Permit};
use crate::headless::{Command, Event, Reporter};
use crate::quality::Quality;
use crate::session::{self, Secure, SessionCommand, SessionEnv, SessionSetup};
use crate::window::{IncomingInfo, SessionInput, WindowHandle, WindowInput};
use crypto::control::ControlMessage;
use crypto::detect::{Detection, detect};
use crypto::hello::{Decision, TechnicianHello};
use crypto::keys::KeyPair;
use crypto::session_code::SessionCodes;
use crypto::tokio_io::{ChannelConfig, ResponderConfig, accept_responder};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Bytes read at most before the protocol is known.
const DETECT_MAX: usize = 64;
/// Queued technician commands per session.
const COMMAND_QUEUE: usize = 1024;

/// How the listener runs.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Addresses to listen on.
    pub binds: Vec<SocketAddr>,
    /// Whether a failing bind is fatal (false for the default pair
    /// `0.0.0.0` + `[::]`, where one of them may be unavailable or covered
    /// by the other).
    pub all_binds_required: bool,
    /// The technician's key pair.
    pub keypair: KeyPair,
    /// The technician's ID, sent in the technician hello and logged.
    pub technician: String,
    /// Close clear (unencrypted) connections.
    pub require_crypto: bool,
    /// Accept every session without asking.
    pub accept_all: bool,
    /// Write snapshots here.
    pub snapshot_dir: Option<PathBuf>,
    /// Record sessions here.
    pub record_dir: Option<PathBuf>,
    /// Write session logs here.
    pub log_dir: PathBuf,
    /// Issue a one-time session code at start (and accept codes).
    pub session_code: bool,
    /// The picture quality every session starts with.
    pub quality: Quality,
    /// The first bytes must arrive within this time.
    pub first_bytes_timeout: Duration,
    /// Noise and RFB handshakes must each finish within this time.
    pub handshake_timeout: Duration,
    /// A pending session waits this long for `accept`/`refuse`.
    pub decision_timeout: Duration,
    /// Cap on unauthenticated connections in all.
    pub max_pending: usize,
    /// Cap on unauthenticated connections per address.
    pub max_pending_per_ip: usize,
}

impl ListenConfig {
    /// Defaults for everything but the addresses, key and log directory.
    pub fn new(binds: Vec<SocketAddr>, keypair: KeyPair, log_dir: PathBuf) -> Self {
        ListenConfig {
            binds,
            all_binds_required: true,
            keypair,
            technician: "technician".into(),
            require_crypto: false,
            accept_all: false,
            snapshot_dir: None,
            record_dir: None,
            log_dir,
            session_code: false,
            quality: Quality::default(),
            first_bytes_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            decision_timeout: Duration::from_secs(300),
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_per_ip: DEFAULT_MAX_PENDING_PER_IP,
        }
    }
}

/// Why the listener could not run.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// An address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No address could be bound.
    #[error("no address to listen on")]
    NoAddress,
    /// The session code could not be made.
    #[error("session code: {0}")]
    SessionCode(#[from] crypto::session_code::SessionCodeError),
    /// A directory could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What the technician does.
#[derive(Debug, Clone)]
pub enum Input {
    /// A command typed on stdin.
    Command(Command),
    /// Something done in a session window.
    Window(SessionInput),
}

/// The technician's answer to a pending session.
#[derive(Debug)]
enum Verdict {
    Accept,
    Refuse(String),
}

struct Shared {
    cfg: ListenConfig,
    env: Arc<SessionEnv>,
    responder: ResponderConfig,
    codes: Option<Arc<Mutex<SessionCodes>>>,
    next_id: AtomicU64,
    sessions: Mutex<HashMap<u64, mpsc::Sender<SessionCommand>>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Verdict>>>,
}

impl Shared {
    fn emit(&self, e: Event) {
        self.env.reporter.emit(&e);
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::Sender<SessionCommand>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Verdict>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn to_session(&self, id: u64, cmd: SessionCommand) {
        let tx = self.sessions().get(&id).cloned();
        match tx {
            Some(tx) => {
                if tx.try_send(cmd).is_err() {
                    self.emit(Event::Error {
                        message: format!("session {id}: input queue full, input dropped"),
                    });
                }
            }
            None => self.emit(Event::Error {
                message: format!("no running session {id}"),
            }),
        }
    }

    fn decide(&self, id: u64, verdict: Verdict) {
        match self.pending().remove(&id) {
            Some(tx) => {
                let _ = tx.send(verdict);
            }
            None => self.emit(Event::Error {
                message: format!("no session {id} waiting for a decision"),
            }),
        }
    }

    fn handle_input(&self, input: Input) {
        match input {
            Input::Command(cmd) => match cmd {
                Command::Accept(id) => self.decide(id, Verdict::Accept),
                Command::Refuse(id, reason) => self.decide(id, Verdict::Refuse(reason)),
                Command::Key(id, keysym, dir) => match dir {
                    Some(down) => self.to_session(id, SessionCommand::Key { keysym, down }),
                    None => {
                        self.to_session(id, SessionCommand::Key { keysym, down: true });
                        self.to_session(
                            id,
                            SessionCommand::Key {
                                keysym,
                                down: false,
                            },
                        );
                    }
                },
                Command::Pointer(id, mask, x, y) => {
                    self.to_session(id, SessionCommand::Pointer { mask, x, y })
                }
                Command::Type(id, text) => self.to_session(id, SessionCommand::Type(text)),
                Command::Clip(id, text) => self.to_session(id, SessionCommand::CutText(text)),
                Command::Close(id) => {
                    let pending = self.pending().remove(&id);
                    match pending {
                        Some(tx) => {
                            let _ = tx.send(Verdict::Refuse("closed by the technician".into()));
                        }
                        None => self.to_session(
                            id,
                            SessionCommand::Close("closed by the technician".into()),
                        ),
                    }
                }
                Command::Code => self.issue_code(),
                Command::Session(id, cmd) => self.to_session(id, cmd),
                Command::Quality(id, q) => self.to_session(id, SessionCommand::Quality(q)),
            },
            Input::Window(SessionInput { id, input }) => {
                let cmd = match input {
                    WindowInput::Accept => return self.decide(id, Verdict::Accept),
                    WindowInput::Refuse => {
                        return self
                            .decide(id, Verdict::Refuse("refused by the technician".into()));
                    }
                    WindowInput::Quality(q) => SessionCommand::Quality(q),
                    WindowInput::Key { keysym, down } => SessionCommand::Key { keysym, down },
                    WindowInput::Pointer { x, y, buttons } => SessionCommand::Pointer {
                        mask: buttons,
                        x,
                        y,
                    },
                    WindowInput::Clipboard(text) => SessionCommand::CutText(text),
                    WindowInput::RequestControl => SessionCommand::RequestControl,
                    WindowInput::Pane(action) => SessionCommand::from(action),
                    WindowInput::Closed => {
                        SessionCommand::Close("the technician closed the window".into())
                    }
                };
                self.to_session(id, cmd);
            }
        }
    }

    fn issue_code(&self) {
        let Some(codes) = &self.codes else {
            self.emit(Event::Error {
                message: "session codes are off: start with `viewer listen --session-code`".into(),
            });
            return;
        };
        let code = codes.lock().unwrap_or_else(|p| p.into_inner()).issue();
        match code {
            Ok(code) => self.emit(Event::SessionCode {
                code: code.digits(),
            }),
            Err(e) => self.emit(Event::Error {
                message: format!("session code: {e}"),
            }),
        }
    }
}

/// Binds the configured addresses, then serves connections and the
/// technician's `inputs` until the process is stopped (Ctrl-C / SIGTERM end
/// every session cleanly, logs included).
pub async fn run(
    cfg: ListenConfig,
    reporter: Arc<Reporter>,
    window: Option<WindowHandle>,
    mut inputs: mpsc::UnboundedReceiver<Input>,
) -> Result<(), ListenError> {
    for dir in [
        Some(&cfg.log_dir),
        cfg.snapshot_dir.as_ref(),
        cfg.record_dir.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        std::fs::create_dir_all(dir).map_err(|source| ListenError::Dir {
            path: dir.clone(),
            source,
        })?;
    }
    let mut listeners = Vec::new();
    let mut first_err = None;
    for addr in &cfg.binds {
        match TcpListener::bind(addr).await {
            Ok(l) => listeners.push(l),
            Err(source) => {
                let e = ListenError::Bind {
                    addr: *addr,
                    source,
                };
                if cfg.all_binds_required {
                    return Err(e);
                }
                first_err.get_or_insert(e);
            }
        }
    }
    if listeners.is_empty() {
        return Err(first_err.unwrap_or(ListenError::NoAddress));
    }
    let codes = if cfg.session_code {
        let mut c = SessionCodes::new(cfg.keypair.public);
        let code = c.issue()?;
        reporter.emit(&Event::SessionCode {
            code: code.digits(),
        });
        Some(Arc::new(Mutex::new(c)))
    } else {
        None
    };
    let env = Arc::new(SessionEnv {
        reporter: reporter.clone(),
        snapshot_dir: cfg.snapshot_dir.clone(),
        record_dir: cfg.record_dir.clone(),
        log_dir: cfg.log_dir.clone(),
        window,
        handshake_timeout: cfg.handshake_timeout,
        quality: cfg.quality,
    });
    let responder = ResponderConfig {
        keypair: cfg.keypair.clone(),
        codes: codes.clone(),
        channel: ChannelConfig {
            handshake_timeout: cfg.handshake_timeout,
            ..ChannelConfig::default()
        },
    };
    let admission = Admission::new(cfg.max_pending, cfg.max_pending_per_ip);
    let shared = Arc::new(Shared {
        cfg,
        env,
        responder,
        codes,
        next_id: AtomicU64::new(1),
        sessions: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
    });
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            shared.emit(Event::Listening {
                addr: addr.to_string(),
            });
        }
    }
    for l in listeners {
        tokio::spawn(accept_loop(l, admission.clone(), shared.clone()));
    }
    let mut inputs_open = true;
    loop {
        tokio::select! {
            input = inputs.recv(), if inputs_open => match input {
                Some(i) => shared.handle_input(i),
                None => inputs_open = false,
            },
            _ = shutdown_signal() => break,
        }
    }
    // Stop: end every session so that logs and recordings are closed.
    for tx in shared.pending().drain().map(|(_, tx)| tx) {
        let _ = tx.send(Verdict::Refuse("the technician's viewer stopped".into()));
    }
    let running: Vec<_> = shared.sessions().values().cloned().collect();
    for tx in running {
        let _ = tx.try_send(SessionCommand::Close(
            "the technician's viewer stopped".into(),
        ));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while !shared.sessions().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn accept_loop(listener: TcpListener, admission: Admission, shared: Arc<Shared>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                shared.emit(Event::Error {
                    message: format!("accept: {e}"),
                });
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match admission.admit(peer.ip()) {
            Ok(permit) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, peer, permit, shared.clone()));
            }
            Err(why) => {
                drop(stream);
                shared.emit(Event::Rejected {
                    peer: peer.to_string(),
                    reason: why.to_string(),
                });
            }
        }
    }
}

/// Reads until the protocol is known, within the deadline.
async fn read_detect(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<(Detection, Vec<u8>), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut first = Vec::with_capacity(DETECT_MAX);
    let mut buf = [0u8; DETECT_MAX];
    loop {
        match detect(&first) {
            Detection::NeedMore => {}
            d => return Ok((d, first)),
        }
        let room = DETECT_MAX - first.len();
        if room == 0 {
            return Ok((Detection::Unknown, first));
        }
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf[..room])).await {
            Err(_) => return Err(format!("nothing recognisable within {timeout:?}")),
            Ok(Err(e)) => return Err(format!("connection error: {e}")),
            Ok(Ok(0)) => return Err("closed before identifying itself".into()),
            Ok(Ok(n)) => n,
        };
        first.extend_from_slice(&buf[..n]);
    }
}

/// Waits for the technician's decision on session `id` (registered here);
/// in window mode the accept dialog shows `info` meanwhile.
async fn wait_verdict(shared: &Shared, id: u64, info: IncomingInfo) -> Verdict {
    let (tx, rx) = oneshot::channel();
    shared.pending().insert(id, tx);
    shared.emit(Event::Pending { session: id });
    // Closes the dialog however the wait ends (decision, timeout, the
    // customer leaving and this future being dropped).
    struct Dialog<'a>(Option<&'a WindowHandle>, u64);
    impl Drop for Dialog<'_> {
        fn drop(&mut self) {
            if let Some(w) = self.0 {
                let _ = w.incoming_gone(self.1);
            }
        }
    }
    let window = shared.env.window.as_ref();
    if let Some(w) = window {
        let _ = w.incoming(id, info);
    }
    let _dialog = Dialog(window, id);
    let v = tokio::time::timeout(shared.cfg.decision_timeout, rx).await;
    shared.pending().remove(&id);
    match v {
        Ok(Ok(v)) => v,
        Ok(Err(_)) => Verdict::Refuse("the technician's viewer stopped".into()),
        Err(_) => Verdict::Refuse("the technician did not answer in time".into()),
    }
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, permit: Permit, shared: Arc<Shared>) {
    let reject = |reason: String| {
        shared.emit(Event::Rejected {
            peer: peer.to_string(),
            reason,
        })
    };
    let (detection, first) = match read_detect(&mut stream, shared.cfg.first_bytes_timeout).await {
        Ok(x) => x,
        Err(reason) => return reject(reason),
    };
    match detection {
        Detection::Clear => {
            if shared.cfg.require_crypto {
                return reject(
                    "clear (unencrypted) connection refused: the viewer requires crypto".into(),
                );
            }
            let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
            shared.emit(Event::Incoming {
                session: id,
                peer: peer.to_string(),
                mode: "clear",
                sas: None,
                customer: None,
            });
            if !shared.cfg.accept_all {
                // Nothing is sent to the customer before the decision.
                let verdict = tokio::select! {
                    v = wait_verdict(&shared, id, IncomingInfo {
                        peer: peer.to_string(),
                        sas: None,
                        customer: BTreeMap::new(),
                    }) => v,
                    r = wait_closed(&mut stream) => Verdict::Refuse(r),
                };
                if let Verdict::Refuse(reason) = verdict {
                    shared.pending().remove(&id);
                    shared.emit(Event::Ended {
                        session: id,
                        reason: format!("not accepted: {reason}"),
                    });
                    return;
                }
            }
            let setup = SessionSetup {
                id,
                peer,
                crypto: false,
                sas: None,
                customer: BTreeMap::new(),
                technician: shared.cfg.technician.clone(),
            };
            run_session(&shared, stream, first, setup, None, permit).await;
        }
        Detection::Crypto(_) => {
            let accept_all = shared.cfg.accept_all;
            let technician = shared.cfg.technician.clone();
            let decide = move |_: &crypto::hello::CustomerHello, _| {
                TechnicianHello::new(
                    &technician,
                    if accept_all {
                        Decision::Accepted
                    } else {
                        Decision::Pending
                    },
                )
            };
            let channel = match accept_responder(stream, &first, &shared.responder, decide).await {
                Ok(c) => c,
                Err(e) => return reject(format!("secure handshake failed: {e}")),
            };
            let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
            let hello = match &channel.info.peer {
                crypto::tokio_io::PeerHello::Customer(h) => Some(h.clone()),
                crypto::tokio_io::PeerHello::Technician(_) => None,
            };
            let sas = channel.info.sas.to_string();
            shared.emit(Event::Incoming {
                session: id,
                peer: peer.to_string(),
                mode: "crypto",
                sas: Some(sas.clone()),
                customer: hello.as_ref().and_then(|h| serde_json::to_value(h).ok()),
            });
            let mut secure = Secure {
                control: channel.control,
                events: channel.events,
                early: Vec::new(),
            };
            if !accept_all {
                let info = IncomingInfo {
                    peer: peer.to_string(),
                    sas: Some(sas.clone()),
                    customer: hello
                        .as_ref()
                        .map(session::customer_map)
                        .unwrap_or_default(),
                };
                // One wait for the whole loop: keep-alives must not
                // re-register the session or reopen its dialog.
                let wait = wait_verdict(&shared, id, info);
                tokio::pin!(wait);
                let verdict = loop {
                    tokio::select! {
                        v = &mut wait => break v,
                        m = secure.events.recv() => match m {
                            Ok(ControlMessage::SessionEnd { reason }) => {
                                break Verdict::Refuse(format!("the customer ended the session: {reason}"));
                            }
                            Ok(ControlMessage::KeepAlive) => {}
                            Ok(other) => {
                                if secure.early.len() < 16 {
                                    secure.early.push(other);
                                }
                            }
                            Err(e) => break Verdict::Refuse(e.to_string()),
                        },
                    }
                };
                match verdict {
                    Verdict::Accept => {
                        if let Err(e) = secure.control.send(ControlMessage::Accept).await {
                            shared.emit(Event::Ended {
                                session: id,
                                reason: e.to_string(),
                            });
                            return;
                        }
                    }
                    Verdict::Refuse(reason) => {
                        shared.pending().remove(&id);
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            secure.control.send(ControlMessage::Refuse {
                                reason: reason.clone(),
                            }),
                        )
                        .await;
                        // Let the writer send it before the channel drops.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        shared.emit(Event::Ended {
                            session: id,
                            reason: format!("not accepted: {reason}"),
                        });
                        return;
                    }
                }
            }
            let setup = SessionSetup {
                id,
                peer,
                crypto: true,
                sas: Some(sas),
                customer: hello
                    .as_ref()
                    .map(session::customer_map)
                    .unwrap_or_default(),
                technician: shared.cfg.technician.clone(),
            };
            run_session(
                &shared,
                channel.rfb,
                Vec::new(),
                setup,
                Some(secure),
                permit,
            )
            .await;
        }
        Detection::CryptoUnsupported { version } => reject(format!(
            "Remoto wire version {version} is not supported by this viewer"
        )),
        Detection::Unknown | Detection::NeedMore => {
            reject("not RFB and not a Remoto connection".into())
        }
    }
}

/// Resolves when the peer closes or sends data before the decision (a clear
/// server sends nothing after its version until we answer).
async fn wait_closed(stream: &mut TcpStream) -> String {
    let mut b = [0u8; 1];
    match stream.peek(&mut b).await {
        Ok(0) => "the customer closed the connection".into(),
        Ok(_) => {
            // Unexpected bytes: let the session read them after acceptance.
            std::future::pending::<String>().await
        }
        Err(e) => format!("connection error: {e}"),
    }
}

async fn run_session<S>(
    shared: &Arc<Shared>,
    stream: S,
    first: Vec<u8>,
    setup: SessionSetup,
    secure: Option<Secure>,
    permit: Permit,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let id = setup.id;
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    shared.sessions().insert(id, tx);
    session::run(
        stream,
        first,
        setup,
        shared.env.clone(),
        rx,
        secure,
        Some(permit),
    )
    .await;
    shared.sessions().remove(&id);
}
