//! tokio glue that drives the sans-IO `rfb` sessions over loopback TCP in
//! tests, recording every byte both ways (saved as a capture on failure).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rfb::client::{ClientConfig, ClientEvent, ClientSession};
use rfb::server::{ServerConfig, ServerEvent, ServerSession};
use rfb::{Framebuffer, Rect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::capture::{Direction, Transcript};
use crate::image::Image;

/// Converts a decoded framebuffer into an [`Image`].
pub fn framebuffer_image(fb: &Framebuffer) -> Image {
    Image {
        width: u32::from(fb.width()),
        height: u32::from(fb.height()),
        pixels: fb.pixels().iter().map(|p| p & 0xFF_FFFF).collect(),
    }
}

/// Converts an [`Image`] into a framebuffer (for the server role).
pub fn image_framebuffer(img: &Image) -> Framebuffer {
    Framebuffer::from_pixels(
        u16::try_from(img.width).expect("width"),
        u16::try_from(img.height).expect("height"),
        img.pixels.clone(),
    )
    .expect("picture within framebuffer limits")
}

/// A client configuration asking for exactly `encodings` (no compress or
/// quality level: lossless only), in the native RGB888 pixel format.
pub fn client_config(encodings: &[i32]) -> ClientConfig {
    ClientConfig {
        encodings: encodings.to_vec(),
        pixel_format: Some(rfb::PixelFormat::RGB888),
        shared: true,
        compress_level: None,
        quality_level: None,
    }
}

/// Accepts one connection on `listener` within `timeout`.
pub async fn accept(listener: &TcpListener, timeout: Duration) -> TcpStream {
    let (stream, _) = tokio::time::timeout(timeout, listener.accept())
        .await
        .unwrap_or_else(|_| panic!("no peer connected within {timeout:?}"))
        .expect("accept");
    let _ = stream.set_nodelay(true);
    stream
}

/// `rfb`'s client session over a TCP stream.
pub struct ClientDriver {
    stream: TcpStream,
    /// The session under test.
    pub session: ClientSession,
    /// Every event so far.
    pub events: Vec<ClientEvent>,
    /// Every byte both ways.
    pub transcript: Transcript,
    closed: bool,
}

impl ClientDriver {
    /// Wraps an accepted stream; nothing is sent until the server speaks.
    pub fn new(stream: TcpStream, config: ClientConfig) -> Self {
        Self {
            stream,
            session: ClientSession::new(config),
            events: Vec::new(),
            transcript: Transcript::default(),
            closed: false,
        }
    }

    /// True once the server closed the connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    async fn flush(&mut self) -> Result<(), String> {
        let out = self.session.take_output();
        if !out.is_empty() {
            self.transcript.push(Direction::Client, &out);
            self.stream
                .write_all(&out)
                .await
                .map_err(|e| format!("send to server: {e}"))?;
        }
        Ok(())
    }

    /// Reads and processes bytes until `done` returns true (it is checked
    /// after every batch of events), the server closes, or `timeout` passes.
    pub async fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&ClientSession, &[ClientEvent]) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            self.flush().await?;
            if done(&self.session, &self.events) {
                return Ok(());
            }
            if self.closed {
                return Err("the server closed the connection".into());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("timed out after {timeout:?}"));
            }
            match tokio::time::timeout(left, self.stream.read(&mut buf)).await {
                Err(_) => return Err(format!("timed out after {timeout:?}")),
                Ok(Err(e)) => return Err(format!("receive: {e}")),
                Ok(Ok(0)) => self.closed = true,
                Ok(Ok(n)) => {
                    self.transcript.push(Direction::Server, &buf[..n]);
                    self.session
                        .receive(&buf[..n])
                        .map_err(|e| format!("rfb client session failed: {e}"))?;
                    while let Some(ev) = self.session.poll_event() {
                        self.events.push(ev);
                    }
                }
            }
        }
    }

    /// The decoded picture.
    pub fn picture(&self) -> Image {
        framebuffer_image(self.session.framebuffer())
    }
}

/// What the server driver observed.
#[derive(Debug, Default, Clone)]
pub struct ServerLog {
    /// Every event of the session.
    pub events: Vec<ServerEvent>,
    /// Encodings the client listed (last SetEncodings).
    pub client_encodings: Vec<i32>,
    /// The encoding chosen for pixel rectangles at the last update.
    pub chosen_encoding: Option<i32>,
    /// FramebufferUpdates sent.
    pub updates_sent: usize,
    /// Every byte both ways.
    pub transcript: Transcript,
    /// Why the session ended, if it did.
    pub ended: Option<String>,
}

/// A picture to serve and the areas that changed since the previous one.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The screen.
    pub fb: Framebuffer,
    /// Changed areas (empty for the first frame).
    pub dirty: Vec<Rect>,
}

/// `rfb`'s server session serving pictures over a TCP stream, in a task.
pub struct ServerDriver {
    frames: watch::Sender<Frame>,
    /// Shared log, readable while the task runs.
    pub log: Arc<Mutex<ServerLog>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerDriver {
    /// Starts serving `picture` on `stream` (the server speaks first).
    pub fn start(stream: TcpStream, picture: &Image, name: &str) -> Self {
        let fb = image_framebuffer(picture);
        let config = ServerConfig::new(fb.width(), fb.height(), name);
        let (tx, rx) = watch::channel(Frame {
            fb,
            dirty: Vec::new(),
        });
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let task = tokio::spawn(serve(stream, ServerSession::new(config), rx, log.clone()));
        Self {
            frames: tx,
            log,
            task,
        }
    }

    /// Replaces the picture; `dirty` says where it changed.
    pub fn show(&self, picture: &Image, dirty: Vec<Rect>) {
        let fb = image_framebuffer(picture);
        self.frames.send_replace(Frame { fb, dirty });
    }

    /// A copy of the log so far.
    pub fn log(&self) -> ServerLog {
        self.log.lock().expect("log").clone()
    }

    /// True once the session ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for ServerDriver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    mut session: ServerSession,
    mut frames: watch::Receiver<Frame>,
    log: Arc<Mutex<ServerLog>>,
) {
    let result = serve_loop(&mut stream, &mut session, &mut frames, &log).await;
    let mut l = log.lock().expect("log");
    l.ended = Some(match result {
        Ok(()) => "client closed the connection".into(),
        Err(e) => e,
    });
}

async fn serve_loop(
    stream: &mut TcpStream,
    session: &mut ServerSession,
    frames: &mut watch::Receiver<Frame>,
    log: &Arc<Mutex<ServerLog>>,
) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut current = frames.borrow_and_update().clone();
    let mut dirty: Vec<Rect> = Vec::new();
    loop {
        if session.wants_update() && (!dirty.is_empty() || session.must_update()) {
            let sent = session
                .write_update(&current.fb, &dirty, &[], None, false)
                .map_err(|e| format!("write_update: {e}"))?;
            if sent {
                dirty.clear();
                let mut l = log.lock().expect("log");
                l.updates_sent += 1;
                l.chosen_encoding = Some(session.chosen_encoding());
            }
        }
        let out = session.take_output();
        if !out.is_empty() {
            log.lock()
                .expect("log")
                .transcript
                .push(Direction::Server, &out);
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("send to client: {e}"))?;
        }
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = r.map_err(|e| format!("receive: {e}"))?;
                if n == 0 {
                    return Ok(());
                }
                log.lock().expect("log").transcript.push(Direction::Client, &buf[..n]);
                session
                    .receive(&buf[..n])
                    .map_err(|e| format!("rfb server session failed: {e}"))?;
                while let Some(ev) = session.poll_event() {
                    let mut l = log.lock().expect("log");
                    if let ServerEvent::Encodings(list) = &ev {
                        l.client_encodings = list.clone();
                    }
                    l.events.push(ev);
                }
            }
            changed = frames.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let next = frames.borrow_and_update().clone();
                if (next.fb.width(), next.fb.height()) != (current.fb.width(), current.fb.height()) {
                    dirty.push(next.fb.bounds());
                } else {
                    dirty.extend(next.dirty.iter().copied());
                }
                current = next;
            }
        }
    }
}
