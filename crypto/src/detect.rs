//! Tells clear RFB from a Remoto secure connection by its first bytes.
//!
//! In the reverse-VNC direction the customer (RFB server) speaks first: in
//! clear mode it sends `RFB 003.008\n`, in crypto mode the 8-byte preamble
//! (see [`crate::wire`]) and then Noise message 1. [`detect`] looks at the
//! bytes received so far and never blocks: it answers [`Detection::NeedMore`]
//! while the prefix is still ambiguous.

use crate::wire::{MAGIC, Mode, PREAMBLE_LEN, PreambleError, parse_preamble};

/// What the first bytes of a connection are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// Clear RFB: starts with `RFB 00`.
    Clear,
    /// A Remoto secure connection in the given mode (the preamble is 8 bytes).
    Crypto(Mode),
    /// Our magic, but a wire version this program does not speak.
    CryptoUnsupported {
        /// The peer's wire version.
        version: u8,
    },
    /// Neither: junk, a port scanner, another protocol, a bad mode byte.
    Unknown,
    /// Not enough bytes yet to tell.
    NeedMore,
}

/// The prefix that marks clear RFB (the RFB version string starts so).
pub const RFB_PREFIX: &[u8; 6] = b"RFB 00";

/// Looks at the bytes received so far.
pub fn detect(first: &[u8]) -> Detection {
    if first.is_empty() {
        return Detection::NeedMore;
    }
    let n = first.len().min(RFB_PREFIX.len());
    if first[..n] == RFB_PREFIX[..n] {
        return if n == RFB_PREFIX.len() {
            Detection::Clear
        } else {
            Detection::NeedMore
        };
    }
    let n = first.len().min(MAGIC.len());
    if first[..n] != MAGIC[..n] {
        return Detection::Unknown;
    }
    if first.len() < PREAMBLE_LEN {
        // A wrong version can already be told from byte 5.
        if first.len() > MAGIC.len() && first[MAGIC.len()] != crate::wire::WIRE_VERSION {
            return Detection::CryptoUnsupported {
                version: first[MAGIC.len()],
            };
        }
        return Detection::NeedMore;
    }
    let mut p = [0u8; PREAMBLE_LEN];
    p.copy_from_slice(&first[..PREAMBLE_LEN]);
    match parse_preamble(&p) {
        Ok(mode) => Detection::Crypto(mode),
        Err(PreambleError::Version(version)) => Detection::CryptoUnsupported { version },
        Err(_) => Detection::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::preamble;

    #[test]
    fn detects_every_prefix() {
        let rfb = b"RFB 003.008\n";
        for i in 0..rfb.len() {
            let want = if i == 0 || i < 6 {
                Detection::NeedMore
            } else {
                Detection::Clear
            };
            assert_eq!(detect(&rfb[..i]), want, "rfb prefix {i}");
        }
        for m in [Mode::Ik, Mode::IkPsk1] {
            let mut p = preamble(m).to_vec();
            p.extend_from_slice(&[0xaa; 96]);
            for i in 0..p.len() {
                let want = if i < 8 {
                    Detection::NeedMore
                } else {
                    Detection::Crypto(m)
                };
                assert_eq!(detect(&p[..i]), want, "preamble prefix {i}");
            }
        }
        assert_eq!(detect(b"GET / HTTP/1.1\r\n"), Detection::Unknown);
        assert_eq!(detect(b"\x16\x03\x01"), Detection::Unknown);
        assert_eq!(detect(b"RFX"), Detection::Unknown);
        assert_eq!(detect(b"RMTO\0\x01\x09\0"), Detection::Unknown);
        assert_eq!(
            detect(b"RMTO\0\x02"),
            Detection::CryptoUnsupported { version: 2 }
        );
        assert_eq!(
            detect(b"RMTO\0\x02\0\0"),
            Detection::CryptoUnsupported { version: 2 }
        );
    }
}
