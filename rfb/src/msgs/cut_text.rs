//! ClientCutText (type 6) and ServerCutText (type 3): the same layout in
//! both directions. A non-negative length carries Latin-1 text; a negative
//! length carries an [`ExtendedClipboard`] message of |length| bytes.

use super::clipboard::ExtendedClipboard;
use super::{MsgError, expect_type};
use crate::limits::MAX_CLIPBOARD_LEN;
use crate::reader::Reader;

/// What a CutText message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutTextPayload {
    /// Plain text, as bytes (Latin-1 by the spec; some peers send UTF-8).
    Text(Vec<u8>),
    /// An ExtendedClipboard message.
    Extended(ExtendedClipboard),
}

/// A ClientCutText or ServerCutText message (the type byte is a parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutText {
    /// The payload.
    pub payload: CutTextPayload,
}

/// The framing of a CutText message: header read, length validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutTextFrame {
    /// Plain text of this many bytes follows.
    Text(usize),
    /// An ExtendedClipboard payload of this many bytes follows.
    Extended(usize),
    /// The length is beyond [`MAX_CLIPBOARD_LEN`]: this many bytes follow
    /// and should be discarded without buffering.
    TooLong(u64),
}

impl CutText {
    /// Appends the message with type byte `ty` (6 client, 3 server).
    pub fn write(&self, ty: u8, out: &mut Vec<u8>) {
        out.extend_from_slice(&[ty, 0, 0, 0]);
        match &self.payload {
            CutTextPayload::Text(t) => {
                let n = t.len().min(MAX_CLIPBOARD_LEN);
                out.extend_from_slice(&(n as i32).to_be_bytes());
                out.extend_from_slice(&t[..n]);
            }
            CutTextPayload::Extended(m) => {
                let at = out.len();
                out.extend_from_slice(&[0; 4]);
                m.write_payload(out);
                let n = out.len() - at - 4;
                let len = -(i32::try_from(n).unwrap_or(i32::MAX));
                out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }

    /// Reads the 8-byte header (type `ty`) and classifies the length.
    pub fn read_frame(ty: u8, r: &mut Reader<'_>) -> Result<CutTextFrame, MsgError> {
        r.atomic(|r| {
            expect_type(r, ty)?;
            r.skip(3)?;
            let len = r.i32()?;
            let abs = len.unsigned_abs();
            let n = usize::try_from(abs).unwrap_or(usize::MAX);
            if n > MAX_CLIPBOARD_LEN {
                return Ok(CutTextFrame::TooLong(u64::from(abs)));
            }
            if len >= 0 {
                Ok(CutTextFrame::Text(n))
            } else {
                Ok(CutTextFrame::Extended(n))
            }
        })
    }

    /// Reads a whole message; framing problems are the outer error, a bad
    /// ExtendedClipboard payload (whose bytes have then been consumed, so
    /// the stream stays in step) is the inner one.
    pub fn read_lenient(ty: u8, r: &mut Reader<'_>) -> Result<Result<CutText, MsgError>, MsgError> {
        r.atomic(|r| match Self::read_frame(ty, r)? {
            CutTextFrame::TooLong(n) => Err(MsgError::Limit {
                what: "cut text length",
                value: n,
                limit: MAX_CLIPBOARD_LEN as u64,
            }),
            CutTextFrame::Text(n) => Ok(Ok(CutText {
                payload: CutTextPayload::Text(r.take(n)?.to_vec()),
            })),
            CutTextFrame::Extended(n) => {
                let bytes = r.take(n)?;
                Ok(ExtendedClipboard::parse(bytes).map(|m| CutText {
                    payload: CutTextPayload::Extended(m),
                }))
            }
        })
    }

    /// Reads a whole message strictly (any problem is an error; the reader
    /// is then left unchanged).
    pub fn read(ty: u8, r: &mut Reader<'_>) -> Result<CutText, MsgError> {
        let start = r.position();
        match Self::read_lenient(ty, r)? {
            Ok(m) => Ok(m),
            Err(e) => {
                r.set_position(start);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::clipboard::{action, format};
    use proptest::prelude::*;

    #[test]
    fn length_2_pow_31_minus_1_is_too_long_without_waiting() {
        let buf = [6u8, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff];
        let mut r = Reader::new(&buf);
        assert_eq!(
            CutText::read_frame(6, &mut r),
            Ok(CutTextFrame::TooLong(0x7fff_ffff))
        );
        assert!(matches!(
            CutText::read(6, &mut Reader::new(&buf)),
            Err(MsgError::Limit { .. })
        ));
        // i32::MIN has no positive counterpart.
        let buf = [3u8, 0, 0, 0, 0x80, 0, 0, 0];
        assert_eq!(
            CutText::read_frame(3, &mut Reader::new(&buf)),
            Ok(CutTextFrame::TooLong(0x8000_0000))
        );
    }

    #[test]
    fn x11vnc_negative_8() {
        let buf = [
            3u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8, 1, 0, 0, 1, 0, 0, 0x10, 0,
        ];
        let m = CutText::read(3, &mut Reader::new(&buf)).unwrap();
        assert_eq!(
            m.payload,
            CutTextPayload::Extended(ExtendedClipboard::Caps {
                actions: action::CAPS,
                formats: format::TEXT,
                sizes: vec![4096]
            })
        );
    }

    #[test]
    fn bad_extended_payload_is_consumed_leniently() {
        let buf = [3u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc, 0, 0, 0, 0, 2];
        let mut r = Reader::new(&buf);
        assert!(matches!(CutText::read_lenient(3, &mut r), Ok(Err(_))));
        assert_eq!(r.position(), 12);
        let mut r = Reader::new(&buf);
        assert!(CutText::read(3, &mut r).is_err());
        assert_eq!(r.position(), 0);
        // Negative length smaller than the flags.
        let buf = [3u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe, 0, 0];
        assert!(matches!(
            CutText::read_lenient(3, &mut Reader::new(&buf)),
            Ok(Err(_))
        ));
    }

    proptest! {
        #[test]
        fn text_round_trips(ty in prop_oneof![Just(3u8), Just(6u8)], text in proptest::collection::vec(any::<u8>(), 0..300)) {
            let m = CutText { payload: CutTextPayload::Text(text) };
            let mut out = Vec::new();
            m.write(ty, &mut out);
            prop_assert_eq!(CutText::read(ty, &mut Reader::new(&out)), Ok(m));
        }

        #[test]
        fn extended_round_trips(text in "[^\0\r]{0,100}") {
            let m = CutText { payload: CutTextPayload::Extended(ExtendedClipboard::Provide { text: Some(text) }) };
            let mut out = Vec::new();
            m.write(6, &mut out);
            prop_assert_eq!(CutText::read(6, &mut Reader::new(&out)), Ok(m));
        }
    }
}
