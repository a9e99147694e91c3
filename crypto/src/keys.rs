//! Technician keys: X25519 public keys and their text form.
//!
//! Text form of a public key, made to be pasted into a profile:
//! `rmt1` + base32 (RFC 4648, lowercase, no padding) of
//! `key (32 bytes) ‖ checksum (4 bytes)`, where the checksum is the first
//! four bytes of BLAKE2s-256(`"remoto public key v1"` ‖ key). 62 characters
//! in all; a typo is caught by the checksum.

use blake2::{Blake2s256, Digest};
use data_encoding::BASE32_NOPAD;
use std::fmt;
use std::str::FromStr;

/// The prefix of the text form.
pub const PUBLIC_KEY_PREFIX: &str = "rmt1";
const CHECKSUM_DOMAIN: &[u8] = b"remoto public key v1";

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text does not start with `rmt1`.
    #[error("a Remoto public key starts with \"{PUBLIC_KEY_PREFIX}\" (as printed by `viewer keygen`)")]
    Prefix,
    /// The text after the prefix is not lowercase base32.
    #[error("a Remoto public key has only the letters a-z and digits 2-7 after \"{PUBLIC_KEY_PREFIX}\"")]
    Encoding,
    /// The text has the wrong length.
    #[error("a Remoto public key is {expected} characters long, this one has {found}")]
    Length {
        /// Expected characters.
        expected: usize,
        /// Found characters.
        found: usize,
    },
    /// The checksum does not match: a typo or a truncated copy.
    #[error("the public key's checksum does not match: a character was mistyped or lost")]
    Checksum,
}

/// A technician's static X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Length of the text form.
    pub const TEXT_LEN: usize = 4 + 58;

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn checksum(key: &[u8; 32]) -> [u8; 4] {
        let mut h = Blake2s256::new();
        h.update(CHECKSUM_DOMAIN);
        h.update(key);
        let d = h.finalize();
        [d[0], d[1], d[2], d[3]]
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 36];
        raw[..32].copy_from_slice(&self.0);
        raw[32..].copy_from_slice(&Self::checksum(&self.0));
        write!(f, "{PUBLIC_KEY_PREFIX}{}", BASE32_NOPAD.encode(&raw).to_ascii_lowercase())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let body = s.strip_prefix(PUBLIC_KEY_PREFIX).ok_or(KeyError::Prefix)?;
        if body.len() != Self::TEXT_LEN - 4 {
            return Err(KeyError::Length {
                expected: Self::TEXT_LEN,
                found: s.chars().count(),
            });
        }
        if !body.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)) {
            return Err(KeyError::Encoding);
        }
        let raw = BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| KeyError::Encoding)?;
        let raw: [u8; 36] = raw.try_into().map_err(|_| KeyError::Encoding)?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[..32]);
        if raw[32..] != Self::checksum(&key) {
            return Err(KeyError::Checksum);
        }
        Ok(PublicKey(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_catches_typos() {
        let k = PublicKey([7u8; 32]);
        let s = k.to_string();
        assert_eq!(s.len(), PublicKey::TEXT_LEN);
        assert_eq!(s.parse::<PublicKey>(), Ok(k));
        let mut typo = s.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(typo.parse::<PublicKey>(), Err(KeyError::Checksum));
        assert_eq!("rmt1abc".parse::<PublicKey>().unwrap_err(), KeyError::Length { expected: 62, found: 7 });
        assert_eq!("xyz".parse::<PublicKey>().unwrap_err(), KeyError::Prefix);
    }
}
