//! The RFB handshake (RFC 6143 §7.1–7.3): ProtocolVersion, security
//! (type None only), SecurityResult, ClientInit and ServerInit.
//!
//! Sequence (server speaks first):
//! 1. server `RFB 003.008\n`, client answers with its version;
//! 2. 3.3: server sends a u32 security type; 3.7/3.8: server sends a list,
//!    the client picks one byte;
//! 3. 3.8 (for None too): server sends SecurityResult; failures carry a reason;
//! 4. client sends ClientInit (shared flag), server sends ServerInit.

use crate::framebuffer::Framebuffer;
use crate::limits::{MAX_NAME_LEN, MAX_REASON_LEN};
use crate::msgs::{MsgError, read_counted_bytes, text_from_wire};
use crate::pixel::PixelFormat;
use crate::reader::{Incomplete, Reader};

/// Security type None.
pub const SECURITY_NONE: u8 = 1;
/// Security type VNC authentication (not supported; listed for messages).
pub const SECURITY_VNC_AUTH: u8 = 2;

/// Why the handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// More bytes are needed (not a failure).
    #[error("more input is needed")]
    Incomplete,
    /// The ProtocolVersion is not `RFB xxx.yyy\n`.
    #[error("not an RFB protocol version: {0:?}")]
    BadVersion(String),
    /// A well-formed version this side does not speak.
    #[error("unsupported RFB version {major}.{minor}")]
    UnsupportedVersion {
        /// Major number.
        major: u16,
        /// Minor number.
        minor: u16,
    },
    /// The peer refused the connection, with its reason.
    #[error("the server refused the connection: {0}")]
    Refused(String),
    /// No security type in common.
    #[error("no common security type (offered {0:?}, we only speak None)")]
    NoCommonSecurity(Vec<u8>),
    /// A SecurityResult other than 0 or 1.
    #[error("invalid SecurityResult {0}")]
    BadSecurityResult(u32),
    /// A malformed or out-of-limits field.
    #[error(transparent)]
    Msg(MsgError),
}

impl From<Incomplete> for HandshakeError {
    fn from(_: Incomplete) -> Self {
        HandshakeError::Incomplete
    }
}

impl From<MsgError> for HandshakeError {
    fn from(e: MsgError) -> Self {
        match e {
            MsgError::Incomplete => HandshakeError::Incomplete,
            other => HandshakeError::Msg(other),
        }
    }
}

/// A protocol version this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// RFB 3.3.
    V3_3,
    /// RFB 3.7.
    V3_7,
    /// RFB 3.8 (also what Apple's 3.889 means).
    V3_8,
}

impl Version {
    /// The 12-byte version string.
    pub fn as_bytes(self) -> &'static [u8; 12] {
        match self {
            Version::V3_3 => b"RFB 003.003\n",
            Version::V3_7 => b"RFB 003.007\n",
            Version::V3_8 => b"RFB 003.008\n",
        }
    }

    /// Appends the version string.
    pub fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    /// Parses `RFB xxx.yyy\n` into (major, minor).
    pub fn read_raw(r: &mut Reader<'_>) -> Result<(u16, u16), HandshakeError> {
        r.atomic(|r| {
            let b = r.array::<12>()?;
            let digits = |s: &[u8]| -> Option<u16> {
                if s.iter().all(u8::is_ascii_digit) {
                    std::str::from_utf8(s).ok()?.parse().ok()
                } else {
                    None
                }
            };
            let ok = &b[..4] == b"RFB " && b[7] == b'.' && b[11] == b'\n';
            match (ok, digits(&b[4..7]), digits(&b[8..11])) {
                (true, Some(major), Some(minor)) => Ok((major, minor)),
                _ => Err(HandshakeError::BadVersion(b.escape_ascii().to_string())),
            }
        })
    }

    /// Server side: reads the client's answer, which must be 3.3, 3.7, 3.8
    /// or Apple's 3.889 (taken as 3.8).
    pub fn read_client(r: &mut Reader<'_>) -> Result<Version, HandshakeError> {
        let start = r.position();
        let v = match Self::read_raw(r)? {
            (3, 3) => Version::V3_3,
            (3, 7) => Version::V3_7,
            (3, 8) | (3, 889) => Version::V3_8,
            (major, minor) => {
                r.set_position(start);
                return Err(HandshakeError::UnsupportedVersion { major, minor });
            }
        };
        Ok(v)
    }

    /// Client side: reads the server's offer and picks what to answer: the
    /// highest version we speak that is not above the offer (4.x servers
    /// speak 3.8; other 3.x as 3.3 as the spec says).
    pub fn read_server(r: &mut Reader<'_>) -> Result<Version, HandshakeError> {
        let start = r.position();
        let v = match Self::read_raw(r)? {
            (3, m) if m >= 8 => Version::V3_8,
            (3, 7) => Version::V3_7,
            (3, _) => Version::V3_3,
            (major, _) if major > 3 => Version::V3_8,
            (major, minor) => {
                r.set_position(start);
                return Err(HandshakeError::UnsupportedVersion { major, minor });
            }
        };
        Ok(v)
    }
}

/// Writes a u32 length + string, truncated to `limit` bytes.
fn write_string(out: &mut Vec<u8>, s: &str, limit: usize) {
    let mut n = s.len().min(limit);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&(n as u32).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..n]);
}

fn read_reason(r: &mut Reader<'_>) -> Result<String, HandshakeError> {
    Ok(text_from_wire(read_counted_bytes(
        r,
        "failure reason length",
        MAX_REASON_LEN,
    )?))
}

/// Server, 3.7/3.8: the list of security types (an empty list must carry a
/// reason: use [`write_security_refusal`]).
pub fn write_security_types(out: &mut Vec<u8>, types: &[u8]) {
    let n = types.len().min(255);
    out.push(n as u8);
    out.extend_from_slice(&types[..n]);
}

/// Server, 3.7/3.8: refuses the connection before security, with a reason.
pub fn write_security_refusal(out: &mut Vec<u8>, reason: &str) {
    out.push(0);
    write_string(out, reason, MAX_REASON_LEN);
}

/// Client, 3.7/3.8: reads the list of security types; an empty list is
/// [`HandshakeError::Refused`] with the (bounded) reason.
pub fn read_security_types(r: &mut Reader<'_>) -> Result<Vec<u8>, HandshakeError> {
    r.atomic(|r| {
        let n = usize::from(r.u8()?);
        if n == 0 {
            return Err(HandshakeError::Refused(read_reason(r)?));
        }
        Ok(r.take(n)?.to_vec())
    })
}

/// Server, 3.3: the security type chosen by the server (0 = refused, then
/// a reason follows: use [`write_security_33_refusal`]).
pub fn write_security_33(out: &mut Vec<u8>, ty: u8) {
    out.extend_from_slice(&u32::from(ty).to_be_bytes());
}

/// Server, 3.3: refuses the connection, with a reason.
pub fn write_security_33_refusal(out: &mut Vec<u8>, reason: &str) {
    out.extend_from_slice(&0u32.to_be_bytes());
    write_string(out, reason, MAX_REASON_LEN);
}

/// Client, 3.3: reads the server-chosen security type.
pub fn read_security_33(r: &mut Reader<'_>) -> Result<u32, HandshakeError> {
    r.atomic(|r| {
        let ty = r.u32()?;
        if ty == 0 {
            return Err(HandshakeError::Refused(read_reason(r)?));
        }
        Ok(ty)
    })
}

/// Server: SecurityResult; a failure carries a reason (3.8 only).
pub fn write_security_result(out: &mut Vec<u8>, failure: Option<&str>, version: Version) {
    match failure {
        None => out.extend_from_slice(&0u32.to_be_bytes()),
        Some(reason) => {
            out.extend_from_slice(&1u32.to_be_bytes());
            if version == Version::V3_8 {
                write_string(out, reason, MAX_REASON_LEN);
            }
        }
    }
}

/// Client: reads SecurityResult (a failure is [`HandshakeError::Refused`]).
pub fn read_security_result(r: &mut Reader<'_>, version: Version) -> Result<(), HandshakeError> {
    r.atomic(|r| match r.u32()? {
        0 => Ok(()),
        1 => Err(HandshakeError::Refused(if version == Version::V3_8 {
            read_reason(r)?
        } else {
            "security handshake failed".into()
        })),
        other => Err(HandshakeError::BadSecurityResult(other)),
    })
}

/// ClientInit: whether other clients may stay connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInit {
    /// Share the desktop with other clients.
    pub shared: bool,
}

impl ClientInit {
    /// Appends the message.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.shared));
    }

    /// Parses the message.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, HandshakeError> {
        Ok(ClientInit {
            shared: r.u8()? != 0,
        })
    }
}

/// ServerInit: the framebuffer size, the server's pixel format and the
/// desktop name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// The server's natural pixel format.
    pub format: PixelFormat,
    /// Desktop name, at most [`MAX_NAME_LEN`] bytes.
    pub name: String,
}

impl ServerInit {
    /// Appends the message (the name is truncated to [`MAX_NAME_LEN`]).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.width.to_be_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        self.format.write(out);
        write_string(out, &self.name, MAX_NAME_LEN);
    }

    /// Parses and validates the message: size within the framebuffer
    /// limits, a usable pixel format, a bounded name.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, HandshakeError> {
        r.atomic(|r| {
            let width = r.u16()?;
            let height = r.u16()?;
            let format = PixelFormat::read(r)?;
            let name = text_from_wire(read_counted_bytes(r, "desktop name length", MAX_NAME_LEN)?);
            if let Err(e) = Framebuffer::check(width, height) {
                return Err(HandshakeError::Msg(MsgError::invalid(
                    "ServerInit size",
                    e.to_string(),
                )));
            }
            format.validate().map_err(MsgError::from)?;
            Ok(ServerInit {
                width,
                height,
                format,
                name,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::tests_support::pixel_format;
    use proptest::prelude::*;

    #[test]
    fn versions() {
        let rd = |b: &[u8]| Version::read_client(&mut Reader::new(b));
        assert_eq!(rd(b"RFB 003.008\n"), Ok(Version::V3_8));
        assert_eq!(rd(b"RFB 003.889\n"), Ok(Version::V3_8));
        assert_eq!(rd(b"RFB 003.007\n"), Ok(Version::V3_7));
        assert_eq!(rd(b"RFB 003.003\n"), Ok(Version::V3_3));
        assert_eq!(
            rd(b"RFB 004.001\n"),
            Err(HandshakeError::UnsupportedVersion { major: 4, minor: 1 })
        );
        assert!(matches!(rd(&[0; 12]), Err(HandshakeError::BadVersion(_))));
        assert!(matches!(
            rd(b"GET / HTTP/1"),
            Err(HandshakeError::BadVersion(_))
        ));
        assert!(matches!(
            rd(b"RFB 0x3.008\n"),
            Err(HandshakeError::BadVersion(_))
        ));
        assert_eq!(rd(b"RFB 003.00"), Err(HandshakeError::Incomplete));
        let rs = |b: &[u8]| Version::read_server(&mut Reader::new(b));
        assert_eq!(rs(b"RFB 004.001\n"), Ok(Version::V3_8));
        assert_eq!(rs(b"RFB 003.005\n"), Ok(Version::V3_3));
        assert_eq!(rs(b"RFB 003.889\n"), Ok(Version::V3_8));
        assert!(rs(b"RFB 002.000\n").is_err());
    }

    #[test]
    fn empty_security_list_with_4_gib_reason() {
        let buf = [0u8, 0xff, 0xff, 0xff, 0xff, b'x'];
        assert!(matches!(
            read_security_types(&mut Reader::new(&buf)),
            Err(HandshakeError::Msg(MsgError::Limit { .. }))
        ));
        let mut out = Vec::new();
        write_security_refusal(&mut out, "go away");
        assert_eq!(
            read_security_types(&mut Reader::new(&out)),
            Err(HandshakeError::Refused("go away".into()))
        );
        let mut out = Vec::new();
        write_security_33_refusal(&mut out, "no");
        assert_eq!(
            read_security_33(&mut Reader::new(&out)),
            Err(HandshakeError::Refused("no".into()))
        );
    }

    #[test]
    fn security_result() {
        let mut out = Vec::new();
        write_security_result(&mut out, None, Version::V3_8);
        assert_eq!(
            read_security_result(&mut Reader::new(&out), Version::V3_8),
            Ok(())
        );
        let mut out = Vec::new();
        write_security_result(&mut out, Some("bad"), Version::V3_8);
        assert_eq!(
            read_security_result(&mut Reader::new(&out), Version::V3_8),
            Err(HandshakeError::Refused("bad".into()))
        );
        assert_eq!(
            read_security_result(&mut Reader::new(&[0, 0, 0, 9]), Version::V3_8),
            Err(HandshakeError::BadSecurityResult(9))
        );
    }

    #[test]
    fn hostile_server_init() {
        let mut ok = ServerInit {
            width: 65535,
            height: 65535,
            format: PixelFormat::RGB888,
            name: "x".into(),
        };
        let mut out = Vec::new();
        ok.write(&mut out);
        assert!(matches!(
            ServerInit::read(&mut Reader::new(&out)),
            Err(HandshakeError::Msg(_))
        ));
        ok.width = 10;
        ok.height = 10;
        let mut out = Vec::new();
        ok.write(&mut out);
        // Name of 4 GiB announced.
        let at = out.len() - 5;
        out.truncate(at);
        out.extend_from_slice(&[0xff; 4]);
        assert!(matches!(
            ServerInit::read(&mut Reader::new(&out)),
            Err(HandshakeError::Msg(MsgError::Limit { .. }))
        ));
        // 12 zero bytes: incomplete, then a bad pixel format.
        assert_eq!(
            ServerInit::read(&mut Reader::new(&[0; 12])),
            Err(HandshakeError::Incomplete)
        );
        assert!(ServerInit::read(&mut Reader::new(&[0; 24])).is_err());
    }

    proptest! {
        #[test]
        fn server_init_round_trips(width in 0u16..=4096, height in 0u16..=4096, format in pixel_format(), name in ".{0,50}") {
            let m = ServerInit { width, height, format, name };
            let mut out = Vec::new();
            m.write(&mut out);
            prop_assert_eq!(ServerInit::read(&mut Reader::new(&out)), Ok(m));
        }

        #[test]
        fn client_init_round_trips(shared in any::<bool>()) {
            let m = ClientInit { shared };
            let mut out = Vec::new();
            m.write(&mut out);
            prop_assert_eq!(ClientInit::read(&mut Reader::new(&out)), Ok(m));
        }

        #[test]
        fn security_types_round_trip(types in proptest::collection::vec(1u8.., 1..10)) {
            let mut out = Vec::new();
            write_security_types(&mut out, &types);
            prop_assert_eq!(read_security_types(&mut Reader::new(&out)), Ok(types));
        }
    }
}
