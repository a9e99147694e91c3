//! Hostile peers for the robustness suite (`tests/hostile_peers.rs`,
//! `tests/listener_flood.rs`): a scripted malicious RFB *server* that
//! connects to a listening viewer, a scripted malicious RFB *client* that
//! accepts a connection from `remoto`, byte builders for the hostile
//! messages of `../shared/hostile-inputs.md`, and memory readings from
//! `/proc/PID/status`.
//!
//! Everything uses blocking std sockets with timeouts, so a stalled peer
//! fails the test instead of hanging it.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rfb::PixelFormat;

/// Reads `field` (`VmHWM`, `VmRSS`…) of `/proc/PID/status`, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident memory of `pid` (VmHWM) in MiB; panics if unreadable.
pub fn peak_rss_mib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM").unwrap_or_else(|| panic!("no VmHWM for pid {pid}")) / 1024
}

/// Current resident memory of `pid` (VmRSS) in MiB; panics if unreadable.
pub fn rss_mib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS").unwrap_or_else(|| panic!("no VmRSS for pid {pid}")) / 1024
}

/// Appends a big-endian u16.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian u32.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a 16-byte PIXEL_FORMAT.
pub fn put_pixel_format(out: &mut Vec<u8>, f: &PixelFormat) {
    f.write(out);
}

/// A ServerInit: size, RGB888, and a name whose *announced* length may lie.
pub fn server_init(width: u16, height: u16, name: &[u8], announced_len: Option<u32>) -> Vec<u8> {
    let mut v = Vec::new();
    put_u16(&mut v, width);
    put_u16(&mut v, height);
    put_pixel_format(&mut v, &PixelFormat::RGB888);
    put_u32(&mut v, announced_len.unwrap_or(name.len() as u32));
    v.extend_from_slice(name);
    v
}

/// A FramebufferUpdate header announcing `rects` rectangles.
pub fn update_header(rects: u16) -> Vec<u8> {
    let mut v = vec![0, 0];
    put_u16(&mut v, rects);
    v
}

/// A 12-byte rectangle header.
pub fn rect_header(x: u16, y: u16, w: u16, h: u16, encoding: i32) -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    put_u16(&mut v, x);
    put_u16(&mut v, y);
    put_u16(&mut v, w);
    put_u16(&mut v, h);
    v.extend_from_slice(&encoding.to_be_bytes());
    v
}

/// A zlib stream (built by hand: no compression library is needed) that
/// inflates to at least `len` zero bytes: one fixed-Huffman block with a
/// literal zero then back-references of length 258 at distance 1, so every
/// 258 bytes of output cost 13 bits of input (a "decompression bomb").
pub fn zlib_bomb(len: usize) -> Vec<u8> {
    let mut bits = BitWriter::default();
    // One final block with fixed Huffman codes (BFINAL=1, BTYPE=01).
    bits.put(1, 1);
    bits.put(1, 2);
    // Literal 0: fixed code 00110000 (8 bits, 0x30), sent MSB first.
    bits.put_rev(0x30, 8);
    let mut produced = 1usize;
    while produced < len {
        // Length 258: code 285 = 11000101 (8 bits), no extra bits.
        bits.put_rev(0b1100_0101, 8);
        // Distance 1: distance code 0, 5 bits 00000.
        bits.put_rev(0, 5);
        produced += 258;
    }
    // End of block: code 256 = 0000000 (7 bits).
    bits.put_rev(0, 7);
    let mut out = vec![0x78, 0x01];
    out.extend_from_slice(&bits.finish());
    // Adler-32 of `produced` zero bytes: a = 1, b = produced mod 65521.
    let b = (produced % 65521) as u32;
    put_u32(&mut out, (b << 16) | 1);
    out
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    /// Appends `count` bits of `v`, least significant first (deflate header fields).
    fn put(&mut self, v: u32, count: u32) {
        for i in 0..count {
            self.bit((v >> i) & 1);
        }
    }

    /// Appends a Huffman code of `count` bits, most significant first.
    fn put_rev(&mut self, v: u32, count: u32) {
        for i in (0..count).rev() {
            self.bit((v >> i) & 1);
        }
    }

    fn bit(&mut self, b: u32) {
        self.acc |= b << self.n;
        self.n += 1;
        if self.n == 8 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.n = 0;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A scripted malicious RFB server that has connected to a listening viewer.
pub struct HostileServer {
    /// The connection.
    pub stream: TcpStream,
}

impl HostileServer {
    /// Connects to `addr` with 10 s read/write timeouts.
    pub fn connect(addr: SocketAddr) -> HostileServer {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to the viewer at {addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .expect("write timeout");
        let _ = stream.set_nodelay(true);
        HostileServer { stream }
    }

    /// Runs the RFB 3.8 handshake up to (not including) ServerInit:
    /// version, security None, SecurityResult OK, reads ClientInit.
    pub fn handshake_until_init(&mut self) -> std::io::Result<()> {
        self.stream.write_all(b"RFB 003.008\n")?;
        let mut version = [0u8; 12];
        self.stream.read_exact(&mut version)?;
        self.stream.write_all(&[1, 1])?;
        let mut chosen = [0u8; 1];
        self.stream.read_exact(&mut chosen)?;
        self.stream.write_all(&[0, 0, 0, 0])?;
        let mut client_init = [0u8; 1];
        self.stream.read_exact(&mut client_init)
    }

    /// Full handshake with a well-formed ServerInit of `width`×`height`.
    pub fn handshake(&mut self, width: u16, height: u16) -> std::io::Result<()> {
        self.handshake_until_init()?;
        self.stream
            .write_all(&server_init(width, height, b"hostile", None))
    }

    /// Sends bytes, ignoring a connection the viewer already closed.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads and drops what the viewer sends until it closes the connection
    /// (`Ok(bytes)`) or `timeout` passes (`Err`).
    pub fn wait_closed(&mut self, timeout: Duration) -> Result<usize, String> {
        read_until_closed(&mut self.stream, timeout)
    }
}

/// Reads and drops bytes from `stream` until EOF or reset (`Ok(count)`), or
/// `timeout` (`Err`).
pub fn read_until_closed(stream: &mut TcpStream, timeout: Duration) -> Result<usize, String> {
    let end = Instant::now() + timeout;
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("still open after {timeout:?} ({total} bytes read)"));
        }
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(500))))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Ok(total),
        }
    }
}

/// A scripted malicious RFB client (a fake "technician viewer") that
/// accepted a connection from `remoto`.
pub struct HostileClient {
    /// The connection.
    pub stream: TcpStream,
    /// The framebuffer size from ServerInit.
    pub size: (u16, u16),
}

impl HostileClient {
    /// Accepts one connection on `listener` within `timeout` and runs the
    /// RFB 3.8 handshake as the client (security None, shared).
    pub fn accept(listener: &TcpListener, timeout: Duration) -> HostileClient {
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let end = Instant::now() + timeout;
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(
                        Instant::now() < end,
                        "remoto did not connect within {timeout:?}"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("blocking stream");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .expect("write timeout");
        let mut c = HostileClient {
            stream,
            size: (0, 0),
        };
        c.handshake().expect("RFB handshake with remoto");
        c
    }

    fn handshake(&mut self) -> std::io::Result<()> {
        let mut version = [0u8; 12];
        self.stream.read_exact(&mut version)?;
        self.stream.write_all(b"RFB 003.008\n")?;
        let mut n = [0u8; 1];
        self.stream.read_exact(&mut n)?;
        let mut types = vec![0u8; usize::from(n[0])];
        self.stream.read_exact(&mut types)?;
        self.stream.write_all(&[1])?;
        let mut result = [0u8; 4];
        self.stream.read_exact(&mut result)?;
        self.stream.write_all(&[1])?;
        let mut init = [0u8; 24];
        self.stream.read_exact(&mut init)?;
        let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
        let mut name = vec![0u8; name_len.min(4096) as usize];
        self.stream.read_exact(&mut name)?;
        self.size = (
            u16::from_be_bytes([init[0], init[1]]),
            u16::from_be_bytes([init[2], init[3]]),
        );
        Ok(())
    }

    /// Sends bytes.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads and drops what remoto sends until it closes (`Ok`) or `timeout`.
    pub fn wait_closed(&mut self, timeout: Duration) -> Result<usize, String> {
        read_until_closed(&mut self.stream, timeout)
    }
}

/// SetPixelFormat with an arbitrary (possibly invalid) format.
pub fn set_pixel_format(f: &PixelFormat) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0];
    put_pixel_format(&mut v, f);
    v
}

/// SetEncodings announcing `count` entries and carrying `encodings`
/// (repeated cyclically up to `count`).
pub fn set_encodings(count: u16, encodings: &[i32]) -> Vec<u8> {
    let mut v = vec![2, 0];
    put_u16(&mut v, count);
    for i in 0..usize::from(count) {
        let e = encodings[i % encodings.len().max(1)];
        v.extend_from_slice(&e.to_be_bytes());
    }
    v
}

/// FramebufferUpdateRequest.
pub fn update_request(incremental: bool, x: u16, y: u16, w: u16, h: u16) -> Vec<u8> {
    let mut v = vec![3, u8::from(incremental)];
    for n in [x, y, w, h] {
        put_u16(&mut v, n);
    }
    v
}

/// The header of a CutText message (type 3 from a server, 6 from a client)
/// announcing `len` bytes (as i32: negative means ExtendedClipboard).
pub fn cut_text_header(ty: u8, len: i32) -> Vec<u8> {
    let mut v = vec![ty, 0, 0, 0];
    v.extend_from_slice(&len.to_be_bytes());
    v
}

/// A tiny deterministic generator for junk bytes.
pub struct Junk(u64);

impl Junk {
    /// Seeded generator.
    pub fn new(seed: u64) -> Junk {
        Junk(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Fills `buf` with pseudo-random bytes (xorshift64*).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            *b = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zlib_bomb_is_small_and_announces_its_size() {
        let bomb = zlib_bomb(1 << 20);
        assert!(bomb.len() < 8 * 1024, "bomb is {} bytes", bomb.len());
        assert_eq!(&bomb[..2], &[0x78, 0x01]);
    }

    #[test]
    fn set_encodings_is_counted() {
        let m = set_encodings(3, &[0, 16]);
        assert_eq!(m.len(), 4 + 12);
        assert_eq!(&m[4..8], &0i32.to_be_bytes());
        assert_eq!(&m[8..12], &16i32.to_be_bytes());
    }
}
