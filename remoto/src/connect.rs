//! Connecting out to a technician: every endpoint tried at once, first
//! success wins; optional HTTP CONNECT proxy. Remoto never listens.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// How long one attempt (DNS + TCP + proxy) may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest proxy response header accepted.
const MAX_PROXY_RESPONSE: usize = 8 * 1024;

/// Why no endpoint could be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The technician has no endpoints.
    #[error("no address is configured for this technician")]
    NoEndpoints,
    /// Every endpoint failed; one reason per endpoint.
    #[error("{}", describe(.0))]
    AllFailed(Vec<(String, String)>),
    /// The proxy setting is not `http://host:port`.
    #[error("proxy setting {0:?} is not of the form http://host:port")]
    BadProxy(String),
}

fn describe(failures: &[(String, String)]) -> String {
    failures
        .iter()
        .map(|(ep, why)| format!("{why} at {ep}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An HTTP proxy (`http://host:port`) that accepts CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `host:port` of the proxy.
    pub address: String,
}

impl Proxy {
    /// Parses `http://host:port` (a trailing `/` is allowed; `host:port` alone too).
    pub fn parse(s: &str) -> Result<Self, ConnectError> {
        let rest = s.trim();
        let rest = rest.strip_prefix("http://").unwrap_or(rest);
        let rest = rest.trim_end_matches('/');
        let ok = !rest.is_empty()
            && !rest.contains('/')
            && !rest.contains('@')
            && rest
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p != 0));
        if !ok {
            return Err(ConnectError::BadProxy(s.to_string()));
        }
        Ok(Self {
            address: rest.to_string(),
        })
    }

    /// The proxy from the environment (`https_proxy`, `HTTPS_PROXY`), if set
    /// and not empty.
    pub fn from_env() -> Option<Result<Self, ConnectError>> {
        ["https_proxy", "HTTPS_PROXY"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.trim().is_empty())
            .map(|v| Self::parse(&v))
    }
}

/// Progress reported while connecting.
pub trait ConnectProgress: Send + Sync {
    /// An attempt to `endpoint` has started.
    fn trying(&self, endpoint: &str);
}

impl ConnectProgress for () {
    fn trying(&self, _endpoint: &str) {}
}

/// Tries every endpoint at once (directly, or through `proxy`); returns the
/// first stream that connects and the endpoint it reached. The other
/// attempts are dropped.
pub async fn connect_any(
    endpoints: &[String],
    proxy: Option<&Proxy>,
    timeout: Duration,
    progress: &dyn ConnectProgress,
) -> Result<(TcpStream, String), ConnectError> {
    if endpoints.is_empty() {
        return Err(ConnectError::NoEndpoints);
    }
    let mut set = JoinSet::new();
    for ep in endpoints {
        progress.trying(ep);
        let ep = ep.clone();
        let proxy = proxy.cloned();
        set.spawn(async move {
            let res = tokio::time::timeout(timeout, connect_one(&ep, proxy.as_ref())).await;
            let res = match res {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
            };
            (ep, res)
        });
    }
    let mut failures = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((ep, Ok(stream))) => {
                set.abort_all();
                return Ok((stream, ep));
            }
            Ok((ep, Err(why))) => failures.push((ep, why)),
            Err(e) => failures.push(("?".into(), e.to_string())),
        }
    }
    // Keep the profile's order in the message.
    failures.sort_by_key(|(ep, _)| endpoints.iter().position(|e| e == ep));
    Err(ConnectError::AllFailed(failures))
}

async fn connect_one(endpoint: &str, proxy: Option<&Proxy>) -> Result<TcpStream, String> {
    match proxy {
        None => {
            let s = TcpStream::connect(endpoint).await.map_err(io_reason)?;
            s.set_nodelay(true).ok();
            Ok(s)
        }
        Some(p) => {
            let mut s = TcpStream::connect(&p.address)
                .await
                .map_err(|e| format!("proxy {}: {}", p.address, io_reason(e)))?;
            s.set_nodelay(true).ok();
            let req = format!(
                "CONNECT {endpoint} HTTP/1.1\r\nHost: {endpoint}\r\nUser-Agent: Remoto/{}\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            );
            s.write_all(req.as_bytes()).await.map_err(io_reason)?;
            let status = read_proxy_response(&mut s).await?;
            if !(200..300).contains(&status) {
                return Err(format!("proxy {} answered HTTP {status}", p.address));
            }
            Ok(s)
        }
    }
}

/// Reads the proxy's response header byte by byte (so no tunnel byte is
/// consumed) and returns the status code.
async fn read_proxy_response(s: &mut TcpStream) -> Result<u16, String> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_PROXY_RESPONSE {
            return Err("proxy response header too long".into());
        }
        let n = s.read(&mut byte).await.map_err(io_reason)?;
        if n == 0 {
            return Err("proxy closed the connection".into());
        }
        head.push(byte[0]);
    }
    parse_status(&head).ok_or_else(|| "proxy sent a malformed HTTP response".into())
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

fn io_reason(e: std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        TimedOut => "connection timed out".into(),
        HostUnreachable | NetworkUnreachable => "network unreachable".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_forms() {
        assert_eq!(
            Proxy::parse("http://p.example:3128/").unwrap().address,
            "p.example:3128"
        );
        assert_eq!(
            Proxy::parse("127.0.0.1:8080").unwrap().address,
            "127.0.0.1:8080"
        );
        assert!(Proxy::parse("http://p.example").is_err());
        assert!(Proxy::parse("http://u:p@p.example:80").is_err());
        assert!(Proxy::parse("http://p:0").is_err());
    }

    #[test]
    fn status_line() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Some(200)
        );
        assert_eq!(parse_status(b"HTTP/1.0 403 Forbidden\r\n\r\n"), Some(403));
        assert_eq!(parse_status(b"SSH-2.0\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn unreachable_endpoints_are_all_reported() {
        // Port 1 on loopback: refused at once.
        let eps = vec!["127.0.0.1:1".to_string(), "[::1]:1".to_string()];
        let err = connect_any(&eps, None, Duration::from_secs(5), &())
            .await
            .unwrap_err();
        let ConnectError::AllFailed(f) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(f.len(), 2);
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    }
}
