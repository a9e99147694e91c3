//! One-time session codes: 8 digits the technician reads out, bound into
//! the handshake as the Noise `psk1` pre-shared key (pattern `IKpsk1`).
//!
//! `psk = Argon2id(password = the 8 ASCII digits, salt = technician public
//! key (32 bytes), m = 19 MiB, t = 2, p = 1, output 32 bytes)`. The salt ties a
//! code to one technician; the slow KDF makes every guess cost. The responder
//! derives the psk once when it issues the code ([`SessionCodes::issue`]), and
//! tries its few live codes against message 1; a code is valid for 10
//! minutes and used at most once.
//!
//! Why `IKpsk1` and not `IKpsk2` (as first planned in DESIGN.md): with
//! `psk2` the key is mixed in only at the end of message 2, so the viewer
//! cannot check the code on message 1: it could not tell which of its live
//! codes the customer typed, could not use it up, and would learn of a wrong
//! code only when the customer hangs up after message 2. With `psk1` the
//! code is verified on message 1, before anything is shown to the
//! technician, and a wrong, expired or used code fails with a clear error on
//! both sides; a replayed message 1 fails once its code is used.

use crate::keys::PublicKey;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an issued code stays valid.
pub const CODE_VALIDITY: Duration = Duration::from_secs(10 * 60);
/// Most live codes a registry holds at once.
pub const MAX_LIVE_CODES: usize = 16;
/// Argon2id memory cost in KiB.
pub const ARGON2_M_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const ARGON2_T: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P: u32 = 1;

/// Why a session code could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionCodeError {
    /// Not 8 digits.
    #[error("a session code is 8 digits, like 1234 5678")]
    Format,
    /// The random source failed.
    #[error("the system random source failed: {0}")]
    Random(String),
    /// Argon2 failed (cannot happen with the fixed parameters).
    #[error("session code key derivation failed: {0}")]
    Kdf(String),
    /// Too many live codes.
    #[error("too many session codes are live (at most {MAX_LIVE_CODES}); wait for one to expire")]
    TooMany,
}

/// An 8-digit one-time session code, shown as `1234 5678`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionCode(u32);

impl SessionCode {
    /// A fresh uniformly random code.
    pub fn generate() -> Result<SessionCode, SessionCodeError> {
        loop {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b).map_err(|e| SessionCodeError::Random(e.to_string()))?;
            let n = u32::from_be_bytes(b);
            // Rejection sampling: 4_200_000_000 is a multiple of 10^8.
            if n < 4_200_000_000 {
                return Ok(SessionCode(n % 100_000_000));
            }
        }
    }

    /// The 8 digits without spaces.
    pub fn digits(&self) -> String {
        format!("{:08}", self.0)
    }

    /// The 32-byte psk for this code and technician (slow: Argon2id).
    pub fn derive_psk(&self, technician: &PublicKey) -> Result<[u8; 32], SessionCodeError> {
        let params = argon2::Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(32))
            .map_err(|e| SessionCodeError::Kdf(e.to_string()))?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        a.hash_password_into(self.digits().as_bytes(), technician.as_bytes(), &mut out)
            .map_err(|e| SessionCodeError::Kdf(e.to_string()))?;
        Ok(out)
    }
}

impl fmt::Display for SessionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "{} {}", &d[..4], &d[4..])
    }
}

impl fmt::Debug for SessionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionCode(<secret>)")
    }
}

impl FromStr for SessionCode {
    type Err = SessionCodeError;

    /// Accepts 8 digits, with any spaces or dashes between them.
    fn from_str(s: &str) -> Result<Self, SessionCodeError> {
        let mut n: u32 = 0;
        let mut count = 0;
        for c in s.trim().chars() {
            match c {
                '0'..='9' => {
                    count += 1;
                    if count > 8 {
                        return Err(SessionCodeError::Format);
                    }
                    n = n * 10 + (c as u32 - '0' as u32);
                }
                ' ' | '-' => {}
                _ => return Err(SessionCodeError::Format),
            }
        }
        if count != 8 {
            return Err(SessionCodeError::Format);
        }
        Ok(SessionCode(n))
    }
}

/// A source of "now" for code expiry; replaceable in tests.
pub trait Clock: Send + Sync {
    /// The current monotonic time.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock moved by hand, for tests.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset: std::sync::Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing at the real "now".
    pub fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            offset: std::sync::Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut o = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *o += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Live {
    id: u64,
    psk: [u8; 32],
    expires: Instant,
}

/// The responder's registry of issued codes: expiry and single use.
pub struct SessionCodes {
    technician: PublicKey,
    clock: Arc<dyn Clock>,
    live: Vec<Live>,
    next_id: u64,
}

impl fmt::Debug for SessionCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionCodes({} live)", self.live.len())
    }
}

impl SessionCodes {
    /// An empty registry for the technician key `technician`.
    pub fn new(technician: PublicKey) -> Self {
        Self::with_clock(technician, Arc::new(SystemClock))
    }

    /// An empty registry with an injected clock.
    pub fn with_clock(technician: PublicKey, clock: Arc<dyn Clock>) -> Self {
        SessionCodes {
            technician,
            clock,
            live: Vec::new(),
            next_id: 0,
        }
    }

    /// Issues a fresh random code valid for [`CODE_VALIDITY`] (slow: Argon2id).
    pub fn issue(&mut self) -> Result<SessionCode, SessionCodeError> {
        let code = SessionCode::generate()?;
        self.insert(code)?;
        Ok(code)
    }

    /// Registers a given code (e.g. one typed by the technician), valid for [`CODE_VALIDITY`].
    pub fn insert(&mut self, code: SessionCode) -> Result<(), SessionCodeError> {
        self.prune();
        if self.live.len() >= MAX_LIVE_CODES {
            return Err(SessionCodeError::TooMany);
        }
        let psk = code.derive_psk(&self.technician)?;
        self.next_id += 1;
        self.live.push(Live {
            id: self.next_id,
            psk,
            expires: self.clock.now() + CODE_VALIDITY,
        });
        Ok(())
    }

    /// How many codes are live now.
    pub fn live_count(&mut self) -> usize {
        self.prune();
        self.live.len()
    }

    fn prune(&mut self) {
        let now = self.clock.now();
        self.live.retain(|l| l.expires > now);
    }

    /// The psks of the codes live now, with their ids.
    pub(crate) fn candidates(&mut self) -> Vec<(u64, [u8; 32])> {
        self.prune();
        self.live.iter().map(|l| (l.id, l.psk)).collect()
    }

    /// Uses up a code.
    pub(crate) fn consume(&mut self, id: u64) {
        self.live.retain(|l| l.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_text_form() {
        let c: SessionCode = "1234 5678".parse().unwrap();
        assert_eq!(c.to_string(), "1234 5678");
        assert_eq!(
            "0000-0042".parse::<SessionCode>().unwrap().to_string(),
            "0000 0042"
        );
        for bad in ["", "1234567", "123456789", "1234 567a", "١٢٣٤٥٦٧٨"] {
            assert_eq!(
                bad.parse::<SessionCode>(),
                Err(SessionCodeError::Format),
                "{bad}"
            );
        }
        let g = SessionCode::generate().unwrap();
        assert_eq!(g.digits().len(), 8);
        assert_eq!(format!("{g:?}"), "SessionCode(<secret>)");
    }

    #[test]
    fn registry_expires_and_consumes() {
        let clock = Arc::new(ManualClock::new());
        let tech = PublicKey([3; 32]);
        let mut reg = SessionCodes::with_clock(tech, clock.clone());
        let code = reg.issue().unwrap();
        let c = reg.candidates();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].1, code.derive_psk(&tech).unwrap());
        assert_ne!(c[0].1, code.derive_psk(&PublicKey([4; 32])).unwrap());
        reg.consume(c[0].0);
        assert_eq!(reg.live_count(), 0);
        reg.issue().unwrap();
        clock.advance(CODE_VALIDITY - Duration::from_secs(1));
        assert_eq!(reg.live_count(), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(reg.live_count(), 0);
    }
}
