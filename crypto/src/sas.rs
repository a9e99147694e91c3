//! The short authentication string both people read aloud.

use blake2::{Blake2s256, Digest};
use std::fmt;

/// Six decimal digits derived from the Noise handshake hash, shown as `123 456`.
///
/// `SAS = u64(first 8 bytes of BLAKE2s-256("remoto sas v1" ‖ handshake hash)) mod 10⁶`.
/// The handshake hash covers both ephemeral keys, both static keys, the
/// prologue (preamble) and both hellos, so two sides see the same SAS only
/// if they took part in the same handshake.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Sas(u32);

impl Sas {
    /// Derives the SAS from a handshake hash.
    pub fn from_handshake_hash(hash: &[u8]) -> Sas {
        let mut h = Blake2s256::new();
        h.update(b"remoto sas v1");
        h.update(hash);
        let d = h.finalize();
        let mut n = [0u8; 8];
        n.copy_from_slice(&d[..8]);
        Sas((u64::from_be_bytes(n) % 1_000_000) as u32)
    }

    /// The number, 0..=999999.
    pub fn value(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Sas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03} {:03}", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Debug for Sas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sas({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let s = Sas::from_handshake_hash(&[1; 32]);
        let t = s.to_string();
        assert_eq!(t.len(), 7);
        assert_eq!(t.as_bytes()[3], b' ');
        assert_ne!(s, Sas::from_handshake_hash(&[2; 32]));
        assert_eq!(Sas(7).to_string(), "000 007");
    }
}
