//! The bytes on the wire before and around Noise: preamble, mode, frames.
//!
//! ```text
//! preamble (8 bytes): "RMTO" 0x00 <wire version = 0x01> <mode> 0x00
//!   mode 0 = Noise_IK_25519_ChaChaPoly_BLAKE2s
//!   mode 1 = Noise_IKpsk1_25519_ChaChaPoly_BLAKE2s (one-time session code)
//! frame: length (u16, big-endian, 1..=65535) ‖ Noise message (length bytes)
//! ```
//!
//! The preamble starts with `R M T O`, so it can never be the start of an
//! RFB version string (`RFB 003.008\n`). It is the Noise prologue, so the
//! mode byte (and everything else in it) is authenticated by the handshake.

/// Magic bytes at the start of the preamble.
pub const MAGIC: [u8; 5] = *b"RMTO\0";
/// The wire version this crate speaks.
pub const WIRE_VERSION: u8 = 1;
/// Length of the preamble.
pub const PREAMBLE_LEN: usize = 8;
/// Largest Noise message (and so frame body) in bytes.
pub const MAX_FRAME: usize = 65535;
/// Length of the big-endian length prefix of a frame.
pub const LEN_PREFIX: usize = 2;
/// Length of the ChaChaPoly authentication tag.
pub const TAG_LEN: usize = 16;

/// Which Noise pattern the initiator uses; announced in the preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// `Noise_IK_25519_ChaChaPoly_BLAKE2s`: the pinned technician key only.
    Ik,
    /// `Noise_IKpsk1_25519_ChaChaPoly_BLAKE2s`: pinned key plus a one-time session code.
    IkPsk1,
}

impl Mode {
    /// The byte in the preamble.
    pub fn byte(self) -> u8 {
        match self {
            Mode::Ik => 0,
            Mode::IkPsk1 => 1,
        }
    }

    /// The mode of a preamble byte, if known.
    pub fn from_byte(b: u8) -> Option<Mode> {
        match b {
            0 => Some(Mode::Ik),
            1 => Some(Mode::IkPsk1),
            _ => None,
        }
    }

    /// The Noise protocol name.
    pub fn noise_name(self) -> &'static str {
        match self {
            Mode::Ik => "Noise_IK_25519_ChaChaPoly_BLAKE2s",
            Mode::IkPsk1 => "Noise_IKpsk1_25519_ChaChaPoly_BLAKE2s",
        }
    }

    pub(crate) fn params(self) -> snow::params::NoiseParams {
        // Both names are constants that snow (built with the 25519, ChaChaPoly
        // and BLAKE2 features) always parses.
        self.noise_name()
            .parse()
            .expect("constant Noise protocol name parses")
    }
}

/// The preamble the initiator sends for `mode`.
pub fn preamble(mode: Mode) -> [u8; PREAMBLE_LEN] {
    [
        MAGIC[0],
        MAGIC[1],
        MAGIC[2],
        MAGIC[3],
        MAGIC[4],
        WIRE_VERSION,
        mode.byte(),
        0,
    ]
}

/// Why a preamble was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreambleError {
    /// Not our magic bytes.
    #[error("not a Remoto connection (unknown first bytes)")]
    Magic,
    /// A wire version this program does not speak.
    #[error(
        "the peer speaks Remoto wire version {0}, this program speaks version {WIRE_VERSION}: update one of the two"
    )]
    Version(u8),
    /// Unknown mode byte or non-zero reserved byte.
    #[error("unknown Remoto connection mode {0:#04x}")]
    Mode(u8),
}

/// Parses an 8-byte preamble.
pub fn parse_preamble(p: &[u8; PREAMBLE_LEN]) -> Result<Mode, PreambleError> {
    if p[..5] != MAGIC {
        return Err(PreambleError::Magic);
    }
    if p[5] != WIRE_VERSION {
        return Err(PreambleError::Version(p[5]));
    }
    if p[7] != 0 {
        return Err(PreambleError::Mode(p[7]));
    }
    Mode::from_byte(p[6]).ok_or(PreambleError::Mode(p[6]))
}

/// Appends `length ‖ body` to `out`. `body` must be 1..=65535 bytes.
pub(crate) fn push_frame(out: &mut Vec<u8>, body: &[u8]) {
    debug_assert!(!body.is_empty() && body.len() <= MAX_FRAME);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// Why a frame could not be cut from the byte stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame announced length 0.
    #[error("the peer sent an empty frame")]
    Empty,
    /// More bytes arrived than a bounded buffer holds.
    #[error("the peer sent more than {0} bytes without them being consumed")]
    BufferFull(usize),
}

/// Cuts length-prefixed frames out of a byte stream; bounded memory.
#[derive(Debug, Default)]
pub(crate) struct Deframer {
    buf: Vec<u8>,
    start: usize,
}

/// The most bytes a [`Deframer`] buffers: two whole frames.
pub(crate) const DEFRAMER_CAP: usize = 2 * (MAX_FRAME + LEN_PREFIX);

impl Deframer {
    /// Adds received bytes; refuses to grow past [`DEFRAMER_CAP`].
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if self.start > 0 && (self.start >= self.buf.len() / 2 || self.start > MAX_FRAME) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buffered() + bytes.len() > DEFRAMER_CAP {
            return Err(FrameError::BufferFull(DEFRAMER_CAP));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// How many bytes are buffered and not yet returned.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole frame body, if one is buffered.
    pub(crate) fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let rest = &self.buf[self.start..];
        if rest.len() < LEN_PREFIX {
            return Ok(None);
        }
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        if len == 0 {
            return Err(FrameError::Empty);
        }
        if rest.len() < LEN_PREFIX + len {
            return Ok(None);
        }
        let from = self.start + LEN_PREFIX;
        self.start = from + len;
        Ok(Some(&self.buf[from..from + len]))
    }

    /// Takes the bytes not yet returned (e.g. to hand them to the next stage).
    pub(crate) fn take_rest(&mut self) -> Vec<u8> {
        let rest = self.buf.split_off(self.start);
        self.buf.clear();
        self.start = 0;
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preamble_round_trip_and_not_rfb() {
        for m in [Mode::Ik, Mode::IkPsk1] {
            let p = preamble(m);
            assert_eq!(parse_preamble(&p), Ok(m));
            assert!(!p.starts_with(b"RFB"));
        }
        assert_eq!(&preamble(Mode::Ik), b"RMTO\0\x01\0\0");
        assert_eq!(
            parse_preamble(b"RMTO\0\x02\0\0"),
            Err(PreambleError::Version(2))
        );
        assert_eq!(
            parse_preamble(b"RMTO\0\x01\x07\0"),
            Err(PreambleError::Mode(7))
        );
        assert_eq!(
            parse_preamble(b"RMTO\0\x01\0\x01"),
            Err(PreambleError::Mode(1))
        );
        assert_eq!(parse_preamble(b"RFB 003."), Err(PreambleError::Magic));
    }

    #[test]
    fn deframer_cuts_frames_byte_by_byte() {
        let mut wire = Vec::new();
        push_frame(&mut wire, b"a");
        push_frame(&mut wire, &vec![7u8; MAX_FRAME]);
        push_frame(&mut wire, b"xyz");
        let mut d = Deframer::default();
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b)).unwrap();
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f.to_vec());
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].len(), MAX_FRAME);
        assert_eq!(got[2], b"xyz");
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn deframer_refuses_empty_and_overflow() {
        let mut d = Deframer::default();
        d.push(&[0, 0]).unwrap();
        assert_eq!(d.next_frame(), Err(FrameError::Empty));
        let mut d = Deframer::default();
        assert!(d.push(&vec![0xff; DEFRAMER_CAP + 1]).is_err());
    }
}
