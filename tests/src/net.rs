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
