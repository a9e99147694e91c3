//! Fence (type 248, both directions): synchronisation points.
//!
//! A side that receives a Fence with [`Fence::REQUEST`] set must answer
//! with a Fence carrying the same payload, the request bit cleared and the
//! flags it understood ([`Fence::reply`]). Support is announced by the
//! client with the Fence pseudo-encoding (−312); the server then sends a
//! first Fence request.

use super::{Message, MsgError, expect_type};
use crate::limits::MAX_FENCE_PAYLOAD;
use crate::reader::Reader;

/// Fence message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// Flags ([`Fence::BLOCK_BEFORE`] …).
    pub flags: u32,
    /// Opaque payload, at most [`MAX_FENCE_PAYLOAD`] bytes.
    pub payload: Vec<u8>,
}

impl Fence {
    /// Earlier messages must be processed before this fence.
    pub const BLOCK_BEFORE: u32 = 1;
    /// Later messages must wait until this fence is answered.
    pub const BLOCK_AFTER: u32 = 2;
    /// The message after the fence must be processed with the fence.
    pub const SYNC_NEXT: u32 = 4;
    /// This fence asks for an answer.
    pub const REQUEST: u32 = 1 << 31;
    /// Flags this crate understands (processing is sequential, so all
    /// ordering requirements are met trivially).
    pub const SUPPORTED: u32 = Self::BLOCK_BEFORE | Self::BLOCK_AFTER | Self::SYNC_NEXT;

    /// True when this fence asks for an answer.
    pub fn is_request(&self) -> bool {
        self.flags & Self::REQUEST != 0
    }

    /// The answer to a request: same payload, request bit cleared, only
    /// supported flags kept.
    pub fn reply(&self) -> Fence {
        Fence {
            flags: self.flags & Self::SUPPORTED,
            payload: self.payload.clone(),
        }
    }
}

impl Message for Fence {
    const TYPE: u8 = 248;

    fn write(&self, out: &mut Vec<u8>) {
        let n = self.payload.len().min(MAX_FENCE_PAYLOAD);
        out.extend_from_slice(&[Self::TYPE, 0, 0, 0]);
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.push(n as u8);
        out.extend_from_slice(&self.payload[..n]);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, MsgError> {
        r.atomic(|r| {
            expect_type(r, Self::TYPE)?;
            r.skip(3)?;
            let flags = r.u32()?;
            let n = usize::from(r.u8()?);
            if n > MAX_FENCE_PAYLOAD {
                return Err(MsgError::limit("Fence payload", n, MAX_FENCE_PAYLOAD));
            }
            Ok(Fence {
                flags,
                payload: r.take(n)?.to_vec(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn payload_over_64_is_refused() {
        let buf = [248u8, 0, 0, 0, 0x80, 0, 0, 0, 65];
        assert!(matches!(
            Fence::read(&mut Reader::new(&buf)),
            Err(MsgError::Limit { .. })
        ));
    }

    #[test]
    fn reply_clears_request() {
        let f = Fence {
            flags: Fence::REQUEST | Fence::BLOCK_BEFORE | 0x100,
            payload: vec![1, 2],
        };
        assert!(f.is_request());
        let r = f.reply();
        assert_eq!(r.flags, Fence::BLOCK_BEFORE);
        assert_eq!(r.payload, [1, 2]);
        assert!(!r.is_request());
    }

    proptest! {
        #[test]
        fn round_trips(flags in any::<u32>(), payload in proptest::collection::vec(any::<u8>(), 0..=64)) {
            let m = Fence { flags, payload };
            prop_assert_eq!(Fence::read(&mut Reader::new(&m.to_bytes())), Ok(m));
        }
    }
}
