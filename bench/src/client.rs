//! The measuring client: one [`rfb::ClientSession`] for every contestant,
//! with a fixed encoding list, counting the bytes on the wire and timing
//! every update and every probe flip it sees.

use std::net::TcpListener as StdListener;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rfb::encoding::id;
use rfb::{ClientConfig, ClientEvent, ClientSession, PixelFormat};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::workload::Flip;

/// The encodings every contestant is asked for, in this order (TigerVNC's
/// own order), plus the Cursor, DesktopSize and LastRect pseudo-encodings
/// and CompressLevel 2. The lossless run announces no QualityLevel, which
/// disables JPEG in Tight for every server; the JPEG run adds QualityLevel 8.
pub const ENCODINGS: [i32; 8] = [
    id::TIGHT,
    id::COPY_RECT,
    id::ZRLE,
    id::HEXTILE,
    id::RAW,
    id::CURSOR,
    id::DESKTOP_SIZE,
    id::LAST_RECT,
];

/// CompressLevel announced in both runs.
pub const COMPRESS_LEVEL: u8 = 2;
/// QualityLevel announced in the JPEG run.
pub const JPEG_QUALITY: u8 = 8;

/// The client configuration of a run.
pub fn config(jpeg: bool) -> ClientConfig {
    ClientConfig {
        encodings: ENCODINGS.to_vec(),
        pixel_format: Some(PixelFormat::RGB888),
        shared: true,
        compress_level: Some(COMPRESS_LEVEL),
        quality_level: jpeg.then_some(JPEG_QUALITY),
    }
}

/// How far a lossy picture may stray and still count as "complete": at
/// most this share of pixels (per mille) differ by more than
/// [`LOSSY_TOLERANCE`] in some channel.
const LOSSY_PER_MILLE: usize = 10;
/// Per-channel difference tolerated in the JPEG run.
const LOSSY_TOLERANCE: u32 = 48;

/// Counts pixels of `a` and `b` that differ (exactly, or beyond the lossy
/// tolerance).
pub fn differing(a: &[u32], b: &[u32], lossy: bool) -> usize {
    if a.len() != b.len() {
        return a.len().max(b.len());
    }
    if !lossy {
        return a.iter().zip(b).filter(|(x, y)| x != y).count();
    }
    a.iter()
        .zip(b)
        .filter(|&(&x, &y)| {
            (0..3).any(|c| {
                let (p, q) = ((x >> (c * 8)) & 0xFF, (y >> (c * 8)) & 0xFF);
                p.abs_diff(q) > LOSSY_TOLERANCE
            })
        })
        .count()
}

/// Whether two pictures match for a run (exactly, or within tolerance).
pub fn matches(a: &[u32], b: &[u32], lossy: bool) -> bool {
    let d = differing(a, b, lossy);
    if lossy {
        d * 1000 <= a.len() * LOSSY_PER_MILLE
    } else {
        d == 0
    }
}

/// What the client saw, shared with the orchestrator.
pub struct Measure {
    /// Bytes received from the server (on the TCP connection, so the
    /// crypto run counts its framing and tags too).
    pub wire_in: Arc<AtomicU64>,
    /// Bytes sent to the server.
    pub wire_out: Arc<AtomicU64>,
    /// Everything else, behind one lock.
    pub state: Mutex<State>,
}

/// The client's state.
pub struct State {
    /// The RFB client.
    pub client: ClientSession,
    /// When the handshake finished.
    pub connected: Option<Instant>,
    /// The screen when the contestant started (static until the first frame).
    pub reference: Vec<u32>,
    /// When the client's picture first matched `reference`.
    pub first_frame: Option<Instant>,
    /// Lossy comparison (JPEG run).
    pub lossy: bool,
    /// FramebufferUpdates completed.
    pub updates: u64,
    /// Centre of the probe square.
    pub probe: Option<(u16, u16)>,
    /// The flips the workload made so far.
    pub flips: Arc<Mutex<Vec<Flip>>>,
    /// Index of the first flip not yet seen.
    pub next_flip: usize,
    /// Flip → seen latencies.
    pub latencies: Vec<Duration>,
    /// When the flip of each of `latencies` was made.
    pub latency_at: Vec<Instant>,
    /// The file transfer of the transfer workload.
    pub transfer: TransferTimes,
    /// Flips overtaken by a later one before they were seen.
    pub missed: usize,
    /// Why the connection ended, if it failed.
    pub error: Option<String>,
}

impl Measure {
    /// A client expecting `reference` as its first complete picture.
    pub fn new(
        reference: Vec<u32>,
        lossy: bool,
        probe: Option<(u16, u16)>,
        flips: Arc<Mutex<Vec<Flip>>>,
    ) -> Arc<Measure> {
        Arc::new(Measure {
            wire_in: Arc::new(AtomicU64::new(0)),
            wire_out: Arc::new(AtomicU64::new(0)),
            state: Mutex::new(State {
                client: ClientSession::new(config(lossy)),
                connected: None,
                reference,
                first_frame: None,
                lossy,
                updates: 0,
                probe,
                flips,
                next_flip: 0,
                latencies: Vec::new(),
                latency_at: Vec::new(),
                transfer: TransferTimes::default(),
                missed: 0,
                error: None,
            }),
        })
    }

    /// Locks the state.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn on_update(&mut self, now: Instant) {
        self.updates += 1;
        if self.first_frame.is_none()
            && matches(
                self.client.framebuffer().pixels(),
                &self.reference,
                self.lossy,
            )
        {
            self.first_frame = Some(now);
        }
        let Some((x, y)) = self.probe else { return };
        let Some(seen) = self.client.framebuffer().get(x, y) else {
            return;
        };
        let flips = self.flips.lock().unwrap_or_else(|p| p.into_inner());
        // The first flip not yet seen that set the colour now shown (colours
        // repeat only every PROBE_COLOURS.len() flips).
        let hit =
            (self.next_flip..flips.len()).find(|&i| flips[i].colour == seen && flips[i].at <= now);
        if let Some(i) = hit {
            self.latencies.push(now - flips[i].at);
            self.latency_at.push(flips[i].at);
            self.missed += i - self.next_flip;
            self.next_flip = i + 1;
        }
    }
}

/// A stream that counts the bytes read and written.
pub struct Counted<S> {
    inner: S,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl<S> Counted<S> {
    /// Wraps `inner`, adding to the two counters.
    pub fn new(inner: S, read: Arc<AtomicU64>, written: Arc<AtomicU64>) -> Self {
        Counted {
            inner,
            read,
            written,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// When the transfer workload's files went (technician → customer).
#[derive(Debug, Clone, Default)]
pub struct TransferTimes {
    /// The first offer was sent.
    pub offered: Option<Instant>,
    /// The customer accepted transfer id (1, 2, …) at.
    pub accepted: Vec<(u32, Instant)>,
    /// Why a transfer failed.
    pub error: Option<String>,
}

/// A file the client (the technician) offers and sends each time `start`
/// is notified, as transfer ids 1, 2, … (the technician's ids start at 1).
pub struct TransferPlan {
    /// The file.
    pub file: crypto::transfer::PreparedFile,
    /// Fires when the next transfer should begin.
    pub start: Arc<tokio::sync::Notify>,
}

/// How the client meets its server.
pub enum Link {
    /// Accept one reverse connection on this listener (clear RFB).
    AcceptClear(StdListener),
    /// Accept one reverse connection and run the Noise responder with this
    /// key; send a file when the plan says so.
    AcceptCrypto(StdListener, crypto::keys::KeyPair, Option<TransferPlan>),
    /// Connect to a server listening on this loopback port.
    Connect(u16),
}

/// How long the client waits for its server to turn up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the client on its own thread until `stop` turns true or the
/// connection ends; errors are stored in [`State::error`].
pub fn spawn(
    link: Link,
    measure: Arc<Measure>,
    stop: watch::Receiver<bool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                measure.lock().error = Some(format!("tokio runtime: {e}"));
                return;
            }
        };
        let m = measure.clone();
        let r = rt.block_on(async move { connect_and_drive(link, m, stop).await });
        if let Err(e) = r {
            let mut st = measure.lock();
            if st.error.is_none() {
                st.error = Some(e);
            }
        }
    })
}

async fn connect_and_drive(
    link: Link,
    m: Arc<Measure>,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let counted = |s| Counted::new(s, m.wire_in.clone(), m.wire_out.clone());
    match link {
        Link::AcceptClear(l) => {
            let s = accept(l).await?;
            drive(counted(s), m.clone(), stop).await
        }
        Link::AcceptCrypto(l, keypair, plan) => {
            let s = accept(l).await?;
            let cfg = crypto::tokio_io::ResponderConfig {
                keypair,
                codes: None,
                channel: crypto::tokio_io::ChannelConfig::default(),
            };
            let decide = |_: &crypto::hello::CustomerHello, _| {
                crypto::hello::TechnicianHello::new("Bench", crypto::hello::Decision::Accepted)
            };
            let channel = crypto::tokio_io::accept_responder(counted(s), &[], &cfg, decide)
                .await
                .map_err(|e| format!("secure handshake: {e}"))?;
            let crypto::tokio_io::SecureChannel {
                rfb,
                control,
                mut events,
                ..
            } = channel;
            // The control side lives for the whole session (in the task).
            let m2 = m.clone();
            tokio::spawn(async move {
                if let Some(plan) = plan {
                    for id in 1.. {
                        plan.start.notified().await;
                        let r = send_planned(&control, &mut events, &plan.file, id, &m2).await;
                        if let Err(e) = r {
                            m2.lock().transfer.error = Some(e);
                            break;
                        }
                    }
                }
                while events.recv().await.is_ok() {}
                drop(control);
            });
            drive(rfb, m.clone(), stop).await
        }
        Link::Connect(port) => {
            let deadline = Instant::now() + CONNECT_TIMEOUT;
            let s = loop {
                match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    Ok(s) => break s,
                    Err(e) if Instant::now() > deadline => {
                        return Err(format!("cannot connect to 127.0.0.1:{port}: {e}"));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            let _ = s.set_nodelay(true);
            drive(counted(s), m.clone(), stop).await
        }
    }
}

/// Offers `file`, waits for the customer's answer and sends it, feeding
/// the customer's control messages (its `FileAck`s open the sender's
/// window) to the transfer bookkeeping meanwhile.
async fn send_planned(
    ctl: &crypto::tokio_io::ControlSender,
    events: &mut crypto::tokio_io::ControlReceiver,
    file: &crypto::transfer::PreparedFile,
    id: u32,
    m: &Measure,
) -> Result<(), String> {
    use crypto::transfer::{OutgoingEvent, OutgoingTransfers};
    let mut transfers = OutgoingTransfers::starting_at(id);
    let (id, offer) = transfers.offer(file.clone());
    ctl.send(offer).await.map_err(|e| format!("offer: {e}"))?;
    m.lock().transfer.offered.get_or_insert_with(Instant::now);
    let (cancel, acks) = loop {
        let msg = events.recv().await.map_err(|e| format!("control: {e}"))?;
        match transfers.handle(&msg) {
            Some(OutgoingEvent::Accepted(_, _, cancel, acks)) => break (cancel, acks),
            Some(OutgoingEvent::Refused(..) | OutgoingEvent::Cancelled(..)) => {
                return Err("the customer refused the file".into());
            }
            None => {}
        }
    };
    m.lock().transfer.accepted.push((id, Instant::now()));
    let send = crypto::transfer::send_file(ctl, id, file, &cancel, acks, &|_| {});
    tokio::pin!(send);
    loop {
        tokio::select! {
            r = &mut send => {
                r.map_err(|e| format!("send: {e}"))?;
                break;
            }
            ev = events.recv() => match ev {
                Ok(msg) => {
                    if let Some(OutgoingEvent::Cancelled(..)) = transfers.handle(&msg) {
                        return Err("the customer cancelled the file".into());
                    }
                }
                Err(e) => return Err(format!("control: {e}")),
            },
        }
    }
    transfers.finished(id);
    Ok(())
}

async fn accept(l: StdListener) -> Result<tokio::net::TcpStream, String> {
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let l = tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?;
    let (s, _) = tokio::time::timeout(CONNECT_TIMEOUT, l.accept())
        .await
        .map_err(|_| format!("no connection within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| format!("accept: {e}"))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    m: Arc<Measure>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut buf = vec![0u8; 256 * 1024];
    // BENCH_TRACE=1: one stderr line per update (bytes since the last one,
    // rectangles), to see what a server spends its bytes on.
    let trace = std::env::var_os("BENCH_TRACE").is_some();
    let mut last_bytes = 0u64;
    loop {
        let out = m.lock().client.take_output();
        if !out.is_empty() {
            s.write_all(&out).await.map_err(|e| format!("write: {e}"))?;
            s.flush().await.map_err(|e| format!("flush: {e}"))?;
        }
        let n = tokio::select! {
            n = s.read(&mut buf) => n.map_err(|e| format!("read: {e}"))?,
            _ = stop.changed() => return Ok(()),
        };
        if n == 0 {
            return if *stop.borrow() {
                Ok(())
            } else {
                Err("the server closed the connection".into())
            };
        }
        let mut st = m.lock();
        st.client
            .receive(&buf[..n])
            .map_err(|e| format!("protocol: {e}"))?;
        let now = Instant::now();
        while let Some(ev) = st.client.poll_event() {
            match ev {
                ClientEvent::Connected { .. } => st.connected = Some(now),
                ClientEvent::Update { rects } => {
                    if trace {
                        let b = m.wire_in.load(Ordering::Relaxed);
                        eprintln!("bench-trace update +{} B rects {rects:?}", b - last_bytes);
                        last_bytes = b;
                    }
                    st.on_update(now)
                }
                ev if trace => {
                    let d = format!("{ev:?}");
                    eprintln!(
                        "bench-trace event {}",
                        d.chars().take(120).collect::<String>()
                    );
                }
                _ => {}
            }
        }
    }
}
