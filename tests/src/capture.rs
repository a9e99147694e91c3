//! Captured RFB sessions (`tests/data/*.rfb`) and the recorder that makes them.
//!
//! File format (all integers big-endian):
//!
//! ```text
//! b"RMTOCAP1"                       magic
//! repeated: direction u8            b'C' client→server, b'S' server→client
//!           length    u32
//!           bytes     [u8; length]
//! ```
//!
//! Chunks appear in the order they crossed the wire, so the file tells which
//! client bytes (handshake, SetPixelFormat, SetEncodings, update request)
//! triggered which server bytes. Next to each `NAME.rfb` lies `NAME.png`,
//! a screenshot of the server's display taken while it was recorded: the
//! picture a correct decoder must produce.
//!
//! The recorder plays a minimal RFB 3.8 client itself (no dependency on the
//! `rfb` crate under test): version, security None, ClientInit (shared),
//! SetPixelFormat (32 bpp, depth 24, little-endian, `0x00RRGGBB`),
//! SetEncodings with exactly one encoding, one full FramebufferUpdateRequest,
//! then it records until the server has been silent for a while.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// The magic that starts a capture file.
pub const MAGIC: &[u8; 8] = b"RMTOCAP1";

/// Who sent a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Client,
    /// Server → client.
    Server,
}

/// A recorded session: the bytes both ways, in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Chunks in the order they crossed the wire.
    pub chunks: Vec<(Direction, Vec<u8>)>,
}

impl Transcript {
    /// Appends bytes, merging with the previous chunk of the same direction.
    pub fn push(&mut self, dir: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match self.chunks.last_mut() {
            Some((d, buf)) if *d == dir => buf.extend_from_slice(bytes),
            _ => self.chunks.push((dir, bytes.to_vec())),
        }
    }

    /// Everything the server sent, concatenated.
    pub fn server_bytes(&self) -> Vec<u8> {
        self.bytes(Direction::Server)
    }

    /// Everything the client sent, concatenated.
    pub fn client_bytes(&self) -> Vec<u8> {
        self.bytes(Direction::Client)
    }

    fn bytes(&self, dir: Direction) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|(d, _)| *d == dir)
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// Serialises in the capture file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (dir, bytes) in &self.chunks {
            out.push(match dir {
                Direction::Client => b'C',
                Direction::Server => b'S',
            });
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Parses the capture file format.
    pub fn from_bytes(mut data: &[u8]) -> Result<Transcript, String> {
        if !data.starts_with(MAGIC) {
            return Err("not a capture file (bad magic)".into());
        }
        data = &data[MAGIC.len()..];
        let mut t = Transcript::default();
        while !data.is_empty() {
            if data.len() < 5 {
                return Err("truncated chunk header".into());
            }
            let dir = match data[0] {
                b'C' => Direction::Client,
                b'S' => Direction::Server,
                other => return Err(format!("bad direction byte {other:#x}")),
            };
            let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
            data = &data[5..];
            if data.len() < len {
                return Err(format!("chunk of {len} bytes truncated to {}", data.len()));
            }
            t.chunks.push((dir, data[..len].to_vec()));
            data = &data[len..];
        }
        Ok(t)
    }

    /// Reads a capture file.
    pub fn load(path: &Path) -> Result<Transcript, String> {
        let data =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Transcript::from_bytes(&data).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes a capture file.
    pub fn save(&self, path: &Path) {
        std::fs::write(path, self.to_bytes())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// The pixel format the recorder asks for: 32 bpp, depth 24,
/// little-endian, true colour, shifts 16/8/0 (`rfb::PixelFormat::RGB888`).
pub const RECORD_PIXEL_FORMAT: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

/// A TCP stream that logs every byte both ways into a [`Transcript`].
struct Recording {
    stream: TcpStream,
    transcript: Transcript,
}

impl Recording {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.transcript.push(Direction::Client, bytes);
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("send: {e}"))
    }

    fn recv_exact(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; n];
        let mut got = 0;
        while got < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("timed out after {got} of {n} bytes"));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => return Err(format!("server closed after {got} of {n} bytes")),
                Ok(k) => got += k,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
        self.transcript.push(Direction::Server, &buf);
        Ok(buf)
    }

    /// Reads until `idle` passes without a byte (after at least `min_bytes`
    /// arrived), the server closes, or `deadline`.
    fn recv_until_idle(&mut self, min_bytes: usize, idle: Duration, deadline: Instant) -> usize {
        let mut total = 0;
        let mut buf = vec![0; 64 * 1024];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return total;
            }
            let wait = if total >= min_bytes {
                idle
            } else {
                deadline - now
            };
            let _ = self.stream.set_read_timeout(Some(wait.min(deadline - now)));
            match self.stream.read(&mut buf) {
                Ok(0) => return total,
                Ok(k) => {
                    total += k;
                    self.transcript.push(Direction::Server, &buf[..k]);
                }
                Err(e) if is_timeout(&e) => {
                    if total >= min_bytes {
                        return total;
                    }
                }
                Err(_) => return total,
            }
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// What the server announced in ServerInit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// Desktop name.
    pub name: String,
}

/// Accepts one connection on `listener` and records a session that asks
/// for `encoding` only (see the module docs). `idle` is how long the server
/// must stay silent after the first update bytes to end the recording.
pub fn record_session(
    listener: &TcpListener,
    encoding: i32,
    idle: Duration,
    timeout: Duration,
) -> Result<(ServerInit, Transcript), String> {
    let deadline = Instant::now() + timeout;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if is_timeout(&e) => {
                if Instant::now() >= deadline {
                    return Err("no server connected".into());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut rec = Recording {
        stream,
        transcript: Transcript::default(),
    };
    let version = rec.recv_exact(12, deadline)?;
    if !version.starts_with(b"RFB 003.") {
        return Err(format!("not an RFB server: {version:?}"));
    }
    rec.send(b"RFB 003.008\n")?;
    let n = rec.recv_exact(1, deadline)?[0];
    if n == 0 {
        let len = u32::from_be_bytes(rec.recv_exact(4, deadline)?.try_into().expect("4"));
        let reason = rec.recv_exact(len.min(4096) as usize, deadline)?;
        return Err(format!(
            "server refused: {}",
            String::from_utf8_lossy(&reason)
        ));
    }
    let types = rec.recv_exact(usize::from(n), deadline)?;
    if !types.contains(&1) {
        return Err(format!("server does not offer security None: {types:?}"));
    }
    rec.send(&[1])?;
    let result = rec.recv_exact(4, deadline)?;
    if result != [0, 0, 0, 0] {
        return Err(format!("security result {result:?}"));
    }
    rec.send(&[1])?; // ClientInit: shared
    let init = rec.recv_exact(24, deadline)?;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    if name_len > 4096 {
        return Err(format!("desktop name of {name_len} bytes"));
    }
    let name = String::from_utf8_lossy(&rec.recv_exact(name_len, deadline)?).into_owned();
    let mut msg = vec![0, 0, 0, 0];
    msg.extend_from_slice(&RECORD_PIXEL_FORMAT);
    rec.send(&msg)?;
    let mut msg = vec![2, 0, 0, 1];
    msg.extend_from_slice(&encoding.to_be_bytes());
    rec.send(&msg)?;
    let mut msg = vec![3, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&width.to_be_bytes());
    msg.extend_from_slice(&height.to_be_bytes());
    rec.send(&msg)?;
    let got = rec.recv_until_idle(4, idle, deadline);
    if got < 4 {
        return Err("no framebuffer update arrived".into());
    }
    Ok((
        ServerInit {
            width,
            height,
            name,
        },
        rec.transcript,
    ))
}

/// The encoding of the first rectangle of the first FramebufferUpdate in
/// `server` (the bytes a server sent from its ProtocolVersion on, RFB 3.8,
/// security None), skipping nothing else: the update must be the first
/// message after ServerInit. Used to check which encoding a peer really
/// used (libvncserver silently falls back to Raw when RRE would be larger).
pub fn first_rect_encoding(server: &[u8]) -> Result<i32, String> {
    let mut pos = 12; // ProtocolVersion
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], String> {
        let s = server
            .get(*pos..*pos + n)
            .ok_or_else(|| format!("stream ends at byte {}", server.len()))?;
        *pos += n;
        Ok(s)
    };
    let n = usize::from(take(&mut pos, 1)?[0]);
    take(&mut pos, n)?; // security types
    take(&mut pos, 4)?; // SecurityResult
    let init = take(&mut pos, 24)?;
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    take(&mut pos, name_len)?;
    let header = take(&mut pos, 4)?;
    if header[0] != 0 {
        return Err(format!(
            "first message is of type {}, not an update",
            header[0]
        ));
    }
    let rect = take(&mut pos, 12)?;
    Ok(i32::from_be_bytes([rect[8], rect[9], rect[10], rect[11]]))
}

/// The encodings of every rectangle in `server` (bytes from the server's
/// ProtocolVersion on, RFB 3.8, security None) for a session that asked
/// only for Raw and CopyRect with `bytes_per_pixel`-byte pixels. Parses
/// FramebufferUpdate, SetColourMapEntries, Bell and ServerCutText; a
/// truncated last message ends the list. Used to check that a server really
/// sent CopyRect.
pub fn raw_copyrect_encodings(server: &[u8], bytes_per_pixel: usize) -> Result<Vec<i32>, String> {
    let mut r = rfb::Reader::new(server);
    let trunc = |_| "truncated".to_string();
    r.skip(12).map_err(trunc)?;
    let n = usize::from(r.u8().map_err(trunc)?);
    r.skip(n + 4).map_err(trunc)?;
    r.skip(20).map_err(trunc)?;
    let name_len = r.u32().map_err(trunc)? as usize;
    r.skip(name_len).map_err(trunc)?;
    let mut out = Vec::new();
    let mut parse = |r: &mut rfb::Reader<'_>| -> Result<(), Option<String>> {
        let ty = r.u8().map_err(|_| None)?;
        match ty {
            0 => {
                r.skip(1).map_err(|_| None)?;
                let rects = r.u16().map_err(|_| None)?;
                for _ in 0..rects {
                    let _xy = r.u32().map_err(|_| None)?;
                    let w = usize::from(r.u16().map_err(|_| None)?);
                    let h = usize::from(r.u16().map_err(|_| None)?);
                    let enc = r.i32().map_err(|_| None)?;
                    match enc {
                        0 => r.skip(w * h * bytes_per_pixel).map_err(|_| None)?,
                        1 => r.skip(4).map_err(|_| None)?,
                        other => return Err(Some(format!("rectangle in encoding {other}"))),
                    }
                    out.push(enc);
                }
            }
            1 => {
                r.skip(3).map_err(|_| None)?;
                let n = usize::from(r.u16().map_err(|_| None)?);
                r.skip(6 * n).map_err(|_| None)?;
            }
            2 => {}
            3 => {
                r.skip(3).map_err(|_| None)?;
                let len = r.i32().map_err(|_| None)?;
                r.skip(len.unsigned_abs() as usize).map_err(|_| None)?;
            }
            other => return Err(Some(format!("message type {other}"))),
        }
        Ok(())
    };
    loop {
        match parse(&mut r) {
            Ok(()) => {}
            Err(None) => return Ok(out),
            Err(Some(e)) => return Err(e),
        }
    }
}
