//! Admission control for the listener: caps on connections that have not
//! yet authenticated, globally and per source address, so that junk or
//! stalled connections never crowd out real customers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Default cap on unauthenticated connections in all.
pub const DEFAULT_MAX_PENDING: usize = 256;
/// Default cap on unauthenticated connections from one address.
pub const DEFAULT_MAX_PENDING_PER_IP: usize = 32;

/// Why a connection was turned away before reading a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Too many connections are still in their handshake.
    #[error("too many connections are still in their handshake ({0} at most)")]
    Global(usize),
    /// Too many connections from this address are still in their handshake.
    #[error("too many connections from this address are still in their handshake ({0} at most)")]
    PerAddress(usize),
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts unauthenticated connections; hands out [`Permit`]s.
#[derive(Debug, Clone)]
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    counts: Arc<Mutex<Counts>>,
}

/// Held while a connection is unauthenticated; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    ip: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl Admission {
    /// Caps of `max_total` in all and `max_per_ip` per source address.
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            max_total,
            max_per_ip,
            counts: Arc::default(),
        }
    }

    /// A permit for a new connection from `ip`, or why not.
    pub fn admit(&self, ip: IpAddr) -> Result<Permit, Rejected> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= self.max_total {
            return Err(Rejected::Global(self.max_total));
        }
        let n = c.per_ip.entry(ip).or_default();
        if *n >= self.max_per_ip {
            return Err(Rejected::PerAddress(self.max_per_ip));
        }
        *n += 1;
        c.total += 1;
        Ok(Permit {
            ip,
            counts: self.counts.clone(),
        })
    }

    /// Unauthenticated connections now.
    pub fn pending(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Default for Admission {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_PER_IP)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_releases() {
        let a = Admission::new(3, 2);
        let ip1: IpAddr = "127.0.0.1".parse().unwrap();
        let ip2: IpAddr = "127.0.0.2".parse().unwrap();
        let p1 = a.admit(ip1).unwrap();
        let _p2 = a.admit(ip1).unwrap();
        assert_eq!(a.admit(ip1).unwrap_err(), Rejected::PerAddress(2));
        let _p3 = a.admit(ip2).unwrap();
        assert_eq!(a.admit(ip2).unwrap_err(), Rejected::Global(3));
        drop(p1);
        assert_eq!(a.pending(), 2);
        assert!(a.admit(ip1).is_ok());
    }
}
