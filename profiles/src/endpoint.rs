//! Technician addresses: `host:port`, with IPv4, bracketed IPv6 or DNS names.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The host part of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 address, e.g. `198.51.100.7`.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written in brackets in the profile: `[2001:db8::7]`.
    Ipv6(Ipv6Addr),
    /// A DNS name, e.g. `verde.example.net` (stored in lowercase).
    Dns(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
            Host::Dns(n) => f.write_str(n),
        }
    }
}

/// A `host:port` address a technician listens on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Where.
    pub host: Host,
    /// TCP port, 1-65535.
    pub port: u16,
}

/// `host:port`, with IPv6 hosts in brackets: the form `TcpStream::connect` takes.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Why an endpoint could not be read. `at` is the byte offset inside the
/// endpoint text where the problem starts (for precise columns).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Nothing there.
    #[error("empty endpoint (expected host:port, e.g. \"verde.example.net:5500\")")]
    Empty,
    /// No `:port`.
    #[error("endpoint \"{0}\" has no port (expected host:port, e.g. \"{0}:5500\")")]
    NoPort(String),
    /// An IPv6 address without brackets.
    #[error("IPv6 addresses go in brackets (expected e.g. \"[2001:db8::7]:5500\")")]
    Ipv6NeedsBrackets,
    /// Bracketed text that is not an IPv6 address, or a missing `]`.
    #[error("\"{0}\" is not an IPv6 address (expected e.g. \"[2001:db8::7]:5500\")")]
    BadIpv6(String),
    /// Port text that is not a number.
    #[error("port \"{0}\" is not a number (expected 1-65535)")]
    PortNotNumber(String),
    /// Port 0 or above 65535.
    #[error("port {0} is out of range (expected 1-65535)")]
    PortRange(String),
    /// The host is not a valid DNS name or IPv4 address.
    #[error(
        "\"{0}\" is not a valid host name (expected letters, digits, '-' and '.', labels of 1-63 characters, or an IPv4 address)"
    )]
    BadHost(String),
}

impl EndpointError {
    /// Byte offset inside the endpoint text where the problem starts.
    pub(crate) fn offset_in(&self, text: &str) -> usize {
        match self {
            EndpointError::PortNotNumber(_) | EndpointError::PortRange(_) => {
                text.rfind(':').map_or(0, |p| p + 1)
            }
            EndpointError::NoPort(_) => text.len(),
            _ => 0,
        }
    }
}

fn parse_port(p: &str) -> Result<u16, EndpointError> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EndpointError::PortNotNumber(p.to_string()));
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(EndpointError::PortRange(p.to_string())),
    }
}

/// `true` for a DNS name made of labels of letters, digits and inner hyphens.
fn valid_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // An all-numeric dotted name is a mistyped IPv4 address, not a name.
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, EndpointError> {
        if s.trim().is_empty() {
            return Err(EndpointError::Empty);
        }
        if let Some(rest) = s.strip_prefix('[') {
            let Some((addr, after)) = rest.split_once(']') else {
                return Err(EndpointError::BadIpv6(rest.to_string()));
            };
            let ip = addr
                .parse::<Ipv6Addr>()
                .map_err(|_| EndpointError::BadIpv6(addr.to_string()))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| EndpointError::NoPort(format!("[{addr}]")))?;
            return Ok(Endpoint {
                host: Host::Ipv6(ip),
                port: parse_port(port)?,
            });
        }
        if s.parse::<Ipv6Addr>().is_ok() || s.matches(':').count() > 1 {
            return Err(EndpointError::Ipv6NeedsBrackets);
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(EndpointError::NoPort(s.to_string()));
        };
        let port = parse_port(port)?;
        let host = if let Ok(ip) = host.parse::<Ipv4Addr>() {
            Host::Ipv4(ip)
        } else if valid_dns_name(host) {
            Host::Dns(host.to_ascii_lowercase())
        } else {
            return Err(EndpointError::BadHost(host.to_string()));
        };
        Ok(Endpoint { host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_host_kinds() {
        let e: Endpoint = "198.51.100.7:5500".parse().unwrap();
        assert_eq!(e.host, Host::Ipv4(Ipv4Addr::new(198, 51, 100, 7)));
        assert_eq!(e.port, 5500);
        let e: Endpoint = "[::1]:5500".parse().unwrap();
        assert_eq!(e.host, Host::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(e.to_string(), "[::1]:5500");
        let e: Endpoint = "Verde.Example.net:1".parse().unwrap();
        assert_eq!(e.to_string(), "verde.example.net:1");
    }

    #[test]
    fn rejects_bad_endpoints() {
        use EndpointError::*;
        let err = |s: &str| s.parse::<Endpoint>().unwrap_err();
        assert!(matches!(err("host"), NoPort(_)));
        assert!(matches!(err("[::1]"), NoPort(_)));
        assert!(matches!(err("host:0"), PortRange(_)));
        assert!(matches!(err("host:65536"), PortRange(_)));
        assert!(matches!(err("host:99999999999999999999"), PortRange(_)));
        assert!(matches!(err("host:"), PortNotNumber(_)));
        assert!(matches!(err("host:+5"), PortNotNumber(_)));
        assert!(matches!(err("::1:5500"), Ipv6NeedsBrackets));
        assert!(matches!(err("[zz]:5"), BadIpv6(_)));
        assert!(matches!(err("[::1:5"), BadIpv6(_)));
        assert!(matches!(err("bad_host:5"), BadHost(_)));
        assert!(matches!(err("-a.b:5"), BadHost(_)));
        assert!(matches!(err("1.2.3.256:5"), BadHost(_)));
        assert!(matches!(err(":5"), BadHost(_)));
        assert!(matches!(err(" "), Empty));
        assert_eq!(PortRange("0".into()).offset_in("h:0"), 2);
    }
}
