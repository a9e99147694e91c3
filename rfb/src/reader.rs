//! A bounds-checked cursor over received bytes (the rustls `Reader` idea).
//!
//! Every read either returns the value or [`Incomplete`]: the caller then
//! waits for more bytes and retries from a position it saved with
//! [`Reader::position`]/[`Reader::set_position`]. Nothing here panics.

/// More bytes are needed before the value can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more input is needed")]
pub struct Incomplete;

/// A cursor over a byte slice; reads are big-endian, as RFB is.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Moves back (or forward) to a position obtained from [`Reader::position`].
    /// Positions past the end are clamped to the end.
    pub fn set_position(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The unconsumed bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Consumes and returns the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Incomplete> {
        if self.remaining() < n {
            return Err(Incomplete);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Consumes `n` bytes without looking at them.
    pub fn skip(&mut self, n: usize) -> Result<(), Incomplete> {
        self.take(n).map(|_| ())
    }

    /// Consumes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Incomplete> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Consumes one byte.
    pub fn u8(&mut self) -> Result<u8, Incomplete> {
        Ok(self.array::<1>()?[0])
    }

    /// Consumes a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, Incomplete> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Consumes a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, Incomplete> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Consumes a big-endian i32.
    pub fn i32(&mut self) -> Result<i32, Incomplete> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// Runs `f`; if it reports [`Incomplete`], rewinds to where it started,
    /// so that a partly received unit is parsed again once it is whole.
    pub fn atomic<T, E: From<Incomplete>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let start = self.pos;
        let out = f(self);
        if out.is_err() {
            self.pos = start;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_reports_incomplete() {
        let mut r = Reader::new(&[0, 1, 0, 0, 0, 2, 0xff]);
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.u32(), Ok(2));
        assert_eq!(r.u16(), Err(Incomplete));
        assert_eq!(r.position(), 6);
        assert_eq!(r.u8(), Ok(0xff));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn atomic_rewinds_on_incomplete() {
        let mut r = Reader::new(&[1, 2, 3]);
        let res: Result<u32, Incomplete> = r.atomic(|r| {
            r.u8()?;
            r.u32()
        });
        assert_eq!(res, Err(Incomplete));
        assert_eq!(r.position(), 0);
    }
}
