//! tokio glue shared by both binaries: run the handshake on any byte stream
//! with a deadline, then drive the transport in two background tasks.
//!
//! After the handshake a [`SecureChannel`] offers:
//! - [`RfbStream`]: `AsyncRead + AsyncWrite` carrying channel 0, so the RFB
//!   state machines run over it unchanged;
//! - [`ControlSender`] / [`ControlReceiver`]: typed control messages
//!   (channel 1) through tokio mpsc queues; the receiver also reports why the
//!   channel closed.
//!
//! The driver sends `KeepAlive` every [`ChannelConfig::keepalive_interval`]
//! and drops the connection when nothing arrived for
//! [`ChannelConfig::idle_timeout`]. RFB bytes are sent only once the session
//! is accepted: on the customer's side when message 2 said `Accepted` or a
//! control `Accept` arrived; on the viewer's side when it said `Accepted` in
//! message 2 or sent `Accept`. Before that, writes to the [`RfbStream`] wait.

use crate::control::{ControlError, ControlMessage};
use crate::handshake::{Established, HandshakeError, Initiator, Responder};
use crate::hello::{CustomerHello, Decision, TechnicianHello};
use crate::keys::{KeyPair, PublicKey};
use crate::sas::Sas;
use crate::session_code::{SessionCode, SessionCodeError, SessionCodes};
use crate::transport::{
    Incoming, MAX_PAYLOAD, Scheduler, TransportError, TransportReceiver, TransportSender,
};
use crate::wire::Mode;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::{mpsc, watch};

/// Timers and queue sizes of a secure channel.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// The whole handshake must finish within this time (default 10 s).
    pub handshake_timeout: Duration,
    /// Send a `KeepAlive` this often (default 5 s).
    pub keepalive_interval: Duration,
    /// Close when nothing was received for this long (default 15 s).
    pub idle_timeout: Duration,
    /// Capacity of the control queues (default 64).
    pub control_queue: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            handshake_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            control_queue: 64,
        }
    }
}

/// What the customer's side needs to connect.
#[derive(Debug, Clone)]
pub struct InitiatorConfig {
    /// The technician's pinned key (from the profile).
    pub technician: PublicKey,
    /// What the customer agreed to send.
    pub hello: CustomerHello,
    /// The one-time code the technician read out, if the profile requires one.
    pub session_code: Option<SessionCode>,
    /// Timers.
    pub channel: ChannelConfig,
}

/// What the viewer needs to accept connections.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    /// The technician's key pair.
    pub keypair: KeyPair,
    /// Live session codes, shared by all connections; `None`: codes are refused.
    pub codes: Option<Arc<Mutex<SessionCodes>>>,
    /// Timers.
    pub channel: ChannelConfig,
}

/// Why the handshake did not produce a channel.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The connection failed.
    #[error("connection error during the handshake: {0}")]
    Io(#[from] io::Error),
    /// The deadline passed.
    #[error("the handshake did not finish within {0:?}: connection dropped")]
    Timeout(Duration),
    /// The peer closed the connection before the handshake finished.
    #[error(
        "the other side closed the connection during the handshake (wrong technician key or session code, or not a Remoto viewer)"
    )]
    ClosedDuringHandshake,
    /// The handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The session code could not be used.
    #[error(transparent)]
    SessionCode(#[from] SessionCodeError),
}

/// Why a channel closed or a control operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The connection failed.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// Nothing arrived for too long.
    #[error("nothing received from the other side for {0:?}: connection lost")]
    IdleTimeout(Duration),
    /// The peer closed the connection.
    #[error("the other side closed the connection")]
    Closed,
    /// The transport failed (tampering, replay, bad message).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A control message to send is invalid.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The technician refused the session.
    #[error("the technician refused the session: {0}")]
    Refused(String),
    /// The session ended before it was accepted.
    #[error("the session ended before it was accepted: {0}")]
    EndedBeforeAccept(String),
}

/// Who the other side said it is in its hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerHello {
    /// Seen by the viewer.
    Customer(CustomerHello),
    /// Seen by the customer.
    Technician(TechnicianHello),
}

/// What both sides learn from the handshake.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The SAS to compare by voice.
    pub sas: Sas,
    /// IK or IKpsk1.
    pub mode: Mode,
    /// The Noise handshake hash.
    pub handshake_hash: [u8; 32],
    /// The peer's static key.
    pub remote_static: PublicKey,
    /// The peer's hello.
    pub peer: PeerHello,
    /// The decision carried in message 2.
    pub decision: Decision,
}

/// An established, authenticated session.
#[derive(Debug)]
pub struct SecureChannel {
    /// What the handshake said.
    pub info: SessionInfo,
    /// RFB bytes (channel 0).
    pub rfb: RfbStream,
    /// Sends control messages.
    pub control: ControlSender,
    /// Receives control messages and the close reason.
    pub events: ControlReceiver,
}

/// The RFB byte stream inside the tunnel.
#[derive(Debug)]
pub struct RfbStream(DuplexStream);

impl AsyncRead for RfbStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RfbStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Sends control messages; cheap to clone.
#[derive(Debug, Clone)]
pub struct ControlSender(mpsc::Sender<ControlMessage>);

impl ControlSender {
    /// A sender over a plain queue (unit tests of the transfer code).
    #[cfg(test)]
    pub(crate) fn for_test(tx: mpsc::Sender<ControlMessage>) -> Self {
        ControlSender(tx)
    }

    /// Validates and queues a message; waits while the queue is full.
    pub async fn send(&self, msg: ControlMessage) -> Result<(), ChannelError> {
        msg.validate()?;
        self.0.send(msg).await.map_err(|_| ChannelError::Closed)
    }
}

/// Receives control messages (never `KeepAlive`) and, last, why the channel closed.
#[derive(Debug)]
pub struct ControlReceiver {
    rx: mpsc::Receiver<Result<ControlMessage, ChannelError>>,
    held: VecDeque<ControlMessage>,
}

impl ControlReceiver {
    /// The next control message; after the channel closed, its reason once,
    /// then [`ChannelError::Closed`].
    pub async fn recv(&mut self) -> Result<ControlMessage, ChannelError> {
        if let Some(m) = self.held.pop_front() {
            return Ok(m);
        }
        match self.rx.recv().await {
            Some(r) => r,
            None => Err(ChannelError::Closed),
        }
    }

    /// For the customer's side after a `Pending` message 2: waits for the
    /// technician's `Accept` (Ok) or `Refuse`/`SessionEnd` (Err). Other
    /// messages that arrive first are kept for [`recv`](Self::recv). Wrap it
    /// in `tokio::time::timeout` to bound the wait.
    pub async fn wait_decision(&mut self) -> Result<(), ChannelError> {
        loop {
            match self.rx.recv().await {
                Some(Ok(ControlMessage::Accept)) => return Ok(()),
                Some(Ok(ControlMessage::Refuse { reason })) => {
                    return Err(ChannelError::Refused(reason));
                }
                Some(Ok(ControlMessage::SessionEnd { reason })) => {
                    return Err(ChannelError::EndedBeforeAccept(reason));
                }
                Some(Ok(other)) => {
                    if self.held.len() < 64 {
                        self.held.push_back(other);
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Err(ChannelError::Closed),
            }
        }
    }
}

async fn read_some<S: AsyncRead + Unpin>(s: &mut S, buf: &mut [u8]) -> Result<usize, ConnectError> {
    match s.read(buf).await? {
        0 => Err(ConnectError::ClosedDuringHandshake),
        n => Ok(n),
    }
}

/// The customer's side: sends the preamble and message 1 on `stream`, waits
/// for message 2 within the deadline, and starts the channel.
///
/// With a `Pending` decision ([`SessionInfo::decision`]) show the SAS, then
/// call [`ControlReceiver::wait_decision`]; RFB bytes written meanwhile are
/// held back until `Accept` arrives.
pub async fn connect_initiator<S>(
    mut stream: S,
    cfg: InitiatorConfig,
) -> Result<SecureChannel, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let psk = match cfg.session_code {
        Some(code) => {
            let tech = cfg.technician;
            let psk = tokio::task::spawn_blocking(move || code.derive_psk(&tech))
                .await
                .map_err(|e| SessionCodeError::Kdf(e.to_string()))??;
            Some(psk)
        }
        None => None,
    };
    let deadline = cfg.channel.handshake_timeout;
    let hs = async {
        let (mut init, first) = Initiator::start(&cfg.technician, &cfg.hello, psk.as_ref())?;
        stream.write_all(&first).await?;
        stream.flush().await?;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = read_some(&mut stream, &mut buf).await?;
            if let Some(done) = init.receive(&buf[..n])? {
                return Ok::<_, ConnectError>(done);
            }
        }
    };
    let (est, hello) = tokio::time::timeout(deadline, hs)
        .await
        .map_err(|_| ConnectError::Timeout(deadline))??;
    let accepted = hello.decision == Decision::Accepted;
    let decision = hello.decision.clone();
    Ok(start(
        stream,
        est,
        PeerHello::Technician(hello),
        decision,
        true,
        accepted,
        &cfg.channel,
    ))
}

/// The viewer's side: reads the preamble (starting with `already_read`, the
/// bytes consumed by [`detect`](crate::detect::detect)) and message 1 within the
/// deadline, asks `decide` for message 2, sends it and starts the channel.
///
/// If `decide` answers `Refused`, message 2 is sent, the connection closed,
/// and the result is [`HandshakeError::Refused`].
pub async fn accept_responder<S, F>(
    mut stream: S,
    already_read: &[u8],
    cfg: &ResponderConfig,
    decide: F,
) -> Result<SecureChannel, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(&CustomerHello, Mode) -> TechnicianHello,
{
    let deadline = cfg.channel.handshake_timeout;
    let hs = async {
        let mut resp = Responder::new(&cfg.keypair);
        let feed =
            |resp: &mut Responder, bytes: &[u8]| -> Result<Option<CustomerHello>, HandshakeError> {
                match &cfg.codes {
                    Some(codes) => {
                        let mut guard = codes.lock().unwrap_or_else(|p| p.into_inner());
                        resp.receive(bytes, Some(&mut guard))
                    }
                    None => resp.receive(bytes, None),
                }
            };
        let mut hello = feed(&mut resp, already_read)?;
        let mut buf = vec![0u8; 16 * 1024];
        while hello.is_none() {
            let n = read_some(&mut stream, &mut buf).await?;
            hello = feed(&mut resp, &buf[..n])?;
        }
        let hello = hello.ok_or(HandshakeError::State("no hello"))?;
        let mode = resp.mode().ok_or(HandshakeError::State("no mode"))?;
        let answer = decide(&hello, mode);
        let (bytes, est) = resp.reply(&answer)?;
        stream.write_all(&bytes).await?;
        stream.flush().await?;
        if let Decision::Refused { reason } = &answer.decision {
            let _ = stream.shutdown().await;
            return Err(HandshakeError::Refused {
                reason: reason.clone(),
            }
            .into());
        }
        Ok::<_, ConnectError>((est, hello, answer.decision))
    };
    let (est, hello, decision) = tokio::time::timeout(deadline, hs)
        .await
        .map_err(|_| ConnectError::Timeout(deadline))??;
    let accepted = decision == Decision::Accepted;
    Ok(start(
        stream,
        est,
        PeerHello::Customer(hello),
        decision,
        false,
        accepted,
        &cfg.channel,
    ))
}

fn start<S>(
    stream: S,
    est: Established,
    peer: PeerHello,
    decision: Decision,
    initiator: bool,
    accepted: bool,
    cfg: &ChannelConfig,
) -> SecureChannel
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let info = SessionInfo {
        sas: est.sas,
        mode: est.mode,
        handshake_hash: est.handshake_hash,
        remote_static: est.remote_static,
        peer,
        decision,
    };
    let (rd, wr) = tokio::io::split(stream);
    let (app_rfb, drv_rfb) = tokio::io::duplex(4 * MAX_PAYLOAD);
    let (drv_rfb_rd, drv_rfb_wr) = tokio::io::split(drv_rfb);
    let queue = cfg.control_queue.max(1);
    let (ctl_tx, ctl_rx) = mpsc::channel(queue);
    let (ev_tx, ev_rx) = mpsc::channel(queue);
    let (accept_tx, accept_rx) = watch::channel(accepted);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    tokio::spawn(reader(Reader {
        rd,
        rx: est.transport.receiver,
        rfb: drv_rfb_wr,
        events: ev_tx.clone(),
        accept: if initiator { Some(accept_tx) } else { None },
        stop_tx: stop_tx.clone(),
        stop_rx: stop_rx.clone(),
        idle: cfg.idle_timeout,
    }));
    tokio::spawn(writer(Writer {
        wr,
        tx: est.transport.sender,
        rfb: drv_rfb_rd,
        control: ctl_rx,
        events: ev_tx,
        accept: accept_rx,
        initiator,
        stop_tx,
        stop_rx,
        keepalive: cfg.keepalive_interval,
    }));
    SecureChannel {
        info,
        rfb: RfbStream(app_rfb),
        control: ControlSender(ctl_tx),
        events: ControlReceiver {
            rx: ev_rx,
            held: VecDeque::new(),
        },
    }
}

type Events = mpsc::Sender<Result<ControlMessage, ChannelError>>;

struct Reader<R> {
    rd: R,
    rx: TransportReceiver,
    rfb: tokio::io::WriteHalf<DuplexStream>,
    events: Events,
    accept: Option<watch::Sender<bool>>,
    stop_tx: Arc<watch::Sender<bool>>,
    stop_rx: watch::Receiver<bool>,
    idle: Duration,
}

async fn reader<R: AsyncRead + Unpin>(mut r: Reader<R>) {
    let err = reader_loop(&mut r).await;
    let _ = r.stop_tx.send(true);
    let _ = r.events.send(Err(err)).await;
    let _ = r.rfb.shutdown().await;
}

async fn reader_loop<R: AsyncRead + Unpin>(r: &mut Reader<R>) -> ChannelError {
    let mut buf = vec![0u8; 64 * 1024];
    let mut rfb_alive = true;
    loop {
        let read = tokio::select! {
            biased;
            _ = r.stop_rx.changed() => return ChannelError::Closed,
            res = tokio::time::timeout(r.idle, r.rd.read(&mut buf)) => res,
        };
        let n = match read {
            Err(_) => return ChannelError::IdleTimeout(r.idle),
            Ok(Err(e)) => return ChannelError::Io(e),
            Ok(Ok(0)) => return ChannelError::Closed,
            Ok(Ok(n)) => n,
        };
        if let Err(e) = r.rx.push(&buf[..n]) {
            return e.into();
        }
        loop {
            let incoming = match r.rx.next_incoming() {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(e) => return e.into(),
            };
            match incoming {
                Incoming::Rfb(data) => {
                    if rfb_alive && !data.is_empty() {
                        let res = tokio::select! {
                            biased;
                            _ = r.stop_rx.changed() => return ChannelError::Closed,
                            res = r.rfb.write_all(&data) => res,
                        };
                        // The application dropped its RFB stream: discard.
                        rfb_alive = res.is_ok();
                    }
                }
                Incoming::Control(ControlMessage::KeepAlive) => {}
                Incoming::Control(msg) => {
                    if let (ControlMessage::Accept, Some(accept)) = (&msg, &r.accept) {
                        let _ = accept.send(true);
                    }
                    let _ = r.events.send(Ok(msg)).await;
                }
            }
        }
    }
}

struct Writer<W> {
    wr: W,
    tx: TransportSender,
    rfb: tokio::io::ReadHalf<DuplexStream>,
    control: mpsc::Receiver<ControlMessage>,
    events: Events,
    accept: watch::Receiver<bool>,
    initiator: bool,
    stop_tx: Arc<watch::Sender<bool>>,
    stop_rx: watch::Receiver<bool>,
    keepalive: Duration,
}

async fn writer<W: AsyncWrite + Unpin>(mut w: Writer<W>) {
    match writer_loop(&mut w).await {
        Ok(()) => {
            let _ = w.wr.shutdown().await;
        }
        Err(e) => {
            // Report first, so the application sees this reason, not the
            // reader's "closed" that follows the stop signal.
            let _ = w.events.try_send(Err(e));
            let _ = w.stop_tx.send(true);
        }
    }
}

async fn writer_loop<W: AsyncWrite + Unpin>(w: &mut Writer<W>) -> Result<(), ChannelError> {
    let mut sched = Scheduler::new();
    let mut buf = vec![0u8; MAX_PAYLOAD];
    let mut out = Vec::with_capacity(MAX_PAYLOAD + 64);
    let start = tokio::time::Instant::now() + w.keepalive;
    let mut keepalive = tokio::time::interval_at(start, w.keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // RFB bytes are read (so that a dropped RfbStream is noticed) but held
    // in the scheduler until the session is accepted.
    let mut rfb_open = *w.accept.borrow();
    sched.set_rfb_open(rfb_open);
    let mut rfb_eof = false;
    let mut control_closed = false;
    let mut watch_accept = w.initiator && !rfb_open;
    loop {
        if !sched.has_sendable() && rfb_eof && control_closed {
            // Everything the application could send is sent (bytes held for a
            // session never accepted are dropped).
            return Ok(());
        }
        let take_rfb = !rfb_eof && sched.rfb_pending() < MAX_PAYLOAD;
        let take_control = !control_closed && sched.control_pending() < 8;
        let busy = sched.has_sendable();
        tokio::select! {
            biased;
            _ = w.stop_rx.changed() => return Ok(()),
            m = w.control.recv(), if take_control => match m {
                Some(m) => {
                    sched.push_control(&m)?;
                    if !w.initiator && !rfb_open && m == ControlMessage::Accept {
                        // Send Accept (and what was queued before it) ahead of any RFB byte.
                        out.clear();
                        sched.drain_into(&mut w.tx, &mut out)?;
                        w.wr.write_all(&out).await?;
                        rfb_open = true;
                        sched.set_rfb_open(true);
                    }
                }
                None => control_closed = true,
            },
            changed = w.accept.changed(), if watch_accept => {
                if changed.is_err() {
                    watch_accept = false;
                } else if *w.accept.borrow() {
                    rfb_open = true;
                    sched.set_rfb_open(true);
                    watch_accept = false;
                }
            }
            _ = keepalive.tick() => sched.push_control(&ControlMessage::KeepAlive)?,
            r = w.rfb.read(&mut buf), if take_rfb => match r {
                Ok(0) | Err(_) => rfb_eof = true,
                Ok(n) => sched.push_rfb(&buf[..n]),
            },
            _ = std::future::ready(()), if busy => {}
        }
        if let Some((ch, payload)) = sched.pop() {
            out.clear();
            w.tx.seal(ch, &payload, &mut out)?;
            w.wr.write_all(&out).await?;
            if !sched.has_sendable() {
                w.wr.flush().await?;
            }
        }
    }
}
