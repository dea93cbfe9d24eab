//! The LSB-first bitstream used by every PA30 layer (outer header,
//! pre-process buffer, patch buffer).
//!
//! Each stream starts with a 3-bit count of unused bits at the top of its
//! last byte; reads past the usable length are errors, never zero bits.

use super::{DeltaError, ErrorKind};

/// A bounds-checked reader over one bitstream.
///
/// `base` is the stream's byte offset inside the whole delta, so errors can
/// name an absolute offset.
#[derive(Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Absolute bit index of the next bit to read (0 = bit 0 of `data[0]`).
    pos: u64,
    /// Usable length in bits: 8 × len − padding.
    limit: u64,
    base: u64,
}

impl<'a> BitReader<'a> {
    /// Open a stream, reading and applying its 3-bit padding prefix.
    pub fn new(data: &'a [u8], base: u64) -> Result<Self, DeltaError> {
        let total = (data.len() as u64)
            .checked_mul(8)
            .ok_or_else(|| DeltaError::corrupt(base, "bitstream too long"))?;
        if total < 3 {
            return Err(DeltaError::corrupt(base, "empty bitstream"));
        }
        let mut r = BitReader {
            data,
            pos: 0,
            limit: total,
            base,
        };
        let pad = r.bits(3)?;
        // The padding lives in the last byte, so it can never eat the prefix itself.
        if total - pad < 3 {
            return Err(DeltaError::corrupt(
                base,
                format!("bitstream padding {pad} leaves no room for data"),
            ));
        }
        r.limit = total - pad;
        Ok(r)
    }

    /// Bits still readable.
    #[inline]
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.pos)
    }

    /// Byte offset of the next bit inside the whole delta (for messages).
    #[inline(always)]
    pub fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos / 8)
    }

    /// The error for a read past the usable end. Its fields go by value to
    /// the cold path: a reader whose address never escapes stays in
    /// registers through the decoders' loops.
    #[inline(always)]
    fn eof(&self, what: &str) -> DeltaError {
        eof_error(self.offset(), self.pos, self.limit, what)
    }

    /// Up to 57 bits starting at `pos`, LSB-first, zero-filled past the data.
    #[inline(always)]
    fn load(&self) -> u64 {
        let byte = (self.pos >> 3) as usize;
        let shift = (self.pos & 7) as u32;
        let word = match self.data.get(byte..byte.saturating_add(8)) {
            Some(s) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(s);
                u64::from_le_bytes(b)
            }
            None => {
                let mut b = [0u8; 8];
                if let Some(tail) = self.data.get(byte..) {
                    b[..tail.len()].copy_from_slice(tail);
                }
                u64::from_le_bytes(b)
            }
        };
        word >> shift
    }

    /// Look at the next `n` (≤ 32) bits without consuming them; bits past the
    /// usable end read as zero (the caller checks what it consumes).
    #[inline(always)]
    pub fn peek(&self, n: u32) -> u32 {
        debug_assert!(n <= 32);
        let v = self.load();
        if n == 0 {
            0
        } else {
            (v & ((1u64 << n) - 1)) as u32
        }
    }

    /// The next 57 bits, LSB first, without consuming them: bits past the
    /// data read as zero, and bits past the usable end are not checked (the
    /// caller checks what it consumes with [`BitReader::remaining`]).
    #[inline(always)]
    pub fn peek57(&self) -> u64 {
        self.load()
    }

    /// Consume `n` bits the caller has checked are there (`n ≤ remaining`).
    #[inline(always)]
    pub fn skip(&mut self, n: u32) {
        debug_assert!(u64::from(n) <= self.remaining());
        self.pos += u64::from(n);
    }

    /// Consume `n` bits that were peeked.
    #[inline(always)]
    pub fn consume(&mut self, n: u32, what: &str) -> Result<(), DeltaError> {
        if u64::from(n) > self.remaining() {
            return Err(self.eof(what));
        }
        self.pos += u64::from(n);
        Ok(())
    }

    /// Read `n` ≤ 32 bits; the first bit read is the least significant.
    #[inline(always)]
    pub fn bits(&mut self, n: u32) -> Result<u64, DeltaError> {
        debug_assert!(n <= 32);
        if u64::from(n) > self.remaining() {
            return Err(self.eof("a fixed-width field"));
        }
        let v = self.peek(n);
        self.pos += u64::from(n);
        Ok(u64::from(v))
    }

    /// Read a fixed 64-bit field (low half first).
    pub fn bits64(&mut self) -> Result<u64, DeltaError> {
        let lo = self.bits(32)?;
        let hi = self.bits(32)?;
        Ok(lo | (hi << 32))
    }

    #[inline(always)]
    pub fn bit(&mut self) -> Result<bool, DeltaError> {
        Ok(self.bits(1)? == 1)
    }

    /// Count zero bits up to (and consuming) a one bit, failing past `max`.
    #[inline(always)]
    pub fn unary_zeros(&mut self, max: u32, what: &str) -> Result<u32, DeltaError> {
        let mut z = 0;
        loop {
            if self.remaining() == 0 {
                return Err(self.eof(what));
            }
            if self.bits(1)? == 1 {
                return Ok(z);
            }
            z += 1;
            if z > max {
                return Err(DeltaError::corrupt(
                    self.offset(),
                    format!("{what}: more than {max} leading zero bits"),
                ));
            }
        }
    }

    /// The variable-length number: zero bits z up to a one, then 4(z+1) bits.
    /// `wide` allows 64-bit values (up to 15 leading zeros), else 32-bit.
    pub fn number(&mut self, wide: bool, what: &str) -> Result<u64, DeltaError> {
        let z = self.unary_zeros(if wide { 15 } else { 7 }, what)?;
        let n = 4 * (z + 1);
        if n <= 32 {
            self.bits(n)
        } else {
            let lo = self.bits(32)?;
            let hi = self.bits(n - 32)?;
            Ok(lo | (hi << 32))
        }
    }

    /// A length-prefixed byte buffer: a number, then byte-aligned raw bytes.
    /// Returns the bytes and their absolute offset in the delta.
    pub fn buffer(&mut self, what: &str) -> Result<(&'a [u8], u64), DeltaError> {
        let len = self.number(true, what)?;
        let start = self.pos.div_ceil(8);
        let avail = (self.data.len() as u64).saturating_sub(start);
        if len > avail {
            return Err(DeltaError::corrupt(
                self.base.saturating_add(start),
                format!("{what} claims {len} bytes but only {avail} remain"),
            ));
        }
        // Both fit in the slice length, so the casts cannot truncate.
        let (s, e) = (start as usize, (start + len) as usize);
        let bytes = self.data.get(s..e).ok_or_else(|| self.eof(what))?;
        self.pos = (e as u64) * 8;
        Ok((bytes, self.base.saturating_add(start)))
    }
}

#[cold]
#[inline(never)]
fn eof_error(offset: u64, pos: u64, limit: u64, what: &str) -> DeltaError {
    DeltaError::corrupt(
        offset,
        format!("bitstream ends inside {what} (bit {pos} of {limit})"),
    )
}

impl DeltaError {
    pub(crate) fn corrupt(offset: u64, message: impl Into<String>) -> Self {
        DeltaError {
            offset,
            kind: ErrorKind::Corrupt,
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(offset: u64, message: impl Into<String>) -> Self {
        DeltaError {
            offset,
            kind: ErrorKind::Unsupported,
            message: message.into(),
        }
    }

    pub(crate) fn source(message: impl Into<String>) -> Self {
        DeltaError {
            offset: 0,
            kind: ErrorKind::Source,
            message: message.into(),
        }
    }

    pub(crate) fn limit(offset: u64, message: impl Into<String>) -> Self {
        DeltaError {
            offset,
            kind: ErrorKind::Limit,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_lsb_first_fields() {
        // pad=0 (bits 0-2), then bit 3 = 1 (prefix), then nibble 0xF.
        let data = [0b1111_1000u8, 0x00];
        let mut r = BitReader::new(&data, 0).unwrap();
        assert_eq!(r.number(true, "n").unwrap(), 0xF);
        assert_eq!(r.remaining(), 16 - 8);
    }

    #[test]
    fn padding_shortens_the_stream() {
        // pad = 5 → usable 11 bits of 16.
        let data = [0b0000_0101u8, 0x00];
        let mut r = BitReader::new(&data, 0).unwrap();
        assert_eq!(r.remaining(), 8);
        assert!(r.bits(8).is_ok());
        assert!(r.bits(1).is_err());
    }

    #[test]
    fn buffer_longer_than_input_is_an_error() {
        // pad 0, number prefix 1, nibble 0xF → buffer of 15 bytes, none present.
        let data = [0b1111_1000u8, 0x00];
        let mut r = BitReader::new(&data, 100).unwrap();
        let e = r.buffer("hash").unwrap_err();
        assert!(e.message.contains("15 bytes"), "{e}");
        assert_eq!(e.offset, 101);
    }

    #[test]
    fn too_many_leading_zeros() {
        let data = [0u8; 8];
        let mut r = BitReader::new(&data, 0).unwrap();
        assert!(r.number(false, "x").is_err());
    }
}
