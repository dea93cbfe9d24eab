//! The only hand-written DER in the trust code: a bounds-checked TLV
//! splitter. It is used where the crates re-encode instead of keeping the
//! bytes that were signed (certificate TBS bytes, certificates embedded in a
//! SignedData parsed with the lenient `Raw` profile), to cut the DER blob
//! off the zero padding Authenticode appends, and for the dates RFC 3161
//! tokens carry with fractional seconds (which `der`'s GeneralizedTime
//! refuses).

/// Deepest nesting the splitter follows (hostile DER: deep nesting).
pub const MAX_DEPTH: usize = 64;

/// One TLV: tag byte, the whole encoding and its value.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub raw: &'a [u8],
    pub value: &'a [u8],
}

/// Why a TLV could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("DER ends inside a header at byte {0}")]
    Truncated(usize),
    #[error("DER length {len} at byte {at} runs past the end of the data ({avail} bytes left)")]
    TooLong { at: usize, len: usize, avail: usize },
    #[error(
        "DER at byte {0} uses a multi-byte tag or an indefinite length (BER), which is not read"
    )]
    Unsupported(usize),
}

/// Read the TLV at the start of `data`; the rest follows.
pub fn read(data: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let tag = *data.first().ok_or(TlvError::Truncated(0))?;
    if tag & 0x1f == 0x1f {
        return Err(TlvError::Unsupported(0));
    }
    let first = *data.get(1).ok_or(TlvError::Truncated(1))?;
    let (len, hdr) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(TlvError::Unsupported(1));
        }
        let bytes = data.get(2..2 + n).ok_or(TlvError::Truncated(2))?;
        let len = bytes.iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, 2 + n)
    };
    let avail = data.len() - hdr;
    if len > avail {
        return Err(TlvError::TooLong { at: 0, len, avail });
    }
    let raw = &data[..hdr + len];
    Ok((
        Tlv {
            tag,
            raw,
            value: &data[hdr..hdr + len],
        },
        &data[hdr + len..],
    ))
}

/// The TLVs inside a constructed value, in order.
pub fn children(value: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (t, r) = read(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

/// The first DER element of a blob that may carry padding after it (the
/// Authenticode blob in a cabinet is padded with zeros to 8 bytes).
pub fn first_element(blob: &[u8]) -> Result<&[u8], TlvError> {
    read(blob).map(|(t, _)| t.raw)
}

/// Seconds since 1970 of a UTCTime (`0x17`) or GeneralizedTime (`0x18`),
/// fractional seconds allowed and ignored.
pub fn time(t: &Tlv<'_>) -> Option<i64> {
    let s = std::str::from_utf8(t.value).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match t.tag {
        0x17 => {
            let y: i64 = s.get(0..2)?.parse().ok()?;
            (if y < 50 { 2000 + y } else { 1900 + y }, s.get(2..)?)
        }
        0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let rest = rest.split('.').next()?;
    let num = |a: usize| -> Option<i64> { rest.get(a..a + 2)?.parse().ok() };
    let (mo, d, h, mi) = (num(0)?, num(2)?, num(4)?, num(6)?);
    let sec = if rest.len() >= 10 { num(8)? } else { 0 };
    // A leap second (:60) counts as :59 plus one.
    let t = crate::time::Timestamp::new(year, mo, d, h, mi, sec.min(59))?;
    Some(t.to_unix()? + i64::from(sec == 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let t = Tlv {
            tag: 0x18,
            raw: &[],
            value: b"20200502044556.123Z",
        };
        let s = time(&t).unwrap();
        assert_eq!(crate::time::format_unix(s), "2020-05-02T04:45:56Z");
        let u = Tlv {
            tag: 0x17,
            raw: &[],
            value: b"210303182929Z",
        };
        assert_eq!(
            crate::time::format_unix(time(&u).unwrap()),
            "2021-03-03T18:29:29Z"
        );
    }

    #[test]
    fn hostile_lengths_are_errors() {
        assert!(read(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(read(&[0x30, 0x80, 0, 0]).is_err());
        assert!(read(&[0x30]).is_err());
        assert!(read(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]).is_err());
    }
}
