//! Connection setup messages: SetPixelFormat and SetEncodings (client →
//! server), SetColourMapEntries (server → client).

use super::{Message, MsgError, expect_type};
use crate::limits::MAX_ENCODINGS;
use crate::pixel::PixelFormat;
use crate::reader::Reader;

/// Largest number of colour-map entries accepted (8-bit colour maps only).
pub const MAX_COLOUR_MAP_ENTRIES: usize = 256;

/// SetPixelFormat (type 0): the format the client wants pixels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetPixelFormat {
    /// The requested format (validated on read).
    pub format: PixelFormat,
}

impl Message for SetPixelFormat {
    const TYPE: u8 = 0;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[Self::TYPE, 0, 0, 0]);
        self.format.write(out);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            r.skip(3)?;
            let format = PixelFormat::read(r)?;
            format.validate()?;
            Ok(SetPixelFormat { format })
        })
    }
}

/// SetEncodings (type 2): the encodings the client accepts, preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEncodings {
    /// Encoding numbers, at most [`MAX_ENCODINGS`].
    pub encodings: Vec<i32>,
}

impl Message for SetEncodings {
    const TYPE: u8 = 2;

    fn write(&self, out: &mut Vec<u8>) {
        let n = self.encodings.len().min(MAX_ENCODINGS);
        out.extend_from_slice(&[Self::TYPE, 0]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        for e in &self.encodings[..n] {
            out.extend_from_slice(&e.to_be_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            r.skip(1)?;
            let n = usize::from(r.u16()?);
            if n > MAX_ENCODINGS {
                return Err(MsgError::limit("SetEncodings count", n, MAX_ENCODINGS));
            }
            let bytes = r.take(n * 4)?;
            let encodings = bytes
                .chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok(SetEncodings { encodings })
        })
    }
}

/// SetColourMapEntries (type 1): colour-map entries, 16 bits a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetColourMapEntries {
    /// Index of the first entry.
    pub first: u16,
    /// `[red, green, blue]` entries, at most [`MAX_COLOUR_MAP_ENTRIES`].
    pub colours: Vec<[u16; 3]>,
}

impl Message for SetColourMapEntries {
    const TYPE: u8 = 1;

    fn write(&self, out: &mut Vec<u8>) {
        let n = self.colours.len().min(MAX_COLOUR_MAP_ENTRIES);
        out.extend_from_slice(&[Self::TYPE, 0]);
        out.extend_from_slice(&self.first.to_be_bytes());
        out.extend_from_slice(&(n as u16).to_be_bytes());
        for c in &self.colours[..n] {
            for v in c {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            r.skip(1)?;
            let first = r.u16()?;
            let n = usize::from(r.u16()?);
            if n > MAX_COLOUR_MAP_ENTRIES {
                return Err(MsgError::limit(
                    "SetColourMapEntries count",
                    n,
                    MAX_COLOUR_MAP_ENTRIES,
                ));
            }
            let bytes = r.take(n * 6)?;
            let colours = bytes
                .chunks_exact(6)
                .map(|c| {
                    [
                        u16::from_be_bytes([c[0], c[1]]),
                        u16::from_be_bytes([c[2], c[3]]),
                        u16::from_be_bytes([c[4], c[5]]),
                    ]
                })
                .collect();
            Ok(SetColourMapEntries { first, colours })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::tests_support::pixel_format;
    use proptest::prelude::*;

    #[test]
    fn set_encodings_65535_entries_is_refused_before_waiting() {
        // Only the header is there: the count alone must be refused.
        let buf = [2u8, 0, 0xff, 0xff];
        assert!(matches!(
            SetEncodings::read(&mut Reader::new(&buf)),
            Err(MsgError::Limit { value: 65535, .. })
        ));
    }

    #[test]
    fn set_encodings_incomplete_rewinds() {
        let mut buf = SetEncodings {
            encodings: vec![7, 16, 0],
        }
        .to_bytes();
        buf.pop();
        let mut r = Reader::new(&buf);
        assert_eq!(SetEncodings::read(&mut r), Err(MsgError::Incomplete));
        assert_eq!(r.position(), 0);
    }

    #[test]
    fn bad_pixel_formats_are_refused() {
        for (bpp, depth, max, shift) in [
            (7u8, 7u8, 255u16, 0u8),
            (32, 0, 255, 0),
            (32, 24, 0, 0),
            (32, 24, 255, 32),
            (32, 24, 255, 200),
        ] {
            let mut f = PixelFormat::RGB888;
            f.bits_per_pixel = bpp;
            f.depth = depth;
            f.red_max = max;
            f.red_shift = shift;
            let buf = SetPixelFormat { format: f }.to_bytes();
            assert!(matches!(
                SetPixelFormat::read(&mut Reader::new(&buf)),
                Err(MsgError::PixelFormat(_))
            ));
        }
    }

    #[test]
    fn colour_map_count_is_bounded() {
        let buf = [1u8, 0, 0, 0, 0xff, 0xff];
        assert!(matches!(
            SetColourMapEntries::read(&mut Reader::new(&buf)),
            Err(MsgError::Limit { .. })
        ));
    }

    proptest! {
        #[test]
        fn set_pixel_format_round_trips(format in pixel_format()) {
            let m = SetPixelFormat { format };
            prop_assert_eq!(SetPixelFormat::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }

        #[test]
        fn set_encodings_round_trips(encodings in proptest::collection::vec(any::<i32>(), 0..100)) {
            let m = SetEncodings { encodings };
            prop_assert_eq!(SetEncodings::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }

        #[test]
        fn colour_map_round_trips(first in any::<u16>(), colours in proptest::collection::vec(any::<[u16; 3]>(), 0..256)) {
            let m = SetColourMapEntries { first, colours };
            prop_assert_eq!(SetColourMapEntries::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }
    }
}
