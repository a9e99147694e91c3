//! Loopback ports: free ones, and waiting for a peer to listen.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use crate::wait;

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released).
///
/// Prefer binding port 0 directly when the test itself listens; use this
/// only to hand a port number to a peer that will listen on it.
pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// True when some socket is in LISTEN state on `port` (IPv4 or IPv6),
/// read from /proc/net/tcp* so that no probe connection is made (a probe
/// would use up a one-shot listener such as `vncviewer -listen`).
pub fn is_listening(port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let mut f = line.split_whitespace();
                let local = f.nth(1).unwrap_or("");
                let state = f.nth(1).unwrap_or("");
                state == "0A"
                    && local
                        .rsplit(':')
                        .next()
                        .and_then(|p| u16::from_str_radix(p, 16).ok())
                        == Some(port)
            })
    })
}

/// Waits until something listens on `port`; panics after `timeout`.
pub fn wait_listening(port: u16, timeout: Duration) {
    wait::wait_for(&format!("a listener on port {port}"), timeout, || {
        is_listening(port).then_some(())
    });
}

/// A TCP relay on 127.0.0.1 that delays every byte by a fixed time in each
/// direction (one-way latency; the round trip is twice that), for kernels
/// without `sch_netem`. Bytes keep their order; a close is passed on after
/// the bytes before it. Runs on threads until the test process ends or
/// both sides close.
#[derive(Debug)]
pub struct DelayRelay {
    /// Where clients connect.
    pub port: u16,
}

impl DelayRelay {
    /// Listens on a free loopback port and relays every connection to
    /// `target` with `delay` each way.
    pub fn start(target: SocketAddr, delay: Duration) -> DelayRelay {
        Self::start_on(0, target, delay)
    }

    /// Like [`DelayRelay::start`], listening on `port` (0: any free one).
    pub fn start_on(port: u16, target: SocketAddr, delay: Duration) -> DelayRelay {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    if let (Ok(from), Ok(to)) = (from, to) {
                        delayed_pump(from, to, delay);
                    }
                }
            }
        });
        DelayRelay { port }
    }
}

/// Copies `from` → `to`, each chunk released `delay` after it was read.
fn delayed_pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream, delay: Duration) {
    use std::io::{Read, Write};
    let (tx, rx) = std::sync::mpsc::channel::<(std::time::Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((std::time::Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        // Dropping `tx` tells the writer the stream ended.
    });
    std::thread::spawn(move || {
        while let Ok((due, bytes)) = rx.recv() {
            std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        std::thread::sleep(delay);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
